# mip4: `make test` sets up a fresh Debian machine (build/setup-host) and runs every test.
.PHONY: test check lint fuzz clean lab package bench soak owrt

PY := .venv/bin/python
STAMP := .deps/setup.stamp
export MIP4_MICROPYTHON := $(CURDIR)/.deps/npm/node_modules/@micropython/micropython-webassembly-pyscript/micropython.mjs
FUZZ_SECONDS ?= 600
PKG_OUT ?= build/out

test: $(STAMP) lint
	$(PY) -m pytest

# The fast inner loop: everything but the UML lab boots (marker lab) and the slow tests (marker slow),
# one to two minutes on the 2-core test machine; make test runs those too.
check: $(STAMP) lint
	$(PY) -m pytest -m "not lab and not slow"

# Boot the UML lab and watch the mobile router roam (live on a terminal; once, checked, without one).
lab: $(STAMP)
	$(PY) -m board.virtual.tour

lint: $(STAMP)
	$(PY) -m ruff check firmware tests board build

# Longer coverage-guided fuzzing of the wire decoder; new inputs are kept in tests/wire/corpus.
fuzz: $(STAMP)
	PYTHONPATH=$(CURDIR) $(PY) tests/wire/fuzz_decode.py -max_total_time=$(FUZZ_SECONDS) tests/wire/corpus

# What mip4 costs, each figure next to its baseline from the same run (docs/benchmarks.md): tables on
# stdout, all of them in bench/results.json. QUICK=1: short windows, N up to 10k (about 30 s).
bench: $(STAMP)
	PYTHONPATH=$(CURDIR)/firmware:$(CURDIR) $(PY) -m tests.bench $(if $(QUICK),--quick)

# The lab's fault scenario (tests/lab/test_lab_faults.py) SOAK_ROUNDS times in one boot: about 7 min a round.
SOAK_ROUNDS ?= 5
soak: $(STAMP)
	MIP4_SOAK_ROUNDS=$(SOAK_ROUNDS) PYTHONPATH=$(CURDIR)/firmware:$(CURDIR) $(PY) -m pytest -s -p no:cacheprovider \
		tests/lab/test_lab_faults.py

# The OpenWrt packages of build/feed (mip4, mip4-src, python3-vici, python3-vici-src, luci-app-mip4) as .ipk
# files, as the SDK builds them, without the SDK (build/mkipk.py).
package:
	$(PY) build/mkipk.py --out $(PKG_OUT)

$(STAMP): pyproject.toml build/setup-host build/owrt/build.sh build/owrt/SOURCES.txt
	build/setup-host
	build/owrt/userland
	@mkdir -p $(dir $@) && touch $@

# OpenWrt's real userland for the router tests (.deps/owrt/root), built from source; cached (build/owrt/).
owrt:
	build/owrt/userland

clean:
	rm -rf .venv .deps .pytest_cache .ruff_cache .hypothesis

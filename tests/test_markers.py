"""The markers `make check` selects by (pyproject.toml; `-m "not lab and not slow"`) say what they promise:
every test under tests/lab is `lab` and no other; every test module that makes host namespaces has its
namespace tests marked `netns`; every entry of tests/conftest.py's tables names a test that exists."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import NETNS, SLOW

ROOT = Path(__file__).resolve().parents[1]
# what a test module that makes namespaces on the host says (tests/bench/netns.py does it for the hardening tests)
# (tests/router/owrt.py does it for every test that uses its sandbox: the fixture `ow`, or owrt itself)
NETNS_SIGNS = re.compile(r"ip netns add|netns add %s|netns\.namespace\(|\"unshare\""
                         r"|\(ow[,:)]|tests\.router\.owrt|owrt_root")

PROBE = r"""
import json, sys
import pytest

class Markers:
    def pytest_collection_finish(self, session):
        print("MARKERS " + json.dumps({i.nodeid: sorted({m.name for m in i.iter_markers()}) for i in session.items}))

sys.exit(pytest.main(["--collect-only", "-q", "-p", "no:cacheprovider", "tests"], plugins=[Markers()]))
"""


def _collected() -> dict[str, set[str]]:
    p = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    line = next(x for x in p.stdout.splitlines() if x.startswith("MARKERS "))
    return {k: set(v) for k, v in json.loads(line[len("MARKERS "):]).items()}


def test_markers_select_what_make_check_promises():
    items = _collected()
    lab = {n for n, m in items.items() if "lab" in m}
    assert lab and lab == {n for n in items if n.startswith("tests/lab/")}
    for entry in NETNS + SLOW:  # a renamed or removed test leaves no stale entry behind
        assert any(n == entry or n.startswith(entry + "[") or n.startswith(entry + "::") for n in items), entry
    for path in sorted((ROOT / "tests").rglob("test_*.py")):
        module = path.relative_to(ROOT).as_posix()
        if module.startswith("tests/lab/") or path == Path(__file__) or not NETNS_SIGNS.search(path.read_text()):
            continue
        assert any("netns" in m for n, m in items.items() if n.startswith(module + "::")), \
            "%s makes host namespaces: add it (or its tests) to NETNS in tests/conftest.py" % module
    netns_modules = {n.split("::")[0] for n, m in items.items() if "netns" in m}
    assert {"tests/io/test_host_kernel.py", "tests/hardening/test_bad_input.py"} <= netns_modules
    assert {n for n, m in items.items() if "slow" in m}, "make check's `not slow` would select everything"

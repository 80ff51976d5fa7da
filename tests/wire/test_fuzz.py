"""Bad input: any octets give a message (that re-encodes to the same octets) or one CodecError."""
import os
import subprocess
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from mip4.wire import CodecError, decode
from tests.wire import strategies as S

CORPUS = Path(__file__).parent / "corpus"
SEEDS = sorted(p.read_bytes() for p in CORPUS.iterdir())


def decode_or_error(data: bytes) -> None:
    try:
        msg = decode(data)
    except CodecError as e:
        assert str(e) and e.what
        return
    assert msg.encode() == data


@given(st.binary(max_size=300))
@settings(max_examples=3000)
def test_random_octets(data):
    decode_or_error(data)


@given(st.sampled_from([1, 3, 4, 9, 10]), st.binary(max_size=200))
@settings(max_examples=3000)
def test_random_octets_behind_a_valid_type(t, rest):
    decode_or_error(bytes([t]) + rest)


@given(st.sampled_from(SEEDS), st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=6),
       st.integers(0, 400))
@settings(max_examples=3000)
def test_mutated_corpus(seed, flips, cut):
    data = bytearray(seed[:cut] if cut < len(seed) else seed)
    for pos, value in flips:
        if data:
            data[pos % len(data)] = value
    decode_or_error(bytes(data))


@given(S.message, st.data())
def test_every_truncation_of_a_valid_message_is_handled(m, data):
    wire = m.encode()
    cut = data.draw(st.integers(0, len(wire)))
    decode_or_error(wire[:cut])


def test_corpus_holds_every_message_kind():
    kinds = {s[0] for s in SEEDS if s}
    assert {1, 3, 4, 9, 10} <= kinds


def test_atheris_libfuzzer_run(tmp_path):
    """Coverage-guided fuzzing with libFuzzer (atheris) from the kept corpus; new inputs go to a temp dir."""
    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, PYTHONPATH=str(root))
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).parent / "fuzz_decode.py"), "-runs=40000", "-seed=5265",
         str(tmp_path), str(CORPUS)],
        capture_output=True, text=True, timeout=600, env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Done 40000 runs" in proc.stderr

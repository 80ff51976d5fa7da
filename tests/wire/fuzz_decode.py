"""libFuzzer harness (atheris) for the wire decoder.

    python tests/wire/fuzz_decode.py [libFuzzer flags] NEW_INPUTS_DIR tests/wire/corpus

Any input must give a message that re-encodes to the same octets, or a CodecError.
`make fuzz` runs it for longer and grows tests/wire/corpus.
"""
import sys

import atheris

with atheris.instrument_imports():
    from mip4.wire import CodecError, decode


def test_one_input(data: bytes) -> None:
    try:
        msg = decode(data)
    except CodecError:
        return
    if msg.encode() != data:
        raise AssertionError(f"re-encoding differs for {data.hex()}")


if __name__ == "__main__":
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()

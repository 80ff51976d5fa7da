"""`mip4 wire decode|encode`: the packet dissector for people (JSON <-> hex)."""

import argparse
import json
import sys

from mip4.console.dissect import EXIT_BAD_INPUT, EXIT_NOT_VERIFIED, auth_options, dissect, parse_key
from mip4.wire import CodecError, jsonmap
from mip4.wire.extensions import Authentication


def add_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    wire = sub.add_parser("wire", help="decode and encode Mobile IP messages")
    verbs = wire.add_subparsers(dest="verb", required=True)

    dec = verbs.add_parser(
        "decode",
        help="print a message given as hex as JSON",
        description="Decode a UDP 434 payload (registration request/reply, tunnel data) or an ICMP "
        "agent advertisement/solicitation. Exit 1 on a malformed message; with --key and --spi, "
        f"exit {EXIT_NOT_VERIFIED} when the authenticator does not verify.",
    )
    dec.add_argument("hex", help="the message as hex (spaces and colons allowed); '-' reads stdin")
    auth_options(dec)
    dec.set_defaults(run=run_decode)

    enc = verbs.add_parser(
        "encode",
        help="read JSON on stdin, print hex",
        description="Encode the JSON that `decode` prints. With --key and --spi, every authentication "
        "extension of --auth-type with that SPI gets its authenticator computed.",
    )
    auth_options(enc)
    enc.set_defaults(run=run_encode)


def _fail(verb: str, err: Exception) -> int:
    print(f"mip4 wire {verb}: error: {err}", file=sys.stderr)
    return EXIT_BAD_INPUT


def run_decode(args: argparse.Namespace) -> int:
    text = sys.stdin.read() if args.hex == "-" else args.hex
    try:
        out, status = dissect(text, args.key, args.spi, args.auth_type)
    except CodecError as e:
        return _fail("decode", e)
    print(json.dumps(out, indent=2))
    return status


def run_encode(args: argparse.Namespace) -> int:
    try:
        key = parse_key(args.key, args.spi)
        try:
            obj = json.load(sys.stdin)
        except json.JSONDecodeError as e:
            raise CodecError("input", f"not valid JSON: {e}") from None
        if isinstance(obj, dict):
            obj.pop("authentication", None)  # what decode adds when asked to verify
        msg = jsonmap.from_dict(obj)
        if key is not None:
            _sign(msg, args.auth_type, args.spi, key)
    except CodecError as e:
        return _fail("encode", e)
    print(msg.encode().hex())
    return 0


def _sign(msg: object, ext_type: int, spi: int, key: bytes) -> None:
    """Recompute each matching authenticator over what precedes it, in order."""
    exts = getattr(msg, "extensions", None)
    if exts is None or not hasattr(msg, "authenticate"):
        raise CodecError("options", f"{msg.what} carries no authenticator")  # type: ignore[attr-defined]
    idx = [i for i, e in enumerate(exts) if isinstance(e, Authentication) and e.type == ext_type and e.spi == spi]
    if not idx:
        raise CodecError("options", f"no authentication extension of type {ext_type} with SPI {spi} to sign")
    for i in idx:
        tail = exts[i + 1:]
        del exts[i:]
        msg.authenticate(ext_type, spi, key)  # type: ignore[attr-defined]
        exts.extend(tail)

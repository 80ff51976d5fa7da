"""`mip4 wire decode|encode`: the packet dissector for people (JSON <-> hex)."""

import argparse
import json
import sys

from mip4.wire import CodecError, decode, jsonmap
from mip4.wire.extensions import AUTH_TYPES, MOBILE_HOME_AUTH, Authentication

EXIT_BAD_INPUT = 1
EXIT_NOT_VERIFIED = 3


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
    _auth_options(dec)
    dec.set_defaults(run=run_decode)

    enc = verbs.add_parser(
        "encode",
        help="read JSON on stdin, print hex",
        description="Encode the JSON that `decode` prints. With --key and --spi, every authentication "
        "extension of --auth-type with that SPI gets its authenticator computed.",
    )
    _auth_options(enc)
    enc.set_defaults(run=run_encode)


def _auth_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--key", help="shared secret as hex (HMAC-MD5, RFC 5944 3.5.1)")
    p.add_argument("--spi", type=int, help="security parameter index of the authentication extension")
    p.add_argument("--auth-type", type=int, default=MOBILE_HOME_AUTH, choices=AUTH_TYPES,
                   help="32 Mobile-Home (default), 33 Mobile-Foreign, 34 Foreign-Home")


def _key(args: argparse.Namespace) -> bytes | None:
    if (args.key is None) != (args.spi is None):
        raise CodecError("options", "--key and --spi go together")
    if args.key is None:
        return None
    try:
        return bytes.fromhex(args.key)
    except ValueError:
        raise CodecError("options", f"--key is not valid hex: {args.key!r}") from None


def _fail(verb: str, err: Exception) -> int:
    print(f"mip4 wire {verb}: error: {err}", file=sys.stderr)
    return EXIT_BAD_INPUT


def run_decode(args: argparse.Namespace) -> int:
    text = sys.stdin.read() if args.hex == "-" else args.hex
    try:
        key = _key(args)
        cleaned = "".join(text.split()).replace(":", "")
        try:
            data = bytes.fromhex(cleaned)
        except ValueError:
            raise CodecError("input", f"not valid hex: {text.strip()[:60]!r}") from None
        msg = decode(data)
    except CodecError as e:
        return _fail("decode", e)
    out = jsonmap.to_dict(msg)
    status = 0
    if key is not None:
        if not hasattr(msg, "verify"):
            return _fail("decode", CodecError("options", f"{msg.what} carries no authenticator"))
        ok = msg.verify(args.auth_type, args.spi, key)
        out["authentication"] = {"type": args.auth_type, "spi": args.spi,
                                 "present": msg.find(args.auth_type, args.spi) >= 0, "verified": ok}
        status = 0 if ok else EXIT_NOT_VERIFIED
    print(json.dumps(out, indent=2))
    return status


def run_encode(args: argparse.Namespace) -> int:
    try:
        key = _key(args)
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

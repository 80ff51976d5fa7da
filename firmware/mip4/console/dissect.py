"""The packet dissector behind `mip4 wire decode` and the console's `wire decode`: hex in, the message
as a JSON-ready dict out (RFC field names), its authenticator verified when a key is given (RFC 5944 3.5.1)."""
from __future__ import annotations

import argparse

from mip4.wire import CodecError, decode, jsonmap
from mip4.wire.extensions import AUTH_TYPES, MOBILE_HOME_AUTH

EXIT_BAD_INPUT = 1
EXIT_NOT_VERIFIED = 3


def auth_options(p: argparse.ArgumentParser) -> None:
    """--key, --spi, --auth-type: the security association an authenticator is checked (or computed) with."""
    p.add_argument("--key", help="shared secret as hex (HMAC-MD5, RFC 5944 3.5.1)")
    p.add_argument("--spi", type=int, help="security parameter index of the authentication extension")
    p.add_argument("--auth-type", type=int, default=MOBILE_HOME_AUTH, choices=AUTH_TYPES,
                   help="32 Mobile-Home (default), 33 Mobile-Foreign, 34 Foreign-Home")


def parse_key(key: str | None, spi: int | None) -> bytes | None:
    """The --key/--spi pair as octets (None without them); CodecError when one comes alone or is not hex."""
    if (key is None) != (spi is None):
        raise CodecError("options", "--key and --spi go together")
    if key is None:
        return None
    try:
        return bytes.fromhex(key)
    except ValueError:
        raise CodecError("options", f"--key is not valid hex: {key!r}") from None


def dissect(text: str, key: str | None = None, spi: int | None = None,
            auth_type: int = MOBILE_HOME_AUTH) -> tuple[dict, int]:
    """The message in `text` (hex; spaces and colons allowed) as a dict, and the exit status: 0, or
    EXIT_NOT_VERIFIED when a key was given and the authenticator does not verify. CodecError otherwise."""
    octets = parse_key(key, spi)
    cleaned = "".join(text.split()).replace(":", "")
    try:
        data = bytes.fromhex(cleaned)
    except ValueError:
        raise CodecError("input", f"not valid hex: {text.strip()[:60]!r}") from None
    msg = decode(data)
    out = jsonmap.to_dict(msg)
    if octets is None:
        return out, 0
    if not hasattr(msg, "verify"):
        raise CodecError("options", f"{msg.what} carries no authenticator")
    ok = msg.verify(auth_type, spi, octets)
    out["authentication"] = {"type": auth_type, "spi": spi, "present": msg.find(auth_type, spi) >= 0,
                             "verified": ok}
    return out, 0 if ok else EXIT_NOT_VERIFIED

"""HMAC-MD5 authenticators (RFC 5944 3.5.1, RFC 2104)."""

try:
    from hashlib import md5 as _hashlib_md5

    _hashlib_md5(b"")  # FIPS builds refuse md5 at call time

    def md5_digest(data):
        return _hashlib_md5(data).digest()

except (ImportError, ValueError):
    # MicroPython's hashlib has only sha256
    from .md5 import md5_digest

AUTHENTICATOR_LEN = 16  # HMAC-MD5 output, RFC 5944 3.5.1
_BLOCK = 64


def hmac_md5(key, data):
    """HMAC-MD5 of `data` under `key` (RFC 2104)."""
    key = bytes(key)
    if len(key) > _BLOCK:
        key = md5_digest(key)
    key = key + b"\x00" * (_BLOCK - len(key))
    inner = bytes(b ^ 0x36 for b in key)
    outer = bytes(b ^ 0x5C for b in key)
    return md5_digest(outer + md5_digest(inner + bytes(data)))


def equal(a, b):
    """Compare two authenticators in time independent of where they differ."""
    if len(a) != len(b):
        return False
    diff = 0
    for i in range(len(a)):
        diff |= a[i] ^ b[i]
    return diff == 0

"""HMAC-MD5 authenticators (RFC 5944 3.5.1, RFC 2104)."""

try:
    from _md5 import md5 as _md5  # CPython's own MD5: hashlib would load OpenSSL's libcrypto (3.7 MB, issue 25)
except ImportError:
    try:
        from hashlib import md5 as _md5

        _md5(b"")  # FIPS builds refuse md5 at call time
    except (ImportError, ValueError):
        _md5 = None

if _md5 is None:  # MicroPython: its hashlib has only sha256
    from .md5 import hmac_md5, md5_digest  # noqa: F401
else:
    _IPAD = bytes([b ^ 0x36 for b in range(256)])  # RFC 2104's pads as translation tables
    _OPAD = bytes([b ^ 0x5C for b in range(256)])

    def md5_digest(data):
        return _md5(data).digest()

    def hmac_md5(key, data):
        """HMAC-MD5 of `data` under `key` (RFC 2104)."""
        if len(key) > _BLOCK:
            key = md5_digest(key)
        key = bytes(key).ljust(_BLOCK, b"\0")
        inner = _md5(key.translate(_IPAD))
        inner.update(data)
        return _md5(key.translate(_OPAD) + inner.digest()).digest()

try:
    from _operator import _compare_digest as _constant_time_equal  # what hmac.compare_digest is
except ImportError:
    _constant_time_equal = None

AUTHENTICATOR_LEN = 16  # HMAC-MD5 output, RFC 5944 3.5.1
_BLOCK = 64


def equal(a, b):
    """Compare two authenticators in time independent of where they differ."""
    if len(a) != len(b):
        return False
    if _constant_time_equal is not None:
        return _constant_time_equal(a if type(a) is bytes else bytes(a), b if type(b) is bytes else bytes(b))
    diff = 0
    for i in range(len(a)):
        diff |= a[i] ^ b[i]
    return diff == 0

"""Pure-Python MD5 (RFC 1321) and HMAC-MD5 (RFC 2104), used only where the interpreter has no MD5
(MicroPython: its hashlib has only sha256).

Written for MicroPython's interpreter (issue 25): the 64 steps unrolled with the message words and
constants as locals and literals (no loop, no table lookups, no tuple shuffling), and HMAC keeps, per
key, the MD5 state after the key's padded block (RFC 2104's inner and outer pads), so a registration
message hashes two blocks, not four. Generated, not hand-written: see the commit that made it.
"""
from ._struct import pack, unpack_from

M = 0xFFFFFFFF
_INIT = (0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476)
_BLOCK = 64


def _compress(state, msg, offset):
    """One 64-octet block of `msg` at `offset` into `state` (a, b, c, d): RFC 1321 3.4."""
    x0, x1, x2, x3, x4, x5, x6, x7, x8, x9, x10, x11, x12, x13, x14, x15 = unpack_from("<16I", msg, offset)
    a0, b0, c0, d0 = state
    a, b, c, d = a0, b0, c0, d0
    a = (a + (d ^ (b & (c ^ d))) + x0 + 0xd76aa478) & M
    a = (b + ((a << 7) | (a >> 25))) & M
    d = (d + (c ^ (a & (b ^ c))) + x1 + 0xe8c7b756) & M
    d = (a + ((d << 12) | (d >> 20))) & M
    c = (c + (b ^ (d & (a ^ b))) + x2 + 0x242070db) & M
    c = (d + ((c << 17) | (c >> 15))) & M
    b = (b + (a ^ (c & (d ^ a))) + x3 + 0xc1bdceee) & M
    b = (c + ((b << 22) | (b >> 10))) & M
    a = (a + (d ^ (b & (c ^ d))) + x4 + 0xf57c0faf) & M
    a = (b + ((a << 7) | (a >> 25))) & M
    d = (d + (c ^ (a & (b ^ c))) + x5 + 0x4787c62a) & M
    d = (a + ((d << 12) | (d >> 20))) & M
    c = (c + (b ^ (d & (a ^ b))) + x6 + 0xa8304613) & M
    c = (d + ((c << 17) | (c >> 15))) & M
    b = (b + (a ^ (c & (d ^ a))) + x7 + 0xfd469501) & M
    b = (c + ((b << 22) | (b >> 10))) & M
    a = (a + (d ^ (b & (c ^ d))) + x8 + 0x698098d8) & M
    a = (b + ((a << 7) | (a >> 25))) & M
    d = (d + (c ^ (a & (b ^ c))) + x9 + 0x8b44f7af) & M
    d = (a + ((d << 12) | (d >> 20))) & M
    c = (c + (b ^ (d & (a ^ b))) + x10 + 0xffff5bb1) & M
    c = (d + ((c << 17) | (c >> 15))) & M
    b = (b + (a ^ (c & (d ^ a))) + x11 + 0x895cd7be) & M
    b = (c + ((b << 22) | (b >> 10))) & M
    a = (a + (d ^ (b & (c ^ d))) + x12 + 0x6b901122) & M
    a = (b + ((a << 7) | (a >> 25))) & M
    d = (d + (c ^ (a & (b ^ c))) + x13 + 0xfd987193) & M
    d = (a + ((d << 12) | (d >> 20))) & M
    c = (c + (b ^ (d & (a ^ b))) + x14 + 0xa679438e) & M
    c = (d + ((c << 17) | (c >> 15))) & M
    b = (b + (a ^ (c & (d ^ a))) + x15 + 0x49b40821) & M
    b = (c + ((b << 22) | (b >> 10))) & M
    a = (a + (c ^ (d & (b ^ c))) + x1 + 0xf61e2562) & M
    a = (b + ((a << 5) | (a >> 27))) & M
    d = (d + (b ^ (c & (a ^ b))) + x6 + 0xc040b340) & M
    d = (a + ((d << 9) | (d >> 23))) & M
    c = (c + (a ^ (b & (d ^ a))) + x11 + 0x265e5a51) & M
    c = (d + ((c << 14) | (c >> 18))) & M
    b = (b + (d ^ (a & (c ^ d))) + x0 + 0xe9b6c7aa) & M
    b = (c + ((b << 20) | (b >> 12))) & M
    a = (a + (c ^ (d & (b ^ c))) + x5 + 0xd62f105d) & M
    a = (b + ((a << 5) | (a >> 27))) & M
    d = (d + (b ^ (c & (a ^ b))) + x10 + 0x02441453) & M
    d = (a + ((d << 9) | (d >> 23))) & M
    c = (c + (a ^ (b & (d ^ a))) + x15 + 0xd8a1e681) & M
    c = (d + ((c << 14) | (c >> 18))) & M
    b = (b + (d ^ (a & (c ^ d))) + x4 + 0xe7d3fbc8) & M
    b = (c + ((b << 20) | (b >> 12))) & M
    a = (a + (c ^ (d & (b ^ c))) + x9 + 0x21e1cde6) & M
    a = (b + ((a << 5) | (a >> 27))) & M
    d = (d + (b ^ (c & (a ^ b))) + x14 + 0xc33707d6) & M
    d = (a + ((d << 9) | (d >> 23))) & M
    c = (c + (a ^ (b & (d ^ a))) + x3 + 0xf4d50d87) & M
    c = (d + ((c << 14) | (c >> 18))) & M
    b = (b + (d ^ (a & (c ^ d))) + x8 + 0x455a14ed) & M
    b = (c + ((b << 20) | (b >> 12))) & M
    a = (a + (c ^ (d & (b ^ c))) + x13 + 0xa9e3e905) & M
    a = (b + ((a << 5) | (a >> 27))) & M
    d = (d + (b ^ (c & (a ^ b))) + x2 + 0xfcefa3f8) & M
    d = (a + ((d << 9) | (d >> 23))) & M
    c = (c + (a ^ (b & (d ^ a))) + x7 + 0x676f02d9) & M
    c = (d + ((c << 14) | (c >> 18))) & M
    b = (b + (d ^ (a & (c ^ d))) + x12 + 0x8d2a4c8a) & M
    b = (c + ((b << 20) | (b >> 12))) & M
    a = (a + (b ^ c ^ d) + x5 + 0xfffa3942) & M
    a = (b + ((a << 4) | (a >> 28))) & M
    d = (d + (a ^ b ^ c) + x8 + 0x8771f681) & M
    d = (a + ((d << 11) | (d >> 21))) & M
    c = (c + (d ^ a ^ b) + x11 + 0x6d9d6122) & M
    c = (d + ((c << 16) | (c >> 16))) & M
    b = (b + (c ^ d ^ a) + x14 + 0xfde5380c) & M
    b = (c + ((b << 23) | (b >> 9))) & M
    a = (a + (b ^ c ^ d) + x1 + 0xa4beea44) & M
    a = (b + ((a << 4) | (a >> 28))) & M
    d = (d + (a ^ b ^ c) + x4 + 0x4bdecfa9) & M
    d = (a + ((d << 11) | (d >> 21))) & M
    c = (c + (d ^ a ^ b) + x7 + 0xf6bb4b60) & M
    c = (d + ((c << 16) | (c >> 16))) & M
    b = (b + (c ^ d ^ a) + x10 + 0xbebfbc70) & M
    b = (c + ((b << 23) | (b >> 9))) & M
    a = (a + (b ^ c ^ d) + x13 + 0x289b7ec6) & M
    a = (b + ((a << 4) | (a >> 28))) & M
    d = (d + (a ^ b ^ c) + x0 + 0xeaa127fa) & M
    d = (a + ((d << 11) | (d >> 21))) & M
    c = (c + (d ^ a ^ b) + x3 + 0xd4ef3085) & M
    c = (d + ((c << 16) | (c >> 16))) & M
    b = (b + (c ^ d ^ a) + x6 + 0x04881d05) & M
    b = (c + ((b << 23) | (b >> 9))) & M
    a = (a + (b ^ c ^ d) + x9 + 0xd9d4d039) & M
    a = (b + ((a << 4) | (a >> 28))) & M
    d = (d + (a ^ b ^ c) + x12 + 0xe6db99e5) & M
    d = (a + ((d << 11) | (d >> 21))) & M
    c = (c + (d ^ a ^ b) + x15 + 0x1fa27cf8) & M
    c = (d + ((c << 16) | (c >> 16))) & M
    b = (b + (c ^ d ^ a) + x2 + 0xc4ac5665) & M
    b = (c + ((b << 23) | (b >> 9))) & M
    a = (a + (c ^ (b | (d ^ M))) + x0 + 0xf4292244) & M
    a = (b + ((a << 6) | (a >> 26))) & M
    d = (d + (b ^ (a | (c ^ M))) + x7 + 0x432aff97) & M
    d = (a + ((d << 10) | (d >> 22))) & M
    c = (c + (a ^ (d | (b ^ M))) + x14 + 0xab9423a7) & M
    c = (d + ((c << 15) | (c >> 17))) & M
    b = (b + (d ^ (c | (a ^ M))) + x5 + 0xfc93a039) & M
    b = (c + ((b << 21) | (b >> 11))) & M
    a = (a + (c ^ (b | (d ^ M))) + x12 + 0x655b59c3) & M
    a = (b + ((a << 6) | (a >> 26))) & M
    d = (d + (b ^ (a | (c ^ M))) + x3 + 0x8f0ccc92) & M
    d = (a + ((d << 10) | (d >> 22))) & M
    c = (c + (a ^ (d | (b ^ M))) + x10 + 0xffeff47d) & M
    c = (d + ((c << 15) | (c >> 17))) & M
    b = (b + (d ^ (c | (a ^ M))) + x1 + 0x85845dd1) & M
    b = (c + ((b << 21) | (b >> 11))) & M
    a = (a + (c ^ (b | (d ^ M))) + x8 + 0x6fa87e4f) & M
    a = (b + ((a << 6) | (a >> 26))) & M
    d = (d + (b ^ (a | (c ^ M))) + x15 + 0xfe2ce6e0) & M
    d = (a + ((d << 10) | (d >> 22))) & M
    c = (c + (a ^ (d | (b ^ M))) + x6 + 0xa3014314) & M
    c = (d + ((c << 15) | (c >> 17))) & M
    b = (b + (d ^ (c | (a ^ M))) + x13 + 0x4e0811a1) & M
    b = (c + ((b << 21) | (b >> 11))) & M
    a = (a + (c ^ (b | (d ^ M))) + x4 + 0xf7537e82) & M
    a = (b + ((a << 6) | (a >> 26))) & M
    d = (d + (b ^ (a | (c ^ M))) + x11 + 0xbd3af235) & M
    d = (a + ((d << 10) | (d >> 22))) & M
    c = (c + (a ^ (d | (b ^ M))) + x2 + 0x2ad7d2bb) & M
    c = (d + ((c << 15) | (c >> 17))) & M
    b = (b + (d ^ (c | (a ^ M))) + x9 + 0xeb86d391) & M
    b = (c + ((b << 21) | (b >> 11))) & M
    return ((a0 + a) & M, (b0 + b) & M, (c0 + c) & M, (d0 + d) & M)


def _finish(state, data, before):
    """The digest of `before` octets already in `state` followed by `data` (RFC 1321 3.1-3.2, 3.5)."""
    n = len(data)
    msg = bytes(data) + b"\x80" + bytes((55 - before - n) % 64) + pack("<Q", ((before + n) * 8) & 0xFFFFFFFFFFFFFFFF)
    for offset in range(0, len(msg), 64):
        state = _compress(state, msg, offset)
    return pack("<4I", state[0], state[1], state[2], state[3])


def md5_digest(data):
    """The 16-octet MD5 digest of `data`."""
    return _finish(_INIT, data, 0)


_pads = {}  # key -> MD5 states after its inner and outer pad: a mobile node holds one or two keys
_PADS_KEPT = 16


def hmac_md5(key, data):
    """HMAC-MD5 of `data` under `key` (RFC 2104)."""
    key = bytes(key)
    states = _pads.get(key)
    if states is None:
        k = md5_digest(key) if len(key) > _BLOCK else key
        k = k + bytes(_BLOCK - len(k))
        states = (_compress(_INIT, bytes([b ^ 0x36 for b in k]), 0), _compress(_INIT, bytes([b ^ 0x5C for b in k]), 0))
        if len(_pads) >= _PADS_KEPT:
            _pads.clear()
        _pads[key] = states
    return _finish(states[1], _finish(states[0], data, _BLOCK), _BLOCK)

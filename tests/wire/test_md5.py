"""The pure-Python MD5 and HMAC-MD5 agree with CPython's hashlib and hmac on any input."""

import hashlib
import hmac

from hypothesis import given, settings
from hypothesis import strategies as st

from mip4.wire import auth, md5


@given(st.binary(max_size=600))
@settings(max_examples=500)
def test_pure_md5_matches_hashlib(data):
    assert md5.md5_digest(data) == hashlib.md5(data).digest()


@given(st.binary(max_size=150), st.binary(max_size=300))
@settings(max_examples=500)
def test_hmac_md5_matches_the_hmac_module(key, data):
    assert auth.hmac_md5(key, data) == hmac.new(key, data, "md5").digest()


def test_every_padding_boundary():
    for n in range(0, 200):
        data = bytes(range(256))[:n]
        assert md5.md5_digest(data) == hashlib.md5(data).digest(), n


def test_cpython_uses_hashlib_md5_not_the_fallback():
    assert auth.md5_digest is not md5.md5_digest

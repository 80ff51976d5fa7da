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


@given(st.binary(max_size=150), st.binary(max_size=300))
@settings(max_examples=300)
def test_pure_hmac_md5_matches_the_hmac_module(key, data):
    """mip4.wire.md5's own HMAC (MicroPython's), with its per-key pad states, keys longer than a block too."""
    assert md5.hmac_md5(key, data) == hmac.new(key, data, "md5").digest()


def test_pure_hmac_md5_keeps_few_key_states_and_stays_right_across_them():
    for i in range(100):
        key = i.to_bytes(16, "big")
        assert md5.hmac_md5(key, b"request %d" % i) == hmac.new(key, b"request %d" % i, "md5").digest()
    assert len(md5._pads) <= md5._PADS_KEPT

"""`python -m mip4 wire decode|encode`, run as a person would, in a subprocess."""

import json
import subprocess
import sys

from mip4.wire import Nai, RegistrationReply, RegistrationRequest, TrustedNetworksConfigured

KEY = "00112233445566778899aabbccddeeff"


def mip4(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mip4", *args], input=stdin, capture_output=True, text=True,
                          timeout=60)


def i_ha_reply() -> str:
    r = RegistrationReply(0, "10.1.0.5", "10.1.0.1", 0x1122334455667788, 600, [TrustedNetworksConfigured()])
    r.authenticate(32, 256, bytes.fromhex(KEY))
    return r.encode().hex()


def test_decode_prints_rfc_field_names_as_json():
    p = mip4("wire", "decode", i_ha_reply())
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["type"] == 3 and out["code"] == 0 and out["lifetime"] == 600
    assert out["home_address"] == "10.1.0.5" and out["home_agent"] == "10.1.0.1"
    assert out["identification"] == 0x1122334455667788
    assert [e["type"] for e in out["extensions"]] == [149, 32]
    assert out["extensions"][0]["sub_type"] == 0
    assert out["extensions"][1]["spi"] == 256 and len(out["extensions"][1]["authenticator"]) == 32


def test_decode_accepts_spaced_and_colon_hex_and_stdin():
    h = i_ha_reply()
    spaced = " ".join(h[i:i + 2] for i in range(0, len(h), 2))
    colon = ":".join(h[i:i + 2] for i in range(0, len(h), 2))
    assert json.loads(mip4("wire", "decode", spaced).stdout)["code"] == 0
    assert json.loads(mip4("wire", "decode", colon).stdout)["code"] == 0
    assert json.loads(mip4("wire", "decode", "-", stdin=h + "\n").stdout)["code"] == 0


def test_decode_with_key_says_whether_the_mobile_home_authenticator_verifies():
    good = mip4("wire", "decode", i_ha_reply(), "--key", KEY, "--spi", "256")
    assert good.returncode == 0
    assert json.loads(good.stdout)["authentication"] == {"type": 32, "spi": 256, "present": True, "verified": True}
    bad = mip4("wire", "decode", i_ha_reply(), "--key", KEY[:-2] + "00", "--spi", "256")
    assert bad.returncode == 3
    assert json.loads(bad.stdout)["authentication"]["verified"] is False
    missing = mip4("wire", "decode", i_ha_reply(), "--key", KEY, "--spi", "999")
    assert missing.returncode == 3
    assert json.loads(missing.stdout)["authentication"]["present"] is False


def test_encode_reverses_decode():
    h = i_ha_reply()
    p = mip4("wire", "encode", stdin=mip4("wire", "decode", h).stdout)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == h


def test_encode_with_key_computes_the_authenticator():
    req = {"type": 1, "flags": {"D": True, "T": True}, "lifetime": 1800, "home_address": "10.1.0.5",
           "home_agent": "10.1.0.1", "care_of_address": "192.0.2.7", "identification": 42,
           "extensions": [{"type": 131, "nai": "mr1@example.com"}, {"type": 32, "spi": 256}]}
    p = mip4("wire", "encode", "--key", KEY, "--spi", "256", stdin=json.dumps(req))
    assert p.returncode == 0, p.stderr
    expected = RegistrationRequest("10.1.0.5", "10.1.0.1", "192.0.2.7", 42, 1800, 0x22, [Nai(b"mr1@example.com")])
    expected.authenticate(32, 256, bytes.fromhex(KEY))
    assert p.stdout.strip() == expected.encode().hex()


def test_bad_input_gives_a_clear_error_and_exit_1():
    cases = [
        (("wire", "decode", "0102"), "", "registration request: truncated: need 24 octets, have 2 (at offset 0)"),
        (("wire", "decode", "zz"), "", "not valid hex"),
        (("wire", "decode", "07"), "", "unknown message type 7"),
        (("wire", "decode", i_ha_reply(), "--key", "00"), "", "--key and --spi go together"),
        (("wire", "encode"), "{not json", "not valid JSON"),
        (("wire", "encode"), '{"type": 3, "code": 0}', "registration reply: missing field 'home_address'"),
        (("wire", "encode", "--key", "00", "--spi", "5"),
         '{"type": 10}', "agent solicitation carries no authenticator"),
    ]
    for args, stdin, words in cases:
        p = mip4(*args, stdin=stdin)
        assert p.returncode == 1, (args, p.stdout, p.stderr)
        assert words in p.stderr, (args, p.stderr)
        assert "Traceback" not in p.stderr

"""tshark as the independent decoder of the lab's captures, with the ESP inside them decrypted.

The lab keeps the VPN gateway's ESP SAs (`ip xfrm state`, keys included) after every step in
run/xfrm-step-N.txt (labctl.py keep_status); tshark gets them as its ESP SA table and so reads every
layer inside ESP on every link, as RFC 5265 Appendix A draws them. Each frame comes back as a Frame:
its layer list (frame.protocols) and every IP header, outermost first.
"""
from __future__ import annotations

import glob
import os
import re
import subprocess
from dataclasses import dataclass

# Wireshark's name of the lab's ESP transform (topology.json ipsec.esp_proposals aes128gcm16: RFC 4106)
GCM16 = "AES-GCM with 16 octet ICV [RFC4106]"
SA = re.compile(r"^src (\S+) dst (\S+)\n\s+proto esp spi (0x[0-9a-f]+).*?"
                r"\n\s+aead rfc4106\(gcm\(aes\)\) (0x[0-9a-f]+) 128", re.M | re.S)
FIELDS = ("frame.number", "frame.time_epoch", "frame.protocols", "frame.len", "ip.src", "ip.dst", "ip.len", "ip.proto",
          "ip.flags.df", "ip.flags.mf", "ip.frag_offset", "udp.srcport", "udp.dstport", "tcp.srcport", "tcp.dstport",
          "tcp.seq_raw", "tcp.ack_raw", "tcp.len", "esp.spi", "isakmp.exchangetype", "isakmp.ispi",
          "isakmp.rspi", "mip.type", "mip.code")


@dataclass(frozen=True)
class Frame:
    number: int
    time: float
    layers: str  # frame.protocols, e.g. eth:ethertype:ip:ip:esp:ip:ip:tcp
    src: tuple[str, ...]  # every IP header, outermost first
    dst: tuple[str, ...]
    length: tuple[int, ...]  # each IP header's total length
    df: tuple[bool, ...]
    fragment: bool  # any IP header with MF set or a fragment offset
    f: dict[str, str]  # the other fields, as tshark printed them (all occurrences, comma separated)

    @property
    def stack(self) -> str:
        """The layers above Ethernet: "ip:ip:esp:ip:ip:tcp" (a payload without a dissector, "data", is no layer)."""
        return self.layers.removeprefix("eth:ethertype:").removesuffix(":data")

    def esp_trailer(self) -> tuple[int, int]:
        """(pad length, next header): the last two octets ESP decrypted (RFC 4303 2.4, 2.6), when asked
        for with extra=("esp.decrypted_data",)."""
        data = bytes.fromhex(self.f["esp.decrypted_data"].replace(":", ""))
        return data[-2], data[-1]

    def ints(self, name: str) -> tuple[int, ...]:
        return tuple(int(v, 0) for v in self.f.get(name, "").split(",") if v)


def gateway_sas(lab_dir: str) -> list[tuple[str, str, str, str]]:
    """(src, dst, spi, key with salt) of every ESP SA the gateway held at the end of any step."""
    found = {}
    for path in glob.glob(os.path.join(lab_dir, "run", "xfrm-step-*.txt")):
        with open(path) as f:
            for m in SA.finditer(f.read()):
                found[m.group(3)] = m.groups()
    return sorted(found.values())


def frames(lab_dir: str, capture: str, display_filter: str = "", decrypt: bool = True,
           extra: tuple[str, ...] = ()) -> list[Frame]:
    """Every frame of captures/CAPTURE.pcapng matching `display_filter`, ESP decrypted unless `decrypt` is off;
    `extra` fields besides FIELDS."""
    argv = ["tshark", "-n", "-r", os.path.join(lab_dir, "captures", capture + ".pcapng"), "-T", "fields",
            "-E", "separator=\t", "-E", "occurrence=a", "--disable-protocol", "gsm_ipa"]  # not on the stream's port
    if decrypt:
        argv += ["-o", "esp.enable_encryption_decode:TRUE"]
        for src, dst, spi, key in gateway_sas(lab_dir):
            argv += ["-o", 'uat:esp_sa:"IPv4","%s","%s","%s","%s","%s","NULL",""' % (src, dst, spi, GCM16, key)]
    if display_filter:
        argv += ["-Y", display_filter]
    names = FIELDS + extra
    for name in names:
        argv += ["-e", name]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    got = []
    for line in out.splitlines():
        cols = line.split("\t")
        f = dict(zip(names, cols + [""] * (len(names) - len(cols)), strict=True))
        split = lambda name, f=f: tuple(v for v in f[name].split(",") if v)  # noqa: E731
        got.append(Frame(int(f["frame.number"]), float(f["frame.time_epoch"]), f["frame.protocols"],
                         split("ip.src"), split("ip.dst"), tuple(int(v) for v in split("ip.len")),
                         tuple(v in ("1", "True") for v in split("ip.flags.df")),
                         any(v in ("1", "True") for v in split("ip.flags.mf"))
                         or any(v not in ("0", "") for v in split("ip.frag_offset")), f))
    return got


def between(found: list[Frame], start: float, end: float) -> list[Frame]:
    return [x for x in found if start <= x.time < end]

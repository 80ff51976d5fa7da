"""The leak auditor: tshark reads every capture of an external link; every packet must be one that
RFC 5265 lets cross the outside (section 1.1: outside, enterprise traffic only inside IPsec).

Allowed: ESP; IKE (UDP 500/4500); Mobile IP registration (UDP 434); IP-in-IP carrying ESP or IKE
(the x-MIP tunnel), or an ICMP error quoting one of them (the gateway's port unreachable while its
charon restarts), and the same in RFC 3519 UDP tunnel data on port 434 (x-MIP behind a NAT), whose
keepalive is an ICMP echo; DHCP; ARP; ICMP router discovery, with the FA's IGMP join of the all-routers
group it listens on (RFC 1256 5); ICMP errors that quote an allowed packet (path MTU discovery for
ESP; a port unreachable for a DHCP offer that came after the uplink's udhcpc was stopped).
Anything else is a leak, and so is any packet that shows an address of the LAN host or the CN in clear,
at any layer tshark can read, or an intranet address (the i-HoA, the i-HA) anywhere but in a Mobile IP
registration (the plaintext detection probes of RFC 5265 3.3).
"""
from __future__ import annotations

import ipaddress
import os
import subprocess
from collections import Counter
from dataclasses import dataclass

FIELDS = ("frame.number", "frame.time_epoch", "eth.type", "ip.src", "ip.dst", "ip.proto", "udp.srcport",
          "udp.dstport", "icmp.type", "igmp.maddr", "_ws.col.Info")
IKE_PORTS, MIP_PORT, DHCP_PORTS = {500, 4500}, 434, {67, 68}
ETH_ARP, ETH_IPV4 = "0x0806", "0x0800"
ALL_ROUTERS = "224.0.0.2"


@dataclass(frozen=True)
class Packet:
    capture: str
    number: int
    time: float
    src: tuple[str, ...]  # every IP header, outermost first
    dst: tuple[str, ...]
    protos: tuple[int, ...]
    ports: tuple[int, ...]
    info: str

    def __str__(self) -> str:
        return "%s #%d %s -> %s proto %s ports %s: %s" % (
            self.capture, self.number, ",".join(self.src), ",".join(self.dst),
            ",".join(map(str, self.protos)), ",".join(map(str, self.ports)), self.info)


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(v, 0) for v in text.split(",") if v)


def classify(eth_type: str, protos: tuple[int, ...], ports: tuple[int, ...], icmp_types: tuple[int, ...],
             dst: tuple[str, ...] = ()) -> str | None:
    """The allowed kind of one frame, or None for a leak. Lists hold every header, outermost first."""
    if eth_type == ETH_ARP:
        return "arp"
    if eth_type not in (ETH_IPV4, "") or not protos:  # "": a capture without link layer
        return None
    outer = protos[0]
    inner = protos[1:] if outer == 4 else ()  # IP-in-IP: judge what it carries
    kind = inner[0] if outer == 4 and inner else outer
    if kind == 50:
        return "ipip-esp" if outer == 4 else "esp"
    if kind == 17 and ports and set(ports[:2]) & IKE_PORTS:
        return "ipip-ike" if outer == 4 else "ike"
    if outer == 4 and kind == 1 and icmp_types and icmp_types[0] in (3, 11) and len(inner) > 1:
        # an ICMP error about the IPsec flow, between the gateway and the x-HoA (charon down, path MTU)
        quoted = classify(eth_type, protos[2:], ports, icmp_types[1:], dst[2:])
        return "ipip-icmp-error" if quoted in ("esp", "ike") else None
    if outer == 4:
        return None  # x-MIP carries only IPsec
    if kind == 17 and MIP_PORT in ports[:2]:
        if len(protos) == 1:
            return "mip-registration"
        tunnelled = protos[1]  # RFC 3519 3.3: MIP tunnel data; x-MIP carries only IPsec, and keepalives
        if tunnelled == 50:
            return "udp-tunnel-esp"
        if tunnelled == 17 and set(ports[2:4]) & IKE_PORTS:
            return "udp-tunnel-ike"
        if tunnelled == 1 and icmp_types and icmp_types[0] in (0, 8):
            return "udp-tunnel-keepalive"
        return None
    if kind == 17 and set(ports[:2]) <= DHCP_PORTS and ports:
        return "dhcp"
    if kind == 1 and icmp_types and icmp_types[0] in (9, 10):
        return "router-discovery"
    if kind == 2 and dst[1:] and set(dst[1:]) <= {ALL_ROUTERS}:  # IGMPv3 report: group records only
        return "router-discovery"
    if kind == 1 and icmp_types and icmp_types[0] in (3, 11) and len(protos) > 1:  # quotes protos[1:]
        quoted = classify(eth_type, protos[1:], ports, icmp_types[1:], dst[1:])
        return "icmp-error" if quoted in ("esp", "ike", "mip-registration", "ipip-esp", "ipip-ike", "udp-tunnel-esp",
                                          "udp-tunnel-ike", "udp-tunnel-keepalive", "dhcp") else None
    return None


def read(path: str) -> list[tuple[Packet, str, tuple[int, ...], tuple[str, ...]]]:
    argv = ["tshark", "-n", "-r", path, "-T", "fields", "-E", "separator=\t", "-E", "occurrence=a"]
    for f in FIELDS:
        argv += ["-e", f]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    name = os.path.basename(path).rsplit(".", 1)[0]
    rows = []
    for line in out.splitlines():
        cols = line.split("\t")
        cols += [""] * (len(FIELDS) - len(cols))
        num, t, eth, src, dst, proto, sport, dport, icmp, groups, info = cols[:11]
        ports = tuple(p for pair in zip(_ints(sport), _ints(dport), strict=False) for p in pair)
        pkt = Packet(name, int(num), float(t or 0), tuple(s for s in src.split(",") if s),
                     tuple(d for d in dst.split(",") if d), _ints(proto), ports, info)
        rows.append((pkt, eth.split(",")[0], _ints(icmp), tuple(g for g in groups.split(",") if g)))
    return rows


def _inside(address: str, prefixes: list[ipaddress.IPv4Network]) -> bool:
    try:
        return any(ipaddress.IPv4Address(address) in p for p in prefixes)
    except ValueError:
        return False


def audit(captures: list[str], secret: set[str], intranet: tuple[str, ...] = ()) -> dict:
    """Judge every packet of `captures`; `secret` are addresses that must never show in clear, and
    addresses in `intranet` may show only in registrations."""
    nets = [ipaddress.IPv4Network(p) for p in intranet]
    kinds: Counter = Counter()
    leaks: list[str] = []
    per_capture: dict[str, int] = {}
    for path in captures:
        rows = read(path)
        per_capture[os.path.basename(path)] = len(rows)
        for pkt, eth, icmp, groups in rows:
            kind = classify(eth, pkt.protos, pkt.ports, icmp, pkt.dst[:1] + groups)
            shown = secret & set(pkt.src + pkt.dst)
            if kind != "mip-registration":
                shown |= {a for a in pkt.src + pkt.dst if _inside(a, nets)}
            if kind is None or shown:
                why = "address %s in clear" % ",".join(sorted(shown)) if shown else "not allowed outside"
                leaks.append("%s (%s)" % (pkt, why))
            else:
                kinds[kind] += 1
    return {"packets": sum(per_capture.values()), "per_capture": per_capture, "kinds": dict(kinds), "leaks": leaks}


def audit_lab(lab_dir: str, topo: dict) -> dict:
    """The lab's external captures, judged; the LAN host and the CN are the secrets."""
    paths = [os.path.join(lab_dir, "captures", name + ".pcapng") for name in topo["audit"]["captures"]]
    return audit([p for p in paths if os.path.exists(p)], {topo["lan"]["host"], topo["cn"]["address"]},
                 tuple(topo["ipsec"]["intranet"]))

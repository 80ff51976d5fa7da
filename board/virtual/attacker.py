"""An attacker on the Internet path (issue 10), run by faults.py in the ISP's namespace: it copies the
MR's next registration request to the x-HA off the wire, then sends it back to the x-HA as it was
(a replay), with the care-of changed to its own address (a forged authenticator: it has no key),
and as a flood from one source. The x-HA must change nothing, say why in its log and count each.
What was sent goes to a JSON file.
"""
from __future__ import annotations

import json
import socket
import struct
import time

from mip4.wire import codec
from mip4.wire.errors import CodecError
from mip4.wire.extensions import MOBILE_HOME_AUTH
from mip4.wire.ident import timestamp_identification
from mip4.wire.registration import FLAG_D, FLAG_T, RegistrationReply, RegistrationRequest

ETH_P_ALL, ETH_P_IP = 0x0003, 0x0800  # ETH_P_ALL: a forwarded packet is seen leaving `iface` only so
COA_OFFSET = 12  # RFC 5944 3.3: type, flags, lifetime, home address, home agent, care-of address


def sniff_request(iface: str, home_agent: str, timeout: float) -> bytes | None:
    """The UDP payload of the next registration request to `home_agent`:434 seen on `iface`."""
    s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_ALL))
    s.bind((iface, ETH_P_ALL))
    s.settimeout(1.0)
    target = socket.inet_aton(home_agent)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            try:
                pkt, where = s.recvfrom(65535)
            except TimeoutError:
                continue
            if where[1] != ETH_P_IP:
                continue
            ihl = (pkt[0] & 0x0F) * 4
            if len(pkt) < ihl + 8 or pkt[9] != 17 or pkt[16:20] != target:
                continue
            if struct.unpack("!H", pkt[ihl + 2:ihl + 4])[0] != 434:
                continue
            payload = pkt[ihl + 8:]
            try:
                if isinstance(codec.decode_udp(payload), RegistrationRequest):
                    return payload
            except CodecError:
                continue
    finally:
        s.close()
    return None


def attack(iface: str, home_agent: str, own: str, out: str, replays: int = 3, forged: int = 3,
           flood: int = 1000) -> int:
    request = sniff_request(iface, home_agent, 40.0)
    sent = {"captured": request is not None, "replayed": 0, "forged": 0, "flood": 0}
    if request is not None:
        forgery = request[:COA_OFFSET] + socket.inet_aton(own) + request[COA_OFFSET + 4:]
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((own, 0))
        for kind, data, n in (("replayed", request, replays), ("forged", forgery, forged)):
            for _ in range(n):
                s.sendto(data, (home_agent, 434))
                sent[kind] += 1
                time.sleep(0.2)
        f = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # the flood: one more source port, same address
        f.bind((own, 0))
        start = time.monotonic()
        for _ in range(flood):
            f.sendto(forgery, (home_agent, 434))
            sent["flood"] += 1
        sent["flood_s"] = round(time.monotonic() - start, 3)
    with open(out, "w") as fh:
        json.dump(sent, fh)
    return 0


def redirect(home_agent: str, home_address: str, own: str, spi: int, key: bytes, hold_s: float, give_back: str,
             out: str) -> int:
    """RFC 5265 6.2: a broken x-MIP layer (the attacker holds the x-MIP key). It registers the x-HoA at
    `own` (D and T bits, as the MR does), so the x-HA tunnels the MR's traffic to it for `hold_s`
    seconds, then gives the binding back to `give_back` (the MR's care-of), as a transient pseudo-NAT
    rewriting one request would. What it gets meanwhile is judged from the capture on its link: IPsec
    keeps it blind (R-6.2-a). The x-HA's replies go to a JSON file."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((own, 0))
    s.settimeout(3.0)
    done = {"redirected_to": own, "given_back_to": give_back, "codes": [], "times": []}
    for care_of in (own, give_back):
        if care_of == give_back:
            time.sleep(hold_s)
        rq = RegistrationRequest(home_address, home_agent, care_of, timestamp_identification(time.time(), 0),
                                 lifetime=120, flags=FLAG_D | FLAG_T)
        done["times"].append(time.time())
        s.sendto(rq.encode_authenticated(MOBILE_HOME_AUTH, spi, key), (home_agent, 434))
        try:
            reply = codec.decode_udp(s.recv(65535))
            done["codes"].append(reply.code if isinstance(reply, RegistrationReply) else None)
        except (TimeoutError, CodecError):
            done["codes"].append(None)
    with open(out, "w") as fh:
        json.dump(done, fh)
    return 0

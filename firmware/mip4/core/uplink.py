"""Per-interface detection state (RFC 5265 3.2.1): one Uplink per network interface.

The inside/outside verdict of an interface moves only along TRANSITIONS (h11 style: the table
is the specification). Nothing here sends or decides data-plane policy: detection.py drives the
verdict, selection.py picks among uplinks, datapath.py builds the paths.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from .client import RegistrationClient

try:
    from _sha1 import sha1  # CPython's own SHA-1: hashlib loads OpenSSL's libcrypto, 3.7 MB (issue 25)
except ImportError:
    from hashlib import sha1

DOWN = "down"  # no link
WAITING = "waiting"  # link up, no care-of address yet
DETECTING = "detecting"  # RFC 5265 3.3: parallel registrations to i-HA and x-HA in flight
TENTATIVE_OUTSIDE = "tentative-outside"  # x-HA answered; still asking the i-HA (R-3.3-b, R-3.3-c)
OUTSIDE = "outside"
INSIDE = "inside"  # only after an authentic, fresh, TNC-bearing i-HA reply here (R-3.2.3-a)
HELD = "held"  # a standby kept from registering: its HA keeps one binding, which another uplink needs
# Where user data may go through x-MIP and ESP, never in clear: outside, and tentatively outside once the x-HA
# accepted (RFC 5265 3.3, 3.5, 5.3: IPsec may start right after the x-HA's reply, without waiting for the
# i-HA). The i-HA keeps being asked for the detection period, and a late TNC reply still moves it inside.
EXTERNAL = (TENTATIVE_OUTSIDE, OUTSIDE)

# RFC 5265 3.3 as data. Events not listed for a state leave it unchanged.
TRANSITIONS: dict[str, dict[str, str]] = {
    DOWN: {},
    WAITING: {},
    HELD: {},  # left by a status change only (mobile_node: when no uplink carries any more)
    DETECTING: {"x-ha-accepted": TENTATIVE_OUTSIDE, "i-ha-tnc": INSIDE, "i-ha-no-tnc": OUTSIDE},
    TENTATIVE_OUTSIDE: {"i-ha-tnc": INSIDE, "i-ha-no-tnc": OUTSIDE, "i-ha-denied": OUTSIDE,  # R-3.3-f
                        "detection-period-over": OUTSIDE},
    OUTSIDE: {"i-ha-tnc": INSIDE},  # a late qualifying reply still wins (R-3.3-k, R-3.5-g)
    INSIDE: {"i-ha-tnc": INSIDE, "i-ha-no-tnc": DETECTING, "i-ha-denied": DETECTING,
             "monitor-failed": DETECTING},  # R-3.3-i
}
# Events that apply in every state (RFC 5265 3.2.2: a status change restarts detection).
ANY_STATE: dict[str, str] = {
    "link-up": WAITING,
    "link-down": DOWN,
    "care-of-lost": WAITING,
    "status-change": DETECTING,
    "skip-detection": OUTSIDE,  # RFC 5265 3.5, R-3.5-c: i-HA and x-HA addresses are equal
    "hold": HELD,  # RFC 5944 3.4: code 1 or 135, the HA keeps no binding beside the one that carries
}


def next_state(state: str, event: str) -> str:
    if event in ANY_STATE:
        return ANY_STATE[event]
    return TRANSITIONS[state].get(event, state)


TUNNEL_PREFIX = "mip4-"  # io/kernel.py OUR_TUNNELS: every MN tunnel name starts with it
IFNAMSIZ = 16  # Linux: an interface name is at most 15 characters
_SHORT = IFNAMSIZ - 1 - len(TUNNEL_PREFIX + "i-") - 1  # names up to 7 characters appear as they are
_TAG = _SHORT + 1  # longer ones as 8 hex digits of a hash: the length alone tells the two forms apart


def tunnel_tag(iface: str, taken: set[str]) -> str:
    """The part of this uplink's tunnel names that stands for `iface`: unique among `taken` and within
    IFNAMSIZ. A name of up to 7 characters stays readable ("mip4-x-wan"); a longer one (OpenWrt's
    "phy0-sta0", "eth0.100") becomes 8 hex digits of its hash, so two names sharing a prefix never
    share a tunnel; a hash collision, however unlikely, takes the next salt."""
    if len(iface) <= _SHORT:
        return iface
    salt = 0
    while True:
        tag = sha1(("%s#%d" % (iface, salt) if salt else iface).encode()).hexdigest()[:_TAG]
        if tag not in taken:
            return tag
        salt += 1


def tunnel_tags(ifaces: Iterable[str]) -> dict[str, str]:
    """tunnel_tag of each of `ifaces`, in order: the mobile node's configured uplinks get theirs at start,
    so their tunnel names do not depend on which link comes up first (and a charon configuration can
    list them, board/virtual/labctl.py)."""
    tags: dict[str, str] = {}
    for iface in ifaces:
        if iface not in tags:
            tags[iface] = tunnel_tag(iface, set(tags.values()))
    return tags


def tunnel_name(layer: str, tag: str) -> str:
    """An uplink's "i" (i-HA) or "x" (x-HA) tunnel: at most 15 characters for a tag of tunnel_tag."""
    return "%s%s-%s" % (TUNNEL_PREFIX, layer, tag)


@dataclass
class ForeignAgentInfo:
    """What an agent advertisement told us (RFC 5944 2.1)."""

    address: str
    care_of: str
    sequence: int
    expires_at: float
    reverse_tunnel: bool
    registration_required: bool
    registration_lifetime: int  # the longest the FA accepts (RFC 5944 2.1.1); 0xffff: no limit
    busy: bool = False  # B: it takes no additional mobile nodes (RFC 5944 2.1.1)


@dataclass
class Uplink:
    iface: str
    priority: int
    i_client: RegistrationClient  # plaintext, direct to the i-HA: detection and monitoring
    x_client: RegistrationClient  # x-MIP
    state: str = DOWN
    generation: int = 0  # counts status changes; replies to older requests never count
    address: str | None = None  # co-located care-of address (DHCP or static)
    fa: ForeignAgentInfo | None = None
    detection_deadline: float | None = None
    x_start_at: float | None = None  # delayed x-HA request (R-3.5-f)
    last_good_sent: float | None = None  # send time of the last qualifying i-HA request (note 3)
    monitor_at: float | None = None  # next monitoring re-registration (R-3.2.4-a)
    stale: bool = False  # idle mode: T_MONITOR passed with no traffic (R-3.2.4-f)
    redetect_at: float | None = None  # the i-HA denied during detection: the pair again then (R-3.3-f)
    x_care_of: str | None = None  # care-of of this uplink's last x-HA binding; kept across status changes (R-3.3-g)
    last_traffic: float | None = None
    hints: dict[str, str] = field(default_factory=dict)  # kind -> "inside"/"outside" (R-3.5-d)
    reason: str = "start"  # the event behind the current state (status: why this verdict)
    changed_at: float | None = None
    usable_since: float | None = None  # since when it could carry user data without a break
    settle_at: float | None = None  # end of its hold-down; None once settled (or not usable)
    waited: float | None = None  # how long it had been usable when it last became the primary
    gate: str | None = None  # last Gate path announced
    path: tuple | None = None  # last SetPath announced
    parked: tuple = ()  # the layers of the last path, kept unrouted for the next one (datapath.close)
    parked_until: float | None = None  # when they go if no path took them
    held: str | None = None  # why it is HELD: the home agent that keeps no binding for it
    tag: str = ""  # stands for iface in tunnel names (tunnel_tag); set once, when the uplink is first seen
    fa_alternative: ForeignAgentInfo | None = None  # another FA heard on this link while ours still is

    def tunnel_name(self, layer: str) -> str:
        """The name of this uplink's "i" (i-HA) or "x" (x-HA) tunnel: at most 15 characters."""
        return tunnel_name(layer, self.tag or self.iface)

    @property
    def using_fa(self) -> bool:
        """RFC 5944 3.6: register through an FA that requires it, or when there is no address."""
        return self.fa is not None and (self.fa.registration_required or self.address is None)

    @property
    def care_of(self) -> str | None:
        if self.using_fa:
            assert self.fa is not None
            return self.fa.care_of
        return self.address

    @property
    def attachment(self) -> tuple:
        """What a status change is (R-3.2.2-d, R-3.2.2-e): the care-of, whether through an FA, and the
        interface's own address, which counts in mode f too."""
        return (self.care_of, self.using_fa, self.address)

    @property
    def hint(self) -> str | None:
        """Hints only steer timing (R-3.5-f); any outside hint outweighs inside ones."""
        if not self.hints:
            return None
        return "outside" if "outside" in self.hints.values() else "inside"

    def forget_attachment(self) -> None:
        """A new point of attachment: nothing sent or proven before it counts any more (R-3.2.3-a)."""
        self.generation += 1
        self.i_client.reset()
        self.x_client.reset()
        self.detection_deadline = self.x_start_at = self.monitor_at = None
        self.redetect_at = None
        self.last_good_sent, self.stale = None, False

    def monitor_deadline(self, t_monitor: float) -> float | None:
        return None if self.last_good_sent is None else self.last_good_sent + t_monitor

    def fresh(self, now: float, t_monitor: float) -> bool:
        """RFC 5265 3.2.4, R-3.2.4-b: less than T_MONITOR since the last good i-HA registration."""
        deadline = self.monitor_deadline(t_monitor)
        return self.state == INSIDE and not self.stale and deadline is not None and now < deadline

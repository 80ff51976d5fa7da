"""What happened, in order: machine actions, packet deliveries and drops, and notes from the models."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mip4.core.actions import Datagram, Icmp, Log, SendUdp

Packet = Datagram | Icmp


@dataclass(frozen=True)
class ActionEntry:
    """An action `node` returned at `time`."""

    time: float
    node: str
    action: Any

    @property
    def kind(self) -> str:
        return "action"


@dataclass(frozen=True)
class PacketEntry:
    """kind "deliver" (to `node`) or "drop" (`reason`: loss, firewall, no-route, no-link, attacker, vpn-down).

    `node` is the receiver, or None for a drop before a receiver was known; `sender` is a node name or "attacker".
    """

    time: float
    kind: str
    sender: str
    node: str | None
    link: str | None
    packet: Packet
    reason: str = ""


@dataclass(frozen=True)
class NoteEntry:
    """A model event, e.g. kind "ike-up", "ike-failed", "ike-down", "ike-closed", "lease"."""

    time: float
    kind: str
    node: str
    detail: str = ""


Entry = ActionEntry | PacketEntry | NoteEntry


def name_of(node: Any) -> str:
    """A Node or a node name."""
    return node if isinstance(node, str) else node.name


class Trace(list):
    """The list of entries, with query helpers (node arguments take a Node or a name)."""

    def actions(self, node: Any, type: type | tuple | None = None, since: float | None = None) -> list:
        name = name_of(node)
        return [e.action for e in self if isinstance(e, ActionEntry) and e.node == name
                and (type is None or isinstance(e.action, type)) and (since is None or e.time >= since)]

    def sent(self, node: Any, predicate: Callable[[Datagram], bool] | None = None) -> list[SendUdp]:
        """SendUdp actions of `node`; `predicate` gets the datagram."""
        return [a for a in self.actions(node, SendUdp) if predicate is None or predicate(a.datagram)]

    def delivered(self, node: Any, predicate: Callable[[Packet], bool] | None = None) -> list[Packet]:
        """Datagrams and ICMP messages handed to `node`, as it received them (its iface)."""
        name = name_of(node)
        return [e.packet for e in self if isinstance(e, PacketEntry) and e.kind == "deliver" and e.node == name
                and (predicate is None or predicate(e.packet))]

    def drops(self, reason: str | None = None) -> list[PacketEntry]:
        return [e for e in self if isinstance(e, PacketEntry) and e.kind == "drop"
                and (reason is None or e.reason == reason)]

    def logs(self, node: Any, reason: str | None = None) -> list[Log]:
        return [a for a in self.actions(node, Log) if reason is None or a.reason == reason]

    def notes(self, kind: str | None = None) -> list[NoteEntry]:
        return [e for e in self if isinstance(e, NoteEntry) and (kind is None or e.kind == kind)]

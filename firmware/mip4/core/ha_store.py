"""A home agent's bindings as a binding store keeps them (issue 27): pure data, no I/O.

The active home agent of a redundant pair writes each accepted binding (StoreBinding) and each
deregistration (ForgetBinding); the store (etcd, io/store.py) holds each binding under a lease of its
lifetime and, per home address, the identification of the last accepted registration (RFC 5944 5.7).
The home agent that becomes active reads them back (`Restored`) and serves them as its own.

A record is what a binding is without its times: those are the lease's (`remaining`), since the two
home agents' monotonic clocks have nothing in common.
"""
from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass, field

from .bindings import Binding

INFINITE = 0xFFFF  # RFC 5944 3.3: a lifetime that never ends (stored without a lease)
FIELDS = ("home_address", "care_of", "lifetime", "identification", "reverse_tunnel", "source", "source_port",
          "udp_tunnel", "co_located")


class BadRecord(ValueError):
    """A stored record that is not a binding: skipped (and logged), never served."""


def to_record(b: Binding) -> dict:
    """The JSON object a binding is stored as."""
    return {name: getattr(b, name) for name in FIELDS}


def from_record(record: object, remaining: float | None, now: float) -> Binding:
    """The binding a record stands for, `remaining` seconds left (None: infinite lifetime), at `now`.

    Every field is checked: a store is shared, and what comes from it is input like any datagram."""
    if not isinstance(record, dict) or set(record) != set(FIELDS):
        raise BadRecord("not a binding record: %r" % (record,))
    r = record
    for name in ("home_address", "care_of"):
        _address(name, r[name])
    if r["source"]:
        _address("source", r["source"])
    for name, hi in (("lifetime", INFINITE), ("identification", (1 << 64) - 1), ("source_port", 0xFFFF)):
        if not isinstance(r[name], int) or isinstance(r[name], bool) or not 0 <= r[name] <= hi:
            raise BadRecord("%s: %r is not an integer 0..%d" % (name, r[name], hi))
    for name in ("reverse_tunnel", "udp_tunnel", "co_located"):
        if not isinstance(r[name], bool):
            raise BadRecord("%s: %r is not true or false" % (name, r[name]))
    if r["lifetime"] == 0:
        raise BadRecord("lifetime 0 is a deregistration, not a binding")
    if (remaining is None) != (r["lifetime"] == INFINITE):
        raise BadRecord("lifetime %d with %s" % (r["lifetime"], "no lease" if remaining is None else "a lease"))
    left = math.inf if remaining is None else min(float(remaining), r["lifetime"])
    return Binding(r["home_address"], r["care_of"], r["lifetime"], now - (r["lifetime"] - left if remaining is not None
                   else 0), now + left, r["identification"], r["reverse_tunnel"], r["source"], r["source_port"],
                   r["udp_tunnel"], r["co_located"])


def _address(name: str, value: object) -> None:
    try:
        ipaddress.IPv4Address(value)  # type: ignore[arg-type]
    except (ValueError, TypeError):
        raise BadRecord("%s: %r is not an IPv4 address" % (name, value)) from None


@dataclass(frozen=True)
class Restored:
    """What the store held when this home agent became active: the bindings (records and the seconds
    their leases have left, None for an infinite lifetime) and the last accepted identification per
    home address. `reachable` False: the store could not be read; the home agent serves what it has."""

    bindings: list[tuple[object, float | None]] = field(default_factory=list)
    identifications: dict[str, int] = field(default_factory=dict)
    reachable: bool = True

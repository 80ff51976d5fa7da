"""The identifications one node sends to one home agent for one home address (RFC 5944 5.7.1).

RFC 5944 5.7.1: with timestamp replay protection the identification of each request must be greater
than that of every registration before it for that mobility security association, and the home agent
refuses (code 133) one that is not greater than the last it accepted. A mobile node has several
registration clients for one home address at one home agent (per uplink an i-HA client, and the
i-MIP client through the VPN), which may send in the same millisecond; they share one `Identifications`
so that every request has an identification greater than every one sent before, whichever client sends
it, after a code-133 resync and after our own time of day stepped back.

Layout (64 bits, NTP format): high 32 bits whole seconds; of the low 32 bits, the top CLOCK_BITS are
the fraction of the second from the clock and the other RANDOM_BITS are random. The high
32 + CLOCK_BITS bits are a "slot" (about 4 ms); each identification takes a slot later than the last
one's, the clock's if that is later, else the next one: so identifications keep growing while random
bits remain random, and the low 32 bits (which match replies, RFC 5944 3.6.2.1) stay unpredictable.
Sending faster than one request per slot runs ahead of the clock by a slot per request, far less than a
home agent's replay window.

"Greater" is RFC 1982 serial number arithmetic, on identifications (64 bits) and on slots (40 bits): the
seconds are NTP's, which wrap to 0 at 2036-02-07 06:28:16 UTC (era 1, RFC 4330 3), and identifications
continue across that instant (RFC 5944 5.7.1 compares times, not raw numbers).
"""
from __future__ import annotations

import random

from ..wire import ident

CLOCK_BITS = 8  # fraction bits from the clock (about 4 ms); the other 24 low bits are random
RANDOM_BITS = 32 - CLOCK_BITS
SLOT_BITS = 64 - RANDOM_BITS
_LOW = 0xFFFFFFFF
# After a code 133 whose time is more than this far behind our last identification, the home agent's
# clock went back (or ours had been ahead): staying above our last one would be refused as stale again
# and again, so we follow its time. Within it, the 133 refused a replay (our clock is about right) and
# we stay above the last one. Above the 1 s our whole-second resync may be off, below the 7 s replay
# window home agents use by default (HomeAgentConfig.replay_window).
RESYNC_SLACK = 3.0  # seconds


def later(a: int, b: int, bits: int = 64) -> bool:
    """RFC 1982 3.2: whether serial number `a` is greater than `b` in `bits`-bit serial arithmetic. For
    identifications (RFC 5944 5.7.1): a's NTP time is later than b's by less than 2**31 seconds, across
    an era boundary too; exactly half the space apart is undefined there and answers False."""
    d = (a - b) % (1 << bits)
    return 0 < d < 1 << (bits - 1)


class Identifications:
    """The clock offset learnt from code 133 and the last identification sent, shared by the clients
    of one node that register one home address with one home agent."""

    def __init__(self) -> None:
        self.clock_offset = 0  # seconds added to our time of day: the home agent's clock (RFC 5944 5.7.1)
        self.last: int | None = None  # the greatest identification sent (serial arithmetic, `later`)

    def draw(self, wall: float, rng: random.Random, taken: set[int]) -> int:
        """The next identification at time of day `wall`: greater than every one drawn before, its low
        32 bits not in `taken` (requests in flight, RFC 5944 3.6.2.1) unless 8 draws all were."""
        clock = ident.timestamp_identification(wall + self.clock_offset, 0, CLOCK_BITS) >> RANDOM_BITS
        slot = clock
        if self.last is not None:  # RFC 5944 5.7.1: greater than any used before (the next slot wraps too)
            after = ((self.last >> RANDOM_BITS) + 1) % (1 << SLOT_BITS)
            slot = clock if later(clock, after, SLOT_BITS) else after
        identification = slot << RANDOM_BITS
        for _ in range(8):
            identification = (slot << RANDOM_BITS) | (rng.getrandbits(32) & ((1 << RANDOM_BITS) - 1))
            if identification & _LOW not in taken:
                break
        self.last = identification
        return identification

    def resync(self, reply_identification: int, wall: float) -> int:
        """RFC 5944 5.7.1: a code 133 carries the home agent's time of day in its high 32 bits. Take its
        clock; if our last identification is far ahead of that time, follow it down (RESYNC_SLACK).
        Returns the new clock offset (seconds)."""
        self.clock_offset = ident.clock_offset(reply_identification, wall)
        theirs = reply_identification & ~_LOW  # their whole second, our fraction bits zero
        last = self.last
        if last is not None and ident.identification_time(last) > ident.identification_time(theirs) + RESYNC_SLACK:
            self.last = (theirs - 1) % (1 << 64)  # their second 0 of era 1 follows era 0's last slot
        return self.clock_offset

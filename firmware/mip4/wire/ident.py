"""Registration Identification for replay protection (RFC 5944 5.7).

Times are Unix seconds as floats; a MicroPython port with single-precision floats must pass
whole seconds and clock_bits=0.
"""

NTP_UNIX_OFFSET = 2208988800  # seconds from 1900-01-01 to 1970-01-01
_LOW = 0xFFFFFFFF
CLOCK_BITS = 20  # fraction bits taken from the clock (about 1 us); the rest are random


def timestamp_identification(unix_time, random_bits, clock_bits=CLOCK_BITS):
    """NTP-format identification for `unix_time` (RFC 5944 5.7.1).

    Only the top `clock_bits` of the fraction come from the clock (0 for a whole-second clock);
    the bits finer than that come from `random_bits` (an int), as the RFC asks.
    """
    secs = int(unix_time)
    frac = int((unix_time - secs) * 4294967296.0) & _LOW if clock_bits else 0
    noise_mask = (1 << (32 - clock_bits)) - 1
    frac = (frac & ~noise_mask & _LOW) | (random_bits & noise_mask)
    return (((secs + NTP_UNIX_OFFSET) & _LOW) << 32) | frac


def identification_time(identification):
    """The Unix time an NTP-format identification stands for (1968..2104: NTP era 1 after 2036)."""
    high = identification >> 32
    if high < 0x80000000:  # RFC 4330 3: seconds with the top bit clear are in era 1
        high += 1 << 32
    low = identification & _LOW
    return high - NTP_UNIX_OFFSET + low / 4294967296.0


def clock_offset(reply_identification, now):
    """Seconds to add to our clock after a code-133 reply (RFC 5944 5.7.1).

    The home agent puts its own time of day in the high-order 32 bits.
    """
    return int(identification_time(reply_identification & ~_LOW)) - int(now)


def nonce_identification(ha_nonce, mn_nonce):
    """Nonce-style identification: the HA's nonce high, ours low (RFC 5944 5.7.2)."""
    return ((ha_nonce & _LOW) << 32) | (mn_nonce & _LOW)


def split(identification):
    """(high 32 bits, low 32 bits)."""
    return identification >> 32, identification & _LOW


def reply_matches(request_identification, reply_identification):
    """A reply belongs to a request when the low-order 32 bits agree (RFC 5944 3.6.2.1)."""
    return (request_identification & _LOW) == (reply_identification & _LOW)


def is_fresh(identification, now, window):
    """Timestamp check at the HA: within `window` seconds of `now` (RFC 5944 5.7.1)."""
    return abs(identification_time(identification) - now) <= window

"""Flag bit fields: named bits to and from {letter: bool}, other bits kept as 'reserved'."""
from .errors import CodecError


def to_dict(value, table):
    """(value, ((letter, bit), ...)) -> ({letter: bool, ...}, reserved bits)."""
    out = {}
    named = 0
    for letter, bit in table:
        out[letter] = bool(value & bit)
        named |= bit
    return out, value & ~named


def from_dict(what, obj, table, reserved=0):
    """{letter: bool} -> value; unknown letters and non-booleans are errors."""
    if not isinstance(obj, dict):
        raise CodecError(what, "flags must be an object of flag letters to booleans, got %r" % (obj,))
    value = 0
    bits = {}
    for letter, bit in table:
        bits[letter] = bit
    for letter in obj:
        if letter not in bits:
            raise CodecError(what, "unknown flag %r (known: %s)" % (letter, " ".join(t[0] for t in table)))
        if not isinstance(obj[letter], bool):
            raise CodecError(what, "flag %s must be true or false, got %r" % (letter, obj[letter]))
        if obj[letter]:
            value |= bits[letter]
    return value | reserved

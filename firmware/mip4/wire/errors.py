"""The one error the codec raises for bad input (RFC 5944 1.9: bad messages are discarded)."""


class CodecError(ValueError):
    """A message or field that cannot be decoded or encoded.

    `what` names the message or extension, `offset` the octet where the problem is
    (None when it is a field value given to the encoder).
    """

    def __init__(self, what, problem, offset=None):
        self.what = what
        self.problem = problem
        self.offset = offset
        if offset is None:
            text = "%s: %s" % (what, problem)
        else:
            text = "%s: %s (at offset %d)" % (what, problem, offset)
        super().__init__(text)


def need(what, data, offset, size):
    """Raise a 'truncated' error unless `size` octets are left at `offset`."""
    left = len(data) - offset
    if left < size:
        raise CodecError(what, "truncated: need %d octets, have %d" % (size, left), offset)


def check_int(what, name, value, bits):
    """Raise unless `value` is an integer that fits in `bits` unsigned bits."""
    if type(value) is int and 0 <= value < (1 << bits):  # the usual case, at once (bool is not int here)
        return value
    if isinstance(value, bool) or not isinstance(value, int):
        raise CodecError(what, "%s must be an integer, got %r" % (name, value))
    if value < 0 or value >= (1 << bits):
        raise CodecError(what, "%s must be 0..%d, got %d" % (name, (1 << bits) - 1, value))
    return value


def check_bytes(what, name, value, max_len=255):
    """Raise unless `value` is bytes of at most `max_len` octets."""
    if not isinstance(value, (bytes, bytearray)):
        raise CodecError(what, "%s must be bytes, got %r" % (name, value))
    if len(value) > max_len:
        raise CodecError(what, "%s is %d octets, at most %d fit" % (name, len(value), max_len))
    return bytes(value)

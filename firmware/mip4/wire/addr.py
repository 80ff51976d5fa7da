"""IPv4 addresses as dotted-quad strings on the API, 4 octets on the wire."""
from .errors import CodecError


_packed = {}  # recent addresses packed: an agent's own address is in every message it sends
_PACKED_KEPT = 256


def ip4_pack(what, name, text):
    """'192.0.2.1' -> b'\\xc0\\x00\\x02\\x01'; CodecError on anything else."""
    if not isinstance(text, str):
        raise CodecError(what, "%s must be a dotted-quad IPv4 address, got %r" % (name, text))
    out = _packed.get(text)
    if out is not None:
        return out
    parts = text.split(".")
    if len(parts) == 4:  # the usual case first: a dotted quad as ip4_str writes it
        try:
            a, b, c, d = int(parts[0]), int(parts[1]), int(parts[2]), int(parts[3])
            if "%d.%d.%d.%d" % (a, b, c, d) == text:
                out = bytes((a, b, c, d))  # ValueError unless each is 0..255
                if len(_packed) >= _PACKED_KEPT:
                    _packed.clear()
                _packed[text] = out
                return out
        except ValueError:
            pass
    if len(parts) != 4:
        raise CodecError(what, "%s must be a dotted-quad IPv4 address, got %r" % (name, text))
    out = bytearray(4)
    for i in range(4):
        p = parts[i]
        if not p or len(p) > 3 or not _digits(p) or int(p) > 255:
            raise CodecError(what, "%s must be a dotted-quad IPv4 address, got %r" % (name, text))
        out[i] = int(p)
    return bytes(out)


def remember_packed(text, octets):
    """`text` is ip4_str(`octets`): ip4_pack(`text`) finds them (an address just decoded is answered)."""
    if text not in _packed:
        if len(_packed) >= _PACKED_KEPT:
            _packed.clear()
        _packed[text] = bytes(octets)


DECIMAL = tuple([str(i) for i in range(256)])  # an octet's digits: %s of these is a third of %d's cost


def ip4_str(data, offset=0):
    """Four octets at `offset` -> dotted quad."""
    d = DECIMAL
    return "%s.%s.%s.%s" % (d[data[offset]], d[data[offset + 1]], d[data[offset + 2]], d[data[offset + 3]])


def _digits(text):
    for c in text:
        if c not in "0123456789":
            return False
    return True

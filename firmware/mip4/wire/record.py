"""Plain value objects without dataclasses (MicroPython has none)."""


class Record:
    """Equality and repr over the names in `_fields`."""

    _fields = ()

    def __eq__(self, other):
        if type(other) is not type(self):
            return False
        for name in self._fields:
            if getattr(self, name) != getattr(other, name):
                return False
        return True

    def __ne__(self, other):
        return not self.__eq__(other)

    def __repr__(self):
        parts = []
        for name in self._fields:
            parts.append("%s=%r" % (name, getattr(self, name)))
        return "%s(%s)" % (type(self).__name__, ", ".join(parts))

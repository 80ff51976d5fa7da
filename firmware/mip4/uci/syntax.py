"""The UCI file format, read as libuci reads it (uci/file.c, uci_import of one package in strict mode, as
`uci` and rpcd load /etc/config/mip4): `package`, `config TYPE ['NAME']`, `option NAME 'VALUE'`,
`list NAME 'VALUE'` (or their first letters), `;` between commands, `#` comments; single quotes, double
quotes with backslash escapes, a backslash before the end of a line continues it, quoted values may span
lines. A second `config` of the same name adds to that section; `list` after `option` makes a list of both;
`option NAME` without a value changes nothing. tests/router/test_uci.py checks this reader against the
real `uci` on generated and edge-case files: the same values, or an error in both.

Pure: text in, sections out; every error names the line and libuci's reason.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..core.config import ConfigError


@dataclass
class Section:
    type: str
    name: str  # "@type[i]" for an anonymous section, as `uci show` names it
    line: int
    anonymous: bool = False
    options: dict[str, str | list[str]] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)  # option -> line it was last set on

    def label(self) -> str:
        """How errors name it: the section as `uci show` would, e.g. mip4.node or mip4.@uplink[0]."""
        return "mip4.%s" % self.name


_SPACE = b" \t\n\v\f\r"  # C isspace


def _valid(word: bytes, name: bool, package: bool = False) -> bool:
    """libuci's uci_validate_str: names are letters, digits and _ (a package also -); a type any printable."""
    if not word:
        return False
    for c in word:
        if chr(c).isascii() and (chr(c).isalnum() or c == 0x5F):
            continue
        if c == 0x2D and package:
            continue
        if name or c < 33 or c > 126:
            return False
    return True


class _Parser:
    """A port of libuci's parser: one line buffer, edited in place as the C code edits it."""

    def __init__(self, data: bytes) -> None:
        self.lines = [x + b"\n" for x in data.split(b"\n")]
        if self.lines[-1] == b"\n":
            self.lines.pop()
        else:
            self.lines[-1] = self.lines[-1][:-1]
        self.next = 0
        self.eof = False
        self.lineno = 0  # lines read so far: the line being parsed
        self.buf = bytearray(b"\0")
        self.filled = 0
        self.pos = 0
        self.sections: list[Section] = []
        self.current: Section | None = None
        self.counts: dict[str, int] = {}

    # -- the buffer (pctx) --

    def char(self, i: int) -> int:
        return self.buf[i] if i < len(self.buf) else 0

    def put(self, i: int, c: int) -> None:
        if i >= len(self.buf):
            self.buf.extend(bytes(i + 1 - len(self.buf)))
        self.buf[i] = c

    def cstr(self, i: int) -> bytes:
        end = self.buf.find(0, i)
        return bytes(self.buf[i:end if end >= 0 else len(self.buf)])

    def error(self, reason: str) -> None:
        raise ConfigError("line %d: %s" % (self.lineno, reason))

    def getln(self, offset: int) -> None:
        """uci_getln: the next line of the file into the buffer at offset."""
        del self.buf[offset:]
        self.buf.append(0)
        if self.next >= len(self.lines):
            self.eof = True
            return
        line = self.lines[self.next]
        self.next += 1
        self.lineno += 1
        self.buf[offset:] = line + b"\0"
        self.filled = offset + len(line)
        if not line.endswith(b"\n"):
            self.eof = True

    def backslash(self) -> bool:
        """parse_backslash: False when it ends the line (the next line continues this one)."""
        self.pos += 1
        c = self.char(self.pos)
        if c in (0, 0x0A) or (c == 0x0D and self.char(self.pos + 1) == 0x0A and not self.char(self.pos + 2)):
            self.getln(self.pos)
            return False
        return True

    def skip_whitespace(self) -> None:
        while self.char(self.pos) and self.char(self.pos) in _SPACE:
            self.pos += 1

    def addc(self, target: int) -> int:
        self.put(target, self.char(self.pos))
        self.pos += 1
        return target + 1

    def increase_pos(self, add: int) -> bool:
        if self.pos + add > self.filled:
            return False
        self.pos += add
        return True

    def quoted(self, target: int, quote: int) -> int:
        """parse_single_quote / parse_double_quote (only double quotes take backslash escapes)."""
        self.pos += 1
        while True:
            c = self.char(self.pos)
            if c == quote:
                self.pos += 1
                return target
            if c == 0:  # a multi-line value
                self.getln(self.pos)
                if not self.char(self.pos):
                    self.error("EOF with unterminated %s" % chr(quote))
                continue
            if c == 0x5C and quote == 0x22 and not self.backslash():
                continue
            target = self.addc(target)

    def parse_str(self, target: int) -> int:
        more = True
        while True:
            c = self.char(self.pos)
            if c in (0x27, 0x22):
                target = self.quoted(target, c)
            elif c == 0x23:  # '#'
                self.put(self.pos, 0)
                break
            elif c == 0:
                break
            elif c == 0x3B:  # ';'
                more = False
                break
            elif c == 0x5C and not self.backslash():
                pass
            else:
                target = self.addc(target)
            if not (self.char(self.pos) and self.char(self.pos) not in _SPACE):
                break
        if self.char(self.pos) and more:
            self.pos += 1
        self.put(target, 0)
        return target

    def next_arg(self, required: bool, name: bool, package: bool = False) -> int:
        self.skip_whitespace()
        val = self.pos
        if self.char(self.pos) == 0x3B:
            self.put(self.pos, 0)
            self.pos += 1
        else:
            self.parse_str(val)
        if not self.char(val):
            if required:
                self.error("insufficient arguments")
            return val
        if name and not _valid(self.cstr(val), True, package):
            self.error("invalid character in name field %r" % self.cstr(val).decode("utf-8", "replace"))
        return val

    def assert_eol(self) -> None:
        self.skip_whitespace()
        if self.cstr(self.next_arg(False, False)):
            self.error("too many arguments")

    def strtok(self, i: int) -> int | None:
        while self.char(i) in (0x20, 0x09):
            i += 1
        if not self.char(i):
            return None
        j = i
        while self.char(j) not in (0, 0x20, 0x09):
            j += 1
        if self.char(j):
            self.put(j, 0)
        return i

    # -- the commands --

    def parse_line(self) -> None:
        self.skip_whitespace()
        while True:
            start = self.strtok(self.pos)
            if start is None:
                return
            word = self.cstr(start)
            if word.startswith(b"#"):
                return
            command = {b"p": "package", b"package": "package", b"c": "config", b"config": "config",
                       b"o": "option", b"option": "option", b"l": "list", b"list": "list"}.get(word)
            if command is None:
                self.error("invalid command %r (package, config, option or list)" % word.decode("utf-8", "replace"))
            if not self.increase_pos(len(self.cstr(self.pos)) + 1):
                self.error("%s without name" % command)
            if command == "package":
                self.next_arg(True, True, True)
                self.assert_eol()
            elif command == "config":
                self.config()
            else:
                self.option(command == "list")

    def config(self) -> None:
        t = self.next_arg(True, False)
        if not _valid(self.cstr(t), False):
            self.error("invalid character in type field")
        n = self.next_arg(False, True)
        self.assert_eol()
        stype, name = self.cstr(t).decode(), self.cstr(n).decode()
        if name:
            prior = next((s for s in self.sections if s.name == name and not s.anonymous), None)
            if prior:
                if prior.type != stype:
                    self.error("section of different type overwrites prior section with same name %r" % name)
                self.current = prior
                return
        index = self.counts.get(stype, 0)
        self.counts[stype] = index + 1
        self.current = Section(stype, name or "@%s[%d]" % (stype, index), self.lineno, anonymous=not name)
        self.sections.append(self.current)

    def option(self, is_list: bool) -> None:
        if self.current is None:
            self.error("option/list command found before the first section")
        n = self.next_arg(True, True)
        v = self.next_arg(False, False)
        self.assert_eol()
        name = self.cstr(n).decode()
        value = self.cstr(v).decode()
        options = self.current.options
        if is_list:  # uci_add_list: an option becomes a list of its value and this one
            prior = options.get(name)
            options[name] = (prior if isinstance(prior, list) else [] if prior is None else [prior]) + [value]
        elif not value:  # uci_set of "" on a section it did not look up: nothing
            return
        else:
            options[name] = value
        self.current.lines[name] = self.lineno

    def run(self) -> list[Section]:
        while not self.eof:
            self.pos = 0
            self.getln(0)
            if self.buf[0]:
                self.parse_line()
        return self.sections


def parse(text: str) -> list[Section]:
    """The sections of a UCI file, as libuci loads it; ConfigError (naming the line) where libuci refuses it."""
    if "\0" in text:
        raise ConfigError("line %d: a NUL character" % (text[:text.index("\0")].count("\n") + 1))
    return _Parser(text.encode()).run()


def dump(sections: list[Section]) -> str:
    """Write sections back in the format libuci writes (tabs, single quotes)."""
    out = []
    for s in sections:
        out.append("config %s%s" % (s.type, "" if s.anonymous else " " + _quote(s.name)))
        for k, v in s.options.items():
            for item in v if isinstance(v, list) else [v]:
                out.append("\t%s %s %s" % ("list" if isinstance(v, list) else "option", k, _quote(item)))
        out.append("")
    return "\n".join(out)


def _quote(value: str) -> str:
    return "'%s'" % value.replace("'", "'\\''")

"""The UCI file format (what libuci's uci_import reads): `package`, `config TYPE ['NAME']`,
`option NAME 'VALUE'`, `list NAME 'VALUE'`; single/double quotes, backslash escapes, `#` comments.

Pure: text in, sections out; every error names the line and what was expected.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..core.config import ConfigError

_NAME = re.compile(r"^[A-Za-z0-9_]+$")  # libuci's uci_validate_name (section and option names)
_TYPE = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass
class Section:
    type: str
    name: str  # "@type[i]" for an anonymous section, as `uci show` names it
    line: int
    anonymous: bool = False
    options: dict[str, str | list[str]] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)  # option -> line it was set on

    def label(self) -> str:
        """How errors name it: the section as `uci show` would, e.g. mip4.node or mip4.@uplink[0]."""
        return "mip4.%s" % self.name


def tokens(line: str, lineno: int) -> list[str]:
    """Split one line like libuci's parser: words, '...' (literal), "..." (with \\ escapes), # comment."""
    out: list[str] = []
    i, n = 0, len(line)
    while i < n:
        c = line[i]
        if c in " \t\r\n":
            i += 1
            continue
        if c == "#":
            break
        word: list[str] = []
        while i < n and line[i] not in " \t\r\n":
            c = line[i]
            if c == "'":
                end = line.find("'", i + 1)
                if end < 0:
                    raise ConfigError("line %d: unterminated ' quote" % lineno)
                word.append(line[i + 1:end])
                i = end + 1
            elif c == '"':
                i += 1
                while True:
                    if i >= n:
                        raise ConfigError('line %d: unterminated " quote' % lineno)
                    if line[i] == '"':
                        i += 1
                        break
                    if line[i] == "\\" and i + 1 < n:
                        i += 1
                    word.append(line[i])
                    i += 1
            elif c == "\\" and i + 1 < n:
                word.append(line[i + 1])
                i += 2
            elif c == "#" and not word:
                i = n
                break
            else:
                word.append(c)
                i += 1
        out.append("".join(word))
    return out


def parse(text: str) -> list[Section]:
    sections: list[Section] = []
    counts: dict[str, int] = {}
    current: Section | None = None
    for lineno, raw in enumerate(text.splitlines(), 1):
        words = tokens(raw, lineno)
        if not words:
            continue
        keyword, args = words[0], words[1:]
        if keyword == "package":
            if len(args) != 1:
                raise ConfigError("line %d: package takes one name" % lineno)
            continue
        if keyword == "config":
            if not 1 <= len(args) <= 2:
                raise ConfigError("line %d: expected config TYPE ['NAME'], got %d words" % (lineno, len(args)))
            stype = args[0]
            if not _TYPE.match(stype):
                raise ConfigError("line %d: section type %r: only letters, digits, _ and -" % (lineno, stype))
            index = counts.get(stype, 0)
            counts[stype] = index + 1
            if len(args) == 2:
                if not _NAME.match(args[1]):
                    raise ConfigError("line %d: section name %r: only letters, digits and _" % (lineno, args[1]))
                if any(s.name == args[1] for s in sections):
                    raise ConfigError("line %d: section %r defined twice" % (lineno, args[1]))
                current = Section(stype, args[1], lineno)
            else:
                current = Section(stype, "@%s[%d]" % (stype, index), lineno, anonymous=True)
            sections.append(current)
            continue
        if keyword in ("option", "list"):
            if current is None:
                raise ConfigError("line %d: %s outside of a config section" % (lineno, keyword))
            if len(args) != 2:
                raise ConfigError("line %d: expected %s NAME 'VALUE', got %d words" % (lineno, keyword, len(args)))
            name, value = args
            if not _NAME.match(name):
                raise ConfigError("line %d: option name %r: only letters, digits and _" % (lineno, name))
            if keyword == "option":
                current.options[name] = value
            else:
                prior = current.options.get(name)
                current.options[name] = (prior if isinstance(prior, list) else []) + [value]
            current.lines[name] = lineno
            continue
        raise ConfigError("line %d: unknown keyword %r (allowed: package, config, option, list)" % (lineno, keyword))
    return sections


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

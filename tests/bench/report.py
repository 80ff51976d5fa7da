"""A figure: a table of rows, each value next to its baseline, printed and written as JSON."""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    fmt: str | Callable[[float], str] = "{}"  # format spec or function; None values print as "-"
    left: bool = False  # text: aligned left (numbers right)

    def cell(self, row: dict) -> str:
        value = row.get(self.key)
        if value is None:
            return "-"
        if isinstance(value, float) and not math.isfinite(value):
            return str(value)
        return self.fmt(value) if callable(self.fmt) else self.fmt.format(value)


@dataclass
class Figure:
    """One table of `make bench`; `baseline` says what the ratios are against."""

    name: str  # key in results.json
    title: str
    baseline: str
    columns: list[Column]
    rows: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def render(self) -> str:
        cells = [[c.header for c in self.columns]] + [[c.cell(r) for c in self.columns] for r in self.rows]
        widths = [max(len(row[i]) for row in cells) for i in range(len(self.columns))]

        def line(row: list[str]) -> str:
            return "| " + " | ".join(v.ljust(w) if c.left else v.rjust(w)
                                     for c, v, w in zip(self.columns, row, widths, strict=True)) + " |"
        out = ["%s  (baseline: %s)" % (self.title, self.baseline), "", line(cells[0]),
               "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
        out += [line(r) for r in cells[1:]]
        out += ["", *("  - " + n for n in self.notes)] if self.notes else []
        return "\n".join(out)

    def as_json(self) -> dict:
        return {"title": self.title, "baseline": self.baseline,
                "columns": {c.key: c.header for c in self.columns}, "rows": self.rows, "notes": self.notes}


def num(value: float) -> str:
    """Three significant digits at most, thousands separated: 69,047 / 37.4 / 0.00054."""
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def ratio(value: float | None, baseline: float | None) -> float | None:
    """value / baseline, or None when either is missing or the baseline is zero."""
    if value is None or not baseline:
        return None
    return value / baseline

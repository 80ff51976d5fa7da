"""List the requirement IDs of the protocol roles that no test cites.

    python tests/spec/uncited.py        # prints nothing and exits 0 when every ID is covered

An ID is in scope when its row names the MN, FA, i-HA or x-HA role. IDs whose proof needs the
lab (real kernels, charon, captures) are listed in `later.txt` with the issue that proves them;
they are reported only with --all. An ID the project does not implement is listed there as
`ID out-of-scope: REASON`; it is never reported, and a mark without a written reason is an error.
A test "cites" an ID by containing it literally.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent
ROLES = {"MN", "FA", "i-HA", "x-HA"}
OUT_OF_SCOPE = "out-of-scope:"
ROW = re.compile(r"^\| (R-[0-9A-Z.]+-[a-z]) \|([^|]*)\|([^|]*)\|([^|]*)\|")


def scoped_ids(matrix: str) -> list[str]:
    ids = []
    for line in matrix.splitlines():
        m = ROW.match(line)
        if m and ROLES & {r.strip() for r in m.group(4).split(",")}:
            ids.append(m.group(1))
    return ids


def later_ids(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            rid, _, why = line.partition(" ")
            out[rid] = why.strip()
    return out


def out_of_scope_ids(text: str) -> dict[str, str]:
    """IDs marked `ID out-of-scope: REASON` in later.txt, with their reasons; a mark without a
    reason raises ValueError (scope is a decision that must say why)."""
    out = {}
    for rid, why in later_ids(text).items():
        if why.startswith(OUT_OF_SCOPE):
            reason = why[len(OUT_OF_SCOPE):].strip()
            if not reason:
                raise ValueError("later.txt: %s is marked out of scope without a reason" % rid)
            out[rid] = reason
    return out


def cited_ids(root: Path) -> set[str]:
    found: set[str] = set()
    for path in root.rglob("*.py"):
        if path.parent == HERE or path.name == "test_requirements.py":  # the checker's own tests prove nothing
            continue
        found.update(re.findall(r"R-[0-9A-Z.]+-[a-z]\b", path.read_text(encoding="utf-8")))
    return found


def uncited(all_ids: bool = False) -> list[str]:
    scope = scoped_ids((HERE / "requirements.md").read_text(encoding="utf-8"))
    text = (HERE / "later.txt").read_text(encoding="utf-8")
    later, out = later_ids(text), out_of_scope_ids(text)
    cited = cited_ids(TESTS)
    return [i for i in scope if i not in cited and i not in out and (all_ids or i not in later)]


def main(argv: list[str]) -> int:
    missing = uncited("--all" in argv)
    for rid in missing:
        print(rid)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

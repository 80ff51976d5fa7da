"""What README.md and docs/ promise is what the project does: the commands exist, the configuration
examples are read by the project's own UCI parser, the UCI reference lists every option the schema
knows, the dissector and `mip4 status` examples are what the tools print, and every link resolves."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

from mip4.status.model import StatusModel
from mip4.status.text import summary
from mip4.uci import schema
from mip4.uci.config import from_text

from .core.world import build

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
DOCS = {p.relative_to(ROOT).as_posix(): p.read_text() for p in sorted((ROOT / "docs").glob("*.md"))}
PAGES = {"README.md": README, **DOCS}
MAKEFILE = (ROOT / "Makefile").read_text()


def _blocks(text: str) -> list[str]:
    """The fenced code blocks of a page, in order."""
    return re.findall(r"^```[a-z]*\n(.*?)^```", text, re.S | re.M)


def _block_after(text: str, marker: str) -> str:
    """The first fenced block after `marker`."""
    return _blocks(text.split(marker, 1)[1])[0]


def _outside_code(text: str) -> str:
    return re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)


def _anchors(text: str) -> set[str]:
    """GitHub's heading ids: lower case, punctuation dropped, spaces to hyphens."""
    out = set()
    for heading in re.findall(r"^#{1,6} (.+)$", _outside_code(text), re.M):
        out.add(re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-"))
    return out


def test_readme_is_a_few_screens_and_names_what_a_network_engineer_needs():
    lines = README.splitlines()
    assert len(lines) <= 200, len(lines)
    for words in ("RFC 5265", "MN", "FA", "i-HA", "x-HA", "make lab", "make test", "make check", "make bench",
                  "make package", "opkg install", "/etc/config/mip4", "mip4 status"):
        assert words in README, words
    modes = _outside_code(README.split("## Roles and modes", 1)[1].split("\n## ", 1)[0])
    assert re.findall(r"^\| `(\w+)` \|", modes, re.M) == ["c", "f", "cvc", "fvc"]


def test_every_make_command_the_pages_name_is_a_makefile_target():
    targets = set(re.findall(r"^([a-z]+):", MAKEFILE, re.M))
    for page, text in PAGES.items():
        for target in re.findall(r"(?:^|`)make ([a-z]+)\b", text, re.M):  # `make X`, or a shell line
            assert target in targets, "%s names `make %s`, which the Makefile lacks" % (page, target)
    # make check is what the pages say it is: the suite without the lab's boots and the slow tests
    recipe = MAKEFILE.split("\ncheck:", 1)[1].split("\n\n", 1)[0]
    assert '-m "not lab and not slow"' in recipe and 'pytest -m "not lab and not slow"' in DOCS["docs/testing.md"]


def test_the_readme_minimal_config_is_read_by_the_uci_parser():
    text = _block_after(README, "## A minimal `/etc/config/mip4`")
    c = from_text(text)
    m = c.settings.machine
    assert c.settings.role == "mn" and c.enabled
    assert (m.i_hoa, m.i_ha, m.x_hoa, m.x_ha) == ("10.1.0.10", "10.1.0.1", "198.51.100.10", "198.51.100.1")
    assert m.uplinks == {"wan": 1, "wwan": 2} and list(c.settings.router.networks) == ["192.168.77.0/24"]
    assert c.settings.vpn is not None  # without it the router never opens user data outside
    for line in README.splitlines():
        if line.startswith("$ mip4 config check") or line.startswith("mip4 config check"):
            break
    else:
        raise AssertionError("the README shows how to check the file")


def test_the_router_guide_shows_the_shipped_example_config():
    shipped = (ROOT / "build/package/mip4/files/etc/config/mip4").read_text()
    assert _block_after(DOCS["docs/router.md"], "## Configuration: `/etc/config/mip4`") == shipped
    from_text(shipped)


def test_the_uci_reference_lists_every_option_of_the_schema_and_no_other():
    ref = DOCS["docs/router.md"].split("### UCI reference", 1)[1].split("\n## ", 1)[0]
    tables = dict(re.findall(r"^\*\*`config (\w+)`\*\*.*?\n\n((?:\|.*\n)+)", ref, re.M))
    assert set(tables) == set(schema.SECTIONS)
    for section, options in schema.SECTIONS.items():
        rows = re.findall(r"^\| `(option|list) (\w+)` \| ([^|]*) \|", tables[section], re.M)
        assert {name: kind for kind, name, _ in rows} == {
            name: "list" if o.is_list else "option" for name, o in options.items()}, section
        for _, name, value in rows:
            assert ("required" in value) == options[name].required, (section, name)


def test_the_dissector_example_is_what_the_tool_prints():
    page = DOCS["docs/router.md"]
    block = page.split("$ python -m mip4 wire decode ", 1)[1].split("\n$ ", 1)[0]
    command, shown = block.split("\n{", 1)
    args = command.replace("\\\n", " ").split()
    expected = json.loads("{" + shown)
    p = subprocess.run([sys.executable, "-m", "mip4", "wire", "decode", *args], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout) == expected


def test_the_status_example_is_what_mip4_status_prints():
    """The README's router outside in cvc on one uplink, rendered from the simulator's real MobileNode;
    numbers may differ (seconds, counts), the lines may not."""
    shown = _block_after(README, "## `mip4 status`").splitlines()
    assert shown[0] == "$ mip4 status"
    w = build(detection_period=0.0)
    w.connect("wan", "ext1", "198.18.0.5")
    w.run(10)
    top = {"role": "mn", "pid": 1234, "time": time.time(), "uptime": 10.0, "networks": {"wan": "wan"},
           "status": StatusModel(w.mn).status(w.now)}

    def shape(lines: list[str]) -> list[str]:
        return [re.sub(r"\d+(\.\d+)?", "N", x) for x in lines if not x.startswith("counters:")]
    assert shape(shown[1:]) == shape(summary(top).splitlines())


def test_every_link_in_the_readme_and_docs_resolves():
    for page, text in PAGES.items():
        base = (ROOT / page).parent
        for target in re.findall(r"\]\(([^)\s]+)\)", _outside_code(text)):
            if re.match(r"[a-z]+://", target):
                continue
            path, _, anchor = target.partition("#")
            dest = (base / path).resolve() if path else ROOT / page
            assert dest.is_file(), "%s links to %s, which does not exist" % (page, target)
            if anchor:
                assert anchor in _anchors(dest.read_text()), "%s links to %s: no such heading" % (page, target)
    for doc in ("router", "architecture", "lab", "reliability", "benchmarks", "testing", "security"):
        assert "(docs/%s.md)" % doc in README, "the README links docs/%s.md" % doc

"""The README's dissector example is what the tool really prints."""

import json
import re
import subprocess
import sys
from pathlib import Path

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_readme_decode_example_matches_the_tool():
    block = README.split("$ python -m mip4 wire decode ", 1)[1].split("\n$ ", 1)[0]
    command, shown = block.split("\n{", 1)
    args = command.replace("\\\n", " ").split()
    expected = json.loads("{" + shown)
    p = subprocess.run([sys.executable, "-m", "mip4", "wire", "decode", *args], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout) == expected
    assert re.search(r"make test", README.split("## What it is")[0])

"""The portable codec tests, run under real MicroPython 1.27 (node + the npm WebAssembly port).

MicroPython's exit status is always 0, so the verdict comes from what the run prints.
"""
import ast
import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MICROPYTHON = Path(os.environ.get("MIP4_MICROPYTHON", ROOT / ".deps/npm/node_modules/"
                                  "@micropython/micropython-webassembly-pyscript/micropython.mjs"))
PORTABLE = Path(__file__).parent / "test_portable.py"


def test_codec_tests_pass_under_micropython():
    proc = subprocess.run(
        ["node", str(ROOT / "tests/micropython/run.mjs"), str(MICROPYTHON), str(ROOT / "firmware"), str(PORTABLE)],
        capture_output=True, text=True, timeout=300,
    )
    lines = proc.stdout.splitlines()
    assert lines and lines[0].startswith("IMPLEMENTATION micropython (1, 27"), proc.stdout + proc.stderr
    names = sorted(n.name for n in ast.parse(PORTABLE.read_text()).body
                   if isinstance(n, ast.FunctionDef) and n.name.startswith("test_"))
    passed = sorted(line.split()[1] for line in lines if line.startswith("PASS "))
    failed = [line for line in lines if line.startswith(("FAIL ", "ERROR"))]
    assert not failed, "\n".join(failed)
    assert passed == names
    assert lines[-1] == f"SUMMARY passed={len(names)} failed=0"

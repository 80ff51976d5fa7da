"""`make bench QUICK=1` runs and writes bench/results.json with every figure, each value a finite number.

No timing is checked: the bench measures, it does not judge (issue 9).
"""
import json
import math
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIGURES = {"overhead", "codec", "registration", "memory", "footprint"}
MAY_BE_ZERO = {"delta", "rfc"}  # differences to RFC 5265 5.2, and its 0 octets for mode f


def test_quick_bench_writes_every_figure(tmp_path):
    out = tmp_path / "results.json"
    env = dict(os.environ, PYTHONPATH="%s:%s" % (ROOT / "firmware", ROOT))
    p = subprocess.run([sys.executable, "-m", "tests.bench", "--quick", "--out", str(out)], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    results = json.loads(out.read_text())
    assert results["meta"]["quick"] is True
    assert set(results["figures"]) == FIGURES
    for name, fig in results["figures"].items():
        assert fig["rows"] and fig["baseline"], name
        assert fig["title"] in p.stdout
        for row in fig["rows"]:
            assert set(row) <= set(fig["columns"]), (name, row)
            for key, value in row.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    assert math.isfinite(value) and (value > 0 or key in MAY_BE_ZERO), (name, key, row)
    rows = {r["path"]: r for r in results["figures"]["registration"]["rows"]}
    assert rows["floor: bare UDP echo"]["vs_floor"] == 1.0 and rows["mip4d over UDP"]["vs_floor"] > 0
    assert [r["mode"] for r in results["figures"]["overhead"]["rows"]][:1] == ["c"]

"""Every RFC 5265 requirement ID of the MN, FA and HA roles is cited by a test, or listed for the lab."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.spec import uncited

SCRIPT = Path(__file__).parent / "spec" / "uncited.py"


def test_no_requirement_id_is_left_uncited():
    run = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, check=False)
    assert (run.returncode, run.stdout) == (0, "")


def test_the_script_notices_a_missing_citation(tmp_path, monkeypatch):
    """It can fail: pretend the tests cite nothing."""
    monkeypatch.setattr(uncited, "cited_ids", lambda root: set())
    missing = uncited.uncited()
    assert "R-3.2.3-a" in missing and "R-2-b" not in missing  # R-2-b waits for a lab variant (later.txt)
    assert "R-2-b" in uncited.uncited(all_ids=True)


def test_later_list_names_only_real_ids():
    matrix = (SCRIPT.parent / "requirements.md").read_text(encoding="utf-8")
    later = uncited.later_ids((SCRIPT.parent / "later.txt").read_text(encoding="utf-8"))
    assert set(later) <= set(uncited.scoped_ids(matrix))

"""Every RFC 5265 requirement ID of the MN, FA and HA roles is cited by a test, or listed for the lab."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

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


def test_an_id_marked_out_of_scope_is_never_reported_and_needs_a_reason(monkeypatch):
    """R-5.7-a (a non-IPsec VPN) is out of scope: later.txt says so with the reason, and --all leaves it out;
    a mark without a reason is refused."""
    monkeypatch.setattr(uncited, "cited_ids", lambda root: set())
    text = (SCRIPT.parent / "later.txt").read_text(encoding="utf-8")
    out = uncited.out_of_scope_ids(text)
    assert "non-IPsec VPN" in out["R-5.7-a"]
    assert "R-5.7-a" not in uncited.uncited(all_ids=True)
    assert uncited.out_of_scope_ids("R-2-b out-of-scope: one host is not supported\n") == {
        "R-2-b": "one host is not supported"}
    with pytest.raises(ValueError, match="R-2-b is marked out of scope without a reason"):
        uncited.out_of_scope_ids("R-2-b out-of-scope:   \n")


def test_the_conformance_table_is_current_and_proves_every_role_id():
    """docs/conformance.md is what tests/spec/conformance.py makes of the matrix and today's tests, and
    it leaves no ID of the MN, FA, i-HA or x-HA roles unproved."""
    run = subprocess.run([sys.executable, str(SCRIPT.parent / "conformance.py"), "--check"], capture_output=True,
                         text=True, check=False)
    assert run.returncode == 0, run.stdout
    doc = (SCRIPT.parents[2] / "docs" / "conformance.md").read_text(encoding="utf-8")
    assert "**not proved**" not in doc and "| R-3.2.3-a |" in doc


def test_the_conformance_table_shows_an_unproved_id(monkeypatch):
    """It can fail: with no test citing anything, the role IDs show as not proved."""
    sys.path.insert(0, str(SCRIPT.parent))
    from tests.spec import conformance

    monkeypatch.setattr(conformance, "proofs", lambda root=None: {})
    text = conformance.table()
    assert "| R-3.2.3-a |" in text and "**not proved**" in text.split("| R-3.2.3-a |")[1].splitlines()[0]

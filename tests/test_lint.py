"""pyflakes over the code: an undefined name fails here, not halfway through a 20-minute run."""

from __future__ import annotations

import io
from pathlib import Path

from pyflakes.api import checkRecursive
from pyflakes.reporter import Reporter

ROOT = Path(__file__).resolve().parent.parent


def test_pyflakes_finds_nothing_in_the_library_and_tests():
    out = io.StringIO()
    count = checkRecursive([str(ROOT / "tools" / "l2wg"), str(ROOT / "tests")],
                           Reporter(out, out))
    assert count == 0, out.getvalue()


def test_pyflakes_would_see_an_undefined_name(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def run():\n    return PhaseRun()\n")
    out = io.StringIO()
    assert checkRecursive([str(bad)], Reporter(out, out)) == 1
    assert "undefined name 'PhaseRun'" in out.getvalue()

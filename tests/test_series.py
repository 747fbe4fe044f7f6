"""patches/series: quilt layout, overrides per kernel line, digests."""

from __future__ import annotations

import pytest

from l2wg.errors import L2wgError
from l2wg.series import load_series, write_series

PATCH = """From 1 Mon Sep 17 00:00:00 2001
From: l2wg maintainers <maintainers@l2wg.invalid>
Subject: [PATCH 1/2] wireguard: do a thing that
 wraps onto a second line

body
"""


def make(tmp_path, names):
    for name in names:
        (tmp_path / name).write_text(PATCH)
    write_series(tmp_path, names, header="# the series\n")
    return load_series(tmp_path)


def test_order_comments_and_subjects(tmp_path):
    series = make(tmp_path, ["0001-a.patch", "0002-b.patch"])
    assert series.names == ("0001-a.patch", "0002-b.patch")
    assert series.patches()[0].subject == "wireguard: do a thing that wraps onto a second line"


def test_empty_and_missing_series_are_valid(tmp_path):
    assert load_series(tmp_path).names == ()
    (tmp_path / "series").write_text("# nothing yet\n\n")
    assert load_series(tmp_path).patches("6.12") == []


def test_override_is_used_only_for_its_line(tmp_path):
    series = make(tmp_path, ["0001-a.patch", "0002-b.patch"])
    (tmp_path / "6.1").mkdir()
    (tmp_path / "6.1" / "0002-b.patch").write_text(PATCH + "6.1 variant\n")
    assert [p.override for p in series.patches("6.1")] == [False, True]
    assert [p.override for p in series.patches("6.12")] == [False, False]
    assert series.overrides() == {"6.1": ["0002-b.patch"]}
    assert series.digest("6.1") != series.digest("6.12")
    assert series.digest("6.12") == series.digest("6.6")


@pytest.mark.parametrize("line, message", [
    ("0009-missing.patch", "0009-missing.patch does not exist"),
    ("0001-a.patch -p0", "unsupported option"),
    ("0001-a.patch\n0001-a.patch", "listed twice"),
])
def test_bad_series_line_is_named(tmp_path, line, message):
    (tmp_path / "0001-a.patch").write_text(PATCH)
    (tmp_path / "series").write_text(line + "\n")
    with pytest.raises(L2wgError, match=message) as err:
        load_series(tmp_path)
    assert "series:" in str(err.value)


def test_shipped_series_loads(project):
    series = project.series()
    for patch in series.patches("6.12"):
        assert patch.subject.startswith("wireguard:"), patch.name
    for line in [None, *series.overrides()]:
        assert len(series.patches(line)) == len(series.names)     # every hunk whole


DIFF = """From 1 Mon Sep 17 00:00:00 2001
Subject: [PATCH] wireguard: two hunks

 - a body line that starts like a removal, before any diff
---
 a.c | 3 ++-
diff --git a/a.c b/a.c
index 1111111..2222222 100644
--- a/a.c
+++ b/a.c
@@ -1,3 +1,4 @@
 one
-two
+TWO
+2.5

@@ -9 +10 @@ nine
-ten
\\ No newline at end of file
+TEN
\\ No newline at end of file
-- 
2.39.5
"""


def test_a_patch_whose_lines_all_lie_in_hunks_passes(tmp_path):
    from l2wg.series import check_hunks

    (tmp_path / "ok.patch").write_text(DIFF)
    check_hunks(tmp_path / "ok.patch")      # the blank context line and "\ No newline" count right


NEW_FILE = """Subject: [PATCH] wireguard: a new script

---
diff --git a/l2.sh b/l2.sh
new file mode 100755
index 0000000..1111111
--- /dev/null
+++ b/l2.sh
@@ -0,0 +1,{count} @@
+#!/bin/bash
+set -e
+echo passed

base-commit: 0123456789012345678901234567890123456789
"""


def test_a_hunk_that_counts_too_few_lines_is_refused_with_the_line(tmp_path):
    # What git am does with it: applies the first two lines, takes the third
    # for trailing junk and says nothing.
    (tmp_path / "0001-a.patch").write_text(NEW_FILE.format(count=2))
    write_series(tmp_path, ["0001-a.patch"])
    with pytest.raises(L2wgError, match=r"0001-a.patch:12: this line is outside every hunk "
                                        r".*: '\+echo passed'$"):
        load_series(tmp_path).patches()
    (tmp_path / "0001-a.patch").write_text(NEW_FILE.format(count=3))
    assert load_series(tmp_path).patches()[0].name == "0001-a.patch"

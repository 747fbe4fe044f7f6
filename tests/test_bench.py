"""The pipeline benchmark's edit: one comment line of one patch, in a copy."""

from __future__ import annotations

import difflib

from l2wg import bench
from l2wg.project import Project


def test_edit_one_patch_changes_one_added_comment_line_in_a_copy(project, tmp_path):
    before = {p.name: p.read_text() for p in project.patches.glob("*.patch")}
    copy, what = bench.edit_one_patch(project.root, tmp_path)
    assert {p.name: p.read_text() for p in project.patches.glob("*.patch")} == before
    edited = Project(copy)
    assert edited.series().names == project.series().names
    changed = {p.name: p.read_text() for p in edited.patches.glob("*.patch")
               if p.read_text() != before[p.name]}
    assert list(changed) == [what.split(":")[0]]
    name, text = next(iter(changed.items()))
    old, new = before[name].split("\n"), text.split("\n")
    assert len(old) == len(new)          # hunk line counts still hold
    diff = [d for d in difflib.ndiff(old, new) if d[:1] in "+-"]
    assert len(diff) == 2 and diff[1].startswith("+ + * ") and diff[1].endswith(bench.EDIT_MARK)
    assert edited.series().digest("6.12") != project.series().digest("6.12")

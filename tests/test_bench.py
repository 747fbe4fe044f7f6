"""The pipeline benchmark's edit: one kernel message in one patch, in a copy."""

from __future__ import annotations

import difflib

from l2wg import bench
from l2wg.project import Project


def test_edit_one_patch_changes_one_added_kernel_message_in_a_copy(project, tmp_path):
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
    assert len(diff) == 2 and diff[1].startswith("+ +")
    assert diff[1].replace(bench.EDIT_MARK, "", 1) == "+" + diff[0][1:]   # only the mark added
    assert bench.MESSAGE_RE.match(diff[1][2:]) and f'("{bench.EDIT_MARK}' in diff[1]
    assert edited.series().digest("6.12") != project.series().digest("6.12")

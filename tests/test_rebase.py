"""tools/rebase: synthetic kernels in small git repositories, and (integration) the
real Debian 6.12 -> 6.1 trees."""

from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
import subprocess
import tarfile
import textwrap
from pathlib import Path

import pytest

from l2wg import rebase as rb
from l2wg import sources, tree as trees, tree_import
from l2wg.errors import L2wgError
from l2wg.progress import silent
from l2wg.project import Project
from l2wg.rebase import RebaseOptions
from l2wg.resolve import resolve_kernel
from l2wg.workspace import Workspace

WG = "drivers/net/wireguard/device.c"
GIT_ENV = {"GIT_AUTHOR_NAME": "Dev", "GIT_AUTHOR_EMAIL": "dev@example.org",
           "GIT_COMMITTER_NAME": "Dev", "GIT_COMMITTER_EMAIL": "dev@example.org",
           "GIT_AUTHOR_DATE": "2026-01-02T03:04:05Z", "GIT_COMMITTER_DATE": "2026-01-02T03:04:05Z",
           "HOME": "/nonexistent", "GIT_CONFIG_NOSYSTEM": "1", "PATH": "/usr/bin:/bin"}


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True,
                          text=True, env=GIT_ENV).stdout


def device_c(changes: dict[int, str] | None = None, prefix: list[str] | None = None) -> str:
    lines = [f"int wg_line_{i}(void) {{ return {i}; }}" for i in range(1, 41)]
    for number, text in (changes or {}).items():
        lines[number - 1] = text
    return "\n".join((prefix or []) + lines) + "\n"


def kernel_dir(path: Path, version: str, device: str, extra: dict[str, str] | None = None) -> Path:
    major, minor, sub = version.split(".")
    files = {"Makefile": f"VERSION = {major}\nPATCHLEVEL = {minor}\nSUBLEVEL = {sub}\n"
                         "EXTRAVERSION =\nNAME = Test\n",
             "Kconfig": "mainmenu \"test\"\n", WG: device,
             "drivers/net/wireguard/Makefile": "obj-m := wireguard.o\n", **(extra or {})}
    for name, text in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
    return path


class Lab:
    """A project (kernels.toml, patches/) and a workspace, with synthetic kernels."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.root = tmp / "project"
        (self.root / "ci" / "kconfig").mkdir(parents=True)
        (self.root / "patches").mkdir()
        self.ws = Workspace(tmp / "ws")
        self.kernels: dict[str, str] = {}

    @property
    def project(self) -> Project:
        return Project(self.root)

    def add(self, name: str, source: str, version: str | None = None) -> None:
        self.kernels[name] = (f'[kernels."{name}"]\n' + (f'version = "{version or name}"\n')
                              + f"source = {source}\n")
        self.root.joinpath("kernels.toml").write_text(
            'default = "6.12"\ncanonical = "6.12"\n[defaults]\nfragments = []\n\n'
            + "\n".join(self.kernels.values()))

    def local(self, name: str, device: str, version: str, extra=None) -> Path:
        path = kernel_dir(self.tmp / f"src-{name}", version, device, extra)
        self.add(name, f'{{ type = "local", path = "{path}" }}', name)
        return path

    def canonical_tree(self) -> Path:
        kernel = self.project.matrix().get("6.12")
        source = sources.fetch(kernel, self.ws, silent())
        return trees.ensure_pristine(kernel, source, self.ws, silent()).path

    def make_series(self, *edits: dict[str, str]) -> list[Path]:
        """Commit each edit on a clone of the canonical tree; format-patch them into patches/."""
        work = self.tmp / "work"
        subprocess.run(["git", "clone", "-q", str(self.canonical_tree()), str(work)], check=True)
        for number, edit in enumerate(edits, 1):
            for name, text in edit.items():
                (work / name).parent.mkdir(parents=True, exist_ok=True)
                (work / name).write_text(text)
            git(work, "add", "-A")
            git(work, "commit", "-q", "-m", f"wireguard: l2 change {number}",
                "-m", f"Body of change {number}.\n\nSigned-off-by: Dev <dev@example.org>")
        out = git(work, "format-patch", "-o", str(self.root / "patches"), f"HEAD~{len(edits)}")
        names = [Path(line).name for line in out.split()]
        (self.root / "patches" / "series").write_text("".join(f"{n}\n" for n in names))
        return [self.root / "patches" / n for n in names]

    def rebase(self, spec: str = "6.1", **opts) -> rb.Rebase:
        return rb.rebase(spec, self.project, self.ws, RebaseOptions(**opts), silent())

    def snapshot(self) -> dict[str, str]:
        return {str(p.relative_to(self.root)): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted((self.root / "patches").rglob("*")) if p.is_file()}


# The series changes line 20 (and adds a line after 30); see make_series below.
PATCH1 = {WG: device_c({20: "int wg_line_20(void) { return l2_mode ? 0 : 20; }"})}
PATCH2 = {WG: device_c({20: "int wg_line_20(void) { return l2_mode ? 0 : 20; }",
                        31: "int wg_line_31(void) { return l2_frame(); }"})}


@pytest.fixture
def lab(tmp_path) -> Lab:
    lab = Lab(tmp_path)
    lab.local("6.12", device_c(), "6.12.5")
    return lab


def tree_of(lab: Lab, name: str = "6.1") -> Path:
    return lab.ws.tree(name)


def test_clean_rebase_changes_nothing_in_patches(lab):
    lab.local("6.1", device_c(prefix=["/* 6.1 has a header here */", ""]), "6.1.10")
    lab.make_series(PATCH1, PATCH2)
    before = lab.snapshot()
    state = lab.rebase()
    assert state.status == "done"
    assert [s.status for s in state.steps] == ["clean", "clean"]
    assert all(s.offsets for s in state.steps)          # clean, at an offset
    assert lab.snapshot() == before
    tree = tree_of(lab)
    assert "l2_frame" in (tree / WG).read_text()
    assert not trees.alternates_file(tree).exists()
    subprocess.run(["git", "-C", str(tree), "fsck", "--connectivity-only"], check=True,
                   capture_output=True)
    record = trees.load(tree)
    assert record.series_digest == lab.project.series().digest("6.1")
    assert record.head == git(tree, "rev-parse", "HEAD").strip()
    assert "1:" in state.range_diff and "= " in state.range_diff
    report = json.loads((lab.ws.root / "rebase" / "6.1" / "report.json").read_text())
    assert report["status"] == "done"


def test_three_way_merge_writes_override_only_where_needed(lab):
    # 6.1 differs in the context of patch 1's hunk (line 18), not in the changed line.
    lab.local("6.1", device_c({18: "int wg_line_18(void) { return -18; }"}), "6.1.10")
    p1, p2 = lab.make_series(PATCH1, {WG: device_c({31: "x"} | PATCH1_LINES)})
    canonical_before = {p.name: p.read_bytes() for p in (p1, p2)}
    state = lab.rebase()
    assert state.status == "done"
    assert [s.status for s in state.steps] == ["merged", "clean"]
    override = lab.root / "patches" / "6.1" / p1.name
    assert override.is_file() and not (lab.root / "patches" / "6.1" / p2.name).exists()
    assert {p.name: p.read_bytes() for p in (p1, p2)} == canonical_before
    text = override.read_text()
    assert text.startswith("From 0000000000000000000000000000000000000000 ")
    assert "Subject: [PATCH 1/2] wireguard: l2 change 1" in text
    assert f"base-commit: {state.pristine}" in text
    assert "return -18" in text                          # the context of 6.1
    assert trees.load(tree_of(lab)).series_digest == lab.project.series().digest("6.1")
    # A second rebase uses the override, which now applies cleanly: no churn.
    snap = lab.snapshot()
    mtime = override.stat().st_mtime_ns
    again = lab.rebase()
    assert [s.status for s in again.steps] == ["clean", "clean"]
    assert again.steps[0].override
    assert lab.snapshot() == snap and override.stat().st_mtime_ns == mtime


PATCH1_LINES = {20: "int wg_line_20(void) { return l2_mode ? 0 : 20; }"}


def conflicting_lab(lab: Lab) -> Lab:
    lab.local("6.1", device_c({20: "int wg_line_20(void) { return legacy_20(); }"}), "6.1.10")
    lab.make_series(PATCH1, PATCH2)
    return lab


def test_conflict_stops_with_report_and_tree_ready(lab):
    conflicting_lab(lab)
    before = lab.snapshot()
    tree = tree_of(lab)
    state = lab.rebase()
    assert state.status == "conflict"
    assert [s.status for s in state.steps] == ["conflict", "pending"]
    assert lab.snapshot() == before
    assert (tree / ".git" / "rebase-apply").is_dir()
    assert "<<<<<<<" in (tree / WG).read_text()
    report = json.loads((lab.ws.root / "rebase" / "6.1" / "report.json").read_text())
    conflict = report["conflict"]
    assert conflict["patch"].startswith("0001-")
    (entry,) = conflict["files"]
    assert entry["path"] == WG
    (hunk,) = entry["hunks"]
    assert hunk["ours"] == ["int wg_line_20(void) { return legacy_20(); }"]
    assert hunk["base"] == ["int wg_line_20(void) { return 20; }"]
    assert hunk["theirs"] == ["int wg_line_20(void) { return l2_mode ? 0 : 20; }"]
    assert hunk["patch_hunk"].startswith("@@ -17,7 +17,7 @@")
    assert hunk["target_lines"] == "20-20"
    assert "no history" in conflict["history_note"]
    assert "legacy_20" in entry["base_diff"]
    text = (lab.ws.root / "rebase" / "6.1" / "report.txt").read_text()
    assert "CONFLICT in 0001-" in text and "legacy_20" in text and "--continue" in text
    # A second rebase while one is in progress is refused.
    with pytest.raises(L2wgError, match="already in progress"):
        lab.rebase()


def test_continue_refuses_markers_then_completes(lab):
    conflicting_lab(lab)
    tree = tree_of(lab)
    lab.rebase()
    before = lab.snapshot()
    with pytest.raises(L2wgError, match=f"conflict markers remain in {WG}"):
        rb.continue_rebase("6.1", lab.project, lab.ws, silent())
    assert lab.snapshot() == before
    resolved = device_c({20: "int wg_line_20(void) { return l2_mode ? 0 : legacy_20(); }"})
    (tree / WG).write_text(resolved)
    state = rb.continue_rebase("6.1", lab.project, lab.ws, silent())
    assert state.status == "done"
    # Patch 2 touches other lines: it still applies exactly, so it gets no override.
    assert [s.status for s in state.steps] == ["resolved", "clean"]
    assert not (tree / ".git" / "rebase-apply").exists()
    assert not trees.alternates_file(tree).exists()
    first, second = lab.project.series().names
    assert "legacy_20" in (lab.root / "patches" / "6.1" / first).read_text()
    assert not (lab.root / "patches" / "6.1" / second).exists()
    assert trees.load(tree).series_digest == lab.project.series().digest("6.1")
    assert "l2_frame" in (tree / WG).read_text()
    subprocess.run(["git", "-C", str(tree), "fsck", "--connectivity-only"], check=True,
                   capture_output=True)


def test_abort_puts_everything_back(lab):
    conflicting_lab(lab)
    tree = tree_of(lab)
    kernel = lab.project.matrix().get("6.1")
    source = sources.fetch(kernel, lab.ws, silent())
    trees.ensure_pristine(kernel, source, lab.ws, silent())
    head = git(tree, "rev-parse", "HEAD").strip()
    record = (tree / ".git" / "l2wg-tree.json").read_text()
    before = lab.snapshot()
    lab.rebase()
    state = rb.abort_rebase("6.1", lab.ws, silent())
    assert state.status == "aborted"
    assert git(tree, "rev-parse", "HEAD").strip() == head
    assert not git(tree, "status", "--porcelain")
    assert not (tree / ".git" / "rebase-apply").exists()
    assert not trees.alternates_file(tree).exists()
    assert (tree / ".git" / "l2wg-tree.json").read_text() == record
    assert lab.snapshot() == before
    with pytest.raises(L2wgError, match="no rebase"):
        rb.abort_rebase("6.1", lab.ws, silent())


def test_strict_fails_on_three_way(lab):
    lab.local("6.1", device_c({18: "int wg_line_18(void) { return -18; }"}), "6.1.10")
    lab.make_series(PATCH1)
    before = lab.snapshot()
    with pytest.raises(L2wgError, match="--strict: 0001-.* three-way merge; nothing changed"):
        lab.rebase(strict=True)
    tree = tree_of(lab)
    assert lab.snapshot() == before
    assert not (tree / ".git" / "rebase-apply").exists()
    assert git(tree, "rev-parse", "HEAD").strip() == trees.load(tree).pristine
    assert not trees.alternates_file(tree).exists()
    # Without --strict the same rebase goes through.
    assert lab.rebase().status == "done"


def test_dirty_tree_is_refused(lab):
    lab.local("6.1", device_c(), "6.1.10")
    lab.make_series(PATCH1)
    lab.rebase()
    tree = tree_of(lab)
    (tree / WG).write_text("my work in progress\n")
    with pytest.raises(L2wgError, match="uncommitted changes"):
        lab.rebase()
    assert (tree / WG).read_text() == "my work in progress\n"


def test_unknown_versions_are_one_clear_error(lab):
    lab.local("6.1", device_c(), "6.1.10")
    with pytest.raises(L2wgError, match="neither a kernels.toml entry"):
        lab.rebase("not-a-kernel")
    with pytest.raises(L2wgError, match="unknown kernel '7.99.1'.*--online"):
        lab.rebase("7.99.1")
    with pytest.raises(L2wgError, match="no rebase onto '6.1' is in progress"):
        rb.continue_rebase("6.1", lab.project, lab.ws, silent())


def test_network_source_needs_online(lab):
    lab.add("6.6", '{ type = "tarball", url = "https://cdn.kernel.org/linux-6.6.tar.xz", '
                   'sha256 = "' + "0" * 64 + '" }', "6.6")
    with pytest.raises(L2wgError, match="kernel 6.6 comes from tarball:.*pass --online"):
        lab.rebase("6.6")


def test_continue_refuses_unmerged_deletions(lab):
    # 6.1 has no device.c at all: a modify/delete conflict, no markers.
    path = lab.local("6.1", device_c(), "6.1.10")
    (path / WG).unlink()
    lab.make_series(PATCH1)
    state = lab.rebase()
    assert state.status == "conflict"
    (entry,) = state.conflict.files
    assert entry.path == WG and "ours" not in entry.stages
    text = (lab.ws.root / "rebase" / "6.1" / "report.txt").read_text()
    assert f"{WG} does not exist in 6.1" in text
    with pytest.raises(L2wgError, match=f"unmerged paths remain in .*: {WG} .*git rm"):
        rb.continue_rebase("6.1", lab.project, lab.ws, silent())
    rb.abort_rebase("6.1", lab.ws, silent())
    assert not git(tree_of(lab), "status", "--porcelain")


def test_online_versions_are_constructed(lab):
    matrix = lab.project.matrix()
    kernel = resolve_kernel("6.7.3", matrix, RebaseOptions(online=True), lab.tmp / "log")
    assert kernel.source.type == "tarball" and kernel.source.url.endswith("linux-6.7.3.tar.xz")
    kernel = resolve_kernel("v6.13-rc2", matrix, RebaseOptions(online=True), lab.tmp / "log")
    assert kernel.source.type == "git" and kernel.source.ref == "v6.13-rc2"


def test_history_lists_upstream_commits(tmp_path):
    lab = Lab(tmp_path)
    upstream = kernel_dir(tmp_path / "upstream", "6.1.10", device_c())
    env_repo = tmp_path / "upstream"
    git(env_repo, "init", "-q", "-b", "master")
    git(env_repo, "add", "-A")
    git(env_repo, "commit", "-q", "-m", "Linux 6.1.10")
    old = git(env_repo, "rev-parse", "HEAD").strip()
    (upstream / WG).write_text(device_c({20: "int wg_line_20(void) { return upstream_20(); }"}))
    (upstream / "Makefile").write_text("VERSION = 6\nPATCHLEVEL = 12\nSUBLEVEL = 5\n")
    git(env_repo, "commit", "-q", "-am", "wireguard: rework line 20 upstream")
    older = tmp_path / "older"
    subprocess.run(["git", "clone", "-q", str(env_repo), str(older)], check=True)
    git(older, "checkout", "-q", old)
    lab.add("6.12", f'{{ type = "local", path = "{upstream}" }}', "6.12")
    lab.add("6.1", f'{{ type = "local", path = "{older}" }}', "6.1")
    lab.make_series({WG: device_c({20: "int wg_line_20(void) { return l2(upstream_20()); }"})})
    state = lab.rebase()
    assert state.status == "conflict"
    entry = state.conflict.files[0]
    assert any("rework line 20 upstream" in c for c in entry.history)
    assert "history:" in state.conflict.history_note
    assert any("rework line 20 upstream" in c for c in entry.hunks[0].history)   # git log -L
    rb.abort_rebase("6.1", lab.ws, silent())


def cli(lab: Lab, *args: str) -> int:
    from l2wg.cli import main

    return main(["rebase", *args, "--project", str(lab.root), "--workspace", str(lab.ws.root),
                 "-q"])


def test_all_prints_a_table_and_leaves_no_rebase_in_progress(lab, capsys):
    conflicting_lab(lab)
    assert cli(lab, "--all") == 1
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert rows["6.12"].split()[-1] == "done" and rows["6.1"].split()[-1] == "conflict"
    assert not (tree_of(lab) / ".git" / "rebase-apply").exists()
    assert cli(lab, "6.1", "--continue") == 1
    assert "no rebase onto '6.1' is in progress" in capsys.readouterr().err


def test_cli_conflict_continue_abort_exit_codes(lab, capsys):
    conflicting_lab(lab)
    assert cli(lab, "6.1") == 1
    out = capsys.readouterr().out
    assert "stopped at a conflict" in out and "report:" in out and WG in out
    assert cli(lab, "--continue") == 1          # the only rebase in progress; markers remain
    assert f"conflict markers remain in {WG}" in capsys.readouterr().err
    assert cli(lab, "--abort") == 0
    assert cli(lab, "7.99.1") == 2           # bad input: an unknown kernel
    assert "unknown kernel '7.99.1'" in capsys.readouterr().err


def test_no_write_keeps_patches_untouched(lab):
    lab.local("6.1", device_c({18: "int wg_line_18(void) { return -18; }"}), "6.1.10")
    lab.make_series(PATCH1)
    before = lab.snapshot()
    state = lab.rebase(write=False)
    assert state.status == "done" and state.steps[0].status == "merged"
    assert lab.snapshot() == before
    assert (Path(state.report_dir) / "export" / state.steps[0].name).is_file()
    assert trees.load(tree_of(lab)).series_digest is None   # patches/ does not describe HEAD


# state.json: versioned, checked, and one kernel's never in another's way ----------

RESOLVED = device_c({20: "int wg_line_20(void) { return l2_mode ? 0 : legacy_20(); }"})
WAY_OUT = r"; run 'tools/rebase 6\.1 --abort --force' \(.*\) or delete \S*/rebase/6\.1$"


def state_file(lab: Lab, name: str = "6.1") -> Path:
    return lab.ws.root / "rebase" / name / "state.json"


def edit_state(lab: Lab, change, name: str = "6.1") -> None:
    data = json.loads(state_file(lab, name).read_text())
    change(data)
    state_file(lab, name).write_text(json.dumps(data))


def assert_put_back(lab: Lab) -> None:
    """The 6.1 tree as the rebase found it: pristine, no git am, nothing borrowed."""
    tree = tree_of(lab)
    assert git(tree, "rev-parse", "HEAD").strip() == trees.load(tree).pristine
    assert git(tree, "symbolic-ref", "HEAD").strip() == "refs/heads/l2wg"
    assert not (tree / ".git" / "rebase-apply").exists()
    assert not trees.alternates_file(tree).exists()
    assert not git(tree, "status", "--porcelain")


def test_state_is_saved_with_its_format(lab):
    conflicting_lab(lab)
    lab.rebase()
    assert json.loads(state_file(lab).read_text())["format"] == rb.FORMAT


def test_a_state_file_of_an_older_l2wg_says_what_to_do(lab, capsys):
    conflicting_lab(lab)
    lab.rebase()
    edit_state(lab, lambda d: d.pop("format"))
    older = (r"written by an older l2wg \(state format 0, this l2wg reads 1 to "
             rf"{rb.FORMAT}\)" + WAY_OUT)
    with pytest.raises(L2wgError, match=older):
        rb.continue_rebase("6.1", lab.project, lab.ws, silent())
    with pytest.raises(L2wgError, match=older):
        rb.abort_rebase("6.1", lab.ws, silent())
    with pytest.raises(L2wgError, match=older):
        lab.rebase()
    assert cli(lab, "6.1", "--continue") == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--abort --force" in err          # one line, no traceback
    edit_state(lab, lambda d: d.update(format=rb.FORMAT + 1))
    with pytest.raises(L2wgError, match="written by a newer l2wg"):
        rb.continue_rebase("6.1", lab.project, lab.ws, silent())
    assert cli(lab, "6.1", "--abort", "--force") == 0
    assert "rebase aborted without its state" in capsys.readouterr().out
    assert_put_back(lab)
    assert (state_file(lab).parent / "state.json.broken").is_file()
    assert lab.rebase().status == "conflict"                         # a new rebase starts


def test_a_corrupt_state_file_is_one_clear_error(lab):
    conflicting_lab(lab)
    lab.rebase()
    state_file(lab).write_text('{"status": "conflict", "steps": [')
    corrupt = r"state\.json: corrupt, not JSON \(.*\)" + WAY_OUT
    with pytest.raises(L2wgError, match=corrupt):
        rb.continue_rebase("6.1", lab.project, lab.ws, silent())
    with pytest.raises(L2wgError, match=corrupt):
        lab.rebase()
    with pytest.raises(L2wgError, match=corrupt):
        rb.continue_rebase(None, lab.project, lab.ws, silent())       # the only one there
    # Nothing of the file can be read: the tree goes back by its own record.
    done = rb.force_abort("6.1", lab.ws, silent())
    assert "set aside" in done and "is back at" in done
    assert_put_back(lab)
    assert lab.rebase().status == "conflict"


@pytest.mark.parametrize("change, error", [
    (lambda d: d["steps"][0].update(bogus=1), r"\(steps\[0\]: unknown field 'bogus'\)"),
    (lambda d: d["conflict"].pop("files"), r"\(conflict: missing field 'files'\)"),
    (lambda d: d["steps"][1].update(offsets="x"),
     r"\(steps\[1\]\.offsets: expected a list, found a string\)"),
    (lambda d: d["conflict"]["files"][0]["hunks"][0].update(line="20"),
     r"\(conflict\.files\[0\]\.hunks\[0\]\.line: expected int, found a string\)"),
], ids=["unknown", "missing", "list", "nested-type"])
def test_a_state_file_whose_fields_do_not_fit_is_one_clear_error(lab, change, error):
    conflicting_lab(lab)
    lab.rebase()
    edit_state(lab, change)
    with pytest.raises(L2wgError, match="not a valid rebase state " + error + WAY_OUT):
        rb.continue_rebase("6.1", lab.project, lab.ws, silent())
    rb.force_abort("6.1", lab.ws, silent())
    assert_put_back(lab)


def test_another_kernels_broken_state_blocks_nothing(lab, capsys):
    conflicting_lab(lab)
    for name, text in {"6.6": "{not json",                                     # corrupt
                       "5.15": json.dumps({"status": "conflict", "steps": []}),  # older, running
                       "5.10": json.dumps({"status": "done"})}.items():         # older, finished
        state_file(lab, name).parent.mkdir(parents=True)
        state_file(lab, name).write_text(text)
    assert lab.rebase().status == "conflict"
    with pytest.raises(L2wgError, match="conflict markers remain"):
        rb.continue_rebase("6.1", lab.project, lab.ws, silent())
    assert cli(lab, "--abort") == 0                  # unnamed: the one that can be read
    assert lab.rebase().status == "conflict"
    assert cli(lab, "--continue") == 1
    assert "conflict markers remain" in capsys.readouterr().err
    (tree_of(lab) / WG).write_text(RESOLVED)
    assert rb.continue_rebase(None, lab.project, lab.ws, silent()).status == "done"
    assert lab.rebase("6.12").status == "done"
    # With no readable rebase left, the broken ones are named, never guessed at.
    with pytest.raises(L2wgError, match=r"name the kernel: rebases in progress: "
                                        r"5\.15 \(unreadable state\), 6\.6 \(unreadable state\)$"):
        rb.continue_rebase(None, lab.project, lab.ws, silent())
    with pytest.raises(L2wgError, match="no rebase onto '6.1' is in progress$"):
        rb.continue_rebase("6.1", lab.project, lab.ws, silent())
    with pytest.raises(L2wgError, match=r"rebase/6\.6/state\.json: corrupt, not JSON .*"
                                        r"'tools/rebase 6\.6 --abort --force'"):
        rb.abort_rebase("6.6", lab.ws, silent())
    assert "no work tree to put back" in rb.force_abort("6.6", lab.ws, silent())
    with pytest.raises(L2wgError, match=r"written by an older l2wg .*rebase 5\.15 --abort"):
        rb.abort_rebase("5.15", lab.ws, silent())
    assert not state_file(lab, "6.6").exists()
    assert state_file(lab, "5.10").is_file()         # a finished one is left alone


def test_a_failure_describing_a_conflict_leaves_a_usable_state(lab, monkeypatch):
    conflicting_lab(lab)

    def broken(*args):
        raise RuntimeError("boom")

    monkeypatch.setattr("l2wg.rebase.engine.describe_conflict", broken)
    state = lab.rebase()
    assert state.status == "conflict" and state.steps[0].status == "conflict"
    assert state.conflict.description_error == "RuntimeError: boom"
    assert [f.path for f in state.conflict.files] == [WG]
    saved = rb.Rebase.load(state_file(lab))
    assert saved.status == "conflict" and saved.conflict.description_error
    text = (state.dir / "report.txt").read_text()
    assert "could not be described (RuntimeError: boom" in text and "--continue" in text
    assert "RuntimeError: boom" in state.log.read_text()              # the traceback
    (tree_of(lab) / WG).write_text(RESOLVED)
    assert rb.continue_rebase("6.1", lab.project, lab.ws, silent()).status == "done"


def test_an_interrupt_while_describing_a_conflict_leaves_it_recorded(lab, monkeypatch):
    conflicting_lab(lab)

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr("l2wg.rebase.engine.describe_conflict", interrupted)
    with pytest.raises(KeyboardInterrupt):
        lab.rebase()
    saved = rb.Rebase.load(state_file(lab))
    assert saved.status == "conflict" and saved.steps[0].status == "conflict"
    (tree_of(lab) / WG).write_text(RESOLVED)
    assert rb.continue_rebase("6.1", lab.project, lab.ws, silent()).status == "done"


def test_continue_without_a_conflicted_step_is_a_clear_error(lab):
    conflicting_lab(lab)
    lab.rebase()

    def crashed(data):          # as an l2wg killed between git am and recording the conflict
        data["status"] = "running"
        data["steps"][0]["status"] = "pending"

    edit_state(lab, crashed)
    with pytest.raises(L2wgError, match=r"the rebase onto 6\.1 did not stop at a conflict or a "
                                        r"build failure \(it is 'running'.*run 'tools/rebase "
                                        r"6\.1 --abort'"):
        rb.continue_rebase("6.1", lab.project, lab.ws, silent())
    assert rb.abort_rebase("6.1", lab.ws, silent()).status == "aborted"
    assert_put_back(lab)


def test_an_override_the_canonical_patch_reproduces_is_removed(lab):
    """An override is kept only where the line needs its own version: when the canonical
    patch applies exactly there and makes the very same tree, the override goes."""
    lab.local("6.1", device_c(prefix=["/* 6.1 has a header here */", ""]), "6.1.10")
    p1, p2 = lab.make_series(PATCH1, PATCH2)
    override = lab.root / "patches" / "6.1" / p1.name
    override.parent.mkdir()
    override.write_bytes(p1.read_bytes())
    assert lab.project.series().overrides() == {"6.1": [p1.name]}
    state = lab.rebase()
    assert state.status == "done"
    assert [(s.override, s.redundant) for s in state.steps] == [(True, True), (False, False)]
    assert not override.exists() and not override.parent.exists()
    assert any("was removed" in note for note in state.notes)
    assert trees.load(tree_of(lab)).series_digest == lab.project.series().digest("6.1")
    assert "l2_frame" in (tree_of(lab) / WG).read_text()


def test_an_override_that_makes_a_different_tree_is_kept(lab):
    lab.local("6.1", device_c(), "6.1.10")
    p1, p2 = lab.make_series(PATCH1, PATCH2)
    override = lab.root / "patches" / "6.1" / p1.name
    override.parent.mkdir()
    override.write_text(p1.read_text().replace("l2_mode ? 0 : 20", "l2_mode ? 1 : 20"))
    state = lab.rebase()
    assert state.status == "done"
    assert [(s.override, s.redundant) for s in state.steps][0] == (True, False)
    assert override.is_file()
    assert "l2_mode ? 1 : 20" in (tree_of(lab) / WG).read_text()


def test_an_override_with_stale_index_lines_is_refreshed_once(lab):
    """An override that still applies cleanly but names blobs the tree no longer has
    (an earlier patch was edited since) is rewritten from the tree, and only once."""
    lab.local("6.1", device_c(), "6.1.10")
    p1, p2 = lab.make_series(PATCH1, PATCH2)
    override = lab.root / "patches" / "6.1" / p2.name
    override.parent.mkdir()
    override.write_text(p2.read_text().replace("return l2_frame();", "return l2_frame() + 1;"))
    state = lab.rebase()
    assert state.status == "done"
    assert [(s.name, s.status) for s in state.steps] == [(p1.name, "clean"), (p2.name, "clean")]
    refreshed = override.read_text()
    new_blob = git(tree_of(lab), "rev-parse", f"HEAD:{WG}")[:7]
    assert re.search(rf"^index [0-9a-f]+\.\.{new_blob}", refreshed, re.M), refreshed
    assert "return l2_frame() + 1;" in refreshed
    assert any("refreshed" in note and p2.name in note for note in state.notes)
    before = lab.snapshot()
    again = lab.rebase()
    assert lab.snapshot() == before and not any("refreshed" in n for n in again.notes)


def test_make_canonical_moves_the_series_to_the_new_line(lab):
    """A forward port: the series, carried to 6.1 here, becomes patches/ itself; the
    old canonical line then gets its own version only where it needs one."""
    lab.local("6.1", device_c({18: "int wg_line_18(void) { return -18; }"}), "6.1.10")
    p1, p2 = lab.make_series(PATCH1, PATCH2)
    stale = lab.root / "patches" / "6.6" / p2.name       # made against the old canonical
    stale.parent.mkdir()
    stale.write_bytes(p2.read_bytes())
    toml = (lab.root / "kernels.toml").read_text()
    state = lab.rebase("6.1", make_canonical=True)
    assert state.status == "done"
    assert [s.status for s in state.steps] == ["merged", "clean"]
    assert "return -18" in p1.read_text()                # made on 6.1 now
    assert f"base-commit: {state.pristine}" in p1.read_text()
    assert state.steps[1].written == str(p2)             # every patch, changed or not
    assert not stale.parent.exists()
    assert (state.dir / "previous-overrides" / "6.6" / p2.name).read_bytes() == \
        stale.read_bytes() if stale.exists() else True
    assert (state.dir / "previous-overrides" / "6.6" / p2.name).is_file()
    assert lab.project.matrix().canonical == "6.1"
    assert (lab.root / "kernels.toml").read_text() == toml.replace(
        'canonical = "6.12"', 'canonical = "6.1"')
    assert trees.load(tree_of(lab)).series_digest == lab.project.series().digest("6.1")
    assert any("tools/rebase 6.12 --build" in note for note in state.notes)
    # The old canonical line: the new patches need a three-way merge there, so it
    # gets an override of its own for patch 1 only.
    back = lab.rebase("6.12")
    assert back.status == "done"
    assert [s.status for s in back.steps] == ["merged", "clean"]
    assert sorted(p.name for p in (lab.root / "patches" / "6.12").iterdir()) == [p1.name]
    assert lab.rebase("6.1", strict=True).status == "done"


def test_make_canonical_refuses_the_canonical_kernel_itself(lab):
    lab.make_series(PATCH1)
    with pytest.raises(L2wgError, match="already the canonical kernel"):
        lab.rebase("6.12", make_canonical=True)


def test_a_build_check_that_cannot_start_stops_the_rebase_without_losing_it(lab):
    """--build where make cannot even configure (this synthetic kernel has no kbuild):
    the rebase stops at the patch, as for a compile error, and keeps what was applied."""
    lab.local("6.1", device_c(prefix=["/* 6.1 has a header here */", ""]), "6.1.10")
    lab.make_series(PATCH1, PATCH2)
    before = lab.snapshot()
    state = lab.rebase(build=True)
    assert state.status == "build"
    assert [(s.status, s.build) for s in state.steps] == [("clean", "failed"), ("pending", "")]
    assert state.steps[0].build_errors[0].startswith("the build did not run: ")
    assert "l2_mode" in (tree_of(lab) / WG).read_text()          # patch 1 is still in
    again = rb.continue_rebase("6.1", lab.project, lab.ws, silent())
    assert again.status == "build" and again.steps[0].status == "clean"   # nothing to fold
    assert rb.abort_rebase("6.1", lab.ws, silent()).status == "aborted"
    assert lab.snapshot() == before
    assert "l2_mode" not in (tree_of(lab) / WG).read_text()


def test_compiler_errors_are_quoted_once_each():
    from l2wg.rebase.buildcheck import compiler_errors

    output = textwrap.dedent("""\
          CC      drivers/net/wireguard/l2.o
        drivers/net/wireguard/l2.c:12:9: error: too many arguments to function 'wg_newlink'
        drivers/net/wireguard/l2.c:12:9: error: too many arguments to function 'wg_newlink'
        drivers/net/wireguard/fdb.h:40:5: warning: unused variable 'x'
        drivers/net/wireguard/fdb.c:7:10: fatal error: gone.h: No such file or directory
        make[4]: *** [scripts/Makefile.build:229: drivers/net/wireguard/l2.o] Error 1
        """)
    assert compiler_errors(output) == [
        "drivers/net/wireguard/l2.c:12:9: error: too many arguments to function 'wg_newlink'",
        "drivers/net/wireguard/fdb.c:7:10: fatal error: gone.h: No such file or directory"]
    assert compiler_errors("make: *** No rule to make target 'x'.  Stop.\n") == [
        "make: *** No rule to make target 'x'.  Stop."]


def make_tarball(path: Path, version: str, device: str, extra: dict[str, str] | None = None,
                 executable: tuple[str, ...] = ()) -> str:
    major, minor, sub = version.split(".")
    files = {"Makefile": f"VERSION = {major}\nPATCHLEVEL = {minor}\nSUBLEVEL = {sub}\n",
             "Kconfig": "mainmenu \"test\"\n", WG: device, **(extra or {})}
    with tarfile.open(path, "w:xz") as tar:
        for name, text in files.items():
            info = tarfile.TarInfo(f"linux-{version}/{name}")
            data = text.encode()
            info.size, info.mode = len(data), 0o755 if name in executable else 0o644
            tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo(f"linux-{version}/scripts/link-to-makefile")
        link.type, link.linkname = tarfile.SYMTYPE, "../Makefile"
        tar.addfile(link)
        hard = tarfile.TarInfo(f"linux-{version}/scripts/hard-makefile")
        hard.type, hard.linkname = tarfile.LNKTYPE, f"linux-{version}/Makefile"
        tar.addfile(hard)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tarball_kernel(lab: Lab, name: str, version: str, device: str, **kw) -> None:
    cache = lab.ws.sources / "tarballs"
    cache.mkdir(parents=True, exist_ok=True)
    digest = make_tarball(cache / f"linux-{version}.tar.xz", version, device, **kw)
    lab.add(name, f'{{ type = "tarball", url = "https://example.invalid/linux-{version}.tar.xz",'
                  f' sha256 = "{digest}" }}', version)


def test_point_release_import_reuses_the_line_tree(tmp_path):
    lab = Lab(tmp_path)
    tarball_kernel(lab, "6.12", "6.12.5", device_c(), extra={"scripts/run.sh": "#!/bin/sh\n",
                   "gone.c": "removed in .7\n"}, executable=("scripts/run.sh",))
    tarball_kernel(lab, "6.12.7", "6.12.7", device_c({5: "int wg_line_5(void) { return 55; }"}),
                   extra={"scripts/run.sh": "#!/bin/sh\n", "new.c": "added in .7\n"},
                   executable=("scripts/run.sh",))
    lab.make_series(PATCH1)
    seed = lab.canonical_tree()
    seed_files = {p: (seed / p).read_bytes() for p in ("Makefile", WG, "gone.c")}
    state = lab.rebase("6.12.7")
    assert state.status == "done" and state.steps[0].status == "clean"
    tree = tree_of(lab, "6.12.7")
    assert (tree / ".git").is_dir() and trees.load(tree).version == "6.12.7"
    assert not (tree / "gone.c").exists() and (tree / "new.c").read_text() == "added in .7\n"
    assert git(tree, "ls-files", "-s", "scripts/run.sh").startswith("100755")
    assert git(tree, "ls-files", "-s", "scripts/link-to-makefile").startswith("120000")
    assert (tree / "scripts/hard-makefile").read_text() == (tree / "Makefile").read_text()
    assert "SUBLEVEL = 7" in (tree / "scripts/hard-makefile").read_text()
    assert not git(tree, "status", "--porcelain")
    assert git(tree, "remote").strip() == ""
    assert git(tree, "tag").split() == ["l2wg/pristine"]
    # The seed is untouched ...
    assert {p: (seed / p).read_bytes() for p in seed_files} == seed_files
    # ... and the pristine commit is the one a full import makes.
    other = Workspace(tmp_path / "other-ws")
    kernel = lab.project.matrix().get("6.12.7")
    (other.sources / "tarballs").mkdir(parents=True)
    for f in (lab.ws.sources / "tarballs").glob("linux-6.12.7.tar.xz"):
        (other.sources / "tarballs" / f.name).write_bytes(f.read_bytes())
    full = trees.ensure_pristine(kernel, sources.fetch(kernel, other, silent()), other, silent())
    assert full.pristine == state.pristine


def _as_sha256(tree: Path) -> None:
    """Make *tree* (an imported work tree) a SHA-256 repository with the same files."""
    record = json.loads((tree / ".git" / "l2wg-tree.json").read_text())
    shutil.rmtree(tree / ".git")
    git(tree, "init", "-q", "--object-format=sha256", "-b", "l2wg")
    git(tree, "add", "-A", "-f")
    git(tree, "commit", "-q", "-m", "Import (sha256)")
    git(tree, "tag", "l2wg/pristine")
    record["pristine"] = git(tree, "rev-parse", "HEAD").strip()
    (tree / ".git" / "l2wg-tree.json").write_text(json.dumps(record))


def test_point_release_import_needs_a_sha1_repository(tmp_path):
    """The import writes SHA-1 loose objects by hand: never into a SHA-256 repository;
    a point release of a line whose tree is SHA-256 is imported in full instead."""
    lab = Lab(tmp_path)
    tarball_kernel(lab, "6.12", "6.12.5", device_c())
    tarball_kernel(lab, "6.12.7", "6.12.7", device_c({5: "int wg_line_5(void) { return 55; }"}))
    seed_path = lab.canonical_tree()
    assert tree_import.object_format(seed_path) == "sha1"
    _as_sha256(seed_path)
    assert tree_import.object_format(seed_path) == "sha256"
    seed = trees.load(seed_path)
    kernel = lab.project.matrix().get("6.12.7")
    source = sources.fetch(kernel, lab.ws, silent())
    log = tmp_path / "import.log"
    with pytest.raises(L2wgError, match="object format sha256: .* only into a sha1 repository"):
        tree_import.import_from_seed(kernel, source, seed, lab.ws, silent(), log)
    assert not lab.ws.tree("6.12.7").exists()
    with pytest.raises(L2wgError, match="object format sha256"):
        tree_import._store_objects(seed_path, {"ab" * 20: b"x"})
    assert not (seed_path / ".git" / "objects" / "ab").exists()
    # ensure_tree does not take the SHA-256 tree as a seed: a full import.
    assert tree_import.find_seed(kernel, lab.ws, log) is None
    assert "object format sha256, not sha1: not a seed" in log.read_text()
    tree = tree_import.ensure_tree(kernel, source, lab.ws, silent(), log)
    assert tree.version == "6.12.7" and tree_import.object_format(tree.path) == "sha1"
    assert "return 55" in (tree.path / WG).read_text()
    assert not git(tree.path, "status", "--porcelain")
    assert tree_import.object_format(seed_path) == "sha256"      # the seed is untouched


REAL_EDITS = [
    # (file, old, new): applies exactly to 6.1
    ("drivers/net/wireguard/Makefile", "wireguard-y += device.o\n",
     "wireguard-y += device.o\nwireguard-y += l2.o\n"),
    # context differs in 6.1 (no <net/gso.h>): a three-way merge
    ("drivers/net/wireguard/device.c", "#include <net/rtnetlink.h>\n",
     '#include <net/rtnetlink.h>\n#include "l2.h"\n'),
    # 6.1 still has NETIF_F_LLTX where 6.12 has dev->lltx: a conflict
    ("drivers/net/wireguard/device.c", "\tdev->lltx = true;\n",
     "\tdev->lltx = true; /* l2wg: also in layer-2 mode */\n"),
]


@pytest.fixture
def real_lab(real_ws, project, tmp_path):
    """A project copy whose series is REAL_EDITS made on the real canonical tree, and the
    real 6.1 tree put back as it was afterwards."""
    yield from _real_lab(real_ws, project, tmp_path, REAL_EDITS)


#: A patch that applies exactly to 6.1 and does not compile there (as when an API
#: a patch uses moved between two kernels): what --build is for.
BUILD_EDITS = [
    ("drivers/net/wireguard/device.c", "static LIST_HEAD(device_list);\n",
     "static LIST_HEAD(device_list);\nstatic int l2wg_test_value = l2wg_no_such_symbol;\n"),
]


@pytest.fixture
def real_build_lab(real_ws, project, tmp_path):
    yield from _real_lab(real_ws, project, tmp_path, BUILD_EDITS)


def skip_if_a_rebase_is_in_progress(real_ws, line: str) -> None:
    """The real tests use $L2WG_HOME's tree: never disturb a user's rebase there."""
    from l2wg.rebase.state import IN_PROGRESS, recorded_status
    state = rb_state_file(real_ws, line)
    if state.exists() and recorded_status(state) in IN_PROGRESS:
        pytest.skip(f"a rebase onto {line} is in progress in {real_ws.root} "
                    f"({state}); the real rebase tests would disturb it")


def rb_state_file(real_ws, line: str) -> Path:
    return real_ws.root / "rebase" / line / "state.json"


def _real_lab(real_ws, project, tmp_path, edits):
    skip_if_a_rebase_is_in_progress(real_ws, "6.1")
    root = tmp_path / "project"
    (root / "ci" / "kconfig").mkdir(parents=True)
    (root / "kernels.toml").write_text(project.kernels_toml.read_text())
    for f in project.fragments.glob("*.config"):
        (root / "ci" / "kconfig" / f.name).write_text(f.read_text())
    (root / "patches").mkdir()
    lab_project = Project(root)
    matrix = lab_project.matrix()
    for name in (matrix.canonical, "6.1"):
        kernel = matrix.get(name)
        trees.ensure_pristine(kernel, sources.fetch(kernel, real_ws, silent()), real_ws, silent())
    _real_series(real_ws.tree(matrix.canonical), root / "patches", tmp_path / "work", edits)
    tree = real_ws.tree("6.1")
    head = git(tree, "rev-parse", "HEAD").strip()
    record = (tree / ".git" / "l2wg-tree.json").read_text()
    yield lab_project, tree
    if (real_ws.root / "rebase" / "6.1" / "state.json").exists():
        try:
            rb.abort_rebase("6.1", real_ws, silent())
        except L2wgError:
            pass
    git(tree, "checkout", "-q", "-f", "-B", "l2wg", head)
    (tree / ".git" / "l2wg-tree.json").write_text(record)


def _real_series(canonical: Path, patches: Path, work: Path, edits=REAL_EDITS) -> None:
    pristine = trees.load(canonical).pristine
    subprocess.run(["git", "clone", "-q", "--no-checkout", "--shared", str(canonical), str(work)],
                   check=True)
    git(work, "checkout", "-q", pristine, "--", "drivers/net/wireguard")
    git(work, "reset", "-q", pristine)
    for number, (name, old, new) in enumerate(edits, 1):
        text = (work / name).read_text()
        assert old in text, (name, old)
        (work / name).write_text(text.replace(old, new, 1))
        git(work, "add", name)
        git(work, "commit", "-q", "-m", f"wireguard: l2wg test change {number}")
    out = git(work, "format-patch", "-o", str(patches), f"HEAD~{len(edits)}")
    (patches / "series").write_text("".join(Path(n).name + "\n" for n in out.split()))


def test_canonical_moving_to_a_new_point_release_refreshes_its_own_patches(tmp_path):
    lab = Lab(tmp_path)
    tarball_kernel(lab, "6.12", "6.12.5", device_c())
    lab.add("6.1", '{ type = "local", path = "/nonexistent" }', "6.1")
    (p1,) = lab.make_series(PATCH1)
    assert lab.rebase("6.12").steps[0].status == "clean"
    # The archive moves on: 6.12.6 changes the context of the patch's hunk.
    tarball_kernel(lab, "6.12", "6.12.6", device_c({18: "int wg_line_18(void) { return -18; }"}))
    state = lab.rebase("6.12")
    assert state.status == "done" and state.version == "6.12.6"
    assert state.steps[0].status == "merged"            # the old blobs came along with the seed
    assert state.steps[0].written == str(p1)            # the canonical patch itself moves on
    assert "return -18" in p1.read_text() and not (lab.root / "patches" / "6.12").exists()
    assert lab.rebase("6.12").steps[0].status == "clean"


@pytest.mark.integration
def test_real_build_check_stops_at_a_patch_that_does_not_compile(real_ws, real_build_lab):
    """--build on the real 6.1 tree: the patch applies cleanly, make fails, the rebase
    stops with the compiler's error; the fix made in the tree is folded into the patch
    by --continue, compiled again, and kept as 6.1's override."""
    project, tree = real_build_lab
    before = {p.name: p.read_bytes() for p in project.patches.iterdir()}
    state = rb.rebase("6.1", project, real_ws, RebaseOptions(build=True), silent())
    assert state.status == "build"
    (step,) = state.steps
    assert (step.status, step.build) == ("clean", "failed")
    assert any("l2wg_no_such_symbol" in line and "error" in line for line in step.build_errors)
    assert "DOES NOT COMPILE" in (state.dir / "report.txt").read_text()
    assert {p.name: p.read_bytes() for p in project.patches.iterdir()} == before
    with pytest.raises(L2wgError, match="a rebase onto 6.1 is already in progress"):
        rb.rebase("6.1", project, real_ws, RebaseOptions(build=True), silent())
    device = tree / "drivers/net/wireguard/device.c"
    device.write_text(device.read_text().replace(
        "static int l2wg_test_value = l2wg_no_such_symbol;",
        "static int __maybe_unused l2wg_test_value;"))
    state = rb.continue_rebase("6.1", project, real_ws, silent())
    assert state.status == "done"
    assert (state.steps[0].status, state.steps[0].build) == ("fixed", "ok")
    (override,) = (project.patches / "6.1").iterdir()
    assert "+static int __maybe_unused l2wg_test_value;" in override.read_text()
    assert git(tree, "status", "--porcelain", "--untracked-files=no").strip() == ""


@pytest.mark.integration
def test_real_612_to_61_conflict_continue_and_no_churn(real_ws, real_lab):
    project, tree = real_lab
    before = {p.name: p.read_bytes() for p in (project.patches).iterdir()}
    state = rb.rebase("6.1", project, real_ws, RebaseOptions(), silent())
    assert [s.status for s in state.steps] == ["clean", "merged", "conflict"]
    assert {p.name: p.read_bytes() for p in project.patches.iterdir()} == before
    (entry,) = state.conflict.files
    assert entry.path == "drivers/net/wireguard/device.c"
    (hunk,) = entry.hunks
    assert any("NETIF_F_LLTX" in line for line in hunk.ours)
    assert any("l2wg: also in layer-2 mode" in line for line in hunk.theirs)
    assert "NETIF_F_LLTX" in entry.base_diff
    with pytest.raises(L2wgError, match="conflict markers remain"):
        rb.continue_rebase("6.1", project, real_ws, silent())
    device = tree / entry.path
    text = device.read_text()
    start, end = text.index("<<<<<<<"), text.index(">>>>>>>")
    end = text.index("\n", end) + 1
    device.write_text(text[:start] + "\tdev->features |= NETIF_F_LLTX; /* l2wg */\n" + text[end:])
    state = rb.continue_rebase("6.1", project, real_ws, silent())
    assert state.status == "done"
    assert [s.status for s in state.steps] == ["clean", "merged", "resolved"]
    overrides = sorted(p.name for p in (project.patches / "6.1").iterdir())
    assert overrides == [s.name for s in state.steps[1:]]
    assert not trees.alternates_file(tree).exists()
    assert "3:" in state.range_diff
    snapshot = {p: p.read_bytes() for p in project.patches.rglob("*") if p.is_file()}
    again = rb.rebase("6.1", project, real_ws, RebaseOptions(strict=True), silent())
    assert [s.status for s in again.steps] == ["clean", "clean", "clean"]
    assert {p: p.read_bytes() for p in project.patches.rglob("*") if p.is_file()} == snapshot


@pytest.mark.integration
def test_real_series_onto_61(real_ws, project):
    """The real patches/ series onto the Debian 6.1 tree, with --no-write: a report either
    way, patches/ untouched, the tree put back as it was."""
    if not project.series().names:
        pytest.skip("patches/series is empty (see test_real_612_to_61_conflict_...)")
    skip_if_a_rebase_is_in_progress(real_ws, "6.1")
    kernel = project.matrix().get("6.1")
    trees.ensure_pristine(kernel, sources.fetch(kernel, real_ws, silent()), real_ws, silent())
    tree = real_ws.tree("6.1")
    head = git(tree, "rev-parse", "HEAD").strip()
    record = (tree / ".git" / "l2wg-tree.json").read_text()
    before = {p: p.read_bytes() for p in project.patches.rglob("*") if p.is_file()}
    state = None
    try:
        state = rb.rebase("6.1", project, real_ws, RebaseOptions(write=False), silent())
        assert state.status in ("done", "conflict")
        assert (real_ws.root / "rebase" / "6.1" / "report.json").is_file()
    finally:
        if state is not None and state.status == "conflict":
            rb.abort_rebase("6.1", real_ws, silent())
        git(tree, "checkout", "-q", "-f", "-B", "l2wg", head)
        (tree / ".git" / "l2wg-tree.json").write_text(record)
    assert {p: p.read_bytes() for p in project.patches.rglob("*") if p.is_file()} == before

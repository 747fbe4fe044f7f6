"""Carry the series to another kernel version, with a conflict report a person can act on.

``rebase()`` prepares the target kernel's work tree, puts it at its pristine
commit and applies the series (the line's overrides resolved) patch by patch:

* **clean**     ``git apply --check`` passes: exact context (offsets allowed, no fuzz);
* **merged**    it needed ``git am -3``'s three-way merge, which succeeded;
* **conflict**  the merge left conflict markers: the rebase stops there, with
  ``git am`` in progress in the tree, and writes a report (text and JSON)
  naming the patch, the files, each conflicting hunk with both sides, and the
  upstream commits that touched those lines when the sources have history.

Three-way merges across versions need the blobs named by the patches'
``index <old>..<new>`` lines, which live in the *canonical* kernel's tree (the
one the canonical patches are made on, ``canonical`` in kernels.toml).  The
target tree borrows them for the duration of the rebase through
``.git/objects/info/alternates``; before the alternate is removed, every
object the new commits need is copied into the target repository and
connectivity is verified.

When every patch is in, the refreshed patches are exported with ``git
format-patch`` and kept only where the kernel needed a different version:
as ``patches/<line>/<name>`` overrides (or, for the canonical kernel itself,
in place).  Nothing under ``patches/`` changes before a rebase completes.
``continue_rebase()`` and ``abort_rebase()`` finish or undo a stopped one;
``force_abort()`` undoes one whose state file cannot be read (see state.py).

Point releases are cheap: a new point release of a line whose tree is
already imported is imported from that tree (``tree_import``).
"""

from __future__ import annotations

import os
import re
import shutil
import time
import traceback
from pathlib import Path

from .. import sources, store, tree as trees
from ..errors import L2wgError
from ..git import IDENTITY, run_git
from ..kernels import Kernel, SourceSpec, set_canonical
from ..progress import Progress
from ..project import Project
from ..resolve import resolve_kernel
from ..series import Patch
from ..tree import add_alternates, localize_objects, remove_alternates, verify_connected
from ..tree_import import ensure_tree
from ..workspace import Workspace
from . import buildcheck
from .conflict import _has_markers, _tail, _unmerged, _unmerged_stages, describe_conflict
from .report import _status_text, summary, write_report
from .state import (IN_PROGRESS, Conflict, ConflictFile, Rebase, RebaseOptions, StateError,
                    Step, recorded_status)


# The rebase --------------------------------------------------------------

def rebase(target: str | Kernel, project: Project, ws: Workspace, opts: RebaseOptions,
           progress: Progress) -> Rebase:
    """Apply the series to *target* (what the user typed, or a Kernel); stop at a
    conflict with a report."""
    matrix = project.matrix()
    started = time.monotonic()
    log_dir = ws.root / "rebase"
    log = ws.logs / "rebase.log"
    if isinstance(target, Kernel):
        kernel, spec = target, target.name
    else:
        kernel, spec = resolve_kernel(target, matrix, opts, log, ws), target
    report_dir = log_dir / kernel.name
    if (report_dir / "state.json").exists() and \
            recorded_status(report_dir / "state.json") in IN_PROGRESS:
        Rebase.load(report_dir / "state.json")   # one of another format says what to do
        raise L2wgError(f"a rebase onto {kernel.name} is already in progress: resolve the "
                        f"conflict and run 'tools/rebase {kernel.name} --continue', or "
                        f"'tools/rebase {kernel.name} --abort' (report: {report_dir / 'report.txt'})")
    log = report_dir / "rebase.log"
    report_dir.mkdir(parents=True, exist_ok=True)
    log.write_text("")
    series = project.series()
    canonical_kernel = matrix.get(matrix.canonical or matrix.default)
    _require_reachable(kernel, ws, opts)
    source = sources.fetch(kernel, ws, progress)
    target = ensure_tree(kernel, source, ws, progress, log)
    canonical = target if canonical_kernel.name == kernel.name else \
        _canonical_tree(canonical_kernel, ws, progress)
    trees.refuse_if_dirty(target.path, log)
    seconds = {"prepare": round(time.monotonic() - started, 1)}
    orig_ref = trees.git(target.path, "symbolic-ref", "-q", "HEAD", log=log, check=False).strip()
    state = Rebase(
        spec=spec, kernel=kernel.name, line=kernel.line, version=target.version,
        canonical=canonical_kernel.name, tree=str(target.path), pristine=target.pristine,
        canonical_tree=str(canonical.path), canonical_pristine=canonical.pristine,
        orig_head=_head(target.path, log), orig_ref=orig_ref or None,
        orig_record=store.read_json(target.record_path), alternates=[],
        strict=opts.strict, write=opts.write, report_dir=str(report_dir), seconds=seconds,
        build=opts.build, make_canonical=opts.make_canonical, arch=kernel.arch,
        fragments=list(kernel.fragments),
        steps=[Step(p.name, str(p.path), p.override, p.subject,
                    canonical_path=str(project.patches / p.name) if p.override else None)
               for p in series.patches(kernel.line)])
    if opts.make_canonical and canonical_kernel.name == kernel.name:
        raise L2wgError(f"{kernel.name} is already the canonical kernel (kernels.toml)")
    # Patches name blobs of the tree they were made on: the canonical one, or for an
    # override its own line's.  Every tree of the matrix in the workspace is lent.
    same_line = ws.tree(kernel.line)
    borrow = [canonical.path, same_line, *(ws.tree(k) for k in matrix.kernels)]
    state.alternates = add_alternates(target.path, [b for b in dict.fromkeys(borrow)
                                                    if (b / ".git").is_dir()])
    state.save()
    progress.step(f"{kernel.name}: applying {len(state.steps)} patch(es) to {target.version} "
                  f"in {target.path}")
    try:
        trees.git(target.path, "checkout", "-q", "-B", trees.BRANCH, target.pristine, log=log)
        return _proceed(state, project, ws, progress)
    except BaseException:
        if state.status == "running":
            _rollback(state)
        raise


def continue_rebase(spec: str | None, project: Project, ws: Workspace,
                    progress: Progress) -> Rebase:
    """After the conflict is resolved (or the build fixed) in the tree: record it,
    and apply the rest."""
    state = _in_progress(spec, ws)
    step = next((s for s in state.steps if s.status == "conflict"), None)
    if step is not None:
        _record_resolution(state, step)
        progress.step(f"{state.kernel}: {step.name} resolved")
    else:
        step = next((s for s in state.steps if s.build == "failed"), None)
        if step is None:
            raise L2wgError(f"the rebase onto {state.kernel} did not stop at a conflict or a "
                            f"build failure (it is '{state.status}': interrupted?), so there "
                            f"is nothing to continue; run 'tools/rebase {state.kernel} --abort' "
                            "and start again")
        _record_fix(state, step)
        progress.step(f"{state.kernel}: {step.name}: "
                      f"{'the fix folded in' if step.status == 'fixed' else 'unchanged'}")
    state.status, state.conflict = "running", None
    state.save()
    try:
        if state.build and not _build_passes(state, step, project, ws, progress):
            return _stopped(state, step)
        return _proceed(state, project, ws, progress)
    except BaseException:
        if state.status == "running":
            _rollback(state)
        raise


def _record_resolution(state: Rebase, step: Step) -> None:
    """The conflict of *step* is resolved in the tree: finish its ``git am``."""
    tree, log = state.tree_path, state.log
    before = _commit_before(state, step)
    files = [f.path for f in state.conflict.files] if state.conflict else []
    unmerged = _unmerged(tree, log)
    marked = [f for f in sorted(set(files) | set(unmerged)) if _has_markers(tree / f)]
    if marked:
        raise L2wgError(f"conflict markers remain in {', '.join(marked)} (in {tree}); "
                        "resolve them, then run --continue again")
    stages = _unmerged_stages(tree, log)
    undecided = [f for f, kinds in stages.items() if kinds != ["base", "ours", "theirs"]]
    if undecided:
        raise L2wgError(f"unmerged paths remain in {tree}: {', '.join(undecided)} (added or "
                        "deleted on one side): 'git add' or 'git rm' each, then --continue")
    if (tree / ".git" / "rebase-apply").exists():
        if unmerged:
            trees.git(tree, "add", "-A", "-f", "--", *unmerged, log=log)
        if not trees.git(tree, "diff", "--cached", "--name-only", log=log).strip():
            raise L2wgError(f"{step.name}: the resolution leaves no change in {tree}; the "
                            "series cannot drop a patch on one line: fix it, or --abort")
        done = run_git(tree, "am", "--continue", log=log, check=False, identity=True)
        if done.returncode != 0:
            raise L2wgError(f"git am --continue failed in {tree}: {_tail(done.output, 3)}", log)
    head = _head(tree, log)
    parent = trees.git(tree, "rev-parse", "HEAD^", log=log, check=False).strip()
    if head == before or parent != before:
        raise L2wgError(f"the 'git am' of {step.name} was ended outside l2wg (HEAD is not one "
                        f"commit on top of where it stopped); run --abort and start again")
    step.commit, step.status = head, "resolved"


def _record_fix(state: Rebase, step: Step) -> None:
    """*step* did not compile; fold what was changed in the tree into its commit."""
    tree, log = state.tree_path, state.log
    if _head(tree, log) != step.commit:
        raise L2wgError(f"{tree} is not at {step.name}'s commit {step.commit[:12]} any more; "
                        "change the files, not the history (or --abort and start again)")
    trees.git(tree, "add", "-A", log=log)
    if not trees.git(tree, "diff", "--cached", "--name-only", "HEAD", log=log).strip():
        return
    date = trees.git(tree, "log", "-1", "--format=%aD", log=log).strip()
    run_git(tree, "commit", "-q", "--amend", "--no-edit", "--no-verify", log=log,
            what=f"git commit --amend ({step.name}, fixed to compile)",
            env={"GIT_COMMITTER_NAME": "l2wg", "GIT_COMMITTER_EMAIL": "l2wg@l2wg.invalid",
                 "GIT_COMMITTER_DATE": date})
    step.commit, step.status, step.redundant = _head(tree, log), "fixed", False


def _build_passes(state: Rebase, step: Step, project: Project, ws: Workspace,
                  progress: Progress) -> bool:
    """--build: compile *step*'s commit; on failure the rebase stops at it."""
    kernel = Kernel(name=state.kernel, source=SourceSpec("local", path=state.tree_path),
                    version=state.version, fragments=tuple(state.fragments), arch=state.arch)
    try:
        outcome = buildcheck.check_commit(kernel, project, ws, state.tree_path, step.commit,
                                          state.log, progress)
    except L2wgError as error:
        # The build could not even start (a dirty source tree, a bad config): the
        # rebase stops at this patch all the same, keeping what was resolved so far.
        outcome = buildcheck.BuildCheck([], False, 0.0, [f"the build did not run: {error}"])
    step.build = "ok" if outcome.ok else "failed"
    step.build_errors, step.build_seconds = outcome.errors, outcome.seconds
    progress.step(f"  {step.name}: {'compiles' if outcome.ok else 'DOES NOT COMPILE'} "
                  f"({' '.join(outcome.targets)}, {outcome.seconds:.0f}s)")
    if not outcome.ok:
        state.status = "build"
    state.save()
    return outcome.ok


def abort_rebase(spec: str | None, ws: Workspace, progress: Progress) -> Rebase:
    """Put the tree back where it was before the rebase; patches/ was never touched."""
    state = _in_progress(spec, ws)
    _rollback(state)
    progress.step(f"{state.kernel}: rebase aborted; {state.tree} is back at "
                  f"{state.orig_head[:12]}")
    return state


def force_abort(spec: str | None, ws: Workspace, progress: Progress) -> str:
    """--abort --force: abort as usual when the state can be read; when it cannot (an
    older l2wg's, or corrupt), put the tree back as far as the file and the tree's
    record allow and set the state aside.  Returns what was done, for the terminal."""
    path = _state_path(spec, ws)
    try:
        state = Rebase.load(path)
    except StateError:
        state = None
    if state is not None:
        if state.status not in IN_PROGRESS:
            raise L2wgError(f"no rebase onto '{spec or path.parent.name}' is in progress")
        return summary(abort_rebase(path.parent.name, ws, progress))
    name = path.parent.name
    raw = store.read_json(path) or {}
    tree, log = ws.tree(name), path.parent / "rebase.log"
    done = "no work tree to put back"
    if (tree / ".git").is_dir():
        done = _restore_tree(tree, raw, ws, log)
    kept = path.with_name("state.json.broken")
    os.replace(path, kept)
    progress.step(f"{name}: unreadable rebase state set aside")
    return (f"{name}: rebase aborted without its state (set aside as {kept}); {done}; "
            "patches/ was never touched")


def _restore_tree(tree: Path, raw: dict, ws: Workspace, log: Path) -> str:
    """What _rollback does, from whatever an unreadable state file still says: git am
    aborted, the branch back at the commit before the rebase, borrowed objects dropped."""
    if (tree / ".git" / "rebase-apply").exists():
        run_git(tree, "am", "--abort", log=log, check=False, identity=True)
    record = trees.load(tree)
    head = raw.get("orig_head")
    known = isinstance(head, str) and run_git(
        tree, "cat-file", "-e", f"{head}^{{commit}}", log=log, check=False).returncode == 0
    if not known:
        head = (record.head or record.pristine) if record else None
    ref = raw.get("orig_ref")
    branch = ref.removeprefix("refs/heads/") if isinstance(ref, str) and \
        ref.startswith("refs/heads/") else trees.BRANCH
    if head:
        trees.git(tree, "checkout", "-q", "-f", "-B", branch, head, log=log)
    trees.git(tree, "update-index", "--clear-resolve-undo", log=log, check=False)
    listed = raw.get("alternates")
    added = [a for a in listed if isinstance(a, str)] if isinstance(listed, list) else []
    path = trees.alternates_file(tree)
    if path.exists():   # l2wg only ever borrows from the workspace's other trees
        added += [line for line in path.read_text().splitlines()
                  if Path(line).resolve().is_relative_to(ws.trees.resolve())]
    trees.remove_alternates(tree, added)
    return f"{tree} is back at {head[:12]}" if head else f"{tree}: git am aborted"


def _state_path(spec: str | None, ws: Workspace) -> Path:
    """The state file *spec* names (or the only one in progress or unreadable)."""
    base = ws.root / "rebase"
    if spec is not None:
        for name in dict.fromkeys((spec, spec.lstrip("v"))):
            if (base / name / "state.json").is_file():
                return base / name / "state.json"
        raise L2wgError(f"no rebase onto '{spec}' is in progress")
    found, broken = _scan(base)
    candidates = found + list(broken)
    if len(candidates) != 1:
        raise L2wgError("name the kernel: " + (f"rebases in progress: {', '.join(candidates)}"
                                               if candidates else "no rebase is in progress"))
    return base / candidates[0] / "state.json"


def _in_progress(spec: str | None, ws: Workspace) -> Rebase:
    """The rebase in progress that *spec* names (or the only one).  Only that kernel's
    state file is loaded: another kernel's stale or corrupt one never gets in the way."""
    base = ws.root / "rebase"
    if spec is None:
        found, broken = _scan(base)
        if len(found) == 1:
            return Rebase.load(base / found[0] / "state.json")
        if not found and len(broken) == 1:
            raise next(iter(broken.values()))
        names = found + [f"{name} (unreadable state)" for name in broken]
        raise L2wgError("name the kernel: " + (f"rebases in progress: {', '.join(names)}"
                                               if names else "no rebase is in progress"))
    for name in dict.fromkeys((spec, spec.lstrip("v"))):
        path = base / name / "state.json"
        if path.is_file() and recorded_status(path) in IN_PROGRESS:
            return Rebase.load(path)
    found, _ = _scan(base)
    raise L2wgError(f"no rebase onto '{spec}' is in progress"
                    + (f" (in progress: {', '.join(found)})" if found else ""))


def _scan(base: Path) -> tuple[list[str], dict[str, StateError]]:
    """The kernels whose rebase is in progress, and those whose state file cannot be
    loaded (unless it says the rebase finished), with the error it gives."""
    found: list[str] = []
    broken: dict[str, StateError] = {}
    for path in sorted(base.glob("*/state.json")) if base.is_dir() else []:
        try:
            if Rebase.load(path).status in IN_PROGRESS:
                found.append(path.parent.name)
        except StateError as error:
            try:
                finished = recorded_status(path) not in IN_PROGRESS
            except StateError:
                finished = False
            if not finished:
                broken[path.parent.name] = error
    return found, broken


def _commit_before(state: Rebase, step: Step) -> str:
    index = state.steps.index(step)
    earlier = [s.commit for s in state.steps[:index] if s.commit]
    return earlier[-1] if earlier else state.pristine


def _proceed(state: Rebase, project: Project, ws: Workspace, progress: Progress) -> Rebase:
    """Apply the pending patches (compiling each with --build); finish when all are in."""
    started = time.monotonic()
    for step in state.steps:
        if step.status != "pending":
            continue
        _apply_one(state, step, progress)
        state.save()
        if state.status == "running" and state.build and step.commit:
            _build_passes(state, step, project, ws, progress)
        if state.status != "running":
            state.seconds["apply"] = round(time.monotonic() - started, 1)
            return _stopped(state, step)
    state.seconds["apply"] = round(time.monotonic() - started, 1)
    return _finish(state, project, progress)


def _apply_one(state: Rebase, step: Step, progress: Progress) -> None:
    tree, log = state.tree_path, state.log
    before = _head(tree, log)
    check = run_git(tree, "apply", "--check", "-v", step.path, log=log, check=False)
    clean = check.returncode == 0
    step.offsets = re.findall(r"Hunk #\d+ succeeded at \d+ \(offset -?\d+ lines?\)", check.output)
    done = run_git(tree, "-c", "merge.conflictStyle=diff3", "am", "-3",
                   "--committer-date-is-author-date", "--no-gpg-sign", step.path,
                   log=log, check=False, identity=True)
    if done.returncode != 0:
        if not (tree / ".git" / "rebase-apply").exists():
            raise L2wgError(f"{step.name}: git am failed: {_tail(done.output, 2)}", log)
        step.status = "conflict"
        state.status = "conflict"
        state.save()   # recorded before it is described: --continue and --abort work regardless
        state.conflict = _describe(state, step, done.output)
    else:
        step.commit = _head(tree, log)
        step.status = ("clean" if clean else "merged") if step.commit != before else "empty"
        if step.status == "empty":
            step.commit = None
        elif step.canonical_path:
            step.redundant = _canonical_gives_the_same(state, step, before)
    progress.step(f"  {step.name}: {_status_text(step)}")
    if state.strict and step.status != "clean":
        state.status = "failed"


def _canonical_gives_the_same(state: Rebase, step: Step, before: str) -> bool:
    """Whether the canonical patch, applied exactly on *before*, makes the very tree the
    override made: then the override is not needed (a private index; no file touched)."""
    tree, log = state.tree_path, state.log
    index = tree / ".git" / "l2wg-canonical.index"
    env = {**IDENTITY, "GIT_INDEX_FILE": str(index)}
    try:
        run_git(tree, "read-tree", before, env=env, log=log)
        applied = run_git(tree, "apply", "--cached", step.canonical_path, env=env,
                          log=log, check=False, what=f"git apply --cached (is the override "
                                                     f"of {step.name} needed?)")
        if applied.returncode != 0:
            return False
        made = run_git(tree, "write-tree", env=env, log=log).output.strip()
    finally:
        index.unlink(missing_ok=True)
    return made == trees.git(tree, "rev-parse", f"{step.commit}^{{tree}}", log=log).strip()


def _describe(state: Rebase, step: Step, am_output: str) -> Conflict:
    """describe_conflict(); should it fail, the conflict with its files only, marked as
    not described (the traceback goes to the log): the rebase stays resumable."""
    try:
        return describe_conflict(state, step, am_output)
    except Exception as error:
        _log_text(state.log, f"# describing the conflict failed:\n{traceback.format_exc()}")
        try:
            files = [ConflictFile(path, " ".join(stages))
                     for path, stages in _unmerged_stages(state.tree_path, state.log).items()]
        except Exception:
            files = []
        return Conflict(step.name, step.path, step.subject, files, _tail(am_output, 12), "",
                        description_error=f"{type(error).__name__}: {error}")


def _stopped(state: Rebase, step: Step) -> Rebase:
    if state.status == "failed":   # --strict
        how = {"merged": "needs a three-way merge", "conflict": "conflicts",
               "empty": "is already in the kernel"}[step.status]
        state.notes.append(f"--strict: {step.name} does not apply exactly to {state.version} "
                           f"({how}); the tree was put back and patches/ is unchanged")
        _rollback(state, status="failed")
        write_report(state)
        raise L2wgError(f"--strict: {step.name} does not apply exactly to {state.kernel} "
                        f"({state.version}): it {how}; nothing changed "
                        f"(report: {state.dir / 'report.txt'})")
    write_report(state)
    return state


def _rollback(state: Rebase, status: str = "aborted") -> None:
    tree, log = state.tree_path, state.log
    if (tree / ".git" / "rebase-apply").exists():
        run_git(tree, "am", "--abort", log=log, check=False, identity=True)
    if state.orig_ref:
        trees.git(tree, "checkout", "-q", "-f", "-B", state.orig_ref.removeprefix("refs/heads/"),
                  state.orig_head, log=log)
    else:
        trees.git(tree, "checkout", "-q", "-f", "--detach", state.orig_head, log=log)
    trees.git(tree, "update-index", "--clear-resolve-undo", log=log, check=False)
    remove_alternates(tree, state.alternates)
    if state.orig_record is not None:
        store.write_json(trees.record_path(tree), state.orig_record)
    state.status = status
    state.save()
    if status == "aborted":
        write_report(state)



# Finishing: export, overrides, range-diff ---------------------------------

def _finish(state: Rebase, project: Project, progress: Progress) -> Rebase:
    tree, log = state.tree_path, state.log
    head = _head(tree, log)
    started = time.monotonic()
    state.range_diff = range_diff(state, project, log)
    exported = export_patches(state, state.dir / "export", log)
    if state.alternates:
        localize_objects(tree, state.pristine, head, log)
        # A resolved conflict leaves its three stages in the index (resolve-undo);
        # the base one is a borrowed blob.
        trees.git(tree, "update-index", "--clear-resolve-undo", log=log)
        remove_alternates(tree, state.alternates)
        verify_connected(tree, state.pristine, head, log)
        state.alternates = []
    changed = [s for s in state.steps
               if s.status in ("merged", "resolved", "fixed") and not s.redundant]
    if state.kernel == state.canonical:
        # The canonical patches are exactly format-patch of the canonical tree (their
        # index lines too, which three-way merges on other lines rely on).
        changed = [s for s in state.steps if s.commit]
    else:
        changed += stale_overrides(state, exported)
    redundant = [s for s in state.steps if s.redundant]
    empty = [s.name for s in state.steps if s.status == "empty"]
    if empty:
        state.notes.append(f"already in {state.kernel} (nothing left to apply): "
                           f"{', '.join(empty)}; the series cannot skip a patch on one line")
    kept = not changed and not redundant
    if state.make_canonical and state.write and not empty:
        kept = _make_canonical(state, project, exported)
    elif state.write and (changed or redundant):
        kept = _keep_patches(state, project, exported, changed)
        _drop_redundant(state, redundant)
    elif changed or redundant:
        state.notes.append(f"--no-write: refreshed patches left in {state.dir / 'export'}")
    _update_record(state, project, head, kept and not empty)
    state.status = "done"
    state.seconds["finish"] = round(time.monotonic() - started, 1)
    state.save()
    write_report(state)
    progress.done()
    return state


def export_patches(state: Rebase, out: Path, log: Path) -> dict[str, Path]:
    """``git format-patch`` of each new commit, named like the series file it came from.

    Stable: no commit id (``--zero-commit``), no git version (``--no-signature``),
    the original Subject prefix ([PATCH n/N]) kept, and ``base-commit:`` the
    pristine commit (deterministic for a given source), without the
    ``prerequisite-patch-id:`` lines of the earlier patches.
    """
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    exported = {}
    for step in state.steps:
        if not step.commit:
            continue
        text = trees.git(state.tree_path, "format-patch", "--stdout", "--zero-commit",
                         "--no-signature", "--no-numbered", f"--base={state.pristine}", "-1",
                         step.commit, log=log)
        text = _keep_subject_prefix(text, Path(step.path))
        # format-patch --base lists the earlier patches' ids: churn in every later
        # patch whenever one changes.  The series file already says what comes first.
        text = re.sub(r"^prerequisite-patch-id: .*\n", "", text, flags=re.M)
        (out / step.name).write_text(text)
        exported[step.name] = out / step.name
    return exported


def stale_overrides(state: Rebase, exported: dict[str, Path]) -> list[Step]:
    """Overrides that applied cleanly but are not what this tree now exports: an
    ``index`` line (the blob a file had before the patch) that an edit of an
    earlier patch moved, which three-way merges onto this line would look for."""
    stale = [s for s in state.steps
             if s.override and s.status == "clean" and s.commit and not s.redundant
             and s.name in exported
             and Path(s.path).read_bytes() != exported[s.name].read_bytes()]
    for step in stale:
        state.notes.append(f"{step.name}: the override {step.path} applied cleanly but is "
                           "refreshed: its index lines (or text) no longer matched the tree")
    return stale


def _keep_subject_prefix(text: str, original: Path) -> str:
    old = re.search(r"^Subject: (\[[^]]*\] )?", original.read_text(errors="replace"), re.M)
    prefix = old.group(1) or "" if old else "[PATCH] "
    return re.sub(r"^Subject: \[PATCH\] ", lambda _: f"Subject: {prefix}", text, count=1,
                  flags=re.M)


def _keep_patches(state: Rebase, project: Project, exported: dict[str, Path],
                  changed: list[Step]) -> bool:
    """Write the refreshed patches where this kernel needs its own version (atomically)."""
    if state.kernel == state.canonical:
        target_dir = None   # the canonical kernel moves its own patches forward
    elif state.line == _canonical_line(project, state):
        state.notes.append(
            f"{state.kernel} is a point release of the canonical line {state.line}: an override "
            f"in patches/{state.line}/ would also replace the canonical patch, so the refreshed "
            f"patch(es) {', '.join(s.name for s in changed)} were left in {state.dir / 'export'}")
        return False
    else:
        target_dir = project.patches / state.line
    staged = []
    for step in changed:
        final = Path(step.path) if target_dir is None else target_dir / step.name
        text = exported[step.name].read_bytes()
        if final.exists() and final.read_bytes() == text:
            continue
        final.parent.mkdir(parents=True, exist_ok=True)
        part = final.with_name(f".{final.name}.{os.getpid()}.part")
        part.write_bytes(text)
        staged.append((part, final))
        step.written = str(final)
    for part, final in staged:
        os.replace(part, final)
    return True


def _drop_redundant(state: Rebase, redundant: list[Step]) -> None:
    """Remove the overrides that the canonical patches now reproduce exactly."""
    for step in redundant:
        Path(step.path).unlink(missing_ok=True)
        state.notes.append(f"{step.name}: the override {step.path} was removed: the canonical "
                           f"patch applies exactly on {state.kernel} and gives the same tree")
    for directory in {Path(s.path).parent for s in redundant}:
        if directory.is_dir() and not any(directory.iterdir()):
            directory.rmdir()


def _make_canonical(state: Rebase, project: Project, exported: dict[str, Path]) -> bool:
    """--make-canonical: the series as it now stands on this kernel becomes patches/
    itself, and kernels.toml names this kernel canonical.  Other lines' overrides
    were made against the old canonical patches: they are set aside in the report
    directory, and those lines are rebased afresh (the note says how)."""
    staged = []
    for step in state.steps:
        final = project.patches / step.name
        part = final.with_name(f".{final.name}.{os.getpid()}.part")
        part.write_bytes(exported[step.name].read_bytes())
        staged.append((part, final))
        step.written = str(final)
    aside = state.dir / "previous-overrides"
    shutil.rmtree(aside, ignore_errors=True)
    moved = []
    for line, names in project.series().overrides().items():
        if line != state.line:
            shutil.copytree(project.patches / line, aside / line)
            moved.append(f"{line} ({', '.join(names)})")
    for part, final in staged:
        os.replace(part, final)
    for line in project.series().overrides():
        shutil.rmtree(project.patches / line)
    set_canonical(project.kernels_toml, state.kernel)
    state.notes.append(f"{state.kernel} is now the canonical kernel: patches/ holds the series "
                       f"as made on {state.version}, and kernels.toml says canonical = "
                       f"\"{state.kernel}\"")
    if moved:
        state.notes.append(f"the overrides of other lines were made against the old canonical "
                           f"patches and were set aside in {aside}: {'; '.join(moved)}")
    others = sorted({k.line for k in project.matrix().select() if k.line != state.line})
    if others:
        state.notes.append("next, carry the new canonical series to the other lines: "
                           + "; ".join(f"tools/rebase {line} --build" for line in others))
    return True


def _canonical_line(project: Project, state: Rebase) -> str:
    return project.matrix().get(state.canonical).line


def _update_record(state: Rebase, project: Project, head: str, kept: bool) -> None:
    """The tree record: at HEAD now; the series digest only if patches/ describes HEAD."""
    record = trees.load(state.tree_path)
    if record is None:
        return
    record.series_digest = project.series().digest(state.line) if kept else None
    record.head = head
    record.commits = {s.name: s.commit for s in state.steps if s.commit}
    record.save()


def range_diff(state: Rebase, project: Project, log: Path) -> str:
    """``git range-diff`` of the canonical series on the canonical base vs the new commits."""
    try:
        old_head = previous_series(state, project, log)
    except L2wgError as error:
        return f"(no range-diff: {error.message})"
    done = run_git(state.tree_path, "range-diff", "--no-color",
                   f"{state.canonical_pristine}..{old_head}", f"{state.pristine}..HEAD",
                   log=log, check=False)
    return done.output.rstrip() if done.returncode == 0 else \
        f"(no range-diff: {_tail(done.output, 1)})"


def previous_series(state: Rebase, project: Project, log: Path) -> str:
    """The canonical series as commits on the canonical pristine tree, built in the
    target repository with a private index (no work tree is touched)."""
    tree = state.tree_path
    canonical = project.matrix().get(state.canonical)
    index = tree / ".git" / "l2wg-previous.index"
    env = {**IDENTITY, "GIT_INDEX_FILE": str(index)}
    try:
        run_git(tree, "read-tree", state.canonical_pristine, env=env, log=log,
                what="git read-tree (canonical base)")
        parent = state.canonical_pristine
        for patch in project.series().patches(canonical.line):
            parent = _commit_patch(tree, patch, parent, env, log)
    finally:
        index.unlink(missing_ok=True)
    return parent


def _commit_patch(tree: Path, patch: Patch, parent: str, env: dict, log: Path) -> str:
    run_git(tree, "apply", "--cached", patch.path, env=env, log=log,
            what=f"git apply --cached {patch.name} (canonical series)")
    tree_id = run_git(tree, "write-tree", env=env, log=log).output.strip()
    msg = tree / ".git" / "l2wg-previous.msg"
    info = run_git(tree, "mailinfo", msg, os.devnull,
                   input=patch.path.read_text(errors="replace")).output
    fields = dict(re.findall(r"^(Author|Email|Subject|Date): (.*)$", info, re.M))
    message = fields.get("Subject", patch.name) + "\n\n" + msg.read_text()
    msg.unlink(missing_ok=True)
    author = {"GIT_AUTHOR_NAME": fields.get("Author", "l2wg"),
              "GIT_AUTHOR_EMAIL": fields.get("Email", "l2wg@l2wg.invalid"),
              "GIT_AUTHOR_DATE": fields.get("Date", IDENTITY["GIT_AUTHOR_DATE"])}
    return run_git(tree, "commit-tree", tree_id, "-p", parent, input=message,
                   env={**env, **author}, log=log).output.strip()


# Helpers -----------------------------------------------------------------

def _require_reachable(kernel: Kernel, ws: Workspace, opts: RebaseOptions) -> None:
    """A source only the internet has, and not cached yet, needs --online."""
    spec = kernel.source
    if opts.online or not spec.needs_network or ws.tree(kernel.name).is_dir():
        return
    if spec.type == "tarball":
        cached = (ws.sources / "tarballs" / (spec.url or "").rstrip("/").rsplit("/", 1)[-1])
        if cached.is_file():
            return
    if spec.type == "git" and (ws.sources / "git").is_dir() and any(
            (ws.sources / "git").glob(f"*{(spec.ref or '').replace('/', '_')}")):
        return
    raise L2wgError(f"kernel {kernel.name} comes from {spec.describe()}, which is not cached "
                    "and needs the internet (only the Debian archive is reachable offline); "
                    "pass --online to fetch it")


def _canonical_tree(canonical: Kernel, ws: Workspace, progress: Progress) -> trees.Tree:
    """The canonical kernel's tree (imported if needed): its objects back the merges."""
    record = trees.load(ws.tree(canonical.name))
    if record is not None and (record.path / ".git").is_dir():
        return record
    source = sources.fetch(canonical, ws, progress)
    return trees.ensure_pristine(canonical, source, ws, progress)


def _head(tree: Path, log: Path) -> str:
    return trees.git(tree, "rev-parse", "HEAD", log=log).strip()



def _log_text(log: Path, text: str) -> None:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a") as f:
        f.write(text)



# --all -------------------------------------------------------------------

def rebase_all(project: Project, ws: Workspace, opts: RebaseOptions,
               progress: Progress) -> list[tuple[str, str, Rebase | None]]:
    """Rebase onto every kernel of the matrix (offline-available ones unless --online)."""
    results = []
    for kernel in project.matrix().select(online=opts.online):
        try:
            state = rebase(kernel.name, project, ws, opts, progress)
            if state.status == "conflict":
                abort_rebase(kernel.name, ws, progress)
            results.append((kernel.name, state.status, state))
        except L2wgError as error:
            results.append((kernel.name, f"error: {error}", None))
    return results


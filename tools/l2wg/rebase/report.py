"""The rebase's report: report.txt and report.json, the terminal summary, and
the --all table."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from .. import store
from .state import Conflict, Rebase, Step


def _status_text(step: Step) -> str:
    text = {"clean": "applied cleanly", "merged": "applied with a three-way merge",
            "conflict": "CONFLICT", "resolved": "conflict resolved by hand",
            "fixed": "changed by hand to compile",
            "empty": "already in this kernel (empty after merge)", "pending": "not applied"}
    extra = f" ({len(step.offsets)} hunk(s) at an offset)" if step.offsets else ""
    build = {"ok": ", compiles", "failed": ", DOES NOT COMPILE"}.get(step.build, "")
    override = (" [override, not needed: the canonical patch gives the same tree]"
                if step.redundant else " [override]" if step.override else "")
    return text[step.status] + extra + build + override



def write_report(state: Rebase) -> Path:
    """report.txt and report.json in the rebase's directory; returns the text one."""
    store.write_json(state.dir / "report.json", asdict(state))
    path = state.dir / "report.txt"
    with store.staging_file(path) as tmp:
        tmp.write_text(report_text(state))
    return path


def report_text(state: Rebase) -> str:
    lines = [f"rebase of the l2wireguard series onto {state.kernel} ({state.version}): "
             f"{state.status}",
             f"  tree:      {state.tree}",
             f"  canonical: {state.canonical} ({state.canonical_tree})", ""]
    width = max((len(s.name) for s in state.steps), default=10)
    lines += [f"  {s.name:<{width}}  {_status_text(s)}" for s in state.steps]
    if state.conflict:
        lines += ["", *_conflict_text(state, state.conflict)]
    broken = next((s for s in state.steps if s.build == "failed"), None)
    if broken is not None:
        lines += ["", *_build_text(state, broken)]
    written = [s.written for s in state.steps if s.written]
    if written:
        lines += ["", "refreshed patches written:", *(f"  {w}" for w in written)]
    if state.notes:
        lines += ["", *state.notes]
    if state.range_diff and state.status == "done":
        lines += ["", f"range-diff (canonical series on {state.canonical} vs this kernel):",
                  state.range_diff]
    return "\n".join(lines) + "\n"


def _conflict_text(state: Rebase, conflict: Conflict) -> list[str]:
    lines = [f"CONFLICT in {conflict.patch}: {conflict.subject}",
             f"  patch: {conflict.patch_path}"]
    if conflict.description_error:
        lines += [f"  the conflict could not be described ({conflict.description_error}; the "
                  f"traceback is in {state.log}); 'git status' in the tree shows it.  git am said:",
                  *(f"    {line}" for line in conflict.git_output.splitlines())]
    elif not conflict.files:
        lines += ["  git could not merge it (no conflicting file was left):",
                  *(f"    {line}" for line in conflict.git_output.splitlines())]
    for entry in conflict.files:
        lines.append(f"  file {entry.path} (stages: {entry.stages})")
        if "ours" not in entry.stages:
            lines.append(f"    {entry.path} does not exist in {state.kernel}")
        for hunk in entry.hunks:
            where = f", lines {hunk.target_lines} of {state.kernel}'s file" \
                if hunk.target_lines else ""
            lines.append(f"    at line {hunk.line} (patch hunk {hunk.patch_hunk or '?'}{where}):")
            lines += _side(f"{state.kernel} has", hunk.ours)
            lines += _side(f"{state.canonical} had (the patch's base)", hunk.base)
            lines += _side("the patch wants", hunk.theirs)
            if hunk.history:
                lines += ["      upstream commits touching these lines:",
                          *(f"        {c}" for c in hunk.history)]
        if entry.history:
            lines += ["    upstream commits touching the file between the two bases:",
                      *(f"      {c}" for c in entry.history)]
        if entry.base_diff:
            lines += [f"    how the file changed from {state.canonical} to {state.kernel}:",
                      *(f"      {line}" for line in entry.base_diff.splitlines())]
    lines += ["", *([conflict.history_note, ""] if conflict.history_note else []),
              "next:",
              f"  cd {state.tree}   # resolve the conflict markers (git am is in progress)",
              "  git am --show-current-patch=diff   # the patch being applied",
              f"  tools/rebase {state.kernel} --continue   # or --abort to go back"]
    return lines


def _build_text(state: Rebase, step: Step) -> list[str]:
    return [f"DOES NOT COMPILE: {step.name}: {step.subject}",
            f"  it applied ({step.status}), but make failed on {state.kernel}; the compiler "
            f"said (the whole output is in {state.log}):",
            *(f"    {line}" for line in step.build_errors),
            "", "next:",
            f"  cd {state.tree}   # HEAD is {step.name}'s commit; change the files so it builds",
            f"  tools/rebase {state.kernel} --continue   # folds the change into the patch and "
            "compiles it again (or --abort)"]


def _side(title: str, body: list[str]) -> list[str]:
    return [f"      {title}:", *(f"        | {line}" for line in body or ["(nothing)"])]


def summary(state: Rebase) -> str:
    """What the terminal shows at the end."""
    lines = [f"{state.kernel} ({state.version}): " + {
        "done": "series carried over", "conflict": "stopped at a conflict",
        "build": "stopped: a patch does not compile",
        "aborted": "aborted", "failed": "failed"}.get(state.status, state.status)]
    lines += [f"  {s.name}: {_status_text(s)}" for s in state.steps]
    written = [s.written for s in state.steps if s.written]
    lines += [f"  wrote {w}" for w in written]
    if state.status == "done" and not written:
        lines.append("  patches/ unchanged")
    lines += [f"  {note}" for note in state.notes]
    if state.status == "done" and state.range_diff:
        lines += ["  range-diff against the canonical series:",
                  *(f"    {line}" for line in state.range_diff.splitlines())]
    timing = ", ".join(f"{k} {v:.1f}s" for k, v in state.seconds.items())
    if timing:
        lines.append(f"  time: {timing}")
    if state.status == "conflict" and state.conflict:
        lines.append(f"  conflicting files: {', '.join(f.path for f in state.conflict.files)}")
        lines.append(f"  resolve in {state.tree}, then: tools/rebase {state.kernel} --continue "
                     "(or --abort)")
    broken = next((s for s in state.steps if s.build == "failed"), None)
    if state.status == "build" and broken is not None:
        lines += [f"  {broken.name} does not compile on {state.kernel}:",
                  *(f"    {line}" for line in broken.build_errors[:5]),
                  f"  fix it in {state.tree}, then: tools/rebase {state.kernel} --continue "
                  "(or --abort)"]
    lines.append(f"  report: {state.dir / 'report.txt'} (and report.json)")
    return "\n".join(lines)



def table(results: list[tuple[str, str, Rebase | None]]) -> str:
    lines = [f"{'kernel':<10} {'version':<10} {'clean':>5} {'merged':>6} {'conflict':>8}  result"]
    for name, status, state in results:
        counts = {k: sum(1 for s in state.steps if s.status == k) for k in
                  ("clean", "merged", "conflict")} if state else {}
        lines.append(f"{name:<10} {state.version if state else '-':<10} "
                     f"{counts.get('clean', '-'):>5} {counts.get('merged', '-'):>6} "
                     f"{counts.get('conflict', '-'):>8}  {status}")
    return "\n".join(lines)


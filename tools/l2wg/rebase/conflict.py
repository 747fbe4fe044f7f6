"""Describing a conflict: the regions git left, matched to the patch's hunks, placed
in the target's file, with the upstream history (or the base diff) behind them."""

from __future__ import annotations

import re
from pathlib import Path

from .. import tree as trees
from ..git import run_git
from .state import Conflict, ConflictFile, Hunk, Rebase, Step

MARKER_RE = re.compile(r"^(<<<<<<<( |$)|\|\|\|\|\|\|\|( |$)|=======$|>>>>>>>( |$))")
HISTORY_LIMIT = 30
BASE_DIFF_LIMIT = 120


def describe_conflict(state: Rebase, step: Step, am_output: str) -> Conflict:
    tree, log = state.tree_path, state.log
    hunks_by_file = parse_patch(Path(step.path).read_text(errors="replace"))
    history_ok = _history_base(state) is not None
    files = []
    for path, stages in _unmerged_stages(tree, log).items():
        entry = ConflictFile(path, " ".join(stages))
        if "ours" in stages and (tree / path).is_file():
            text = (tree / path).read_text(errors="replace")
            entry.hunks = conflict_regions(path, text)
            ours_text = trees.git(tree, "show", f"HEAD:{path}", log=None, check=False)
            for hunk in entry.hunks:
                hunk.patch_hunk = match_patch_hunk(hunk, hunks_by_file.get(path, []))
                hunk.target_lines = locate(hunk.ours, ours_text)
        if history_ok:
            _add_history(state, entry)
        else:
            entry.base_diff = _base_diff(state, entry)
        files.append(entry)
    note = ("history: upstream commits between the two bases are listed per file and hunk"
            if history_ok else
            f"no history: {state.canonical} and {state.kernel} come from sources without a "
            "shared git history (Debian source packages or tarballs); the change between "
            "the two bases is shown per file instead")
    return Conflict(step.name, step.path, step.subject, files, _tail(am_output, 12), note)


def _unmerged_stages(tree: Path, log: Path) -> dict[str, list[str]]:
    out = trees.git(tree, "ls-files", "-u", "-z", log=log)
    names = {"1": "base", "2": "ours", "3": "theirs"}
    stages: dict[str, list[str]] = {}
    for record in out.split("\0"):
        if record:
            meta, path = record.split("\t", 1)
            stages.setdefault(path, []).append(names[meta.split()[2]])
    return stages


def _unmerged(tree: Path, log: Path) -> list[str]:
    return list(_unmerged_stages(tree, log))


def _has_markers(path: Path) -> bool:
    if not path.is_file():
        return False
    return any(MARKER_RE.match(line) for line in path.read_text(errors="replace").splitlines())


def conflict_regions(path: str, text: str) -> list[Hunk]:
    """The diff3-style conflict regions of a file: ours, base and theirs lines."""
    hunks, current, part = [], None, ""
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith("<<<<<<<"):
            current, part = Hunk(path, number, [], [], []), "ours"
        elif current is None:
            continue
        elif line.startswith("|||||||"):
            part = "base"
        elif line == "=======":
            part = "theirs"
        elif line.startswith(">>>>>>>"):
            hunks.append(current)
            current = None
        else:
            getattr(current, part).append(line)
    return hunks


def parse_patch(text: str) -> dict[str, list[tuple[str, list[str], list[str]]]]:
    """Per file of a patch: (@@ header, old lines, new lines) of each hunk."""
    files: dict[str, list] = {}
    current: list | None = None
    hunk = None
    for line in text.splitlines():
        if line.startswith("diff --git "):
            current, hunk = None, None
        elif line.startswith("+++ "):
            name = line[4:].strip()
            current = files.setdefault(name[2:] if name.startswith("b/") else name, [])
        elif line.startswith("--- ") and hunk is None:
            old = line[4:].strip()
            if old != "/dev/null":
                current = files.setdefault(old[2:] if old.startswith("a/") else old, [])
        elif line.startswith("@@") and current is not None:
            hunk = (line.split(" @@")[0] + " @@", [], [])
            current.append(hunk)
        elif hunk is not None and line[:1] in (" ", "-", "+"):
            if line[:1] in (" ", "-"):
                hunk[1].append(line[1:])
            if line[:1] in (" ", "+"):
                hunk[2].append(line[1:])
        elif line.startswith("-- ") or line == "--":
            hunk = None
    return files


def match_patch_hunk(hunk: Hunk, candidates: list[tuple[str, list[str], list[str]]]) -> str | None:
    """The patch hunk sharing most lines with the region's base and theirs sides."""
    best, score = None, 0
    wanted = set(hunk.theirs) | set(hunk.base)
    for header, old, new in candidates:
        overlap = len(wanted & (set(old) | set(new)))
        if overlap > score:
            best, score = header, overlap
    return best


def locate(lines: list[str], text: str) -> str | None:
    """Where *lines* sit in *text*, as "first-last" line numbers (1-based)."""
    if not lines:
        return None
    haystack = text.splitlines()
    for start in range(len(haystack) - len(lines) + 1):
        if haystack[start:start + len(lines)] == lines:
            return f"{start + 1}-{start + len(lines)}"
    return None


def _history_base(state: Rebase) -> str | None:
    """The merge base of the two pristine commits, when they share history."""
    done = run_git(state.tree_path, "merge-base", state.canonical_pristine, state.pristine,
                   log=state.log, check=False)
    return done.output.strip() if done.returncode == 0 and done.output.strip() else None


def _add_history(state: Rebase, entry: ConflictFile) -> None:
    """Upstream commits between the merge base and each side's base: for the file, and
    (``git log -L``) for the lines of each conflicting hunk."""
    base = _history_base(state)
    tree, log = state.tree_path, state.log
    for tip in (state.pristine, state.canonical_pristine):
        if tip == base:
            continue
        out = run_git(tree, "log", "--no-merges", f"-n{HISTORY_LIMIT}",
                      "--format=%h %s", f"{base}..{tip}", "--", entry.path,
                      log=log, check=False).output
        entry.history += [line for line in out.splitlines() if line.strip()]
        text = trees.git(tree, "show", f"{tip}:{entry.path}", log=None, check=False)
        for hunk in entry.hunks:
            span = locate(hunk.ours if tip == state.pristine else hunk.base, text)
            if not span:
                continue
            start, end = span.split("-")
            done = run_git(tree, "log", "--no-merges", "-s", "--format=%h %s",
                           f"-L{start},{end}:{entry.path}", f"{base}..{tip}",
                           log=log, check=False)
            if done.returncode == 0:
                hunk.history += [line for line in done.output.splitlines() if line.strip()]


def _base_diff(state: Rebase, entry: ConflictFile) -> str:
    """How the file changed from the canonical base to the target's: the diff hunks
    near the conflicting lines (all of them when the lines could not be placed)."""
    out = run_git(state.tree_path, "diff", "--no-color", state.canonical_pristine,
                  state.pristine, "--", entry.path, check=False).output
    header, hunks = _split_diff(out)
    spans = [tuple(int(n) for n in h.target_lines.split("-")) for h in entry.hunks
             if h.target_lines]
    if spans:
        hunks = [h for h in hunks if any(_near(h[0], span) for span in spans)] or hunks[:1]
    lines = header + [line for _, body in hunks for line in body]
    if len(lines) > BASE_DIFF_LIMIT:
        lines = lines[:BASE_DIFF_LIMIT] + [f"... ({len(lines) - BASE_DIFF_LIMIT} more lines)"]
    if lines:
        lines.append(f"(whole file: git -C {state.tree} diff {state.canonical_pristine[:12]} "
                     f"{state.pristine[:12]} -- {entry.path})")
    return "\n".join(lines)


def _split_diff(text: str) -> tuple[list[str], list[tuple[str, list[str]]]]:
    header: list[str] = []
    hunks: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if line.startswith("@@"):
            hunks.append((line, [line]))
        elif hunks:
            hunks[-1][1].append(line)
        else:
            header.append(line)
    return header, hunks


def _near(hunk_header: str, span: tuple[int, ...], slack: int = 10) -> bool:
    """Whether a diff hunk's new-side range comes within *slack* lines of *span*."""
    match = re.match(r"@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@", hunk_header)
    if not match:
        return True
    start = int(match.group(1))
    end = start + int(match.group(2) or 1)
    return start <= span[-1] + slack and end >= span[0] - slack



def _tail(output: str, count: int) -> str:
    lines = [line for line in output.splitlines() if line.strip() and not line.startswith("hint:")]
    return "\n".join(lines[-count:])

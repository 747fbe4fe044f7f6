"""The rebase's records: what the user asked for, each patch's step, the conflict
and the whole rebase, kept as ``state.json`` in its report directory.

``state.json`` carries a ``format`` number, raised whenever a record's fields
change.  A state file of another format, a corrupt one, or one whose fields
do not fit is refused with one line that says how to get out
(``tools/rebase KERNEL --abort --force``, or deleting the directory); only
that kernel's rebase is affected.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .. import store
from ..errors import L2wgError

#: The layout of state.json.  Files written before it had a number are format 0.
#: Format 2 added fields with defaults (--build, --make-canonical), so a format 1
#: file still loads.
FORMAT = 2
READABLE = (1, 2)
#: A rebase in one of these states is waiting for --continue or --abort: running
#: (interrupted), conflict (a patch did not merge), build (a patch did not compile).
IN_PROGRESS = ("conflict", "build", "running")


@dataclass(frozen=True)
class RebaseOptions:
    """What the user asked for."""

    strict: bool = False    # fail on anything but an exact apply (quilt --fuzz=0 discipline)
    online: bool = False    # versions not in kernels.toml may come from kernel.org
    write: bool = True      # keep refreshed patches in patches/ when the rebase completes
    build: bool = False     # compile each patch on the target; stop at one that does not
    make_canonical: bool = False   # the target becomes the line the patches are made on


@dataclass
class Step:
    """One patch of the series on the target kernel."""

    name: str
    path: str                   # the file applied (canonical or override)
    override: bool
    subject: str
    #: pending, clean, merged, conflict, resolved (a conflict resolved by hand),
    #: fixed (changed by hand to compile), empty
    status: str = "pending"
    offsets: list[str] = field(default_factory=list)
    commit: str | None = None
    written: str | None = None  # where its refreshed version was kept, if anywhere
    canonical_path: str | None = None   # the canonical patch, when an override is used
    redundant: bool = False     # the canonical patch applies exactly and gives the same tree
    build: str = ""             # --build: "", "ok" or "failed"
    build_errors: list[str] = field(default_factory=list)
    build_seconds: float = 0.0


@dataclass
class Hunk:
    """One conflict region left by the merge."""

    file: str
    line: int                   # of the <<<<<<< marker in the conflicted file
    ours: list[str]             # the target kernel's lines
    base: list[str]             # the canonical kernel's lines (the patch's preimage)
    theirs: list[str]           # what the patch wants there
    patch_hunk: str | None = None     # the patch's @@ header this region belongs to
    target_lines: str | None = None   # where ``ours`` sits in the target's file, "a-b"
    history: list[str] = field(default_factory=list)


@dataclass
class ConflictFile:
    path: str
    stages: str                 # what git has: "base ours theirs", "base theirs" (deleted here)...
    hunks: list[Hunk] = field(default_factory=list)
    history: list[str] = field(default_factory=list)
    base_diff: str = ""         # canonical base -> target base, this file, when no history


@dataclass
class Conflict:
    patch: str
    patch_path: str
    subject: str
    files: list[ConflictFile]
    git_output: str             # the tail of git am's output
    history_note: str
    description_error: str = ""   # why describing it failed, when it did (files then bare)


@dataclass
class Rebase:
    """A rebase: its state while in progress and its record when done (state.json)."""

    spec: str                   # what the user typed
    kernel: str
    line: str
    version: str
    canonical: str
    tree: str
    pristine: str
    canonical_tree: str
    canonical_pristine: str
    orig_head: str
    orig_ref: str | None
    orig_record: dict | None
    alternates: list[str]
    strict: bool
    write: bool
    steps: list[Step]
    build: bool = False         # --build: each patch compiled (arch and fragments below)
    make_canonical: bool = False
    arch: str = "x86_64"
    fragments: list[str] = field(default_factory=list)
    status: str = "running"     # running, conflict, done, aborted, failed
    conflict: Conflict | None = None
    range_diff: str = ""
    notes: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    report_dir: str = ""

    @property
    def dir(self) -> Path:
        return Path(self.report_dir)

    @property
    def tree_path(self) -> Path:
        return Path(self.tree)

    @property
    def log(self) -> Path:
        return self.dir / "rebase.log"

    def save(self) -> None:
        store.write_json(self.dir / "state.json", {"format": FORMAT, **asdict(self)})

    @classmethod
    def load(cls, path: Path) -> "Rebase":
        """The rebase recorded in *path*; a StateError (one line, with the way out)
        for a file of another format, a corrupt one, or fields that do not fit."""
        data = _read(path)
        found = data.pop("format", 0)
        if found not in READABLE:
            age = ("another" if not isinstance(found, int) else
                   "an older" if found < FORMAT else "a newer")
            raise StateError(path, f"written by {age} l2wg (state format {found!r}, this "
                                   f"l2wg reads {READABLE[0]} to {FORMAT})")
        try:
            return store.from_json(cls, data)
        except ValueError as error:
            raise StateError(path, f"not a valid rebase state ({error})") from None


class StateError(L2wgError):
    """A state.json that cannot be used: says which kernel's, why, and what to do."""

    def __init__(self, path: Path, why: str):
        kernel = path.parent.name
        super().__init__(f"{path}: {why}; run 'tools/rebase {kernel} --abort --force' (puts "
                         f"the tree back as far as it can) or delete {path.parent}")
        self.path = path


def recorded_status(path: Path) -> str:
    """The status *path* records, read leniently (any format): enough to tell a
    finished rebase from one in progress.  A StateError when even that is unreadable."""
    status = _read(path).get("status")
    if not isinstance(status, str):
        raise StateError(path, "not a rebase state (no status)")
    return status


def _read(path: Path) -> dict:
    try:
        text = path.read_text()
    except OSError as error:
        raise StateError(path, f"unreadable ({error.strerror})") from None
    try:
        data = json.loads(text)
    except ValueError as error:
        raise StateError(path, f"corrupt, not JSON ({error})") from None
    if not isinstance(data, dict):
        raise StateError(path, "corrupt, not a JSON object")
    return data

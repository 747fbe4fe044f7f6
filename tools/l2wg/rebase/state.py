"""The rebase's records: what the user asked for, each patch's step, the conflict
and the whole rebase, kept as ``state.json`` in its report directory."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from .. import store
from ..errors import L2wgError


@dataclass(frozen=True)
class RebaseOptions:
    """What the user asked for."""

    strict: bool = False    # fail on anything but an exact apply (quilt --fuzz=0 discipline)
    online: bool = False    # versions not in kernels.toml may come from kernel.org
    write: bool = True      # keep refreshed patches in patches/ when the rebase completes


@dataclass
class Step:
    """One patch of the series on the target kernel."""

    name: str
    path: str                   # the file applied (canonical or override)
    override: bool
    subject: str
    status: str = "pending"     # pending, clean, merged, conflict, resolved, empty
    offsets: list[str] = field(default_factory=list)
    commit: str | None = None
    written: str | None = None  # where its refreshed version was kept, if anywhere


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
        store.write_json(self.dir / "state.json", asdict(self))

    @classmethod
    def load(cls, path: Path) -> "Rebase":
        data = store.read_json(path)
        if not data:
            raise L2wgError(f"{path}: unreadable rebase state")
        data["steps"] = [Step(**s) for s in data["steps"]]
        if data.get("conflict"):
            c = data["conflict"]
            c["files"] = [ConflictFile(**{**f, "hunks": [Hunk(**h) for h in f["hunks"]]})
                          for f in c["files"]]
            data["conflict"] = Conflict(**c)
        return cls(**data)

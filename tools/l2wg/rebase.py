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
``continue_rebase()`` and ``abort_rebase()`` finish or undo a stopped one.

Point releases are cheap: a new point release of a line whose tree is
already imported is imported by hard-linking that tree's files and
objects and writing only the files that changed (see ``import_from_seed``).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import sys
import tarfile
import threading
import time
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import sources, store, tree as trees
from .apt import Apt, AptError
from .errors import L2wgError
from .kernels import Kernel, Matrix, SourceSpec
from .progress import Progress
from .project import Project
from .runner import run
from .series import Patch
from .sources import debian_apt
from .workspace import Workspace

MARKER_RE = re.compile(r"^(<<<<<<<( |$)|\|\|\|\|\|\|\|( |$)|=======$|>>>>>>>( |$))")
POINT_RE = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?(-rc\d+)?$")
HISTORY_LIMIT = 30
BASE_DIFF_LIMIT = 120


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


# Resolving what the user typed -------------------------------------------

def resolve_kernel(spec: str, matrix: Matrix, opts: RebaseOptions, log: Path,
                   ws: Workspace | None = None) -> Kernel:
    """A kernels.toml entry, a Debian point release, or (online) a kernel.org release.

    A point release is looked up in the line's own entry's apt sources first
    (its ``suite``, else the host's), then in the [debian] suites whose
    private lists l2wg already has (*ws*), then in the host's.
    """
    if spec in matrix.kernels:
        return matrix.kernels[spec]
    match = POINT_RE.match(spec)
    if not match:
        raise L2wgError(f"'{spec}' is neither a kernels.toml entry ({', '.join(matrix.kernels)}) "
                        "nor a kernel version such as 6.12.107")
    major, minor, sub, rc = match.groups()
    line, version = f"{major}.{minor}", spec.lstrip("v")
    template = _line_entry(matrix, line)
    package = (template.source.package if template and template.source.type == "debian"
               else f"linux-source-{line}")
    have: list[str] = []
    if sub and not rc:
        for number, apt in enumerate(_point_release_apts(template, matrix, ws)):
            found = debian_versions(package, log, apt, quiet=number > 0)
            wanted = [v for v in found if v.startswith(f"{version}-")]
            if wanted:
                source = SourceSpec("debian", package=package, version=wanted[0],
                                    suite=apt.suite,
                                    archive=matrix.debian if apt.private else None)
                return _kernel_like(template, version, source)
            have += [f"{v.split('-')[0]}" + (f" ({apt.suite})" if apt.private else "")
                     for v in found]
    if opts.online:
        if rc or spec.startswith("v"):
            url = next((k.source.url for k in matrix.kernels.values() if k.source.type == "git"),
                       "https://git.kernel.org/pub/scm/linux/kernel/git/torvalds/linux.git")
            return _kernel_like(template, version, SourceSpec("git", url=url, ref=f"v{version}"))
        base = f"https://cdn.kernel.org/pub/linux/kernel/v{major}.x"
        return _kernel_like(template, version, SourceSpec(
            "tarball", url=f"{base}/linux-{version}.tar.xz", checksums=f"{base}/sha256sums.asc"))
    raise L2wgError(f"unknown kernel '{spec}': not a kernels.toml entry, and the Debian archive "
                    f"has no {package} {version}-* (it has: {', '.join(have) or 'none'}); "
                    "a kernel.org release or git tag needs --online")


def _point_release_apts(template: Kernel | None, matrix: Matrix,
                        ws: Workspace | None) -> list[Apt]:
    """Where to look for a line's point releases, in order: the entry's own apt
    sources, the [debian] suites whose lists are already here (no network), the host's."""
    own = template.source.suite if template and template.source.type == "debian" else None
    if ws is None:
        return [Apt.host()]
    order = [debian_apt(own, matrix.debian, ws)]
    order += [apt for apt in (debian_apt(suite, matrix.debian, ws)
                              for suite in matrix.debian.suites if suite != own)
              if apt.has_lists()]
    if own is not None:
        order.append(Apt.host())
    return order


def debian_versions(package: str, log: Path, apt: Apt | None = None,
                    quiet: bool = False) -> list[str]:
    """The versions of *package* the archive keeps, newest first (apt-cache madison),
    in the host's apt sources or *apt*'s suite.  *quiet*: an apt failure gives no
    versions instead of an error."""
    try:
        return [offer.version for offer in (apt or Apt.host()).offers([package], log)
                if offer.package == package]
    except AptError:
        if quiet:
            return []
        raise


def _line_entry(matrix: Matrix, line: str) -> Kernel | None:
    if line in matrix.kernels:
        return matrix.kernels[line]
    return next((k for k in matrix.kernels.values() if k.line == line), None)


def _kernel_like(template: Kernel | None, version: str, source: SourceSpec) -> Kernel:
    if template is None:
        return Kernel(name=version, source=source, version=version, ci=False)
    return Kernel(name=version, source=source, version=version, fragments=template.fragments,
                  arch=template.arch, ci=False)


# Trees: reuse an imported tree of the same line for point releases ---------

def ensure_tree(kernel: Kernel, source: sources.Source, ws: Workspace, progress: Progress,
                log: Path) -> trees.Tree:
    """The kernel's work tree at its pristine commit; cheap for a new point release."""
    path = ws.tree(kernel.name)
    current = trees.load(path)
    if current and current.source_ident == source.ident:
        return current
    if current:
        trees.refuse_if_dirty(path, log)
    seed = find_seed(kernel, ws, log) if source.kind == "archive" else None
    if seed is None:
        return trees.ensure_pristine(kernel, source, ws, progress)
    return import_from_seed(kernel, source, seed, ws, progress, log)


def find_seed(kernel: Kernel, ws: Workspace, log: Path) -> trees.Tree | None:
    """A clean tree of the same line to import a point release from, if any.

    The kernel's own tree comes first (a new point release of the same entry:
    its objects, which the patches' ``index`` lines may name, carry over),
    then trees of other point releases, the line's main tree last (linking
    changes its files' ctime, so its next ``git status`` re-reads them).
    """
    if not ws.trees.is_dir():
        return None
    candidates = []
    for path in sorted(ws.trees.iterdir()):
        record = trees.load(path) if (path / ".git").is_dir() else None
        if record is None or path.name.startswith("."):
            continue
        if ".".join(record.version.split(".")[:2]).split("-")[0] != kernel.line:
            continue
        rank = 0 if path == ws.tree(kernel.name) else 2 if record.kernel == kernel.line else 1
        candidates.append((rank, record))
    for _, record in sorted(candidates, key=lambda c: c[0]):
        if _is_clean(record.path, log):
            return record
    return None


def _is_clean(path: Path, log: Path) -> bool:
    if (path / ".git" / "rebase-apply").exists():
        return False
    done = run(["git", "-C", path, "-c", "core.trustctime=false", "status", "--porcelain",
                "--untracked-files=no"], log_path=log, check=False)
    return done.returncode == 0 and not done.output.strip()


def import_from_seed(kernel: Kernel, source: sources.Source, seed: trees.Tree, ws: Workspace,
                     progress: Progress, log: Path) -> trees.Tree:
    """Import *source* (an archive) next to *seed*, a tree of the same line.

    The new repository hard-links the seed's objects (``git clone --local``)
    and its tracked files, while a thread streams the archive and keeps only
    the files whose content differs; those are then written (never through a
    link).  ``git add`` hashes only them: the copied index still describes the
    linked files (``core.trustctime`` is off in the new repository, as
    linking changes a file's ctime).  The pristine commit is the one a full
    import makes: same tree, message, identity and dates.
    """
    path = ws.tree(kernel.name)
    progress.step(f"{kernel.name}: importing {source.spec.describe()} from the {seed.kernel} "
                  "tree (only changed files are written)")
    clock = _Clock(log)
    entries = _index_entries(seed.path, log)
    scan = _ArchiveScan(source.path, entries)
    scan.start()
    with store.staging_dir(path) as tmp:
        run(["git", "clone", "-q", "--local", "--no-checkout", seed.path, tmp], log_path=log,
            what="git clone --local")
        for key, value in (("gc.auto", "0"), ("core.trustctime", "false")):
            trees.git(tmp, "config", key, value, log=log)
        clock.lap("clone --local")
        progress.update(f"linking {len(entries)} files of the {seed.kernel} tree", force=True)
        _link_files(seed.path, tmp, entries)
        shutil.copy2(seed.path / ".git" / "index", tmp / ".git" / "index")
        clock.lap("link files")
        progress.update(f"reading {source.path.name}", force=True)
        written = scan.apply(tmp)
        clock.lap(f"archive ({written} file(s) differ from the {seed.kernel} tree)")
        trees.git(tmp, "add", "-A", "-f", log=log)
        commit = _commit_pristine(tmp, source, log)
        trees.git(tmp, "update-ref", f"refs/heads/{trees.BRANCH}", commit, log=log)
        trees.git(tmp, "symbolic-ref", "HEAD", f"refs/heads/{trees.BRANCH}", log=log)
        _drop_foreign_refs(tmp, log)
        trees.git(tmp, "tag", "-f", trees.PRISTINE_TAG, commit, log=log)
        clock.lap("git add + commit")
        version = trees.makefile_version(tmp)
        if kernel.version and not trees.version_matches(kernel.version, version):
            raise L2wgError(f"kernel {kernel.name}: the source is version {version}, "
                            f"but {kernel.version} was asked for", log)
        result = trees.Tree(kernel.name, path, commit, version, source.ident)
        store.write_json(trees.record_path(tmp), {**result.__dict__, "path": str(path)})
    return result


class _Clock:
    """Writes how long each step of an import took to its log."""

    def __init__(self, log: Path):
        self.log, self.last = log, time.monotonic()

    def lap(self, what: str) -> None:
        now = time.monotonic()
        _log_text(self.log, f"# {what}: {now - self.last:.1f}s\n")
        self.last = now


class _ArchiveScan(threading.Thread):
    """Reads an archive (first path component stripped) and keeps what differs from
    *entries* (path -> (mode, blob id)); decompression overlaps the linking."""

    def __init__(self, archive: Path, entries: dict[str, tuple[str, str]]):
        super().__init__(daemon=True)
        self.archive, self.entries = archive, entries
        self.changed: list[tuple[str, bytes, str, tarfile.TarInfo]] = []
        self.hardlinks: list[tarfile.TarInfo] = []
        self.objects: dict[str, bytes] = {}     # blob id -> loose object
        self.seen: set[str] = set()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with tarfile.open(self.archive, "r|*") as tar:
                for member in tar:
                    self._member(tar, member)
        except BaseException as exc:   # re-raised in apply()
            self.error = exc

    def _member(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        name = _strip(member.name)
        if not name or member.isdir():
            return
        if member.islnk():
            self.seen.add(name)
            self.hardlinks.append(member)
            return
        if member.issym():
            data, mode = member.linkname.encode(), "120000"
        elif member.isfile():
            data = tar.extractfile(member).read()
            mode = "100755" if member.mode & 0o100 else "100644"
        else:
            return
        self.seen.add(name)
        blob = b"blob %d\0" % len(data) + data
        sha = hashlib.sha1(blob).hexdigest()
        if self.entries.get(name) != (mode, sha):
            self.changed.append((name, data, mode, member))
            # Deflated here, overlapping the linking, so git add finds it stored.
            self.objects[sha] = zlib.compress(blob, 1)

    def apply(self, dest: Path) -> int:
        """Make *dest* hold exactly the archive's files; returns how many were written."""
        self.join()
        if self.error is not None:
            raise L2wgError(f"cannot read {self.archive}: {self.error}")
        _store_objects(dest / ".git" / "objects", self.objects)
        for name, data, mode, member in self.changed:
            _write_member(dest / name, data, mode, member)
        written = len(self.changed)
        for member in self.hardlinks:
            data = (dest / _strip(member.linkname)).read_bytes()
            mode = "100755" if member.mode & 0o100 else "100644"
            if self.entries.get(_strip(member.name)) != (mode, _blob_id(data)):
                _write_member(dest / _strip(member.name), data, mode, member)
                written += 1
        for name in self.entries:
            if name not in self.seen:
                (dest / name).unlink(missing_ok=True)
        return written


def _store_objects(objects_dir: Path, objects: dict[str, bytes]) -> None:
    """Write loose objects (as git does: zlib data, read-only, renamed into place)."""
    for sha, data in objects.items():
        final = objects_dir / sha[:2] / sha[2:]
        if final.exists():
            continue
        final.parent.mkdir(exist_ok=True)
        part = final.with_name(f"tmp_{sha[2:]}")
        part.write_bytes(data)
        part.chmod(0o444)
        os.replace(part, final)


def _strip(name: str) -> str:
    """The path without its first component (tar --strip-components=1)."""
    parts = name.strip("/").split("/", 1)
    return parts[1].strip("/") if len(parts) == 2 else ""


def _index_entries(path: Path, log: Path) -> dict[str, tuple[str, str]]:
    out = run(["git", "-C", path, "ls-files", "-s", "-z"], log_path=None, check=True,
              what="git ls-files").output
    entries = {}
    for record in out.split("\0"):
        if record:
            meta, name = record.split("\t", 1)
            mode, sha, _stage = meta.split()
            entries[name] = (mode, sha)
    return entries


def _link_files(src: Path, dest: Path, entries: dict[str, tuple[str, str]]) -> None:
    made: set[str] = set()
    for name in entries:
        parent = name.rpartition("/")[0]
        if parent and parent not in made:
            (dest / parent).mkdir(parents=True, exist_ok=True)
            made.add(parent)
        os.link(src / name, dest / name, follow_symlinks=False)


def _blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _write_member(path: Path, data: bytes, mode: str, member: tarfile.TarInfo) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()   # never write through a hard link into the seed
    elif path.is_dir():
        shutil.rmtree(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode == "120000":
        os.symlink(member.linkname, path)
        return
    path.write_bytes(data)
    path.chmod(member.mode & 0o7777 or 0o644)


def _commit_pristine(tree: Path, source: sources.Source, log: Path) -> str:
    """The pristine commit exactly as ``tree._import`` makes it."""
    tree_id = trees.git(tree, "write-tree", log=log).strip()
    return trees.git(tree, "commit-tree", tree_id, "-m", f"Import {source.spec.describe()}",
                     "-m", f"Pristine source, unmodified.\n\nl2wg-source: {source.ident}",
                     log=log).strip()


def _drop_foreign_refs(tree: Path, log: Path) -> None:
    """The clone's remote, tags and other branches belong to the seed."""
    trees.git(tree, "remote", "remove", "origin", log=log, check=False)
    refs = trees.git(tree, "for-each-ref", "--format=%(refname)", log=log).split()
    for ref in refs:
        if ref != f"refs/heads/{trees.BRANCH}":
            trees.git(tree, "update-ref", "-d", ref, log=log)


# Alternates: borrow the canonical tree's objects for three-way merges -----

def alternates_file(tree: Path) -> Path:
    return tree / ".git" / "objects" / "info" / "alternates"


def add_alternates(tree: Path, others: list[Path]) -> list[str]:
    """Let *tree* read the objects of *others*; returns the lines added."""
    path = alternates_file(tree)
    lines = path.read_text().splitlines() if path.exists() else []
    added = []
    for other in others:
        objects = str((other / ".git" / "objects").resolve())
        if objects not in lines and Path(objects) != (tree / ".git" / "objects").resolve():
            lines.append(objects)
            added.append(objects)
    if added:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"{line}\n" for line in lines))
    return added


def remove_alternates(tree: Path, added: list[str]) -> None:
    path = alternates_file(tree)
    if not path.exists():
        return
    lines = [line for line in path.read_text().splitlines() if line not in added]
    if lines:
        path.write_text("".join(f"{line}\n" for line in lines))
    else:
        path.unlink()


def localize_objects(tree: Path, base: str, head: str, log: Path) -> None:
    """Copy into *tree* every object of base..head it may only have through an alternate."""
    listed = trees.git(tree, "rev-list", "--objects", f"{base}..{head}", log=None)
    ids = "".join(line.split()[0] + "\n" for line in listed.splitlines() if line.strip())
    if ids:
        run(["git", "-C", tree, "pack-objects", "-q", tree / ".git" / "objects" / "pack" / "pack"],
            input=ids, log_path=log, what="git pack-objects (objects borrowed for the merge)")


def verify_connected(tree: Path, base: str, head: str, log: Path) -> None:
    out = run(["git", "-C", tree, "rev-list", "--objects", "--missing=print", f"{base}..{head}"],
              log_path=None, check=False).output
    missing = [line[1:] for line in out.splitlines() if line.startswith("?")]
    if missing:
        raise L2wgError(f"{tree}: {len(missing)} object(s) of the new commits are missing after "
                        f"the canonical tree's objects were unborrowed (e.g. {missing[0]})", log)


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
            Rebase.load(report_dir / "state.json").status in ("conflict", "running"):
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
        steps=[Step(p.name, str(p.path), p.override, p.subject)
               for p in series.patches(kernel.line)])
    same_line = ws.tree(kernel.line)
    borrow = [canonical.path] + ([same_line] if (same_line / ".git").is_dir() else [])
    state.alternates = add_alternates(target.path, borrow)
    state.save()
    progress.step(f"{kernel.name}: applying {len(state.steps)} patch(es) to {target.version} "
                  f"in {target.path}")
    try:
        trees.git(target.path, "checkout", "-q", "-B", trees.BRANCH, target.pristine, log=log)
        return _proceed(state, project, progress)
    except BaseException:
        if state.status == "running":
            _rollback(state)
        raise


def continue_rebase(spec: str | None, project: Project, ws: Workspace,
                    progress: Progress) -> Rebase:
    """After the conflict is resolved in the tree: record it and apply the rest."""
    state = _in_progress(spec, ws)
    tree, log = state.tree_path, state.log
    step = next(s for s in state.steps if s.status == "conflict")
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
        done = run(["git", "-C", tree, "am", "--continue"], log_path=log, check=False,
                   env=trees.IDENTITY)
        if done.returncode != 0:
            raise L2wgError(f"git am --continue failed in {tree}: {_tail(done.output, 3)}", log)
    head = _head(tree, log)
    parent = trees.git(tree, "rev-parse", "HEAD^", log=log, check=False).strip()
    if head == before or parent != before:
        raise L2wgError(f"the 'git am' of {step.name} was ended outside l2wg (HEAD is not one "
                        f"commit on top of where it stopped); run --abort and start again")
    step.commit, step.status = head, "resolved"
    state.status, state.conflict = "running", None
    state.save()
    progress.step(f"{state.kernel}: {step.name} resolved; applying the rest")
    try:
        return _proceed(state, project, progress)
    except BaseException:
        if state.status == "running":
            _rollback(state)
        raise


def abort_rebase(spec: str | None, ws: Workspace, progress: Progress) -> Rebase:
    """Put the tree back where it was before the rebase; patches/ was never touched."""
    state = _in_progress(spec, ws)
    _rollback(state)
    progress.step(f"{state.kernel}: rebase aborted; {state.tree} is back at "
                  f"{state.orig_head[:12]}")
    return state


def _in_progress(spec: str | None, ws: Workspace) -> Rebase:
    base = ws.root / "rebase"
    found = [p.parent.name for p in sorted(base.glob("*/state.json"))
             if Rebase.load(p).status in ("conflict", "running")] if base.is_dir() else []
    if spec is None:
        if len(found) != 1:
            raise L2wgError("name the kernel: " + (f"rebases in progress: {', '.join(found)}"
                                                   if found else "no rebase is in progress"))
        spec = found[0]
    name = spec if spec in found else next((f for f in found if f == spec.lstrip("v")), None)
    if name is None:
        raise L2wgError(f"no rebase onto '{spec}' is in progress"
                        + (f" (in progress: {', '.join(found)})" if found else ""))
    return Rebase.load(base / name / "state.json")


def _commit_before(state: Rebase, step: Step) -> str:
    index = state.steps.index(step)
    earlier = [s.commit for s in state.steps[:index] if s.commit]
    return earlier[-1] if earlier else state.pristine


def _proceed(state: Rebase, project: Project, progress: Progress) -> Rebase:
    """Apply the pending patches; finish when all are in."""
    started = time.monotonic()
    for step in state.steps:
        if step.status != "pending":
            continue
        _apply_one(state, step, progress)
        state.save()
        if state.status != "running":
            state.seconds["apply"] = round(time.monotonic() - started, 1)
            return _stopped(state, step)
    state.seconds["apply"] = round(time.monotonic() - started, 1)
    return _finish(state, project, progress)


def _apply_one(state: Rebase, step: Step, progress: Progress) -> None:
    tree, log = state.tree_path, state.log
    before = _head(tree, log)
    check = run(["git", "-C", tree, "apply", "--check", "-v", step.path], log_path=log,
                check=False)
    clean = check.returncode == 0
    step.offsets = re.findall(r"Hunk #\d+ succeeded at \d+ \(offset -?\d+ lines?\)", check.output)
    done = run(["git", "-C", tree, "-c", "merge.conflictStyle=diff3", "am", "-3",
                "--committer-date-is-author-date", "--no-gpg-sign", step.path],
               log_path=log, check=False, env=trees.IDENTITY)
    if done.returncode != 0:
        if not (tree / ".git" / "rebase-apply").exists():
            raise L2wgError(f"{step.name}: git am failed: {_tail(done.output, 2)}", log)
        step.status = "conflict"
        state.status = "conflict"
        state.conflict = describe_conflict(state, step, done.output)
    else:
        step.commit = _head(tree, log)
        step.status = ("clean" if clean else "merged") if step.commit != before else "empty"
        if step.status == "empty":
            step.commit = None
    progress.step(f"  {step.name}: {_status_text(step)}")
    if state.strict and step.status != "clean":
        state.status = "failed"


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
        run(["git", "-C", tree, "am", "--abort"], log_path=log, check=False)
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


# Describing a conflict ----------------------------------------------------

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
    done = run(["git", "-C", state.tree, "merge-base", state.canonical_pristine, state.pristine],
               log_path=state.log, check=False)
    return done.output.strip() if done.returncode == 0 and done.output.strip() else None


def _add_history(state: Rebase, entry: ConflictFile) -> None:
    """Upstream commits between the merge base and each side's base: for the file, and
    (``git log -L``) for the lines of each conflicting hunk."""
    base = _history_base(state)
    tree, log = state.tree_path, state.log
    for tip in (state.pristine, state.canonical_pristine):
        if tip == base:
            continue
        out = run(["git", "-C", tree, "log", "--no-merges", f"-n{HISTORY_LIMIT}",
                   "--format=%h %s", f"{base}..{tip}", "--", entry.path],
                  log_path=log, check=False).output
        entry.history += [line for line in out.splitlines() if line.strip()]
        text = trees.git(tree, "show", f"{tip}:{entry.path}", log=None, check=False)
        for hunk in entry.hunks:
            span = locate(hunk.ours if tip == state.pristine else hunk.base, text)
            if not span:
                continue
            start, end = span.split("-")
            done = run(["git", "-C", tree, "log", "--no-merges", "-s", "--format=%h %s",
                        f"-L{start},{end}:{entry.path}", f"{base}..{tip}"],
                       log_path=log, check=False)
            if done.returncode == 0:
                hunk.history += [line for line in done.output.splitlines() if line.strip()]


def _base_diff(state: Rebase, entry: ConflictFile) -> str:
    """How the file changed from the canonical base to the target's: the diff hunks
    near the conflicting lines (all of them when the lines could not be placed)."""
    out = run(["git", "-C", state.tree, "diff", "--no-color", state.canonical_pristine,
               state.pristine, "--", entry.path], log_path=None, check=False).output
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
    changed = [s for s in state.steps if s.status in ("merged", "resolved")]
    kept = not changed
    if changed and state.write:
        kept = _keep_patches(state, project, exported, changed)
    elif changed:
        state.notes.append(f"--no-write: refreshed patches left in {state.dir / 'export'}")
    empty = [s.name for s in state.steps if s.status == "empty"]
    if empty:
        state.notes.append(f"already in {state.kernel} (nothing left to apply): "
                           f"{', '.join(empty)}; the series cannot skip a patch on one line")
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
    pristine commit (deterministic for a given source).
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
        (out / step.name).write_text(text)
        exported[step.name] = out / step.name
    return exported


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
    done = run(["git", "-C", state.tree, "range-diff", "--no-color",
                f"{state.canonical_pristine}..{old_head}", f"{state.pristine}..HEAD"],
               log_path=log, check=False)
    return done.output.rstrip() if done.returncode == 0 else \
        f"(no range-diff: {_tail(done.output, 1)})"


def previous_series(state: Rebase, project: Project, log: Path) -> str:
    """The canonical series as commits on the canonical pristine tree, built in the
    target repository with a private index (no work tree is touched)."""
    tree = state.tree_path
    canonical = project.matrix().get(state.canonical)
    index = tree / ".git" / "l2wg-previous.index"
    env = {**trees.IDENTITY, "GIT_INDEX_FILE": str(index)}
    try:
        run(["git", "-C", tree, "read-tree", state.canonical_pristine], env=env, log_path=log,
            what="git read-tree (canonical base)")
        parent = state.canonical_pristine
        for patch in project.series().patches(canonical.line):
            parent = _commit_patch(tree, patch, parent, env, log)
    finally:
        index.unlink(missing_ok=True)
    return parent


def _commit_patch(tree: Path, patch: Patch, parent: str, env: dict, log: Path) -> str:
    run(["git", "-C", tree, "apply", "--cached", patch.path], env=env, log_path=log,
        what=f"git apply --cached {patch.name} (canonical series)")
    tree_id = run(["git", "-C", tree, "write-tree"], env=env, log_path=log).output.strip()
    msg = tree / ".git" / "l2wg-previous.msg"
    info = run(["git", "-C", tree, "mailinfo", msg, os.devnull], input=patch.path.read_text(
        errors="replace"), log_path=None).output
    fields = dict(re.findall(r"^(Author|Email|Subject|Date): (.*)$", info, re.M))
    message = fields.get("Subject", patch.name) + "\n\n" + msg.read_text()
    msg.unlink(missing_ok=True)
    author = {"GIT_AUTHOR_NAME": fields.get("Author", "l2wg"),
              "GIT_AUTHOR_EMAIL": fields.get("Email", "l2wg@l2wg.invalid"),
              "GIT_AUTHOR_DATE": fields.get("Date", trees.IDENTITY["GIT_AUTHOR_DATE"])}
    return run(["git", "-C", tree, "commit-tree", tree_id, "-p", parent], input=message,
               env={**env, **author}, log_path=log).output.strip()


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


def _tail(output: str, count: int) -> str:
    lines = [line for line in output.splitlines() if line.strip() and not line.startswith("hint:")]
    return "\n".join(lines[-count:])


def _log_text(log: Path, text: str) -> None:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a") as f:
        f.write(text)


def _status_text(step: Step) -> str:
    text = {"clean": "applied cleanly", "merged": "applied with a three-way merge",
            "conflict": "CONFLICT", "resolved": "conflict resolved by hand",
            "empty": "already in this kernel (empty after merge)", "pending": "not applied"}
    extra = f" ({len(step.offsets)} hunk(s) at an offset)" if step.offsets else ""
    return text[step.status] + extra + (" [override]" if step.override else "")


# Reports -----------------------------------------------------------------

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
    if not conflict.files:
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
    lines += ["", conflict.history_note, "",
              "next:",
              f"  cd {state.tree}   # resolve the conflict markers (git am is in progress)",
              "  git am --show-current-patch=diff   # the patch being applied",
              f"  tools/rebase {state.kernel} --continue   # or --abort to go back"]
    return lines


def _side(title: str, body: list[str]) -> list[str]:
    return [f"      {title}:", *(f"        | {line}" for line in body or ["(nothing)"])]


def summary(state: Rebase) -> str:
    """What the terminal shows at the end."""
    lines = [f"{state.kernel} ({state.version}): " + {
        "done": "series carried over", "conflict": "stopped at a conflict",
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
    lines.append(f"  report: {state.dir / 'report.txt'} (and report.json)")
    return "\n".join(lines)


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


def table(results: list[tuple[str, str, Rebase | None]]) -> str:
    lines = [f"{'kernel':<10} {'version':<10} {'clean':>5} {'merged':>6} {'conflict':>8}  result"]
    for name, status, state in results:
        counts = {k: sum(1 for s in state.steps if s.status == k) for k in
                  ("clean", "merged", "conflict")} if state else {}
        lines.append(f"{name:<10} {state.version if state else '-':<10} "
                     f"{counts.get('clean', '-'):>5} {counts.get('merged', '-'):>6} "
                     f"{counts.get('conflict', '-'):>8}  {status}")
    return "\n".join(lines)


# Benchmark (tools/bench-rebase) -------------------------------------------

@dataclass
class Figure:
    """A benchmark figure: its rounds and their median (like l2wg.bench.Figure, which
    pulls in the build stage)."""

    name: str
    rounds: list[float]
    goal: float | None = None

    def line(self) -> str:
        import statistics

        median = statistics.median(self.rounds) if self.rounds else float("nan")
        goal = f"  (goal <= {self.goal:.0f} s: {'met' if median <= self.goal else 'MISSED'})" \
            if self.goal else ""
        rounds = ", ".join(f"{r:.1f}" for r in self.rounds)
        return f"{self.name:<52} median {median:6.1f} s   rounds: {rounds}{goal}"


def bench(project: Project, ws: Workspace, point_release: str, rounds: int,
          progress: Progress, full: bool = False) -> list:
    """Point-release move, measured: import *point_release* from its line's tree,
    then rebase onto it (a cached kernel).  Uses a private tree, removed at the end."""
    from dataclasses import replace

    matrix = project.matrix()
    log = ws.logs / "bench-rebase.log"
    found = resolve_kernel(point_release, matrix, RebaseOptions(), log, ws)
    kernel = replace(found, name=f"bench-{found.name}")
    line_kernel = _line_entry(matrix, kernel.line)
    if line_kernel is None:
        raise L2wgError(f"no kernels.toml entry for the {kernel.line} line to import from")
    seed = trees.ensure_pristine(line_kernel, sources.fetch(line_kernel, ws, progress), ws,
                                 progress)
    source = sources.fetch(kernel, ws, progress)
    patches = len(project.series().names)
    imported = Figure(f"import {found.name} from the {seed.kernel} tree ({seed.version})", [])
    cached = Figure(f"rebase onto it, tree cached ({patches} patch(es))", [], 20)
    move = Figure("point-release move (import + rebase)", [])
    try:
        for number in range(rounds):
            _remove_tree(ws, kernel.name)
            progress.step(f"round {number + 1}/{rounds}")
            start = time.monotonic()
            import_from_seed(kernel, source, seed, ws, progress, log)
            middle = time.monotonic()
            state = rebase(kernel, project, ws, RebaseOptions(write=False), progress)
            end = time.monotonic()
            if state.status == "conflict":
                abort_rebase(kernel.name, ws, progress)
            imported.rounds.append(round(middle - start, 1))
            cached.rounds.append(round(end - middle, 1))
            move.rounds.append(round(end - start, 1))
        if full:
            figures = [imported, cached, move, _bench_full(kernel, source, ws, progress)]
            return figures
    finally:
        _remove_tree(ws, kernel.name)
    return [imported, cached, move]


def _bench_full(kernel: Kernel, source: sources.Source, ws: Workspace,
                progress: Progress) -> "Figure":
    """For comparison, one full import (tar -x, git add of every file) of the same source."""
    from dataclasses import replace

    other = replace(kernel, name=f"{kernel.name}-full")
    figure = Figure(f"for comparison: full import of {kernel.version} (tar + git add)", [])
    try:
        _remove_tree(ws, other.name)
        start = time.monotonic()
        trees.ensure_pristine(other, source, ws, progress)
        figure.rounds.append(round(time.monotonic() - start, 1))
    finally:
        _remove_tree(ws, other.name)
    return figure


def _remove_tree(ws: Workspace, name: str) -> None:
    shutil.rmtree(ws.tree(name), ignore_errors=True)
    shutil.rmtree(ws.root / "rebase" / name, ignore_errors=True)


def bench_main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="tools/bench-rebase", description="Time a point-release move: import a Debian "
        "point release from its line's tree, then rebase the series onto it.  Prints medians.")
    parser.add_argument("point_release", nargs="?", default="6.12.107",
                        help="a point release the archive keeps (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (default: %(default)s)")
    parser.add_argument("--full", action="store_true",
                        help="also time one full import of the same source, for comparison")
    parser.add_argument("--workspace", type=Path, metavar="DIR")
    parser.add_argument("--project", type=Path, metavar="DIR")
    args = parser.parse_args(argv)
    try:
        project = Project(args.project.resolve()) if args.project else Project.find()
        ws = Workspace(args.workspace.resolve()) if args.workspace else Workspace.default()
        figures = bench(project, ws, args.point_release, args.rounds, Progress(), args.full)
    except L2wgError as error:
        print(f"l2wg: error: {error}", file=sys.stderr)
        return 1
    print(f"rebase benchmark, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}:")
    for figure in figures:
        print("  " + figure.line())
    return 0


# Command line (`l2wg rebase`, tools/rebase) ------------------------------

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kernel", nargs="?",
                        help="a kernels.toml entry or a version (a Debian point release such "
                             "as 6.12.107, looked up in the line's entry's apt sources -- its "
                             "suite, if it names one -- then in the [debian] suites l2wg has "
                             "lists of; with --online a kernel.org release or tag)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--continue", dest="cont", action="store_true",
                      help="after resolving a conflict in the tree: apply the rest")
    mode.add_argument("--abort", action="store_true",
                      help="put the tree back as it was; patches/ is untouched")
    mode.add_argument("--all", action="store_true",
                      help="rebase onto every kernel of the matrix and print a table "
                           "(conflicts are reported and aborted)")
    parser.add_argument("--strict", action="store_true",
                        help="fail unless every patch applies exactly (no three-way merge)")
    parser.add_argument("--online", action="store_true",
                        help="allow kernel.org tarballs and git tags for versions not in "
                             "kernels.toml (and network sources with --all)")
    parser.add_argument("--no-write", dest="write", action="store_false",
                        help="keep refreshed patches in the report directory, not in patches/")


def command(args, project: Project, ws: Workspace, progress: Progress) -> int:
    """Run the verb for parsed *args*; print the outcome; return the exit status."""
    opts = RebaseOptions(strict=args.strict, online=args.online, write=args.write)
    if args.all:
        results = rebase_all(project, ws, opts, progress)
        print(table(results))
        print(f"reports: {ws.root / 'rebase'}/KERNEL/report.txt")
        return 0 if all(status == "done" for _, status, _ in results) else 1
    if args.abort:
        print(summary(abort_rebase(args.kernel, ws, progress)))
        return 0
    if args.cont:
        state = continue_rebase(args.kernel, project, ws, progress)
    else:
        if not args.kernel:
            raise L2wgError("name the kernel to rebase onto (a kernels.toml entry or a version)")
        state = rebase(args.kernel, project, ws, opts, progress)
    print(summary(state))
    return 0 if state.status == "done" else 1

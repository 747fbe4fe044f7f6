"""Point releases, cheaply: a new point release of a line whose tree is already
imported is imported by hard-linking that tree's files and objects and writing
only the files that changed (see ``import_from_seed``).

The changed files' blobs are hashed and written as loose objects by l2wg
itself, as SHA-1 objects: that is only done in a SHA-1 repository (git's
default).  A tree in any other object format is never a seed, so such a
point release is imported in full.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tarfile
import threading
import time
import zlib
from pathlib import Path

from . import sources, store, tree as trees
from .errors import L2wgError
from .git import run_git
from .kernels import Kernel
from .progress import Progress
from .workspace import Workspace

#: The object format whose loose objects _store_objects writes.
OBJECT_FORMAT = "sha1"


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
    """A clean SHA-1 tree of the same line to import a point release from, if any.

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
        if not _is_clean(record.path, log):
            continue
        found = object_format(record.path, log)
        if found == OBJECT_FORMAT:
            return record
        _log_text(log, f"# {record.path}: object format {found}, not {OBJECT_FORMAT}: not a "
                       "seed for a point release (l2wg writes its objects as SHA-1)\n")
    return None


def object_format(repo: Path, log: Path | None = None) -> str:
    """The repository's object format ("sha1", "sha256"): ``git rev-parse
    --show-object-format``, or where git is too old for it, ``extensions.objectformat``
    (unset: sha1)."""
    done = run_git(repo, "rev-parse", "--show-object-format", log=log, check=False)
    value = done.output.strip()
    if done.returncode == 0 and re.fullmatch(r"[a-z0-9]+", value):
        return value
    done = run_git(repo, "config", "--get", "extensions.objectformat", log=log, check=False)
    return done.output.strip().lower() or OBJECT_FORMAT


def require_sha1(repo: Path, log: Path | None = None) -> None:
    """Refuse to write hand-made (SHA-1) objects into a repository of another format."""
    found = object_format(repo, log)
    if found != OBJECT_FORMAT:
        raise L2wgError(f"{repo}: object format {found}: l2wg imports a point release from a "
                        f"tree of its line only into a {OBJECT_FORMAT} repository (it writes "
                        "the changed files' objects itself); import it in full instead", log)


def _is_clean(path: Path, log: Path) -> bool:
    if (path / ".git" / "rebase-apply").exists():
        return False
    done = run_git(path, "-c", "core.trustctime=false", "status", "--porcelain",
                   "--untracked-files=no", log=log, check=False)
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
    require_sha1(seed.path, log)
    progress.step(f"{kernel.name}: importing {source.spec.describe()} from the {seed.kernel} "
                  "tree (only changed files are written)")
    clock = _Clock(log)
    entries = _index_entries(seed.path, log)
    scan = _ArchiveScan(source.path, entries)
    scan.start()
    with store.staging_dir(path) as tmp:
        run_git(None, "clone", "-q", "--local", "--no-checkout", seed.path, tmp, log=log,
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
        _store_objects(dest, self.objects)
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


def _store_objects(repo: Path, objects: dict[str, bytes]) -> None:
    """Write loose SHA-1 objects into *repo* (as git does: zlib data, read-only, renamed
    into place); refused unless the repository's object format is SHA-1."""
    require_sha1(repo)
    objects_dir = repo / ".git" / "objects"
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
    out = run_git(path, "ls-files", "-s", "-z").output
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



def _log_text(log: Path, text: str) -> None:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a") as f:
        f.write(text)

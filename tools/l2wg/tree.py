"""Kernel work trees: a git repository per kernel, pristine commit + the series.

The first commit of each tree is the unmodified upstream source, tagged
``l2wg/pristine``.  The series is applied on the branch ``l2wg`` with
``git am -3``, one commit per patch, committer date = author date so the
same series on the same source always gives the same commits.

A tree whose source has not changed is reused; a tree with uncommitted
changes is never touched (the user may be working in it).

A tree may borrow another tree's objects for a while (alternates: the
rebase's three-way merges need the canonical tree's blobs); before they are
unborrowed the objects the new commits need are copied in.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from . import store
from .errors import BuildError, L2wgError
from .git import git, run_git
from .kernels import Kernel
from .progress import Progress
from .runner import run
from .series import Patch
from .sources import Source
from .workspace import Workspace

PRISTINE_TAG = "l2wg/pristine"
BRANCH = "l2wg"


@dataclass
class Tree:
    """A kernel work tree and what it holds."""

    kernel: str
    path: Path
    pristine: str
    version: str
    source_ident: str
    series_digest: str | None = None
    head: str | None = None
    commits: dict[str, str] = field(default_factory=dict)   # patch name -> commit

    @property
    def record_path(self) -> Path:
        return record_path(self.path)

    def save(self) -> None:
        data = dict(self.__dict__)
        data["path"] = str(self.path)
        store.write_json(self.record_path, data)


def record_path(path: Path) -> Path:
    return path / ".git" / "l2wg-tree.json"


def load(path: Path) -> Tree | None:
    data = store.read_json(record_path(path))
    if not data:
        return None
    data["path"] = Path(data["path"])
    return Tree(**data)


def makefile_version(tree: Path) -> str:
    """VERSION.PATCHLEVEL.SUBLEVEL(EXTRAVERSION) from the top Makefile."""
    text = (tree / "Makefile").read_text(errors="replace")[:2000]
    fields = dict(re.findall(r"^(VERSION|PATCHLEVEL|SUBLEVEL|EXTRAVERSION)[ \t]*=[ \t]*(\S*)", text, re.M))
    version = f"{fields.get('VERSION', '?')}.{fields.get('PATCHLEVEL', '?')}"
    if fields.get("SUBLEVEL", "0") != "0":
        version += f".{fields['SUBLEVEL']}"
    return version + fields.get("EXTRAVERSION", "")


def version_matches(declared: str, actual: str) -> bool:
    """'6.12' accepts 6.12.117 but not 6.1.x; '6.1.170' accepts only 6.1.170."""
    want = declared.split("-")[0].split(".")
    have = actual.split("-")[0].split(".")
    return have[:len(want)] == want


def ensure_pristine(kernel: Kernel, source: Source, ws: Workspace, progress: Progress) -> Tree:
    """The kernel's work tree with its pristine commit for *source*, imported if needed."""
    path = ws.tree(kernel.name)
    log = ws.logs / f"tree-{kernel.name}.log"
    current = load(path)
    if current and current.source_ident == source.ident:
        return current
    if current:
        refuse_if_dirty(path, log)
    progress.step(f"{kernel.name}: importing {source.spec.describe()} into a git tree "
                  f"(about a minute)")
    with store.staging_dir(path) as tmp:
        _import(source, tmp, log, progress)
        version = makefile_version(tmp)
        if kernel.version and not version_matches(kernel.version, version):
            raise L2wgError(f"kernel {kernel.name}: the source is version {version}, "
                            f"but kernels.toml declares {kernel.version}", log)
        pristine = git(tmp, "rev-parse", "HEAD", log=log).strip()
        git(tmp, "tag", "-f", PRISTINE_TAG, pristine, log=log)
        tree = Tree(kernel.name, path, pristine, version, source.ident)
        store.write_json(record_path(tmp), {**tree.__dict__, "path": str(path)})
    return tree


def _import(source: Source, dest: Path, log: Path, progress: Progress) -> None:
    if source.kind == "git":
        run_git(None, "clone", "--quiet", "--no-checkout", source.path, dest, log=log)
        git(dest, "config", "gc.auto", "0", log=log)
        git(dest, "checkout", "-q", "-B", BRANCH, source.detail, log=log)
        return
    if source.kind == "archive":
        progress.update("extracting", force=True)
        run(["tar", "-xf", source.path, "-C", dest, "--strip-components=1"], log_path=log,
            what=f"tar -xf {source.path.name}")
    else:
        shutil.copytree(source.path, dest, dirs_exist_ok=True, symlinks=True,
                        ignore=shutil.ignore_patterns(".git"))
    progress.update("committing the pristine tree", force=True)
    git(dest, "init", "-q", "-b", BRANCH, log=log)
    # No background repacking of a 1.7 GB tree in the middle of a build, and
    # no full re-read after rebase's hard-linked point-release imports touch ctimes.
    git(dest, "config", "gc.auto", "0", log=log)
    git(dest, "config", "core.trustctime", "false", log=log)
    # -f: Debian's tree ignores everything at top level ("/*") in .gitignore.
    git(dest, "add", "-A", "-f", log=log)
    git(dest, "commit", "-q", "--no-verify", "-m", f"Import {source.spec.describe()}",
        "-m", f"Pristine source, unmodified.\n\nl2wg-source: {source.ident}", log=log)


def refuse_if_dirty(path: Path, log: Path) -> None:
    """Raise when the tree has uncommitted changes to tracked files or a git op in progress."""
    if (path / ".git" / "rebase-apply").exists():
        raise L2wgError(f"{path}: a 'git am' is in progress (a rebase waiting for --continue "
                        "or --abort); refusing to touch the tree", log)
    dirty = git(path, "status", "--porcelain", "--untracked-files=no", log=log).strip()
    if dirty:
        first = dirty.splitlines()[0]
        raise L2wgError(f"{path} has uncommitted changes ({first} ...); commit or discard them "
                        "first, l2wg will not overwrite them", log)


def apply_series(tree: Tree, patches: list[Patch], digest: str, log: Path,
                 progress: Progress) -> Tree:
    """Put the tree at pristine + *patches* (one commit each), unless it already is.

    On a patch that does not apply, the tree goes back to where it was and
    the error names the patch.
    """
    head = git(tree.path, "rev-parse", "HEAD", log=log).strip()
    if tree.series_digest == digest and tree.head == head:
        return tree
    refuse_if_dirty(tree.path, log)
    progress.step(f"{tree.kernel}: applying {len(patches)} patch(es) with git am -3")
    git(tree.path, "checkout", "-q", "-B", BRANCH, PRISTINE_TAG, log=log)
    commits = {}
    for patch in patches:
        done = run_git(tree.path, "am", "-3", "--committer-date-is-author-date",
                       "--no-gpg-sign", patch.path, log=log, check=False, identity=True)
        if done.returncode != 0:
            run_git(tree.path, "am", "--abort", log=log, check=False, identity=True)
            git(tree.path, "checkout", "-q", "-B", BRANCH, head, log=log)
            raise BuildError(f"{tree.kernel}: patch {patch.name} does not apply to "
                            f"{tree.version} ({patch.path})", log)
        commits[patch.name] = git(tree.path, "rev-parse", "HEAD", log=log).strip()
    tree.series_digest = digest
    tree.head = git(tree.path, "rev-parse", "HEAD", log=log).strip()
    tree.commits = commits
    tree.save()
    return tree


# Alternates: borrow another tree's objects (the rebase's three-way merges) ------

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
    listed = git(tree, "rev-list", "--objects", f"{base}..{head}", log=None)
    ids = "".join(line.split()[0] + "\n" for line in listed.splitlines() if line.strip())
    if ids:
        run_git(tree, "pack-objects", "-q", tree / ".git" / "objects" / "pack" / "pack",
                input=ids, log=log, what="git pack-objects (objects borrowed for the merge)")


def verify_connected(tree: Path, base: str, head: str, log: Path) -> None:
    out = run_git(tree, "rev-list", "--objects", "--missing=print", f"{base}..{head}",
                  check=False).output
    missing = [line[1:] for line in out.splitlines() if line.startswith("?")]
    if missing:
        raise L2wgError(f"{tree}: {len(missing)} object(s) of the new commits are missing after "
                        f"the canonical tree's objects were unborrowed (e.g. {missing[0]})", log)


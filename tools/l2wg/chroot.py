"""Cached chroots of Debian suites, and commands run inside them.

A DKMS package is proven the way a user of a suite builds it: in a system of
that suite, with that suite's own dkms, compiler and linux-headers package.
Debian's 7.x headers cannot be installed on the host (bookworm): they need a
newer gcc and libc.  And the host is never changed: nothing is installed on
it, and nothing stays mounted on it.

Three levels, each written once and then only read::

    $L2WG_HOME/chroots/
      sid-1a2b3c4d5e6f/           the base: mmdebstrap of the suite with the
      sid-1a2b3c4d5e6f.json       packages every user of it has (dkms ...);
                                  the name is the suite and a digest of
                                  everything it is made from (ChrootSpec)
      sid-1a2b3c4d5e6f+linux-headers-7.2.13+deb14-amd64/upper/
                                  a layer: what installing more packages
                                  (one linux-headers package) into the base
                                  changed, as an overlayfs upper directory

and a session: one more overlay layer in a directory the caller owns, which
takes every write of the commands run in it (installing l2wireguard-dkms,
dkms's build), so the cached levels stay as they were made.

A second headers package of a suite is a second small layer on the same
base, never a new mmdebstrap; a base or layer is made in a staging
directory and renamed into place only when complete, under a lock, so a
failed or concurrent run never leaves or uses a half-made one.

Every command runs through :func:`l2wg.runner.run` as ``unshare --mount
--propagation private -- sh -euc SCRIPT``: the script mounts the overlay,
``/proc`` (objtool reads it) and ``/dev`` inside the new mount namespace,
then ``exec chroot ROOT env -i ... COMMAND``.  The mounts end with the
namespace; the host's mount table never sees them.  mmdebstrap itself runs
in such a namespace too.  apt checks every suite's Release signature against
debian-archive-keyring (mmdebstrap ``--keyring``); the archive is a snapshot
past its Valid-Until, so the two Acquire options that accept that are given
explicitly (they persist in the chroot's apt.conf.d for its own apt).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shlex
import shutil
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from . import store
from .errors import L2wgError
from .kernels import DEBIAN_KEYRING, DEBIAN_MIRROR
from .progress import Progress
from .runner import Completed, run
from .workspace import Workspace

#: Bump when the way bases or layers are made changes: every cached one is then made
#: again (the base's digest, and so every name, changes).
FORMAT = 1

MIRROR = DEBIAN_MIRROR
SECURITY_MIRROR = "http://deb.debian.org/debian-security"
KEYRING = DEBIAN_KEYRING
#: The archive here is a snapshot whose Release files are past Valid-Until.
APT_OPTIONS = ('Acquire::Check-Valid-Until "false"', 'Acquire::Check-Date "false"')
#: Suites with no -updates and -security companions.
UNRELEASED = ("sid", "unstable", "experimental")
SUITE_RE = re.compile(r"^[a-z][a-z0-9]*(-backports)?$")
PACKAGE_RE = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")

#: The environment inside: nothing of the host's leaks in.
INSIDE_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
              "HOME": "/root", "LC_ALL": "C.UTF-8", "DEBIAN_FRONTEND": "noninteractive"}


@dataclass(frozen=True)
class Suite:
    """A Debian suite as apt names it, and what a system of it has in sources.list.

    A backports suite extends its release: ``trixie-backports`` has *base*
    ``trixie`` (use :meth:`named` to get it filled in).
    """

    name: str
    base: str | None = None
    mirror: str = MIRROR
    security_mirror: str = SECURITY_MIRROR
    components: tuple[str, ...] = ("main",)

    def __post_init__(self) -> None:
        if not SUITE_RE.match(self.name):
            raise L2wgError(f"bad suite name {self.name!r} (expected like bookworm, sid or "
                            "trixie-backports)")
        if self.name.endswith("-backports"):
            if self.base != self.name.removesuffix("-backports"):
                raise L2wgError(f"suite {self.name} needs base "
                                f"{self.name.removesuffix('-backports')!r}, not {self.base!r}")
        elif self.base is not None:
            raise L2wgError(f"suite {self.name} is not a backports suite: it has no base")

    @classmethod
    def named(cls, name: str, mirror: str = MIRROR) -> "Suite":
        """The suite *name*, with the base a backports suite needs; the security
        archive sits beside *mirror* (``.../debian`` -> ``.../debian-security``)."""
        base = name.removesuffix("-backports") if name.endswith("-backports") else None
        security = f"{mirror.rstrip('/')}-security" if mirror.rstrip("/").endswith(
            "/debian") else SECURITY_MIRROR
        return cls(name, base, mirror, security)

    @property
    def release(self) -> str:
        """The release the chroot is of: trixie for trixie-backports."""
        return self.base or self.name

    def sources(self) -> tuple[str, ...]:
        """sources.list lines: the release, its -updates and -security, then backports."""
        comps = " ".join(self.components)
        lines = [f"deb {self.mirror} {self.release} {comps}"]
        if self.release not in UNRELEASED:
            lines += [f"deb {self.mirror} {self.release}-updates {comps}",
                      f"deb {self.security_mirror} {self.release}-security {comps}"]
        if self.base:
            lines.append(f"deb {self.mirror} {self.name} {comps}")
        return tuple(lines)


@dataclass(frozen=True)
class ChrootSpec:
    """Everything a base chroot is made from; its digest names it."""

    suite: Suite
    packages: tuple[str, ...]
    arch: str = "amd64"
    variant: str = "apt"
    keyring: Path = KEYRING
    apt_options: tuple[str, ...] = APT_OPTIONS

    def __post_init__(self) -> None:
        for package in self.packages:
            if not PACKAGE_RE.match(package):
                raise L2wgError(f"bad Debian package name {package!r}")

    def inputs(self) -> dict:
        return {"format": FORMAT, "suite": self.suite.name, "base": self.suite.base,
                "sources": list(self.suite.sources()), "packages": sorted(self.packages),
                "arch": self.arch, "variant": self.variant, "keyring": str(self.keyring),
                "apt_options": list(self.apt_options)}

    @property
    def digest(self) -> str:
        return store.sha256_text(json.dumps(self.inputs(), sort_keys=True))

    @property
    def name(self) -> str:
        return f"{self.suite.name}-{self.digest[:12]}"

    def mmdebstrap_command(self, target: Path) -> list[str]:
        """mmdebstrap into *target* (an empty directory), signatures checked."""
        return ["mmdebstrap", "--mode=root", f"--variant={self.variant}",
                f"--architectures={self.arch}", f"--keyring={self.keyring}",
                *(f"--aptopt={opt}" for opt in self.apt_options),
                f"--include={','.join(sorted(self.packages))}",
                self.suite.release, str(target), *self.suite.sources()]


@dataclass(frozen=True)
class Chroot:
    """A made chroot: the base root and the layers on it (lowest first)."""

    spec: ChrootSpec
    base: Path
    layers: tuple[Path, ...] = ()
    packages: tuple[str, ...] = ()      # what the layers added

    @property
    def lowers(self) -> tuple[Path, ...]:
        """overlayfs lowerdir order: the topmost layer first, the base last."""
        return (*reversed(self.layers), self.base)

    @property
    def name(self) -> str:
        return self.base.name + "".join(f"+{p}" for p in self.packages)


@dataclass(frozen=True)
class Bind:
    """A host directory visible inside the chroot at *inside*."""

    host: Path
    inside: str
    read_only: bool = True

    def __post_init__(self) -> None:
        if not re.fullmatch(r"(/[A-Za-z0-9._-]+)+", self.inside) or "/.." in self.inside:
            raise L2wgError(f"bind target {self.inside!r} must be a plain absolute path")


# the command line ------------------------------------------------------------

def _overlay_safe(path: Path) -> str:
    text = str(path)
    if any(c in text for c in ",:\n"):
        raise L2wgError(f"{text}: a chroot path must not contain ',' or ':' (overlayfs options)")
    return text


def namespace_command(script: Sequence[str], argv: Sequence[str | os.PathLike] = ()) -> list[str]:
    """*script* (shell lines) in a private mount namespace, *argv* as its "$@"."""
    return ["unshare", "--mount", "--propagation", "private", "--",
            "sh", "-euc", "\n".join(script), "l2wg-chroot", *(str(a) for a in argv)]


def session_command(root: Path, lowers: Sequence[Path], upper: Path, work: Path,
                    argv: Sequence[str | os.PathLike], binds: Sequence[Bind] = (),
                    env: Mapping[str, str] | None = None) -> list[str]:
    """The command that runs *argv* in the overlay of *lowers* + *upper*, mounted at *root*.

    Everything is mounted in a new, private mount namespace and ends with it.
    """
    q = shlex.quote
    options = (f"lowerdir={':'.join(_overlay_safe(p) for p in lowers)},"
               f"upperdir={_overlay_safe(upper)},workdir={_overlay_safe(work)}")
    script = [f"mount -t overlay overlay -o {q(options)} {q(str(root))}",
              f"mount -t proc proc {q(str(root / 'proc'))}",
              f"mount --rbind /dev {q(str(root / 'dev'))}"]
    for bind in binds:
        target = q(str(root / bind.inside.lstrip("/")))
        script += [f"mkdir -p {target}",
                   f"mount --bind {'-o ro ' if bind.read_only else ''}{q(str(bind.host))} {target}"]
    words = " ".join(q(f"{k}={v}") for k, v in {**INSIDE_ENV, **(env or {})}.items())
    script.append(f'exec chroot {q(str(root))} /usr/bin/env -i {words} "$@"')
    return namespace_command(script, argv)


# sessions --------------------------------------------------------------------

@dataclass(frozen=True)
class Session:
    """Commands run in *chroot* with every write going to *path*/upper.

    *path* belongs to the caller: :meth:`start` empties it, and it is kept
    (for a look at what a failed command left) until the caller removes it.
    """

    chroot: Chroot
    path: Path
    binds: tuple[Bind, ...] = ()

    @property
    def upper(self) -> Path:
        return self.path / "upper"

    def start(self) -> "Session":
        remove_tree(self.path)
        make_dirs(self.path)
        return self

    def command(self, argv: Sequence[str | os.PathLike],
                env: Mapping[str, str] | None = None) -> list[str]:
        return session_command(self.path / "root", self.chroot.lowers, self.upper,
                               self.path / "work", argv, self.binds, env)

    def run(self, argv: Sequence[str | os.PathLike], log: Path, what: str,
            env: Mapping[str, str] | None = None, check: bool = True,
            idle_timeout: float | None = 900) -> Completed:
        need_root("running a command in a chroot")
        return run(self.command(argv, env), log_path=log, what=what, check=check,
                   idle_timeout=idle_timeout)

    def close(self) -> None:
        remove_tree(self.path)


def remove_tree(path: Path) -> None:
    """Remove a session or staging directory.

    Safe although chroots are mounted on such directories: the mounts exist
    only in the namespaces of the commands, which have ended.
    """
    if path.exists():
        shutil.rmtree(path)


def make_dirs(path: Path) -> None:
    """The upper, work and mount-point directories of an overlay at *path*.

    The upper directory's mode becomes the chroot's '/': 0755, whatever the umask.
    """
    for sub in ("upper", "work", "root"):
        (path / sub).mkdir(parents=True)
    (path / "upper").chmod(0o755)


# making and reusing ----------------------------------------------------------

def need_root(what: str) -> None:
    if os.geteuid() != 0:
        raise L2wgError(f"{what} needs root (mmdebstrap --mode=root, mount, chroot)")


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on *path* (another l2wg making the same chroot waits)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@contextlib.contextmanager
def _staging(final: Path) -> Iterator[Path]:
    """store.staging_dir, made world-traversable: it becomes a chroot's '/'."""
    with store.staging_dir(final) as tmp:
        tmp.chmod(0o755)
        yield tmp


def ensure(spec: ChrootSpec, ws: Workspace, progress: Progress, log: Path) -> Chroot:
    """The base chroot of *spec*: reused when present, else made with mmdebstrap."""
    need_root("making a chroot")
    final = ws.chroots / spec.name
    with _locked(ws.chroots / f".{spec.name}.lock"):
        if not final.is_dir():
            progress.step(f"{spec.suite.name} chroot: mmdebstrap {','.join(spec.packages)} "
                          f"into {final}")
            start = time.monotonic()
            with _staging(final) as tmp:
                # Its own mount namespace: whatever mmdebstrap mounts in the
                # target (proc, sys, dev) cannot outlive it on the host.
                run(namespace_command(['exec "$@"'], spec.mmdebstrap_command(tmp)),
                    log_path=log, idle_timeout=900,
                    what=f"mmdebstrap of {spec.suite.name} ({', '.join(spec.suite.sources())})")
            store.write_json(ws.chroots / f"{spec.name}.json",
                             {**spec.inputs(), "seconds": round(time.monotonic() - start, 1)})
    return Chroot(spec, final)


def layer_name(chroot: Chroot, packages: Sequence[str]) -> str:
    names = "+".join(sorted(packages))
    if len(chroot.name) + len(names) > 200:
        names = store.sha256_text(names)[:16]
    return f"{chroot.name}+{names}"


def with_packages(chroot: Chroot, packages: Sequence[str], ws: Workspace, progress: Progress,
                  log: Path) -> Chroot:
    """*chroot* with one more layer: *packages* installed by its own apt.

    The layer is cached like the base (reused when present, made atomically),
    so another headers package costs one apt-get install, never a new base.
    """
    for package in packages:
        if not PACKAGE_RE.match(package):
            raise L2wgError(f"bad Debian package name {package!r}")
    final = ws.chroots / layer_name(chroot, packages)
    with _locked(ws.chroots / f".{final.name}.lock"):
        if not (final / "upper").is_dir():
            progress.step(f"{chroot.spec.suite.name} chroot: apt-get install "
                          f"{' '.join(packages)} (a layer on {chroot.name})")
            start = time.monotonic()
            with _staging(final) as tmp:
                session = Session(chroot, tmp)
                make_dirs(tmp)
                apt = ["apt-get", "-q", "-y", "--no-install-recommends"]
                if chroot.spec.suite.base:
                    # What a backports user types: the suite's newer
                    # dependencies too (7.3's image needs linux-base 4.17).
                    apt += ["-t", chroot.spec.suite.name]
                session.run(["apt-get", "-q", "update"], log, what=f"apt-get update in the "
                            f"{chroot.spec.suite.name} chroot")
                # INITRD=No (honoured by Debian's kernel hooks): a headers
                # package may pull in its linux-image, whose initramfs has
                # nothing to do with DKMS and took 100 s of the 174 s here.
                session.run([*apt, "install", *packages], log, env={"INITRD": "No"},
                            what=f"apt-get install {' '.join(packages)} in the "
                                 f"{chroot.spec.suite.name} chroot")
                # The lists and .debs are not part of the layer: a later
                # install updates the lists again.
                session.run(["sh", "-c", "apt-get clean && rm -rf /var/lib/apt/lists/*_*"], log,
                            what="apt-get clean")
                shutil.rmtree(tmp / "root")
                remove_tree(tmp / "work")
            store.write_json(final.with_name(final.name + ".json"),
                             {"base": chroot.name, "packages": list(packages),
                              "seconds": round(time.monotonic() - start, 1)})
    return Chroot(chroot.spec, chroot.base, (*chroot.layers, final / "upper"),
                  (*chroot.packages, *packages))


"""Programs from a newer Debian suite, where the host's own are too old: the
check guest's ``wg``, and the host's ``sparse`` for ``l2wg submit``.

The guest is assembled from this machine's Debian binaries (guest.py).  One
of them falls behind the kernels the series is carried to: 7.3's
``netns.sh`` removes allowed IPs with ``wg set ... allowed-ips -IP/CIDR``,
which bookworm's wireguard-tools (1.0.20210914) does not know.  So the
guest's ``wg`` comes from the wireguard-tools package of a newer suite
(kernels.toml ``[guest] wireguard-tools = { suite = "sid" }``), fetched
through l2wg's own apt configuration and checked against the archive, like
a kernel source.

That binary needs its suite's glibc, newer than the host's: the suite's
libc6 package is unpacked beside it, and ``/usr/bin/wg`` in the guest is a
two-line wrapper that runs it with that libc's own dynamic loader (``ld.so
--library-path``), so nothing else in the guest sees the second libc.  (The
archive here serves binary packages only, so building wg from its Debian
source is not an option.)  A newer wg speaks the same generic netlink to
older kernels.

``sparse`` is the same story on the host: 7.x's scripts/checker-valid.sh
wants ``__typeof_unqual__``, which bookworm's sparse 0.6.4 does not know, so
kbuild would run no sparse at all for ``C=2``.  kernels.toml ``[tools]
sparse = { suite = "sid" }`` names the suite whose sparse :func:`suite_sparse`
unpacks with that suite's libc, behind a wrapper script that runs it with
the suite's loader; ``make CHECK=<wrapper>`` then uses it.

Unpacked packages are cached per version under ``$L2WG_HOME/userspace/``.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from . import sources, store
from .apt import Apt
from .errors import L2wgError
from .guest import GuestPrograms
from .kernels import Matrix
from .progress import Progress
from .runner import run
from .workspace import Workspace

WIREGUARD_TOOLS = "wireguard-tools"
#: Where the suite's wg and its libc live in the guest.
GUEST_DIR = "/opt/l2wg-userspace"
LOADER = "ld-linux-x86-64.so.2"


def guest_programs(matrix: Matrix, ws: Workspace, progress: Progress,
                   log: Path | None = None) -> GuestPrograms:
    """What kernels.toml's [guest] table asks for instead of the host's programs."""
    suite = matrix.guest.wireguard_tools_suite
    if suite is None:
        return GuestPrograms()
    log = log or ws.logs / "userspace.log"
    return suite_wg(sources.debian_apt(suite, matrix.debian, ws), ws, progress, log)


def suite_wg(apt: Apt, ws: Workspace, progress: Progress, log: Path) -> GuestPrograms:
    """The suite's wg with the suite's libc, and the /usr/bin/wg wrapper that joins them."""
    root, tools = unpack_with_libc(WIREGUARD_TOOLS, apt, ws, progress, log, "the guest's wg",
                                   {"wg": wrapper()})
    files = {"/usr/bin/wg": root / "wg", f"{GUEST_DIR}/wg": _one(root, "usr/bin/wg", log)}
    for name in ("libc.so.6", LOADER):
        files[f"{GUEST_DIR}/lib/{name}"] = _one(root, f"usr/lib/x86_64-linux-gnu/{name}", log)
    return GuestPrograms(files, {"wg": f"{tools.name} {tools.version} ({apt.suite})"})


@dataclass(frozen=True)
class HostProgram:
    """A program of another suite, runnable on this host through its wrapper."""

    path: Path          # the wrapper script: run this
    description: str    # "sparse 0.6.5~rc1-2 (sid)"


def suite_sparse(apt: Apt, ws: Workspace, progress: Progress, log: Path) -> HostProgram:
    """The suite's sparse with the suite's libc, behind a wrapper (CHECK= for kbuild)."""
    root, pkg = unpack_with_libc("sparse", apt, ws, progress, log, "the sparse gate", {})
    program = _one(root, "usr/bin/sparse", log)
    lib = _one(root, f"usr/lib/x86_64-linux-gnu/{LOADER}", log).parent
    script = root / "sparse-wrapper"
    text = host_wrapper(lib, program)
    if not script.is_file() or script.read_text() != text:
        script.write_text(text)
        script.chmod(0o755)
    return HostProgram(script, f"{pkg.name} {pkg.version} ({apt.suite})")


def host_wrapper(lib: Path, program: Path) -> str:
    """Runs *program* with the loader and libc in *lib*, nothing else of the host's."""
    return (f"#!/bin/sh\nexec {shlex.quote(str(lib / LOADER))} --library-path "
            f"{shlex.quote(str(lib))} {shlex.quote(str(program))} \"$@\"\n")


def unpack_with_libc(package: str, apt: Apt, ws: Workspace, progress: Progress, log: Path,
                     purpose: str, scripts: dict[str, str]):
    """Unpack the suite's *package* and its libc6 into one cached directory (with
    *scripts*, name -> text, beside them).  (directory, the package)."""
    pkg = sources.debian_package(package, None, log, apt)
    libc = sources.debian_package("libc6", None, log, apt)
    root = ws.root / "userspace" / f"{pkg.name}_{pkg.version}+{libc.name}_{libc.version}"
    marker = root / ".l2wg-unpacked"
    want = f"{pkg.sha256} {libc.sha256}\n"
    if not marker.is_file() or marker.read_text() != want:
        progress.step(f"unpacking {pkg.name} {pkg.version} and {libc.name} {libc.version} "
                      f"from {apt.describe()} for {purpose}")
        with store.staging_dir(root) as tmp:
            for one in (pkg, libc):
                deb = sources.fetch_deb(one, ws, progress, log, apt)
                run(["dpkg-deb", "-x", deb, tmp], log_path=log, what=f"dpkg-deb -x {deb.name}")
                deb.unlink()
            for name, text in scripts.items():
                (tmp / name).write_text(text)
                (tmp / name).chmod(0o755)
            (tmp / ".l2wg-unpacked").write_text(want)
    return root, pkg


def wrapper() -> str:
    """The guest's /usr/bin/wg: the suite's wg, run by the suite's own loader."""
    return (f"#!/bin/sh\nexec {GUEST_DIR}/lib/{LOADER} --library-path {GUEST_DIR}/lib "
            f"{GUEST_DIR}/wg \"$@\"\n")


def _one(root: Path, relative: str, log: Path) -> Path:
    path = root / relative
    if not path.is_file():
        raise L2wgError(f"{root.name}: the package has no {relative}", log)
    return path.resolve()

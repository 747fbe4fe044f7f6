"""The check guest's userspace, where the host's own binaries are too old.

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

Unpacked packages are cached per version under ``$L2WG_HOME/userspace/``.
"""

from __future__ import annotations

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
    tools = sources.debian_package(WIREGUARD_TOOLS, None, log, apt)
    libc = sources.debian_package("libc6", None, log, apt)
    root = ws.root / "userspace" / f"{tools.name}_{tools.version}+{libc.name}_{libc.version}"
    marker = root / ".l2wg-unpacked"
    want = f"{tools.sha256} {libc.sha256}\n"
    if not marker.is_file() or marker.read_text() != want:
        progress.step(f"unpacking {tools.name} {tools.version} and {libc.name} {libc.version} "
                      f"from {apt.describe()} for the guest's wg")
        with store.staging_dir(root) as tmp:
            for pkg in (tools, libc):
                deb = sources.fetch_deb(pkg, ws, progress, log, apt)
                run(["dpkg-deb", "-x", deb, tmp], log_path=log, what=f"dpkg-deb -x {deb.name}")
                deb.unlink()
            (tmp / "wg").write_text(wrapper())
            (tmp / "wg").chmod(0o755)
            (tmp / ".l2wg-unpacked").write_text(want)
    files = {"/usr/bin/wg": root / "wg", f"{GUEST_DIR}/wg": _one(root, "usr/bin/wg", log)}
    for name in ("libc.so.6", LOADER):
        files[f"{GUEST_DIR}/lib/{name}"] = _one(root, f"usr/lib/x86_64-linux-gnu/{name}", log)
    return GuestPrograms(files, {"wg": f"{tools.name} {tools.version} ({apt.suite})"})


def wrapper() -> str:
    """The guest's /usr/bin/wg: the suite's wg, run by the suite's own loader."""
    return (f"#!/bin/sh\nexec {GUEST_DIR}/lib/{LOADER} --library-path {GUEST_DIR}/lib "
            f"{GUEST_DIR}/wg \"$@\"\n")


def _one(root: Path, relative: str, log: Path) -> Path:
    path = root / relative
    if not path.is_file():
        raise L2wgError(f"{root.name}: the package has no {relative}", log)
    return path.resolve()

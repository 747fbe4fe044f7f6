"""Where l2wg keeps things: the source cache, work trees and builds.

A :class:`Workspace` is passed explicitly to every stage; there is no
global state.  The default root is ``$L2WG_HOME``, else
``$XDG_CACHE_HOME/l2wg``, else ``~/.cache/l2wg``.  Layout::

    sources/   downloaded packages, tarballs and git mirrors (verified)
    trees/     one git work tree per kernel (pristine commit + the series)
    builds/    one O= build directory per kernel and config
    out/       artifacts per kernel: bzImage, config, build.log, metadata.json
    guest/     cached initramfs images
    apt/       l2wg's own apt configuration per Debian suite (see apt.py)
    interop/   l2wg interop runs: A-B/<stamp>/ per pair of kernels

    @property
    chroots/   Debian suites for DKMS proofs: mmdebstrap bases and package layers (chroot.py)
    logs/      logs of steps that belong to no build
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def default_root() -> Path:
    if os.environ.get("L2WG_HOME"):
        return Path(os.environ["L2WG_HOME"]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg).expanduser() / "l2wg"


@dataclass(frozen=True)
class Workspace:
    root: Path

    @classmethod
    def default(cls) -> "Workspace":
        return cls(default_root())

    @property
    def sources(self) -> Path:
        return self.root / "sources"

    @property
    def trees(self) -> Path:
        return self.root / "trees"

    @property
    def builds(self) -> Path:
        return self.root / "builds"

    @property
    def out(self) -> Path:
        return self.root / "out"

    @property
    def guest(self) -> Path:
        return self.root / "guest"

    @property
    def apt(self) -> Path:
        """Private apt configurations, one per mirror and suite (l2wg.apt)."""
        return self.root / "apt"

    @property
    def chroots(self) -> Path:
        return self.root / "chroots"

    @property
    def interop(self) -> Path:
        """Runs of ``l2wg interop`` (interop.py), per pair of kernels."""
        return self.root / "interop"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def tree(self, kernel_name: str) -> Path:
        return self.trees / kernel_name

    def artifacts(self, kernel_name: str, variant: str = "default") -> Path:
        """Where ``l2wg build`` leaves a kernel's artifacts unless --out says otherwise."""
        return self.out / (kernel_name if variant == "default" else f"{kernel_name}-{variant}")

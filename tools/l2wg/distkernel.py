"""Debian's own kernels: the linux-image package a DKMS module is proven on.

The image package is fetched into the cache (checked against the archive)
and unpacked there -- never installed on the host.  ``module_closure``
follows ``modules.dep`` so the guest can insmod a module's dependencies in
order, decompressed from the package's ``.ko.xz`` files.
"""

from __future__ import annotations

import lzma
from dataclasses import dataclass
from pathlib import Path

from . import sources, store
from .errors import L2wgError
from .progress import Progress
from .runner import run
from .workspace import Workspace


@dataclass(frozen=True)
class DistKernel:
    release: str          # e.g. 6.12.117+deb12-amd64
    package: str
    version: str          # the Debian package version
    root: Path            # the unpacked package

    @property
    def vmlinuz(self) -> Path:
        return self.root / "boot" / f"vmlinuz-{self.release}"

    @property
    def config(self) -> Path:
        return self.root / "boot" / f"config-{self.release}"

    @property
    def modules(self) -> Path:
        return self.root / "lib" / "modules" / self.release


def release_of_headers(headers_package: str) -> str:
    prefix = "linux-headers-"
    if not headers_package.startswith(prefix):
        raise L2wgError(f"'{headers_package}' is not a linux-headers package name")
    return headers_package[len(prefix):]


def fetch_image(release: str, ws: Workspace, progress: Progress, log: Path) -> DistKernel:
    """linux-image-<release>, unpacked in the cache."""
    pkg = sources.debian_package(f"linux-image-{release}", None, log)
    root = ws.sources / "debian" / f"{pkg.name}_{pkg.version}"
    marker = root / ".l2wg-unpacked"
    if not marker.exists() or marker.read_text() != pkg.sha256:
        deb = sources.fetch_deb(pkg, ws, progress, log)
        progress.step(f"unpacking {deb.name}")
        with store.staging_dir(root) as tmp:
            run(["dpkg-deb", "-x", deb, tmp], log_path=log, what=f"dpkg-deb -x {deb.name}")
            # The package ships no modules.dep: depmod makes it at install time.
            run(["depmod", "-b", tmp, release], log_path=log, what="depmod")
            (tmp / ".l2wg-unpacked").write_text(pkg.sha256)
        deb.unlink()
    kernel = DistKernel(release, pkg.name, pkg.version, root)
    if not kernel.vmlinuz.exists():
        raise L2wgError(f"{pkg.name}: no {kernel.vmlinuz.name} in the package", log)
    return kernel


def read_modules_dep(modules: Path) -> dict[str, tuple[str, list[str]]]:
    """modules.dep as {module name: (path, [dependency paths])}."""
    table = {}
    for line in (modules / "modules.dep").read_text().splitlines():
        path, _, deps = line.partition(":")
        name = Path(path).name.split(".ko")[0].replace("-", "_")
        table[name] = (path, deps.split())
    return table


def module_closure(kernel: DistKernel, names: list[str]) -> list[Path]:
    """The package's module files for *names* and their dependencies, in load order."""
    table = read_modules_dep(kernel.modules)
    by_path = {path: deps for path, deps in table.values()}
    order: list[str] = []

    def visit(path: str) -> None:
        if path in order:
            return
        for dep in reversed(by_path.get(path, [])):
            visit(dep)
        order.append(path)

    for name in names:
        key = name.replace("-", "_")
        if key not in table:
            raise L2wgError(f"{kernel.package} has no module '{name}'")
        visit(table[key][0])
    return [kernel.modules / path for path in order]


def decompressed(module: Path, dest: Path) -> Path:
    """*module* as a plain .ko in *dest* (Debian ships them xz-compressed)."""
    dest.mkdir(parents=True, exist_ok=True)
    name = module.name.removesuffix(".xz")
    target = dest / name
    data = module.read_bytes()
    target.write_bytes(lzma.decompress(data) if module.name.endswith(".xz") else data)
    return target

"""Debian's own kernels: the linux-image package a DKMS module is proven on.

The image package is fetched into the cache (checked against the archive)
and unpacked there -- never installed on the host.  It comes from the host's
apt sources or, through l2wg's private apt configuration, from any suite of
the archive (l2wg.apt).  ``module_closure`` follows ``modules.dep`` so the
guest can insmod a module's dependencies in order, decompressed from the
package's ``.ko.xz`` files.  ``modules_for_configs`` names the modules that
provide a set of kernel options: the package's config says which options are
modules (``=m``), and the kernel tree's own kbuild lines
(``obj-$(CONFIG_FOO) += foo.o``) say which module each one is.

Two layouts: up to 6.x, linux-image-R holds /boot/vmlinuz-R, /boot/config-R
and /lib/modules/R.  From 7.x (trixie-backports, sid), linux-image-R is an
empty package depending on linux-binary-R (/usr/lib/modules/R/vmlinuz),
linux-modules-R (the modules) and linux-base-R (config, System.map,
modules.order ...), all under /usr/lib/modules/R; those are fetched and
unpacked into the same directory.
"""

from __future__ import annotations

import lzma
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from . import sources, store
from .apt import Apt
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
    def merged_usr(self) -> bool:
        """True for the 7.x layout: everything under /usr/lib/modules/RELEASE."""
        return (self.root / "usr" / "lib" / "modules" / self.release).is_dir()

    @property
    def vmlinuz(self) -> Path:
        if self.merged_usr:
            return self.root / "usr" / "lib" / "modules" / self.release / "vmlinuz"
        return self.root / "boot" / f"vmlinuz-{self.release}"

    @property
    def config(self) -> Path:
        if self.merged_usr:
            return self.root / "usr" / "lib" / "modules" / self.release / "config"
        return self.root / "boot" / f"config-{self.release}"

    @property
    def modules(self) -> Path:
        if self.merged_usr:
            return self.root / "usr" / "lib" / "modules" / self.release
        return self.root / "lib" / "modules" / self.release


def release_of_headers(headers_package: str) -> str:
    prefix = "linux-headers-"
    if not headers_package.startswith(prefix):
        raise L2wgError(f"'{headers_package}' is not a linux-headers package name")
    return headers_package[len(prefix):]


#: The packages a 7.x linux-image-R depends on that hold the kernel itself.
SPLIT_PARTS = ("linux-binary-{}", "linux-modules-{}", "linux-base-{}")


def fetch_image(release: str, ws: Workspace, progress: Progress, log: Path,
                apt: Apt | None = None) -> DistKernel:
    """linux-image-<release> (and, for 7.x, the packages it is made of), unpacked in the cache.

    *apt*: where to look it up (default: the host's apt sources).
    """
    apt = apt or Apt.host()
    pkg = sources.debian_package(f"linux-image-{release}", None, log, apt)
    parts = [pkg]
    depends = pkg.depended()
    for name in (template.format(release) for template in SPLIT_PARTS):
        if name in depends:
            parts.append(sources.debian_package(name, depends[name] or pkg.version, log, apt))
    root = ws.sources / "debian" / f"{pkg.name}_{pkg.version}"
    marker = root / ".l2wg-unpacked"
    wanted = " ".join(part.sha256 for part in parts)
    if not marker.exists() or marker.read_text() != wanted:
        debs = [sources.fetch_deb(part, ws, progress, log, apt) for part in parts]
        progress.step(f"unpacking {', '.join(deb.name for deb in debs)}")
        with store.staging_dir(root) as tmp:
            for deb in debs:
                run(["dpkg-deb", "-x", deb, tmp], log_path=log, what=f"dpkg-deb -x {deb.name}")
            # The packages ship no modules.dep: depmod makes it at install time.
            merged = (tmp / "usr" / "lib" / "modules" / release).is_dir()
            run(["depmod", "-b", tmp / "usr" if merged else tmp, release], log_path=log,
                what="depmod")
            (tmp / ".l2wg-unpacked").write_text(wanted)
        for deb in debs:
            deb.unlink()
    kernel = DistKernel(release, pkg.name, pkg.version, root)
    if not kernel.vmlinuz.exists():
        raise L2wgError(f"{pkg.name}: no {kernel.vmlinuz.relative_to(root)} in the package "
                        f"or the packages it depends on ({', '.join(p.name for p in parts)})",
                        log)
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


def config_values(config: Path) -> dict[str, str]:
    """A kernel .config as {CONFIG_FOO: value}; options that are not set are absent."""
    values = {}
    for line in config.read_text().splitlines():
        name, sep, value = line.partition("=")
        if sep and name.startswith("CONFIG_"):
            values[name] = value
    return values


KBUILD_OBJ = re.compile(r"^obj-\$\((CONFIG_\w+)\)\s*[+:]?=((?:[^\n]*\\\n)*[^\n]*)",
                        re.MULTILINE)


def kbuild_objects(tree: Path, symbols: set[str]) -> dict[str, list[str]]:
    """{CONFIG_FOO: [object names]} from the ``obj-$(CONFIG_FOO) += foo.o bar.o``
    lines of every Makefile and Kbuild file in *tree*, for the options in *symbols*."""
    found: dict[str, list[str]] = {}
    for makefile in (*tree.rglob("Makefile"), *tree.rglob("Kbuild")):
        text = makefile.read_text(errors="replace")
        if "obj-$(CONFIG_" not in text:
            continue
        for match in KBUILD_OBJ.finditer(text):
            if match.group(1) in symbols:
                objects = match.group(2).replace("\\\n", " ").split()
                found.setdefault(match.group(1), []).extend(
                    word.removesuffix(".o") for word in objects if word.endswith(".o"))
    return found


def config_modules(kernel: DistKernel, tree: Path,
                   symbols: Iterable[str]) -> dict[str, list[str]]:
    """{option: the modules *kernel* must load for it} for the options of
    *symbols* the package builds as modules (``=m``), named by *tree*'s kbuild
    lines.  Built-in options need nothing and unset ones cannot be had (the
    check that needs one skips, saying so): neither is in the result.  An
    ``=m`` option that no kbuild line of *tree* turns into a module of the
    package is an error, not a silent gap."""
    values = config_values(kernel.config)
    wanted = [symbol for symbol in dict.fromkeys(symbols) if values.get(symbol) == "m"]
    objects = kbuild_objects(tree, set(wanted))
    shipped = read_modules_dep(kernel.modules)
    found: dict[str, list[str]] = {}
    for symbol in wanted:
        names = [name.replace("-", "_") for name in objects.get(symbol, [])]
        names = [name for name in names if name in shipped]
        if not names:
            raise L2wgError(f"{kernel.package}: {symbol}=m, but no obj-$({symbol}) line of "
                            f"{tree} names a module the package ships")
        found[symbol] = list(dict.fromkeys(names))
    return found


def modules_for_configs(kernel: DistKernel, tree: Path, symbols: Iterable[str]) -> list[str]:
    """The modules *kernel* must load for *symbols* to hold (config_modules), each once."""
    modules: list[str] = []
    for names in config_modules(kernel, tree, symbols).values():
        modules.extend(name for name in names if name not in modules)
    return modules

"""What the user typed -> a Kernel: a kernels.toml entry, a Debian point release
(``6.12.107``, from the archive apt knows), or, online, a kernel.org release or tag.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Protocol

from .apt import Apt, AptError
from .errors import BadInput
from .kernels import KERNEL_ORG_KEYRING, Kernel, Matrix, SourceSpec
from .sources import debian_apt
from .workspace import Workspace

POINT_RE = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?(-rc\d+)?$")


class ResolveOptions(Protocol):
    """What resolution needs of the caller's options (``rebase.RebaseOptions``)."""

    online: bool    # versions not in kernels.toml may come from kernel.org


def resolve_kernel(spec: str, matrix: Matrix, opts: ResolveOptions, log: Path,
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
        raise BadInput(f"'{spec}' is neither a kernels.toml entry ({', '.join(matrix.kernels)}) "
                        "nor a kernel version such as 6.12.107")
    major, minor, sub, rc = match.groups()
    line, version = f"{major}.{minor}", spec.lstrip("v")
    template = line_entry(matrix, line)
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
            "tarball", url=f"{base}/linux-{version}.tar.xz", checksums=f"{base}/sha256sums.asc",
            keyring=(matrix.path.parent / KERNEL_ORG_KEYRING).resolve()))
    raise BadInput(f"unknown kernel '{spec}': not a kernels.toml entry, and the Debian archive "
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


def line_entry(matrix: Matrix, line: str) -> Kernel | None:
    if line in matrix.kernels:
        return matrix.kernels[line]
    return next((k for k in matrix.kernels.values() if k.line == line), None)


def _kernel_like(template: Kernel | None, version: str, source: SourceSpec) -> Kernel:
    if template is None:
        return Kernel(name=version, source=source, version=version, ci=False)
    return Kernel(name=version, source=source, version=version, fragments=template.fragments,
                  arch=template.arch, ci=False)


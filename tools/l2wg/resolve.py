"""What the user typed -> a Kernel: a kernels.toml entry, a Debian point release
(``6.12.107``, from the archive apt knows), or, online, a kernel.org release or tag.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Protocol

from .errors import L2wgError
from .kernels import Kernel, Matrix, SourceSpec
from .runner import run

POINT_RE = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?(-rc\d+)?$")


class ResolveOptions(Protocol):
    """What resolution needs of the caller's options (``rebase.RebaseOptions``)."""

    online: bool    # versions not in kernels.toml may come from kernel.org


def resolve_kernel(spec: str, matrix: Matrix, opts: ResolveOptions, log: Path) -> Kernel:
    """A kernels.toml entry, a Debian point release, or (online) a kernel.org release."""
    if spec in matrix.kernels:
        return matrix.kernels[spec]
    match = POINT_RE.match(spec)
    if not match:
        raise L2wgError(f"'{spec}' is neither a kernels.toml entry ({', '.join(matrix.kernels)}) "
                        "nor a kernel version such as 6.12.107")
    major, minor, sub, rc = match.groups()
    line, version = f"{major}.{minor}", spec.lstrip("v")
    template = line_entry(matrix, line)
    package = (template.source.package if template and template.source.type == "debian"
               else f"linux-source-{line}")
    found: list[str] = []
    if sub and not rc:
        found = debian_versions(package, log)
        wanted = [v for v in found if v.startswith(f"{version}-")]
        if wanted:
            return _kernel_like(template, version, SourceSpec("debian", package=package,
                                                              version=wanted[0]))
    if opts.online:
        if rc or spec.startswith("v"):
            url = next((k.source.url for k in matrix.kernels.values() if k.source.type == "git"),
                       "https://git.kernel.org/pub/scm/linux/kernel/git/torvalds/linux.git")
            return _kernel_like(template, version, SourceSpec("git", url=url, ref=f"v{version}"))
        base = f"https://cdn.kernel.org/pub/linux/kernel/v{major}.x"
        return _kernel_like(template, version, SourceSpec(
            "tarball", url=f"{base}/linux-{version}.tar.xz", checksums=f"{base}/sha256sums.asc"))
    have = ", ".join(v.split("-")[0] for v in found) or "none"
    raise L2wgError(f"unknown kernel '{spec}': not a kernels.toml entry, and the Debian archive "
                    f"has no {package} {version}-* (it has: {have}); a kernel.org release or "
                    "git tag needs --online")


def debian_versions(package: str, log: Path) -> list[str]:
    """The versions of *package* the archive keeps, newest first (apt-cache madison)."""
    out = run(["apt-cache", "madison", package], log_path=log, check=False,
              what="apt-cache madison").output
    versions = []
    for line in out.splitlines():
        fields = [f.strip() for f in line.split("|")]
        if len(fields) >= 2 and fields[0] == package and fields[1] not in versions:
            versions.append(fields[1])
    return versions


def line_entry(matrix: Matrix, line: str) -> Kernel | None:
    if line in matrix.kernels:
        return matrix.kernels[line]
    return next((k for k in matrix.kernels.values() if k.line == line), None)


def _kernel_like(template: Kernel | None, version: str, source: SourceSpec) -> Kernel:
    if template is None:
        return Kernel(name=version, source=source, version=version, ci=False)
    return Kernel(name=version, source=source, version=version, fragments=template.fragments,
                  arch=template.arch, ci=False)


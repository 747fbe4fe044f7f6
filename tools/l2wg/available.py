"""New kernel lines: what the Debian archive offers, against the matrix.

``l2wg kernels --available`` asks every suite l2wg knows -- the host's own
apt sources (unless ``[debian] host = false``) and the ``[debian] suites``
of kernels.toml through l2wg's private apt configuration -- for its
``linux-source-X.Y`` packages, and lists each line with its newest version
and the suite that has it, marking the lines no kernels.toml entry covers.
A suite that cannot be asked is reported, one line each; the others are
still listed.

It also names each ``dkms_headers`` package that its suite has a newer one
of, on the same line and flavour (linux-headers-6.12.117+deb12-amd64 when
bookworm has 6.12.118+deb12-amd64): the Debian kernel the DKMS proof runs
on is then no longer the one that suite's users get.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from .apt import Apt, AptError, Offer, compare_versions, newest
from . import sources
from .kernels import DkmsHeaders, Kernel, Matrix
from .workspace import Workspace

PREFIX = "linux-source-"
LINE_RE = re.compile(r"^linux-source-(\d+\.\d+)$")


@dataclass(frozen=True)
class Line:
    """One kernel line the archive offers."""

    line: str                      # "7.3"
    package: str                   # "linux-source-7.3"
    newest: str                    # its newest version in any suite
    suite: str                     # the suite that has that version
    #: (suite, newest version there) for every suite that has the line.
    suites: tuple[tuple[str, str], ...]
    #: The kernels.toml entries of this line (empty: a new line).
    entries: tuple[str, ...]

    @property
    def new(self) -> bool:
        return not self.entries


@dataclass(frozen=True)
class NewerHeaders:
    """A dkms_headers package of kernels.toml, and the newer one its suite has."""

    kernel: str                    # "6.12"
    pinned: str                    # "linux-headers-6.12.117+deb12-amd64"
    suite: str                     # "bookworm"
    newest: str                    # "linux-headers-6.12.118+deb12-amd64"
    version: str                   # its version, "6.12.118-1~deb12u1"

    def line(self) -> str:
        return (f"{self.kernel}: dkms_headers {self.pinned} is not {self.suite}'s newest: "
                f"{self.newest} ({self.version})")


@dataclass
class Availability:
    lines: list[Line]
    #: dkms_headers packages whose suite has a newer one.
    newer_headers: list[NewerHeaders] = field(default_factory=list)
    #: Suites that could not be asked, one error line each.
    problems: list[str] = field(default_factory=list)
    #: When each private suite's lists were fetched.
    fetched: dict[str, datetime] = field(default_factory=dict)


def apts(matrix: Matrix, ws: Workspace) -> list[Apt]:
    """Every apt configuration `--available` asks, host first."""
    found = [Apt.host()] if matrix.debian.host else []
    return found + [Apt.for_suite(ws.apt, suite, matrix.debian) for suite in matrix.debian.suites]


def available(matrix: Matrix, ws: Workspace, log: Path, refresh: bool = False) -> Availability:
    """The kernel lines the archive offers now; *refresh* updates l2wg's private lists first."""
    offers: list[Offer] = []
    result = Availability([])
    for apt in apts(matrix, ws):
        try:
            if refresh and apt.private:
                apt.update(log)
            names = [n for n in apt.names(PREFIX, log) if LINE_RE.match(n)]
            offers += [o if not apt.private else Offer(o.package, o.version, apt.suite or "")
                       for o in apt.offers(names, log)]
        except AptError as exc:
            result.problems.append(str(exc))
        if apt.private and apt.state is not None:
            inrelease = sorted((apt.state / "lists").glob("*Release"))
            if inrelease:
                result.fetched[apt.suite or ""] = datetime.fromtimestamp(
                    inrelease[0].stat().st_mtime)
    by_package: dict[str, list[Offer]] = {}
    for offer in offers:
        by_package.setdefault(offer.package, []).append(offer)
    for package, found in by_package.items():
        line = package[len(PREFIX):]
        best = newest([o.version for o in found])
        suites: dict[str, str] = {}
        for offer in found:
            if offer.suite not in suites or compare_versions(offer.version,
                                                             suites[offer.suite]) > 0:
                suites[offer.suite] = offer.version
        entries = tuple(k.name for k in matrix.kernels.values() if k.line == line)
        result.lines.append(Line(line, package, best,
                                 next(o.suite for o in found if o.version == best),
                                 tuple(suites.items()), entries))
    result.lines.sort(key=lambda ln: tuple(int(n) for n in ln.line.split(".")), reverse=True)
    for kernel in matrix.kernels.values():
        for headers in kernel.dkms_headers:
            try:
                apt = sources.debian_apt(headers.apt_suite, matrix.debian, ws)
                newer = newer_headers(kernel, headers, apt, log)
            except AptError as exc:
                result.problems.append(str(exc))
                continue
            if newer is not None:
                result.newer_headers.append(newer)
    return result


def same_flavour(kernel: Kernel, package: str) -> re.Pattern:
    """The headers packages of *kernel*'s line named as *package* is, numbers
    aside: linux-headers-6.12.117+deb12-amd64 -> linux-headers-6.12.N+deb12-amd64
    (not -rt-amd64, -cloud-amd64 or -common)."""
    prefix = f"linux-headers-{kernel.line}."
    rest = package[len(prefix):] if package.startswith(prefix) else package
    pattern = re.sub(r"(?<![a-z\d])\d+", lambda _: r"\d+", re.escape(rest))
    return re.compile(re.escape(prefix) + pattern + "$")


def newer_headers(kernel: Kernel, headers: DkmsHeaders, apt: Apt,
                  log: Path) -> NewerHeaders | None:
    """The newest headers package of the same line and flavour in the suite, if it
    is not *headers*' own (None when the pin is the newest, or the suite has no
    package named like it)."""
    match = same_flavour(kernel, headers.package)
    names = [n for n in apt.names(f"linux-headers-{kernel.line}.", log) if match.match(n)]
    offers = apt.offers(names, log)
    if not offers:
        return None
    best = newest([o.version for o in offers])
    top = next(o for o in offers if o.version == best)
    if top.package == headers.package:
        return None
    return NewerHeaders(kernel.name, headers.package, headers.suite, top.package, best)


def table(result: Availability) -> str:
    """The lines as a table for the terminal; new lines marked."""
    rows = [("line", "newest", "suite", "in kernels.toml", "also in")]
    for ln in result.lines:
        also = ", ".join(f"{suite} {version}" for suite, version in ln.suites
                         if suite != ln.suite)
        rows.append((ln.line, ln.newest, ln.suite,
                     "NEW (not in the matrix)" if ln.new else ", ".join(ln.entries), also))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    out = ["  ".join(cell.ljust(widths[i]) if i < 4 else cell for i, cell in enumerate(row))
           .rstrip() for row in rows]
    new = [ln.line for ln in result.lines if ln.new]
    out.append(f"{len(result.lines)} line(s); not in kernels.toml: {', '.join(new) or 'none'}")
    if result.fetched:
        dates = ", ".join(f"{suite} {when:%Y-%m-%d %H:%M}"
                          for suite, when in sorted(result.fetched.items()))
        out.append(f"l2wg's lists fetched: {dates} (--refresh fetches them again)")
    out += [newer.line() for newer in result.newer_headers]
    return "\n".join(out)

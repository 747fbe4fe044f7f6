"""apt as l2wg asks it: the host's own configuration, or a private one per suite.

Kernel lines newer than the host's release live in other suites of the same
Debian archive (sid, trixie-backports, ...).  l2wg reaches them without
touching the host's apt set-up: each suite gets its own configuration under
the workspace ::

    $L2WG_HOME/apt/<mirror>/<suite>/       e.g. apt/deb.debian.org_debian/sid/
        sources.list   deb [signed-by=KEYRING] MIRROR SUITE main
        lists/         Dir::State::Lists: the suite's signed InRelease and Packages
        cache/         Dir::Cache (pkgcache.bin, so look-ups take milliseconds)
        status         an empty dpkg status: nothing counts as installed here

and every apt command it runs gets ``-o Dir::...`` options pointing there
(``Apt.options``).  apt still reads the host's /etc/apt/apt.conf.d (which,
for instance, turns off Check-Valid-Until for a snapshot archive) and
checks the suite's Release signature against the keyring as it always does.
The host's sources, lists, status and preferences are neither read nor
written (preferences: none).  ``apt-get update`` of a private suite runs
only when its lists are missing, or once when a package is not found in
them; the host's own lists are never updated by l2wg.

Every command goes through :func:`l2wg.runner.run`, which logs it.
"""

from __future__ import annotations

import fcntl
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from .errors import FetchError
from .kernels import DebianArchive
from .runner import last_error_line, run


class AptError(FetchError):
    """apt could not answer: see the subclasses."""


class NotInArchive(AptError):
    """The suite, the package or the version does not exist."""


class ArchiveUnreachable(AptError):
    """The archive could not be reached (no network, a wrong host, a server down)."""


class BadSignature(AptError):
    """The suite's Release file is not signed by a key in the keyring."""


@dataclass(frozen=True)
class DebianPackage:
    """One version of a package, as the archive's signed index describes it."""

    name: str
    version: str
    sha256: str
    size: int
    #: The suite it was found in (None: the host's apt sources).
    suite: str | None = None
    depends: str = ""

    def depended(self) -> dict[str, str | None]:
        """The packages named in Depends, with the exact version when it is ``(= V)``."""
        found: dict[str, str | None] = {}
        for alternative in re.split(r"[,|]", self.depends):
            match = re.match(r"\s*([a-z0-9][a-z0-9.+-]*)(?::\S+)?\s*(?:\(\s*=\s*([^)\s]+)\s*\))?",
                             alternative)
            if match:
                found.setdefault(match.group(1), match.group(2))
        return found


@dataclass(frozen=True)
class Offer:
    """One line of ``apt-cache madison``: a version of a package and where it is."""

    package: str
    version: str
    suite: str


@dataclass
class Apt:
    """One way to ask apt: the host's configuration (suite None) or a private one."""

    suite: str | None = None
    mirror: str = ""
    keyring: Path | None = None
    components: tuple[str, ...] = ("main",)
    #: The private configuration's directory (None for the host's).
    state: Path | None = None
    #: True once this object has run ``apt-get update`` (it does so at most once).
    updated: bool = field(default=False, compare=False)

    @classmethod
    def host(cls) -> "Apt":
        return cls()

    @classmethod
    def for_suite(cls, apt_root: Path, suite: str, archive: DebianArchive) -> "Apt":
        """The private configuration for *suite* of *archive*, under *apt_root*."""
        return cls(suite=suite, mirror=archive.mirror, keyring=Path(archive.keyring),
                   state=apt_root / mirror_slug(archive.mirror) / suite)

    @property
    def private(self) -> bool:
        return self.suite is not None

    def describe(self) -> str:
        return f"the Debian suite '{self.suite}'" if self.private else "the Debian archive"

    # The private configuration -------------------------------------------------

    def sources_line(self) -> str:
        return (f"deb [signed-by={self.keyring}] {self.mirror} {self.suite} "
                f"{' '.join(self.components)}\n")

    def options(self) -> list[str]:
        """The ``-o`` options that make apt use the private configuration."""
        if not self.private:
            return []
        assert self.state is not None
        s = self.state
        return ["-o", f"Dir::Etc::sourcelist={s / 'sources.list'}",
                "-o", "Dir::Etc::sourceparts=/dev/null",
                "-o", "Dir::Etc::preferences=/dev/null",
                "-o", "Dir::Etc::preferencesparts=/dev/null",
                "-o", f"Dir::State={s}",
                "-o", f"Dir::State::Lists={s / 'lists'}",
                "-o", f"Dir::State::status={s / 'status'}",
                "-o", f"Dir::Cache={s / 'cache'}",
                "-o", "Dir::Cache::pkgcache=pkgcache.bin",
                "-o", "Dir::Cache::srcpkgcache="]

    def _prepare(self) -> None:
        """Create the private directory; a changed sources line drops the old lists."""
        assert self.state is not None
        if self.keyring is None or not self.keyring.is_file():
            raise AptError(f"{self.describe()}: no keyring {self.keyring} to check its "
                           "Release signature (apt-get install debian-archive-keyring, or "
                           "set [debian] keyring in kernels.toml)")
        (self.state / "lists" / "partial").mkdir(parents=True, exist_ok=True)
        (self.state / "cache" / "archives" / "partial").mkdir(parents=True, exist_ok=True)
        status = self.state / "status"
        if not status.exists():
            status.write_text("")
        sources = self.state / "sources.list"
        line = self.sources_line()
        if not sources.exists() or sources.read_text() != line:
            self._drop_lists()
            sources.write_text(line)

    def _drop_lists(self) -> None:
        assert self.state is not None
        for path in (self.state / "lists").glob("*"):
            if path.is_file() and path.name != "lock":
                path.unlink()
        (self.state / "cache" / "pkgcache.bin").unlink(missing_ok=True)

    def has_lists(self) -> bool:
        """True when the private lists hold the suite's signed index."""
        if not self.private:
            return True
        assert self.state is not None
        lists = self.state / "lists"
        signed = any(lists.glob("*_InRelease")) or any(lists.glob("*_Release"))
        return signed and any(lists.glob("*_Packages*"))

    def update(self, log: Path, wanted: str = "") -> None:
        """``apt-get update`` of the private lists; a failure is one clear error
        (*wanted*, the package being looked for, names what is missing)."""
        if not self.private:
            raise AptError("l2wg does not update the host's apt lists "
                           "(as root: apt-get update)", log)
        self._prepare()
        self.updated = True
        assert self.state is not None
        # Another l2wg updating the same lists: wait for it rather than fail on apt's lock.
        with open(self.state / "l2wg-update.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            done = run(["apt-get", *self.options(), "update", "--error-on=any"], log_path=log,
                       check=False, what=f"apt-get update ({self.suite})")
        if done.returncode == 0 and self.has_lists():
            return
        # apt replaces lists only with verified ones: what was there before stays usable.
        error = _update_error(self, done.output, log, wanted)
        if isinstance(error, NotInArchive):
            shutil.rmtree(self.state, ignore_errors=True)   # a typo leaves nothing behind
        raise error

    def ensure_lists(self, log: Path, wanted: str = "") -> None:
        if self.private:
            self._prepare()
            if not self.has_lists():
                self.update(log, wanted)

    # Questions ----------------------------------------------------------------

    def _cache(self, args: list[str], log: Path, what: str):
        return run(["apt-cache", *self.options(), *args], log_path=log, check=False, what=what)

    def find(self, package: str, version: str | None, log: Path) -> DebianPackage:
        """*package* = *version* (default: the candidate) as the index describes it.

        A private suite whose lists lack it is updated once and asked again.
        """
        self.ensure_lists(log, package)
        try:
            return self._find(package, version, log)
        except NotInArchive:
            if not self.private or self.updated:
                raise
        self.update(log, package)
        return self._find(package, version, log)

    def _find(self, package: str, version: str | None, log: Path) -> DebianPackage:
        if version is None:
            version = self._candidate(package, log)
        done = self._cache(["show", f"{package}={version}"], log, "apt-cache show")
        fields = _first_stanza(done.output)
        if done.returncode != 0 or "SHA256" not in fields:
            have = ", ".join(o.version for o in self._madison([package], log)) or "none"
            raise NotInArchive(f"{self.describe()} has no {package}={version} (it has: {have})",
                               log)
        return DebianPackage(package, version, fields["SHA256"], int(fields.get("Size", 0)),
                             self.suite, fields.get("Depends", ""))

    def candidate(self, package: str, log: Path) -> str:
        """The version apt would pick of *package*."""
        return self.find(package, None, log).version

    def _candidate(self, package: str, log: Path) -> str:
        out = self._cache(["policy", package], log, "apt-cache policy").output
        match = re.search(r"Candidate:\s*(\S+)", out)
        if not match or match.group(1) == "(none)":
            hint = "" if self.private else " (is it in the host's apt sources? apt-get update)"
            raise NotInArchive(f"{self.describe()} has no {package}{hint}", log)
        return match.group(1)

    def offers(self, packages: list[str], log: Path) -> list[Offer]:
        """Every version of *packages* the suite keeps, newest first per package."""
        if not packages:
            return []
        self.ensure_lists(log)
        return self._madison(packages, log)

    def _madison(self, packages: list[str], log: Path) -> list[Offer]:
        out = self._cache(["madison", *packages], log, "apt-cache madison").output
        offers = []
        for line in out.splitlines():
            fields = [f.strip() for f in line.split("|")]
            if len(fields) < 3 or fields[0] not in packages:
                continue
            # "http://deb.debian.org/debian bookworm/main amd64 Packages"
            where = fields[2].split()
            suite = where[1].split("/")[0] if len(where) > 1 else fields[2]
            offer = Offer(fields[0], fields[1], suite)
            if offer not in offers:
                offers.append(offer)
        return offers

    def names(self, prefix: str, log: Path) -> list[str]:
        """The names of the packages the suite has that start with *prefix*."""
        self.ensure_lists(log)
        out = self._cache(["pkgnames", prefix], log, "apt-cache pkgnames").output
        return sorted({n.strip() for n in out.splitlines() if n.strip().startswith(prefix)})

    def download(self, pkg: DebianPackage, dest: Path, log: Path) -> Path:
        """``apt-get download`` of *pkg* into the directory *dest*; the .deb's path."""
        self.ensure_lists(log)
        done = run(["apt-get", *self.options(), "download", f"{pkg.name}={pkg.version}"],
                   cwd=dest, log_path=log, check=False,
                   what=f"apt-get download {pkg.name}={pkg.version}")
        debs = sorted(dest.glob("*.deb"))
        if done.returncode != 0 or len(debs) != 1:
            problem = last_error_line(done.output)
            if _UNREACHABLE.search(done.output):
                problem = _telling_line(done.output, _UNREACHABLE)
                raise ArchiveUnreachable(f"cannot download {pkg.name}={pkg.version} from "
                                         f"{self.describe()}: the archive cannot be reached "
                                         f"({problem})", log)
            raise AptError(f"apt-get download {pkg.name}={pkg.version} failed: {problem}", log)
        return debs[0]


# Reading apt's output ---------------------------------------------------------

_UNREACHABLE = re.compile(r"Could not connect|Could not resolve|Temporary failure resolving|"
                          r"Connection failed|Connection timed out|Network is unreachable|"
                          r"No route to host|Unable to connect|Connection refused")
_SIGNATURE = re.compile(r"NO_PUBKEY|signatures couldn't be verified|signatures were invalid|"
                        r"is not signed|BADSIG|Clearsigned file isn't valid|"
                        r"OpenPGP signature verification failed")
_NO_SUITE = re.compile(r"does not have a Release file")


def _telling_line(output: str, pattern: re.Pattern) -> str:
    """The first line of apt's output that *pattern* finds, without its E:/W:/Err: tag."""
    for line in output.splitlines():
        if pattern.search(line):
            return re.sub(r"\s+", " ", re.sub(r"^(E|W|Err:\d+|Ign:\d+):\s*", "",
                                               line.strip()))[:300]
    return last_error_line(output)


def _update_error(apt: Apt, output: str, log: Path, wanted: str = "") -> AptError:
    where = f"{apt.mirror} {apt.suite}"
    problem = last_error_line(output)
    if _SIGNATURE.search(output):
        return BadSignature(f"{apt.describe()} at {apt.mirror}: its Release file is not signed "
                            f"by a key in {apt.keyring}; refusing it", log)
    if _UNREACHABLE.search(output):
        return ArchiveUnreachable(f"cannot reach the Debian archive {apt.mirror} for "
                                  f"suite '{apt.suite}' "
                                  f"({_telling_line(output, _UNREACHABLE)})", log)
    if _NO_SUITE.search(output):
        missing = f"{apt.describe()} has no {wanted}: " if wanted else f"{apt.describe()}: "
        return NotInArchive(f"{missing}there is no such suite at {apt.mirror} "
                            "(no Release file)", log)
    return AptError(f"apt-get update of {where} failed: {problem}", log)


def _first_stanza(output: str) -> dict[str, str]:
    """The fields of the first package stanza in ``apt-cache show`` output."""
    fields: dict[str, str] = {}
    key = None
    for line in output.splitlines():
        if not line.strip():
            if fields:
                break
            continue
        if line[0] in " \t" and key:
            fields[key] += "\n" + line.strip()
            continue
        key, sep, value = line.partition(":")
        if not sep:
            key = None
            continue
        fields[key] = value.strip()
    return fields


def mirror_slug(url: str) -> str:
    """A directory name for a mirror, as apt names its lists: deb.debian.org_debian."""
    bare = re.sub(r"^[a-z]+:/+", "", url.rstrip("/"))
    return re.sub(r"[^A-Za-z0-9.+-]+", "_", bare).strip("_") or "mirror"


# Debian version order (deb-version(7)) -------------------------------------------

def _order(char: str) -> int:
    if char == "~":
        return -1
    if char.isdigit():
        return 0
    if char.isalpha():
        return ord(char)
    return ord(char) + 256


def _compare_part(a: str, b: str) -> int:
    """dpkg's verrevcmp: alternating non-digit and digit runs."""
    i = j = 0
    while i < len(a) or j < len(b):
        first_diff = 0
        while (i < len(a) and not a[i].isdigit()) or (j < len(b) and not b[j].isdigit()):
            ac = _order(a[i]) if i < len(a) else 0
            bc = _order(b[j]) if j < len(b) else 0
            if ac != bc:
                return ac - bc
            i += 1
            j += 1
        while i < len(a) and a[i] == "0":
            i += 1
        while j < len(b) and b[j] == "0":
            j += 1
        while i < len(a) and a[i].isdigit() and j < len(b) and b[j].isdigit():
            if not first_diff:
                first_diff = ord(a[i]) - ord(b[j])
            i += 1
            j += 1
        if i < len(a) and a[i].isdigit():
            return 1
        if j < len(b) and b[j].isdigit():
            return -1
        if first_diff:
            return first_diff
    return 0


def _split(version: str) -> tuple[int, str, str]:
    epoch, _, rest = version.rpartition(":") if ":" in version else ("0", "", version)
    upstream, _, revision = rest.rpartition("-") if "-" in rest else (rest, "", "")
    return int(epoch or 0), upstream, revision


def compare_versions(a: str, b: str) -> int:
    """<0, 0 or >0 as Debian version *a* is older than, equal to or newer than *b*."""
    ea, ua, ra = _split(a)
    eb, ub, rb = _split(b)
    if ea != eb:
        return ea - eb
    return _compare_part(ua, ub) or _compare_part(ra, rb)


def newest(versions: list[str]) -> str:
    from functools import cmp_to_key

    return max(versions, key=cmp_to_key(compare_versions))


def for_suite(suite: str | None, archive: DebianArchive | None, apt_root: Path) -> Apt:
    """How to ask for packages of *suite* (None: the host's own apt sources)."""
    if suite is None:
        return Apt.host()
    return Apt.for_suite(apt_root, suite, archive or DebianArchive())

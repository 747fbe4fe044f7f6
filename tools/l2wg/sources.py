"""Get a kernel's source into the cache, verified: the first pipeline stage.

Four kinds (see kernels.toml): a Debian ``linux-source-X`` package of the
host's apt sources or of any suite of the archive (fetched with ``apt-get
download``, through l2wg.apt, and checked against the archive's SHA256), a
kernel.org tarball (streamed with requests, checked against a pinned sha256
or the published checksum list, whose OpenPGP signature gpgv checks against
the kernel.org keys the checkout ships: l2wg.signatures), a git URL and ref
(shallow clone, through l2wg.git), or a local directory.

The cache is atomic: a download goes to a temporary name, is verified and
only then renamed.  A cached file is verified again before each use; a
corrupt or partial one is fetched again, never used.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import requests

from . import signatures, store
from .apt import Apt, AptError, ArchiveUnreachable, DebianPackage
from .apt import for_suite as apt_for_suite
from .errors import BadInput, FetchError
from .git import run_git
from .kernels import DebianArchive, Kernel, SourceSpec
from .progress import Progress
from .runner import run
from .workspace import Workspace


@dataclass(frozen=True)
class Source:
    """A verified source in the cache: an archive to extract, a git repository or a directory."""

    kernel: str
    spec: SourceSpec
    kind: str          # "archive", "git" or "dir"
    path: Path
    ident: str         # changes whenever the content may have changed
    detail: str = ""   # e.g. the Debian package version or the git commit


def fetch(kernel: Kernel, ws: Workspace, progress: Progress) -> Source:
    """Make *kernel*'s source available locally and verified; return where it is."""
    spec = kernel.source
    log = ws.logs / f"source-{kernel.name}.log"
    if spec.type == "debian":
        return _fetch_debian(kernel, ws, progress, log)
    if spec.type == "tarball":
        return _fetch_tarball(kernel.name, spec, ws, progress, log)
    if spec.type == "git":
        return _fetch_git(kernel.name, spec, ws, progress, log)
    return _local(kernel.name, spec, log)


# Debian linux-source packages -------------------------------------------
#
# A source entry without a suite asks the host's own apt sources; one with
# ``suite = "..."`` asks l2wg's private apt configuration for that suite
# (l2wg.apt).  Either way the .deb is checked against the SHA256 of the
# archive's signed index, and the tarball inside it is kept with a record
# (sources/debian/PACKAGE_VERSION.tar.json) of its own sha256 and of the
# .deb's.  That record is what makes a cached source usable offline: for a
# pinned version, or the version last fetched for the entry (recorded in
# PACKAGE@SUITE.json) when the archive cannot be reached, the cached tarball
# is used when its sha256 still equals the one recorded at the time it was
# extracted from a verified .deb -- no apt, no network.

def debian_apt(suite: str | None, archive: DebianArchive | None, ws: Workspace) -> Apt:
    """How packages of *suite* are looked up (None: the host's apt sources)."""
    return apt_for_suite(suite, archive, ws.apt)


def debian_package(package: str, version: str | None, log: Path,
                   apt: Apt | None = None) -> DebianPackage:
    """What the archive says about *package*=*version* (default: the candidate)."""
    return (apt or Apt.host()).find(package, version, log)


def fetch_deb(pkg: DebianPackage, ws: Workspace, progress: Progress, log: Path,
              apt: Apt | None = None) -> Path:
    """The package's .deb in the cache, downloaded with apt-get and checked against the archive."""
    apt = apt or Apt.host()
    cached = ws.sources / "debian" / f"{pkg.name}_{pkg.version}.deb"
    if cached.exists() and store.sha256_file(cached) == pkg.sha256:
        return cached
    progress.step(f"downloading {pkg.name}={pkg.version} ({pkg.size >> 20} MiB) "
                  f"from {apt.describe()}")
    with store.scratch_dir(ws.sources / "debian") as tmp:
        deb = apt.download(pkg, tmp, log)
        if store.sha256_file(deb) != pkg.sha256:
            raise FetchError(f"{pkg.name}={pkg.version}: the downloaded package does not match "
                            "the archive's SHA256", log)
        with store.staging_file(cached) as part:
            shutil.move(deb, part)
    return cached


def _fetch_debian(kernel: Kernel, ws: Workspace, progress: Progress, log: Path) -> Source:
    """linux-source-X: only the source tarball inside the package is kept."""
    spec = kernel.source
    package = spec.package or ""
    if spec.version:
        hit = _cached_debian(kernel, package, spec.version, ws, progress)
        if hit:
            return hit
    apt = debian_apt(spec.suite, spec.archive, ws)
    try:
        pkg = apt.find(package, spec.version, log)
    except AptError as exc:
        recorded = store.read_json(_latest_record(ws, package, spec.suite)) or {}
        if isinstance(exc, ArchiveUnreachable) and not spec.version and recorded.get("version"):
            hit = _cached_debian(kernel, package, recorded["version"], ws, progress)
            if hit:
                note = (f"{kernel.name}: {exc.message}; using the cached {package}="
                        f"{hit.detail} (its sha256 as recorded when it was verified)")
                with open(log, "a") as f:
                    f.write(f"# {note}\n")
                progress.step(note)
                return hit
        raise FetchError(f"{_where(kernel)}{exc.message}", exc.log) from None
    cached = ws.sources / "debian" / f"{pkg.name}_{pkg.version}.tar.xz"
    record_path = cached.with_suffix(".json")
    ident = f"debian:{pkg.name}={pkg.version}:{pkg.sha256}"
    if not _verified(cached, record_path, ident, progress):
        try:
            deb = fetch_deb(pkg, ws, progress, log, apt)
        except AptError as exc:
            raise FetchError(f"{_where(kernel)}{exc.message}", exc.log) from None
        with store.scratch_dir(ws.sources / "debian") as tmp:
            run(["dpkg-deb", "-x", deb, tmp], log_path=log, what="dpkg-deb -x")
            tarballs = sorted((tmp / "usr" / "src").glob("linux-source-*.tar.*"))
            if not tarballs:
                raise FetchError(f"{pkg.name}={pkg.version}: no linux-source tarball in the "
                                "package", log)
            with store.staging_file(cached) as part:
                shutil.move(tarballs[0], part)
            store.write_json(record_path, {"ident": ident, "sha256": store.sha256_file(cached),
                                           "package": pkg.name, "version": pkg.version,
                                           "deb_sha256": pkg.sha256, "suite": pkg.suite})
        deb.unlink()
    store.write_json(_latest_record(ws, pkg.name, spec.suite), {"version": pkg.version})
    return Source(kernel.name, spec, "archive", cached, ident, pkg.version)


def _where(kernel: Kernel) -> str:
    """How a source error starts: 'kernels.toml: [kernels."7.3"].source: ' or 'kernel 6.12.107: '."""
    return f"{kernel.where}.source: " if kernel.origin else f"{kernel.where}: "


def _latest_record(ws: Workspace, package: str, suite: str | None) -> Path:
    """Where the version last fetched of *package* from *suite* is recorded."""
    return ws.sources / "debian" / f"{package}@{suite or 'host'}.json"


def last_fetched_version(ws: Workspace, package: str, suite: str | None) -> str | None:
    """The version of *package* from *suite* last fetched into the cache, if any;
    reads the cache only, never apt or the network."""
    return (store.read_json(_latest_record(ws, package, suite)) or {}).get("version")


def _cached_debian(kernel: Kernel, package: str, version: str, ws: Workspace,
                   progress: Progress) -> Source | None:
    """*package*=*version*'s tarball from the cache, if it is there and verified."""
    cached = ws.sources / "debian" / f"{package}_{version}.tar.xz"
    record_path = cached.with_suffix(".json")
    ident = (store.read_json(record_path) or {}).get("ident", "")
    if not ident.startswith(f"debian:{package}={version}:"):
        return None
    if not _verified(cached, record_path, ident, progress):
        return None
    return Source(kernel.name, kernel.source, "archive", cached, ident, version)


def _verified(cached: Path, record_path: Path, ident: str, progress: Progress) -> bool:
    """True when *cached* exists, belongs to *ident* and still has its recorded sha256."""
    record = store.read_json(record_path)
    if not cached.exists() or not record or record.get("ident") != ident:
        return False
    if store.sha256_file(cached) == record.get("sha256"):
        return True
    progress.step(f"{cached.name}: cached copy is corrupt (sha256 mismatch); fetching it again")
    cached.unlink()
    record_path.unlink(missing_ok=True)
    return False


# kernel.org tarballs ------------------------------------------------------

def _fetch_tarball(name: str, spec: SourceSpec, ws: Workspace, progress: Progress,
                   log: Path) -> Source:
    url = spec.url or ""
    filename = url.rstrip("/").rsplit("/", 1)[-1]
    cached = ws.sources / "tarballs" / filename
    record_path = cached.with_name(cached.name + ".json")
    record = store.read_json(record_path) or {}
    expected = spec.sha256 or record.get("sha256")
    if cached.exists() and expected and store.sha256_file(cached) == expected:
        return Source(name, spec, "archive", cached, f"tarball:{url}:{expected}", expected[:12])
    if spec.checksums and not spec.sha256:
        expected = published_sha256(spec.checksums, filename, spec.keyring, ws, log)
    progress.step(f"{name}: downloading {url}")
    with store.staging_file(cached) as part:
        actual = download(url, part, progress, log)
        if actual != expected:
            raise FetchError(f"{url}: sha256 mismatch: got {actual}, expected {expected}", log)
    store.write_json(record_path, {"url": url, "sha256": actual})
    return Source(name, spec, "archive", cached, f"tarball:{url}:{actual}", actual[:12])


def published_sha256(checksums_url: str, filename: str, keyring: Path | None, ws: Workspace,
                    log: Path) -> str:
    """The sha256 that a published checksum list (sha256sums.asc) gives for *filename*,
    read from the part of it signed by a key of *keyring* (checked with gpgv)."""
    if keyring is None or not keyring.is_file():
        raise BadInput(f"no keyring {keyring or ''} to check the signature of {checksums_url} "
                       "with (the kernel.org keys: see ci/keys/README.md)")
    response = _get(checksums_url, log)
    with store.scratch_dir(ws.sources / "tarballs") as tmp:
        signed = tmp / "sha256sums.asc"
        signed.write_bytes(response.content)
        verified = signatures.verify_cleartext(signed, keyring, tmp, log, checksums_url)
    with open(log, "a") as f:
        f.write(f"# {checksums_url}: good signature by {verified.signer} "
                f"({verified.fingerprint})\n")
    for digest, name in re.findall(r"^([0-9a-f]{64})\s+\*?(\S+)\s*$", verified.text, re.M):
        if name == filename:
            return digest
    raise FetchError(f"{checksums_url} lists no sha256 for {filename} in its signed part", log)


def _get(url: str, log: Path, stream: bool = False) -> requests.Response:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a") as f:
        f.write(f"GET {url}\n")
    try:
        response = requests.get(url, stream=stream, timeout=30)
        response.raise_for_status()
    except requests.RequestException as exc:
        raise FetchError(f"cannot fetch {url}: {exc}", log) from None
    return response


def download(url: str, dest: Path, progress: Progress, log: Path) -> str:
    """Stream *url* into *dest*; return the sha256 of what arrived."""
    import hashlib

    response = _get(url, log, stream=True)
    total = int(response.headers.get("Content-Length") or 0) or None
    digest = hashlib.sha256()
    done = 0
    try:
        with open(dest, "wb") as f:
            for block in response.iter_content(1 << 20):
                f.write(block)
                digest.update(block)
                done += len(block)
                progress.bytes(dest.name.lstrip(".").split(".part")[0], done, total)
    except requests.RequestException as exc:
        raise FetchError(f"download of {url} broke off after {done} bytes: {exc}", log) from None
    progress.done()
    if total is not None and done != total:
        raise FetchError(f"download of {url} is truncated ({done} of {total} bytes)", log)
    return digest.hexdigest()


# git ---------------------------------------------------------------------

def _fetch_git(name: str, spec: SourceSpec, ws: Workspace, progress: Progress,
               log: Path) -> Source:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{spec.url}@{spec.ref}").strip("_")[-120:]
    mirror = ws.sources / "git" / slug
    if mirror.exists():
        done = run_git(mirror, "fetch", "--depth", "1", "origin", spec.ref or "", log=log,
                       check=False)
        if done.returncode == 0:
            done = run_git(mirror, "checkout", "-q", "--detach", "FETCH_HEAD", log=log,
                           check=False)
        if done.returncode != 0:
            progress.step(f"{name}: cannot update {spec.url} "
                          f"({done.output.strip()[:120]}); using the cached clone")
    else:
        progress.step(f"{name}: cloning {spec.url} at {spec.ref} (shallow)")
        with store.staging_dir(mirror) as tmp:
            cloned = run_git(None, "clone", "--depth", "1", "--branch", spec.ref or "", "--",
                             spec.url or "", tmp, log=log, check=False)
            if cloned.returncode != 0:
                said = cloned.output.strip().splitlines()
                raise FetchError(f"cannot clone {spec.url} at {spec.ref}: "
                                f"{said[-1] if said else f'exit {cloned.returncode}'}", log)
    commit = run_git(mirror, "rev-parse", "HEAD", log=log).output.strip()
    return Source(name, spec, "git", mirror, f"git:{spec.url}@{commit}", commit)


# local directories -------------------------------------------------------

def _local(name: str, spec: SourceSpec, log: Path) -> Source:
    path = Path(spec.path or "")
    if not (path / "Makefile").is_file() or not (path / "Kconfig").is_file():
        raise BadInput(f"kernel {name}: {path} is not a kernel source tree (no Makefile/Kconfig)")
    if (path / ".git").exists():
        commit = run_git(path, "rev-parse", "HEAD", log=log).output.strip()
        return Source(name, spec, "git", path, f"git:{path}@{commit}", commit)
    stamp = max((p.stat().st_mtime_ns for p in (path / "Makefile", path / "Kconfig")), default=0)
    return Source(name, spec, "dir", path, f"dir:{path}:{stamp}", str(path))

"""The matrix: kernels.toml, parsed into typed, validated records.

Every mistake in the file is reported as one line naming the entry and the
key, e.g. ``kernels.toml: [kernels."6.8"].source: unknown key 'sha'``.

The ``[debian]`` table says which Debian archive l2wg asks for packages of
suites other than the host's own (a source's ``suite``), and which suites
``l2wg kernels --available`` looks at for new kernel lines.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path

from .errors import BadInput

VERSION_RE = re.compile(r"^\d+\.\d+(\.\d+)?(-rc\d+)?$")
SOURCE_KEYS = {
    "debian": ({"package"}, {"version", "suite"}),
    "tarball": ({"url"}, {"sha256", "checksums", "keyring"}),
    "git": ({"url", "ref"}, set()),
    "local": ({"path"}, set()),
}
KERNEL_KEYS = {"version", "source", "fragments", "arch", "expect", "dkms_headers",
               "min_version", "max_version", "ci"}
EXPECT_KEYS = {"build", "boot", "xfail"}
TOP_KEYS = {"default", "canonical", "defaults", "kernels", "debian", "guest", "tools"}
GUEST_KEYS = {"wireguard-tools"}
TOOLS_KEYS = {"sparse"}
DEFAULT_KEYS = {"fragments", "arch"}
DEBIAN_KEYS = {"mirror", "keyring", "suites", "host"}
#: The kbuild ARCHes l2wg can both build and boot.  build.IMAGE knows the
#: boot images of x86, i386 and arm64 too, but the check guest is
#: qemu-system-x86_64 (qemu.QEMU) running this machine's x86_64 programs,
#: which only a 64-bit x86 kernel can boot and run.
ARCHES = ("x86_64",)
#: What a tarball's published checksum list (sha256sums.asc) must be signed
#: by, relative to kernels.toml: the kernel.org keys the checkout ships.
KERNEL_ORG_KEYRING = Path("ci/keys/kernel.org.gpg")
#: A Debian suite or codename as it appears in a sources.list line.
SUITE_RE = re.compile(r"^[a-z0-9][a-z0-9.+_-]*$")

DEBIAN_MIRROR = "http://deb.debian.org/debian"
DEBIAN_KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
#: The suites `l2wg kernels --available` looks at besides the host's own.
DEBIAN_SUITES = ("trixie", "trixie-backports", "sid", "bookworm-backports")



def version_key(version: str) -> tuple[int, ...]:
    """'7.3' -> (7, 3): kernel lines and versions in numeric order (6.12 after 6.1)."""
    return tuple(int(p) for p in re.findall(r"\d+", version))

@dataclass(frozen=True)
class DebianArchive:
    """The Debian archive that suites other than the host's come from ([debian])."""

    mirror: str = DEBIAN_MIRROR
    #: The keyring apt checks the suites' Release signatures against.
    keyring: Path = DEBIAN_KEYRING
    #: Suites `l2wg kernels --available` lists kernel lines of.
    suites: tuple[str, ...] = DEBIAN_SUITES
    #: Whether `l2wg kernels --available` also asks the host's own apt sources.
    host: bool = True
DKMS_HEADERS_KEYS = {"package", "suite"}
#: The suite of a dkms_headers entry that names none: the host's release,
#: whose kernels (+deb12) the plain entries are.
HOST_SUITE = "bookworm"
HEADERS_RE = re.compile(r"^linux-headers-[0-9][a-z0-9+.-]*$")


@dataclass(frozen=True)
class SourceSpec:
    """Where a kernel tree comes from (see kernels.toml for the kinds)."""

    type: str
    package: str | None = None
    version: str | None = None
    url: str | None = None
    sha256: str | None = None
    checksums: str | None = None
    ref: str | None = None
    path: Path | None = None
    #: A Debian suite other than the host's own (None: the host's apt sources).
    suite: str | None = None
    #: Where that suite comes from: kernels.toml's [debian] table.
    archive: DebianArchive | None = None
    #: The keys a tarball's ``checksums`` list must be signed by (gpgv keyring).
    keyring: Path | None = None

    @property
    def needs_network(self) -> bool:
        """True when only the internet (not the Debian archive) can provide it."""
        return self.type in ("tarball", "git") and not _is_loopback(self.url or "")

    def describe(self) -> str:
        if self.type == "debian":
            return (f"debian:{self.package}" + (f"={self.version}" if self.version else "")
                    + (f"/{self.suite}" if self.suite else ""))
        if self.type == "tarball":
            return f"tarball:{self.url}"
        if self.type == "git":
            return f"git:{self.url}@{self.ref}"
        return f"local:{self.path}"


@dataclass(frozen=True)
class Expect:
    build: bool = True
    boot: bool = True
    xfail: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DkmsHeaders:
    """A linux-headers package a DKMS build is proven on, and the suite it comes from.

    The build runs in a chroot of that suite (chroot.py), as its users build.
    """

    package: str
    suite: str = HOST_SUITE

    @property
    def release(self) -> str:
        """linux-headers-6.12.117+deb12-amd64 -> 6.12.117+deb12-amd64."""
        return self.package.removeprefix("linux-headers-")

    @property
    def apt_suite(self) -> str | None:
        """The suite to ask apt for its packages (headers, the matching
        linux-image): None, the host's own apt sources, for the host's suite."""
        return None if self.suite == HOST_SUITE else self.suite

    def describe(self) -> str:
        """apt's own spelling: package/suite."""
        return f"{self.package}/{self.suite}"

    @classmethod
    def parse(cls, text: str) -> "DkmsHeaders":
        """PACKAGE or PACKAGE/SUITE (as on the command line, apt's spelling)."""
        package, _, suite = text.partition("/")
        problem = _headers_problem(package, suite or HOST_SUITE)
        if problem:
            raise BadInput(f"--headers {text}: {problem}")
        return cls(package, suite or HOST_SUITE)


def _headers_problem(package: str, suite: str) -> str | None:
    if not HEADERS_RE.match(package):
        return f"{package!r} is not a linux-headers package name"
    if not SUITE_RE.match(suite):
        return f"bad suite name {suite!r} (expected like bookworm, sid or trixie-backports)"
    return None


@dataclass(frozen=True)
class Kernel:
    """One kernel line of the matrix."""

    name: str
    source: SourceSpec
    version: str | None = None
    fragments: tuple[str, ...] = ("base", "checks")
    arch: str = "x86_64"
    expect: Expect = Expect()
    dkms_headers: tuple[DkmsHeaders, ...] = ()
    min_version: str | None = None
    max_version: str | None = None
    ci: bool = True
    #: The file the entry was read from (e.g. "kernels.toml"); "" for kernels
    #: l2wg made up itself, such as a point release to rebase onto.
    origin: str = ""

    @property
    def where(self) -> str:
        """How an error names the entry: 'kernels.toml: [kernels."7.3"]' or 'kernel 6.12.107'."""
        return f'{self.origin}: [kernels."{self.name}"]' if self.origin else f"kernel {self.name}"

    @property
    def line(self) -> str:
        """The major.minor line, e.g. '6.1' for 6.1.170: names per-version patch overrides."""
        if self.version:
            return ".".join(self.version.split(".")[:2]).split("-")[0]
        return self.name


@dataclass(frozen=True)
class GuestTools:
    """Where the check guest's userspace comes from, when not from the host ([guest])."""

    #: wg is built from this suite's wireguard-tools source package (None: the
    #: host's /usr/bin/wg).  Newer kernels' selftests use newer wg features.
    wireguard_tools_suite: str | None = None


@dataclass(frozen=True)
class HostTools:
    """Host programs taken from a newer suite when the host's are too old ([tools])."""

    #: ``l2wg submit``'s sparse gate runs this suite's sparse when the tree's
    #: scripts/checker-valid.sh refuses the host's (7.x needs __typeof_unqual__,
    #: which bookworm's 0.6.4 lacks).  None: the host's sparse, or none.
    sparse_suite: str | None = None


@dataclass(frozen=True)
class Matrix:
    path: Path
    default: str
    kernels: dict[str, Kernel]
    #: The kernel the canonical patches in patches/ are made on (their
    #: ``index`` blob ids come from its tree); defaults to ``default``.
    canonical: str = ""
    debian: DebianArchive = DebianArchive()
    guest: GuestTools = GuestTools()
    tools: HostTools = HostTools()

    def get(self, name: str) -> Kernel:
        try:
            return self.kernels[name]
        except KeyError:
            known = ", ".join(self.kernels)
            raise BadInput(f"unknown kernel '{name}' (kernels.toml at {self.path} has: {known})") \
                from None

    def select(self, names: list[str] | None = None, online: bool = False) -> list[Kernel]:
        """The named kernels, or every CI kernel whose source is reachable."""
        if names:
            return [self.get(n) for n in names]
        return [k for k in self.kernels.values()
                if k.ci and (online or not k.source.needs_network)]


def _is_loopback(url: str) -> bool:
    return bool(re.match(r"^(https?|git|ssh)://(127\.|localhost|\[::1\])", url)) \
        or url.startswith("file://") or url.startswith("/")


def _fail(path: Path, where: str, message: str) -> BadInput:
    return BadInput(f"{path.name}: {where}: {message}")


def _check_keys(path: Path, where: str, table, allowed: set[str], required: set[str] = set()):
    if not isinstance(table, dict):
        raise _fail(path, where, f"must be a table, not {_repr(table)}")
    for key in table:
        if key not in allowed:
            raise _fail(path, where, f"unknown key '{key}' (allowed: {', '.join(sorted(allowed))})")
    for key in sorted(required):
        if key not in table:
            raise _fail(path, where, f"missing key '{key}'")


def _type_name(value) -> str:
    """How TOML would call *value*'s type, for a message: table, array, string, ..."""
    return {dict: "a table", list: "an array", str: "a string", bool: "a boolean",
            int: "an integer", float: "a float"}.get(type(value), type(value).__name__)


def _string(path: Path, where: str, value, what: str = "a non-empty string") -> str:
    if not isinstance(value, str) or not value:
        raise _fail(path, where, f"must be {what}, not {_repr(value)}")
    return value


def _bool(path: Path, where: str, value) -> bool:
    if not isinstance(value, bool):
        raise _fail(path, where, f"must be true or false, not {_repr(value)}")
    return value


def _repr(value) -> str:
    """*value* in a message: strings, numbers and booleans as TOML writes them, else the type."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return f'"{value}"' if len(value) <= 40 else "a long string"
    return _type_name(value)


def _parse_source(path: Path, where: str, raw) -> SourceSpec:
    if not isinstance(raw, dict):
        raise _fail(path, where, 'must be a table such as { type = "debian", package = '
                    f'"linux-source-6.12" }}, not {_repr(raw)}')
    if "type" not in raw:
        raise _fail(path, where, "missing key 'type' (debian, tarball, git or local)")
    kind = raw["type"]
    if not isinstance(kind, str):
        raise _fail(path, f"{where}.type", "must be one of debian, tarball, git or local, not "
                    f"{_repr(kind)}")
    if kind not in SOURCE_KEYS:
        raise _fail(path, f"{where}.type", f"unknown source type '{kind}' "
                    "(debian, tarball, git or local)")
    required, optional = SOURCE_KEYS[kind]
    _check_keys(path, where, raw, {"type"} | required | optional, required)
    for key, value in raw.items():
        _string(path, f"{where}.{key}", value)
    if kind == "tarball" and not ("sha256" in raw or "checksums" in raw):
        raise _fail(path, where, "a tarball needs 'sha256' or 'checksums' to be verified")
    if "keyring" in raw and "checksums" not in raw:
        raise _fail(path, f"{where}.keyring", "goes with 'checksums' (the keys its list "
                    "must be signed by)")
    if "sha256" in raw and not re.fullmatch(r"[0-9a-f]{64}", raw["sha256"]):
        raise _fail(path, f"{where}.sha256", "must be 64 lowercase hex digits")
    if "suite" in raw and not SUITE_RE.match(raw["suite"]):
        raise _fail(path, f"{where}.suite", f"bad suite name {raw['suite']!r} "
                    "(expected like sid or trixie-backports)")
    values = dict(raw)
    if kind == "local":
        values["path"] = (path.parent / Path(raw["path"]).expanduser()).resolve()
    if "checksums" in raw:
        keyring = Path(raw.get("keyring", KERNEL_ORG_KEYRING)).expanduser()
        values["keyring"] = (path.parent / keyring).resolve()
    return SourceSpec(**values)


def _parse_expect(path: Path, where: str, raw) -> Expect:
    _check_keys(path, where, raw, EXPECT_KEYS)
    for key in ("build", "boot"):
        if key in raw:
            _bool(path, f"{where}.{key}", raw[key])
    xfail = raw.get("xfail", {})
    if not isinstance(xfail, dict) or not all(isinstance(v, str) and v for v in xfail.values()):
        raise _fail(path, f"{where}.xfail", 'must map check names to reasons: { netns = "why" }')
    return Expect(build=raw.get("build", True), boot=raw.get("boot", True), xfail=dict(xfail))


def _parse_fragments(path: Path, where: str, value) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(f, str) and f for f in value):
        raise _fail(path, where, 'must be a list of fragment names such as ["base", "checks"] '
                    f"(files in ci/kconfig/), not {_repr(value)}")
    return tuple(value)


def _parse_arch(path: Path, where: str, value) -> str:
    if not isinstance(value, str) or value not in ARCHES:
        known = " or ".join(f'"{a}"' for a in ARCHES)
        raise _fail(path, where, f"must be {known}, not {_repr(value)}: the kbuild ARCH l2wg "
                    "both builds and boots (its QEMU guest is qemu-system-x86_64 running this "
                    "machine's x86_64 programs)")
    return value


def _parse_name(path: Path, where: str, value, kernels: dict) -> str:
    """default / canonical: the name of one of the [kernels] entries."""
    if not isinstance(value, str):
        hint = (f' (quote it: {where} = "{value}")'
                if isinstance(value, (int, float)) and not isinstance(value, bool) else "")
        raise _fail(path, where, f"must be a string naming a [kernels] entry, not "
                    f"{_repr(value)}{hint}")
    if value not in kernels:
        raise _fail(path, where, f"'{value}' is not one of the [kernels] entries "
                    f"({', '.join(kernels)})")
    return value


def _parse_version(path: Path, where: str, value) -> str:
    if not isinstance(value, str):
        hint = " (quote it)" if isinstance(value, (int, float)) and not isinstance(value, bool) \
            else ""
        raise _fail(path, where, f'must be a string such as "6.12", not {_repr(value)}{hint}')
    if not VERSION_RE.match(value):
        raise _fail(path, where, f"bad version {value!r} (expected like 6.12, 6.1.170 or 6.13-rc1)")
    return value


def _parse_debian(path: Path, raw) -> DebianArchive:
    where = "[debian]"
    _check_keys(path, where, raw, DEBIAN_KEYS)
    values: dict = {}
    if "mirror" in raw:
        mirror = raw["mirror"]
        if not isinstance(mirror, str) or not re.match(r"^(https?|file):/", mirror):
            raise _fail(path, f"{where}.mirror", "must be an http://, https:// or file:/ URL, "
                        f"not {_repr(mirror)}")
        values["mirror"] = mirror.rstrip("/")
    if "keyring" in raw:
        _string(path, f"{where}.keyring", raw["keyring"], "a non-empty string (a keyring file)")
        values["keyring"] = (path.parent / Path(raw["keyring"]).expanduser()).resolve()
    if "suites" in raw:
        suites = raw["suites"]
        if not isinstance(suites, list) or not all(isinstance(s, str) and s for s in suites):
            raise _fail(path, f"{where}.suites", 'must be a list of suite names: ["sid", ...], '
                        f"not {_repr(suites)}")
        for suite in suites:
            if not SUITE_RE.match(suite):
                raise _fail(path, f"{where}.suites", f"bad suite name {suite!r} "
                            "(expected like sid or trixie-backports)")
        if len(set(suites)) != len(suites):
            raise _fail(path, f"{where}.suites", "lists a suite twice")
        values["suites"] = tuple(suites)
    if "host" in raw:
        values["host"] = _bool(path, f"{where}.host", raw["host"])
    return DebianArchive(**values)


def _parse_guest(path: Path, raw) -> GuestTools:
    _check_keys(path, "[guest]", raw, GUEST_KEYS)
    return GuestTools(wireguard_tools_suite=_program_suite(path, "[guest]", raw,
                                                           "wireguard-tools"))


def _parse_tools(path: Path, raw) -> HostTools:
    _check_keys(path, "[tools]", raw, TOOLS_KEYS)
    return HostTools(sparse_suite=_program_suite(path, "[tools]", raw, "sparse"))


def _program_suite(path: Path, where: str, raw: dict, program: str) -> str | None:
    """The suite of ``program = { suite = "..." }`` in the table *where*, if given."""
    if program not in raw:
        return None
    entry = raw[program]
    _check_keys(path, f"{where}.{program}", entry, {"suite"}, {"suite"})
    suite = entry["suite"]
    if not isinstance(suite, str) or not SUITE_RE.match(suite):
        raise _fail(path, f"{where}.{program}.suite", f"bad suite name {_repr(suite)} "
                    "(expected like sid or trixie-backports)")
    return suite


def _parse_dkms_headers(path: Path, where: str, raw) -> tuple[DkmsHeaders, ...]:
    """A list of "linux-headers-X" (the host's suite) or { package = "...", suite = "sid" }."""
    if not isinstance(raw, list):
        raise _fail(path, where, 'must be a list of package names or '
                    f'{{ package = "...", suite = "..." }} tables, not {_repr(raw)}')
    entries = []
    for i, item in enumerate(raw):
        at = f"{where}[{i}]"
        if isinstance(item, str):
            item = {"package": item}
        elif isinstance(item, dict):
            _check_keys(path, at, item, DKMS_HEADERS_KEYS, {"package"})
        else:
            raise _fail(path, at, 'must be a package name or { package = "...", suite = "..." }, '
                        f"not {_repr(item)}")
        for key, value in item.items():
            _string(path, f"{at}.{key}", value)
        headers = DkmsHeaders(item["package"], item.get("suite", HOST_SUITE))
        problem = _headers_problem(headers.package, headers.suite)
        if problem:
            key = "package" if not HEADERS_RE.match(headers.package) else "suite"
            raise _fail(path, f"{at}.{key}" if isinstance(raw[i], dict) else at, problem)
        if headers in entries:
            raise _fail(path, at, f"lists {headers.describe()} twice")
        entries.append(headers)
    return tuple(entries)


def _parse_defaults(path: Path, raw) -> dict:
    """[defaults]: fragments and arch for the entries that do not set their own."""
    _check_keys(path, "[defaults]", raw, DEFAULT_KEYS)
    values: dict = {}
    if "fragments" in raw:
        values["fragments"] = _parse_fragments(path, "[defaults].fragments", raw["fragments"])
    if "arch" in raw:
        values["arch"] = _parse_arch(path, "[defaults].arch", raw["arch"])
    return values


def _parse_kernel(path: Path, name: str, raw, defaults: dict,
                  debian: DebianArchive = DebianArchive()) -> Kernel:
    where = f'[kernels."{name}"]'
    _check_keys(path, where, raw, KERNEL_KEYS, {"source"})
    values: dict = {"name": name, "origin": path.name}
    source = _parse_source(path, f"{where}.source", raw["source"])
    if source.suite:
        source = replace(source, archive=debian)
    values["source"] = source
    for key in ("version", "min_version", "max_version"):
        if key in raw:
            values[key] = _parse_version(path, f"{where}.{key}", raw[key])
    if "fragments" in raw:
        values["fragments"] = _parse_fragments(path, f"{where}.fragments", raw["fragments"])
    elif "fragments" in defaults:
        values["fragments"] = defaults["fragments"]
    if "arch" in raw:
        values["arch"] = _parse_arch(path, f"{where}.arch", raw["arch"])
    elif "arch" in defaults:
        values["arch"] = defaults["arch"]
    values["expect"] = _parse_expect(path, f"{where}.expect", raw.get("expect", {}))
    values["dkms_headers"] = _parse_dkms_headers(path, f"{where}.dkms_headers",
                                                 raw.get("dkms_headers", []))
    if "ci" in raw:
        values["ci"] = _bool(path, f"{where}.ci", raw["ci"])
    return Kernel(**values)


def load_matrix(path: Path, fragments_dir: Path | None = None) -> Matrix:
    """Read and validate kernels.toml; fragments must exist in *fragments_dir*."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise BadInput(f"{path}: no such file (the kernel matrix)") from None
    except tomllib.TOMLDecodeError as exc:
        raise BadInput(f"{path.name}: not valid TOML: {exc}") from None
    _check_keys(path, "top level", data, TOP_KEYS, {"kernels"})
    defaults = _parse_defaults(path, data.get("defaults", {}))
    debian = _parse_debian(path, data.get("debian", {}))
    guest = _parse_guest(path, data.get("guest", {}))
    tools = _parse_tools(path, data.get("tools", {}))
    if not isinstance(data["kernels"], dict):
        raise _fail(path, "[kernels]", 'must be a table of kernel entries ([kernels."6.12"] '
                    f"...), not {_repr(data['kernels'])}")
    kernels = {}
    for name, raw in data["kernels"].items():
        kernels[name] = _parse_kernel(path, name, raw, defaults, debian)
    if not kernels:
        raise _fail(path, "[kernels]", "no kernel entries")
    default = _parse_name(path, "default", data.get("default", next(iter(kernels))), kernels)
    if fragments_dir is not None:
        for kernel in kernels.values():
            for frag in kernel.fragments:
                if not (fragments_dir / f"{frag}.config").is_file():
                    raise _fail(path, f'[kernels."{kernel.name}"].fragments',
                                f"no fragment '{frag}' ({fragments_dir / (frag + '.config')})")
    canonical = _parse_name(path, "canonical", data.get("canonical", default), kernels)
    return Matrix(path=path, default=default, kernels=kernels, canonical=canonical,
                  debian=debian, guest=guest, tools=tools)


def set_canonical(path: Path, name: str) -> None:
    """Make kernels.toml say ``canonical = "NAME"`` (the rest of the file, comments
    included, is kept as it is); the result must still load."""
    text = Path(path).read_text()
    line = f'canonical = "{name}"'
    if re.search(r"^canonical\s*=.*$", text, re.M):
        new = re.sub(r"^canonical\s*=.*$", lambda _: line, text, count=1, flags=re.M)
    elif re.search(r"^default\s*=.*$", text, re.M):
        new = re.sub(r"^(default\s*=.*)$", lambda m: f"{m.group(1)}\n{line}", text, count=1,
                     flags=re.M)
    else:
        new = f"{line}\n{text}"
    matrix = tomllib.loads(new)
    if name not in matrix.get("kernels", {}):
        raise BadInput(f"{Path(path).name}: cannot make '{name}' canonical: not one of its "
                        "[kernels] entries")
    part = Path(path).with_name(f".{Path(path).name}.part")
    part.write_text(new)
    part.replace(path)

"""The check guest's initramfs, assembled from this machine's Debian binaries.

The base image holds busybox, the network tools the checks use (each with
the shared libraries ``ldd`` lists), the ``rawframe`` helper (built from
``ci/guest/rawframe.c``), ``/init`` (``ci/guest/init.sh``) and the checks
(``ci/checks/``).  It is cached under ``Workspace.guest`` keyed by a hash of
all of that, so it is rebuilt only when an input changes.

Per boot, a small second archive (:func:`write_overlay`) adds the run's
settings, the kernel's config and files such as upstream ``netns.sh``; the
kernel unpacks concatenated archives in order, so the two are simply
concatenated (:func:`combine`).
"""

from __future__ import annotations

import gzip
import hashlib
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import store
from .checks import CHECKS_DIR
from .errors import L2wgError, MissingTool
from .runner import run
from .workspace import Workspace

# Bump when the layout of the image changes, to invalidate cached images.
FORMAT = 1

REPO = Path(__file__).resolve().parents[2]
INIT_SCRIPT = REPO / "ci" / "guest" / "init.sh"
RAWFRAME_SOURCE = REPO / "ci" / "guest" / "rawframe.c"
XDP_SOURCE = REPO / "ci" / "interop" / "xdp-redirect.bpf.c"
#: The ifindexes ci/interop/xdp-redirect.sh gives l2wg1 and lan0.100: one
#: XDP object redirects to each.
XDP_REDIRECT_IFINDEXES = (100, 101)
#: Where the guest finds them: redirect-to-INDEX.o.
XDP_GUEST_DIR = "l2wg/interop/xdp"
#: The header of libbpf-dev the program includes (SEC(), bpf_redirect()).
BPF_HELPERS_H = Path("/usr/include/bpf/bpf_helpers.h")


@dataclass(frozen=True)
class Program:
    """A host file the guest needs, and the Debian package that ships it."""

    path: str
    package: str


PROGRAMS: tuple[Program, ...] = (
    Program("/usr/bin/busybox", "busybox-static"),
    Program("/usr/bin/bash", "bash"),
    Program("/usr/sbin/ip", "iproute2"),
    Program("/usr/sbin/bridge", "iproute2"),
    Program("/usr/sbin/tc", "iproute2"),
    Program("/usr/sbin/ethtool", "ethtool"),
    Program("/usr/bin/ss", "iproute2"),
    Program("/usr/bin/wg", "wireguard-tools"),
    Program("/usr/sbin/pppd", "ppp"),
    Program("/usr/lib/pppd/2.4.9/pppoe.so", "ppp"),
    Program("/usr/sbin/pppoe-server", "pppoe"),
    Program("/usr/sbin/pppoe", "pppoe"),
    Program("/usr/bin/tcpdump", "tcpdump"),
    Program("/usr/bin/iperf3", "iperf3"),
    Program("/usr/bin/ping", "iputils-ping"),
    Program("/usr/bin/ncat", "ncat"),
    Program("/usr/sbin/xtables-legacy-multi", "iptables"),
)

XTABLES_DIR = Path("/usr/lib/x86_64-linux-gnu/xtables")

# Guest symlinks: link -> target.
SYMLINKS: dict[str, str] = {
    "lib": "usr/lib",
    "lib64": "usr/lib64",
    "bin/sh": "busybox",
    "init": "l2wg/init",
    "bin/bash": "/usr/bin/bash",
    "usr/bin/ping6": "ping",
    "usr/lib/pppd/2.4.9/rp-pppoe.so": "pppoe.so",
    **{f"usr/sbin/{name}": "xtables-legacy-multi" for name in (
        "iptables", "ip6tables", "iptables-legacy", "ip6tables-legacy",
        "iptables-save", "ip6tables-save", "iptables-restore", "ip6tables-restore")},
}

# Small text files: guest path -> content.
ETC_FILES: dict[str, str] = {
    "etc/passwd": "root:x:0:0:root:/root:/bin/sh\n",
    "etc/group": "root:x:0:\n",
    "etc/hosts": "127.0.0.1 localhost\n::1 localhost\n",
    "etc/protocols": "ip 0 IP\nicmp 1 ICMP\ntcp 6 TCP\nudp 17 UDP\nipv6-icmp 58 IPv6-ICMP\n",
    "etc/services": "",
    "etc/ppp/options": "",
    "etc/ppp/pppoe-server-options": "noauth\nlcp-echo-interval 0\nmtu 1380\nmru 1380\n",
}

DIRECTORIES = ("bin", "sbin", "usr/bin", "usr/sbin", "usr/lib", "usr/lib64", "dev", "proc", "sys",
               "tmp", "run", "root", "var", "etc/ppp", "l2wg")


@dataclass(frozen=True)
class GuestPrograms:
    """Files the guest gets instead of (or besides) the host's: guest path -> file,
    copied as they are (userspace.py makes them, when kernels.toml's [guest] asks)."""

    files: dict[str, Path] = field(default_factory=dict)
    #: For the record (results, metadata): {"wg": "wireguard-tools 1.0.20260223-2 (sid)"}.
    versions: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Initramfs:
    """A built (or cached) base image."""

    path: Path
    key: str
    size: int
    seconds: float
    cached: bool


def missing_packages(programs: tuple[Program, ...] = PROGRAMS) -> list[str]:
    """Debian packages to install before the guest can be built."""
    missing = {p.package for p in programs if not Path(p.path).exists()}
    if shutil.which("gcc") is None:
        missing.add("gcc")
    if shutil.which("cpio") is None:
        missing.add("cpio")
    return sorted(missing)


def required_packages(programs: tuple[Program, ...] = PROGRAMS) -> list[str]:
    """Every Debian package the guest is built from (for setup scripts)."""
    return sorted({p.package for p in programs} | {"cpio", "gcc", "libc6-dev"})


def host_files() -> list[Path]:
    """The host programs and plugins copied into the guest."""
    files = [Path(p.path) for p in PROGRAMS]
    files += sorted(XTABLES_DIR.glob("*.so"))
    return files


#: ldd's answers in this process, by file and its size and mtime: an image with
#: replacements (userspace.py) asks again about the same hundred-odd host files.
_LIBRARIES: dict[tuple[str, int, int], list[Path]] = {}


def shared_libraries(binary: Path, log: Path) -> list[Path]:
    """The libraries ``ldd`` lists for *binary* (none for static ones)."""
    try:
        st = Path(binary).stat()
    except OSError:
        return _ldd(binary, log)        # ldd says what is wrong, in the log
    key = (str(binary), st.st_size, st.st_mtime_ns)
    if key not in _LIBRARIES:
        _LIBRARIES[key] = _ldd(binary, log)
    return list(_LIBRARIES[key])


def _ldd(binary: Path, log: Path) -> list[Path]:
    done = run(["ldd", binary], log_path=log, check=False, what="ldd")
    libs = []
    for line in done.output.splitlines():
        words = line.split()
        if "=>" in words and len(words) > words.index("=>") + 1:
            candidate = words[words.index("=>") + 1]
        elif words and words[0].startswith("/"):
            candidate = words[0]
        else:
            continue
        if candidate.startswith("/"):
            libs.append(Path(candidate))
    return libs


def guest_scripts() -> list[Path]:
    """The text inputs of the image: the init and every check file."""
    return [INIT_SCRIPT, RAWFRAME_SOURCE, *sorted(CHECKS_DIR.glob("*"))]


def input_key(files: list[Path], scripts: list[Path], extra: GuestPrograms = GuestPrograms()
              ) -> str:
    """Hash of the image's inputs: host files by path, size and mtime;
    scripts by content; the replacements by guest path and content."""
    h = hashlib.sha256(f"l2wg-guest-{FORMAT}\n".encode())
    for guest_path, source in sorted(extra.files.items()):
        h.update(f"{guest_path}\0".encode() + source.read_bytes() + b"\n")
    for f in files:
        st = f.stat()
        h.update(f"{f}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    for s in scripts:
        h.update(f"{s.name}\0".encode() + s.read_bytes() + b"\n")
    return h.hexdigest()[:16]


def build_rawframe(ws: Workspace, log: Path) -> Path:
    """The static rawframe helper, compiled once per source version."""
    digest = hashlib.sha256(RAWFRAME_SOURCE.read_bytes()).hexdigest()[:12]
    binary = ws.guest / "helpers" / f"rawframe-{digest}"
    if not binary.exists():
        binary.parent.mkdir(parents=True, exist_ok=True)
        with store.staging_file(binary) as tmp:
            run(["gcc", "-static", "-O2", "-Wall", "-o", tmp, RAWFRAME_SOURCE],
                log_path=log, what="building the rawframe helper")
    return binary


def build_xdp_objects(ws: Workspace, log: Path) -> dict[str, Path]:
    """The XDP programs of the interop check xdp-redirect, compiled with
    clang once per source version: guest path -> object.  Empty, and said
    so in *log*, when this host lacks clang or libbpf-dev: the check then
    skips with that reason."""
    if shutil.which("clang") is None or not BPF_HELPERS_H.is_file():
        with open(log, "a") as f:
            f.write(f"# {XDP_SOURCE.name} not compiled: needs clang and libbpf-dev "
                    f"({BPF_HELPERS_H})\n")
        return {}
    digest = hashlib.sha256(XDP_SOURCE.read_bytes()).hexdigest()[:12]
    objects = {}
    for index in XDP_REDIRECT_IFINDEXES:
        obj = ws.guest / "helpers" / f"xdp-redirect-{digest}-to-{index}.o"
        if not obj.exists():
            obj.parent.mkdir(parents=True, exist_ok=True)
            with store.staging_file(obj) as tmp:
                # -target bpf has no multiarch include path: asm/types.h is there.
                run(["clang", "-O2", "-Wall", "-target", "bpf",
                     "-I/usr/include/x86_64-linux-gnu", f"-DREDIRECT_IFINDEX={index}",
                     "-c", XDP_SOURCE, "-o", tmp],
                    log_path=log, what=f"compiling {XDP_SOURCE.name} (to ifindex {index})")
        objects[f"{XDP_GUEST_DIR}/redirect-to-{index}.o"] = obj
    return objects


def copy_into(staging: Path, guest_path: str, source: Path) -> None:
    """Copy *source* (following symlinks) to *guest_path* in the staging tree."""
    dest = staging / guest_path.lstrip("/")
    if dest.exists():
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, dest, follow_symlinks=True)


def write_text(staging: Path, guest_path: str, text: str, mode: int = 0o644) -> None:
    dest = staging / guest_path
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(text)
    dest.chmod(mode)


def make_skeleton(staging: Path) -> None:
    for d in DIRECTORIES:
        (staging / d).mkdir(parents=True, exist_ok=True)
    for link, target in SYMLINKS.items():
        path = staging / link
        path.parent.mkdir(parents=True, exist_ok=True)
        path.symlink_to(target)
    for guest_path, text in ETC_FILES.items():
        write_text(staging, guest_path, text)


def install_busybox_applets(staging: Path, log: Path) -> None:
    """Links /bin/APPLET -> busybox for each applet no real tool shadows."""
    (staging / "bin" / "busybox").symlink_to("/usr/bin/busybox")
    applets = run(["/usr/bin/busybox", "--list"], log_path=log).output.split()
    for applet in applets:
        link = staging / "bin" / applet
        if not link.exists() and not link.is_symlink():
            link.symlink_to("busybox")


def install_programs(staging: Path, files: list[Path], log: Path) -> None:
    for f in files:
        copy_into(staging, str(f), f)
        for lib in shared_libraries(f, log):
            copy_into(staging, str(lib), lib)
    if not (staging / "usr/bin/busybox").exists():
        raise L2wgError("busybox missing from the guest image")


def install_scripts(staging: Path, rawframe: Path) -> None:
    copy_into(staging, "l2wg/init", INIT_SCRIPT)
    (staging / "l2wg" / "init").chmod(0o755)
    copy_into(staging, "usr/bin/rawframe", rawframe)
    checks = staging / "l2wg" / "checks"
    checks.mkdir(parents=True, exist_ok=True)
    for script in sorted(CHECKS_DIR.glob("*.sh")):
        shutil.copy2(script, checks / script.name)
        (checks / script.name).chmod(0o755)


def pack(staging: Path, out: Path, log: Path) -> None:
    """gzip'd newc cpio of the staging tree, owned by root."""
    names = sorted(str(p.relative_to(staging)) for p in staging.rglob("*"))
    raw = out.with_suffix(".cpio")
    run(["cpio", "--quiet", "-o", "-H", "newc", "-R", "0:0", "-O", raw], cwd=staging,
        input="\n".join(names) + "\n", log_path=log, what="cpio")
    # Level 1: three times as fast as 6 on the 30 MB image, 8% larger; the kernel
    # unpacks either as fast.
    with open(raw, "rb") as src, gzip.open(out, "wb", compresslevel=1) as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    raw.unlink()


def check_packages() -> None:
    missing = missing_packages()
    if missing:
        raise MissingTool("the check guest needs Debian packages that are not installed: "
                        f"apt-get install --no-install-recommends {' '.join(missing)}")


def build_initramfs(ws: Workspace, log: Path | None = None,
                    extra: GuestPrograms = GuestPrograms()) -> Initramfs:
    """The base image for *ws*, built unless a cached one has the same inputs.
    *extra* replaces host programs (by guest path) or adds files."""
    check_packages()
    log = log or ws.logs / "guest.log"
    start = time.monotonic()
    rawframe = build_rawframe(ws, log)
    files = [f for f in host_files() if str(f) not in extra.files]
    key = input_key(files + [rawframe], guest_scripts(), extra)
    image = ws.guest / f"initramfs-{key}.cpio.gz"
    if image.exists():
        return Initramfs(image, key, image.stat().st_size, time.monotonic() - start, True)
    ws.guest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=ws.guest, prefix="staging-") as tmp:
        staging = Path(tmp)
        make_skeleton(staging)
        for guest_path, source in extra.files.items():
            copy_into(staging, guest_path, source)
        install_programs(staging, files, log)
        install_busybox_applets(staging, log)
        install_scripts(staging, rawframe)
        with store.staging_file(image) as partial:
            pack(staging, partial, log)
    store.write_json(ws.guest / f"initramfs-{key}.json", {
        "key": key, "inputs": [str(f) for f in files], "format": FORMAT,
        "replaced": {k: str(v) for k, v in extra.files.items()},
        "versions": extra.versions})
    return Initramfs(image, key, image.stat().st_size, time.monotonic() - start, False)


def write_overlay(out: Path, files: dict[str, bytes], log: Path) -> Path:
    """A gzip'd cpio of *files* (guest path -> content), for one boot."""
    with tempfile.TemporaryDirectory(dir=out.parent, prefix="overlay-") as tmp:
        staging = Path(tmp)
        for guest_path, content in files.items():
            dest = staging / guest_path.lstrip("/")
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(content)
            dest.chmod(0o755)
        pack(staging, out, log)
    return out


def combine(parts: list[Path], out: Path) -> Path:
    """Concatenate archives into one -initrd file (later ones win)."""
    with open(out, "wb") as dst:
        for part in parts:
            with open(part, "rb") as src:
                shutil.copyfileobj(src, dst, 1 << 20)
    return out


def describe(initramfs: Initramfs) -> str:
    how = "cached" if initramfs.cached else "built"
    return (f"guest initramfs {how} in {initramfs.seconds:.1f}s: {initramfs.path} "
            f"({initramfs.size / 1e6:.1f} MB)")


__all__ = ["GuestPrograms", "Initramfs", "Program", "PROGRAMS", "build_initramfs", "write_overlay", "combine",
           "missing_packages", "required_packages", "describe"]

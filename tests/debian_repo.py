"""A tiny signed Debian archive on 127.0.0.1, for testing l2wg's apt machinery
with real apt and no network.

``make_archive`` builds, with the real tools, what deb.debian.org serves:
.deb files made by ``dpkg-deb --build`` (a fake ``linux-source-9.9`` holding
usr/src/linux-source-9.9.tar.xz, and a 7.x-style split linux-image), Packages
indices by ``apt-ftparchive packages``, a Release by ``apt-ftparchive
release``, signed into InRelease with ``gpg --clearsign`` by a throwaway key.
``Server`` serves it with Python's http.server.
"""

from __future__ import annotations

import functools
import http.server
import io
import lzma
import socket
import shutil
import subprocess
import tarfile
import threading
from dataclasses import dataclass
from pathlib import Path

SUITES = {
    # suite: [(package, version, kind)]
    "l2wg-test": [("linux-source-9.9", "9.9.1-1", "source"),
                  ("linux-source-9.9", "9.9.2-1", "source"),
                  ("linux-image-9.9.2-test-amd64", "9.9.2-1", "image"),
                  ("linux-binary-9.9.2-test-amd64", "9.9.2-1", "binary"),
                  ("linux-modules-9.9.2-test-amd64", "9.9.2-1", "modules"),
                  ("linux-base-9.9.2-test-amd64", "9.9.2-1", "base"),
                  ("linux-headers-9.9.2-test-amd64", "9.9.2-1", "headers"),
                  # a newer ABI of the line, as a point release brings it
                  # (l2wg kernels --available names it; nothing installs it)
                  ("linux-headers-9.9.3-test-amd64", "9.9.3-1", "headers"),
                  # other flavours of the line, never taken for it
                  ("linux-headers-9.9.4-test-rt-amd64", "9.9.4-1", "headers"),
                  # The host's real wg and glibc, repackaged: the guest's wg (userspace.py).
                  ("wireguard-tools", "1.0.29990101-1", "tools"),
                  ("libc6", "2.99-1", "libc"),
                  # The host's real sparse, repackaged: submit's sparse gate.
                  ("sparse", "0.9.9-1", "sparse")],
    "l2wg-next": [("linux-source-10.1", "10.1.3-1", "source"),
                  ("linux-source-9.9", "9.9.0-1~bpo+1", "source")],
}
RELEASE = "9.9.2-test-amd64"


@dataclass(frozen=True)
class Key:
    home: Path        # the GNUPGHOME holding the secret key
    keyring: Path     # the public key, as apt's signed-by wants it
    fingerprint: str


def run(*argv: str | Path, cwd: Path | None = None, env: dict | None = None,
        input: bytes | None = None) -> bytes:
    return subprocess.run([str(a) for a in argv], cwd=cwd, env=env, input=input, check=True,
                          capture_output=True).stdout


def make_key(home: Path, name: str) -> Key:
    """A throwaway signing key in its own GNUPGHOME (no passphrase)."""
    home.mkdir(mode=0o700, parents=True)
    gpg = ["gpg", "--batch", "--homedir", str(home), "--pinentry-mode", "loopback",
           "--passphrase", ""]
    run(*gpg, "--quick-gen-key", f"{name} <{name}@l2wg.invalid>", "ed25519", "sign", "never")
    listing = run(*gpg, "--with-colons", "--list-keys").decode()
    fingerprint = next(line.split(":")[9] for line in listing.splitlines()
                       if line.startswith("fpr:"))
    keyring = home.parent / f"{name}.gpg"
    keyring.write_bytes(run(*gpg, "--export", fingerprint))
    return Key(home, keyring, fingerprint)


def stop_agent(key: Key) -> None:
    subprocess.run(["gpgconf", "--homedir", str(key.home), "--kill", "gpg-agent"],
                   capture_output=True)


def kernel_tarball(line: str, version: str) -> bytes:
    """usr/src/linux-source-LINE.tar.xz content: a tree whose Makefile says VERSION."""
    major, minor, sub = (version.split("-")[0].split(".") + ["0"])[:3]
    files = {
        "Makefile": f"VERSION = {major}\nPATCHLEVEL = {minor}\nSUBLEVEL = {sub}\n"
                    "EXTRAVERSION =\nNAME = test\n",
        "Kconfig": 'config NET\n\tbool "net"\n',
        "drivers/net/wireguard/device.c": "".join(f"line {i}\n" for i in range(20)),
    }
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:xz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"linux-source-{line}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def build_deb(work: Path, package: str, version: str, kind: str, pool: Path) -> Path:
    root = work / f"{package}_{version}"
    (root / "DEBIAN").mkdir(parents=True)
    depends = ""
    modules = root / "usr" / "lib" / "modules" / RELEASE
    if kind == "source":
        line = package.removeprefix("linux-source-")
        src = root / "usr" / "src"
        src.mkdir(parents=True)
        (src / f"linux-source-{line}.tar.xz").write_bytes(kernel_tarball(line, version))
    elif kind == "headers":
        (root / "usr" / "src" / f"linux-headers-{RELEASE}").mkdir(parents=True)
    elif kind == "image":
        depends = ", ".join(f"linux-{part}-{RELEASE} (= {version})"
                            for part in ("base", "binary", "modules"))
        depends = "initramfs-tools | linux-initramfs-tool, " + depends
        (root / "usr" / "share" / "doc" / package).mkdir(parents=True)
    elif kind == "binary":
        modules.mkdir(parents=True)
        (modules / "vmlinuz").write_bytes(b"not really a kernel\n")
    elif kind == "modules":
        wireguard = modules / "kernel" / "drivers" / "net" / "wireguard"
        wireguard.mkdir(parents=True)
        (wireguard / "wireguard.ko.xz").write_bytes(lzma.compress(b"not really a module\n"))
    elif kind == "base":
        modules.mkdir(parents=True)
        (modules / "config").write_text("CONFIG_WIREGUARD=m\n")
    elif kind == "tools":
        (root / "usr" / "bin").mkdir(parents=True)
        shutil.copy2("/usr/bin/wg", root / "usr" / "bin" / "wg")
    elif kind == "sparse":
        (root / "usr" / "bin").mkdir(parents=True)
        shutil.copy2("/usr/bin/sparse", root / "usr" / "bin" / "sparse")
    elif kind == "libc":
        lib = root / "usr" / "lib" / "x86_64-linux-gnu"
        lib.mkdir(parents=True)
        for name in ("libc.so.6", "ld-linux-x86-64.so.2"):
            shutil.copy2(Path("/lib/x86_64-linux-gnu") / name, lib / name)
    control = (f"Package: {package}\nVersion: {version}\nArchitecture: "
               f"{'all' if kind == 'source' else 'amd64'}\n"
               "Maintainer: l2wg tests <t@l2wg.invalid>\n"
               + (f"Depends: {depends}\n" if depends else "")
               + f"Description: {package} for l2wg's tests\n")
    (root / "DEBIAN" / "control").write_text(control)
    deb = pool / f"{package}_{version}_{'all' if kind == 'source' else 'amd64'}.deb"
    # xz as Debian's own packages, at its fastest preset: the glibc and sparse the
    # archive carries take seconds to pack at the default one, for every test run.
    run("dpkg-deb", "--root-owner-group", "-Zxz", "-z1", "--build", root, deb)
    return deb


def make_archive(base: Path, key: Key) -> Path:
    """A Debian archive in *base*/www/debian, signed by *key*; returns its root."""
    archive = base / "www" / "debian"
    work = base / "debs"
    for suite, packages in SUITES.items():
        pool = archive / "pool" / suite
        pool.mkdir(parents=True)
        for package, version, kind in packages:
            build_deb(work, package, version, kind, pool)
        dist = archive / "dists" / suite
        binary = dist / "main" / "binary-amd64"
        binary.mkdir(parents=True)
        packages_text = run("apt-ftparchive", "packages", f"pool/{suite}", cwd=archive)
        (binary / "Packages").write_bytes(packages_text)
        run("xz", "-k", binary / "Packages")
        release = run("apt-ftparchive",
                      "-o", f"APT::FTPArchive::Release::Suite={suite}",
                      "-o", f"APT::FTPArchive::Release::Codename={suite}",
                      "-o", "APT::FTPArchive::Release::Components=main",
                      "-o", "APT::FTPArchive::Release::Architectures=amd64",
                      "release", ".", cwd=dist)
        (dist / "Release").write_bytes(release)
        sign(dist, key)
    return archive


def sign(dist: Path, key: Key) -> None:
    """InRelease = Release clear-signed by *key*."""
    (dist / "InRelease").unlink(missing_ok=True)
    run("gpg", "--batch", "--homedir", key.home, "--pinentry-mode", "loopback",
        "--passphrase", "", "--local-user", key.fingerprint, "--clearsign",
        "--output", dist / "InRelease", dist / "Release")


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class Server:
    """*root* served over HTTP on 127.0.0.1 until stop()."""

    def __init__(self, root: Path):
        handler = functools.partial(_Quiet, directory=str(root))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()
        self.running = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.running:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.running = False


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]

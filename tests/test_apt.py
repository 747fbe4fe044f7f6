"""l2wg's private apt configuration, against a real signed archive on 127.0.0.1.

Real apt, no mocks: tests/debian_repo.py builds a tiny archive with
dpkg-deb, apt-ftparchive and a throwaway gpg key, and serves it with
http.server.  Nothing here needs the network, and the host's apt
configuration and lists must be exactly as they were.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

import debian_repo
from l2wg import distkernel, resolve, sources
from l2wg.apt import (Apt, ArchiveUnreachable, BadSignature, DebianPackage, NotInArchive,
                      compare_versions, mirror_slug, newest)
from l2wg.kernels import DebianArchive, Kernel, SourceSpec, load_matrix
from l2wg.rebase import RebaseOptions

HOST_APT = (Path("/etc/apt"), Path("/var/lib/apt/lists"), Path("/var/lib/dpkg/status"))


def host_apt_digest() -> str:
    """The host's apt configuration, lists and dpkg status: names, sizes, mtimes, and
    the content of everything under /etc/apt."""
    digest = hashlib.sha256()
    for top in HOST_APT:
        paths = [top] if top.is_file() else sorted(p for p in top.rglob("*"))
        for path in paths:
            if path.name == "lock" or not path.exists():
                continue
            stat = path.stat()
            digest.update(f"{path}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
            if path.is_file() and top == Path("/etc/apt"):
                digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(autouse=True)
def host_apt_untouched():
    before = host_apt_digest()
    yield
    assert host_apt_digest() == before, "the host's apt configuration or lists changed"


@pytest.fixture
def suite(debian_server, ws):
    """l2wg's private apt configuration for the test archive's l2wg-test suite."""
    server, archive = debian_server
    return Apt.for_suite(ws.apt, "l2wg-test", archive)


def log_commands(log: Path, word: str) -> list[str]:
    return [line for line in log.read_text().splitlines()
            if line.startswith("$ ") and f" {word}" in line]


def test_private_configuration_layout(suite, ws, tmp_path):
    log = tmp_path / "apt.log"
    pkg = suite.find("linux-source-9.9", None, log)
    assert pkg == DebianPackage("linux-source-9.9", "9.9.2-1", pkg.sha256, pkg.size,
                                "l2wg-test", "")
    state = ws.apt / mirror_slug(suite.mirror) / "l2wg-test"
    assert suite.state == state
    assert (state / "sources.list").read_text() == (
        f"deb [signed-by={suite.keyring}] {suite.mirror} l2wg-test main\n")
    assert (state / "status").read_text() == ""
    assert list((state / "lists").glob("*_InRelease"))
    assert (state / "cache" / "pkgcache.bin").exists()
    # Every apt command was logged, each with the private configuration.
    commands = log_commands(log, "apt-")
    assert commands and all(f"Dir::State::Lists={state / 'lists'}" in c for c in commands)
    assert all("Dir::Etc::sourceparts=/dev/null" in c for c in commands)


def test_lists_are_updated_only_when_missing_or_a_package_is_not_found(suite, tmp_path):
    log = tmp_path / "apt.log"
    suite.find("linux-source-9.9", None, log)              # no lists yet: one update
    suite.find("linux-source-9.9", "9.9.1-1", log)
    assert [o.version for o in suite.offers(["linux-source-9.9"], log)] == ["9.9.2-1", "9.9.1-1"]
    assert len(log_commands(log, "update")) == 1
    with pytest.raises(NotInArchive, match=r"the Debian suite 'l2wg-test' has no "
                                           r"linux-source-9\.7 \(log: "):
        suite.find("linux-source-9.7", None, log)
    assert len(log_commands(log, "update")) == 1           # the lists are from this run

    # A later run (a new Apt object) with the lists in place: no update for a
    # package they have, exactly one for a package they lack.
    again = Apt.for_suite(suite.state.parents[1], "l2wg-test",
                          DebianArchive(mirror=suite.mirror, keyring=suite.keyring))
    again.find("linux-source-9.9", None, log)
    assert len(log_commands(log, "update")) == 1
    with pytest.raises(NotInArchive, match=r"has no linux-source-9\.9=9\.9\.5-1 \(it has: "
                                           r"9\.9\.2-1, 9\.9\.1-1\)"):
        again.find("linux-source-9.9", "9.9.5-1", log)
    assert len(log_commands(log, "update")) == 2
    with pytest.raises(NotInArchive):
        again.find("linux-source-9.7", None, log)
    assert len(log_commands(log, "update")) == 2           # once per run, not per question


def test_a_suite_that_does_not_exist(debian_server, ws, tmp_path):
    _, archive = debian_server
    apt = Apt.for_suite(ws.apt, "l2wg-tset", archive)
    with pytest.raises(NotInArchive) as err:
        apt.find("linux-source-9.9", None, tmp_path / "apt.log")
    assert str(err.value) == (f"the Debian suite 'l2wg-tset' has no linux-source-9.9: there is "
                              f"no such suite at {archive.mirror} (no Release file) "
                              f"(log: {tmp_path / 'apt.log'})")
    assert not apt.state.exists()                          # a typo leaves nothing behind


def test_a_bad_signature_is_refused(debian_server, debian_keys, ws, tmp_path):
    _, archive = debian_server
    wrong = DebianArchive(mirror=archive.mirror, keyring=debian_keys["other"].keyring)
    apt = Apt.for_suite(ws.apt, "l2wg-test", wrong)
    with pytest.raises(BadSignature, match="Release file is not signed by a key in .*other.gpg; "
                                           "refusing it"):
        apt.find("linux-source-9.9", None, tmp_path / "apt.log")
    assert not apt.has_lists()
    assert not list((apt.state / "lists").glob("*Packages*"))


def test_a_tampered_release_is_refused(debian_www, debian_keys, ws, tmp_path):
    """The archive signed by the good key, then its InRelease edited: apt must refuse it."""
    import shutil

    www = tmp_path / "www"
    shutil.copytree(debian_www, www)
    inrelease = www / "debian" / "dists" / "l2wg-test" / "InRelease"
    inrelease.write_text(inrelease.read_text().replace("Suite: l2wg-test", "Suite: l2wg-evil"))
    server = debian_repo.Server(www)
    try:
        apt = Apt.for_suite(ws.apt, "l2wg-test",
                            DebianArchive(mirror=f"{server.url}/debian",
                                          keyring=debian_keys["good"].keyring))
        with pytest.raises(BadSignature):
            apt.find("linux-source-9.9", None, tmp_path / "apt.log")
    finally:
        server.stop()


def test_an_unreachable_archive_is_one_clear_error(ws, tmp_path, debian_keys, monkeypatch):
    # apt retries three times with back-off; the test does not need to wait for that.
    conf = tmp_path / "apt.conf"
    conf.write_text('Acquire::Retries "0";\n')
    monkeypatch.setenv("APT_CONFIG", str(conf))
    mirror = f"http://127.0.0.1:{debian_repo.closed_port()}/debian"
    apt = Apt.for_suite(ws.apt, "l2wg-test",
                        DebianArchive(mirror=mirror, keyring=debian_keys["good"].keyring))
    with pytest.raises(ArchiveUnreachable, match=f"cannot reach the Debian archive {mirror} "
                                                 "for suite 'l2wg-test' .*Could not connect"):
        apt.find("linux-source-9.9", None, tmp_path / "apt.log")


def test_a_missing_keyring_is_named(ws, tmp_path):
    apt = Apt.for_suite(ws.apt, "sid", DebianArchive(keyring=tmp_path / "nope.gpg"))
    with pytest.raises(Exception, match=r"no keyring .*nope\.gpg to check its Release signature"):
        apt.find("linux-source-7.2", None, tmp_path / "apt.log")


def test_download_is_checked_against_the_index(suite, ws, quiet, tmp_path):
    log = tmp_path / "apt.log"
    pkg = suite.find("linux-source-9.9", "9.9.1-1", log)
    deb = sources.fetch_deb(pkg, ws, quiet, log, suite)
    assert deb.name == "linux-source-9.9_9.9.1-1.deb"
    forged = DebianPackage(pkg.name, pkg.version, "0" * 64, pkg.size, pkg.suite)
    deb.unlink()
    with pytest.raises(Exception, match="does not match the archive's SHA256"):
        sources.fetch_deb(forged, ws, quiet, log, suite)
    assert not list((ws.sources / "debian").glob("*.deb"))


def test_split_linux_image_of_a_suite(suite, ws, quiet, tmp_path):
    """7.x's linux-image-R is empty and depends on linux-binary/-modules/-base-R:
    fetch_image unpacks them all, and finds vmlinuz, config and modules under /usr."""
    log = tmp_path / "image.log"
    kernel = distkernel.fetch_image(debian_repo.RELEASE, ws, quiet, log, suite)
    assert kernel.merged_usr
    assert kernel.vmlinuz.read_bytes() == b"not really a kernel\n"
    assert kernel.config.read_text() == "CONFIG_WIREGUARD=m\n"
    assert "wireguard.ko.xz" in (kernel.modules / "modules.dep").read_text()
    assert distkernel.module_closure(kernel, ["wireguard"])[0].name == "wireguard.ko.xz"
    assert not list((ws.sources / "debian").glob("*.deb"))
    downloads = log_commands(log, "download")
    assert len(downloads) == 4
    assert distkernel.fetch_image(debian_repo.RELEASE, ws, quiet, log, suite).root == kernel.root
    assert len(log_commands(log, "download")) == 4         # unpacked once


def test_point_releases_of_a_suite_are_seen_by_rebase(debian_server, ws, tmp_path):
    _, archive = debian_server
    toml = tmp_path / "kernels.toml"
    toml.write_text(f'''
[debian]
mirror = "{archive.mirror}"
keyring = "{archive.keyring}"
suites = ["l2wg-test", "l2wg-next"]
host = false

[kernels."9.9"]
version = "9.9"
source = {{ type = "debian", package = "linux-source-9.9", suite = "l2wg-test" }}
''')
    matrix = load_matrix(toml)
    log = tmp_path / "rebase.log"
    apt = sources.debian_apt("l2wg-test", matrix.debian, ws)
    assert resolve.debian_versions("linux-source-9.9", log, apt) == ["9.9.2-1", "9.9.1-1"]
    kernel = resolve.resolve_kernel("9.9.1", matrix, RebaseOptions(), log, ws)
    assert kernel.source == SourceSpec("debian", package="linux-source-9.9", version="9.9.1-1",
                                       suite="l2wg-test", archive=matrix.debian)
    assert kernel.where == "kernel 9.9.1"
    # Another suite's lists, once l2wg has them, are searched too.
    Apt.for_suite(ws.apt, "l2wg-next", matrix.debian).ensure_lists(log)
    assert resolve.resolve_kernel("9.9.0", matrix, RebaseOptions(), log, ws).source.suite == \
        "l2wg-next"
    with pytest.raises(Exception, match=r"has no linux-source-9\.9 9\.9\.7-\* \(it has: "
                                        r"9\.9\.2 \(l2wg-test\), 9\.9\.1 \(l2wg-test\), "
                                        r"9\.9\.0 \(l2wg-next\)\)"):
        resolve.resolve_kernel("9.9.7", matrix, RebaseOptions(), log, ws)


def test_host_configuration_adds_no_options():
    assert Apt.host().options() == []
    assert not Apt.host().private


@pytest.mark.parametrize("older, newer", [
    ("7.2.12-1~bpo13+1", "7.2.13-1"),
    ("6.12.117-1~deb12u1", "6.12.117-1"),
    ("6.12.95-1~bpo12+1", "6.12.117-1~deb12u1"),
    ("6.1.192-2", "6.1.192-3"),
    ("1.0~rc1-1", "1.0-1"),
    ("9.9", "1:0.1"),
    ("1.0-1", "1.0-1+b1"),
    ("1.0a", "1.0b"),
    ("1.0", "1.0.1"),
])
def test_debian_version_order(older, newer):
    assert compare_versions(older, newer) < 0
    assert compare_versions(newer, older) > 0
    assert compare_versions(newer, newer) == 0
    assert newest([older, newer, older]) == newer


def test_depends_are_read():
    pkg = DebianPackage("linux-image-7.3.4+deb13-amd64", "7.3.4-1~bpo13+1", "0" * 64, 0, "x",
                        "dracut | initramfs-tools (>= 0.120+deb8u2) | linux-initramfs-tool, "
                        "linux-base-7.3.4+deb13-amd64 (= 7.3.4-1~bpo13+1), "
                        "linux-binary-7.3.4+deb13-amd64 (= 7.3.4-1~bpo13+1)")
    assert pkg.depended() == {"dracut": None, "initramfs-tools": None,
                              "linux-initramfs-tool": None,
                              "linux-base-7.3.4+deb13-amd64": "7.3.4-1~bpo13+1",
                              "linux-binary-7.3.4+deb13-amd64": "7.3.4-1~bpo13+1"}


def test_a_changed_mirror_line_drops_the_old_lists(suite, tmp_path):
    log = tmp_path / "apt.log"
    suite.find("linux-source-9.9", None, log)
    assert suite.has_lists()
    moved = Apt(suite="l2wg-test", mirror=suite.mirror + "/", keyring=suite.keyring,
                state=suite.state)
    moved._prepare()
    assert not suite.has_lists()


def test_unused_kernel_fields_default():
    # Kernels l2wg makes up (point releases) name themselves in errors.
    assert Kernel(name="x", source=SourceSpec("debian", package="p")).where == "kernel x"

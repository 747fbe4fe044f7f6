"""The guest's wg from a newer suite, with that suite's own libc (userspace.py), against
the signed test archive on 127.0.0.1 (its wireguard-tools and libc6 packages hold the
host's real wg and glibc)."""

from __future__ import annotations

import gzip
import subprocess

import pytest

from l2wg import guest, userspace
from l2wg.apt import Apt
from l2wg.errors import L2wgError
from l2wg.kernels import load_matrix
from l2wg.progress import silent

GUEST = userspace.GUEST_DIR


def test_the_guests_wg_comes_with_its_suites_libc(debian_server, ws, tmp_path):
    server, archive = debian_server
    log = tmp_path / "userspace.log"
    programs = userspace.suite_wg(Apt.for_suite(ws.apt, "l2wg-test", archive), ws, silent(), log)
    assert set(programs.files) == {"/usr/bin/wg", f"{GUEST}/wg", f"{GUEST}/lib/libc.so.6",
                                   f"{GUEST}/lib/ld-linux-x86-64.so.2"}
    assert programs.versions == {"wg": "wireguard-tools 1.0.29990101-1 (l2wg-test)"}
    assert programs.files["/usr/bin/wg"].read_text() == (
        f"#!/bin/sh\nexec {GUEST}/lib/ld-linux-x86-64.so.2 --library-path {GUEST}/lib "
        f'{GUEST}/wg "$@"\n')
    # What the wrapper does, for real: the package's wg run by the package's loader
    # with the package's libc, and nothing of the host's libc directory.
    files = programs.files
    done = subprocess.run([files[f"{GUEST}/lib/ld-linux-x86-64.so.2"], "--library-path",
                           files[f"{GUEST}/lib/libc.so.6"].parent, files[f"{GUEST}/wg"],
                           "--version"], capture_output=True, text=True, check=True)
    assert done.stdout.startswith("wireguard-tools v")
    assert not list((ws.sources / "debian").glob("*.deb"))        # unpacked, then dropped
    # Unpacked once: with the archive gone, the same files come back from the cache.
    server.stop()
    again = userspace.suite_wg(Apt.for_suite(ws.apt, "l2wg-test", archive), ws, silent(), log)
    assert again == programs


def test_the_hosts_sparse_can_come_from_a_suite_with_its_libc(debian_server, ws, tmp_path):
    _, archive = debian_server
    apt = Apt.for_suite(ws.apt, "l2wg-test", archive)
    program = userspace.suite_sparse(apt, ws, silent(), tmp_path / "log")
    assert program.description == "sparse 0.9.9-1 (l2wg-test)"
    lib = program.path.parent / "usr" / "lib" / "x86_64-linux-gnu"
    assert program.path.read_text() == (
        f"#!/bin/sh\nexec {lib}/ld-linux-x86-64.so.2 --library-path {lib} "
        f'{program.path.parent}/usr/bin/sparse "$@"\n')
    # The wrapper runs, and it is the package's sparse that answers.
    done = subprocess.run([program.path, "--version"], capture_output=True, text=True)
    host = subprocess.run(["sparse", "--version"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout == host.stdout != ""
    assert userspace.suite_sparse(apt, ws, silent(), tmp_path / "log") == program


def test_a_suite_without_wireguard_tools_is_one_clear_error(debian_server, ws, tmp_path):
    _, archive = debian_server
    with pytest.raises(L2wgError, match=r"the Debian suite 'l2wg-next' has no wireguard-tools"):
        userspace.suite_wg(Apt.for_suite(ws.apt, "l2wg-next", archive), ws, silent(),
                           tmp_path / "log")


def test_no_guest_table_keeps_the_hosts_programs(project, ws, tmp_path):
    toml = tmp_path / "kernels.toml"
    toml.write_text('[kernels.a]\nsource = { type = "local", path = "/x" }\n')
    assert userspace.guest_programs(load_matrix(toml), ws, silent()) == guest.GuestPrograms()
    assert project.matrix().guest.wireguard_tools_suite == "sid"


@pytest.mark.skipif(bool(guest.missing_packages()), reason="guest packages missing")
def test_the_initramfs_takes_the_replacements_instead_of_the_hosts(tmp_path, guest_image):
    ws, _ = guest_image
    wrapper = tmp_path / "wg"
    wrapper.write_text("#!/bin/sh\necho not the host's wg\n")
    plain = guest.build_initramfs(ws)
    replaced = guest.build_initramfs(ws, extra=guest.GuestPrograms({"/usr/bin/wg": wrapper}))
    assert replaced.key != plain.key
    listing = subprocess.run(["cpio", "-i", "--quiet", "--to-stdout", "usr/bin/wg"],
                             input=gzip.decompress(replaced.path.read_bytes()),
                             capture_output=True, check=True).stdout
    assert listing == wrapper.read_bytes()
    again = guest.build_initramfs(ws, extra=guest.GuestPrograms({"/usr/bin/wg": wrapper}))
    assert again.cached and again.key == replaced.key

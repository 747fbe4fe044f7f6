"""The guest initramfs: inputs, cache key, libraries, archives."""

import gzip
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from l2wg import guest

needs_packages = pytest.mark.skipif(bool(guest.missing_packages()),
                                    reason=f"missing: {guest.missing_packages()}")


def cpio_names(data: bytes) -> list[str]:
    done = subprocess.run(["cpio", "-t", "--quiet"], input=data, capture_output=True)
    return done.stdout.decode().split()


def gunzip_all(path: Path) -> bytes:
    """All gzip members, as the kernel unpacks concatenated archives."""
    return gzip.decompress(path.read_bytes())


def test_required_packages_cover_every_program():
    packages = guest.required_packages()
    for program in guest.PROGRAMS:
        assert program.package in packages
    assert {"busybox-static", "iproute2", "wireguard-tools", "ppp", "pppoe", "iptables",
            "cpio", "gcc"} <= set(packages)


def test_key_changes_when_a_script_changes(tmp_path):
    script = tmp_path / "check.sh"
    script.write_text("echo 1\n")
    binary = tmp_path / "tool"
    binary.write_text("x")
    first = guest.input_key([binary], [script])
    assert guest.input_key([binary], [script]) == first
    script.write_text("echo 2\n")
    assert guest.input_key([binary], [script]) != first


def test_key_changes_when_a_binary_changes(tmp_path):
    script = tmp_path / "check.sh"
    script.write_text("echo 1\n")
    binary = tmp_path / "tool"
    binary.write_text("x")
    first = guest.input_key([binary], [script])
    binary.write_text("xy")
    assert guest.input_key([binary], [script]) != first


@pytest.mark.skipif(not Path("/usr/sbin/ip").exists(), reason="iproute2 missing")
def test_shared_libraries_of_a_dynamic_binary(tmp_path):
    libs = guest.shared_libraries(Path("/usr/sbin/ip"), tmp_path / "log")
    names = {p.name for p in libs}
    assert "libc.so.6" in names and "ld-linux-x86-64.so.2" in names
    assert all(p.is_absolute() for p in libs)


def test_overlay_and_combine_give_one_initrd_with_both_archives(tmp_path):
    base_dir = tmp_path / "base"
    base_dir.mkdir()
    (base_dir / "init").write_text("#!/bin/sh\n")
    base = tmp_path / "base.cpio.gz"
    guest.pack(base_dir, base, tmp_path / "log")
    overlay = guest.write_overlay(tmp_path / "overlay.cpio.gz",
                                  {"l2wg/run.conf": b"L2WG_MODE=checks\n"}, tmp_path / "log")
    initrd = guest.combine([base, overlay], tmp_path / "initrd.gz")
    data = gunzip_all(initrd)
    names = cpio_names(data)
    assert "init" in names
    assert b"L2WG_MODE=checks" in data


@needs_packages
def test_initramfs_is_built_once_then_cached(guest_image):
    ws, first = guest_image
    assert not first.cached and first.path.exists() and first.size > 1_000_000
    again = guest.build_initramfs(ws)
    assert again.cached and again.path == first.path
    names = cpio_names(gunzip_all(first.path))
    for needed in ("init", "l2wg/init", "bin/busybox", "usr/sbin/ip", "usr/bin/wg",
                   "usr/sbin/pppd", "usr/lib/pppd/2.4.9/pppoe.so", "usr/bin/rawframe",
                   "usr/bin/bash", "usr/sbin/xtables-legacy-multi", "l2wg/checks/lib.sh",
                   "l2wg/checks/ping.sh", "usr/lib/x86_64-linux-gnu/libc.so.6",
                   "usr/lib64/ld-linux-x86-64.so.2"):
        assert needed in names, needed


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc missing")
def test_rawframe_helper_is_static_and_fills_patterns(rawframe):
    binary = rawframe
    out = subprocess.run([binary, "fill", "8", "1", "3"], capture_output=True, text=True)
    assert len(out.stdout.strip()) == 16 and out.stdout.strip().endswith("000000")
    assert "00" not in [out.stdout[i:i + 2] for i in range(0, 10, 2)]
    ldd = subprocess.run(["ldd", binary], capture_output=True, text=True)
    assert "not a dynamic executable" in ldd.stdout + ldd.stderr


needs_netns = pytest.mark.skipif(
    shutil.which("gcc") is None or shutil.which("unshare") is None or os.geteuid() != 0,
    reason="needs gcc, and root for a network namespace")

#: The first 14 bytes of a frame, in hex: broadcast from 02:00:00:00:00:01, EtherType 0x88b5.
FROM_01 = "ffffffffffff" + "020000000001" + "88b5"


def on_a_veth_pair(script: str, timeout: int = 60) -> subprocess.CompletedProcess:
    """*script* (sh) in a network namespace of its own, once the veth pair v1-v2
    is up there."""
    setup = "ip link add v1 type veth peer name v2 && ip link set v1 up && ip link set v2 up " \
            "|| exit 9\n"
    return subprocess.run(["unshare", "-n", "sh", "-c", setup + script], capture_output=True,
                          text=True, timeout=timeout)


@needs_netns
def test_rawframe_recv_ends_after_its_quiet_time_whatever_else_the_link_carries(tmp_path,
                                                                                rawframe):
    """Frames the receiver does not keep must not restart its quiet time: a
    check that waits for quiet while a ping runs would otherwise wait as long
    as the ping does (multipeer did, until its timeout)."""
    binary = rawframe
    (tmp_path / "frames").write_text(f"{FROM_01}{'00' * 46}\n" * 100)
    done = on_a_veth_pair(f"""
( while :; do {binary} send v1 {tmp_path}/frames 2000; done ) &
talker=$!
timeout 20 {binary} recv v2 300 5 {tmp_path}/ready 020000999999 >{tmp_path}/kept
echo "recv exit $?"
kill $talker
""")
    assert "recv exit 0" in done.stdout, done.stdout + done.stderr
    assert (tmp_path / "kept").read_text() == ""


@needs_netns
def test_rawframe_listen_counts_its_quiet_time_from_the_senders_end(tmp_path, rawframe):
    """A listener's quiet time (300 ms here) starts at SIGUSR1, the sender being
    done, sent to the pid it wrote to READY: 2 s without a frame do not end it
    (a busy guest can take that long to start a sender), and after the frames
    and the signal it ends with all of them.  The same wait ends a plain
    receiver, the control."""
    binary = rawframe
    frame = FROM_01 + "00" * 46
    (tmp_path / "frames").write_text(f"{frame}\n" * 3)
    done = on_a_veth_pair(f"""
for mode in recv listen; do
  {binary} $mode v2 300 100 {tmp_path}/$mode.ready 020000000001 >{tmp_path}/$mode.kept &
  eval "${{mode}}_shell=$!"
done
sleep 2
for mode in recv listen; do
  kill -0 "$(cat {tmp_path}/$mode.ready)" 2>/dev/null && echo "$mode waits"
done
{binary} send v1 {tmp_path}/frames
kill -USR1 "$(cat {tmp_path}/listen.ready)"
wait "$listen_shell"
echo "listen exit $?"
""", timeout=20)
    out = done.stdout + done.stderr
    assert "listen waits" in done.stdout and "recv waits" not in done.stdout, out
    assert "listen exit 0" in done.stdout, out
    assert (tmp_path / "listen.kept").read_text() == f"{frame}\n" * 3, out
    assert (tmp_path / "recv.kept").read_text() == "", out

"""QEMU: command line, kernel-report detection, timeouts, accelerator probe."""

import os
import threading
from pathlib import Path

import pytest

from l2wg import qemu
from l2wg.workspace import Workspace

DATA = Path(__file__).parent / "data"


def read(name: str) -> str:
    return (DATA / name).read_text()


def test_command_line_boots_kernel_and_initrd_on_serial_without_reboot():
    argv = qemu.command(qemu.Machine(kernel=Path("/k/bzImage"), initrd=Path("/r/initrd.gz")))
    assert argv[0] == "qemu-system-x86_64"
    assert argv[argv.index("-kernel") + 1] == "/k/bzImage"
    assert argv[argv.index("-initrd") + 1] == "/r/initrd.gz"
    assert argv[argv.index("-m") + 1] == "1024" and argv[argv.index("-smp") + 1] == "2"
    assert "-no-reboot" in argv and "-nographic" in argv
    append = argv[argv.index("-append") + 1]
    assert "console=ttyS0" in append and "panic=-1" in append
    assert argv[argv.index("-accel") + 1] == "tcg"


def test_kvm_command_uses_the_host_cpu():
    argv = qemu.command(qemu.Machine(Path("k"), Path("i"), accel="kvm"))
    assert argv[argv.index("-accel") + 1] == "kvm" and "host" in argv


def test_warn_is_found_with_its_trace_excerpt():
    reports = qemu.find_reports(read("console-warn.log"))
    assert [r.kind for r in reports] == ["WARN"]
    warn = reports[0]
    assert warn.summary.startswith("WARNING: CPU: 1 PID: 187 at drivers/net/wireguard/l2.c:120")
    assert "cut here" in warn.excerpt.splitlines()[0]
    assert "dev_hard_start_xmit" in warn.excerpt
    assert "end trace" in warn.excerpt.splitlines()[-1]
    assert "ok 1 ipv4" not in warn.excerpt


def test_oops_and_panic_are_found():
    kinds = [r.kind for r in qemu.find_reports(read("console-panic.log"))]
    assert kinds[0] == "BUG"          # NULL dereference, its Oops is in the same trace
    assert "panic" in kinds
    bug = qemu.find_reports(read("console-panic.log"))[0]
    assert "Oops: 0000" in bug.excerpt and "wg_l2_receive" in bug.excerpt


@pytest.mark.parametrize("kind", ["KASAN", "UBSAN", "lockdep", "hung task", "RCU stall",
                                  "soft lockup", "kmemleak"])
def test_sanitizer_and_lockup_reports_are_found(kind):
    kinds = [r.kind for r in qemu.find_reports(read("console-sanitizers.log"))]
    assert kind in kinds


def test_kasan_excerpt_has_the_access():
    kasan = next(r for r in qemu.find_reports(read("console-sanitizers.log"))
                 if r.kind == "KASAN")
    assert "Read of size 2" in kasan.excerpt


def test_a_clean_boot_has_no_reports():
    assert qemu.find_reports(read("console-stock-6.12.log")) == []


def fake_qemu(tmp_path: Path, script: str) -> str:
    path = tmp_path / "fake-qemu"
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)
    return str(path)


def test_a_silent_guest_is_killed_as_hung(tmp_path, monkeypatch):
    monkeypatch.setattr(qemu, "QEMU", fake_qemu(tmp_path, "echo L2WG-BOOTED\nsleep 30\n"))
    console = qemu.boot(qemu.Machine(Path("k"), Path("i")), tmp_path / "console.log",
                        timeout=20, idle_timeout=1)
    assert console.hung and console.ended_by == "idle"
    assert console.seconds < 10
    assert console.booted and not console.finished
    assert "L2WG-BOOTED" in (tmp_path / "console.log").read_text()


def test_the_overall_timeout_is_enforced_even_with_output(tmp_path, monkeypatch):
    monkeypatch.setattr(qemu, "QEMU", fake_qemu(
        tmp_path, "while true; do echo still going; sleep 0.1; done\n"))
    console = qemu.boot(qemu.Machine(Path("k"), Path("i")), tmp_path / "console.log",
                        timeout=1.5, idle_timeout=10)
    assert console.ended_by == "timeout" and console.seconds < 6


def test_a_cancelled_boot_ends_at_once(tmp_path, monkeypatch):
    monkeypatch.setattr(qemu, "QEMU", fake_qemu(tmp_path, "echo L2WG-BOOTED\nsleep 30\n"))
    cancel = threading.Event()
    threading.Timer(0.5, cancel.set).start()
    console = qemu.boot(qemu.Machine(Path("k"), Path("i")), tmp_path / "console.log",
                        timeout=60, idle_timeout=60, cancel=cancel)
    assert console.ended_by == "cancelled" and console.seconds < 5
    assert console.booted and not console.hung


def test_console_log_records_the_command_for_rerunning(tmp_path, monkeypatch):
    monkeypatch.setattr(qemu, "QEMU", fake_qemu(tmp_path, "echo L2WG-BOOTED\necho L2WG-DONE\n"))
    console = qemu.boot(qemu.Machine(Path("k"), Path("i")), tmp_path / "console.log", timeout=10)
    assert console.finished and not console.hung
    first = (tmp_path / "console.log").read_text().splitlines()[0]
    assert first.startswith("$ ") and "-kernel k" in first
    assert console.command in first


def test_probe_falls_back_to_tcg_when_kvm_guests_die(tmp_path, monkeypatch):
    monkeypatch.setattr(qemu, "QEMU", fake_qemu(
        tmp_path, 'echo "KVM internal error. Suberror: 1"\necho "emulation failure"\nsleep 30\n'))
    ws = Workspace(tmp_path / "ws")
    kvm = tmp_path / "kvm"
    kvm.write_text("")
    result = qemu.probe_accelerator(ws, Path("k"), tmp_path / "probe.log", kvm_device=kvm)
    assert result.name == "tcg"
    assert "KVM internal error" in result.reason


def test_probe_uses_kvm_only_when_the_guest_reaches_its_marker(tmp_path, monkeypatch):
    monkeypatch.setattr(qemu, "QEMU", fake_qemu(tmp_path, f"echo {qemu.PROBE_MARKER}\n"))
    kvm = tmp_path / "kvm"
    kvm.write_text("")
    result = qemu.probe_accelerator(Workspace(tmp_path / "ws"), Path("k"),
                                    tmp_path / "probe.log", kvm_device=kvm)
    assert result.name == "kvm"


def test_probe_without_a_kvm_device_is_tcg(tmp_path):
    result = qemu.probe_accelerator(Workspace(tmp_path), Path("k"), tmp_path / "p.log",
                                    kvm_device=tmp_path / "missing")
    assert result.name == "tcg"


def test_accelerator_is_cached_in_the_workspace(tmp_path, monkeypatch):
    calls = []

    def probe(ws, kernel, log):
        calls.append(kernel)
        return qemu.Accelerator("tcg", "probed")

    monkeypatch.setattr(qemu, "probe_accelerator", probe)
    ws = Workspace(tmp_path)
    assert qemu.accelerator(ws, Path("k")).name == "tcg"
    assert qemu.accelerator(ws, Path("k")).reason == "probed"
    assert len(calls) == 1
    assert (ws.guest / "accelerator.json").exists()


@pytest.mark.skipif(not os.path.exists("/usr/bin/busybox"), reason="busybox-static missing")
def test_probe_initramfs_holds_busybox_and_the_marker_init(tmp_path):
    image = qemu.probe_initramfs(Workspace(tmp_path), tmp_path / "log")
    data = image.read_bytes()
    assert b"070701" in data[:6] and qemu.PROBE_MARKER.encode() in data

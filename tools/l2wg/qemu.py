"""Boot a kernel in QEMU: the accelerator, the command line, the console.

The console goes to a log file as it arrives; the run is bounded by a
timeout and by the longest silence a healthy guest can have.  Afterwards
the console is searched for kernel reports (oops, WARN, BUG, panic,
KASAN, UBSAN, lockdep, kmemleak, hung tasks, RCU stalls), each with the
trace excerpt.

The accelerator is chosen by outcome: KVM is used only if a tiny guest
booted under it really reaches its marker (on some machines ``/dev/kvm``
opens but every guest dies with "KVM internal error"); otherwise TCG.  The
answer is cached in the workspace per host kernel and QEMU binary.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .errors import MissingTool
from .runner import format_command, run
from .workspace import Workspace

QEMU = "qemu-system-x86_64"
PROBE_MARKER = "L2WG-PROBE-OK"
BOOTED_MARKER = "L2WG-BOOTED"
DONE_MARKER = "L2WG-DONE"
PROBE_TIMEOUT = 60.0

# tsc=unstable: under TCG on a loaded host the TSC calibration can be off by
# a factor of ten, and if the clocksource watchdog does not catch it the
# guest's clock (and every timeout in the checks) runs that much too fast.
# Jiffies follow QEMU's timer, which follows the host's clock.
BASE_APPEND = "console=ttyS0 panic=-1 loglevel=5 tsc=unstable"


@dataclass(frozen=True)
class Machine:
    """What QEMU boots and how."""

    kernel: Path
    initrd: Path
    append: str = BASE_APPEND
    accel: str = "tcg"
    memory_mb: int = 1024
    cpus: int = 2
    #: Connect the serial console (multiplexed with the QEMU monitor:
    #: Ctrl-A X quits) to this terminal instead of capturing it.
    interactive: bool = False
    #: More devices, at the end of the command line: the underlay NIC or
    #: serial port that joins two guests (interop.py).
    extra_args: tuple[str, ...] = ()


@dataclass(frozen=True)
class KernelReport:
    """A kernel complaint found on the console."""

    kind: str
    line: int
    summary: str
    excerpt: str


@dataclass
class Console:
    """The outcome of one boot."""

    command: str
    accel: str
    log: Path
    text: str
    seconds: float
    returncode: int
    #: None if QEMU exited by itself; "timeout", "idle" or "cancelled" if
    #: l2wg killed it.
    ended_by: str | None
    reports: list[KernelReport] = field(default_factory=list)

    @property
    def booted(self) -> bool:
        return BOOTED_MARKER in self.text

    @property
    def finished(self) -> bool:
        return DONE_MARKER in self.text

    @property
    def hung(self) -> bool:
        return self.ended_by in ("timeout", "idle")


@dataclass(frozen=True)
class Accelerator:
    name: str
    reason: str


def command(machine: Machine) -> list[str]:
    """The QEMU command line for *machine*."""
    argv = [QEMU, "-accel", machine.accel]
    if machine.accel == "kvm":
        argv += ["-cpu", "host"]
    argv += ["-m", str(machine.memory_mb), "-smp", str(machine.cpus),
             "-nographic", "-no-reboot",
             "-kernel", str(machine.kernel), "-initrd", str(machine.initrd),
             "-append", machine.append, *machine.extra_args]
    return argv


def boot(machine: Machine, log: Path, *, timeout: float, idle_timeout: float | None = None,
         on_line: Callable[[str], None] | None = None,
         stop: Callable[[str], bool] | None = None,
         cancel: threading.Event | None = None) -> Console:
    """Boot *machine*, its console into *log*, within *timeout* seconds and
    no more than *idle_timeout* seconds of console silence; *cancel*, set by
    another thread, ends it at once."""
    if shutil.which(QEMU) is None:
        raise MissingTool(f"{QEMU} not found: apt-get install --no-install-recommends "
                        "qemu-system-x86")
    argv = command(machine)
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("")
    done = run(argv, log_path=log, check=False, what="qemu", timeout=timeout,
               idle_timeout=idle_timeout, raise_on_timeout=False, on_line=on_line, stop=stop,
               cancel=cancel, passthrough=machine.interactive)
    text = done.output.replace("\r", "")
    return Console(command=format_command(argv), accel=machine.accel, log=log, text=text,
                   seconds=done.seconds, returncode=done.returncode,
                   ended_by=None if done.ended_by == "stopped" else done.ended_by,
                   reports=find_reports(text))


# --- kernel reports ----------------------------------------------------------

TIMESTAMP_RE = re.compile(r"^\s*\[\s*\d+\.\d+\]\s?")

# (kind, pattern) in priority order: the first match names the report.
REPORT_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern)) for kind, pattern in (
        ("KASAN", r"BUG: KASAN: "),
        ("UBSAN", r"UBSAN: "),
        ("kmemleak", r"kmemleak: \d+ new suspected memory leaks|^unreferenced object (\(percpu\) )?0x"),
        ("lockdep", r"WARNING: (possible (circular|recursive) locking|inconsistent lock state"
                    r"|suspicious RCU usage|possible irq lock inversion|lock held when returning"
                    r"|bad unlock balance|held lock freed)"),
        ("hung task", r"INFO: task .* blocked for more than \d+ seconds"),
        ("RCU stall", r"rcu: INFO: .*detected stalls?|self-detected stall on CPU"),
        ("soft lockup", r"BUG: soft lockup"),
        ("BUG", r"(^|\s)BUG: |kernel BUG at "),
        ("oops", r"^Oops: |general protection fault|Unable to handle kernel"),
        ("WARN", r"^WARNING: CPU: \d+ PID: \d+ at |^WARNING: .* at "),
        ("panic", r"Kernel panic - not syncing"),
    ))

TRACE_END_RE = re.compile(r"---\[ end (trace|Kernel panic)|^={20,}$")
EXCERPT_LINES = 40


def strip_timestamp(line: str) -> str:
    return TIMESTAMP_RE.sub("", line)


def classify(line: str) -> str | None:
    """The kind of kernel report *line* starts, if any."""
    bare = strip_timestamp(line)
    for kind, pattern in REPORT_PATTERNS:
        if pattern.search(bare):
            return kind
    return None


def find_reports(text: str) -> list[KernelReport]:
    """Kernel reports in a console log, each with its trace excerpt.  Lines
    inside a report already found do not start another one."""
    lines = text.replace("\r", "").splitlines()
    reports = []
    i = 0
    while i < len(lines):
        kind = classify(lines[i])
        if kind is None:
            i += 1
            continue
        start = i - 1 if i and "cut here" in lines[i - 1] else i
        end = excerpt_end(lines, i)
        reports.append(KernelReport(kind=kind, line=i + 1,
                                    summary=strip_timestamp(lines[i]).strip()[:200],
                                    excerpt="\n".join(lines[start:end])))
        i = end
    return reports


def excerpt_end(lines: list[str], start: int) -> int:
    """Index after the report beginning at *start*: its end marker, the
    start of another report, or :data:`EXCERPT_LINES` lines.  An "Oops"
    line continues the BUG line before it."""
    limit = min(len(lines), start + EXCERPT_LINES)
    for j in range(start + 1, limit):
        if TRACE_END_RE.search(strip_timestamp(lines[j])):
            return j + 1
        if classify(lines[j]) not in (None, "oops"):
            return j
    return limit


def tail(text: str, count: int = 30) -> str:
    return "\n".join(text.replace("\r", "").splitlines()[-count:])


# --- accelerator -------------------------------------------------------------

def accelerator(ws: Workspace, kernel: Path, log: Path | None = None) -> Accelerator:
    """KVM if a guest really boots under it here, else TCG; cached."""
    cache = ws.guest / "accelerator.json"
    key = host_key()
    if cache.exists():
        data = json.loads(cache.read_text())
        if data.get("key") == key:
            return Accelerator(data["name"], data["reason"])
    result = probe_accelerator(ws, kernel, log or ws.logs / "accel-probe.log")
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps({"key": key, **asdict(result)}, indent=1))
    return result


def host_key() -> str:
    qemu = shutil.which(QEMU)
    stamp = os.stat(qemu).st_mtime_ns if qemu else 0
    return f"{os.uname().release} {qemu} {stamp}"


def probe_accelerator(ws: Workspace, kernel: Path, log: Path,
                      kvm_device: Path = Path("/dev/kvm")) -> Accelerator:
    """Boot *kernel* with a tiny initramfs under KVM and see if it gets to
    its marker: /dev/kvm opening is not enough."""
    if not os.access(kvm_device, os.R_OK | os.W_OK):
        return Accelerator("tcg", f"no usable {kvm_device}")
    initrd = probe_initramfs(ws, log)
    machine = Machine(kernel=kernel, initrd=initrd, accel="kvm", memory_mb=256, cpus=1,
                      append=f"{BASE_APPEND} quiet")
    console = boot(machine, log, timeout=PROBE_TIMEOUT,
                   stop=lambda line: PROBE_MARKER in line or "KVM internal error" in line)
    if PROBE_MARKER in console.text:
        return Accelerator("kvm", f"a KVM guest booted to its marker in {console.seconds:.1f}s")
    errors = [ln for ln in console.text.splitlines() if "KVM" in ln or "kvm" in ln]
    why = errors[0].strip() if errors else f"no marker within {PROBE_TIMEOUT:.0f}s"
    return Accelerator("tcg", f"KVM guest failed ({why}); using TCG")


def probe_initramfs(ws: Workspace, log: Path) -> Path:
    """A cpio with static busybox and an /init that prints the marker."""
    image = ws.guest / "probe.cpio"
    if image.exists():
        return image
    ws.guest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=ws.guest) as tmp:
        staging = Path(tmp)
        (staging / "bin").mkdir()
        shutil.copy2("/usr/bin/busybox", staging / "bin" / "busybox")
        init = staging / "init"
        init.write_text(f"#!/bin/busybox sh\n/bin/busybox echo {PROBE_MARKER}\n"
                        "/bin/busybox reboot -f\n")
        init.chmod(0o755)
        run(["cpio", "--quiet", "-o", "-H", "newc", "-R", "0:0", "-O", image], cwd=staging,
            input="bin\nbin/busybox\ninit\n", log_path=log, what="cpio")
    return image

"""The boot stage: run the network checks (or a script, or a shell) on a
built kernel in QEMU.

``boot()`` takes the artifacts directory of a build (``bzImage``,
``config``, ``metadata.json`` with ``kernel`` and ``tree``), boots it once
with the guest initramfs plus a per-run overlay, and turns the console's
KTAP into a :class:`~l2wg.report.SuiteReport`.  Everything of a run goes
into ``ARTIFACTS/boot/<stamp>-<mode>/``: ``console.log``, ``results.json``,
``junit.xml``, the ``initrd.gz`` and ``command.sh`` to rerun it by hand;
``ARTIFACTS/boot/latest`` points at the newest run.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from . import checks as checks_mod
from . import controls as controls_mod
from . import guest, ktap, qemu, report, stamps
from .build import BUILT_MODULES
from .distkernel import config_values
from .errors import BadInput, L2wgError
from .ktap import Status
from .progress import Progress, silent
from .report import CheckResult, SubResult, SuiteReport
from .workspace import Workspace

BOOT_BUDGET = 60.0      # seconds for the kernel to boot and the guest to end
CHECK_SLACK = 15.0      # per check, on top of its own timeout
UPSTREAM_TESTS = "tools/testing/selftests/wireguard"
NETNS_SH = f"{UPSTREAM_TESTS}/netns.sh"
END_RE = re.compile(r"l2wg: end (?P<name>\S+) exit=(?P<rc>\d+) seconds=(?P<seconds>[\d.]+)")
#: A check that timed out beside others, run again alone (ci/guest/init.sh).
RETRY_RE = re.compile(r"^# l2wg: retry (\S+) alone\s*$", re.M)
RETRIED = "timed out beside other checks, then ran again alone"
SCRIPT_EXIT_RE = re.compile(r"^L2WG-SCRIPT-EXIT (\d+)\s*$", re.MULTILINE)
# How much slower a TCG guest runs a check, by the options of its kernel's
# config that cost the time: the largest factor whose options are all =y
# applies.  Every check may then run that many times its usual timeout, and
# the checks' own waits (lib.sh: wait_until, the raw-frame receivers' quiet
# time) are as many times longer.  Measured:
# - any sanitizer alone: 5x (6.12's uniprocessor debug variant) to 15x (6.1's);
# - KASAN on two guest CPUs (the SMP debug variant): allowedips took 150 s
#   against 13 s on the uniprocessor debug kernel and 5 s without sanitizers
#   (7.3).  Debian's SMP kernels have UBSAN, not KASAN.
SLOWDOWNS: tuple[tuple[frozenset[str], int], ...] = (
    (frozenset({"CONFIG_KASAN", "CONFIG_SMP"}), 15),
    (frozenset({"CONFIG_KASAN"}), 5),
    (frozenset({"CONFIG_UBSAN"}), 5),
    (frozenset({"CONFIG_PROVE_LOCKING"}), 5),
    (frozenset({"CONFIG_DEBUG_KMEMLEAK"}), 5),
)


@dataclass(frozen=True)
class Artifacts:
    """What ``l2wg build`` left for one kernel."""

    directory: Path
    bzimage: Path
    config: Path
    kernel: str
    tree: Path | None
    #: Modules to insmod before the checks, in order (a distribution
    #: kernel with a DKMS module: see packages.guest_artifacts).
    modules: tuple[Path, ...] = ()
    #: Modules the build made and the guest gets without loading them (the
    #: debug variant's kmemleak control loads its own: controls.py).
    built_modules: tuple[Path, ...] = ()
    #: The vCPUs its guest is booted with, when the build says (metadata.json
    #: "guest_cpus": packages.DISTRIBUTION_GUEST_CPUS for Debian's kernels).
    guest_cpus: int | None = None
    #: The config's modular (=m) options that *modules* provide (metadata.json
    #: "loaded_options", written with them: packages.guest_artifacts).
    loaded_options: frozenset[str] = frozenset()

    @classmethod
    def load(cls, directory: Path) -> "Artifacts":
        directory = Path(directory)
        meta_path = directory / "metadata.json"
        bzimage = directory / "bzImage"
        if not bzimage.exists() or not meta_path.exists():
            raise L2wgError(f"no finished build in {directory} (needs bzImage and "
                            "metadata.json; run: l2wg build KERNEL)")
        meta = json.loads(meta_path.read_text())
        tree = Path(meta["tree"]) if meta.get("tree") else None
        modules = tuple(directory / "modules" / name for name in meta.get("modules", []))
        built = tuple(directory / BUILT_MODULES / name for name in meta.get("built_modules", []))
        missing = [m.name for m in (*modules, *built) if not m.is_file()]
        if missing:
            raise L2wgError(f"{directory}: modules listed in metadata.json are missing: "
                            f"{', '.join(missing)}")
        guest_cpus = meta.get("guest_cpus")
        if guest_cpus is not None and (not isinstance(guest_cpus, int) or guest_cpus < 1):
            raise L2wgError(f"{meta_path}: guest_cpus must be a positive integer, "
                            f"not {guest_cpus!r}")
        return cls(directory=directory, bzimage=bzimage, config=directory / "config",
                   kernel=str(meta.get("kernel") or directory.name), tree=tree,
                   modules=modules, built_modules=built, guest_cpus=guest_cpus,
                   loaded_options=frozenset(meta.get("loaded_options", ())))

    def options(self) -> set[str]:
        """The kernel options the guest has: built in (=y), or modular (=m) with
        the modules that provide them among those it loads (loaded_options)."""
        if not self.config.is_file():
            return set()
        return {name for name, value in config_values(self.config).items()
                if value == "y" or (value == "m" and name in self.loaded_options)}

    def cpus(self, requested: int | None = None, default: int | None = None) -> int:
        """The guest's vCPUs: *requested* (--cpus), else *default* (the caller's),
        else what the build declares, else qemu.Machine's default."""
        if requested is not None:
            if requested < 1:
                raise BadInput(f"--cpus {requested}: a guest needs at least one CPU")
            return requested
        return default or self.guest_cpus or qemu.Machine.cpus

    def image_digest(self) -> str:
        """What the guest boots, for up-to-date keys (stamps.py): the kernel
        image, its config and the modules it loads."""
        return stamps.files_digest([self.bzimage, self.config, *self.modules])


@dataclass
class BootResult:
    """The outcome of ``l2wg boot``."""

    mode: str
    kernel: str
    run_dir: Path
    console_log: Path
    command: str
    accelerator: qemu.Accelerator
    initramfs: guest.Initramfs
    seconds: float
    #: Checks mode: the results (also in results.json / junit.xml).
    suite: SuiteReport | None = None
    #: Script mode: what the script printed and its exit status (None if
    #: the guest never got to report it).
    script_output: str = ""
    script_exit: int | None = None
    kernel_reports: list[qemu.KernelReport] = field(default_factory=list)
    #: The debug variant's planted faults (controls.py), one per sanitizer.
    controls: list[controls_mod.Control] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        if self.mode == "checks":
            return self.suite is not None and self.suite.ok
        if self.mode == "script":
            return self.script_exit == 0 and not self.errors
        return not self.errors

    @property
    def exit_status(self) -> int:
        return 0 if self.ok else 1


KMEMLEAK_RE = re.compile(r"^# l2wg: kmemleak scan: (\d+) unreferenced objects", re.M)

#: Checks run side by side in the guest, per guest CPU: most of them wait on
#: timers and the other site as much as they compute.
#: The 7.3 suite (16 checks, boot included) on an idle machine with 2 CPUs:
#: 27.6 s with 4 at once, 37 s with 2, 48-51 s with 2 on a uniprocessor kernel.
CHECKS_PER_CPU = 2


def parallel_checks(jobs: int | None, cpus: int) -> int:
    """Checks at once in a guest of *cpus* CPUs: *jobs* (--parallel), else
    CHECKS_PER_CPU per CPU (4 on the default 2-CPU guest, 2 on Debian's
    one-CPU DKMS guests)."""
    if jobs is not None:
        if jobs < 1:
            raise BadInput(f"--parallel {jobs}: at least one check must run")
        return jobs
    return CHECKS_PER_CPU * max(cpus, 1)


def boot(ws: Workspace, artifacts_dir: Path, *, checks: Sequence[str] | None = None,
         script: Path | None = None, shell: bool = False, accel: str | None = None,
         run_dir: Path | None = None, progress: Progress | None = None,
         on_console: Callable[[str], None] | None = None,
         jobs: int | None = None, cpus: int | None = None,
         programs: guest.GuestPrograms = guest.GuestPrograms()) -> BootResult:
    """Boot the kernel in *artifacts_dir* and run *checks* (default: the fast
    set), or *script* (a file run by the guest's sh), or an interactive
    *shell*.  *accel* forces "kvm" or "tcg" instead of the probe.
    *programs* replace host programs in the guest (userspace.guest_programs).
    *on_console* sees every console line (``--debug``).  *jobs* > 1 runs
    that many checks side by side (default: parallel_checks; each isolated,
    output printed per check when it ends, so a kernel report can then not be
    tied to one check); checks marked ``alone`` run first, one by one.
    *cpus* is the guest's CPU count (QEMU -smp; default: Artifacts.cpus)."""
    progress = progress or silent()
    if sum(bool(x) for x in (checks, script, shell)) > 1:
        raise BadInput("choose one of --check, --script and --shell")
    artifacts = Artifacts.load(artifacts_dir)
    mode = "shell" if shell else "script" if script else "checks"
    selected = checks_mod.select(checks) if mode == "checks" else []
    slowdown = timeout_factor(artifacts.config)
    if slowdown > 1 and selected:
        progress.step(f"a sanitizer kernel: each check may take {slowdown}x its timeout")
    if script is not None and not Path(script).is_file():
        raise BadInput(f"--script {script}: no such file")
    cpus = artifacts.cpus(cpus)
    jobs = parallel_checks(jobs, cpus)
    selected = checks_mod.scaled(selected, slowdown * cpu_share(jobs, cpus))

    run_dir = run_dir or new_run_dir(artifacts.directory / "boot", mode)
    run_dir.mkdir(parents=True, exist_ok=True)
    base = guest.build_initramfs(ws, run_dir / "guest.log", programs)
    progress.step(guest.describe(base))
    initrd = assemble_initrd(base, artifacts, run_dir, mode, selected, script, jobs, slowdown)
    chosen = qemu.Accelerator(accel, "requested") if accel else \
        qemu.accelerator(ws, artifacts.bzimage, run_dir / "accel-probe.log")
    progress.step(f"accelerator: {chosen.name} ({chosen.reason})")

    machine = qemu.Machine(kernel=artifacts.bzimage, initrd=initrd, accel=chosen.name,
                           interactive=shell, cpus=cpus)
    (run_dir / "command.sh").write_text("#!/bin/sh\n" + shlex.join(qemu.command(machine)) + "\n")
    progress.step(f"booting {artifacts.kernel}: {shlex.join(qemu.command(machine))}")
    timeout, idle = time_limits(mode, selected, slowdown)
    live = LiveStatus(progress, on_console)
    console = qemu.boot(machine, run_dir / "console.log", timeout=timeout, idle_timeout=idle,
                        on_line=live)
    progress.done()
    planned = controls_mod.planned(artifacts.config, artifacts.built_modules)
    own, controls = controls_mod.split(console.text, console.reports)
    console = replace(console, reports=own)
    run_errors = controls_mod.errors(controls, planned) if console.finished or controls \
        else []
    run_errors += missing_cpus(console.text, artifacts.config, cpus)
    result = BootResult(mode=mode, kernel=artifacts.kernel, run_dir=run_dir,
                        console_log=console.log, command=console.command, accelerator=chosen,
                        initramfs=base, seconds=console.seconds,
                        kernel_reports=console.reports, controls=controls,
                        errors=guest_errors(console, mode) + run_errors)
    if mode == "checks":
        result.suite = suite_report(artifacts.kernel, chosen.name, selected, console)
        result.suite.errors += run_errors
        report.write_json([result.suite], run_dir / "results.json")
        report.write_junit([result.suite], run_dir / "junit.xml")
    elif mode == "script":
        result.script_output, result.script_exit = script_result(console.text)
        (run_dir / "results.json").write_text(json.dumps(
            {"mode": "script", "kernel": artifacts.kernel, "exit": result.script_exit,
             "ok": result.ok, "errors": result.errors, "seconds": console.seconds},
            indent=2) + "\n")
    leaks = KMEMLEAK_RE.search(console.text)
    if leaks:
        progress.step(f"kmemleak scan after the run: {leaks.group(1)} unreferenced objects")
    for control in controls:
        progress.step(f"positive control {control.describe()}" if control.ok
                      else control.describe())
    link_latest(artifacts.directory / "boot", run_dir)
    return result


def checks_key(ws: Workspace, artifacts_dir: Path, checks: Sequence[str] | None = None,
               jobs: int | None = None,
               programs: guest.GuestPrograms = guest.GuestPrograms()) -> str:
    """The up-to-date key of a check run (stamps.py): what the guest would see.

    The kernel image, its config and modules, the guest initramfs (its key
    covers the host programs, init.sh and every ci/checks/ script), the
    tree's WireGuard selftest scripts, and which checks run how.
    """
    artifacts = Artifacts.load(artifacts_dir)
    selected = checks_mod.select(checks)
    jobs = parallel_checks(jobs, artifacts.cpus())
    upstream = sorted((artifacts.tree / UPSTREAM_TESTS).glob("*.sh")) if artifacts.tree else []
    return stamps.digest({
        "image": artifacts.image_digest(),
        "initramfs": guest.build_initramfs(ws, extra=programs).key,
        "upstream": stamps.files_digest(upstream),
        "checks": run_conf("checks", selected, jobs)})


def new_run_dir(base: Path, suffix: str = "") -> Path:
    """A new directory in *base* named by the UTC time (and *suffix*), for one run.

    Two runs started in the same second (boots side by side) get -2, -3, ...:
    mkdir itself decides which name is whose."""
    name = time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + (f"-{suffix}" if suffix else "")
    base.mkdir(parents=True, exist_ok=True)
    run_dir, n = base / name, 1
    while True:
        try:
            run_dir.mkdir()
            return run_dir
        except FileExistsError:
            n += 1
            run_dir = base / f"{name}-{n}"


def link_latest(base: Path, run_dir: Path) -> None:
    """*base*/latest points to *run_dir*, when that is a run of *base*."""
    latest = base / "latest"
    if run_dir.parent != base:
        return
    # A new link renamed over the old one: never a moment without one, and
    # two runs ending together cannot trip over each other's unlink.
    part = base / f".latest.{os.getpid()}.{threading.get_ident()}"
    part.unlink(missing_ok=True)
    part.symlink_to(run_dir.name)
    os.replace(part, latest)


def run_conf(mode: str, selected: Sequence[checks_mod.Check], jobs: int = 1,
             slowdown: int = 1, controls: str = "") -> str:
    items = " ".join(f"{c.name}:{c.timeout}" for c in selected)
    alone = " ".join(c.name for c in selected if c.alone)
    return (f"L2WG_MODE={mode}\nL2WG_CHECKS={shlex.quote(items)}\nL2WG_JOBS={jobs}\n"
            f"L2WG_ALONE={shlex.quote(alone)}\n"
            f"L2WG_SLOWDOWN={slowdown}\nL2WG_CONTROLS={shlex.quote(controls)}\n")


def overlay_files(artifacts: Artifacts, mode: str, selected: Sequence[checks_mod.Check],
                  script: Path | None, jobs: int = 1, slowdown: int = 1) -> dict[str, bytes]:
    """The per-run files: settings, the kernel's config, the tree's WireGuard
    selftest scripts (netns.sh, and l2.sh if the series adds it), the user's
    script."""
    planned = controls_mod.run_conf_value(artifacts.config, artifacts.built_modules)
    files = {"l2wg/run.conf": run_conf(mode, selected, jobs, slowdown, planned).encode()}
    if artifacts.config.exists():
        files["l2wg/kconfig"] = artifacts.config.read_bytes()
    if artifacts.tree:
        for test in sorted((artifacts.tree / UPSTREAM_TESTS).glob("*.sh")):
            files[f"l2wg/upstream/{test.name}"] = test.read_bytes()
    if script is not None:
        files["l2wg/user-script"] = Path(script).read_bytes()
    for number, module in enumerate(artifacts.modules):
        files[f"l2wg/modules/{number:02d}-{module.name}"] = module.read_bytes()
    for module in artifacts.built_modules:
        files[f"l2wg/{BUILT_MODULES}/{module.name}"] = module.read_bytes()
    return files


def assemble_initrd(base: guest.Initramfs, artifacts: Artifacts, run_dir: Path, mode: str,
                    selected: Sequence[checks_mod.Check], script: Path | None,
                    jobs: int = 1, slowdown: int = 1) -> Path:
    overlay = guest.write_overlay(run_dir / "overlay.cpio.gz",
                                  overlay_files(artifacts, mode, selected, script, jobs,
                                                slowdown),
                                  run_dir / "guest.log")
    initrd = guest.combine([base.path, overlay], run_dir / "initrd.gz")
    overlay.unlink()
    return initrd


def timeout_factor(config: Path) -> int:
    """The largest of SLOWDOWNS whose options the kernel's *config* all has =y, else 1."""
    values = config_values(config) if config.is_file() else {}
    return max((factor for options, factor in SLOWDOWNS
                if all(values.get(option) == "y" for option in options)), default=1)


def cpu_share(jobs: int, cpus: int) -> int:
    """How many of the *jobs* checks side by side share each of the guest's
    *cpus* (at least 1): a check's timeout, set for a guest to itself, is
    that many times longer.  On the 2-CPU guest, 4 at once: 2x; --parallel 4
    on a one-CPU guest: 4x."""
    return max(1, -(-jobs // max(cpus, 1)))


#: What the guest's init says of its CPUs (ci/guest/init.sh).
CPUS_ONLINE_RE = re.compile(r"^# l2wg: cpus online (\d+)\s*$", re.M)


def missing_cpus(console_text: str, config: Path, cpus: int) -> list[str]:
    """An error if an SMP kernel brought up fewer CPUs than QEMU gave it: the
    checks that race two CPUs (fdb-stress on the debug kernel) would quietly
    run on one.  A uniprocessor kernel uses one, as built: no error."""
    found = CPUS_ONLINE_RE.search(console_text)
    values = config_values(config) if config.is_file() else {}
    if found is None or cpus < 2 or values.get("CONFIG_SMP") != "y":
        return []
    online = int(found.group(1))
    if online >= cpus:
        return []
    return [f"the guest brought up {online} of the {cpus} CPUs QEMU gave it (an SMP kernel "
            "without CONFIG_ACPI reads SeaBIOS's MP table, which names only the boot CPU)"]


def time_limits(mode: str, selected: Sequence[checks_mod.Check],
                slowdown: int = 1) -> tuple[float | None, float | None]:
    """(whole run, longest console silence) in seconds.  The checks' timeouts
    already carry a sanitizer kernel's *slowdown*; the boot itself is as much
    slower (the 7.3 debug kernel reached userspace after 96-134 s, not 60)."""
    if mode == "shell":
        return None, None
    if mode == "script":
        return 900.0 * slowdown, 900.0 * slowdown
    longest = max((c.timeout for c in selected), default=0)
    return (BOOT_BUDGET * slowdown + sum(c.timeout + CHECK_SLACK for c in selected),
            max(longest + CHECK_SLACK + 10, BOOT_BUDGET * slowdown))


class LiveStatus:
    """Console lines to the --debug hook, finished checks to the progress."""

    def __init__(self, progress: Progress, on_console: Callable[[str], None] | None):
        self.progress = progress
        self.on_console = on_console

    def __call__(self, line: str) -> None:
        line = line.replace("\r", "")
        if self.on_console:
            self.on_console(line)
        if not line.startswith(" ") and (test := ktap.parse_result(line)):
            self.progress.update(f"{test.name}: {test.status.value.upper()}", force=True)


# --- results -------------------------------------------------------------------

def guest_errors(console: qemu.Console, mode: str) -> list[str]:
    """What went wrong with the boot as a whole."""
    errors = []
    if console.hung:
        how = ("no console output for too long" if console.ended_by == "idle"
               else "the time limit passed")
        errors.append(f"guest hung ({how}), killed after {console.seconds:.0f}s; "
                      f"console tail:\n{qemu.tail(console.text)}")
    elif not console.booted and mode != "shell":
        errors.append(f"guest did not reach its init (QEMU exit {console.returncode}); "
                      f"console tail:\n{qemu.tail(console.text)}")
    elif not console.finished and mode != "shell":
        errors.append(f"guest stopped before finishing (QEMU exit {console.returncode}); "
                      f"console tail:\n{qemu.tail(console.text)}")
    return errors


def check_spans(console_text: str) -> dict[str, tuple[int, int]]:
    """Console line range of each check, from the init's begin/end lines."""
    spans: dict[str, tuple[int, int]] = {}
    lines = console_text.splitlines()
    for i, line in enumerate(lines):
        if (m := re.match(r"^# l2wg: begin (\S+)", line)):
            spans[m.group(1)] = (i + 1, len(lines))
        elif (m := END_RE.search(line)) and m.group("name") in spans:
            spans[m.group("name")] = (spans[m.group("name")][0], i + 1)
    return spans


def seconds_of(test: ktap.TestCase) -> float:
    for diag in test.diagnostics:
        if (m := END_RE.search(diag)):
            return float(m.group("seconds"))
    return 0.0


def failure_reason(test: ktap.TestCase) -> str:
    """One line: the first failed subtest and why, else the check's own
    diagnostics."""
    if test.reason:
        return test.reason
    failed = test.failed_subtests
    if failed:
        first = failed[0]
        detail = first.reason or next((d for d in reversed(first.diagnostics) if d), "")
        if detail and all(t.reason == first.reason for t in failed):
            return f"{detail} ({len(failed)} of {len(test.subtests)} failed)"
        more = f" (+{len(failed) - 1} more)" if len(failed) > 1 else ""
        label = first.name or f"test {first.number}"
        return f"{label}: {detail}{more}" if detail else f"{label} failed{more}"
    for diag in reversed(test.diagnostics):
        if not diag.startswith("l2wg:"):
            return diag
    if test.plan is None:
        return "printed no KTAP plan"
    return "failed"


def check_result(test: ktap.TestCase, reports: list[qemu.KernelReport],
                 retried: bool = False) -> CheckResult:
    """*retried*: the check timed out beside others and ran again alone
    (ci/guest/init.sh), which the reason says, pass or fail."""
    status = test.status
    reason = test.reason if status is Status.SKIP else ""
    if status is Status.FAIL:
        reason = failure_reason(test)
    if retried:
        reason = "; ".join(filter(None, [reason, RETRIED]))
    lines = list(test.lines)
    if reports:
        status = Status.FAIL
        reason = f"kernel {reports[0].kind}: {reports[0].summary}" + (
            f" (after: {reason})" if reason else "")
        for r in reports:
            lines += ["", f"kernel {r.kind} at console line {r.line}:", r.excerpt]
    return CheckResult(name=test.name, status=status, seconds=seconds_of(test), reason=reason,
                       excerpt=report.excerpt(lines) if status is Status.FAIL else "",
                       subtests=[SubResult(t.name or str(t.number), t.status, t.reason)
                                 for t in test.subtests])


def suite_report(kernel: str, accel: str, selected: Sequence[checks_mod.Check],
                 console: qemu.Console) -> SuiteReport:
    doc = ktap.parse(console.text)
    spans = check_spans(console.text)
    by_name = {t.name: t for t in doc.tests}
    retried = set(RETRY_RE.findall(console.text))
    results, claimed = [], set()
    for check in selected:
        span = spans.get(check.name)
        reports = [r for r in console.reports if span and span[0] <= r.line <= span[1]]
        claimed.update(id(r) for r in reports)
        test = by_name.get(check.name)
        if test is None:
            results.append(not_run(check, console, span))
        else:
            results.append(check_result(test, reports, check.name in retried))
    errors = guest_errors(console, "checks")
    errors += [f"kernel {r.kind} outside any check (console line {r.line}):\n{r.excerpt}"
               for r in console.reports if id(r) not in claimed]
    return SuiteReport(kernel=kernel, accelerator=accel, checks=results,
                       seconds=console.seconds, command=console.command,
                       console_log=str(console.log), errors=errors)


def not_run(check: checks_mod.Check, console: qemu.Console,
            span: tuple[int, int] | None) -> CheckResult:
    """A selected check with no result line: the guest died or hung in it
    (span known) or before it."""
    lines = console.text.splitlines()
    if span:
        where = "started but never finished"
        text = "\n".join(lines[span[0] - 1:span[1]])
    else:
        where = "never started"
        text = qemu.tail(console.text)
    why = "guest hung" if console.hung else "guest stopped"
    reports = [r for r in console.reports if span and span[0] <= r.line]
    if reports:
        why = f"kernel {reports[0].kind}: {reports[0].summary}"
    return CheckResult(name=check.name, status=Status.FAIL, seconds=0.0,
                       reason=f"{where} ({why})",
                       excerpt=report.excerpt(text.splitlines()))


def script_result(console_text: str) -> tuple[str, int | None]:
    """The script's output (without kernel log lines) and its exit status."""
    _, _, after = console_text.partition("L2WG-SCRIPT-BEGIN\n")
    m = SCRIPT_EXIT_RE.search(after)
    body = after[:m.start()] if m else after
    output = "\n".join(ktap.clean_lines(body))
    return output, int(m.group(1)) if m else None

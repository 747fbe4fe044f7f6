"""The whole pipeline over the matrix: what `l2wg ci` runs.

For each selected kernel: build (source, tree, series, config, make), boot
and check, DKMS (build against Debian's headers, boot Debian's kernel with
the module, check), deb-pkg (package, unpack, boot, check).  A failing
stage fails that kernel's later stages as "skipped: <stage> failed", and
the run goes on with the next kernel.  Everything cached is reused.

Then the pairs (interop_pairs): ``l2wg interop`` between the newest and the
oldest line run, each guest on its own kernel, and between the newest and
Debian's kernel with the newest's DKMS module ("dkms:7.3", once its dkms
stage passed in this run), and between that Debian guest and the same
with the module rebuilt as a peer of a newer wire format
("dkms:7.3+future-format", ci/test-patches/, testpatch.py); a pair is a row
of its own ("7.3+6.1", "7.3+dkms:7.3", "dkms:7.3+dkms:7.3+future-format")
with one stage, interop.  A pair whose last run passed and whose guests
would see nothing new (interop.checks_key: both kernels and modules, the
initramfs, ci/interop/) is not booted again; its results are reused, as a
boot's are.

kernels.toml's ``expect`` says what failures are expected: a check in
``xfail`` failing does not fail its boot; with ``build = false`` the build
stage failing to build (the series does not apply, the config or make
fails) is an expected failure, status "xfail", and the stages that need
the series built (boot, dkms, deb) are skipped; with ``boot = false`` the
boot stage's checks failing (or its guest crashing) is an expected failure.
A fetch failure or a missing tool is never expected.  A stage expected to
fail that passes is a pass, with a note that the expectation is stale.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from . import boot as boots
from . import interop
from .guest import GuestPrograms
from .userspace import guest_programs
from . import build as builds
from . import packages, stamps, store
from .errors import BuildError, CheckFailed, L2wgError
from .kernels import Expect, Kernel, version_key
from .progress import Progress
from .project import Project
from .report import SuiteReport, load_json
from .workspace import Workspace

#: Each kernel's own stages, in order; then the stage of a pair of kernels.
KERNEL_STAGES = ("build", "boot", "dkms", "deb")
PAIR_STAGE = "interop"
STAGES = (*KERNEL_STAGES, PAIR_STAGE)
#: A pair's second guest as Debian's kernel with the DKMS module ("dkms:7.3").
DKMS_PREFIX = interop.DKMS_PREFIX
#: The test patch of the third pair: a peer of a newer wire format.
FUTURE_FORMAT = "future-format"


@dataclass
class StageResult:
    kernel: str
    stage: str
    status: str                 # "pass", "fail", "skip", "xfail" (an expected failure)
    seconds: float = 0.0
    detail: str = ""
    log: str | None = None
    suites: list[SuiteReport] = field(default_factory=list)
    up_to_date: bool = False    # reused, nothing changed since it last passed (stamps.py)
    #: A failed stage's kind of failure (errors.L2wgError.kind: "build", "check", ...).
    kind: str = ""


@dataclass
class KernelRun:
    kernel: str
    stages: list[StageResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(s.status != "fail" for s in self.stages)


@dataclass(frozen=True)
class PipelineOptions:
    stages: tuple[str, ...] = STAGES
    checks: tuple[str, ...] | None = None
    build: builds.BuildOptions = builds.BuildOptions()
    parallel: int | None = None   # checks at once in the guest (None: boot.parallel_checks)


def _suite_status(suites: list[SuiteReport], xfail: dict[str, str]) -> tuple[str, str]:
    """A boot stage's verdict; failures kernels.toml expects (xfail) do not fail it."""
    failed = [f"{s.kernel}: {c.name}" for s in suites for c in s.checks
              if c.status.value == "fail" and c.name not in xfail]
    failed += [f"{s.kernel}: {e.splitlines()[0]}" for s in suites for e in s.errors]
    expected = sorted({c.name for s in suites for c in s.checks
                       if c.status.value == "fail" and c.name in xfail})
    if failed:
        return "fail", "; ".join(failed)
    passed = sum(c.status.value == "pass" for s in suites for c in s.checks)
    note = f"; expected failures: {', '.join(expected)}" if expected else ""
    return "pass", f"{passed} checks passed{note}"


#: The stages kernels.toml's expect.build / expect.boot speak for, and the kind
#: of failure each expects (errors.py): not building, and checks failing.
EXPECTABLE = {"build": BuildError.kind, "boot": CheckFailed.kind}


def expected(result: StageResult, expect: Expect) -> StageResult:
    """*result*, an expected failure ("xfail") when kernels.toml expects its stage to fail."""
    if result.stage not in EXPECTABLE or getattr(expect, result.stage):
        return result
    key = f"expect.{result.stage} = false"
    if result.status == "fail" and result.kind == EXPECTABLE[result.stage]:
        result.status = "xfail"
        result.detail = f"expected failure (kernels.toml {key}): {result.detail}"
    elif result.status == "pass":
        result.detail += f" (kernels.toml says {key}: out of date?)"
    return result


def same_kernel(a: Path, b: Path) -> str | None:
    """The image's sha256 when artifacts *a* and *b* boot the same bytes, else None."""
    files = ("bzImage", "config")
    if not all((d / f).is_file() for d in (a, b) for f in files):
        return None
    sums = [[store.sha256_file(d / f) for f in files] for d in (a, b)]
    if sums[0] != sums[1] or (a / "modules").exists() or (b / "modules").exists():
        return None
    return sums[0][0]


def timed_stage(row: str, name: str, body: Callable[[], StageResult],
                progress: Progress) -> StageResult:
    """Run stage *name* of *row* (a kernel, or a pair): its result with its seconds, and
    an error turned into a failed stage that keeps the error's message, log and kind."""
    progress.step(f"{row}: {name}")
    start = time.monotonic()
    try:
        result = body()
    except L2wgError as error:
        result = StageResult(row, name, "fail", detail=error.message,
                             log=str(error.log) if error.log else None, kind=error.kind)
    if result.status == "fail" and not result.kind:
        result.kind = CheckFailed.kind      # a boot whose checks did not pass
    result.seconds = round(time.monotonic() - start, 1)
    return result


class _Runner:
    """Runs one kernel's stages in order, turning errors into stage results."""

    def __init__(self, kernel: Kernel, project: Project, ws: Workspace, opts: PipelineOptions,
                 progress: Progress):
        self.kernel, self.project, self.ws, self.opts = kernel, project, ws, opts
        self.progress = progress
        self.run = KernelRun(kernel.name)
        self.artifacts = ws.artifacts(kernel.name, opts.build.variant)
        self._programs: GuestPrograms | None = None

    def stage(self, name: str, needs: str | None, body: Callable[[], StageResult]) -> None:
        """Run stage *name* unless not selected, or the stage it *needs* ran and did not pass."""
        if name not in self.opts.stages:
            return
        needed = next((s for s in self.run.stages if s.stage == needs), None)
        if needed and needed.status != "pass":
            why = "failed as expected" if needed.status == "xfail" else "did not pass"
            self.run.stages.append(StageResult(self.kernel.name, name, "skip",
                                               detail=f"{needs} {why}"))
            return
        result = timed_stage(self.kernel.name, name, body, self.progress)
        self.run.stages.append(expected(result, self.kernel.expect))

    def build(self) -> StageResult:
        built = builds.build(self.kernel, self.project, self.ws, self.opts.build, self.progress)
        self.artifacts = Path(built.out)
        return StageResult(self.kernel.name, "build", "pass",
                           up_to_date=bool(built.extra.get("up_to_date")),
                           detail=f"{built.version}, {len(built.series)} patches, "
                                  f"{len(built.wireguard_warnings)} wireguard warnings"
                                  + (" (up to date)" if built.extra.get("up_to_date") else ""),
                           log=str(self.artifacts / "build.log"))

    def programs(self) -> GuestPrograms:
        """The guest's replacements for host programs ([guest] in kernels.toml)."""
        if self._programs is None:
            self._programs = guest_programs(self.project.matrix(), self.ws, self.progress)
        return self._programs

    def boot(self, artifacts: Path, stage: str) -> StageResult:
        """The checks on *artifacts*, or their last passing results if nothing changed."""
        key = boots.checks_key(self.ws, artifacts, self.opts.checks, self.opts.parallel,
                               self.programs())

        def reuse(done: dict) -> StageResult:
            suites = load_json(Path(done["results"]))
            status, detail = _suite_status(suites, self.kernel.expect.xfail)
            self.progress.step(f"{self.kernel.name}: {stage}: checks up to date "
                               f"({Path(done['results']).parent.name})")
            return StageResult(self.kernel.name, stage, status, up_to_date=True,
                               detail=f"{detail} (up to date)", log=done["console"],
                               suites=suites)

        def run() -> Stamped:
            result = boots.boot(self.ws, artifacts, checks=self.opts.checks,
                                progress=self.progress, jobs=self.opts.parallel,
                                programs=self.programs())
            suite = result.suite
            status, detail = _suite_status([suite] if suite else [], self.kernel.expect.xfail)
            if suite is None:
                status, detail = "fail", "; ".join(result.errors) or "no results"
            results = result.run_dir / "results.json"
            return Stamped(StageResult(self.kernel.name, stage, status, detail=detail,
                                       log=str(result.console_log),
                                       suites=[suite] if suite else []),
                           {"results": str(results), "console": str(result.console_log)},
                           [results, result.console_log])

        return stamped(stamps.Stamp(artifacts / "boot" / "checks.stamp.json"), key,
                       self.opts.build.rebuild, reuse, run)

    def dkms(self) -> StageResult:
        made = packages.dkms(self.kernel, self.project, self.ws, self.progress,
                             reuse=not self.opts.build.rebuild)
        if not made.proofs:
            return StageResult(self.kernel.name, "dkms", "skip",
                               detail="no dkms_headers in kernels.toml for this kernel")
        booted = [self.boot(p.boot_artifacts, "dkms") for p in made.proofs]
        suites = [s for b in booted for s in b.suites]
        status, detail = _suite_status(suites, self.kernel.expect.xfail)
        if any(b.status == "fail" for b in booted):
            status = "fail"
        return StageResult(self.kernel.name, "dkms", status,
                           detail=f"{made.deb.name}; {detail}", log=booted[0].log, suites=suites,
                           up_to_date=made.up_to_date and all(b.up_to_date for b in booted))

    def deb(self) -> StageResult:
        made = packages.deb(self.kernel, self.project, self.ws, self.progress, self.opts.build,
                            reuse=not self.opts.build.rebuild)
        checked = next((s for s in self.run.stages if s.stage == "boot"), None)
        same = same_kernel(made.boot_artifacts, self.artifacts)
        if same and checked is not None and checked.status == "pass":
            return StageResult(self.kernel.name, "deb", "pass", log=checked.log,
                               up_to_date=made.up_to_date and checked.up_to_date,
                               detail=f"{made.image.name}; its vmlinuz and config are the "
                                      f"bzImage the boot stage checked (sha256 {same[:12]}), "
                                      "so those results hold")
        booted = self.boot(made.boot_artifacts, "deb")
        booted.detail = f"{made.image.name}; {booted.detail}"
        booted.up_to_date = made.up_to_date and booted.up_to_date
        return booted


def run_kernel(kernel: Kernel, project: Project, ws: Workspace, opts: PipelineOptions,
               progress: Progress) -> KernelRun:
    runner = _Runner(kernel, project, ws, opts, progress)
    runner.stage("build", None, runner.build)
    runner.stage("boot", "build", lambda: runner.boot(runner.artifacts, "boot"))
    # DKMS builds the same series against Debian's headers: not when it is known not to build.
    runner.stage("dkms", None if kernel.expect.build else "build", runner.dkms)
    runner.stage("deb", "build", runner.deb)
    return runner.run


def interop_pairs(kernels: list[Kernel]) -> list[tuple[str, str]]:
    """The pairs interop runs on: the newest line's kernel with the oldest's,
    Debian's kernel with the DKMS module of the newest ("dkms:7.3") with the
    newest, and that Debian guest with one of a newer wire format
    ("dkms:7.3+future-format")."""
    if not kernels:
        return []
    newest = max(kernels, key=lambda k: version_key(k.line))
    oldest = min(kernels, key=lambda k: version_key(k.line))
    pairs = [(newest.name, oldest.name)] if newest.line != oldest.line else []
    if newest.dkms_headers:
        debian = DKMS_PREFIX + newest.name
        pairs += [(newest.name, debian),
                  (debian, debian + interop.TEST_PATCH_SEPARATOR + FUTURE_FORMAT)]
    return pairs


def pair_skip_reason(pair: tuple[str, str], runs: list[KernelRun],
                     opts: PipelineOptions) -> str:
    """Why *pair* cannot run interop in this run, or '': a kernel's guest needs its
    build to have passed in this run, a ``dkms:K`` guest K's dkms stage."""
    if opts.build.variant != "default":
        return f"interop boots default builds, not the {opts.build.variant} variant"
    passed = {(r.kernel, s.stage) for r in runs for s in r.stages if s.status == "pass"}
    ran = {(r.kernel, s.stage) for r in runs for s in r.stages}
    why = []
    for name in pair:
        kernel = interop.split_name(name)[0].removeprefix(DKMS_PREFIX)
        stage, what = ("dkms", "the dkms stage") if name.startswith(DKMS_PREFIX) else \
            ("build", "the build")
        if (kernel, stage) not in passed:
            how = "did not pass" if (kernel, stage) in ran else "did not run"
            why.append(f"{what} of {kernel} {how} in this run")
    return "; ".join(dict.fromkeys(why))       # a dkms:K and a dkms:K+PATCH: said once


@dataclass(frozen=True)
class Stamped:
    """A stage's result, and what its stamp records if it passed: the record
    and the files that must still exist for the stamp to hold."""
    result: StageResult
    record: dict
    outputs: list[Path]


def stamped(stamp: stamps.Stamp, key: str, rebuild: bool,
            reuse: Callable[[dict], StageResult], run: Callable[[], Stamped]) -> StageResult:
    """A check stage that is reused while nothing it sees changed: reuse(record)
    when *stamp* holds for *key* (and not *rebuild*), else run(), stamped with
    *key* only if it passed.  A failed run leaves no stamp."""
    done = None if rebuild else stamp.valid(key)
    if done is not None:
        return reuse(done)
    stamp.clear()
    made = run()
    if made.result.status == "pass":
        stamp.save(key, made.record, made.outputs)
    return made.result


def run_pair(pair: tuple[str, str], runs: list[KernelRun], project: Project, ws: Workspace,
             opts: PipelineOptions, progress: Progress) -> KernelRun:
    """The interop stage of *pair*: skipped, with the reason, when a guest cannot be had."""
    name = "+".join(pair)
    why = pair_skip_reason(pair, runs, opts)
    if why:
        return KernelRun(name, [StageResult(name, PAIR_STAGE, "skip", detail=why)])

    def body() -> StageResult:
        guests = interop.find_pair(ws, project.matrix(), *pair, progress)
        programs = guest_programs(project.matrix(), ws, progress)

        def run() -> Stamped:
            result = interop.interop(ws, guests, progress=progress, programs=programs)
            status, detail = _suite_status(result.suites, {})
            if not result.ok and status == "pass":
                status, detail = "fail", "; ".join(result.errors)
            results, summary = result.run_dir / "results.json", result.run_dir / "interop.json"
            return Stamped(StageResult(name, PAIR_STAGE, status, suites=result.suites,
                                       detail=f"over {result.link.underlay}: {detail}",
                                       log=str(summary)),
                           {"results": str(results), "summary": str(summary)},
                           [results, summary])

        return stamped(interop.stamp(ws, guests),
                       interop.checks_key(ws, guests, programs=programs),
                       opts.build.rebuild, lambda done: reused_pair(name, done, progress), run)

    return KernelRun(name, [timed_stage(name, PAIR_STAGE, body, progress)])


def reused_pair(name: str, done: dict, progress: Progress) -> StageResult:
    """The interop stage of pair *name* from its last passing run (*done*, its stamp's
    record): nothing the guests would see has changed since."""
    suites = load_json(Path(done["results"]))
    status, detail = _suite_status(suites, {})
    underlay = (store.read_json(Path(done["summary"])) or {}).get("underlay", "?")
    progress.step(f"{name}: interop: checks up to date ({Path(done['results']).parent.name})")
    return StageResult(name, PAIR_STAGE, status, suites=suites, up_to_date=True,
                       detail=f"over {underlay}: {detail} (up to date)", log=done["summary"])


def run_matrix(kernels: list[Kernel], project: Project, ws: Workspace, opts: PipelineOptions,
               progress: Progress) -> list[KernelRun]:
    """Every kernel in turn (a failing kernel does not stop the others), then the pairs."""
    runs = [run_kernel(k, project, ws, opts, progress) for k in kernels]
    if PAIR_STAGE in opts.stages:
        runs += [run_pair(pair, runs, project, ws, opts, progress)
                 for pair in interop_pairs(kernels)]
    return runs

"""Benchmarks of the pipeline's own speed: figures printed, never asserted.

``l2wg bench build|boot|pipeline`` and ``tools/bench-rebase`` (a point-release
move); the command lines are in cli/.

The machine is shared and noisy, so every figure is the median of several
rounds, and the rounds are listed too.
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

from . import sources, tree as trees
from .build import BuildOptions, build
from .errors import L2wgError
from .guest import GuestPrograms
from .kernels import Kernel
from .progress import Progress
from .project import Project
from .rebase import RebaseOptions, abort_rebase, rebase
from .resolve import line_entry, resolve_kernel
from .tree_import import import_from_seed
from .workspace import Workspace


@dataclass
class Figure:
    name: str
    rounds: list[float]
    goal: float | None = None

    @property
    def median(self) -> float:
        return statistics.median(self.rounds)

    def line(self) -> str:
        goal = f"  (goal <= {self.goal:.0f} s: {'met' if self.median <= self.goal else 'MISSED'})" \
            if self.goal else ""
        rounds = ", ".join(f"{r:.1f}" for r in self.rounds)
        return f"{self.name:<44} median {self.median:7.1f} s   rounds: {rounds}{goal}"


def _timed(fn) -> float:
    start = time.monotonic()
    fn()
    return round(time.monotonic() - start, 1)


def bench_build(kernel: Kernel, project: Project, ws: Workspace, rounds: int,
                progress: Progress, opts: BuildOptions = BuildOptions()) -> list[Figure]:
    """Cold build (source cached, fresh O= dir, ccache off) and one-file rebuilds."""
    build(kernel, project, ws, opts, progress)   # warm the source and tree caches
    cold, touched = Figure("cold build (source cached, no ccache)", [], 240), \
        Figure("rebuild after touching drivers/net/wireguard/device.c", [], 30)
    for i in range(rounds):
        with tempfile.TemporaryDirectory(prefix="l2wg-bench-", dir=ws.root) as tmp:
            run_opts = replace(opts, build_dir=Path(tmp) / "build", out=Path(tmp) / "out",
                               ccache=False, rebuild=True)
            progress.step(f"round {i + 1}/{rounds}: cold build")
            cold.rounds.append(_timed(lambda: build(kernel, project, ws, run_opts, progress)))
            device = ws.tree(kernel.name) / "drivers/net/wireguard/device.c"
            os.utime(device)
            progress.step(f"round {i + 1}/{rounds}: rebuild after touching {device.name}")
            touched.rounds.append(_timed(lambda: build(kernel, project, ws, run_opts, progress)))
    return [cold, touched]


def _children_cpu() -> float:
    """CPU seconds of finished child processes (QEMU): hardly changed by other load."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def bench_boot(artifacts: Path, ws: Workspace, rounds: int, progress: Progress,
               checks: list[str] | None = None, accel: str | None = None,
               jobs: int | None = None, programs: GuestPrograms = GuestPrograms()
               ) -> list[Figure]:
    """Guest initramfs cold and cached, then the check suite in one boot per round,
    *jobs* checks at once (default: boot.parallel_checks)."""
    from . import boot, guest

    jobs = boot.parallel_checks(jobs, boot.Artifacts.load(artifacts).cpus())

    cold, cached = Figure("initramfs build, cold", []), Figure("initramfs build, cached", [])
    for _ in range(2):
        with tempfile.TemporaryDirectory(prefix="l2wg-bench-guest-") as tmp:
            scratch = Workspace(Path(tmp))
            cold.rounds.append(_timed(lambda: guest.build_initramfs(scratch, extra=programs)))
            cached.rounds.append(_timed(lambda: guest.build_initramfs(scratch, extra=programs)))
    guest.build_initramfs(ws, extra=programs)    # the real cache, before boots are timed
    wall = Figure(f"boot + checks ({jobs} at once), QEMU wall", [], 30)
    cpu = Figure("boot + checks, QEMU CPU (user+sys)", [])
    per_check: dict[str, Figure] = {}
    for i in range(rounds):
        progress.step(f"round {i + 1}/{rounds}: boot and checks")
        with tempfile.TemporaryDirectory(prefix="l2wg-bench-boot-") as tmp:
            before = _children_cpu()
            result = boot.boot(ws, artifacts, checks=checks, accel=accel,
                               run_dir=Path(tmp) / "run", jobs=jobs, programs=programs)
            wall.rounds.append(round(result.seconds, 1))
            cpu.rounds.append(round(_children_cpu() - before, 1))
            for check in result.suite.checks if result.suite else []:
                name = f"  check {check.name} ({check.status.value})"
                per_check.setdefault(name, Figure(name, [])).rounds.append(check.seconds)
    return [cold, cached, wall, cpu, *per_check.values()]


# the pipeline: l2wg bench pipeline ------------------------------------------------

#: The issue's goals for the whole offline matrix on 2 cores, in seconds.
PIPELINE_GOALS = {"cold": 900.0, "warm": 120.0, "edit": 180.0}
#: Put at the start of one kernel message the series adds: the kernel image
#: changes (a comment would not: l2wg's builds are reproducible, so an
#: unchanged image would rightly skip the boot), and no check depends on it.
EDIT_MARK = "l2wg bench: edited, "
MESSAGE_RE = re.compile(r'^\+\s*(?:pr_\w+|printk|netdev_\w+|dev_\w+)\((?:\w+, )?"')


@dataclass
class PhaseRun:
    """One run of the pipeline over the kernels: its wall time and per-stage seconds."""

    phase: str
    seconds: float
    stages: dict[str, dict[str, float]]        # kernel -> stage -> seconds
    up_to_date: dict[str, list[str]]           # kernel -> stages reused
    failed: list[str]                          # "kernel stage: detail"


def edit_one_patch(project_root: Path, dest: Path) -> tuple[Path, str]:
    """A copy of the project whose last patch touching a driver .c file has one kernel
    message changed: what a maintainer's one-line fix to a patch looks like to the pipeline.

    The edit keeps the patch applying (the same '+' line, longer; same line
    count) and changes the built kernel.  Returns the copy's root and a
    description of the edit.
    """
    for name in ("kernels.toml", "pyproject.toml"):
        if (project_root / name).exists():
            shutil.copy2(project_root / name, dest / name)
    shutil.copytree(project_root / "patches", dest / "patches")
    shutil.copytree(project_root / "ci", dest / "ci")
    series = (dest / "patches" / "series").read_text().split()
    for name in reversed(series):
        patch = dest / "patches" / name
        lines = patch.read_text().split("\n")
        in_c_file = False
        for i, line in enumerate(lines):
            if line.startswith("+++ "):
                in_c_file = line.startswith("+++ b/drivers/net/wireguard/") and line.endswith(".c")
                continue
            match = MESSAGE_RE.match(line) if in_c_file else None
            if match and EDIT_MARK not in line:
                lines[i] = line[:match.end()] + EDIT_MARK + line[match.end():]
                patch.write_text("\n".join(lines))
                return dest, f"{name}: kernel message on line {i + 1}"
    raise L2wgError("no patch adds a kernel message (pr_info ...) to edit for the benchmark")


def bench_pipeline(kernels: list[Kernel], project: Project, ws: Workspace, rounds: int,
                   progress: Progress, stages: tuple[str, ...] | None = None,
                   keep: bool = False, parallel: int | None = None
                   ) -> tuple[list[PhaseRun], list[Figure], Path]:
    """``l2wg ci`` cold, warm and after one edited patch, in a workspace of its own.

    Cold: an empty workspace (only the downloaded sources are shared: the
    Debian archive's speed is not the pipeline's), ccache off.  Warm: the
    same again, nothing changed.  Edit: one kernel message in one patch
    changed, in a copy of the project (patches/ is never touched), then
    run; the edit alternates on and off so that every round is an edit.
    """
    from . import pipeline

    stages = stages or pipeline.STAGES
    opts = pipeline.PipelineOptions(stages=stages, build=BuildOptions(ccache=False),
                                    parallel=parallel)
    root = Path(tempfile.mkdtemp(prefix="bench-pipeline-", dir=ws.root))
    bench_ws = Workspace(root / "ws")
    bench_ws.root.mkdir()
    (bench_ws.root / "sources").symlink_to(ws.sources.resolve())
    edited_root = root / "project-edited"
    edited_root.mkdir()
    edited_path, what = edit_one_patch(project.root, edited_root)
    edited = Project(edited_path)
    runs: list[PhaseRun] = []

    def run(phase: str, with_project: Project) -> PhaseRun:
        progress.step(f"pipeline benchmark: {phase} ({', '.join(k.name for k in kernels)})")
        start = time.monotonic()
        results = pipeline.run_matrix(kernels, with_project, bench_ws, opts, progress)
        done = PhaseRun(phase, round(time.monotonic() - start, 1),
                        {r.kernel: {s.stage: s.seconds for s in r.stages} for r in results},
                        {r.kernel: [s.stage for s in r.stages if s.up_to_date] for r in results},
                        [f"{r.kernel} {s.stage}: {s.detail[:160]}" for r in results
                         for s in r.stages if s.status == "fail"])
        runs.append(done)
        return done

    current = project
    try:
        run("cold", current)
        for _ in range(rounds):
            run("warm", current)
            # The edited copy and the original take turns: each edit round is
            # one patch changed relative to the run before it.
            current = edited if current is project else project
            run("edit", current)
    finally:
        if keep:
            progress.step(f"kept the benchmark workspace: {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    figures = [Figure(f"{phase}: {', '.join(k.name for k in kernels)}, stages "
                      f"{','.join(stages)}",
                      [r.seconds for r in runs if r.phase == phase], PIPELINE_GOALS[phase])
               for phase in ("cold", "warm", "edit")]
    figures.append(Figure(f"edit = {what}", [r.seconds for r in runs if r.phase == "edit"]))
    return runs, figures, root


def phase_table(runs: list[PhaseRun]) -> str:
    """Per phase and kernel, each stage's seconds ('=' when reused as up to date)."""
    lines = []
    for r in runs:
        for kernel, stages in r.stages.items():
            parts = ", ".join(f"{stage} {sec:.0f}{'=' if stage in r.up_to_date[kernel] else ''}"
                              for stage, sec in stages.items())
            lines.append(f"  {r.phase:<5} {kernel:<6} {parts}")
        lines.append(f"  {r.phase:<5} total  {r.seconds:.0f} s"
                     + (f"; FAILED: {'; '.join(r.failed)}" if r.failed else ""))
    return "\n".join(lines)


# a point-release move: tools/bench-rebase -------------------------------------------

@dataclass
class RebaseFigure(Figure):
    """tools/bench-rebase's figures: its longer names in a wider column."""

    def line(self) -> str:
        median = statistics.median(self.rounds) if self.rounds else float("nan")
        goal = f"  (goal <= {self.goal:.0f} s: {'met' if median <= self.goal else 'MISSED'})" \
            if self.goal else ""
        rounds = ", ".join(f"{r:.1f}" for r in self.rounds)
        return f"{self.name:<52} median {median:6.1f} s   rounds: {rounds}{goal}"


def bench_rebase(project: Project, ws: Workspace, point_release: str, rounds: int,
                 progress: Progress, full: bool = False) -> list[RebaseFigure]:
    """Point-release move, measured: import *point_release* from its line's tree,
    then rebase onto it (a cached kernel).  Uses a private tree, removed at the end."""
    matrix = project.matrix()
    log = ws.logs / "bench-rebase.log"
    found = resolve_kernel(point_release, matrix, RebaseOptions(), log, ws)
    kernel = replace(found, name=f"bench-{found.name}")
    line_kernel = line_entry(matrix, kernel.line)
    if line_kernel is None:
        raise L2wgError(f"no kernels.toml entry for the {kernel.line} line to import from")
    seed = trees.ensure_pristine(line_kernel, sources.fetch(line_kernel, ws, progress), ws,
                                 progress)
    source = sources.fetch(kernel, ws, progress)
    patches = len(project.series().names)
    imported = RebaseFigure(f"import {found.name} from the {seed.kernel} tree ({seed.version})",
                            [])
    cached = RebaseFigure(f"rebase onto it, tree cached ({patches} patch(es))", [], 20)
    move = RebaseFigure("point-release move (import + rebase)", [])
    try:
        for number in range(rounds):
            _remove_tree(ws, kernel.name)
            progress.step(f"round {number + 1}/{rounds}")
            start = time.monotonic()
            import_from_seed(kernel, source, seed, ws, progress, log)
            middle = time.monotonic()
            state = rebase(kernel, project, ws, RebaseOptions(write=False), progress)
            end = time.monotonic()
            if state.status == "conflict":
                abort_rebase(kernel.name, ws, progress)
            imported.rounds.append(round(middle - start, 1))
            cached.rounds.append(round(end - middle, 1))
            move.rounds.append(round(end - start, 1))
        if full:
            figures = [imported, cached, move, _bench_full(kernel, source, ws, progress)]
            return figures
    finally:
        _remove_tree(ws, kernel.name)
    return [imported, cached, move]


def _bench_full(kernel: Kernel, source: sources.Source, ws: Workspace,
                progress: Progress) -> RebaseFigure:
    """For comparison, one full import (tar -x, git add of every file) of the same source."""
    other = replace(kernel, name=f"{kernel.name}-full")
    figure = RebaseFigure(f"for comparison: full import of {kernel.version} (tar + git add)", [])
    try:
        _remove_tree(ws, other.name)
        start = time.monotonic()
        trees.ensure_pristine(other, source, ws, progress)
        figure.rounds.append(round(time.monotonic() - start, 1))
    finally:
        _remove_tree(ws, other.name)
    return figure


def _remove_tree(ws: Workspace, name: str) -> None:
    shutil.rmtree(ws.tree(name), ignore_errors=True)
    shutil.rmtree(ws.root / "rebase" / name, ignore_errors=True)

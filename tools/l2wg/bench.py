"""Benchmarks of the pipeline's own speed: figures printed, never asserted.

The machine is shared and noisy, so every figure is the median of several
rounds, and the rounds are listed too.
"""

from __future__ import annotations

import os
import resource
import statistics
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

from .build import BuildOptions, build
from .kernels import Kernel
from .progress import Progress
from .project import Project
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
                               ccache=False)
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
               checks: list[str] | None = None, accel: str | None = None) -> list[Figure]:
    """Guest initramfs cold and cached, then the check suite in one boot per round."""
    from . import boot, guest

    cold, cached = Figure("initramfs build, cold", []), Figure("initramfs build, cached", [])
    for _ in range(2):
        with tempfile.TemporaryDirectory(prefix="l2wg-bench-guest-") as tmp:
            scratch = Workspace(Path(tmp))
            cold.rounds.append(_timed(lambda: guest.build_initramfs(scratch)))
            cached.rounds.append(_timed(lambda: guest.build_initramfs(scratch)))
    guest.build_initramfs(ws)    # the real cache, before boots are timed
    wall = Figure("boot + checks, QEMU wall", [], 30)
    cpu = Figure("boot + checks, QEMU CPU (user+sys)", [])
    per_check: dict[str, Figure] = {}
    for i in range(rounds):
        progress.step(f"round {i + 1}/{rounds}: boot and checks")
        with tempfile.TemporaryDirectory(prefix="l2wg-bench-boot-") as tmp:
            before = _children_cpu()
            result = boot.boot(ws, artifacts, checks=checks, accel=accel,
                               run_dir=Path(tmp) / "run")
            wall.rounds.append(round(result.seconds, 1))
            cpu.rounds.append(round(_children_cpu() - before, 1))
            for check in result.suite.checks if result.suite else []:
                name = f"  check {check.name} ({check.status.value})"
                per_check.setdefault(name, Figure(name, [])).rounds.append(check.seconds)
    return [cold, cached, wall, cpu, *per_check.values()]

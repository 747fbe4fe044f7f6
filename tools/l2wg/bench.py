"""Benchmarks of the pipeline's own speed: figures printed, never asserted.

The machine is shared and noisy, so every figure is the median of several
rounds, and the rounds are listed too.
"""

from __future__ import annotations

import os
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

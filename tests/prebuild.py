"""Kernel builds in the background while the tests that need no kernel run.

A cold build (about 5 to 8 minutes a kernel, -j2) keeps both of the
machine's cores busy; a QEMU boot (a guest of two vCPUs, TCG) mostly waits
on its checks' timers and the other site.  Run one after the other, the
three integration kernels' builds and their boots take more than an hour;
overlapped, the boots of one kernel run while the next one builds.

So the session starts ``l2wg build KERNEL`` for each kernel the selected
integration tests need, one after the other, at nice 19: the boots in the
foreground get their core first, make gets what is left.  A test that needs
a kernel waits for its build (conftest.py orders the tests so that the
newest kernel's come first); a test that needs no build, but may touch the
kernel trees (rebase, submit, kconfig), waits until no build is running.
The tests still call ``build.build`` themselves: after the background build
it is "up to date", and a background build that failed is reported by the
test that needs it, with the build's own log.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Outcome:
    kernel: str
    returncode: int
    seconds: float
    log: Path


class Prebuild:
    """``nice -n 19 l2wg build K`` for each of *kernels*, in order, in one thread."""

    def __init__(self, root: Path, kernels: list[str], log_dir: Path):
        self.root, self.kernels, self.log_dir = root, list(kernels), log_dir
        # The environment of the session's start: unit tests running meanwhile
        # change os.environ (APT_CONFIG, HOME, ...) for themselves, not for the builds.
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.outcomes: dict[str, Outcome] = {}
        self._done = {name: threading.Event() for name in self.kernels}
        self._process: subprocess.Popen | None = None
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="l2wg-prebuild", daemon=True)

    def start(self) -> "Prebuild":
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._thread.start()
        return self

    def command(self, kernel: str) -> list[str]:
        return ["nice", "-n", "19", sys.executable, "-m", "l2wg", "build", kernel]

    def _run(self) -> None:
        for name in self.kernels:
            log = self.log_dir / f"prebuild-{name}.log"
            started = time.monotonic()
            returncode = -1
            if not self._stopping:
                with open(log, "w") as out:
                    out.write("$ " + " ".join(self.command(name)) + "\n")
                    out.flush()
                    self._process = subprocess.Popen(
                        self.command(name), cwd=self.root, stdout=out,
                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                        start_new_session=True, env=self.env)
                    returncode = self._process.wait()
            self.outcomes[name] = Outcome(name, returncode,
                                          round(time.monotonic() - started, 1), log)
            self._done[name].set()

    def wait(self, kernel: str) -> Outcome | None:
        """The background build of *kernel* once it has ended (None: not one of ours)."""
        if kernel not in self._done:
            return None
        self._done[kernel].wait()
        return self.outcomes[kernel]

    def wait_all(self) -> list[Outcome]:
        return [outcome for name in self.kernels if (outcome := self.wait(name))]

    def stop(self) -> None:
        """End the build running now (a session ended early) and start no other."""
        self._stopping = True
        process = self._process
        if process and process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)       # l2wg and its make
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        self._thread.join(timeout=60)

    def summary(self) -> str:
        return ", ".join(f"{o.kernel} {'ok' if o.returncode == 0 else 'FAILED'} in {o.seconds:.0f} s"
                         for o in self.outcomes.values())

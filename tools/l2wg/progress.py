"""Progress for long steps: a live line on a terminal, plain lines otherwise.

A :class:`Progress` is created by the command line and handed down; library
code never prints directly.  When output is not a TTY (CI logs), updates are
rate-limited plain lines so logs stay readable.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import TextIO


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


@dataclass
class Progress:
    stream: TextIO = field(default_factory=lambda: sys.stderr)
    quiet: bool = False
    interval: float = 5.0
    _last: float = 0.0
    _live: bool = False

    @property
    def tty(self) -> bool:
        return hasattr(self.stream, "isatty") and self.stream.isatty()

    def step(self, message: str) -> None:
        """A new step starts: always shown (one line)."""
        if self.quiet:
            return
        self._end_live()
        self.stream.write(f"l2wg: {message}\n")
        self.stream.flush()

    def update(self, message: str, force: bool = False) -> None:
        """The current step moved on: redraw on a TTY, else a line every few seconds."""
        if self.quiet:
            return
        now = time.monotonic()
        if self.tty:
            self.stream.write(f"\r\x1b[K  {message[:150]}")
            self._live = True
        elif force or now - self._last >= self.interval:
            self.stream.write(f"  {message}\n")
            self._last = now
        else:
            return
        self.stream.flush()

    def bytes(self, label: str, done: int, total: int | None) -> None:
        if total:
            self.update(f"{label}: {human_bytes(done)} of {human_bytes(total)} "
                        f"({100 * done // total}%)")
        else:
            self.update(f"{label}: {human_bytes(done)}")

    def done(self) -> None:
        self._end_live()

    def _end_live(self) -> None:
        if self._live:
            self.stream.write("\n")
            self._live = False


def silent() -> Progress:
    return Progress(quiet=True)

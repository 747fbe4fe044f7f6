"""The one exception type the command line turns into a one-line error."""

from __future__ import annotations

from pathlib import Path


class L2wgError(Exception):
    """A failure the user can act on: what went wrong, where, and the log.

    The command line prints ``str(error)`` on one line and exits non-zero.
    """

    def __init__(self, message: str, log: Path | None = None):
        self.message = message
        self.log = Path(log) if log else None
        super().__init__(message)

    def __str__(self) -> str:
        if self.log:
            return f"{self.message} (log: {self.log})"
        return self.message

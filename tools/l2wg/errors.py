"""The exceptions the command line turns into a one-line error, by kind.

Every failure l2wg expects is an :class:`L2wgError`; its class says what
kind of failure it is, and only ``cli.main`` turns a kind into an exit
code.  Anything else that escapes is a bug in l2wg (an internal error).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar


class L2wgError(Exception):
    """A failure the user can act on: what went wrong, where, and the log.

    The command line prints ``str(error)`` on one line and exits non-zero.
    A plain L2wgError is a failure of no more specific kind (e.g. a work
    tree with uncommitted changes, a rebase state l2wg cannot read).
    """

    #: What kind of failure this is: names the exit code in cli.main.
    kind: ClassVar[str] = "failure"

    def __init__(self, message: str, log: Path | None = None):
        self.message = message
        self.log = Path(log) if log else None
        super().__init__(message)

    def __str__(self) -> str:
        if self.log:
            return f"{self.message} (log: {self.log})"
        return self.message


class BadInput(L2wgError):
    """What l2wg was given is wrong: kernels.toml, patches/series, an argument, a kernel name."""

    kind = "bad input"


class MissingTool(L2wgError):
    """A program (or a Debian package providing one) l2wg needs is not installed."""

    kind = "missing tool"


class FetchError(L2wgError):
    """A source or package could not be fetched, or did not verify (checksum, signature)."""

    kind = "fetch"


class BuildError(L2wgError):
    """The kernel did not build: the series does not apply, the config cannot be made, make failed."""

    kind = "build"


class CheckFailed(L2wgError):
    """The kernel built and booted (or tried to), and checks in the guest failed."""

    kind = "check"


#: Every kind of expected failure, most specific classes first.
KINDS: tuple[type[L2wgError], ...] = (BadInput, MissingTool, FetchError, BuildError, CheckFailed,
                                      L2wgError)


def of_kind(kind: str) -> type[L2wgError]:
    """The exception class of *kind* (an ``L2wgError.kind``); L2wgError for an unknown one."""
    return next((cls for cls in KINDS if cls.kind == kind), L2wgError)


@contextmanager
def failing_as(cls: type[L2wgError]) -> Iterator[None]:
    """Plain L2wgErrors raised inside become *cls*; errors of a kind already pass unchanged.

    ``with failing_as(BuildError): run(["make", ...])``: make failing is a build
    failure, while make not being installed stays a missing tool.
    """
    try:
        yield
    except L2wgError as error:
        if type(error) is not L2wgError:
            raise
        raise cls(error.message, error.log) from error

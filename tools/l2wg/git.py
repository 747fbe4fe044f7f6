"""Running git: the one way l2wg does it.

Every git command l2wg runs -- a git source's clone and fetch, a kernel
tree's import, ``git am`` of the series, the rebase's three-way merges, the
submission clone -- goes through :func:`run_git`, and so through
:func:`l2wg.runner.run`: the exact command line (with ``-C`` and any added
environment) and everything git printed go to the stage's log, and a failure
is one :class:`~l2wg.errors.L2wgError` naming that log.  l2wg does not use
GitPython (README.md, design notes).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from .runner import Completed, run

#: l2wg's own identity and fixed dates, for commits in l2wg's trees: the same
#: source and series always give the same commits.
IDENTITY = {
    "GIT_AUTHOR_NAME": "l2wg", "GIT_AUTHOR_EMAIL": "l2wg@l2wg.invalid",
    "GIT_COMMITTER_NAME": "l2wg", "GIT_COMMITTER_EMAIL": "l2wg@l2wg.invalid",
    "GIT_AUTHOR_DATE": "2000-01-01T00:00:00Z", "GIT_COMMITTER_DATE": "2000-01-01T00:00:00Z",
}


def run_git(repo: Path | None, *args: str | os.PathLike, log: Path | None = None,
            check: bool = True, what: str | None = None,
            env: Mapping[str, str] | None = None, input: str | None = None,
            identity: bool = False) -> Completed:
    """``git -C REPO ARGS`` (no ``-C`` when *repo* is None, as for a clone).

    *identity* adds :data:`IDENTITY` to the environment, *env* more variables
    (over it).  *what* names the command in an error (default ``git SUBCOMMAND``).
    """
    added = {**(IDENTITY if identity else {}), **(env or {})}
    return run(["git", *(["-C", repo] if repo is not None else []), *args], log_path=log,
               check=check, env=added or None, input=input, what=what or f"git {subcommand(args)}")


def git(repo: Path, *args: str | os.PathLike, log: Path | None = None, check: bool = True,
        what: str | None = None) -> str:
    """The output of git in one of l2wg's own trees, run with l2wg's :data:`IDENTITY`."""
    return run_git(repo, *args, log=log, check=check, what=what, identity=True).output


def subcommand(args: tuple) -> str:
    """The git command among *args*: 'am' in ``-c merge.conflictStyle=diff3 am -3 ...``."""
    words = [str(a) for a in args]
    i = 0
    while i < len(words) and words[i].startswith("-"):
        i += 2 if words[i] in ("-c", "-C") else 1
    return words[i] if i < len(words) else (words[0] if words else "")

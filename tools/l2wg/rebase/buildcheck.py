"""``--build``: every patch must compile on the target kernel, not only apply.

A patch can apply cleanly and still not build: when an API it uses changed
between two kernels (between 6.12 and 7.3, ``ndo_fdb_add`` gained ``bool
*notified`` and the ``newlink`` callback came to take ``struct
rtnl_newlink_params``), the text around the patch may be unchanged, so git has
nothing to object to.  With ``--build`` the rebase makes
``drivers/net/wireguard/`` (and the directory of every C file the patch
touches) after each patch, in the kernel's own build directory (``l2wg
build``'s, configured from its fragments).  A patch that does not compile
stops the rebase, as a conflict does, with the compiler's errors in the
report.  The fix is made in the tree and ``--continue`` folds it into the
patch's commit, which then counts as changed for this kernel (an override).
"""

from __future__ import annotations

import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import build as builds
from .. import tree as trees
from ..errors import L2wgError
from ..kernels import Kernel
from ..progress import Progress
from ..project import Project
from ..runner import run
from ..workspace import Workspace

ERROR_RE = re.compile(r"^(?P<file>[\w./+-]+):(?P<line>\d+):(?:\d+:)? (?:fatal )?error: .*$")
#: How many compiler errors a report quotes.
ERROR_LIMIT = 20


@dataclass
class BuildCheck:
    """The outcome of compiling one patch: what was made, how long it took, the errors."""

    targets: list[str]
    ok: bool
    seconds: float
    errors: list[str] = field(default_factory=list)
    warnings: int = 0


def build_dir(kernel: Kernel, ws: Workspace) -> Path:
    """The kernel's own build directory (``l2wg build``'s): configured and built
    already when the kernel was built before, so only the patch's objects are made.
    It ends at the series' last patch, which is what the next ``l2wg build`` makes."""
    return builds.build_dir_for(kernel, builds.BuildOptions(), ws)


def check_commit(kernel: Kernel, project: Project, ws: Workspace, tree: Path, commit: str,
                 log: Path, progress: Progress) -> BuildCheck:
    """Make the targets of *commit* (checked out in *tree*) in the rebase's build directory."""
    directory = build_dir(kernel, ws)
    use_ccache = shutil.which("ccache") is not None
    make = builds.make_command(tree, directory, kernel, builds.BuildOptions(), use_ccache)
    targets = builds.build_targets(tree, commit, log)
    record = trees.load(tree)
    if record is None:
        raise L2wgError(f"{tree}: not an l2wg tree (no record); cannot build-check it", log)
    fragments = [project.fragment(f) for f in kernel.fragments]
    started = time.monotonic()
    progress.step(f"  compiling {' '.join(targets)} (waiting for {builds.KBUILD_LOCK})")
    with builds.locked(directory), builds.kbuild_lock():
        builds.configure(kernel, builds.BuildOptions(), record, fragments, directory, make,
                         log, progress)
        offset = log.stat().st_size if log.exists() else 0
        done = run([*make, *targets], log_path=log, check=False,
                   what=f"make {' '.join(targets)}")
    output = log.read_bytes()[offset:].decode(errors="replace")
    total, _ = builds.count_warnings(output)
    return BuildCheck(targets, done.returncode == 0, round(time.monotonic() - started, 1),
                      compiler_errors(output) if done.returncode else [], total)


def compiler_errors(output: str) -> list[str]:
    """The compiler's error lines (``file:line:col: error: ...``), each once, the first
    ERROR_LIMIT of them; make's own last words when there is none."""
    found = list(dict.fromkeys(m.group(0) for m in map(ERROR_RE.match, output.splitlines())
                               if m))
    if not found:
        found = [builds.last_error(output)]
    return found[:ERROR_LIMIT]

"""The l2wg command line: a thin layer over the library.

parser.py defines the verbs and options (the only argparse user in l2wg),
commands.py turns each verb's arguments into one library call, and this
module runs a verb and decides the exit status from the kind of failure.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
import traceback
from pathlib import Path

from .. import __version__
from ..errors import L2wgError
from ..progress import Progress
from ..project import Project
from ..workspace import Workspace
from .commands import COMMANDS, build_options, rebase_options, submit_options
from .exits import EXIT_CODES, EXIT_INTERNAL, EXIT_INTERRUPTED
from .parser import EPILOG, add_submit_arguments, bench_rebase_parser, build_parser

__all__ = ["COMMANDS", "EPILOG", "EXIT_CODES", "EXIT_INTERNAL", "EXIT_INTERRUPTED",
           "add_submit_arguments", "bench_rebase_main", "build_options", "build_parser",
           "exit_code", "main", "rebase_options", "submit_options"]


def main(argv: list[str] | None = None) -> int:
    """Run the verb; every exit status is decided here, from the kind of failure."""
    args = build_parser().parse_args(argv)      # a usage error exits 2 (bad input) itself
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="l2wg: %(message)s")
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        return COMMANDS[args.verb](args)
    except L2wgError as error:
        print(f"l2wg: error: {_one_line(str(error))}", file=sys.stderr)
        return exit_code(error)
    except KeyboardInterrupt:
        print("l2wg: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:  # noqa: BLE001 -- anything else is a bug in l2wg
        return internal_error(error, getattr(args, "workspace", None), argv)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _interrupt(signum, frame) -> None:
    """SIGTERM (timeout(1), a CI job's time limit) ends l2wg as Ctrl-C does,
    so that the cleanup that kills QEMU and make runs.  Python's default would
    end l2wg at once, and leave them running in process groups of their own."""
    raise KeyboardInterrupt


def exit_code(error: L2wgError) -> int:
    """The exit status of *error*'s kind (EXIT_CODES; 1 for a kind it does not name)."""
    return EXIT_CODES.get(error.kind, 1)


def _one_line(text: str) -> str:
    """*text* on one line: an error is one line on stderr, whatever made its message."""
    return " / ".join(line.strip() for line in text.splitlines() if line.strip())


def internal_error(error: BaseException, workspace: Path | None,
                   argv: list[str] | None) -> int:
    """A bug: one line on stderr, the traceback in a log file; EXIT_INTERNAL."""
    text = (f"l2wg {__version__}, python {sys.version.split()[0]}\n"
            f"argv: {sys.argv[:1] + list(sys.argv[1:] if argv is None else argv)}\n\n"
            + "".join(traceback.format_exception(error)))
    name = f"internal-error-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    where = None
    for directory in ((Workspace(workspace.resolve()) if workspace else Workspace.default()).logs,
                      Path(os.environ.get("TMPDIR") or "/tmp")):
        try:
            directory.mkdir(parents=True, exist_ok=True)
            (directory / name).write_text(text)
            where = directory / name
            break
        except OSError:
            continue
    print(f"l2wg: internal error (a bug in l2wg): {type(error).__name__}: "
          f"{_one_line(str(error))} (traceback: {where or 'could not be written'})",
          file=sys.stderr)
    return EXIT_INTERNAL


def bench_rebase_main(argv: list[str] | None = None) -> int:
    """tools/bench-rebase: time a point-release move; prints medians."""
    from ..bench import bench_rebase

    args = bench_rebase_parser().parse_args(argv)
    try:
        project = Project(args.project.resolve()) if args.project else Project.find()
        ws = Workspace(args.workspace.resolve()) if args.workspace else Workspace.default()
        figures = bench_rebase(project, ws, args.point_release, args.rounds, Progress(),
                               args.full)
    except L2wgError as error:
        print(f"l2wg: error: {_one_line(str(error))}", file=sys.stderr)
        return exit_code(error)
    print(f"rebase benchmark, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}:")
    for figure in figures:
        print("  " + figure.line())
    return 0


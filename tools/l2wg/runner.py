"""Run external commands: log the exact command line, keep the output.

Every subprocess in l2wg goes through :func:`run`.  The command is written
(shell-quoted, with its working directory and any extra environment) to the
stage's log file, followed by everything it prints.  A failure becomes one
:class:`~l2wg.errors.L2wgError` naming the command and the log.
"""

from __future__ import annotations

import logging
import os
import shlex
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import L2wgError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Completed:
    """What a finished command left behind."""

    argv: tuple[str, ...]
    returncode: int
    output: str
    seconds: float


def format_command(argv: Sequence[str | os.PathLike], cwd: Path | None = None,
                   env: Mapping[str, str] | None = None) -> str:
    """The command as a person would type it to rerun it."""
    words = [shlex.quote(str(a)) for a in argv]
    prefix = [f"{k}={shlex.quote(v)}" for k, v in (env or {}).items()]
    line = " ".join(prefix + words)
    if cwd:
        line = f"(cd {shlex.quote(str(cwd))} && {line})"
    return line


def run(argv: Sequence[str | os.PathLike], *, log_path: Path | None = None,
        cwd: Path | None = None, env: Mapping[str, str] | None = None,
        check: bool = True, what: str | None = None,
        on_line: Callable[[str], None] | None = None,
        input: str | None = None, timeout: float | None = None) -> Completed:
    """Run *argv*, appending the command and its output to *log_path*.

    *env* holds variables added to the current environment (they are shown
    in the logged command).  *on_line* sees each output line as it arrives,
    for progress displays.  With *check*, a non-zero exit raises
    :class:`L2wgError` with *what* (default: the program name) and the log.
    """
    argv = [str(a) for a in argv]
    shown = format_command(argv, cwd, env)
    log.debug("run: %s", shown)
    full_env = dict(os.environ)
    full_env.update(env or {})
    start = time.monotonic()
    chunks: list[str] = []
    logf = None
    if log_path is not None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        logf = open(log_path, "a", encoding="utf-8", errors="replace")
        logf.write(f"$ {shown}\n")
        logf.flush()
    try:
        try:
            proc = subprocess.Popen(
                argv, cwd=cwd, env=full_env, text=True, errors="replace",
                stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        except FileNotFoundError as exc:
            raise L2wgError(f"{argv[0]}: command not found (needed for {what or 'this step'})",
                            log_path) from exc
        if input is not None:
            assert proc.stdin is not None
            proc.stdin.write(input)
            proc.stdin.close()
        assert proc.stdout is not None
        deadline = start + timeout if timeout else None
        for line in proc.stdout:
            chunks.append(line)
            if logf:
                logf.write(line)
            if on_line:
                on_line(line.rstrip("\n"))
            if deadline and time.monotonic() > deadline:
                proc.kill()
                break
        try:
            returncode = proc.wait(timeout=max(1.0, deadline - time.monotonic()) if deadline else None)
        except subprocess.TimeoutExpired:
            proc.kill()
            returncode = proc.wait()
        seconds = time.monotonic() - start
        if logf:
            logf.write(f"# exit {returncode} after {seconds:.1f}s\n")
    finally:
        if logf:
            logf.close()
    done = Completed(tuple(argv), returncode, "".join(chunks), seconds)
    if deadline and seconds > timeout:  # type: ignore[operator]
        raise L2wgError(f"{what or argv[0]} timed out after {timeout:.0f}s: {shown}", log_path)
    if check and returncode != 0:
        tail = last_error_line(done.output)
        detail = f": {tail}" if tail else ""
        raise L2wgError(f"{what or os.path.basename(argv[0])} failed (exit {returncode}){detail}",
                        log_path)
    return done


def last_error_line(output: str) -> str:
    """The most telling line of a failed command's output, for the one-line error."""
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    for ln in reversed(lines):
        low = ln.lower()
        if "error" in low or "fatal" in low or "failed" in low or "conflict" in low:
            return ln[:300]
    return lines[-1][:300] if lines else ""

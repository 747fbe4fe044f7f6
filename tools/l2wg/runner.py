"""Run external commands: log the exact command line, keep the output.

Every subprocess in l2wg goes through :func:`run`.  The command is written
(shell-quoted, with its working directory and any extra environment) to the
stage's log file, followed by everything it prints.  A failure becomes one
:class:`~l2wg.errors.L2wgError` naming the command and the log (a program that
is not installed: :class:`~l2wg.errors.MissingTool`).
"""

from __future__ import annotations

import logging
import os
import shlex
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import L2wgError, MissingTool

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Completed:
    """What a finished command left behind."""

    argv: tuple[str, ...]
    returncode: int
    output: str
    seconds: float
    #: Why l2wg ended the command early: "timeout", "idle" or "stopped"
    #: (only set when the caller asked not to raise, see ``raise_on_timeout``).
    ended_by: str | None = None


class _Watchdog:
    """Kills a process at its deadline or after too long a silence, even
    when it prints nothing (the output loop alone would block forever)."""

    def __init__(self, proc: subprocess.Popen, deadline: float | None,
                 idle_timeout: float | None, cancel: threading.Event | None = None):
        self.proc = proc
        self.deadline = deadline
        self.idle_timeout = idle_timeout
        self.cancel = cancel
        self.last_output = time.monotonic()
        self.reason: str | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        if deadline or idle_timeout or cancel:
            self._thread.start()

    def saw_output(self) -> None:
        self.last_output = time.monotonic()

    def kill(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason
        kill_group(self.proc)

    def _watch(self) -> None:
        while not self._done.wait(0.2):
            now = time.monotonic()
            if self.cancel is not None and self.cancel.is_set():
                self.kill("cancelled")
            elif self.deadline and now > self.deadline:
                self.kill("timeout")
            elif self.idle_timeout and now - self.last_output > self.idle_timeout:
                self.kill("idle")

    def stop(self) -> None:
        self._done.set()


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
        input: str | None = None, timeout: float | None = None,
        idle_timeout: float | None = None,
        stop: Callable[[str], bool] | None = None,
        cancel: threading.Event | None = None,
        raise_on_timeout: bool = True,
        passthrough: bool = False) -> Completed:
    """Run *argv*, appending the command and its output to *log_path*.

    *env* holds variables added to the current environment (they are shown
    in the logged command).  *on_line* sees each output line as it arrives,
    for progress displays.  With *check*, a non-zero exit raises
    :class:`L2wgError` with *what* (default: the program name) and the log.

    *timeout* bounds the whole run and *idle_timeout* the time without
    output; the process is killed even if it prints nothing.  *stop* sees
    each line and ends the process when it returns true; *cancel*, set by
    another thread, ends it within 0.2 s (``ended_by`` "cancelled").  Exceeding a
    timeout raises, unless *raise_on_timeout* is false: then the result's
    ``ended_by`` says what happened.  *passthrough* connects the command to
    this terminal (for interactive use); its output is then not captured.
    """
    if passthrough:
        return _run_passthrough(argv, log_path=log_path, cwd=cwd, env=env, check=check,
                                what=what)
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
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                # Its own process group, so a timeout also ends its children
                # (which would otherwise keep the output pipe open).
                process_group=0 if (timeout or idle_timeout or stop or cancel) else None)
        except FileNotFoundError as exc:
            raise MissingTool(f"{argv[0]}: command not found (needed for {what or 'this step'})",
                              log_path) from exc
        if input is not None:
            assert proc.stdin is not None
            proc.stdin.write(input)
            proc.stdin.close()
        assert proc.stdout is not None
        deadline = start + timeout if timeout else None
        watchdog = _Watchdog(proc, deadline, idle_timeout, cancel)
        try:
            for line in proc.stdout:
                watchdog.saw_output()
                chunks.append(line)
                if logf:
                    logf.write(line)
                    logf.flush()
                if on_line:
                    on_line(line.rstrip("\n"))
                if stop and stop(line.rstrip("\n")):
                    watchdog.kill("stopped")
                    break
                if deadline and time.monotonic() > deadline:
                    watchdog.kill("timeout")
                    break
            returncode = proc.wait()
        finally:
            watchdog.stop()
            if proc.poll() is None:
                kill_group(proc)
                proc.wait()
        seconds = time.monotonic() - start
        if logf:
            logf.write(f"# exit {returncode} after {seconds:.1f}s\n")
    finally:
        if logf:
            logf.close()
    done = Completed(tuple(argv), returncode, "".join(chunks), seconds, watchdog.reason)
    if watchdog.reason in ("timeout", "idle") and raise_on_timeout:
        limit = f"after {timeout:.0f}s" if watchdog.reason == "timeout" else \
            f"after {idle_timeout:.0f}s without output"
        raise L2wgError(f"{what or argv[0]} timed out {limit}: {shown}", log_path)
    if watchdog.reason is not None:
        return done  # ended on purpose: the caller looks at ended_by
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


def kill_group(proc: subprocess.Popen) -> None:
    """Kill *proc*, and its process group when it leads one."""
    if proc.poll() is not None:
        return
    try:
        if os.getpgid(proc.pid) == proc.pid:
            os.killpg(proc.pid, 9)
            return
    except ProcessLookupError:
        return
    proc.kill()


def _run_passthrough(argv: Sequence[str | os.PathLike], *, log_path: Path | None,
                     cwd: Path | None, env: Mapping[str, str] | None, check: bool,
                     what: str | None) -> Completed:
    """Run *argv* on this terminal; only the command and exit are logged."""
    argv = [str(a) for a in argv]
    shown = format_command(argv, cwd, env)
    log.debug("run (interactive): %s", shown)
    if log_path is not None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "a", encoding="utf-8") as logf:
            logf.write(f"$ {shown}\n# (interactive, output not captured)\n")
    start = time.monotonic()
    try:
        returncode = subprocess.call(argv, cwd=cwd, env={**os.environ, **(env or {})})
    except FileNotFoundError as exc:
        raise MissingTool(f"{argv[0]}: command not found (needed for {what or 'this step'})",
                          log_path) from exc
    done = Completed(tuple(argv), returncode, "", time.monotonic() - start)
    if check and returncode != 0:
        raise L2wgError(f"{what or os.path.basename(argv[0])} failed (exit {returncode})", log_path)
    return done

"""Running external commands with a bound on time, a typed error, and a heartbeat.

Every command here can hang in ways a test run must survive (a wedged apt lock, a dockerd that
never answers, a go build fighting for 2 cores), so each call carries a timeout; on expiry the
command's whole process group (which this module created) is killed. Failures raise the caller's
error type with one actionable line plus the tail of the command's output.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

from .errors import KindOfflineError
from .progress import Progress, quiet

_TAIL_LINES = 25


def run(
    argv: Sequence[str | os.PathLike[str]],
    *,
    error: type[KindOfflineError],
    what: str,
    hint: str,
    timeout: float,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    stdin: bytes | Path | Callable[[IO[bytes]], None] | None = None,
    nice: int = 0,
    progress: Progress = quiet,
    heartbeat: float = 60.0,
) -> str:
    """Run `argv` and return its combined output; raise `error` if it fails or outlives `timeout`.

    `what` names the action in messages ("go build kubernetes"), `hint` says what to do when it
    fails. `stdin` is data to feed, a file to stream from, or a function writing to the command's
    stdin (large archives generated on the fly; it runs in a thread). With `nice` > 0 the
    command runs at lower CPU priority (big builds on a shared machine). While it runs, `progress`
    gets a line every `heartbeat` seconds so long steps never look hung.
    """
    args = [os.fspath(a) for a in argv]
    if nice > 0:
        args = ["nice", "-n", str(nice), *args]
    stdin_source: int | object = subprocess.DEVNULL
    try:
        if isinstance(stdin, Path):
            stdin_source = stdin.open("rb")
        elif stdin is not None:
            stdin_source = subprocess.PIPE  # fed by a writer thread
        proc = subprocess.Popen(
            args,
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=stdin_source,  # type: ignore[arg-type]
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a process group of our own, so a timeout kills all of it
        )
    except OSError as e:
        raise error(f"{what}: cannot start {args[0]}: {e}; {hint}") from e
    finally:
        if hasattr(stdin_source, "close"):
            stdin_source.close()
    tail: deque[str] = deque(maxlen=_TAIL_LINES)
    chunks: list[bytes] = []
    reader = threading.Thread(target=_drain, args=(proc, tail, chunks), daemon=True)
    reader.start()
    writer_errors: list[BaseException] = []
    writer = None
    if isinstance(stdin, bytes) or callable(stdin):
        writer = threading.Thread(target=_feed, args=(proc, stdin, writer_errors), daemon=True)
        writer.start()
    started = time.monotonic()
    try:
        while True:
            remaining = timeout - (time.monotonic() - started)
            if remaining <= 0:
                _kill_group(proc)
                raise error(f"{what}: timed out after {timeout:.0f} s; {hint}" + _format_tail(tail))
            try:
                proc.wait(timeout=min(heartbeat, remaining))
                break
            except subprocess.TimeoutExpired:
                progress(f"{what}: still running ({time.monotonic() - started:.0f} s)")
    except BaseException:
        _kill_group(proc)
        raise
    reader.join(timeout=10)
    if writer is not None:
        writer.join(timeout=10)
    if writer_errors and not isinstance(writer_errors[0], BrokenPipeError):
        raise error(f"{what}: producing its input failed: {writer_errors[0]}; {hint}") from writer_errors[0]
    if proc.returncode != 0:
        raise error(f"{what}: exit status {proc.returncode}; {hint}" + _format_tail(tail))
    return b"".join(chunks).decode(errors="replace")


def _feed(
    proc: subprocess.Popen[bytes], stdin: bytes | Callable[[IO[bytes]], None], errors: list[BaseException]
) -> None:
    assert proc.stdin is not None
    try:
        if isinstance(stdin, bytes):
            proc.stdin.write(stdin)
        else:
            stdin(proc.stdin)
    except BaseException as e:  # reported by run() in the calling thread
        errors.append(e)
    finally:
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.close()


def _drain(proc: subprocess.Popen[bytes], tail: deque[str], chunks: list[bytes]) -> None:
    assert proc.stdout is not None
    with proc.stdout:
        for line in proc.stdout:
            chunks.append(line)
            tail.append(line.decode(errors="replace").rstrip())


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """Kill the process group this module created for `proc` (never anything else)."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def _format_tail(tail: deque[str]) -> str:
    lines = [line for line in tail if line]
    return ("\n" + "\n".join(lines)) if lines else ""

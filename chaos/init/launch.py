"""Running the service once for `gochaos init`: its binary (built the way the run will build it), a scratch
dir of its own, its process group tracked from the first moment and stopped on exit, failure and Ctrl-C.

The process is a `SupervisedProcess` (the local platform's own), so its group is registered with
`chaos.cleanup` (killed at exit, and by the next run's reclaim after a SIGKILLed init) and its
output lines are stamped on arrival; the scratch dir is a `chaos.state` temp dir, so it goes too.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from chaos import state
from chaos.configfiles import rename_replace
from chaos.errors import TargetError
from chaos.init.listeners import Listener, listeners
from chaos.platform.local.process import SupervisedProcess
from chaos.platform.observations import LogLine
from chaos.published import build_published
from chaos.source_build import build_source
from chaos.targets import GO_OBSERVABILITY_ENV, RestartPolicy

Progress = Callable[[str], None]
#: How long the service may take to listen on its ports.
START_TIMEOUT_S = 20.0
#: Its set of listeners must stay the same this long before init trusts it (a second port opens late).
SETTLED_S = 1.0


@dataclass(frozen=True)
class Binary:
    """The service's binary, and how the scenario will name it."""

    path: Path
    #: go_install REF, build DIR, or None for a binary path given as is.
    go_install: str | None = None
    build: Path | None = None


def resolve_binary(binary: str | None, *, go_install: str | None, build: Path | None, progress: Progress) -> Binary:
    """The binary to run: built from the Go module proxy (`go_install`) or from source (`build`) into the suite's
    own caches, so the run that follows finds it there; else the path given."""
    if go_install is not None:
        started = time.monotonic()
        path = build_published(go_install, progress=progress)
        progress(f"binary: {go_install} ({time.monotonic() - started:.1f} s)")
        return Binary(path, go_install=go_install)
    if build is not None:
        started = time.monotonic()
        path = build_source(build, progress=progress)
        progress(f"binary: built from {build} ({time.monotonic() - started:.1f} s)")
        return Binary(path, build=build)
    assert binary is not None
    found = Path(binary)
    if not found.is_file() or not os.access(found, os.X_OK):
        raise TargetError(f"{binary}: not an executable file; give the service's binary, or --go-install "
                          "MODULE/cmd/x@VERSION, or --build DIR (its main package)")
    return Binary(found.resolve())


@contextmanager
def scratch_dir() -> Iterator[Path]:
    """A temp dir of init's own, removed at the end (and by the next run's reclaim if init is killed)."""
    path = state.make_temp_dir("gochaos-init-")
    try:
        yield path
    finally:
        state.remove_temp_dir(path)


class Launched:
    """The service running in `workdir` with `argv`; `config` (if any) is its config file there."""

    def __init__(self, name: str, argv: Sequence[str], workdir: Path, config: Path | None,
                 env: Mapping[str, str] | None = None) -> None:
        self.name, self.workdir, self.config = name, workdir, config
        environ = {**os.environ, **GO_OBSERVABILITY_ENV, **(env or {})}
        self.process = SupervisedProcess(name, argv, log_path=workdir / "output.log", env=environ, cwd=workdir,
                                         restart=RestartPolicy.NEVER)

    def __enter__(self) -> Launched:
        self.process.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.stop()

    @property
    def alive(self) -> bool:
        return self.process.running

    def lines(self, since_ns: int | None = None) -> list[LogLine]:
        return self.process.lines(since_ns)

    def died(self) -> str | None:
        """How the current incarnation ended (None: still running)."""
        if self.alive:
            return None
        exits = self.process.exits
        if not exits:
            return "it is not running"
        last = exits[-1]
        how = f"signal {last.signal}" if last.signal else f"exit status {last.returncode}"
        return f"it exited ({how})"

    def last_words(self, count: int = 4) -> str:
        """Its first output line (a usage error says it there) and its last few, joined on one line."""
        lines = [line.text.strip() for line in self.process.lines() if line.text.strip()
                 and not line.text.startswith("gc ")]
        if len(lines) > count + 1:
            lines = [lines[0], "...", *lines[-count:]]
        return " | ".join(lines) if lines else "(no output)"

    def write_config(self, text: str) -> None:
        """Replace its config file the way the storm does by default (a temp file renamed over it)."""
        assert self.config is not None
        rename_replace(self.config, text)

    def start_again(self) -> None:
        """A new incarnation after it exited (a signal it does not handle, a crash)."""
        self.process.start_again()

    def listening(self, *, expected: set[int] | None = None, timeout_s: float = START_TIMEOUT_S) -> list[Listener]:
        """What it listens on once started: every `expected` port when given, else a set of listeners that
        stayed the same for SETTLED_S. TargetError when it exits first or listens on nothing in time."""
        deadline = time.monotonic() + timeout_s
        seen: list[Listener] = []
        since = time.monotonic()
        while True:
            pid = self.process.pid
            if (why := self.died()) is not None:
                raise TargetError(f"{self.name}: {why} before it listened on a port: {self.last_words()}; fix the "
                                  "command or the config (run it by hand with the same argv to see)")
            now = listeners(pid) if pid is not None else []
            if now != seen:
                seen, since = now, time.monotonic()
            ports = {listener.port for listener in seen}
            if expected is not None and expected <= ports and time.monotonic() - since >= 0.2:
                return seen
            if expected is None and seen and time.monotonic() - since >= SETTLED_S:
                return seen
            if time.monotonic() > deadline:
                break
            time.sleep(0.1)
        if expected is not None:
            missing = sorted(expected - {listener.port for listener in seen})
            raise TargetError(f"{self.name} did not listen on port(s) {missing} within {timeout_s:g} s (it listens "
                              f"on {', '.join(map(str, seen)) or 'nothing'}): {self.last_words()}")
        raise TargetError(f"{self.name} listens on no TCP or UDP port {timeout_s:g} s after it started: "
                          f"{self.last_words()}; give the flags or config that make it listen")

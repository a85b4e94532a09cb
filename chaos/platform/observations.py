"""What every platform observes of a running target, whatever runs it: log lines and exits.

Local processes and Kubernetes containers both produce these records, and the oracles read them
without knowing which platform wrote them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LogLine:
    """One line of a child's output, stamped when the suite read it."""

    t_ns: int
    stream: str
    text: str
    incarnation: int


@dataclass(frozen=True, slots=True)
class ExitRecord:
    """How one incarnation of a process ended."""

    t_ns: int
    pid: int
    incarnation: int
    returncode: int
    #: Signal name when the process was killed by a signal, else None.
    signal: str | None
    #: True when the suite asked for the exit (stop, restart, injected kill).
    requested: bool
    #: Why the platform says it ended, when it says more than the status (Kubernetes: OOMKilled).
    reason: str | None = None

    @property
    def failed(self) -> bool:
        return self.returncode != 0

    def describe(self) -> str:
        how = f"killed by {self.signal}" if self.signal else f"exit status {self.returncode}"
        if self.reason:
            how += f" ({self.reason})"
        who = f"pid {self.pid}" if self.pid else "container"  # 0: a pid not visible from here
        return f"{who} (incarnation {self.incarnation}) {how}"

"""The one error root of gochaos, and the exit code each kind of failure maps to.

Hierarchy::

    ChaosError                      anything gochaos raises on purpose
    +-- UsageError                  bad command line or option value          (exit 2)
    |   +-- ExternalEtcdError       the team's etcd (etcd.external) refused, unreachable or its TLS missing
    |   +-- MissingExtra            the run needs an optional part not installed (gochaos[kubernetes], [grpc])
    +-- ScenarioError               scenario file malformed or invalid        (exit 2)
    |   +-- ConfigError             a target's config text cannot be filled, parsed or mutated
    +-- InfrastructureError         the suite could not set the stage         (exit 3)
    |   +-- BuildError              `go build` of a target or etcd failed
    |   +-- TargetError             a target would not start, or died at once
    |   +-- PlatformError           the platform (local processes, Kubernetes) failed
    |   |   +-- TargetDown          the target was not running when a fault reached for it: the
    |   |                           service's failure (its crash is judged), never the run's error
    |   +-- EtcdError               the etcd cluster could not start or answer
    |   +-- LoadError               the load generator could not start or died
    +-- InjectionFailed             a fault could not be injected             (exit 3)
    |   +-- Unavailable             this platform lacks an ability the fault needs
    +-- RevertFailed                a fault could not be reverted: needs a human (exit 3)
    +-- Interrupted                 SIGINT / SIGTERM arrived; everything was cleaned up (exit 130)

Every message says what failed and what to do about it. Foreign errors are wrapped with
``raise PlatformError(f"start {name}: {e}") from e`` so the cause stays attached.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Exit codes of `gochaos run`, stable for CI scripts."""

    PASS = 0
    FAIL = 1
    USAGE = 2
    INFRASTRUCTURE = 3
    INCONCLUSIVE = 4
    INTERRUPTED = 130


class ChaosError(Exception):
    """Root of every error gochaos raises on purpose."""

    exit_code: ExitCode = ExitCode.INFRASTRUCTURE


class UsageError(ChaosError):
    """A command-line argument or option value is wrong."""

    exit_code = ExitCode.USAGE


class ExternalEtcdError(UsageError):
    """The team's etcd a scenario names cannot be used as given: an endpoint refuses the client certificate,
    is not signed by the CA, does not answer, or its TLS material (files, Secret, key) is missing. Checked
    before any fault; the message names the endpoint or the file and the fix."""


class MissingExtra(UsageError):
    """The scenario needs an optional part of gochaos that is not installed (a Kubernetes platform run needs
    gochaos[kubernetes], the grpc load user or a gRPC readiness check gochaos[grpc]).

    Raised when the run is planned, before anything starts; the one-line message names the extra to install.
    """

    def __init__(self, extra: str, needed_for: str) -> None:
        super().__init__(f"{needed_for}: install gochaos[{extra}] (pip install 'gochaos[{extra}]')")
        self.extra = extra
        self.needed_for = needed_for


class ScenarioError(ChaosError):
    """A scenario file cannot be read or does not validate."""

    exit_code = ExitCode.USAGE


class ConfigError(ScenarioError):
    """A target's config text cannot be filled, parsed or mutated: the message names file:line and the fix."""


class InfrastructureError(ChaosError):
    """The suite could not set the stage: nothing was judged."""


class BuildError(InfrastructureError):
    """Building a Go target or the etcd binaries failed."""


class TargetError(InfrastructureError):
    """A target would not start, did not become ready, or its spec is unusable."""


class PlatformError(InfrastructureError):
    """The platform running the targets failed (processes, ports, Kubernetes API)."""


class TargetDown(PlatformError):
    """A fault reached for a target that was not running (it crashed, exited or is restarting).

    Raised by the platforms where a signal or request needs the live process; the fault framework
    records it and goes on, so the crash is judged by the oracles (`panics`) instead of ending the run.
    """


class EtcdError(InfrastructureError):
    """The etcd cluster could not be started, queried or driven."""


class LoadError(InfrastructureError):
    """The load generator could not start, or died during the run."""


class InjectionFailed(ChaosError):
    """A fault could not be injected at all (as opposed to injected but not landing)."""


class Unavailable(InjectionFailed):
    """The platform lacks an ability the fault needs (a one-line reason, nothing was touched)."""


class RevertFailed(ChaosError):
    """A fault could not be reverted. The system may be left degraded: the message says how to fix it."""


class Interrupted(ChaosError):
    """The run was interrupted by a signal; everything started was stopped."""

    exit_code = ExitCode.INTERRUPTED

    def __init__(self, signal_name: str) -> None:
        super().__init__(f"interrupted by {signal_name}; everything the run started was stopped")
        self.signal_name = signal_name

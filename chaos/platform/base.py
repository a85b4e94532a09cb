"""The neutral platform contract: where targets run, and what the suite can observe and do there.

Injectors and oracles only ever talk to a `Platform` and a `RunningTarget`, so a scenario gives the
same verdict on local processes and on Kubernetes. A platform records every start, exit and restart
on the run's Timeline as it happens. `Platform` is a base class: it keeps what every way of
running targets shares (the run dir, the targets by name, stopping them all, closing), and each
platform overrides only how a target is started, stopped and restarted. Abilities only some
platforms have (resource limits, a hog beside a target) are separate Protocols in
`chaos.platform.abilities`, asked for by the injectors that need them.
"""

from __future__ import annotations

import functools
import signal
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, Self, runtime_checkable

from typing_extensions import TypeVar

from chaos import configfiles, state
from chaos.cleanup import stop_concurrently
from chaos.configfiles import WriteMode
from chaos.errors import PlatformError
from chaos.platform.etcd import ClientTls, EtcdLeadership
from chaos.platform.external_etcd import ExternalEtcdCluster, tls_files
from chaos.platform.observations import ExitRecord, LogLine
from chaos.suggest import did_you_mean
from chaos.targets import TargetSpec
from chaos.timeline import Timeline

if TYPE_CHECKING:
    from chaos.external_etcd import ExternalEtcd
    from chaos.platform.kinds import PlatformKind


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where the suite reaches a target (always loopback, or a namespace the run created)."""

    host: str
    port: int

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


class StartedTarget:
    """What every platform knows of a target once started: the part of `RunningTarget` that is facts.

    Platforms subclass it and add what differs (restarts, pid, logs, exits, signals).
    """

    def __init__(self, spec: TargetSpec, endpoint: Endpoint, config_path: Path | None,
                 extra_env: Mapping[str, str], ports: Mapping[str, Endpoint] | None = None,
                 placeholders: Mapping[str, str] | None = None) -> None:
        self._spec, self._endpoint, self._config_path = spec, endpoint, config_path
        self._extra_env = dict(extra_env)
        self._ports = dict(ports or {})
        self._placeholders = dict(placeholders or {})

    def endpoint_for(self, port: str | None) -> Endpoint:
        """The main endpoint, or that of named extra port `port`."""
        if port is None:
            return self._endpoint
        try:
            return self._ports[port]
        except KeyError:
            raise PlatformError(f"target {self._spec.name} has no port named {port!r}; declare it in its "
                                f"`ports` (has: {', '.join(self._ports) or 'none'})") from None

    @property
    def placeholders(self) -> Mapping[str, str]:
        """What each placeholder meant for this target (its config's and variants' {listen}, {port.NAME}, ...)."""
        return self._placeholders

    @property
    def spec(self) -> TargetSpec:
        return self._spec

    @property
    def endpoint(self) -> Endpoint:
        return self._endpoint

    @property
    def config_path(self) -> Path | None:
        return self._config_path

    @property
    def extra_env(self) -> Mapping[str, str]:
        return self._extra_env

    def read_config(self) -> str:
        return self._config_file().read_text(encoding="utf-8")

    def write_config(self, text: str, mode: WriteMode) -> None:
        if mode not in configfiles.FILE_MODES:
            raise PlatformError(configfiles.unreachable(self._spec.name, mode, configfiles.FILE_MODES))
        configfiles.write(self._config_file(), text, mode)

    def restore_config(self, text: str) -> None:
        configfiles.restore_plain(self._config_file(), text)

    def _config_file(self) -> Path:
        if self._config_path is None:
            raise PlatformError(f"target {self._spec.name} has no config file")
        return self._config_path


@runtime_checkable
class RunningTarget(Protocol):
    """A started target as injectors and oracles see it."""

    @property
    def spec(self) -> TargetSpec: ...

    @property
    def endpoint(self) -> Endpoint: ...

    @property
    def config_path(self) -> Path | None:
        """The config file the target watches, as the suite can write it (None: no config, or a ConfigMap)."""
        ...

    @property
    def restarts(self) -> int: ...

    @property
    def pid(self) -> int | None:
        """Host pid of the running process (None when not running or not visible from here)."""
        ...

    @property
    def extra_env(self) -> Mapping[str, str]:
        """Environment the suite added at start (e.g. the chaosagent token)."""
        ...

    @property
    def placeholders(self) -> Mapping[str, str]:
        """What each placeholder meant for this target when it started."""
        ...

    def endpoint_for(self, port: str | None) -> Endpoint:
        """The main endpoint (None), or that of a named extra port."""
        ...

    def read_config(self) -> str:
        """The config text the target was last given."""
        ...

    def write_config(self, text: str, mode: WriteMode) -> None:
        """Give the target a new config, the way `mode` says (PlatformError where it cannot)."""
        ...

    def restore_config(self, text: str) -> None:
        """Put `text` back as the plain config, undoing any layout the writes made."""
        ...

    def logs(self, since_ns: int | None = None) -> list[LogLine]: ...

    def exits(self) -> list[ExitRecord]: ...

    def send_signal(self, sig: signal.Signals) -> None: ...


#: The platform's own target class; a bare `Platform` is any platform, its targets `RunningTarget`s.
T = TypeVar("T", bound=RunningTarget, default=RunningTarget, covariant=True)


class Platform(ABC, Generic[T]):
    """Starts, stops and restarts targets; closes everything it started on `close()`.

    Subclasses implement `start_target`, `stop_target`, `restart_target` and `start_etcd`, and
    may add to `close` through `_release`; the rest is the same everywhere.
    """

    #: What this platform is at plan time (its name, the write modes that reach its targets, ...).
    kind: ClassVar[PlatformKind]

    @property
    def name(self) -> str:
        return self.kind.name

    def __init__(self, *, timeline: Timeline, run_dir: Path | None, keep: bool) -> None:
        self.timeline = timeline
        #: A run dir the caller named is theirs: it is kept. Otherwise a temp dir, removed on close.
        self.keep = keep or run_dir is not None
        # absolute: targets run with their work dir as cwd, so a relative path would point nowhere
        if run_dir is not None:
            self.run_dir = run_dir.resolve()
        elif keep:
            self.run_dir = Path(tempfile.mkdtemp(prefix="gochaos-run-")).resolve()
        else:  # a temp dir nobody asked to keep: recorded, so even a crash does not leak it
            self.run_dir = state.make_temp_dir("gochaos-run-")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._targets: dict[str, T] = {}

    @abstractmethod
    def start_target(self, spec: TargetSpec, *, extra_env: Mapping[str, str] | None = None,
                     etcd_endpoints: str = "", etcd_tls: ClientTls | None = None) -> T:
        """Start `spec` and wait until it is ready; TargetError saying why when it is not.

        `etcd_tls` is the client TLS of the etcd at `etcd_endpoints`, passed with the spec's
        `etcd_tls_flags` (see `etcd_tls_args`)."""

    @abstractmethod
    def stop_target(self, name: str) -> None:
        """Stop target `name` for good (nothing when there is no such target)."""

    @abstractmethod
    def restart_target(self, name: str, *,
                       env: Mapping[str, str | None] | None = None) -> dict[str, str | None]:
        """Restart a target (a requested exit, not a crash), optionally changing its environment.

        `env` sets variables, or removes them where the value is None; returns the previous values
        of those variables, so passing them back restores the original environment.
        """

    @abstractmethod
    def start_etcd(self, *, size: int = 3, heartbeat_ms: int = 50,
                   election_ms: int = 500) -> EtcdLeadership[Any]:
        """A started etcd cluster of `size` members with a leader; the caller stops it."""

    def open_external_etcd(self, external: ExternalEtcd) -> EtcdLeadership[Any]:
        """The team's etcd, checked before any fault (ExternalEtcdError, exit 2, naming the endpoint and the
        fix); nothing is started. TLS from files here; Kubernetes adds Secrets, pods and its own checks."""
        return ExternalEtcdCluster(external, timeline=self.timeline, tls=tls_files(external.tls)).started()

    def target(self, name: str) -> T:
        try:
            return self._targets[name]
        except KeyError:
            raise PlatformError(f"no target named {name!r} in this run{did_you_mean(name, self._targets)}") from None

    def _claim(self, name: str) -> None:
        """Refuse a second target of the same name before anything of it is started."""
        if name in self._targets:
            raise PlatformError(f"a target named {name!r} is already running in this run")

    def stop_all(self) -> None:
        """Stop every target at once (before the etcd they depend on goes, so none waits on it)."""
        stop_concurrently([functools.partial(self.stop_target, name) for name in list(self._targets)])

    def close(self) -> None:
        """Stop every target and release what the platform holds; remove the run dir unless kept."""
        try:
            self._close_targets()
            self._release()
        finally:
            if not self.keep:
                state.remove_temp_dir(self.run_dir)

    def _close_targets(self) -> None:
        self.stop_all()

    def _release(self) -> None:
        """What a platform holds beyond its targets (a namespace, a shared directory)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def etcd_tls_args(spec: TargetSpec, tls: ClientTls | None) -> list[str]:
    """The flags that give `spec` etcd's client TLS files (none for plain HTTP, or a spec that takes none)."""
    if tls is None or spec.etcd_tls_flags is None:
        return []
    ca, cert, key = spec.etcd_tls_flags
    args = [f"{ca}={tls.ca_file}"]
    if tls.cert_file is not None and tls.key_file is not None:
        args += [f"{cert}={tls.cert_file}", f"{key}={tls.key_file}"]
    return args

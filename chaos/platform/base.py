"""The Platform protocol: where targets run, and what the suite can observe and do there.

Injectors and oracles only ever talk to a `Platform` and a `RunningTarget`, so a scenario gives the
same verdict on local processes and on Kubernetes. A platform records every start, exit and restart
on the run's Timeline as it happens.
"""

from __future__ import annotations

import signal
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from chaos import configfiles
from chaos.configfiles import WriteMode
from chaos.errors import PlatformError
from chaos.platform.etcd import EtcdLeadership
from chaos.platform.observations import ExitRecord, LogLine
from chaos.targets import TargetSpec


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
                 extra_env: Mapping[str, str]) -> None:
        self._spec, self._endpoint, self._config_path = spec, endpoint, config_path
        self._extra_env = dict(extra_env)

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
        if mode is WriteMode.CONFIGMAP_API:
            raise PlatformError(f"{self._spec.name}: {configfiles.NEEDS_KUBERNETES}")
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


class Hog(Protocol):
    """A bounded memory/CPU hog running beside a target (gc_pressure's `hog` method)."""

    #: Where it runs, for the fault's details (a pid, or a pod and its node).
    where: str

    def rss_mb(self) -> int:
        """Its resident memory now, in MiB (0 when not running or not readable)."""
        ...

    def stop(self) -> None: ...


class Platform(Protocol):
    """Starts, stops and restarts targets; closes everything it started on `close()`."""

    name: str
    #: Local directory for the run's artefacts (logs, generated files).
    run_dir: Path

    def start_target(self, spec: TargetSpec, *, extra_env: Mapping[str, str] | None = None,
                     etcd_endpoints: str = "") -> RunningTarget: ...

    def stop_target(self, name: str) -> None: ...

    def restart_target(self, name: str, *,
                       env: Mapping[str, str | None] | None = None) -> dict[str, str | None]: ...

    def target(self, name: str) -> RunningTarget: ...

    def start_etcd(self, *, size: int = 3, heartbeat_ms: int = 50,
                   election_ms: int = 500) -> EtcdLeadership[Any]:
        """A started etcd cluster of `size` members with a leader; the caller stops it."""
        ...

    def start_hog(self, near: str, *, mb: int, cpu: bool, duration_s: float) -> Hog:
        """Start the hog binary beside target `near`, holding `mb` MiB (and a CPU) for `duration_s`."""
        ...

    def stop_all(self) -> None:
        """Stop every target (before the etcd they depend on goes, so none waits on it)."""
        ...

    def close(self) -> None: ...

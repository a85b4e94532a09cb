"""The Target contract: what gochaos needs to know to run and judge ANY Go service.

A `TargetSpec` says how to run the service (argv with placeholders the platform fills in), how to
tell it is ready, how config reaches it and how a reload is triggered, how to read its live config
version, and whether it mounts chaosagent. The bundled targets (configd, kvd, allocd) are just
registered specs, built from go_targets/ by `chaos.build`.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from chaos.build import go_targets_dir
from chaos.errors import TargetError
from chaos.suggest import did_you_mean

#: Placeholders the platform substitutes in `command` and `env` values.
PLACEHOLDERS = ("binary", "listen", "host", "port", "config", "etcd_endpoints", "workdir")


class RestartPolicy(enum.StrEnum):
    """When a supervised process is started again after it exits (Kubernetes' names)."""

    ALWAYS = "always"
    ON_FAILURE = "on-failure"
    NEVER = "never"


class ReloadTrigger(enum.StrEnum):
    """How a new config is made live."""

    WATCH = "watch"  # the service watches its config file
    SIGHUP = "sighup"  # the service reloads on SIGHUP
    HTTP = "http"  # the service reloads on an HTTP POST


class ConfigDelivery(enum.StrEnum):
    """How the platform gets the config file into the target."""

    FILE = "file"  # a file the suite writes directly (on Kubernetes: a directory the node shares)
    CONFIGMAP = "configmap"  # Kubernetes: a mounted ConfigMap, changed through the API, synced by the kubelet


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Readiness(_Frozen):
    """How the platform knows the service is up."""

    http_path: str | None = Field(
        "/-/readyz", description="GET path that answers 2xx when ready; None: TCP connect only"
    )
    timeout_s: float = Field(15.0, gt=0, description="Give up (TargetError) after this long")


class ConfigSpec(_Frozen):
    """Where the service's config file lives and how a reload is triggered."""

    file_name: str = Field("config.yaml", description="File name inside the target's work dir, passed as {config}")
    initial: str = Field(description="Text of the first config written before start")
    trigger: ReloadTrigger = Field(ReloadTrigger.WATCH, description="How a reload is made to happen")
    http_reload_path: str = Field("/-/reload", description="POST path used when trigger is http")
    delivery: ConfigDelivery = Field(ConfigDelivery.FILE, description="How the file reaches the target: file, "
                                                                      "or configmap (Kubernetes only)")


class VersionProbe(_Frozen):
    """How to read which config version is live (the rollback oracle needs it)."""

    header: str | None = Field("X-Config-Version", description="Response header carrying the version")
    endpoint: str | None = Field("/-/config", description="GET path returning JSON with the live version")
    json_field: str = Field("version", description="Field of that JSON holding the version")


class TargetSpec(_Frozen):
    """One Go service under test, per the Target contract in the design."""

    name: str = Field(pattern=r"^[a-z][a-z0-9-]{0,40}$", description="Unique name in the run")
    binary: str | None = Field(None, description="Bundled binary built by chaos.build, substituted as {binary}")
    command: tuple[str, ...] = Field(
        description="argv; may use the placeholders " + " ".join(f"{{{p}}}" for p in PLACEHOLDERS)
    )
    env: Mapping[str, str] = Field(
        default_factory=dict, description="Extra environment; GOTRACEBACK/GODEBUG defaults apply unless set here"
    )
    restart: RestartPolicy = Field(RestartPolicy.ALWAYS, description="Restart policy after an exit, like a pod's")
    readiness: Readiness = Field(default_factory=Readiness)
    config: ConfigSpec | None = None
    version: VersionProbe | None = None
    chaosagent: bool = Field(False, description="The service mounts chaosagent under /-/chaos/")
    race: bool = Field(False, description="Build the bundled binary with the Go race detector: the first "
                                         "data race stops the service with the race report")
    needs_etcd: bool = Field(False, description="Start an etcd cluster first and pass {etcd_endpoints}")
    load_user: str | None = Field(None, description="Built-in Locust user that fits this service")


#: Environment every launched Go service gets unless its spec overrides it: full crash dumps and
#: one gctrace line per GC, which the panic and GC observers read.
GO_OBSERVABILITY_ENV: Mapping[str, str] = {"GOTRACEBACK": "all", "GODEBUG": "gctrace=1"}


def _flags(flags: Mapping[str, object]) -> tuple[str, ...]:
    return tuple(f"--{key.replace('_', '-')}={value}" for key, value in flags.items())


def _sample_config(file_name: str) -> str:
    path = go_targets_dir() / "configs" / file_name
    try:
        return path.read_text(encoding="utf-8")
    except OSError as e:
        raise TargetError(f"bundled config {path} is unreadable: {e}") from e


def _bundled(binary: str, name: str, flags: Mapping[str, object], *args: str, **fields: Any) -> TargetSpec:
    """A bundled target: listens on {listen}, mounts chaosagent, has a built-in Locust user of its name."""
    return TargetSpec(name=name, binary=binary, command=("{binary}", "--listen={listen}", *args, *_flags(flags)),
                      chaosagent=True, load_user=binary, **fields)


def configd(name: str = "configd", **flags: object) -> TargetSpec:
    """configd: config hot-reload gateway (incidents 1 and 2). Flags: reload_strategy, cache_lock."""
    return _bundled("configd", name, flags, "--config={config}", "--watch-config",
                    config=ConfigSpec(initial=_sample_config("configd.yaml")), version=VersionProbe())


def kvd(name: str = "kvd", **flags: object) -> TargetSpec:
    """kvd: etcd-backed service (incident 3). Flags: ctx_mode."""
    return _bundled("kvd", name, flags, "--endpoints={etcd_endpoints}", needs_etcd=True)


def allocd(name: str = "allocd", **flags: object) -> TargetSpec:
    """allocd: allocation-heavy service (incident 4). Flags: leak, shed_over_pct."""
    return _bundled("allocd", name, flags)


BUNDLED: Mapping[str, Callable[..., TargetSpec]] = {
    "configd": configd,
    "kvd": kvd,
    "allocd": allocd,
}


def bundled(kind: str, name: str | None = None, **flags: object) -> TargetSpec:
    """The spec of a bundled target by name, with its command-line flags."""
    try:
        factory = BUNDLED[kind]
    except KeyError:
        raise TargetError(f"unknown bundled target {kind!r}{did_you_mean(kind, BUNDLED)}") from None
    return factory(name or kind, **flags)


def fill_placeholders(template: str, values: Mapping[str, str], target: str) -> str:
    """`template` with its {placeholders} filled; TargetError naming the valid ones if it has others."""
    try:
        return template.format_map(values)
    except (KeyError, ValueError, IndexError) as e:
        raise TargetError(
            f"target {target}: bad placeholder in {template!r} ({e}); "
            "use " + " ".join(f"{{{name}}}" for name in PLACEHOLDERS)
        ) from e


def chaosagent_env(token: str) -> dict[str, str]:
    """Environment that switches chaosagent on in a bundled target."""
    return {"CHAOSAGENT_TOKEN": token}

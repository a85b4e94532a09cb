"""How the suite learns which config a service is serving, without assuming it (the Target contract).

A config's identity is its version key when it has one, else its content hash. Services show it in
different places, and a target may name several: a response header, a field of a JSON endpoint,
a Prometheus metric (the Go convention: `*_config_hash`, `*_config_info{hash=...}`,
`*_config_last_reload_successful`), an endpoint returning the whole live config, or a log line.
Each probe may read from a named extra port (an admin listener) instead of the main one.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from chaos.configs.placeholders import PORT_NAME


class _Probe(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    port: str | None = Field(None, pattern=PORT_NAME, description="Named extra port to read from (None: the main one)")


class HeaderProbe(_Probe):
    """The identity in a response header every request carries."""

    kind: Literal["header"] = "header"
    header: str = Field("X-Config-Version", description="Response header with the live version or hash")
    path: str = Field("/", description="GET path to ask when polling")


class JsonProbe(_Probe):
    """The identity in a field of a JSON endpoint."""

    kind: Literal["json"] = "json"
    path: str = Field("/-/config", description="GET path answering JSON")
    field: str = Field("version", description="Dotted path of the field holding the version or hash")
    moves: bool = Field(False, description="The field is a reload timestamp or counter (e.g. NATS /varz "
                                           "config_load_time): a change proves a reload, not which config")


class MetricsProbe(_Probe):
    """The identity in Prometheus metrics, parsed with the exposition-format parser."""

    kind: Literal["metrics"] = "metrics"
    path: str = Field("/metrics", description="GET path of the exposition")
    metric: str = Field(description="Sample name holding the identity (e.g. app_config_info, app_config_hash)")
    label: str | None = Field(None, description="Label holding the identity (None: the sample's value)")
    success: str | None = Field(None, description="Sample that is 1 after a successful reload, 0 after a "
                                                  "rejected one (e.g. app_config_last_reload_successful)")
    moves: bool = Field(False, description="The sample is a reload timestamp or counter: a change proves a "
                                           "reload, not which config")
    failures: str | None = Field(None, description="Counter of failed reloads (e.g. coredns_reload_failed_total): "
                                                   "when it rises, the service rejected a config")


class ConfigProbe(_Probe):
    """An endpoint answering the whole live config as JSON, compared structurally with what was written."""

    kind: Literal["config"] = "config"
    path: str = Field("/-/config", description="GET path answering the live config as JSON")


class LogProbe(_Probe):
    """Reload outcomes in the service's log lines."""

    kind: Literal["log"] = "log"
    accepted: str = Field(description="Regex of an accepted-reload line; its group `id` (if any) is the identity")
    rejected: str | None = Field(None, description="Regex of a rejected-reload line; its group `id` (if any) names "
                                                   "the rejected config")

    @field_validator("accepted", "rejected")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as e:
                raise ValueError(f"not a valid regular expression ({e})") from None
        return value


LiveProbe = Annotated[HeaderProbe | JsonProbe | MetricsProbe | ConfigProbe | LogProbe, Field(discriminator="kind")]

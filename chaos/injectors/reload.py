"""reload_storm: rapid config reloads, the trigger of incident 1 (hot-reload panic).

Writes new config versions to the target's config file the way real tools do (rename-replace like
`sed -i` and editors, or truncate-and-write in place), triggers the reload the target's contract
names (its file watch, SIGHUP, or an HTTP endpoint), records every write on the timeline with the
version and whether it is valid, and proves the fault landed by reading the live version back.
The `incident` pattern is the reported pair: a value-only change, then 100 ms later a structural one.
"""

from __future__ import annotations

import copy
import enum
import os
import signal
import time
from pathlib import Path
from typing import Any

import requests
import yaml
from pydantic import Field

from chaos.errors import InjectionFailed
from chaos.injectors.base import (
    FaultOutcome,
    InjectionContext,
    Injector,
    InjectorParams,
    register,
)
from chaos.platform.base import RunningTarget
from chaos.readiness import wait_until
from chaos.targets import ReloadTrigger
from chaos.timeline import now_ns


class Pattern(enum.StrEnum):
    INCIDENT = "incident"  # value change, then `pair_gap_ms` later a structural change
    VALUE = "value"
    STRUCTURAL = "structural"
    INVALID = "invalid"  # a schema violation (negative rate limit) the target must reject


class WriteMode(enum.StrEnum):
    RENAME = "rename"  # write a temp file, rename it over the config (sed -i, editors)
    TRUNCATE = "truncate"  # truncate the config in place and write the new text


class ReloadStormParams(InjectorParams):
    pattern: Pattern = Field(Pattern.INCIDENT, description="What each round writes")
    rounds: int = Field(5, ge=1, le=10_000, description="How many rounds of the pattern")
    interval_ms: int = Field(500, ge=1, le=600_000, description="From one round's start to the next")
    pair_gap_ms: int = Field(100, ge=1, le=60_000, description="Gap inside an incident pair")
    write_mode: WriteMode = Field(WriteMode.RENAME, description="How the file is replaced")
    version_key: str = Field("version", description="Top-level key holding the config version")
    settle_ms: int = Field(3000, ge=0, le=120_000, description="How long the target may take to "
                                                              "show the last valid version")


@register
class ReloadStorm(Injector):
    name = "reload_storm"
    description = "Rapid config reloads: value and structural changes written like sed -i does"
    Params = ReloadStormParams

    def __init__(self, params: InjectorParams, target: str | None = None) -> None:
        super().__init__(params, target)
        self._original: bytes | None = None
        self._path: Path | None = None

    @property
    def p(self) -> ReloadStormParams:
        assert isinstance(self.params, ReloadStormParams)
        return self.params

    def expected_duration_s(self) -> float:
        p = self.p
        return (p.rounds * p.interval_ms + p.pair_gap_ms + p.settle_ms) / 1000

    def available(self, ctx: InjectionContext) -> str | None:
        assert self.target_name is not None
        target = ctx.target(self.target_name)
        if target.config_path is None or target.spec.config is None:
            return f"target {self.target_name} has no config file to reload"
        return None

    def inject(self, ctx: InjectionContext) -> FaultOutcome:
        assert self.target_name is not None
        target = ctx.target(self.target_name)
        path = target.config_path
        assert path is not None
        self._path = path
        self._original = path.read_bytes()
        current = yaml.safe_load(self._original) or {}
        if not isinstance(current, dict):
            raise InjectionFailed(f"{path} does not hold a YAML mapping; cannot mutate it")
        tag = f"gochaos-{ctx.rng.randrange(16**6):06x}"
        last_valid = str(current.get(self.p.version_key, ""))
        intervals: list[float] = []
        previous_ns: int | None = None
        writes = 0
        started = time.monotonic()
        for round_no in range(self.p.rounds):
            round_start = started + round_no * self.p.interval_ms / 1000
            ctx.sleep_until(round_start)
            for step, (kind, delay_ms) in enumerate(self._steps()):
                if step:
                    ctx.sleep_until(round_start + delay_ms / 1000)
                version = f"{tag}-{writes + 1}"
                config, valid = _mutate(current, kind, version, self.p.version_key, writes + 1)
                text = yaml.safe_dump(config, sort_keys=False)
                t_ns = self._write(ctx, target, path, text)
                if previous_ns is not None:
                    intervals.append((t_ns - previous_ns) / 1e6)
                previous_ns = t_ns
                writes += 1
                ctx.timeline.record("reload.write", self.name, t_ns=t_ns, target=target.spec.name,
                                    version=version, valid=valid, mutation=kind,
                                    mode=self.p.write_mode.value)
                if valid:
                    last_valid, current = version, config
        details: dict[str, Any] = {"writes": writes, "last_valid_version": last_valid,
                                   "achieved_intervals_ms": [round(i, 2) for i in intervals]}
        live = self._wait_for_version(target, last_valid)
        details["live_version"] = live
        if live == last_valid:
            return FaultOutcome(True, f"{writes} writes; target serves {live}", details)
        return FaultOutcome(
            False,
            f"{writes} writes, but the target serves {live or 'nothing (unreachable)'} instead of "
            f"the last valid version {last_valid}",
            details,
        )

    def revert(self, ctx: InjectionContext) -> None:
        """Put the original config back (by rename, so watchers see one clean change)."""
        if self._path is not None and self._original is not None:
            text = self._original.decode("utf-8")
            original = yaml.safe_load(text) or {}
            t_ns = now_ns()
            _rename_replace(self._path, text)
            ctx.timeline.record("reload.write", self.name, t_ns=t_ns, target=self.target_name,
                                version=str(original.get(self.p.version_key, "")), valid=True,
                                mutation="revert", mode=WriteMode.RENAME.value)
            self._original = None

    def _steps(self) -> list[tuple[Pattern, int]]:
        if self.p.pattern is Pattern.INCIDENT:
            return [(Pattern.VALUE, 0), (Pattern.STRUCTURAL, self.p.pair_gap_ms)]
        return [(self.p.pattern, 0)]

    def _write(self, ctx: InjectionContext, target: RunningTarget, path: Path, text: str) -> int:
        t_ns = now_ns()
        if self.p.write_mode is WriteMode.RENAME:
            _rename_replace(path, text)
        else:
            with path.open("r+", encoding="utf-8") as handle:
                handle.truncate(0)
                handle.write(text)
        config = target.spec.config
        assert config is not None
        if config.trigger is ReloadTrigger.SIGHUP:
            target.send_signal(signal.SIGHUP)
        elif config.trigger is ReloadTrigger.HTTP:
            try:
                requests.post(target.endpoint.url + config.http_reload_path, timeout=2)
            except requests.RequestException as e:
                ctx.timeline.record("reload.trigger_failed", self.name, error=str(e))
        return t_ns

    def _wait_for_version(self, target: RunningTarget, wanted: str) -> str | None:
        seen: list[str | None] = [None]

        def live_is_wanted() -> bool:
            seen[0] = live_version(target)
            return seen[0] == wanted

        wait_until(live_is_wanted, timeout_s=self.p.settle_ms / 1000, interval_s=0.05)
        return seen[0]


def live_version(target: RunningTarget) -> str | None:
    """The config version the target serves now, per its version probe; None if unreachable."""
    probe = target.spec.version
    if probe is None:
        return None
    try:
        if probe.endpoint:
            reply = requests.get(target.endpoint.url + probe.endpoint, timeout=0.5)
            value = reply.json().get(probe.json_field)
            return None if value is None else str(value)
        if probe.header:
            return requests.get(target.endpoint.url + "/", timeout=0.5).headers.get(probe.header)
    except (requests.RequestException, ValueError):
        return None
    return None


def _mutate(current: dict[str, Any], kind: Pattern, version: str, version_key: str,
            n: int) -> tuple[dict[str, Any], bool]:
    """The next config (from the current live one) and whether the target should accept it."""
    config = copy.deepcopy(current)
    config[version_key] = version
    if kind is Pattern.VALUE:
        if "log_level" in config:
            config["log_level"] = "debug" if config["log_level"] != "debug" else "info"
        return config, True
    limits = config.setdefault("rate_limits", {})
    if kind is Pattern.INVALID:
        if isinstance(limits, dict):
            limits[f"gochaos_bad_{n}"] = -1
        return config, False
    http = config.setdefault("http", {})
    if isinstance(http, dict):
        routes = http.setdefault("routes", {})
        if isinstance(routes, dict):
            routes[f"/gochaos/r{n}"] = {"status": 200, "body": f"r{n}"}
        if "middleware" in http:
            del http["middleware"]  # the list appears and disappears: a structural change
        else:
            http["middleware"] = []
    if isinstance(limits, dict):
        limits[f"gochaos_{n}"] = 1000 + n
    return config, True


def _rename_replace(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.gochaos-{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)

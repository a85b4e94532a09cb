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
import signal
import threading
import time
from typing import Any

import requests
import yaml
from pydantic import Field

from chaos.configfiles import NEEDS_KUBERNETES, WriteMode
from chaos.errors import InjectionFailed, PlatformError
from chaos.injectors.base import (
    FaultOutcome,
    InjectionContext,
    Injector,
    InjectorParams,
)
from chaos.platform.base import RunningTarget
from chaos.probes import live_version
from chaos.readiness import wait_until
from chaos.targets import ConfigDelivery, ReloadTrigger, TargetSpec
from chaos.timeline import EventKind, now_ns


class Pattern(enum.StrEnum):
    INCIDENT = "incident"  # value change, then `pair_gap_ms` later a structural change
    VALUE = "value"
    STRUCTURAL = "structural"
    INVALID = "invalid"  # a schema violation (negative rate limit) the target must reject
    SYNTAX = "syntax"  # a YAML syntax error the target must reject
    MIXED = "mixed"  # each round one of the above, drawn from the run's seed


class ReloadStormParams(InjectorParams):
    pattern: Pattern = Field(Pattern.INCIDENT, description="What each round writes")
    rounds: int = Field(5, ge=1, le=10_000, description="How many rounds of the pattern")
    interval_ms: int = Field(500, ge=1, le=600_000, description="From one round's start to the next")
    pair_gap_ms: int = Field(100, ge=1, le=60_000, description="Gap inside an incident pair")
    write_mode: WriteMode = Field(WriteMode.RENAME, description="How the file is replaced: rename, "
                                                                "truncate, configmap or torn")
    jitter_ms: int = Field(0, ge=0, le=60_000, description="Each round starts up to this much early or "
                                                           "late, drawn from the run's seed")
    version_key: str = Field("version", description="Top-level key holding the config version")
    settle_ms: int = Field(3000, ge=0, le=120_000, description="How long the target may take to "
                                                              "show the last valid version")


class ReloadStorm(Injector[ReloadStormParams]):
    name = "reload_storm"
    description = "Rapid config reloads: value and structural changes written like sed -i does"
    Params = ReloadStormParams

    def __init__(self, params: ReloadStormParams, target: str | None = None) -> None:
        super().__init__(params, target)
        self._original: str | None = None
        self._target: RunningTarget | None = None
        self._last_valid: str | None = None

    def expected_duration_s(self) -> float:
        p = self.params
        return (p.rounds * p.interval_ms + p.pair_gap_ms + p.settle_ms) / 1000

    def shape_target(self, spec: TargetSpec) -> TargetSpec:
        """Writes through the ConfigMap API need the target to mount its ConfigMap."""
        if self.params.write_mode is not WriteMode.CONFIGMAP_API or spec.config is None:
            return spec
        return spec.model_copy(update={"config": spec.config.model_copy(update={"delivery": ConfigDelivery.CONFIGMAP})})

    def available(self, ctx: InjectionContext) -> str | None:
        assert self.target_name is not None
        target = ctx.target(self.target_name)
        if target.spec.config is None:
            return f"target {self.target_name} has no config file to reload"
        if self.params.write_mode is WriteMode.CONFIGMAP_API and ctx.platform.name != "kubernetes":
            return NEEDS_KUBERNETES
        return None

    def inject(self, ctx: InjectionContext) -> FaultOutcome:
        assert self.target_name is not None
        target = ctx.target(self.target_name)
        self._target = target
        self._original = target.read_config()
        current = yaml.safe_load(self._original) or {}
        if not isinstance(current, dict):
            raise InjectionFailed(f"{target.spec.name}'s config does not hold a YAML mapping; cannot mutate it")
        tag = f"gochaos-{ctx.rng.randrange(16**6):06x}"
        last_valid = str(current.get(self.params.version_key, ""))
        intervals: list[float] = []
        valid_versions: dict[str, int] = {}  # version -> when it was written
        watcher = LiveVersionWatcher(target, ctx, self.name)
        with watcher:
            writes = self._storm(ctx, target, current, tag, intervals, valid_versions)
            last_valid = self._last_valid or last_valid
            live = self._wait_for_version(target, last_valid)
        seen = watcher.seen
        acknowledged = sorted(v for v in seen if v in valid_versions)
        details: dict[str, Any] = {"writes": writes, "last_valid_version": last_valid, "live_version": live,
                                   "valid_versions_seen_live": len(acknowledged),
                                   "achieved_intervals_ms": [round(i, 2) for i in intervals],
                                   # from the write to the target serving it: when the pod saw it
                                   "live_after_ms": [round((seen[v] - valid_versions[v]) / 1e6, 1)
                                                     for v in sorted(acknowledged, key=valid_versions.__getitem__)]}
        if live == last_valid or acknowledged:
            return FaultOutcome(True, f"{writes} writes; the target went live with {len(acknowledged)} of "
                                      f"{len(valid_versions)} valid versions; serves {live}", details)
        if not valid_versions and _rejections_logged(target, watcher.started_ns):
            return FaultOutcome(True, f"{writes} invalid writes, rejected by the target (its logs say so); "
                                      f"serves {live}", details)
        return FaultOutcome(
            False,
            f"{writes} writes, but the target never went live with any of them; it serves "
            f"{live or 'nothing (unreachable)'}",
            details,
        )

    def _storm(self, ctx: InjectionContext, target: RunningTarget, current: dict[str, Any],
               tag: str, intervals: list[float], valid_versions: dict[str, int]) -> int:
        """Write every round; fill `intervals` and `valid_versions`; return the number of writes."""
        previous_ns: int | None = None
        writes = 0
        started = time.monotonic()
        p = self.params
        for round_no in range(p.rounds):
            jitter = ctx.rng.uniform(-p.jitter_ms, p.jitter_ms) / 1000 if p.jitter_ms else 0.0
            round_start = max(started, started + round_no * self.params.interval_ms / 1000 + jitter)
            ctx.sleep_until(round_start)
            for step, (kind, delay_ms) in enumerate(self._steps(ctx)):
                if step:
                    ctx.sleep_until(round_start + delay_ms / 1000)
                version = f"{tag}-{writes + 1}"
                config, valid = _mutate(current, kind, version, self.params.version_key, writes + 1)
                text = (f"{self.params.version_key}: {version}\nhttp: [unclosed\n" if kind is Pattern.SYNTAX
                        else yaml.safe_dump(config, sort_keys=False))
                t_ns = self._write(ctx, target, text)
                if previous_ns is not None:
                    intervals.append((t_ns - previous_ns) / 1e6)
                previous_ns = t_ns
                writes += 1
                ctx.timeline.record(EventKind.RELOAD_WRITE, self.name, t_ns=t_ns, target=target.spec.name,
                                    version=version, valid=valid, mutation=kind,
                                    mode=self.params.write_mode.value)
                if valid:
                    self._last_valid, current = version, config
                    valid_versions[version] = t_ns
        return writes

    def revert(self, ctx: InjectionContext) -> None:
        """Put the original config back (by rename, so watchers see one clean change)."""
        if self._target is not None and self._original is not None:
            text = self._original
            original = yaml.safe_load(text) or {}
            t_ns = now_ns()
            self._target.restore_config(text)
            mode = WriteMode.CONFIGMAP_API if self.params.write_mode is WriteMode.CONFIGMAP_API else WriteMode.RENAME
            ctx.timeline.record(EventKind.RELOAD_WRITE, self.name, t_ns=t_ns, target=self.target_name,
                                version=str(original.get(self.params.version_key, "")), valid=True,
                                mutation="revert", mode=mode.value)
            self._original = None

    def _steps(self, ctx: InjectionContext) -> list[tuple[Pattern, int]]:
        if self.params.pattern is Pattern.INCIDENT:
            return [(Pattern.VALUE, 0), (Pattern.STRUCTURAL, self.params.pair_gap_ms)]
        if self.params.pattern is Pattern.MIXED:
            return [(ctx.rng.choice([Pattern.VALUE, Pattern.STRUCTURAL, Pattern.INVALID, Pattern.SYNTAX]), 0)]
        return [(self.params.pattern, 0)]

    def _write(self, ctx: InjectionContext, target: RunningTarget, text: str) -> int:
        t_ns = now_ns()
        try:
            target.write_config(text, self.params.write_mode)
        except PlatformError as e:
            raise InjectionFailed(str(e)) from e
        config = target.spec.config
        assert config is not None
        if config.trigger is ReloadTrigger.SIGHUP:
            target.send_signal(signal.SIGHUP)
        elif config.trigger is ReloadTrigger.HTTP:
            try:
                requests.post(target.endpoint.url + config.http_reload_path, timeout=2)
            except requests.RequestException as e:
                ctx.timeline.record(EventKind.RELOAD_TRIGGER_FAILED, self.name, error=str(e))
        return t_ns

    def _wait_for_version(self, target: RunningTarget, wanted: str) -> str | None:
        seen: list[str | None] = [None]

        def live_is_wanted() -> bool:
            seen[0] = live_version(target)
            return seen[0] == wanted

        wait_until(live_is_wanted, timeout_s=self.params.settle_ms / 1000, interval_s=0.05)
        return seen[0]


class LiveVersionWatcher:
    """Polls the target's live version during a storm; every change becomes a `reload.live` event.

    That is the generic proof a write reached the service: it went live with it (when the pod saw
    it, on Kubernetes), whatever the service logs.
    """

    def __init__(self, target: RunningTarget, ctx: InjectionContext, source: str, interval_s: float = 0.02):
        self.target, self.ctx, self.source, self.interval_s = target, ctx, source, interval_s
        #: Every version seen live, with when it was first seen.
        self.seen: dict[str, int] = {}
        self.started_ns = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="live-version", daemon=True)

    def __enter__(self) -> LiveVersionWatcher:
        self.started_ns = now_ns()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        last: str | None = None
        while not self._stop.wait(self.interval_s):
            version = live_version(self.target)
            if version is not None and version != last:
                event = self.ctx.timeline.record(EventKind.RELOAD_LIVE, self.source, target=self.target.spec.name,
                                                 version=version)
                self.seen.setdefault(version, event.t_ns)
                last = version


def _rejections_logged(target: RunningTarget, since_ns: int) -> bool:
    """Did the target log a rejection after `since_ns` (words any service would use)?"""
    words = ("reject", "invalid", "error")
    return any(any(w in line.text.lower() for w in words) for line in target.logs(since_ns))


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
    if kind in (Pattern.INVALID, Pattern.SYNTAX):
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

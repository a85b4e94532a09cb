"""reload_storm: rapid config reloads, the trigger of incident 1 (hot-reload panic), on any service.

Writes new configs to the target's config file the way real tools do (rename-replace like `sed -i`
and editors, or truncate-and-write in place) in the file's own format, triggers the reload the
target's contract names (its file watch, SIGHUP, or an HTTP endpoint), records every write on the
timeline with its identity, diff and what the service must do with it, and proves the fault landed
by what the target's live probes show (`live_watch`). Writes come from `reload_sources`: mutations
of the user's own config, declared variants, or the bundled configd's edits. The `incident` pattern
is the reported pair: a value-only change, then 100 ms later a structural one. The `auto` pattern is
guided by what the service shows after each write (`guide`).
"""

from __future__ import annotations

import dataclasses
import enum
import json
import logging
import math
import signal
import time
from collections import deque
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import requests
from pydantic import Field, TypeAdapter, ValidationError, ValidatorFunctionWrapHandler, field_validator, model_validator
from pydantic_core import PydanticCustomError

from chaos.client_budget import ClientBudget
from chaos.configfiles import NEEDS_KUBERNETES, WriteMode, unreachable
from chaos.configs.formats import ConfigFormat, parse
from chaos.configs.identity import content_hash
from chaos.configs.patch import diff
from chaos.configs.tree import parse_path, plain
from chaos.errors import ConfigError, InjectionFailed, PlatformError, ScenarioError, TargetDown, TargetError
from chaos.http_reload import post_reload
from chaos.injectors.base import (
    FaultOutcome,
    InjectionContext,
    Injector,
    InjectorParams,
)
from chaos.injectors.guide import Guide
from chaos.injectors.live_watch import (
    LiveWatcher,
    WriteBook,
    Written,
    disagreement,
    expected_live,
    identity_of,
    names_of,
    probe_fix,
    serves,
    storm_outcome,
    stuck_reload,
    write_fates,
)
from chaos.injectors.reload_sources import (
    AUTO,
    AUTO_ROUNDS_CAP,
    Variant,
    WriteSource,
    auto_rounds,
    auto_site_count,
    build_variant,
    planned_site_count,
    sample_values,
)
from chaos.observe.readiness import wait_until
from chaos.platform.base import RunningTarget
from chaos.targets import ConfigDelivery, ConfigSpec, ReloadTrigger, TargetSpec, fill_config_text, with_scenario_dir
from chaos.timeline import EventKind, now_ns

log = logging.getLogger("gochaos")

#: Where a storm keeps its writes (under the platform's run dir, a folder per target) and, beside them,
#: the run's placeholder values: what `gochaos shrink` reads.
WRITES_DIR, PLACEHOLDERS_FILE = "writes", "placeholders.json"

#: How long two probes that disagree at the end of a storm are given to agree (one reload's landing).
DISAGREEMENT_RECHECK_S = 0.5
#: A write is prepared (drawn, formatted, rebased on what the service took) ahead of its instant by the
#: longest the last PREPARE_HISTORY writes took to prepare, plus this margin for a late wake-up.
PREPARE_MARGIN_S = 0.002
PREPARE_HISTORY = 8


class Pattern(enum.StrEnum):
    INCIDENT = "incident"  # value change, then `pair_gap_ms` later a structural change
    VALUE = "value"
    STRUCTURAL = "structural"
    INVALID = "invalid"  # a write breaking the config's rules (a type break, a declared invalid variant)
    SYNTAX = "syntax"  # a write that does not parse, which the target must reject
    MIXED = "mixed"  # each round one of the above, drawn from the run's seed
    AUTO = "auto"  # each site of the config's own tree once (likeliest breakers first), then random mutations
    FLAP = "flap"  # one site and the original in turn, every interval_ms: a reload race by duration (`for_s`)
    VARIANTS = "variants"  # the declared variants, one per round, in order
    UNCHANGED = "unchanged"  # the current config again, byte for byte (or only the trigger)


_ROUNDS = TypeAdapter(Annotated[int, Field(ge=1, le=AUTO_ROUNDS_CAP)])


class ReloadStormParams(InjectorParams):
    pattern: Pattern = Field(Pattern.INCIDENT, description="What each round writes")
    rounds: Annotated[int, Field(ge=1, le=AUTO_ROUNDS_CAP)] | Literal["auto"] = Field(
        5, description=f"How many rounds of the pattern; auto (pattern auto): one per mutation site of the config, "
                       f"at most {AUTO_ROUNDS_CAP}")
    for_s: float | None = Field(None, gt=0, le=3600, description="Storm for this long instead of a number of "
                                                                 "rounds: a round every interval_ms until it ends")
    interval_ms: int = Field(500, ge=1, le=600_000, description="From one round's start to the next")
    pair_gap_ms: int = Field(100, ge=1, le=60_000, description="Gap inside an incident pair")
    write_mode: WriteMode = Field(WriteMode.RENAME, description="How the file is replaced: rename, "
                                                                "truncate, configmap or torn")
    jitter_ms: int = Field(0, ge=0, le=60_000, description="Each round starts up to this much early or "
                                                           "late, drawn from the run's seed")
    version_key: str | None = Field(None, description="Dotted path of the config's version (default: the "
                                                      "target's; none: a config is known by its hash)")
    settle_ms: int = Field(3000, ge=0, le=120_000, description="How long the target may take to "
                                                              "show the last valid version")
    variants: tuple[Variant, ...] = Field((), description="Configs to write, each with what the service must "
                                                          "do with it; patterns draw them by label")
    trigger_only: bool = Field(False, description="unchanged: only trigger the reload (SIGHUP, HTTP), no write")
    protect: tuple[str, ...] = Field((), description='Config paths mutations leave alone (dotted, with ["key"] '
                                                     'for other keys): e.g. the routes the load asks for')
    flap: str | None = Field(None, description="pattern flap: the site toggled with the original, as PATH:OPERATOR "
                                               "(e.g. backends:first-only; `gochaos explain operators`); default: "
                                               "the first list shrunk to its first item")
    guided: bool | None = Field(None, description="pattern auto (default true): rounds left after every site was "
                                                  "written once first follow up the sites whose write showed "
                                                  "something new (a rejection, a new log template, status code, "
                                                  "latency tier or exit): their neighbours and combinations; false: "
                                                  "random mutations at once")

    @field_validator("rounds", mode="wrap")
    @classmethod
    def _rounds(cls, value: Any, handler: ValidatorFunctionWrapHandler) -> int | str:
        """A count, or `auto`; a bad count is named by the field alone (`rounds: Input should be ...`)."""
        if value == AUTO:
            return AUTO
        try:
            return _ROUNDS.validate_python(value)
        except ValidationError as e:
            error = e.errors()[0]
            message = error["msg"] + (", or 'auto'" if error["type"].startswith("int_") else "")
            raise PydanticCustomError(error["type"], message) from None

    @field_validator("protect")
    @classmethod
    def _paths(cls, paths: tuple[str, ...]) -> tuple[str, ...]:
        for path in paths:
            parse_path(path)  # ValueError says how to write one
        return paths

    @model_validator(mode="after")
    def _variants_given(self) -> ReloadStormParams:
        if self.pattern is Pattern.VARIANTS and not self.variants:
            raise ValueError("pattern variants needs `variants`")
        if self.for_s is not None and "rounds" in self.model_fields_set:
            raise ValueError("give `rounds` or `for_s`, not both: a storm is bounded by a count or by a duration")
        if self.flap is not None and self.pattern is not Pattern.FLAP:
            raise ValueError(f"`flap` names the site a flap storm toggles: give it with pattern flap (pattern is "
                             f"{self.pattern.value})")
        if self.guided is not None and self.pattern is not Pattern.AUTO:
            raise ValueError(f"`guided` steers what pattern auto writes after its sites (pattern is "
                             f"{self.pattern.value}); drop it")
        if self.rounds == AUTO and self.pattern is not Pattern.AUTO:
            raise ValueError(f"rounds: auto is one round per mutation site of the config, which only pattern auto "
                             f"writes (pattern is {self.pattern.value}); give `rounds` a number")
        names = [v.name for v in self.variants]
        if len(set(names)) != len(names):
            raise ValueError(f"variant names must be unique, got {names}")
        return self


def write_mode_refusal(params: ReloadStormParams, spec: TargetSpec, modes: frozenset[WriteMode]) -> str | None:
    """Why the storm's own `write_mode` cannot change a deployed service's config, given the `modes` that reach it
    (None: it can). The plan refuses it up front with this, and `available()` says the same at run time."""
    if spec.deployed is not None and "write_mode" in params.model_fields_set and params.write_mode not in modes:
        return unreachable(spec.name, params.write_mode, modes) + "; or drop write_mode"
    return None


class ReloadStorm(Injector[ReloadStormParams]):
    name = "reload_storm"
    description = "Rapid config reloads: value and structural changes written like sed -i does"
    Params = ReloadStormParams
    #: `rounds: auto`: the sites of the target's config as the plan counted them (None: not known before the run).
    _planned_sites: int | None = None

    def __init__(self, params: ReloadStormParams, target: str | None = None, *,
                 steady_state: ClientBudget | None = None) -> None:
        super().__init__(params, target, steady_state=steady_state)
        self._original: str | None = None
        self._original_version: str | None = None
        self._original_names: frozenset[str] = frozenset()
        self._target: RunningTarget | None = None
        self._last_valid: str | None = None

    def expected_duration_s(self) -> float:
        p = self.params
        return (self._round_count() * p.interval_ms + p.pair_gap_ms + p.settle_ms) / 1000

    def _round_count(self) -> int:
        """Rounds of the storm: `rounds`, or as many round starts as fit in `for_s`; `rounds: auto` one per site
        of the config (at most AUTO_ROUNDS_CAP): of the config read when the storm started (never more than the
        plan counted), else as the plan counted them, else the cap."""
        p = self.params
        if p.for_s is not None:
            return max(1, math.ceil(p.for_s * 1000 / p.interval_ms))
        if p.rounds != AUTO:
            return int(p.rounds)
        return auto_rounds(self._site_count())

    def _site_count(self) -> int | None:
        """The sites of the config this storm explores: counted on what it read when it started (the same
        count its WriteSource made), bounded by the plan's count; before that, the plan's count (or None)."""
        target, original = self._target, self._original
        config = target.spec.config if target is not None else None
        fmt = _format(config) if config is not None else None
        if target is None or original is None or config is None or fmt is None or config.mutator != "auto":
            return self._planned_sites
        try:
            found = auto_site_count(original, fmt, config.file_name,
                                    version_key=self.params.version_key or config.version_key,
                                    values=dict(target.placeholders),
                                    protect=tuple(parse_path(path) for path in self.params.protect))
        except ConfigError:
            return self._planned_sites
        return found if self._planned_sites is None else min(found, self._planned_sites)

    @classmethod
    def read_files(cls, params: Mapping[str, Any], base_dir: Path) -> dict[str, Any]:
        """Each variant's `file` read into its `text`, so the run never depends on where it was started."""
        out = dict(params)
        variants = out.get("variants")
        if not isinstance(variants, (list, tuple)):
            return out
        read = []
        for variant in variants:
            if isinstance(variant, dict) and variant.get("file") and variant.get("text") is None:
                path = (base_dir / str(variant["file"])).resolve()
                try:
                    variant = {**variant, "text": path.read_text(encoding="utf-8")}
                except (OSError, UnicodeDecodeError) as e:
                    raise ScenarioError(f"variant {variant.get('name')}: file {path}: {getattr(e, 'strerror', e)}; "
                                        "the path is relative to the scenario file, fix it or create the file") from e
            read.append(variant)
        out["variants"] = read
        return out

    def describe_target(self, spec: TargetSpec) -> list[str]:
        """Each declared variant's diff against the target's config; the config and every variant are checked
        (they must parse, their placeholders must be fillable) before anything starts."""
        config = spec.config
        if config is None:
            return []
        fmt = _format(config)
        values = with_scenario_dir(spec, sample_values(None, spec.ports))
        where = f"target {spec.name}: config {config.file_name}"
        try:
            original = fill_config_text(spec, values)
            parsed = parse(original, fmt, where) if fmt is not None else None
            lines = []
            for variant in self.params.variants:
                tree, _ = build_variant(variant, parsed, fmt, where, values)
                before = plain(parsed.tree) if parsed is not None else None
                changes = [str(c) for c in diff(before, tree)] if tree is not None and before is not None else \
                    ["(whole file" + (", does not parse)" if tree is None and fmt is not None else ")")]
                shown = "; ".join(changes[:6]) + (f"; +{len(changes) - 6} more" if len(changes) > 6 else "")
                lines.append(f"variant {variant.name} ({variant.label}, must {variant.expect}): {shown or 'no change'}")
        except (ConfigError, TargetError) as e:
            raise ScenarioError(f"reload_storm on {spec.name}: {e}") from e
        return self._auto_lines(spec) + lines

    def shape_target(self, spec: TargetSpec) -> TargetSpec:
        """Writes through the ConfigMap API need the target to mount its ConfigMap."""
        self._plan_sites(spec)
        if self.params.write_mode is not WriteMode.CONFIGMAP_API or spec.config is None:
            return spec
        return spec.model_copy(update={"config": spec.config.model_copy(update={"delivery": ConfigDelivery.CONFIGMAP})})

    def _plan_sites(self, spec: TargetSpec) -> None:
        """Pattern auto: count the config's sites now (`rounds: auto` before the plan sizes the fault phase by it)."""
        if self.params.pattern is Pattern.AUTO and spec.config is not None:
            self._planned_sites = planned_site_count(
                spec, version_key=self.params.version_key, protect=tuple(parse_path(p) for p in self.params.protect),
                required=self.params.rounds == AUTO)

    def _auto_lines(self, spec: TargetSpec) -> list[str]:
        """Dry-run lines on what pattern auto explores before it draws random mutations."""
        if self.params.pattern is not Pattern.AUTO or spec.config is None:
            return []
        count = self._planned_sites
        if self.params.rounds == AUTO and count is None:
            return [f"pattern auto, rounds auto: one round per mutation site of the config the storm reads when it "
                    f"starts (not known before the run), at most {AUTO_ROUNDS_CAP}; the plan budgets "
                    f"{AUTO_ROUNDS_CAP} rounds"]
        if count is None:
            return ["pattern auto: first each mutation site of the config once (`gochaos explain operators`), "
                    "likeliest breakers first, then random mutations"]
        if self.params.rounds != AUTO:
            rounds = self._round_count()
            return [f"pattern auto: {count} mutation sites of the config (`gochaos explain operators`), each written "
                    f"once on the original config, likeliest breakers first, then random mutations: {rounds} rounds "
                    f"cover {min(rounds, count)} of them" + ("" if rounds >= count else "; rounds: auto covers all")]
        capped = f", capped at {AUTO_ROUNDS_CAP} rounds" if count > AUTO_ROUNDS_CAP else ""
        return [f"pattern auto, rounds auto: {count} mutation sites of the config (`gochaos explain operators`), "
                f"each written once on the original config, likeliest breakers first: {auto_rounds(count)} "
                f"rounds{capped}"]

    def available(self, ctx: InjectionContext) -> str | None:
        assert self.target_name is not None
        target = ctx.target(self.target_name)
        if target.spec.config is None:
            return f"target {self.target_name} has no config file to reload"
        modes = ctx.platform.kind.write_modes(target.spec)
        if self._mode(target.spec) not in modes:
            return NEEDS_KUBERNETES  # configmap-api asked of a config that is a plain file
        return write_mode_refusal(self.params, target.spec, modes)

    def _mode(self, spec: TargetSpec) -> WriteMode:
        """How writes reach the target: a config mounted from its ConfigMap changes only through the API."""
        config = spec.config
        if config is not None and config.delivery is ConfigDelivery.CONFIGMAP:
            return WriteMode.CONFIGMAP_API
        return self.params.write_mode

    def inject(self, ctx: InjectionContext) -> FaultOutcome:
        assert self.target_name is not None
        target = ctx.target(self.target_name)
        config = target.spec.config
        assert config is not None
        self._target = target
        self._original = target.read_config()
        tag = f"gochaos-{ctx.rng.randrange(16**6):06x}"
        try:
            source = WriteSource(self._original, _format(config), config.file_name,
                                 version_key=self.params.version_key or config.version_key,
                                 values=dict(target.placeholders), variants=self.params.variants,
                                 mutator=config.mutator, rng=ctx.rng, tag=tag,
                                 protect=tuple(parse_path(path) for path in self.params.protect), flap=self.params.flap)
        except ConfigError as e:
            raise InjectionFailed(f"{target.spec.name}: {e}") from e
        book = WriteBook()
        original_tree = source.current_tree
        self._original_version = source.version_of(source.current_tree)
        self._original_names = names_of(self._original, source.current_tree, self._original_version)
        book.add(Written(0, now_ns(), self._original_names, "accept", "initial", _tree_hash(source.current_tree)))
        intervals: list[float] = []
        texts: dict[int, tuple[str, Any]] = {0: (source.current_text, source.current_tree)}
        watcher = LiveWatcher(target, ctx, self.name, book)
        with watcher:
            guided = self.params.pattern is Pattern.AUTO and self.params.guided is not False and source.sites_total
            guide = Guide(target, ctx.timeline, watcher, source.interesting) if guided else None
            try:
                self._storm(ctx, target, source, book, watcher, intervals, texts, guide)
            finally:  # `gochaos shrink` replays them, also after a storm cut short
                keep_writes(ctx.platform.run_dir / WRITES_DIR / target.spec.name, texts, target.placeholders,
                            config.file_name)
            expected = expected_live(book, watcher)
            live = self._wait_for(watcher, expected)
            last_taken = max(watcher.live_writes, default=None)  # the newest write the target was seen to take
            serving = watcher.current  # read together with last_taken: the watcher thread goes on recording
            if disagreement(watcher.reported) or serving != last_taken:
                # a reload may be landing between two probes' reads, or the watcher recording the last write's
                # reload right now (a fast service takes it within a poll): look again once it is recorded
                ctx.sleep_until(time.monotonic() + DISAGREEMENT_RECHECK_S)
                last_taken, serving = max(watcher.live_writes, default=None), watcher.current
            fates = write_fates(book, watcher)
            if guide is not None:
                guide.update(final=True)
            ctx.timeline.record(EventKind.RELOAD_SETTLED, self.name, target=target.spec.name, live=live,
                                write=serving, expected=last_taken, awaited=expected.index,
                                probe_failures=sorted(watcher.silent), reported=dict(watcher.reported),
                                disagreement=disagreement(watcher.reported), fates=fates,
                                watched=watcher.identifying)
        outcome = storm_outcome(book, watcher, expected, live, intervals, self._last_valid,
                                probe_fix=probe_fix(original_tree, self.params.version_key or config.version_key))
        if self.params.pattern is Pattern.AUTO and source.sites_total:  # coverage: the sites this storm wrote
            tried, total = len(source.sites_tried), source.sites_total
            outcome = dataclasses.replace(outcome, summary=f"{outcome.summary}; sites tried: {tried} of {total}",
                                          details={**outcome.details, "sites_total": total,
                                                   "sites_tried": list(source.sites_tried),
                                                   "sites_untried": source.sites_untried})
        if guide is not None:
            outcome = guide.outcome(outcome, followed=len(book.writes) - 1 > len(source.sites_tried))
        stuck = stuck_reload(book, watcher, expected, self.params.settle_ms)
        return dataclasses.replace(outcome, failure=stuck) if stuck else outcome

    def _storm(self, ctx: InjectionContext, target: RunningTarget, source: WriteSource, book: WriteBook,
               watcher: LiveWatcher, intervals: list[float], texts: dict[int, tuple[str, Any]],
               guide: Guide | None = None) -> None:
        """Write every round into `book`, at its offset; fill `intervals` between writes and `texts` (every
        write's text and tree, by index, to follow what the service took); tell `guide` of each write.

        Each write is prepared just ahead of its instant and written at it, so how long drawing and
        formatting it takes (a YAML dump: ms) does not move it; the schedule starts when the first
        write is ready.
        """
        previous_ns: int | None = None
        started: float | None = None
        p = self.params
        prepare_s: deque[float] = deque([0.0], maxlen=PREPARE_HISTORY)  # how long the last writes took to prepare
        for round_no in range(self._round_count()):
            jitter = ctx.rng.uniform(-p.jitter_ms, p.jitter_ms) / 1000 if p.jitter_ms else 0.0
            round_offset = max(0.0, round_no * p.interval_ms / 1000 + jitter)
            for step, (label, delay_ms) in enumerate(self._steps(ctx)):
                offset = round_offset + delay_ms / 1000 if step else round_offset
                if started is not None:
                    ctx.sleep_until(started + offset - max(prepare_s) - PREPARE_MARGIN_S)
                preparing = time.monotonic()
                _follow_the_service(source, book, watcher, texts)
                if guide is not None:
                    guide.update()
                write = source.next(label)
                prepare_s.append(time.monotonic() - preparing)
                if started is None:
                    started = time.monotonic()
                ctx.sleep_until(started + offset)
                t_ns = self._write(ctx, target, write.text, trigger_only=label == Pattern.UNCHANGED and p.trigger_only)
                if previous_ns is not None:
                    intervals.append((t_ns - previous_ns) / 1e6)
                previous_ns = t_ns
                index = len(book.writes)
                identity = identity_of(write.text, write.tree, write.version)
                names = names_of(write.text, write.tree, write.version)
                book.add(Written(index, t_ns, names, str(write.expect), write.label, _tree_hash(write.tree)))
                texts[index] = (write.text, write.tree)
                if guide is not None:
                    guide.wrote(index, t_ns, write)
                ctx.timeline.record(EventKind.RELOAD_WRITE, self.name, t_ns=t_ns, target=target.spec.name,
                                    version=identity, valid=write.expect == "accept", mutation=write.label,
                                    mode=self._mode(target.spec).value, write=index, expect=str(write.expect),
                                    origin=write.source, changes=list(write.changes[:20]), site=write.site,
                                    follows=write.follows, names=sorted(names),
                                    trigger_only=p.trigger_only and label == Pattern.UNCHANGED)
                if write.expect == "accept":
                    self._last_valid = identity
                source.took(write)

    def revert(self, ctx: InjectionContext) -> None:
        """Put the original config back (by rename, so watchers see one clean change)."""
        if self._target is not None and self._original is not None:
            text = self._original
            t_ns = now_ns()
            self._target.restore_config(text)
            self._write(ctx, self._target, text, trigger_only=True)  # a SIGHUP/HTTP service must reload it too
            mode = self._mode(self._target.spec)
            mode = mode if mode is WriteMode.CONFIGMAP_API else WriteMode.RENAME
            # what inject learnt of the original; a storm that failed before parsing it knows its bytes only
            names = self._original_names or names_of(text, None, None)
            ctx.timeline.record(EventKind.RELOAD_WRITE, self.name, t_ns=t_ns, target=self.target_name,
                                version=self._original_version or "original", valid=True,
                                mutation="revert", mode=mode.value, expect="accept", names=sorted(names))
            self._original = None

    def _steps(self, ctx: InjectionContext) -> list[tuple[str, int]]:
        pattern = self.params.pattern
        if pattern is Pattern.INCIDENT:
            return [(Pattern.VALUE, 0), (Pattern.STRUCTURAL, self.params.pair_gap_ms)]
        if pattern is Pattern.MIXED:
            return [(ctx.rng.choice([Pattern.VALUE, Pattern.STRUCTURAL, Pattern.INVALID, Pattern.SYNTAX]), 0)]
        if pattern is Pattern.AUTO:  # the source explores each site first, then draws a label from the seed
            return [(AUTO, 0)]
        if pattern is Pattern.VARIANTS:
            return [("variant", 0)]
        return [(pattern, 0)]

    def _write(self, ctx: InjectionContext, target: RunningTarget, text: str, *, trigger_only: bool = False) -> int:
        t_ns = now_ns()
        if not trigger_only:
            try:
                target.write_config(text, self._mode(target.spec))
            except PlatformError as e:
                raise InjectionFailed(str(e)) from e
        config = target.spec.config
        assert config is not None
        if config.trigger is ReloadTrigger.SIGHUP:
            try:
                target.send_signal(signal.SIGHUP)
            except TargetDown as e:  # the service's failure, judged by the oracles; the storm keeps its schedule
                ctx.timeline.record(EventKind.RELOAD_TRIGGER_FAILED, self.name, target=target.spec.name,
                                    error=str(e), target_down=True)
        elif config.trigger is ReloadTrigger.HTTP:
            request = config.http_reload
            try:
                post_reload(target.endpoint_for(request.port).url, request, text)
            except (requests.RequestException, PlatformError) as e:
                ctx.timeline.record(EventKind.RELOAD_TRIGGER_FAILED, self.name, target=target.spec.name,
                                    error=str(e), target_down=False)
        return t_ns

    def _wait_for(self, watcher: LiveWatcher, wanted: Written) -> str | None:
        """Wait (bounded by settle_ms) until the target serves `wanted` (by index, or by a name it shares with
        an earlier write: an unchanged config keeps its identity); what it serves then."""
        wait_until(lambda: serves(watcher, wanted), timeout_s=self.params.settle_ms / 1000, interval_s=0.02)
        return watcher.current_identity


def _follow_the_service(source: WriteSource, book: WriteBook, watcher: LiveWatcher,
                        texts: dict[int, tuple[str, Any]]) -> None:
    """After a write the service was seen to reject, derive the next one from what it runs instead."""
    latest = book.latest()
    if latest is None or latest.index not in watcher.rejected:
        return
    taken = max((i for i in watcher.live_writes if i in texts), default=0)
    text, tree = texts[taken]
    if tree is not None:
        source.rebase(text, tree)


def _format(config: ConfigSpec) -> ConfigFormat | None:
    if config.format == "text":
        return None
    try:
        return ConfigFormat.of(config.file_name, config.format)
    except ConfigError:
        return None  # a format the suite does not parse: whole-file variants and trigger-only storms


def _tree_hash(tree: Any) -> str | None:
    return content_hash(tree) if tree is not None else None


def keep_writes(folder: Path, texts: Mapping[int, tuple[str, Any]], placeholders: Mapping[str, str],
                file_name: str) -> None:
    """Every write of a storm as a file (NNNN plus the config's suffix), with what the placeholders were:
    what `gochaos shrink` replays. Best effort: a full disk must not turn a verdict into an error."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        suffix = Path(file_name).suffix or ".txt"
        for index, (text, _) in texts.items():
            if index > 0:
                (folder / f"{index:04d}{suffix}").write_text(text, encoding="utf-8")
        (folder / PLACEHOLDERS_FILE).write_text(json.dumps(dict(placeholders), indent=2), encoding="utf-8")
    except OSError as e:
        log.warning("could not keep the storm's writes in %s: %s", folder, e)

"""Reading a target's live config through its contract: one observation per probe, never assumed.

Every probe of `chaos.observe.live_probes` is read here: a header or a JSON field gives the identity
string, metrics give the identity (a label or the value) and the last reload's success flag, a
config endpoint gives the whole tree, and log lines give accepted and rejected reloads since a time.
A probe that does not answer gives None; the caller says which probe failed.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import requests
import yaml
from prometheus_client.parser import text_string_to_metric_families

from chaos.observe.live_probes import ConfigProbe, HeaderProbe, JsonProbe, LiveProbe, LogProbe, MetricsProbe
from chaos.platform.base import RunningTarget

#: Short: a watcher polls every 20 ms, and a slow answer must not hide the next change.
TIMEOUT_S = 0.5


@dataclass(frozen=True, slots=True)
class ReloadFlags:
    """Metrics: whether the last reload succeeded, and the failed-reload counter (None: not reported)."""

    ok: bool | None = None
    failures: float | None = None


@dataclass(frozen=True, slots=True)
class Seen:
    """What one probe saw of the live config at one moment."""

    #: The version or hash the service reports (None: it reports a whole tree, or nothing).
    identity: str | None = None
    #: The whole live config, as a config endpoint answers it.
    tree: Any = None
    #: A reload timestamp or counter (a probe with `moves`): it changes when the service reloads.
    marker: str | None = None
    #: What metrics add: the last reload's success flag and the failed-reload counter.
    reloads: ReloadFlags = field(default_factory=lambda: ReloadFlags())


@dataclass(frozen=True, slots=True)
class LogOutcome:
    """A reload outcome a log line reported."""

    t_ns: int
    accepted: bool
    identity: str | None
    line: str


def read(target: RunningTarget, probe: LiveProbe, session: requests.Session | None = None) -> Seen | None:
    """What `probe` shows now (None when it does not answer or answers nothing usable)."""
    if isinstance(probe, LogProbe):
        raise TypeError("log probes are read as outcomes since a time: use log_outcomes")
    get = (session or requests).get
    url = target.endpoint_for(probe.port).url + probe.path
    try:
        reply = get(url, timeout=TIMEOUT_S)
        if isinstance(probe, HeaderProbe):
            value = reply.headers.get(probe.header)
            return Seen(identity=value) if value else None
        if reply.status_code >= 400:
            return None
        if isinstance(probe, JsonProbe):
            found = _field(reply.json(), probe.field)
            if found is None:
                return None
            return Seen(marker=str(found)) if probe.moves else Seen(identity=str(found))
        if isinstance(probe, ConfigProbe):
            return Seen(tree=reply.json())
        assert isinstance(probe, MetricsProbe)
        seen = _metrics(reply.text, probe)
        if seen is not None and probe.moves:
            return Seen(marker=seen.identity, reloads=seen.reloads)
        return seen
    except (requests.RequestException, ValueError):
        return None


def log_outcomes(target: RunningTarget, probe: LogProbe, since_ns: int | None = None) -> list[LogOutcome]:
    """Accepted and rejected reloads the target's log lines report after `since_ns`, in order."""
    accepted = re.compile(probe.accepted)
    rejected = re.compile(probe.rejected) if probe.rejected else None
    found = []
    for line in target.logs(since_ns):
        if rejected is not None and (refused := rejected.search(line.text)):
            found.append(LogOutcome(line.t_ns, False, refused.groupdict().get("id"), line.text))
        elif match := accepted.search(line.text):
            identity = match.groupdict().get("id")
            found.append(LogOutcome(line.t_ns, True, identity, line.text))
    return found


def live_version(target: RunningTarget) -> str | None:
    """The identity the target reports now through its first probe that gives one; None if none does."""
    for probe in target.spec.live_probes():
        if isinstance(probe, (HeaderProbe, JsonProbe, MetricsProbe)):
            seen = read(target, probe)
            if seen is not None and seen.identity is not None:
                return seen.identity
    return None


def initial_version(target: RunningTarget, version_key: str = "version") -> str | None:
    """The version in the config the target was started with (None without a config)."""
    config = target.spec.config
    if config is None:
        return None
    try:
        data = yaml.safe_load(config.initial)
    except yaml.YAMLError:
        return None
    if isinstance(data, dict) and version_key in data:
        return str(data[version_key])
    return None


def _field(document: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(document, dict) or part not in document:
            return None
        document = document[part]
    return document


def _metrics(text: str, probe: MetricsProbe) -> Seen | None:
    identity: str | None = None
    ok: bool | None = None
    failures: float | None = None
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if probe.failures is not None and probe.failures in (sample.name, family.name):
                failures = (failures or 0.0) + sample.value
            if sample.name == probe.metric or (family.name == probe.metric
                                               and sample.name in (family.name, f"{family.name}_total")):
                if probe.label is None:
                    identity = _number(sample.value)
                elif probe.label in sample.labels and sample.value:
                    identity = sample.labels[probe.label]
            if probe.success is not None and sample.name == probe.success:
                ok = sample.value == 1
    if identity is None and ok is None and failures is None:
        return None
    return Seen(identity=identity, reloads=ReloadFlags(ok, failures))


def _number(value: float) -> str:
    """A metric value as the identity string (integral hashes without a trailing .0)."""
    return str(int(value)) if float(value).is_integer() else repr(value)


def why_silent(target: RunningTarget, probe: LiveProbe) -> str:
    """One line on why `probe` never showed a config, with the nearest names the service does show."""
    if isinstance(probe, LogProbe):
        lines = target.logs()
        last = lines[-1].text.strip()[:160] if lines else ""
        return (f"log probe: neither `accepted` nor `rejected` matched any of {len(lines)} output line(s)"
                + (f"; the last was {last!r}" if last else ""))
    url = target.endpoint_for(probe.port).url + probe.path
    where = f"{probe.kind} probe at {url}"
    try:
        reply = requests.get(url, timeout=TIMEOUT_S)
    except requests.RequestException as e:
        return f"{where}: no answer ({type(e).__name__})"
    if isinstance(probe, HeaderProbe):
        return f"{where}: no {probe.header} header{_nearest(probe.header, reply.headers.keys())}"
    if reply.status_code >= 400:
        return f"{where}: HTTP {reply.status_code}"
    if isinstance(probe, JsonProbe):
        try:
            document = reply.json()
        except ValueError:
            return f"{where}: the answer is not JSON"
        keys = document.keys() if isinstance(document, dict) else ()
        return f"{where}: no field {probe.field}{_nearest(probe.field.split('.')[0], keys)}"
    if isinstance(probe, ConfigProbe):
        return f"{where}: the answer is not the config as JSON"
    assert isinstance(probe, MetricsProbe)
    try:
        names = {family.name for family in text_string_to_metric_families(reply.text)}
    except ValueError:
        return f"{where}: not the Prometheus text format"
    if probe.metric not in names and probe.metric.removesuffix("_total") not in names:
        return f"{where}: no metric {probe.metric}{_nearest(probe.metric, names)}"
    return f"{where}: {probe.metric} has no sample{f' with label {probe.label}' if probe.label else ''} set to 1"


def _nearest(word: str, names: Iterable[str]) -> str:
    """"; nearest: a, b" — the names most like `word` (config-ish ones first), or nothing."""
    options = sorted(set(names))
    close = difflib.get_close_matches(word, options, n=3, cutoff=0.5)
    if not close:
        close = [n for n in options if any(w in n.lower() for w in ("config", "reload", "version", "hash"))][:3]
    return f"; nearest: {', '.join(close)}" if close else ""

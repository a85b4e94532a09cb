"""What a service's Prometheus metrics say about its config: the names that speak of it, and what moved.

Read with prometheus_client's exposition-format parser, as the run's metrics probes read them.
Only samples whose name speaks of config, reloads, hashes or versions are kept (`*_config_hash`,
`*_config_last_reload_successful`, `coredns_reload_version_info{hash=...}`, `*_build_info{version}`):
request counters move all the time and prove nothing about a reload.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import requests
from prometheus_client.parser import text_string_to_metric_families

#: A metric or JSON field name that speaks of the config or its reloads.
CONFIG_ISH = re.compile(r"config|conf_|reload|hash|digest|checksum|version|generation|revision|load_time|loaded",
                        re.IGNORECASE)
#: A sample that counts failed reloads, or says whether the last one succeeded.
FAILURES = re.compile(r"reload.*fail|fail.*reload|config.*error|reload.*error", re.IGNORECASE)
SUCCESS = re.compile(r"(reload|config).*success(ful)?$", re.IGNORECASE)
#: The Go runtime's and the client library's own samples (`go_memstats_buck_hash_sys_bytes`): never the config.
RUNTIME = re.compile(r"^(go|process|promhttp)_|memstats", re.IGNORECASE)
TIMEOUT_S = 1.0


@dataclass(frozen=True, order=True)
class Sample:
    """One config-ish sample: its name, its labels (sorted) and value."""

    name: str
    labels: tuple[tuple[str, str], ...]
    value: float

    @property
    def key(self) -> str:
        inner = ",".join(f'{k}="{v}"' for k, v in self.labels)
        return f"{self.name}{{{inner}}}" if inner else self.name


def read(url: str) -> list[Sample] | None:
    """The config-ish samples at `url` (None: no answer, or not the Prometheus text format)."""
    try:
        reply = requests.get(url, timeout=TIMEOUT_S)
        if not reply.ok:
            return None
        return parse(reply.text)
    except (requests.RequestException, ValueError):
        return None


def parse(text: str) -> list[Sample]:
    """Config-ish samples of an exposition."""
    out = []
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if (CONFIG_ISH.search(sample.name) or FAILURES.search(sample.name)) and not RUNTIME.search(sample.name):
                out.append(Sample(sample.name, tuple(sorted(sample.labels.items())), float(sample.value)))
    return sorted(out)


def families(samples: list[Sample]) -> list[str]:
    """The distinct sample names, for the scenario's comments."""
    return sorted({sample.name for sample in samples})


@dataclass(frozen=True)
class Moved:
    """A config-ish sample that changed across a reload: a label (its old and new value) or its value."""

    name: str
    label: str | None
    before: str | None
    after: str


def moved(before: list[Sample], after: list[Sample]) -> list[Moved]:
    """What changed from `before` to `after`, by sample name: a label value that changed (a hash label), else the
    value of a sample whose labels stayed (a counter, a timestamp, a success flag)."""
    out: list[Moved] = []
    old_by_name: dict[str, list[Sample]] = {}
    for sample in before:
        old_by_name.setdefault(sample.name, []).append(sample)
    new_by_name: dict[str, list[Sample]] = {}
    for sample in after:
        new_by_name.setdefault(sample.name, []).append(sample)
    for name, new in new_by_name.items():
        old = old_by_name.get(name, [])
        old_values = {s.labels: s.value for s in old}
        for sample in new:
            if sample.labels in old_values:
                if old_values[sample.labels] != sample.value:
                    out.append(Moved(name, None, _number(old_values[sample.labels]), _number(sample.value)))
                continue
            changed = _changed_label(sample, old)
            if changed is not None and sample.value:
                out.append(Moved(name, changed[0], changed[1], changed[2]))
            elif not old:
                out.append(Moved(name, None, None, _number(sample.value)))
    return out


def _changed_label(sample: Sample, old: list[Sample]) -> tuple[str, str | None, str] | None:
    """The one label in which `sample` differs from a same-named old sample (e.g. a new hash)."""
    new = dict(sample.labels)
    for other in old:
        before = dict(other.labels)
        if set(before) != set(new):
            continue
        differ = [key for key in new if new[key] != before[key]]
        if len(differ) == 1:
            return differ[0], before[differ[0]], new[differ[0]]
    if not old:
        return None
    # a label set of its own: name the label that looks like an identity
    for key, value in sample.labels:
        if CONFIG_ISH.search(key) or key in ("value", "id", "sha", "sha256"):
            return key, None, value
    return None


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)

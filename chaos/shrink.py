"""The smallest sequence of a failed run's config writes that still fails, written out as a scenario.

A storm keeps every write it made (`writes/<target>/NNNN.<ext>` beside the target's artefacts, with
the run's placeholder values, so addresses become `{listen}` again). `shrink` replays subsets of
them as declared variants, in their order and at the storm's interval, and keeps the smallest
subset whose run still fails the same check (delta debugging, Zeller's ddmin). A racy failure is
judged over `trials` runs per candidate: it counts as failing when any of them fails. The result is
a standalone `*.chaos.yaml` holding those writes inline: a regression test for the team's repo.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from chaos.errors import UsageError
from chaos.injectors.reload import PLACEHOLDERS_FILE, WRITES_DIR
from chaos.scenario import read_yaml
from chaos.timeline import EventKind


def ddmin(items: Sequence[int], fails: Callable[[tuple[int, ...]], bool]) -> tuple[int, ...]:
    """A 1-minimal subsequence of `items` for which `fails` holds (it must hold for `items`).

    Zeller and Hildebrandt's delta debugging: try each of n chunks, then each complement, refining n
    until no single item can be dropped. Order is kept; `fails` is asked once per distinct subset.
    """
    seen: dict[tuple[int, ...], bool] = {}

    def test(subset: tuple[int, ...]) -> bool:
        if subset not in seen:
            seen[subset] = fails(subset)
        return seen[subset]

    current, n = tuple(items), 2
    while len(current) >= 2:
        size = len(current) / n
        chunks = [current[round(i * size):round((i + 1) * size)] for i in range(n)]
        chunks = [c for c in chunks if c]
        reduced = next((c for c in chunks if test(c)), None)
        if reduced is not None:
            current, n = reduced, 2
            continue
        complement = next((rest for c in chunks if (rest := tuple(i for i in current if i not in c))
                           and test(rest)), None)
        if complement is not None:
            current, n = complement, max(n - 1, 2)
            continue
        if n >= len(current):
            break
        n = min(len(current), 2 * n)
    if len(current) == 1 and test(()):  # the failure needs no write at all: the writes are not its cause
        return ()
    return current


@dataclass(frozen=True)
class Write:
    """One write of the failed storm, as the service got it (addresses back as placeholders)."""

    index: int
    text: str
    expect: str
    label: str


@dataclass(frozen=True)
class FailedRun:
    """What a shrink needs of a failed run: its scenario, the failure, the storm and its writes."""

    scenario_file: Path
    scenario: dict[str, Any]
    seed: int
    buggy: bool
    failing_checks: frozenset[str]
    headline: str
    fault_number: int
    target: str
    writes: tuple[Write, ...]


@dataclass
class Shrunk:
    """The outcome: the writes kept, how many trial runs it took and how long."""

    kept: tuple[Write, ...]
    total: int
    trials: int
    seconds: float
    outcomes: list[tuple[tuple[int, ...], bool]] = field(default_factory=list)

    def describe(self) -> str:
        plural = "" if len(self.kept) == 1 else "s"
        return (f"{self.total} writes -> {len(self.kept)} write{plural}, {self.trials} trial runs, "
                f"{self.seconds:.0f} s")


def failed_run(run_dir: Path) -> FailedRun:
    """Read a failed run's report and its storm's kept writes; UsageError naming what is missing."""
    report_path = run_dir / "report.json"
    try:
        report = json.loads(report_path.read_text(encoding="utf-8"))
    except OSError as e:
        raise UsageError(f"{report_path}: {e.strerror}; give a run directory that `gochaos run --report-dir` "
                         "wrote (or the report dir itself, for its latest run)") from e
    runs = report.get("runs", [report])
    run = next((r for r in runs if r.get("verdict") == "fail"), None)
    if run is None:
        raise UsageError(f"{report_path}: no run failed ({', '.join(r.get('verdict', '?') for r in runs)}): there is "
                         "nothing to shrink")
    source = run.get("scenario_file")
    if not source:
        raise UsageError(f"{report_path}: the report does not say which scenario file ran; shrink runs of "
                         "`gochaos run FILE` or `gochaos reproduce FILE`")
    scenario_file = Path(source)
    _, scenario = read_yaml(scenario_file.read_text(encoding="utf-8"))
    failing = sorted((f for f in run["findings"] if f["status"] == "fail"), key=_cause_first)
    storms = [(i, f) for i, f in enumerate(scenario.get("faults", [])) if f.get("injector") == "reload_storm"]
    if not storms:
        raise UsageError(f"{scenario_file}: no reload_storm fault: shrink reduces a storm's config writes")
    number, fault = storms[0]
    target = str(fault.get("target"))
    events = [e for e in run["events"] if e["kind"] == EventKind.RELOAD_WRITE and e["details"].get("target") == target
              and e["details"].get("write") is not None and e["details"].get("mutation") != "revert"]
    artefacts = Path(run.get("artefacts") or run_dir / "artefacts" / run["scenario"]) / WRITES_DIR / target
    if not artefacts.is_dir():
        raise UsageError(f"{artefacts}: the storm's writes were not kept; rerun with --report-dir (this gochaos "
                         "keeps every write there)")
    values = json.loads((artefacts / PLACEHOLDERS_FILE).read_text(encoding="utf-8"))
    writes = []
    for event in events:
        index = int(event["details"]["write"])
        found = sorted(artefacts.glob(f"{index:04d}.*"))
        if not found:
            raise UsageError(f"{artefacts}: write {index} is missing")
        writes.append(Write(index, unfill(found[0].read_text(encoding="utf-8"), values),
                            str(event["details"].get("expect", "accept")), str(event["details"].get("mutation"))))
    return FailedRun(scenario_file, scenario, int(run["seed"]), bool(run["buggy"]),
                     frozenset(f["check"] for f in failing[:1]), failing[0]["summary"] if failing else "",
                     number, target, tuple(writes))


#: Which failing check a shrink keeps failing, most telling first: a crash is the cause of the errors its
#: clients then see, so a candidate must fail the same way, not merely fail.
CAUSES = ("panics", "leaks", "rollback", "consistency", "fault:", "recovery", "steady_state")


def _cause_first(finding: dict[str, Any]) -> int:
    return next((i for i, prefix in enumerate(CAUSES) if str(finding["check"]).startswith(prefix)), len(CAUSES))


def unfill(text: str, values: dict[str, str]) -> str:
    """`text` with the run's placeholder values put back as placeholders (longest value first)."""
    for name, value in sorted(values.items(), key=lambda item: -len(item[1])):
        if value and len(value) >= 4:  # a one-digit port would match anywhere
            text = text.replace(value, "{" + name + "}")
    return text


def candidate(run: FailedRun, kept: Sequence[Write]) -> dict[str, Any]:
    """The run's scenario with its storm replaced by `kept`, written once each, in order."""
    scenario: dict[str, Any] = json.loads(json.dumps(run.scenario))  # a deep copy of plain data
    storm = scenario["faults"][run.fault_number]
    original = storm.get("params") or {}
    params: dict[str, Any] = {"pattern": "variants", "rounds": max(1, len(kept)),
                              "variants": [{"name": f"write-{w.index}", "label": _label(w.label), "expect": w.expect,
                                            "text": w.text} for w in kept]}
    for key in ("interval_ms", "write_mode", "settle_ms", "version_key"):
        if key in original:
            params[key] = original[key]
    storm["params"] = params
    if not kept:
        scenario["faults"] = [f for i, f in enumerate(scenario["faults"]) if i != run.fault_number]
    scenario["seed"] = run.seed
    return scenario


def _label(label: str) -> str:
    """A variant label from a write's mutation label (variants take lower-case words with dashes)."""
    cleaned = "".join(c if c.isalnum() else "-" for c in label.lower()).strip("-")
    return cleaned if cleaned and cleaned[0].isalpha() else "value"


def render(run: FailedRun, shrunk: Shrunk, run_dir: Path) -> str:
    """The shrunk scenario as a file a team commits: what it reproduces, then the scenario."""
    scenario = candidate(run, shrunk.kept)
    scenario["name"] = (str(scenario["name"]) + "-shrunk")[:61]
    header = [f"# Shrunk by `gochaos shrink` from {run_dir} (seed {run.seed}): {shrunk.describe()}.",
              f"# It fails {'the buggy build' if run.buggy else 'the build it ran'} with: "
              f"{' '.join(run.headline.split())[:300]}",
              f"# Replay: gochaos {'reproduce' if run.buggy else 'run'} THIS_FILE --seed {run.seed}"]
    return "\n".join(header) + "\n" + yaml.dump(scenario, Dumper=_BlockDumper, sort_keys=False, allow_unicode=True)


def shrink(run: FailedRun, still_fails: Callable[[dict[str, Any]], bool], *,
           progress: Callable[[str], None] = lambda _: None) -> Shrunk:
    """ddmin over the run's writes, each candidate judged by `still_fails` on its scenario."""
    started = time.monotonic()
    by_index = {w.index: w for w in run.writes}
    outcomes: list[tuple[tuple[int, ...], bool]] = []

    def fails(subset: tuple[int, ...]) -> bool:
        result = still_fails(candidate(run, [by_index[i] for i in subset]))
        outcomes.append((subset, result))
        progress(f"trial {len(outcomes)}: {len(subset)} write(s) -> {'fails' if result else 'passes'}")
        return result

    kept = ddmin([w.index for w in run.writes], fails)
    return Shrunk(tuple(by_index[i] for i in kept), len(run.writes), len(outcomes), time.monotonic() - started,
                  outcomes)


class _BlockDumper(yaml.SafeDumper):
    """YAML with multi-line strings (the configs) as literal blocks, as a person writes them."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value and all(line == line.rstrip() for line in value.splitlines()) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _str)

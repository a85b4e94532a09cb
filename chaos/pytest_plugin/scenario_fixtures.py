"""A scenario written in Python, as easily as in YAML, with one mechanism behind both.

    def test_reload_storm(gochaos_target, gochaos_load, gochaos_fault, gochaos_run):
        configd = gochaos_target("configd", reload_strategy="atomic")
        gochaos_load(configd, users=10)
        gochaos_fault("reload_storm", configd, pattern="incident", rounds=4, interval_ms=300)
        run = gochaos_run(baseline_s=1, observe_s=1)
        assert run.passed, run.explain()

The fixtures only write down the scenario, field by field as a `*.chaos.yaml` file would hold it;
`gochaos_run` validates it with the same model and checks as a file (`chaos.scenario`), then runs it
through the same runner as `gochaos run`. A mistake (an unknown injector, a bad param) is the same
ScenarioError a file gets, named after the test; nothing runs before it is fixed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pytest

from chaos.pytest_plugin import session

if TYPE_CHECKING:
    from chaos.run_result import RunResult
    from chaos.scenario import Scenario
    from chaos.verdict import Finding, Status


class ScenarioDraft:
    """What a test declared so far: the data of one scenario, as its YAML file would hold it."""

    def __init__(self, *, name: str, source: str, base_dir: Path) -> None:
        self.name = name
        self.source = source
        self.base_dir = base_dir
        self.data: dict[str, Any] = {}

    def target(self, bundled: str | None = None, /, *, name: str | None = None,
               buggy_flags: dict[str, Any] | None = None, race: bool = False, **fields: Any) -> str:
        """A bundled target with its flags as keywords, or (no bundled name) your own service by the
        fields of a YAML target (`name`, `command`, `config_file`, `live`, ...). Returns its name."""
        entry: dict[str, Any] = {"name": name} if name is not None else {}
        if bundled is not None:
            entry.update(bundled=bundled, flags=fields, race=race)
            if buggy_flags:
                entry["buggy_flags"] = buggy_flags
        else:
            entry.update(fields)
        self.data.setdefault("targets", []).append(entry)
        return str(name or bundled or "")

    def load(self, target: str | None, /, *, users: int = 10, spawn_rate: float | None = None,
             user: str | None = None, rate: float | None = None, **options: Any) -> None:
        """Load on `target` (None: no load at all), `rate` requests/s in total if given (as `load.rate`); other
        keywords are LoadSpec options, as `load.options`."""
        if target is None and (user, options) == (None, {}):
            self.data["load"] = None
            return
        entry: dict[str, Any] = {"target": target, "users": users, "options": options}
        if spawn_rate is not None:
            entry["spawn_rate"] = spawn_rate
        if user is not None:
            entry["user"] = user
        if rate is not None:
            entry["rate"] = rate
        self.data["load"] = entry

    def fault(self, injector: str, target: str | None = None, /, *, at_s: float = 0.0, repeat: int = 1,
              every_s: float = 0.0, jitter_s: float = 0.0, **params: Any) -> None:
        """A fault: its injector, the target it acts on, its schedule, and its params as keywords."""
        self.data.setdefault("faults", []).append({"injector": injector, "target": target, "at_s": at_s,
                                                   "repeat": repeat, "every_s": every_s, "jitter_s": jitter_s,
                                                   "params": params})

    def oracle(self, name: str, /, **params: Any) -> None:
        """An oracle, with its bounds as keywords; none declared: `panics`, as in a file."""
        self.data.setdefault("oracles", []).append({name: params} if params else name)

    def scenario(self, *, baseline_s: float | None, observe_s: float | None,
                 etcd: dict[str, Any] | None) -> Scenario:
        """The declared scenario, validated exactly as a YAML file is."""
        # deferred: the plugin imports the suite only once a gochaos item or fixture is used
        from chaos.scenario import scenario_from_data

        data = {"name": self.name, **self.data}
        windows = {k: v for k, v in (("baseline_s", baseline_s), ("observe_s", observe_s)) if v is not None}
        if windows:
            data["windows"] = windows
        if etcd is not None:
            data["etcd"] = etcd
        return scenario_from_data(data, source=self.source, base_dir=self.base_dir)


@dataclass(frozen=True)
class ChaosRun:
    """A finished run of a test's scenario: `assert run.passed, run.explain()`."""

    result: RunResult
    nodeid: str

    @property
    def passed(self) -> bool:
        # deferred: the plugin imports the suite only once a gochaos item or fixture is used
        from chaos.verdict import Status

        return self.result.verdict.status is Status.PASS

    @property
    def status(self) -> Status:
        return self.result.verdict.status

    @property
    def findings(self) -> tuple[Finding, ...]:
        return tuple(self.result.verdict.findings)

    @property
    def seed(self) -> int:
        return self.result.seed

    def __repr__(self) -> str:  # what pytest shows for `assert run.passed`: the verdict, not the whole run
        return f"<run {self.result.scenario.name}: {self.status.value}, seed {self.seed}>"

    def finding(self, check: str) -> Finding:
        """The finding of one check (e.g. "panics"); KeyError naming the checks there are."""
        for item in self.result.verdict.findings:
            if item.check == check:
                return item
        raise KeyError(f"no finding {check!r}; this run has {[f.check for f in self.result.verdict.findings]}")

    def explain(self) -> str:
        """The verdict, every finding, the evidence of those that did not pass, and the replay command."""
        # deferred: the plugin imports the suite only once a gochaos item or fixture is used
        from chaos.pytest_plugin.items import describe

        return describe(self.result, self.nodeid)


class RunScenario(Protocol):
    def __call__(self, *, baseline_s: float | None = None, observe_s: float | None = None,
                 etcd: dict[str, Any] | None = None, buggy: bool = False, seed: int | None = None) -> ChaosRun: ...


def _scenario_name(test_name: str) -> str:
    name = re.sub(r"[^a-z0-9-]+", "-", test_name.lower().removeprefix("test_")).strip("-")
    return (name or "python-scenario")[:61].rstrip("-")


@pytest.fixture
def gochaos_scenario(request: pytest.FixtureRequest, gochaos_session: None) -> ScenarioDraft:
    """The test's scenario, written by gochaos_target / _load / _fault / _oracle and run by gochaos_run."""
    return ScenarioDraft(name=_scenario_name(request.node.name), source=request.node.nodeid,
                         base_dir=request.path.parent)


@pytest.fixture
def gochaos_target(gochaos_scenario: ScenarioDraft) -> Callable[..., str]:
    """`gochaos_target("configd", reload_strategy="atomic")` -> "configd": a target of the test's scenario."""
    return gochaos_scenario.target


@pytest.fixture
def gochaos_load(gochaos_scenario: ScenarioDraft) -> Callable[..., None]:
    """`gochaos_load(target, users=10, spawn_rate=100, rate=None)`: the scenario's load (default, as in a file:
    10 users)."""
    return gochaos_scenario.load


@pytest.fixture
def gochaos_fault(gochaos_scenario: ScenarioDraft) -> Callable[..., None]:
    """`gochaos_fault("reload_storm", target, pattern="incident", rounds=4, at_s=0)`: one fault of the scenario."""
    return gochaos_scenario.fault


@pytest.fixture
def gochaos_oracle(gochaos_scenario: ScenarioDraft) -> Callable[..., None]:
    """`gochaos_oracle("recovery", bound_s=5)`: one oracle of the scenario (none declared: panics)."""
    return gochaos_scenario.oracle


@pytest.fixture
def gochaos_run(request: pytest.FixtureRequest, gochaos_scenario: ScenarioDraft) -> RunScenario:
    """`gochaos_run(baseline_s=1, observe_s=2, buggy=False, seed=None)` -> ChaosRun: runs the scenario.

    On the session's platform, with the session's seed (--gochaos-seed) unless `seed` is given; the
    report and artefacts go under --gochaos-report-dir when set.
    """
    # deferred: the plugin imports the suite only once a gochaos item or fixture is used
    from chaos.pytest_plugin.items import node_dir_name

    def run(*, baseline_s: float | None = None, observe_s: float | None = None, etcd: dict[str, Any] | None = None,
            buggy: bool = False, seed: int | None = None) -> ChaosRun:
        # deferred: the plugin imports the suite only once a gochaos item or fixture is used
        from chaos.plan import require_buggy_variant
        from chaos.report import json_report
        from chaos.runner import run_scenario

        scenario = gochaos_scenario.scenario(baseline_s=baseline_s, observe_s=observe_s, etcd=etcd)
        if buggy:
            require_buggy_variant(scenario)
        config = request.config
        kept = session.report_dir(config)
        folder = kept / node_dir_name(request.node.nodeid) if kept is not None else None
        result = run_scenario(scenario, base_dir=gochaos_scenario.base_dir, platform=session.platform_name(config),
                              buggy=buggy, seed=seed if seed is not None else session.seed(config),
                              run_dir=folder / "artefacts" if folder else None, kube=session.kube_options(config))
        if folder is not None:
            json_report.write(result, folder)
        return ChaosRun(result, request.node.nodeid)

    return run

"""Shrinking a failed storm: delta debugging over its writes, placeholders put back, the scenario that
replays the writes kept."""

from __future__ import annotations

from pathlib import Path

import yaml

from chaos.shrink import FailedRun, Shrunk, Write, candidate, ddmin, render, unfill


def test_ddmin_finds_the_one_write_that_fails_asking_each_subset_once() -> None:
    asked: list[tuple[int, ...]] = []

    def fails(subset: tuple[int, ...]) -> bool:
        asked.append(subset)
        return 37 in subset

    assert ddmin(range(1, 97), fails) == (37,)
    assert len(asked) == len(set(asked)) and len(asked) < 40, asked


def test_ddmin_keeps_a_pair_that_fails_only_together_in_order() -> None:
    assert ddmin(range(1, 13), lambda s: 3 in s and 9 in s) == (3, 9)


def test_a_failure_that_needs_no_write_shrinks_to_none() -> None:
    assert ddmin(range(1, 9), lambda s: True) == ()


def test_the_runs_addresses_become_placeholders_again() -> None:
    values = {"listen": "127.0.0.1:31337", "port": "31337", "host": "127.0.0.1", "listen.admin": "127.0.0.1:31338"}
    text = 'listen: "127.0.0.1:31337"\nadmin: 127.0.0.1:31338\nworkers: 4\n'
    assert unfill(text, values) == 'listen: "{listen}"\nadmin: {listen.admin}\nworkers: 4\n'


def run_of(writes: tuple[Write, ...]) -> FailedRun:
    scenario = {"name": "svc-storm", "targets": [{"name": "svc", "command": ["./svc"], "config_file": "c.yaml"}],
                "faults": [{"injector": "reload_storm", "target": "svc",
                            "params": {"pattern": "auto", "rounds": 96, "interval_ms": 50, "protect": ["x"]}}],
                "oracles": ["panics"]}
    return FailedRun(scenario_file=Path("s.chaos.yaml"), scenario=scenario, seed=7,
                     buggy=False, failing_checks=frozenset({"panics"}), headline="svc: panic: index out of range",
                     fault_number=0, target="svc", writes=writes)


def test_the_candidate_replays_the_kept_writes_in_order_as_declared_variants() -> None:
    writes = (Write(3, "middleware: []\n", "unknown", "structural"), Write(9, "workers: 0\n", "unknown", "value"))
    storm = candidate(run_of(writes), writes)["faults"][0]["params"]
    assert storm == {"pattern": "variants", "rounds": 2, "interval_ms": 50, "variants": [
        {"name": "write-3", "label": "structural", "expect": "unknown", "text": "middleware: []\n"},
        {"name": "write-9", "label": "value", "expect": "unknown", "text": "workers: 0\n"}]}


def test_the_written_scenario_says_what_it_reproduces_and_loads_back() -> None:
    writes = (Write(37, "middleware: []\nworkers: 4\n", "unknown", "structural"),)
    text = render(run_of(writes), Shrunk(writes, total=96, trials=7, seconds=48.2), Path("r"))
    assert text.splitlines()[0] == ("# Shrunk by `gochaos shrink` from r (seed 7): 96 writes -> 1 write, 7 trial "
                                    "runs, 48 s.")
    assert "# It fails the build it ran with: svc: panic: index out of range" in text
    data = yaml.safe_load(text)
    assert data["name"] == "svc-storm-shrunk" and data["seed"] == 7
    assert data["faults"][0]["params"]["variants"][0]["text"] == "middleware: []\nworkers: 4\n"
    assert "      text: |\n        middleware: []\n        workers: 4\n" in text, "configs as literal blocks"

"""Injectors against the bundled targets on the local platform: what they did, and that they undo it.

Each fault runs through the framework (`run_fault`), as in a real run, and the test then checks
the world: file contents and timings, the leader really changed, the GC rate really rose, and
after an interruption mid-fault everything is back (config restored, leader resumed, iptables
rules gone, memory limit lifted).
"""

from __future__ import annotations

import random
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from chaos import state
from chaos.chaosagent import agent_for
from chaos.injectors import create
from chaos.injectors.base import FaultReport, InjectionContext, run_fault
from chaos.observe.probes import live_version
from chaos.platform.base import RunningTarget
from chaos.platform.local import cgroups
from chaos.platform.local.etcd import EtcdCluster
from chaos.platform.local.netfilter import iptables_available, leftover_rules
from chaos.platform.local.platform import LocalPlatform
from chaos.timeline import Event, EventKind, Timeline
from chaos.verdict import Status

pytestmark = pytest.mark.integration
TOKEN = {"CHAOSAGENT_TOKEN": "test-token"}


def fault(ctx: InjectionContext, name: str, target: str | None = None, **params: object) -> FaultReport:
    return run_fault(create(name, params, target), ctx, fault_id=1)


@pytest.fixture
def ctx(gochaos_platform: LocalPlatform, gochaos_timeline: Timeline) -> InjectionContext:
    return InjectionContext(platform=gochaos_platform, timeline=gochaos_timeline, rng=random.Random(1))


def interrupt_midway(ctx: InjectionContext, name: str, target: str | None, after_s: float,
                     **params: object) -> FaultReport:
    """Run a fault in a thread and stop the run under it, as the runner does on Ctrl-C."""
    result: list[FaultReport] = []
    thread = threading.Thread(target=lambda: result.append(fault(ctx, name, target, **params)))
    thread.start()
    time.sleep(after_s)
    ctx.stop.set()
    thread.join(30)
    assert not thread.is_alive() and result
    return result[0]


# -- reload_storm -------------------------------------------------------------------------------
def test_reload_storm_through_the_configmap_api_is_refused_on_local_processes(
    gochaos_make_target: Callable[..., RunningTarget], ctx: InjectionContext, gochaos_timeline: Timeline
) -> None:
    gochaos_make_target("configd")
    report = fault(ctx, "reload_storm", "configd", write_mode="configmap-api")
    assert not report.outcome.landed and report.finding().status is Status.INCONCLUSIVE
    assert "configmap-api updates a real ConfigMap: run with --platform kubernetes" in report.outcome.summary
    assert gochaos_timeline.events(kind=EventKind.RELOAD_WRITE) == []


@pytest.mark.parametrize("mode", ["rename", "truncate", "configmap", "torn"])
def test_reload_storm_each_write_mode_is_acknowledged_and_reverted(
    gochaos_make_target: Callable[..., RunningTarget], ctx: InjectionContext, gochaos_timeline: Timeline, mode: str
) -> None:
    configd = gochaos_make_target("configd")
    assert configd.config_path is not None
    original = configd.config_path.read_text()
    report = fault(ctx, "reload_storm", "configd", pattern="structural", rounds=3, interval_ms=300,
                   write_mode=mode)
    assert report.outcome.landed, report.outcome.summary
    writes = gochaos_timeline.events(kind=EventKind.RELOAD_WRITE)
    assert [w.details["mode"] for w in writes[:3]] == [mode] * 3
    assert writes[-1].details["mutation"] == "revert"
    assert report.outcome.details["live_version"] == writes[2].details["version"]
    # every version went live, and how long after its write is on record
    assert len(report.outcome.details["live_after_ms"]) == report.outcome.details["valid_versions_seen_live"] >= 1
    assert all(0 <= ms < 5000 for ms in report.outcome.details["live_after_ms"])
    # reverted: the original text, as a plain file, and the target serves the original version again
    assert configd.config_path.read_text() == original and not configd.config_path.is_symlink()
    assert not (configd.config_path.parent / "..data").exists()
    deadline = time.monotonic() + 5
    while live_version(configd) != "1" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert live_version(configd) == "1"


def test_reload_storm_structural_write_really_adds_a_route(
    gochaos_make_target: Callable[..., RunningTarget], ctx: InjectionContext
) -> None:
    configd = gochaos_make_target("configd")
    assert configd.config_path is not None
    seen: dict[str, object] = {}
    original_write = ctx.timeline.record

    def spy(kind: EventKind, source: str, t_ns: int | None = None, **details: Any) -> Event:
        if kind == EventKind.RELOAD_WRITE and details.get("mutation") == "structural":
            assert configd.config_path is not None
            seen.update(yaml.safe_load(configd.config_path.read_text()))
        return original_write(kind, source, t_ns, **details)

    ctx.timeline.record = spy  # type: ignore[method-assign]
    report = fault(ctx, "reload_storm", "configd", pattern="structural", rounds=1, settle_ms=3000)
    assert report.outcome.landed
    assert "/gochaos/r1" in seen["http"]["routes"]  # type: ignore[index]


def test_reload_storm_invalid_configs_are_rejected_and_never_live(
    gochaos_make_target: Callable[..., RunningTarget], ctx: InjectionContext, gochaos_timeline: Timeline
) -> None:
    configd = gochaos_make_target("configd")
    report = fault(ctx, "reload_storm", "configd", pattern="mixed", rounds=8, interval_ms=150)
    assert report.outcome.landed, report.outcome.summary
    writes = gochaos_timeline.events(kind=EventKind.RELOAD_WRITE)
    invalid = {w.details["version"] for w in writes if not w.details["valid"]}
    assert invalid, "the seeded mix should contain invalid configs"
    assert report.outcome.details["live_version"] not in invalid
    rejected = [line.text for line in configd.logs() if "reload_rejected" in line.text]
    assert rejected, "configd logged no rejection"


@pytest.mark.parametrize("interval_ms", [100, 10])
def test_reload_storm_interval_precision(
    gochaos_make_target: Callable[..., RunningTarget], ctx: InjectionContext, interval_ms: int
) -> None:
    gochaos_make_target("configd")
    report = fault(ctx, "reload_storm", "configd", pattern="value", rounds=30, interval_ms=interval_ms)
    achieved = report.outcome.details["achieved_intervals_ms"]
    errors = sorted(abs(a - interval_ms) for a in achieved)
    p50, p99 = statistics.median(errors), errors[min(len(errors) - 1, round(0.99 * (len(errors) - 1)))]
    print(f"reload interval {interval_ms} ms: error p50 {p50:.2f} ms, p99 {p99:.2f} ms")
    assert len(achieved) == 29 and p50 < 5


def test_reload_storm_interrupted_restores_the_config(
    gochaos_make_target: Callable[..., RunningTarget], ctx: InjectionContext
) -> None:
    configd = gochaos_make_target("configd")
    assert configd.config_path is not None
    original = configd.config_path.read_text()
    report = interrupt_midway(ctx, "reload_storm", "configd", 0.5, pattern="incident", rounds=100,
                              interval_ms=100, write_mode="configmap")
    assert not report.outcome.landed and "stopping" in report.outcome.summary
    assert configd.config_path.read_text() == original and not configd.config_path.is_symlink()


# -- leader_loss --------------------------------------------------------------------------------
@pytest.fixture
def etcd_ctx(ctx: InjectionContext, gochaos_etcd_cluster: EtcdCluster) -> InjectionContext:
    ctx.etcd = gochaos_etcd_cluster
    return ctx


MODES = ["move", "kill", "pause"] + (["isolate"] if iptables_available() is None else [])


@pytest.mark.parametrize("mode", MODES)
def test_leader_loss_elects_another_leader_and_brings_the_old_one_back(
    etcd_ctx: InjectionContext, gochaos_etcd_cluster: EtcdCluster, mode: str
) -> None:
    old, _ = gochaos_etcd_cluster.wait_for_leader()
    report = fault(etcd_ctx, "leader_loss", mode=mode, duration_s=0.5)
    assert report.outcome.landed, report.outcome.summary
    details = report.outcome.details
    assert details["old_leader"] == old.name and details["new_leader"] != old.name
    print(f"leader_loss {mode}: new leader after {details['new_leader_after_ms']} ms")
    status = gochaos_etcd_cluster.status(old)
    assert status is not None and old.process.running and not old.paused and old.isolation is None


@pytest.mark.parametrize("mode", [m for m in MODES if m != "move"])
def test_leader_loss_interrupted_leaves_the_cluster_whole(
    etcd_ctx: InjectionContext, gochaos_etcd_cluster: EtcdCluster, mode: str
) -> None:
    report = interrupt_midway(etcd_ctx, "leader_loss", None, 1.5, mode=mode, duration_s=60)
    assert report.end_ns - report.start_ns < 20e9, "the interruption did not cut the fault short"
    answering = {m.name: gochaos_etcd_cluster.status(m) for m in gochaos_etcd_cluster.members}
    assert all(answering.values()), (answering, report)
    assert not any(m.paused or m.isolation for m in gochaos_etcd_cluster.members)
    assert not any(f"-{m.name}" in r for m in gochaos_etcd_cluster.members for r in leftover_rules())


def test_leader_loss_without_etcd_is_reported_unavailable(ctx: InjectionContext) -> None:
    report = fault(ctx, "leader_loss", mode="kill")
    assert report.finding().status is Status.INCONCLUSIVE and "no etcd cluster" in report.outcome.summary


# -- gc_pressure --------------------------------------------------------------------------------
@pytest.fixture
def allocd(gochaos_make_target: Callable[..., RunningTarget]) -> Iterator[RunningTarget]:
    """allocd with its agent on, under steady real traffic (merges allocate)."""
    target = gochaos_make_target("allocd", extra_env=TOKEN)
    stop = threading.Event()

    def traffic() -> None:
        session = requests.Session()
        body = {"maps": [{f"k{i}": i for i in range(200)}] * 2, "lists": [list(range(200))] * 2}
        while not stop.is_set():
            try:
                session.post(target.endpoint.url + "/merge", json=body, timeout=2)
            except requests.RequestException:
                time.sleep(0.05)
            time.sleep(0.005)

    thread = threading.Thread(target=traffic, daemon=True)
    thread.start()
    time.sleep(2)  # a before-window of steady traffic
    yield target
    stop.set()
    thread.join(5)


def test_gc_pressure_agent_churn_raises_the_gc_rate_and_reverts(
    allocd: RunningTarget, ctx: InjectionContext
) -> None:
    report = fault(ctx, "gc_pressure", "allocd", method="agent", churn_mb_per_sec=200, duration_s=2)
    d = report.outcome.details
    assert report.outcome.landed, report.outcome.summary
    assert d["gc_per_s_during"] > d["gc_per_s_before"] and d["measured_by"] == "gctrace"
    agent = agent_for(allocd)
    assert agent is not None and agent.runtime()["active_actions"] == []


def test_gc_pressure_env_gogc_restarts_with_it_and_back(
    allocd: RunningTarget, ctx: InjectionContext, gochaos_timeline: Timeline
) -> None:
    report = fault(ctx, "gc_pressure", "allocd", method="env", gc_percent=5, duration_s=3)
    assert report.outcome.landed, report.outcome.summary
    starts = [e.details.get("env") for e in gochaos_timeline.events(kind=EventKind.TARGET_START)[1:]]
    assert starts == [{"GOGC": "5"}, {"GOGC": None}]
    assert allocd.restarts == 0  # requested restarts, not crashes
    pid = allocd.pid
    assert pid is not None and b"GOGC=" not in Path(f"/proc/{pid}/environ").read_bytes()


@pytest.mark.skipif(cgroups.version() is None, reason="no cgroup memory controller on this machine")
def test_gc_pressure_cgroup_memory_and_cpu_squeeze_is_applied_and_lifted(
    allocd: RunningTarget, ctx: InjectionContext
) -> None:
    pid = allocd.pid
    assert pid is not None
    before = Path(f"/proc/{pid}/cgroup").read_text()
    report = fault(ctx, "gc_pressure", "allocd", method="cgroup", memory_limit_mb=64, cpu_limit_millicores=100,
                   duration_s=2)
    assert report.outcome.landed, report.outcome.summary
    assert len(report.outcome.details["cgroups"]) == (1 if cgroups.version() == 2 else 2)
    assert report.outcome.details["cpu_throttled_periods"] > 0
    assert Path(f"/proc/{pid}/cgroup").read_text() == before
    assert [g for g in cgroups.leftover_groups() if state.owner_tag() in g.name] == []


@pytest.mark.skipif(cgroups.version() is None, reason="no cgroup memory controller on this machine")
def test_gc_pressure_interrupted_lifts_the_memory_limit(allocd: RunningTarget, ctx: InjectionContext) -> None:
    interrupt_midway(ctx, "gc_pressure", "allocd", 1.0, method="cgroup", memory_limit_mb=64, duration_s=60)
    assert [g for g in cgroups.leftover_groups() if state.owner_tag() in g.name] == []
    agent_report = interrupt_midway(ctx, "gc_pressure", "allocd", 1.0, method="agent",
                                    memory_limit_mb=32, duration_s=60)
    assert not agent_report.outcome.landed
    agent = agent_for(allocd)
    assert agent is not None
    runtime = agent.runtime()
    assert runtime["active_actions"] == [] and runtime["memory_limit_bytes"] > 1 << 40


def test_gc_pressure_hog_holds_its_memory_and_is_gone_after(allocd: RunningTarget, ctx: InjectionContext) -> None:
    report = fault(ctx, "gc_pressure", "allocd", method="hog", hog_mb=128, hog_cpu=False, duration_s=1.5)
    assert report.outcome.landed and report.outcome.details["hog_peak_mb"] >= 115
    pid = report.outcome.details["hog"].removeprefix("pid ")
    assert not Path(f"/proc/{pid}").exists() or Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] == "Z"

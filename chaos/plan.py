"""What a run will do, decided before anything starts: the seed, the fault schedule, the dry run.

The runner and `--dry-run` share these functions, so the plan printed is the schedule the run
would follow with the same seed. Describing a plan touches nothing: no build, no process, no file.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from chaos.injectors.base import Injector, create
from chaos.scenario import Scenario
from chaos.targets import GO_OBSERVABILITY_ENV, PLACEHOLDERS, TargetSpec, chaosagent_env, fill_placeholders


@dataclass(frozen=True, slots=True)
class ScheduledFault:
    """One injection: when (seconds after the fault phase starts) and what."""

    at_s: float
    injector: Injector


def resolve_seed(scenario: Scenario, seed: int | None) -> int:
    """The flag's seed, else the scenario's, else a fresh one (printed in every report)."""
    if seed is not None:
        return seed
    if scenario.seed is not None:
        return scenario.seed
    return random.SystemRandom().randrange(2**31)


def fault_schedule(scenario: Scenario, seed: int) -> list[ScheduledFault]:
    """Every repetition of every fault at its offset, jitter drawn from `seed`, in start order."""
    rng = random.Random(seed)
    planned = [ScheduledFault(at_s, create(f.injector, f.params, f.target))
               for f in scenario.faults for at_s in f.offsets(rng)]
    return sorted(planned, key=lambda fault: fault.at_s)


def fault_budget_s(schedule: list[ScheduledFault]) -> float:
    """From the start of the fault phase to the latest a fault can end."""
    return max((f.at_s + f.injector.expected_duration_s() for f in schedule), default=0.0)


def describe(scenario: Scenario, specs: list[TargetSpec], *, seed: int, buggy: bool,
             platform: str) -> list[str]:
    """The dry run: targets and how they start, etcd, load, windows, faults by time, oracles."""
    from chaos.oracles import ORACLES

    build = "buggy build" if buggy else "fixed build"
    lines = [f"plan for {scenario.name} ({build}) on platform {platform}, seed {seed} "
             f"(replay with --seed {seed}); dry run: nothing was built, started or written"]
    lines.append("targets:")
    for spec in specs:
        lines.append(f"  {spec.name}: {' '.join(_shown_argv(spec, platform))}")
        env = {**GO_OBSERVABILITY_ENV, **spec.env, **(chaosagent_env("<token>") if spec.chaosagent else {})}
        ready = f"GET {spec.readiness.http_path} answers 2xx" if spec.readiness.http_path else "its port accepts"
        config = (f"; config {spec.config.file_name} (reload by {spec.config.trigger.value})"
                  if spec.config else "")
        lines.append(f"    env {_inline(env)}; ready when {ready} within {spec.readiness.timeout_s:g}s; "
                     f"restart {spec.restart.value}{config}")
    etcd = scenario.etcd
    if etcd is not None or any(s.needs_etcd for s in specs):
        members, heartbeat, election = (etcd.members, etcd.heartbeat_ms, etcd.election_ms) if etcd else (3, 50, 500)
        where = "on loopback" if platform == "local" else "as the StatefulSet of manifests/etcd in the run's namespace"
        lines.append(f"etcd: {members} members {where}, heartbeat {heartbeat} ms, election {election} ms")
    else:
        lines.append("etcd: none")
    schedule = fault_schedule(scenario, seed)
    windows = scenario.windows
    if scenario.load is None:
        lines.append("load: none")
    else:
        load = scenario.load
        target = next(s for s in specs if load.target in (None, s.name))
        user = load.user or target.load_user or "(none fits: set load.user)"
        limit = windows.baseline_s + windows.observe_s + fault_budget_s(schedule) + 30
        options = f", options {_inline(load.options)}" if load.options else ""
        lines.append(f"load: {load.users} {user} users on {target.name}, spawn rate {load.spawn_rate:g}/s"
                     f"{options}; stopped after at most {limit:g}s")
    lines.append(f"windows: baseline {windows.baseline_s:g}s, faults, then observe {windows.observe_s:g}s")
    if schedule:
        lines.append(f"faults (offsets from the start of the fault phase, drawn from seed {seed}):")
        lines += [f"  +{f.at_s:8.3f}s  {f.injector.plan()}; lasts at most "
                  f"{f.injector.expected_duration_s():g}s" for f in schedule]
    else:
        lines.append("faults: none")
    lines.append("oracles:")
    for name, params in scenario.oracle_entries():
        bounds = ORACLES[name].params(**params).model_dump(mode="json")
        lines.append(f"  {name}: {_inline(bounds) if bounds else '(no parameters)'}")
    return lines


def _shown_argv(spec: TargetSpec, platform: str) -> list[str]:
    """The command with placeholders shown as what the platform would put there."""
    values = {name: f"<{name}>" for name in PLACEHOLDERS}
    if platform == "kubernetes":  # the pod's view, as the platform renders it
        from chaos.platform.kubernetes.manifests import pod_placeholders

        values.update(pod_placeholders(spec, "<container port>", "<etcd_endpoints>"),
                      binary=f"<{spec.binary} image>" if spec.binary else "")
    else:
        file_name = spec.config.file_name if spec.config else "config"
        values.update(binary=f"<{spec.binary} binary>" if spec.binary else "", listen="127.0.0.1:<free port>",
                      host="127.0.0.1", port="<free port>", config=f"<run dir>/{spec.name}/{file_name}",
                      workdir=f"<run dir>/{spec.name}")
    return [fill_placeholders(arg, values, spec.name) for arg in spec.command]


def _inline(mapping: dict[str, Any] | Any) -> str:
    items = mapping.items() if isinstance(mapping, dict) else dict(mapping).items()
    return ", ".join(f"{k}={v}" for k, v in items)


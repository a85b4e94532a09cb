"""The scenario `gochaos init` writes: YAML that runs as written, its comments saying what was tried and seen.

Values are dumped with PyYAML (flow style, so a probe or a request stays one line); the structure
and the comments are written here. What init could not find is a `TODO` comment naming what it
tried — never a default that merely looks found.
"""

from __future__ import annotations

import math
import os
import re
import time
from pathlib import Path
from typing import Any

import yaml

from chaos.init import load_choice
from chaos.init.findings import Findings
from chaos.init.live_evidence import POLL_S, SETTLE_S
from chaos.init.reload_probe import UNPARSEABLE
from chaos.targets import HttpReload, ReloadTrigger

#: The storm's fastest pace, and how long a first scenario's storm may last at most (rounds are cut to fit).
INTERVAL_MS = 250
#: A watcher that showed a write this late (past init's own polling) looks on a timer of its own.
POLLING_MS = 300
MAX_STORM_S = 60
SEED = 1


def flow(value: Any) -> str:
    """`value` as one line of YAML."""
    return yaml.safe_dump(value, default_flow_style=True, width=10_000, sort_keys=False).strip().removesuffix(
        "\n...").removesuffix("...").strip()


def render(findings: Findings, scenario_dir: Path) -> str:
    """The scenario file's text."""
    f = findings
    out: list[str] = []
    say = out.append
    say(f"# Written by `gochaos init` on {time.strftime('%Y-%m-%d %H:%M')} from:")
    say(f"#   {f.invocation}")
    say("# It ran the service once as given, once with the suite's port placeholders, and tried what is written")
    say("# below; each section says what it tried and what it saw. Run it: gochaos run <this file>")
    say(f"name: {f.name}")
    say(f"seed: {SEED}                                 # the storm's writes replay exactly with this seed")
    say("targets:")
    say(f"  - name: {f.name}")
    if f.binary.go_install is not None:
        say(f"    go_install: {flow(f.binary.go_install)}")
    elif f.binary.build is not None:
        say(f"    build: {flow(_relative(f.binary.build, scenario_dir))}")
    say(f"    command: {flow(f.command)}")
    if f.hosts:
        say(f"    # bind address(es) replaced by {{host}} (loopback): {'; '.join(f.hosts)}")
    _ports(f, say)
    _config(f, say)
    _readiness(f, say)
    _reload(f, say)
    _live(f, say)
    load = load_choice.choose(f)
    say(f"# load: {load.why}" if load.why else "# load: none")
    for todo in load.todo:
        say(f"# TODO: {todo}")
    if load.entry is None:
        say("load: null")
    else:
        say("load:")
        for key, value in load.entry.items():
            if key == "options":
                say("  options:")
                for user, options in value.items():
                    say(f"    {user}:")
                    for option, setting in options.items():
                        if isinstance(setting, list) and setting and isinstance(setting[0], dict):
                            say(f"      {option}:")
                            out.extend(f"        - {flow(item)}" for item in setting)
                        else:
                            say(f"      {option}: {flow(setting)}")
            else:
                say(f"  {key}: {flow(value)}")
    say("windows: {baseline_s: 3, observe_s: 3}")
    _faults(f, say)
    _oracles(f, say)
    return "\n".join(out) + "\n"


def _relative(path: Path, base: Path) -> str:
    """`path` from the scenario's dir `base` (the same tree: a checkout), else absolute."""
    path, base = path.resolve(), base.resolve()
    if os.path.commonpath([path, base]) == path.anchor:
        return str(path)
    rel = os.path.relpath(path, base)
    return rel if rel.startswith(".") else f"./{rel}"


def _ports(f: Findings, say: Any) -> None:
    for port in f.ports:
        report = port.report
        speaks = report.protocol if report is not None else "?"
        if report is not None and report.banner:
            speaks += f" ({report.banner!r})"
        if report is not None and report.grpc_health:
            speaks += f", grpc.health.v1 {report.grpc_health}"
        role = "the main port" if not port.name else f"named port `{port.name}`"
        say(f"    # {port.placeholder}: {role}, speaks {speaks}; was {'; '.join(port.where)}")
    for listener in f.unplaced:
        say(f"    # TODO: it also listens on {listener}, which neither argv nor config names: a fixed port, so two "
            "runs at once clash there; pass the flag or config key that sets it")
    if f.named_ports():
        say(f"    ports: {flow(f.named_ports())}")


def _config(f: Findings, say: Any) -> None:
    if f.config_name is None:
        say("    # no config file given (--config FILE): no reload to find, no storm to write")
        return
    say(f"    config_file: {flow(f.config_name)}")
    say(f"    # a copy of {f.config_source} with its listen addresses as placeholders")
    if f.config_format is not None:
        if f.config_format.declared is not None:
            say(f"    format: {f.config_format.declared}")
        say(f"    # format: {f.config_format.why}")


def _readiness(f: Findings, say: Any) -> None:
    report = f.main.report
    if report is not None and report.protocol == "http" and report.ready_path is not None:
        say(f"    ready_path: {report.ready_path}              # answered 2xx on the main port")
    elif report is not None and report.grpc_health == "SERVING":
        say("    ready_grpc: true                   # grpc.health.v1 answered SERVING on the main port")
    else:
        tried = "; ".join(report.tried) if report is not None else "not probed"
        say(f"    ready_path: null                   # TCP connect on the main port (tried: {tried})")


def _reload(f: Findings, say: Any) -> None:
    found = f.reload
    if found is None:
        return
    for line in found.tried:
        say(f"    # reload tried: {_one_line(line)}")
    if found.trigger is None:
        say("    # TODO: no reload method showed anything (no log line, metric or JSON field moved): set `reload:` to "
            "the one it has (watch, sighup or http)")
        say("    reload: watch                      # TODO: unconfirmed (see above)")
        return
    note = "TODO: assumed, it survives SIGHUP but showed no reload" if found.assumed else "seen, see above"
    say(f"    reload: {found.trigger.value}                      # {note}")
    request = f.reload_request
    if request is not None and request != HttpReload():
        say(f"    reload_request: {flow(request.model_dump(exclude_defaults=True))}")
    if found.crashed is not None:
        say(f"    # NOTE: the unparseable config ended it: {_one_line(found.crashed)}")
        say("    #   a config it cannot parse crashes it on reload: the storm below will fail `panics` on this")


def _live(f: Findings, say: Any) -> None:
    if f.reload is None or f.live is None:
        return
    for names in f.metric_names.items():
        say(f"    # metrics on {'the main port' if not names[0] else names[0]}: config-ish samples: "
            f"{', '.join(names[1][:8]) or 'none'}")
    if not f.live.probes:
        say("    # TODO: no live probe: nothing showed which config is live, so the storm's writes will be of unknown "
            "outcome (the run says inconclusive). Looked for:")
        for missing in f.live.missing:
            say(f"    #   {missing}")
        for also in f.live.also:
            say(f"    #   {_one_line(also)}")
        return
    say("    live:")
    for proposal in f.live.probes:
        say(f"      # {_one_line(proposal.why)}")
        say(f"      - {flow(proposal.probe)}")
    for also in f.live.also:
        say(f"      # {_one_line(also)}")
    for missing in f.live.missing:
        say(f"      # not found: {missing}")


def _pace(f: Findings) -> tuple[int, int]:
    """(interval_ms, settle_ms) the storm keeps: one write per look of a slow watcher, and time to show the last."""
    watching = f.reload is not None and f.reload.trigger is ReloadTrigger.WATCH
    # a signal or a POST is answered at once: what init measured is its own polling; a watcher looks when it will
    latency_ms = max(0.0, f.reload.latency_s - POLL_S) * 1000 if f.reload is not None and watching else 0.0
    # one look of a polling watcher (CoreDNS's `reload 2s 1s`) came after latency L: its period, jitter included,
    # may be well over 2L, and a write overtaken before the next look goes unseen; 4L keeps one write per look.
    # Init's later writes came SETTLE_S (+ a poll) after a look it saw, so such a watcher's period is at least
    # L + SETTLE_S + POLL_S, and a watcher that draws its period anew at each reload may draw up to twice that
    period_ms = (f.reload.latency_s + SETTLE_S + POLL_S) * 1000 if f.reload is not None else 0.0
    redrawn_ms = 2 * period_ms if latency_ms >= POLLING_MS else 0.0
    interval = max(INTERVAL_MS, math.ceil(max(latency_ms * 4, redrawn_ms) / 250) * 250)
    return interval, max(3000, math.ceil(max(latency_ms * 5, redrawn_ms) / 500) * 500)


def _variants(f: Findings) -> bool:
    """A config the suite does not parse, whose refusal and acceptance init saw: whole-file variants of those."""
    found = f.reload
    return (f.config_name is not None and f.config_format is not None and not f.config_format.parsed
            and found is not None and found.trigger is not None and not found.assumed and found.refused
            and bool(found.accepted))


def unparseable_name(f: Findings) -> str:
    assert f.config_name is not None
    return f"{f.config_name}.unparseable"


def extra_files(f: Findings) -> dict[str, str]:
    """Files the scenario names besides the config copy: the unparseable variant of a text config."""
    if not _variants(f) or f.config_text is None:
        return {}
    return {unparseable_name(f): f.config_text + UNPARSEABLE}


def _faults(f: Findings, say: Any) -> None:
    say("faults:")
    interval, settle = _pace(f)
    pace: dict[str, Any] = {"interval_ms": interval}
    if settle != 3000:
        pace["settle_ms"] = settle
    slow = interval > INTERVAL_MS
    why = (f" (its watcher showed a write up to {f.reload.latency_s:.1f} s after it: if writes go unseen, raise "
           "interval_ms)") if f.reload is not None and slow else ""
    if f.config_name is not None and f.config_format is not None and f.config_format.parsed:
        rounds: int | str = "auto"
        budget = max(1, MAX_STORM_S * 1000 // interval)
        if f.sites is not None and f.sites > budget:
            rounds = budget
        sites = f"{f.sites} sites" if f.sites is not None else "its sites"
        say(f"  # every (path, operator) site of the config once, likeliest breakers first ({sites}; "
            f"`gochaos explain operators`){why}")
        say("  - injector: reload_storm")
        say(f"    target: {f.name}")
        say(f"    params: {flow({'pattern': 'auto', 'rounds': rounds, **pace})}")
        return
    if _variants(f):
        assert f.config_name is not None
        say(f"  # the suite does not parse this config: whole-file variants init saw the service refuse and take{why}")
        say("  - injector: reload_storm")
        say(f"    target: {f.name}")
        say("    params:")
        for key, value in {"pattern": "variants", "rounds": 4, **pace}.items():
            say(f"      {key}: {flow(value)}")
        say("      variants:")
        broken = {"name": "unparseable", "label": "syntax", "expect": "reject", "file": unparseable_name(f)}
        say(f"        - {flow(broken)}")
        say(f"        - {flow({'name': 'original', 'label': 'value', 'expect': 'accept', 'file': f.config_name})}")
        say("      # TODO: add variants of your own (file: ..., expect: accept|reject) for writes that change it")
        return
    if f.config_name is not None:
        say("  # the suite does not parse this config, so the storm rewrites it unchanged and triggers the reload;")
        say("  # TODO: declare whole-file `variants` (file: ..., expect: accept|reject) for writes that change it")
        say("  - injector: reload_storm")
        say(f"    target: {f.name}")
        say(f"    params: {flow({'pattern': 'unchanged', 'rounds': 8, **pace})}")
        return
    say("  # TODO: no config file, so no reload storm: give --config FILE. Meanwhile: restarted with GOGC=5 under load")
    say("  - injector: gc_pressure")
    say(f"    target: {f.name}")
    say(f"    params: {flow({'method': 'env', 'gc_percent': 5, 'duration_s': 3})}")


def _oracles(f: Findings, say: Any) -> None:
    oracles = ["panics", "recovery"]
    if f.reload is not None and f.live is not None and f.live.probes:
        oracles.append("rollback")
    elif f.reload is not None:
        say("# rollback left out: it needs a live probe (see the TODO above)")
    if f.goroutines:
        say("# leaks could read go_goroutines from /metrics: add it once the baseline is known to be steady")
    say(f"oracles: {flow(oracles)}")


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()

"""`gochaos init`, start to end: from how to start a service to a scenario file that runs as written.

1. the binary, built into the suite's own caches (`go_install`, `build`) or as given;
2. a first run as given (the config path in argv becomes `{config}`): which ports it listens on;
3. the config and argv with those ports as placeholders, and a second run with free ports, which
   proves the placeholders work: every port is asked what it speaks (`chaos.init.protocols`);
4. with a config: how it reloads and what shows it (`reload_probe`, `live_choice`);
5. the scenario and the config copy written, then loaded with the suite's own loader and planned as
   `--dry-run` plans it; a scenario that would not run is an error, not a file left behind.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import requests

from chaos.configs.formats import ConfigFormat, parse
from chaos.configs.operators import sites
from chaos.configs.placeholders import fill as fill_text
from chaos.configs.tree import plain, walk
from chaos.errors import ChaosError, ScenarioError, UsageError
from chaos.init import live_choice
from chaos.init.config_addresses import (
    Slot,
    Template,
    final_names,
    require_config_in_argv,
    templated,
    user_ports,
    uses_main_port,
)
from chaos.init.config_format import Format, detect, media_type
from chaos.init.findings import Findings, PortFinding
from chaos.init.launch import Launched, Progress, resolve_binary, scratch_dir
from chaos.init.listeners import Listener
from chaos.init.live_evidence import HttpPort, Observer
from chaos.init.metrics_probe import families
from chaos.init.metrics_probe import read as read_metrics
from chaos.init.protocols import PortReport, probe_port
from chaos.init.reload_probe import find_reload, http_requests
from chaos.init.request import (
    InitRequest,
    argv_config_words,
    copy_name,
    invocation,
    read_config,
    refuse_overwrite,
    relative,
    run_values,
    target_name,
    with_binary,
)
from chaos.init.writer import extra_files, render
from chaos.plan import build_plan, describe
from chaos.ports import LOOPBACK, free_ports
from chaos.scenario import load_scenario
from chaos.targets import fill_placeholders


@dataclass(frozen=True)
class Written:
    scenario: Path
    config: Path | None
    plan: list[str]


def init_scenario(request: InitRequest, progress: Progress) -> Written:
    """Probe the service and write its scenario (and config copy); ScenarioError if the result would not load."""
    binary = resolve_binary(None if request.go_install or request.build else request.argv[0],
                            go_install=request.go_install, build=request.build, progress=progress)
    name = target_name(request.name or binary.path.name)
    out = (request.out or Path(f"{name}.chaos.yaml")).resolve()
    config_out = out.with_name(copy_name(request.config)) if request.config is not None else None
    refuse_overwrite([p for p in (out, config_out) if p is not None], request)
    if request.config is not None and config_out == request.config.resolve():
        raise UsageError(f"{request.config} would be overwritten by its own copy: give --out in another directory")
    config_text = read_config(request.config)
    argv = list(request.argv) if not (request.go_install or request.build) else with_binary(request.argv)
    words = argv_config_words(request.config, request.argv)
    argv = templated(None, argv, set(), words).argv  # the config path as {config}, bind addresses as {host}
    require_config_in_argv(argv, request.config)

    with scratch_dir() as scratch:
        progress(f"first run, as given: {' '.join(argv)}")
        listened, user_ports = _first_run(name, argv, str(binary.path), config_text, request.config, scratch,
                                          out.parent)
        progress("listens on: " + ", ".join(map(str, listened)))
        found_ports = {listener.port for listener in listened} - set(user_ports.values())
        template = templated(config_text, argv, found_ports, words)
        placed = {slot.port for slot in template.slots if slot.port is not None}
        unplaced = [listener for listener in listened if listener.port in found_ports - placed]
        if not template.slots:
            raise UsageError(f"{name} listens on {', '.join(map(str, listened))}, but neither its argv nor its config "
                             "names those ports, so no run could give it a free port: pass the flag or config key "
                             "that sets its listen address (e.g. -port 8080) and run init again")
        for slot in template.slots:
            if slot.port is not None:
                progress(f"port {slot.port} is named by {'; '.join(slot.where)}")
        findings = Findings(name=name, binary=binary, command=[], invocation=invocation(request), ports=[],
                            unplaced=unplaced, hosts=template.hosts)
        _second_run(findings, template, request, config_out, scratch, out.parent, progress)
    return _write(findings, out, config_out, progress)


def _first_run(name: str, argv: list[str], binary: str, config: str | None, config_path: Path | None,
               scratch: Path, scenario_dir: Path) -> tuple[list[Listener], dict[str, int]]:
    """Run it as given (its own placeholders filled with free ports): what it listens on, and the ports its own
    `{port}`/`{port.NAME}` got."""
    workdir = scratch / "first"
    workdir.mkdir()
    names = user_ports(config, argv)
    ports = free_ports(len(names) + 1)
    given = {"": ports[0]} if uses_main_port(config, argv) else {}
    given.update(zip(names, ports[1:], strict=True))
    copy = workdir / config_path.name if config_path is not None else None
    values = run_values(binary, copy, workdir, scenario_dir, ports[0], {n: p for n, p in given.items() if n})
    if copy is not None and config is not None:
        copy.write_text(fill_text(config, values, str(config_path)), encoding="utf-8")
    filled = [fill_placeholders(word, values, name) for word in [binary, *argv[1:]]]
    with Launched(name, filled, workdir, copy) as service:
        return service.listening(), given


def _second_run(findings: Findings, template: Template, request: InitRequest, config_out: Path | None,
                scratch: Path, scenario_dir: Path, progress: Progress) -> None:
    """Run it with the placeholders filled with free ports, ask it everything, and note it in `findings`."""
    name, binary = findings.name, str(findings.binary.path)
    workdir = scratch / "second"
    workdir.mkdir()
    ports = free_ports(len(template.slots) + 1)
    by_slot = {slot.index: ports[i + 1] if slot.given != "" else ports[0] for i, slot in enumerate(template.slots)}
    named = {slot.provisional: by_slot[slot.index] for slot in template.slots if slot.given != ""}
    copy = workdir / config_out.name if config_out is not None else None
    values = run_values(binary, copy, workdir, scenario_dir, ports[0], named)
    filled_config = None
    if copy is not None and template.config is not None:
        filled_config = fill_text(template.config, values, str(request.config))
        copy.write_text(filled_config, encoding="utf-8")
    argv = [fill_placeholders(word, values, name) for word in [binary, *template.argv[1:]]]
    progress("second run, with free ports through the placeholders: " + " ".join(argv))
    expected = set(by_slot.values())
    with Launched(name, argv, workdir, copy) as service:
        listened = service.listening(expected=expected)
        transports = {(listener.port, listener.transport) for listener in listened}
        reports: dict[int, PortReport] = {}
        for slot in template.slots:
            port = by_slot[slot.index]
            transport = "tcp" if (port, "tcp") in transports else "udp"
            report = probe_port(port, transport)
            if report.protocol == "tcp" and (port, "udp") in transports:
                report = probe_port(port, "udp")
            reports[slot.index] = report
            progress(f"port {port}: {report.protocol}" + (f", {len(report.stable)} stable 2xx GET route(s)"
                                                            if report.protocol == "http" else ""))
        main = _main_slot(template.slots, reports)
        names = final_names(template, {i: r.protocol for i, r in reports.items()}, main)
        names.update({slot.index: slot.given for slot in template.slots if slot.given is not None})
        findings.ports = sorted((PortFinding(names[s.index], s.where, reports.get(s.index)) for s in template.slots),
                                key=lambda p: bool(p.name))
        config_text, command = template.render(names)
        if findings.binary.go_install is None and findings.binary.build is None:  # a binary path, as the scenario
            command[0] = relative(findings.binary.path, scenario_dir)  # resolves it: from its own dir
        findings.command = command
        by_port = {by_slot[index]: names[index] for index in by_slot}
        http_ports = [HttpPort(by_slot[i], r.metrics_path, tuple(r.json_paths)) for i, r in reports.items()
                      if r.protocol == "http"]
        _metrics_names(findings, http_ports, by_port)
        if copy is not None and filled_config is not None and config_out is not None:
            findings.config_source, findings.config_text, findings.config_name = (request.config, config_text,
                                                                                  config_out.name)
            findings.config_format = detect(config_out.name, filled_config)
            findings.sites = _site_count(findings.config_format, config_out.name, filled_config, expected)

            original = filled_config

            def revive() -> None:
                progress("starting it again, with its original config")
                service.write_config(original)
                service.start_again()
                service.listening(expected=expected)

            observer = Observer(service, http_ports)
            try:
                main_http = next((by_slot[i] for i, r in reports.items() if i == main and r.protocol == "http"), None)
                sent_as = media_type(findings.config_format, str(request.config), request.argv)
                posts = http_requests(main_http, [port.port for port in http_ports], sent_as)
                findings.reload = find_reload(service, observer, filled_config, http=posts, revive=revive,
                                              progress=progress)
            finally:
                observer.close()
            if findings.reload.http is not None:
                port, posted = findings.reload.http
                findings.reload_request = posted.model_copy(update={"port": by_port.get(port) or None})
            findings.live = live_choice.choose(findings.reload, by_port)
            trigger = findings.reload.trigger.value if findings.reload.trigger else "none found"
            progress(f"reload: {trigger}; live probes: "
                     + (", ".join(p.probe["kind"] for p in findings.live.probes) or "none"))


def _main_slot(slots: list[Slot], reports: Mapping[int, PortReport]) -> int | None:
    """The main port: the user's own `{port}`, else HTTP with routes to load (one serving `/` first: an admin API
    answers its own paths only, as Caddy's), gRPC, DNS, HTTP, the first."""
    given = next((slot.index for slot in slots if slot.given == ""), None)
    if given is not None:
        return None
    def rank(slot: Slot) -> tuple[int, int, int]:  # an HTTP port with only /metrics is an admin port: DNS goes first
        report = reports[slot.index]
        order = (0 if report.protocol == "http" and report.load_routes() else 1 if report.protocol == "grpc"
                 else 2 if report.protocol == "dns" else 3 if report.protocol == "http" else 4)
        serves_root = any(route.ok and route.path == "/" for route in report.routes)
        return order, 0 if serves_root else 1, slot.index
    return min((slot for slot in slots if slot.given is None), key=rank).index


def _metrics_names(findings: Findings, ports: list[HttpPort], names: Mapping[int, str]) -> None:
    for port in ports:
        if port.metrics_path is None:
            continue
        url = f"http://{LOOPBACK}:{port.port}{port.metrics_path}"
        samples = read_metrics(url)
        if samples is not None:
            findings.metric_names[names[port.port]] = families(samples)
        with contextlib.suppress(requests.RequestException):
            findings.goroutines |= "go_goroutines" in requests.get(url, timeout=1.0).text


def _site_count(fmt: Format, name: str, text: str, ports: set[int]) -> int | None:
    """How many mutation sites a `pattern: auto` storm has in this config (its listen addresses protected)."""
    if not fmt.parsed:
        return None
    parsed = parse(text, ConfigFormat(fmt.declared) if fmt.declared else ConfigFormat.of(name), name)
    tree = plain(parsed.tree)
    protect = [path for path, value in walk(tree) if path and isinstance(value, (str, int))
               and any(str(port) in str(value) for port in ports)]
    return len(sites(tree, toml=parsed.format is ConfigFormat.TOML, protect=protect))


def _write(findings: Findings, out: Path, config_out: Path | None, progress: Progress) -> Written:
    out.parent.mkdir(parents=True, exist_ok=True)
    if config_out is not None and findings.config_text is not None:
        config_out.write_text(findings.config_text, encoding="utf-8")
    for file_name, text in extra_files(findings).items():
        out.with_name(file_name).write_text(text, encoding="utf-8")
    out.write_text(render(findings, out.parent), encoding="utf-8")
    try:
        scenario = load_scenario(out)
        plan = build_plan(scenario, out.parent, platform="local")
    except ChaosError as e:
        raise ScenarioError(f"init wrote {out}, but the suite's loader refuses it: {e}; this is a bug of "
                            "`gochaos init`: please report it with the file") from e
    lines = describe(plan)
    progress(f"wrote {out}" + (f" and {config_out}" if config_out else "") + "; it loads and plans as written")
    return Written(out, config_out, lines)



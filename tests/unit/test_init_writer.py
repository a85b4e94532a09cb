"""The scenario `gochaos init` writes loads with the suite's own loader and plans as `--dry-run` plans it,
for each shape it writes: no config, a parsed config with live probes, a text config with variants."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from chaos.init.config_format import Format
from chaos.init.findings import Findings, PortFinding
from chaos.init.launch import Binary
from chaos.init.live_choice import LiveChoice, Proposal
from chaos.init.live_evidence import Observation
from chaos.init.protocols import PortReport, Route
from chaos.init.reload_probe import ReloadFindings
from chaos.init.writer import extra_files, render
from chaos.plan import build_plan
from chaos.scenario import load_scenario
from chaos.targets import ReloadTrigger

REF = "github.com/mccutchen/go-httpbin/v2/cmd/go-httpbin@v2.18.0"


def http_port(name: str = "") -> PortFinding:
    report = PortReport(8080, "tcp", "http", routes=[Route("/", 200, 1.0, 10, "text/html"),
                                                     Route("/healthz", 200, 1.0, 2, "text/plain")],
                        stable=["/", "/healthz"])
    return PortFinding(name, ["argv: -port 8080"], report)


def written(tmp_path: Path, findings: Findings) -> dict[str, object]:
    for name, text in extra_files(findings).items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    path = tmp_path / "svc.chaos.yaml"
    path.write_text(render(findings, tmp_path), encoding="utf-8")
    scenario = load_scenario(path)
    build_plan(scenario, tmp_path, platform="local")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_no_config_a_gc_pressure_fault_and_a_todo(tmp_path: Path) -> None:
    findings = Findings(name="svc", binary=Binary(Path("/bin/true"), go_install=REF),
                        command=["{binary}", "-port", "{port}"], invocation="gochaos init ...", ports=[http_port()])

    data = written(tmp_path, findings)

    target = data["targets"][0]  # type: ignore[index]
    assert target["go_install"] == REF and target["ready_path"] == "/healthz"
    assert data["load"] == {"user": "http", "users": 5,
                            "options": {"http": {"requests": [{"path": "/"}, {"path": "/healthz"}]}}}
    assert data["faults"][0]["injector"] == "gc_pressure"  # type: ignore[index]
    assert "TODO: no config file" in (tmp_path / "svc.chaos.yaml").read_text(encoding="utf-8")


def test_a_parsed_config_an_auto_storm_live_probes_and_rollback(tmp_path: Path) -> None:
    (tmp_path / "nats.init.conf").write_text("listen: {listen.tcp}\nhttp: {listen}\nmax_payload: 1024\n",
                                             encoding="utf-8")
    reload = ReloadFindings(trigger=ReloadTrigger.SIGHUP, tried=["sighup: log: 'Reloaded'"])
    live = LiveChoice([Proposal({"kind": "log", "accepted": r"Reloaded server configuration \(x",
                                 "rejected": "Failed to reload"}, "seen after SIGHUP")])
    banner = PortFinding("tcp", ["config line 1: listen: 0.0.0.0:4222"], PortReport(4222, "tcp", "banner",
                                                                                  banner="INFO {"))
    findings = Findings(name="nats", binary=Binary(Path("/bin/true"), go_install=REF),
                        command=["{binary}", "-c", "{config}"], invocation="gochaos init ...",
                        ports=[http_port(), banner], config_source=Path("nats.conf"),
                        config_text="listen: {listen.tcp}\n", config_name="nats.init.conf",
                        config_format=Format("yaml", True, "parses as yaml"), reload=reload, live=live, sites=12)

    data = written(tmp_path, findings)

    target = data["targets"][0]  # type: ignore[index]
    assert target["ports"] == ["tcp"] and target["format"] == "yaml" and target["reload"] == "sighup"
    assert target["live"][0]["accepted"] == r"Reloaded server configuration \(x"
    assert data["faults"][0]["params"] == {"pattern": "auto", "rounds": "auto", "interval_ms": 250}  # type: ignore[index]
    assert data["oracles"] == ["panics", "recovery", "rollback"]


def test_a_text_config_whole_file_variants_it_saw_refused_and_taken(tmp_path: Path) -> None:
    (tmp_path / "Corefile-init").write_text(".:{port} {\n    whoami\n}\n", encoding="utf-8")
    refused = Observation("unparseable", "x", [], lines=["[ERROR] Restart failed: parse error"], latency_s=1.6)
    taken = Observation("original back", "y", [], lines=["[INFO] Reloading complete"], latency_s=1.2)
    reload = ReloadFindings(trigger=ReloadTrigger.WATCH, accepted=[taken], rejected=refused)
    findings = Findings(name="coredns", binary=Binary(Path("/bin/true"), go_install=REF),
                        command=["{binary}", "-conf", "{config}"], invocation="gochaos init ...",
                        ports=[PortFinding("", ["config line 1"], PortReport(53, "udp", "dns", dns_rcode="NOERROR"))],
                        config_source=Path("Corefile"), config_text=".:{port} {\n    whoami\n}\n",
                        config_name="Corefile-init", config_format=Format("text", False, "not parsed"),
                        reload=reload, live=LiveChoice(missing=["log: none"]))

    data = written(tmp_path, findings)

    storm = data["faults"][0]["params"]  # type: ignore[index]
    assert storm["pattern"] == "variants" and storm["interval_ms"] == 5750 and storm["settle_ms"] == 7500
    assert [v["expect"] for v in storm["variants"]] == ["reject", "accept"]
    unparseable = (tmp_path / "Corefile-init.unparseable").read_text(encoding="utf-8")
    assert unparseable.endswith('"gochaos-init-unparseable: [{\n')
    assert data["load"]["user"] == "dns"  # type: ignore[index]
    assert data["oracles"] == ["panics", "recovery"]  # no live probe: no rollback, and the file says why
    assert "TODO: no live probe" in (tmp_path / "svc.chaos.yaml").read_text(encoding="utf-8")


@pytest.mark.parametrize("value", ["{binary}", "a: b", r"x \(y", "it's"])
def test_values_survive_the_yaml_round_trip(value: str) -> None:
    from chaos.init.writer import flow

    assert yaml.safe_load(f"k: {flow(value)}") == {"k": value}


def test_a_polling_watcher_seen_early_still_gets_one_write_per_look(tmp_path: Path) -> None:
    """A look 0.7 s after init's write, which came 0.6 s after a look it saw: the period is 1.5 s or more, and
    redrawn at each reload it may be twice that; 4x the latency alone (2 s) would let a write go unseen."""
    (tmp_path / "Corefile-init").write_text(".:{port} {\n    whoami\n}\n", encoding="utf-8")
    refused = Observation("unparseable", "x", [], lines=["[ERROR] Restart failed: parse error"], latency_s=0.4)
    taken = Observation("original back", "y", [], lines=["[INFO] Reloading complete"], latency_s=0.7)
    findings = Findings(name="coredns", binary=Binary(Path("/bin/true"), go_install=REF),
                        command=["{binary}", "-conf", "{config}"], invocation="gochaos init ...",
                        ports=[PortFinding("", ["config line 1"], PortReport(53, "udp", "dns", dns_rcode="NOERROR"))],
                        config_source=Path("Corefile"), config_text=".:{port} {\n    whoami\n}\n",
                        config_name="Corefile-init", config_format=Format("text", False, "not parsed"),
                        reload=ReloadFindings(trigger=ReloadTrigger.WATCH, accepted=[taken], rejected=refused),
                        live=LiveChoice(missing=["log: none"]))

    storm = written(tmp_path, findings)["faults"][0]["params"]  # type: ignore[index]
    assert storm["interval_ms"] == 3000 and "settle_ms" not in storm  # the default, 3000, is enough

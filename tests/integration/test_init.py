"""`gochaos init` on real open-source Go services built from the Go module proxy (into the suite's own
go_install cache, so a second run builds nothing): init runs each once, probes it and writes a scenario,
then `gochaos run` runs that file as written and reaches PASS on these correct services. Init is also
interrupted mid-probe: nothing it started is left behind."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = [pytest.mark.integration, pytest.mark.slow]

HTTPBIN = "github.com/mccutchen/go-httpbin/v2/cmd/go-httpbin@v2.18.0"
NATS = "github.com/nats-io/nats-server/v2@v2.11.11"
NATS_CONF = """# NATS server: clients on 4222, monitoring on 8222
listen: 0.0.0.0:4222
http: 127.0.0.1:8222
server_name: "orders-nats"
max_payload: 1048576
max_connections: 1000
ping_interval: "2m"
write_deadline: "10s"
debug: false
"""
COREDNS = "github.com/coredns/coredns@v1.12.1"  # the version and build examples/coredns uses
COREFILE = """# CoreDNS as a team runs it: hosts, whoami, metrics on a port of their own, the reload plugin.
.:1053 {
    bind 127.0.0.1
    hosts {
        192.0.2.10 app.example.test
        fallthrough
    }
    whoami
    prometheus 127.0.0.1:9153
    reload 2s 1s
    errors
}
"""
ETCD = "go.etcd.io/etcd/server/v3@v3.6.16"  # the version and build examples/etcd uses
CADDY = "github.com/caddyserver/caddy/v2/cmd/caddy@v2.11.9"
CADDYFILE = """{
	admin 127.0.0.1:2019
	auto_https off
}

http://127.0.0.1:8088 {
	respond /healthz "ok" 200
	respond "hello from caddy" 200
}
"""


def gochaos(*args: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "chaos.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


def init_then_run(tmp_path: Path, *init_args: str, edit: Callable[[str], str] | None = None,
                  ) -> tuple[dict[str, Any], dict[str, Any], str]:
    """(the written scenario, the run's report, all output): init exits 0, the run is judged; `edit`, if given,
    is what the user changes in the written file before running it (the scenario returned is the edited one)."""
    init = gochaos("init", *init_args, cwd=tmp_path)
    assert init.returncode == 0, init.stdout + init.stderr
    scenario_path = Path(init.stdout.strip().splitlines()[-1].removeprefix("gochaos run "))
    if edit is not None:
        scenario_path.write_text(edit(scenario_path.read_text(encoding="utf-8")), encoding="utf-8")
    scenario = yaml.safe_load(scenario_path.read_text(encoding="utf-8"))
    done = gochaos("run", str(scenario_path), "--report-dir", str(tmp_path / "reports"), cwd=tmp_path)
    assert (tmp_path / "reports" / "report.json").exists(), init.stderr + done.stdout + done.stderr
    report = json.loads((tmp_path / "reports" / "report.json").read_text(encoding="utf-8"))
    return scenario, report, init.stderr + done.stdout + done.stderr


def leftovers(before: set[Path]) -> list[Path]:
    return sorted(set(Path("/tmp").glob("gochaos-init-*")) - before)


def test_go_httpbin_from_init_to_pass(tmp_path: Path) -> None:
    """go-httpbin given as `-host 0.0.0.0 -port 8080`: its port becomes {port}, its bind address {host}, its
    2xx routes the http user's requests; no config, so a GOGC=5 restart under load stands in for a storm."""
    before = set(Path("/tmp").glob("gochaos-init-*"))
    scenario, report, out = init_then_run(tmp_path, "--go-install", HTTPBIN, "--", "{binary}", "-host", "0.0.0.0",
                                          "-port", "8080")

    target = scenario["targets"][0]
    assert target["command"] == ["{binary}", "-host", "{host}", "-port", "{port}"], out
    assert target["go_install"] == HTTPBIN and target["ready_path"] == "/", out
    assert scenario["load"]["user"] == "http", out
    paths = [r["path"] for r in scenario["load"]["options"]["http"]["requests"]]
    assert "/" in paths and "/get" in paths and not any("delay" in p or "unstable" in p for p in paths), paths
    assert scenario["faults"][0]["injector"] == "gc_pressure"
    assert "TODO: no config file" in (tmp_path / "go-httpbin.chaos.yaml").read_text(encoding="utf-8")
    assert report["verdict"] == "pass", out
    assert leftovers(before) == []


def test_nats_from_init_to_pass(tmp_path: Path) -> None:
    """NATS with its own config: both listen addresses become placeholders in a copy of nats.conf, it is found
    to reload on SIGHUP (not by watching its file), its reload and refusal log lines and /varz's
    config_load_time become live probes, and an auto storm over its config passes, rollback included."""
    (tmp_path / "nats.conf").write_text(NATS_CONF, encoding="utf-8")
    scenario, report, out = init_then_run(tmp_path, "--go-install", NATS, "--config", "nats.conf", "--", "{binary}",
                                          "-c", "nats.conf")

    target = scenario["targets"][0]
    copy = (tmp_path / "nats.init.conf").read_text(encoding="utf-8")
    assert "listen: {listen.tcp}\nhttp: {listen}\n" in copy, copy
    assert target["command"] == ["{binary}", "-c", "{config}"] and target["ports"] == ["tcp"], out
    assert target["format"] == "yaml" and target["reload"] == "sighup" and target["ready_path"] == "/healthz", out
    assert {"kind": "log", "accepted": "Reloaded server configuration",
            "rejected": "Failed to reload server configuration"} in target["live"], out
    assert {"kind": "json", "path": "/varz", "field": "config_load_time", "moves": True} in target["live"], out
    assert scenario["faults"][0]["params"]["pattern"] == "auto"
    assert scenario["oracles"] == ["panics", "recovery", "rollback"]
    checks = {f["check"]: f["status"] for f in report["findings"]}
    assert report["verdict"] == "pass" and checks["rollback"] == "pass", out


def test_coredns_from_init_to_pass(tmp_path: Path) -> None:
    """CoreDNS with a Corefile, a format the suite does not parse: both its ports become placeholders in a copy,
    it is found to reload by watching the file (not by SIGHUP), its log names what it took and refused, and a
    whole-file variants storm (an unparseable Corefile, then the original) passes, rollback included."""
    (tmp_path / "Corefile").write_text(COREFILE, encoding="utf-8")
    scenario, report, out = init_then_run(tmp_path, "--go-install", COREDNS, "--config", "Corefile", "--",
                                          "{binary}", "-conf", "Corefile")

    target = scenario["targets"][0]
    copy = (tmp_path / "Corefile-init").read_text(encoding="utf-8")
    assert ".:{port} {" in copy and "prometheus {listen.prometheus}" in copy, copy
    assert target["command"] == ["{binary}", "-conf", "{config}"] and target["ports"] == ["prometheus"], out
    assert target["go_install"] == COREDNS and target["format"] == "text" and target["ready_path"] is None, out
    assert target["reload"] == "watch", out
    assert {"kind": "log", "accepted": "Running configuration SHA",
            "rejected": "Corefile changed but reload failed"} in target["live"], out
    assert scenario["load"]["user"] == "dns"
    storm = scenario["faults"][0]
    assert storm["injector"] == "reload_storm" and storm["params"]["pattern"] == "variants", out
    assert [v["expect"] for v in storm["params"]["variants"]] == ["reject", "accept"], out
    checks = {f["check"]: f["status"] for f in report["findings"]}
    assert report["verdict"] == "pass" and checks["rollback"] == "pass", out


def test_caddy_from_init_to_pass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Caddy with a Caddyfile naming its admin API first: the site, which serves `/`, is the main port and the
    admin API a named one; Caddy neither watches its file nor reloads on SIGHUP, and init finds its admin API's
    `POST /load` with the Caddyfile as the body; a whole-file variants storm through it passes, rollback
    included."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))  # Caddy autosaves each config it loads
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    (tmp_path / "Caddyfile").write_text(CADDYFILE, encoding="utf-8")
    scenario, report, out = init_then_run(tmp_path, "--go-install", CADDY, "--config", "Caddyfile", "--",
                                          "{binary}", "run", "--config", "Caddyfile", "--adapter", "caddyfile")

    target = scenario["targets"][0]
    copy = (tmp_path / "Caddyfile-init").read_text(encoding="utf-8")
    assert "admin {listen.admin}" in copy and "http://{listen} {" in copy, copy
    assert target["ports"] == ["admin"] and target["format"] == "text", out
    assert target["reload"] == "http", out
    assert target["reload_request"] == {"path": "/load", "port": "admin", "body": "config", "headers": {
        "Content-Type": "text/caddyfile", "Cache-Control": "must-revalidate"}}, out
    assert {"kind": "metrics", "metric": "caddy_config_last_reload_success_timestamp_seconds", "moves": True,
            "port": "admin"} in target["live"], out
    assert "/" in [r["path"] for r in scenario["load"]["options"]["http"]["requests"]], out
    storm = scenario["faults"][0]
    assert storm["params"]["pattern"] == "variants", out
    assert [v["expect"] for v in storm["params"]["variants"]] == ["reject", "accept"], out
    checks = {f["check"]: f["status"] for f in report["findings"]}
    assert report["verdict"] == "pass" and checks["rollback"] == "pass", out


def test_etcd_from_init_to_pass(tmp_path: Path) -> None:
    """etcd given by flags only: its client URL's port becomes {listen}, its peer port {listen.peer} in all
    three flags that name it, /health its readiness and its 2xx routes the http user's requests; no config, so
    a GOGC=5 restart under load stands in for a storm."""
    before = set(Path("/tmp").glob("gochaos-init-*"))
    client, peer = "http://127.0.0.1:2379", "http://127.0.0.1:2380"
    scenario, report, out = init_then_run(
        tmp_path, "--go-install", ETCD, "--name", "etcd", "--", "{binary}", "--name=solo", "--data-dir=data",
        f"--listen-client-urls={client}", f"--advertise-client-urls={client}", f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}", f"--initial-cluster=solo={peer}", "--initial-cluster-state=new",
        "--log-level=warn")

    target = scenario["targets"][0]
    assert target["name"] == "etcd" and target["go_install"] == ETCD and target["ports"] == ["peer"], out
    assert target["command"] == [
        "{binary}", "--name=solo", "--data-dir=data", "--listen-client-urls=http://{listen}",
        "--advertise-client-urls=http://{listen}", "--listen-peer-urls=http://{listen.peer}",
        "--initial-advertise-peer-urls=http://{listen.peer}", "--initial-cluster=solo=http://{listen.peer}",
        "--initial-cluster-state=new", "--log-level=warn"], out
    assert target["ready_path"] == "/health" and "reload" not in target, out
    assert scenario["load"]["user"] == "http", out
    paths = [r["path"] for r in scenario["load"]["options"]["http"]["requests"]]
    assert "/health" in paths and "/version" in paths, paths
    assert scenario["faults"][0]["injector"] == "gc_pressure"
    assert "TODO: no config file" in (tmp_path / "etcd.chaos.yaml").read_text(encoding="utf-8")
    assert report["verdict"] == "pass", out
    assert leftovers(before) == []


def test_an_interrupted_init_leaves_nothing_behind(tmp_path: Path) -> None:
    """SIGINT while init probes NATS's reloads: exit 130, its service stopped, its scratch dir gone, no file."""
    (tmp_path / "nats.conf").write_text(NATS_CONF, encoding="utf-8")
    before = set(Path("/tmp").glob("gochaos-init-*"))
    command = [sys.executable, "-m", "chaos.cli", "init", "--go-install", NATS, "--config", "nats.conf", "--",
               "{binary}", "-c", "nats.conf"]
    with subprocess.Popen(command, cwd=tmp_path, stderr=subprocess.PIPE, text=True) as init:
        assert init.stderr is not None
        for line in init.stderr:
            if "reload:" in line:  # the second run is up and being probed
                break
        time.sleep(1.0)
        running = subprocess.run(["pgrep", "-f", "gochaos-init-.*/second/nats.init.conf"], capture_output=True,
                                 text=True)
        init.send_signal(signal.SIGINT)
        init.communicate(timeout=30)
        code = init.returncode

    assert running.stdout.strip(), "the service was not running while init probed it"
    assert code == 130
    for pid in running.stdout.split():
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]
    assert leftovers(before) == []
    assert not (tmp_path / "nats-server.chaos.yaml").exists()

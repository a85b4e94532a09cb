"""Network faults through chaosproxy on the local platform, end to end: the figures a run reports, a leader cut off
from its peers, a SIGKILLed run's proxy cleaned up, an upstream rewritten, and the bundled reproduction."""

from __future__ import annotations

import http.server
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from chaos import state
from chaos.build import Binaries
from chaos.network.links import LinkKind, LinkPlan, LinkRequest
from chaos.observe.readiness import wait_until
from chaos.platform.local.platform import LocalPlatform
from chaos.runner import run_scenario
from chaos.scenario import load_scenario, parse_scenario, resolve
from chaos.targets import Readiness, RestartPolicy, TargetSpec
from chaos.timeline import EventKind, Timeline
from chaos.verdict import Status

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
LOAD_DELAY = """
name: load-delay
targets: [{bundled: configd}]
load: {users: 5, spawn_rate: 50}
windows: {baseline_s: 2, observe_s: 1}
faults:
  - {injector: network, target: configd, params: {link: load, fault: delay, latency_ms: 50, direction: upstream,
                                                  duration_s: 3}}
oracles: [panics]
"""
LEADER_CUT = """
name: leader-cut
targets: [{bundled: kvd}]
etcd: {members: 3}
load: null
windows: {baseline_s: 0, observe_s: 0}
faults:
  - {injector: network, params: {link: etcd-peer, member: leader, fault: blackhole, duration_s: 2}}
oracles: [panics]
"""
HOLDING = """
name: holds-a-proxy
targets: [{bundled: configd}]
load: {users: 2, spawn_rate: 10}
windows: {baseline_s: 1, observe_s: 300}
faults:
  - {injector: network, target: configd, params: {link: load, fault: delay, latency_ms: 5, duration_s: 300}}
"""


def gochaos(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "chaos.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=180, env=env)


def events(report: dict[str, Any], kind: EventKind) -> list[dict[str, Any]]:
    return [e for e in report["events"] if e["kind"] == kind.value]


def test_a_delay_on_the_load_link_shows_that_latency_added_in_the_report(tmp_path: Path) -> None:
    (tmp_path / "delay.chaos.yaml").write_text(LOAD_DELAY)
    result = gochaos("run", "delay.chaos.yaml", "--report-dir", str(tmp_path / "r"), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    (fault,) = report["faults"]
    figures = fault["details"]
    assert fault["landed"] and figures["measured_by"] == "the load's requests", fault
    assert abs(figures["observed_added_ms"] - 50) <= max(0.1 * 50, 2), fault["summary"]
    (link,) = events(report, EventKind.NETWORK_LINK)
    assert link["source"] == "load.configd" and link["details"]["link"] == "load"
    (applied,) = events(report, EventKind.NETWORK_FAULT_APPLIED)
    (removed,) = events(report, EventKind.NETWORK_FAULT_REMOVED)
    assert applied["details"]["fault"] == {"kind": "delay", "direction": "upstream", "latency_ms": 50.0}
    assert removed["details"]["observed_added_ms"] == figures["observed_added_ms"]
    assert [r["kind"] for r in removed["details"]["removed"]] == ["delay"]


def test_blackholing_the_leaders_peer_link_elects_another_leader(tmp_path: Path) -> None:
    timeline = Timeline()
    result = run_scenario(parse_scenario(LEADER_CUT, str(tmp_path / "s.chaos.yaml")), base_dir=tmp_path,
                          timeline=timeline)
    (fault,) = result.faults
    assert fault.outcome.landed, fault.outcome.summary
    (applied,) = timeline.events(EventKind.NETWORK_FAULT_APPLIED)
    old = applied.details["member"]
    assert applied.details["links"] == [f"etcd-peer.{old}"]
    (lost,) = timeline.events(EventKind.ETCD_LEADER_LOST)
    assert lost.details == {"operation": "network-blackhole-leader", "leader": old}
    (elected,) = timeline.events(EventKind.ETCD_LEADER, since_ns=applied.t_ns)
    assert elected.details["previous"] == old and elected.details["leader"] != old
    assert elected.t_ns < timeline.events(EventKind.NETWORK_FAULT_REMOVED)[0].t_ns
    assert fault.outcome.details["discarded_share"] >= 0.9 and fault.outcome.details["new_leader_after_ms"] < 2000


def test_a_sigkilled_run_leaves_no_chaosproxy_after_cleanup(tmp_path: Path) -> None:
    (tmp_path / "holds.chaos.yaml").write_text(HOLDING)
    env = {**os.environ, "GOCHAOS_STATE_DIR": str(tmp_path / "state"), "TMPDIR": str(tmp_path),
           "PYTHONPATH": str(REPO)}
    with (tmp_path / "run.log").open("w") as out:
        run = subprocess.Popen([sys.executable, "-m", "chaos.cli", "run", "holds.chaos.yaml"], cwd=tmp_path, env=env,
                               stdout=out, stderr=subprocess.STDOUT)

    def proxies() -> list[dict[str, Any]]:
        try:
            doc = json.loads(next((tmp_path / "state").glob(f"{run.pid}.*.json")).read_text())
        except (StopIteration, OSError, ValueError):
            return []
        return [h for h in doc["holdings"] if h["kind"] == "process_group" and "(chaosproxy)" in h["what"]]

    try:
        assert wait_until(lambda: bool(proxies()), timeout_s=60,
                          abort=lambda: None if run.poll() is None else "the run exited"), \
            (tmp_path / "run.log").read_text()
        (held,) = proxies()
        pid = int(held["data"]["pid"])
        assert Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].endswith(b"chaosproxy")
    finally:
        run.kill()  # SIGKILL: no finally, no atexit
        run.wait(10)
    assert run.returncode == -signal.SIGKILL
    result = gochaos("cleanup", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{held['what']} (left by dead gochaos pid {run.pid}): " in result.stdout
    assert wait_until(lambda: not state.same_process(pid, held["data"]["start"]), timeout_s=5), \
        "chaosproxy outlived its run and the clean-up"


def test_an_upstream_named_in_the_command_is_reached_through_its_link(tmp_path: Path) -> None:
    """The target's command names an upstream's host:port; it starts with its link's address there, and its request
    crosses the link."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    upstream = f"127.0.0.1:{server.server_address[1]}"
    fetch = f"import urllib.request; urllib.request.urlopen('http://{upstream}/').read(); print('fetched {upstream}')"
    spec = TargetSpec(name="client", command=("sh", "-c", f'python3 -c "{fetch}" && exec python3 -m http.server '
                                                          "--bind 127.0.0.1 {port}"),
                      readiness=Readiness(http_path="/", timeout_s=10), restart=RestartPolicy.NEVER)
    try:
        with LocalPlatform(timeline=Timeline(), binaries=Binaries(), run_dir=tmp_path / "run") as platform:
            platform.route_links(LinkPlan.of([LinkRequest(LinkKind.UPSTREAM, "client", upstream=upstream)]))
            target = platform.start_target(spec)
            links = platform.network_links
            assert links is not None
            (link,) = links.routed(LinkKind.UPSTREAM, target="client")
            assert link.upstream == upstream and link.listen != upstream
            assert any(line.text == f"fetched {link.listen}" for line in target.logs()), target.logs()
            assert links.client.stats(link.name).connections_accepted == 1
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(("buggy", "status"), [(True, Status.FAIL), (False, Status.PASS)])
def test_the_leader_cut_off_scenario_fails_leaky_kvd_and_passes_the_fix(buggy: bool, status: Status) -> None:
    path = resolve("etcd-leader-cut-off")
    result = run_scenario(load_scenario(path), base_dir=path.parent, buggy=buggy, seed=1)
    table = "\n".join(f"{f.check}: {f.status.value}: {f.summary}" for f in result.verdict.findings)
    assert result.verdict.status is status, table
    checks = {f.check: f for f in result.verdict.findings}
    assert checks["fault:network#1"].status is Status.PASS, table
    if buggy:
        assert checks["recovery"].status is Status.FAIL and "never recovered" in checks["recovery"].summary, table

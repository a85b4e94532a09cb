"""The built-in `http` user and `load.rate` against a real configd: a scenario file run by `gochaos run` sends
its weighted requests to the configured paths at the asked rate; an answer with a status the request does not
expect is a failure, in Locust's own totals as on the timeline."""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

import pytest

from chaos.load import LoadRun, LoadSpec
from chaos.platform.base import RunningTarget
from chaos.timeline import Timeline

pytestmark = pytest.mark.integration

RATE = 40
SCENARIO = f"""\
name: http-user-rate
seed: 1
targets:
  - bundled: configd
load:
  user: http
  rate: {RATE}
  options:
    http:
      headers: {{X-Load: gochaos}}
      requests:
        - {{path: /hello, weight: 3}}
        - {{path: /, weight: 1}}
        - {{method: PUT, path: /cache/k1, body: v1, expect_status: 204, weight: 1}}
        - {{path: /cache/none, name: "/cache/{{missing}}", expect_status: [404], weight: 1}}
windows: {{baseline_s: 4, observe_s: 4}}
oracles: [panics]
"""
#: Each request name's share of the mix, from the weights above.
SHARES = {"GET /hello": 3 / 6, "GET /": 1 / 6, "PUT /cache/k1": 1 / 6, "GET /cache/{missing}": 1 / 6}


def test_weighted_requests_go_to_their_paths_at_the_asked_rate(tmp_path: Path) -> None:
    scenario = tmp_path / "http-user.chaos.yaml"
    scenario.write_text(SCENARIO)
    result = subprocess.run([sys.executable, "-m", "chaos.cli", "run", str(scenario), "--report-dir",
                             str(tmp_path / "r")], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads((tmp_path / "r" / "report.json").read_text())

    (start,) = [e["details"] for e in report["events"] if e["kind"] == "load.start"]
    assert (start["user"], start["users"]) == ("http", 8), "a rate of 40/s without users: 8 users of 200 ms each"
    (stop,) = [e["details"] for e in report["events"] if e["kind"] == "load.stop"]
    sent = stop["requests"]
    assert set(sent) == set(SHARES), sent
    assert stop["failures"] == {}, "204 and 404 are what those requests expect"
    total = sum(sent.values())
    for name, share in SHARES.items():
        assert abs(sent[name] / total - share) < 0.1, f"{name}: {sent[name]} of {total}, weight share {share:.2f}"

    phases, load = report["phases"], report["load"]
    for window, (begin, end) in {"baseline": ("baseline_start", "faults_start"),
                                 "observe": ("faults_end", "observe_end")}.items():
        seconds = (phases[end] - phases[begin]) / 1e9
        achieved = load[window]["requests"] / seconds
        assert abs(achieved - RATE) <= 0.25 * RATE, f"{window}: {achieved:.1f} requests/s, asked for {RATE}"
        assert load[window]["errors"] == 0


def test_a_status_the_request_does_not_expect_is_a_failure(
        gochaos_make_target: Callable[..., RunningTarget]) -> None:
    configd = gochaos_make_target("configd")
    spec = LoadSpec.model_validate({
        "host": configd.endpoint.url, "user": "http", "rate": 20, "duration_s": 2, "spawn_rate": 100,
        "http": {"requests": [{"path": "/hello", "expect_status": [201, 202], "name": "/hello (wrong)"},
                              {"path": "/hello"}]}})
    timeline = Timeline()
    with LoadRun(spec, timeline) as run:
        run.wait()
    assert run.totals is not None and run.totals.complete
    wrong, right = run.totals.entry("GET", "/hello (wrong)"), run.totals.entry("GET", "/hello")
    assert wrong is not None and wrong.num_requests > 0 and wrong.num_failures == wrong.num_requests
    assert right is not None and right.num_requests > 0 and right.num_failures == 0
    failed = [r for r in timeline.requests() if not r.ok]
    assert failed and all(r.name == "GET /hello (wrong)" and r.status == 200 for r in failed)
    assert failed[0].error == "UnexpectedStatus: status 200, expected 201 or 202"


class _Recorder(http.server.BaseHTTPRequestHandler):
    """Answers 200 to anything and keeps what it was sent: (method, path, headers, body)."""

    seen: ClassVar[list[tuple[str, str, dict[str, str], bytes]]] = []

    def _answer(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.seen.append((self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = do_PUT = _answer

    def log_message(self, *_: object) -> None:
        pass


def test_methods_headers_and_bodies_are_sent_as_configured() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        spec = LoadSpec.model_validate({
            "host": f"http://127.0.0.1:{server.server_address[1]}", "user": "http", "rate": 30, "duration_s": 1.5,
            "http": {"headers": {"Authorization": "Bearer t", "Content-Type": "text/x-common"}, "requests": [
                {"method": "post", "path": "/orders?src=load", "body": {"item": 3}},
                {"method": "PUT", "path": "/raw", "body": "plain", "headers": {"content-type": "text/plain"}},
                {"path": "/never", "weight": 0}]}})
        with LoadRun(spec, Timeline()) as run:
            run.wait()
    finally:
        server.shutdown()
        server.server_close()
    by_path = {path: (method, headers, body) for method, path, headers, body in _Recorder.seen}
    assert set(by_path) == {"/orders?src=load", "/raw"}, "a weight of 0 is never sent"
    method, headers, body = by_path["/orders?src=load"]
    assert (method, json.loads(body), headers["authorization"]) == ("POST", {"item": 3}, "Bearer t")
    method, headers, body = by_path["/raw"]
    assert (method, body, headers["content-type"], headers["authorization"]) == \
        ("PUT", b"plain", "text/plain", "Bearer t")

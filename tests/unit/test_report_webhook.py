"""Webhook documents (generic and Slack), delivery once with a bounded timeout, and URL checks."""

from __future__ import annotations

import dataclasses
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from report_samples import sample_result
from test_report_openmetrics import recovered_result

from chaos.report import webhook
from chaos.report.digest import digest
from chaos.report.publish import Destinations, deliver, http_url
from chaos.verdict import Finding, Status, decide


class Answering(BaseHTTPRequestHandler):
    """Answers every POST with the server's `status` after its `delay_s`, keeping each body."""

    def do_POST(self) -> None:
        server = self.server
        assert isinstance(server, Receiver)
        server.bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
        time.sleep(server.delay_s)
        self.send_response(server.status)
        self.end_headers()
        self.wfile.write(b"no such channel")

    def log_message(self, format: str, *args: object) -> None:
        pass


class Receiver(ThreadingHTTPServer):
    def __init__(self, status: int, delay_s: float = 0.0) -> None:
        super().__init__(("127.0.0.1", 0), Answering)
        self.status, self.delay_s, self.bodies = status, delay_s, list[bytes]()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that gave up (the timeout test) leaves a broken pipe here: expected, not printed."""


@pytest.fixture
def receiver(request: pytest.FixtureRequest) -> Iterator[Receiver]:
    server = Receiver(*getattr(request, "param", (200,)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_generic_document_names_verdict_scenarios_findings_seed_replay_and_report(tmp_path: Path) -> None:
    document = webhook.generic(digest([sample_result()], report=tmp_path))
    assert json.loads(json.dumps(document)) == document, "plain JSON"
    assert document["verdict"] == "fail" and document["exit_code"] == 1
    assert document["seed"] == 7 and document["seeds"] == [7]
    assert document["replay"] == "gochaos reproduce sample-run --seed 7"
    assert document["report"] == str(tmp_path)
    assert document["scenarios"] == [{"scenario": "sample-run", "build": "buggy", "verdict": "fail", "seed": 7,
                                      "replay": "gochaos reproduce sample-run --seed 7", "recovery_s": None,
                                      "availability": 0.9, "p99_ms": document["scenarios"][0]["p99_ms"]}]
    assert [(f["check"], f["status"]) for f in document["findings"]] == [("panics", "fail"),
                                                                         ("recovery", "inconclusive")]
    top = document["top_finding"]
    assert top["check"] == "panics" and "goroutine 7 [running]:" in top["evidence"][0]
    assert "\x1b" not in top["evidence"][0]


def test_the_slack_message_has_text_and_blocks_within_slacks_limits() -> None:
    long = Finding("panics", Status.FAIL, "crash " * 2000)
    message = webhook.slack(digest([sample_result(), sample_result([long], seed=8)]))
    assert set(message) == {"text", "blocks"}
    assert message["text"].startswith("gochaos FAIL: sample-run; panics: ")
    assert message["blocks"][0] == {"type": "header", "text": {"type": "plain_text",
                                                                "text": "gochaos FAIL: sample-run"}}
    texts = [b["text"]["text"] for b in message["blocks"] if "text" in b and b["type"] == "section"]
    assert all(len(t) <= 3000 for t in [*texts, message["text"]])
    assert "*sample-run* (buggy, seed 8): FAIL" in texts[0]
    assert "failed 2 of 2 runs" in texts[1]
    context = message["blocks"][-1]["elements"][0]["text"]
    assert "seed 7, 8" in context and "replay: `gochaos reproduce sample-run --seed 7`" in context


def test_only_a_run_that_did_not_pass_is_worth_a_message() -> None:
    passing = sample_result([Finding("panics", Status.PASS, "no crash")])
    assert not webhook.wanted(digest([passing]))
    assert webhook.wanted(digest([sample_result()]))
    assert webhook.wanted(digest([sample_result([Finding("baseline", Status.INCONCLUSIVE, "no load")])]))


def test_delivery_posts_the_json_once(receiver: Receiver) -> None:
    webhook.send(receiver.url, {"verdict": "fail"})
    assert [json.loads(b) for b in receiver.bodies] == [{"verdict": "fail"}]


@pytest.mark.parametrize("receiver", [(500,)], indirect=True)
def test_an_error_answer_is_one_line_and_no_retry(receiver: Receiver) -> None:
    with pytest.raises(webhook.DeliveryFailed, match=r"^HTTP 500 Internal Server Error: no such channel$"):
        webhook.send(receiver.url, {"verdict": "fail"})
    assert len(receiver.bodies) == 1, "no retries"


@pytest.mark.parametrize("receiver", [(200, 3.0)], indirect=True)
def test_a_slow_receiver_is_given_up_on_after_the_timeout(receiver: Receiver) -> None:
    started = time.monotonic()
    with pytest.raises(webhook.DeliveryFailed, match="ReadTimeout"):
        webhook.send(receiver.url, {"verdict": "fail"}, timeout_s=0.5)
    assert time.monotonic() - started < 2.5


def test_unreachable_destinations_are_one_warning_each_and_change_nothing(tmp_path: Path) -> None:
    warnings: list[str] = []
    port = closed_port()
    to = Destinations(pushgateway=f"http://127.0.0.1:{port}", webhook=f"http://127.0.0.1:{port}/hook",
                      step_summary=tmp_path / "missing-dir" / "summary.md")
    deliver([sample_result(), sample_result(name="other")], to, run_dir=None, warn=warnings.append)
    assert len(warnings) == 3, warnings
    assert all("\n" not in w and w.endswith("; the verdict is unchanged") for w in warnings)
    assert warnings[0].startswith(f"could not append the summary to {tmp_path}/missing-dir/summary.md")
    assert warnings[1].startswith(f"could not push metrics to the Pushgateway at http://127.0.0.1:{port}: URLError")
    assert warnings[2].startswith(f"could not deliver the webhook to http://127.0.0.1:{port}/hook: ConnectionError")


def test_a_passing_run_sends_no_webhook(receiver: Receiver) -> None:
    passing = dataclasses.replace(recovered_result(), verdict=decide([Finding("panics", Status.PASS, "ok")]))
    deliver([passing], Destinations(webhook=receiver.url), run_dir=None, warn=pytest.fail)
    assert receiver.bodies == []


@pytest.mark.parametrize(("value", "expected"), [
    ("http://127.0.0.1:9091", "http://127.0.0.1:9091"),
    ("pushgateway.monitoring:9091", "http://pushgateway.monitoring:9091"),
    ("https://hooks.example.com/services/T/B/x", "https://hooks.example.com/services/T/B/x"),
])
def test_good_urls(value: str, expected: str) -> None:
    assert http_url(value) == expected


@pytest.mark.parametrize(("value", "message"), [
    ("ftp://host/x", "is not an http(s) URL with a host"),
    ("http://", "is not an http(s) URL with a host"),
    ("http://host:99999", "is not a URL (Port out of range"),
    ("http://host:port", "is not a URL (Port could not be cast"),
])
def test_bad_urls(value: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        http_url(value)

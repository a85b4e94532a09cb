"""The child-side request listener, driven with stand-in responses (no Locust, no patching)."""

from __future__ import annotations

import time
from typing import Any

from chaos.load.recorder import MAX_ERROR_CHARS, Recorder
from chaos.load.stream import WireRecord, to_records


class Response:
    def __init__(self, status: int, headers: dict[str, str], content: bytes = b"") -> None:
        self.status_code = status
        self.headers = headers
        self.content = content


def _collect(recorder: Recorder) -> list[WireRecord]:
    return recorder.take()


def test_start_time_is_end_minus_latency_and_header_is_kept() -> None:
    recorder = Recorder("X-Config-Version")
    before = time.time_ns()
    recorder.on_request(request_type="GET", name="/", response_time=250.0, response_length=2,
                        response=Response(200, {"X-Config-Version": "v3"}), context={},
                        exception=None, start_time=0, url="http://h/")
    (record,) = to_records(_collect(recorder))
    assert before - 250_000_000 <= record.t_ns <= time.time_ns() - 250_000_000
    assert (record.name, record.status, record.ok, record.version) == ("GET /", 200, True, "v3")
    assert recorder.take() == []


def test_failure_keeps_status_and_a_bounded_error() -> None:
    recorder = Recorder(None)
    recorder.on_request(request_type="PUT", name="/c", response_time=1.0, response_length=0,
                        response=Response(503, {}), context=None,
                        exception=RuntimeError("x" * 1000))
    (record,) = to_records(_collect(recorder))
    assert not record.ok and record.status == 503 and record.version is None
    assert record.error is not None and record.error.startswith("RuntimeError: xxx")
    assert len(record.error) == MAX_ERROR_CHARS


def test_keyed_reads_observe_body_or_json_field() -> None:
    recorder = Recorder(None)
    ctx: dict[str, Any] = {"key": "k", "expected": "a", "observe": "body"}
    recorder.on_request(request_type="GET", name="/kv/{key}", response_time=1.0,
                        response=Response(200, {}, b"a"), context=ctx)
    recorder.on_request(request_type="GET", name="/kv/{key}", response_time=1.0,
                        response=Response(200, {}, b'{"value": "old"}'),
                        context={**ctx, "observe": "json:value"})
    recorder.on_request(request_type="GET", name="/kv/{key}", response_time=1.0,
                        response=Response(404, {}, b"nope"), context=ctx,
                        exception=RuntimeError("404"))
    recorder.on_request(request_type="PUT", name="/kv/{key}", response_time=1.0,
                        response=Response(200, {}), context={"key": "k", "expected": "b"})
    keyed = to_records(_collect(recorder))
    assert len(keyed) == 4
    assert [(k.key, k.expected, k.observed) for k in keyed] == [
        ("k", "a", "a"), ("k", "a", "old"), ("k", "a", None), ("k", "b", None)]

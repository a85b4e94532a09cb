"""The built-in `grpc` user and readiness by grpc.health.v1, against grpckv (go_targets/cmd/grpckv),
a real Go gRPC server run by the local platform: every call reaches the timeline with its status
code, the message types come from reflection or from the .proto file, and a target is ready only
once its health service says SERVING. Each test runs a few seconds of load on loopback."""

from __future__ import annotations

import collections
import signal
import time
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest

from chaos.load import LoadRun, LoadSpec
from chaos.observe.readiness import grpc_serving
from chaos.platform.base import RunningTarget
from chaos.targets import Readiness, RestartPolicy, TargetSpec
from chaos.timeline import EventKind, RequestRecord, Timeline

pytestmark = pytest.mark.integration

KV_PROTO = Path(__file__).resolve().parents[2] / "go_targets" / "internal" / "grpckv" / "kvpb" / "kv.proto"
SERVICE = "gochaos.grpckv.v1.KV"
OK, NOT_FOUND, INVALID_ARGUMENT, UNAVAILABLE = (c.value[0] for c in (
    grpc.StatusCode.OK, grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.UNAVAILABLE))

#: Put and Get of one key, a Get of a key never written that must answer NOT_FOUND, and an empty
#: key whose INVALID_ARGUMENT is a failure (the call expects OK).
CALLS = [
    {"method": f"{SERVICE}/Put", "request": {"key": "k", "value": "v"}, "weight": 3},
    {"method": f"{SERVICE}/Get", "request": {"key": "k"}, "weight": 2},
    {"method": f"{SERVICE}/Get", "name": "get-missing", "request": {"key": "never"}, "expect_code": "NOT_FOUND"},
    {"method": f"{SERVICE}/Put", "name": "put-empty-key", "request": {"value": "v"}},
]


def grpckv(*flags: str, restart: RestartPolicy = RestartPolicy.ALWAYS) -> TargetSpec:
    return TargetSpec(name="kv", binary="grpckv", command=("{binary}", "--listen={listen}", *flags),
                      readiness=Readiness(http_path=None, grpc_health=SERVICE), restart=restart)


def address(target: RunningTarget) -> str:
    return f"{target.endpoint.host}:{target.endpoint.port}"


def _by_name(records: list[RequestRecord]) -> dict[str, list[RequestRecord]]:
    grouped: dict[str, list[RequestRecord]] = collections.defaultdict(list)
    for record in records:
        grouped[record.name].append(record)
    return grouped


def _run(host: str, grpc_options: dict[str, object], *, duration_s: float = 2.0,
         during: Callable[[], None] | None = None) -> tuple[LoadRun, list[RequestRecord]]:
    spec = LoadSpec.model_validate({
        "host": host, "user": "grpc", "users": 4, "spawn_rate": 40, "duration_s": duration_s,
        "rps_per_user": 50, "request_timeout_s": 1.0, "grpc": grpc_options,
    })
    timeline = Timeline()
    with LoadRun(spec, timeline) as run:
        if during is not None:
            during()
        run.wait()
    assert run.totals is not None and run.totals.complete
    return run, timeline.requests()


def test_readiness_waits_for_the_health_service_to_say_serving(
        gochaos_make_target: Callable[..., RunningTarget], gochaos_timeline: Timeline) -> None:
    target = gochaos_make_target(grpckv("--serving-after=1500ms"))
    (started,) = gochaos_timeline.events(EventKind.TARGET_START)
    (ready,) = gochaos_timeline.events(EventKind.TARGET_READY)
    serving = [line for line in target.logs() if '"msg":"serving"' in line.text]
    # it accepted connections long before: only the health check held readiness back
    assert serving and ready.t_ns >= serving[0].t_ns
    assert (ready.t_ns - started.t_ns) / 1e9 >= 1.5
    assert grpc_serving(address(target), SERVICE) and grpc_serving(address(target), "")
    assert not grpc_serving(address(target), "no.such.Service")


def test_grpc_user_resolves_methods_by_reflection_and_records_status_codes(
        gochaos_make_target: Callable[..., RunningTarget]) -> None:
    target = gochaos_make_target(grpckv())
    run, records = _run(f"grpc://{address(target)}", {"calls": CALLS})
    assert run.totals is not None
    assert len(records) == run.totals.num_requests == run.records_received > 0
    grouped = _by_name(records)
    assert set(grouped) == {f"gRPC {SERVICE}/Put", f"gRPC {SERVICE}/Get", "gRPC get-missing", "gRPC put-empty-key"}
    assert {(r.ok, r.status, r.error) for r in grouped[f"gRPC {SERVICE}/Put"]} == {(True, OK, None)}
    # NOT_FOUND is what this call expects: a success with its own code
    assert {(r.ok, r.status, r.error) for r in grouped["gRPC get-missing"]} == {(True, NOT_FOUND, None)}
    assert {(r.ok, r.status, r.error) for r in grouped["gRPC put-empty-key"]} == {
        (False, INVALID_ARGUMENT, "INVALID_ARGUMENT: key must not be empty (expected OK)")}
    gets = grouped[f"gRPC {SERVICE}/Get"]
    assert all(r.status in (OK, NOT_FOUND) for r in gets) and sum(r.status == OK for r in gets) >= len(gets) - 4
    assert sum(not r.ok for r in records) == run.totals.num_failures
    seconds = (max(r.t_ns for r in records) - min(r.t_ns for r in records)) / 1e9
    rps = len(records) / seconds
    assert rps > 20, f"{len(records)} calls in {seconds:.2f}s"
    print(f"reflection: {len(records)} calls, {rps:.0f} rps, {run.totals.num_failures} failures")


def test_grpc_user_takes_message_types_from_proto_files_when_there_is_no_reflection(
        gochaos_make_target: Callable[..., RunningTarget]) -> None:
    target = gochaos_make_target(grpckv("--reflection=false"))
    host = target.endpoint.url  # the http:// URL the runner hands over: only host and port count
    # reflection is what this server lacks: each try is recorded as a failure saying what to do
    _, asked = _run(host, {"calls": CALLS[:1]}, duration_s=1.0)
    assert asked and {(r.name, r.ok, r.status) for r in asked} == {("gRPC reflection", False, 0)}
    assert all("UNIMPLEMENTED" in (r.error or "") and "give the load `proto_files`" in (r.error or "")
               for r in asked)

    run, records = _run(host, {"calls": CALLS, "proto_files": [str(KV_PROTO)]})
    grouped = _by_name(records)
    assert {(r.ok, r.status) for r in grouped[f"gRPC {SERVICE}/Put"]} == {(True, OK)}
    assert {(r.ok, r.status) for r in grouped["gRPC get-missing"]} == {(True, NOT_FOUND)}
    assert {(r.ok, r.status) for r in grouped["gRPC put-empty-key"]} == {(False, INVALID_ARGUMENT)}
    assert run.totals is not None and len(records) == run.totals.num_requests > 40


def test_a_server_that_goes_away_is_recorded_as_unavailable(
        gochaos_make_target: Callable[..., RunningTarget]) -> None:
    target = gochaos_make_target(grpckv(restart=RestartPolicy.NEVER))
    stopped: list[int] = []

    def stop_the_server() -> None:
        time.sleep(1.0)
        stopped.append(time.time_ns())
        target.send_signal(signal.SIGKILL)

    _, records = _run(f"grpc://{address(target)}", {"calls": CALLS[:2], "proto_files": [str(KV_PROTO)]},
                      duration_s=2.5, during=stop_the_server)
    before = [r for r in records if r.t_ns < stopped[0] - 50_000_000]
    after = [r for r in records if r.t_ns > stopped[0] + 200_000_000]
    assert before and all(r.ok and r.status == OK for r in before if r.name.endswith("/Put"))
    assert after, "no calls after the server died"
    unavailable = [r for r in after if r.status == UNAVAILABLE]
    assert unavailable and all(not r.ok and (r.error or "").startswith("UNAVAILABLE: ") for r in unavailable)

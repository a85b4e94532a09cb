"""GrpcOptions, the grpc user's schema from .proto files and `ready_grpc`: validated in the suite's
process, before any Locust child or target starts. protoc is grpcio-tools' own, run for real."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import grpc
import pytest
from pydantic import ValidationError

from chaos.errors import ScenarioError
from chaos.load import GrpcOptions, LoadSpec, UserOptions
from chaos.load.grpc_schema import compile_protos, prepare_calls
from chaos.load.grpc_spec import NO_COMPILE, anchor_paths
from chaos.plan import build_plan
from chaos.scenario import parse_scenario

KV_PROTO = Path(__file__).resolve().parents[2] / "go_targets" / "internal" / "grpckv" / "kvpb" / "kv.proto"
PUT = "gochaos.grpckv.v1.KV/Put"


def test_defaults_and_normalisation() -> None:
    opts = GrpcOptions.model_validate({"calls": [
        {"method": "/" + PUT, "request": {"key": "a"}},
        {"method": "gochaos.grpckv.v1.KV/Get", "expect_code": "not_found", "weight": 3, "name": "miss"},
    ]})
    first, second = opts.calls
    assert (first.method, first.weight, first.expect_code, first.label) == (PUT, 1, "OK", PUT)
    assert (second.expect_code, second.weight, second.label) == ("NOT_FOUND", 3, "miss")
    assert (opts.proto_files, opts.target, opts.load_balancing, opts.timeout_s) == ((), None, "pick_first", None)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"calls": []}, "at least 1 item"),
        ({}, "Field required"),
        ({"calls": [{"method": "KV.Put"}]}, "method 'KV.Put' is not `package.Service/Method`"),
        ({"calls": [{"method": "pkg.KV/Put/x"}]}, "is not `package.Service/Method`"),
        ({"calls": [{"method": "pkg.KV/"}]}, "is not `package.Service/Method`"),
        ({"calls": [{"method": "pkg.KV/Put", "weight": 0}]}, "at least one grpc call weight must be positive"),
        ({"calls": [{"method": "pkg.KV/Put", "weight": -1}]}, "greater than or equal to 0"),
        ({"calls": [{"method": "pkg.KV/Put", "expect_code": "FINE"}]}, "unknown gRPC status code 'FINE'"),
        ({"calls": [{"method": "pkg.KV/Put"}, {"method": "pkg.KV/Put"}]}, "give each repeated method its own `name`"),
        ({"calls": [{"method": "pkg.KV/Put", "body": {}}]}, "Extra inputs are not permitted"),
        ({"calls": [{"method": "pkg.KV/Put"}], "metadata": {"Authorization": "x"}}, "must be lower-case"),
        ({"calls": [{"method": "pkg.KV/Put"}], "load_balancing": "random"}, "'pick_first' or 'round_robin'"),
        ({"calls": [{"method": "pkg.KV/Put"}], "timeout_s": 0}, "greater than 0"),
        ({"calls": [{"method": "pkg.KV/Put"}], "proto_files": ["/nonexistent/kv.proto"]},
         "proto file(s) not found: /nonexistent/kv.proto"),
    ],
)
def test_invalid_options_say_what_is_wrong(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        GrpcOptions.model_validate(fields)


def test_proto_files_check_methods_and_requests_when_the_options_load() -> None:
    base = {"proto_files": [str(KV_PROTO)]}
    ok = GrpcOptions.model_validate({**base, "calls": [{"method": PUT, "request": {"key": "k", "value": "v"}}]})
    assert ok.proto_files == (str(KV_PROTO),)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"method": "gochaos.grpckv.v1.KV/Patch"}, "service gochaos.grpckv.v1.KV has no method 'Patch'; it has "
                                                   "Delete, Get, Put"),
        ({"method": "gochaos.grpckv.v1.Other/Put"}, "no service 'gochaos.grpckv.v1.Other'"),
        ({"method": PUT, "request": {"colour": "red"}}, "request is not a gochaos.grpckv.v1.PutRequest"),
        ({"method": PUT, "request": {"key": 5}}, "request is not a gochaos.grpckv.v1.PutRequest"),
    ]
    for call, message in cases:
        with pytest.raises(ValidationError, match=re.escape(f"grpc call {call['method']}: {message}")):
            GrpcOptions.model_validate({**base, "calls": [call]})
    # a dry run's plan checks the shape only: no protoc, so an unknown method passes there
    shaped = GrpcOptions.model_validate({**base, "calls": [{"method": "gochaos.grpckv.v1.KV/Patch"}]},
                                        context=NO_COMPILE)
    assert shaped.calls[0].method == "gochaos.grpckv.v1.KV/Patch"


def test_protoc_errors_are_quoted(tmp_path: Path) -> None:
    broken = tmp_path / "broken.proto"
    broken.write_text('syntax = "proto3";\npackage p;\nmessage M { strin x = 1; }\n')
    with pytest.raises(ValueError, match=r"protoc rejected .*broken\.proto: .*strin"):
        compile_protos([str(broken)])


def test_prepared_calls_carry_serialized_requests_and_expected_codes() -> None:
    pool = compile_protos([str(KV_PROTO)])
    assert set(pool.FindServiceByName("gochaos.grpckv.v1.KV").methods_by_name) == {"Put", "Get", "Delete"}
    opts = GrpcOptions.model_validate({"calls": [
        {"method": PUT, "request": {"key": "k", "value": "v"}, "weight": 2},
        {"method": "gochaos.grpckv.v1.KV/Get", "request": {"key": "k"}, "expect_code": "NOT_FOUND"},
    ]})
    put, get = prepare_calls(pool, opts.calls)
    assert (put.path, put.weight, put.expect_code) == ("/" + PUT, 2, grpc.StatusCode.OK)
    assert put.request == b"\n\x01k\x12\x01v"  # field 1 "k", field 2 "v": the wire form of PutRequest
    assert get.expect_code is grpc.StatusCode.NOT_FOUND
    assert get.response_type.DESCRIPTOR.full_name == "gochaos.grpckv.v1.GetResponse"


def test_imports_resolve_through_import_paths_and_well_known_types(tmp_path: Path) -> None:
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "common.proto").write_text(
        'syntax = "proto3";\npackage lib;\nimport "google/protobuf/timestamp.proto";\n'
        "message Stamp { google.protobuf.Timestamp at = 1; }\n")
    (tmp_path / "svc.proto").write_text(
        'syntax = "proto3";\npackage svc;\nimport "common.proto";\n'
        "service S { rpc Do(lib.Stamp) returns (lib.Stamp); rpc Watch(lib.Stamp) returns (stream lib.Stamp); }\n")
    call = {"method": "svc.S/Do", "request": {"at": "2026-01-02T03:04:05Z"}}
    with pytest.raises(ValidationError, match=r"protoc rejected .*common\.proto"):
        GrpcOptions.model_validate({"proto_files": [str(tmp_path / "svc.proto")], "calls": [call]})
    opts = GrpcOptions.model_validate({"proto_files": [str(tmp_path / "svc.proto")],
                                       "import_paths": [str(tmp_path / "lib")], "calls": [call]})
    assert opts.import_paths == (str(tmp_path / "lib"),)
    with pytest.raises(ValidationError, match=re.escape("svc.S/Watch is a streaming method")):
        GrpcOptions.model_validate({"proto_files": [str(tmp_path / "svc.proto")],
                                    "import_paths": [str(tmp_path / "lib")], "calls": [{"method": "svc.S/Watch"}]})


def test_anchor_paths_makes_relative_paths_absolute(tmp_path: Path) -> None:
    raw = {"proto_files": ["kv.proto", "/abs/x.proto"], "import_paths": ["inc"], "calls": []}
    anchored = anchor_paths(raw, tmp_path)
    assert anchored["proto_files"] == [str(tmp_path / "kv.proto"), "/abs/x.proto"]
    assert anchored["import_paths"] == [str(tmp_path / "inc")]
    assert raw["proto_files"] == ["kv.proto", "/abs/x.proto"]  # the scenario's own data is left alone


def test_load_spec_wiring() -> None:
    calls = {"calls": [{"method": PUT}]}
    spec = LoadSpec.model_validate({"host": "grpc://127.0.0.1:9090/", "user": "grpc", "grpc": calls})
    assert spec.host == "grpc://127.0.0.1:9090"
    assert UserOptions.model_validate_json(spec.user_options().model_dump_json()).grpc == spec.grpc
    with pytest.raises(ValidationError, match=re.escape("the `grpc` user needs its calls")):
        LoadSpec(host="http://127.0.0.1:1", user="grpc")
    with pytest.raises(ValidationError, match=re.escape("user 'kvd' speaks HTTP; a grpc:// host")):
        LoadSpec.model_validate({"host": "grpc://127.0.0.1:1", "user": "kvd"})


SCENARIO = """
name: grpc-plan
targets:
  - name: kv
    command: ["./grpckv", "--listen={listen}"]
    {ready}
load:
  user: grpc
  options:
    grpc: {grpc}
"""


def _scenario(tmp_path: Path, *, ready: str = "ready_grpc: true", grpc_options: str) -> Path:
    path = tmp_path / "s.chaos.yaml"
    path.write_text(SCENARIO.replace("{ready}", ready).replace("{grpc}", grpc_options))
    return path


def test_plan_anchors_proto_files_at_the_scenario_and_reads_ready_grpc(tmp_path: Path) -> None:
    (tmp_path / "protos").mkdir()
    (tmp_path / "protos" / "kv.proto").write_text(KV_PROTO.read_text())
    path = _scenario(tmp_path, grpc_options="{proto_files: [protos/kv.proto], calls: [{method: " + PUT + "}]}")
    plan = build_plan(parse_scenario(path.read_text(), str(path)), tmp_path, platform="local")
    (load,) = plan.loads
    assert load.options["grpc"]["proto_files"] == [str(tmp_path / "protos" / "kv.proto")]
    (target,) = plan.targets
    assert (target.readiness.grpc_health, target.readiness.http_path) == ("", None)


def test_loading_refuses_bad_grpc_options_naming_the_line_and_field(tmp_path: Path) -> None:
    path = _scenario(tmp_path, grpc_options="{calls: [{method: KV.Put}]}")
    with pytest.raises(ScenarioError, match=re.escape(":10: load.options.grpc.calls.0.method: method 'KV.Put' is not")):
        parse_scenario(path.read_text(), str(path))


@pytest.mark.parametrize(
    ("ready", "grpc_health", "error"),
    [
        ("ready_grpc: etcdserverpb.KV", "etcdserverpb.KV", None),
        ('ready_grpc: ""', "", None),
        ("ready_grpc: false", None, None),
        ("{ready_grpc: true, ready_path: /healthz}", None, "give `ready_path` (HTTP) or `ready_grpc`"),
    ],
)
def test_ready_grpc_forms(tmp_path: Path, ready: str, grpc_health: str | None, error: str | None) -> None:
    text = SCENARIO.replace("    {ready}\n", "").replace("grpc: {grpc}", "grpc: {calls: [{method: p.S/M}]}")
    text = text.replace('command: ["./grpckv", "--listen={listen}"]',
                        'command: ["./grpckv", "--listen={listen}"]\n    ' + ready.strip("{}").replace(", ", "\n    "))
    if error is not None:
        with pytest.raises(ScenarioError, match=re.escape(error)):
            parse_scenario(text, "s.chaos.yaml")
        return
    (target,) = build_plan(parse_scenario(text, "s.chaos.yaml"), tmp_path, platform="local").targets
    assert target.readiness.grpc_health == grpc_health
    assert target.readiness.http_path == (None if grpc_health is not None else "/-/readyz")

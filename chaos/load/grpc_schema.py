"""Message types of a gRPC service, without generated code: from its .proto files or its reflection.

`compile_protos` runs grpcio-tools' protoc on the files into a descriptor set (imports included);
`reflected_pool` asks the running server (grpc.reflection.v1alpha, which Go's
`reflection.Register` serves beside v1). Either gives a protobuf DescriptorPool, from which
`prepare_calls` builds each call's request once (protobuf's JSON mapping, `json_format.ParseDict`)
and the response's class (`message_factory`), so a call is one serialized request on the wire.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import Message

from chaos.load.grpc_spec import GrpcCall, split_method

#: Longest a protoc run may take.
PROTOC_TIMEOUT_S = 60.0


@dataclass(frozen=True, slots=True)
class PreparedCall:
    """One call of the mix, ready to send: its gRPC path, its serialized request and how to read
    the response."""

    label: str
    path: str
    request: bytes
    response_type: type[Message]
    expect_code: grpc.StatusCode
    weight: int


def compile_protos(files: Sequence[str], import_paths: Iterable[str] = (), *,
                   in_process: bool = False) -> descriptor_pool.DescriptorPool:
    """A pool of everything `files` define and import; ValueError with protoc's own words if they
    do not compile. `in_process` runs protoc inside this process (the load child: no subprocess
    to reap under gevent; protoc's messages go to this process's stderr, the load log)."""
    missing = [f for f in files if not Path(f).is_file()]
    if missing:
        raise ValueError(f"proto file(s) not found: {', '.join(missing)} (cwd {Path.cwd()}); in a scenario "
                         "the paths are relative to the scenario file")
    well_known = resources.files("grpc_tools") / "_proto"
    includes = dict.fromkeys([*(str(Path(f).resolve().parent) for f in files),
                              *(str(Path(p).resolve()) for p in import_paths), str(well_known)])
    with tempfile.TemporaryDirectory(prefix="gochaos-protoc-") as tmp:
        out = Path(tmp) / "set.pb"
        args = [*(f"-I{d}" for d in includes), f"--descriptor_set_out={out}", "--include_imports",
                *(str(Path(f).resolve()) for f in files)]
        if in_process:
            # deferred: grpcio (gochaos[grpc]) is optional and slow to import
            from grpc_tools import protoc

            if protoc.main(["protoc", *args]) != 0:
                raise ValueError(f"protoc rejected {', '.join(files)} (its messages are in the load log)")
        else:
            _run_protoc(args, files)
        file_set = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
    pool = descriptor_pool.DescriptorPool()
    for file_proto in file_set.file:  # --include_imports lists dependencies first
        pool.Add(file_proto)
    return pool


def _run_protoc(args: list[str], files: Sequence[str]) -> None:
    try:
        done = subprocess.run([sys.executable, "-m", "grpc_tools.protoc", *args], capture_output=True, text=True,
                              timeout=PROTOC_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise ValueError(f"protoc (grpcio-tools) could not run: {e}") from e
    if done.returncode != 0:
        said = " | ".join(line for line in (done.stderr or done.stdout).splitlines() if line.strip())
        raise ValueError(f"protoc rejected {', '.join(files)}: {said[:600]}")


def reflected_pool(channel: grpc.Channel) -> tuple[descriptor_pool.DescriptorPool, list[str]]:
    """A pool that asks the server's reflection for each type it is asked for, and the services
    the server lists (grpc.RpcError if the server cannot be asked, e.g. UNIMPLEMENTED: no reflection)."""
    # deferred: grpcio (gochaos[grpc]) is optional and slow to import
    from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

    database = ProtoReflectionDescriptorDatabase(channel)
    services = list(database.get_services())
    return descriptor_pool.DescriptorPool(database), services


def find_method(pool: descriptor_pool.DescriptorPool, method: str, offered: Sequence[str] = ()) -> MethodDescriptor:
    """The method's descriptor; KeyError saying what exists when it does not."""
    service_name, name = split_method(method)
    try:
        service = pool.FindServiceByName(service_name)
    except KeyError:
        known = f"; the server offers {', '.join(sorted(offered))}" if offered else ""
        raise KeyError(f"no service {service_name!r}{known}") from None
    found = service.methods_by_name.get(name)
    if found is None:
        raise KeyError(f"service {service_name} has no method {name!r}; it has "
                       f"{', '.join(sorted(service.methods_by_name))}")
    if found.client_streaming or found.server_streaming:
        raise KeyError(f"{method} is a streaming method; the grpc user makes unary calls only")
    return found


def prepare_calls(pool: descriptor_pool.DescriptorPool, calls: Sequence[GrpcCall],
                  offered: Sequence[str] = ()) -> list[PreparedCall]:
    """Every call resolved against `pool`; ValueError naming the call and what is wrong."""
    prepared = []
    for call in calls:
        try:
            method = find_method(pool, call.method, offered)
        except KeyError as e:
            raise ValueError(f"grpc call {call.label}: {e.args[0]}") from None
        request_type = message_factory.GetMessageClass(method.input_type)
        try:
            request: Any = json_format.ParseDict(call.request, request_type())
        except json_format.ParseError as e:
            raise ValueError(f"grpc call {call.label}: request is not a {method.input_type.full_name}: {e}") from e
        prepared.append(PreparedCall(
            label=call.label, path=f"/{call.method}", request=request.SerializeToString(),
            response_type=message_factory.GetMessageClass(method.output_type),
            expect_code=grpc.StatusCode[call.expect_code], weight=call.weight,
        ))
    return prepared


def check_calls(pool: descriptor_pool.DescriptorPool, calls: Sequence[GrpcCall]) -> None:
    """ValueError unless every call names a unary method in `pool` with a valid request."""
    prepare_calls(pool, calls)

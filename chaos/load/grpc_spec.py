"""Options of the built-in `grpc` user: which methods to call, with which requests, how often.

Validated in the suite's process like every LoadSpec, so a typo costs seconds: the method names'
shape and the status codes always; with `proto_files`, also that every method exists and every
request is a valid message of its input type (the .proto files are compiled here). Without
`proto_files` the types come from the server's reflection, which only the running service can
answer: the load child resolves them on its first call.

Every scenario's load options are checked against this model, so it imports no grpcio (an extra,
gochaos[grpc]): options for the grpc user are refused at plan time when the extra is missing.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, model_validator

from chaos import extras

_Frozen = ConfigDict(frozen=True, extra="forbid")

#: Validation context that checks the options' shape but runs no protoc (a dry run's plan).
NO_COMPILE = {"compile_protos": False}

#: `package.Service/Method`, as in a gRPC path without its leading slash.
_METHOD = re.compile(r"^/?(?P<service>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)/"
                     r"(?P<method>[A-Za-z_][A-Za-z0-9_]*)$")

#: Every gRPC status code name (OK, CANCELLED, ..., UNAUTHENTICATED), in code order (OK = 0): fixed by the gRPC
#: protocol and written out, as importing grpcio to list `grpc.StatusCode` would cost every plan its import.
STATUS_NAMES: tuple[str, ...] = (
    "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
    "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
    "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
)


def _method(value: str) -> str:
    if _METHOD.match(value) is None:
        raise ValueError(f"method {value!r} is not `package.Service/Method` (e.g. "
                         "`gochaos.grpckv.v1.KV/Put`)")
    return value.removeprefix("/")


def _status_name(value: str) -> str:
    name = value.strip().upper()
    if name not in STATUS_NAMES:
        raise ValueError(f"unknown gRPC status code {value!r}; one of {', '.join(STATUS_NAMES)}")
    return name


def split_method(method: str) -> tuple[str, str]:
    """(`package.Service`, `Method`) of a validated method name."""
    service, _, name = method.partition("/")
    return service, name


class GrpcCall(BaseModel):
    """One unary call of the built-in `grpc` user, and the status that counts as success."""

    model_config = _Frozen

    method: Annotated[str, AfterValidator(_method)] = Field(
        description="Fully qualified method, `package.Service/Method` (e.g. `etcdserverpb.KV/Range`).")
    request: dict[str, Any] = Field(
        default_factory=dict,
        description="The request message in protobuf's JSON mapping (field names as in the .proto or "
                    "lowerCamelCase; `bytes` fields base64; 64-bit integers as strings or numbers).")
    weight: int = Field(1, ge=0, description="Relative weight of this call in the mix.")
    expect_code: Annotated[str, AfterValidator(_status_name)] = Field(
        "OK", description="Status code that counts as success (OK, NOT_FOUND, ...); any other is a failure.")
    name: str | None = Field(
        None, min_length=1,
        description="Name of the call in reports; default: the method. Give one when a method appears twice.")

    @property
    def label(self) -> str:
        return self.name or self.method


class GrpcOptions(BaseModel):
    """Call mix of the built-in `grpc` user, which loads a gRPC service through its real interface:
    one weighted unary call per task, with message types from the server's reflection or from
    `proto_files`; each call is recorded with its status code (OK = 0, UNAVAILABLE = 14, ...)."""

    model_config = _Frozen

    calls: tuple[GrpcCall, ...] = Field(
        min_length=1, description="Calls to make, picked by weight.")
    proto_files: tuple[str, ...] = Field(
        (), description="The service's .proto files (in a scenario: relative to the scenario file). None: "
                        "the message types come from the server's reflection.")
    import_paths: tuple[str, ...] = Field(
        (), description="More directories `import` statements of the .proto files are resolved in (each "
                        "file's own directory and protobuf's well-known types are always searched).")
    target: str | None = Field(
        None, min_length=1,
        description="gRPC target to dial (`host:port`, or any name gRPC resolves, e.g. "
                    "`ipv4:127.0.0.1:2379,127.0.0.1:22379`); default: host and port of the load's host URL.")
    load_balancing: Literal["pick_first", "round_robin"] = Field(
        "pick_first", description="gRPC load-balancing policy over the target's addresses.")
    metadata: dict[str, str] = Field(
        default_factory=dict, description="Metadata (headers) sent with every call; keys lower-case.")
    timeout_s: float | None = Field(
        None, gt=0, description="Deadline of each call; None = the run's request_timeout_s.")

    @model_validator(mode="before")
    @classmethod
    def _grpc_installed(cls, data: Any) -> Any:
        extras.require("grpc", "this scenario's load uses the grpc user")
        return data

    @model_validator(mode="after")
    def _some_weight(self) -> GrpcOptions:
        if not any(call.weight for call in self.calls):
            raise ValueError("at least one grpc call weight must be positive")
        labels = [call.label for call in self.calls]
        if len(set(labels)) != len(labels):
            raise ValueError("two grpc calls have the same name; give each repeated method its own `name`")
        bad = [key for key in self.metadata if key != key.lower() or not key or key.startswith(":")]
        if bad:
            raise ValueError(f"grpc metadata keys must be lower-case and not pseudo-headers, got {bad}")
        return self

    @model_validator(mode="after")
    def _protos_describe_the_calls(self, info: ValidationInfo) -> GrpcOptions:
        if self.proto_files and (info.context or {}).get("compile_protos", True):
            # deferred: grpc_schema imports grpcio (gochaos[grpc])
            from chaos.load.grpc_schema import check_calls, compile_protos

            check_calls(compile_protos(self.proto_files, self.import_paths), self.calls)
        return self


def anchor_paths(options: dict[str, Any], base_dir: Path) -> dict[str, Any]:
    """Raw `grpc` options (as a scenario gives them) with relative .proto files and import paths
    made absolute against `base_dir`, the scenario's directory."""
    def absolute(path: object) -> object:
        return str((base_dir / path).resolve()) if isinstance(path, str) and not Path(path).is_absolute() else path

    out = dict(options)
    for key in ("proto_files", "import_paths"):
        if isinstance(out.get(key), list | tuple):
            out[key] = [absolute(p) for p in out[key]]
    return out

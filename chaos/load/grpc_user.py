"""The built-in `grpc` Locust user: weighted unary calls to a gRPC service, each on the timeline.

Imported only inside the load child, after `chaos.load.child` has patched the process with gevent
and called `grpc.experimental.gevent.init_gevent()` (grpcio's own I/O runs in C, so without it a
call would block every other user of the process).

Each call is a request event of type "gRPC" named after the method (or the call's `name`), with
the numeric status code as its status (OK = 0, NOT_FOUND = 5, UNAVAILABLE = 14, ...). A code
other than the call's `expect_code` is a failure whose error starts with the code's name, e.g.
``UNAVAILABLE: failed to connect to all addresses``. The message types are resolved once per
process, from the .proto files or the server's reflection; while that fails (the server is
unreachable, or has no reflection) each task records the failure as request "gRPC reflection".
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Any, ClassVar

import gevent
import gevent.lock
import grpc
from locust import User, task

from chaos.load.grpc_schema import PreparedCall, compile_protos, prepare_calls, reflected_pool
from chaos.load.grpc_spec import GrpcOptions
from chaos.load.spec import host_port

#: After a failed schema resolution, the user waits this long before its next try.
RESOLVE_BACKOFF_S = 0.1


class GrpcCallFailed(Exception):
    """A call that ended with a status code other than the one expected."""


#: One exception class per status code, named after it, so a recorded error reads
#: "UNAVAILABLE: <details>" on the timeline and in Locust's error table.
CODE_ERRORS: dict[grpc.StatusCode, type[GrpcCallFailed]] = {
    code: type(code.name, (GrpcCallFailed,), {"__doc__": f"gRPC status {code.name}"}) for code in grpc.StatusCode
}


class SchemaUnavailable(Exception):
    """The calls' message types could not be resolved (yet): no reflection, or no server."""


@dataclass(frozen=True, slots=True)
class GrpcResponse:
    """What the request event carries as its response: the recorder reads `status_code`."""

    status_code: int
    code: grpc.StatusCode


def code_number(code: grpc.StatusCode) -> int:
    number: int = code.value[0]
    return number


class GrpcUser(User):
    """grpc: one weighted unary call per task over its own channel (its own HTTP/2 connection)."""

    options: ClassVar[GrpcOptions | None] = None
    timeout_s: ClassVar[float] = 5.0
    #: The calls, resolved once per process and shared by its users (None until resolved).
    _calls: ClassVar[list[PreparedCall] | None] = None
    #: Why the calls cannot be resolved at all (a method or request the schema refuses).
    _broken: ClassVar[str | None] = None
    _resolving: ClassVar[gevent.lock.Semaphore | None] = None

    @classmethod
    def apply(cls, options: GrpcOptions | None, request_timeout_s: float) -> None:
        """Set the run's options (its own timeout, else the run's request timeout); the schema is resolved
        again on first use."""
        cls.options = options
        cls.timeout_s = (options.timeout_s if options else None) or request_timeout_s
        cls._calls, cls._broken, cls._resolving = None, None, None

    def on_start(self) -> None:
        if self.options is None:
            raise ValueError("the grpc user has no options: give `grpc: {calls: [...]}` in the load")
        self._channel = grpc.insecure_channel(
            self._target(), options=[("grpc.lb_policy_name", self.options.load_balancing)])
        self._stubs: dict[str, Any] = {}
        self._metadata = tuple(self.options.metadata.items()) or None

    def on_stop(self) -> None:
        self._channel.close()

    def _target(self) -> str:
        assert self.options is not None
        if self.options.target:
            return self.options.target
        host, port = host_port(self.host or "", default_port=443 if (self.host or "").startswith("https") else 80)
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    @task
    def call(self) -> None:
        start = time.perf_counter()
        try:
            calls = self._resolved()
        except SchemaUnavailable as e:
            self._fire("reflection", start, None, 0, e)
            gevent.sleep(RESOLVE_BACKOFF_S)
            return
        chosen = random.choices(calls, [c.weight for c in calls])[0]
        stub = self._stubs.get(chosen.path)
        if stub is None:
            stub = self._stubs[chosen.path] = self._channel.unary_unary(chosen.path)
        code, length, error = grpc.StatusCode.OK, 0, None
        try:
            raw: bytes = stub(chosen.request, timeout=self.timeout_s, metadata=self._metadata)
            length = len(raw)
            chosen.response_type.FromString(raw)
        except grpc.RpcError as e:
            code = e.code() if isinstance(e, grpc.Call) else grpc.StatusCode.UNKNOWN
            error = CODE_ERRORS[code](e.details() if isinstance(e, grpc.Call) else str(e))
        except Exception as e:  # an undecodable response: the server answered, wrongly
            code, error = grpc.StatusCode.UNKNOWN, CODE_ERRORS[grpc.StatusCode.UNKNOWN](
                f"response is not a {chosen.response_type.DESCRIPTOR.full_name}: {e}")
        if code != chosen.expect_code:
            if error is None:
                error = CODE_ERRORS[code](f"(expected {chosen.expect_code.name})")
            else:
                error = type(error)(f"{error} (expected {chosen.expect_code.name})")
        else:
            error = None
        self._fire(chosen.label, start, GrpcResponse(code_number(code), code), length, error)

    def _fire(self, name: str, start: float, response: GrpcResponse | None, length: int,
              error: Exception | None) -> None:
        self.environment.events.request.fire(
            request_type="gRPC", name=name, response_time=(time.perf_counter() - start) * 1000.0,
            response_length=length, response=response, context=self.context(), exception=error,
        )

    def _resolved(self) -> list[PreparedCall]:
        """The prepared calls: resolved by the first user to ask, while the others wait."""
        cls = type(self)
        if cls._calls is not None:
            return cls._calls
        if cls._broken is not None:
            raise SchemaUnavailable(cls._broken)
        if cls._resolving is None:
            cls._resolving = gevent.lock.Semaphore()
        with cls._resolving:
            if cls._calls is None and cls._broken is None:
                cls._calls = self._resolve()
        return self._resolved()

    def _resolve(self) -> list[PreparedCall]:
        opts = self.options
        assert opts is not None
        offered: list[str] = []
        try:
            if opts.proto_files:
                pool = compile_protos(opts.proto_files, opts.import_paths, in_process=True)
            else:
                pool, offered = reflected_pool(self._channel)
        except grpc.RpcError as e:
            code = e.code() if isinstance(e, grpc.Call) else grpc.StatusCode.UNKNOWN
            hint = ("; the server has no reflection service: give the load `proto_files`"
                    if code == grpc.StatusCode.UNIMPLEMENTED else "")
            details = e.details() if isinstance(e, grpc.Call) else str(e)
            raise SchemaUnavailable(f"{code.name}: {details}{hint}") from e
        except ValueError as e:
            type(self)._broken = str(e)
            raise SchemaUnavailable(str(e)) from e
        try:
            return prepare_calls(pool, opts.calls, offered)
        except grpc.RpcError as e:  # reflection answered the list, then failed on a type
            code = e.code() if isinstance(e, grpc.Call) else grpc.StatusCode.UNKNOWN
            raise SchemaUnavailable(f"{code.name}: reflection failed mid-way") from e
        except ValueError as e:
            type(self)._broken = str(e)
            raise SchemaUnavailable(str(e)) from e

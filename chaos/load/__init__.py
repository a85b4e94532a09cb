"""Load: Locust in child processes, every request result streamed into the Timeline.

    from chaos.load import LoadSpec, LoadRun

    spec = LoadSpec(host="http://127.0.0.1:8080", user="http", rate=200, duration_s=10)
    with LoadRun(spec, timeline) as run:   # returns once results flow, else LoadError
        print(run.live().rps)
        run.wait()                         # run the duration out (leaving early stops it)
    run.totals                             # Locust's own final counts

Modules: `spec` (LoadSpec and options, no Locust; `http_spec` for the http user, `grpc_spec` and
`grpc_schema` for the grpc user, `rate` for a constant request rate), `stream` (the wire format, totals), `run`
(LoadRun, the parent side); inside the child only: `child` (entry point), `roles` (local,
master, worker), `users` (built-in users; `grpc_user`), `recorder` (request events -> stream).

This package imports its parent-side names lazily, so that ``python -m chaos.load.child`` can
let gevent monkey-patch the child before anything else is imported.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chaos.load.grpc_spec import GrpcCall, GrpcOptions
    from chaos.load.http_spec import HttpOptions, HttpRequest
    from chaos.load.run import LoadRun
    from chaos.load.spec import (
        BUILTIN_USERS,
        AllocdOptions,
        ConfigdOptions,
        DnsOptions,
        DnsQuery,
        KvdOptions,
        LoadSpec,
        UserOptions,
    )
    from chaos.load.stream import EntryTotals, LoadTotals

__all__ = [
    "BUILTIN_USERS",
    "AllocdOptions",
    "ConfigdOptions",
    "DnsOptions",
    "DnsQuery",
    "EntryTotals",
    "GrpcCall",
    "GrpcOptions",
    "HttpOptions",
    "HttpRequest",
    "KvdOptions",
    "LoadRun",
    "LoadSpec",
    "LoadTotals",
    "UserOptions",
]

_HOMES = {
    "LoadRun": "chaos.load.run",
    "EntryTotals": "chaos.load.stream",
    "LoadTotals": "chaos.load.stream",
    "GrpcCall": "chaos.load.grpc_spec",
    "GrpcOptions": "chaos.load.grpc_spec",
    "HttpOptions": "chaos.load.http_spec",
    "HttpRequest": "chaos.load.http_spec",
}


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module 'chaos.load' has no attribute {name!r}")
    module = importlib.import_module(_HOMES.get(name, "chaos.load.spec"))
    return getattr(module, name)

"""The optional parts of gochaos (pip extras), and the one check that a run has the ones it needs.

A local run needs only the core install. The Kubernetes platform needs the official client
(`gochaos[kubernetes]`); the built-in grpc load user and gRPC readiness checks need grpcio and protobuf
(`gochaos[grpc]`). Each is checked when the run is planned, so a missing extra is one line naming it
(chaos.errors.MissingExtra), not an ImportError from deep inside a run. The check finds the modules
without importing them: importing the Kubernetes client or grpcio costs a local run time it never uses.
The names here match `[project.optional-dependencies]` in pyproject.toml.
"""

from __future__ import annotations

import importlib.util

from chaos.errors import MissingExtra

#: Extra name -> the modules its packages provide that chaos/ imports.
MODULES: dict[str, tuple[str, ...]] = {
    "kubernetes": ("kubernetes",),
    "grpc": ("grpc", "grpc_tools", "grpc_health", "grpc_reflection", "google.protobuf"),
}


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a dotted name whose parent package is missing (google.protobuf)
        return False


def installed(extra: str) -> bool:
    """Are all the modules of `extra` importable here (without importing them)?"""
    return all(_importable(module) for module in MODULES[extra])


def require(extra: str, needed_for: str) -> None:
    """MissingExtra ("<needed_for>: install gochaos[<extra>] ...") unless `extra` is installed."""
    if not installed(extra):
        raise MissingExtra(extra, needed_for)

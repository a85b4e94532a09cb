"""Errors of the offline kind tooling, placed under gochaos's one error root.

Hierarchy::

    chaos.errors.InfrastructureError
    +-- KindOfflineError            anything this package raises on purpose
        +-- PrerequisiteMissing     this machine cannot do it at all (not root, no apt, no gcc):
        |                           pytest fixtures turn it into a skip with the message as reason
        +-- EngineError             our dockerd would not start, answer, or stop
        +-- BuildFailed             a build step failed (apt, go, debootstrap, gcc, docker load)
        +-- ClusterError            kind could not create, reach or delete a cluster

Every message is one line that says what failed and what to do about it; the tail of a failing
command's output follows on the next lines when there is one.
"""

from __future__ import annotations

from chaos.errors import InfrastructureError


class KindOfflineError(InfrastructureError):
    """Root of the errors raised by the offline kind tooling."""


class PrerequisiteMissing(KindOfflineError):
    """The machine lacks something this tooling cannot provide by itself: a reason to skip."""


class EngineError(KindOfflineError):
    """The Docker engine could not be started, reached or stopped."""


class BuildFailed(KindOfflineError):
    """Building a tool, a binary or the node image failed."""


class ClusterError(KindOfflineError):
    """A kind cluster could not be created, reached or deleted."""

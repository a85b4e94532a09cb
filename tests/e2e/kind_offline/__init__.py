"""Offline kind for gochaos's e2e tests: a Docker engine, kind, and a node image, all built here.

This machine can pull no image and reach no registry, and its VM lacks CAP_SYS_RESOURCE, so kind
cannot be used as shipped. This package makes it work with real parts only:

* docker_engine   our own dockerd (Debian's docker.io) with a capability-stripping OCI runtime
* kind_tool       kind from the Go module proxy at a pinned version
* node_image      a kind node image assembled from debootstrap + Kubernetes built from source,
                  cached in Docker under a hash of its inputs
* runner_image    the gochaos runner image (Debian + Python + this checkout), for in-cluster runs
* cluster         ephemeral clusters from manifests/kind/cluster.yaml, made and always deleted by
                  gochaos's own chaos.platform.kubernetes.cluster.kind.KindCluster on our engine

See README.md in this directory for what gets built, why, and how long it takes.
"""

from __future__ import annotations

from .cluster import api_client, running_cluster
from .docker_engine import DockerEngine, acquire, release
from .errors import BuildFailed, ClusterError, EngineError, KindOfflineError, PrerequisiteMissing
from .kind_tool import ensure_kind
from .node_image import ensure_node_image, node_image_tag
from .runner_image import ensure_runner_image, runner_image_tag

__all__ = [
    "BuildFailed",
    "ClusterError",
    "DockerEngine",
    "EngineError",
    "KindOfflineError",
    "PrerequisiteMissing",
    "acquire",
    "api_client",
    "ensure_kind",
    "ensure_node_image",
    "ensure_runner_image",
    "node_image_tag",
    "release",
    "runner_image_tag",
    "running_cluster",
]

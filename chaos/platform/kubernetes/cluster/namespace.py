"""The run's own namespace: created labelled, everything server-side applied into it, deleted at the end.

gochaos only ever touches a namespace that carries its managed-by label and this run's id: objects
are applied into no other namespace, and `delete()` refuses (silently skips) one without them, so a
name clash can never make the suite delete someone else's work. The namespace is recorded in the
run's state file before it is created, so if the suite dies, the next run deletes it (reaching the
cluster again from what was recorded: a kind cluster's name, or a kubeconfig and context).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chaos import state
from chaos.errors import PlatformError
from chaos.observe.readiness import wait_until
from chaos.platform.kubernetes.cluster import manifest_files as m
from chaos.platform.kubernetes.cluster.namespace_reclaim import KIND

FIELD_MANAGER = "gochaos"
DELETE_TIMEOUT_S = 60.0


class RunNamespace:
    """Namespace `gochaos-<run id>` on one cluster, and the objects the run applies into it."""

    def __init__(self, api: Any, *, run_id: str, discovery_cache: Path,
                 reach: dict[str, str] | None = None) -> None:
        # deferred: the kubernetes client (gochaos[kubernetes]) is optional and slow to import
        from kubernetes import client as client_module  # deferred: the kubernetes client is heavy to import
        from kubernetes import dynamic as dynamic_module

        client: Any = client_module  # the package's types are partial; its objects are used as Any here
        dynamic: Any = dynamic_module
        self.run_id = run_id
        self.name = f"gochaos-{run_id}"
        self.core: Any = client.CoreV1Api(api)
        self.dynamic: Any = dynamic.DynamicClient(api, cache_file=str(discovery_cache))
        self.created = False
        self.reach = reach

    def create(self) -> None:
        """The namespace (labelled as this run's) and the RBAC in it, from manifests/base."""
        if self.created:
            return
        if self.reach is not None:  # a suite killed outright leaves it to the next run's clean-up
            state.hold(KIND, self.name, f"namespace {self.name}", run_id=self.run_id, **self.reach)
        self.created = True  # from here on delete() removes it, even if the apply half-failed
        base = m.load_kustomization(m.manifests_dir() / "base")
        self.apply(m.render_base(base, namespace=self.name, run_id=self.run_id))

    def apply(self, docs: list[m.Manifest]) -> None:
        """Server-side apply each object (field manager gochaos, conflicts forced: the run owns them)."""
        for doc in docs:
            namespace = doc["metadata"].get("namespace")
            if namespace is not None and namespace != self.name:
                raise PlatformError(f"refusing to apply {doc['kind']} into namespace {namespace}: not this run's")
            try:
                resource = self.dynamic.resources.get(api_version=doc["apiVersion"], kind=doc["kind"])
                self.dynamic.server_side_apply(resource, body=doc, namespace=namespace,
                                               field_manager=FIELD_MANAGER, force_conflicts=True)
            except Exception as e:
                raise PlatformError(f"apply {doc['kind']}/{doc['metadata'].get('name')}: {reason(e)}") from e

    def delete_object(self, delete: Any, name: str) -> None:
        """`delete(name, namespace)` of one object in this namespace; gone already is fine."""
        try:
            delete(name, self.name, grace_period_seconds=0)
        except Exception as e:
            if getattr(e, "status", None) != 404:
                raise PlatformError(f"delete {name} in {self.name}: {reason(e)}") from e

    def delete(self) -> None:
        """Delete the namespace if it is this run's, and wait (bounded) until it is gone."""
        if not self.created:
            return
        if delete_run_namespace(self.core, self.name, self.run_id) and not wait_until(
                lambda: _labels(self.core, self.name) is None, timeout_s=DELETE_TIMEOUT_S, interval_s=0.5):
            raise PlatformError(f"namespace {self.name} still terminating after {DELETE_TIMEOUT_S:g}s; check it "
                                f"with `kubectl get all -n {self.name}`")
        state.release(KIND, self.name)


def delete_run_namespace(core: Any, name: str, run_id: str) -> bool:
    """Start deleting namespace `name` if it carries gochaos's label and `run_id`; False if it did not.

    Never made, gone already, or not ours: never delete what gochaos did not label.
    """
    labels = _labels(core, name)
    if labels is None or labels.get(m.MANAGED_BY) != "gochaos" or labels.get(m.RUN_LABEL) != run_id:
        return False
    try:
        core.delete_namespace(name, grace_period_seconds=0)
    except Exception as e:
        if getattr(e, "status", None) != 404:
            raise PlatformError(f"delete namespace {name}: {reason(e)}; delete it by hand "
                                f"(kubectl delete namespace {name})") from e
    return True


def _labels(core: Any, name: str) -> dict[str, str] | None:
    """The namespace's labels, None when it does not exist."""
    try:
        meta = core.read_namespace(name).metadata
    except Exception as e:
        if getattr(e, "status", None) == 404:
            return None
        raise PlatformError(f"read namespace {name}: {reason(e)}") from e
    return dict(meta.labels or {})


def reason(error: Exception) -> str:
    """The API server's own words about a failed call (its JSON body), else the exception's text."""
    body = getattr(error, "body", None)
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    return str(body or getattr(error, "reason", None) or error)[:400]

"""The suite's own target on Kubernetes: the pod of a Deployment the run applied into its namespace.

The platform renders and applies its ConfigMap, Deployment and Service (`manifests.render_target`);
this is the target once it runs: its config (a file in the node's shared directory, or the key of
its ConfigMap written through the API), its environment (a rollout of its Deployment), its
readiness story when the rollout does not finish, signals through the kind node, and its removal.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Mapping
from pathlib import Path

from chaos.configfiles import API_MODES, WriteMode, unreachable
from chaos.errors import PlatformError, TargetDown
from chaos.platform.base import Endpoint
from chaos.platform.kubernetes.cluster.config_key import ConfigKey
from chaos.platform.kubernetes.cluster.namespace import FIELD_MANAGER, reason
from chaos.platform.kubernetes.cluster.podwatch import PodObserver
from chaos.platform.kubernetes.cluster.run_space import RunSpace
from chaos.platform.kubernetes.pod_target import PodTarget, Workload, rolled_out
from chaos.platform.kubernetes.workloads import manifests as m
from chaos.targets import ConfigDelivery, TargetSpec


def own_workload(namespace: str, name: str) -> Workload:
    """Where the run's own target `name` runs: the pods of its Deployment, container `CONTAINER`."""
    return Workload(namespace, f"{m.TARGET_LABEL}={name}", m.CONTAINER)


class KubeTarget(PodTarget):
    """A target running as a Deployment's pod (implements `RunningTarget`)."""

    rollout_poll_s = 0.1

    def __init__(self, spec: TargetSpec, endpoint: Endpoint, config_path: Path | None,
                 extra_env: Mapping[str, str], *, workload: Workload, observer: PodObserver, space: RunSpace,
                 placeholders: Mapping[str, str]) -> None:
        super().__init__(spec, endpoint, config_path, extra_env, workload=workload, observer=observer,
                         placeholders=placeholders)
        self._space = space
        #: The environment the Deployment runs with now, beyond the spec's (restart_target changes it).
        self.env: dict[str, str | None] = dict(extra_env)
        config = spec.config
        #: The ConfigMap key the pod mounts its config from (None: a file in the node's shared directory).
        self.config_map = (ConfigKey(space.core, space.namespace, m.config_map_name(spec), config.file_name)
                           if config is not None and config.delivery is ConfigDelivery.CONFIGMAP else None)

    # -- its config ----------------------------------------------------------------------------
    def read_config(self) -> str:
        if self.config_map is None:
            return super().read_config()
        return self.config_map.read()

    def write_config(self, text: str, mode: WriteMode) -> None:
        """A file write (shared directory), or for a mounted ConfigMap an update through the API."""
        if self.config_map is None:
            return super().write_config(text, mode)
        if mode not in API_MODES:
            raise PlatformError(unreachable(self.spec.name, mode, API_MODES))
        self.config_map.write(text)

    def restore_config(self, text: str) -> None:
        if self.config_map is None:
            return super().restore_config(text)
        self.config_map.write(text)

    # -- its process ---------------------------------------------------------------------------
    def send_signal(self, sig: signal.Signals) -> None:
        """Signal the container's process through the kind node; elsewhere unsupported (one line)."""
        node = self._space.cluster.node
        if node is None:
            raise PlatformError(f"{self.spec.name}: sending {sig.name} needs a kind node (docker exec into it); "
                                "this cluster is not a local kind cluster")
        current = self.observer.current
        if current is None:
            raise TargetDown(f"{self.spec.name}: no running container to send {sig.name} to")
        if sig in (signal.SIGKILL, signal.SIGTERM):
            self.observer.expect_exit(current[1])
        node.signal_container(current[1].partition("://")[2] or current[1], sig)

    # -- its environment, by a rollout ---------------------------------------------------------
    def roll_env(self, env: Mapping[str, str | None]) -> dict[str, str | None]:
        """Roll the Deployment with a changed environment (None removes a variable); return the old values."""
        name, namespace = self.spec.name, self._space.namespace
        previous = {key: self.env.get(key) for key in env}
        self.env.update(env)
        patch = {"spec": {"template": {
            "metadata": {"annotations": {"gochaos.io/restarted-at": str(time.time_ns())}},
            "spec": {"containers": [{"name": m.CONTAINER, "env": m.pod_env(self.spec, self.env)}]}}}}
        try:  # Recreate strategy: the old pod is deleted (its exit is requested), then a new one starts
            self._space.apps.patch_namespaced_deployment(name, namespace, patch, field_manager=FIELD_MANAGER)
        except Exception as e:
            raise PlatformError(f"patch deployment {name}: {reason(e)}") from e
        return previous

    def rolled_out(self) -> bool:
        return rolled_out(self._space.apps, self.spec.name, self._space.namespace)

    def rollout_failure(self, timeout_s: float, env: Mapping[str, str | None]) -> str:
        """One line: what the pod and its events say, and its last log lines."""
        name, namespace, core = self.spec.name, self._space.namespace, self._space.core
        selector = self.workload.selector
        said: list[str] = []
        for pod in core.list_namespaced_pod(namespace, label_selector=selector).items:
            for cs in pod.status.container_statuses or []:
                waiting = cs.state.waiting if cs.state else None
                if waiting is not None:
                    said.append(f"{pod.metadata.name}: {waiting.reason}: {waiting.message or ''}".strip())
            events = core.list_namespaced_event(namespace, field_selector=f"involvedObject.name={pod.metadata.name}")
            said += [f"{e.reason}: {e.message}" for e in events.items if e.type == "Warning"][-3:]
        tail = [line.text for line in self.logs()][-3:]
        return (f"target {name} did not become ready on Kubernetes within {timeout_s:g}s (namespace {namespace}): "
                f"{'; '.join(said) or 'no pod events'}; last log lines: {tail or 'none'}; "
                f"inspect with `kubectl -n {namespace} describe pod -l {selector}`")

    # -- its end -------------------------------------------------------------------------------
    def remove(self) -> None:
        """Delete its Deployment and Service, and stop following it."""
        self._space.ns.delete_object(self._space.apps.delete_namespaced_deployment, self.spec.name)
        self._space.ns.delete_object(self._space.core.delete_namespaced_service, self.spec.name)
        self.close()

"""A team's service as it is already deployed: found, checked and reached through the API only.

Nothing is applied and no node is touched. Before anything changes, the workload, its container,
the ConfigMap (or Secret) key that holds its config, and that its pods mount it are all checked
(each missing object: exit 2 naming it and the fix), the namespace must carry the opt-in label, and
every verb the run will use is asked of the API server (exit 3 naming what RBAC denies). The pods
are reached through a tunnel on loopback (port-forward, or the pod network when the run is inside
the cluster); a reload storm writes the ConfigMap, which the kubelet swaps into the pods; crashes
and restarts come from the pod watch and `previous` logs.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterable, Mapping
from typing import Any

from chaos import state
from chaos.configfiles import API_MODES, WriteMode, unreachable
from chaos.errors import PlatformError, UsageError
from chaos.platform.kubernetes.cluster.config_key import ConfigKey
from chaos.platform.kubernetes.cluster.namespace import FIELD_MANAGER, reason
from chaos.platform.kubernetes.cluster.podwatch import PodObserver
from chaos.platform.kubernetes.cluster.rights import Need
from chaos.platform.kubernetes.cluster.tunnel import Tunnel
from chaos.platform.kubernetes.deployed import deployed_reclaim
from chaos.platform.kubernetes.pod_target import PodTarget, Workload, rolled_out
from chaos.targets import Deployed, TargetSpec, WorkloadChange


def needs(deployed: Deployed, changes: Iterable[WorkloadChange] = (), *, port_forward: bool = True) -> list[Need]:
    """Every verb a run on this service uses, for the up-front access review.

    `changes` are what its faults change (`TargetSpec.workload_changes`): pods deleted (pod_delete),
    env rolled out (gc_pressure env), pods' limits resized in place (gc_pressure cgroup), a chaosproxy pod in
    front of its Service (network on its load link). Nothing else
    is asked for, so a read-mostly Role suffices.
    A run inside the cluster reaches pods over the pod network and needs no `port_forward`.
    """
    ns = deployed.namespace
    wanted = [*([Need("get", f"{deployed.kind}s", ns, group="apps")] if deployed.workload else []),
              Need("list", "pods", ns), Need("watch", "pods", ns),
              Need("get", "pods", ns), Need("get", "pods", ns, subresource="log"),
              *([Need("create", "pods", ns, subresource="portforward")] if port_forward else []),
              *(Need(verb, "leases", ns, group="coordination.k8s.io") for verb in ("create", "get", "delete"))]
    if deployed.config is not None:
        objects = f"{deployed.config.kind.lower()}s"
        wanted += [Need("get", objects, ns), Need("patch", objects, ns)]
    if deployed.service is not None:
        wanted.append(Need("get", "services", ns))
    for verb, resource, group, subresource in (need for change in changes for need in change.rbac):
        if resource == "{workload}":
            if not deployed.workload:
                continue  # pods named by a selector alone: no workload to change (the plan refuses the fault)
            resource = f"{deployed.kind}s"
        wanted.append(Need(verb, resource, ns, group=group, subresource=subresource))
    return wanted


def find(core: Any, apps: Any, name: str, deployed: Deployed) -> Workload:
    """The workload, its container and its mounted config, checked; UsageError naming the first thing missing."""
    ns = deployed.namespace
    if deployed.selector is not None:
        return _find_pods(core, name, deployed)
    read = apps.read_namespaced_deployment if deployed.kind == "deployment" else apps.read_namespaced_stateful_set
    workload = _read(read, deployed.workload_name, ns,
                     f"{deployed.workload} is not in namespace {ns}; list them with `kubectl -n {ns} get "
                     f"{deployed.kind}s` and fix target {name}'s `deployed.workload`")
    match = workload.spec.selector.match_labels or {}
    if workload.spec.selector.match_expressions or not match:
        raise UsageError(f"target {name}: {deployed.workload} selects its pods with matchExpressions; only a "
                         "matchLabels selector is supported")
    selector = ",".join(f"{k}={v}" for k, v in sorted(match.items()))
    return _checked(core, name, deployed, workload.spec.template.spec, selector)


def _find_pods(core: Any, name: str, deployed: Deployed) -> Workload:
    """Pods named by a label selector: checked against the first that matches (they share a template)."""
    assert deployed.selector is not None
    ns = deployed.namespace
    pods = core.list_namespaced_pod(ns, label_selector=deployed.selector).items
    if not pods:
        raise UsageError(f"no pod in namespace {ns} matches {deployed.selector}; list them with `kubectl -n {ns} get "
                         f"pods --show-labels` and fix target {name}'s `deployed.selector`")
    first = sorted(pods, key=lambda pod: str(pod.metadata.name))[0]
    return _checked(core, name, deployed, first.spec, deployed.selector)


def _checked(core: Any, name: str, deployed: Deployed, pod_spec: Any, selector: str) -> Workload:
    """The container to follow (named, or the only one) and the mounted config, checked against `pod_spec`."""
    containers = [c.name for c in pod_spec.containers]
    container = deployed.container or (containers[0] if len(containers) == 1 else None)
    if container is None or container not in containers:
        wrong = f" ({deployed.container!r} is not one)" if deployed.container else ""
        raise UsageError(f"target {name}: {deployed.shown} has containers {', '.join(containers)}; name one with "
                         f"`deployed.container`{wrong}")
    if deployed.config is not None:
        _check_config(core, name, deployed, pod_spec, container)
    return Workload(deployed.namespace, selector, container)


def service_url(core: Any, name: str, deployed: Deployed) -> str:
    """`http://SERVICE.NAMESPACE.svc:PORT` of the deployed service's Service, the port that reaches its container port.

    Where load from inside the cluster goes: the Service keeps routing to ready pods while a fault
    deletes or restarts them. UsageError naming the fix when the Service or a fitting port is missing.
    """
    assert deployed.service is not None
    ns, svc = deployed.namespace, deployed.service
    found = _read(core.read_namespaced_service, svc, ns,
                  f"Service {svc} is not in namespace {ns}; fix target {name}'s `deployed.service`")
    ports = found.spec.ports or []
    fitting = [p for p in ports if p.target_port in (deployed.port, str(deployed.port))
               or (p.target_port is None and p.port == deployed.port)]
    if not fitting and len(ports) == 1 and isinstance(ports[0].target_port, str):
        fitting = ports  # a named targetPort: the only port there is
    if not fitting:
        listed = ", ".join(f"{p.port}->{p.target_port}" for p in ports) or "none"
        raise UsageError(f"target {name}: Service {ns}/{svc} has no port to container port {deployed.port} "
                         f"(ports: {listed}); fix `deployed.port` or `deployed.service`")
    return f"http://{svc}.{ns}.svc:{fitting[0].port}"


def _check_config(core: Any, name: str, deployed: Deployed, pod_spec: Any, container: str) -> None:
    """The ConfigMap (or Secret) and key exist, and the container mounts it (else writes could never reach it)."""
    config = deployed.config
    assert config is not None
    ns, kind, obj, key = deployed.namespace, config.kind, config.name, config.key
    read = core.read_namespaced_secret if kind == "Secret" else core.read_namespaced_config_map
    found = _read(read, obj, ns, f"{kind} {obj} is not in namespace {ns}; fix target {name}'s "
                                 f"`deployed.config.{kind.lower()}`")
    keys = sorted((found.data or {}).keys())
    if key not in keys:
        raise UsageError(f"target {name}: {kind} {ns}/{obj} has no key {key!r} (has: {', '.join(keys) or 'none'}); "
                         "fix `deployed.config.key`")
    volumes = {v.name for v in pod_spec.volumes or []
               if (v.config_map is not None and kind == "ConfigMap" and v.config_map.name == obj)
               or (v.secret is not None and kind == "Secret" and v.secret.secret_name == obj)}
    mounted = [m for c in pod_spec.containers if c.name == container for m in c.volume_mounts or []
               if m.name in volumes]
    if not mounted:
        raise UsageError(f"target {name}: container {container} of {deployed.shown} does not mount {kind} {obj} "
                         "as a volume, so its writes would never reach the service; mount it (not as env)")
    if any(m.sub_path for m in mounted):
        raise UsageError(f"target {name}: {kind} {obj} is mounted with subPath, which the kubelet never updates; "
                         f"mount the whole {kind} as a directory")


def _read(read: Any, name: str, namespace: str, missing: str) -> Any:
    from kubernetes.client.exceptions import ApiException  # deferred: the kubernetes client is heavy to import

    try:
        return read(name, namespace)
    except ApiException as e:
        if e.status == 404:
            raise UsageError(missing) from e
        raise PlatformError(f"read {name} in namespace {namespace}: {reason(e)}") from e


class DeployedTarget(PodTarget):
    """A deployed service (implements `RunningTarget`) reached through `tunnel`, followed by `observer`.

    `core` and `apps` are the API clients its ConfigMap (or Secret) and its workload are changed with.
    """

    def __init__(self, spec: TargetSpec, workload: Workload, tunnel: Tunnel, observer: PodObserver,
                 core: Any, apps: Any, reach: dict[str, str], agent_env: Mapping[str, str] | None = None) -> None:
        super().__init__(spec, tunnel.endpoint, None, dict(agent_env or {}), workload=workload, observer=observer)
        self.tunnel, self._apps = tunnel, apps
        self._reach = reach  # how a later run reaches the cluster to restore the ConfigMap if this one dies
        config = spec.deployed.config if spec.deployed is not None else None
        #: Where its config lives (None: the scenario names no `deployed.config`).
        self.config_key = (ConfigKey(core, workload.namespace, config.name, config.key, config.kind) if config
                           else None)
        self._recorded = False

    # -- config through its ConfigMap or Secret ----------------------------------------------------
    def read_config(self) -> str:
        return self._required_config_key().read()

    def write_config(self, text: str, mode: WriteMode) -> None:
        if mode not in API_MODES:
            raise PlatformError(unreachable(self.spec.name, mode, API_MODES))
        where = self._required_config_key()
        if not self._recorded:  # what the key held, on disk before the first change: a killed run is undone later
            state.hold(deployed_reclaim.CONFIG_KEY, deployed_reclaim.config_key_id(where),
                       f"{where.what} key {where.key} of a deployed service",
                       reach=self._reach, namespace=where.namespace, configmap=where.name, config_key=where.key,
                       object_kind=where.kind, original=where.read())
            self._recorded = True
        where.write(text)

    def restore_config(self, text: str) -> None:
        where = self._required_config_key()
        where.write(text)
        if self._recorded:
            state.release(deployed_reclaim.CONFIG_KEY, deployed_reclaim.config_key_id(where))
            self._recorded = False

    def _required_config_key(self) -> ConfigKey:
        if self.config_key is None:
            raise PlatformError(f"target {self.spec.name} has no `deployed.config` (ConfigMap or Secret, and key)")
        return self.config_key

    # -- its environment, by a rollout --------------------------------------------------------
    def roll_env(self, env: Mapping[str, str | None]) -> dict[str, str | None]:
        """Patch the container's `env` (None removes) into the workload, which rolls its pods; return the old values.

        The values before the first change are recorded in the state file first, so a killed run's
        next start or `gochaos cleanup` rolls them back; rolling back to them forgets the record.
        """
        deployed = self.spec.deployed
        assert deployed is not None
        if deployed.workload is None:  # the plan refuses this; a direct caller is told the same
            raise PlatformError(f"{self.spec.name}: pods named by a selector have no workload to roll out")
        ns, name, container = self.workload.namespace, deployed.workload_name, self.workload.container
        apps = self._apps
        is_deployment = deployed.kind == "deployment"
        read = apps.read_namespaced_deployment if is_deployment else apps.read_namespaced_stateful_set
        patch = apps.patch_namespaced_deployment if is_deployment else apps.patch_namespaced_stateful_set
        try:
            found = read(name, ns)
        except Exception as e:
            raise PlatformError(f"read {deployed.workload} in {ns}: {reason(e)}") from e
        spec = next(c for c in found.spec.template.spec.containers if c.name == container)
        current = {var.name: var for var in spec.env or []}
        previous: dict[str, str | None] = {}
        for key in env:
            var = current.get(key)
            if var is not None and var.value_from is not None:
                raise PlatformError(f"{deployed.workload} sets {key} from a reference (valueFrom); gochaos does not "
                                    "override it: set it as a plain value, or use another gc_pressure method")
            previous[key] = var.value if var is not None else None
        holding = deployed_reclaim.workload_env_id(ns, deployed.workload, container)
        recorded = next((h for h in state.held() if h.kind == deployed_reclaim.WORKLOAD_ENV and h.key == holding), None)
        if recorded is None:
            state.hold(deployed_reclaim.WORKLOAD_ENV, holding, f"env of {ns}/{deployed.workload} ({container})",
                       reach=self._reach, namespace=ns, kind=deployed.kind, name=name, container=container,
                       original=previous)
        try:
            patch(name, ns, deployed_reclaim.env_patch(container, env, str(time.time_ns())),
                  field_manager=FIELD_MANAGER)
        except Exception as e:
            raise PlatformError(f"patch {deployed.workload} in {ns}: {reason(e)}") from e
        if recorded is not None and all(recorded.data["original"].get(k) == v for k, v in env.items()):
            state.release(deployed_reclaim.WORKLOAD_ENV, holding)  # back to what it was before the run
        return previous

    def rolled_out(self) -> bool:
        deployed = self.spec.deployed
        assert deployed is not None
        return rolled_out(self._apps, deployed.workload_name, self.workload.namespace, deployed.kind)

    def rollout_failure(self, timeout_s: float, env: Mapping[str, str | None]) -> str:
        deployed = self.spec.deployed
        assert deployed is not None
        ns = self.workload.namespace
        return (f"{deployed.workload} in {ns} did not roll out with {dict(env)} within {timeout_s:g}s; see "
                f"`kubectl -n {ns} rollout status {deployed.workload}`")

    # -- its process, and its end --------------------------------------------------------------
    def send_signal(self, sig: signal.Signals) -> None:
        raise PlatformError(f"{self.spec.name}: a deployed service is reached through the API only, which cannot send "
                            f"{sig.name} to its process; reload it by its ConfigMap (reload: watch) or over HTTP")

    def close(self) -> None:
        """Stop reaching and following it; the service itself is left as it was found."""
        try:
            self.tunnel.close()
        finally:
            super().close()

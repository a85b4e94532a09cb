"""The Kubernetes platform: each target is a Deployment + Service (+ ConfigMap) in the run's namespace.

Every run gets its own namespace, labelled as gochaos's; the suite refuses to touch one without
that label. Objects are rendered from manifests/ (see `chaos.platform.kubernetes.workloads.manifests`) and
server-side applied with field manager "gochaos". A target is reached on 127.0.0.1 through the
NodePort kind publishes there; its config file lives in a directory shared by this host and the
node (a hostPath in the pod), so every file write mode of the reload injector reaches the pod as
fast as a local file; a target whose faults write through the ConfigMap API mounts its ConfigMap
instead. etcd (`start_etcd`) and the hog (`start_hog`) run in the same namespace.
`close()` deletes the namespace and waits for it, bounded. The platform routes links
(`LinkRouting`): a target whose links a network fault needs gets chaosproxy as a sidecar holding
them (`workloads.sidecar`), and a deployed service's load link goes through a chaosproxy pod in
front of its Service (`deployed.front_proxy`).

A team's service already deployed is found and reached instead (`deployed/`). Both kinds of target
are a `PodTarget` (`pod_target`), and everything after the start goes through that one interface.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from chaos.build import Binaries
from chaos.errors import PlatformError, TargetError, UsageError
from chaos.network.links import LinkPlan
from chaos.network.routing import RunLinks
from chaos.observe.readiness import http_ok, passes, wait_until
from chaos.platform.base import Endpoint, Platform
from chaos.platform.etcd import ClientTls
from chaos.platform.kubernetes.chaosproxy import PodLinks, open_pod_proxy
from chaos.platform.kubernetes.cluster import rights
from chaos.platform.kubernetes.cluster.cluster import ClusterAccess
from chaos.platform.kubernetes.cluster.kill_switch import KillSwitch
from chaos.platform.kubernetes.cluster.manifest_files import Manifest, load_kustomization, manifests_dir
from chaos.platform.kubernetes.cluster.namespace import reason
from chaos.platform.kubernetes.cluster.podwatch import PodObserver
from chaos.platform.kubernetes.cluster.run_space import RunSpace, unwritable
from chaos.platform.kubernetes.cluster.tunnel import Dial, DirectDial, PortForwardDial, Tunnel
from chaos.platform.kubernetes.deployed import deployed as deployed_service
from chaos.platform.kubernetes.deployed.deployed import DeployedTarget
from chaos.platform.kubernetes.deployed.front_proxy import FrontProxy, front_links, front_pod_address
from chaos.platform.kubernetes.deployed.resize import PodResize
from chaos.platform.kubernetes.planning import KUBERNETES
from chaos.platform.kubernetes.pod_target import PodTarget, Workload, ready_pod, ready_pod_address, ready_pods
from chaos.platform.kubernetes.workloads import manifests as m
from chaos.platform.kubernetes.workloads.etcd import KubeEtcdCluster
from chaos.platform.kubernetes.workloads.hog import KubeHog
from chaos.platform.kubernetes.workloads.load_workers import WorkerPods
from chaos.platform.kubernetes.workloads.sidecar import add_load_port, add_sidecar, plan_sidecar
from chaos.platform.kubernetes.workloads.target import KubeTarget, own_workload
from chaos.targets import ConfigDelivery, Deployed, TargetSpec, chaosagent_env, fill_config_text
from chaos.timeline import EventKind, Timeline

if TYPE_CHECKING:
    from chaos.external_etcd import ExternalEtcd
    from chaos.platform.kubernetes.deployed.external_etcd import KubeExternalEtcd

#: An image of chaosproxy the cluster can pull, for a cluster the suite cannot load one into (not kind).
CHAOSPROXY_IMAGE_ENV = "GOCHAOS_CHAOSPROXY_IMAGE"
ROLLOUT_SLACK_S = 60.0  # scheduling, image unpacking and probes on top of the target's own readiness bound


class KubernetesPlatform(Platform[PodTarget]):
    """Runs targets on a cluster (kind for now) in a namespace of their own.

    Beyond the core contract it has the `ResourceLimits` (in-place pod resize), `HogPlacement`
    (a pod on the target's node) and `PodDeleting` abilities. Its targets are `PodTarget`s: the
    run's own (`KubeTarget`) or a deployed service (`DeployedTarget`), never told apart here.
    """

    kind = KUBERNETES

    def __init__(self, *, timeline: Timeline, cluster: ClusterAccess, binaries: Binaries,
                 run_dir: Path | None = None, keep: bool = False) -> None:
        super().__init__(timeline=timeline, run_dir=run_dir, keep=keep)
        self.space = RunSpace(cluster=cluster, binaries=binaries, timeline=timeline, run_dir=self.run_dir)
        self.cluster, self.binaries = cluster, binaries
        self.run_id, self.namespace = self.space.run_id, self.space.namespace
        self._kill_switches: dict[str, KillSwitch] = {}  # by namespace of a deployed service
        self._links: RunLinks | None = None
        self._load_links: dict[str, Endpoint] = {}  # target -> where this host reaches its load link
        self._fronts: list[FrontProxy] = []  # chaosproxy pods in front of deployed services' Services
        self._front_tunnels: list[Tunnel] = []

    # -- Platform ----------------------------------------------------------------------------
    def start_target(self, spec: TargetSpec, *, extra_env: Mapping[str, str] | None = None,
                     etcd_endpoints: str = "", etcd_tls: ClientTls | None = None) -> PodTarget:
        """Apply its ConfigMap, Deployment and Service, wait for the rollout and for it to answer (a deployed
        service: find it, check it and reach it)."""
        self._claim(spec.name)
        if spec.deployed is not None:
            return self._attach(spec)
        node = self.cluster.node
        if node is None:
            raise PlatformError("targets on a cluster other than a local kind cluster need port-forward and the "
                                "ConfigMap reload path, which are not supported yet; use a kind cluster")
        if etcd_tls is not None and spec.etcd_tls_flags is not None:
            raise PlatformError(f"target {spec.name}: a pod the suite deploys cannot reach an etcd over TLS yet (its "
                                "TLS files are not mounted); run it with --platform local, or use a deployed service")
        if spec.ports:
            raise PlatformError(f"target {spec.name}: named extra ports ({', '.join(spec.ports)}) are supported on the "
                                "local platform only for now; run it with --platform local")
        self.space.ns.create()
        docs = load_kustomization(manifests_dir() / "targets" / (spec.binary or spec.name))
        port = m.container_port(docs)
        sidecar = self._sidecar(spec, etcd_endpoints, port)
        if sidecar is not None:  # its upstreams and etcd endpoints are its links' addresses in the pod
            spec, etcd_endpoints = sidecar.rewritten(spec), sidecar.etcd_endpoints or etcd_endpoints
        values = m.pod_placeholders(spec, str(port), etcd_endpoints)
        if spec.config is not None:  # the pod's addresses in its config text, as in its command
            spec = spec.model_copy(update={"config": spec.config.model_copy(
                update={"initial": fill_config_text(spec, values)})})
        config_path, host_dir = self._write_config(spec)
        load_link = sidecar is not None and sidecar.load is not None
        [(node_port, endpoint), *load_port] = self.space.pick_node_ports(2 if load_link else 1)
        placement = m.TargetPlacement(namespace=self.namespace, run_id=self.run_id,
                                      image=self.space.image(spec.binary or spec.name, race=spec.race),
                                      node_port=node_port, env=dict(extra_env or {}), etcd_endpoints=etcd_endpoints,
                                      config_host_dir=host_dir)
        workload = own_workload(self.namespace, spec.name)
        observer = self._observer(spec.name, workload)
        target = KubeTarget(spec, endpoint, config_path, extra_env or {}, workload=workload, observer=observer,
                            space=self.space, placeholders=values)
        self._targets[spec.name] = target
        observer.start()
        rendered = m.render_target(docs, spec, placement)
        if sidecar is not None:
            self._with_sidecar(rendered, sidecar, load_port[0][0] if load_port else None)
        self.space.ns.apply(rendered)
        self.timeline.record(EventKind.TARGET_START, spec.name, pid=None, port=endpoint.port, namespace=self.namespace)
        self._await_rollout(target, {})
        if sidecar is not None:
            self._adopt(sidecar, workload)
            if load_port:
                self._load_links[spec.name] = load_port[0][1]
        return target

    def stop_target(self, name: str) -> None:
        """Delete its objects (the run's own), or leave it running as it was found (a deployed service)."""
        target = self._targets.pop(name, None)
        if target is None:
            return
        target.remove()
        self.timeline.record(EventKind.TARGET_STOP, name)

    def restart_target(self, name: str, *,
                       env: Mapping[str, str | None] | None = None) -> dict[str, str | None]:
        """Roll its workload with a changed environment (None removes a variable), await the rollout and its
        answer; return the old values."""
        target = self.target(name)
        previous = target.roll_env(env or {})
        self.timeline.record(EventKind.TARGET_START, name, pid=None, requested=True, env=dict(env or {}))
        self._await_rollout(target, env or {})
        return previous

    def resource_limit(self, name: str, *, memory_bytes: int | None = None,
                       cpu_millicores: int | None = None) -> PodResize:
        """A CPU/memory squeeze of target `name`'s pod in place (apply, throttled_periods, remove); its own or a
        deployed service's."""
        target = self.target(name)
        return PodResize(self.space.core, target.observer, name, container=target.workload.container,
                         node=self.cluster.node, reach=self.cluster.how_to_reach(), memory_bytes=memory_bytes,
                         cpu_millicores=cpu_millicores)

    def _close_targets(self) -> None:
        """Stop observing; the namespace's deletion (`_release`) takes their objects with it."""
        for target in self._targets.values():
            target.close()
        self._targets.clear()

    def _release(self) -> None:
        """Everything goes, whatever one of them raises: the namespace last, after the links, the front proxies and
        the kill switches."""
        links, self._links = self._links, None
        with ExitStack() as stack:
            stack.callback(self.space.release)
            for switch in self._kill_switches.values():
                stack.callback(switch.disarm)
            for front in self._fronts:
                stack.callback(front.stop)
            for tunnel in self._front_tunnels:
                stack.callback(tunnel.close)
            if links is not None:
                stack.callback(links.close)

    # -- LinkRouting: a chaosproxy sidecar in each pod with links -------------------------------
    def route_links(self, plan: LinkPlan) -> None:
        """Give each target the plan routes links of a chaosproxy sidecar holding them (made as its pod starts)."""
        if self._links is not None:
            raise PlatformError("this platform's links are routed already: route_links is called once per run")
        self._links = RunLinks(plan, timeline=self.timeline)

    def routed_load_url(self, target: str, port: str | None) -> str:
        """The target's URL with its Service's load-link port (a node port on 127.0.0.1) as host and port."""
        reached = self._load_links.get(target)
        if reached is None or port is not None:
            raise PlatformError(f"no load link to {target} was planned; the plan routes the links its faults name")
        parts = urlsplit(self.target(target).endpoint_for(port).url)
        return parts._replace(netloc=f"{reached.host}:{reached.port}").geturl()

    @property
    def network_links(self) -> RunLinks | None:
        return self._links

    def _front(self, spec: TargetSpec, deployed: Deployed) -> None:
        """A chaosproxy pod in front of the deployed service's Service, holding its load link (the load reaches it
        through a tunnel), adopted as the run's."""
        assert self._links is not None
        image = os.environ.get(CHAOSPROXY_IMAGE_ENV) or (self.space.image("chaosproxy") if self.cluster.node else "")
        if not image:
            raise PlatformError(f"target {spec.name}: its load link needs a chaosproxy image in the cluster: on kind "
                                "the suite loads it; elsewhere push go_targets' chaosproxy image and name it in "
                                f"{CHAOSPROXY_IMAGE_ENV}")
        links = front_links(spec.name, deployed_service.service_url(self.space.core, spec.name, deployed))
        front = FrontProxy(self.space.core, namespace=deployed.namespace, run_id=self.run_id, links=links,
                           image=image, reach=self.cluster.how_to_reach()).start()
        self._fronts.append(front)
        forward = self._forwards(deployed.namespace, lambda: front.name)  # the one pod every connection goes to
        proxy = open_pod_proxy(links, forward, f"kubectl -n {deployed.namespace} logs {front.name}")
        self._links.adopt(proxy, links.links)
        load_port = links.load_port
        assert load_port is not None
        load = (Tunnel(DirectDial(load_port, lambda: front_pod_address(self.space.core, deployed.namespace,
                                                                        front.name)), front.name)
                if self.cluster.in_cluster else forward(load_port, front.name))
        self._front_tunnels.append(load)
        self._load_links[spec.name] = load.endpoint

    def _forwards(self, namespace: str, pick_pod: Callable[[], str | None]) -> Callable[[int, str], Tunnel]:
        """What opens a port-forward tunnel (to a port, named) to the pod `pick_pod` says at each connection."""

        def forward(port: int, name: str) -> Tunnel:
            return Tunnel(PortForwardDial(self.cluster.api.configuration, namespace, port, pick_pod), name)

        return forward

    def _sidecar(self, spec: TargetSpec, etcd_endpoints: str, port: int) -> PodLinks | None:
        """The chaosproxy sidecar target `spec` gets (None: no link of it is planned)."""
        if self._links is None:
            return None
        urls = [url for url in etcd_endpoints.split(",") if url]
        return plan_sidecar(self._links.plan, spec, etcd_endpoints=etcd_endpoints,
                            members=m.etcd_member_names(len(urls)), container_port=port)

    def _with_sidecar(self, rendered: list[Manifest], sidecar: PodLinks, load_node_port: int | None) -> None:
        """Add the sidecar to the rendered Deployment, and the load link's port to its Service."""
        image = self.space.image("chaosproxy")
        for doc in rendered:
            if doc["kind"] == "Deployment":
                add_sidecar(doc, sidecar, image)
            elif doc["kind"] == "Service" and load_node_port is not None:
                add_load_port(doc, sidecar, load_node_port)

    def _adopt(self, links: PodLinks, workload: Workload) -> None:
        """Reach the running sidecar's control API (and the links the suite times requests through) by port-forward,
        and take its links as the run's."""
        assert self._links is not None
        forward = self._forwards(workload.namespace, lambda: ready_pod(self.space.core, workload))
        proxy = open_pod_proxy(links, forward, f"kubectl -n {workload.namespace} logs -l {workload.selector} "
                                               "-c chaosproxy")
        self._links.adopt(proxy, [proxy.probed(link) for link in links.links])

    # -- internals ---------------------------------------------------------------------------
    def delete_pods(self, name: str, *, count: int, grace_s: int) -> list[str]:
        """Delete up to `count` ready pods of target `name` (its Deployment or StatefulSet replaces them)."""
        workload = self.target(name).workload
        victims = ready_pods(self.space.core, workload)[:count]
        for pod in victims:
            try:
                self.space.core.delete_namespaced_pod(pod, workload.namespace, grace_period_seconds=grace_s)
            except Exception as e:
                raise PlatformError(f"delete pod {workload.namespace}/{pod} of {name}: {reason(e)}") from e
        return victims

    def ready_pods(self, name: str) -> list[str]:
        return ready_pods(self.space.core, self.target(name).workload)

    def _observer(self, name: str, workload: Workload) -> PodObserver:
        """A watch on the pods of target `name` (not started)."""
        return PodObserver(self.space.core, workload.namespace, name, self.timeline, selector=workload.selector,
                           container=workload.container)

    def _attach(self, spec: TargetSpec) -> DeployedTarget:
        """Find and check a deployed service, then reach it (port-forward, or the pod network in-cluster) and follow
        its pods."""
        deployed = spec.deployed
        assert deployed is not None
        agent_env = _agent_token(spec.name, deployed.agent_token_env)
        rights.require_opt_in(self.space.core, deployed.namespace)
        rights.require(self.cluster.api, deployed_service.needs(deployed, spec.workload_changes,
                                                                  port_forward=not self.cluster.in_cluster))
        workload = deployed_service.find(self.space.core, self.space.apps, spec.name, deployed)
        switch = self._kill_switches.get(workload.namespace)
        if switch is None:
            switch = self._kill_switches[workload.namespace] = KillSwitch(self.cluster.api, workload.namespace,
                                                                          self.run_id).arm()
        observer = self._observer(spec.name, workload)
        dial: Dial = (DirectDial(deployed.port, lambda: ready_pod_address(self.space.core, workload))
                      if self.cluster.in_cluster else
                      PortForwardDial(self.cluster.api.configuration, workload.namespace, deployed.port,
                                      lambda: ready_pod(self.space.core, workload)))
        tunnel = Tunnel(dial, f"{workload.namespace}-{deployed.port}")
        if self._links is not None and self._links.plan.load(spec.name, None):
            self._front(spec, deployed)
        target = DeployedTarget(spec, workload, tunnel, observer, self.space.core, self.space.apps,
                                self.cluster.how_to_reach(), agent_env)
        self._targets[spec.name] = target
        observer.start()
        self.timeline.record(EventKind.TARGET_START, spec.name, pid=None, port=tunnel.endpoint.port,
                             namespace=workload.namespace, deployed=deployed.shown, via=tunnel.how,
                             kill_switch=switch.how_to_pull)
        if not wait_until(lambda: self._answers(target), timeout_s=spec.readiness.timeout_s, interval_s=0.2):
            why = tunnel.failures[-1] if tunnel.failures else "no stream error"
            raise TargetError(f"deployed service {spec.name} ({workload.namespace}/{deployed.shown}) did not answer "
                              f"GET {spec.readiness.http_path or '/'} through {tunnel.how} within "
                              f"{spec.readiness.timeout_s:g}s: {why}")
        self.timeline.record(EventKind.TARGET_READY, spec.name, pid=None)
        return target

    def load_url(self, name: str) -> str:
        """Where load from inside the cluster reaches target `name`: its Service (deployed services only)."""
        target = self.target(name)
        deployed = target.spec.deployed
        if deployed is None or deployed.service is None:
            raise UsageError(f"load from worker pods needs target {name}'s `deployed.service`")
        return deployed_service.service_url(self.space.core, name, deployed)

    def start_load_workers(self, count: int, args: Callable[[str], list[str]]) -> WorkerPods:
        """`count` Locust worker pods of this runner's image beside it (the run must be inside the cluster)."""
        if not self.cluster.in_cluster:
            raise UsageError("load.worker_pods needs the run inside the cluster (the CronJob of manifests/runner, or "
                             "`kubectl run` of the runner image): worker pods must reach the run's Locust master")
        return WorkerPods(self.cluster.api, self.run_id, self.timeline, count, args)

    def start_hog(self, near: str, *, mb: int, cpu: bool, duration_s: float) -> KubeHog:
        """A hog pod on target `near`'s node (BestEffort: it competes for the node's memory and CPU)."""
        self.target(near)
        return KubeHog(self.space, near, mb=mb, cpu=cpu, duration_s=duration_s)

    def start_etcd(self, *, size: int = 3, heartbeat_ms: int = 50, election_ms: int = 500) -> KubeEtcdCluster:
        """A StatefulSet of `size` etcd members in the run's namespace, started and with a leader."""
        self.space.ns.create()
        return KubeEtcdCluster(self.space, size=size, heartbeat_ms=heartbeat_ms, election_ms=election_ms).started()

    def open_external_etcd(self, external: ExternalEtcd) -> KubeExternalEtcd:
        """The team's etcd: the control-plane etcd refused unless named, TLS from files or a Secret, its pods
        found when named (`delete`); checked before any fault, nothing started."""
        # deferred: only a run on the team's etcd needs these
        from chaos.platform.external_etcd import tls_files
        from chaos.platform.kubernetes.deployed.external_etcd import KubeExternalEtcd, refuse_control_plane, secret_tls

        core = self.space.core
        refuse_control_plane(core, external)
        secret = external.tls.secret if external.tls is not None else None
        tls = secret_tls(core, secret) if secret is not None else tls_files(external.tls)
        cluster = KubeExternalEtcd(external, core=core, timeline=self.timeline, tls=tls,
                                   tls_dir=tls.ca_file.parent if secret is not None and tls is not None else None)
        return cluster.started()

    def _write_config(self, spec: TargetSpec) -> tuple[Path | None, str | None]:
        """Write the initial config into the directory the node shares with this host."""
        if spec.config is None or spec.config.delivery is ConfigDelivery.CONFIGMAP:
            return None, None  # a ConfigMap's content is rendered with the target's manifests
        folder, node_folder = self.space.node_dir(spec.name)
        try:
            path = folder / spec.config.file_name
            path.write_text(spec.config.initial, encoding="utf-8")
            path.chmod(0o644)
        except OSError as e:
            raise unwritable(f"cannot write {spec.name}'s config into", folder, e) from e
        return path, node_folder

    def _await_rollout(self, target: PodTarget, env: Mapping[str, str | None]) -> None:
        """Until its workload has rolled out and it answers; TargetError saying what its pods say when not."""
        timeout = target.spec.readiness.timeout_s + ROLLOUT_SLACK_S

        def ready() -> bool:
            return target.rolled_out() and self._answers(target)

        if not wait_until(ready, timeout_s=timeout, interval_s=target.rollout_poll_s):
            raise TargetError(target.rollout_failure(timeout, env))
        self.timeline.record(EventKind.TARGET_READY, target.spec.name, pid=None)

    @staticmethod
    def _answers(target: PodTarget) -> bool:
        """It passes its readiness check (with none declared: it answers HTTP on its port)."""
        answer = passes(target.spec.readiness, target.endpoint)
        return answer if answer is not None else http_ok(target.endpoint.url + "/")


def _agent_token(name: str, variable: str | None) -> dict[str, str]:
    """The chaosagent token of a deployed service, from the run's environment (never from the cluster's Secrets)."""
    if variable is None:
        return {}
    token = os.environ.get(variable)
    if not token:
        raise UsageError(f"target {name}: `deployed.agent_token_env` names {variable}, which this run's environment "
                         "does not set: export it with the token the service's chaosagent expects (in the "
                         "cluster: an env entry from the same Secret in the runner's CronJob)")
    return chaosagent_env(token)

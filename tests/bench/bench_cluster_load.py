"""How much load reaches a deployed service on kind: through port-forward from outside, and from inside the cluster.

    PYTHONPATH=tests/e2e python tests/bench/bench_cluster_load.py [--users 8,32] [--step-s 8] [--workers 0,1,2]
        [--worker-pods 1,2,3]

Brings up an offline kind cluster (tests/e2e/kind_offline), deploys configd there as a team would
(its own Deployment and ConfigMap, tests/e2e/team_service.py), then measures the request rate the
suite's Locust load gets on `GET /`:

1. from this host through port-forward (`chaos.platform.kubernetes.cluster.tunnel`, one API-server stream
   per connection: how a run outside the cluster reaches a deployed service), at each user count;
2. from a runner pod inside the cluster (the gochaos runner image, `gochaos run` of a load-only
   scenario on the pod's ServiceAccount, reaching the pod over the pod network), at the best user
   count of step 1 and with 0..N extra Locust worker processes in that pod (`load.options.workers`);
3. from N worker pods beside that runner pod (`load.worker_pods`, Locust's distributed mode), which
   load the team's Service; every request result still streams back to the run's timeline.

Every figure is counted by the suite itself (the Timeline's window outside; report.json's baseline
load inside). Writes JSON (machine, command, steps, ratios) to tests/bench/results/cluster_load.json.
The cluster is deleted at the end, also on failure or Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO), str(REPO / "tests" / "e2e"), str(Path(__file__).resolve().parent)]

from kind_offline import acquire, ensure_kind, ensure_node_image, ensure_runner_image, release  # noqa: E402
from kind_offline import running_cluster as offline_cluster  # noqa: E402
from kind_offline.local_images import kind_load  # noqa: E402
from kind_offline.progress import print_progress  # noqa: E402
from machine import command_line, machine_info, write_report  # noqa: E402
from team_service import deploy_team  # noqa: E402

from chaos.build import Binaries  # noqa: E402
from chaos.load import LoadRun, LoadSpec  # noqa: E402
from chaos.observe.readiness import wait_until  # noqa: E402
from chaos.platform.kubernetes.cluster.cluster import ClusterAccess, KubernetesOptions, connect  # noqa: E402
from chaos.platform.kubernetes.cluster.images import ensure_image, load_into_kind  # noqa: E402
from chaos.platform.kubernetes.cluster.manifest_files import load_kustomization, manifests_dir  # noqa: E402
from chaos.platform.kubernetes.cluster.rights import OPT_IN_LABEL, OPT_IN_VALUE  # noqa: E402
from chaos.platform.kubernetes.cluster.tunnel import PortForwardDial, Tunnel  # noqa: E402
from chaos.platform.kubernetes.pod_target import Workload, ready_pod  # noqa: E402
from chaos.timeline import Timeline  # noqa: E402

RUNNER_NAMESPACE = "gochaos"
MARK = "=== report.json ==="


def _configd_load(host: str, users: int, step_s: float) -> dict[str, Any]:
    return {"host": host, "user": "configd", "users": users, "spawn_rate": 1000, "duration_s": step_s,
            "request_timeout_s": 10, "configd": {"routes": ["/"], "cache_get_weight": 0, "cache_put_weight": 0}}


def port_forward_step(access: ClusterAccess, team: str, users: int, step_s: float) -> dict[str, Any]:
    """Locust on this host, through a port-forward tunnel to the team's pod."""
    from kubernetes import client as client_module

    client: Any = client_module
    core = client.CoreV1Api(access.api)
    workload = Workload(team, "app=web", "server")
    timeline = Timeline()
    dial = PortForwardDial(access.api.configuration, team, 8080, lambda: ready_pod(core, workload))
    with Tunnel(dial, "bench") as tunnel:
        with LoadRun(LoadSpec.model_validate(_configd_load(tunnel.endpoint.url, users, step_s)), timeline) as run:
            totals = run.wait()
        failures = len(tunnel.failures)
    records = timeline.requests()
    window = timeline.window(records[0].t_ns + 1_000_000_000, records[-1].t_ns - 500_000_000)
    return {"users": users, "rps": round(window.rps, 1), "p99_ms": round(window.p99_ms or 0, 2),
            "requests": totals.num_requests if totals else None, "failures": totals.num_failures if totals else None,
            "tunnel_failures": failures}


def in_cluster_step(access: ClusterAccess, team: str, image: str, users: int, workers: int,
                    step_s: float, worker_pods: int = 0) -> dict[str, Any]:
    """`gochaos run` of a load-only scenario in a runner pod; its baseline load, from its report."""
    from kubernetes import client as client_module

    client: Any = client_module
    core = client.CoreV1Api(access.api)
    name = f"bench-{users}u-{workers}w-{worker_pods}p-{secrets.token_hex(2)}"
    scenario = {
        "name": "bench-in-cluster",
        "targets": [{"name": "web", "deployed": {"namespace": team, "workload": "deployment/web", "port": 8080,
                                                 "service": "web"},
                     "ready_path": "/-/readyz"}],
        "load": {"user": "configd", "users": users, "spawn_rate": 1000, "worker_pods": worker_pods,
                 "options": {"workers": workers, "configd": {"routes": ["/"], "cache_get_weight": 0,
                                                             "cache_put_weight": 0}}},
        "windows": {"baseline_s": step_s, "observe_s": 0}, "faults": [], "oracles": []}
    core.create_namespaced_config_map(RUNNER_NAMESPACE, {"metadata": {"name": name},
                                                         "data": {"s.chaos.yaml": yaml.safe_dump(scenario)}})
    script = (f"gochaos run /scenario/s.chaos.yaml --platform kubernetes --report-dir /tmp/r; code=$?; "
              f"echo '{MARK}'; cat /tmp/r/report.json; exit $code")
    core.create_namespaced_pod(RUNNER_NAMESPACE, {"metadata": {"name": name}, "spec": {
        "serviceAccountName": "gochaos", "restartPolicy": "Never",
        "containers": [{"name": "gochaos", "image": image, "imagePullPolicy": "Never",
                        "command": ["/bin/sh", "-c", script],
                        "volumeMounts": [{"name": "scenario", "mountPath": "/scenario"}]}],
        "volumes": [{"name": "scenario", "configMap": {"name": name}}]}})
    try:
        def done() -> bool:
            return str(core.read_namespaced_pod(name, RUNNER_NAMESPACE).status.phase) in ("Succeeded", "Failed")

        if not wait_until(done, timeout_s=step_s + 180, interval_s=1):
            raise SystemExit(f"runner pod {name} did not finish")
        log = str(core.read_namespaced_pod_log(name, RUNNER_NAMESPACE))
        if MARK not in log:
            raise SystemExit(f"runner pod {name} wrote no report:\n{log[-3000:]}")
        report = json.loads(log.split(MARK, 1)[1])
    finally:
        core.delete_namespaced_pod(name, RUNNER_NAMESPACE, grace_period_seconds=0)
        core.delete_namespaced_config_map(name, RUNNER_NAMESPACE)
    baseline = report["load"]["baseline"]
    start = next(e for e in report["events"] if e["kind"] == "target.start")
    return {"users": users, "extra_worker_processes": workers, "worker_pods": worker_pods,
            "verdict": report["verdict"],
            "via": start["details"].get("via"), "requests": baseline["requests"], "errors": baseline["errors"],
            "rps": round(baseline["requests"] / step_s, 1), "p99_ms": baseline.get("p99_ms")}


@contextmanager
def _cluster(work: Path) -> Iterator[tuple[Any, Any, str]]:
    engine = acquire(progress=print_progress)
    try:
        kind = ensure_kind(progress=print_progress)
        node_image = ensure_node_image(engine, progress=print_progress)
        with offline_cluster(engine=engine, kind=kind, image=node_image, workdir=work,
                             progress=print_progress) as cluster:
            yield engine, cluster, str(kind)
    finally:
        release(engine, progress=print_progress)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "tests/bench/results/cluster_load.json")
    parser.add_argument("--users", default="8,32", help="Locust user counts through port-forward")
    parser.add_argument("--workers", default="0,1,2", help="extra Locust worker processes in the runner pod")
    parser.add_argument("--worker-pods", default="1,2,3", help="Locust worker pods beside the runner pod")
    parser.add_argument("--step-s", type=float, default=8.0)
    args = parser.parse_args()
    import os

    from kubernetes import client as client_module

    client: Any = client_module
    work = Path(f"/tmp/gochaos-bench-cluster-{os.getpid()}")
    with _cluster(work) as (engine, cluster, kind):
        os.environ["GOCHAOS_KIND"], os.environ["DOCKER_HOST"] = kind, engine.docker_host
        access = connect(KubernetesOptions(kind_cluster=cluster.name))
        core = client.CoreV1Api(access.api)
        team = "team-bench"
        assert access.node is not None
        image = ensure_image(access.node.docker, Binaries(), "configd")
        load_into_kind(image, cluster.name)
        core.create_namespace({"metadata": {"name": team, "labels": {OPT_IN_LABEL: OPT_IN_VALUE}}})
        deploy_team(access.api, team, image)
        runner = ensure_runner_image(engine, progress=print_progress)
        kind_load(engine, kind=Path(kind), cluster=cluster.name, tag=runner)
        _install_runner_identity(access, team)

        outside = []
        for users in (int(u) for u in args.users.split(",")):
            step = port_forward_step(access, team, users, args.step_s)
            print(f"port-forward users={users:<4} rps={step['rps']:>8}  p99={step['p99_ms']} ms", flush=True)
            outside.append(step)
        users = max(int(u) for u in args.users.split(","))
        inside = []
        for workers in (int(w) for w in args.workers.split(",")):
            step = in_cluster_step(access, team, runner, users, workers, args.step_s)
            print(f"in-cluster   users={users:<4} extra workers={workers} rps={step['rps']:>8}  "
                  f"p99={step['p99_ms']} ms  via {step['via']}", flush=True)
            inside.append(step)
        pods = []
        for count in (int(n) for n in args.worker_pods.split(",") if n):
            step = in_cluster_step(access, team, runner, users, 0, args.step_s, worker_pods=count)
            print(f"worker pods  users={users:<4} pods={count} rps={step['rps']:>8}  p99={step['p99_ms']} ms",
                  flush=True)
            pods.append(step)
        access.close()

    best_outside = max(s["rps"] for s in outside)
    result = {
        "benchmark": "cluster_load",
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": command_line(),
        "machine": machine_info(),
        "endpoint": "GET / on configd, one pod, in a single-node kind cluster on this machine",
        "step_s": args.step_s,
        "port_forward": {"how": "Locust on the host, one port-forward stream per connection", "steps": outside},
        "in_cluster": {"how": "Locust in a runner pod (gochaos run), over the pod network; a master plus N "
                              "worker processes in that pod when N > 0", "steps": inside},
        "worker_pods": {"how": "the runner pod as Locust master, N worker pods of its image loading the Service",
                        "steps": pods,
                        "ratio_to_one_process": {str(s["worker_pods"]): round(s["rps"] / inside[0]["rps"], 3)
                                                 for s in pods}},
        "ratio_in_cluster_to_port_forward": round(max(s["rps"] for s in inside) / best_outside, 2),
        "ratio_workers_to_one_process": {str(s["extra_worker_processes"]): round(s["rps"] / inside[0]["rps"], 3)
                                         for s in inside},
        "notes": "The node, configd, the API server and every load process share this machine's cores: "
                 "compare within one run, not with other machines.",
    }
    write_report(args.out, result)
    print(f"written to {args.out}")
    return 0


def _install_runner_identity(access: ClusterAccess, team: str) -> None:
    """Namespace gochaos, its ServiceAccount and namespace-reading ClusterRole, and the Role in `team`."""
    from kubernetes import client as client_module
    from kubernetes import utils as utils_module

    client: Any = client_module
    utils: Any = utils_module  # untyped package
    runner = {d["kind"]: d for d in load_kustomization(manifests_dir() / "runner")}
    client.CoreV1Api(access.api).create_namespace(runner["Namespace"])
    client.CoreV1Api(access.api).create_namespaced_service_account(RUNNER_NAMESPACE, runner["ServiceAccount"])
    for kind in ("ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"):
        utils.create_from_dict(access.api, runner[kind], namespace=RUNNER_NAMESPACE)
    for file in ("role.yaml", "rolebinding.yaml"):
        doc = yaml.safe_load((manifests_dir() / "rbac" / file).read_text(encoding="utf-8"))
        utils.create_from_dict(access.api, doc, namespace=team)


if __name__ == "__main__":
    sys.exit(main())

"""Rendering the run's Kubernetes objects from manifests/, and the context guard (no cluster needed).

These check the rendering logic only; that a target really runs on a cluster is proven by
tests/e2e/test_kubernetes_platform.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from chaos.errors import TargetError, UsageError
from chaos.platform.kubernetes.cluster import manifest_files as mf
from chaos.platform.kubernetes.cluster.cluster import check_context, context_server
from chaos.platform.kubernetes.cluster.podwatch import parse_timestamped
from chaos.platform.kubernetes.workloads import manifests as m
from chaos.targets import TargetSpec, bundled


def _placement(**overrides: object) -> m.TargetPlacement:
    values: dict[str, object] = {"namespace": "gochaos-ab12", "run_id": "ab12", "image": "gochaos/configd:123",
                                 "node_port": 30083, "env": {"CHAOSAGENT_TOKEN": "t"},
                                 "config_host_dir": "/var/lib/gochaos/gochaos-ab12/web"}
    values.update(overrides)
    return m.TargetPlacement(**values)  # type: ignore[arg-type]


def _by_kind(docs: list[mf.Manifest]) -> dict[str, mf.Manifest]:
    return {doc["kind"]: doc for doc in docs}


def test_configd_renders_from_the_same_files_kubectl_applies() -> None:
    spec = bundled("configd", name="web", reload_strategy="unsafe")
    docs = mf.load_kustomization(mf.manifests_dir() / "targets" / "configd")
    rendered = _by_kind(m.render_target(docs, spec, _placement()))

    deployment, service, config_map = rendered["Deployment"], rendered["Service"], rendered["ConfigMap"]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "gochaos/configd:123"
    assert container["imagePullPolicy"] == "Never"
    assert container["args"] == ["--listen=0.0.0.0:8080", "--config=/config/config.yaml", "--watch-config",
                                 "--reload-strategy=unsafe"]
    assert {"name": "CHAOSAGENT_TOKEN", "value": "t"} in container["env"]
    assert {"name": "GOTRACEBACK", "value": "all"} in container["env"]
    assert deployment["spec"]["template"]["spec"]["volumes"] == [
        {"name": "config", "hostPath": {"path": "/var/lib/gochaos/gochaos-ab12/web", "type": "Directory"}}]
    for doc in rendered.values():
        assert doc["metadata"]["namespace"] == "gochaos-ab12"
        assert doc["metadata"]["labels"][mf.MANAGED_BY] == "gochaos"
        assert doc["metadata"]["labels"][mf.RUN_LABEL] == "ab12"
        assert doc["metadata"]["name"].startswith("web")
    assert deployment["spec"]["selector"] == {"matchLabels": {m.TARGET_LABEL: "web"}}
    assert service["spec"]["selector"] == {m.TARGET_LABEL: "web"}
    assert service["spec"]["ports"][0]["nodePort"] == 30083
    assert spec.config is not None
    assert yaml.safe_load(config_map["data"]["config.yaml"]) == yaml.safe_load(spec.config.initial)


def test_without_a_shared_directory_the_config_comes_from_the_configmap() -> None:
    docs = mf.load_kustomization(mf.manifests_dir() / "targets" / "configd")
    rendered = _by_kind(m.render_target(docs, bundled("configd"), _placement(config_host_dir=None)))
    volumes = rendered["Deployment"]["spec"]["template"]["spec"]["volumes"]
    assert volumes == [{"name": "config", "configMap": {"name": "configd-config"}}]


def test_templates_are_left_untouched_and_none_removes_a_variable() -> None:
    docs = mf.load_kustomization(mf.manifests_dir() / "targets" / "allocd")
    before = yaml.safe_dump(docs)
    rendered = _by_kind(m.render_target(docs, bundled("allocd"), _placement(env={"GODEBUG": None})))
    assert yaml.safe_dump(docs) == before
    container = rendered["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert "GODEBUG" not in {e["name"] for e in container["env"]}
    assert "ConfigMap" not in rendered


def test_etcd_renders_the_scenarios_size_and_timing_and_a_nodeport_per_member() -> None:
    placement = m.EtcdPlacement(namespace="gochaos-ab12", run_id="ab12", image="gochaos/etcd:9", size=5,
                                heartbeat_ms=20, election_ms=200, node_ports=[30081, 30082, 30083, 30084, 30085],
                                data_host_dir="/var/lib/gochaos/gochaos-ab12/etcd")
    docs = m.render_etcd(mf.load_kustomization(mf.manifests_dir() / "etcd"), placement)
    statefulset = next(d for d in docs if d["kind"] == "StatefulSet")
    pod = statefulset["spec"]["template"]["spec"]
    args = pod["containers"][0]["args"]
    assert statefulset["spec"]["replicas"] == 5 and pod["containers"][0]["image"] == "gochaos/etcd:9"
    assert "--heartbeat-interval=20" in args and "--election-timeout=200" in args
    assert "--initial-cluster-token=gochaos-ab12" in args
    peers = next(a for a in args if a.startswith("--initial-cluster="))
    assert peers.count("=http://") == 5 and "etcd-4=http://etcd-4.etcd:2380" in peers
    assert sum(a.startswith("--election-timeout=") for a in args) == 1, "a template flag was left beside its override"
    assert {"name": "data", "hostPath": {"path": placement.data_host_dir, "type": "Directory"}} in pod["volumes"]
    assert pod["containers"][0]["volumeMounts"][0]["subPathExpr"] == "$(POD_NAME)"
    clients = [d for d in docs if d["kind"] == "Service" and d["spec"].get("type") == "NodePort"]
    assert [(c["spec"]["selector"][m.POD_NAME_LABEL], c["spec"]["ports"][0]["nodePort"]) for c in clients] == [
        (f"etcd-{i}", 30081 + i) for i in range(5)]
    assert all(d["metadata"]["namespace"] == "gochaos-ab12" and d["metadata"]["labels"][mf.RUN_LABEL] == "ab12"
               for d in docs)
    assert m.etcd_client_urls(2) == "http://etcd-0.etcd:2379,http://etcd-1.etcd:2379"


def test_the_hog_pod_goes_on_the_targets_node_with_its_bounds() -> None:
    docs = m.render_hog(mf.load_kustomization(mf.manifests_dir() / "hog"), name="hog-web", namespace="gochaos-ab12",
                        run_id="ab12", image="gochaos/hog:7", node="n1", args=["--mb=64", "--duration=3.000s"])
    [pod] = docs
    assert pod["metadata"]["name"] == "hog-web" and pod["spec"]["nodeName"] == "n1"
    assert pod["spec"]["restartPolicy"] == "Never"
    assert pod["spec"]["containers"][0]["args"] == ["--mb=64", "--duration=3.000s"]
    assert "resources" not in pod["spec"]["containers"][0], "the hog must be BestEffort to compete for the node"


def test_base_names_and_labels_the_namespace_and_binds_rbac_inside_it() -> None:
    docs = mf.render_base(mf.load_kustomization(mf.manifests_dir() / "base"), namespace="gochaos-ab12", run_id="ab12")
    namespace = next(d for d in docs if d["kind"] == "Namespace")
    assert namespace["metadata"]["name"] == "gochaos-ab12"
    assert namespace["metadata"]["labels"] == {mf.MANAGED_BY: "gochaos", mf.RUN_LABEL: "ab12"}
    binding = next(d for d in docs if d["kind"] == "RoleBinding")
    assert binding["subjects"][0]["namespace"] == "gochaos-ab12"


def test_a_command_of_your_own_is_refused_in_one_line() -> None:
    spec = TargetSpec(name="mine", command=("/usr/bin/mine", "--listen={listen}"))
    with pytest.raises(TargetError, match=r"target mine: only bundled targets .* needs an image and manifest"):
        m.pod_args(spec, 8080, "")


@pytest.mark.parametrize(("context", "server", "allowed", "ok"), [
    ("kind-gochaos-1", "https://127.0.0.1:41234", (), True),
    ("kind-x", "https://10.0.0.5:6443", (), False),
    ("staging", "https://staging.example:6443", (), False),
    ("staging", "https://staging.example:6443", ("staging",), True),
])
def test_faults_only_go_to_local_kind_or_allowed_contexts(context: str, server: str, allowed: tuple[str, ...],
                                                          ok: bool) -> None:
    if ok:
        check_context(context, server, allowed)
    else:
        with pytest.raises(UsageError, match=rf"context '{context}' .* --allow-context {context}"):
            check_context(context, server, allowed)


def test_context_server_reads_the_kubeconfig(tmp_path: Path) -> None:
    config = tmp_path / "kubeconfig"
    config.write_text(yaml.safe_dump({
        "current-context": "kind-a",
        "contexts": [{"name": "kind-a", "context": {"cluster": "a"}}],
        "clusters": [{"name": "a", "cluster": {"server": "https://127.0.0.1:1234"}}],
    }))
    assert context_server(config, None) == ("kind-a", "https://127.0.0.1:1234")
    with pytest.raises(UsageError, match=r"context 'prod' is not in .*; choose from kind-a"):
        context_server(config, "prod")


def test_log_timestamps_are_the_run_clock() -> None:
    t_ns, text = parse_timestamped("2026-11-24T04:50:01.123456789Z panic: assignment to entry in nil map")
    assert text == "panic: assignment to entry in nil map"
    assert t_ns == 1795495801123456789
    assert parse_timestamped("2026-11-24T04:50:01.5Z x")[0] == 1795495801500000000

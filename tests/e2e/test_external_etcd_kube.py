"""The team's own etcd (`etcd.external`) from a real kind cluster: TLS read from a Secret through the
API, and the cluster's own control-plane etcd refused unless the scenario names it.

The etcd here is kind's control-plane etcd (TLS, client certificates required), reached at the
node's address: the test copies its CA and healthcheck client certificate from the node into a
Secret, as a team would store its client certificate. Nothing is hurt: only the checks that run
before any fault, through `KubernetesPlatform.open_external_etcd`.
"""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chaos.build import Binaries
from chaos.errors import ExternalEtcdError
from chaos.external_etcd import ExternalEtcd
from chaos.platform.kubernetes.cluster.cluster import KubernetesOptions, connect
from chaos.platform.kubernetes.cluster.kind import KindCluster
from chaos.platform.kubernetes.platform import KubernetesPlatform
from chaos.timeline import Timeline

pytestmark = [pytest.mark.kubernetes]

PKI = "/etc/kubernetes/pki/etcd"


@pytest.fixture(scope="module")
def platform(gochaos_kind_cluster: KindCluster, kind_binary: str,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubernetesPlatform]:
    previous = os.environ.get("GOCHAOS_KIND")
    os.environ["GOCHAOS_KIND"] = kind_binary
    access = connect(KubernetesOptions(kind_cluster=gochaos_kind_cluster.name))
    runs_on = KubernetesPlatform(timeline=Timeline(), cluster=access, binaries=Binaries(),
                                 run_dir=tmp_path_factory.mktemp("run"))
    try:
        yield runs_on
    finally:
        runs_on.close()
        access.close()
        if previous is None:
            os.environ.pop("GOCHAOS_KIND", None)
        else:
            os.environ["GOCHAOS_KIND"] = previous


@pytest.fixture(scope="module")
def secret_ns(platform: KubernetesPlatform) -> Iterator[tuple[str, str]]:
    """A namespace holding Secret `etcd-client` (CA, client cert, key of kind's etcd); the etcd's endpoint."""
    node = platform.cluster.node
    assert node is not None, "kind's node is needed to read its etcd certificates"
    core: Any = platform.space.core
    namespace = f"etcd-tls-{secrets.token_hex(3)}"
    data = {key: base64.b64encode(node.exec("cat", f"{PKI}/{name}", what=f"read {name}").encode()).decode()
            for key, name in (("ca.crt", "ca.crt"), ("tls.crt", "healthcheck-client.crt"),
                              ("client-key", "healthcheck-client.key"))}
    core.create_namespace({"metadata": {"name": namespace}})
    try:
        core.create_namespaced_secret(namespace, {"metadata": {"name": "etcd-client"}, "data": data})
        ip = next(a.address for a in core.list_node().items[0].status.addresses if a.type == "InternalIP")
        yield namespace, f"https://{ip}:2379"
    finally:
        core.delete_namespace(namespace)


def external(endpoint: str, namespace: str, **extra: Any) -> ExternalEtcd:
    return ExternalEtcd.model_validate({"endpoints": [endpoint], "tls": {"secret": {
        "namespace": namespace, "name": "etcd-client", "key_key": "client-key"}}, **extra})


def test_the_control_plane_etcd_is_refused_unless_named(platform: KubernetesPlatform,
                                                        secret_ns: tuple[str, str]) -> None:
    namespace, endpoint = secret_ns
    with pytest.raises(ExternalEtcdError, match=rf"^etcd endpoint {endpoint} is the cluster's own control-plane etcd "
                                                r"\(pod kube-system/etcd-.*\); gochaos refuses to hurt it: .*"
                                                r"control_plane: true if you mean it$"):
        platform.open_external_etcd(external(endpoint, namespace))


def test_tls_from_a_secret_reaches_the_named_control_plane_etcd(platform: KubernetesPlatform,
                                                                secret_ns: tuple[str, str]) -> None:
    namespace, endpoint = secret_ns
    cluster = platform.open_external_etcd(external(endpoint, namespace, control_plane=True))
    try:
        leader, status = cluster.leader() or pytest.fail("the control-plane etcd has no leader")
        assert leader.client_url == endpoint and status.raft_term >= 1
        assert cluster.tls is not None and oct(Path(cluster.tls.key_file or "").stat().st_mode)[-3:] == "600"
        assert cluster.unavailable("move") is None and "needs to own etcd's processes" in str(
            cluster.unavailable("kill"))
    finally:
        cluster.stop()
    assert cluster.tls is not None and not cluster.tls.ca_file.exists(), "the Secret's material outlived the run"


@pytest.mark.parametrize(("secret", "message"), [
    ({"name": "nowhere"}, r"Secret {ns}/nowhere \(etcd\.external\.tls\.secret\) does not exist; create it"),
    ({"name": "etcd-client"}, r"Secret {ns}/etcd-client \(etcd\.external\.tls\.secret\) has no key 'tls\.key' "
                              r"\(it has: ca\.crt, client-key, tls\.crt\); set etcd\.external\.tls\.secret\.key_key"),
], ids=["missing Secret", "missing key"])
def test_a_missing_secret_or_key_is_named(platform: KubernetesPlatform, secret_ns: tuple[str, str],
                                          secret: dict[str, str], message: str) -> None:
    namespace, endpoint = secret_ns
    named = ExternalEtcd.model_validate({"endpoints": [endpoint], "control_plane": True,
                                         "tls": {"secret": {"namespace": namespace, **secret}}})
    with pytest.raises(ExternalEtcdError, match=message.format(ns=namespace)):
        platform.open_external_etcd(named)

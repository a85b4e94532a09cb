"""`etcd.external`: the team's own etcd in a scenario. Validation names file:line and the fix; the plan
anchors and checks the TLS files, refuses what the platform cannot do, and the dry run shows the modes."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from chaos.errors import ScenarioError, UsageError
from chaos.external_etcd import ExternalEtcd
from chaos.plan import build_plan, describe
from chaos.platform.factory import platform_kind
from chaos.scenario import Scenario, load_scenario, parse_scenario

HEAD = """\
name: ext
targets:
  - bundled: kvd
etcd:
"""


def scenario_text(etcd: str) -> str:
    return HEAD + "".join(f"  {line}\n" for line in etcd.splitlines()) + "load: null\n"


@pytest.mark.parametrize(("etcd", "message"), [
    ("members: 5\nexternal: {endpoints: ['http://10.0.0.5:2379']}",
     r"^s\.yaml:4: etcd: `external` is an etcd the team runs, so members \(of a cluster the suite starts\) cannot "
     r"apply: remove it$"),
    ("heartbeat_ms: 100\nelection_ms: 1000\nexternal: {endpoints: ['http://10.0.0.5:2379']}",
     r"^s\.yaml:4: etcd: `external` is an etcd the team runs, so election_ms, heartbeat_ms .* remove them$"),
    ("external: {endpoints: []}",
     r"^s\.yaml:5: etcd\.external\.endpoints: Tuple should have at least 1 item"),
    ("external: {endpoints: ['10.0.0.5:2379']}",
     r"^s\.yaml:5: etcd\.external\.endpoints: endpoint '10\.0\.0\.5:2379' is not a client URL: give scheme, host "
     r"and port, e\.g\. https://10\.0\.0\.5:2379$"),
    ("external: {endpoints: ['https://10.0.0.5:2379']}",
     r"^s\.yaml:5: etcd\.external: endpoint https://10\.0\.0\.5:2379 is https: add `tls`"),
    ("external:\n  endpoints: ['https://a:2379']\n  tls: {cert_file: c.crt, key_file: c.key}",
     r"^s\.yaml:7: etcd\.external\.tls: TLS needs `ca_file` \(the CA that signed the servers' certificates\), "
     r"or `secret`$"),
    ("external:\n  endpoints: ['https://a:2379']\n  tls: {ca_file: ca.crt, cert_file: c.crt}",
     r"^s\.yaml:7: etcd\.external\.tls: `cert_file` and `key_file` go together"),
    ("external:\n  endpoints: ['https://a:2379']\n  tls: {ca_file: ca.crt, secret: {namespace: db, name: etcd-tls}}",
     r"^s\.yaml:7: etcd\.external\.tls: give the TLS files or `secret`, not both \(remove ca_file or secret\)$"),
    ("external:\n  endpoints: ['https://a:2379']\n  tls: {secret: {namespace: db, name: etcd-tls, ca: x}}",
     r"^s\.yaml:7: etcd\.external\.tls\.secret\.ca: unknown field 'ca' \(valid: ca_key, cert_key, key_key, name, "
     r"namespace\)$"),
    ("external:\n  endpoints: ['https://a:2379', 'https://a:2379']\n  tls: {ca_file: ca.crt}",
     r"^s\.yaml:6: etcd\.external\.endpoints: an endpoint is listed twice"),
    ("external:\n  endpoints: ['https://a:2379', 'http://b:2379']\n  tls: {ca_file: ca.crt}",
     r"^s\.yaml:5: etcd\.external: endpoint http://b:2379 is plain http but `tls` is given"),
    ("external: {endpoints: ['http://a:2379'], pods: {namespace: db}}",
     r"^s\.yaml:5: etcd\.external\.pods\.selector: required field 'selector' is missing; add it$"),
], ids=["members", "timing", "no endpoints", "not a URL", "https without tls", "no CA", "cert without key",
        "files and secret", "secret misspelt", "endpoint twice", "mixed schemes", "pods without selector"])
def test_a_bad_external_etcd_is_named_with_its_line_and_fix(etcd: str, message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        parse_scenario(scenario_text(etcd), "s.yaml")


def test_a_good_external_etcd_loads_and_keeps_the_secret_defaults() -> None:
    text = scenario_text("external:\n  endpoints: ['https://10.0.0.5:2379/', 'https://10.0.0.6:2379']\n"
                         "  tls: {secret: {namespace: db, name: etcd-client}}\n"
                         "  pods: {namespace: db, selector: app=etcd}")
    external = parse_scenario(text, "s.yaml").etcd.external  # type: ignore[union-attr]
    assert external is not None and external.endpoints == ("https://10.0.0.5:2379", "https://10.0.0.6:2379")
    assert external.tls is not None and external.tls.secret is not None
    assert (external.tls.secret.ca_key, external.tls.secret.cert_key, external.tls.secret.key_key) == \
        ("ca.crt", "tls.crt", "tls.key")
    assert external.control_plane is False


def files_scenario(tmp_path: Path, *, cert: str = "client.crt") -> Path:
    for name in ("ca.crt", "client.crt", "client.key"):
        (tmp_path / name).write_text("-----BEGIN CERTIFICATE-----\n", encoding="utf-8")
    path = tmp_path / "s.chaos.yaml"
    path.write_text(scenario_text(f"external:\n  endpoints: ['https://10.0.0.5:2379']\n"
                                  f"  tls: {{ca_file: ca.crt, cert_file: {cert}, key_file: client.key}}"),
                    encoding="utf-8")
    return path


def test_the_plan_anchors_the_tls_files_next_to_the_scenario(tmp_path: Path) -> None:
    path = files_scenario(tmp_path)
    plan = build_plan(parse_scenario(path.read_text(), str(path)), tmp_path, platform="local", seed=1)
    assert plan.etcd is not None and plan.etcd.external is not None and plan.etcd.external.tls is not None
    assert plan.etcd.external.tls.ca_file == str(tmp_path / "ca.crt")
    lines = describe(plan)
    assert (f"  kvd: <kvd binary> --listen=127.0.0.1:<free port> --endpoints=<etcd_endpoints> --etcd-cacert="
            f"{tmp_path / 'ca.crt'} --etcd-cert={tmp_path / 'client.crt'} "
            f"--etcd-key={tmp_path / 'client.key'}") in lines
    assert "etcd: the team's own (etcd.external), nothing started; endpoints https://10.0.0.5:2379" in lines
    assert (f"  TLS: files: CA {tmp_path / 'ca.crt'}, client cert {tmp_path / 'client.crt'}; every endpoint must "
            "answer Maintenance Status before any fault") in lines
    assert ("  leader_loss modes: move (kill, pause, isolate need to own its processes; delete needs "
            "etcd.external.pods on kubernetes)") in lines


def test_a_missing_tls_file_is_named_before_anything_starts(tmp_path: Path) -> None:
    path = files_scenario(tmp_path, cert="certs/client.crt")
    with pytest.raises(ScenarioError, match=rf"^{path}:7: etcd\.external\.tls\.cert_file: {tmp_path}/certs/"
                                            r"client\.crt does not exist; the path is relative to the scenario file"):
        load_scenario(path)
    unchecked = Scenario.model_validate(yaml.safe_load(path.read_text()))  # built in code: the plan checks them
    with pytest.raises(ScenarioError, match=rf"^etcd\.external\.tls\.ca_file: {tmp_path}/gone/ca\.crt does not"):
        build_plan(unchecked, tmp_path / "gone", platform="local", seed=1)


def test_a_secret_or_pods_need_kubernetes(tmp_path: Path) -> None:
    secret = ExternalEtcd.model_validate({"endpoints": ["https://a:2379"],
                                          "tls": {"secret": {"namespace": "db", "name": "etcd-client"}}})
    with pytest.raises(UsageError, match=r"reads Secret db/etcd-client \(keys ca\.crt, tls\.crt, tls\.key\), which "
                                         r"needs --platform kubernetes"):
        secret.checked_for(platform_kind("local"), tmp_path)
    pods = ExternalEtcd.model_validate({"endpoints": ["http://a:2379"], "pods": {"namespace": "db",
                                                                                  "selector": "app=etcd"}})
    with pytest.raises(UsageError, match=r"etcd\.external\.pods names Kubernetes pods: run with --platform"):
        pods.checked_for(platform_kind("local"), tmp_path)
    assert pods.checked_for(platform_kind("kubernetes"), tmp_path) == pods


@pytest.mark.parametrize(("pods", "platform", "mode", "reason"), [
    (False, "local", "move", None),
    (False, "local", "kill", "leader_loss mode 'kill' needs to own etcd's processes, and the team's etcd "
                             "(etcd.external) is reached only through its API; choose from move"),
    (False, "local", "delete", "leader_loss mode 'delete' on the team's etcd (etcd.external) deletes the leader's "
                               "pod: name its pods in etcd.external.pods and run with --platform kubernetes"),
    (False, "kubernetes", "delete", "leader_loss mode 'delete' on the team's etcd (etcd.external) deletes the "
                                    "leader's pod: name its pods in etcd.external.pods"),
    (True, "kubernetes", "delete", None),
    (True, "kubernetes", "pause", "leader_loss mode 'pause' needs to own etcd's processes, and the team's etcd "
                                  "(etcd.external) is reached only through its API; choose from move, delete"),
])
def test_only_the_api_modes_are_available(pods: bool, platform: str, mode: str, reason: str | None) -> None:
    data: dict[str, object] = {"endpoints": ["http://a:2379"]}
    if pods:
        data["pods"] = {"namespace": "db", "selector": "app=etcd"}
    assert ExternalEtcd.model_validate(data).unavailable(mode, platform_kind(platform)) == reason

"""A team's own etcd over TLS (`etcd.external`): a real 3-member cluster serving TLS on loopback,
certificates made by the openssl CLI, the real `gochaos` command pointed at it.

The cluster is started by the test (the suite starts nothing of an external etcd) and stopped by it,
by process, even when an assertion fails. `move` must move leadership over TLS with kvd (given the
TLS files) under load; a refused client certificate, a wrong CA, a missing file and a mode that
needs the processes must be refused or judged inconclusive, each in one line.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from chaos.build import Binaries
from chaos.errors import ExitCode
from chaos.platform.etcd import ClientTls
from chaos.platform.local.etcd import EtcdCluster, ServerTls

pytestmark = [pytest.mark.integration, pytest.mark.skipif(shutil.which("openssl") is None,
                                                           reason="needs the openssl CLI to make certificates")]

_CA_EXT = ["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
           "-addext", "subjectKeyIdentifier=hash"]


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=30)


def _ca(folder: Path, name: str) -> None:
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", f"{name}.key", "-out", f"{name}.crt", "-days", "1", "-subj", f"/CN=gochaos test {name}",
             *_CA_EXT, cwd=folder)


def _leaf(folder: Path, name: str, ca: str, usage: str) -> None:
    """A certificate signed by `ca` for 127.0.0.1 (`usage`: extendedKeyUsage)."""
    (folder / f"{name}.ext").write_text(
        "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
        f"extendedKeyUsage={usage}\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n"
        "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n", encoding="utf-8")
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
             f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=folder)
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key", "-CAcreateserial",
             "-out", f"{name}.crt", "-days", "1", "-extfile", f"{name}.ext", cwd=folder)


@dataclass(frozen=True)
class Pki:
    """The CA the servers trust and its server and client certificates; a foreign CA and its client."""

    folder: Path

    def path(self, name: str) -> Path:
        return self.folder / name


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    folder = tmp_path_factory.mktemp("pki")
    _ca(folder, "ca")
    _leaf(folder, "server", "ca", "serverAuth,clientAuth")  # peers dial each other with it too
    _leaf(folder, "client", "ca", "clientAuth")
    _ca(folder, "other-ca")
    _leaf(folder, "stranger", "other-ca", "clientAuth")
    return Pki(folder)


@pytest.fixture(scope="module")
def tls_etcd(pki: Pki, tmp_path_factory: pytest.TempPathFactory,
             gochaos_binaries: Binaries) -> Iterator[EtcdCluster]:
    """3 members serving TLS on client and peer ports, requiring client certificates; stopped by the test."""
    binary = gochaos_binaries.get("etcd", race=False)
    cluster = EtcdCluster(etcd_binary=binary, base_dir=tmp_path_factory.mktemp("etcd"), size=3,
                          server_tls=ServerTls(pki.path("ca.crt"), pki.path("server.crt"), pki.path("server.key")),
                          client_tls=ClientTls(pki.path("ca.crt"), pki.path("client.crt"), pki.path("client.key")))
    with cluster:  # started (members leased ports, their own process groups), stopped whatever happens
        yield cluster


def scenario(endpoints: str, tls: str, *, mode: str = "move", load: bool = True) -> str:
    urls = ", ".join(endpoints.split(","))
    body = f"""\
name: external-etcd
targets:
  - bundled: kvd
    flags: {{request_timeout: 300ms}}
etcd:
  external:
    endpoints: [{urls}]
    tls: {tls}
"""
    body += ("load: {users: 5, spawn_rate: 50}\n" if load else "load: null\n")
    body += f"""\
windows: {{baseline_s: 2, observe_s: 4}}
faults:
  - injector: leader_loss
    params: {{mode: {mode}, duration_s: 1}}
oracles: [panics, {{recovery: {{bound_s: 3}}}}]
seed: 7
"""
    return body


def good_tls(pki: Pki) -> str:
    return (f"{{ca_file: {pki.path('ca.crt')}, cert_file: {pki.path('client.crt')}, "
            f"key_file: {pki.path('client.key')}}}")


def gochaos(tmp_path: Path, text: str, *args: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "s.chaos.yaml").write_text(text, encoding="utf-8")
    return subprocess.run([sys.executable, "-m", "chaos.cli", "run", "s.chaos.yaml", "--report-dir", "r", *args],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stdout + result.stderr
    return lines[0]


def test_move_over_tls_moves_the_leader_and_kvd_recovers(tls_etcd: EtcdCluster, pki: Pki, tmp_path: Path) -> None:
    before, status = tls_etcd.leader() or pytest.fail("no leader before the run")
    started = time.monotonic()
    result = gochaos(tmp_path, scenario(tls_etcd.endpoints, good_tls(pki)))
    print(f"gochaos run took {time.monotonic() - started:.1f}s\n{result.stdout[-3000:]}")
    assert result.returncode == ExitCode.PASS, result.stdout + result.stderr
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    (fault,) = report["faults"]
    details = fault["details"]
    print(f"leader moved in {details['new_leader_after_ms']} ms over TLS, term {details['term']}")
    assert fault["landed"] and details["mode"] == "move"
    old_term, new_term = details["term"]
    assert new_term > old_term >= status.raft_term
    after, now = tls_etcd.leader() or pytest.fail("no leader after the run")
    assert now.raft_term > status.raft_term and details["old_leader"] != details["new_leader"]
    print(f"leader before {before.name}, after {after.name}")
    checks = {f["check"]: f for f in report["findings"]}
    assert checks["recovery"]["status"] == "pass", checks["recovery"]
    assert checks["baseline"]["figures"]["baseline_requests"] >= 20, "kvd served no load over TLS"
    start = next(e for e in report["events"] if e["kind"] == "etcd.start")
    assert start["details"]["external"] is True
    kvd_log = (tmp_path / "r" / "artefacts" / "external-etcd" / "kvd" / "output.log").read_text()
    assert '"etcd_tls":true' in kvd_log, "kvd did not start with the TLS files"


@pytest.mark.parametrize(("tls", "said", "fix"), [
    ("{{ca_file: {ca}, cert_file: {stranger}.crt, key_file: {stranger}.key}}", "refused the client certificate",
     "signed by the CA the servers trust"),
    ("{{ca_file: {other}, cert_file: {client}.crt, key_file: {client}.key}}", "its server certificate is not signed by",
     "give etcd.external.tls.ca_file the CA that signed the servers' certificates"),
], ids=["client cert refused", "wrong CA"])
def test_an_endpoint_refusing_the_tls_exits_2_naming_it(tls_etcd: EtcdCluster, pki: Pki, tmp_path: Path,
                                                       tls: str, said: str, fix: str) -> None:
    text = tls.format(ca=pki.path("ca.crt"), other=pki.path("other-ca.crt"), stranger=pki.path("stranger"),
                      client=pki.path("client"))
    result = gochaos(tmp_path, scenario(tls_etcd.endpoints, text, load=False))
    line = one_line(result)
    print(line)
    assert result.returncode == ExitCode.USAGE
    first = tls_etcd.endpoints.split(",")[0]
    assert f"etcd endpoint {first}" in line and said in line and fix in line


def test_a_missing_tls_file_exits_2_naming_it(tls_etcd: EtcdCluster, pki: Pki, tmp_path: Path) -> None:
    text = f"{{ca_file: {pki.path('ca.crt')}, cert_file: nowhere/client.crt, key_file: {pki.path('client.key')}}}"
    result = gochaos(tmp_path, scenario(tls_etcd.endpoints, text, load=False))
    line = one_line(result)
    assert result.returncode == ExitCode.USAGE
    missing = tmp_path / "nowhere" / "client.crt"
    assert f"s.chaos.yaml:8: etcd.external.tls.cert_file: {missing} does not exist" in line, line


def test_kill_on_the_teams_etcd_is_inconclusive_with_the_reason(tls_etcd: EtcdCluster, pki: Pki,
                                                                tmp_path: Path) -> None:
    before = [tls_etcd.status(m) for m in tls_etcd.members]
    result = gochaos(tmp_path, scenario(tls_etcd.endpoints, good_tls(pki), mode="kill", load=False))
    assert result.returncode == ExitCode.INCONCLUSIVE, result.stdout + result.stderr
    (fault,) = json.loads((tmp_path / "r" / "report.json").read_text())["faults"]
    assert not fault["landed"]
    assert fault["details"]["unavailable"] == ("leader_loss mode 'kill' needs to own etcd's processes, and the team's "
                                               "etcd (etcd.external) is reached only through its API; choose from move")
    assert all(m.process.running for m in tls_etcd.members)
    assert all(s is not None for s in before) and all(tls_etcd.status(m) is not None for m in tls_etcd.members)

"""A team's own service, written only in YAML: any config format, no version key, strict decoding.

cfgsvc (go_targets/cmd/cfgsvc) stands for that service: JSON, YAML or TOML config decoded strictly,
listen addresses only in the config, its reload outcome only in Prometheus metrics and logs. The
fixed build must pass with automatic mutations and with declared variants; the build that applies
configs breaking its own rules (`--apply-invalid`) must fail `rollback` with the write as evidence.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from chaos.build import Binaries

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EXAMPLE = Path(__file__).parent / "user_service"


def run(scenario: str, binary: Path, tmp_path: Path, *extra_args: str,
        config: str | None = None) -> tuple[int, dict[str, Any], str]:
    text = (EXAMPLE / scenario).read_text().replace("SERVICE_BINARY", str(binary))
    if config is not None:
        text = text.replace("configs/cfgsvc.json", f"configs/{config}")
    if extra_args:
        text = text.replace('"--config={config}"', ", ".join(['"--config={config}"', *map(json.dumps, extra_args)]))
    path = EXAMPLE / f".{tmp_path.name}-{scenario}"  # beside its config files, which it names relatively
    path.write_text(text)
    try:
        done = subprocess.run([sys.executable, "-m", "chaos.cli", "run", str(path), "--report-dir",
                               str(tmp_path / "r")], capture_output=True, text=True, timeout=300)
    finally:
        path.unlink()
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    return done.returncode, report, done.stdout + done.stderr


def findings(report: dict[str, Any]) -> dict[str, Any]:
    return {f["check"]: f for f in report["findings"]}


def events(report: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e for e in report["events"] if e["kind"] == kind]


@pytest.mark.parametrize("config", ["cfgsvc.json", "cfgsvc.toml"])
def test_a_service_passes_a_storm_of_mutations_of_its_own_config(config: str, tmp_path: Path,
                                                                 gochaos_binaries: Binaries) -> None:
    code, report, out = run("cfgsvc-json.chaos.yaml", gochaos_binaries["cfgsvc"], tmp_path, config=config)
    assert code == 0, out
    checks = findings(report)
    assert checks["fault:reload_storm#1"]["status"] == "pass"
    writes = [w for w in events(report, "reload.write") if w["details"]["mutation"] != "revert"]
    assert len(writes) == 12 and {w["details"]["origin"] for w in writes} == {"auto"}
    assert all(w["details"]["changes"] for w in writes), "every write carries its path-level diff"
    live = events(report, "reload.live")
    taken = {e["details"]["write"] for e in live if e["details"]["via"] == "metrics" and e["details"]["write"]}
    assert taken, "no write was seen live through the service's metrics"
    rejected = {e["details"]["write"] for e in events(report, "reload.rejected") if e["details"]["identified"]}
    must_reject = {w["details"]["write"] for w in writes if w["details"]["expect"] == "reject"}
    assert not must_reject & taken
    assert rejected, "the strict decoder rejected nothing: the storm wrote no type break"
    assert checks["rollback"]["status"] == "pass", checks["rollback"]


def test_strict_yaml_service_passes_declared_variants(tmp_path: Path, gochaos_binaries: Binaries) -> None:
    code, report, out = run("cfgsvc-yaml.chaos.yaml", gochaos_binaries["cfgsvc"], tmp_path)
    assert code == 0, out
    writes = [w for w in events(report, "reload.write") if w["details"]["mutation"] != "revert"]
    origins = {w["details"]["origin"] for w in writes}
    assert any(o.startswith("variant:") for o in origins), origins
    assert any(w["details"]["expect"] == "reject" and w["details"]["origin"].startswith("variant:") for w in writes)
    assert findings(report)["rollback"]["status"] == "pass"


def test_a_service_that_applies_configs_it_should_reject_fails_rollback(tmp_path: Path,
                                                                         gochaos_binaries: Binaries) -> None:
    code, report, out = run("cfgsvc-yaml.chaos.yaml", gochaos_binaries["cfgsvc"], tmp_path, "--apply-invalid")
    assert code == 1, out
    rollback = findings(report)["rollback"]
    assert rollback["status"] == "fail"
    assert "it should have rejected being live" in rollback["summary"]
    proof = " ".join(e["text"] for e in rollback["evidence"])
    assert "variant:" in proof and "marked invalid (expect reject)" in proof and "via metrics" in proof, proof


def test_a_storm_of_triggers_alone_reloads_the_unchanged_config(tmp_path: Path, gochaos_binaries: Binaries) -> None:
    code, report, out = run("cfgsvc-unchanged.chaos.yaml", gochaos_binaries["cfgsvc"], tmp_path)
    assert code == 0, out
    writes = [w for w in events(report, "reload.write") if w["details"]["mutation"] != "revert"]
    assert len(writes) == 40 and all(w["details"]["trigger_only"] for w in writes)
    assert {w["details"]["version"] for w in writes} == {writes[0]["details"]["version"]}, "the config never changed"
    assert findings(report)["fault:reload_storm#1"]["status"] == "pass"
    assert findings(report)["rollback"]["status"] == "pass"

"""The README's worked example: a user's own Go service under chaos with a scenario file only."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from chaos.build import Binaries

pytestmark = pytest.mark.integration
EXAMPLE = Path(__file__).parent / "user_service"


def test_a_users_own_service_runs_from_a_scenario_file_alone(tmp_path: Path, gochaos_binaries: Binaries) -> None:
    # "your service": any Go binary; here configd, started by its path like a user's own would be
    service = gochaos_binaries["configd"]
    scenario = tmp_path / "my-service.chaos.yaml"
    scenario.write_text((EXAMPLE / "my-service.chaos.yaml").read_text().replace("SERVICE_BINARY", str(service)))
    (tmp_path / "config.yaml").write_text((EXAMPLE / "config.yaml").read_text())
    result = subprocess.run([sys.executable, "-m", "chaos.cli", "run", str(scenario), "--report-dir",
                             str(tmp_path / "r")], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    checks = {f["check"]: f for f in report["findings"]}
    assert checks["rollback"]["status"] == "pass"
    assert checks["rollback"]["figures"]["invalid_writes"] >= 1, "the seeded mix wrote no invalid config"
    assert checks["fault:reload_storm#1"]["status"] == "pass"
    sent = [e for e in report["events"] if e["kind"] == "reload.write"]
    live = [e for e in report["events"] if e["kind"] == "reload.live"]
    assert len(sent) == 7 and live, "the SIGHUP-triggered reloads never went live"

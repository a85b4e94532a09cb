"""The optional parts of gochaos (pip extras): a core install plans a local run without importing them, and a
scenario that needs one is refused when it is planned, in one line naming the extra to install.

A core install is played by marking the extras' modules unimportable in sys.modules (a None entry: what Python
itself reads as "cannot be imported"; importlib.util.find_spec then says None, `import` raises
ModuleNotFoundError), the one boundary faked; tests/integration/test_wheel_install.py runs a bundled scenario
from a real core install.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

from chaos import extras, state
from chaos.cli import main
from chaos.errors import ExitCode, MissingExtra, UsageError
from chaos.observe.readiness import grpc_serving
from chaos.plan import build_plan
from chaos.platform.factory import reclaim_dead_runs
from chaos.scenario import load_plan, parse_scenario, resolve

REPO = Path(__file__).resolve().parents[2]
#: Every module of an extra, and pytest (which only the pytest plugin imports).
OPTIONAL = (*(module for modules in extras.MODULES.values() for module in modules), "pytest", "_pytest")


@pytest.fixture
def core_install(monkeypatch: pytest.MonkeyPatch) -> None:
    """No gochaos[kubernetes], no gochaos[grpc]: their modules cannot be imported while the test runs."""
    for modules in extras.MODULES.values():
        for module in modules:
            monkeypatch.setitem(sys.modules, module, None)
    assert not extras.installed("kubernetes") and not extras.installed("grpc")


def one_line(extra: str, needed_for: str) -> str:
    return f"{needed_for}: install gochaos[{extra}] (pip install 'gochaos[{extra}]')"


def test_a_local_plan_of_every_bundled_scenario_imports_no_extra_and_no_pytest(tmp_path: Path) -> None:
    """A fresh interpreter, as `gochaos run` starts: the CLI, then every bundled scenario planned and printed
    as the dry run does on the local platform, then the heavy modules loaded by then."""
    script = textwrap.dedent(f"""
        import json, sys
        optional = {OPTIONAL!r}

        def loaded():
            return sorted(m for m in sys.modules if m.partition(".")[0] in optional or m.startswith("google.protobuf"))

        import chaos.cli
        after_cli = loaded()
        from chaos.plan import build_plan, describe
        from chaos.scenario import bundled_scenarios, load_plan
        planned = []
        for name, path in sorted(bundled_scenarios().items()):
            for scenario, base_dir in load_plan(path)[1]:
                describe(build_plan(scenario, base_dir, platform="local"))
                planned.append(scenario.name)
        print(json.dumps({{"cli": after_cli, "plan": loaded(), "planned": planned}}))
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert "reload-panic" in found["planned"] and "gc-pressure" in found["planned"]
    assert found["cli"] == [], "import chaos.cli imports an optional part"
    assert found["plan"] == [], "planning a local run imports an optional part"


def test_a_local_plan_works_without_the_extras(core_install: None) -> None:
    _, members, _ = load_plan(resolve("reload-panic"))
    ((scenario, base_dir),) = members
    plan = build_plan(scenario, base_dir, platform="local")
    assert [spec.name for spec in plan.targets] == ["configd"]
    assert [load.user for load in plan.loads] == ["configd"]


def test_a_kubernetes_run_without_the_client_is_refused_at_plan_time_in_one_line(
        core_install: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "reload-panic", "--platform", "kubernetes", "--dry-run"]) == ExitCode.USAGE
    captured = capsys.readouterr()
    expected = one_line("kubernetes", "this scenario runs on kubernetes")
    assert captured.err == f"gochaos: MissingExtra: {expected}\n"
    assert captured.out == ""


def test_the_grpc_load_user_without_grpcio_is_refused_when_the_scenario_loads(core_install: None) -> None:
    text = textwrap.dedent("""
        name: grpc-load
        targets:
          - name: kv
            command: ["./grpckv", "--listen={listen}"]
        load:
          user: grpc
          options:
            grpc: {calls: [{method: gochaos.grpckv.v1.KV/Put}]}
    """)
    with pytest.raises(MissingExtra) as refused:
        build_plan(parse_scenario(text, "grpc-load.chaos.yaml"), Path("."), platform="local")
    assert str(refused.value) == one_line("grpc", "this scenario's load uses the grpc user")
    assert isinstance(refused.value, UsageError) and refused.value.exit_code == ExitCode.USAGE
    assert refused.value.extra == "grpc"


def test_a_grpc_readiness_check_without_grpcio_is_refused_at_plan_time(core_install: None) -> None:
    text = textwrap.dedent("""
        name: grpc-ready
        targets:
          - name: kv
            command: ["./grpckv", "--listen={listen}"]
            ready_grpc: true
        load:
          user: my.module:User
    """)
    with pytest.raises(MissingExtra) as refused:
        build_plan(parse_scenario(text, "grpc-ready.chaos.yaml"), Path("."), platform="local")
    assert str(refused.value) == one_line("grpc", "target kv is ready by the gRPC health check (ready_grpc)")


def test_a_grpc_readiness_check_asked_directly_names_the_extra(core_install: None) -> None:
    with pytest.raises(MissingExtra, match=r"^a gRPC readiness check \(grpc\.health\.v1\): install gochaos\[grpc\]"):
        grpc_serving("127.0.0.1:1")


def test_with_the_extras_installed_nothing_is_refused() -> None:
    """This venv has every extra (`make setup` installs .[all,dev]): the same checks pass."""
    assert extras.installed("kubernetes") and extras.installed("grpc")
    extras.require("grpc", "unused")


def test_the_grpc_status_names_written_out_are_grpcios() -> None:
    """STATUS_NAMES is written out so that validating options imports no grpcio; it must stay grpcio's list."""
    import grpc

    from chaos.load.grpc_spec import STATUS_NAMES

    grpcios = tuple(code.name for code in sorted(grpc.StatusCode, key=lambda c: c.value[0]))
    assert grpcios == STATUS_NAMES


def test_pyproject_declares_the_core_and_the_extras_the_code_checks() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    core = {_name(requirement) for requirement in project["dependencies"]}
    optional = {extra: {_name(r) for r in requirements}
                for extra, requirements in project["optional-dependencies"].items()}
    assert set(extras.MODULES) <= set(optional), "every extra chaos.extras checks is declared"
    assert optional["kubernetes"] == {"kubernetes"}
    assert optional["grpc"] == {"grpcio", "grpcio-tools", "grpcio-reflection", "grpcio-health-checking", "protobuf"}
    assert optional["pytest"] == {"pytest"}
    assert project["optional-dependencies"]["all"] == ["gochaos[kubernetes,grpc,pytest]"]
    assert not core & (optional["kubernetes"] | optional["grpc"] | optional["pytest"]), "the core stays lean"
    # the repository's own set-up (and so CI, through `make test`) installs everything
    assert "pip install --quiet -e '.[all,dev]'" in (REPO / "Makefile").read_text(encoding="utf-8")


def _name(requirement: str) -> str:
    for mark in "<>=[; ":
        requirement = requirement.split(mark, 1)[0]
    return requirement.lower()


def test_a_dead_kubernetes_runs_leftover_is_kept_for_an_install_with_the_client(
        core_install: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every run first cleans up after dead ones (the ledger is per user, shared by every venv): a core install
    meeting a namespace a killed Kubernetes run left says what it needs, and keeps the record for a retry."""
    monkeypatch.setenv("GOCHAOS_STATE_DIR", str(tmp_path / "state"))
    child = subprocess.Popen(["sleep", "0"])  # a process that really ran here and is gone: the dead owner
    start = state.process_start(child.pid)
    child.wait()
    me = state.Owner.me()
    owner = {"pid": child.pid, "start": start, "boot_id": me.boot_id, "pid_ns": me.pid_ns}
    holding = {"kind": "k8s_namespace", "key": "gochaos-run-1", "what": "namespace gochaos-run-1",
               "data": {"run_id": "1", "kubeconfig": str(tmp_path / "kubeconfig"), "context": "kind-x"}}
    path = tmp_path / "state" / f"{child.pid}.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"schema": 1, "owner": owner, "holdings": [holding]}))

    (item,) = reclaim_dead_runs()
    assert not item.ok
    assert item.outcome == "could not clean up: " + one_line(
        "kubernetes", "it is on a Kubernetes cluster, reached with the official client")
    assert path.exists()

"""Own services built from source (`build: DIR`), race builds of any service, the buggy counterpart of every
way to run a target, and `{scenario_dir}`: validation messages, the source cache key, the go command's
environment, placeholder filling and the plan. Nothing here runs `go build` (tests/integration/
test_source_build.py builds and runs real services)."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from chaos.build import RACE_FLAGS, go_build_argv, go_build_env, require_c_compiler
from chaos.errors import BuildError, ScenarioError, TargetError, UsageError
from chaos.plan import build_plan, describe, require_buggy_variant
from chaos.published import cached_binary, go_environment, parse_ref
from chaos.scenario import parse_scenario
from chaos.source_build import SourcePackage, locate, module_inputs, source_key
from chaos.targets import TargetSpec, check_placeholders, fill_config_text, fill_placeholders

MAIN = "// Command svc serves.\npackage main\n\nfunc main() {}\n"


def module(root: Path, *, package: str = "cmd/svc", source: str = MAIN) -> Path:
    """A Go module at `root` (example.com/svc) with a main package at `package`; returns the package directory."""
    (root / "go.mod").parent.mkdir(parents=True, exist_ok=True)
    (root / "go.mod").write_text("module example.com/svc\n\ngo 1.24\n")
    folder = root / package
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "main.go").write_text(source)
    return folder


def scenario_text(target: str) -> str:
    return "name: own\nload: null\ntargets:\n  - name: svc\n" + textwrap.indent(textwrap.dedent(target), "    ")


BUILT = """\
build: svc/cmd/svc
command: ["{binary}", "--listen={listen}"]
"""


# -- validation ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("target", "message"), [
    ('build: svc\ncommand: ["./svc", "--listen={listen}"]\n',
     r"^s\.yaml:4: targets\.0: a `build` target runs its built binary as \{binary\}: give a `command` that uses it"),
    ('build: svc\ngo_install: example.com/svc@v1.0.0\ncommand: ["{binary}"]\n',
     r"^s\.yaml:4: targets\.0: give `go_install` \(a published Go service\) or `build` \(your own source\), not both"),
    ('buggy_build: svc-buggy\ncommand: ["./svc"]\n',
     r"^s\.yaml:4: targets\.0: `buggy_build` is the buggy source of a `build` service: give `build` \(the fixed "
     r"source\) too"),
    ("bundled: configd\nbuggy_command: [./configd-buggy]\n",
     r"^s\.yaml:4: targets\.0: `buggy_command` runs your service with its bug instead of `command`: give `command`"),
    ('command: ["./svc"]\nbuggy_command: ["./svc", "--listen={lisen}"]\n',
     r"^s\.yaml:4: targets\.0: buggy_command\[1\]: unknown placeholder \{lisen\} in '--listen=\{lisen\}'; did you "
     r"mean \{listen\}\?"),
    ('command: ["./svc"]\nrace: true\n',
     r"^s\.yaml:4: targets\.0: `race` builds what the suite builds: a `bundled` target, a `go_install` service or "
     r"your source given as `build: DIR`; a `command` alone runs a binary you built, so build it with "
     r"`go build -race` \(CGO_ENABLED=1\) or give `build`"),
])
def test_a_target_of_your_own_is_checked_when_the_scenario_loads(target: str, message: str) -> None:
    with pytest.raises(ScenarioError, match=message) as caught:
        parse_scenario(scenario_text(target), "s.yaml")
    assert type(caught.value) is ScenarioError


def test_race_is_taken_for_a_published_or_a_built_service() -> None:
    for target in ('go_install: example.com/svc@v1.0.0\ncommand: ["{binary}"]\nrace: true\n', BUILT + "race: true\n"):
        assert parse_scenario(scenario_text(target), "s.yaml").targets[0].race


@pytest.mark.parametrize(("layout", "message"), [
    ("missing", r"target svc: build: svc/cmd/svc: .*/svc/cmd/svc does not exist: `build` names the directory of "
                r"your service's main package, relative to the scenario file"),
    ("no-module", r"target svc: build: svc/cmd/svc: .*/svc/cmd/svc is in no Go module \(no go\.mod in it or above "
                  r"it\): point `build` at a package of a module, or run `go mod init` at its root"),
    ("library", r"target svc: build: svc/cmd/svc: .*/svc/cmd/svc holds package svc, not a main package: point "
                r"`build` at the directory of a command \(`package main`\), often cmd/NAME"),
    ("tests-only", r"target svc: build: svc/cmd/svc: .*/svc/cmd/svc has no Go files \(other than tests\)"),
])
def test_a_build_directory_that_is_no_main_package_is_refused_when_the_run_is_planned(
        tmp_path: Path, layout: str, message: str) -> None:
    if layout == "no-module":
        (tmp_path / "svc" / "cmd" / "svc").mkdir(parents=True)
        (tmp_path / "svc" / "cmd" / "svc" / "main.go").write_text(MAIN)
    elif layout == "library":
        module(tmp_path / "svc", source="/* package main, said a comment */\npackage svc\n")
    elif layout == "tests-only":
        folder = module(tmp_path / "svc")
        (folder / "main.go").rename(folder / "main_test.go")
    scenario = parse_scenario(scenario_text(BUILT), str(tmp_path / "s.chaos.yaml"))
    with pytest.raises(ScenarioError, match=message):
        build_plan(scenario, tmp_path, platform="local", seed=1)


def test_a_main_package_is_found_with_the_module_above_it(tmp_path: Path) -> None:
    folder = module(tmp_path / "svc")
    (folder / "doc.go").write_text("//go:build ignore\n\n/*\npackage docs\n*/\npackage main\n")
    assert locate(folder / ".." / "svc") == SourcePackage(folder, tmp_path / "svc")
    assert locate(tmp_path / "svc" / "cmd" / "svc").binary_name == "svc"


# -- the buggy counterpart of every way to run a target -------------------------------------------
def test_reproduce_runs_the_buggy_command_and_builds_the_buggy_source(tmp_path: Path) -> None:
    module(tmp_path / "svc")
    module(tmp_path / "svc-buggy")
    text = scenario_text(BUILT + 'buggy_build: svc-buggy/cmd/svc\nbuggy_command: ["{binary}", "--bug"]\n')
    scenario = parse_scenario(text, str(tmp_path / "s.chaos.yaml"))
    fixed, buggy = (build_plan(scenario, tmp_path, platform="local", seed=1, buggy=b).targets[0] for b in (False, True))
    assert (fixed.command, fixed.build) == (("{binary}", "--listen={listen}"), str(tmp_path / "svc" / "cmd" / "svc"))
    assert (buggy.command, buggy.build) == (("{binary}", "--bug"), str(tmp_path / "svc-buggy" / "cmd" / "svc"))
    only_command = parse_scenario(scenario_text('command: ["./svc"]\nbuggy_command: ["./svc", "--bug"]\n'),
                                  str(tmp_path / "s.chaos.yaml"))
    require_buggy_variant(only_command)  # no UsageError: reproduce has something else to run
    assert only_command.targets[0].spec(tmp_path, buggy=True).command == (str(tmp_path / "svc"), "--bug")


def test_reproduce_of_a_scenario_with_no_buggy_counterpart_names_every_kind_of_it(tmp_path: Path) -> None:
    scenario = parse_scenario(scenario_text('command: ["./svc"]\n'), str(tmp_path / "s.chaos.yaml"))
    with pytest.raises(UsageError, match=r"give a target `buggy_flags` \(flags that switch its bug on\), "
                                         r"`buggy_go_install` \(.*\), `buggy_build` \(the source with the bug of a "
                                         r"`build` service\) or `buggy_command` \(how your service runs with its "
                                         r"bug\)"):
        require_buggy_variant(scenario)


# -- the plan ------------------------------------------------------------------------------------
def test_the_dry_run_shows_the_build_and_the_race_detector_and_a_race_build_halts_on_the_first_race(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOCHAOS_CACHE_DIR", str(tmp_path / "cache"))
    module(tmp_path / "svc")
    scenario = parse_scenario(scenario_text(BUILT + "race: true\n"), str(tmp_path / "s.chaos.yaml"))
    plan = build_plan(scenario, tmp_path, platform="local", seed=1)
    assert "  svc: <build of svc/cmd/svc (race)> --listen=127.0.0.1:<free port>" in describe(plan)
    assert plan.targets[0].race and plan.targets[0].env["GORACE"] == "halt_on_error=1"
    assert not (tmp_path / "cache").exists(), "planning builds nothing"
    published = parse_scenario(scenario_text('go_install: example.com/svc@v1.2.3\ncommand: ["{binary}"]\n'
                                             "race: true\n"), str(tmp_path / "s.chaos.yaml"))
    assert "  svc: <example.com/svc@v1.2.3 binary (race)>" in describe(build_plan(published, tmp_path,
                                                                                 platform="local", seed=1))


def test_kubernetes_refuses_a_service_built_here_when_the_run_is_planned(tmp_path: Path) -> None:
    module(tmp_path / "svc")
    scenario = parse_scenario(scenario_text(BUILT + "race: true\n"), str(tmp_path / "s.chaos.yaml"))
    with pytest.raises(UsageError, match=r"^target svc: only bundled targets \(command starting with \{binary\}\) run "
                                         r"on Kubernetes so far; a command of your own \(built from `build: .*/svc/cmd/"
                                         r"svc`, race, a local binary\) needs an image and manifest of your own: run "
                                         r"it with --platform local, or deploy it yourself and name it with "
                                         r"`deployed`$"):
        build_plan(scenario, tmp_path, platform="kubernetes", seed=1)


# -- the source's cache key ----------------------------------------------------------------------
def test_the_key_changes_with_the_source_the_toolchain_and_race_but_not_with_tests(tmp_path: Path) -> None:
    root = tmp_path / "svc"
    folder = module(root)
    (root / "internal").mkdir()
    (root / "internal" / "lib.go").write_text("package internal\n")
    (root / "internal" / "lib_test.go").write_text("package internal\n")
    (root / "testdata").mkdir()
    (root / "testdata" / "fixture.go").write_text("package fixture\n")
    (root / "tools").mkdir()
    (root / "tools" / "go.mod").write_text("module example.com/tools\n")
    (root / "tools" / "tool.go").write_text("package main\n")
    package = locate(folder)
    environ = {"PATH": "/bin"}

    def key(*, race: bool = False, toolchain: str = "go version go1.26.0 linux/amd64\n") -> str:
        return source_key(package, toolchain, race=race, environ=environ)

    first = key()
    assert sorted(p.relative_to(root).as_posix() for p in module_inputs(root)) == [
        "cmd/svc/main.go", "go.mod", "internal/lib.go"]
    (root / "internal" / "lib_test.go").write_text("package internal\n\n// a test edit\n")
    (root / "testdata" / "fixture.go").write_text("package fixture // edited\n")
    (root / "tools" / "tool.go").write_text("package main // another module\n")
    assert key() == first, "tests, testdata and nested modules are not what the build reads"
    assert key(race=True) != first and key(toolchain="go version go1.26.1 linux/amd64\n") != first
    (root / "internal" / "lib.go").write_text("package internal\n\nvar X = 1\n")
    edited = key()
    assert edited != first
    (root / "go.sum").write_text("example.com/dep v1.0.0 h1:abc=\n")
    summed = key()
    assert summed != edited
    environ["GOFLAGS"] = "-tags=prod"
    assert key() != summed, "GOFLAGS changes the build"


def test_a_published_race_build_is_cached_beside_the_plain_one() -> None:
    ref = parse_ref("github.com/mccutchen/go-httpbin/v2/cmd/go-httpbin@v2.18.0")
    plain, race = cached_binary(ref), cached_binary(ref, race=True)
    assert race.parent.name == plain.parent.name + "+race" and race.name == plain.name


# -- the go command's environment ----------------------------------------------------------------
def test_every_go_build_runs_without_the_suites_godebug_and_with_cgo_for_race_only() -> None:
    environ = {"GODEBUG": "gctrace=1", "PATH": "/bin", "CGO_ENABLED": "1"}
    assert go_build_env(race=False, environ=environ) == {"PATH": "/bin", "CGO_ENABLED": "0"}
    assert go_build_env(race=True, environ=environ) == {"PATH": "/bin", "CGO_ENABLED": "1"}
    published = go_environment(environ, race=True)
    assert "GODEBUG" not in published and published["CGO_ENABLED"] == "1" and published["GOWORK"] == "off"
    assert "GODEBUG" not in go_environment(environ) and go_environment(environ)["CGO_ENABLED"] == "0"
    assert go_build_argv("go", Path("/o/svc"), ".", race=True) == ["go", "build", "-trimpath", "-o", "/o/svc",
                                                                   *RACE_FLAGS, "."]
    assert RACE_FLAGS == ("-race", "-tags", "netgo,osusergo", "-ldflags", "-linkmode=external -extldflags=-static")


def test_a_race_build_without_a_c_compiler_says_what_to_install(tmp_path: Path) -> None:
    go = tmp_path / "go"
    go.write_text(f"#!{sys.executable}\nimport sys\nprint('gcc-from-nowhere -m64' if sys.argv[1:] == ['env', 'CC'] "
                  "else '')\n")
    go.chmod(0o755)
    with pytest.raises(BuildError, match=r"^build /src/svc is a race build \(`race: true`\): the Go race detector "
                                         r"needs cgo and a C compiler, but the one `go env CC` names "
                                         r"\(gcc-from-nowhere\) is not on PATH; install a C compiler with its static "
                                         r"C library \(e\.g\. `apt-get install gcc`\) or set CC to one, or drop "
                                         r"`race`$"):
        require_c_compiler(str(go), {"PATH": str(tmp_path)}, "build /src/svc")
    (tmp_path / "gcc-from-nowhere").write_text("#!/bin/sh\n")
    (tmp_path / "gcc-from-nowhere").chmod(0o755)
    require_c_compiler(str(go), {"PATH": str(tmp_path)}, "build /src/svc")


# -- {scenario_dir} ------------------------------------------------------------------------------
def test_scenario_dir_is_filled_in_the_command_env_and_config_even_with_braces_in_the_path(tmp_path: Path) -> None:
    here = tmp_path / "odd {port} {{dir}}"
    here.mkdir()
    (here / "svc.yaml").write_text("data: {scenario_dir}/data\nlisten: {listen}\n")
    text = scenario_text('command: ["{scenario_dir}/bin/svc", "--data={scenario_dir}/x", "{{literal}}"]\n'
                         "config_file: svc.yaml\nenv: {DATA: '{scenario_dir}/env'}\n")
    spec = parse_scenario(text, str(here / "s.chaos.yaml")).targets[0].spec(here)
    assert spec.scenario_dir == str(here)
    check_placeholders(spec)
    values = {"listen": "127.0.0.1:1", "port": "1", "scenario_dir": str(here)}
    assert [fill_placeholders(arg, values, "svc") for arg in spec.command] == [
        f"{here}/bin/svc", f"--data={here}/x", "{literal}"]
    assert fill_placeholders(spec.env["DATA"], values, "svc") == f"{here}/env"
    assert fill_config_text(spec, {"listen": "127.0.0.1:1"}) == f"data: {here}/data\nlisten: 127.0.0.1:1\n"
    plan = build_plan(parse_scenario(text, str(here / "s.chaos.yaml")), here, platform="local", seed=1)
    assert f"  svc: {here}/bin/svc --data={here}/x {{literal}}" in describe(plan)


def test_a_spec_written_in_python_has_no_scenario_dir_to_fill() -> None:
    spec = TargetSpec(name="svc", command=("/bin/svc", "--data={scenario_dir}"))
    with pytest.raises(ScenarioError, match=r"target svc: command\[1\]: unknown placeholder \{scenario_dir\}"):
        check_placeholders(spec)
    with pytest.raises(TargetError, match=r"unknown placeholder \{scenario_dir\}"):
        fill_placeholders(spec.command[1], {"port": "1"}, "svc")

"""Published Go services (`go_install`): refs, the cache, and what each failure tells the user.

The go command is a stand-in script here (canned answers, every call logged), so every message is
checked without the network; tests/integration/test_published.py builds real modules.
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from chaos.errors import BuildError, ScenarioError
from chaos.plan import build_plan, describe
from chaos.published import build_published, cached_binary, go_environment, parse_ref
from chaos.scenario import parse_scenario

HTTPBIN = "github.com/mccutchen/go-httpbin/v2/cmd/go-httpbin@v2.18.0"
FORBIDDEN = "reading https://proxy.example/{path}/@v/{version}.info: 403 Forbidden\n\tserver response: not available."

FAKE_GO = textwrap.dedent("""
    import json, os, sys
    args = sys.argv[1:]
    with open(os.environ["FAKE_GO_LOG"], "a") as log:
        keep = ("GOFLAGS", "CGO_ENABLED", "GOWORK", "GOTOOLCHAIN")
        log.write(json.dumps({"args": args, "cwd": os.getcwd(), "env": {k: os.environ.get(k) for k in keep}}) + "\\n")
    answers = json.load(open(os.environ["FAKE_GO_ANSWERS"]))
    if args[0] == "build":
        answer = answers["build"][os.path.basename(os.getcwd())]
        if answer.get("writes"):
            open(args[args.index("-o") + 1], "wb").write(answer["writes"].encode())
    else:
        answer = answers[" ".join([a for a in args if a != "-e"][:2 if args[0] == "mod" else 3])]
    sys.stdout.write(answer.get("stdout", ""))
    sys.stderr.write(answer.get("stderr", ""))
    sys.exit(answer.get("rc", 0))
""")

class FakeGo:
    """A go on PATH that answers as told (by subcommand, `go build` by the folder it runs in) and logs each call."""

    def __init__(self, folder: Path) -> None:
        self.answers, self.log = folder / "answers.json", folder / "calls.jsonl"

    def answer(self, **by_command: Any) -> None:
        self.answers.write_text(json.dumps(by_command))

    def calls(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log.read_text().splitlines()] if self.log.exists() else []


@pytest.fixture
def fake_go(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeGo:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    go = bin_dir / "go"
    go.write_text(f"#!{sys.executable}\n{FAKE_GO}")
    go.chmod(0o755)
    fake = FakeGo(tmp_path)
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("GOCHAOS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("FAKE_GO_LOG", str(fake.log))
    monkeypatch.setenv("FAKE_GO_ANSWERS", str(fake.answers))
    monkeypatch.delenv("GOTOOLCHAIN", raising=False)
    monkeypatch.delenv("GOFLAGS", raising=False)
    return fake


def module_source(tmp_path: Path, *, replaces: int = 0, package: str = "cmd/go-httpbin") -> dict[str, Any]:
    """Answers for a served go-httpbin v2.18.0 whose source has `package` (and `replaces` replace directives)."""
    source = tmp_path / "modcache" / "go-httpbin"
    (source / package).mkdir(parents=True)
    (source / package / "main.go").write_text("package main\n")
    go_mod = tmp_path / "modcache" / "v2.18.0.mod"
    go_mod.write_text("module github.com/mccutchen/go-httpbin/v2\n")
    listed = "".join(json.dumps({"Path": path, "Version": "v2.18.0"} if path == "github.com/mccutchen/go-httpbin/v2"
                                else {"Path": path, "Error": {"Err": FORBIDDEN.format(path=path, version="v2.18.0")}})
                     for path in parse_ref(HTTPBIN).candidates())
    replace = [{"Old": {"Path": f"example.com/m{i}"}, "New": {"Path": f"example.com/m{i}", "Version": "v1.0.0"}}
               for i in range(replaces)]
    return {
        "list -m -json": {"stdout": listed},
        "mod download": {"stdout": json.dumps({"Dir": str(source), "GoMod": str(go_mod)})},
        "mod edit": {"stdout": json.dumps({"Go": "1.22.0", "Godebug": [{"Key": "http2client", "Value": "0"}],
                                           "Replace": replace})},
    }


# -- refs ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("ref", "package", "version", "binary"), [
    ("github.com/coredns/coredns@v1.12.1", "github.com/coredns/coredns", "v1.12.1", "coredns"),
    (HTTPBIN, "github.com/mccutchen/go-httpbin/v2/cmd/go-httpbin", "v2.18.0", "go-httpbin"),
    ("github.com/mccutchen/go-httpbin/v2@v2.18.0", "github.com/mccutchen/go-httpbin/v2", "v2.18.0", "go-httpbin"),
    ("go.etcd.io/etcd/server/v3@v3.5.17", "go.etcd.io/etcd/server/v3", "v3.5.17", "server"),
    ("golang.org/x/tools/cmd/stringer@v0.0.0-20250210165959-abcdef123456", "golang.org/x/tools/cmd/stringer",
     "v0.0.0-20250210165959-abcdef123456", "stringer"),
    ("github.com/old/tool@v2.0.1+incompatible", "github.com/old/tool", "v2.0.1+incompatible", "tool"),
    ("gopkg.in/yaml.v3@v3.0.1", "gopkg.in/yaml.v3", "v3.0.1", "yaml.v3"),
])
def test_a_ref_names_the_package_its_pinned_version_and_the_binary_go_install_would_make(
        ref: str, package: str, version: str, binary: str) -> None:
    parsed = parse_ref(ref)
    assert (parsed.package, parsed.version, parsed.binary_name, str(parsed)) == (package, version, binary, ref)


@pytest.mark.parametrize(("ref", "says"), [
    ("github.com/coredns/coredns", r"names no version: write MODULE\[/PKG\]@VERSION"),
    ("@v1.0.0", "names no version"),
    ("github.com/coredns/coredns@latest", "'latest' in .* is not a pinned version"),
    ("github.com/coredns/coredns@master", "not a pinned version: give a full semantic version starting with v"),
    ("github.com/coredns/coredns@1.12.1", "'1.12.1' .* is not a pinned version"),
    ("github.com/coredns/coredns@v1.12", "'v1.12' .* is not a pinned version"),
    ("coredns@v1.12.1", "'coredns' in .* is not a Go package path: its first element is a host name"),
    ("github.com/a/../b@v1.0.0", "is not a Go package path"),
    ("github.com//b@v1.0.0", "is not a Go package path"),
    ("github.com/a b@v1.0.0", "is not a Go package path"),
])
def test_a_ref_of_the_wrong_shape_is_refused_saying_what_to_write(ref: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_ref(ref)


def test_module_candidates_go_from_the_package_up_and_each_ref_has_its_own_cache_folder(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert parse_ref("golang.org/x/tools/cmd/stringer@v0.30.0").candidates() == [
        "golang.org/x/tools/cmd/stringer", "golang.org/x/tools/cmd", "golang.org/x/tools", "golang.org/x",
        "golang.org"]
    monkeypatch.setenv("GOCHAOS_CACHE_DIR", str(tmp_path))
    root, sub = parse_ref("github.com/a/b@v1.0.0"), parse_ref("github.com/a/b/cmd/b@v1.0.0")
    assert cached_binary(root) == tmp_path / "bin" / "published" / "github.com%2Fa%2Fb@v1.0.0" / "b"
    assert cached_binary(sub).parent != cached_binary(root).parent
    assert cached_binary(parse_ref("github.com/a_b/c@v1.0.0")) != cached_binary(parse_ref("github.com/a/b_c@v1.0.0"))


def test_the_go_command_resolves_modules_fills_go_sum_builds_static_and_keeps_to_the_installed_go() -> None:
    env = go_environment({"GOFLAGS": "-mod=readonly -tags=netgo", "PATH": "/bin"})
    assert env["GOFLAGS"] == "-tags=netgo -mod=mod"
    assert (env["CGO_ENABLED"], env["GOWORK"], env["GOTOOLCHAIN"]) == ("0", "off", "local")
    assert go_environment({"GOTOOLCHAIN": "auto"})["GOTOOLCHAIN"] == "auto"


# -- the cache -----------------------------------------------------------------------------------
def test_a_cached_binary_is_found_without_go_or_the_network(fake_go: FakeGo, monkeypatch: pytest.MonkeyPatch) -> None:
    binary = cached_binary(parse_ref(HTTPBIN))
    binary.parent.mkdir(parents=True)
    binary.write_bytes(b"\x7fELF")
    monkeypatch.setenv("PATH", "")
    heard: list[str] = []
    assert build_published(HTTPBIN, progress=heard.append) == binary
    assert heard == []


def test_without_go_a_cold_build_says_how_to_install_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOCHAOS_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("PATH", "")
    with pytest.raises(BuildError, match=r"the Go toolchain was not found on PATH: install Go >= 1\.24"):
        build_published(HTTPBIN)


def test_a_cold_build_announces_itself_and_keeps_its_go_mod_as_the_record(fake_go: FakeGo, tmp_path: Path) -> None:
    fake_go.answer(**module_source(tmp_path), build={"building-module": {"writes": "\x7fELF"}})
    heard: list[str] = []
    binary = build_published(HTTPBIN, progress=heard.append)
    assert heard == [f"building {HTTPBIN} from the Go module proxy (first time only) ..."]
    assert binary == cached_binary(parse_ref(HTTPBIN)) and binary.read_bytes() == b"\x7fELF"
    record = (binary.parent / "go.mod").read_text()
    assert "\ngo 1.22.0\n" in record and "\ngodebug http2client=0\n" in record
    assert record.rstrip().endswith("require github.com/mccutchen/go-httpbin/v2 v2.18.0")
    assert not [p for p in binary.parent.iterdir() if p.name.startswith(".building")]
    calls = fake_go.calls()
    (build,) = [c for c in calls if c["args"][0] == "build"]
    assert build["args"] == ["build", "-trimpath", "-o", build["args"][3], parse_ref(HTTPBIN).package]
    assert build["env"] == {"GOFLAGS": "-mod=mod", "CGO_ENABLED": "0", "GOWORK": "off", "GOTOOLCHAIN": "local"}
    assert [c["args"][-1] for c in calls if c["args"][:2] == ["mod", "download"]] == \
        ["github.com/mccutchen/go-httpbin/v2@v2.18.0"]


# -- what each failure says ----------------------------------------------------------------------
def test_a_version_the_proxy_does_not_serve_names_the_module_and_the_versions_it_lists(fake_go: FakeGo) -> None:
    ref = parse_ref("github.com/mccutchen/go-httpbin/v2/cmd/go-httpbin@v2.99.0")
    listed = "".join(json.dumps({"Path": path, "Error": {"Err": FORBIDDEN.format(path=path, version="v2.99.0")}})
                     for path in ref.candidates())
    versions = "".join(json.dumps({"Path": path, "Versions": ["v2.17.0", "v2.18.0", "v2.18.2", "v2.20.0", "v2.21.0"]}
                                  if path == "github.com/mccutchen/go-httpbin/v2" else
                                  {"Path": path, "Error": {"Err": "403 Forbidden"}}) for path in ref.candidates())
    fake_go.answer(**{"list -m -json": {"stdout": listed}, "list -m -versions": {"stdout": versions}})
    with pytest.raises(BuildError) as raised:
        build_published(str(ref))
    assert str(raised.value) == (
        f"go_install {ref}: the Go module proxy here does not serve github.com/mccutchen/go-httpbin/v2 at v2.99.0 "
        "(403 Forbidden: not available.); pick a version it lists (v2.18.0, v2.18.2, v2.20.0, v2.21.0, newest last; "
        "`go list -m -versions github.com/mccutchen/go-httpbin/v2` shows all) or another service")


def test_a_module_the_proxy_does_not_know_at_all_says_to_check_the_path_or_pick_another_service(
        fake_go: FakeGo) -> None:
    ref = parse_ref("github.com/nobody/nothing@v1.0.0")
    refused = "".join(json.dumps({"Path": path, "Error": {"Err": "404 Not Found\n\tserver response: not found"}})
                      for path in ref.candidates())
    fake_go.answer(**{"list -m -json": {"stdout": refused}, "list -m -versions": {"stdout": refused}})
    with pytest.raises(BuildError, match=r"^go_install github\.com/nobody/nothing@v1\.0\.0: the Go module proxy here "
                                         r"serves no module that github\.com/nobody/nothing is in \(404 Not Found: not "
                                         r"found\); check the path, or pick another service$"):
        build_published(str(ref))


def test_an_unreachable_proxy_says_to_check_goproxy(fake_go: FakeGo) -> None:
    ref = parse_ref("github.com/a/b@v1.0.0")
    err = 'github.com/a/b@v1.0.0: Get "https://proxy.example/github.com/a/b/@v/v1.0.0.info": dial tcp: i/o timeout'
    fake_go.answer(**{"list -m -json": {"stdout": "".join(json.dumps({"Path": p, "Error": {"Err": err}})
                                                   for p in ref.candidates())}})
    with pytest.raises(BuildError, match=r"could not ask the Go module proxy about github\.com/a/b@v1\.0\.0 \(Get "
                                         r".*i/o timeout\); check that it is reachable \(go env GOPROXY\)$"):
        build_published(str(ref))


def test_a_package_the_module_does_not_have_is_named(fake_go: FakeGo, tmp_path: Path) -> None:
    fake_go.answer(**module_source(tmp_path, package="cmd/other"))
    with pytest.raises(BuildError, match=r"no module at v2\.18\.0 has the package .*/v2/cmd/go-httpbin "
                                         r"\(github\.com/mccutchen/go-httpbin/v2 is served but without that "
                                         r"directory\); check the package path"):
        build_published(HTTPBIN)


def test_a_library_package_is_not_a_service(fake_go: FakeGo, tmp_path: Path) -> None:
    fake_go.answer(**module_source(tmp_path), build={"building-module": {"writes": "!<arch>\n"}})
    with pytest.raises(BuildError, match=r"cmd/go-httpbin is not a main package \(it built a library\); name the "
                                         r"package of the command, often github\.com/mccutchen/go-httpbin/v2/cmd/NAME"):
        build_published(HTTPBIN)


def test_a_failed_build_gives_the_last_lines_of_go_on_one_line(fake_go: FakeGo, tmp_path: Path) -> None:
    stderr = "go: downloading example.com/x v1.0.0\n# example.com/x\nx.go:3:1: syntax error\nx.go:9:2: undefined: y\n"
    fake_go.answer(**module_source(tmp_path), build={"building-module": {"stderr": stderr, "rc": 1}})
    with pytest.raises(BuildError) as raised:
        build_published(HTTPBIN)
    assert str(raised.value) == (f"go build {HTTPBIN} failed: # example.com/x | x.go:3:1: syntax error | "
                                 "x.go:9:2: undefined: y")
    assert not cached_binary(parse_ref(HTTPBIN)).exists()


def test_a_release_that_needs_a_newer_go_says_how_to_get_one(fake_go: FakeGo, tmp_path: Path) -> None:
    stderr = "go: go.mod requires go >= 1.99.0 (running go 1.26.8; GOTOOLCHAIN=local)\n"
    fake_go.answer(**module_source(tmp_path), build={"building-module": {"stderr": stderr, "rc": 1}})
    with pytest.raises(BuildError, match=r"requires go >= 1\.99\.0 .*; install that Go, or set GOTOOLCHAIN=auto"):
        build_published(HTTPBIN)


def test_replace_directives_the_build_needs_move_it_into_a_copy_of_the_module(fake_go: FakeGo, tmp_path: Path) -> None:
    fake_go.answer(**module_source(tmp_path, replaces=2),
            build={"building-module": {"stderr": "go: example.com/m0@v0.0.0: invalid version\n", "rc": 1},
                   "module": {"writes": "\x7fELF"}})
    assert build_published(HTTPBIN).read_bytes() == b"\x7fELF"
    builds = [c for c in fake_go.calls() if c["args"][0] == "build"]
    assert [Path(c["cwd"]).name for c in builds] == ["building-module", "module"]
    assert not [p for p in cached_binary(parse_ref(HTTPBIN)).parent.iterdir() if p.name.startswith(".building")]


def test_replacements_by_directories_the_published_module_lacks_are_explained(fake_go: FakeGo, tmp_path: Path) -> None:
    missing = ("go: k8s.io/api@v0.0.0 (replaced by ./staging/src/k8s.io/api): replacement directory "
               "./staging/src/k8s.io/api does not exist\n")
    fake_go.answer(**module_source(tmp_path, replaces=1),
            build={"building-module": {"stderr": "go: k8s.io/api@v0.0.0: invalid version: unknown revision v0.0.0\n",
                                       "rc": 1},
                   "module": {"stderr": missing, "rc": 1}})
    with pytest.raises(BuildError) as raised:
        build_published(HTTPBIN)
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(f"go build {HTTPBIN} failed in a building module that requires "
                              "github.com/mccutchen/go-httpbin/v2@v2.18.0 (go: k8s.io/api@v0.0.0: invalid version")
    assert "inside a copy of that module with its 1 replace/exclude directive(s) (go: k8s.io/api@v0.0.0 " in message
    assert message.endswith("(it replaces modules by directories that its published zip leaves out, so it cannot "
                            "be built from the module proxy alone: pick another service or version)")


# -- scenarios -----------------------------------------------------------------------------------
SCENARIO = f"""
name: published
targets:
  - name: httpbin
    go_install: {HTTPBIN}
    command: ["{{binary}}", "-host", "{{host}}", "-port", "{{port}}"]
    ready_path: /status/200
load: null
"""


def test_a_go_install_target_plans_its_binary_without_building_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                   ) -> None:
    monkeypatch.setenv("GOCHAOS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("PATH", "")
    scenario = parse_scenario(SCENARIO, str(tmp_path / "p.chaos.yaml"))
    plan = build_plan(scenario, tmp_path, platform="local", seed=1)
    assert plan.targets[0].go_install == HTTPBIN
    assert f"  httpbin: <{HTTPBIN} binary> -host 127.0.0.1 -port <free port>" in describe(plan)
    assert not (tmp_path / "cache").exists()


@pytest.mark.parametrize(("change", "message"), [
    (("go-httpbin@v2.18.0", "go-httpbin@latest"),
     r"p\.yaml:5: targets\.0\.go_install: 'latest' in '.*@latest' is not a pinned version"),
    (("    go_install:", "    bundled: configd\n    go_install:"),
     r"p\.yaml:4: targets\.0: give `bundled` \(a bundled target\) or `go_install` \(a published Go service\), "
     r"not both"),
    (('["{binary}", ', '["./httpbin", '),
     r"targets\.0: a `go_install` target runs its built binary as \{binary\}: give a `command` that uses it"),
    (('    command: ["{binary}", "-host", "{host}", "-port", "{port}"]\n', ""),
     r"targets\.0: a `go_install` target runs its built binary as \{binary\}"),
    (("    go_install", "    build: .\n    go_install"), r"targets\.0: give `go_install` \(a published Go service\) "
                                                        r"or `build` \(your own source\), not both"),
])
def test_a_go_install_target_is_checked_when_the_scenario_loads(change: tuple[str, str], message: str) -> None:
    text = SCENARIO.replace(*change)
    assert text != SCENARIO
    with pytest.raises(ScenarioError, match=message):
        parse_scenario(text, "p.yaml")


def test_the_built_binary_is_what_the_local_platform_puts_in_binary(fake_go: FakeGo, tmp_path: Path) -> None:
    from chaos.build import Binaries

    fake_go.answer(**module_source(tmp_path), build={"building-module": {"writes": "\x7fELF"}})
    heard: list[str] = []
    binaries = Binaries(progress=heard.append)
    first = binaries.published(HTTPBIN)
    assert binaries.published(HTTPBIN) == first == cached_binary(parse_ref(HTTPBIN))
    assert binaries.paths == {HTTPBIN: first} and len(heard) == 1

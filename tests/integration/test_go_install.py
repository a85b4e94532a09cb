"""Published Go services (`go_install`) built with the real go command, then run.

One test builds go-httpbin (a small stdlib-only HTTP service, its command in a sub-package of its
module) from the Go module proxy into an empty cache and runs the README's example scenario on it
(GOGC=5 under load), then asks for it again and gets the cached binary at once. The others serve made-up modules from a file://
module proxy, so the fallback into a copy of the module (replace directives) is checked offline.
"""

from __future__ import annotations

import json
import subprocess
import time
import zipfile
from pathlib import Path

import pytest

from chaos.build import Binaries
from chaos.errors import BuildError
from chaos.published import build_published, cached_binary, parse_ref
from chaos.runner import run_scenario
from chaos.scenario import load_scenario
from chaos.verdict import Status

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).parent / "user_service" / "go-httpbin.chaos.yaml"
HTTPBIN = "github.com/mccutchen/go-httpbin/v2/cmd/go-httpbin@v2.18.0"


@pytest.mark.slow
def test_a_published_service_is_built_from_the_proxy_once_and_then_run_from_the_cache(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOCHAOS_CACHE_DIR", str(tmp_path / "cache"))
    heard: list[str] = []
    started = time.monotonic()
    result = run_scenario(load_scenario(EXAMPLE), base_dir=EXAMPLE.parent, run_dir=tmp_path / "run",
                          binaries=Binaries(progress=heard.append))
    cold_s = time.monotonic() - started
    assert result.verdict.status is Status.PASS, result.verdict
    (gc,) = [f for f in result.verdict.findings if f.check == "fault:gc_pressure#1"]
    assert gc.figures["gc_per_s_during"] > gc.figures["gc_per_s_before"]
    assert heard == [f"building {HTTPBIN} from the Go module proxy (first time only) ..."]
    binary = cached_binary(parse_ref(HTTPBIN))
    assert "require github.com/mccutchen/go-httpbin/v2 v2.18.0" in (binary.parent / "go.mod").read_text()
    assert "github.com/mccutchen/go-httpbin/v2 v2.18.0 h1:" in (binary.parent / "go.sum").read_text()
    assert "go-httpbin listening on http://127.0.0.1:" in result.target_logs["httpbin"]

    started = time.monotonic()
    assert build_published(HTTPBIN, progress=heard.append) == binary
    warm_s = time.monotonic() - started
    assert warm_s < 1.0 and len(heard) == 1, f"the second build was not the cached binary ({warm_s:.2f}s)"
    print(f"go-httpbin: cold build and run {cold_s:.1f}s, cached {warm_s * 1000:.1f} ms")


# -- a file:// module proxy of made-up modules -----------------------------------------------------
LIB_GO = 'package lib\n\nconst Word = "lib v1.0.0"\n'
MAIN_GO = ('package main\n\nimport (\n\t"fmt"\n\n\t"gochaos.test/lib"\n)\n\n'
           'func main() { fmt.Println("svc uses", lib.Word) }\n')


def publish(proxy: Path, module: str, version: str, files: dict[str, str]) -> None:
    """Put `module@version` with `files` into a file:// module proxy (the layout `go help goproxy` describes)."""
    versions = proxy / module / "@v"
    versions.mkdir(parents=True, exist_ok=True)
    with (versions / "list").open("a") as listing:
        listing.write(version + "\n")
    (versions / f"{version}.info").write_text(json.dumps({"Version": version, "Time": "2025-01-01T00:00:00Z"}))
    (versions / f"{version}.mod").write_text(files["go.mod"])
    with zipfile.ZipFile(versions / f"{version}.zip", "w") as archive:
        for name, text in files.items():
            archive.writestr(f"{module}@{version}/{name}", text)


@pytest.fixture
def made_up_proxy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """gochaos.test/svc requires gochaos.test/lib at v0.0.0, which no proxy has: v1.0.0 replaces it by
    lib v1.0.0 (a replace its build needs), v1.1.0 by a directory its zip cannot hold."""
    proxy = tmp_path / "proxy"
    publish(proxy, "gochaos.test/lib", "v1.0.0", {"go.mod": "module gochaos.test/lib\n\ngo 1.22\n", "lib.go": LIB_GO})
    svc_mod = ("module gochaos.test/svc\n\ngo 1.22\n\nrequire gochaos.test/lib v0.0.0\n\n"
               "replace gochaos.test/lib => {}\n")
    publish(proxy, "gochaos.test/svc", "v1.0.0", {"go.mod": svc_mod.format("gochaos.test/lib v1.0.0"),
                                                  "cmd/svc/main.go": MAIN_GO})
    publish(proxy, "gochaos.test/svc", "v1.1.0", {"go.mod": svc_mod.format("./lib"), "cmd/svc/main.go": MAIN_GO})
    monkeypatch.setenv("GOPROXY", f"file://{proxy}")
    monkeypatch.setenv("GONOSUMDB", "gochaos.test")
    monkeypatch.setenv("GOMODCACHE", str(tmp_path / "modcache"))
    monkeypatch.setenv("GOFLAGS", "-modcacherw")
    monkeypatch.setenv("GOCHAOS_CACHE_DIR", str(tmp_path / "cache"))
    return proxy


def test_a_module_whose_build_needs_its_replace_directives_is_built_inside_a_copy_of_it(made_up_proxy: Path) -> None:
    binary = build_published("gochaos.test/svc/cmd/svc@v1.0.0")
    assert binary.name == "svc"
    assert subprocess.run([binary], capture_output=True, text=True, check=True).stdout == "svc uses lib v1.0.0\n"
    record = (binary.parent / "go.mod").read_text()
    assert record.startswith("module gochaos.test/svc") and "replace gochaos.test/lib => gochaos.test/lib v1.0.0" in \
        record, "the record is not the module's own go.mod"


def test_a_replacement_directory_the_published_module_lacks_is_explained(made_up_proxy: Path) -> None:
    with pytest.raises(BuildError, match=r"inside a copy of that module with its 1 replace/exclude directive\(s\) "
                                         r"\(.*replacement directory.*\).* it cannot be built from the module proxy "
                                         r"alone: pick another service or version\)$"):
        build_published("gochaos.test/svc/cmd/svc@v1.1.0")
    assert not cached_binary(parse_ref("gochaos.test/svc/cmd/svc@v1.1.0")).exists()


def test_a_version_the_proxy_lacks_names_the_module_and_the_versions_it_has(made_up_proxy: Path) -> None:
    with pytest.raises(BuildError, match=r"does not serve gochaos\.test/svc at v9\.0\.0 \(.*\); pick a version it "
                                         r"lists \(v1\.0\.0, v1\.1\.0, newest last;"):
        build_published("gochaos.test/svc/cmd/svc@v9.0.0")

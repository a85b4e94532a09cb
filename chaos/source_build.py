"""Building the team's own Go service from its source directory: a scenario's `build: DIR`.

A service nobody published (a branch, the commit with the bug, a repository the scenario sits in)
is named by the directory of its main package. It is built as `go build` builds it inside its own
module (the go.mod found walking up from DIR; GOWORK=off, so the module alone decides what is
built, never a workspace the key would not see), with the flags and environment of every build of
the suite (chaos.build: -trimpath, static; cgo and the race detector when asked; no GODEBUG).

The binary is cached at <cache>/source/<key>/<name>, under the same lock as every build, and the
key is a hash of what the build reads: go.mod, go.sum and every non-test .go file of the module
(nested modules, testdata and dot or underscore directories left out, as go leaves them), the
package's place in it, the toolchain's `go version`, the environment that changes the output
(GOFLAGS, GOEXPERIMENT, GOOS, GOARCH) and race on or off. Editing a test rebuilds nothing; any
other edit builds once, and every later run finds the binary after one pass over the sources.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from chaos.build import (
    BUILD_TIMEOUT_S,
    cache_dir,
    cache_lock,
    go_build_argv,
    go_build_env,
    go_executable,
    go_version,
    last_lines,
    require_c_compiler,
)
from chaos.errors import BuildError

#: Environment variables that change what `go build` makes of the same source: part of the key.
KEYED_ENV = ("GOFLAGS", "GOEXPERIMENT", "GOOS", "GOARCH")
#: Bumped when what the key covers changes, so an old entry is never taken for a new one.
_KEY_VERSION = "source-build 1"
_PACKAGE_CLAUSE = re.compile(r"^\s*package\s+([A-Za-z_][A-Za-z0-9_]*)", re.MULTILINE)


@dataclass(frozen=True)
class SourcePackage:
    """A main package in a directory of a Go module on disk."""

    directory: Path
    """The package's directory (absolute)."""
    module: Path
    """The directory of the go.mod above it: what the build reads, and what the key hashes."""

    @property
    def binary_name(self) -> str:
        """The name `go build` gives the binary: the directory's."""
        return self.directory.name


def locate(directory: Path) -> SourcePackage:
    """`directory` checked to be a main package of a Go module, reading files only (the plan checks it too).

    BuildError when it is missing, has no go.mod above it, no Go files, or no file in it says `package main`
    (a build tag may still leave it a library: the build finds that out).
    """
    directory = directory.resolve()
    if not directory.is_dir():
        why = "is not a directory" if directory.exists() else "does not exist"
        raise BuildError(f"{directory} {why}: `build` names the directory of your service's main package, relative "
                         "to the scenario file (e.g. ../cmd/myservice)")
    module = next((d for d in (directory, *directory.parents) if (d / "go.mod").is_file()), None)
    if module is None:
        raise BuildError(f"{directory} is in no Go module (no go.mod in it or above it): point `build` at a package "
                         "of a module, or run `go mod init` at its root")
    names = {_package_name(path) for path in _go_files(directory)}
    if not names:
        raise BuildError(f"{directory} has no Go files (other than tests): point `build` at the directory of your "
                         "service's main package")
    if "main" not in names:
        held = ", ".join(sorted(n for n in names if n)) or "no package clause go reads"
        raise BuildError(f"{directory} holds package {held}, not a main package: point `build` at the directory "
                         "of a command (`package main`), often cmd/NAME")
    return SourcePackage(directory, module)


def source_key(package: SourcePackage, toolchain: str, *, race: bool, environ: Mapping[str, str] | None = None) -> str:
    """The cache key of `package` built by `toolchain` (`go version`'s answer) with or without race."""
    env = os.environ if environ is None else environ
    digest = hashlib.sha256(f"{_KEY_VERSION}\n{toolchain.strip()}\nrace={race}\n".encode())
    digest.update(f"package={package.directory.relative_to(package.module).as_posix()}\n".encode())
    for name in KEYED_ENV:
        digest.update(f"{name}={env.get(name, '')}\n".encode())
    for path in sorted(module_inputs(package.module)):
        data = path.read_bytes()
        digest.update(f"{path.relative_to(package.module).as_posix()}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()[:24]


def module_inputs(module: Path) -> Iterator[Path]:
    """What a build of a package of `module` may read: go.mod, go.sum, every non-test .go file of the module."""
    for record in ("go.mod", "go.sum"):
        if (module / record).is_file():
            yield module / record
    for folder, subdirs, files in os.walk(module):
        here = Path(folder)
        subdirs[:] = [d for d in subdirs if not d.startswith((".", "_")) and d != "testdata"
                      and not (here / d / "go.mod").is_file()]
        yield from (here / f for f in files if f.endswith(".go") and not f.endswith("_test.go"))


def source_dir() -> Path:
    """Where builds of own sources are cached: <build cache>/source."""
    return cache_dir() / "source"


def build_source(directory: Path, *, race: bool = False, progress: Callable[[str], None] | None = None) -> Path:
    """The binary of the main package in `directory`, built on the first use of its present source.

    `progress` hears one line when a build starts. BuildError for a directory that is not a main package of
    a Go module, no Go on PATH, no C compiler for a race build, or a failed build (go's last lines).
    """
    package = locate(directory)
    go = go_executable()
    env = {**go_build_env(race=race), "GOWORK": "off"}
    out = source_dir() / source_key(package, go_version(go), race=race, environ=env) / package.binary_name
    if out.is_file():
        return out
    if race:
        require_c_compiler(go, env, f"build {package.directory}")
    with cache_lock(out.parent / ".lock"):
        if out.is_file():  # built by another run while this one waited
            return out
        if progress is not None:
            progress(f"building {package.directory}{' with the race detector' if race else ''} (first time for "
                     "this source) ...")
        _build(go, package, out, env, race)
    return out


def _build(go: str, package: SourcePackage, out: Path, env: dict[str, str], race: bool) -> None:
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        result = subprocess.run(go_build_argv(go, tmp, ".", race=race), cwd=package.directory, env=env,
                                capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        tmp.unlink(missing_ok=True)
        raise BuildError(f"go build in {package.directory} was still running after {BUILD_TIMEOUT_S / 60:g} min "
                         "and was stopped; build it by hand to see why") from None
    if result.returncode != 0 or not tmp.is_file():
        tmp.unlink(missing_ok=True)
        said = last_lines(result.stderr + result.stdout, 12, joined="\n  ") or f"exit status {result.returncode}"
        raise BuildError(f"go build{' -race' if race else ''} in {package.directory} (module {package.module}) "
                         f"failed:\n  {said}")
    with tmp.open("rb") as built:
        library = built.read(7) == b"!<arch>"
    if library:
        tmp.unlink()
        raise BuildError(f"{package.directory} built a library, not a command (its `package main` files are left "
                         "out by build tags): point `build` at the directory of your service's main package")
    (out.parent / "built-from.txt").write_text(
        f"{package.directory}\nmodule {package.module}\n{go_version(go).strip()}\nrace={race}\n", encoding="utf-8")
    tmp.replace(out)


def _go_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.glob("*.go") if not p.name.endswith("_test.go") and p.is_file())


def _package_name(path: Path) -> str:
    """The name in the file's package clause ("" when there is none to read)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.DOTALL)  # a block comment may hold the word package
    found = _PACKAGE_CLAUSE.search(text)
    return found.group(1) if found else ""

"""Building main packages of a published Go module version from the Go module proxy, cached by version.

A scenario can name its service as `go install` would (`MODULE[/PKG]@VERSION`) instead of a
binary someone built by hand. `go install pkg@version` refuses modules whose go.mod has replace
directives, so the package is built in a throwaway "building module" whose generated go.mod
requires that version (go.sum is filled from the proxy and checked against the checksum database,
as for any dependency); the release's replace directives do not apply there. When that build
fails and the module's go.mod has replace directives, the build needs them: it is done again
inside a copy of the downloaded module, where the release's go.mod is the main one. A directory
replace still fails there, since module zips leave nested modules out; the error says so.

The binary is cached at <cache>/published/<quoted ref>/<name> (<quoted ref>+race/ for a race
build), next to the go.mod and go.sum it was built with (the record of exactly what was built), and
found there again without asking Go or the network. The cache key is the ref itself, so a warm start
costs one stat. The build's flags and environment are chaos.build's, as for every build of the suite.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from chaos.build import (
    BUILD_TIMEOUT_S,
    cache_dir,
    cache_lock,
    go_build_argv,
    go_build_env,
    go_executable,
    last_lines,
    require_c_compiler,
)
from chaos.errors import BuildError

QUERY_TIMEOUT_S = 5 * 60.0
#: Module path of the generated building module (.invalid: it can never clash with a real one).
BUILDING_MODULE = "gochaos.invalid/published"

_ELEMENT = re.compile(r"^[A-Za-z0-9~+][A-Za-z0-9._~+-]*$")
_VERSION = re.compile(r"^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?(\+incompatible)?$")
_MAJOR = re.compile(r"^v[0-9]+$")
#: How a proxy (or the origin, in direct mode; or a file:// proxy) says it has no such module version.
_REFUSED = re.compile(r"\b(403|404|410)\b|server response:|not found|not available|no matching versions|"
                      r"unknown revision|invalid version|no such file or directory", re.IGNORECASE)


@dataclass(frozen=True)
class PublishedRef:
    """A main package at a pinned version: what `go install` takes (MODULE[/PKG]@VERSION)."""

    package: str
    version: str

    def __str__(self) -> str:
        return f"{self.package}@{self.version}"

    @property
    def binary_name(self) -> str:
        """The name `go install` gives the binary: the last path element, or the one before a /vN suffix."""
        parts = self.package.split("/")
        return parts[-2] if len(parts) > 1 and _MAJOR.match(parts[-1]) else parts[-1]

    @property
    def cache_key(self) -> str:
        """One directory name per ref, reversible, so no two refs share a cached binary."""
        return quote(str(self), safe="@.-_~+")

    def candidates(self) -> list[str]:
        """Module paths that may provide the package, longest first (go's own rule: the longest that has it)."""
        parts = self.package.split("/")
        return ["/".join(parts[:n]) for n in range(len(parts), 0, -1)]


def parse_ref(ref: str) -> PublishedRef:
    """`MODULE[/PKG]@VERSION` checked for shape only (nothing is asked of Go); ValueError saying what to write."""
    example = "e.g. github.com/mccutchen/go-httpbin/v2/cmd/go-httpbin@v2.18.0"
    package, at, version = ref.strip().rpartition("@")
    if not at or not package:
        raise ValueError(f"{ref!r} names no version: write MODULE[/PKG]@VERSION, {example}")
    if not _VERSION.match(version):
        raise ValueError(f"{version!r} in {ref!r} is not a pinned version: give a full semantic version starting "
                         f"with v (v1.2.3, or a pseudo-version), not a branch or a query like latest; {example}")
    elements = package.split("/")
    if not all(_ELEMENT.match(e) and not e.endswith(".") for e in elements) or "." not in elements[0]:
        raise ValueError(f"{package!r} in {ref!r} is not a Go package path: its first element is a host name "
                         f"(with a dot) and it has no empty, '.' or '..' elements; {example}")
    return PublishedRef(package, version)


def published_dir() -> Path:
    """Where published builds are cached: <build cache>/published."""
    return cache_dir() / "published"


def cached_binary(ref: PublishedRef, *, race: bool = False) -> Path:
    """Where the binary of `ref` is (or will be) cached; a race build beside it, its key suffixed +race (no
    pinned version ends so)."""
    return published_dir() / (f"{ref.cache_key}+race" if race else ref.cache_key) / ref.binary_name


def build_published(ref: str, *, race: bool = False, progress: Callable[[str], None] | None = None) -> Path:
    """The binary of main package `ref` (MODULE[/PKG]@VERSION), built from the Go module proxy on first use,
    with the race detector when `race`.

    `progress` hears one line when a cold build starts. BuildError for a ref of the wrong shape, a
    version the proxy does not serve, a package that is not there or not a main package, a failed
    build (its last lines), no Go on PATH, or no C compiler for a race build.
    """
    try:
        parsed = parse_ref(ref)
    except ValueError as e:
        raise BuildError(f"go_install: {e}") from None
    out = cached_binary(parsed, race=race)
    if out.is_file():
        return out
    go = go_executable()
    if race:
        require_c_compiler(go, go_environment(race=True), f"go_install {parsed}")
    with cache_lock(out.parent / ".lock"):
        if out.is_file():  # built by another run while this one waited
            return out
        if progress is not None:
            progress(f"building {parsed}{' with the race detector' if race else ''} from the Go module proxy "
                     "(first time only) ...")
        work = out.parent / f".building.{os.getpid()}"
        _remove_tree(work)
        try:
            _build(parsed, go, work, out, race)
        finally:
            _remove_tree(work)
    return out


# -- the build -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Module:
    """The downloaded module that provides the package."""

    path: str
    version: str
    directory: Path
    """Its extracted source in the module cache (read-only)."""
    go: str | None
    """Its go.mod's `go` line, so the building module gets the release's language and GODEBUG defaults."""
    godebug: tuple[str, ...]
    replaces: int
    """How many replace (and exclude) directives its go.mod has: what the building module leaves out."""


def go_environment(environ: dict[str, str] | None = None, *, race: bool = False) -> dict[str, str]:
    """The go command's environment: a build's (chaos.build.go_build_env: static, or cgo for a race build; no
    GODEBUG), with modules resolved and go.sum filled as needed, no workspace, and the installed Go only
    (GOTOOLCHAIN=local) unless the user set GOTOOLCHAIN."""
    env = go_build_env(race=race, environ=environ)
    flags = [flag for flag in env.get("GOFLAGS", "").split() if not flag.startswith("-mod=")]
    env.update(GOFLAGS=" ".join([*flags, "-mod=mod"]), GOWORK="off")
    env.setdefault("GOTOOLCHAIN", "local")
    return env


def _build(ref: PublishedRef, go: str, work: Path, out: Path, race: bool) -> None:
    """Resolve, build in a building module (else in a copy of the module), check it is a command, cache it."""
    env = go_environment(race=race)
    building = work / "building-module"
    building.mkdir(parents=True)
    (building / "go.mod").write_text(f"module {BUILDING_MODULE}\n")  # so no go.mod above the cache is used
    module = _resolve(ref, go, env, building)
    (building / "go.mod").write_text(_building_go_mod(ref, module))
    binary = work / ref.binary_name
    failed = _go_build(go, ref.package, building, binary, env, race)
    built_in = building
    if failed is not None:
        if not module.replaces:
            raise BuildError(f"go build {ref} failed: {failed}{_toolchain_hint(failed)}")
        inside = work / "module"
        _copy_module(module.directory, inside)
        again = _go_build(go, ref.package, inside, binary, env, race)
        if again is not None:
            directory_replace = "replacement directory" in again and "does not exist" in again
            why = (" (it replaces modules by directories that its published zip leaves out, so it cannot be built "
                   "from the module proxy alone: pick another service or version)" if directory_replace else "")
            raise BuildError(f"go build {ref} failed in a building module that requires {module.path}@{module.version} "
                             f"({failed}) and inside a copy of that module with its {module.replaces} replace/exclude "
                             f"directive(s) ({again}){why}{_toolchain_hint(again)}")
        built_in = inside
    with binary.open("rb") as built:
        library = built.read(7) == b"!<arch>"
    if library:
        raise BuildError(f"go_install {ref}: {ref.package} is not a main package (it built a library); name the "
                         f"package of the command, often {module.path}/cmd/NAME")
    for record in ("go.mod", "go.sum"):
        if (built_in / record).is_file():
            shutil.copyfile(built_in / record, out.parent / record)
    binary.replace(out)


def _building_go_mod(ref: PublishedRef, module: _Module) -> str:
    """The generated go.mod: requires the module version, with the release's go line and godebug settings."""
    lines = [f"// Generated by gochaos (chaos.published) to build {ref} from the Go module proxy.",
             f"module {BUILDING_MODULE}", ""]
    if module.go:
        lines += [f"go {module.go}", ""]
    lines += [f"godebug {setting}" for setting in module.godebug]
    lines += [f"require {module.path} {module.version}"]
    return "\n".join(lines) + "\n"


def _resolve(ref: PublishedRef, go: str, env: dict[str, str], cwd: Path) -> _Module:
    """The module providing `ref.package`: the longest path prefix the proxy serves at the version that has
    the package's directory, as `go install` picks it."""
    queries = [f"{path}@{ref.version}" for path in ref.candidates()]
    answers = _json_objects(_go(go, ["list", "-m", "-json", "-e", *queries], env, cwd, what="go list -m"))
    errors = [(str(a.get("Path")), str((a.get("Error") or {}).get("Err", ""))) for a in answers if a.get("Error")]
    served = [str(a["Path"]) for a in answers if not a.get("Error")]
    if not served:
        raise _not_served(ref, errors, go, env, cwd)
    for path in served:
        module = _download(path, ref.version, go, env, cwd)
        below = ref.package.removeprefix(path).lstrip("/")
        folder = module.directory / below
        if folder.is_dir() and any(p.suffix == ".go" and not p.name.endswith("_test.go") for p in folder.iterdir()):
            return module
    raise BuildError(f"go_install {ref}: no module at {ref.version} has the package {ref.package} ("
                     f"{', '.join(served)} {'is' if len(served) == 1 else 'are'} served but without that directory); "
                     f"check the package path, e.g. {served[0]}/cmd/NAME")


def _download(path: str, version: str, go: str, env: dict[str, str], cwd: Path) -> _Module:
    text = _go(go, ["mod", "download", "-json", f"{path}@{version}"], env, cwd, what="go mod download",
               allow_failure=True)
    (info,) = _json_objects(text) or [{"Error": text.strip() or "no answer"}]
    if info.get("Error"):
        raise BuildError(f"go mod download {path}@{version} failed: {last_lines(str(info['Error']), 2)}; check "
                         "GOPROXY and GOSUMDB (go env)")
    go_mod = json.loads(_go(go, ["mod", "edit", "-json", str(info["GoMod"])], env, cwd, what="go mod edit -json"))
    godebug = tuple(f"{d['Key']}={d['Value']}" for d in go_mod.get("Godebug") or ())
    return _Module(path=path, version=version, directory=Path(info["Dir"]), go=(go_mod.get("Go") or None),
                   godebug=godebug, replaces=len(go_mod.get("Replace") or ()) + len(go_mod.get("Exclude") or ()))


def _not_served(ref: PublishedRef, errors: list[tuple[str, str]], go: str, env: dict[str, str],
                cwd: Path) -> BuildError:
    """Why no prefix of the package is a module at the version: the proxy refused (then which versions it
    lists, if a prefix is a module it knows), or it could not be reached."""
    refused = [(path, error) for path, error in errors if _REFUSED.search(error)]
    if not refused:
        path, error = errors[0] if errors else (ref.package, "no answer")
        return BuildError(f"go_install {ref}: could not ask the Go module proxy about {path}@{ref.version} "
                          f"({last_lines(error.removeprefix(f'{path}@{ref.version}: '), 1)}); check that it is "
                          "reachable (go env GOPROXY)")
    answered = [error for _, error in refused if "server response:" in error]
    reason = _reason((answered or [refused[0][1]])[0])
    listed = _json_objects(_go(go, ["list", "-m", "-versions", "-json", "-e", *ref.candidates()], env, cwd,
                               what="go list -m -versions", allow_failure=True))
    known = [(str(a["Path"]), [str(v) for v in a["Versions"]]) for a in listed
             if not a.get("Error") and a.get("Versions")]
    if known:
        path, versions = known[0]
        return BuildError(f"go_install {ref}: the Go module proxy here does not serve {path} at {ref.version} "
                          f"({reason}); pick a version it lists ({', '.join(versions[-4:])}, newest last; "
                          f"`go list -m -versions {path}` shows all) or another service")
    return BuildError(f"go_install {ref}: the Go module proxy here serves no module that {ref.package} is in "
                      f"({reason}); check the path, or pick another service")


def _reason(error: str) -> str:
    """The proxy's answer in a few words: '403 Forbidden: This module version is not available.'"""
    status = re.search(r"(?:^|\s)([1-5][0-9]{2} [A-Z][A-Za-z ]*)", error)
    said = re.search(r"server response:\s*([^\n]*)", error)
    parts = [m.group(1).strip() for m in (status, said) if m is not None]
    return ": ".join(parts) if parts else last_lines(error, 1)


def _go_build(go: str, package: str, cwd: Path, binary: Path, env: dict[str, str], race: bool) -> str | None:
    """Build `package` into `binary` from `cwd`; None when it worked, else the last lines of go's output."""
    try:
        result = subprocess.run(go_build_argv(go, binary, package, race=race), cwd=cwd, env=env,
                                capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise BuildError(f"go build {package} was still running after {BUILD_TIMEOUT_S / 60:g} min and was "
                         "stopped; build it by hand to see why") from None
    if result.returncode == 0 and binary.is_file():
        return None
    return last_lines(result.stderr + result.stdout, 4) or f"exit status {result.returncode}"


def _go(go: str, args: list[str], env: dict[str, str], cwd: Path, *, what: str, allow_failure: bool = False) -> str:
    try:
        result = subprocess.run([go, *args], cwd=cwd, env=env, capture_output=True, text=True,
                                timeout=QUERY_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise BuildError(f"{what} got no answer in {QUERY_TIMEOUT_S:g}s; check that the Go module proxy is "
                         "reachable (go env GOPROXY)") from None
    if result.returncode != 0 and not allow_failure:
        raise BuildError(f"{what} failed: {last_lines(result.stderr, 2)}; check the Go installation and go env")
    return result.stdout


def _json_objects(text: str) -> list[dict[str, Any]]:
    """The JSON objects the go command prints one after another."""
    decoder, objects, at = json.JSONDecoder(), list[dict[str, Any]](), 0
    while (start := text.find("{", at)) != -1:
        value, at = decoder.raw_decode(text, start)
        objects.append(value)
    return objects


def _toolchain_hint(failed: str) -> str:
    if "GOTOOLCHAIN=local" in failed:
        return "; install that Go, or set GOTOOLCHAIN=auto so the go command fetches it"
    return ""


def _copy_module(source: Path, target: Path) -> None:
    """A writable copy of a module from the (read-only) module cache: go may add to its go.mod and go.sum."""
    shutil.copytree(source, target, copy_function=shutil.copyfile)
    for folder, _, _ in os.walk(target):
        os.chmod(folder, 0o755)


def _remove_tree(path: Path) -> None:
    """Remove a build's work tree, copies of read-only module folders included."""
    if not path.exists():
        return
    for folder, _, _ in os.walk(path):
        with contextlib.suppress(OSError):
            os.chmod(folder, 0o755)
    shutil.rmtree(path, ignore_errors=True)

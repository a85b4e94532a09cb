"""What `gochaos init` was given, and what follows from it alone: the target's name, the config copy's
name, how argv names the config file, the placeholder values of a run, the command line for the header."""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from chaos.errors import UsageError
from chaos.init import config_addresses
from chaos.ports import LOOPBACK

_NAME = re.compile(r"[^a-z0-9-]+")


@dataclass(frozen=True)
class InitRequest:
    """What `gochaos init` was given."""

    #: argv template: argv[0] is the binary's path, or `{binary}` with `go_install` / `build`.
    argv: tuple[str, ...]
    go_install: str | None = None
    build: Path | None = None
    config: Path | None = None
    name: str | None = None
    #: The scenario file to write (its config copy goes beside it).
    out: Path | None = None
    force: bool = False


def run_values(binary: str, config: Path | None, workdir: Path, scenario_dir: Path, port: int,
               named: Mapping[str, int]) -> dict[str, str]:
    """The placeholder values of one init run: its binary, config copy, scratch dir and free ports."""
    values = {"binary": binary, "config": str(config) if config else "", "workdir": str(workdir),
              "host": LOOPBACK, "port": str(port), "listen": f"{LOOPBACK}:{port}",
              "scenario_dir": str(scenario_dir), "etcd_endpoints": ""}
    for name, number in named.items():
        values[f"port.{name}"] = str(number)
        values[f"listen.{name}"] = f"{LOOPBACK}:{number}"
    return values


def argv_config_words(config: Path | None, argv: tuple[str, ...]) -> set[str]:
    """How argv names the config file: its path as given, absolute, its name, or any word that is that file."""
    if config is None:
        return set()
    values = [w.partition("=")[2] if w.startswith("-") and "=" in w else w for w in argv[1:]]
    return config_addresses.config_words(config, [v for v in values if v and Path(v).resolve() == config.resolve()])


def relative(path: Path, base: Path) -> str:
    """`path` as a scenario in `base` names it: `./...` when it lies below, else absolute."""
    try:
        return f"./{path.resolve().relative_to(base.resolve())}"
    except ValueError:
        return str(path.resolve())


def with_binary(argv: tuple[str, ...]) -> list[str]:
    """argv of a built service: `{binary}` first."""
    return list(argv) if argv and argv[0] == "{binary}" else ["{binary}", *argv]


def target_name(raw: str) -> str:
    """A valid target and scenario name from `raw` (the binary's name, or --name)."""
    name = _NAME.sub("-", raw.lower()).strip("-")
    name = re.sub(r"^[^a-z]+", "", name)[:40].rstrip("-")
    if not name:
        raise UsageError(f"cannot make a target name of {raw!r}: give --name NAME (lowercase letters, digits, -)")
    return name


def copy_name(config: Path) -> str:
    """The config copy's name: `nats.conf` -> `nats.init.conf` (same extension, so the same format),
    `Corefile` -> `Corefile-init`."""
    return f"{config.stem}.init{config.suffix}" if config.suffix else f"{config.name}-init"


def read_config(path: Path | None) -> str | None:
    """The config file's text (None: none given); UsageError when it cannot be read."""
    if path is None:
        return None
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"--config {path}: cannot read it ({getattr(e, 'strerror', None) or e}); give the service's "
                         "config file") from e


def refuse_overwrite(paths: list[Path], request: InitRequest) -> None:
    """UsageError when a file init would write exists and --force was not given."""
    existing = [str(p) for p in paths if p.exists()]
    if existing and not request.force:
        raise UsageError(f"{', '.join(existing)} already exist(s): pass --force to overwrite, or --out elsewhere")


def invocation(request: InitRequest) -> str:
    """The init command line, for the scenario's header."""
    words = ["gochaos", "init"]
    if request.go_install:
        words += ["--go-install", request.go_install]
    if request.build:
        words += ["--build", str(request.build)]
    if request.config:
        words += ["--config", str(request.config)]
    return " ".join([*words, "--", *(shlex.quote(w) if " " in w or not w else w for w in request.argv)])

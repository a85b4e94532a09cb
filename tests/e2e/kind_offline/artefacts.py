"""Content-keyed build outputs: built once, then reused until one of their inputs changes.

Every expensive artefact (kind, Go toolchain, Kubernetes binaries, root filesystem, node image)
is stored under a name derived from a hash of what went into it, so a warm run finds it and a
changed input builds a new one beside the old. A build writes into a temporary sibling and
renames it into place only when complete, so an interrupted build never leaves a half artefact
that a later run would trust. Concurrent sessions building the same thing wait for each other
on a lock file (bounded) instead of building twice.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

from . import locks
from .errors import BuildFailed

LOCK_TIMEOUT = 45 * 60.0  # a cold Kubernetes build on 2 busy cores stays well below this


def input_key(recipe: dict[str, object], files: Iterable[Path] = (), *, length: int = 16) -> str:
    """A short hex digest of a JSON-able recipe plus the paths and contents of `files`.

    Paths count relative to this package (so the key is the same in every checkout); a symlink
    counts by its target, so adding a systemd mask or enablement link changes the key too.
    """
    digest = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode())
    for path in sorted(files):
        digest.update(_stable_name(path).encode() + b"\0")
        digest.update(b"link:" + str(path.readlink()).encode() if path.is_symlink() else path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:length]


def tree_files(root: Path) -> list[Path]:
    """Every regular file and symlink under `root`, for hashing a directory of inputs."""
    return sorted(
        p for p in root.rglob("*") if (p.is_symlink() or p.is_file()) and "__pycache__" not in p.parts
    )


def _stable_name(path: Path) -> str:
    try:
        return path.absolute().relative_to(Path(__file__).parent.absolute()).as_posix()
    except ValueError:
        return path.name


def ensure(path: Path, build: Callable[[Path], None], *, what: str) -> Path:
    """Return `path`, first calling `build(tmp)` to create it (file or directory) if missing.

    `build` must create `tmp` (a sibling of `path` that does not exist yet); it is renamed to
    `path` when `build` returns, and removed if it raises.
    """
    if path.exists():
        return path
    with exclusive(path.parent / f".{path.name}.lock", what=what):
        if path.exists():  # another session built it while we waited
            return path
        tmp = path.parent / f".{path.name}.{os.getpid()}.tmp"
        _remove(tmp)
        try:
            build(tmp)
            if not tmp.exists():
                raise BuildFailed(f"{what}: the build step produced nothing at {tmp}; this is a bug in kind_offline")
            tmp.rename(path)
        finally:
            _remove(tmp)
    return path


def exclusive(lock_path: Path, *, what: str) -> contextlib.AbstractContextManager[None]:
    """Hold an exclusive lock on `lock_path` (created if needed), waiting at most LOCK_TIMEOUT."""
    return locks.held(lock_path, timeout_s=LOCK_TIMEOUT, timed_out=lambda: BuildFailed(
        f"{what}: another process held {lock_path} for {LOCK_TIMEOUT / 60:.0f} min; "
        "if no build is running, delete that lock file"))


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)

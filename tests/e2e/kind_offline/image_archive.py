"""Container images written directly as `docker save` archives: layers, config, manifest.

No base image can be pulled here, and every image this package needs is "some files on top of
nothing" (or on top of the Debian root filesystem), so they are written as archives in the format
`docker save` produces. The same format feeds both consumers: `docker load` (the node image) and
`ctr images import` inside the node (control-plane images). Archives are deterministic: fixed
timestamps and owners, so identical inputs give identical image IDs.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, BinaryIO

FIXED_MTIME = 1_700_000_000  # 2023-11-14: any constant will do; reproducibility is the point
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class Layer:
    """An uncompressed layer tarball and its diff ID (the sha256 of its bytes)."""

    path: Path
    diff_id: str


class _HashingFile(io.RawIOBase):
    """A write-only file that hashes what passes through it."""

    def __init__(self, target: BinaryIO) -> None:
        self._target = target
        self.digest = hashlib.sha256()

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self._target.write(data)
        self.digest.update(data)
        return len(data)


class LayerWriter:
    """Writes one layer tarball; parent directories are added before what they contain.

    Never add entries below a path that is a symlink in a lower layer (Debian's /bin, /sbin,
    /lib point into /usr): a directory entry here would replace the symlink.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = path.open("wb")
        self._hashing = _HashingFile(self._file)
        self._tar = tarfile.open(  # noqa: SIM115 - closed in close(), the writer's end of life
            fileobj=self._hashing, mode="w|", format=tarfile.PAX_FORMAT
        )
        self._dirs: set[str] = set()

    def directory(self, name: str, mode: int = 0o755) -> None:
        name = _clean(name)
        if name in self._dirs or name == "":
            return
        self._parents(name)
        self._tar.addfile(self._info(name, tarfile.DIRTYPE, mode))
        self._dirs.add(name)

    def file(self, name: str, source: Path | bytes, mode: int | None = None) -> None:
        name = _clean(name)
        self._parents(name)
        if isinstance(source, bytes):
            info = self._info(name, tarfile.REGTYPE, 0o644 if mode is None else mode, size=len(source))
            self._tar.addfile(info, io.BytesIO(source))
            return
        stat = source.stat()
        info = self._info(name, tarfile.REGTYPE, (stat.st_mode & 0o7777) if mode is None else mode, size=stat.st_size)
        with source.open("rb") as f:
            self._tar.addfile(info, f)

    def symlink(self, name: str, target: str) -> None:
        name = _clean(name)
        self._parents(name)
        info = self._info(name, tarfile.SYMTYPE, 0o777)
        info.linkname = target
        self._tar.addfile(info)

    def close(self) -> Layer:
        self._tar.close()
        self._file.close()
        return Layer(self.path, "sha256:" + self._hashing.digest.hexdigest())

    def _parents(self, name: str) -> None:
        for parent in reversed(PurePosixPath(name).parents):
            parent_name = parent.as_posix()
            if parent_name not in (".", "") and parent_name not in self._dirs:
                self._tar.addfile(self._info(parent_name, tarfile.DIRTYPE, 0o755))
                self._dirs.add(parent_name)

    @staticmethod
    def _info(name: str, kind: bytes, mode: int, size: int = 0) -> tarfile.TarInfo:
        info = tarfile.TarInfo(name)
        info.type = kind
        info.mode = mode
        info.size = size
        info.mtime = FIXED_MTIME
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        return info


def existing_layer(path: Path) -> Layer:
    """A layer tarball made elsewhere (e.g. by GNU tar); its diff ID is cached beside it."""
    sidecar = path.with_name(path.name + ".sha256")
    if sidecar.is_file() and sidecar.stat().st_mtime >= path.stat().st_mtime:
        return Layer(path, sidecar.read_text().strip())
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    diff_id = "sha256:" + digest.hexdigest()
    sidecar.write_text(diff_id + "\n")
    return Layer(path, diff_id)


@dataclass(frozen=True, kw_only=True)
class ImageConfig:
    """The runtime part of an image config (what `docker inspect` shows under Config)."""

    entrypoint: list[str] | None = None
    cmd: list[str] | None = None
    env: list[str] = field(default_factory=lambda: [DEFAULT_PATH])
    stop_signal: str | None = None
    user: str | None = None  # uid[:gid] the container runs as; None is root
    labels: dict[str, str] = field(default_factory=dict)


def write_archive(out: IO[bytes], *, tags: Iterable[str], layers: list[Layer], config: ImageConfig) -> str:
    """Write a `docker save` archive of one image to `out` (a stream is fine); return its image ID."""
    runtime: dict[str, object] = {"Env": config.env}
    if config.entrypoint is not None:
        runtime["Entrypoint"] = config.entrypoint
    if config.cmd is not None:
        runtime["Cmd"] = config.cmd
    if config.stop_signal is not None:
        runtime["StopSignal"] = config.stop_signal
    if config.user is not None:
        runtime["User"] = config.user
    if config.labels:
        runtime["Labels"] = config.labels
    image_config = {
        "architecture": "amd64",
        "os": "linux",
        "created": "2023-11-14T22:13:20Z",
        "config": runtime,
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
        "history": [{"created": "2023-11-14T22:13:20Z", "created_by": "gochaos kind_offline"} for _ in layers],
    }
    config_bytes = json.dumps(image_config, sort_keys=True, separators=(",", ":")).encode()
    image_id = hashlib.sha256(config_bytes).hexdigest()
    layer_names = [f"{layer.diff_id.removeprefix('sha256:')}/layer.tar" for layer in layers]
    manifest = [{"Config": f"{image_id}.json", "RepoTags": list(tags), "Layers": layer_names}]
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        _add_bytes(tar, f"{image_id}.json", config_bytes)
        for layer, name in zip(layers, layer_names, strict=True):
            _add_bytes(tar, name.split("/")[0], b"", directory=True)
            info = tarfile.TarInfo(name)
            info.size = layer.path.stat().st_size
            info.mtime = FIXED_MTIME
            with layer.path.open("rb") as f:
                tar.addfile(info, f)
        _add_bytes(tar, "manifest.json", json.dumps(manifest).encode())
    return f"sha256:{image_id}"


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, *, directory: bool = False) -> None:
    info = tarfile.TarInfo(name)
    info.mtime = FIXED_MTIME
    if directory:
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
    else:
        info.size = len(data)
        info.mode = 0o644
    tar.addfile(info, io.BytesIO(data) if not directory else None)


def _clean(name: str) -> str:
    return PurePosixPath("/" + name).as_posix().lstrip("/")

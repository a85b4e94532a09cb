"""How a config file gets replaced, the ways real tools and platforms do it.

- rename: write a temp file beside it and rename it over (what `sed -i` and editors do);
- truncate: truncate the file in place and write the new text;
- configmap: the Kubernetes atomic-writer layout, `config.yaml -> ..data/config.yaml` with
  `..data -> ..<timestamp>/`, swapped by renaming a new `..data` symlink over the old one;
- torn: truncate in place, write the first half, pause, write the rest (a reader in between sees
  a half-written file);
- configmap-api (Kubernetes): not a disk write here at all: the target's ConfigMap is updated through
  the API and the kubelet makes the `..data` swap in the pod (`RunningTarget.write_config`).
A watcher that only watches the file itself misses some of these; one that watches the directory
sees all of them.
"""

from __future__ import annotations

import enum
import os
import shutil
import time
from pathlib import Path

DATA = "..data"


#: Why write mode configmap-api cannot reach a target that does not mount a ConfigMap.
NEEDS_KUBERNETES = ("write_mode configmap-api updates a real ConfigMap: run with --platform kubernetes "
                    "(write_mode configmap makes the same ..data swap on disk)")


class WriteMode(enum.StrEnum):
    RENAME = "rename"
    TRUNCATE = "truncate"
    CONFIGMAP = "configmap"
    TORN = "torn"
    CONFIGMAP_API = "configmap-api"


#: The modes that write a file the target reads (locally, or in a node's directory shared with its pod).
FILE_MODES = frozenset({WriteMode.RENAME, WriteMode.TRUNCATE, WriteMode.CONFIGMAP, WriteMode.TORN})
#: The mode that changes a ConfigMap (or Secret) through the Kubernetes API, for a config mounted from one.
API_MODES = frozenset({WriteMode.CONFIGMAP_API})


def unreachable(target: str, mode: WriteMode, modes: frozenset[WriteMode]) -> str:
    """Why write mode `mode` cannot change target `target`'s config, given the `modes` that can."""
    if modes == API_MODES:
        return (f"{target}'s config changes only through its ConfigMap or Secret: use write_mode configmap-api "
                f"(not {mode.value})")
    if mode is WriteMode.CONFIGMAP_API:
        return f"{target}: {NEEDS_KUBERNETES}"
    return f"{target}: write_mode {mode.value} cannot reach its config; choose from {', '.join(sorted(modes))}"


def write(path: Path, text: str, mode: WriteMode, *, torn_pause_s: float = 0.02) -> None:
    """Replace the content of `path` with `text` the way `mode` says."""
    if mode is WriteMode.RENAME:
        rename_replace(path, text)
    elif mode is WriteMode.TRUNCATE:
        with path.open("r+" if path.exists() else "w", encoding="utf-8") as handle:
            handle.truncate(0)
            handle.write(text)
    elif mode is WriteMode.TORN:
        half = len(text) // 2
        with path.open("r+" if path.exists() else "w", encoding="utf-8") as handle:
            handle.truncate(0)
            handle.write(text[:half])
            handle.flush()
            os.fsync(handle.fileno())
            time.sleep(torn_pause_s)
            handle.write(text[half:])
    elif mode is WriteMode.CONFIGMAP:
        _configmap_swap(path, text)
    else:
        raise ValueError(f"write mode {mode.value} goes through the Kubernetes API, not to a file")


def rename_replace(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.gochaos-{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _configmap_swap(path: Path, text: str) -> None:
    folder = path.parent
    stamp = folder / f"..{time.strftime('%Y_%m_%d_%H_%M_%S')}.{time.time_ns() % 10**9:09d}"
    stamp.mkdir()
    (stamp / path.name).write_text(text, encoding="utf-8")
    data = folder / DATA
    previous = data.resolve() if data.is_symlink() else None
    tmp_link = folder / f"{DATA}_tmp"
    tmp_link.unlink(missing_ok=True)
    tmp_link.symlink_to(stamp.name)
    os.replace(tmp_link, data)  # the one atomic step, as kubelet's atomic writer does it
    if not path.is_symlink():  # first swap: turn the plain file into the layout's symlink
        file_link = folder / f".{path.name}.gochaos-link"
        file_link.unlink(missing_ok=True)
        file_link.symlink_to(f"{DATA}/{path.name}")
        os.replace(file_link, path)
    if previous is not None and previous != stamp.resolve():
        shutil.rmtree(previous, ignore_errors=True)


def restore_plain(path: Path, text: str) -> None:
    """Put `text` back as a plain file, removing any configmap layout the writes created."""
    rename_replace(path, text)
    folder = path.parent
    data = folder / DATA
    if data.is_symlink():
        target = data.resolve()
        data.unlink()
        shutil.rmtree(target, ignore_errors=True)

"""Debian root filesystems made by debootstrap, each kept as a tree plus a layer tarball.

`debootstrap --variant=minbase` with the packages in versions.NODE_PACKAGES gives the kind node
systemd, containerd 1.6, runc, the CNI plugins and the netfilter tools from the same Debian mirror
apt uses; with versions.RUNNER_PACKAGES it gives the gochaos runner image its Python. Each is
cached twice under one key: the tarball is an image's base layer (its diff ID is stable, so Docker
keeps it between image rebuilds), and the unpacked tree is where the kube-proxy image takes
iptables and conntrack from and where the runner image's venv is installed.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from .artefacts import ensure, input_key
from .commands import run
from .debian_packages import ensure_packages
from .errors import BuildFailed, PrerequisiteMissing
from .locations import CacheLayout
from .progress import Progress, quiet, step
from .versions import DEBIAN_SUITE, NODE_PACKAGES

#: Bump when the way the tree is made or trimmed changes, to force a rebuild.
RECIPE_VERSION = 1
#: Trimmed after debootstrap: nothing in the node reads them, and they cost image size.
_TRIMMED = ("var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc", "usr/share/man", "usr/share/info",
            "usr/share/locale")
#: Not part of the layer: Docker provides these at run time.
_EXCLUDED_FROM_LAYER = ("./dev/*", "./proc/*", "./sys/*", "./run/*", "./tmp/*")


@dataclass(frozen=True)
class DebianRootfs:
    """A debootstrapped tree and the layer tarball made from it."""

    tree: Path
    layer: Path


def debian_mirror() -> str:
    """$GOCHAOS_DEBIAN_MIRROR, else the first mirror apt's own sources use for the suite."""
    override = os.environ.get("GOCHAOS_DEBIAN_MIRROR")
    if override:
        return override
    sources = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    for source in sources:
        try:
            text = source.read_text()
        except OSError:
            continue
        mirror = _mirror_in(text, DEBIAN_SUITE)
        if mirror:
            return mirror
    raise PrerequisiteMissing(f"no apt source for Debian {DEBIAN_SUITE} in /etc/apt/sources.list(.d): set "
                              "GOCHAOS_DEBIAN_MIRROR to the Debian mirror debootstrap should use")


def _mirror_in(text: str, suite: str) -> str | None:
    # one-line format: deb [options] URI SUITE COMPONENTS...
    for match in re.finditer(r"^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)", text, flags=re.MULTILINE):
        if match.group(2) == suite:
            return match.group(1)
    # deb822 format: paragraphs with URIs: and Suites:
    for paragraph in re.split(r"\n\s*\n", text):
        uris = re.search(r"^URIs:\s*(\S+)", paragraph, flags=re.MULTILINE)
        suites = re.search(r"^Suites:\s*(.+)$", paragraph, flags=re.MULTILINE)
        if uris and suites and suite in suites.group(1).split():
            return uris.group(1)
    return None


def build_rootfs(cache: CacheLayout, *, packages: tuple[str, ...] = NODE_PACKAGES, purpose: str = "the kind node",
                 progress: Progress = quiet) -> DebianRootfs:
    """Return the cached root filesystem with `packages`, running debootstrap first if its inputs changed."""
    mirror = debian_mirror()
    key = input_key({"suite": DEBIAN_SUITE, "mirror": mirror, "packages": packages, "recipe": RECIPE_VERSION})
    out = cache.rootfs / f"{DEBIAN_SUITE}-{key}"

    def bootstrap(tmp: Path) -> None:
        if os.geteuid() != 0:
            raise PrerequisiteMissing(f"debootstrap needs root: build {purpose}'s image as root")
        if shutil.which("debootstrap") is None:
            ensure_packages(["debootstrap"], why=f"building {purpose}'s root filesystem", progress=progress)
        tree = tmp / "tree"
        tree.mkdir(parents=True)
        with step(progress, f"debootstrap --variant=minbase {DEBIAN_SUITE} from {mirror}"):
            run(
                ["debootstrap", "--variant=minbase", f"--include={','.join(packages)}", DEBIAN_SUITE, tree,
                 mirror],
                error=BuildFailed, what="debootstrap",
                hint=f"check that the Debian mirror {mirror} is reachable (or set GOCHAOS_DEBIAN_MIRROR); "
                     f"its log is {tree}/debootstrap/debootstrap.log while it runs",
                timeout=1800, nice=10, progress=progress,
            )
        for relative in _TRIMMED:
            _empty_dir(tree / relative)
        with step(progress, "packing the root filesystem layer"):
            excludes = [f"--exclude={pattern}" for pattern in _EXCLUDED_FROM_LAYER]
            run(["tar", "--numeric-owner", "--xattrs", "--xattrs-include=*", *excludes, "-C", tree,
                 "-cf", tmp / "rootfs.tar", "."],
                error=BuildFailed, what="tar of the root filesystem", hint="check free disk space in the cache",
                timeout=900)

    ensure(out, bootstrap, what="Debian root filesystem")
    return DebianRootfs(tree=out / "tree", layer=out / "rootfs.tar")


def _empty_dir(path: Path) -> None:
    if not path.is_dir():
        return
    for child in path.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()

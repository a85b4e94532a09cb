"""The kind node image, assembled offline and cached in Docker under a tag derived from its inputs.

Two layers: the Debian root filesystem (debian_rootfs, unchanged unless its package list does, so
Docker keeps it across rebuilds) and an overlay holding everything of ours: node_root/ (entrypoint,
containerd config, systemd units, CNI conflist), kubeadm/kubelet/kubectl, /kind/version, and the
control-plane image archives under /kind/images, which gochaos-preload-images.service imports
into containerd at the node's first boot. (Importing at build time would mean running containerd
during the build and would not save time: kind gives every node a fresh /var volume, which Docker
seeds by copying the image's /var, so preloaded content gets copied per node either way.)

The image config carries what kind expects from its own base image: ENTRYPOINT entrypoint +
/sbin/init, container=docker, STOPSIGNAL SIGRTMIN+3. It is written as a `docker save` archive and
streamed into `docker load`, which is how it gets the STOPSIGNAL `docker import` refuses.

The tag's suffix hashes every input (pinned versions, package list, mirror, node_root/ and the
modules that shape the image), so a warm run checks one `docker image inspect` and builds nothing.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from .artefacts import input_key, tree_files
from .control_plane_images import sandbox_image, write_control_plane_images
from .debian_rootfs import RECIPE_VERSION, build_rootfs, debian_mirror
from .docker_engine import DockerEngine
from .errors import BuildFailed
from .image_archive import DEFAULT_PATH, ImageConfig, LayerWriter, existing_layer
from .kubernetes_build import build_all
from .local_images import ensure_loaded, load_archive
from .locations import CacheLayout
from .pause_build import build_pause
from .progress import Progress, quiet, step
from .versions import (
    COREDNS_VERSION,
    DEBIAN_SUITE,
    ETCD_VERSION,
    KUBERNETES_GO_VERSION,
    KUBERNETES_VERSION,
    NODE_PACKAGES,
    PAUSE_VERSION,
)

IMAGE_REPOSITORY = "gochaos/kind-node"
NODE_ROOT = Path(__file__).parent / "node_root"
_PACKAGE_DIR = Path(__file__).parent
#: The modules whose code decides what ends up in the image (their text is part of the key).
_SHAPING_MODULES = ("versions.py", "debian_rootfs.py", "package_closure.py", "image_archive.py",
                    "control_plane_images.py", "kubernetes_build.py", "go_modules.py", "node_image.py",
                    "pause/pause.c")


def node_image_tag() -> str:
    """The tag the node image for the current inputs has (or will have once built)."""
    recipe = {
        "kubernetes": KUBERNETES_VERSION, "go": KUBERNETES_GO_VERSION, "etcd": ETCD_VERSION,
        "coredns": COREDNS_VERSION, "pause": PAUSE_VERSION, "suite": DEBIAN_SUITE, "packages": NODE_PACKAGES,
        "mirror": debian_mirror(), "rootfs_recipe": RECIPE_VERSION,
    }
    files = [*tree_files(NODE_ROOT), *(_PACKAGE_DIR / name for name in _SHAPING_MODULES)]
    return f"{IMAGE_REPOSITORY}:{KUBERNETES_VERSION}-{input_key(recipe, files, length=12)}"


def ensure_node_image(engine: DockerEngine, *, cache: CacheLayout | None = None,
                      progress: Progress = quiet) -> str:
    """Return the node image tag, building and loading the image first if the engine lacks it."""
    cache = cache or CacheLayout.default()
    tag = node_image_tag()
    if ensure_loaded(engine, tag, lambda: _build(engine, cache, tag, progress),
                     lock=cache.work / f".{tag.rsplit(':', 1)[1]}.lock", what="node image", progress=progress):
        _remove_other_tags(engine, tag, progress)
    return tag


def _build(engine: DockerEngine, cache: CacheLayout, tag: str, progress: Progress) -> None:
    rootfs = build_rootfs(cache, progress=progress)
    binaries = build_all(cache, progress=progress)
    pause = build_pause(cache, progress=progress)
    work = cache.work / tag.rsplit(":", 1)[1]
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        with step(progress, "writing control-plane image archives"):
            archives = write_control_plane_images(binaries, pause=pause, rootfs_tree=rootfs.tree,
                                                  out_dir=work / "images")
        with step(progress, "writing the node overlay layer"):
            overlay = LayerWriter(work / "overlay.tar")
            _add_node_root(overlay, {"@SANDBOX_IMAGE@": sandbox_image(archives)})
            for command in ("kubeadm", "kubelet", "kubectl"):
                overlay.file(f"usr/bin/{command}", binaries[command], 0o755)
            overlay.file("kind/version", f"{KUBERNETES_VERSION}\n".encode())
            overlay.directory("etc/kubernetes/manifests")
            for archive in archives:
                overlay.file(f"kind/images/{archive.path.name}", archive.path, 0o644)
            overlay_layer = overlay.close()
        with step(progress, "hashing the root filesystem layer"):
            base_layer = existing_layer(rootfs.layer)
        config = ImageConfig(
            entrypoint=["/usr/local/bin/entrypoint", "/sbin/init"],
            env=[DEFAULT_PATH, "container=docker"],
            stop_signal="SIGRTMIN+3",
            labels={"org.gochaos.kind-offline.kubernetes": KUBERNETES_VERSION},
        )

        with step(progress, "docker load of the node image"):
            load_archive(engine, tag=tag, layers=[base_layer, overlay_layer], config=config, timeout=1200,
                         progress=progress)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _add_node_root(layer: LayerWriter, substitutions: dict[str, str]) -> None:
    """Copy node_root/ into the layer, filling the @...@ placeholders of its *.in files."""
    for path in sorted(NODE_ROOT.rglob("*")):
        relative = path.relative_to(NODE_ROOT).as_posix()
        if path.is_symlink():
            layer.symlink(relative, str(path.readlink()))
        elif path.is_dir():
            layer.directory(relative)
        elif path.suffix == ".in":
            text = path.read_text()
            for placeholder, value in substitutions.items():
                text = text.replace(placeholder, value)
            unfilled = re.findall(r"@[A-Z_]+@", text)
            if unfilled:
                raise BuildFailed(f"{relative} has placeholders no value was given for: {unfilled}")
            layer.file(relative.removesuffix(".in"), text.encode(), path.stat().st_mode & 0o7777)
        else:
            layer.file(relative, path)


def _remove_other_tags(engine: DockerEngine, keep: str, progress: Progress) -> None:
    """Drop node images of older inputs: they are never used again and each costs ~1 GB."""
    result = subprocess.run(["docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}", IMAGE_REPOSITORY],
                            env=engine.env, capture_output=True, text=True, timeout=60, check=False)
    for old in result.stdout.split():
        if old != keep:
            removed = subprocess.run(["docker", "image", "rm", old], env=engine.env, capture_output=True,
                                     text=True, timeout=120, check=False)
            if removed.returncode == 0:
                progress(f"removed the outdated node image {old}")

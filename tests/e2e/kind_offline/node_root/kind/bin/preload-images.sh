#!/bin/bash
# Imports every image archive in /kind/images into containerd's k8s.io namespace (the kubelet's),
# so kubeadm's static pods, kube-proxy, CoreDNS and the pod sandbox never need a registry.
# Run once per node by gochaos-preload-images.service, before the kubelet starts.
set -o errexit -o nounset -o pipefail

marker=/var/lib/kind-offline/images-imported

for _ in $(seq 1 60); do  # containerd is notify-ready, but be patient with its socket
  ctr version > /dev/null 2>&1 && break
  sleep 0.5
done

shopt -s nullglob
archives=(/kind/images/*.tar)
if [[ ${#archives[@]} -eq 0 ]]; then
  echo "no image archives in /kind/images: this node image was built without them" >&2
  exit 1
fi
for archive in "${archives[@]}"; do
  ctr --namespace k8s.io images import --snapshotter overlayfs "$archive"
done
ctr --namespace k8s.io images list --quiet
mkdir -p "$(dirname "$marker")"
touch "$marker"

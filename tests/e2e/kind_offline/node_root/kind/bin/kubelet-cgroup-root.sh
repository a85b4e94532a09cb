#!/bin/bash
# Creates the kubelet's cgroup root (/kubelet, see cgroupRoot in manifests/kind/cluster.yaml) in
# the node's cgroup namespace before the kubelet starts; the kubelet refuses to start without it.
set -o errexit -o nounset -o pipefail

if [[ -f /sys/fs/cgroup/cgroup.controllers ]]; then
  # cgroup v2: one tree; the kubelet needs every controller enabled below the root and /kubelet.
  # (systemd has moved every process out of the root by now, so the root may delegate.)
  controllers="$(sed -e 's/^/+/' -e 's/ / +/g' /sys/fs/cgroup/cgroup.controllers)"
  echo "$controllers" > /sys/fs/cgroup/cgroup.subtree_control
  mkdir -p /sys/fs/cgroup/kubelet
  echo "$controllers" > /sys/fs/cgroup/kubelet/cgroup.subtree_control
  exit 0
fi

# cgroup v1: one directory per hierarchy. A new cpuset cgroup starts with no CPUs and no memory
# nodes, and nothing can join it until it is given its parent's.
while read -r hierarchy; do
  mkdir -p "$hierarchy/kubelet"
  if [[ -f "$hierarchy/cpuset.cpus" ]]; then
    [[ -n "$(cat "$hierarchy/kubelet/cpuset.cpus")" ]] || cat "$hierarchy/cpuset.cpus" > "$hierarchy/kubelet/cpuset.cpus"
    [[ -n "$(cat "$hierarchy/kubelet/cpuset.mems")" ]] || cat "$hierarchy/cpuset.mems" > "$hierarchy/kubelet/cpuset.mems"
  fi
done < <(findmnt --raw --noheadings --types cgroup --output TARGET)

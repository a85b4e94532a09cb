#!/bin/bash
# Removes the `forward` block from the Corefile in the coredns ConfigMap that `kubeadm init`
# creates: this cluster has no upstream DNS, so CoreDNS answers cluster names only (and the
# `loop` plugin, which detects forwarding loops, goes too: with nothing to forward to, every
# probe it sends ends in "no next plugin found" on CoreDNS's error log). CoreDNS's
# reload plugin picks the change up without a restart. Waits (bounded) for a control plane; on
# nodes without one, or once the Corefile has no forward block, there is nothing to do.
set -o errexit -o nounset -o pipefail

export KUBECONFIG=/etc/kubernetes/admin.conf
deadline=$((SECONDS + 1200))

corefile=""
while (( SECONDS < deadline )); do
  if [[ -f "$KUBECONFIG" ]] &&
     corefile="$(kubectl --namespace kube-system get configmap coredns --output 'jsonpath={.data.Corefile}' 2>/dev/null)" &&
     [[ -n "$corefile" ]]; then
    break
  fi
  corefile=""
  sleep 2
done
if [[ -z "$corefile" ]]; then
  echo "no coredns ConfigMap appeared within 20 minutes: nothing to change on this node"
  exit 0
fi
if ! grep -Eq '^[[:space:]]*forward[[:space:]]' <<< "$corefile"; then
  echo "the Corefile has no forward plugin: nothing to change"
  exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# Drop the forward line (with its { ... } block when it opens one) and the loop line.
awk '
  skipping && /^[[:space:]]*[}][[:space:]]*$/ { skipping = 0; next }
  skipping { next }
  /^[[:space:]]*forward[[:space:]]/ { if ($0 ~ /[{][[:space:]]*$/) skipping = 1; next }
  /^[[:space:]]*loop[[:space:]]*$/ { next }
  { print }
' <<< "$corefile" > "$work/Corefile"
kubectl --namespace kube-system create configmap coredns --from-file=Corefile="$work/Corefile" \
  --dry-run=client --output yaml > "$work/coredns.yaml"
kubectl --namespace kube-system replace --filename "$work/coredns.yaml"
echo "removed the forward plugin from the CoreDNS Corefile"

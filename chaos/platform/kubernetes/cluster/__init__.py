"""Reaching and owning a cluster: which one and how (kind, kubeconfig, in-cluster), the run's namespace,
what RBAC allows, the kill switch, and the API plumbing targets are followed and reached by (the pod
watch, a ConfigMap or Secret key, the tunnel to pods).

Nothing is imported here (see the parent package).
"""

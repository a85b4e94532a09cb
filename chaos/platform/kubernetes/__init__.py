"""The Kubernetes platform: targets and etcd as workloads in a run namespace of a kind cluster (or a
named context), observed through the API (`platform.KubernetesPlatform`).

Nothing is imported here: the official client is heavy, and `namespace_reclaim` must stay light
enough to register at interpreter exit.
"""

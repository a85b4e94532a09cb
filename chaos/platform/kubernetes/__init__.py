"""The Kubernetes platform: targets and etcd as workloads in a run namespace of a kind cluster (or a
named context), or a team's services already deployed, observed through the API
(`platform.KubernetesPlatform`).

The floor plan, by concern:

- `cluster/`: reaching and owning a cluster: which cluster and how it is reached (`cluster`,
  `kind`, `pod_liveness`), the run's namespace and what it holds there (`namespace`, `run_space`,
  `images`), the access review (`rights`), the kill switch (`kill_switch`), and the API plumbing
  targets are followed and reached by (`podwatch`, `config_key`, `tunnel`);
- `workloads/`: what the suite itself deploys: the manifests it renders (`manifests`), its own
  target (`target`), etcd (`etcd`), the hog (`hog`), Locust worker pods (`load_workers`);
- `deployed/`: what the team already deployed and the suite finds and changes: a service
  (`deployed`), its pods' limits (`resize`), its etcd (`external_etcd`), and the crash clean-up of
  every change (`deployed_reclaim`);
- here: the platform (`platform`), the plan-time kind (`planning`), and the one interface both
  kinds of target implement (`pod_target`).

Nothing is imported here: the official client is heavy, and the reclaim modules
(`cluster.namespace_reclaim`, `deployed.deployed_reclaim`) must stay light enough to register at
interpreter exit.
"""

"""pod_delete: a target's pod is deleted through the API and its workload must replace it.

The commonest fault on a cluster (a node drained, a pod evicted, a rollout): the service loses a
pod without warning, its Deployment or StatefulSet starts another, and the load must recover. The
fault lands when the deleted pods are gone and a new ready pod serves the target's readiness check;
`back_after_ms` says how long that took. Nothing to revert: the workload itself restores the pod.
Kubernetes only (bundled targets and deployed services alike): elsewhere it is unavailable.
"""

from __future__ import annotations

import time

from pydantic import Field

from chaos.client_budget import DISRUPTIVE
from chaos.errors import InjectionFailed, PlatformError
from chaos.injectors.base import FaultOutcome, InjectionContext, Injector, InjectorParams
from chaos.observe.readiness import passes, wait_until
from chaos.platform.abilities import PodDeleting, missing, require
from chaos.targets import TargetSpec, WorkloadChange, with_workload_change

#: Outcome figure: ms from the delete to a new ready pod serving the readiness check.
BACK_AFTER_MS = "back_after_ms"


class PodDeleteParams(InjectorParams):
    count: int = Field(1, ge=1, le=100, description="How many of its ready pods to delete (first by name)")
    grace_s: int = Field(0, ge=0, le=300, description="Termination grace period of the delete (0: at once)")
    replace_timeout_s: float = Field(60.0, gt=0, le=600, description="Give up waiting for a replacement after this")


class PodDelete(Injector[PodDeleteParams]):
    name = "pod_delete"
    description = "A target's pods are deleted through the API; its workload must replace them and it must recover"
    Params = PodDeleteParams
    client_budget = DISRUPTIVE  # requests to a deleted pod fail until its replacement serves

    def expected_duration_s(self) -> float:
        return self.params.grace_s + self.params.replace_timeout_s

    def shape_target(self, spec: TargetSpec) -> TargetSpec:
        """A deployed service's run must be allowed to delete its pods (checked before anything changes)."""
        return with_workload_change(spec, WorkloadChange.PODS)

    def available(self, ctx: InjectionContext) -> str | None:
        return missing(ctx.platform, PodDeleting)

    def inject(self, ctx: InjectionContext) -> FaultOutcome:
        assert self.target_name is not None
        pods = require(ctx.platform, PodDeleting)
        target = ctx.target(self.target_name)
        try:
            deleted = pods.delete_pods(self.target_name, count=self.params.count, grace_s=self.params.grace_s)
        except PlatformError as e:
            raise InjectionFailed(str(e)) from e
        if not deleted:
            return FaultOutcome(False, f"{self.target_name} had no ready pod to delete", {"deleted": []})
        started = time.monotonic()

        def replaced() -> bool:
            fresh = [pod for pod in pods.ready_pods(self.target_name or "") if pod not in deleted]
            return bool(fresh) and passes(target.spec.readiness, target.endpoint) is not False

        back = wait_until(replaced, timeout_s=self.params.replace_timeout_s + self.params.grace_s, interval_s=0.2)
        elapsed_ms = round((time.monotonic() - started) * 1000, 1)
        details = {"deleted": deleted, BACK_AFTER_MS: elapsed_ms if back else None}
        if not back:
            return FaultOutcome(False, f"deleted {', '.join(deleted)}; no replacement was ready within "
                                       f"{self.params.replace_timeout_s:g}s", details)
        return FaultOutcome(True, f"deleted {', '.join(deleted)}; a new pod served after {elapsed_ms:.0f} ms", details)

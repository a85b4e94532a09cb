"""leader_loss: etcd loses its leader (incident 3), and the fault proves a new one was elected.

Modes: `move` (graceful transfer), `kill` (SIGKILL, restarted after `duration_s`; on Kubernetes
the kubelet restarts the container), `pause` (SIGSTOP for `duration_s`), `isolate` (peer traffic
cut for `duration_s`, needs root and iptables; on Kubernetes inside the pod's network namespace),
`delete` (Kubernetes: the leader's pod is deleted and its StatefulSet recreates it). The old
leader is always brought back in `revert`, even when the run is interrupted.
"""

from __future__ import annotations

import enum
import time

from pydantic import Field

from chaos.client_budget import DISRUPTIVE, ClientBudget
from chaos.errors import EtcdError, InjectionFailed
from chaos.injectors.base import FaultOutcome, InjectionContext, Injector, InjectorParams
from chaos.platform.etcd import Member

#: Outcome figure: ms from the leader's loss to a new leader (when the fault landed).
NEW_LEADER_AFTER_MS = "new_leader_after_ms"


class LeaderLossMode(enum.StrEnum):
    MOVE = "move"
    KILL = "kill"
    PAUSE = "pause"
    ISOLATE = "isolate"
    DELETE = "delete"


class LeaderLossParams(InjectorParams):
    mode: LeaderLossMode = Field(LeaderLossMode.KILL, description="How leadership is lost")
    duration_s: float = Field(2.0, ge=0, le=600, description="How long the old leader stays out")
    election_timeout_s: float = Field(10.0, gt=0, description="Give up waiting for a new leader after this")


class LeaderLoss(Injector[LeaderLossParams]):
    name = "leader_loss"
    description = "etcd loses its leader (move, kill, pause, isolate or delete it); a new one must be elected"
    Params = LeaderLossParams
    needs_target = False
    client_budget = DISRUPTIVE  # requests wait out the election; `recovery` bounds what follows

    def __init__(self, params: LeaderLossParams, target: str | None = None, *,
                 steady_state: ClientBudget | None = None) -> None:
        super().__init__(params, target, steady_state=steady_state)
        self._victim: Member | None = None

    def expected_duration_s(self) -> float:
        return self.params.duration_s + 2 * self.params.election_timeout_s

    def available(self, ctx: InjectionContext) -> str | None:
        if ctx.etcd is None:
            return "the scenario has no etcd cluster (add `etcd: {members: 3}`)"
        return ctx.etcd.unavailable(self.params.mode.value)

    def inject(self, ctx: InjectionContext) -> FaultOutcome:
        etcd = ctx.etcd
        assert etcd is not None
        try:
            if self.params.mode is LeaderLossMode.MOVE:
                change = etcd.move_leader(timeout_s=self.params.election_timeout_s)
            else:
                self._victim, change = etcd.lose_leader(self.params.mode.value,
                                                        timeout_s=self.params.election_timeout_s)
        except EtcdError as e:
            raise InjectionFailed(str(e)) from e
        details = {"mode": self.params.mode.value, "old_leader": change.old_leader,
                   "new_leader": change.new_leader, NEW_LEADER_AFTER_MS: round(change.elapsed_ms, 1),
                   "term": [change.old_term, change.new_term]}
        if self._victim is not None:
            ctx.sleep_until(time.monotonic() + self.params.duration_s)
        after = f"{change.elapsed_ms:.0f} ms (term {change.old_term} -> {change.new_term})"
        who = (f"it won the next election, back after its restart, {after} later"
               if change.new_leader == change.old_leader else f"{change.new_leader} leads after {after}")
        return FaultOutcome(change.elected, f"{change.old_leader} lost leadership ({self.params.mode.value}); {who}",
                            details)

    def revert(self, ctx: InjectionContext) -> None:
        """Bring the old leader back (restart, resume, heal or await it), then wait for a leader."""
        victim, self._victim = self._victim, None
        etcd = ctx.etcd
        if victim is None or etcd is None:
            return
        etcd.bring_back(self.params.mode.value, victim)
        etcd.wait_for_leader(timeout_s=self.params.election_timeout_s)

"""A real 3-member etcd cluster on loopback: leadership is found, lost, moved and regained."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import requests

from chaos.errors import EtcdError
from chaos.platform.local.etcd import EtcdCluster
from chaos.platform.local.netfilter import iptables_available, leftover_rules
from chaos.timeline import EventFamily, EventKind, Timeline

pytestmark = pytest.mark.integration


def put_then_get(cluster: EtcdCluster, key: str, value: str) -> str:
    """Write through the v3 JSON gateway of any live member and read it back (base64 round trip)."""
    import base64

    def b64(text: str) -> str:
        return base64.b64encode(text.encode()).decode()

    member = next(m for m in cluster.members if cluster.status(m) is not None)
    requests.post(f"{member.client_url}/v3/kv/put", json={"key": b64(key), "value": b64(value)},
                  timeout=5).raise_for_status()
    reply = requests.post(f"{member.client_url}/v3/kv/range", json={"key": b64(key)}, timeout=5)
    reply.raise_for_status()
    return base64.b64decode(reply.json()["kvs"][0]["value"]).decode()


def test_cluster_has_three_members_one_leader_and_serves_writes(gochaos_etcd_cluster: EtcdCluster) -> None:
    statuses = [gochaos_etcd_cluster.status(m) for m in gochaos_etcd_cluster.members]
    assert len(statuses) == 3 and all(s is not None for s in statuses)
    leaders = {s.leader_id for s in statuses if s is not None}
    assert len(leaders) == 1, f"members disagree on the leader: {leaders}"
    assert sum(1 for s in statuses if s is not None and s.is_leader) == 1
    members = gochaos_etcd_cluster.members
    assert len({m.client_port for m in members} | {m.peer_port for m in members}) == 6
    assert len(gochaos_etcd_cluster.endpoints.split(",")) == 3
    assert put_then_get(gochaos_etcd_cluster, "gochaos/probe", "v1") == "v1"


def test_killing_the_leader_elects_another_and_the_member_rejoins(
    gochaos_etcd_cluster: EtcdCluster, gochaos_timeline: Timeline
) -> None:
    old, change = gochaos_etcd_cluster.lose_leader("kill")
    assert change.new_leader != old.name and change.old_leader == old.name
    assert not old.process.running
    # election timeout is 500 ms: a new leader within a few election rounds
    assert 0 < change.elapsed_ms < 5000, change
    print(f"kill-leader: new leader {change.new_leader} observed after {change.elapsed_ms:.0f} ms")
    assert put_then_get(gochaos_etcd_cluster, "after/kill", "ok") == "ok"
    gochaos_etcd_cluster.restart(old)
    assert gochaos_etcd_cluster.status(old) is not None
    kinds = [e.kind for e in gochaos_timeline.events(family=EventFamily.ETCD)]
    assert (kinds.index(EventKind.ETCD_LEADER_LOST) < kinds.index(EventKind.ETCD_KILL)
            < kinds.index(EventKind.ETCD_LEADER))
    lost = gochaos_timeline.events(kind=EventKind.ETCD_LEADER_LOST)[-1]
    seen = gochaos_timeline.events(kind=EventKind.ETCD_LEADER)[-1]
    assert seen.details["leader"] == change.new_leader
    assert seen.t_ns - lost.t_ns == change.observed_ns - change.started_ns


def test_move_leader_transfers_to_the_chosen_member(gochaos_etcd_cluster: EtcdCluster) -> None:
    leader, _ = gochaos_etcd_cluster.wait_for_leader()
    chosen = next(m for m in gochaos_etcd_cluster.members if m is not leader)
    change = gochaos_etcd_cluster.move_leader(to=chosen)
    assert change.new_leader == chosen.name
    status = gochaos_etcd_cluster.status(chosen)
    assert status is not None and status.is_leader


def test_pausing_the_leader_elects_another_and_resume_rejoins(gochaos_etcd_cluster: EtcdCluster) -> None:
    old, change = gochaos_etcd_cluster.lose_leader("pause")
    try:
        assert change.new_leader != old.name
        assert old.process.running  # stopped, not dead
        assert put_then_get(gochaos_etcd_cluster, "during/pause", "ok") == "ok"
    finally:
        gochaos_etcd_cluster.resume(old)
    assert _eventually(lambda: (s := gochaos_etcd_cluster.status(old)) is not None and s.leader_id != 0)


@pytest.mark.skipif(iptables_available() is not None,
                    reason=f"peer isolation unavailable: {iptables_available()}")
def test_isolating_the_leader_elects_another_and_heal_removes_every_rule(
    gochaos_etcd_cluster: EtcdCluster,
) -> None:
    old, change = gochaos_etcd_cluster.lose_leader("isolate")
    try:
        assert change.new_leader != old.name
        tag = f"{old.process.pid}-{old.name}"
        assert any(tag in rule for rule in leftover_rules())
        # the isolated old leader steps down once it cannot reach a quorum
        assert _eventually(lambda: (s := gochaos_etcd_cluster.status(old)) is not None and not s.is_leader)
    finally:
        gochaos_etcd_cluster.heal(old)
    assert not any(tag in rule for rule in leftover_rules())
    assert _eventually(lambda: (s := gochaos_etcd_cluster.status(old)) is not None and s.leader_id != 0)


def test_bad_cluster_options_are_refused_with_the_reason(
    gochaos_make_etcd_cluster: Callable[..., EtcdCluster],
) -> None:
    with pytest.raises(EtcdError, match=r"election timeout 100 ms must be at least 5x the heartbeat 50 ms"):
        gochaos_make_etcd_cluster(size=3, heartbeat_ms=50, election_ms=100)
    with pytest.raises(EtcdError, match="at least 1 member, got 0"):
        gochaos_make_etcd_cluster(size=0)


def _eventually(check: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False

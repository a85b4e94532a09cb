"""One election, one `etcd.leader` event: a leader_loss and the network faults on each member's peer link
all watch the same election, and each says what it saw; the timeline holds that term's leader once."""

from __future__ import annotations

from pathlib import Path

from chaos.platform.local.etcd import EtcdCluster
from chaos.timeline import EventKind, Timeline


def test_the_leader_of_a_term_is_recorded_once_whoever_saw_it(tmp_path: Path) -> None:
    timeline = Timeline()
    cluster = EtcdCluster(etcd_binary=Path("etcd"), base_dir=tmp_path, timeline=timeline)  # nothing is started
    cluster.record_leader("m1", "m0", "kill", 3, t_ns=100)
    cluster.record_leader("m1", "m0", "network-delay", 3, t_ns=140)  # a delay fault on m1's link saw it too
    cluster.record_leader("m2", "m1", "network-partition", 5, t_ns=900)
    events = timeline.events(EventKind.ETCD_LEADER)
    assert [(e.details["leader"], e.details["term"], e.details["operation"], e.t_ns) for e in events] == [
        ("m1", 3, "kill", 100), ("m2", 5, "network-partition", 900)]

"""Proof a network fault landed: configured against observed, and the stated share below which it did not."""

from __future__ import annotations

from chaos.injectors import create
from chaos.injectors.network import NetworkFault
from chaos.network import proof
from chaos.network.links import LinkKind
from chaos.network.proxy import LinkStats, Turnarounds
from chaos.network.routing import RoutedLink


def test_a_delay_lands_when_half_of_the_configured_round_trip_is_seen() -> None:
    found = proof.delay(50, "upstream", 1.3, 51.0, "the load's requests")
    assert found.landed and found.figures["observed_added_ms"] == 49.7 and found.figures["expected_added_ms"] == 50
    assert found.summary == ("round trips +49.7 ms (p50 1.3 -> 51.0 ms, the load's requests) against 50 ms configured "
                             "(50 ms upstream)")
    both = proof.delay(20, "both", 2.0, 19.0, "probes")
    assert not both.landed and both.figures["expected_added_ms"] == 40  # both ways: twice per round trip
    assert both.summary.endswith("against 40 ms configured (20 ms both), below 50% of it")
    assert not proof.delay(20, "both", None, 25.0, "probes").landed


def test_a_blackhole_must_discard_nearly_everything_on_its_directions() -> None:
    found = proof.blackhole(LinkStats(bytes_discarded_downstream=5000, bytes_discarded_upstream=100,
                                      bytes_upstream=7), "tcp", "both")
    assert found.landed and found.figures["discarded_share"] == 0.9986
    leaky = proof.blackhole(LinkStats(bytes_discarded_upstream=10, bytes_upstream=90, bytes_downstream=10_000),
                            "tcp", "upstream")  # downstream bytes are not the fault's
    assert not leaky.landed and "(10.0% discarded, upstream) (a blackhole must discard at least 90%)" in leaky.summary
    assert proof.blackhole(LinkStats(datagrams_dropped_upstream=4), "udp", "upstream").landed


def test_loss_counts_refused_connections_on_tcp_and_dropped_datagrams_on_udp() -> None:
    found = proof.loss(LinkStats(connections_accepted=10, connections_refused=3), "tcp", "both", 0.5)
    assert found.landed and found.summary == "3 of 10 new connections refused (30.0%) against 50.0% configured"
    assert not proof.loss(LinkStats(connections_accepted=10, connections_refused=1), "tcp", "both", 0.5).landed
    kept_alive = proof.loss(LinkStats(bytes_upstream=100), "tcp", "both", 0.5)
    assert not kept_alive.landed and "loss on TCP refuses new connections only" in kept_alive.summary
    udp = proof.loss(LinkStats(datagrams_upstream=70, datagrams_dropped_upstream=30, datagrams_dropped_downstream=99),
                     "udp", "upstream", 0.3)
    assert udp.landed and udp.figures["observed_share"] == 0.3


def test_reset_needs_a_connection_and_bandwidth_a_saturated_capped_link() -> None:
    assert proof.reset(LinkStats(connections_reset=2)).landed
    assert not proof.reset(LinkStats()).landed
    capped = proof.bandwidth(LinkStats(bytes_downstream=190_000), "tcp", "downstream", 100_000, 2.0)
    assert capped.landed and capped.figures["observed_bytes_per_s"] == {"downstream": 95_000}
    idle = proof.bandwidth(LinkStats(bytes_downstream=1000), "tcp", "downstream", 100_000, 2.0)
    assert not idle.landed and "never reached 50% of the limit" in idle.summary
    assert "did not hold" in proof.bandwidth(LinkStats(bytes_upstream=10**6), "tcp", "both", 100_000, 2.0).summary


def test_no_traffic_is_no_proof() -> None:
    idle = proof.no_traffic(LinkStats(bytes_downstream=5), "tcp", "upstream", ["load.configd"])
    assert idle is not None and idle.summary.startswith("no traffic crossed load.configd (upstream) during the fault")
    assert proof.no_traffic(LinkStats(connections_accepted=1), "tcp", "upstream", ["x"]) is None


def test_stats_subtract_counts_and_keep_the_later_stamps() -> None:
    later = LinkStats(bytes_upstream=10, connections_active=2, fault_applied_at_unix_ns=5)
    delta = later - LinkStats(bytes_upstream=4, connections_active=7, fault_applied_at_unix_ns=1)
    assert delta.bytes_upstream == 6 and delta.connections_active == 2 and delta.fault_applied_at_unix_ns == 5
    assert proof.counts(delta) == {"bytes_upstream": 6}


def test_what_a_fault_dropped_counts_from_before_it_and_what_passed_from_after_it() -> None:
    before = LinkStats(connections_accepted=10, bytes_upstream=1000)
    applied = LinkStats(connections_accepted=12, connections_refused=1, bytes_upstream=1200,  # the instant between
                        bytes_discarded_upstream=50)
    end = LinkStats(connections_accepted=20, connections_refused=5, bytes_upstream=1200, bytes_discarded_upstream=90)
    delta = proof.under_fault(before, applied, end)
    assert delta.bytes_discarded_upstream == 90 and delta.bytes_upstream == 0  # none of the 200 passed under it
    assert delta.connections_refused == 5 and delta.connections_accepted == 9  # 8 after, + the one refused between
    assert proof.blackhole(delta, "tcp", "upstream").figures["discarded_share"] == 1.0


def turnarounds(*ms: float) -> Turnarounds:
    return Turnarounds(tuple(ms), total=len(ms), ring_size=4096)


def test_a_delay_without_requests_of_ours_is_judged_on_the_proxys_turnaround() -> None:
    found = proof.delay_by_turnaround(20, "upstream", turnarounds(0.4, 0.5, 0.6, 0.5, 9.0),
                                      turnarounds(20.5, 20.4, 20.6, 20.7, 20.5, 0.5))
    assert found.landed and found.figures["measured_by"] == "chaosproxy turnaround"
    assert found.figures["observed_added_ms"] == 20.0 and found.figures["turnarounds_during"] == 6
    assert found.summary.startswith("round trips +20.0 ms (p50 0.5 -> 20.5 ms, chaosproxy turnaround)")
    both = proof.delay_by_turnaround(20, "both", turnarounds(1, 1, 1, 1, 1), turnarounds(15, 15, 15, 15, 15))
    assert not both.landed and both.summary.endswith("against 40 ms configured (20 ms both), below 50% of it")
    seldom = proof.delay_by_turnaround(20, "upstream", turnarounds(1, 1), turnarounds(30, 30, 30, 30, 30))
    assert not seldom.landed and seldom.summary.startswith(
        "no latency reading (chaosproxy turnaround): 2 answered reads on the link before the fault and 5 during it, "
        "5 needed each")


def test_the_injector_falls_back_to_the_turnaround_where_requests_of_ours_are_missing() -> None:
    before, during = turnarounds(1, 1, 1, 1, 1), turnarounds(51, 51, 51, 51, 51)
    upstream = create("network", {"link": "upstream", "upstream": "127.0.0.1:9001", "fault": "delay",
                                  "latency_ms": 50, "direction": "upstream"}, "api")
    load = create("network", {"link": "load", "fault": "delay", "latency_ms": 50, "direction": "upstream"}, "api")
    assert isinstance(upstream, NetworkFault) and isinstance(load, NetworkFault)
    routed = [RoutedLink("upstream.api", LinkKind.UPSTREAM, "api", None, "udp", "127.0.0.1:1", "127.0.0.1:9001")]
    crossed = LinkStats(datagrams_upstream=10, datagrams_downstream=10)
    found = upstream._judge(routed, crossed, None, None, 3.0, (before, during))
    assert found.landed and found.figures["measured_by"] == "chaosproxy turnaround"
    assert found.figures["counts"] == {"datagrams_upstream": 10, "datagrams_downstream": 10}
    by_load = load._judge(routed, crossed, 2.0, 53.0, 3.0, (before, turnarounds(2, 2, 2, 2, 2)))
    assert by_load.landed and by_load.figures["measured_by"] == "the load's requests"  # its own reading first
    no_load = load._judge(routed, crossed, None, 53.0, 3.0, (before, during))
    assert no_load.landed and no_load.figures["measured_by"] == "chaosproxy turnaround"
    idle = upstream._judge(routed, LinkStats(), None, None, 3.0, (turnarounds(), turnarounds()))
    assert not idle.landed and idle.summary.startswith("no traffic crossed upstream.api")

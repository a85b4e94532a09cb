"""What a fault on a link did, measured, against what was configured: the proof it landed.

Every judgement reads the proxy's counters over the fault (`LinkStats` after minus before, summed
over the fault's links) and, for a delay, the added latency seen on requests crossing the link (the
load's median against its own just before, or timed probes through the link); where there are no
such requests (an upstream link: the service's own protocol) or too few, the proxy's own turnaround
(`Turnarounds`: from a read from a client to the next write back to it), median before against
during. Below the stated share
of the configured effect a fault did not land (the run is inconclusive, as for every fault):

    delay      the added round-trip latency observed >= DELAY_SHARE of the configured one
    loss       the share of new TCP connections refused (UDP: of datagrams dropped) >= LOSS_SHARE of
               the probability
    blackhole  >= BLACKHOLE_SHARE of the bytes (UDP: datagrams) on the faulted directions discarded
    reset      at least one connection reset
    bandwidth  the throughput of the busiest faulted direction within BANDWIDTH_RANGE of the limit
               (below it the traffic never reached the limit, above it the limit did not hold)

Pure functions of numbers, so the judgement is tested without a proxy.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import requests

from chaos.network.proxy import LinkStats, Turnarounds
from chaos.network.routing import RoutedLink
from chaos.timeline import Timeline

DELAY_SHARE = 0.5
LOSS_SHARE = 0.5
BLACKHOLE_SHARE = 0.9
BANDWIDTH_RANGE = (0.5, 1.25)
#: Fewer requests than this in a window is no latency reading.
MIN_REQUESTS = 10
#: Fewer turnarounds than this in a window is no reading (an upstream the service calls seldom).
MIN_TURNAROUNDS = 5
#: How a delay measured from the proxy's turnarounds says so.
BY_TURNAROUND = "chaosproxy turnaround"


@dataclass(frozen=True, slots=True)
class Proof:
    """Did it land, one line saying what was seen, and the figures (configured, observed, counts)."""

    landed: bool
    summary: str
    figures: dict[str, Any] = field(default_factory=dict)


#: Counters only a fault moves: what it dropped, refused or reset.
_DROPS = ("connections_refused", "connections_reset", "connections_cut", "bytes_discarded_upstream",
          "bytes_discarded_downstream", "datagrams_dropped_upstream", "datagrams_dropped_downstream")


def under_fault(before: LinkStats, applied: LinkStats, end: LinkStats) -> LinkStats:
    """The counts of a fault's time on a link, from readings just before it was put on, just after, and at its end.

    What it dropped counts from `before` (nothing is dropped without it, and a busy link loses its first bytes
    in the instant between the PUT and the next reading); what got through counts from `applied` (what passed
    before the fault is not the fault's). A connection refused in that instant was accepted in it too.
    """
    full, after = end - before, end - applied
    gap_refused = full.connections_refused - after.connections_refused
    return replace(after, connections_accepted=after.connections_accepted + gap_refused,
                   **{name: getattr(full, name) for name in _DROPS})


def directions(direction: str) -> tuple[str, ...]:
    """The proxy's directions a fault's `direction` covers."""
    return ("upstream", "downstream") if direction == "both" else (direction,)


def round_trip_factor(direction: str) -> int:
    """How many times a delay adds its latency to one request/response round trip."""
    return len(directions(direction))


def counts(delta: LinkStats) -> dict[str, int]:
    """The non-zero counters of `delta`, for the figures."""
    return {name: value for name, value in vars_of(delta).items() if value and not name.endswith("_unix_ns")
            and name != "connections_active"}


def vars_of(stats: LinkStats) -> dict[str, int]:
    return {name: getattr(stats, name) for name in LinkStats.__dataclass_fields__}


def carried(delta: LinkStats, protocol: str, direction: str) -> int:
    """Bytes (UDP: datagrams) delivered or dropped on `direction`'s directions: did any traffic cross?"""
    total = 0
    for way in directions(direction):
        if protocol == "udp":
            total += getattr(delta, f"datagrams_{way}") + getattr(delta, f"datagrams_dropped_{way}")
        else:
            total += getattr(delta, f"bytes_{way}") + getattr(delta, f"bytes_discarded_{way}")
    return total


def no_traffic(delta: LinkStats, protocol: str, direction: str, links: Sequence[str]) -> Proof | None:
    """Not landed when nothing crossed the links on the faulted directions (and no connection came)."""
    if carried(delta, protocol, direction) or delta.connections_accepted:
        return None
    return Proof(False, f"no traffic crossed {', '.join(links)} ({direction}) during the fault, so it acted on "
                        "nothing: make the service use the link while the fault lasts (load, a longer duration_s)",
                 {"counts": counts(delta)})


def delay(configured_ms: float, direction: str, before_ms: float | None, during_ms: float | None,
          via: str) -> Proof:
    """A delay, from the median latency of requests crossing the link before and during it (`via` says which)."""
    expected = configured_ms * round_trip_factor(direction)
    figures: dict[str, Any] = {"configured_latency_ms": configured_ms, "direction": direction,
                               "expected_added_ms": round(expected, 3), "measured_by": via}
    if before_ms is None or during_ms is None:
        return Proof(False, f"no latency reading ({via}): too few requests crossed the link before or during the "
                            "fault to measure the added latency", figures)
    added = during_ms - before_ms
    figures.update(before_p50_ms=round(before_ms, 3), during_p50_ms=round(during_ms, 3),
                   observed_added_ms=round(added, 3), observed_share=round(added / expected, 3) if expected else None)
    landed = added >= DELAY_SHARE * expected
    verdict = "" if landed else f", below {DELAY_SHARE:.0%} of it"
    return Proof(landed, f"round trips {added:+.1f} ms (p50 {before_ms:.1f} -> {during_ms:.1f} ms, {via}) against "
                         f"{expected:g} ms configured ({configured_ms:g} ms {direction}){verdict}", figures)


def delay_by_turnaround(configured_ms: float, direction: str, before: Turnarounds, during: Turnarounds) -> Proof:
    """A delay, from the proxy's median turnaround on the link before and during it (MIN_TURNAROUNDS each)."""
    found = delay(configured_ms, direction, turnaround_p50(before), turnaround_p50(during), BY_TURNAROUND)
    figures = {**found.figures, "turnarounds_before": len(before.samples_ms),
               "turnarounds_during": len(during.samples_ms)}
    if turnaround_p50(before) is None or turnaround_p50(during) is None:
        return Proof(False, f"no latency reading ({BY_TURNAROUND}): {len(before.samples_ms)} answered reads on the "
                            f"link before the fault and {len(during.samples_ms)} during it, {MIN_TURNAROUNDS} needed "
                            "each; make the service use the link before and while the fault lasts (load, a longer "
                            "duration_s)", figures)
    return Proof(found.landed, found.summary, figures)


def turnaround_p50(turnarounds: Turnarounds) -> float | None:
    """The median turnaround (None: fewer than MIN_TURNAROUNDS to say)."""
    samples = turnarounds.samples_ms
    return statistics.median(samples) if len(samples) >= MIN_TURNAROUNDS else None


def blackhole(delta: LinkStats, protocol: str, direction: str) -> Proof:
    ways = directions(direction)
    unit = "datagrams" if protocol == "udp" else "bytes"
    if protocol == "udp":
        lost = sum(getattr(delta, f"datagrams_dropped_{w}") for w in ways)
        through = sum(getattr(delta, f"datagrams_{w}") for w in ways)
    else:
        lost = sum(getattr(delta, f"bytes_discarded_{w}") for w in ways)
        through = sum(getattr(delta, f"bytes_{w}") for w in ways)
    share = lost / (lost + through) if lost + through else 0.0
    figures = {"direction": direction, f"{unit}_discarded": lost, f"{unit}_delivered": through,
               "discarded_share": round(share, 4), "counts": counts(delta)}
    landed = lost > 0 and share >= BLACKHOLE_SHARE
    verdict = "" if landed else f" (a blackhole must discard at least {BLACKHOLE_SHARE:.0%})"
    return Proof(landed, f"{lost} {unit} discarded, {through} delivered ({share:.1%} discarded, {direction}){verdict}",
                 figures)


def loss(delta: LinkStats, protocol: str, direction: str, probability: float) -> Proof:
    figures: dict[str, Any] = {"configured_probability": probability, "direction": direction, "counts": counts(delta)}
    if protocol == "udp":
        ways = directions(direction)
        dropped = sum(getattr(delta, f"datagrams_dropped_{w}") for w in ways)
        seen = dropped + sum(getattr(delta, f"datagrams_{w}") for w in ways)
        what = "datagrams dropped"
    else:
        dropped, seen, what = delta.connections_refused, delta.connections_accepted, "new connections refused"
    if not seen:
        why = ("no new connection crossed the link during the fault: loss on TCP refuses new connections only, "
               "open ones keep flowing" if protocol != "udp" else "no datagram crossed the link during the fault")
        return Proof(False, why, figures)
    share = dropped / seen
    figures.update(observed_share=round(share, 4), dropped=dropped, seen=seen)
    landed = share >= LOSS_SHARE * probability
    verdict = "" if landed else f", below {LOSS_SHARE:.0%} of it"
    return Proof(landed, f"{dropped} of {seen} {what} ({share:.1%}) against {probability:.1%} configured{verdict}",
                 figures)


def reset(delta: LinkStats) -> Proof:
    figures = {"connections_reset": delta.connections_reset, "counts": counts(delta)}
    if delta.connections_reset < 1:
        return Proof(False, "no connection was open or opened on the link to reset", figures)
    return Proof(True, f"{delta.connections_reset} connection(s) reset", figures)


def bandwidth(delta: LinkStats, protocol: str, direction: str, bytes_per_s: int, seconds: float) -> Proof:
    rates = {w: getattr(delta, f"bytes_{w}") / seconds for w in directions(direction)} if seconds > 0 else {}
    busiest = max(rates.values(), default=0.0)
    low, high = BANDWIDTH_RANGE
    figures: dict[str, Any] = {"configured_bytes_per_s": bytes_per_s, "direction": direction,
                               "observed_bytes_per_s": {w: round(r) for w, r in rates.items()},
                               "seconds": round(seconds, 3), "counts": counts(delta)}
    if protocol == "udp":
        figures["datagrams_dropped"] = delta.datagrams_dropped_upstream + delta.datagrams_dropped_downstream
    landed = low * bytes_per_s <= busiest <= high * bytes_per_s
    if busiest < low * bytes_per_s:
        why = f": the traffic never reached {low:.0%} of the limit, so it did not bite (load the link harder)"
    elif not landed:
        why = f": above {high:.0%} of the limit, it did not hold"
    else:
        why = ""
    return Proof(landed, f"{busiest:.0f} B/s through the busiest direction against {bytes_per_s} B/s{why}", figures)


# -- latency readings ------------------------------------------------------------------------------
def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def version_urls(links: Sequence[RoutedLink]) -> list[str]:
    """etcd answers GET /version on its client and its peer port: a request that crosses each link this host reaches
    (a link it cannot reach is judged by the proxy's turnaround instead)."""
    return [f"http://{link.probe}/version" for link in links if link.probe is not None]


def load_p50(timeline: Timeline, start_ns: int, end_ns: int) -> float | None:
    """The load's median latency over a window (None: too few requests in it to say)."""
    window = timeline.window(start_ns, end_ns)
    return window.p50_ms if window.count >= MIN_REQUESTS else None


def probe(urls: Sequence[str], count: int, timeout_s: float) -> list[float]:
    """Round-trip times (ms) of `count` GETs, spread over `urls` (each a keep-alive session); failures skipped."""
    if not urls:  # no link this host reaches: nothing to time
        return []
    sessions = {url: requests.Session() for url in urls}
    times: list[float] = []
    try:
        for session in sessions.values():
            session.trust_env = False
        for n in range(count):
            url = urls[n % len(urls)]
            started = time.perf_counter()
            try:
                sessions[url].get(url, timeout=timeout_s).raise_for_status()
            except requests.RequestException:
                continue
            times.append((time.perf_counter() - started) * 1000)
    finally:
        for session in sessions.values():
            session.close()
    return times

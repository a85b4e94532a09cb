"""Too little load to judge says why: requests that failed or hung are the service's news, not a light load."""

from __future__ import annotations

from chaos.oracles import baseline
from chaos.oracles.context import OracleContext, Phases
from chaos.timeline import RequestRecord, Timeline
from chaos.verdict import Status

S = 1_000_000_000


def few(records: list[RequestRecord]) -> str:
    timeline = Timeline()
    timeline.add_requests(records)
    finding = baseline.check(OracleContext([], timeline, Phases(0, 2 * S, 3 * S, 4 * S)))
    assert finding.status is Status.INCONCLUSIVE
    return finding.summary


def test_requests_that_time_out_are_named_as_a_service_not_answering() -> None:
    timeouts = [RequestRecord(i * S // 4, 5000.0, False, "DNS A example.org", 0, "Timeout") for i in range(3)]
    assert few(timeouts) == ("too little load to judge: 3 baseline / 3 total requests (need 20); 3 of 3 failed, "
                             "most often DNS A example.org: no response, Timeout (3x), the slowest after 5.0 s: the "
                             "service (or something it waits on) is not answering")


def test_slow_successes_read_as_a_hang_and_quick_ones_as_a_light_load() -> None:
    slow = [RequestRecord(i * S // 4, 2500.0, True, "GET /", 200) for i in range(3)]
    assert few(slow).endswith("; the slowest request took 2.5 s: its handlers (or what they wait on) hang")
    quick = [RequestRecord(i * S // 4, 2.0, True, "GET /", 200) for i in range(3)]
    assert few(quick).endswith("; every request was quick: raise load.users or the baseline window")
    assert few([]).endswith("no request finished at all: is the load aimed at the right host and port, and does the "
                            "service answer?")

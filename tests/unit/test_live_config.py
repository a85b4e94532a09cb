"""Knowing what is live without a version key: metrics parsed, writes matched, rollback judged.

The probes' network side runs in tests/integration/test_user_configs.py against a real service;
here the logic above it: the exposition parser's samples turned into an identity, a write matched
by any name it may be reported by, and the rollback oracle on timelines built event by event.
"""

from __future__ import annotations

import hashlib
from typing import Any

from chaos.injectors.live_watch import WriteBook, Written, identity_of, names_of
from chaos.observe.live_probes import MetricsProbe
from chaos.observe.probes import ReloadFlags, Seen, _metrics
from chaos.oracles import rollback
from chaos.oracles.context import OracleContext, Phases
from chaos.timeline import EventKind, Timeline
from chaos.verdict import Status

EXPOSITION = """# HELP svc_config_info Live config.
# TYPE svc_config_info gauge
svc_config_info{hash="abc123"} 1
# TYPE svc_config_last_reload_successful gauge
svc_config_last_reload_successful 0
# TYPE svc_config_hash gauge
svc_config_hash 4.2e+06
# TYPE svc_config_loads_total counter
svc_config_loads_total 7
"""


def test_metrics_give_the_identity_from_a_label_or_a_value_and_the_reload_flag() -> None:
    by_label = _metrics(EXPOSITION, MetricsProbe(metric="svc_config_info", label="hash",
                                                 success="svc_config_last_reload_successful"))
    assert by_label == Seen(identity="abc123", reloads=ReloadFlags(ok=False))
    assert _metrics(EXPOSITION, MetricsProbe(metric="svc_config_hash")) == Seen(identity="4200000")
    assert _metrics(EXPOSITION, MetricsProbe(metric="svc_config_loads")) == Seen(identity="7")  # a counter's family
    assert _metrics(EXPOSITION, MetricsProbe(metric="svc_config_loads_total")) == Seen(identity="7")
    assert _metrics(EXPOSITION, MetricsProbe(metric="nothing_here")) is None


def test_a_write_is_matched_by_any_name_a_service_may_report() -> None:
    text = '{"a": 1}\n'
    book = WriteBook()
    book.add(Written(0, 1, names_of("{}\n", {}, None), "accept", "initial", None))
    book.add(Written(1, 2, names_of(text, {"a": 1}, None), "accept", "value", identity_of(text, {"a": 1}, None)))
    for name in (hashlib.sha256(text.encode()).hexdigest(), hashlib.sha256(text.encode()).hexdigest()[:16],
                 hashlib.md5(text.encode()).hexdigest(), identity_of(text, {"a": 1}, None)):
        matched = book.match(Seen(identity=name))
        assert matched is not None and matched.index == 1, name
    assert book.match(Seen(tree={"a": 1})) is not None  # a whole-config endpoint, by content
    assert book.match(Seen(identity="deadbeef")) is None
    assert identity_of(text, None, "v7") == "v7"


def judge(events: list[tuple[EventKind, dict[str, Any]]]) -> tuple[Status, str, list[str]]:
    timeline = Timeline()
    for t_ns, (kind, details) in enumerate(events, start=1):
        timeline.record(kind, "reload_storm", t_ns=t_ns * 1_000_000, **details)
    finding = rollback.check(OracleContext([], timeline, Phases(0, 0, 10**9, 2 * 10**9)), rollback.RollbackParams())
    return finding.status, finding.summary, [e.text for e in finding.evidence]


def write(index: int, expect: str, **extra: Any) -> tuple[EventKind, dict[str, Any]]:
    return (EventKind.RELOAD_WRITE, {"version": f"h{index}", "valid": expect == "accept", "mutation": "structural",
                                     "write": index, "expect": expect, "origin": "variant:v", "names": [f"h{index}"],
                                     "changes": ["~ limits.burst: 8 -> 0"], **extra})


def live(index: int, **extra: Any) -> tuple[EventKind, dict[str, Any]]:
    return (EventKind.RELOAD_LIVE, {"version": f"h{index}", "write": index, "via": "metrics", **extra})


def settled(seen: int, expected: int) -> tuple[EventKind, dict[str, Any]]:
    return (EventKind.RELOAD_SETTLED, {"target": "svc", "live": f"h{seen}", "write": seen, "expected": expected})


def test_a_correct_storm_passes() -> None:
    status, summary, _ = judge([write(1, "accept"), live(1), write(2, "reject"), write(3, "unknown"), settled(1, 1)])
    assert status is Status.PASS, summary


def test_a_config_marked_invalid_seen_live_fails_naming_the_write() -> None:
    status, summary, evidence = judge([write(1, "accept"), live(1), write(2, "reject"), live(2), settled(2, 2)])
    assert status is Status.FAIL and "should have rejected" in summary
    assert any("write #2" in e and "limits.burst: 8 -> 0" in e and "via metrics" in e for e in evidence), evidence


def test_a_config_the_service_said_it_rejected_must_not_go_live_after() -> None:
    rejected = (EventKind.RELOAD_REJECTED, {"target": "svc", "write": 2, "via": "log", "why": "bad",
                                            "identified": True})
    status, summary, _ = judge([write(1, "accept"), write(2, "unknown"), rejected, live(2), settled(2, 2)])
    assert status is Status.FAIL, summary
    guessed = (EventKind.RELOAD_REJECTED, {"target": "svc", "write": 2, "via": "metrics", "why": "0",
                                           "identified": False})
    status, summary, _ = judge([write(1, "accept"), write(2, "unknown"), guessed, live(2), settled(2, 2)])
    assert status is Status.PASS, "a rejection the service did not attribute cannot convict a write"


def test_going_back_to_an_older_config_at_the_end_of_the_storm_fails() -> None:
    status, summary, _ = judge([write(1, "accept"), live(1), write(2, "accept"), live(2), live(1), settled(1, 2)])
    assert status is Status.FAIL and "at the end of the storm" in summary


def test_a_moving_reload_counter_proves_a_reload_not_which_config() -> None:
    moved = live(2, identified=False)
    status, summary, _ = judge([write(1, "accept"), write(2, "reject"), moved, settled(2, 2)])
    assert status is Status.PASS, summary


def test_probes_that_name_different_configs_disagree() -> None:
    from chaos.injectors.live_watch import disagreement

    assert disagreement({"metrics": ("a" * 64, 3), "header": ("a" * 64, 3)}) is None
    assert disagreement({"metrics": ("a" * 64, 3), "log": ("b" * 64, 2)}) == \
        f"log says write #2 ({'b' * 16}) is live, metrics says write #3 ({'a' * 16})"
    # hashes the suite cannot name: compared only when they are the same kind of string
    assert disagreement({"metrics": ("c" * 128, None), "log": ("d" * 128, None)}) is not None
    assert disagreement({"json": ("v1", None), "metrics": ("e" * 64, None)}) is None
    # one tied to a write, the other not (CoreDNS: its log's digest matched to write 2, its metric's not):
    # different digests of one kind still disagree
    assert disagreement({"metrics": ("c" * 128, None), "log": ("d" * 128, 2)}) == \
        f"log says {'d' * 128} is live, metrics says {'c' * 128}"
    assert disagreement({"metrics": ("c" * 128, None), "log": ("c" * 128, 2)}) is None
    status, summary, _ = judge([write(1, "accept"), live(1), write(2, "reject"),
                                (EventKind.RELOAD_SETTLED, {"target": "svc", "live": "h1", "write": 1, "expected": 1,
                                                            "disagreement": "metrics says x is live, log says y"})])
    assert status is Status.FAIL and "own reports disagree" in summary

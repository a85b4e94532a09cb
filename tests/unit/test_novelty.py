"""What a write made a service show that no earlier write did: log templates, signals, and the guide that
judges each write's window and names the interesting sites."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from chaos.injectors.base import FaultOutcome
from chaos.injectors.guide import Guide
from chaos.injectors.novelty import REJECTED, Novelty, latency_tier, service_lines, signals, template
from chaos.injectors.reload_sources import NextWrite
from chaos.platform.observations import ExitRecord, LogLine
from chaos.timeline import RequestRecord, Timeline, now_ns

MS = 1_000_000


# -- templates -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("one", "other"), [
    ("workers: 0 not in 1..64", "workers: -1 not in 1..64"),
    ("workers: 9223372036854775807 not in 1..64", "workers: 0 not in 1..64"),
    ('middleware[0]: "gochaos" is not one of logging, auth', "middleware[1]: 'x' is not one of logging, auth"),
    ("yaml: line 3: cannot unmarshal !!str `not-a...` into int", "yaml: line 12: cannot unmarshal !!str `x` into int"),
    ("reload ok hash=3f2a9c0b1d4e5f60 took 12ms", "reload ok hash=deadbeef01234567 took 1.5s"),
    ("goroutine 12 [running]:", "goroutine 7 [running]:"),
    ("\tmain.build(0xc000123456, {0xc0001, 0x10})", "\tmain.build(0xc000999999, {0xc0002, 0x20})"),
])
def test_what_varies_between_occurrences_of_one_message_folds_into_one_template(one: str, other: str) -> None:
    assert template(one) == template(other)


@pytest.mark.parametrize(("one", "other"), [
    ("workers: 0 not in 1..64", "buffer_size: 0 not in 1..4096"),
    ('middleware[0]: "x" is not one of a, b', 'middleware[0]: "x" is listed twice'),
    ("workers: 0 not in 1..64", "workers: 0 not in 1..64; limits.rps: 0 not in 1..1000"),
    ("panic: runtime error: integer divide by zero", "panic: runtime error: index out of range [0] with length 0"),
    ("added", "deadbeef"),  # words of hex letters are no hash
])
def test_different_messages_keep_different_templates(one: str, other: str) -> None:
    assert template(one) != template(other)


def test_a_json_line_is_templated_field_by_field_with_its_keys_sorted() -> None:
    line = ('{"time":"2026-01-02T03:04:05.123Z","level":"warn","msg":"reload rejected","hash":"9f86d081884c7d65",'
            '"error":"middleware[0]: \\"gochaos\\" is not one of logging, auth"}')
    assert template(line) == ("error=middleware[N]: Q is not one of logging, auth hash=H level=warn "
                              "msg=reload rejected time=NTNZ")
    assert template('{"msg":"x","n":3}') == template('{"n":4,"msg":"x"}')


def test_a_template_is_cut_so_a_long_echoed_value_is_one_template() -> None:
    assert template("bad value " + "x" * 5000) == template("bad value " + "x" * 5000 + "y")


def test_gctrace_and_pieces_of_interleaved_writes_are_no_service_message() -> None:
    gc = "gc 5 @2.878s 0%: 0.047+1.3+0.004 ms clock, 0.09+0.03/0.15/0.36+0.008 ms cpu, 3->3->1 MB, 4 MB goal, 2 P"
    assert service_lines(gc) == [] and service_lines("MB stacks, 0 MB globals, 2 P") == []
    assert service_lines('gc 7 @1.2s 0%: 0.1+{"msg":"reload ok"}') == ['{"msg":"reload ok"}']
    assert service_lines("panic: boom") == ["panic: boom"]
    assert signals(lines=[gc, "", "   "]) == set()


# -- signals ---------------------------------------------------------------------------------------------
def test_latency_tiers_are_powers_of_two_from_4x_above_a_floor() -> None:
    assert latency_tier(None, 10) is None and latency_tier(100, None) is None
    assert latency_tier(30, 5) is None, "6x but only 25 ms more: noise"
    assert latency_tier(100, 20) == 4 and latency_tier(170, 20) == 8 and latency_tier(1000, 20) == 32
    assert latency_tier(70, 20) is None, "3.5x"


def test_a_window_shows_its_rejection_templates_statuses_errors_latency_and_exits() -> None:
    shown = signals(rejected=True, lines=["workers: 0 not in 1..64"], statuses=[200, 503, 0],
                    request_errors=["ConnectionRefusedError: [Errno 111] port 40123"], tier=8, exits=["SIGSEGV"])
    assert shown == {REJECTED, "log:workers: N not in N..N", "status:200", "status:503",
                     "request-error:ConnectionRefusedError: [Errno N] port N", "latency:>=4x", "latency:>=8x",
                     "exit:SIGSEGV"}


def test_novelty_is_what_no_earlier_window_and_nothing_before_the_storm_showed() -> None:
    novelty = Novelty(signals(lines=["config loaded"], statuses=[200]))
    assert novelty.judge(signals(lines=["config loaded"], statuses=[200])) == ()
    assert novelty.judge(signals(rejected=True, lines=["workers: 0 not in 1..64"])) == (
        "log:workers: N not in N..N", REJECTED)
    assert novelty.judge(signals(rejected=True, lines=["workers: -1 not in 1..64"])) == ()
    assert novelty.judge(signals(rejected=True, lines=["workers: 0 not in 1..64; burst: 0 not in 0..9"])) == (
        "log:workers: N not in N..N; burst: N not in N..N",)
    assert novelty.judge(signals(tier=8)) == ("latency:>=4x", "latency:>=8x")
    assert novelty.judge(signals(tier=4)) == ()


# -- the guide -------------------------------------------------------------------------------------------
@dataclass
class _Target:
    """A target's output and exits as a storm reads them (stamped on the run's clock)."""

    lines: list[LogLine] = field(default_factory=list)
    ended: list[ExitRecord] = field(default_factory=list)

    def logs(self, since_ns: int | None = None) -> list[LogLine]:
        return [line for line in self.lines if since_ns is None or line.t_ns >= since_ns]

    def exits(self) -> list[ExitRecord]:
        return list(self.ended)

    def say(self, t_ns: int, text: str) -> None:
        self.lines.append(LogLine(t_ns, "stderr", text, 1))


@dataclass
class _Watcher:
    rejected: set[int] = field(default_factory=set)


def _write(site: str | None, follows: str | None = None) -> NextWrite:
    return NextWrite("x", None, "value", "unknown", "auto", (), None, site=site, follows=follows)


def test_the_guide_names_each_site_whose_window_showed_something_new_once() -> None:
    target, watcher, timeline = _Target(), _Watcher(), Timeline()
    t0 = now_ns() - 1900 * MS  # the load's results of the 2 s before the storm are not new
    target.say(t0 - 100 * MS, "config loaded")
    timeline.add_requests(RequestRecord(t0 - (100 - i) * MS, 2.0, True, status=200) for i in range(40))
    found: list[str] = []
    guide = Guide(target, timeline, watcher, found.append)  # type: ignore[arg-type]
    writes = [("workers:zero", "workers: 0 not in 1..64", 200),
              ("workers:negative", "workers: -1 not in 1..64", 200),  # the same template: nothing new
              ("greeting:empty-string", "reload ok", 200),  # a template never seen
              ("limits:remove-key", "reload ok", 503),  # a status never seen
              ("workers:zero+buffer_size:zero", "workers: 0 not in 1..64; buffer_size: 0 not in 1..9", 200)]
    for index, (site, line, status) in enumerate(writes, start=1):
        t = t0 + index * 100 * MS
        follows = "workers:zero" if "+" in site else None
        guide.wrote(index, t, _write(site, follows))
        target.say(t + 5 * MS, line)
        timeline.add_requests([RequestRecord(t + 10 * MS, 2.0, status == 200, status=status)])
    watcher.rejected |= {1, 2, 5}
    guide.update()  # every window but the last closed long ago
    assert found == ["workers:zero", "greeting:empty-string", "limits:remove-key"]
    assert guide.interesting["workers:zero"] == ("log:workers: N not in N..N", REJECTED)
    assert guide.interesting["limits:remove-key"] == ("status:503",)
    guide.update(final=True)
    assert found == ["workers:zero", "greeting:empty-string", "limits:remove-key"], "a follow-up is not re-followed"
    assert guide.follow_ups == 1 and list(guide.follow_ups_new) == ["workers:zero+buffer_size:zero"]
    outcome = guide.outcome(FaultOutcome(True, "5 writes"), followed=True)
    assert outcome.summary.startswith("5 writes; follow-ups: 1 of 3 interesting sites, 1 showed something new "
                                      "(first: workers:zero+buffer_size:zero: log:workers: N not in N..N; ")
    assert outcome.details["interesting_sites"]["greeting:empty-string"] == ["log:reload ok"]
    assert guide.outcome(FaultOutcome(True, "5 writes"), followed=False).summary == "5 writes"


def test_the_guide_waits_until_a_window_closed_long_enough_ago_for_the_load_and_probes() -> None:
    target, timeline = _Target(), Timeline()
    found: list[str] = []
    guide = Guide(target, timeline, _Watcher(), found.append)  # type: ignore[arg-type]
    now = now_ns()
    guide.wrote(1, now - 50 * MS, _write("a:zero"))
    target.say(now - 40 * MS, "boom")
    guide.wrote(2, now - 10 * MS, _write("b:zero"))
    guide.update()
    assert found == [], "the first window closed 10 ms ago: its results may still be on their way"
    guide.update(final=True)
    assert found == ["a:zero"]


def test_an_exit_nobody_asked_for_is_a_signal_of_the_window_it_fell_in() -> None:
    target, timeline = _Target(), Timeline()
    target.ended.append(ExitRecord(now_ns() - 9000 * MS, 1, 1, 0, None, True))  # before the storm, asked for
    found: list[str] = []
    guide = Guide(target, timeline, _Watcher(), found.append)  # type: ignore[arg-type]
    t = now_ns() - 1000 * MS
    guide.wrote(1, t, _write("a:zero"))
    guide.wrote(2, t + 100 * MS, _write("b:null"))
    target.ended.append(ExitRecord(t + 150 * MS, 7, 1, -11, "SIGSEGV", False))
    guide.update(final=True)
    assert found == ["b:null"] and guide.interesting["b:null"] == ("exit:SIGSEGV",)


def test_a_guide_that_cannot_read_the_target_stops_judging_and_leaves_the_storm_be() -> None:
    @dataclass
    class _Spec:
        name: str = "svc"

    class _Gone(_Target):
        spec = _Spec()

        def logs(self, since_ns: int | None = None) -> list[LogLine]:
            if since_ns is not None:
                raise OSError("the log file went away")
            return []

    found: list[str] = []
    guide = Guide(_Gone(), Timeline(), _Watcher(), found.append)  # type: ignore[arg-type]
    guide.wrote(1, now_ns() - 1000 * MS, _write("a:zero"))
    guide.update(final=True)
    guide.update(final=True)
    assert found == [] and guide.failed == "OSError: the log file went away"
    assert guide.outcome(FaultOutcome(True, "1 write"), followed=False).details["guide_failed"] == guide.failed

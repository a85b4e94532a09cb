"""Go crash recognition on output shaped like the runtime prints it, among JSON log lines."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import cast

import pytest
from report_samples import MS, T0, sample_result

from chaos.errors import ScenarioError
from chaos.oracles.context import OracleContext, Phases
from chaos.oracles.gocrash import find_crashes, short_function
from chaos.oracles.panics import ORACLE, PanicsParams, check
from chaos.platform.base import RunningTarget
from chaos.platform.observations import ExitRecord, LogLine
from chaos.report import junit
from chaos.targets import TargetSpec
from chaos.timeline import EventKind, Timeline
from chaos.verdict import Status


def lines(text: str, stream: str = "stderr", incarnation: int = 1) -> list[LogLine]:
    return [LogLine(i, stream, line, incarnation) for i, line in enumerate(text.splitlines())]


FATAL = """{"time":"2026-11-24T01:00:00Z","level":"INFO","msg":"reload_ok","version":"2"}
fatal error: concurrent map writes

goroutine 23 [running]:
internal/runtime/maps.fatal({0x7b4e2a?, 0x0?})
\t/usr/local/go/src/runtime/panic.go:1058 +0x18
main.(*cache).set(...)
\t/src/cache.go:40 +0x2a

goroutine 1 [IO wait]:
internal/poll.runtime_pollWait(0x7f, 0x72)
"""


def test_fatal_error_among_json_lines_with_its_own_stack() -> None:
    crashes = find_crashes(lines(FATAL))
    assert len(crashes) == 1
    crash = crashes[0]
    assert crash.kind == "fatal error" and crash.headline == "fatal error: concurrent map writes"
    assert crash.stack[0] == "goroutine 23 [running]:"
    assert crash.stack[-1].endswith("/src/cache.go:40 +0x2a")
    assert not any("IO wait" in line for line in crash.stack)


def test_a_log_line_spliced_into_the_headline_is_taken_out_of_it() -> None:
    spliced = FATAL.replace("fatal error: concurrent map writes",
                            'fatal error: {"time":"2026-11-24T01:00:01Z","level":"info","msg":"reload ok"}\n'
                            "concurrent map iteration and map write")
    (crash,) = find_crashes(lines(spliced))
    assert crash.headline == "fatal error: concurrent map iteration and map write"


def test_panic_followed_by_sigsegv_is_one_crash() -> None:
    text = """panic: runtime error: invalid memory address or nil pointer dereference
[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x4a1b2c]

goroutine 7 [running]:
main.handler(...)
"""
    crashes = find_crashes(lines(text))
    assert [c.kind for c in crashes] == ["panic"]
    assert crashes[0].stack == ("goroutine 7 [running]:", "main.handler(...)")


def test_each_signature_is_recognised() -> None:
    cases = {
        "panic: assignment to entry in nil map": "panic",
        "fatal error: concurrent map read and map write": "fatal error",
        "runtime: out of memory: cannot allocate 1048576-byte block": "out of memory",
        "WARNING: DATA RACE": "data race",
        "unexpected signal during runtime execution": "unexpected signal",
        '2026/11/24 01:00:00 http: panic serving 127.0.0.1:5555: boom': "http handler panic",
        '{"level":"ERROR","msg":"http: panic serving 127.0.0.1:5555: boom"}': "http handler panic",
    }
    for text, kind in cases.items():
        found = find_crashes(lines(text))
        assert [c.kind for c in found] == [kind], text


def test_ordinary_logs_mentioning_panic_are_not_crashes() -> None:
    text = '{"msg":"reload_rejected","reason":"panic: is not a valid middleware"}\nall good'
    assert find_crashes(lines(text)) == []


def test_stack_of_a_crash_does_not_come_from_the_next_incarnation() -> None:
    out = lines("fatal error: concurrent map writes", incarnation=1) + \
        lines("goroutine 1 [running]:\nmain.main()", incarnation=2)
    crashes = find_crashes(out)
    assert len(crashes) == 1 and crashes[0].stack == ()


RECOVERED = """[INFO] Reloading
/usr/bin/coredns flag redefined: log_dir
[PANIC] Restart: /usr/bin/coredns flag redefined: log_dir
"""


def test_a_panic_the_service_recovered_counts_only_in_the_words_it_is_given() -> None:
    assert find_crashes(lines(RECOVERED)) == []
    crashes = find_crashes(lines(RECOVERED), [("recovered panic", re.compile(r"^\[PANIC\] "))])
    assert [(c.kind, c.headline, c.stack) for c in crashes] == [
        ("recovered panic", "[PANIC] Restart: /usr/bin/coredns flag redefined: log_dir", ())]


def test_the_panics_oracle_refuses_a_recovered_pattern_that_is_no_regular_expression() -> None:
    with pytest.raises(ScenarioError, match=r"^oracle panics params: recovered: '\[PANIC' is not a "
                                            r"regular expression \(unterminated character set"):
        ORACLE.bind({"recovered": ["[PANIC"]})
    ORACLE.bind({"recovered": [r"^\[PANIC\] "]})


RACES = Path(__file__).resolve().parents[1] / "data" / "race"


def race_lines(name: str) -> list[LogLine]:
    return lines((RACES / name).read_text())


# Real reports of `go build -race` binaries: the greeter-* ones from a 40-line program (package
# example.com/acme/greeter/internal/server) racing one pair each; configd's under concurrent PUTs.
@pytest.mark.parametrize(("log", "summaries"), [
    ("greeter-map-write-vs-read.log",  # runtime.mapassign_faststr / mapaccess1_faststr skipped
     ["WARNING: DATA RACE: write in server.(*Server).applyReload vs read in server.(*Server).handleStatus"]),
    ("greeter-field-write-vs-write.log",
     ["WARNING: DATA RACE: write in server.(*Server).setVersion vs write in server.(*Server).setVersion"]),
    ("greeter-main-goroutine-write-vs-read.log",  # "Write at 0x... by main goroutine:"
     ["WARNING: DATA RACE: write in server.(*Server).setVersion vs read in server.(*Server).Version"]),
    # both sync/atomic.AddInt64 frames skipped; (*Server).countAtomic touches no memory itself, so the
    # race runtime never saw it entered and the closure calling it is the first frame printed
    ("greeter-atomic-vs-plain-write.log",
     ["WARNING: DATA RACE: write in server.(*Server).resetPlain vs write in server.Race.func5"]),
    ("configd-cache-race.log", [  # three reports among JSON log lines: plain field, then map, accesses
        "WARNING: DATA RACE: read in configd.(*unlockedCache).Set vs write in configd.(*unlockedCache).Set",
        "WARNING: DATA RACE: write in configd.(*unlockedCache).Set vs write in configd.(*unlockedCache).Set",
        "WARNING: DATA RACE: write in configd.(*unlockedCache).Set vs write in configd.(*unlockedCache).Set",
    ]),
])
def test_a_real_race_report_is_summarised_by_both_racing_accesses(log: str, summaries: list[str]) -> None:
    crashes = find_crashes(race_lines(log))
    assert [(c.kind, c.headline) for c in crashes] == [("data race", "WARNING: DATA RACE")] * len(summaries)
    assert [c.summary for c in crashes] == summaries
    for crash in crashes:
        first, previous = crash.accesses
        assert re.match(r"(Read|Write) at 0x[0-9a-f]+ by (goroutine \d+|main goroutine):$", first.stack[0])
        assert re.match(r"Previous (read|write) at 0x[0-9a-f]+ by goroutine \d+:$", previous.stack[0])
        assert crash.stack == first.stack  # the crash's own stack is still the first access's
        assert not any("created at:" in line for access in crash.accesses for line in access.stack)


def test_a_race_report_with_atomic_accesses_and_a_lost_stack() -> None:
    # The shapes other Go versions print: atomic accesses named as such, a stack tsan could not restore.
    text = """==================
WARNING: DATA RACE
Atomic write at 0x00c0000a4078 by goroutine 9:
  internal/race.WriteRange()
      internal/race/race.go:40 +0x1
  sync/atomic.StoreInt64()
      runtime/race_amd64.s:289 +0xb
  github.com/acme/svc/internal/stats.(*Counter)[...].Reset()
      /src/internal/stats/counter.go:12 +0x34

Previous read at 0x00c0000a4078 by goroutine 7:
  [failed to restore the stack]

Goroutine 9 (running) created at:
  main.main()
==================
"""
    [crash] = find_crashes(lines(text))
    assert [(a.access, a.frame) for a in crash.accesses] == [("atomic write", "stats.(*Counter)[...].Reset"),
                                                            ("read", "")]
    assert crash.summary == ("WARNING: DATA RACE: atomic write in stats.(*Counter)[...].Reset "
                             "vs read (stack not restored)")


def test_a_race_report_is_read_on_its_own_stream_and_incarnation() -> None:
    report = (RACES / "greeter-map-write-vs-read.log").read_text().splitlines()
    # other output on stdout interleaved with the report on stderr; the process restarts in the second access
    out = [LogLine(2 * i, "stderr", text, 1) for i, text in enumerate(report[:16])]
    out += [LogLine(2 * i + 1, "stdout", "Write at 0x00c0000ab290 by goroutine 3:", 1) for i in range(16)]
    out += [LogLine(100, "stderr", "  main.main()", 2)]
    [crash] = find_crashes(sorted(out, key=lambda line: line.t_ns))
    assert [(a.access, a.frame) for a in crash.accesses] == [("write", "server.(*Server).applyReload"),
                                                            ("read", "server.(*Server).handleStatus")]
    assert crash.accesses[1].stack == tuple(report[12:16])  # up to "  ...server.(*Server).handleStatus()"


def test_a_race_report_cut_off_before_its_accesses_is_summarised_by_its_headline() -> None:
    [crash] = find_crashes(lines("==================\nWARNING: DATA RACE\n==================\n"))
    assert crash.accesses == () and crash.summary == "WARNING: DATA RACE"


@pytest.mark.parametrize(("function", "short"), [
    ("github.com/acme/svc/internal/cache.(*unlockedCache).Set", "cache.(*unlockedCache).Set"),
    ("example.com/acme/greeter/internal/server.Race.func7", "server.Race.func7"),
    ("main.main", "main.main"),
    ("net/http.(*conn).serve", "http.(*conn).serve"),
    ("github.com/acme/svc/cache.Map[go.shape.string,github.com/acme/svc/model.Item].Load",
     "cache.Map[go.shape.string,github.com/acme/svc/model.Item].Load"),
])
def test_function_names_are_cut_to_the_last_package_path_element(function: str, short: str) -> None:
    assert short_function(function) == short


class LoggedTarget:
    """Just what the panics oracle reads of a target: its name, output, exits and restarts."""

    def __init__(self, name: str, output: list[LogLine]) -> None:
        self.spec = TargetSpec.model_validate({"name": name, "command": [name]})
        self.restarts = 0
        self._output = output

    def logs(self, since_ns: int | None = None) -> list[LogLine]:
        return self._output

    def exits(self) -> list[ExitRecord]:
        return []


def test_the_panics_finding_and_its_junit_failure_name_both_racing_accesses(tmp_path: Path) -> None:
    output = [LogLine(T0 + 2500 * MS + i, line.stream, line.text, 1)
              for i, line in enumerate(race_lines("greeter-map-write-vs-read.log"))]
    timeline = Timeline()
    timeline.record(EventKind.FAULT_START, "reload_storm", t_ns=T0 + 2000 * MS, fault_id=1)
    timeline.record(EventKind.FAULT_END, "reload_storm", t_ns=T0 + 4000 * MS, fault_id=1)
    target = cast(RunningTarget, LoggedTarget("greeter", output))
    finding = check(OracleContext([target], timeline, Phases(T0, T0 + 2000 * MS, T0 + 4000 * MS, T0 + 6000 * MS)),
                    PanicsParams())
    headline = ("greeter: WARNING: DATA RACE: write in server.(*Server).applyReload vs read in "
                "server.(*Server).handleStatus (during fault reload_storm#1, 500 ms after it started)")
    assert finding.status is Status.FAIL
    assert finding.summary == f"{headline}; 0 unrequested exit(s), 0 restart(s)"
    [evidence] = finding.evidence
    quoted = evidence.text.splitlines()
    assert quoted[0] == ("greeter data race, during fault reload_storm#1, 500 ms after it started: WARNING: DATA "
                         "RACE: write in server.(*Server).applyReload vs read in server.(*Server).handleStatus")
    assert quoted[1].startswith("Write at 0x") and "applyReload()" in quoted[4]
    assert quoted[10] == "" and quoted[11].startswith("Previous read at 0x") and "handleStatus()" in quoted[14]

    failure = next(c for c in ET.parse(junit.write(sample_result([finding]), tmp_path)).getroot().iter("testcase")
                   if c.get("name") == "panics").find("failure")
    assert failure is not None and failure.get("message") == finding.summary
    assert "Previous read at 0x" in (failure.text or "")

"""Go crash recognition on output shaped like the runtime prints it, among JSON log lines."""

from __future__ import annotations

import re

import pytest

from chaos.errors import ScenarioError
from chaos.oracles.gocrash import find_crashes
from chaos.oracles.panics import ORACLE
from chaos.platform.observations import LogLine


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

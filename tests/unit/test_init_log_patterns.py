"""Reload log regexes proposed from real services' lines: the message, without timestamps or details."""

from __future__ import annotations

import re

from chaos.init.log_patterns import FAIL_WORDS, RELOAD_WORDS, confirmed, failure_lines, propose, reload_lines

NATS_OK = "[5036] 2026/12/07 11:56:13.090693 [INF] Reloaded server configuration (sha256:e0b999c9bc950688)"
NATS_FAILED = "[5036] 2026/12/07 11:56:13.606532 [ERR] Failed to reload server configuration: Parse error on line 12"
SLOG = 'time=2026-12-07T11:56:57Z level=INFO msg="config reloaded" hash=abcdef0123456789'


def test_the_message_around_each_keyword() -> None:
    assert propose(NATS_OK, RELOAD_WORDS) == ["Reloaded server configuration"]
    assert propose(NATS_FAILED, FAIL_WORDS) == ["Failed to reload server configuration", "Parse error on line"]
    assert propose("[INFO] plugin/reload: Running configuration SHA512 = 2b0f", RELOAD_WORDS) == [
        "plugin/reload", "Running configuration SHA"]


def test_a_hash_of_the_written_file_becomes_the_id_group() -> None:
    pattern = propose(SLOG, RELOAD_WORDS, ["abcdef0123456789"])[0]

    assert pattern == 'config reloaded" hash=(?P<id>[0-9a-f]{8,})'
    match = re.search(pattern, SLOG)
    assert match is not None and match.group("id") == "abcdef0123456789"


def test_request_and_gc_lines_are_never_reload_lines() -> None:
    lines = ['level=INFO msg="200 GET /-/config 0.1ms"', "gc 3 @0.1s 1%: config", NATS_OK, NATS_FAILED]

    assert reload_lines(lines) == [NATS_OK, NATS_FAILED]
    assert failure_lines(lines) == [NATS_FAILED]


def test_confirmed_matches_what_it_must_and_nothing_else() -> None:
    assert confirmed("Reloaded server configuration", [NATS_OK], [NATS_FAILED])
    assert not confirmed("server configuration", [NATS_FAILED], [NATS_OK])
    assert not confirmed("Reloaded", [NATS_FAILED], [])

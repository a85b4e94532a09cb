"""Regexes for a service's reload log lines, proposed from the lines it printed around a real reload.

A log probe (`kind: log`) needs an `accepted` regex (and a `rejected` one, to see a refused config).
From a line such as `[5036] 2026/12/07 11:56:13.090693 [INF] Reloaded server configuration
(sha256:e0b9...)` the message is cut out (the words around the reload keyword, stopping at
punctuation, digits and `key=` fields, so timestamps, pids and error details stay out) and, when
the line names the written file's hash, the hash becomes the `(?P<id>...)` group: the run then
knows WHICH config the service took. A proposal is kept only when it matches the lines it must and
none of the others (checked by `confirmed`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

#: Words of a line that speaks of a reload (accepted or not).
RELOAD_WORDS = re.compile(r"reload|config|conf\b|loaded|load ", re.IGNORECASE)
#: Words of a line that speaks of a failure.
FAIL_WORDS = re.compile(r"fail|error|invalid|reject|unable|cannot|can't|could not|refus|bad |panic", re.IGNORECASE)
#: A request log line (its path may hold any word): never a reload line.
REQUEST_LINE = re.compile(r"\b(GET|HEAD|POST|PUT|DELETE|PATCH) /")
#: Go's gctrace lines (GODEBUG=gctrace=1, set for every launched service).
GCTRACE = re.compile(r"^gc \d+ @|^scvg|^GC forced")
#: Message characters: words and spaces, plus a few a sentence uses.
_MESSAGE_CHAR = re.compile(r"[A-Za-z ,'_/-]")
#: The most characters between a message and the hash it names (`","target":"svc","hash":"` in a JSON line).
MAX_BETWEEN = 64
#: A hash id's group in a proposed regex.
ID_GROUP = "(?P<id>[0-9a-f]{8,})"


def reload_lines(lines: Iterable[str]) -> list[str]:
    """The lines that speak of a reload, without request and GC trace lines."""
    return [line for line in lines if RELOAD_WORDS.search(line) and not REQUEST_LINE.search(line)
            and not GCTRACE.search(line)]


def failure_lines(lines: Iterable[str]) -> list[str]:
    """The lines that speak of a failure (a refused config), without request and GC trace lines."""
    return [line for line in lines if FAIL_WORDS.search(line) and not REQUEST_LINE.search(line)
            and not GCTRACE.search(line)]


def propose(line: str, keyword: re.Pattern[str], hashes: Sequence[str] = ()) -> list[str]:
    """Regexes for the messages of `line` around each `keyword` match; with `hashes` (hex digests of the config
    that was written) in the line, the hash becomes the `id` group. Empty when no message is found."""
    out: list[str] = []
    for found in keyword.finditer(line):
        pattern = _around(line, found.start(), found.end(), hashes)
        if pattern is not None and pattern not in out:
            out.append(pattern)
    return out


def _around(line: str, start: int, end: int, hashes: Sequence[str]) -> str | None:
    while start > 0 and _MESSAGE_CHAR.match(line[start - 1]):
        start -= 1
    while end < len(line) and _MESSAGE_CHAR.match(line[end]):
        end += 1
    message = line[start:end]
    if "=" in line[end:end + 1]:  # `msg=... hash=`: the key of the next field is not the message
        message = message.rsplit(" ", 1)[0]
    message = message.strip(" ,'/_-")
    if len(message) < 4:
        return None
    pattern = _literal(message)
    message_end = line.find(message, start) + len(message)
    at = next((line.find(h, message_end) for h in hashes if line.find(h, message_end) >= 0), -1)
    if at >= 0:
        between = line[message_end:at]
        if len(between) <= MAX_BETWEEN:
            return pattern + _literal(between) + ID_GROUP
    return pattern


def confirmed(pattern: str, must: Sequence[str], never: Sequence[str]) -> bool:
    """Does `pattern` match at least one line of `must` and none of `never`?"""
    compiled = re.compile(pattern)
    return any(compiled.search(line) for line in must) and not any(compiled.search(line) for line in never)


def _literal(text: str) -> str:
    """`text` as a regex matching it exactly, readable: spaces and colons stay as they are."""
    return re.escape(text).replace("\\ ", " ")

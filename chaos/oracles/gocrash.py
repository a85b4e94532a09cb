"""Recognise Go crashes in a service's output: headlines and the crashing goroutine's stack.

Go crash output is plain text on stderr, often among JSON log lines: a headline (`panic: ...`,
`fatal error: ...`), then one `goroutine N [state]:` block per goroutine when GOTRACEBACK=all. A
race detector report (`WARNING: DATA RACE`) is followed by the racing access's stack instead.
net/http recovers handler panics and only logs `http: panic serving ...` with a stack; the process
lives on but the request failed, so that counts too.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from chaos.platform.observations import LogLine

#: (kind, pattern) in the order they are tried on each line.
SIGNATURES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("fatal error", re.compile(r"^fatal error: (?P<what>.+)$")),
    ("panic", re.compile(r"^panic: (?P<what>.+?)(?: \[recovered\])?$")),
    ("out of memory", re.compile(r"^runtime: out of memory(?P<what>.*)$")),
    ("signal", re.compile(r"^\[signal (?P<what>SIG\w+.*)\]$")),
    ("unexpected signal", re.compile(r"^unexpected signal (?P<what>.+)$")),
    ("data race", re.compile(r"^(?P<what>WARNING: DATA RACE)$")),
    ("http handler panic", re.compile(r"http: panic serving (?P<what>[^\"]+)")),
)
_GOROUTINE = re.compile(r"^goroutine \d+ \[[^\]]+\]:$")
#: A race report's stacks start at the access: "Read at 0x... by goroutine 17:".
_RACE_ACCESS = re.compile(r"^(Previous )?(read|write|Read|Write) at 0x[0-9a-f]+ by (goroutine \d+|main goroutine):$")
_STACK_LIMIT = 40


@dataclass(frozen=True, slots=True)
class GoCrash:
    """One crash headline in a target's output, with the stack that follows it."""

    kind: str
    headline: str
    t_ns: int
    incarnation: int
    stack: tuple[str, ...]


def find_crashes(lines: Sequence[LogLine],
                 extra: Sequence[tuple[str, re.Pattern[str]]] = ()) -> list[GoCrash]:
    """Every crash headline in `lines`, each with its first goroutine stack (if one follows).

    `extra` adds signatures tried after Go's own: how a service logs a panic it recovered itself.
    A SIGSEGV headline right after a panic headline is part of the same crash, not a second one.
    """
    crashes: list[GoCrash] = []
    signatures = (*SIGNATURES, *extra)
    for index, line in enumerate(lines):
        text = line.text.strip()
        for kind, pattern in signatures:
            match = pattern.search(text)
            if match is None:
                continue
            if kind == "signal" and crashes and crashes[-1].incarnation == line.incarnation \
                    and index > 0 and lines[index - 1].text.startswith("panic: "):
                break
            crashes.append(GoCrash(kind, text, line.t_ns, line.incarnation,
                                   _stack_after(lines, index)))
            break
    return crashes


def _stack_after(lines: Sequence[LogLine], index: int) -> tuple[str, ...]:
    """The first `goroutine N [...]:` (or race access) block after `index`, up to the blank line ending it."""
    incarnation, stream = lines[index].incarnation, lines[index].stream
    own = [line for line in lines[index + 1:index + 400] if line.stream == stream]
    start = None
    for j, line in enumerate(own):
        if line.incarnation != incarnation:
            break
        if _GOROUTINE.match(line.text.strip()) or _RACE_ACCESS.match(line.text.strip()):
            start = j
            break
    if start is None:
        return ()
    stack: list[str] = []
    for line in own[start:]:
        if line.incarnation != incarnation or not line.text.strip() or len(stack) >= _STACK_LIMIT:
            break
        stack.append(line.text.rstrip())
    return tuple(stack)

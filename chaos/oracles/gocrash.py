"""Recognise Go crashes in a service's output: headlines and the crashing goroutine's stack.

Go crash output is plain text on stderr, often among JSON log lines: a headline (`panic: ...`,
`fatal error: ...`), then one `goroutine N [state]:` block per goroutine when GOTRACEBACK=all. A
race detector report (`WARNING: DATA RACE`) is followed by the stacks of the two racing accesses
instead (`Write at 0x... by goroutine 8:`, then `Previous read at 0x... by goroutine 7:`); the crash
names both by their first frame outside the runtime.
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
#: A race report's stacks start at the access: "Read at 0x... by goroutine 17:", "Previous atomic write at ...".
_RACE_ACCESS = re.compile(r"^(?:Previous )?(?P<access>(?:[Aa]tomic )?(?:[Rr]ead|[Ww]rite)) at 0x[0-9a-fA-F]+ "
                          r"by (?:goroutine \d+|main goroutine|thread T\d+):$")
#: The line that closes a race report (and opens the next one).
_RACE_FENCE = re.compile(r"^={10,}$")
#: A frame in a race report's stack: "github.com/acme/svc/internal/cache.(*unlockedCache).Set()".
_RACE_FRAME = re.compile(r"^(?P<function>\S.*?)\([^()]*\)$")
#: Frames of the runtime, the race runtime and atomics: never the code that raced.
_RUNTIME_FRAMES = ("runtime.", "internal/runtime/", "internal/race.", "internal/sync.", "sync/atomic.",
                   "race.", "__tsan", "__race")
_STACK_LIMIT = 40
_REPORT_LIMIT = 400


@dataclass(frozen=True, slots=True)
class RaceAccess:
    """One of the two accesses a race report names, with the first frame of the code that made it."""

    #: "write", "read", "atomic write", ...: the report's word, without its "Previous".
    access: str
    #: First frame outside the runtime, package path cut to its last element: "cache.(*unlockedCache).Set";
    #: "" when the race detector could not restore the stack.
    frame: str
    #: The access's block as printed: "Previous read at 0x... by goroutine 7:", then its frames.
    stack: tuple[str, ...]

    def describe(self) -> str:
        """In words: `write in cache.(*unlockedCache).Set`."""
        return f"{self.access} in {self.frame}" if self.frame else f"{self.access} (stack not restored)"


@dataclass(frozen=True, slots=True)
class GoCrash:
    """One crash headline in a target's output, with the stack that follows it."""

    kind: str
    headline: str
    t_ns: int
    incarnation: int
    stack: tuple[str, ...]
    #: For a data race, the racing accesses as the report lists them: the current one, then the previous one.
    accesses: tuple[RaceAccess, ...] = ()

    @property
    def summary(self) -> str:
        """The headline, and for a data race both accesses:
        "WARNING: DATA RACE: write in server.(*Server).applyReload vs read in server.(*Server).handleStatus"."""
        if not self.accesses:
            return self.headline
        return f"{self.headline}: {' vs '.join(access.describe() for access in self.accesses)}"


def find_crashes(lines: Sequence[LogLine],
                 extra: Sequence[tuple[str, re.Pattern[str]]] = ()) -> list[GoCrash]:
    """Every crash headline in `lines`, each with its first goroutine stack (if one follows).

    `extra` adds signatures tried after Go's own: how a service logs a panic it recovered itself.
    A SIGSEGV headline right after a panic headline is part of the same crash, not a second one.
    """
    crashes: list[GoCrash] = []
    signatures = (*SIGNATURES, *extra)
    for index, line in enumerate(lines):
        text = _unspliced(lines, index)
        for kind, pattern in signatures:
            match = pattern.search(text)
            if match is None:
                continue
            if kind == "signal" and crashes and crashes[-1].incarnation == line.incarnation \
                    and index > 0 and lines[index - 1].text.startswith("panic: "):
                break
            accesses = _race_accesses(lines, index) if kind == "data race" else ()
            crashes.append(GoCrash(kind, text, line.t_ns, line.incarnation,
                                   _stack_after(lines, index), accesses))
            break
    return crashes


#: A headline whose message a log line of another goroutine landed in: Go writes `fatal error: ` and the
#: message separately, so a JSON log line written between them splits the headline across two lines.
_SPLICED = re.compile(r"^(panic: |fatal error: )\{.*\}$")


def _unspliced(lines: Sequence[LogLine], index: int) -> str:
    """Line `index`'s text, with a headline split by a spliced-in JSON log line joined back together."""
    text = lines[index].text.strip()
    match = _SPLICED.match(text)
    if match is None:
        return text
    following = next((line for line in lines[index + 1:index + 3] if line.stream == lines[index].stream), None)
    return match.group(1) + following.text.strip() if following is not None else text


def _race_accesses(lines: Sequence[LogLine], index: int) -> tuple[RaceAccess, ...]:
    """The racing accesses of the race report whose `WARNING: DATA RACE` is at `index`, in its order."""
    incarnation, stream = lines[index].incarnation, lines[index].stream
    blocks: list[tuple[str, list[str]]] = []
    open_block = False
    for line in lines[index + 1:index + _REPORT_LIMIT]:
        if line.stream != stream:
            continue
        text = line.text.strip()
        if line.incarnation != incarnation or _RACE_FENCE.match(text) or text == "WARNING: DATA RACE":
            break
        header = _RACE_ACCESS.match(text)
        if header:
            if len(blocks) == 2:
                break
            blocks.append((header["access"].lower(), [line.text.rstrip()]))
            open_block = True
        elif not text:
            open_block = False
        elif open_block and len(blocks[-1][1]) < _STACK_LIMIT:
            blocks[-1][1].append(line.text.rstrip())
    return tuple(RaceAccess(access, _first_own_frame(block[1:]), tuple(block)) for access, block in blocks)


def _first_own_frame(stack: Sequence[str]) -> str:
    """The first frame of `stack` outside the runtime (the first at all if every one is), shortened; "" if none."""
    functions = [m["function"] for m in (_RACE_FRAME.match(text.strip()) for text in stack) if m]
    own = [function for function in functions if not function.startswith(_RUNTIME_FRAMES)]
    return short_function((own or functions or [""])[0])


def short_function(function: str) -> str:
    """A Go function name with its package path cut to the last element:
    "github.com/acme/svc/internal/cache.(*unlockedCache).Set" -> "cache.(*unlockedCache).Set"."""
    generic = function.find("[")  # type arguments may hold paths of their own
    return function[function.rfind("/", 0, generic if generic >= 0 else len(function)) + 1:]


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

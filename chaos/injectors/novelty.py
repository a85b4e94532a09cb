"""What a write made a service show that no write before it did: the observable analogue of coverage.

A coverage-guided fuzzer keeps an input that reached a new branch. A service under a reload storm
shows no branches, but it shows *signals*, and a write whose window (from it to the next write)
shows one never shown before reached something new:

- `reload:rejected`: the service refused it (the live watcher saw a rejection);
- `log:TEMPLATE`: a line of its output whose template is new (numbers, hex, quoted values and
  durations folded: `workers: 0 not in 1..64` is `workers: N not in N..N`), so a new validation
  message, a new error path, a crash's headline; the Go runtime's gctrace lines are no signal;
- `status:CODE` and `request-error:TEMPLATE`: a status code (or client-side failure) the load had
  not seen;
- `latency:>=Nx`: the window's p99 reached a new power-of-two tier (4x, 8x, ...) over the p99 just
  before the storm, by more than `LATENCY_FLOOR_MS`;
- `exit:HOW`: the target exited unasked (a crash, an OOM kill), by status or signal.

Everything seen before the storm (its startup lines, the baseline's statuses) is not new. Pure
logic: `chaos.injectors.guide` gathers the signals during a storm.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence

#: A template longer than this is cut: a 4 KB value echoed in a log line is one template, not a new one per byte.
MAX_TEMPLATE_CHARS = 240
#: A p99 must rise by at least this much over the pre-storm p99 to be a latency signal (noise on a busy host).
LATENCY_FLOOR_MS = 50.0
#: The smallest latency tier that is a signal: p99 at least 4x the pre-storm p99.
LATENCY_MIN_TIER = 4
#: Fewer requests than this in a window say nothing of its latency.
LATENCY_MIN_REQUESTS = 5

REJECTED = "reload:rejected"

_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_HEX = re.compile(r"\b0x[0-9a-fA-F]+\b|\b(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{8,}\b")
_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?(?:ns|us|µs|ms|s|m|h|%|[kKMG]i?B?)?")
_NUMBERS = re.compile(r"N(?:[.:,/_-]?N)+")
_SPACE = re.compile(r"\s+")
#: What the Go runtime prints for `GODEBUG=gctrace=1` (which the suite sets): its own instrumentation, not the
#: service's behaviour, and written in pieces that interleave with the service's lines.
_RUNTIME_TRACE = re.compile(r"^(gc \d+ @|scvg)|ms clock|ms cpu|MB goal|MB stacks|MB globals")


def template(line: str) -> str:
    """`line` with what varies between occurrences of the same message folded: quoted values to Q, hex
    (hashes, addresses) to H, numbers (with a unit) to N, runs of numbers (`12:00:01.5`) to one N. A JSON
    object is templated field by field (its keys sorted), so a quoted value inside a field stays apart."""
    text = line.strip()
    if text.startswith("{") and text.endswith("}"):
        try:
            fields = json.loads(text)
        except ValueError:
            fields = None
        if isinstance(fields, dict):
            return _cut(" ".join(f"{key}={_fold(_as_text(value))}" for key, value in sorted(fields.items())))
    return _cut(_fold(text))


def service_lines(line: str) -> list[str]:
    """The service's own messages in one line of output: a JSON object written into the middle of another
    line (two writers interleaved) is taken alone, the broken piece before it and runtime trace lines dropped."""
    start = line.find('{"')
    if start > 0:
        line = line[start:]
    return [] if _RUNTIME_TRACE.search(line) else [line]


def _as_text(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _fold(text: str) -> str:
    text = _QUOTED.sub("Q", text)
    text = _HEX.sub("H", text)
    text = _NUMBER.sub("N", text)
    text = _NUMBERS.sub("N", text)
    return _SPACE.sub(" ", text).strip()


def _cut(text: str) -> str:
    return text if len(text) <= MAX_TEMPLATE_CHARS else text[:MAX_TEMPLATE_CHARS] + "…"


def latency_tier(p99_ms: float | None, before_p99_ms: float | None) -> int | None:
    """The power-of-two tier (4, 8, 16, ...) of `p99_ms` over `before_p99_ms`; None below 4x or the floor."""
    if p99_ms is None or before_p99_ms is None or before_p99_ms <= 0:
        return None
    if p99_ms - before_p99_ms < LATENCY_FLOOR_MS:
        return None
    tier = 2 ** math.floor(math.log2(p99_ms / before_p99_ms))
    return tier if tier >= LATENCY_MIN_TIER else None


def signals(*, rejected: bool = False, lines: Iterable[str] = (), statuses: Iterable[int] = (),
            request_errors: Iterable[str] = (), tier: int | None = None, exits: Iterable[str] = ()) -> set[str]:
    """The signals of one window: what the service showed after one write (see the module's list)."""
    found = {f"log:{template(part)}" for line in lines for part in service_lines(line) if part.strip()}
    found |= {f"status:{code}" for code in statuses if code}
    found |= {f"request-error:{template(error)}" for error in request_errors}
    found |= {f"exit:{how}" for how in exits}
    if rejected:
        found.add(REJECTED)
    if tier is not None:
        found |= {f"latency:>={2 ** t}x" for t in range(2, int(math.log2(tier)) + 1)}
    return found


class Novelty:
    """Every signal seen so far in one storm; `judge` says which signals of the next window are new."""

    def __init__(self, before: Iterable[str] = ()) -> None:
        #: Signals shown before the storm, then by every window judged.
        self.seen: set[str] = set(before)

    def judge(self, shown: Iterable[str]) -> tuple[str, ...]:
        """The signals in `shown` never seen before (sorted), now seen."""
        new = tuple(sorted(set(shown) - self.seen))
        self.seen.update(new)
        return new


def describe(new: Sequence[str], limit: int = 2) -> str:
    """A few new signals in words, for a summary line."""
    shown = ", ".join(s if len(s) <= 80 else s[:79] + "…" for s in new[:limit])
    return shown + (f" +{len(new) - limit} more" if len(new) > limit else "")

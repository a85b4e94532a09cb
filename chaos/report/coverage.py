"""Mutation-site coverage accumulated over runs: which sites of a config the storms tried, and which never.

Each `pattern: auto` storm reports the sites it tried (`sites_tried`, ids such as
`middleware:empty-list`), how many its config has (`sites_total`) and the ids it did not try
(`sites_untried`; reports written before it are missing it). Over the runs of one scenario
(`gochaos run --repeat N`, or the runs kept in a report dir) the tried sites add up per target and
per config: a config is known by the set of all its site ids, so runs of a changed config are
counted apart (and said to be); for reports without `sites_untried` only by its site count.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chaos.report.documents import RunDocument

if TYPE_CHECKING:
    from chaos.run_result import RunResult

#: Never-tried sites named in a line before "+N more".
NAMED = 5


@dataclass(frozen=True, slots=True)
class StormSites:
    """The sites one storm tried, of its config's."""

    target: str | None
    total: int
    tried: frozenset[str]
    #: The sites it did not try; None: its report does not list them (written before they were listed).
    untried: frozenset[str] | None

    @property
    def config(self) -> str:
        """Which config the sites are of: a digest of every site id, else (an older report) the site count."""
        if self.untried is None:
            return f"{self.total} sites"
        every = "\n".join(sorted(self.tried | self.untried))
        return hashlib.sha256(every.encode("utf-8")).hexdigest()[:12]


def storm_sites(faults: Iterable[tuple[str | None, Mapping[str, Any]]]) -> tuple[StormSites, ...]:
    """The storms among `faults` ((target, details) of each fault) that report the sites they tried."""
    found = []
    for target, details in faults:
        total, tried, untried = details.get("sites_total"), details.get("sites_tried"), details.get("sites_untried")
        if not isinstance(total, int) or not isinstance(tried, list):
            continue
        found.append(StormSites(target, total, frozenset(map(str, tried)),
                                frozenset(map(str, untried)) if isinstance(untried, list) else None))
    return tuple(found)


def of_document(run: RunDocument) -> tuple[StormSites, ...]:
    return storm_sites((fault["target"], fault["details"]) for fault in run["faults"])


def of_result(result: RunResult) -> tuple[StormSites, ...]:
    return storm_sites((fault.target, fault.outcome.details) for fault in result.faults)


@dataclass(frozen=True, slots=True)
class Coverage:
    """The sites of one config of one target tried over `runs` runs."""

    target: str | None
    config: str
    runs: int
    total: int
    tried: frozenset[str]
    #: Sites no run tried, sorted; None when the reports do not list them (only their count is known).
    never: tuple[str, ...] | None

    @property
    def untried(self) -> int:
        return len(self.never) if self.never is not None else max(0, self.total - len(self.tried))

    def text(self) -> str:
        """`sites tried over 10 runs: 41 of 41`, then the sites never tried: a few named, `+N more`."""
        line = f"sites tried over {self.runs} run{'s' if self.runs != 1 else ''}: {len(self.tried)} of {self.total}"
        if self.never:
            named = ", ".join(self.never[:NAMED])
            line += f"; never tried: {named}" + (f" +{len(self.never) - NAMED} more" if len(self.never) > NAMED else "")
        elif self.untried:
            line += f"; {self.untried} never tried"
        return line


def accumulate(runs: Iterable[Sequence[StormSites]]) -> list[Coverage]:
    """The union of the sites tried over `runs` (each run's storms), per target and config, in order of appearance."""
    groups: dict[tuple[str | None, str], list[StormSites]] = {}
    counted: dict[tuple[str | None, str], int] = {}
    for storms in runs:
        for key in dict.fromkeys((s.target, s.config) for s in storms):
            counted[key] = counted.get(key, 0) + 1
        for storm in storms:
            groups.setdefault((storm.target, storm.config), []).append(storm)
    found = []
    for (target, config), storms in groups.items():
        tried = frozenset().union(*(s.tried for s in storms))
        listed = [s.untried for s in storms if s.untried is not None]
        never = tuple(sorted(frozenset().union(*listed) - tried)) if listed else None
        found.append(Coverage(target, config, counted[(target, config)], max(s.total for s in storms), tried, never))
    return found


def lines(coverages: Sequence[Coverage], prefix: str = "") -> list[str]:
    """One line per target (and config): `PREFIX TARGET: sites tried over ...`; a target whose config changed
    between the runs says so, one line per config."""
    targets = [c.target for c in coverages]
    out = []
    for c in coverages:
        changed = f" (config {c.config}: its config changed between the runs)" if targets.count(c.target) > 1 else ""
        out.append(f"{prefix}{c.target or 'target'}{changed}: {c.text()}")
    return out

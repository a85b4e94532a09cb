"""Follow-ups of an interesting site: what a guided storm writes once every site was written alone.

A site is interesting when its write made the service show something no earlier write did (a
rejection, a new log template: `chaos.injectors.novelty`). Its follow-ups, as a coverage-guided
fuzzer mutates an input that reached a new branch:

- neighbours, on the config with the site applied: the same operator on sibling paths (the other
  keys of its map, the same field of the other items of its list: every url emptied, not one),
  then the other operators on its own path (a grown list shrunk, the type broken again);
- combinations: the site together with each site that was interesting before it, both on the
  original config, where their edits alter disjoint subtrees (`edits.independent`).

Combinations and neighbours alternate, at most `per_site` follow-ups per interesting site, the
sites in the order they became interesting, each follow-up a config the storm has not written yet.
Nothing here draws at random: the same interesting sites give the same follow-ups.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace

from chaos.configs.edits import independent
from chaos.configs.formats import parse
from chaos.configs.kinds import Expect, Label
from chaos.configs.operators import Rendered, Site, SiteWriter
from chaos.configs.patch import diff
from chaos.configs.tree import Path
from chaos.errors import ConfigError

#: The most follow-ups one interesting site gets.
PER_SITE = 8
#: The most neighbours looked at per interesting site (a site of a long list has many siblings).
MAX_NEIGHBOURS = 64
#: Configs with sites applied kept parsed (each combination starts from one).
MAX_WRITERS = 64


@dataclass(frozen=True)
class FollowUp:
    """A config written after `follows` showed something new: `sites` applied in turn, the first to the
    original config, each next one to the config before it."""

    follows: Site
    sites: tuple[Site, ...]
    #: neighbour or combination
    kind: str
    rendered: Rendered = field(repr=False)

    @property
    def id(self) -> str:
        """`workers:zero+buffer_size:zero`: the sites' ids joined by `+`, in the order applied."""
        return "+".join(site.id for site in self.sites)

    @property
    def expect(self) -> Expect:
        """reject when every site must be rejected, accept when every one must be accepted, else unknown."""
        expects = {site.expect for site in self.sites}
        return expects.pop() if len(expects) == 1 else Expect.UNKNOWN

    @property
    def label(self) -> Label:
        labels = {site.label for site in self.sites}
        return next(label for label in (Label.TYPE_BREAK, Label.STRUCTURAL, Label.VALUE) if label in labels)


def _pattern(path: Path) -> tuple[object, ...]:
    return tuple("*" if isinstance(key, int) else key for key in path)


def sibling(a: Path, b: Path) -> bool:
    """Are `a` and `b` siblings: other keys of one map, or the same field of two items of one list?"""
    return a != b and len(a) == len(b) and (a[:-1] == b[:-1] or _pattern(a) == _pattern(b))


def neighbours(site: Site, around: Sequence[Site]) -> list[Site]:
    """The sites of `around` (the sites of the config with `site` applied) near `site`: its operator on sibling
    paths, then the other operators on its own path; each in document order."""
    same_operator = [s for s in around if s.operator.name == site.operator.name and sibling(s.path, site.path)]
    same_path = [s for s in around if s.path == site.path and s.operator.name != site.operator.name]
    return same_operator + same_path


def _alternate(*streams: Iterator[tuple[str, tuple[Site, ...]]]) -> Iterator[tuple[str, tuple[Site, ...]]]:
    """One item of each stream in turn, until all are exhausted."""
    for batch in itertools.zip_longest(*streams):
        yield from (item for item in batch if item is not None)


class FollowUps:
    """The follow-ups of a storm's interesting sites, in order; `add` a site when it shows something new."""

    def __init__(self, writer: SiteWriter, protect: Sequence[Path] = (), *, per_site: int = PER_SITE) -> None:
        self.writer, self.protect, self.per_site = writer, tuple(protect), per_site
        #: Every interesting site, in the order they showed something new.
        self.interesting: list[Site] = []
        self._waiting: list[tuple[Site, tuple[Site, ...]]] = []
        self._current: tuple[Site, Iterator[tuple[str, tuple[Site, ...]]]] | None = None
        self._given = 0
        self._writers: dict[tuple[str, ...], SiteWriter] = {}

    def add(self, site: Site) -> bool:
        """Queue the follow-ups of `site` (once per site); False when it was queued before."""
        if any(s.id == site.id for s in self.interesting):
            return False
        self._waiting.append((site, tuple(self.interesting)))
        self.interesting.append(site)
        return True

    @property
    def pending(self) -> bool:
        """Are interesting sites left whose follow-ups were not all given?"""
        return self._current is not None or bool(self._waiting)

    def next(self, written: Callable[[str], bool]) -> FollowUp | None:
        """The next follow-up whose config was never written (`written(text)` says), None when none is left."""
        while self._current is not None or self._waiting:
            if self._current is None:
                site, earlier = self._waiting.pop(0)
                self._current, self._given = (site, self._candidates(site, earlier)), 0
            site, candidates = self._current
            for kind, sites in candidates:
                rendered = self._render(sites)
                if rendered is None or written(rendered.text):
                    continue
                self._given += 1
                if self._given >= self.per_site:
                    self._current = None
                return FollowUp(site, sites, kind, rendered)
            self._current = None
        return None

    def _candidates(self, site: Site, earlier: tuple[Site, ...]) -> Iterator[tuple[str, tuple[Site, ...]]]:
        combinations = (("combination", (other, site)) for other in earlier if independent(other.edit, site.edit))
        return _alternate(combinations, self._neighbours(site))

    def _neighbours(self, site: Site) -> Iterator[tuple[str, tuple[Site, ...]]]:
        after = self._writer_after((site,))  # computed when first asked for: after the combinations' first turn
        if after is not None:
            for near in neighbours(site, after.sites(self.protect))[:MAX_NEIGHBOURS]:
                yield "neighbour", (site, near)

    def _writer_after(self, sites: tuple[Site, ...]) -> SiteWriter | None:
        """A SiteWriter of the original config with `sites` applied in turn (None: it does not parse)."""
        key = tuple(site.id for site in sites)
        if key not in self._writers:
            rendered = self._render(sites)
            if rendered is None:
                return None
            config = self.writer.config
            try:
                writer = SiteWriter(parse(rendered.text, config.format, config.name))
            except ConfigError:
                return None
            while len(self._writers) >= MAX_WRITERS:  # the oldest goes: combinations reuse the recent ones
                del self._writers[next(iter(self._writers))]
            self._writers[key] = writer
        return self._writers[key]

    def _render(self, sites: tuple[Site, ...]) -> Rendered | None:
        """`sites` applied in turn to the original config, its changes against it; None when one cannot be."""
        try:
            writer = self.writer if len(sites) == 1 else self._writer_after(sites[:-1])
            if writer is None:
                return None
            rendered = writer.render(sites[-1])
        except (ConfigError, KeyError, IndexError):  # a config that does not parse again, a path gone
            return None
        return replace(rendered, changes=tuple(diff(self.writer.data, rendered.data)))

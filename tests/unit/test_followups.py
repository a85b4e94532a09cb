"""Follow-ups of interesting sites: neighbours on the config with the site applied (its operator on sibling
paths, other operators on its path), combinations with earlier interesting sites on the original config
(only of edits that alter disjoint subtrees), alternating, capped per site, never a config written before,
the same for the same interesting sites; a storm writes them after every site and before random writes."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from chaos.configs.edits import Edit, EditOp, apply, independent
from chaos.configs.followups import FollowUp, FollowUps, neighbours, sibling
from chaos.configs.formats import ConfigFormat, parse
from chaos.configs.kinds import Expect, Label
from chaos.configs.operators import Site, SiteWriter
from chaos.configs.tree import plain
from chaos.injectors.reload_sources import AUTO, WriteSource

HUNTED = (Path(__file__).resolve().parents[1] / "integration" / "hunted" / "hunted.yaml").read_text()
CONFIG = """\
# svc
workers: 4           # goroutines
buffer_size: 64
middleware: [logging, auth]
backends:
  - {name: a, url: "http://x:1", weight: 3}
  - {name: b, url: "http://x:2", weight: 1}
limits:
  rps: 100
  burst: 10
"""


def _writer(text: str = CONFIG) -> SiteWriter:
    return SiteWriter(parse(text, ConfigFormat.YAML, "c.yaml"))


def _site(writer: SiteWriter, site_id: str) -> Site:
    return next(s for s in writer.sites() if s.id == site_id)


def _drain(follow_ups: FollowUps, written: set[str] | None = None) -> list[FollowUp]:
    seen = written if written is not None else set()
    out = []
    while (follow := follow_ups.next(seen.__contains__)) is not None:
        seen.add(follow.rendered.text)
        out.append(follow)
    return out


# -- edits that combine ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("a", "b", "together"), [
    (Edit(EditOp.SET, ("workers",), 0), Edit(EditOp.SET, ("buffer_size",), 0), True),
    (Edit(EditOp.SET, ("limits", "rps"), 0), Edit(EditOp.DELETE, ("limits", "burst")), True),
    (Edit(EditOp.DELETE, ("limits",)), Edit(EditOp.SET, ("limits", "rps"), 0), False),  # set below a removed key
    (Edit(EditOp.SET, ("workers",), 0), Edit(EditOp.SET, ("workers",), -1), False),  # one path
    (Edit(EditOp.DELETE, ("backends", 1)), Edit(EditOp.SET, ("backends", 0, "name"), ""), False),  # items move
    (Edit(EditOp.DELETE, ("limits", "rps")), Edit(EditOp.INSERT, ("limits",), 1, key="x", after="rps"), False),
    (Edit(EditOp.SET, ("backends", 0, "url"), ""), Edit(EditOp.SET, ("backends", 1, "url"), ""), True),
])
def test_two_edits_combine_only_when_they_alter_disjoint_subtrees(a: Edit, b: Edit, together: bool) -> None:
    assert independent(a, b) is together and independent(b, a) is together
    if together:
        data = plain(parse(CONFIG, ConfigFormat.YAML).tree)
        assert apply(apply(data, a), b) == apply(apply(data, b), a)


def test_siblings_are_other_keys_of_one_map_or_one_field_of_other_items() -> None:
    assert sibling(("workers",), ("buffer_size",)) and sibling(("limits", "rps"), ("limits", "burst"))
    assert sibling(("backends", 0, "url"), ("backends", 1, "url"))
    assert sibling(("backends", 0, "url"), ("backends", 0, "name"))
    assert not sibling(("workers",), ("workers",)) and not sibling(("limits", "rps"), ("workers",))
    assert not sibling(("backends", 0, "url"), ("backends", 1, "name"))


def test_neighbours_are_the_operator_on_siblings_then_other_operators_on_the_path() -> None:
    writer = _writer()
    site = _site(writer, "backends[0].url:empty-string")
    after = SiteWriter(parse(writer.render(site).text, ConfigFormat.YAML)).sites()
    ids = [s.id for s in neighbours(site, after)]
    assert ids[:2] == ["backends[0].name:empty-string", "backends[1].url:empty-string"]
    assert "backends[0].url:empty-string" not in ids and all(i.startswith("backends[0].url:") for i in ids[2:])
    assert "backends[0].url:long-string" in ids  # on the emptied url: the value repeated is gochaos...


# -- follow-ups ------------------------------------------------------------------------------------------
def test_a_follow_up_applies_its_sites_in_turn_to_the_original_keeping_its_comments() -> None:
    writer = _writer()
    follow_ups = FollowUps(writer)
    follow_ups.add(_site(writer, "workers:zero"))
    follow_ups.add(_site(writer, "limits.rps:string-for-number"))
    found = {f.id: f for f in _drain(follow_ups)}
    both = found["workers:zero+limits.rps:string-for-number"]
    assert both.kind == "combination" and both.follows.id == "limits.rps:string-for-number"
    assert plain(parse(both.rendered.text, ConfigFormat.YAML).tree) == {
        **plain(parse(CONFIG, ConfigFormat.YAML).tree), "workers": 0, "limits": {"rps": "not-a-number", "burst": 10}}
    assert "workers: 0           # goroutines" in both.rendered.text
    assert [str(c) for c in both.rendered.changes] == ["~ workers: 4 -> 0", '~ limits.rps: 100 -> "not-a-number"']
    assert both.expect is Expect.UNKNOWN and both.label is Label.TYPE_BREAK
    siblings = found["workers:zero+buffer_size:zero"]
    assert siblings.kind == "neighbour" and siblings.follows.id == "workers:zero"
    assert found["limits.rps:string-for-number+limits.burst:string-for-number"].expect is Expect.REJECT


def test_combinations_and_neighbours_alternate_capped_per_site_in_the_order_sites_became_interesting() -> None:
    writer = _writer(HUNTED)
    follow_ups = FollowUps(writer, per_site=4)
    for site_id in ("workers:zero", "middleware:empty-list", "headers:remove-key"):
        assert follow_ups.add(_site(writer, site_id))
    assert not follow_ups.add(_site(writer, "workers:zero")), "a site is followed up once"
    found = _drain(follow_ups)
    assert [f.follows.id for f in found] == ["workers:zero"] * 4 + ["middleware:empty-list"] * 4 + \
        ["headers:remove-key"] * 4
    assert [f.kind for f in found[4:8]] == ["combination", "neighbour", "neighbour", "neighbour"]
    assert [f.kind for f in found[8:10]] == ["combination", "neighbour"] and found[10].kind == "combination"
    assert found[4].id == "workers:zero+middleware:empty-list"
    assert not follow_ups.pending and follow_ups.next(lambda _: False) is None


def test_no_follow_up_repeats_a_config_already_written() -> None:
    writer = _writer()
    negative = writer.render(_site(writer, "workers:negative")).text
    follow_ups = FollowUps(writer, per_site=100)
    follow_ups.add(_site(writer, "workers:zero"))
    found = _drain(follow_ups, {negative})
    texts = [f.rendered.text for f in found]
    assert len(set(texts)) == len(texts) and negative not in texts
    assert "workers:zero+workers:negative" not in [f.id for f in found], "workers 0 then -1 is the -1 written"


def test_the_same_interesting_sites_give_the_same_follow_ups() -> None:
    def ids() -> list[str]:
        writer = _writer(HUNTED)
        follow_ups = FollowUps(writer)
        for site_id in ("backends[0].url:empty-string", "limits:remove-key", "workers:max"):
            follow_ups.add(_site(writer, site_id))
        return [f.id for f in _drain(follow_ups)]

    assert ids() == ids() and 16 < len(ids()) <= 3 * 8


# -- in a storm ------------------------------------------------------------------------------------------
def test_a_storm_writes_follow_ups_after_every_site_and_before_random_writes() -> None:
    source = WriteSource(HUNTED, ConfigFormat.YAML, "hunted.yaml", version_key=None, values={}, variants=(),
                         mutator="auto", rng=random.Random(3), tag="t")
    previous = HUNTED
    writes = []
    for round_no in range(source.sites_total + 60):
        write = source.next(AUTO)
        source.took(write)
        assert write.text != previous, round_no
        previous = write.text
        writes.append(write)
        if write.site == "workers:zero":  # found interesting while the sites are still being written
            assert source.interesting("workers:zero") and not source.interesting("workers:zero")
        if write.site == "headers:remove-key":
            assert source.interesting("headers:remove-key")
    assert not source.interesting("no:such-site")
    explored, after = writes[:source.sites_total], writes[source.sites_total:]
    assert all(w.follows is None for w in explored) and len(set(source.sites_tried)) == source.sites_total
    follow = [w for w in after if w.follows is not None]
    assert after[:len(follow)] == follow and len(follow) >= 8, "every follow-up, then random writes"
    assert {w.follows for w in follow} == {"workers:zero", "headers:remove-key"}
    assert all(w.site is not None and "+" in w.site and w.source == "auto" for w in follow)
    assert all(w.site is None for w in after[len(follow):])
    assert len({w.text for w in follow} | {w.text for w in explored}) == len(follow) + len(explored)
    assert source.sites_untried == []

"""Schema-free mutations: seeded, every kind produced, text that parses to the claimed tree, and no
key a strict decoder would refuse."""

from __future__ import annotations

from typing import Any

import pytest
from configs_samples import SAMPLES, sample

from chaos.configs.formats import ConfigFormat, parse
from chaos.configs.heuristics import is_data_map, new_key, nudge
from chaos.configs.kinds import LABELS, Expect, Kind, Label
from chaos.configs.mutations import Mutation, Mutator
from chaos.configs.patch import ChangeKind
from chaos.configs.tree import get, is_map, plain, walk
from chaos.errors import ConfigError


def _run(name: str, seed: int, count: int) -> list[Mutation]:
    return list(Mutator(sample(name), seed).mutations(count))


def _summary(mutations: list[Mutation]) -> list[tuple[Any, ...]]:
    return [(m.kind, m.path, m.expect, m.text) for m in mutations]


@pytest.mark.parametrize("name", SAMPLES)
def test_the_same_seed_gives_the_same_mutations_and_another_seed_others(name: str) -> None:
    assert _summary(_run(name, 42, 60)) == _summary(_run(name, 42, 60))
    assert _summary(_run(name, 42, 60)) != _summary(_run(name, 43, 60))


def test_the_same_seed_draws_the_same_edits_in_every_format() -> None:
    def edits(name: str) -> list[tuple[Any, ...]]:
        return [(m.kind, m.path) for m in _run(name, 5, 40)]

    assert edits("gateway.json") == edits("gateway.toml")


@pytest.mark.parametrize("name", SAMPLES)
def test_every_kind_is_produced_on_the_sample(name: str) -> None:
    assert {m.kind for m in _run(name, 1, 300)} == set(Kind)


@pytest.mark.parametrize("name", SAMPLES)
def test_every_text_parses_to_the_mutations_tree_and_each_change_names_real_values(name: str) -> None:
    config = sample(name)
    before = config.dump()
    mutator = Mutator(config, 7)
    for mutation in mutator.mutations(60):
        parsed = parse(mutation.text, config.format, name).tree
        assert plain(parsed) == plain(mutation.tree) == mutation.data, mutation
        assert mutation.changes, mutation
        for change in mutation.changes:  # the mutator has not moved on yet: its data is the old config
            if change.kind is not ChangeKind.ADDED:
                assert get(mutator.data, change.path) == change.old, (mutation, change)
            if change.kind is not ChangeKind.REMOVED:
                assert get(mutation.data, change.path) == change.new, (mutation, change)
    assert config.dump() == before and config.text == before  # the user's config is never touched
    assert mutator.full_dumps == 0


def test_diffs_and_labels_of_each_kind() -> None:
    config = parse("a:\n  - 1\n  - 2\nn: 5\nflag: true\n", ConfigFormat.YAML, "t.yaml")
    by_kind = {m.kind: m for m in Mutator(config, 3).mutations(200, advance=lambda m: False)}
    shrink = by_kind[Kind.LIST_SHRINK]
    assert [(c.kind, len(c.path)) for c in shrink.changes] == [(ChangeKind.REMOVED, 2)]
    grow = by_kind[Kind.LIST_GROW]
    assert [c.kind for c in grow.changes] == [ChangeKind.ADDED] and len(grow.data["a"]) == 3
    empty = by_kind[Kind.LIST_EMPTY]
    assert empty.data["a"] == [] and empty.text == "a:\n  []\nn: 5\nflag: true\n"
    reorder = by_kind[Kind.LIST_REORDER]
    assert reorder.data["a"] == [2, 1] and reorder.expect is Expect.ACCEPT
    broken = by_kind[Kind.STRING_FOR_NUMBER]
    assert broken.label is Label.TYPE_BREAK and broken.expect is Expect.REJECT
    assert isinstance(get(broken.data, broken.path), str)
    negative = by_kind[Kind.NEGATIVE_COUNT]
    assert negative.label is Label.TYPE_BREAK and get(negative.data, negative.path) < 0
    value = by_kind[Kind.VALUE_CHANGE]
    assert value.label is Label.VALUE and [c.kind for c in value.changes] == [ChangeKind.CHANGED]
    assert {LABELS[k] for k in Kind} == set(Label)


def test_a_dropped_section_is_restored_as_it_was() -> None:
    text = "# cfg\nserver:\n  port: 80\n\n# the cache\ncache:\n  size: 10   # entries\n  ttl: 5s\nlog: info\n"
    config = parse(text, ConfigFormat.YAML, "c.yaml")
    mutator = Mutator(config, 0, kinds=[Kind.SECTION_DROP, Kind.SECTION_RESTORE])
    while True:
        drop = mutator.next()
        if drop.path == ("cache",):
            break
    assert drop.text == "# cfg\nserver:\n  port: 80\nlog: info\n"
    mutator.apply(drop)
    mutator.kinds = (Kind.SECTION_RESTORE,)
    restore = mutator.next()
    assert restore.kind is Kind.SECTION_RESTORE and restore.expect is Expect.ACCEPT
    assert restore.text == text
    assert restore.changes[0].kind is ChangeKind.ADDED and restore.changes[0].path == ("cache",)


def test_only_data_maps_get_new_keys() -> None:
    text = """\
server:            # a struct: its keys are fields
  read_timeout: 5s
  write_timeout: 5s
  idle_timeout: 5s
tls: {cert: a.pem, key: b.pem}
pools:             # two records with plain names: could be a struct too
  primary: {host: a, port: 1}
  replica: {host: b, port: 2}
quotas:            # keys that are data
  client1: 10
  client2: 20
backends:          # three records of one shape
  alpha: {url: http://a, weight: 1}
  beta: {url: http://b, weight: 1}
  gamma: {url: http://c, weight: 2}
"""
    config = parse(text, ConfigFormat.YAML, "s.yaml")
    added: set[tuple[Any, ...]] = set()
    for mutation in Mutator(config, 11, kinds=[Kind.ENTRY_ADD]).mutations(40):
        (change,) = mutation.changes
        assert change.kind is ChangeKind.ADDED
        added.add(change.path[:-1])
        sibling = get(mutation.data, change.path[:-1])
        assert any(plain(v) == change.new for k, v in sibling.items() if k != change.path[-1])
    assert added == {("quotas",), ("backends",)}
    assert is_data_map({"/api": {"a": 1}, "/b": {"a": 2}})
    assert not is_data_map({"read": "5s", "write": "5s"})
    assert not is_data_map({"a1": 1, "a2": "x"})


def test_no_mutation_invents_a_key_outside_data_maps() -> None:
    config = sample("gateway.yaml")
    base_keys = {path for path, _ in walk(plain(config.tree))}
    mutator = Mutator(config, 9)
    for mutation in mutator.mutations(200):
        for change in mutation.changes:
            if change.kind is ChangeKind.ADDED and isinstance(change.path[-1], str):
                parent = get(mutation.data, change.path[:-1])
                assert is_map(parent) and (
                    is_data_map(parent) or change.path in base_keys or mutation.kind is Kind.SECTION_RESTORE
                ), mutation


def test_protected_paths_are_never_touched() -> None:
    config = sample("gateway.yaml")
    protect = [("server", "listen"), ("storage",)]
    for mutation in Mutator(config, 4, protect=protect).mutations(200):
        assert get(mutation.data, ("server", "listen")) == "127.0.0.1:8080"
        assert mutation.data["storage"] == plain(config.tree)["storage"]


def test_value_changes_prefer_values_the_field_already_has() -> None:
    text = "routes:\n  - {m: GET, s: 200}\n  - {m: GET, s: 200}\n  - {m: POST, s: 201}\nport: 8080\n"
    config = parse(text, ConfigFormat.YAML, "r.yaml")
    for mutation in Mutator(config, 2, kinds=[Kind.VALUE_CHANGE]).mutations(30, advance=lambda m: False):
        if mutation.path[0] == "routes":
            assert mutation.expect is Expect.ACCEPT, mutation
        else:
            assert mutation.expect is Expect.UNKNOWN and mutation.data["port"] == 8079


def test_nudges_stay_within_the_type() -> None:
    assert nudge(True) == (False, "flipped")
    assert nudge(10)[0] == 9 and nudge(0)[0] == 1 and nudge(0.5)[0] == 0.25
    assert nudge("30s")[0] == "31s" and nudge("v1")[0] == "v2" and nudge("info")[0] == "info-gochaos"
    assert new_key({"client07": 1, "client09": 2}, "client07") == "client10"
    assert new_key({"alice": 1, "alice-gochaos1": 2}, "alice") == "alice-gochaos2"
    assert new_key({1: "a", 5: "b"}, 1) == 6


def test_nothing_to_mutate_is_an_error() -> None:
    with pytest.raises(ConfigError, match="nothing to mutate"):
        Mutator(parse("{}", ConfigFormat.JSON, "e.json"), 0).next()


def test_a_mutation_of_an_older_version_cannot_be_applied() -> None:
    mutator = Mutator(sample("gateway.json"), 0)
    first, second = mutator.next(), mutator.next()
    mutator.apply(first)
    with pytest.raises(ValueError, match="older config version"):
        mutator.apply(second)


def test_summary_is_json_ready() -> None:
    mutation = Mutator(sample("gateway.toml"), 0).next()
    summary = mutation.summary()
    assert summary["kind"] == mutation.kind.value and summary["changes"]
    assert all(isinstance(c, str) for c in summary["changes"])

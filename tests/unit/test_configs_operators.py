"""Mutation sites: every (path, operator) of a config from one operator table, each written alone on the
original config (YAML spliced with its comments and other lines untouched, JSON and TOML dumped valid),
likeliest breakers first, before any random write; never the same config twice in a row; protected
paths never touched; `rounds: auto` one round per site."""

from __future__ import annotations

import json
import random
import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from configs_samples import SAMPLES, sample

from chaos.configs import placeholders
from chaos.configs.edits import EditOp, apply
from chaos.configs.formats import ConfigFormat, ParsedConfig, parse
from chaos.configs.kinds import Expect
from chaos.configs.operators import (
    BY_NAME,
    INT64_MAX,
    LONG_STRING_CHARS,
    NON_ASCII,
    OPERATORS,
    Priority,
    Site,
    SiteWriter,
    schedule,
    sites,
    table,
)
from chaos.configs.tree import Path as TreePath
from chaos.configs.tree import get, has, plain
from chaos.injectors.reload_sources import AUTO, WriteSource

REPO = Path(__file__).resolve().parents[2]
GO_CONFIGS = REPO / "go_targets" / "configs"
ADDRESSES = {"listen": "127.0.0.1:41234", "listen.admin": "127.0.0.1:41235", "host": "127.0.0.1",
             "port": "41234", "port.admin": "41235"}

SMALL = """\
# svc
name: api   # shown in logs
workers: 4
debug: false
middleware: [auth, log]
limits:
  rate: 0.5
"""

#: A commented config on which every operator of the table has a site.
COMMENTED = """\
# service config
name: api            # shown in logs
workers: 4           # goroutines
ratio: 0.5
debug: false
greeting: "hello"
middleware:          # order matters
  # first
  - auth
  - log              # access log
  - gzip
tags: [a, b]
limits:
  # per client
  client1: 10
  client2: 10   # same as client1
  client3: 20
tls:
  cert: /etc/cert.pem   # PEM
  key: /etc/key.pem
# trailing comment
"""


READ_BACK: dict[ConfigFormat, Callable[[str], Any]] = {
    ConfigFormat.YAML: lambda text: yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)),
    ConfigFormat.JSON: json.loads,
    ConfigFormat.TOML: tomllib.loads,
}


def _writer(text: str, fmt: ConfigFormat = ConfigFormat.YAML) -> SiteWriter:
    return SiteWriter(parse(text, fmt, f"c.{fmt.value}"))


def _go_config(name: str) -> ParsedConfig:
    path = GO_CONFIGS / name
    text = placeholders.fill(path.read_text(encoding="utf-8"), ADDRESSES, name)
    return parse(text, ConfigFormat.of(path), name)


def _source(config: ParsedConfig, seed: int = 1, *, version_key: str | None = None,
            protect: tuple[TreePath, ...] = ()) -> WriteSource:
    return WriteSource(config.text, config.format, config.name, version_key=version_key, values=ADDRESSES,
                       variants=(), mutator="auto", rng=random.Random(seed), tag="t", protect=protect)


# -- the table --------------------------------------------------------------------------------------
def test_the_table_is_one_row_per_operator_in_band_order_with_every_field() -> None:
    names = [op.name for op in OPERATORS]
    assert len(set(names)) == len(names) and set(BY_NAME) == set(names)
    assert [op.priority for op in OPERATORS] == sorted(op.priority for op in OPERATORS)
    for op in OPERATORS:
        assert re.fullmatch(r"[a-z][a-z-]+", op.name) and op.applies and op.description, op
    assert table()[0] == ("empty-list", "list (1+ items)", "unknown", "every item removed: []")
    required = {"empty-string", "whitespace", "long-string", "non-ascii", "zero", "negative", "one", "max",
                "float-for-int", "flip", "null", "remove-key", "empty-list", "first-only", "duplicate-each", "shrink",
                "grow", "empty-map", "clone-entry", "list-for-scalar", "map-for-scalar", "scalar-for-list",
                "scalar-for-map", "string-for-number"}
    assert required <= set(names)


def test_expectations_are_conservative() -> None:
    """reject only where every typed decoder refuses; accept only where validity cannot have changed."""
    assert {op.name for op in OPERATORS if op.expect is Expect.REJECT} == {"string-for-number"}
    assert {op.name for op in OPERATORS if op.expect is Expect.ACCEPT} == {"sibling-value", "reorder"}
    assert BY_NAME["remove-key"].expect is Expect.UNKNOWN  # a strict decoder accepts a missing key
    likeliest = {"empty-list", "empty-string", "zero", "negative", "null", "remove-key", "empty-map"}
    assert {op.name for op in OPERATORS if op.priority is Priority.BREAKER} == likeliest
    assert all(BY_NAME[n].priority < BY_NAME["nudge"].priority for n in likeliest)


# -- the sites ----------------------------------------------------------------------------------------
def test_the_sites_of_a_small_config_exactly() -> None:
    found = [site.id for site in _writer(SMALL).sites()]
    scalar = ["list-for-scalar", "map-for-scalar"]
    string = ["empty-string", "null", "whitespace", "long-string", "non-ascii", *scalar, "nudge"]
    assert found == [
        *(f"name:{op}" for op in ["empty-string", "null", "remove-key", "whitespace", "long-string", "non-ascii",
                                  *scalar, "nudge"]),
        *(f"workers:{op}" for op in ["zero", "negative", "null", "remove-key", "one", "max", "string-for-number",
                                     "float-for-int", *scalar, "nudge"]),
        *(f"debug:{op}" for op in ["null", "remove-key", "flip", *scalar]),
        *(f"middleware:{op}" for op in ["empty-list", "null", "remove-key", "first-only", "scalar-for-list", "grow",
                                        "duplicate-each", "reorder"]),
        *(f"middleware[0]:{op}" for op in string),
        *(f"middleware[1]:{op}" for op in string),
        *(f"limits:{op}" for op in ["null", "remove-key", "empty-map", "scalar-for-map", "clone-entry"]),
        *(f"limits.rate:{op}" for op in ["zero", "negative", "null", "remove-key", "one", "max", "string-for-number",
                                         *scalar, "nudge"]),
    ]


def test_what_each_operator_writes() -> None:
    writer = _writer(COMMENTED)
    by_id = {site.id: writer.render(site).data for site in writer.sites()}
    assert by_id["middleware:empty-list"]["middleware"] == []
    assert by_id["greeting:empty-string"]["greeting"] == ""
    assert by_id["greeting:whitespace"]["greeting"] == "  "
    assert by_id["greeting:long-string"]["greeting"] == "hello" * (LONG_STRING_CHARS // 5) + "h"
    assert by_id["greeting:non-ascii"]["greeting"] == NON_ASCII
    assert [by_id[f"workers:{op}"]["workers"] for op in ("zero", "negative", "one", "max", "float-for-int")] == \
        [0, -1, 1, INT64_MAX, 1.5]
    assert [by_id[f"ratio:{op}"]["ratio"] for op in ("zero", "negative", "one")] == [0.0, -1.0, 1.0]
    assert by_id["debug:flip"]["debug"] is True
    assert by_id["tls:null"]["tls"] is None and "tls" not in by_id["tls:remove-key"]
    assert by_id["tls.cert:remove-key"]["tls"] == {"key": "/etc/key.pem"}  # a struct's field goes too
    middleware = {op: by_id[f"middleware:{op}"]["middleware"] for op in
                  ("first-only", "duplicate-each", "shrink", "grow", "reorder", "scalar-for-list")}
    assert middleware == {"first-only": ["auth"], "duplicate-each": ["auth", "auth", "log", "log", "gzip", "gzip"],
                          "shrink": ["auth", "log"], "grow": ["auth", "log", "gzip", "gzip"],
                          "reorder": ["gzip", "log", "auth"], "scalar-for-list": "auth"}
    assert by_id["limits:empty-map"]["limits"] == {} and by_id["limits:scalar-for-map"]["limits"] == "gochaos"
    assert by_id["limits:clone-entry"]["limits"] == {"client1": 10, "client2": 10, "client3": 20, "client4": 20}
    assert by_id["limits.client3:sibling-value"]["limits"]["client3"] == 10  # the field holds 10 twice
    assert by_id["workers:list-for-scalar"]["workers"] == [4] and by_id["workers:map-for-scalar"]["workers"] == \
        {"workers": 4}
    assert by_id["workers:string-for-number"]["workers"] == "not-a-number"


def test_a_site_that_changes_nothing_or_repeats_an_earlier_operators_value_is_none() -> None:
    found = [site.id for site in _writer("a: 0\nb: 1\nc: -1\nd: ''\ne: [x]\nf: [y, y]\n").sites()]
    assert "a:zero" not in found and "b:one" not in found and "c:negative" not in found
    assert "d:empty-string" not in found
    assert "a:nudge" not in found  # 0 nudged is 1: the `one` site already writes it
    assert "e:duplicate-each" not in found and "e:grow" in found  # one item twice is a grow
    assert "e:first-only" not in found and "f:reorder" not in found  # nothing to reorder in [y, y]


def test_every_operator_on_yaml_keeps_comments_and_every_other_line() -> None:
    writer = _writer(COMMENTED)
    original = COMMENTED.splitlines(keepends=True)
    root = yaml.compose(COMMENTED)
    assert root is not None
    found = writer.sites()
    assert {site.operator.name for site in found} == set(BY_NAME), "the sample has a site for each operator"
    comments = [line[line.index("#"):].rstrip("\n") for line in original if "#" in line]
    for site in found:
        rendered = writer.render(site)
        assert plain(parse(rendered.text, ConfigFormat.YAML, "o.yaml").tree) == rendered.data, site.id
        assert rendered.data == apply(writer.data, site.edit), site.id
        first, last = _span(root, site)
        out = rendered.text.splitlines(keepends=True)
        after = original[last + 1:]
        assert out[:first] == original[:first], site.id  # every line before the edited node as it was
        assert out[len(out) - len(after):] == after and len(out) - len(after) >= first, site.id  # and after it
        if site.edit.op is EditOp.SET and not isinstance(site.edit.value, dict | list) \
                and not isinstance(get(writer.data, site.path), dict | list):
            assert len(out) == len(original), site.id  # a scalar replaced in place, its line's comment kept
            assert all(comment in rendered.text for comment in comments), site.id
    assert writer.full_dumps == 0


def _span(root: yaml.Node, site: Site) -> tuple[int, int]:
    """The lines a site may change: its node's (for a delete, with the comment lines right above it)."""
    edit = site.edit
    path = edit.path
    node = root
    key_line = None
    for part in path:
        if isinstance(node, yaml.MappingNode):
            key, node = next((k, v) for k, v in node.value if k.value == str(part))
            key_line = key.start_mark.line
        else:
            node = node.value[int(part)]
            key_line = node.start_mark.line
    first = key_line if key_line is not None else node.start_mark.line
    last = node.end_mark.line - (1 if node.end_mark.column == 0 else 0)
    lines = COMMENTED.splitlines()
    if edit.op is EditOp.DELETE:
        while first > 0 and lines[first - 1].lstrip().startswith("#"):
            first -= 1
    return first, max(last, first)


@pytest.mark.parametrize("name", [*SAMPLES, "cfgsvc.json", "cfgsvc.toml", "cfgsvc.yaml", "configd.yaml"])
def test_every_site_of_a_real_config_writes_text_that_parses_to_its_tree(name: str) -> None:
    config = sample(name) if name in SAMPLES else _go_config(name)
    writer = SiteWriter(config)
    found = writer.sites()
    assert len(found) > 100
    for site in found:  # read back by another parser than the one that wrote it: libyaml, tomllib, json
        rendered = writer.render(site)
        assert READ_BACK[config.format](rendered.text) == rendered.data, site.id
        assert rendered.changes, site.id
    if config.format is ConfigFormat.TOML:
        assert not any(site.operator.name == "null" for site in found)  # TOML has no null
    if config.format is ConfigFormat.YAML:
        assert writer.full_dumps == 0


def test_json_toml_and_yaml_of_one_config_have_the_same_sites_but_toml_has_no_null() -> None:
    yaml_ids = [s.id for s in SiteWriter(_go_config("cfgsvc.yaml")).sites()]
    assert yaml_ids == [s.id for s in SiteWriter(_go_config("cfgsvc.json")).sites()]
    toml_ids = [s.id for s in SiteWriter(_go_config("cfgsvc.toml")).sites()]  # its greeting comes first
    assert sorted(i for i in yaml_ids if not i.endswith(":null")) == sorted(toml_ids)


def test_the_schedule_puts_bands_in_order_and_shuffles_only_within_a_band() -> None:
    found = SiteWriter(sample("gateway.yaml")).sites()
    ordered = schedule(list(found), random.Random(5))
    assert sorted(ordered, key=lambda s: s.id) == sorted(found, key=lambda s: s.id)
    assert [s.priority for s in ordered] == sorted(s.priority for s in found)
    assert [s.id for s in ordered] == [s.id for s in schedule(list(found), random.Random(5))]
    assert [s.id for s in ordered] != [s.id for s in schedule(list(found), random.Random(6))]
    assert ordered[0].priority is Priority.BREAKER and ordered[-1].priority is Priority.COSMETIC


def test_protected_paths_and_their_containers_have_no_site() -> None:
    config = _go_config("cfgsvc.yaml")
    found = sites(plain(config.tree), protect=[("server", "listen"), ("routes", 1)])
    paths = {site.path for site in found}
    assert ("server", "listen") not in paths and ("server",) not in paths and ("routes",) not in paths
    assert not any(p[:2] == ("routes", 1) for p in paths)
    assert ("server", "admin_listen") in paths and ("routes", 0) in paths


# -- the storm's writes -----------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["cfgsvc.yaml", "cfgsvc.json", "cfgsvc.toml", "greeter.json"])
def test_every_site_is_written_once_on_the_original_before_any_random_write(name: str) -> None:
    config = _go_config(name)
    source = _source(config, seed=4)
    original = plain(config.tree)
    total = source.sites_total
    assert total == len(source.sites) > 20
    writes = [source.next(AUTO) for _ in range(total + 30)]
    for write in writes:
        source.took(write)
    explored, random_stage = writes[:total], writes[total:]
    assert [w.site for w in explored] == [s.id for s in source.sites] == source.sites_tried
    assert len(set(source.sites_tried)) == total and source.sites_skipped == []
    assert all(w.site is None for w in random_stage) and not source.exploring
    assert [s.priority for s in source.sites] == sorted(s.priority for s in source.sites)
    for write, site in zip(explored, source.sites, strict=True):  # each write is the original with one site
        assert write.tree == apply(original, site.edit), site.id
        assert write.expect == site.expect and write.source == "auto"
        assert write.label == {"type-break": "invalid"}.get(site.label.value, site.label.value)
        assert plain(parse(write.text, config.format, name).tree) == write.tree


def test_the_seed_replays_the_same_exploration() -> None:
    def ids(seed: int) -> list[str | None]:
        source = _source(_go_config("cfgsvc.json"), seed)
        return [source.next(AUTO).site for _ in range(40)]

    assert ids(9) == ids(9) and ids(9) != ids(10)


@pytest.mark.parametrize(("name", "seed"), [("greeter.json", 0), ("greeter.json", 1), ("cfgsvc.toml", 2),
                                            ("cfgsvc.yaml", 3), ("tiny", 4), ("no-numbers", 5)])
def test_no_two_consecutive_writes_are_the_same_config(name: str, seed: int) -> None:
    texts = {"tiny": '{"n": 1}\n', "no-numbers": '{"a": "x", "b": ["y"]}\n'}
    config = parse(texts[name], ConfigFormat.JSON, "t.json") if name in texts else _go_config(name)
    source = _source(config, seed)
    previous = config.text
    for _ in range(200):
        write = source.next(AUTO)
        assert write.text != previous, write
        previous = write.text
        source.took(write)


def test_protected_paths_are_never_touched_by_any_write() -> None:
    config = _go_config("cfgsvc.yaml")
    source = _source(config, 2, protect=(("routes", 0),))
    original = plain(config.tree)
    kept: list[TreePath] = [("server", "listen"), ("server", "admin_listen"), ("routes", 0)]
    for _ in range(source.sites_total + 200):
        write = source.next(AUTO)
        source.took(write)
        if write.tree is not None:
            for path in kept:
                assert has(write.tree, path) and get(write.tree, path) == get(original, path), (path, write)


def test_a_version_key_is_stamped_into_every_site_write_and_never_mutated() -> None:
    config = _go_config("configd.yaml")
    source = _source(config, 1, version_key="version")
    assert not any(site.path[:1] == ("version",) for site in source.sites)
    versions = []
    for _ in range(30):
        write = source.next(AUTO)
        versions.append(write.tree["version"])
        assert write.site is not None and write.version == write.tree["version"]
    assert versions == [f"t-{i}" for i in range(1, 31)]


def test_declared_labels_still_draw_mutations_as_before() -> None:
    """Only the `auto` label explores: value/structural/invalid writes are drawn as they always were."""
    config = _go_config("cfgsvc.json")
    source = _source(config, 1)
    write = source.next("value")
    assert write.site is None and source.sites_tried == []


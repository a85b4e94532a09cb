"""Config identity: the version key when there is one, else a hash that ignores formatting."""

from __future__ import annotations

from chaos.configs.formats import ConfigFormat, parse
from chaos.configs.identity import canonical, identify

YAML = "# svc\nversion: v7\nserver:\n  port: 80\n  tags: [a, b]\n"
REFORMATTED = "server:   # moved up\n  tags:\n    - a\n    - b\n  port: 80\nversion: 'v7'\n"


def test_the_version_key_names_the_config() -> None:
    identity = identify(parse(YAML, ConfigFormat.YAML, "svc.yaml").tree, YAML, "version")
    assert identity.version == "v7" and identity.name == "v7" and identity.version_path == "version"
    nested = "meta:\n  rev: 12\nx: 1\n"
    assert identify(parse(nested, ConfigFormat.YAML, "n.yaml").tree, nested, "meta.rev").version == "12"


def test_without_a_version_key_the_content_hash_names_it() -> None:
    identity = identify(parse(YAML, ConfigFormat.YAML, "svc.yaml").tree, YAML, "meta.version")
    assert identity.version is None and identity.name == f"sha:{identity.content_hash}"
    assert len(identity.content_hash) == 16


def test_formatting_and_comments_do_not_change_the_content_hash_but_do_change_the_bytes_hash() -> None:
    first = identify(parse(YAML, ConfigFormat.YAML, "a.yaml").tree, YAML)
    again = identify(parse(REFORMATTED, ConfigFormat.YAML, "b.yaml").tree, REFORMATTED)
    assert first.same_content(again) and first.bytes_hash != again.bytes_hash
    as_json = '{"version": "v7", "server": {"port": 80, "tags": ["a", "b"]}}'
    assert identify(parse(as_json, ConfigFormat.JSON, "c.json").tree, as_json).content_hash == first.content_hash
    assert identify({}, YAML).bytes_hash == first.bytes_hash


def test_a_value_or_type_change_changes_the_content_hash() -> None:
    base = identify({"port": 80}, "")
    assert identify({"port": 81}, "").content_hash != base.content_hash
    assert identify({"port": "80"}, "").content_hash != base.content_hash
    assert identify({"port": 80.0}, "").content_hash != base.content_hash
    assert canonical({"b": [1, True], "a": None}) == '{"a":null,"b":[1,true]}'


def test_toml_trees_hash_like_their_plain_values() -> None:
    text = 'version = "v7"\n[server]\nport = 80\ntags = ["a", "b"]\n'
    toml = identify(parse(text, ConfigFormat.TOML, "s.toml").tree, text, "version")
    assert toml.version == "v7"
    assert toml.content_hash == identify({"version": "v7", "server": {"port": 80, "tags": ["a", "b"]}}, "").content_hash

"""Config formats: a parse and a dump give back the file a person wrote; syntax errors say where."""

from __future__ import annotations

from pathlib import Path

import pytest
from configs_samples import SAMPLES, sample

from chaos.configs.formats import ConfigFormat, dump, parse, read
from chaos.errors import ConfigError, ScenarioError

YAML = """\
# top comment
version: 7
server:
  listen: 127.0.0.1:8080   # where it listens
  zeta: 1
  alpha: 2
routes:
  - path: /a
    status: 200
  - path: /b   # second
    status: 404
quoted: 'single'
"""

TOML = """\
# top comment
title = "svc"  # the name

[server]
zeta = 1
alpha = 2   # after zeta on purpose

[[routes]]
path = "/a"
"""


@pytest.mark.parametrize("name", SAMPLES)
def test_a_parse_then_dump_gives_back_the_same_text(name: str) -> None:
    config = sample(name)
    assert config.dump() == config.text


def test_format_from_extension_or_given() -> None:
    assert ConfigFormat.of("a/b/app.yml") is ConfigFormat.YAML
    assert ConfigFormat.of("app.JSON") is ConfigFormat.JSON
    assert ConfigFormat.of("app.toml") is ConfigFormat.TOML
    assert ConfigFormat.of("app.conf", "toml") is ConfigFormat.TOML
    with pytest.raises(ConfigError, match=r"app\.conf.*\.yaml, \.json or \.toml"):
        ConfigFormat.of("app.conf")
    with pytest.raises(ConfigError, match="unknown config format 'ini'"):
        ConfigFormat.of("app.conf", "ini")


def test_yaml_changes_keep_comments_order_and_quoting() -> None:
    config = parse(YAML, ConfigFormat.YAML, "app.yaml")
    config.tree["server"]["alpha"] = 3
    text = config.dump()
    assert text == YAML.replace("alpha: 2", "alpha: 3")


def test_yaml_keeps_the_files_sequence_indentation_and_document_start() -> None:
    text = "---\nlist:\n- a\n- b\nmap:\n    deep: 1\n"
    config = parse(text, ConfigFormat.YAML, "app.yaml")
    assert config.layout.sequence_offset == 0 and config.layout.indent == 4 and config.layout.explicit_start
    assert config.dump() == text


def test_toml_changes_keep_comments_and_order() -> None:
    config = parse(TOML, ConfigFormat.TOML, "app.toml")
    config.tree["server"]["zeta"] = 5
    assert config.dump() == TOML.replace("zeta = 1", "zeta = 5")


@pytest.mark.parametrize(("text", "indent"), [
    ('{\n    "b": 1,\n    "a": [\n        1,\n        2\n    ]\n}\n', 4),
    ('{\n\t"b": 1,\n\t"a": {\n\t\t"x": true\n\t}\n}', "\t"),
    ('{\n  "b": 1,\n  "a": null\n}\n', 2),
])
def test_json_keeps_key_order_and_indent(text: str, indent: int | str) -> None:
    config = parse(text, ConfigFormat.JSON, "app.json")
    assert config.layout.indent == indent
    assert list(config.tree) == ["b", "a"]
    assert config.dump() == text


def test_one_line_json_stays_on_one_line_with_its_separators() -> None:
    for text in ('{"b":1,"a":[1,2]}', '{"b": 1, "a": [1, 2]}\n'):
        assert parse(text, ConfigFormat.JSON, "x.json").dump() == text


@pytest.mark.parametrize(("fmt", "text", "where"), [
    (ConfigFormat.YAML, "a: 1\nb: [1,\nc: 3\n", "app.yaml:4:1"),
    (ConfigFormat.YAML, "a: 1\n  b: 2\n", "app.yaml:2:4"),
    (ConfigFormat.YAML, "a: 1\na: 2\n", "app.yaml:2:1"),
    (ConfigFormat.JSON, '{\n  "a": 1,\n  "b": 2,\n}\n', "app.json:4:1"),
    (ConfigFormat.JSON, '{\n  "a" 1\n}', "app.json:2:7"),
    (ConfigFormat.TOML, "a = 1\nb = [1,\nc = 3\n", "app.toml:3:1"),
    (ConfigFormat.TOML, "a = 1\na = 2\n", "app.toml:2:1"),
])
def test_a_syntax_error_names_file_line_and_column_and_the_fix(fmt: ConfigFormat, text: str, where: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(text, fmt, f"app.{fmt.value}")
    message = str(caught.value)
    assert message.startswith(f"{where}: not valid {fmt.value.upper()}")
    assert "check the" in message or "keep only one of the duplicate keys" in message
    assert isinstance(caught.value, ScenarioError)


def test_an_unfilled_placeholder_is_named_as_the_likely_cause() -> None:
    with pytest.raises(ConfigError, match=r'app\.json:2:.*"port": \{port\}.*fill its \{placeholders\}'):
        parse('{\n  "port": {port}\n}\n', ConfigFormat.JSON, "app.json")


def test_dump_converts_between_formats() -> None:
    tree = parse(YAML, ConfigFormat.YAML, "app.yaml").tree
    as_json = dump(tree, ConfigFormat.JSON)
    assert parse(as_json, ConfigFormat.JSON, "x.json").tree["routes"][1] == {"path": "/b", "status": 404}
    as_toml = dump(tree, ConfigFormat.TOML)
    assert parse(as_toml, ConfigFormat.TOML, "x.toml").tree["server"]["alpha"] == 2


def test_read_detects_the_format_and_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "svc.yml"
    path.write_text("a: 1\n", encoding="utf-8")
    config = read(path)
    assert config.format is ConfigFormat.YAML and config.name == str(path) and config.tree == {"a": 1}
    with pytest.raises(ConfigError, match=r"missing\.json: cannot read the config file"):
        read(tmp_path / "missing.json")

"""Placeholders in config text: ours are filled, every other brace survives, typos are caught."""

from __future__ import annotations

import json

import pytest

from chaos.configs import placeholders
from chaos.configs.formats import ConfigFormat, parse
from chaos.errors import ConfigError

VALUES = {"listen": "127.0.0.1:8080", "port": "8080", "host": "127.0.0.1", "port.admin": "9000",
          "workdir": "/tmp/w", "etcd_endpoints": "http://127.0.0.1:2379"}

JSON_TEXT = """\
{
  "listen": "{listen}",
  "port": {port},
  "admin": {"port": {port.admin}, "bind": "{host}"},
  "log_format": "{method} {path} {status}",
  "template": "{{.Name}} at {{listen}}",
  "empty": {},
  "routes": [{"path": "/users/{id}", "limits": {"rps": 5}}],
  "data": "{workdir}/data",
  "etcd": "{etcd_endpoints}"
}
"""


def test_json_placeholders_are_filled_and_literal_braces_survive() -> None:
    text = placeholders.fill(JSON_TEXT, VALUES, "svc.json")
    tree = json.loads(text)
    assert tree["listen"] == "127.0.0.1:8080" and tree["port"] == 8080
    assert tree["admin"] == {"port": 9000, "bind": "127.0.0.1"}
    assert tree["log_format"] == "{method} {path} {status}"
    assert tree["template"] == "{{.Name}} at {{listen}}"
    assert tree["empty"] == {} and tree["routes"] == [{"path": "/users/{id}", "limits": {"rps": 5}}]
    assert tree["data"] == "/tmp/w/data" and tree["etcd"] == "http://127.0.0.1:2379"


def test_yaml_and_toml_placeholders() -> None:
    yaml_text = placeholders.fill("addr: {listen}\nflow: {a: 1}\nport: {port}\n", VALUES, "svc.yaml")
    assert parse(yaml_text, ConfigFormat.YAML, "svc.yaml").tree == {"addr": "127.0.0.1:8080", "flow": {"a": 1},
                                                                     "port": 8080}
    toml_text = placeholders.fill('port = {port}\npoint = { x = 1 }\n', VALUES, "svc.toml")
    assert parse(toml_text, ConfigFormat.TOML, "svc.toml").tree.unwrap() == {"port": 8080, "point": {"x": 1}}


def test_uses_and_named_ports() -> None:
    found = placeholders.uses(JSON_TEXT)
    assert [u.name for u in found] == ["listen", "port", "port.admin", "host", "workdir", "etcd_endpoints"]
    assert (found[1].line, found[1].column) == (3, 11)
    assert placeholders.port_names("a: {port.admin}\nb: {port.metrics}\nc: {port.admin}\n") == ["admin", "metrics"]


@pytest.mark.parametrize(("text", "message"), [
    ('{\n  "a": 1,\n  "b": "{lisen}"\n}', r"svc\.json:3:9: unknown placeholder \{lisen\}; did you mean \{listen\}"),
    ("a: 1\nb: {port.metrics}\n", r"svc\.json:2:4: \{port\.metrics\} names a port the target does not declare"),
    ("x: {etcd_endpoints}\n", None),
])
def test_a_placeholder_that_cannot_be_filled_is_an_error_naming_file_line(text: str, message: str | None) -> None:
    values = {k: v for k, v in VALUES.items() if k != "etcd_endpoints"}
    expected = message or r"svc\.json:1:4: placeholder \{etcd_endpoints\} has no value for this target"
    with pytest.raises(ConfigError, match=expected):
        placeholders.fill(text, values, "svc.json")


def test_values_must_be_placeholder_names() -> None:
    with pytest.raises(ConfigError, match=r"\{bogus\}: not a placeholder name"):
        placeholders.fill("a: 1", {"bogus": "x"}, "svc.yaml")


def test_the_names_are_the_command_lines() -> None:
    from chaos.targets import PLACEHOLDERS

    assert placeholders.NAMES == PLACEHOLDERS

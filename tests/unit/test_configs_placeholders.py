"""Placeholders in config text: ours are filled, every other brace survives, typos are caught."""

from __future__ import annotations

import json
import re

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


def test_etcd_endpoints_come_comma_joined_and_space_joined() -> None:
    from chaos.platform.kubernetes.workloads.manifests import pod_placeholders
    from chaos.targets import TargetSpec, fill_placeholders

    values = {**VALUES, "etcd_endpoints": "http://127.0.0.1:2379,http://127.0.0.1:2381"}
    text = placeholders.fill("etcd {\n  endpoint {etcd_endpoints_spaced}\n}\nother: {etcd_endpoints}\n", values,
                             "Corefile")  # derived from {etcd_endpoints} where a filler does not give it
    assert text == "etcd {\n  endpoint http://127.0.0.1:2379 http://127.0.0.1:2381\n}\n" \
                   "other: http://127.0.0.1:2379,http://127.0.0.1:2381\n"
    assert fill_placeholders("--etcd={etcd_endpoints_spaced}", values, "svc") == \
        "--etcd=http://127.0.0.1:2379 http://127.0.0.1:2381"
    assert placeholders.spaced("") == "" and placeholders.spaced("http://a:1") == "http://a:1"
    pod = pod_placeholders(TargetSpec(name="svc", command=("{binary}",)), "8080", "http://e-0:2379,http://e-1:2379")
    assert (pod["etcd_endpoints"], pod["etcd_endpoints_spaced"]) == ("http://e-0:2379,http://e-1:2379",
                                                                     "http://e-0:2379 http://e-1:2379")


@pytest.mark.parametrize(("template", "ports", "message"), [
    ("--listen={lisen}", (), r"^unknown placeholder \{lisen\} in '--listen=\{lisen\}'; did you mean \{listen\}\? "
                             r"\(valid: \{binary\} \{listen\} \{host\} \{port\} \{config\} \{etcd_endpoints\} "
                             r"\{etcd_endpoints_spaced\} \{workdir\} \{scenario_dir\}\); write \{\{ and \}\} for "
                             r"literal braces$"),
    ("--admin={port.admn}", ("admin",), r"unknown placeholder \{port\.admn\} .*did you mean \{port\.admin\}\?"),
    ("{method}", (), r"unknown placeholder \{method\} in '\{method\}' \(valid: "),
])
def test_a_command_placeholder_the_run_could_not_fill(template: str, ports: tuple[str, ...], message: str) -> None:
    from chaos.errors import TargetError
    from chaos.targets import fill_placeholders, placeholder_names, placeholder_problem

    problem = placeholder_problem(template, placeholder_names(ports))
    assert problem is not None
    assert re.search(message, problem), problem
    with pytest.raises(TargetError, match=message.removeprefix("^")):  # the run's own filler says the same
        fill_placeholders(template, {name: "x" for name in placeholder_names(ports)}, "svc")


@pytest.mark.parametrize(("template", "filled"), [
    ('{{"a": 1}}', '{"a": 1}'), ('{"json": true}', '{"json": true}'), ("{{{{.Name}}}}", "{{.Name}}"),
    ("{{listen}}", "{listen}"), ("--at={listen}", "--at=127.0.0.1:8080"),
])
def test_literal_braces_in_a_command_keep_working(template: str, filled: str) -> None:
    from chaos.targets import fill_placeholders, placeholder_names, placeholder_problem

    assert placeholder_problem(template, placeholder_names()) is None
    assert fill_placeholders(template, VALUES, "svc") == filled

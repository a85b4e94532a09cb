"""`gochaos init` turns the listen addresses a config and argv name into port placeholders, and only those."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.configs.placeholders import fill
from chaos.errors import UsageError
from chaos.init.config_addresses import final_names, require_config_in_argv, templated

NATS = """# clients on 4222, monitoring on 8222
listen: 0.0.0.0:4222
http: 127.0.0.1:8222
server_name: "orders"
upstream: http://127.0.0.1:9003
ping_interval: "11:30"
"""


def test_only_the_ports_it_listens_on_become_placeholders() -> None:
    template = templated(NATS, ["{binary}", "-c", "nats.conf"], {4222, 8222}, {"nats.conf"})

    assert template.config is not None
    assert "listen: {listen.initport0}" in template.config
    assert "http: {listen.initport1}" in template.config
    assert "http://127.0.0.1:9003" in template.config  # an upstream it does not listen on stays as written
    assert '"11:30"' in template.config
    assert "# clients on 4222" in template.config  # comments are left alone
    assert template.argv == ["{binary}", "-c", "{config}"]
    assert [(s.port, s.key) for s in template.slots] == [(4222, "listen"), (8222, "http")]


def test_a_host_that_is_no_address_keeps_its_host() -> None:
    corefile = ".:1053 {\n    prometheus 127.0.0.1:9153\n    forward . 10.0.0.1:53\n}\n"
    template = templated(corefile, ["{binary}", "-conf", "Corefile"], {1053, 9153}, {"Corefile"})

    assert template.config == (".:{port.initport0} {\n    prometheus {listen.initport1}\n"
                               "    forward . 10.0.0.1:53\n}\n")


def test_argv_flags_bare_ports_and_bind_addresses() -> None:
    argv = ["{binary}", "-host", "0.0.0.0", "-port", "8080", "--metrics-addr=:9090", "--peer", "http://127.0.0.1:2380"]
    template = templated(None, argv, {8080, 9090, 2380}, set())

    assert template.argv == ["{binary}", "-host", "{host}", "-port", "{port.initport0}",
                             "--metrics-addr={listen.initport1}", "--peer", "http://{listen.initport2}"]
    assert template.hosts == ["argv: -host 0.0.0.0"]
    names = final_names(template, {0: "http", 1: "http", 2: "tcp"}, main=0)
    assert names == {0: "", 1: "metrics", 2: "peer"}
    _, rendered = template.render(names)
    assert rendered[4:] == ["{port}", "--metrics-addr={listen.metrics}", "--peer", "http://{listen.peer}"]


def test_generic_keys_are_named_by_protocol_and_names_stay_unique() -> None:
    template = templated("listen: :4222\naddr: :4223\n", ["{binary}", "-c", "c.yaml"], {4222, 4223}, {"c.yaml"})

    assert final_names(template, {0: "banner", 1: "banner"}, main=None) == {0: "tcp", 1: "tcp2"}


def test_the_rendered_config_fills_like_any_scenario_config() -> None:
    template = templated(NATS, ["{binary}", "-c", "nats.conf"], {4222, 8222}, {"nats.conf"})
    config, _ = template.render({0: "client", 1: ""})

    assert config is not None
    filled = fill(config, {"listen": "127.0.0.1:1", "port.client": "2", "listen.client": "127.0.0.1:2"}, "nats.conf")
    assert "listen: 127.0.0.1:2\nhttp: 127.0.0.1:1\n" in filled


def test_the_users_own_placeholders_are_kept() -> None:
    template = templated(None, ["{binary}", "-port", "{port}", "-admin", "{listen.admin}"], set(), set())

    assert [(s.given, s.key) for s in template.slots] == [("", "port"), ("admin", "admin")]
    assert template.provisional_ports() == ["admin"]


def test_a_config_the_command_never_passes_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"never names the config file .*c\.yaml.*\{config\}"):
        require_config_in_argv(["{binary}", "-v"], tmp_path / "c.yaml")
    require_config_in_argv(["{binary}", "--config={config}"], tmp_path / "c.yaml")

"""`reload: http` with a request of the service's own (Caddy's admin API: `POST /load` on its admin port, the
config as the body): how a scenario writes it, what it refuses, what the plan says, and the requests
`gochaos init` tries and the Content-Type it sends a config as."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.errors import ScenarioError
from chaos.init.config_format import detect, media_type
from chaos.init.reload_probe import LOAD_PATH, http_requests
from chaos.plan import build_plan, describe
from chaos.scenario import load_scenario
from chaos.targets import ConfigSpec, HttpReload

CADDY = """\
name: caddy
targets:
  - name: caddy
    command: ['./caddy', run, --config, '{config}']
    ports: [admin]
    config_file: Caddyfile
    format: text
    reload: http
    reload_request: {path: /load, port: admin, body: config, headers: {Content-Type: text/caddyfile}}
load: null
"""


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "Caddyfile").write_text("{\n\tadmin {listen.admin}\n}\nhttp://{listen} {\n\trespond ok\n}\n")
    (tmp_path / "caddy").write_text("#!/bin/sh\n")
    path = tmp_path / "caddy.chaos.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_reload_request_reaches_the_target_spec_and_the_plan_names_it(tmp_path: Path) -> None:
    scenario = load_scenario(write(tmp_path, CADDY))
    spec = scenario.targets[0].spec(tmp_path)
    assert spec.config is not None
    assert spec.config.http_reload == HttpReload(path="/load", port="admin", body="config",
                                                 headers={"Content-Type": "text/caddyfile"})
    lines = "\n".join(describe(build_plan(scenario, tmp_path, platform="local")))
    assert "(reload by http: POST /load on port admin, the config as its body)" in lines, lines


def test_without_a_request_http_reload_posts_to_the_reload_endpoint_of_the_main_port(tmp_path: Path) -> None:
    scenario = load_scenario(write(tmp_path, CADDY.replace(
        "    reload_request: {path: /load, port: admin, body: config, headers: {Content-Type: text/caddyfile}}\n", "")))
    spec = scenario.targets[0].spec(tmp_path)
    assert spec.config is not None and spec.config.http_reload == HttpReload(path="/-/reload", port=None, body="none")


@pytest.mark.parametrize(("edit", "message"), [
    (("reload: http", "reload: sighup"), r"caddy\.chaos\.yaml:3: targets\.0: .*`reload_request` is the POST of "
                                         r"`reload: http`, and this target reloads by sighup"),
    (("port: admin,", "port: api,"), r"reload_request\.port: 'api' is not one of the target's named `ports` \(admin\)"),
    (("body: config", "body: file"), r"reload_request\.body"),
    (("path: /load", "path: load"), r"reload_request\.path"),
])
def test_a_request_that_cannot_be_sent_is_refused_with_its_line(tmp_path: Path, edit: tuple[str, str],
                                                                 message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        load_scenario(write(tmp_path, CADDY.replace(*edit)))


def test_a_report_recorded_with_the_path_alone_still_reads() -> None:
    config = ConfigSpec.model_validate({"initial": "", "trigger": "http", "http_reload_path": "/admin/reload"})
    assert config.http_reload == HttpReload(path="/admin/reload")


def test_init_asks_the_reload_endpoint_first_then_an_admin_api_on_every_http_port() -> None:
    tried = http_requests(8080, [8080, 2019], "text/caddyfile")
    assert [(port, request.path, request.body) for port, request in tried] == [
        (8080, "/-/reload", "none"), (8080, LOAD_PATH, "config"), (2019, LOAD_PATH, "config")]
    assert tried[-1][1].headers == {"Content-Type": "text/caddyfile", "Cache-Control": "must-revalidate"}
    assert [port for port, _ in http_requests(None, [2019], "application/json")] == [2019]


@pytest.mark.parametrize(("name", "text", "argv", "expected"), [
    ("caddy.json", '{"admin": {"listen": ":2019"}}', [], "application/json"),
    ("app.yaml", "listen: :80\n", [], "application/yaml"),
    ("Caddyfile", ":80 {\n\trespond ok\n}\n", ["caddy", "run", "--adapter", "caddyfile"], "text/caddyfile"),
    ("site.conf", ":80 {\n\trespond ok\n}\n", ["caddy", "run", "--adapter=nginx"], "text/nginx"),
    ("Caddyfile", ":80 {\n\trespond ok\n}\n", ["caddy", "run"], "text/caddyfile"),
])
def test_a_config_is_sent_as_its_format_or_as_the_adapter_the_command_names(name: str, text: str, argv: list[str],
                                                                             expected: str) -> None:
    assert media_type(detect(name, text), name, argv) == expected

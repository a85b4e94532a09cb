"""chaosagent in a real target refuses every request without its token or with a wrong one."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests

from chaos.chaosagent import TOKEN_HEADER, AgentClient, agent_for
from chaos.errors import InjectionFailed
from chaos.platform.base import RunningTarget

pytestmark = pytest.mark.integration
TOKEN = "right-token"
ENDPOINTS = [("GET", "runtime", None), ("POST", "ballast", {"mb": 64, "duration": "30s"}),
             ("POST", "gc-percent", {"percent": 1, "duration": "30s"}), ("POST", "revert", None)]


@pytest.mark.parametrize("header", [None, "", "wrong-token", TOKEN + "x", TOKEN[:-1]],
                         ids=["no header", "empty", "wrong", "longer", "prefix"])
def test_requests_without_the_right_token_are_refused_and_change_nothing(
    gochaos_make_target: Callable[..., RunningTarget], header: str | None
) -> None:
    allocd = gochaos_make_target("allocd", extra_env={"CHAOSAGENT_TOKEN": TOKEN})
    base = allocd.endpoint.url + "/-/chaos/"
    headers = {} if header is None else {TOKEN_HEADER: header}
    for method, path, body in ENDPOINTS:
        reply = requests.request(method, base + path, json=body, headers=headers, timeout=5)
        assert reply.status_code == 403, (method, path, reply.status_code, reply.text)
        assert TOKEN_HEADER in reply.json()["error"]
    agent = agent_for(allocd)
    assert agent is not None
    runtime = agent.runtime()  # with the token: answers, and nothing was started by the refused calls
    assert runtime["active_actions"] == [] and runtime["gc_percent"] == 100


def test_the_client_with_a_wrong_token_gets_a_clear_error(gochaos_make_target: Callable[..., RunningTarget]) -> None:
    allocd = gochaos_make_target("allocd", extra_env={"CHAOSAGENT_TOKEN": TOKEN})
    with pytest.raises(InjectionFailed, match=r"chaosagent refused the token \(403\)"):
        AgentClient(allocd.endpoint.url, "wrong-token").start("ballast", duration_s=5, mb=64)
    agent = agent_for(allocd)
    assert agent is not None and agent.runtime()["active_actions"] == []


def test_without_a_token_the_agent_is_not_mounted(gochaos_make_target: Callable[..., RunningTarget]) -> None:
    allocd = gochaos_make_target("allocd")
    assert agent_for(allocd) is None
    for header in ({}, {TOKEN_HEADER: ""}, {TOKEN_HEADER: "anything"}):
        reply = requests.get(allocd.endpoint.url + "/-/chaos/runtime", headers=header, timeout=5)
        assert reply.status_code == 404

"""The `http` user's options and `load.rate`: validated in the suite's process (scenario load, dry run),
before any Locust child starts; and the plan's refusal of a load with no user, with its file and line."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from chaos.errors import ScenarioError, UsageError
from chaos.load import HttpOptions, HttpRequest, LoadSpec, UserOptions
from chaos.load.rate import users_for_rate
from chaos.load.spec import BUILTIN_USERS, HTTP_BUILTIN_USERS, parse_user_ref
from chaos.plan import build_plan, describe
from chaos.scenario import LoadEntry, load_scenario, parse_scenario


def test_http_is_a_builtin_http_user_whose_default_is_a_get_of_the_root() -> None:
    assert list(BUILTIN_USERS)[:2] == ["http", "configd"]
    assert parse_user_ref("http") == ("builtin", "http", "HttpUser") and "http" in HTTP_BUILTIN_USERS
    (request,) = HttpOptions().requests
    assert (request.method, request.path, request.weight, request.expected, request.label) == \
        ("GET", "/", 1, None, "/")


def test_requests_are_normalised() -> None:
    options = HttpOptions.model_validate({"headers": {"Authorization": "Bearer t"}, "requests": [
        {"method": "post", "path": "/orders", "body": {"item": 3}, "expect_status": [201, 200], "weight": 2},
        {"path": "/orders/7?full=1", "name": "/orders/{id}", "expect_status": 404},
        {"method": "PUT", "path": "/raw", "body": "text", "headers": {"Content-Type": "text/plain"}},
    ]})
    post, lookup, put = options.requests
    assert (post.method, post.expected, post.body) == ("POST", frozenset({200, 201}), {"item": 3})
    assert (lookup.method, lookup.label, lookup.expected) == ("GET", "/orders/{id}", frozenset({404}))
    assert (put.body, put.headers) == ("text", {"Content-Type": "text/plain"})


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"requests": []}, "at least 1 item"),
        ({"requests": [{"path": "/", "weight": 0}]}, "at least one http request weight must be positive"),
        ({"requests": [{"path": "/", "weight": -1}]}, "greater than or equal to 0"),
        ({"requests": [{"method": "GTE", "path": "/"}]},
         "unknown HTTP method 'GTE'; one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"),
        ({"requests": [{"path": "hello"}]}, "path must start with / and hold no spaces"),
        ({"requests": [{"path": "http://h/x"}]}, "got 'http://h/x'"),
        ({"requests": [{"path": "/a b"}]}, "path must start with / and hold no spaces"),
        ({"requests": [{"method": "GET"}]}, "Field required"),
        ({"requests": [{"path": "/", "expect_status": 99}]}, "HTTP status codes run from 100 to 599, got 99"),
        ({"requests": [{"path": "/", "expect_status": [200, 600]}]}, "HTTP status codes run from 100 to 599, got 600"),
        ({"requests": [{"path": "/", "expect_status": []}]},
         "expect_status is a status code or a non-empty list of them (e.g. 404, or [200, 204]), got []"),
        ({"requests": [{"path": "/", "expect_status": "ok"}]}, "a non-empty list of them (e.g. 404, or [200, 204]), "
                                                               "got 'ok'"),
        ({"requests": [{"path": "/", "expect_status": True}]}, "got True"),
        ({"requests": [{"path": "/", "status": 200}]}, "Extra inputs are not permitted"),
        ({"requests": [{"path": "/", "headers": {"Bad Name": "x"}}]},
         "header names must be HTTP tokens (no spaces or colons), got ['Bad Name']"),
        ({"headers": {"X:Y": "1"}}, "header names must be HTTP tokens"),
        ({"requests": [{"path": "/a"}, {"method": "get", "path": "/a", "body": "x"}]},
         "two http requests are both 'GET /a', so their counts would mix; give one of them its own `name`"),
    ],
)
def test_invalid_http_options_say_what_is_wrong(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        HttpOptions.model_validate(fields)


def test_same_path_twice_is_fine_with_a_name_of_its_own() -> None:
    options = HttpOptions.model_validate({"requests": [{"path": "/a"}, {"path": "/a", "name": "/a (again)"}]})
    assert [r.label for r in options.requests] == ["/a", "/a (again)"]
    assert HttpRequest(path="/a") == options.requests[0]


def test_the_mix_travels_to_the_load_processes() -> None:
    spec = LoadSpec.model_validate({"host": "http://h", "user": "http",
                                    "http": {"requests": [{"path": "/hello", "weight": 3}]}})
    options = UserOptions.model_validate_json(spec.user_options().model_dump_json())
    assert options.http.requests[0].path == "/hello" and options.http.requests[0].weight == 3
    with pytest.raises(ValidationError, match=re.escape("user 'http' speaks HTTP; a dns:// host is")):
        LoadSpec(host="dns://127.0.0.1:53", user="http")


# -- rate ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(("rate", "users"), [(0.5, 1), (5, 1), (5.1, 2), (30, 6), (40, 8), (1000, 200),
                                             (1e6, 10_000)])
def test_users_for_a_rate_give_each_200_ms_per_request(rate: float, users: int) -> None:
    assert users_for_rate(rate) == users


def test_a_rate_picks_the_users_and_paces_each_at_its_share() -> None:
    spec = LoadSpec(host="http://h", user="http", rate=40)
    assert spec.users == 8
    assert spec.user_options().rps_per_user == 5.0
    given = LoadSpec(host="http://h", user="configd", rate=40, users=20)
    assert given.users == 20 and given.user_options().rps_per_user == 2.0
    # kvd's task is a write and a read: two requests per paced task run
    assert LoadSpec(host="http://h", user="kvd", rate=40).user_options().rps_per_user == 2.5
    assert LoadSpec(host="http://h", user="http").user_options().rps_per_user is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"rate": 0}, "greater than 0"),
        ({"rate": -5}, "greater than 0"),
        ({"rate": 2e6}, "less than or equal to 1000000"),
        ({"rate": 10, "rps_per_user": 2},
         "`rate` paces every user itself (constant_throughput of rate/users each), so rps_per_user would fight "
         "it: remove it, or drop `rate`"),
        ({"rate": 10, "wait_s": (0.1, 0.2), "rps_per_user": 1}, "so rps_per_user and wait_s would fight it: "
                                                                "remove them"),
        ({"rate": 1000, "users": 2},
         "rate 1000/s over 2 users asks each user for 500 requests/s (2 ms per request), which the rate holds "
         "only while every answer comes faster: give at least 10 users, or leave `users` out (gochaos then "
         "picks 200)"),
        ({"rate": 10, "user": "my.module:Shopper"},
         "`rate` paces the built-in users (http, configd, ...); a user class of your own keeps its own "
         "`wait_time`"),
    ],
)
def test_invalid_rates_say_what_is_wrong(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        LoadSpec.model_validate({"host": "http://h", "user": "http", **fields})


def test_a_scenarios_load_rate_picks_its_users_and_reaches_the_plan() -> None:
    scenario = parse_scenario("name: s\ntargets: [{bundled: configd}]\nload: {user: http, rate: 30}\n", "s.yaml")
    plan = build_plan(scenario, Path("."), platform="local", seed=1)
    (load,) = plan.loads
    assert (load.user, load.users, load.rate) == ("http", 6, 30)
    assert load.spec("http://127.0.0.1:1").user_options().rps_per_user == 5.0
    assert any(line.startswith("load: 6 http users at 30 requests/s on configd") for line in describe(plan))
    assert LoadEntry(rate=30, users=3).users == 3


@pytest.mark.parametrize(
    ("load", "message"),
    [
        ("{user: http, rate: 10, options: {wait_s: [1, 2]}}",
         "s.yaml:3: load: `rate` paces every user itself (constant_throughput of rate/users each), so "
         "options.wait_s would fight it: remove it, or drop `rate`"),
        ("{user: http, rate: 0}", "s.yaml:3: load.rate: Input should be greater than 0"),
        ("{user: http, rate: 10, options: {rate: 5}}",
         "s.yaml:3: load.options.rate: not an option: set `load.rate` instead"),
        ("{user: lf.py, rate: 10}", "s.yaml:3: load: `rate` paces the built-in users"),
        ("\n  user: http\n  options:\n    http:\n      requests: [{path: /, wieght: 3}]",
         "s.yaml:7: load.options.http.requests.0.wieght: unknown option 'wieght'; did you mean 'weight'?"),
        ("\n  user: http\n  options:\n    http:\n      requests: [{path: /, expect_status: 600}]",
         "s.yaml:7: load.options.http.requests.0.expect_status: HTTP status codes run from 100 to 599, got 600"),
    ],
)
def test_a_scenarios_load_problems_name_the_file_and_line(load: str, message: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(f"name: s\ntargets: [{{bundled: configd}}]\nload: {load}\n", "s.yaml")
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)


# -- no user for a service of one's own ----------------------------------------------------------
OWN = "name: own\ntargets:\n  - name: svc\n    command: [/bin/true]\n"
CHOICES = ("set load.user to one of: http, configd, kvd, allocd, dns, grpc (`http` sends the weighted requests of "
           "load.options.http.requests, `GET /` by default), or to your own Locust user: "
           "path/to/locustfile.py[:Class] or module:Class")


@pytest.mark.parametrize(
    ("load", "where"),
    [
        ("load:\n  users: 3\n", "own.chaos.yaml:5: "),
        ("load:\n  - {user: http}\n  - {users: 2}\n", "own.chaos.yaml:7: "),
    ],
)
def test_no_user_for_an_own_service_names_the_file_line_and_choices(tmp_path: Path, load: str, where: str) -> None:
    path = tmp_path / "own.chaos.yaml"
    path.write_text(OWN + load)
    with pytest.raises(UsageError) as caught:
        build_plan(load_scenario(path), tmp_path, platform="local")
    assert str(caught.value) == f"{tmp_path}/{where}load on svc: no built-in user fits it; {CHOICES}"


def test_no_load_section_says_where_to_add_one(tmp_path: Path) -> None:
    path = tmp_path / "own.chaos.yaml"
    path.write_text(OWN)
    with pytest.raises(UsageError) as caught:
        build_plan(load_scenario(path), tmp_path, platform="local")
    assert str(caught.value) == (f"{path}: load on svc: no built-in user fits it; {CHOICES} (the file has no "
                                 "`load:` section, so the default load runs; add one, e.g. `load: {user: http}`, "
                                 "or `load: null` for none)")

"""LoadSpec validation and user references: checked in the suite's process, without Locust."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from chaos.errors import LoadError
from chaos.load import LoadSpec, UserOptions
from chaos.load.spec import parse_user_ref


def test_defaults_and_time_limit() -> None:
    spec = LoadSpec(host="http://127.0.0.1:8080/", duration_s=10)
    assert spec.host == "http://127.0.0.1:8080"
    assert spec.user == "configd" and spec.workers == 0
    assert spec.time_limit_s == spec.start_timeout_s + 10 + spec.stop_grace_s


def test_spec_is_keyword_only_and_frozen() -> None:
    spec = LoadSpec(host="http://h:1")
    with pytest.raises(ValidationError, match="frozen"):
        spec.users = 3
    positional: Any = LoadSpec  # a call mypy refuses statically; here it must fail at run time too
    with pytest.raises(TypeError):
        positional("http://h:1")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"host": "127.0.0.1:8080"}, "host must be an http(s) or dns URL"),
        ({"host": "http://h", "users": 0}, "greater than or equal to 1"),
        ({"host": "http://h", "duration_s": 0}, "greater than 0"),
        ({"host": "http://h", "wait_s": (2.0, 1.0)}, "wait_s min 2.0 > max 1.0"),
        ({"host": "http://h", "bogus": 1}, "Extra inputs are not permitted"),
        ({"host": "http://h", "configd": {"route_weight": 0, "cache_get_weight": 0,
                                          "cache_put_weight": 0}}, "at least one configd weight"),
        ({"host": "http://h", "kvd": {"read_path": "/kv"}},
         "read_path must start with / and contain {key}, got '/kv'"),
    ],
)
def test_invalid_specs_say_what_is_wrong(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        LoadSpec.model_validate(fields)


def test_user_options_carry_the_mix() -> None:
    spec = LoadSpec.model_validate({"host": "http://h", "rps_per_user": 5,
                                    "configd": {"routes": ["/a"]}, "kvd": {"value_field": "v"}})
    options = UserOptions.model_validate_json(spec.user_options().model_dump_json())
    assert options.rps_per_user == 5
    assert options.configd.routes == ("/a",)
    assert options.kvd.value_field == "v"
    assert options.version_header == "X-Config-Version"


def test_user_refs(tmp_path: Path) -> None:
    assert parse_user_ref("kvd") == ("builtin", "kvd", "KvdUser")
    locustfile = tmp_path / "lf.py"
    locustfile.write_text("")
    assert parse_user_ref(str(locustfile)) == ("file", str(locustfile), None)
    assert parse_user_ref(f"{locustfile}:Mine") == ("file", str(locustfile), "Mine")
    assert parse_user_ref("my.pkg:Shopper") == ("module", "my.pkg", "Shopper")


def test_unknown_builtin_user_is_a_load_error_naming_the_choices() -> None:
    with pytest.raises(LoadError, match=r"unknown user 'confgd': use a built-in user "
                                        r"\(http, configd, kvd, allocd, dns, grpc\)"):
        parse_user_ref("confgd")


def test_missing_locustfile_is_a_load_error(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match=r"locustfile '.*nope\.py' not found"):
        parse_user_ref(str(tmp_path / "nope.py"))


def test_parent_side_never_imports_locust_or_gevent() -> None:
    code = (
        "import sys\n"
        "from chaos.load import LoadSpec, LoadRun, LoadTotals\n"
        "from chaos.timeline import Timeline\n"
        "LoadRun(LoadSpec(host='http://h'), Timeline())\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('locust', 'gevent', 'zmq')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])

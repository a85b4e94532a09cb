"""`load.options` of a scenario, checked when the scenario loads, so a typo fails `--dry-run`.

The options are the LoadSpec fields a scenario may set beyond its `load` entry; they are validated
against LoadSpec itself (no protoc, no file read), and a misspelt field gets a "did you mean".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from chaos.load.grpc_spec import NO_COMPILE
from chaos.load.spec import LoadSpec
from chaos.suggest import did_you_mean, fields_at

#: LoadSpec fields the scenario's `load` entry and the plan set; `load.options` may not repeat them.
PLAN_OWNED: Mapping[str, str] = {
    "host": "the target's address, filled in when it runs",
    "user": "set `load.user` instead",
    "users": "set `load.users` instead",
    "rate": "set `load.rate` instead",
    "spawn_rate": "set `load.spawn_rate` instead",
    "duration_s": "the run's windows and faults decide it",
}

Problem = tuple[tuple[str | int, ...], str]


def option_problems(user: str, options: Mapping[str, Any]) -> list[Problem]:
    """(path inside `load.options`, what is wrong) for each problem of `options` for load user `user`."""
    problems: list[Problem] = [((key,), f"not an option: {why}") for key, why in PLAN_OWNED.items()
                               if key in options]
    if problems:
        return problems
    try:
        LoadSpec.model_validate({"host": "http://127.0.0.1:1", "user": user, **options}, context=NO_COMPILE)
    except ValidationError as e:
        errors = e.errors()
        for err in errors:
            if err["type"] == "too_short" and any(len(other["loc"]) > len(err["loc"])
                                                  and other["loc"][:len(err["loc"])] == err["loc"]
                                                  for other in errors):
                continue  # a list emptied by its own invalid items: the items' errors say it all
            loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
            message = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden" and loc:
                valid = [f for f in fields_at(LoadSpec, loc[:-1]) if not (len(loc) == 1 and f in PLAN_OWNED)]
                message = f"unknown option {loc[-1]!r}{did_you_mean(str(loc[-1]), valid)}"
            problems.append((loc, message))
    return problems

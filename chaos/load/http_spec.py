"""Options of the built-in `http` user: the weighted requests a scenario sends to any HTTP service.

The generic user for a service of one's own (the `configd` user is the bundled configd's mix): each
request names its method, path, headers, body, the status codes that count as success and its weight,
as a k6 script's requests would. Validated in the suite's process like every LoadSpec, so a typo fails
the dry run, not the run.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, model_validator

_Frozen = ConfigDict(frozen=True, extra="forbid")

#: Methods the `http` user sends (a typo such as `GTE` is refused, not sent).
HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
#: An HTTP header name (RFC 9110 token).
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

_STATUS_SCHEMA = {"type": "integer", "minimum": 100, "maximum": 599}


def _method(value: str) -> str:
    method = value.strip().upper()
    if method not in HTTP_METHODS:
        raise ValueError(f"unknown HTTP method {value!r}; one of {', '.join(HTTP_METHODS)}")
    return method


def _path(value: str) -> str:
    if not value.startswith("/") or any(c.isspace() for c in value):
        raise ValueError(f"path must start with / and hold no spaces (it is relative to the target's address, "
                         f"e.g. /api/orders?limit=10), got {value!r}")
    return value


def _headers(value: dict[str, str]) -> dict[str, str]:
    bad = [name for name in value if not _HEADER_NAME.match(name)]
    if bad:
        raise ValueError(f"header names must be HTTP tokens (no spaces or colons), got {bad}")
    return value


Headers = Annotated[dict[str, str], AfterValidator(_headers)]


def _statuses(value: object) -> object:
    """One status code or a list of them, as a tuple; one clear message for anything else (a union of the two
    shapes would answer with an error per shape)."""
    if value is None:
        return None
    codes = [value] if isinstance(value, int) else value
    if (isinstance(value, bool) or not isinstance(codes, list | tuple) or not codes
            or not all(isinstance(code, int) and not isinstance(code, bool) for code in codes)):
        raise ValueError(f"expect_status is a status code or a non-empty list of them (e.g. 404, or [200, 204]), "
                         f"got {value!r}")
    bad = [code for code in codes if not 100 <= code <= 599]
    if bad:
        raise ValueError(f"HTTP status codes run from 100 to 599, got {', '.join(map(str, bad))}")
    return tuple(codes)


Statuses = Annotated[
    tuple[int, ...] | None, BeforeValidator(_statuses),
    WithJsonSchema({"anyOf": [_STATUS_SCHEMA, {"type": "array", "items": _STATUS_SCHEMA, "minItems": 1},
                              {"type": "null"}]})]


class HttpRequest(BaseModel):
    """One request of the `http` user's mix, and what counts as its success."""

    model_config = _Frozen

    method: Annotated[str, AfterValidator(_method)] = Field(
        "GET", description="HTTP method: " + ", ".join(HTTP_METHODS) + " (any case).")
    path: Annotated[str, AfterValidator(_path)] = Field(
        description="Path (and query) on the target, e.g. `/api/orders?limit=10`.")
    headers: Headers = Field(
        default_factory=dict, description="Headers of this request (over the options' common `headers`).")
    body: str | dict[str, Any] | list[Any] | None = Field(
        None, description="Request body: a string is sent as it is; a mapping or list is sent as JSON "
                          "(with `Content-Type: application/json`). None: no body.")
    expect_status: Statuses = Field(
        None, description="Status code, or list of codes, that counts as success (e.g. 404 for a lookup of a "
                          "missing key, [200, 204]); any other status is a failed request in Locust's stats and "
                          "on the timeline. None: any status below 400.")
    weight: int = Field(1, ge=0, description="Relative weight of this request in the mix (0: never sent).")
    name: str | None = Field(
        None, min_length=1,
        description="Name in reports and stats (default: the path); give one to group paths with ids, e.g. "
                    "`/orders/{id}`, or to tell apart two requests with the same method and path.")

    @property
    def label(self) -> str:
        """What the request is counted under, after its method (`GET /hello`)."""
        return self.name or self.path

    @property
    def expected(self) -> frozenset[int] | None:
        """The status codes that count as success; None: Locust's rule (no error, status below 400)."""
        return None if self.expect_status is None else frozenset(self.expect_status)


class HttpOptions(BaseModel):
    """Request mix of the built-in `http` user: one request per task, picked by weight, sent with Locust's
    FastHttpUser to the load's host; the one to use for an HTTP service of one's own."""

    model_config = _Frozen

    requests: tuple[HttpRequest, ...] = Field(
        (HttpRequest(path="/"),), min_length=1,
        description="Requests to send, picked by weight; default: `GET /` alone.")
    headers: Headers = Field(
        default_factory=dict, description="Headers sent with every request (e.g. Authorization); a request's "
                                          "own `headers` override them.")

    @model_validator(mode="after")
    def _weighted_and_named_apart(self) -> HttpOptions:
        if not any(request.weight for request in self.requests):
            raise ValueError("at least one http request weight must be positive")
        seen: set[tuple[str, str]] = set()
        for request in self.requests:
            key = (request.method, request.label)
            if key in seen:
                raise ValueError(f"two http requests are both {' '.join(key)!r}, so their counts would mix; give "
                                 "one of them its own `name`")
            seen.add(key)
        return self

"""What a load run is: the typed, validated description the parent hands to the Locust child.

Nothing here imports Locust (importing Locust monkey-patches the whole process with gevent), so
the suite can build and validate a `LoadSpec` in its own process; only `chaos.load.child` and
`chaos.load.users` import Locust, and only inside the child process.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import dns.exception
import dns.name
import dns.rcode
import dns.rdatatype
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from chaos.errors import LoadError
from chaos.load.grpc_spec import GrpcOptions
from chaos.load.http_spec import HttpOptions
from chaos.load.rate import rate_problem, users_for_rate


@dataclass(frozen=True)
class BuiltinUser:
    """A built-in Locust user: its name in scenarios (also its options' field of UserOptions), the class in
    chaos.load.users (imported only where Locust runs), the protocol it speaks and how many requests one
    run of its task sends (what `rate` divides by to pace it)."""

    name: str
    class_name: str
    speaks: Literal["http", "dns", "grpc"]
    requests_per_task: int = 1


#: Every built-in user, the one table: names, classes, protocols (a new user: one row, its class, its options).
BUILTIN: tuple[BuiltinUser, ...] = (
    BuiltinUser("http", "HttpUser", "http"),
    BuiltinUser("configd", "ConfigdUser", "http"),
    BuiltinUser("kvd", "KvdUser", "http", requests_per_task=2),
    BuiltinUser("allocd", "AllocdUser", "http"),
    BuiltinUser("dns", "DnsUser", "dns"),
    BuiltinUser("grpc", "GrpcUser", "grpc"),
)
#: Built-in user names and the classes (in `chaos.load.users`) they stand for.
BUILTIN_USERS: dict[str, str] = {user.name: user.class_name for user in BUILTIN}
#: Built-in users that speak HTTP: a `dns://` host is no target for them.
HTTP_BUILTIN_USERS = frozenset(user.name for user in BUILTIN if user.speaks == "http")
#: URL schemes a LoadSpec host may have; `dns://host:port` (RFC 4501) names a DNS server,
#: `grpc://host:port` a gRPC server.
HOST_SCHEMES = ("http://", "https://", "dns://", "grpc://")
#: Port of a DNS server whose URL names none.
DNS_DEFAULT_PORT = 53

_Frozen = ConfigDict(frozen=True, extra="forbid")


class ConfigdOptions(BaseModel):
    """Request mix of the built-in `configd` user (config routes plus the shared cache)."""

    model_config = _Frozen

    routes: tuple[str, ...] = Field(
        ("/", "/hello", "/api/users"),
        description="Config-driven routes to GET, picked uniformly at random.",
        min_length=1,
    )
    route_weight: int = Field(6, ge=0, description="Relative weight of a GET of one route.")
    cache_get_weight: int = Field(3, ge=0, description="Relative weight of `GET /cache/{key}`.")
    cache_put_weight: int = Field(
        1, ge=0, description="Relative weight of `PUT /cache/{key}` (body = value)."
    )
    cache_keys: int = Field(64, ge=1, description="Size of the cache key space (`k0`..`kN-1`).")
    value_bytes: int = Field(16, ge=1, le=1 << 20, description="Size of each PUT value.")

    @model_validator(mode="after")
    def _some_weight(self) -> ConfigdOptions:
        if self.route_weight + self.cache_get_weight + self.cache_put_weight == 0:
            raise ValueError("at least one configd weight must be positive")
        return self


class KvdOptions(BaseModel):
    """Write-then-read pairs of the built-in `kvd` user, recorded so stale reads can be found."""

    model_config = _Frozen

    keys_per_user: int = Field(
        8, ge=1, description="Keys each user cycles through; keys are never shared between users."
    )
    value_bytes: int = Field(16, ge=8, le=1 << 20, description="Size of each written value.")
    value_field: str | None = Field(
        None,
        description="If the GET answers JSON, the field holding the value; None = raw body.",
    )
    key_prefix: str = Field(
        "", description="Prefix of every key, e.g. `cache/` for keys kvd's watch-fed cache mirrors."
    )
    read_path: str = Field(
        "/kv/{key}",
        description="Where the read goes: `/kv/{key}` (etcd, linearizable) or `/cached/{key}` "
        "(kvd's watch-fed cache: may lag, which is what incident 3 breaks for good).",
    )

    @field_validator("read_path")
    @classmethod
    def _has_key(cls, value: str) -> str:
        if not value.startswith("/") or "{key}" not in value:
            raise ValueError(f"read_path must start with / and contain {{key}}, got {value!r}")
        return value


class AllocdOptions(BaseModel):
    """`POST /merge` bodies of the built-in `allocd` user: ``{"maps": [...], "lists": [...]}``,
    merged by the service (maps left to right, lists concatenated without duplicates)."""

    model_config = _Frozen

    maps: int = Field(2, ge=1, le=64, description="Maps per body; neighbours overlap by half.")
    map_size: int = Field(64, ge=0, le=100_000, description="Entries per map.")
    lists: int = Field(2, ge=0, le=64, description="Lists per body; neighbours overlap by half.")
    list_size: int = Field(64, ge=0, le=100_000, description="Elements per list.")
    unique: bool = Field(
        True,
        description="Give every body a fresh nonce so allocd's result cache misses (real "
        "allocation on every request); False = one body, mostly cache hits.",
    )


def _dns_name(value: str) -> str:
    if not value or value != value.strip() or any(c.isspace() for c in value):
        raise ValueError(f"query name must be a non-empty DNS name without spaces, got {value!r}")
    try:
        dns.name.from_text(value)
    except dns.exception.DNSException as e:
        raise ValueError(f"query name {value!r} is not a DNS name: {e}") from e
    return value


def _rdtype(value: str) -> str:
    try:
        rdtype = dns.rdatatype.from_text(value)
    except dns.exception.DNSException as e:
        raise ValueError(f"unknown DNS record type {value!r}") from e
    if dns.rdatatype.is_metatype(rdtype) and rdtype != dns.rdatatype.ANY:
        raise ValueError(f"record type {value!r} is not a plain query type (zone transfers "
                         "and pseudo-records are not supported)")
    return dns.rdatatype.to_text(rdtype)


def _rcode(value: str) -> str:
    try:
        return dns.rcode.to_text(dns.rcode.from_text(value))
    except dns.exception.DNSException as e:
        raise ValueError(f"unknown DNS rcode {value!r}") from e


class DnsQuery(BaseModel):
    """One question the built-in `dns` user asks, and the answer code that counts as success."""

    model_config = _Frozen

    name: Annotated[str, AfterValidator(_dns_name)] = Field(
        description="Name to look up, e.g. `api.example.org` (relative names are taken from the root).")
    type: Annotated[str, AfterValidator(_rdtype)] = Field(
        "A", description="Record type: A, AAAA, TXT, SRV, MX, ... (any name dnspython knows, or `TYPEnnn`).")
    weight: int = Field(1, ge=0, description="Relative weight of this query in the mix.")
    expect_rcode: Annotated[str, AfterValidator(_rcode)] = Field(
        "NOERROR", description="Response code that counts as success (NOERROR, NXDOMAIN, SERVFAIL, ...); "
                               "any other code is a failed request.")


class DnsOptions(BaseModel):
    """Query mix of the built-in `dns` user, which loads a DNS server (e.g. CoreDNS) through its
    real interface: one query per task, sent with dnspython to the LoadSpec host's address."""

    model_config = _Frozen

    queries: tuple[DnsQuery, ...] = Field(
        (DnsQuery(name="example.org"),),
        min_length=1,
        description="Queries to send, picked by weight; set these to names the server serves.",
    )
    protocol: Literal["udp", "tcp"] = Field(
        "udp", description="Transport: `udp` (one datagram each way) or `tcp` (a connection "
                           "per query, length-prefixed)."
    )
    timeout_s: float | None = Field(
        None, gt=0,
        description="Seconds to wait for each answer before counting a timeout; None = the "
        "run's request_timeout_s.",
    )

    @model_validator(mode="after")
    def _some_weight(self) -> DnsOptions:
        if not any(query.weight for query in self.queries):
            raise ValueError("at least one dns query weight must be positive")
        return self


def host_port(url: str, default_port: int = DNS_DEFAULT_PORT) -> tuple[str, int]:
    """Host and port of any URL (`dns://h:p`, `http://h:p`, ...): the DNS user takes the target's
    endpoint URL as the runner hands it over, whatever its scheme; no port = `default_port`."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError as e:
        raise ValueError(f"bad port in {url!r}: {e}") from e
    if not parts.hostname:
        raise ValueError(f"no host in {url!r}")
    return parts.hostname, default_port if port is None else port


class LoadSpec(BaseModel):
    """One load run: who sends what, how hard, for how long, from how many processes.

    Keyword-only, frozen, validated. `user` is a built-in name (`http` for any HTTP service, `configd`,
    `kvd`, `allocd`, `dns`, `grpc`), a locustfile path (`path/to/locustfile.py`, every User class in it; or
    `file.py:Class`), or an importable `module:Class`. With `rate`, the built-in users send that many
    requests per second in total (see chaos.load.rate); without `users`, the rate picks them.
    """

    model_config = _Frozen

    host: str = Field(
        description="Base URL of the target, e.g. `http://127.0.0.1:8080`; for a DNS server also "
        "`dns://127.0.0.1:53`, for a gRPC server `grpc://127.0.0.1:9090` (the `dns` and `grpc` users "
        "take host and port from any of these schemes).",
    )
    user: str = Field("configd", description="Built-in user, locustfile path, or module:Class.")
    users: int = Field(10, ge=1, le=100_000, description="Concurrent simulated users in total (with `rate` "
                       "and no `users`: ceil(rate * 0.2), i.e. 200 ms per request and user).")
    rate: float | None = Field(
        None, gt=0, le=1_000_000,
        description="Built-in users: requests per second in total, held constant (as k6's constant-arrival-"
        "rate): each user is paced at rate/users (Locust constant_throughput). None: no fixed rate.",
    )
    spawn_rate: float = Field(10.0, gt=0, description="Users started per second while ramping.")
    duration_s: float = Field(
        10.0, gt=0, le=24 * 3600, description="Run length from the first spawn; then it stops."
    )
    workers: int = Field(
        0, ge=0, le=256, description="0 = one local Locust process; N = a master + N workers."
    )
    remote_workers: int = Field(
        0, ge=0, le=4096,
        description="Extra workers (other machines) the master waits for before starting.",
    )
    master_bind_host: str = Field(
        "127.0.0.1", description="Where the master listens; `0.0.0.0` to let remote workers in."
    )
    master_port: int = Field(0, ge=0, le=65535, description="Master port; 0 = a free one.")
    rps_per_user: float | None = Field(
        None, gt=0,
        description="Built-in users: pace each user at this many task runs per second "
        "(Locust constant_throughput); None = no pacing (see `wait_s`). `rate` sets it for you.",
    )
    wait_s: tuple[Annotated[float, Field(ge=0)], Annotated[float, Field(ge=0)]] = Field(
        (0.0, 0.0), description="Built-in users: random wait between tasks, (min, max) seconds."
    )
    request_timeout_s: float = Field(
        5.0, gt=0, description="Built-in users: connect and network timeout of each request."
    )
    version_header: str | None = Field(
        "X-Config-Version",
        description="Response header recorded as RequestRecord.version (any user class).",
    )
    start_timeout_s: float = Field(
        20.0, gt=0,
        description="How long to wait for processes, workers and the first request result.",
    )
    stop_grace_s: float = Field(
        5.0, gt=0, description="After a stop request: time to drain and report before SIGKILL."
    )
    http: HttpOptions = Field(default_factory=HttpOptions, description="http requests (GET / by default).")
    configd: ConfigdOptions = Field(default_factory=ConfigdOptions, description="configd mix.")
    kvd: KvdOptions = Field(default_factory=KvdOptions, description="kvd mix.")
    allocd: AllocdOptions = Field(default_factory=AllocdOptions, description="allocd bodies.")
    dns: DnsOptions = Field(default_factory=DnsOptions, description="dns queries.")
    grpc: GrpcOptions | None = Field(None, description="grpc calls (the `grpc` user needs them).")

    @model_validator(mode="before")
    @classmethod
    def _users_for_rate(cls, data: Any) -> Any:
        """A rate without `users`: the users that hold it (chaos.load.rate.users_for_rate)."""
        return with_users_for_rate(data)

    @field_validator("host")
    @classmethod
    def _url_host(cls, value: str) -> str:
        if not value.startswith(HOST_SCHEMES):
            raise ValueError(f"host must be an http(s) or dns URL, got {value!r}")
        if value.startswith(("dns://", "grpc://")):
            host_port(value)
        return value.rstrip("/")

    @model_validator(mode="after")
    def _wait_order(self) -> LoadSpec:
        if self.wait_s[0] > self.wait_s[1]:
            raise ValueError(f"wait_s min {self.wait_s[0]} > max {self.wait_s[1]}")
        return self

    @model_validator(mode="after")
    def _rate_reachable(self) -> LoadSpec:
        if self.rate is not None:
            problem = rate_problem(self.rate, self.users, builtin=self.user.strip() in BUILTIN_USERS,
                                   pacing=self.model_fields_set, prefix="")
            if problem is not None:
                raise ValueError(problem)
        return self

    @model_validator(mode="after")
    def _http_user_http_host(self) -> LoadSpec:
        if self.host.startswith(("dns://", "grpc://")) and self.user.strip() in HTTP_BUILTIN_USERS:
            raise ValueError(f"user {self.user!r} speaks HTTP; a {self.host.split(':')[0]}:// host is "
                             "for the `dns` or `grpc` user or a user class of one's own")
        if self.user.strip() == "grpc" and self.grpc is None:
            raise ValueError("the `grpc` user needs its calls: grpc: {calls: [{method: "
                             "package.Service/Method, request: {...}}]}")
        return self

    @property
    def time_limit_s(self) -> float:
        """Hard bound on one load process's life: start + duration + drain."""
        return self.start_timeout_s + self.duration_s + self.stop_grace_s

    def user_options(self) -> UserOptions:
        """What the processes that run users need (workers get it from the master); with `rate`, each user's
        pace: rate / users task runs per second, divided by the requests one task run sends."""
        options = self.model_dump(include=set(UserOptions.model_fields))
        if self.rate is not None:
            row = next(user for user in BUILTIN if user.name == self.user.strip())
            options["rps_per_user"] = self.rate / self.users / row.requests_per_task
        return UserOptions.model_validate(options)


class UserOptions(BaseModel):
    """The part of a LoadSpec that the processes running users need; the master pushes it to
    every worker that connects, so a remote worker only needs the user reference."""

    model_config = _Frozen

    rps_per_user: float | None = Field(None, gt=0, description="See LoadSpec.rps_per_user.")
    wait_s: tuple[float, float] = Field((0.0, 0.0), description="See LoadSpec.wait_s.")
    request_timeout_s: float = Field(5.0, gt=0, description="See LoadSpec.request_timeout_s.")
    version_header: str | None = Field("X-Config-Version", description="See LoadSpec.")
    http: HttpOptions = Field(default_factory=HttpOptions, description="http requests.")
    configd: ConfigdOptions = Field(default_factory=ConfigdOptions, description="configd mix.")
    kvd: KvdOptions = Field(default_factory=KvdOptions, description="kvd mix.")
    allocd: AllocdOptions = Field(default_factory=AllocdOptions, description="allocd bodies.")
    dns: DnsOptions = Field(default_factory=DnsOptions, description="dns queries.")
    grpc: GrpcOptions | None = Field(None, description="grpc calls.")


UserRef = tuple[Literal["builtin", "file", "module"], str, str | None]


def with_users_for_rate(data: Any) -> Any:
    """Raw load fields (a LoadSpec's, a scenario's `load` entry) with `users` picked for their `rate` when a
    rate is given without users; anything else unchanged (validation then says what is wrong with it)."""
    if isinstance(data, dict) and "users" not in data:
        rate = data.get("rate")
        if isinstance(rate, int | float) and not isinstance(rate, bool) and 0 < rate < float("inf"):
            return {**data, "users": users_for_rate(rate)}
    return data


def parse_user_ref(ref: str) -> UserRef:
    """Split a user reference into (kind, target, class name or None), checking what can be
    checked without importing anything; raises LoadError with the fix otherwise."""
    ref = ref.strip()
    if ref in BUILTIN_USERS:
        return ("builtin", ref, BUILTIN_USERS[ref])
    path_part, _, cls = ref.partition(":")
    if path_part.endswith(".py"):
        path = Path(path_part).expanduser()
        if not path.is_file():
            raise LoadError(
                f"locustfile {str(path)!r} not found (cwd {Path.cwd()}); "
                "give an existing path, or a built-in user: " + ", ".join(BUILTIN_USERS)
            )
        return ("file", str(path.resolve()), cls or None)
    if cls and path_part and all(p.isidentifier() for p in path_part.split(".")):
        if not cls.isidentifier():
            raise LoadError(f"user {ref!r}: {cls!r} is not a class name")
        return ("module", path_part, cls)
    raise LoadError(
        f"unknown user {ref!r}: use a built-in user ({', '.join(BUILTIN_USERS)}), "
        "a locustfile path (path/to/locustfile.py[:Class]) or module:Class"
    )

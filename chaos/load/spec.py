"""What a load run is: the typed, validated description the parent hands to the Locust child.

Nothing here imports Locust (importing Locust monkey-patches the whole process with gevent), so
the suite can build and validate a `LoadSpec` in its own process; only `chaos.load.child` and
`chaos.load.users` import Locust, and only inside the child process.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from chaos.errors import LoadError

#: Built-in user names and the classes (in `chaos.load.users`) they stand for.
BUILTIN_USERS: dict[str, str] = {
    "configd": "ConfigdUser",
    "kvd": "KvdUser",
    "allocd": "AllocdUser",
}

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


class LoadSpec(BaseModel):
    """One load run: who sends what, how hard, for how long, from how many processes.

    Keyword-only, frozen, validated. `user` is a built-in name (`configd`, `kvd`, `allocd`), a
    locustfile path (`path/to/locustfile.py`, every User class in it; or `file.py:Class`), or an
    importable `module:Class`.
    """

    model_config = _Frozen

    host: str = Field(description="Base URL of the target, e.g. `http://127.0.0.1:8080`.")
    user: str = Field("configd", description="Built-in user, locustfile path, or module:Class.")
    users: int = Field(10, ge=1, le=100_000, description="Concurrent simulated users in total.")
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
        "(Locust constant_throughput); None = no pacing (see `wait_s`).",
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
    configd: ConfigdOptions = Field(default_factory=ConfigdOptions, description="configd mix.")
    kvd: KvdOptions = Field(default_factory=KvdOptions, description="kvd mix.")
    allocd: AllocdOptions = Field(default_factory=AllocdOptions, description="allocd bodies.")

    @field_validator("host")
    @classmethod
    def _http_host(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"host must be an http(s) URL, got {value!r}")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _wait_order(self) -> LoadSpec:
        if self.wait_s[0] > self.wait_s[1]:
            raise ValueError(f"wait_s min {self.wait_s[0]} > max {self.wait_s[1]}")
        return self

    @property
    def time_limit_s(self) -> float:
        """Hard bound on one load process's life: start + duration + drain."""
        return self.start_timeout_s + self.duration_s + self.stop_grace_s

    def user_options(self) -> UserOptions:
        """What the processes that run users need (workers get it from the master)."""
        return UserOptions.model_validate(self.model_dump(include=set(UserOptions.model_fields)))


class UserOptions(BaseModel):
    """The part of a LoadSpec that the processes running users need; the master pushes it to
    every worker that connects, so a remote worker only needs the user reference."""

    model_config = _Frozen

    rps_per_user: float | None = Field(None, gt=0, description="See LoadSpec.rps_per_user.")
    wait_s: tuple[float, float] = Field((0.0, 0.0), description="See LoadSpec.wait_s.")
    request_timeout_s: float = Field(5.0, gt=0, description="See LoadSpec.request_timeout_s.")
    version_header: str | None = Field("X-Config-Version", description="See LoadSpec.")
    configd: ConfigdOptions = Field(default_factory=ConfigdOptions, description="configd mix.")
    kvd: KvdOptions = Field(default_factory=KvdOptions, description="kvd mix.")
    allocd: AllocdOptions = Field(default_factory=AllocdOptions, description="allocd bodies.")


UserRef = tuple[Literal["builtin", "file", "module"], str, str | None]


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

"""Scenarios: typed, validated descriptions of one chaos run, loaded from YAML.

A scenario names its targets (bundled, with flags, or any Go service per the Target contract), the
etcd cluster it needs, the load, the baseline and observation windows, the fault schedule and the
oracles. Validation errors name the file, the line and the field, and suggest the nearest valid
name, so a typo costs seconds, not a CI run.
"""

from __future__ import annotations

import copy
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, NamedTuple

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from chaos.client_budget import ClientBudget
from chaos.errors import BuildError, ConfigError, ScenarioError
from chaos.external_etcd import ExternalEtcd
from chaos.injectors import INJECTORS, create
from chaos.injectors.base import Injector
from chaos.load.options import option_problems
from chaos.load.rate import rate_problem
from chaos.load.spec import BUILTIN_USERS, with_users_for_rate
from chaos.observe.live_probes import LiveProbe
from chaos.oracles import bind
from chaos.published import parse_ref
from chaos.source_build import locate
from chaos.suggest import did_you_mean, fields_at
from chaos.targets import (
    BUNDLED,
    PLACEHOLDERS_SHOWN,
    ConfigDelivery,
    ConfigSpec,
    Deployed,
    HttpReload,
    Readiness,
    ReloadTrigger,
    RestartPolicy,
    TargetSpec,
    VersionProbe,
    bundled,
    fill_config,
    flag_problems,
    placeholder_names,
    placeholder_problem,
    sample_placeholders,
)

SCENARIO_SUFFIX = ".chaos.yaml"
#: The longest a fault phase may last: from its start to the latest a fault can end (its last repetition's
#: latest start plus the injector's own upper bound). A schedule beyond it is a typo, not a chaos run.
MAX_FAULT_PHASE_S = 24 * 3600.0


class _Model(BaseModel):
    #: no `.inf`/`.nan`: every number of a scenario is a finite offset, duration, rate or count
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class TargetEntry(_Model):
    """A target: `bundled: configd` with `flags`, or a user's own service with `command` (its binary built
    from a published Go module version when it gives `go_install`, from its source directory with `build`)."""

    name: str | None = Field(None, description="Name in this run; defaults to the bundled name")
    bundled: str | None = Field(None, description="Bundled target: " + ", ".join(BUNDLED))
    flags: dict[str, str | int | float | bool] = Field(default_factory=dict,
                                                       description="Command-line flags (bundled)")
    buggy_flags: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="Flags that switch the target's bug on (`gochaos reproduce`)")
    command: tuple[str, ...] | None = Field(None, description="argv of a user's own service; placeholders "
                                                         + PLACEHOLDERS_SHOWN + " are filled in ({etcd_endpoints}: "
                                                         "comma-separated URLs, {etcd_endpoints_spaced}: "
                                                         "space-separated; {{ and }} are literal braces)")
    go_install: str | None = Field(None, description="A published Go main package, MODULE[/PKG]@VERSION as `go "
                                                     "install` takes it: built from the Go module proxy, it is "
                                                     "{binary} in `command`")
    buggy_go_install: str | None = Field(None, description="The same service at a release with the bug, "
                                                           "MODULE[/PKG]@VERSION: what `gochaos reproduce` builds "
                                                           "and runs instead of `go_install`")
    build: str | None = Field(None, description="Directory of your service's Go main package, relative to the "
                                                "scenario file, in a Go module: built by the suite once per source "
                                                "(go.mod, go.sum, .go files, Go version), it is {binary} in `command`")
    buggy_build: str | None = Field(None, description="Directory of the same main package with the bug (e.g. a "
                                                      "checkout of the buggy commit): what `gochaos reproduce` "
                                                      "builds and runs instead of `build`")
    buggy_command: tuple[str, ...] | None = Field(None, description="argv that runs the service with its bug, "
                                                                    "same placeholders as `command`: what `gochaos "
                                                                    "reproduce` runs instead of `command`")
    config_file: str | None = Field(None, description="Initial config, relative to the scenario file; the same "
                                                      "placeholders as `command` are filled in its text")
    format: str | None = Field(None, pattern=r"^(yaml|json|toml|text)$",
                               description="Config format (default: from config_file's extension); text: not parsed")
    version_key: str | None = Field(None, description="Dotted path of the config's version; none: known by its hash")
    mutations: str = Field("auto", pattern=r"^(auto|configd)$",
                           description="Storm writes without declared variants: auto (from the config's own tree)")
    ports: tuple[str, ...] = Field((), description="Named extra ports ({port.NAME}, {listen.NAME}), e.g. [admin]")
    live: tuple[LiveProbe, ...] = Field((), description="How to read which config is live: header, json, metrics, "
                                                       "config, log probes")
    reload: ReloadTrigger = Field(ReloadTrigger.WATCH, description="How the service reloads config")
    reload_request: HttpReload | None = Field(None, description="reload: http: the POST that makes it reload (path, "
                                                                "port, body: config, headers); default POST "
                                                                "/-/reload on the main port")
    version_header: str | None = Field(None, description="Response header with the live config version")
    version_endpoint: str | None = Field(None, description="GET path returning JSON with the version")
    ready_path: str | None = Field("/-/readyz", description="GET path answering 2xx when ready")
    ready_grpc: bool | str = Field(False, description="Ready by the standard grpc.health.v1 check answering SERVING: "
                                                     "true for the server as a whole, or a service name; "
                                                     "replaces ready_path")
    env: dict[str, str] = Field(default_factory=dict)
    restart: RestartPolicy = RestartPolicy.ALWAYS
    load_user: str | None = Field(None, description="Built-in Locust user for this service")
    race: bool = Field(False, description="Build it with the Go race detector (a bundled target, `go_install` or "
                                          "`build`; needs a C compiler), so the first data race stops the service "
                                          "with its report (GORACE=halt_on_error=1)")
    deployed: Deployed | None = Field(None, description="A service already deployed on the cluster "
                                                        "(--platform kubernetes): found and checked, never started")

    @field_validator("go_install", "buggy_go_install")
    @classmethod
    def _pinned(cls, ref: str | None) -> str | None:
        if ref is not None:
            parse_ref(ref)
        return ref

    @model_validator(mode="after")
    def _one_kind(self) -> TargetEntry:
        if self.go_install is not None and self.build is not None:
            raise ValueError("give `go_install` (a published Go service) or `build` (your own source), not both")
        for field, given, what in (("go_install", self.go_install, "a published Go service"),
                                   ("build", self.build, "your own source")):
            if given is None:
                continue
            if self.bundled is not None:
                raise ValueError(f"give `bundled` (a bundled target) or `{field}` ({what}), not both")
            if self.command is None or not any("{binary}" in arg for arg in self.command):
                raise ValueError(f"a `{field}` target runs its built binary as {{binary}}: give a `command` that "
                                 'uses it, e.g. ["{binary}", "--listen={listen}"]')
        if self.buggy_go_install is not None and self.go_install is None:
            raise ValueError("`buggy_go_install` is the buggy release of a `go_install` service: give `go_install` "
                             "(the fixed release) too")
        if self.buggy_build is not None and self.build is None:
            raise ValueError("`buggy_build` is the buggy source of a `build` service: give `build` (the fixed "
                             "source) too")
        if self.buggy_command is not None:
            if self.command is None:
                raise ValueError("`buggy_command` runs your service with its bug instead of `command`: give `command` "
                                 "(how the fixed service runs) too")
            for i, arg in enumerate(self.buggy_command):
                if (problem := placeholder_problem(arg, placeholder_names(self.ports))) is not None:
                    raise ValueError(f"buggy_command[{i}]: {problem}")
        if sum(given is not None for given in (self.bundled, self.command, self.deployed)) != 1:
            raise ValueError("give exactly one of `bundled` (a bundled target), `command` (your own service) or "
                             "`deployed` (your service already running on a cluster)")
        if self.deployed is not None and self.name is None:
            raise ValueError("a `deployed` service needs a `name`")
        if self.deployed is not None and self.reload is ReloadTrigger.SIGHUP:
            raise ValueError("a `deployed` service is reached through the API only, which cannot signal its process: "
                             "use `reload: watch` (the kubelet updates the mounted ConfigMap) or `reload: http`")
        if self.reload_request is not None and self.reload is not ReloadTrigger.HTTP:
            raise ValueError(f"`reload_request` is the POST of `reload: http`, and this target reloads by "
                             f"{self.reload}: set `reload: http` or remove `reload_request`")
        if self.reload_request is not None and self.reload_request.port not in (None, *self.ports):
            raise ValueError(f"reload_request.port: {self.reload_request.port!r} is not one of the target's named "
                             f"`ports` ({', '.join(self.ports) or 'none'}); declare it there")
        if self.bundled is not None and self.bundled not in BUNDLED:
            raise ValueError(f"unknown bundled target {self.bundled!r}{did_you_mean(self.bundled, BUNDLED)}")
        if self.command is not None and self.name is None:
            raise ValueError("a service given by `command` needs a `name`")
        if self.ready_grpc is not False and self.bundled is not None:
            raise ValueError("`ready_grpc` is for your own service; a bundled target knows its readiness")
        if self.ready_grpc is not False and "ready_path" in self.model_fields_set and self.ready_path is not None:
            raise ValueError("give `ready_path` (HTTP) or `ready_grpc` (grpc.health.v1), not both")
        if self.race and self.bundled is None and self.go_install is None and self.build is None:
            raise ValueError("`race` builds what the suite builds: a `bundled` target, a `go_install` service or "
                             "your source given as `build: DIR`; a `command` alone runs a binary you built, so "
                             "build it with `go build -race` (CGO_ENABLED=1) or give `build`")
        return self

    def spec(self, base_dir: Path, *, buggy: bool = False) -> TargetSpec:
        """The TargetSpec this entry stands for (with the bug switched on when `buggy`)."""
        flags = {**self.flags, **(self.buggy_flags if buggy else {})}
        if self.bundled is not None:
            spec = bundled(self.bundled, self.name, **flags)
            if self.race:
                spec = spec.model_copy(update={"race": True, "env": {"GORACE": "halt_on_error=1", **spec.env}})
            return spec
        if self.deployed is not None:
            return self._deployed_spec(base_dir)
        assert self.command is not None and self.name is not None
        scenario_dir = base_dir.resolve()
        config = None
        if self.config_file is not None:
            path = (base_dir / self.config_file).resolve()
            try:
                config = ConfigSpec(initial=path.read_text(encoding="utf-8"), trigger=self.reload,
                                    http_reload=self.reload_request or HttpReload(), file_name=path.name,
                                    format=self.format, version_key=self.version_key,
                                    mutator=self.mutations)
            except OSError as e:
                raise ScenarioError(f"target {self.name}: config_file {path}: {e.strerror}; the path is "
                                    "relative to the scenario file, fix it or create the file") from e
        version = None
        if self.version_header or self.version_endpoint:
            version = VersionProbe(header=self.version_header, endpoint=self.version_endpoint)
        argv = self.buggy_command if buggy and self.buggy_command else self.command
        command = tuple(str((scenario_dir / arg).resolve()) if i == 0 and arg.startswith(".") else arg
                        for i, arg in enumerate(argv))
        go_install = self.buggy_go_install if buggy and self.buggy_go_install else self.go_install
        env = {"GORACE": "halt_on_error=1", **self.env} if self.race else self.env  # as bundled race builds run
        return TargetSpec(name=self.name, command=command, go_install=go_install,
                          build=self._package(scenario_dir, buggy), race=self.race, env=env, restart=self.restart,
                          readiness=self._readiness(), config=config, version=version, load_user=self.load_user,
                          live=self.live, ports=self.ports, scenario_dir=str(scenario_dir))

    @property
    def fitting_user(self) -> str | None:
        """The built-in load user a load on this target gets when it names none (the plan's TargetSpec.load_user
        says the same): a bundled target's own user, else the target's `load_user`."""
        return self.bundled or self.load_user

    def _package(self, scenario_dir: Path, buggy: bool) -> str | None:
        """The absolute directory of the main package to build (the buggy one when `buggy` and given), checked
        to be one now, so the dry run refuses what the build would."""
        field = "buggy_build" if buggy and self.buggy_build else "build"
        given = self.buggy_build if field == "buggy_build" else self.build
        if given is None:
            return None
        try:
            return str(locate(scenario_dir / given).directory)
        except BuildError as e:
            raise ScenarioError(f"target {self.name}: {field}: {given}: {e}") from e


    def _deployed_spec(self, base_dir: Path) -> TargetSpec:
        """A deployed service: its config is what its ConfigMap holds when the run starts (`config_file`, if
        given, is only a local copy the dry run plans with)."""
        assert self.deployed is not None and self.name is not None
        config = None
        if self.deployed.config is not None:
            initial = ""
            if self.config_file is not None:
                path = (base_dir / self.config_file).resolve()
                try:
                    initial = path.read_text(encoding="utf-8")
                except OSError as e:
                    raise ScenarioError(f"target {self.name}: config_file {path}: {e.strerror}") from e
            config = ConfigSpec(initial=initial, trigger=self.reload, http_reload=self.reload_request or HttpReload(),
                                file_name=self.deployed.config.key,
                                format=self.format, version_key=self.version_key, mutator=self.mutations,
                                delivery=ConfigDelivery.CONFIGMAP)
        version = None
        if self.version_header or self.version_endpoint:
            version = VersionProbe(header=self.version_header, endpoint=self.version_endpoint)
        return TargetSpec(name=self.name, command=(), readiness=self._readiness(), config=config,
                          version=version, load_user=self.load_user, live=self.live, deployed=self.deployed,
                          chaosagent=self.deployed.agent_token_env is not None)

    def _readiness(self) -> Readiness:
        if self.ready_grpc is False:
            return Readiness(http_path=self.ready_path)
        service = "" if self.ready_grpc is True else str(self.ready_grpc)
        return Readiness(http_path=None, grpc_health=service)


class EtcdEntry(_Model):
    """The etcd the targets use: a cluster the suite starts (`members`, timing), or the team's own (`external`)."""

    members: int = Field(3, ge=1, le=7, description="Members of the etcd cluster the suite starts")
    heartbeat_ms: int = Field(50, ge=10, description="etcd --heartbeat-interval of the started cluster")
    election_ms: int = Field(500, ge=50, description="etcd --election-timeout of the started cluster")
    external: ExternalEtcd | None = Field(None, description="An etcd the team already runs: its endpoints and TLS; "
                                                            "nothing is started")

    @model_validator(mode="after")
    def _started_or_external(self) -> EtcdEntry:
        started = sorted(self.model_fields_set & {"members", "heartbeat_ms", "election_ms"})
        if self.external is not None and started:
            raise ValueError(f"`external` is an etcd the team runs, so {', '.join(started)} (of a cluster the suite "
                             "starts) cannot apply: remove " + ("it" if len(started) == 1 else "them"))
        return self


class LoadEntry(_Model):
    """One load: which user (a built-in one, e.g. `http` with its weighted requests, or a locustfile), how many
    of them, or at what constant rate (`rate`, as k6's constant-arrival-rate)."""

    target: str | None = Field(None, description="Target to load; defaults to the first one")
    port: str | None = Field(None, description="One of the target's named `ports` to load (e.g. its DNS or admin "
                                               "port) instead of its main one")
    user: str | None = Field(None, description="Locust user: a built-in one (" + ", ".join(BUILTIN_USERS) + "; "
                                               "`http` for a service of your own), path/to/locustfile.py[:Class] "
                                               "or module:Class; defaults to a bundled target's own user")
    users: int = Field(10, ge=1, le=10_000, description="Concurrent users (with `rate` and no `users`: "
                                                        "ceil(rate * 0.2), 200 ms per request and user)")
    rate: float | None = Field(None, gt=0, le=1_000_000,
                               description="Requests per second in total, held constant (k6's constant-arrival-"
                                           "rate): each built-in user is paced at rate/users (Locust "
                                           "constant_throughput); replaces options.rps_per_user and wait_s")
    spawn_rate: float = Field(50.0, gt=0)
    worker_pods: int = Field(0, ge=0, le=64, description="Locust workers as pods beside an in-cluster run, "
                                                         "loading the target's `deployed.service`")
    options: dict[str, Any] = Field(default_factory=dict, description="More LoadSpec fields")

    @model_validator(mode="before")
    @classmethod
    def _users_for_rate(cls, data: Any) -> Any:
        return with_users_for_rate(data)

    @model_validator(mode="after")
    def _rate_reachable(self) -> LoadEntry:
        if self.rate is not None:
            builtin = self.user is None or self.user.strip() in BUILTIN_USERS  # None: the target's own, built in
            problem = rate_problem(self.rate, self.users, builtin=builtin, pacing=self.options)
            if problem is not None:
                raise ValueError(problem)
        return self


#: The shapes `load:` takes (tags of LoadSection), which validation errors name after `load`.
LOAD_SHAPES = ("one", "many", "none")


def _load_shape(value: Any) -> str | None:
    """`one` entry (a mapping), `many` (a list) or `none`: so a bad entry is reported once, as an entry, not
    also as "not a list" and "not null"."""
    if value is None:
        return "none"
    if isinstance(value, dict | LoadEntry):
        return "one"
    return "many" if isinstance(value, list | tuple) else None


#: `load:` as a scenario gives it: one entry, a list of entries run at once, or null for none.
LoadSection = Annotated[
    Annotated[LoadEntry, Tag("one")] | Annotated[tuple[LoadEntry, ...], Tag("many")] | Annotated[None, Tag("none")],
    Discriminator(_load_shape, custom_error_type="load_shape",
                  custom_error_message="expected one entry (a mapping such as {user: http, users: 10}), a list of "
                                       "them, or null for none"),
]


class Windows(_Model):
    baseline_s: float = Field(3.0, ge=0, le=3600, description="Steady state measured before faults")
    observe_s: float = Field(5.0, ge=0, le=3600, description="Watched after the last fault ended")


class FaultEntry(_Model):
    injector: str = Field(description="Registered injector name, e.g. reload_storm")
    target: str | None = Field(None, description="Target it acts on (if it needs one)")
    at_s: float = Field(0.0, ge=0, description="Offset from the start of the fault phase")
    repeat: int = Field(1, ge=1, le=1000, description="How many times the fault is injected")
    every_s: float = Field(0.0, ge=0, description="From one repetition's start to the next")
    jitter_s: float = Field(0.0, ge=0, description="Each repetition starts up to this much late, "
                                                   "drawn from the run's seed")
    params: dict[str, Any] = Field(default_factory=dict)
    steady_state: ClientBudget | None = Field(None, description="What clients may see while this fault runs, "
                                                                "over the injector's default (gochaos explain "
                                                                "injectors NAME)")

    @model_validator(mode="after")
    def _schedule(self) -> FaultEntry:
        if self.repeat > 1 and self.every_s <= 0:
            raise ValueError("a repeated fault needs `every_s` > 0")
        return self

    def offsets(self, rng: random.Random) -> list[float]:
        """Start offsets of every repetition, jittered reproducibly from `rng`."""
        return [self.at_s + k * self.every_s + (rng.uniform(0, self.jitter_s) if self.jitter_s else 0.0)
                for k in range(self.repeat)]


@dataclass(frozen=True, slots=True)
class ScenarioSource:
    """Where a scenario was read from: its file as given, the 1-based lines of `name:`, of each fault and of
    each load entry (None: the file has no `load:`, so the default load runs)."""

    path: str
    line: int | None
    fault_lines: tuple[int | None, ...] = ()
    load_lines: tuple[int | None, ...] = ()


class Scenario(_Model):
    """One chaos run, as a user writes it."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,60}$")
    description: str = ""
    targets: tuple[TargetEntry, ...] = Field(min_length=1)
    etcd: EtcdEntry | None = None
    load: LoadSection = Field(
        default_factory=LoadEntry, description="The load: one entry, or a list of them run at once (e.g. DNS and "
                                               "HTTP against one service); null: none")
    windows: Windows = Field(default_factory=Windows)
    faults: tuple[FaultEntry, ...] = ()
    oracles: tuple[str | dict[str, dict[str, Any]], ...] = Field(
        ("panics",), description="Oracle names, or {name: {param: value}} to set thresholds")
    seed: int | None = Field(None, description="Seed for jitter and generated names; printed in reports")
    #: Where it was read from; None when built in code.
    _source: ScenarioSource | None = PrivateAttr(None)

    @property
    def source(self) -> ScenarioSource | None:
        """The file (and lines) the scenario was read from, for replay hints and CI annotations."""
        return self._source

    @model_validator(mode="after")
    def _unique_targets(self) -> Scenario:
        names = self.target_names()
        twice = next((name for i, name in enumerate(names) if name in names[:i]), None)
        if twice is not None:
            raise ValueError(f"target name {twice!r} is used twice; give each target its own `name`")
        return self

    def target_names(self) -> list[str]:
        return [str(t.name or t.bundled) for t in self.targets]

    def load_entries(self) -> tuple[LoadEntry, ...]:
        """Every load the scenario runs at once (none, one, or the list it gives)."""
        if self.load is None:
            return ()
        return self.load if isinstance(self.load, tuple) else (self.load,)

    def oracle_entries(self) -> list[tuple[str, dict[str, Any]]]:
        """(name, params) of every oracle, in order."""
        entries: list[tuple[str, dict[str, Any]]] = []
        for item in self.oracles:
            if isinstance(item, str):
                entries.append((item, {}))
            else:
                entries.extend((name, dict(params or {})) for name, params in item.items())
        return entries


class Suite(_Model):
    """Several scenarios run one after the other (or `jobs` at once) and judged together (a release gate)."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,60}$")
    description: str = ""
    scenarios: tuple[str, ...] = Field(min_length=1, description="Bundled names or files (relative to this one)")
    jobs: int = Field(1, ge=1, le=16, description="How many members run at once, each with its own ports, dirs and "
                                                  "state (`--jobs` overrides it)")


class DuplicateKey(yaml.constructor.ConstructorError):
    """A key given twice in one YAML mapping: where both are, and the mapping that holds them."""

    def __init__(self, key: object, mapping: yaml.MappingNode, first: yaml.Node, second: yaml.Node) -> None:
        super().__init__("while constructing a mapping", mapping.start_mark, f"found duplicate key {key!r}",
                         second.start_mark)
        self.key, self.mapping, self.first, self.second = key, mapping, first, second
        #: The document's root node, to name the field the mapping is (set by `read_yaml`).
        self.root: yaml.Node | None = None


class StrictLoader(yaml.SafeLoader):
    """PyYAML's SafeLoader that refuses a key given twice in one mapping (SafeLoader silently keeps the
    last one, so a second `faults:` would drop the first without a word). Keys a merge (`<<: *base`)
    brings in may still be overridden, as YAML means them to be."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, yaml.Node] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.setdefault(key, key_node)
                except TypeError:  # an unhashable key: SafeConstructor says so itself
                    continue
                if first is not key_node:
                    raise DuplicateKey(key, node, first, key_node)
        return super().construct_mapping(node, deep=deep)


def read_yaml(text: str) -> tuple[yaml.Node | None, Any]:
    """(root node, data) of one YAML document, read with `StrictLoader`; yaml.YAMLError (DuplicateKey
    among them) when it cannot be read."""
    loader = StrictLoader(text)
    try:
        node = loader.get_single_node()
        try:
            return node, loader.construct_document(node) if node is not None else None
        except DuplicateKey as e:
            e.root = node
            raise
    finally:
        loader.dispose()


class Loaded(NamedTuple):
    """What a scenario or suite file asks to run."""

    name: str
    #: Each member with its file's directory (a scenario file: itself alone).
    members: list[tuple[Scenario, Path]]
    #: How many members may run at once (a suite's `jobs`; 1 for a scenario file).
    jobs: int = 1


def load_plan(path: Path) -> Loaded:
    """A scenario file gives itself; a suite file gives its members (and how many run at once)."""
    try:
        node, data = read_yaml(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, yaml.YAMLError):  # ValueError: not UTF-8
        node, data = None, None  # load_scenario below reports it with the file and line
    if not (isinstance(data, dict) and "scenarios" in data):
        return Loaded((scenario := load_scenario(path)).name, [(scenario, path.parent)])
    try:
        suite = Suite.model_validate(data)
    except ValidationError as e:
        raise ScenarioError(_describe(e, node, str(path))) from e
    members = []
    for member in suite.scenarios:
        local = path.parent / member
        member_path = local if local.is_file() else resolve(member)
        members.append((load_scenario(member_path), member_path.parent))
    return Loaded(suite.name, members, suite.jobs)


def _cross_check(scenario: Scenario) -> list[tuple[tuple[str | int, ...], str]]:
    """References between sections (fault -> target, injector and oracle names): (loc, problem)."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    names = scenario.target_names()
    for i, fault in enumerate(scenario.faults):
        if fault.target is not None and fault.target not in names:
            problems.append((("faults", i, "target"), f"{fault.target!r} is not a target of this "
                                                      f"scenario{did_you_mean(fault.target, names)}"))
        try:
            injector = create(fault.injector, fault.params, fault.target)
        except ScenarioError as e:
            field = "injector" if "unknown injector" in str(e) else "params"
            problems.append((("faults", i, field), str(e)))
            continue
        if (too_long := fault_phase_problem(fault, injector)) is not None:
            problems.append((("faults", i), too_long))
    for i, (name, params) in enumerate(scenario.oracle_entries()):
        try:
            bind(name, params)
        except ScenarioError as e:
            problems.append((("oracles", i), str(e)))
    for where, load in _load_places(scenario):
        if load.target not in (None, *names):
            problems.append(((*where, "target"), f"{load.target!r} is not a target"
                                                 f"{did_you_mean(str(load.target), names)}"))
            continue
        loaded = next(t for t in scenario.targets if load.target in (None, t.name or t.bundled))
        if load.port is not None and load.port not in loaded.ports:
            problems.append(((*where, "port"), f"{load.port!r} is not one of target {loaded.name or loaded.bundled}'s "
                                               f"`ports`{did_you_mean(load.port, loaded.ports)}"))
        if load.options:
            user = load.user or loaded.fitting_user
            if user is not None:  # else the plan says that no built-in user fits the target
                problems += [((*where, "options", *loc), message)
                             for loc, message in option_problems(user, load.options)]
    for i, target in enumerate(scenario.targets):
        if target.bundled is not None:
            for field in ("flags", "buggy_flags"):
                problems += [(("targets", i, field, key), message)
                             for key, message in flag_problems(target.bundled, getattr(target, field))]
    return problems


def fault_phase_problem(fault: FaultEntry, injector: Injector[Any]) -> str | None:
    """Why `fault` would make the fault phase last beyond MAX_FAULT_PHASE_S (or forever), else None.

    Bounded by the latest its last repetition can start (at_s, every_s x repeat, jitter_s) plus the
    injector's own upper bound (`expected_duration_s`, e.g. a storm's rounds x interval_ms)."""
    lasts = injector.expected_duration_s()
    start = fault.at_s + (fault.repeat - 1) * fault.every_s + fault.jitter_s
    end = start + lasts
    if math.isfinite(end) and end <= MAX_FAULT_PHASE_S:
        return None
    terms = []
    if start:
        schedule = [f"at_s {fault.at_s:g}"] if fault.at_s else []
        if fault.repeat > 1:
            schedule.append(f"(repeat {fault.repeat} - 1) x every_s {fault.every_s:g}")
        if fault.jitter_s:
            schedule.append(f"jitter_s {fault.jitter_s:g}")
        terms.append(f"its last repetition starts up to {_human(start)} in: {' + '.join(schedule)}")
    how = _duration_terms(injector)
    terms.append(f"{injector.name} lasts up to {_human(lasts)}" + (f": {how}" if how else ""))
    return (f"the fault phase would last {_human(end)} ({'; '.join(terms)}); at most {_human(MAX_FAULT_PHASE_S)}: "
            "lower those figures, or split the chaos into several scenarios")


def _duration_terms(injector: Injector[Any]) -> str:
    """What makes an injector's fault last as long as it does, from its params (`rounds 5 x interval_ms 500`)."""
    params = injector.params.model_dump()
    if "rounds" in params and "interval_ms" in params:  # a storm: its rounds (or for_s) at its interval
        if params.get("for_s") is not None:
            return f"for_s {params['for_s']:g}"
        return f"rounds {params['rounds']} x interval_ms {params['interval_ms']}"
    return ", ".join(f"{key} {value:g}" for key, value in params.items()
                     if key.endswith(("_s", "_ms")) and isinstance(value, (int, float)) and not isinstance(value, bool)
                     and value)


def _human(seconds: float) -> str:
    """A duration as a person reads it: 5.6 s, 12 min 30 s, 24 h 5.6 s, 69.4 days; forever."""
    if math.isnan(seconds):
        return "an undefined time (nan)"
    if math.isinf(seconds):
        return "forever"
    if seconds >= 2 * 86400:
        return f"{seconds / 86400:.1f} days"
    hours, rest = divmod(seconds, 3600)
    minutes, rest = divmod(rest, 60)
    parts = [f"{int(hours)} h"] if hours else []
    parts += [f"{int(minutes)} min"] if minutes else []
    rest = round(rest, 1)
    return " ".join(parts + ([f"{rest:g} s"] if rest or not parts else []))


def _missing_etcd_files(scenario: Scenario, base_dir: Path) -> list[tuple[tuple[str | int, ...], str]]:
    """The team's etcd's TLS files that are not there (named with their line, like any field)."""
    external = scenario.etcd.external if scenario.etcd is not None else None
    if external is None or external.tls is None:
        return []
    return [(("etcd", "external", "tls", field), problem) for field, problem in external.tls.missing(base_dir)]


def _unfillable(scenario: Scenario, base_dir: Path) -> list[tuple[tuple[str | int, ...], str]]:
    """Placeholders the platform could not fill in a target's command, env or config file (a typo such as
    `{lisen}`), and config files that cannot be read: what starting the target would refuse, found now."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    for i, target in enumerate(scenario.targets):
        if target.command is None and target.deployed is None:
            continue  # a bundled target: the suite's own command and config
        if target.command is not None:  # a deployed service's command and env are not the run's to fill
            names = placeholder_names(target.ports)
            fields: list[tuple[tuple[str | int, ...], str]] = [(("command", j), arg)
                                                              for j, arg in enumerate(target.command)]
            fields += [(("env", key), value) for key, value in target.env.items()]
            problems += [(("targets", i, *field), problem) for field, template in fields
                         if (problem := placeholder_problem(template, names)) is not None]
        if target.config_file is None:
            continue
        path = (base_dir / target.config_file).resolve()
        where = ("targets", i, "config_file")
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            problems.append((where, f"target {target.name}: config_file {path}: {getattr(e, 'strerror', None) or e}; "
                                    "the path is relative to the scenario file, fix it or create the file"))
            continue
        if target.deployed is None:  # a deployed service's config is what its ConfigMap holds, never filled
            try:
                fill_config(ConfigSpec(initial=text, file_name=path.name, format=target.format),
                            sample_placeholders(target.ports), f"target {target.name}: config {path.name}")
            except ConfigError as e:
                problems.append((where, str(e)))
    return problems


def _load_places(scenario: Scenario) -> list[tuple[tuple[str | int, ...], LoadEntry]]:
    """Each load with where it stands in the file: ("load",) for the one entry, ("load", i) in a list."""
    if isinstance(scenario.load, tuple):
        return [(("load", i), entry) for i, entry in enumerate(scenario.load)]
    return [(("load",), scenario.load)] if scenario.load is not None else []


def _read_fault_files(data: dict[str, Any], base_dir: Path, node: yaml.Node | None, source: str) -> None:
    """Files a fault's params name (a variant's config) read in now: a missing one fails the load."""
    faults = data.get("faults")
    if not isinstance(faults, list):
        return
    for i, fault in enumerate(faults):
        if not isinstance(fault, dict) or not isinstance(fault.get("params"), dict):
            continue
        cls = INJECTORS.get(str(fault.get("injector")))
        if cls is None:
            continue  # the unknown name is reported with the other problems
        try:
            fault["params"] = cls.read_files(fault["params"], base_dir)
        except ScenarioError as e:
            raise ScenarioError(_located(source, node, ("faults", i, "params"), str(e))) from e


# -- loading -------------------------------------------------------------------------------------
def load_scenario(path: Path) -> Scenario:
    """Read and validate a scenario file; ScenarioError names file, line and field when invalid."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ScenarioError(f"{path}: cannot read scenario: {e.strerror}") from e
    except UnicodeDecodeError as e:
        line = e.object[:e.start].count(b"\n") + 1
        raise ScenarioError(f"{path}:{line}: not UTF-8 text (byte {e.object[e.start]:#04x}); save the file as "
                            "UTF-8") from e
    return parse_scenario(text, str(path))


def parse_scenario(text: str, source: str) -> Scenario:
    try:
        node, data = read_yaml(text)
    except DuplicateKey as e:
        raise ScenarioError(_duplicate(e, source)) from e
    except yaml.YAMLError as e:
        mark, context = getattr(e, "problem_mark", None), getattr(e, "context_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        started = (f" ({e.context} that starts on line {context.line + 1})"  # type: ignore[attr-defined]
                   if context is not None and getattr(e, "context", None) else "")
        raise ScenarioError(f"{source}{where}: not valid YAML: {getattr(e, 'problem', e)}{started}; fix the "
                            "syntax there (indentation, a missing ':' or an unclosed bracket or quote)") from e
    if not isinstance(data, dict):
        got = "is empty" if data is None else f"holds a YAML {_yaml_kind(data)}"
        raise ScenarioError(f"{source}: the file {got}, but a scenario is a YAML mapping with at least `name` and "
                            "`targets`")
    return _validated(data, node, source, Path(source).parent)


def scenario_from_data(data: dict[str, Any], *, source: str, base_dir: Path) -> Scenario:
    """A scenario given as data (written in Python), validated exactly as a file is: same model, same
    checks, same messages (named after `source`, with no line). Files it names are relative to `base_dir`."""
    return _validated(copy.deepcopy(data), None, source, base_dir)


def _validated(data: dict[str, Any], node: yaml.Node | None, source: str, base_dir: Path) -> Scenario:
    _read_fault_files(data, base_dir, node, source)
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as e:
        raise ScenarioError(_describe(e, node, source)) from e
    problems = _cross_check(scenario) + _missing_etcd_files(scenario, base_dir) + _unfillable(scenario, base_dir)
    if problems:
        raise ScenarioError("\n".join(_located(source, node, loc, message) for loc, message in problems))
    scenario._source = ScenarioSource(source, _line_of(node, ("name",)),
                                      tuple(_line_of(node, ("faults", i)) for i in range(len(scenario.faults))),
                                      _load_lines(scenario, node, given="load" in data))
    return scenario


def _load_lines(scenario: Scenario, node: yaml.Node | None, *, given: bool) -> tuple[int | None, ...]:
    """The line of each load entry: of `load:` for the one entry, of each item of a list; None when the file
    has no `load:` (the default load) or was given as data."""
    if not given or node is None:
        return tuple(None for _ in scenario.load_entries())
    return tuple(_line_of(node, where) for where, _ in _load_places(scenario))


def _duplicate(error: DuplicateKey, source: str) -> str:
    """file:line: field: duplicate key `faults` at line 40 (first at line 12); and the fix."""
    loc = [*_path_to(error.root, error.mapping), str(error.key)]
    first, second = error.first.start_mark.line + 1, error.second.start_mark.line + 1
    return (f"{source}:{second}: {'.'.join(str(p) for p in loc)}: duplicate key `{error.key}` at line {second} "
            f"(first at line {first}); YAML would keep only the second and silently drop the first: merge them "
            "into one, or remove the one you do not mean")


def _path_to(root: yaml.Node | None, wanted: yaml.Node) -> list[str | int]:
    """The loc (keys and indexes) of node `wanted` under `root`; [] when it is the root or not found."""
    stack: list[tuple[yaml.Node, list[str | int]]] = [(root, [])] if root is not None else []
    visited: set[int] = set()
    while stack:
        node, loc = stack.pop()
        if node is wanted:
            return loc
        if id(node) in visited:  # an alias: the same node again
            continue
        visited.add(id(node))
        if isinstance(node, yaml.MappingNode):
            stack += [(value, [*loc, str(key.value)]) for key, value in node.value]
        elif isinstance(node, yaml.SequenceNode):
            stack += [(item, [*loc, i]) for i, item in enumerate(node.value)]
    return []


def _yaml_kind(data: object) -> str:
    return "list" if isinstance(data, list) else "string" if isinstance(data, str) else "scalar"


def _located(source: str, root: yaml.Node | None, loc: Sequence[Any], message: str) -> str:
    line = _line_of(root, loc)
    field = ".".join(str(p) for p in loc) or "(scenario)"
    return f"{source}:{line}: {field}: {message}" if line else f"{source}: {field}: {message}"


def _describe(error: ValidationError, root: yaml.Node | None, source: str) -> str:
    lines = []
    errors = error.errors()
    for err in errors:
        if err["type"] == "too_short" and any(
            len(other["loc"]) > len(err["loc"]) and other["loc"][:len(err["loc"])] == err["loc"]
            for other in errors
        ):
            continue  # a list emptied by its own invalid items: the items' errors say it all
        loc = [p for i, p in enumerate(err["loc"]) if not (isinstance(p, str) and p.startswith("function-"))
               and not (i == 1 and err["loc"][0] == "load" and p in LOAD_SHAPES)]  # `load.one.users` is load.users
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "missing" and loc:
            message = f"required field {loc[-1]!r} is missing; add it"
        if err["type"] == "finite_number":
            message = (f"must be a finite number, not {err['input']!r}; give a plain number (YAML's .inf and .nan "
                       "are not offsets, durations or rates)")
        if err["type"] == "extra_forbidden" and loc:
            message = f"unknown field {loc[-1]!r}{did_you_mean(str(loc[-1]), fields_at(Scenario, loc[:-1]))}"
        lines.append(_located(source, root, loc, message))
    return "\n".join(lines)


def _line_of(root: yaml.Node | None, loc: Sequence[Any]) -> int | None:
    """1-based line of the YAML node at `loc` (or of its deepest existing parent)."""
    node = root
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            pair = next(((k, v) for k, v in node.value if str(k.value) == str(part)), None)
            if pair is None:
                break
            line, node = pair[0].start_mark.line + 1, pair[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


# -- bundled scenarios ---------------------------------------------------------------------------
def bundled_scenarios() -> dict[str, Path]:
    """Bundled scenario name -> file (package data, so they work after `pip install`)."""
    folder = resources.files("chaos") / "scenarios"
    out = {}
    for entry in folder.iterdir():
        if entry.name.endswith(SCENARIO_SUFFIX):
            out[entry.name.removesuffix(SCENARIO_SUFFIX)] = Path(str(entry))
    return dict(sorted(out.items()))


def resolve(name_or_path: str) -> Path:
    """A bundled scenario by name, or a scenario file by path."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if path.is_dir():
            raise ScenarioError(f"scenario {path} is a directory; give a .chaos.yaml file in it, or run "
                                "`gochaos list` for the bundled scenarios")
        if not path.is_file():
            raise ScenarioError(f"scenario file {path} does not exist; check the path, or run "
                                "`gochaos list` for the bundled scenarios")
        return path
    known = bundled_scenarios()
    if name_or_path in known:
        return known[name_or_path]
    raise ScenarioError(f"no bundled scenario {name_or_path!r}{did_you_mean(name_or_path, known)}; "
                        "or give a path to a .chaos.yaml file")

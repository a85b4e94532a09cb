"""The Target contract: what gochaos needs to know to run and judge ANY Go service.

A `TargetSpec` says how to run the service (argv with placeholders the platform fills in), how to
tell it is ready, how config reaches it and how a reload is triggered, how to read its live config
version, and whether it mounts chaosagent. The bundled targets (configd, kvd, allocd) are just
registered specs, built from go_targets/ by `chaos.build`.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from chaos.build import go_targets_dir
from chaos.configs.placeholders import NAMES, PORT_NAME, completed, unknown, uses
from chaos.configs.placeholders import fill as fill_text
from chaos.errors import ScenarioError, TargetError
from chaos.observe.live_probes import HeaderProbe, JsonProbe, LiveProbe
from chaos.suggest import did_you_mean

#: Placeholders the platform substitutes in `command`, `env` values and config text (plus
#: {port.NAME} and {listen.NAME} for each named extra port). `{etcd_endpoints}` is the etcd client
#: URLs joined by commas (as etcd's own --endpoints takes them), `{etcd_endpoints_spaced}` the same
#: URLs joined by spaces (as CoreDNS's `endpoint` takes them); both are "" for a target without etcd.
#: `{scenario_dir}` is the absolute directory of the scenario file (TargetSpec.scenario_dir).
PLACEHOLDERS = NAMES
#: How the model descriptions list them.
PLACEHOLDERS_SHOWN = " ".join(f"{{{p}}}" for p in PLACEHOLDERS) + " {port.NAME} {listen.NAME}"


class RestartPolicy(enum.StrEnum):
    """When a supervised process is started again after it exits (Kubernetes' names)."""

    ALWAYS = "always"
    ON_FAILURE = "on-failure"
    NEVER = "never"


class ReloadTrigger(enum.StrEnum):
    """How a new config is made live."""

    WATCH = "watch"  # the service watches its config file
    SIGHUP = "sighup"  # the service reloads on SIGHUP
    HTTP = "http"  # the service reloads on an HTTP POST


class ConfigDelivery(enum.StrEnum):
    """How the platform gets the config file into the target."""

    FILE = "file"  # a file the suite writes directly (on Kubernetes: a directory the node shares)
    CONFIGMAP = "configmap"  # Kubernetes: a mounted ConfigMap, changed through the API, synced by the kubelet


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Readiness(_Frozen):
    """How the platform knows the service is up."""

    http_path: str | None = Field(
        "/-/readyz", description="GET path that answers 2xx when ready; None: TCP connect only"
    )
    grpc_health: str | None = Field(
        None, description="Ready when the standard grpc.health.v1 Check of this service answers SERVING "
                          "(\"\" = the server as a whole); set, it replaces http_path"
    )
    timeout_s: float = Field(15.0, gt=0, description="Give up (TargetError) after this long")


class HttpReload(_Frozen):
    """The request that makes a service reload (`reload: http`): a reload endpoint that rereads the file, or an
    admin API that loads the config it is sent (Caddy's `POST /load`), maybe on an admin port of its own."""

    path: str = Field("/-/reload", pattern=r"^/", description="POST path")
    port: str | None = Field(None, pattern=PORT_NAME,
                             description="Named extra port that serves it (None: the main one)")
    body: Literal["none", "config"] = Field("none", description="none; or config: the config as written is the "
                                                                "request body (an API that loads what it is sent)")
    headers: dict[str, str] = Field(default_factory=dict, description="Request headers, e.g. {Content-Type: "
                                                                      "text/caddyfile}")


class ConfigSpec(_Frozen):
    """Where the service's config file lives and how a reload is triggered."""

    file_name: str = Field("config.yaml", description="File name inside the target's work dir, passed as {config}")
    initial: str = Field(description="Text of the first config written before start")
    trigger: ReloadTrigger = Field(ReloadTrigger.WATCH, description="How a reload is made to happen")
    http_reload: HttpReload = Field(default_factory=lambda: HttpReload(),
                                    description="The POST that makes it reload when trigger is http")
    delivery: ConfigDelivery = Field(ConfigDelivery.FILE, description="How the file reaches the target: file, "
                                                                      "or configmap (Kubernetes only)")
    format: str | None = Field(None, pattern=r"^(yaml|json|toml|text)$",
                               description="yaml, json or toml (None: from the file name); text: a format the "
                                           "suite does not parse (whole-file variants and trigger-only storms)")
    version_key: str | None = Field(None, description="Dotted path of the config's version, if it has one; "
                                                      "without one a config is known by its content hash")
    mutator: str = Field("auto", pattern=r"^(auto|configd)$",
                         description="Where storm writes come from when no variant is declared: auto (mutations of "
                                     "the config's own tree) or configd (the bundled configd's schema-aware edits)")

    @model_validator(mode="before")
    @classmethod
    def _recorded_reload_path(cls, data: Any) -> Any:
        """Reports recorded before `http_reload` held the POST's path alone, as `http_reload_path`: still read."""
        if isinstance(data, dict) and "http_reload_path" in data:
            data = dict(data)
            path = data.pop("http_reload_path")
            data.setdefault("http_reload", {"path": path})
        return data


class VersionProbe(_Frozen):
    """How to read which config version is live (the rollback oracle needs it)."""

    header: str | None = Field("X-Config-Version", description="Response header carrying the version")
    endpoint: str | None = Field("/-/config", description="GET path returning JSON with the live version")
    json_field: str = Field("version", description="Field of that JSON holding the version")


#: An equality-based label selector, `k=v[,k=v]`.
_LABEL_SELECTOR = r"^[A-Za-z0-9./_-]+=[A-Za-z0-9._-]*(,[A-Za-z0-9./_-]+=[A-Za-z0-9._-]*)*$"


class DeployedConfig(_Frozen):
    """Where a deployed workload's config lives: a key of a ConfigMap, or of a Secret, mounted into its pods."""

    configmap: str | None = Field(None, pattern=r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$",
                                  description="ConfigMap name (or give `secret`)")
    secret: str | None = Field(None, pattern=r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$",
                               description="Secret name, for a config kept in a Secret (or give `configmap`)")
    key: str = Field(pattern=r"^[-._a-zA-Z0-9]{1,253}$", description="Its key holding the config file")

    @model_validator(mode="after")
    def _one_source(self) -> DeployedConfig:
        if (self.configmap is None) == (self.secret is None):
            raise ValueError("give `configmap` or `secret`: the one object whose key holds the config file")
        return self

    @property
    def kind(self) -> str:
        """ConfigMap or Secret, as the API names them."""
        return "Secret" if self.secret is not None else "ConfigMap"

    @property
    def name(self) -> str:
        name = self.secret or self.configmap
        assert name is not None  # the validator holds one
        return name


class Deployed(_Frozen):
    """A service already running on the cluster: nothing is deployed, everything is found and checked first."""

    namespace: str = Field(pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", description="Its namespace (must "
                                                                                      "carry gochaos.io/chaos=allowed)")
    workload: str | None = Field(None, pattern=r"^(deployment|statefulset)/[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$",
                                 description="deployment/NAME or statefulset/NAME (or give `selector`)")
    selector: str | None = Field(None, pattern=_LABEL_SELECTOR, description="Its pods' labels, `k=v[,k=v]`, when "
                                                                            "no workload is named (no env rollouts)")
    container: str | None = Field(None, description="Container in its pods (default: the only one)")
    port: int = Field(ge=1, le=65535, description="Container port probes and load reach (through port-forward)")
    config: DeployedConfig | None = Field(None, description="Its config in a ConfigMap or Secret (reload storms "
                                                            "write there)")
    service: str | None = Field(None, pattern=r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$",
                                description="Its Service: where load from worker pods goes (`load.worker_pods`)")
    agent_token_env: str | None = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
                                        description="This run's environment variable holding the token its linked "
                                                    "chaosagent expects (gc_pressure method agent)")

    @model_validator(mode="after")
    def _one_way_to_its_pods(self) -> Deployed:
        if (self.workload is None) == (self.selector is None):
            raise ValueError("give `workload` (deployment/NAME or statefulset/NAME) or `selector` (its pods' labels)")
        return self

    @property
    def kind(self) -> str:
        """deployment or statefulset ("" for pods named by a selector)."""
        return (self.workload or "").partition("/")[0]

    @property
    def workload_name(self) -> str:
        return (self.workload or "").partition("/")[2]

    @property
    def shown(self) -> str:
        """How messages name it: `deployment/web`, or `pods app=web`."""
        return self.workload or f"pods {self.selector}"


class WorkloadChange(enum.StrEnum):
    """What a fault changes of a deployed workload besides its ConfigMap, or adds beside it in its namespace: the dry
    run names it and the access review asks for its verbs before anything is touched."""

    PODS = "pods"
    ENV = "env"
    RESIZE = "resize"
    FRONT_PROXY = "front-proxy"

    @property
    def shown(self) -> str:
        """How the dry run says it."""
        return _CHANGE_SHOWN[self]

    @property
    def rbac(self) -> tuple[tuple[str, str, str, str], ...]:
        """The verbs it needs, each as (verb, resource, API group, subresource); resource `{workload}` is the
        workload's own kind (deployments, statefulsets, ...), and a change of the workload needs one named."""
        return _CHANGE_RBAC[self]


_CHANGE_SHOWN = {WorkloadChange.PODS: "pods (deleted; the workload replaces them)",
                 WorkloadChange.ENV: "container env (a rollout, rolled back)",
                 WorkloadChange.RESIZE: "running pod's CPU/memory limits (resized in place, resized back)",
                 WorkloadChange.FRONT_PROXY: "load, through a chaosproxy pod of the run's in front of its Service "
                                             "(created in its namespace, deleted at the end)"}
_CHANGE_RBAC = {WorkloadChange.PODS: (("delete", "pods", "", ""),),
                WorkloadChange.ENV: (("patch", "{workload}", "apps", ""),),
                WorkloadChange.RESIZE: (("patch", "pods", "", "resize"),),
                WorkloadChange.FRONT_PROXY: (("create", "pods", "", ""), ("delete", "pods", "", ""),
                                             ("create", "pods", "", "portforward"))}


class TargetSpec(_Frozen):
    """One Go service under test, per the Target contract in the design."""

    name: str = Field(pattern=r"^[a-z][a-z0-9-]{0,40}$", description="Unique name in the run")
    binary: str | None = Field(None, description="Bundled binary built by chaos.build, substituted as {binary}")
    go_install: str | None = Field(None, description="Published Go main package MODULE[/PKG]@VERSION, built from "
                                                     "the Go module proxy by chaos.published, substituted as {binary}")
    build: str | None = Field(None, description="Directory (absolute) of the team's own Go main package, built "
                                                "from its source by chaos.source_build, substituted as {binary}")
    command: tuple[str, ...] = Field(
        description="argv; may use the placeholders " + PLACEHOLDERS_SHOWN + " ({etcd_endpoints}: "
                    "comma-separated URLs; {etcd_endpoints_spaced}: space-separated); {{ and }} are literal braces"
    )
    env: Mapping[str, str] = Field(
        default_factory=dict, description="Extra environment; GOTRACEBACK/GODEBUG defaults apply unless set here"
    )
    restart: RestartPolicy = Field(RestartPolicy.ALWAYS, description="Restart policy after an exit, like a pod's")
    readiness: Readiness = Field(default_factory=Readiness)
    config: ConfigSpec | None = None
    version: VersionProbe | None = None
    live: tuple[LiveProbe, ...] = Field((), description="More ways to read which config is live")
    ports: tuple[str, ...] = Field((), description="Named extra ports the service listens on (an admin port): "
                                                   "{port.NAME} and {listen.NAME} in its command and config")
    chaosagent: bool = Field(False, description="The service mounts chaosagent under /-/chaos/")
    race: bool = Field(False, description="Build the binary (bundled, go_install or build) with the Go race "
                                         "detector: the first data race stops the service with the race report")
    scenario_dir: str | None = Field(None, description="Absolute directory of the scenario file it comes from: "
                                                       "{scenario_dir}; None for a spec written in Python")
    needs_etcd: bool = Field(False, description="Start an etcd cluster first and pass {etcd_endpoints} "
                                                "(comma-separated URLs) or {etcd_endpoints_spaced} (space-separated)")
    etcd_tls_flags: tuple[str, str, str] | None = Field(
        None, description="Its flags for etcd's CA, client certificate and key files (as etcdctl's --cacert, "
                          "--cert, --key), added to its command when the etcd is reached over TLS")
    load_user: str | None = Field(None, description="Built-in Locust user that fits this service")
    deployed: Deployed | None = Field(None, description="Already running on the cluster: found, not started")
    workload_changes: tuple[WorkloadChange, ...] = Field((), description="What its faults change of a deployed "
                                                                        "workload "
                                                             "besides its ConfigMap (pods, env, resize): the rights "
                                                             "checked")

    def live_probes(self) -> tuple[LiveProbe, ...]:
        """Every way to read which config is live: the version probe's, then `live`."""
        derived: list[LiveProbe] = []
        if self.version is not None and self.version.endpoint:
            derived.append(JsonProbe(path=self.version.endpoint, field=self.version.json_field))
        if self.version is not None and self.version.header:
            derived.append(HeaderProbe(header=self.version.header))
        return (*derived, *self.live)


def with_workload_change(spec: TargetSpec, change: WorkloadChange) -> TargetSpec:
    """`spec` whose faults also change `change` (pods, env, resize, a front proxy) of its deployed workload; others
    unchanged."""
    if spec.deployed is None or change in spec.workload_changes:
        return spec
    return spec.model_copy(update={"workload_changes": (*spec.workload_changes, change)})


#: Environment every launched Go service gets unless its spec overrides it: full crash dumps and
#: one gctrace line per GC, which the panic and GC observers read.
GO_OBSERVABILITY_ENV: Mapping[str, str] = {"GOTRACEBACK": "all", "GODEBUG": "gctrace=1"}


class FlagKind(enum.StrEnum):
    """How a Go `flag` parses its value (`flag.String`, `flag.Int`, `flag.Bool`, `flag.Duration`)."""

    STRING = "string"
    INT = "int"
    BOOL = "bool"
    DURATION = "duration"


class BundledFlag(_Frozen):
    """One flag a bundled target's `main.go` declares, as a scenario's `flags` may set it."""

    kind: FlagKind = FlagKind.STRING
    choices: tuple[str, ...] = Field((), description="The values the Go code accepts (an enum); empty: any")

    def json_schema(self) -> dict[str, Any]:
        """What `flag_problems` accepts for this flag, as JSON Schema (the published scenario schema)."""
        if self.choices:
            return {"enum": list(self.choices)}
        if self.kind is FlagKind.INT:
            return {"anyOf": [{"type": "integer"}, {"type": "string", "pattern": r"^[-+]?\d+$"}]}
        if self.kind is FlagKind.DURATION:
            return {"type": "string", "pattern": _GO_DURATION.pattern}
        if self.kind is FlagKind.BOOL:
            return {"anyOf": [{"type": "boolean"}, {"enum": sorted(_GO_BOOL)}]}
        return {"type": ["string", "number", "boolean"]}


def _choice(*values: str) -> BundledFlag:
    return BundledFlag(choices=values)


_DURATION, _INT = BundledFlag(kind=FlagKind.DURATION), BundledFlag(kind=FlagKind.INT)

#: Flags of each bundled target's go_targets/cmd/<target>/main.go a scenario may set (by their
#: snake_case name); the suite itself sets `SUITE_FLAGS`. A unit test holds this to the Go code.
BUNDLED_FLAGS: Mapping[str, Mapping[str, BundledFlag]] = {
    "configd": {"reload_strategy": _choice("atomic", "unsafe"), "cache_lock": _choice("none", "rwmutex", "sharded"),
                "breaker_cooldown": _DURATION, "commit_timeout": _DURATION, "watch_debounce": _DURATION,
                "shutdown_timeout": _DURATION},
    "kvd": {"ctx_mode": _choice("isolated", "leaky"), "dial_timeout": _DURATION, "request_timeout": _DURATION,
            "retries": _INT, "cache_prefix": BundledFlag(), "shutdown_timeout": _DURATION},
    "allocd": {"leak": _choice("none", "goroutines"), "shed_over_pct": _INT, "merge_timeout": _DURATION,
               "shutdown_timeout": _DURATION},
}
#: Flags the suite passes to bundled targets itself (where they listen, their config, etcd and its TLS files).
SUITE_FLAGS = frozenset({"listen", "config", "watch_config", "endpoints", "etcd_cacert", "etcd_cert", "etcd_key"})

_GO_DURATION = re.compile(r"^[-+]?(0|((\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h))+)$")
_GO_BOOL = frozenset({"1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False"})


def flag_problems(kind: str, flags: Mapping[str, object]) -> list[tuple[str, str]]:
    """(flag, what is wrong) for each of `flags` bundled target `kind` would refuse or the suite sets."""
    declared = BUNDLED_FLAGS.get(kind, {})
    problems = []
    for key, value in flags.items():
        name = key.replace("-", "_")
        flag = declared.get(name)
        if name in SUITE_FLAGS:
            problems.append((key, f"--{name.replace('_', '-')} is set by the suite; remove it"))
        elif flag is None:
            problems.append((key, f"{kind} has no flag {key!r}{did_you_mean(name, declared)}"))
        elif (why := _bad_value(flag, value)) is not None:
            problems.append((key, f"{kind} --{name.replace('_', '-')}: {value!r} {why}"))
    return problems


def _bad_value(flag: BundledFlag, value: object) -> str | None:
    text = str(value).lower() if isinstance(value, bool) else str(value)
    if flag.choices and text not in flag.choices:
        return f"is not a value it takes{did_you_mean(text, flag.choices)}"
    if flag.kind is FlagKind.INT and (isinstance(value, (bool, float)) or not re.fullmatch(r"[-+]?\d+", text)):
        return "is not a whole number"
    if flag.kind is FlagKind.DURATION and not _GO_DURATION.match(text):
        return "is not a Go duration (e.g. 500ms, 2s, 1m30s)"
    if flag.kind is FlagKind.BOOL and text not in _GO_BOOL:
        return "is not true or false"
    return None


def _flags(flags: Mapping[str, object]) -> tuple[str, ...]:
    return tuple(f"--{key.replace('_', '-')}={str(value).lower() if isinstance(value, bool) else value}"
                 for key, value in flags.items())


def _sample_config(file_name: str) -> str:
    path = go_targets_dir() / "configs" / file_name
    try:
        return path.read_text(encoding="utf-8")
    except OSError as e:
        raise TargetError(f"bundled config {path} is unreadable: {e}") from e


def _bundled(binary: str, name: str, flags: Mapping[str, object], *args: str, **fields: Any) -> TargetSpec:
    """A bundled target: listens on {listen}, mounts chaosagent, has a built-in Locust user of its name."""
    return TargetSpec(name=name, binary=binary, command=("{binary}", "--listen={listen}", *args, *_flags(flags)),
                      chaosagent=True, load_user=binary, **fields)


def configd(name: str = "configd", **flags: object) -> TargetSpec:
    """configd: config hot-reload gateway (incidents 1 and 2). Flags: reload_strategy, cache_lock."""
    return _bundled("configd", name, flags, "--config={config}", "--watch-config",
                    config=ConfigSpec(initial=_sample_config("configd.yaml"), version_key="version", mutator="configd"),
                    version=VersionProbe())


def kvd(name: str = "kvd", **flags: object) -> TargetSpec:
    """kvd: etcd-backed service (incident 3). Flags: ctx_mode."""
    return _bundled("kvd", name, flags, "--endpoints={etcd_endpoints}", needs_etcd=True,
                    etcd_tls_flags=("--etcd-cacert", "--etcd-cert", "--etcd-key"))


def allocd(name: str = "allocd", **flags: object) -> TargetSpec:
    """allocd: allocation-heavy service (incident 4). Flags: leak, shed_over_pct."""
    return _bundled("allocd", name, flags)


BUNDLED: Mapping[str, Callable[..., TargetSpec]] = {
    "configd": configd,
    "kvd": kvd,
    "allocd": allocd,
}


def bundled(kind: str, name: str | None = None, **flags: object) -> TargetSpec:
    """The spec of a bundled target by name, with its command-line flags."""
    try:
        factory = BUNDLED[kind]
    except KeyError:
        raise TargetError(f"unknown bundled target {kind!r}{did_you_mean(kind, BUNDLED)}") from None
    problems = flag_problems(kind, flags)
    if problems:
        raise TargetError("; ".join(f"flags.{key}: {message}" for key, message in problems))
    return factory(name or kind, **flags)


_PLACEHOLDER = re.compile(r"(?<!\{)\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_-]+)?)\}(?!\})")


def named_port_values(name: str, host: str, port: int | str) -> dict[str, str]:
    """The placeholders of named extra port `name`: {port.NAME} and {listen.NAME}."""
    return {f"port.{name}": str(port), f"listen.{name}": f"{host}:{port}"}


def placeholder_names(ports: Iterable[str] = (), *, scenario_dir: bool = True) -> list[str]:
    """Every placeholder a target with named extra `ports` may use in its command, env and config
    (`{scenario_dir}` only for a target from a scenario file, `scenario_dir`)."""
    names = [name for name in PLACEHOLDERS if scenario_dir or name != "scenario_dir"]
    for port in ports:
        names += list(named_port_values(port, "", ""))
    return names


def placeholder_problem(template: str, names: Iterable[str]) -> str | None:
    """Why `template` (an argv word or env value) cannot be filled from placeholders `names`, else None.

    The same rule `fill_placeholders` fills by, so the plan refuses what the run would: every `{word}` is a
    placeholder, and `{{`/`}}` stand for literal braces."""
    known = list(names)
    for match in _PLACEHOLDER.finditer(template):
        if match.group(1) not in known:
            return f"{unknown(match.group(1), known, repr(template))}; write {{{{ and }}}} for literal braces"
    return None


def fill_placeholders(template: str, values: Mapping[str, str], target: str) -> str:
    """`template` (an argv word or env value) with its {placeholders} filled; TargetError naming the
    valid ones if it has others. `{{`/`}}` stand for literal braces, as in str.format, in the template only: a
    value is put in as it is, so a path with braces in it (`{scenario_dir}`, `{workdir}`) stays that path."""
    values = {name: str(value) for name, value in completed(values).items()}
    problem = placeholder_problem(template, values)
    if problem is not None:
        raise TargetError(f"target {target}: {problem}")
    out, at = [], 0
    for match in _PLACEHOLDER.finditer(template):
        out += [_literal(template[at:match.start()]), values[match.group(1)]]
        at = match.end()
    return "".join([*out, _literal(template[at:])])


def _literal(text: str) -> str:
    """A stretch of a template between placeholders: `{{` and `}}` are its literal braces."""
    return text.replace("{{", "{").replace("}}", "}")


def fill_config(config: ConfigSpec, values: Mapping[str, str], where: str) -> str:
    """`config`'s initial text with the platform's placeholder values in it; ConfigError naming file:line."""
    if config.format == "text" and not uses(config.initial, completed(values)):
        return config.initial
    return fill_text(config.initial, values, where)


def fill_config_text(spec: TargetSpec, values: Mapping[str, str]) -> str:
    """The target's initial config with the platform's placeholder values in its text (and `{scenario_dir}`,
    which the spec itself knows, wherever the values leave it out)."""
    assert spec.config is not None
    return fill_config(spec.config, with_scenario_dir(spec, values), f"target {spec.name}: config "
                                                                        f"{spec.config.file_name}")


def with_scenario_dir(spec: TargetSpec, values: Mapping[str, str]) -> dict[str, str]:
    """`values` with `{scenario_dir}` added from `spec` when it comes from a scenario file and they lack it."""
    out = dict(values)
    if spec.scenario_dir is not None:
        out.setdefault("scenario_dir", spec.scenario_dir)
    return out


def sample_placeholders(ports: Iterable[str] = (), *, scenario_dir: bool = True) -> dict[str, str]:
    """A value for every placeholder, to check a command or config with before anything runs."""
    return {name: f"<{name}>" for name in placeholder_names(ports, scenario_dir=scenario_dir)}


def check_placeholders(spec: TargetSpec) -> None:
    """ScenarioError when the run could not fill `spec`'s command, env or config (checked with sample values,
    before anything starts); a deployed service has none of these to fill."""
    if spec.deployed is not None:
        return
    from_file = spec.scenario_dir is not None  # a spec written in Python has no scenario file to name
    names = placeholder_names(spec.ports, scenario_dir=from_file)
    fields = [(f"command[{i}]", arg) for i, arg in enumerate(spec.command)]
    fields += [(f"env.{key}", value) for key, value in spec.env.items()]
    for field, template in fields:
        if (problem := placeholder_problem(template, names)) is not None:
            raise ScenarioError(f"target {spec.name}: {field}: {problem}")
    if spec.config is not None:  # ConfigError (a ScenarioError) names file:line
        fill_config_text(spec, sample_placeholders(spec.ports, scenario_dir=from_file))


#: The variable that hands a service's chaosagent its token (the agent is off without one).
CHAOSAGENT_TOKEN_ENV = "CHAOSAGENT_TOKEN"


def chaosagent_env(token: str) -> dict[str, str]:
    """Environment that switches chaosagent on in a target (bundled, or a deployed service's own)."""
    return {CHAOSAGENT_TOKEN_ENV: token}

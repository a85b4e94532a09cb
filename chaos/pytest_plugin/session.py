"""What the pytest plugin decides once per session: its settings, and the lazy start of chaos runs.

Settings come from an ini key (`gochaos_platform = kubernetes` in pytest.ini / pyproject.toml),
overridden by the environment (`GOCHAOS_PLATFORM`), overridden by the command line
(`--gochaos-platform`): the same precedence as the `gochaos` command, with the ini file where a
scenario file would be.

Nothing here runs when pytest loads the plugin: a session that uses no gochaos fixture and no
`*.chaos.yaml` item is left as it was (no signal handler changed, no other run's leftovers touched).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from chaos.platform.kubernetes.cluster.cluster import KubernetesOptions


@dataclass(frozen=True)
class Setting:
    """One plugin setting: its option, ini key, environment variable and help."""

    name: str
    env: str | None
    help: str
    metavar: str | None = None
    integer: bool = False
    default: str | None = None

    @property
    def option(self) -> str:
        return "--gochaos-" + self.name.replace("_", "-")

    @property
    def ini(self) -> str:
        return "gochaos_" + self.name


SETTINGS = (
    Setting("platform", "GOCHAOS_PLATFORM", "where targets run: local (processes on loopback, the default) or "
            "kubernetes", metavar="NAME", default="local"),
    Setting("report_dir", "GOCHAOS_REPORT_DIR", "write run artefacts (target logs, etcd data) and scenario reports "
            "under DIR and keep them", metavar="DIR"),
    Setting("seed", "GOCHAOS_SEED", "seed of every scenario run (fault jitter, generated names, load): a failing "
            "run prints its seed, pass it here to replay it", metavar="N", integer=True),
    Setting("etcd_members", None, "members of the gochaos_etcd_cluster fixture (default 3)", metavar="N",
            integer=True, default="3"),
    Setting("kubeconfig", "GOCHAOS_KUBECONFIG", "kubernetes: use this kubeconfig instead of creating a kind cluster",
            metavar="PATH"),
    Setting("context", "GOCHAOS_CONTEXT", "kubernetes: context of the kubeconfig", metavar="NAME"),
    Setting("kind_cluster", "GOCHAOS_KIND_CLUSTER", "kubernetes: reuse this kind cluster instead of creating one",
            metavar="NAME"),
)
_BY_NAME = {s.name: s for s in SETTINGS}


def add_options(parser: pytest.Parser) -> None:
    """Every setting as a `--gochaos-*` option (group `gochaos`) and a `gochaos_*` ini key."""
    group = parser.getgroup("gochaos", "gochaos: chaos testing of Go services")
    for setting in SETTINGS:
        where = f" (ini {setting.ini}" + (f", env {setting.env})" if setting.env else ")")
        group.addoption(setting.option, default=None, metavar=setting.metavar, help=setting.help + where)
        parser.addini(setting.ini, help=setting.help, default=None)
    group.addoption("--gochaos-allow-context", action="append", default=[], metavar="NAME",
                    help="kubernetes: allow faults in this context although it is not a local kind cluster "
                         "(repeatable; ini gochaos_allow_contexts)")
    parser.addini("gochaos_allow_contexts", type="linelist", default=[],
                  help="kubernetes: contexts allowed although they are not local kind clusters")


def setting(config: pytest.Config, name: str) -> str | None:
    """The value of a setting: command line, else environment, else ini file, else its default."""
    spec = _BY_NAME[name]
    value = config.getoption(spec.option)
    if value is None and spec.env:
        value = os.environ.get(spec.env) or None
    if value is None:
        value = config.getini(spec.ini) or None
    return str(value).strip() if value is not None else spec.default


def int_setting(config: pytest.Config, name: str) -> int | None:
    value = setting(config, name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        spec = _BY_NAME[name]
        raise pytest.UsageError(f"gochaos: {name.replace('_', ' ')} {value!r} (from {spec.option}"
                                f"{', ' + spec.env if spec.env else ''} or ini {spec.ini}) is not a whole "
                                "number; give one") from None


def check_settings(config: pytest.Config) -> None:
    """Refuse a bad setting in one line, whether it came from ini, env or option (on first use: a session
    that uses nothing of gochaos is not broken by a stray GOCHAOS_* variable)."""
    # deferred: the plugin imports the suite only once a gochaos item or fixture is used
    from chaos.platform.factory import PLATFORMS

    platform = setting(config, "platform")
    if platform not in PLATFORMS:
        raise pytest.UsageError(f"gochaos: unknown platform {platform!r} (from --gochaos-platform, GOCHAOS_PLATFORM "
                                f"or ini gochaos_platform); choose from {', '.join(PLATFORMS)}")
    for spec in SETTINGS:
        if spec.integer:
            int_setting(config, spec.name)


def platform_name(config: pytest.Config) -> str:
    return setting(config, "platform") or "local"


def seed(config: pytest.Config) -> int | None:
    """The seed every scenario run of the session uses, or None: each run draws its own (and prints it)."""
    return int_setting(config, "seed")


def report_dir(config: pytest.Config) -> Path | None:
    value = setting(config, "report_dir")
    return Path(value) if value else None


def kube_options(config: pytest.Config) -> KubernetesOptions:
    """KubernetesOptions from the settings (a new kind cluster when none names one)."""
    # deferred: the plugin imports the suite only once a gochaos item or fixture is used
    from chaos.platform.kubernetes.cluster.cluster import KubernetesOptions

    kubeconfig = setting(config, "kubeconfig")
    allowed = [*config.getini("gochaos_allow_contexts"), *config.getoption("--gochaos-allow-context")]
    return KubernetesOptions(kubeconfig=Path(kubeconfig) if kubeconfig else None,
                             context=setting(config, "context"), allow_contexts=tuple(allowed),
                             kind_cluster=setting(config, "kind_cluster"))


_ACTIVE = pytest.StashKey[bool]()


def activate(config: pytest.Config) -> None:
    """Get the session ready for chaos runs, once, on the first gochaos fixture or scenario item.

    A session that uses nothing of gochaos is left exactly as it was. The first use makes SIGINT
    unwind chaos runs (even under `make &`, which starts jobs with SIGINT ignored) and undoes what
    dead runs left behind (rules, cgroups, stopped processes), saying what. Each xdist worker does
    this for itself: state files are locked while reclaimed and live runs are never touched, so
    workers neither race nor undo each other.
    """
    # deferred: the plugin imports the suite only once a gochaos item or fixture is used
    from chaos.cleanup import sigint_interrupts
    from chaos.os_support import require_linux
    from chaos.platform.factory import reclaim_dead_runs

    if config.stash.get(_ACTIVE, False):
        return
    require_linux()  # every gochaos test of the session says so, not only the first
    check_settings(config)
    config.stash[_ACTIVE] = True
    sigint_interrupts()
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    log = logging.getLogger("gochaos")
    try:
        for item in reclaim_dead_runs():
            line = f"gochaos: cleaned up after a dead run: {item.describe()}"
            if reporter is not None and not hasattr(config, "workerinput"):
                reporter.write_line(line)
            else:
                log.warning(line)
    except Exception as e:  # clean-up must never stop a test session
        log.warning("gochaos: clean-up after dead runs failed: %r", e)


def artefact_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                 kind: str) -> tuple[Path, bool]:
    """Where a test's run artefacts go, and whether to keep them (a report dir was given)."""
    kept = report_dir(request.config)
    safe = request.node.name.replace("/", "_").replace("[", "-").replace("]", "")
    if kept is not None:
        path = kept / safe / kind
        path.mkdir(parents=True, exist_ok=True)
        return path, True
    return tmp_path_factory.mktemp(f"{kind}-{safe[:40]}"), False


def replay_hint(nodeid: str, run_seed: int) -> str:
    """The command that runs this test again with the same seed."""
    return f"replay: pytest '{nodeid}' --gochaos-seed {run_seed}"


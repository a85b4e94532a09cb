"""The local platform at plan time: processes on this host, configs as files in the run directory."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chaos.configfiles import FILE_MODES, WriteMode
from chaos.network.links import LOCAL_PROXY
from chaos.platform.kinds import PlatformKind
from chaos.targets import TargetSpec, named_port_values

if TYPE_CHECKING:
    from chaos.build import Binaries
    from chaos.network.links import LinkRequest
    from chaos.platform.base import Platform
    from chaos.timeline import Timeline


class LocalKind(PlatformKind):
    name = "local"
    on_cluster = False

    def open(self, *, timeline: Timeline, binaries: Binaries, run_dir: Path | None, stack: ExitStack, keep: bool,
             kube: Any = None, cluster: Any | Callable[[], Any] | None = None) -> Platform:
        from chaos.platform.local.platform import LocalPlatform  # the run-time platform: processes, cgroups

        local = LocalPlatform(timeline=timeline, binaries=binaries, run_dir=run_dir, keep=keep)
        stack.callback(local.close)
        return local

    def link_refusal(self, request: LinkRequest, spec: TargetSpec | None) -> str | None:
        return None  # one chaosproxy of the run's own routes every kind of link

    def link_placement(self) -> str:
        return LOCAL_PROXY

    def refusal(self, spec: TargetSpec) -> str | None:
        if spec.deployed is not None:
            return (f"target {spec.name} is a service deployed on a cluster: run it with --platform kubernetes "
                    "(and --kubeconfig/--context for a cluster that is not kind)")
        return None

    def write_modes(self, spec: TargetSpec) -> frozenset[WriteMode]:
        return FILE_MODES

    def shown_placeholders(self, spec: TargetSpec) -> dict[str, str]:
        file_name = spec.config.file_name if spec.config else "config"
        values = {"binary": shown_binary(spec), "listen": "127.0.0.1:<free port>", "host": "127.0.0.1",
                  "port": "<free port>", "config": f"<run dir>/{spec.name}/{file_name}",
                  "workdir": f"<run dir>/{spec.name}"}
        for name in spec.ports:
            values.update(named_port_values(name, "127.0.0.1", f"<free port {name}>"))
        return values

    def shown_config_source(self, spec: TargetSpec) -> str:
        return ""

    def etcd_placement(self) -> str:
        return "on loopback"


def shown_binary(spec: TargetSpec) -> str:
    """What {binary} stands for locally: a bundled binary, a published one or a build of the team's source (built
    when the run starts), `(race)` when built with the race detector."""
    race = " (race)" if spec.race else ""
    if spec.build is not None:
        return f"<build of {_shown_dir(spec.build, spec.scenario_dir)}{race}>"
    if spec.go_install is not None:
        return f"<{spec.go_install} binary{race}>"
    return f"<{spec.binary} binary{race}>" if spec.binary else ""


def _shown_dir(directory: str, scenario_dir: str | None) -> str:
    """A directory as the scenario names it: relative to the scenario's own when it is below it."""
    path = Path(directory)
    if scenario_dir is not None and path.is_relative_to(scenario_dir):
        return path.relative_to(scenario_dir).as_posix() or "."
    return directory


LOCAL = LocalKind()
#: This platform, for chaos.platform.factory's table.
KIND = LOCAL

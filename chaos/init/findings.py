"""Everything `gochaos init` found about a service, as the scenario writer takes it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from chaos.init.config_format import Format
from chaos.init.launch import Binary
from chaos.init.listeners import Listener
from chaos.init.live_choice import LiveChoice
from chaos.init.protocols import PortReport
from chaos.init.reload_probe import ReloadFindings
from chaos.targets import HttpReload


@dataclass
class PortFinding:
    """One port of the scenario: its placeholder name ("" for the main port), what names it, what it speaks."""

    name: str
    where: list[str]
    report: PortReport | None

    @property
    def placeholder(self) -> str:
        return "{listen}" if not self.name else f"{{listen.{self.name}}}"


@dataclass
class Findings:
    """What init saw, in the order the scenario tells it."""

    name: str
    binary: Binary
    #: The command as the scenario writes it (placeholders, final port names).
    command: list[str]
    #: The command line init was given, for the header.
    invocation: str
    ports: list[PortFinding]
    #: Ports it listened on that neither argv nor config names (fixed: two runs at once would clash).
    unplaced: list[Listener] = field(default_factory=list)
    #: Bind addresses replaced by {host}.
    hosts: list[str] = field(default_factory=list)
    config_source: Path | None = None
    #: The config as the scenario's copy holds it (placeholders in), and that copy's file name.
    config_text: str | None = None
    config_name: str | None = None
    config_format: Format | None = None
    reload: ReloadFindings | None = None
    #: reload http: the POST that made it reload, its port named as the scenario names it (None: main).
    reload_request: HttpReload | None = None
    live: LiveChoice | None = None
    #: Config-ish metric names seen on each HTTP port (port name -> names).
    metric_names: dict[str, list[str]] = field(default_factory=dict)
    #: go_goroutines is exposed (the `leaks` oracle could read it).
    goroutines: bool = False
    #: Mutation sites of the config (None: not parsed).
    sites: int | None = None

    @property
    def main(self) -> PortFinding:
        return next(port for port in self.ports if not port.name)

    def named_ports(self) -> list[str]:
        return [port.name for port in self.ports if port.name]

"""Which files pytest collects as gochaos scenarios, and how a look-alike is told from a scenario.

Scope: `gochaos_collect` (ini true|false, `--gochaos-collect yes|no`; default on) switches collection of scenario
files on or off; `gochaos_scenarios` (ini lines, `--gochaos-scenarios GLOB`, repeatable; default
`*.chaos.yaml`) says which files. Globs match as pytest's `python_files` do: one without `/` matches
the file name, one with `/` the end of the path. A YAML file named on the command line is collected
whatever its name, as pytest does with a `.py` file.

A matching file is a gochaos scenario when its top level holds a key only a scenario or suite has
(`targets`, `faults`, `scenarios`, ...: the models' fields but the generic `name` and `description`).
Such a file is the user's: when it is invalid, collection fails loudly. Any other file is skipped
with the reason (a Kubernetes object: `apiVersion` + `kind`, such as a Chaos Mesh manifest; an empty
file; a list; other tools' YAML). YAML that does not parse (a Helm template) is judged by its
unindented `key:` lines.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
import yaml

DEFAULT_PATTERNS = ("*.chaos.yaml",)
_YES = {"1", "true", "yes", "on"}
_NO = {"0", "false", "no", "off"}
_TOP_KEY = re.compile(r"^[\"']?([A-Za-z_][\w.-]*)[\"']?[ \t]*:(?:[ \t]|$)", re.MULTILINE)


def add_options(parser: pytest.Parser) -> None:
    """`--gochaos-collect`, `--gochaos-scenarios` (group `gochaos`) and their ini keys."""
    group = parser.getgroup("gochaos")
    group.addoption("--gochaos-collect", default=None, metavar="yes|no",
                    help="collect scenario files as test items (ini gochaos_collect; default yes)")
    parser.addini("gochaos_collect", type="bool", default=True,
                  help="collect scenario files as test items: true (default) or false")
    group.addoption("--gochaos-scenarios", action="append", default=None, metavar="GLOB",
                    help="which files are scenario files, matched as python_files is (repeatable; replaces ini "
                         f"gochaos_scenarios; default {' '.join(DEFAULT_PATTERNS)})")
    parser.addini("gochaos_scenarios", type="linelist", default=list(DEFAULT_PATTERNS),
                  help="globs of scenario files, matched as python_files is (default *.chaos.yaml)")


@dataclass(frozen=True)
class Scope:
    """Whether scenario files are collected, and which."""

    enabled: bool
    patterns: tuple[str, ...]

    def wants(self, path: Path, *, named: bool) -> bool:
        """Whether to collect `path`; `named`: given on the command line (any YAML file then)."""
        if not self.enabled:
            return False
        if named:
            return path.suffix in (".yaml", ".yml")
        return any(_matches(pattern, path) for pattern in self.patterns)


_SCOPE = pytest.StashKey[Scope]()


def configure(config: pytest.Config) -> None:
    """Read the scope once; a bad `gochaos_collect` is refused in one usage line before collection."""
    option = config.getoption("--gochaos-collect")
    if option is None:
        try:
            enabled = bool(config.getini("gochaos_collect"))
        except pytest.UsageError as e:  # pytest's own message does not name the key
            raise pytest.UsageError(f"gochaos: ini gochaos_collect: {e}; give true or false") from e
    elif (value := option.strip().lower()) in _YES | _NO:
        enabled = value in _YES
    else:
        raise pytest.UsageError(f"gochaos: --gochaos-collect {option!r} is neither yes nor no; give one of them")
    patterns = config.getoption("--gochaos-scenarios") or config.getini("gochaos_scenarios")
    config.stash[_SCOPE] = Scope(enabled=enabled, patterns=tuple(patterns))


def scope(config: pytest.Config) -> Scope:
    return config.stash.get(_SCOPE, Scope(enabled=True, patterns=DEFAULT_PATTERNS))


def _matches(pattern: str, path: Path) -> bool:
    """pytest's python_files matching: a pattern without `/` on the name, else on the end of the path."""
    if "/" not in pattern:
        return fnmatch.fnmatch(path.name, pattern)
    return fnmatch.fnmatch(str(path), pattern if pattern.startswith("/") else "*/" + pattern)


@cache
def scenario_keys() -> frozenset[str]:
    """Top-level keys only a gochaos scenario or suite file has (read off the models)."""
    # deferred: the plugin imports the suite only once a gochaos item or fixture is used
    from chaos.scenario import Scenario, Suite

    return (frozenset(Scenario.model_fields) | frozenset(Suite.model_fields)) - {"name", "description"}


@dataclass(frozen=True)
class Sniffed:
    """What a file's top level shows: its keys (all documents), and a Kubernetes object's kind if any."""

    keys: tuple[str, ...]
    kubernetes: str | None
    shape: str | None = None  # why there are no keys: "empty", "a list", ...

    @property
    def gochaos_keys(self) -> list[str]:
        return [key for key in self.keys if key in scenario_keys()]

    def not_a_scenario(self) -> str | None:
        """Why the file is no gochaos scenario, or None when it is one (then it must load, or fail)."""
        if self.gochaos_keys:
            return None
        if self.kubernetes is not None:
            return f"a Kubernetes manifest ({self.kubernetes})"
        if self.shape is not None:
            return self.shape
        shown = ", ".join(self.keys[:6]) + (", ..." if len(self.keys) > 6 else "")
        return f"none of its top-level keys ({shown}) is one of a scenario ({', '.join(sorted(scenario_keys()))})"


def sniff(text: str) -> Sniffed:
    """The top level of YAML text without constructing it (unknown tags, duplicate keys are no matter)."""
    try:
        documents = [node for node in yaml.compose_all(text, Loader=yaml.SafeLoader) if node is not None]
    except yaml.YAMLError:
        return _sniff_lines(text)
    keys: list[str] = []
    kubernetes = None
    for node in documents:
        if not isinstance(node, yaml.MappingNode):
            continue
        top = {k.value: v for k, v in node.value if isinstance(k, yaml.ScalarNode)}
        keys += [key for key in top if key not in keys]
        if kubernetes is None and "apiVersion" in top and "kind" in top:
            kubernetes = _kind(_scalar(top["apiVersion"]), _scalar(top["kind"]))
    if not keys:
        shape = "empty" if not documents else f"a YAML {_node_shape(documents[0])} at the top level"
        return Sniffed((), None, shape)
    return Sniffed(tuple(keys), kubernetes)


def _sniff_lines(text: str) -> Sniffed:
    """Unparseable YAML (a Helm template): its unindented `key:` lines."""
    keys = list(dict.fromkeys(_TOP_KEY.findall(text)))
    if not keys:
        return Sniffed((), None, "not YAML with top-level keys")
    values = dict(re.findall(r"^(apiVersion|kind)[ \t]*:[ \t]*[\"']?([^\s\"'#]*)", text, re.MULTILINE))
    kubernetes = _kind(values.get("apiVersion"), values.get("kind")) if {"apiVersion", "kind"} <= set(keys) else None
    return Sniffed(tuple(keys), kubernetes)


def _kind(api_version: str | None, kind: str | None) -> str:
    return f"apiVersion {api_version or '?'}, kind {kind or '?'}"


def _scalar(node: yaml.Node) -> str | None:
    return str(node.value) if isinstance(node, yaml.ScalarNode) else None


def _node_shape(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "mapping without plain keys"
    return "list" if isinstance(node, yaml.SequenceNode) else "scalar"

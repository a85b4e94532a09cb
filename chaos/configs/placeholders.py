"""{placeholders} in a config's text, filled before it is parsed.

The config a user brings names addresses the platform only knows at run time: `{listen}`, `{host}`,
`{port}`, `{etcd_endpoints}` (the etcd client URLs joined by commas, `http://a:2379,http://b:2379`),
`{etcd_endpoints_spaced}` (the same URLs joined by single spaces, as CoreDNS's `endpoint` takes
them), `{workdir}`, `{scenario_dir}` (the absolute directory of the scenario file; the names a
target's command line uses, from `chaos.targets.PLACEHOLDERS`) and extra named ports as
`{port.NAME}` (`{port.admin}`). They are filled in the TEXT, so `"port": {port}`
becomes a JSON number and `addr: {listen}` a YAML string.

Unlike a command line, config text is full of braces that are not ours: JSON objects, TOML inline
tables, YAML flow maps, log templates such as `{method} {path}`, Go templates `{{.Name}}`. So only
a brace pair around a placeholder name is replaced; `{port.NAME}` with an undeclared NAME, or a
`{word}` within a typo of a known name (`{lisen}`), is a ConfigError naming file:line, because that
is a placeholder the platform would silently leave unfilled. Any other `{...}` is left as written.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from chaos.errors import ConfigError

#: Names a command line, an env value and a config's text may use (the platform fills them);
#: each declared named port adds `{port.NAME}` and `{listen.NAME}`.
NAMES = ("binary", "listen", "host", "port", "config", "etcd_endpoints", "etcd_endpoints_spaced", "workdir",
         "scenario_dir")
#: `{etcd_endpoints}` joins the client URLs with this; `{etcd_endpoints_spaced}` with a single space.
ENDPOINTS_SEPARATOR = ","
PORT_PREFIX = "port."
LISTEN_PREFIX = "listen."
_PREFIXES = (PORT_PREFIX, LISTEN_PREFIX)

_CANDIDATE = re.compile(r"(?<!\{)\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_-]+)?)\}(?!\})")
#: A named extra port ({port.NAME}, a probe's or a reload request's `port`).
PORT_NAME = r"^[a-z][a-z0-9_-]{0,30}$"
_PORT_NAME = re.compile(PORT_NAME)


@dataclass(frozen=True)
class Use:
    """One placeholder in the text: its name and where it is (1-based line and column)."""

    name: str
    line: int
    column: int
    start: int
    end: int


def spaced(endpoints: str) -> str:
    """`{etcd_endpoints}`'s comma-joined URLs joined by single spaces instead: `{etcd_endpoints_spaced}`."""
    return " ".join(url for url in endpoints.split(ENDPOINTS_SEPARATOR) if url)


def completed(values: Mapping[str, object]) -> dict[str, object]:
    """`values` with the placeholders derived from others added where missing (`{etcd_endpoints_spaced}`
    from `{etcd_endpoints}`), so every filler fills them alike."""
    out = dict(values)
    if "etcd_endpoints" in out and "etcd_endpoints_spaced" not in out:
        out["etcd_endpoints_spaced"] = spaced(str(out["etcd_endpoints"]))
    return out


def unknown(name: str, valid: Iterable[str], within: str = "") -> str:
    """'unknown placeholder {lisen} in WITHIN; did you mean {listen}? (valid: ...)' for a name that is not one."""
    options = list(valid)
    close = difflib.get_close_matches(name, options, n=1)
    hint = f"; did you mean {{{close[0]}}}?" if close else ""
    where = f" in {within}" if within else ""
    return f"unknown placeholder {{{name}}}{where}{hint} (valid: {' '.join(f'{{{o}}}' for o in options)})"


def uses(text: str, names: Iterable[str] = NAMES) -> list[Use]:
    """The placeholders of `text` that are ours: a known name or any `{port.NAME}`."""
    known = set(names)
    found = []
    for match in _CANDIDATE.finditer(text):
        name = match.group(1)
        if name in known or name.startswith(_PREFIXES):
            found.append(_use(text, match))
    return found


def port_names(text: str) -> list[str]:
    """The named ports `text` asks for (`{port.admin}` -> admin), in order of first use."""
    names: dict[str, None] = {}
    for use in uses(text):
        if use.name.startswith(_PREFIXES):
            names.setdefault(use.name.split(".", 1)[1], None)
    return list(names)


def fill(text: str, values: Mapping[str, object], source: str) -> str:
    """`text` with every placeholder replaced by `values[name]`; ConfigError naming file:line otherwise.

    `values` holds the platform's names (`listen`, `port`, ...) and one `port.NAME` per declared port;
    `{etcd_endpoints_spaced}` is derived from `{etcd_endpoints}` when not given.
    """
    values = completed(values)
    for name in values:
        if name not in NAMES and not (name.startswith(_PREFIXES) and _PORT_NAME.match(name.split(".", 1)[1])):
            raise ConfigError(f"{source}: cannot fill placeholder {{{name}}}: not a placeholder name; "
                              f"use {_valid(values)}")
    out: list[str] = []
    pos = 0
    for match in _CANDIDATE.finditer(text):
        name = match.group(1)
        use = _use(text, match)
        if name in values:
            out.append(text[pos:match.start()])
            out.append(str(values[name]))
            pos = match.end()
        elif name in NAMES:
            raise ConfigError(f"{source}:{use.line}:{use.column}: placeholder {{{name}}} has no value for "
                              f"this target (it has {_valid(values)}); remove it or give the target what it "
                              f"needs (e.g. needs_etcd for {{etcd_endpoints}})")
        elif name.startswith(_PREFIXES):
            raise ConfigError(f"{source}:{use.line}:{use.column}: {{{name}}} names a port the target does not "
                              f"declare; declare it or use one of {_valid(values)}")
        elif close := difflib.get_close_matches(name, NAMES, n=1, cutoff=0.75):
            raise ConfigError(f"{source}:{use.line}:{use.column}: unknown placeholder {{{name}}}; did you mean "
                              f"{{{close[0]}}}? (valid: {_valid(values)})")
    out.append(text[pos:])
    return "".join(out)


def _use(text: str, match: re.Match[str]) -> Use:
    start = match.start()
    line = text.count("\n", 0, start) + 1
    column = start - (text.rfind("\n", 0, start) + 1) + 1
    return Use(match.group(1), line, column, start, match.end())


def _valid(values: Mapping[str, object]) -> str:
    return " ".join(f"{{{name}}}" for name in values) or "no placeholders"

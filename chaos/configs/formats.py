"""Config text <-> tree for YAML, JSON and TOML, keeping what a person wrote.

A user's service reads its own config file, so what gochaos writes back must look like that file
with a change in it, not like a re-serialisation: YAML goes through ruamel.yaml's round-trip mode
(comments, key order, quoting, the file's indentation), TOML through tomlkit (comments, order,
whitespace), JSON keeps key order and the file's indent. A syntax error is a `ConfigError` naming
file:line:column, the line itself and what to fix.
"""

from __future__ import annotations

import dataclasses
import enum
import io
import json
import re
import threading
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

import tomlkit
import tomlkit.exceptions
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from chaos.configs.tree import plain
from chaos.errors import ConfigError


class ConfigFormat(enum.StrEnum):
    YAML = "yaml"
    JSON = "json"
    TOML = "toml"

    @classmethod
    def of(cls, name: str | PurePath, given: str | ConfigFormat | None = None) -> ConfigFormat:
        """The format `given`, else the one the file name's extension says."""
        if given is not None:
            try:
                return cls(str(given).lower())
            except ValueError:
                raise ConfigError(f"{name}: unknown config format {given!r}; use yaml, json or toml") from None
        suffix = PurePath(name).suffix.lower()
        try:
            return EXTENSIONS[suffix]
        except KeyError:
            raise ConfigError(f"{name}: cannot tell the config format from {suffix or 'no extension'!r}; "
                              f"name it .yaml, .json or .toml, or give the format explicitly") from None


EXTENSIONS = {".yaml": ConfigFormat.YAML, ".yml": ConfigFormat.YAML, ".json": ConfigFormat.JSON,
              ".toml": ConfigFormat.TOML}


@dataclass(frozen=True)
class Layout:
    """How the file was written, so that a dump of a changed tree looks like the same file."""

    indent: int | str | None = 2  # JSON: spaces, "\t" or None for one line; YAML: mapping indent
    sequence_indent: int = 2  # YAML: a block sequence item's content, relative to its parent
    sequence_offset: int = 0  # YAML: where the dash sits inside that indent
    separators: tuple[str, str] = (",", ": ")  # JSON item and key separators
    ensure_ascii: bool = False  # JSON: the file escaped non-ASCII characters
    explicit_start: bool = False  # YAML: the file opens with ---
    trailing_newline: bool = True


@dataclass(frozen=True)
class ParsedConfig:
    """One config file: its text, the tree parsed from it and the layout its dumps reuse."""

    name: str
    format: ConfigFormat
    text: str
    tree: Any
    layout: Layout

    def dump(self, tree: Any = None) -> str:
        """`tree` (default: this file's own tree) written as this file would be."""
        return dump(self.tree if tree is None else tree, self.format, self.layout)


def read(path: Path, fmt: str | ConfigFormat | None = None) -> ParsedConfig:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read the config file: {e}") from e
    return parse(text, ConfigFormat.of(path, fmt), name=str(path))


def parse(text: str, fmt: ConfigFormat, name: str = "config") -> ParsedConfig:
    """The tree of `text`; ConfigError at the first syntax error."""
    if fmt is ConfigFormat.YAML:
        layout = _yaml_layout(text)
        try:
            tree = _yaml(layout).load(text)
        except MarkedYAMLError as e:
            mark = e.problem_mark or e.context_mark
            problem = " ".join(p for p in (e.context, e.problem) if p)
            if e.context_mark is not None and mark is not None and e.context_mark.line != mark.line:
                problem += f" (what it was reading starts at line {e.context_mark.line + 1})"
            raise _syntax_error(name, fmt, text, mark.line + 1 if mark else None,
                                mark.column + 1 if mark else None, problem) from e
        except YAMLError as e:
            raise _syntax_error(name, fmt, text, None, None, str(e).replace("\n", " ")) from e
        return ParsedConfig(name, fmt, text, tree, layout)
    if fmt is ConfigFormat.JSON:
        try:
            tree = json.loads(text)
        except json.JSONDecodeError as e:
            raise _syntax_error(name, fmt, text, e.lineno, e.colno, e.msg) from e
        return ParsedConfig(name, fmt, text, tree, _json_layout(text))
    try:
        document = tomlkit.parse(text)
    except tomlkit.exceptions.ParseError as e:
        message = str(e).rsplit(" at line ", 1)[0]
        raise _syntax_error(name, fmt, text, e.line, e.col + 1, message) from e
    return ParsedConfig(name, fmt, text, document, Layout(trailing_newline=text.endswith("\n")))


def dump(tree: Any, fmt: ConfigFormat, layout: Layout = Layout()) -> str:
    """`tree` as text of format `fmt`, written with `layout`."""
    if fmt is ConfigFormat.YAML:
        stream = io.StringIO()
        _yaml(layout).dump(tree, stream)
        return stream.getvalue()
    if fmt is ConfigFormat.JSON:
        text = json.dumps(tree, indent=layout.indent, separators=layout.separators,
                          ensure_ascii=layout.ensure_ascii, default=plain)
        return text + "\n" if layout.trailing_newline else text
    if isinstance(tree, tomlkit.TOMLDocument):
        return tree.as_string()
    return tomlkit.dumps(plain(tree))


_per_thread = threading.local()


def _yaml(layout: Layout) -> YAML:
    """The YAML processor for `layout`, one per thread: ruamel's keeps its parser's and emitter's state on
    itself, and two storms overlapping in their threads broke each other's loads and dumps."""
    made: dict[Layout, YAML] = _per_thread.__dict__.setdefault("yamls", {})
    if layout not in made:
        made[layout] = _new_yaml(layout)
    return made[layout]


def _new_yaml(layout: Layout) -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # never fold a long line the user wrote on one line
    mapping = layout.indent if isinstance(layout.indent, int) and layout.indent > 0 else 2
    yaml.indent(mapping=mapping, sequence=layout.sequence_indent, offset=layout.sequence_offset)
    yaml.explicit_start = layout.explicit_start
    return yaml


_YAML_KEY_OPENS = re.compile(r"^(?:- +)*[^#\s][^#]*:\s*(?:#.*)?$")


def _yaml_layout(text: str) -> Layout:
    """The indentation the file uses: mapping indent, block-sequence indent and dash offset."""
    mapping: int | None = None
    sequence: int | None = None
    offset: int | None = None
    opener_indent: int | None = None  # indent of the previous line when it was `key:` alone
    for line in text.splitlines():
        stripped = line.lstrip(" ")
        if not stripped or stripped.startswith("#"):
            continue
        indent = len(line) - len(stripped)
        if opener_indent is not None and indent > opener_indent:
            if stripped.startswith("- ") or stripped == "-":
                if offset is None:
                    offset = indent - opener_indent
                    after_dash = len(stripped) - len(stripped[1:].lstrip(" "))
                    sequence = offset + (after_dash if stripped != "-" else 2)
            elif mapping is None:
                mapping = indent - opener_indent
        opener_indent = indent if _YAML_KEY_OPENS.match(stripped) and not stripped.startswith("- ") else None
        if mapping is not None and offset is not None:
            break
    return Layout(indent=mapping or 2, sequence_indent=max(sequence or 2, (offset or 0) + 2),
                  sequence_offset=offset or 0, explicit_start=text.lstrip().startswith("---"),
                  trailing_newline=True)


def _json_layout(text: str) -> Layout:
    body = text.strip()
    ensure_ascii = "\\u" in text and not any(ord(c) > 127 for c in text)
    layout = Layout(ensure_ascii=ensure_ascii, trailing_newline=text.endswith("\n"))
    if "\n" not in body:
        item_sep = ", " if re.search(r",\s", body) else ","
        key_sep = ": " if re.search(r":\s", body) else ":"
        return dataclasses.replace(layout, indent=None, separators=(item_sep, key_sep))
    for line in body.splitlines()[1:]:
        stripped = line.lstrip(" \t")
        if stripped and len(stripped) < len(line):
            lead = line[: len(line) - len(stripped)]
            indent: int | str = "\t" if lead.startswith("\t") else len(lead)
            trailing_space = re.search(r",[ \t]+\n", text) is not None
            return dataclasses.replace(layout, indent=indent, separators=(", " if trailing_space else ",", ": "))
    return layout


_FIXES = {
    ConfigFormat.YAML: "check the indentation, colons and quoting there",
    ConfigFormat.JSON: "check the commas, quotes and brackets there (JSON has no comments or trailing commas)",
    ConfigFormat.TOML: "check the key = value syntax, quoting and [table] headers there",
}


def _syntax_error(name: str, fmt: ConfigFormat, text: str, line: int | None, column: int | None,
                  problem: str) -> ConfigError:
    where = name if line is None else f"{name}:{line}" if column is None else f"{name}:{line}:{column}"
    lines = text.splitlines()
    shown = ""
    duplicate = "duplicate key" in problem.lower() or "already exists" in problem.lower()
    fix = "keep only one of the duplicate keys" if duplicate else _FIXES[fmt]
    if line is not None and 0 < line <= len(lines):
        source = lines[line - 1]
        shown = f"; the line reads {source.strip()[:120]!r}"
        if re.search(r"\{[a-z][a-z0-9_.-]*\}", source):
            fix = "fill its {placeholders} before parsing (chaos.configs.placeholders.fill), or " + fix
    return ConfigError(f"{where}: not valid {fmt.value.upper()}: {problem}{shown}; {fix}")

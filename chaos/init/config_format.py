"""Which format the suite should read a config in, so a `pattern: auto` storm can mutate its tree.

The extension says it for .yaml/.yml/.json/.toml. Other files (`nats.conf`, a `Corefile`) are tried
as JSON, YAML and TOML in turn: a format is offered only when the file parses to a mapping AND
writing the parsed tree back gives the very same bytes (the suite keeps comments and key order, so
an unchanged write is the file itself). Anything else is `text`: whole-file variants and
trigger-only storms, never a mutation the suite could not write back faithfully.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePath

from chaos.configs.formats import EXTENSIONS, ConfigFormat, parse
from chaos.errors import ConfigError


@dataclass(frozen=True)
class Format:
    """The format to declare (None: the extension says it), what the storm can do with it, and why."""

    declared: str | None
    parsed: bool
    why: str


def detect(name: str, text: str) -> Format:
    """The format of config file `name` holding `text` (its placeholders already filled)."""
    suffix = PurePath(name).suffix.lower()
    if suffix in EXTENSIONS:
        fmt = EXTENSIONS[suffix]
        try:
            parse(text, fmt, name)
        except ConfigError as e:
            return Format("text", False, f"{suffix} but it does not parse as {fmt.value} ({e}): read as text")
        return Format(None, True, f"{fmt.value} (from its extension)")
    for fmt in (ConfigFormat.JSON, ConfigFormat.YAML, ConfigFormat.TOML):
        try:
            parsed = parse(text, fmt, name)
        except (ConfigError, ValueError):
            continue
        if not isinstance(parsed.tree, dict) or not parsed.tree:
            continue
        if parsed.dump() == text:
            return Format(fmt.value, True, f"{suffix or 'no extension'}: it parses as {fmt.value} and writes back "
                                           "byte for byte, so storms mutate its tree")
    return Format("text", False, f"{suffix or 'no extension'}: not JSON, YAML or TOML the suite can write back as it "
                                 "is, so the suite does not parse it (whole-file variants, or pattern: unchanged)")


#: The media type of each format the suite parses (what an admin API that loads a config is sent).
MEDIA_TYPES = {ConfigFormat.JSON: "application/json", ConfigFormat.YAML: "application/yaml",
               ConfigFormat.TOML: "application/toml"}


def media_type(fmt: Format, name: str, argv: Sequence[str]) -> str:
    """The Content-Type a config `name` in `fmt` is sent with: its format's, or for a text format `text/<adapter>`,
    the adapter the command names (`--adapter caddyfile`) or else the file's own name (`Caddyfile`)."""
    if fmt.parsed:
        return MEDIA_TYPES[ConfigFormat(fmt.declared) if fmt.declared else EXTENSIONS[PurePath(name).suffix.lower()]]
    for i, word in enumerate(argv):
        if word == "--adapter" and i + 1 < len(argv):
            return f"text/{argv[i + 1]}"
        if word.startswith("--adapter="):
            return f"text/{word.removeprefix('--adapter=')}"
    return f"text/{PurePath(name).stem.lower()}"

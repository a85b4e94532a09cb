"""Where a reload storm's writes come from: the user's own config, mutated or replaced by variants.

Every write is a `NextWrite`: the exact text, its tree (None when it does not parse), a label (value,
structural, invalid, syntax, type-break, unchanged), what the service must do with it (accept,
reject, or unknown: the suite cannot know) and its path-level diff. Three sources, one contract:
- `auto`: seeded mutations derived from the config tree itself (`chaos.configs.mutations`), written
  back in the file's own format, with the addresses the platform filled in protected;
- declared variants: whole files or JSON merge patches, each with its expectation and label;
- `configd`: the bundled configd's own schema-aware edits (routes, middleware, rate limits).
A config with a version key gets a fresh version stamped into every write, so each is told apart.
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from chaos.configs import placeholders
from chaos.configs.formats import ConfigFormat, ParsedConfig, parse
from chaos.configs.identity import version_at
from chaos.configs.kinds import Expect, Kind, Label
from chaos.configs.mutations import Mutator
from chaos.configs.patch import diff, merge_patch
from chaos.configs.tree import Path, assoc, has, parse_path, plain, walk
from chaos.errors import ConfigError, InjectionFailed, ScenarioError

#: The labels a pattern asks a source for.
VALUE, STRUCTURAL, INVALID, SYNTAX, UNCHANGED = "value", "structural", "invalid", "syntax", "unchanged"
_AUTO_KINDS = {
    VALUE: (Kind.VALUE_CHANGE,),
    STRUCTURAL: tuple(k for k in Kind if k not in (Kind.VALUE_CHANGE, Kind.STRING_FOR_NUMBER, Kind.NEGATIVE_COUNT)),
    INVALID: (Kind.STRING_FOR_NUMBER, Kind.NEGATIVE_COUNT),
}


class Variant(BaseModel):
    """A config the user declares, with what the service must do with it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,60}$", description="Shown in reports")
    patch: dict[str, Any] | None = Field(None, description="JSON merge patch (RFC 7396) on the target's config")
    file: str | None = Field(None, description="A whole config file, relative to the scenario file")
    text: str | None = Field(None, description="A whole config, inline (a `file` is read into it at load)")
    expect: Literal["accept", "reject", "unknown"] = Field("accept", description="What the service must do")
    label: str = Field(VALUE, pattern=r"^[a-z][a-z-]{0,30}$",
                       description="value, structural, invalid, syntax, ... (what `pattern` draws by)")

    @model_validator(mode="after")
    def _one_body(self) -> Variant:
        if (self.patch is None) == (self.text is None and self.file is None):
            raise ValueError(f"variant {self.name}: give exactly one of `patch` or `file` (or `text`)")
        return self


@dataclass(frozen=True)
class NextWrite:
    """One config to write, and what the service must do with it."""

    text: str
    tree: Any
    label: str
    expect: str
    source: str
    changes: tuple[str, ...]
    version: str | None


class WriteSource:
    """The writes of one storm on one target: `next(label)` draws, `took(write)` advances."""

    def __init__(self, original: str, fmt: ConfigFormat | None, name: str, *, version_key: str | None,
                 values: dict[str, str], variants: tuple[Variant, ...], mutator: str, rng: random.Random,
                 tag: str, protect: tuple[Path, ...] = ()) -> None:
        self.fmt, self.name, self.rng, self.tag, self.values = fmt, name, rng, tag, values
        self.variants = variants
        self.mutator_name = mutator
        self.protect = protect
        self.version_path: Path | None = parse_path(version_key) if version_key else None
        self.parsed = parse(original, fmt, name) if fmt is not None else None
        self.current_text, self.current_tree = original, (plain(self.parsed.tree) if self.parsed else None)
        self._mutator = None
        if self.parsed is not None and mutator == "auto":
            protect_all = [*_protected_paths(self.parsed.tree, values, self.version_path), *protect]
            self._mutator = Mutator(self.parsed, rng, protect=protect_all)
        self._count = 0
        self._turn: dict[str, int] = {}

    def next(self, label: str) -> NextWrite:
        """A write of `label` (a variant of that label when one is declared, else a mutation)."""
        self._count += 1
        version = f"{self.tag}-{self._count}"
        if label == UNCHANGED:
            return NextWrite(self.current_text, self.current_tree, UNCHANGED, Expect.ACCEPT, "unchanged", (),
                             self.version_of(self.current_tree))
        declared = [v for v in self.variants if v.label == label] or (self.variants if label == "variant" else [])
        if declared:
            turn = self._turn.get(label, 0)
            self._turn[label] = turn + 1
            return self._variant(declared[turn % len(declared)], version)
        if label == SYNTAX:
            return self._syntax(version)
        if self.mutator_name == "configd":
            return self._configd(label, version)
        return self._auto(label, version)

    def took(self, write: NextWrite) -> None:
        """`write` is likely what the service runs now (it need not reject it): later writes derive from it."""
        if write.tree is not None and write.expect != Expect.REJECT:
            if write.source == "auto":  # the mutator applied its own mutation already
                self.current_text, self.current_tree = write.text, write.tree
            else:
                self.rebase(write.text, write.tree)

    def rebase(self, text: str, tree: Any) -> None:
        """Derive later writes from `text` (the config the service was last seen to take)."""
        self.current_text, self.current_tree = text, tree
        if self._mutator is not None and self.parsed is not None:
            self._mutator = Mutator(parse(text, self.parsed.format, self.name), self.rng,
                                    protect=[*_protected_paths(tree, self.values, self.version_path), *self.protect])

    # -- sources --------------------------------------------------------------------------------
    def _auto(self, label: str, version: str) -> NextWrite:
        if self._mutator is None:
            raise InjectionFailed(f"{self.name}: a {label} write needs a config the suite can parse (yaml, json, "
                                  "toml) or a declared variant of that label")
        self._mutator.kinds = _AUTO_KINDS.get(label, tuple(Kind))
        try:
            mutation = self._mutator.next()
        except ConfigError:  # nothing of that kind left (e.g. every number dropped): the nearest other write
            if label == INVALID:
                return self._syntax(version)
            self._mutator.kinds = tuple(Kind)
            try:
                mutation = self._mutator.next()
            except ConfigError:
                return self.next(UNCHANGED)
        text, data = mutation.text, mutation.data
        if self.version_path is not None and has(data, self.version_path):
            tree = assoc(mutation.tree, self.version_path, version)
            text = self._mutator.config.dump(tree)
            data = plain(tree)
        if mutation.expect is not Expect.REJECT:
            self._mutator.apply(mutation)
        changes = tuple(str(c) for c in mutation.changes)
        written_label = INVALID if mutation.label is Label.TYPE_BREAK else mutation.label.value
        return NextWrite(text, data, written_label, mutation.expect, "auto", changes, self.version_of(data))

    def _variant(self, variant: Variant, version: str) -> NextWrite:
        built = build_variant(variant, self.parsed, self.fmt, self.name, self.values)
        tree, text = built
        if tree is not None and self.version_path is not None and has(tree, self.version_path) \
                and self.parsed is not None:
            stamped = assoc(parse(text, self.parsed.format, self.name).tree, self.version_path, version)
            text, tree = self.parsed.dump(stamped), plain(stamped)
        changes = tuple(str(c) for c in diff(self.current_tree, tree)) if tree is not None and \
            self.current_tree is not None else ()
        return NextWrite(text, tree, variant.label, variant.expect, f"variant:{variant.name}", changes,
                         self.version_of(tree))

    def _syntax(self, version: str) -> NextWrite:
        broken = {ConfigFormat.JSON: self.current_text.rstrip().rstrip("}") + ',\n  "gochaos": [\n',
                  ConfigFormat.TOML: self.current_text + '\n[gochaos\nbroken = "\n',
                  ConfigFormat.YAML: self.current_text + "\ngochaos: [unclosed\n"}
        if self.fmt is None:
            raise InjectionFailed(f"{self.name}: a syntax-error write needs the config's format (yaml, json, "
                                  "toml), or a declared variant with label syntax")
        text = broken[self.fmt]
        if self.version_path is not None and self.fmt is ConfigFormat.YAML:
            text = f"{self.version_path[-1]}: {version}\n" + text
        return NextWrite(text, None, SYNTAX, Expect.REJECT, "syntax", ("(does not parse)",), version)

    def _configd(self, label: str, version: str) -> NextWrite:
        current = copy.deepcopy(self.current_tree) if isinstance(self.current_tree, dict) else {}
        config, valid = configd_mutation(current, label, version, str(self.version_path[-1] if self.version_path
                                                                       else "version"), self._count)
        text = yaml.safe_dump(config, sort_keys=False)
        changes = tuple(str(c) for c in diff(self.current_tree, config))
        return NextWrite(text, config, label, Expect.ACCEPT if valid else Expect.REJECT, "configd", changes,
                         version)

    def version_of(self, tree: Any) -> str | None:
        if tree is None or self.version_path is None:
            return None
        return version_at(tree, self.version_path)


def build_variant(variant: Variant, parsed: ParsedConfig | None, fmt: ConfigFormat | None, name: str,
                  values: dict[str, str]) -> tuple[Any, str]:
    """(tree or None, text) of a variant, its placeholders filled; ScenarioError when it cannot be built."""
    where = f"{name}: variant {variant.name}"
    if variant.patch is not None:
        if parsed is None:
            raise ScenarioError(f"{where}: a merge patch needs a config in yaml, json or toml; give the variant "
                                "as a whole `file` instead")
        text = parsed.dump(merge_patch(parsed.tree, variant.patch))
        text = placeholders.fill(text, values, where)
    else:
        assert variant.text is not None
        text = placeholders.fill(variant.text, values, f"{where} ({variant.file or 'inline text'})")
    if fmt is None:
        return None, text
    try:
        return plain(parse(text, fmt, where).tree), text
    except ConfigError:
        if variant.expect == "accept":
            raise
        return None, text  # a variant meant to be rejected may well not parse


def configd_mutation(current: dict[str, Any], label: str, version: str, version_key: str,
                     n: int) -> tuple[dict[str, Any], bool]:
    """The bundled configd's next config (from the current one) and whether it must accept it."""
    config = current
    config[version_key] = version
    if label == VALUE:
        if "log_level" in config:
            config["log_level"] = "debug" if config["log_level"] != "debug" else "info"
        return config, True
    limits = config.setdefault("rate_limits", {})
    if label in (INVALID, SYNTAX):
        if isinstance(limits, dict):
            limits[f"gochaos_bad_{n}"] = -1
        return config, False
    http = config.setdefault("http", {})
    if isinstance(http, dict):
        routes = http.setdefault("routes", {})
        if isinstance(routes, dict):
            routes[f"/gochaos/r{n}"] = {"status": 200, "body": f"r{n}"}
        if "middleware" in http:
            del http["middleware"]  # the list appears and disappears: a structural change
        else:
            http["middleware"] = []
    if isinstance(limits, dict):
        limits[f"gochaos_{n}"] = 1000 + n
    return config, True


def sample_values(values: dict[str, str] | None, ports: tuple[str, ...]) -> dict[str, str]:
    """Placeholder values to check variants with before anything runs (real ones come at start)."""
    if values:
        return values
    sample = {"binary": "/bin/true", "listen": "127.0.0.1:1", "host": "127.0.0.1", "port": "1",
              "config": "/config", "etcd_endpoints": "http://127.0.0.1:2", "workdir": "/tmp"}
    for name in ports:
        sample.update({f"port.{name}": "1", f"listen.{name}": "127.0.0.1:1"})
    return sample


def _protected_paths(tree: Any, values: dict[str, str], version_path: Path | None) -> list[Path]:
    """Paths a storm must not mutate: the addresses the platform filled in, and the version key."""
    addresses = {v for k, v in values.items() if k in ("listen", "port", "host") or "." in k}
    addresses.discard("")
    protected = [version_path] if version_path else []
    for path, value in walk(plain(tree)):
        if isinstance(value, (str, int)) and not isinstance(value, bool) and \
                any(str(value) == a or (len(a) > 4 and a in str(value)) for a in addresses):
            protected.append(path)
    return protected

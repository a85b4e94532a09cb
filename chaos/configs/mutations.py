"""Mutations derived from a user's own config, with no schema: what a storm writes to their service.

Every mutation is one edit of the current config, drawn from a seeded `random.Random`, so the same
seed and the same `apply` calls give the same storm again. What can be mutated is read off the tree:

- lists: shrunk (an item dropped), grown (an item cloned next to itself), emptied, reordered;
- data maps (`heuristics.is_data_map`): an entry added (a sibling cloned under a new key) or removed;
  struct-like maps never get a key they did not have, since a strict decoder rejects it;
- sections (a non-empty map or list under a struct-like map): dropped, and later restored, as
  are emptied lists;
- scalars: a value change within the type (another value the same field holds elsewhere, a number
  moved by one, a bool flipped, a string variant), or a type break: a string where a number was,
  a negative number where a count was.

Each carries what the service should do with it (`kinds`: accept, reject or unknown), its new
tree (in the parser's containers and as builtins), the path-level diff, and its text: spliced into
the YAML text (`yamltext`), dumped for JSON and TOML.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import tomlkit
from ruamel.yaml.comments import CommentedSeq

from chaos.configs.edits import Edit, EditOp, apply
from chaos.configs.formats import ConfigFormat, ParsedConfig
from chaos.configs.heuristics import is_data_map
from chaos.configs.kinds import LABELS, Draw, Dropped, Expect, Kind, Label, Targets, build, fingerprint
from chaos.configs.patch import Change, diff
from chaos.configs.tree import Key, Path, dotted, get, has, is_map, is_seq, plain, scalar_kind
from chaos.configs.yamltext import Unspliceable, YamlText
from chaos.errors import ConfigError


@dataclass(frozen=True)
class Mutation:
    """One new config version: what changed, what the service should do with it, and its text."""

    number: int
    kind: Kind
    path: Path
    expect: Expect
    description: str
    edit: Edit = field(repr=False)
    tree: Any = field(repr=False)  # the parser's containers, sharing untouched subtrees with the config: read-only
    data: Any = field(repr=False)  # the same tree as builtins (`tree.plain`), for identities and oracles
    text: str = field(repr=False)
    changes: tuple[Change, ...]
    generation: int = field(repr=False)

    @property
    def label(self) -> Label:
        return LABELS[self.kind]

    def summary(self) -> dict[str, Any]:
        """What a report shows for it: JSON-ready."""
        return {"number": self.number, "kind": self.kind.value, "label": self.label.value,
                "expect": self.expect.value, "path": dotted(self.path), "description": self.description,
                "changes": [str(c) for c in self.changes]}


class Mutator:
    """A replayable stream of mutations of one config; `apply` makes one the current config."""

    def __init__(self, config: ParsedConfig, seed: int | random.Random = 0, *,
                 kinds: Iterable[Kind] | None = None, weights: Mapping[Kind, float] | None = None,
                 protect: Iterable[Path] = ()) -> None:
        self.config = config
        self.rng = seed if isinstance(seed, random.Random) else random.Random(seed)
        self.kinds = tuple(kinds) if kinds is not None else tuple(Kind)
        self.weights = dict(weights or {})
        self.protect = tuple(protect)
        self.tree: Any = config.tree
        #: The current tree as builtins: what is scanned and diffed, much faster than the parser's containers.
        self.data: Any = config.tree if config.format is ConfigFormat.JSON else plain(config.tree)
        self.text = config.text
        self.generation = 0
        #: How many YAML mutations could not be spliced into the text and were dumped whole.
        self.full_dumps = 0
        self._count = 0
        self._yaml = YamlText(config.text) if config.format is ConfigFormat.YAML else None
        self._targets: Targets | None = None
        self._dropped: dict[Path, Dropped] = {}

    def next(self) -> Mutation:
        """A new mutation of the current config (which it leaves as it is)."""
        targets = self._scan()
        kinds = [k for k in self.kinds if targets.by_kind[k] and self.weights.get(k, 1.0) > 0]
        if not kinds:
            raise ConfigError(f"{self.config.name}: nothing to mutate (kinds {', '.join(self.kinds)}); "
                              "the config has no lists, maps or scalars outside the protected paths")
        kind = self.rng.choices(kinds, [self.weights.get(k, 1.0) for k in kinds])[0]
        path = self.rng.choice(targets.by_kind[kind])
        edit, expect, description = build(kind, Draw(self.data, self.rng, self._dropped, targets), path)
        data = apply(self.data, edit)
        tree = apply(self.tree, self._in_containers(kind, edit))
        self._count += 1
        return Mutation(self._count, kind, path, expect, description, edit, tree, data, self._render(edit, tree),
                        tuple(diff(self.data, data)), self.generation)

    def _in_containers(self, kind: Kind, edit: Edit) -> Edit:
        """`edit` with its value taken from the parser's tree, so a clone keeps its comments."""
        if kind is Kind.LIST_EMPTY:
            return replace(edit, value=empty_like(get(self.tree, edit.path)))
        if kind is Kind.SECTION_RESTORE:
            dropped = self._dropped[edit.path if edit.op is EditOp.SET else (*edit.path, edit.key)]  # type: ignore[arg-type]
            return replace(edit, value=dropped.value)
        if edit.source is not None:
            return replace(edit, value=get(self.tree, (*edit.path, edit.source)))
        return edit

    def apply(self, mutation: Mutation) -> None:
        """`mutation` is now the config the service runs: the next ones derive from it."""
        if mutation.generation != self.generation:
            raise ValueError(f"mutation {mutation.number} was derived from an older config version")
        path = mutation.path
        if mutation.kind is Kind.SECTION_DROP:
            keys = list(get(self.data, path[:-1]).keys())
            self._dropped[path] = Dropped(get(self.tree, path), get(self.data, path),
                                           tuple(keys[: keys.index(path[-1])]), self._entry_text(path))
        elif mutation.kind is Kind.LIST_EMPTY:
            self._dropped[path] = Dropped(get(self.tree, path), get(self.data, path), (), None, emptied=True)
        elif mutation.kind is Kind.SECTION_RESTORE:
            self._dropped.pop(path, None)
        edit = mutation.edit
        if edit.op is not EditOp.INSERT or is_seq(get(self.data, edit.path)):
            in_list = edit.op is EditOp.DELETE and is_seq(get(self.data, edit.path[:-1]))
            changed = edit.path[:-1] if in_list else edit.path
            self._dropped = {p: d for p, d in self._dropped.items() if p[: len(changed)] != changed or p == changed}
        self.tree, self.data, self.text = mutation.tree, mutation.data, mutation.text
        self._yaml = YamlText(mutation.text) if self._yaml is not None else None
        self._targets = None
        self.generation += 1

    def mutations(self, count: int, advance: Callable[[Mutation], bool] | None = None) -> Iterator[Mutation]:
        """`count` mutations; each one that `advance` approves (default: all not expected to be rejected)
        becomes the current config, as it would once the service took it."""
        for _ in range(count):
            mutation = self.next()
            yield mutation
            if (advance or _not_rejected)(mutation):
                self.apply(mutation)

    def _render(self, edit: Edit, tree: Any) -> str:
        if self._yaml is not None:
            try:
                return self._yaml.apply(edit, tree)
            except Unspliceable:
                self.full_dumps += 1
        return self.config.dump(tree)

    def _entry_text(self, path: Path) -> str | None:
        if self._yaml is None:
            return None
        try:
            return self._yaml.entry_text(path)
        except Unspliceable:
            return None

    def _protected(self, path: Path) -> bool:
        """Is `path` a protected path, inside one, or above one (so changing it would change one)?"""
        return any(path[: len(p)] == p or p[: len(path)] == path for p in self.protect)

    def _scan(self) -> Targets:
        if self._targets is None:
            self._targets = Targets()
            self._visit(self.data, (), (), self._targets)
            for path, dropped in self._dropped.items():
                if dropped.emptied:
                    restorable = has(self.data, path) and get(self.data, path) == []
                else:
                    parent = get(self.data, path[:-1]) if has(self.data, path[:-1]) else None
                    restorable = parent is not None and is_map(parent) and path[-1] not in parent
                if restorable:
                    self._targets.by_kind[Kind.SECTION_RESTORE].append(path)
        return self._targets

    def _visit(self, value: Any, path: Path, pattern: tuple[Key, ...], targets: Targets) -> None:
        if self.protect and any(path[: len(p)] == p for p in self.protect):
            return
        free = not self._protected(path)
        by_kind = targets.by_kind
        if is_map(value):
            data = bool(path) and is_data_map(value)
            if data and free:
                by_kind[Kind.ENTRY_ADD].append(path)
            for key, child in value.items():
                child_path = (*path, key)
                child_free = not self._protected(child_path)
                if data and child_free and len(value) > 1:
                    by_kind[Kind.ENTRY_REMOVE].append(child_path)
                if not data and child_free and (is_map(child) or is_seq(child)) and len(child):
                    by_kind[Kind.SECTION_DROP].append(child_path)
                self._visit(child, child_path, (*pattern, "*" if data else key), targets)
        elif is_seq(value):
            if free and value:
                by_kind[Kind.LIST_GROW].append(path)
                by_kind[Kind.LIST_EMPTY].append(path)
                if len(value) > 1:
                    by_kind[Kind.LIST_SHRINK].append(path)
                    if len({fingerprint(v) for v in value}) > 1:
                        by_kind[Kind.LIST_REORDER].append(path)
            for index, child in enumerate(value):
                self._visit(child, (*path, index), (*pattern, "*"), targets)
        elif path and free:
            kind = scalar_kind(value)
            if kind not in ("bool", "int", "float", "str"):
                return
            by_kind[Kind.VALUE_CHANGE].append(path)
            targets.field_of[path] = pattern
            targets.values.setdefault(pattern, []).append(value)
            if kind in ("int", "float"):
                by_kind[Kind.STRING_FOR_NUMBER].append(path)
            if kind == "int" and int(value) >= 0:
                by_kind[Kind.NEGATIVE_COUNT].append(path)


def _not_rejected(mutation: Mutation) -> bool:
    return mutation.expect is not Expect.REJECT


def empty_like(value: Any) -> Any:
    """An empty list of the parser's kind for `value` (a commented YAML sequence, a TOML array)."""
    if isinstance(value, CommentedSeq):
        return CommentedSeq()
    if isinstance(value, tomlkit.items.Array | tomlkit.items.AoT):
        return tomlkit.array()
    return []



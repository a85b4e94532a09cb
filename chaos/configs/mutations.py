"""Mutations derived from a user's own config, with no schema: what a storm writes to their service.

Every mutation is one edit of the current config, drawn from a seeded `random.Random`, so the same
seed and the same `apply` calls give the same storm again. What can be mutated is read off the tree:

- lists: shrunk (an item dropped), grown (an item cloned next to itself), emptied, reordered;
- data maps (`heuristics.is_data_map`): an entry added (a sibling cloned under a new key) or removed;
  struct-like maps never get a key they did not have, since a strict decoder rejects it;
- sections (a non-empty map or list under a struct-like map): dropped, and later restored;
- scalars: a value change within the type (another value the same field holds elsewhere, a number
  moved by one, a bool flipped, a string variant), or a type break: a string where a number was,
  a negative number where a count was.

Each carries what a service should do with it. `accept` only where validity cannot have changed:
a reordered list, a restored section, a value the same field already holds at two or more other
places (so it is not an identifier). `reject` for a string where a number was, which every typed
decoder refuses. Everything else is `unknown`: a clone may duplicate a unique name, a dropped
section may be required, and -1 is a common "no limit".
"""

from __future__ import annotations

import enum
import random
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import tomlkit
from ruamel.yaml.comments import CommentedSeq

from chaos.configs.edits import Edit, EditOp, apply
from chaos.configs.formats import ConfigFormat, ParsedConfig
from chaos.configs.heuristics import is_data_map, new_key, nudge
from chaos.configs.patch import Change, diff
from chaos.configs.tree import Key, Path, dotted, get, has, is_map, is_seq, plain, same, scalar_kind
from chaos.configs.yamltext import Unspliceable, YamlText
from chaos.errors import ConfigError


class Label(enum.StrEnum):
    VALUE = "value"
    STRUCTURAL = "structural"
    TYPE_BREAK = "type-break"  # likely invalid


class Expect(enum.StrEnum):
    ACCEPT = "accept"
    REJECT = "reject"
    UNKNOWN = "unknown"


class Kind(enum.StrEnum):
    LIST_SHRINK = "list-shrink"
    LIST_GROW = "list-grow"
    LIST_EMPTY = "list-empty"
    LIST_REORDER = "list-reorder"
    ENTRY_ADD = "entry-add"
    ENTRY_REMOVE = "entry-remove"
    SECTION_DROP = "section-drop"
    SECTION_RESTORE = "section-restore"
    VALUE_CHANGE = "value-change"
    STRING_FOR_NUMBER = "string-for-number"
    NEGATIVE_COUNT = "negative-count"


LABELS: Mapping[Kind, Label] = {
    **{kind: Label.STRUCTURAL for kind in Kind},
    Kind.VALUE_CHANGE: Label.VALUE,
    Kind.STRING_FOR_NUMBER: Label.TYPE_BREAK,
    Kind.NEGATIVE_COUNT: Label.TYPE_BREAK,
}

#: What a string-for-number type break writes: no decoder, however lenient, reads it as a number.
NOT_A_NUMBER = "not-a-number"


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


@dataclass
class _Targets:
    """What the current tree offers to each kind of mutation, and each scalar field's values."""

    by_kind: dict[Kind, list[Path]] = field(default_factory=lambda: {kind: [] for kind in Kind})
    field_of: dict[Path, tuple[Key, ...]] = field(default_factory=dict)
    values: dict[tuple[Key, ...], list[Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class _Dropped:
    value: Any  # in the parser's containers
    data: Any  # as builtins
    before: tuple[Key, ...]  # the keys that preceded it, nearest last
    text: str | None  # its YAML lines, put back as they were


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
        self._targets: _Targets | None = None
        self._dropped: dict[Path, _Dropped] = {}

    def next(self) -> Mutation:
        """A new mutation of the current config (which it leaves as it is)."""
        targets = self._scan()
        kinds = [k for k in self.kinds if targets.by_kind[k] and self.weights.get(k, 1.0) > 0]
        if not kinds:
            raise ConfigError(f"{self.config.name}: nothing to mutate (kinds {', '.join(self.kinds)}); "
                              "the config has no lists, maps or scalars outside the protected paths")
        kind = self.rng.choices(kinds, [self.weights.get(k, 1.0) for k in kinds])[0]
        path = self.rng.choice(targets.by_kind[kind])
        edit, expect, description = _BUILDERS[kind](self, path, targets)
        data = apply(self.data, edit)
        tree = apply(self.tree, self._in_containers(kind, edit))
        self._count += 1
        return Mutation(self._count, kind, path, expect, description, edit, tree, data, self._render(edit, tree),
                        tuple(diff(self.data, data)), self.generation)

    def _in_containers(self, kind: Kind, edit: Edit) -> Edit:
        """`edit` with its value taken from the parser's tree, so a clone keeps its comments."""
        if kind is Kind.LIST_EMPTY:
            return replace(edit, value=_empty_like(get(self.tree, edit.path)))
        if kind is Kind.SECTION_RESTORE:
            return replace(edit, value=self._dropped[(*edit.path, edit.key)].value)  # type: ignore[arg-type]
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
            self._dropped[path] = _Dropped(get(self.tree, path), get(self.data, path),
                                           tuple(keys[: keys.index(path[-1])]), self._entry_text(path))
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

    def _scan(self) -> _Targets:
        if self._targets is None:
            self._targets = _Targets()
            self._visit(self.data, (), (), self._targets)
            for path in self._dropped:
                parent = get(self.data, path[:-1]) if has(self.data, path[:-1]) else None
                if parent is not None and is_map(parent) and path[-1] not in parent:
                    self._targets.by_kind[Kind.SECTION_RESTORE].append(path)
        return self._targets

    def _visit(self, value: Any, path: Path, pattern: tuple[Key, ...], targets: _Targets) -> None:
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
                    if len({_fingerprint(v) for v in value}) > 1:
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


def _fingerprint(value: Any) -> str:
    return repr(plain(value))


def _empty_like(value: Any) -> Any:
    if isinstance(value, CommentedSeq):
        return CommentedSeq()
    if isinstance(value, tomlkit.items.Array | tomlkit.items.AoT):
        return tomlkit.array()
    return []


_Built = tuple[Edit, Expect, str]


def _list_shrink(m: Mutator, path: Path, _: _Targets) -> _Built:
    items = get(m.data, path)
    index = m.rng.randrange(len(items))
    return Edit(EditOp.DELETE, (*path, index)), Expect.UNKNOWN, f"item {index} of {len(items)} dropped"


def _list_grow(m: Mutator, path: Path, _: _Targets) -> _Built:
    items = get(m.data, path)
    index = m.rng.randrange(len(items))
    edit = Edit(EditOp.INSERT, path, items[index], key=index + 1, after=index, source=index)
    return edit, Expect.UNKNOWN, f"item {index} cloned as item {index + 1}"


def _list_empty(m: Mutator, path: Path, _: _Targets) -> _Built:
    items = get(m.data, path)
    return Edit(EditOp.SET, path, []), Expect.UNKNOWN, f"all {len(items)} items removed"


def _list_reorder(m: Mutator, path: Path, _: _Targets) -> _Built:
    items = get(m.data, path)
    before = [_fingerprint(v) for v in items]
    order = list(range(len(items)))
    while [before[i] for i in order] == before:
        m.rng.shuffle(order)
    return Edit(EditOp.REORDER, path, order=tuple(order)), Expect.ACCEPT, f"items reordered as {order}"


def _entry_add(m: Mutator, path: Path, _: _Targets) -> _Built:
    entries = get(m.data, path)
    sibling = m.rng.choice(list(entries.keys()))
    key = new_key(entries, sibling)
    edit = Edit(EditOp.INSERT, path, entries[sibling], key=key, after=sibling, source=sibling)
    return edit, Expect.UNKNOWN, f"entry {key!r} added as a clone of {sibling!r}"


def _entry_remove(m: Mutator, path: Path, _: _Targets) -> _Built:
    return Edit(EditOp.DELETE, path), Expect.UNKNOWN, f"entry {path[-1]!r} removed"


def _section_drop(m: Mutator, path: Path, _: _Targets) -> _Built:
    return Edit(EditOp.DELETE, path), Expect.UNKNOWN, f"section {dotted(path)} dropped"


def _section_restore(m: Mutator, path: Path, _: _Targets) -> _Built:
    dropped = m._dropped[path]
    parent = get(m.data, path[:-1])
    after = next((k for k in reversed(dropped.before) if k in parent), None)
    edit = Edit(EditOp.INSERT, path[:-1], dropped.data, key=path[-1], after=after, text=dropped.text)
    return edit, Expect.ACCEPT, f"section {dotted(path)} restored"


def _value_change(m: Mutator, path: Path, targets: _Targets) -> _Built:
    value = get(m.data, path)
    kind = scalar_kind(value)
    values = targets.values[targets.field_of[path]]
    counts = Counter(repr(plain(v)) for v in values if scalar_kind(v) == kind)
    others: dict[str, Any] = {}
    for v in values:
        if scalar_kind(v) == kind and not same(v, value):
            others.setdefault(repr(plain(v)), plain(v))
    if others and max(counts.values()) >= 2:
        new = m.rng.choice(list(others.values()))
        return (Edit(EditOp.SET, path, new), Expect.ACCEPT,
                f"{dotted(path)}: {plain(value)!r} -> {new!r}, a value the field holds elsewhere")
    new, how = nudge(value)
    return Edit(EditOp.SET, path, new), Expect.UNKNOWN, f"{dotted(path)}: {plain(value)!r} -> {new!r} ({how})"


def _string_for_number(m: Mutator, path: Path, _: _Targets) -> _Built:
    return (Edit(EditOp.SET, path, NOT_A_NUMBER), Expect.REJECT,
            f"{dotted(path)}: number {plain(get(m.data, path))!r} -> string {NOT_A_NUMBER!r}")


def _negative_count(m: Mutator, path: Path, _: _Targets) -> _Built:
    value = int(get(m.data, path))
    new = -value if value > 0 else -1
    return Edit(EditOp.SET, path, new), Expect.UNKNOWN, f"{dotted(path)}: {value} -> {new}"


_BUILDERS: Mapping[Kind, Callable[[Mutator, Path, _Targets], _Built]] = {
    Kind.LIST_SHRINK: _list_shrink,
    Kind.LIST_GROW: _list_grow,
    Kind.LIST_EMPTY: _list_empty,
    Kind.LIST_REORDER: _list_reorder,
    Kind.ENTRY_ADD: _entry_add,
    Kind.ENTRY_REMOVE: _entry_remove,
    Kind.SECTION_DROP: _section_drop,
    Kind.SECTION_RESTORE: _section_restore,
    Kind.VALUE_CHANGE: _value_change,
    Kind.STRING_FOR_NUMBER: _string_for_number,
    Kind.NEGATIVE_COUNT: _negative_count,
}

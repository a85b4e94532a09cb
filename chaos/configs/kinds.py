"""The kinds of mutation, what a service should do with each, and how each is drawn from a config.

Only values the config itself holds are used: a clone copies a sibling, a new key follows its
sibling's naming, a value change takes another value of the same field or moves the old one by a
step within its type (`heuristics.nudge`). `accept` is claimed only where validity cannot have
changed: a reordered list, a restored section or refilled list, a value the same field already
holds at two or more other places (so it is not an identifier). `reject` is claimed for a string
where a number was, which every typed decoder refuses. Everything else is `unknown`: a clone may
duplicate a unique name, a dropped section may be required, -1 is a common "no limit".
"""

from __future__ import annotations

import enum
import random
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from chaos.configs.edits import Edit, EditOp
from chaos.configs.heuristics import new_key, nudge
from chaos.configs.tree import Key, Path, dotted, get, plain, same, scalar_kind


class Label(enum.StrEnum):
    VALUE = "value"
    STRUCTURAL = "structural"
    TYPE_BREAK = "type-break"  # likely invalid


class Expect(enum.StrEnum):
    ACCEPT = "accept"
    REJECT = "reject"
    UNKNOWN = "unknown"


class Kind(enum.StrEnum):
    """A kind of mutation; its value is its name in lower case with dashes (``list-shrink``)."""

    @staticmethod
    def _generate_next_value_(name: str, start: int, count: int, last_values: list[str]) -> str:
        return name.lower().replace("_", "-")

    LIST_SHRINK = enum.auto()
    LIST_GROW = enum.auto()
    LIST_EMPTY = enum.auto()
    LIST_REORDER = enum.auto()
    ENTRY_ADD = enum.auto()
    ENTRY_REMOVE = enum.auto()
    SECTION_DROP = enum.auto()
    SECTION_RESTORE = enum.auto()
    VALUE_CHANGE = enum.auto()
    STRING_FOR_NUMBER = enum.auto()
    NEGATIVE_COUNT = enum.auto()


LABELS: Mapping[Kind, Label] = {
    **{kind: Label.STRUCTURAL for kind in Kind},
    Kind.VALUE_CHANGE: Label.VALUE,
    Kind.STRING_FOR_NUMBER: Label.TYPE_BREAK,
    Kind.NEGATIVE_COUNT: Label.TYPE_BREAK,
}

#: What a string-for-number type break writes: no decoder, however lenient, reads it as a number.
NOT_A_NUMBER = "not-a-number"


@dataclass
class Targets:
    """What the current config offers to each kind of mutation, and the values each scalar field holds."""

    by_kind: dict[Kind, list[Path]] = field(default_factory=lambda: {kind: [] for kind in Kind})
    field_of: dict[Path, tuple[Key, ...]] = field(default_factory=dict)
    values: dict[tuple[Key, ...], list[Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Dropped:
    """A section dropped (or a list emptied) that a later mutation may put back."""

    value: Any  # in the parser's containers
    data: Any  # as builtins
    before: tuple[Key, ...]  # the keys that preceded it, nearest last
    text: str | None  # its YAML lines, put back as they were
    emptied: bool = False  # a list emptied in place rather than a section dropped


@dataclass(frozen=True)
class Draw:
    """What drawing a mutation reads: the current config as builtins, the random source, what was removed."""

    data: Any
    rng: random.Random
    dropped: Mapping[Path, Dropped]
    targets: Targets


def fingerprint(value: Any) -> str:
    return repr(plain(value))


_Built = tuple[Edit, Expect, str]


def _list_shrink(d: Draw, path: Path) -> _Built:
    items = get(d.data, path)
    index = d.rng.randrange(len(items))
    return Edit(EditOp.DELETE, (*path, index)), Expect.UNKNOWN, f"item {index} of {len(items)} dropped"


def _list_grow(d: Draw, path: Path) -> _Built:
    items = get(d.data, path)
    index = d.rng.randrange(len(items))
    edit = Edit(EditOp.INSERT, path, items[index], key=index + 1, after=index, source=index)
    return edit, Expect.UNKNOWN, f"item {index} cloned as item {index + 1}"


def _list_empty(d: Draw, path: Path) -> _Built:
    items = get(d.data, path)
    return Edit(EditOp.SET, path, []), Expect.UNKNOWN, f"all {len(items)} items removed"


def _list_reorder(d: Draw, path: Path) -> _Built:
    items = get(d.data, path)
    before = [fingerprint(v) for v in items]
    order = list(range(len(items)))
    while [before[i] for i in order] == before:
        d.rng.shuffle(order)
    return Edit(EditOp.REORDER, path, order=tuple(order)), Expect.ACCEPT, f"items reordered as {order}"


def _entry_add(d: Draw, path: Path) -> _Built:
    entries = get(d.data, path)
    sibling = d.rng.choice(list(entries.keys()))
    key = new_key(entries, sibling)
    edit = Edit(EditOp.INSERT, path, entries[sibling], key=key, after=sibling, source=sibling)
    return edit, Expect.UNKNOWN, f"entry {key!r} added as a clone of {sibling!r}"


def _entry_remove(d: Draw, path: Path) -> _Built:
    return Edit(EditOp.DELETE, path), Expect.UNKNOWN, f"entry {path[-1]!r} removed"


def _section_drop(d: Draw, path: Path) -> _Built:
    return Edit(EditOp.DELETE, path), Expect.UNKNOWN, f"section {dotted(path)} dropped"


def _section_restore(d: Draw, path: Path) -> _Built:
    dropped = d.dropped[path]
    if dropped.emptied:
        return Edit(EditOp.SET, path, dropped.data), Expect.ACCEPT, f"list {dotted(path)} refilled"
    parent = get(d.data, path[:-1])
    after = next((k for k in reversed(dropped.before) if k in parent), None)
    edit = Edit(EditOp.INSERT, path[:-1], dropped.data, key=path[-1], after=after, text=dropped.text)
    return edit, Expect.ACCEPT, f"section {dotted(path)} restored"


def _value_change(d: Draw, path: Path) -> _Built:
    value = get(d.data, path)
    kind = scalar_kind(value)
    values = d.targets.values[d.targets.field_of[path]]
    counts = Counter(repr(plain(v)) for v in values if scalar_kind(v) == kind)
    others: dict[str, Any] = {}
    for v in values:
        if scalar_kind(v) == kind and not same(v, value):
            others.setdefault(repr(plain(v)), plain(v))
    if others and max(counts.values()) >= 2:
        new = d.rng.choice(list(others.values()))
        return (Edit(EditOp.SET, path, new), Expect.ACCEPT,
                f"{dotted(path)}: {plain(value)!r} -> {new!r}, a value the field holds elsewhere")
    new, how = nudge(value)
    return Edit(EditOp.SET, path, new), Expect.UNKNOWN, f"{dotted(path)}: {plain(value)!r} -> {new!r} ({how})"


def _string_for_number(d: Draw, path: Path) -> _Built:
    return (Edit(EditOp.SET, path, NOT_A_NUMBER), Expect.REJECT,
            f"{dotted(path)}: number {plain(get(d.data, path))!r} -> string {NOT_A_NUMBER!r}")


def _negative_count(d: Draw, path: Path) -> _Built:
    value = int(get(d.data, path))
    new = -value if value > 0 else -1
    return Edit(EditOp.SET, path, new), Expect.UNKNOWN, f"{dotted(path)}: {value} -> {new}"


_BUILDERS: Mapping[Kind, Callable[[Draw, Path], _Built]] = {
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


def build(kind: Kind, draw: Draw, path: Path) -> tuple[Edit, Expect, str]:
    """The edit of a `kind` mutation at `path`, what the service should do with it, and what it does."""
    return _BUILDERS[kind](draw, path)

"""Mutation operators, in one table, and the sites they give on a config's own tree.

A *site* is one (path, operator) of a config: `middleware:empty-list`, `workers:zero`,
`tls:remove-key`. `sites` lists every site of a config once, in document order (each path's
operators in table order); `schedule` orders them for a storm's deterministic stage, as AFL does
before havoc: each site applied alone to the original config, so each write isolates one site,
likeliest breakers first. `SiteWriter` renders a site: its tree, its diff and its text, spliced
into the YAML text (`yamltext`, comments and other lines untouched) or dumped for JSON and TOML.

What each operator claims the service must do (`Expect`) is conservative: `unknown` unless validity
provably cannot change; `accept` only for a reordered list and for a value the same field already
holds at two or more places (so it is no identifier) — both applied to the user's own, valid
config; `reject` only where every typed decoder refuses: a string where a number was. A removed key
is `unknown` even in a struct (a strict decoder accepts a missing key); a map or list where a
scalar was is `unknown` too (a "one or many" field, a custom unmarshaler may take it).

Sites are never taken from the root itself, nor from a protected path, inside one, or above one
(a container holding a protected path): the addresses the platform filled in and the version key
stay as they are. TOML has no null, so `null` is no site of a TOML config.
"""

from __future__ import annotations

import copy
import enum
import random
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import tomlkit
from ruamel.yaml.comments import CommentedMap

from chaos.configs.edits import Edit, EditOp, apply
from chaos.configs.formats import ConfigFormat, ParsedConfig, parse
from chaos.configs.heuristics import is_data_map, new_key, nudge
from chaos.configs.kinds import NOT_A_NUMBER, Expect, Label, fingerprint
from chaos.configs.mutations import empty_like
from chaos.configs.patch import Change, diff
from chaos.configs.tree import Key, Path, dotted, get, is_map, is_seq, plain, scalar_kind
from chaos.configs.yamltext import Unspliceable, YamlText
from chaos.errors import ConfigError

INT64_MAX = 9_223_372_036_854_775_807
FLOAT64_MAX = sys.float_info.max
LONG_STRING_CHARS = 4096
NON_ASCII = "ü—✓"
WHITESPACE = "  "
#: What a string goes to where a list or map was, and what a scalar-for-map writes.
PLACEHOLDER_STRING = "gochaos"


class Priority(enum.IntEnum):
    """How likely an operator is to break a service: the deterministic stage tries lower bands first."""

    BREAKER = 0  # emptiness, zero, negative, null, a key gone: nil maps, [0] on [], division, make(n)
    BOUNDARY = 1  # one item left, the last dropped, 1, the type's max, odd strings, a flipped bool
    TYPE = 2  # a value of another type, which most strict decoders refuse
    GROWTH = 3  # more of the same: clones and duplicates
    COSMETIC = 4  # a nearby value, another value the field holds, a reordered list


@dataclass(frozen=True)
class Spot:
    """What an operator looks at: one path of the config, its value (builtins) and its surroundings."""

    path: Path
    value: Any
    in_map: bool  # the value is a map entry (a key can be removed), not a list item
    toml: bool  # the config is TOML: no null
    #: The values of the same field (list items and data-map keys as *), by kind: how often the commonest one
    #: occurs, and each distinct one (builtins) in document order.
    field: Mapping[str, tuple[int, Sequence[Any]]] = field(default_factory=dict)


@dataclass(frozen=True)
class Operator:
    """One row of the table: a kind of edit, what it applies to and what the service must do with it."""

    name: str
    applies: str
    expect: Expect
    label: Label
    priority: Priority
    description: str
    make: Callable[[Spot], Edit | None] = field(repr=False, compare=False)


def _kind(value: Any) -> str:
    if is_map(value):
        return "map"
    if is_seq(value):
        return "list"
    return scalar_kind(value)


def _number(value: Any) -> bool:
    return _kind(value) in ("int", "float")


def _scalar(value: Any) -> bool:
    return _kind(value) in ("bool", "int", "float", "str")


def _set(spot: Spot, value: Any) -> Edit:
    return Edit(EditOp.SET, spot.path, value)


def _typed(spot: Spot, as_int: int, as_float: float) -> Edit | None:
    kind = _kind(spot.value)
    if kind == "int":
        return _set(spot, as_int)
    return _set(spot, as_float) if kind == "float" else None


def _str_op(make: Callable[[str], str]) -> Callable[[Spot], Edit | None]:
    return lambda spot: _set(spot, make(spot.value)) if _kind(spot.value) == "str" else None


def _long(text: str) -> str:
    seed = text or PLACEHOLDER_STRING
    length = max(LONG_STRING_CHARS, 2 * len(text))
    return (seed * (length // len(seed) + 1))[:length]


def _null(spot: Spot) -> Edit | None:
    return None if spot.toml or spot.value is None else _set(spot, None)


def _remove_key(spot: Spot) -> Edit | None:
    return Edit(EditOp.DELETE, spot.path) if spot.in_map else None


def _empty_list(spot: Spot) -> Edit | None:
    return _set(spot, []) if is_seq(spot.value) and spot.value else None


def _empty_map(spot: Spot) -> Edit | None:
    return _set(spot, {}) if is_map(spot.value) and spot.value else None


def _first_only(spot: Spot) -> Edit | None:
    return Edit(EditOp.SELECT, spot.path, order=(0,)) if is_seq(spot.value) and len(spot.value) >= 2 else None


def _shrink(spot: Spot) -> Edit | None:  # on two items that is first-only
    return Edit(EditOp.DELETE, (*spot.path, len(spot.value) - 1)) if is_seq(spot.value) and len(spot.value) >= 3 \
        else None


def _grow(spot: Spot) -> Edit | None:
    if not is_seq(spot.value) or not spot.value:
        return None
    last = len(spot.value) - 1
    return Edit(EditOp.INSERT, spot.path, spot.value[last], key=last + 1, after=last, source=last)


def _duplicate_each(spot: Spot) -> Edit | None:  # on one item that is grow
    if not is_seq(spot.value) or len(spot.value) < 2:
        return None
    return Edit(EditOp.SELECT, spot.path, order=tuple(i for i in range(len(spot.value)) for _ in (0, 1)))


def _clone_entry(spot: Spot) -> Edit | None:
    if not is_map(spot.value) or not spot.value:
        return None
    last = list(spot.value)[-1]
    return Edit(EditOp.INSERT, spot.path, spot.value[last], key=new_key(spot.value, last), after=last, source=last)


def _reorder(spot: Spot) -> Edit | None:
    if not is_seq(spot.value) or len(spot.value) < 2:
        return None
    prints = [fingerprint(v) for v in spot.value]
    n = len(prints)
    for order in (tuple(range(n - 1, -1, -1)), (*range(1, n), 0)):  # reversed, else rotated by one
        if [prints[i] for i in order] != prints:
            return Edit(EditOp.REORDER, spot.path, order=order)
    return None  # every item the same


def _list_for_scalar(spot: Spot) -> Edit | None:
    return _set(spot, [spot.value]) if _scalar(spot.value) else None


def _map_for_scalar(spot: Spot) -> Edit | None:
    if not _scalar(spot.value):
        return None
    key = spot.path[-1] if isinstance(spot.path[-1], str) else "value"
    return _set(spot, {key: spot.value})


def _scalar_for_list(spot: Spot) -> Edit | None:
    if not is_seq(spot.value):
        return None
    first = spot.value[0] if spot.value else None
    return _set(spot, first if _scalar(first) else PLACEHOLDER_STRING)


def _scalar_for_map(spot: Spot) -> Edit | None:
    return _set(spot, PLACEHOLDER_STRING) if is_map(spot.value) else None


def _nudge(spot: Spot) -> Edit | None:
    return _set(spot, nudge(spot.value)[0]) if _kind(spot.value) in ("int", "float", "str") else None


def _sibling_value(spot: Spot) -> Edit | None:
    """Another value the same field holds, when some value of it appears twice or more (no identifier)."""
    kind = _kind(spot.value)
    commonest, distinct = spot.field.get(kind, (0, ()))
    if kind not in ("bool", "int", "float", "str") or commonest < 2:
        return None
    mine = repr(plain(spot.value))
    other = next((v for v in distinct if repr(v) != mine), None)
    return None if other is None else _set(spot, other)


def _summary(values: Sequence[Any]) -> dict[str, tuple[int, list[Any]]]:
    """`Spot.field` of a field holding `values`."""
    by_kind: dict[str, Counter[str]] = {}
    distinct: dict[str, dict[str, Any]] = {}
    for value in values:
        kind, key = _kind(value), repr(plain(value))
        by_kind.setdefault(kind, Counter())[key] += 1
        distinct.setdefault(kind, {}).setdefault(key, plain(value))
    return {kind: (max(counts.values()), list(distinct[kind].values())) for kind, counts in by_kind.items()}


_U, _R, _A = Expect.UNKNOWN, Expect.REJECT, Expect.ACCEPT
_V, _S, _T = Label.VALUE, Label.STRUCTURAL, Label.TYPE_BREAK
_B0, _B1, _B2, _B3, _B4 = Priority

#: Every operator, in priority order: the one table `gochaos explain operators` prints.
OPERATORS: tuple[Operator, ...] = (
    Operator("empty-list", "list (1+ items)", _U, _S, _B0, "every item removed: []", _empty_list),
    Operator("empty-string", "string (not empty)", _U, _V, _B0, 'the string emptied: ""', _str_op(lambda _: "")),
    Operator("zero", "number (not 0)", _U, _V, _B0, "0 (0.0 for a float): a divisor, a count, a size of nothing",
             lambda s: _typed(s, 0, 0.0)),
    Operator("negative", "number (not -1)", _U, _V, _B0, "-1 (-1.0 for a float): a size or count below zero",
             lambda s: _typed(s, -1, -1.0)),
    Operator("null", "any value (not TOML)", _U, _S, _B0, "null: a nil map, slice or pointer for the decoder",
             _null),
    Operator("remove-key", "map entry, at any depth", _U, _S, _B0,
             "the key removed, struct fields and whole sections too (a strict decoder accepts a missing key)",
             _remove_key),
    Operator("empty-map", "map (1+ entries)", _U, _S, _B0, "every entry removed: {}", _empty_map),
    Operator("first-only", "list (2+ items)", _U, _S, _B1, "only the first item kept", _first_only),
    Operator("shrink", "list (3+ items)", _U, _S, _B1, "the last item dropped", _shrink),
    Operator("one", "number (not 1)", _U, _V, _B1, "1 (1.0 for a float): the smallest positive count",
             lambda s: _typed(s, 1, 1.0)),
    Operator("max", "number", _U, _V, _B1, "the type's max: int64 9223372036854775807, float64 1.8e308",
             lambda s: _typed(s, INT64_MAX, FLOAT64_MAX)),
    Operator("whitespace", "string", _U, _V, _B1, f"whitespace only: {WHITESPACE!r}", _str_op(lambda _: WHITESPACE)),
    Operator("long-string", "string", _U, _V, _B1,
             f"{LONG_STRING_CHARS} characters (the value repeated): buffers, limits, keys", _str_op(_long)),
    Operator("non-ascii", "string", _U, _V, _B1, f"{NON_ASCII!r}: multi-byte runes where bytes were counted",
             _str_op(lambda _: NON_ASCII)),
    Operator("flip", "bool", _U, _V, _B1, "true <-> false: the other branch, e.g. TLS on without certs",
             lambda s: _set(s, not s.value) if _kind(s.value) == "bool" else None),
    Operator("string-for-number", "number", _R, _T, _B2, f"the string {NOT_A_NUMBER!r}: every typed decoder refuses it",
             lambda s: _set(s, NOT_A_NUMBER) if _number(s.value) else None),
    Operator("float-for-int", "integer", _U, _T, _B2, "1.5 where an integer was (a float64 field takes it)",
             lambda s: _set(s, 1.5) if _kind(s.value) == "int" else None),
    Operator("list-for-scalar", "scalar", _U, _T, _B2, "[value]: a list holding the old value", _list_for_scalar),
    Operator("map-for-scalar", "scalar", _U, _T, _B2, "{key: value}: a map holding the old value", _map_for_scalar),
    Operator("scalar-for-list", "list", _U, _T, _B2, f"its first item alone (a scalar), else {PLACEHOLDER_STRING!r}",
             _scalar_for_list),
    Operator("scalar-for-map", "map", _U, _T, _B2, f"the string {PLACEHOLDER_STRING!r} where a map was",
             _scalar_for_map),
    Operator("grow", "list (1+ items)", _U, _S, _B3, "the last item cloned after it", _grow),
    Operator("duplicate-each", "list (2+ items)", _U, _S, _B3, "each item twice in a row: duplicate names, keys",
             _duplicate_each),
    Operator("clone-entry", "map (1+ entries)", _U, _S, _B3,
             "the last entry cloned under a new key in its style (a struct's strict decoder refuses it)", _clone_entry),
    Operator("nudge", "number, string", _U, _V, _B4, "a nearby value: a number +-1, a duration +1, a suffix",
             _nudge),
    Operator("sibling-value", "scalar whose field repeats a value", _A, _V, _B4,
             "another value the same field holds elsewhere (it holds one twice: no identifier)", _sibling_value),
    Operator("reorder", "list (2+ different items)", _A, _S, _B4, "the items reversed (else rotated by one)", _reorder),
)
BY_NAME = {op.name: op for op in OPERATORS}


@dataclass(frozen=True)
class Site:
    """One (path, operator) of a config, with the edit that makes it."""

    path: Path
    operator: Operator
    edit: Edit = field(repr=False)

    @property
    def id(self) -> str:
        """`middleware:empty-list`: the path (dotted) and the operator's name."""
        return f"{dotted(self.path)}:{self.operator.name}"

    @property
    def expect(self) -> Expect:
        return self.operator.expect

    @property
    def label(self) -> Label:
        return self.operator.label

    @property
    def priority(self) -> Priority:
        return self.operator.priority


def _protected(path: Path, protect: Sequence[Path]) -> bool:
    """Is `path` a protected path, inside one, or above one (so changing it would change one)?"""
    return any(path[: len(p)] == p or p[: len(path)] == path for p in protect)


def _dedupe_key(edit: Edit) -> tuple[Any, ...] | None:
    if edit.op is not EditOp.SET:
        return None
    value = edit.value
    return (_kind(value), repr(plain(value)))


def sites(data: Any, *, toml: bool = False, protect: Iterable[Path] = ()) -> list[Site]:
    """Every site of the config `data` (builtins, as `tree.plain` gives), in document order; each path's
    operators in table order. An edit that would change nothing, or write the same value at the same path
    as an operator before it in the table, is no site."""
    protected = tuple(protect)
    spots: list[tuple[Path, Any, bool, tuple[Key, ...]]] = []
    values: dict[tuple[Key, ...], list[Any]] = {}

    def visit(value: Any, path: Path, pattern: tuple[Key, ...], in_map: bool) -> None:
        if protected and any(path[: len(p)] == p for p in protected):
            return
        if path and not _protected(path, protected):
            spots.append((path, value, in_map, pattern))
        if is_map(value):
            data_map = bool(path) and is_data_map(value)
            for key, child in value.items():
                visit(child, (*path, key), (*pattern, "*" if data_map else key), True)
        elif is_seq(value):
            for index, child in enumerate(value):
                visit(child, (*path, index), (*pattern, "*"), False)
        elif path:
            values.setdefault(pattern, []).append(value)

    visit(data, (), (), False)
    summaries = {pattern: _summary(field_values) for pattern, field_values in values.items()}
    found: list[Site] = []
    for path, value, in_map, pattern in spots:
        spot = Spot(path, value, in_map, toml, summaries.get(pattern, {}))
        written: set[tuple[Any, ...]] = {(_kind(value), repr(plain(value)))}
        for operator in OPERATORS:
            edit = operator.make(spot)
            if edit is None:
                continue
            key = _dedupe_key(edit)
            if key is not None:
                if key in written:
                    continue
                written.add(key)
            found.append(Site(path, operator, edit))
    return found


def schedule(found: Sequence[Site], rng: random.Random) -> list[Site]:
    """`found` in the order a storm tries them: by priority band (likeliest breakers first); within a band
    in document order, then shuffled by `rng` (the run's seed), so a short storm samples the whole band."""
    bands: dict[Priority, list[Site]] = {}
    for site in found:
        bands.setdefault(site.priority, []).append(site)
    ordered: list[Site] = []
    for priority in sorted(bands):
        band = bands[priority]
        rng.shuffle(band)
        ordered += band
    return ordered


@dataclass(frozen=True)
class Rendered:
    """A site applied to the original config: its tree (parser's containers and builtins), diff and text."""

    site: Site
    tree: Any = field(repr=False)
    data: Any = field(repr=False)
    text: str = field(repr=False)
    changes: tuple[Change, ...]


class SiteWriter:
    """Renders sites of one config, each applied alone to that (original) config."""

    def __init__(self, config: ParsedConfig) -> None:
        self.config = config
        self.data: Any = config.tree if config.format is ConfigFormat.JSON else plain(config.tree)
        #: How many YAML sites could not be spliced into the text and were dumped whole.
        self.full_dumps = 0
        self._yaml = YamlText(config.text) if config.format is ConfigFormat.YAML else None

    def sites(self, protect: Iterable[Path] = ()) -> list[Site]:
        return sites(self.data, toml=self.config.format is ConfigFormat.TOML, protect=protect)

    def render(self, site: Site) -> Rendered:
        edit = site.edit
        data = apply(self.data, edit)
        changes = tuple(diff(self.data, data))
        try:
            tree = apply(self.config.tree, self._in_containers(edit))
        except (ValueError, TypeError):  # the parser's containers cannot hold it: a string in a TOML [[table]] list
            self.full_dumps += 1
            return Rendered(site, data, data, self.config.dump(copy.deepcopy(data)), changes)
        return Rendered(site, tree, data, self._text(edit, tree, data), changes)

    def _in_containers(self, edit: Edit) -> Edit:
        """`edit` with its value taken from the parser's tree (a clone keeps its comments), or made in the
        parser's kind of container (an emptied TOML array of tables stays an array)."""
        if edit.op is EditOp.INSERT and edit.source is not None:
            return replace(edit, value=get(self.config.tree, (*edit.path, edit.source)))
        if edit.op is EditOp.SET and edit.value == [] and is_seq(edit.value):
            return replace(edit, value=empty_like(get(self.config.tree, edit.path)))
        if edit.op is EditOp.SET and edit.value == {} and is_map(edit.value):
            return replace(edit, value=_empty_map_like(get(self.config.tree, edit.path)))
        return edit

    def _text(self, edit: Edit, tree: Any, data: Any) -> str:
        if self._yaml is None:
            return self.config.dump(tree)
        try:
            return self._yaml.apply(edit, tree)
        except Unspliceable:
            self.full_dumps += 1
        text = self.config.dump(tree)
        try:  # a round-trip dump of an odd edit (a {} item before a commented one) can lose a line break
            if plain(parse(text, ConfigFormat.YAML, self.config.name).tree) == data:
                return text
        except ConfigError:
            pass
        return self.config.dump(copy.deepcopy(data))  # the same tree without the file's comments


def _empty_map_like(value: Any) -> Any:
    if isinstance(value, CommentedMap):
        return CommentedMap()
    if isinstance(value, tomlkit.items.InlineTable):
        return tomlkit.inline_table()
    return {}


def table() -> list[tuple[str, str, str, str]]:
    """(name, applies to, expect, description) of every operator, in table order."""
    return [(op.name, op.applies, op.expect.value, op.description) for op in OPERATORS]

"""Paths into a parsed config tree, and copy-on-write edits that keep the parser's containers.

A tree is what `formats.parse` returns: plain dicts and lists for JSON, ruamel's Commented*
containers for YAML, tomlkit's tables and arrays for TOML. Those containers carry the comments and
layout a dump reproduces, so an edit never rebuilds them as plain dicts: `edit` copies only the
containers on the path to the change (each with its own comment bookkeeping) and shares every
untouched subtree with the original. Trees are therefore treated as read-only values; the one
container `edit` hands to its callback is a private copy.
"""

from __future__ import annotations

import copy
import datetime
import json
import re
from collections.abc import Callable, Iterator, Mapping, MutableMapping, MutableSequence
from typing import Any, TypeAlias

import tomlkit.items as toml_items
from ruamel.yaml.comments import Comment, CommentedMap, CommentedSeq
from tomlkit.container import Container as TomlContainer

Key: TypeAlias = str | int
Path: TypeAlias = tuple[Key, ...]

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_PATH_PART = re.compile(r'\.?([A-Za-z0-9_-]+)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]')


def dotted(path: Path) -> str:
    """`http.routes["/api"].methods[0]`: bare keys joined by dots, other keys quoted, indexes in brackets."""
    out: list[str] = []
    for part in path:
        if isinstance(part, int):
            out.append(f"[{part}]")
        elif _BARE_KEY.match(part):
            out.append(f".{part}" if out else part)
        else:
            out.append(f"[{json.dumps(part, ensure_ascii=False)}]")
    return "".join(out) or "(root)"


def parse_path(text: str) -> Path:
    """The inverse of `dotted`: `meta.version`, `servers[0].name`, `routes["/a.b"]`."""
    parts: list[Key] = []
    pos = 0
    while pos < len(text):
        match = _PATH_PART.match(text, pos)
        if match is None or (match.group(1) and pos and text[pos] != "."):
            raise ValueError(f"bad config path {text!r} at {text[pos:]!r}: use dotted keys, "
                             '[N] for list items and ["key"] for keys with other characters')
        bare, index, quoted = match.groups()
        parts.append(bare if bare is not None else int(index) if index is not None else json.loads(quoted))
        pos = match.end()
    if not parts:
        raise ValueError("empty config path")
    return tuple(parts)


def is_map(value: object) -> bool:
    return isinstance(value, Mapping)


def is_seq(value: object) -> bool:
    return isinstance(value, list)


def get(tree: Any, path: Path) -> Any:
    """The value at `path`; KeyError / IndexError when it is not there."""
    node = tree
    for part in path:
        node = node[part]
    return node


def has(tree: Any, path: Path) -> bool:
    try:
        get(tree, path)
    except (KeyError, IndexError, TypeError):
        return False
    return True


def scalar_kind(value: object) -> str:
    """bool / int / float / str / null / time / other: the type a strict decoder checks."""
    if isinstance(value, bool | toml_items.Bool):
        return "bool"
    if type(value).__name__ == "ScalarBoolean":  # ruamel keeps anchored booleans as an int subclass
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if value is None:
        return "null"
    if isinstance(value, datetime.date | datetime.time):
        return "time"
    return "other"


def plain(value: Any) -> Any:
    """The tree as builtins only (dict, list, str, int, float, bool, None; times as ISO strings)."""
    if is_map(value):
        return {str(k) if not isinstance(k, str) else str.__str__(k): plain(v) for k, v in value.items()}
    if is_seq(value):
        return [plain(v) for v in value]
    kind = scalar_kind(value)
    if isinstance(value, toml_items.Bool):
        return value.value
    if kind == "bool":
        return bool(value)
    if kind == "int":
        return int(value)
    if kind == "float":
        return float(value)
    if kind == "str":
        return str.__str__(value)
    if kind == "time":
        return value.isoformat()
    if kind == "null":
        return None
    return str(value)


def same(a: Any, b: Any) -> bool:
    """Equal as a strict decoder sees it: `1`, `1.0` and `true` all differ."""
    if a is b:
        return True
    if is_map(a) and is_map(b):
        return list(a.keys()) == list(b.keys()) and all(same(a[k], b[k]) for k in a)
    if is_seq(a) and is_seq(b):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if is_map(a) or is_map(b) or is_seq(a) or is_seq(b):
        return False
    return scalar_kind(a) == scalar_kind(b) and plain(a) == plain(b)


def shape(value: Any, depth: int = 2) -> object:
    """A hashable summary of a value's structure: keys and kinds down to `depth` levels, not values."""
    if is_map(value):
        if depth == 0:
            return "map"
        return ("map", tuple(sorted((str(k), shape(v, depth - 1)) for k, v in value.items())))
    if is_seq(value):
        if depth == 0 or not value:
            return "list"
        return ("list", shape(value[0], depth - 1))
    return scalar_kind(value)


def walk(tree: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    """Every (path, value) of the tree, parents before children, in document order."""
    yield path, tree
    if is_map(tree):
        for key, value in tree.items():
            yield from walk(value, (*path, key))
    elif is_seq(tree):
        for index, value in enumerate(tree):
            yield from walk(value, (*path, index))


def shallow_copy(container: Any) -> Any:
    """A new container of the same kind holding the same children, with its own comment bookkeeping."""
    if isinstance(container, CommentedMap):
        fresh = container.copy()
        _own_comments(container, fresh)
        return fresh
    if isinstance(container, CommentedSeq):
        fresh_seq = CommentedSeq(container)
        container.copy_attributes(fresh_seq)
        _own_comments(container, fresh_seq)
        return fresh_seq
    if isinstance(container, toml_items.AoT):
        return toml_items.AoT(list(container.body), name=container.name, parsed=True)
    if isinstance(container, toml_items.Array):
        # an array's item groups are edited in place by tomlkit: only a deep copy is private
        return copy.deepcopy(container)
    if isinstance(container, MutableMapping | MutableSequence) and hasattr(container, "__copy__"):
        return copy.copy(container)  # tomlkit tables and documents copy their bodies shallowly
    if isinstance(container, dict):
        return dict(container)
    if isinstance(container, list):
        return list(container)
    raise TypeError(f"not a config container: {type(container).__name__}")


def _own_comments(source: Any, fresh: Any) -> None:
    comment = getattr(source, Comment.attrib, None)
    if comment is not None:
        mine = copy.copy(comment)
        mine._items = dict(comment._items)
        setattr(fresh, Comment.attrib, mine)


def edit(tree: Any, path: Path, change: Callable[[Any], None]) -> Any:
    """A new root where the container at `path` is a private copy that `change` mutated in place."""
    if not path:
        root = shallow_copy(tree)
        change(root)
        return root
    head, rest = path[0], path[1:]
    root = shallow_copy(tree)
    root[head] = edit(tree[head], rest, change)
    return root


def assoc(tree: Any, path: Path, value: Any) -> Any:
    """A new root with `value` at `path` (the parent must exist)."""
    if not path:
        return value

    def put(parent: Any) -> None:
        key = path[-1]
        body = _toml_body(parent)
        if body is not None and _tabular(parent[key]) != _tabular(value):
            keys = list(parent.keys())
            del parent[key]
            index = keys.index(key)
            _toml_insert(body, str(keys[index - 1]) if index else None, str(key), value)
        else:
            parent[key] = value

    return edit(tree, path[:-1], put)


def dissoc(tree: Any, path: Path) -> Any:
    """A new root without the entry or item at `path`."""

    def remove(parent: Any) -> None:
        del parent[path[-1]]
        if isinstance(parent, toml_items.Table) and not parent and parent.is_super_table():
            parent._is_super_table = False  # an empty [a] must still be written, or `a` vanishes

    return edit(tree, path[:-1], remove)


def fresh(value: Any) -> Any:
    """A private deep copy of a subtree about to be placed a second time in a tree."""
    return copy.deepcopy(value)


def map_insert(container: Any, after: Key | None, key: Key, value: Any) -> None:
    """Put `key` right after the entry `after` (first when None) of a private map container."""
    keys = list(container.keys())
    index = keys.index(after) + 1 if after is not None and after in keys else 0
    body = _toml_body(container)
    if body is not None:
        _toml_insert(body, str(keys[index - 1]) if index else None, str(key), value)
    elif index >= len(keys):
        container[key] = value
    elif isinstance(container, CommentedMap):
        container.insert(index, key, value)
    else:
        items = list(container.items())
        items.insert(index, (key, value))
        container.clear()
        container.update(items)


def _toml_body(container: Any) -> TomlContainer | None:
    if isinstance(container, TomlContainer):
        return container
    if isinstance(container, toml_items.Table):
        body = container.value
        assert isinstance(body, TomlContainer)
        return body
    return None


def _tabular(value: Any) -> bool:
    """Written as a [table] or [[array of tables]] rather than as `key = value`?"""
    if isinstance(value, toml_items.Table | toml_items.AoT):
        return True
    if isinstance(value, toml_items.Item):
        return False
    return is_map(value) or (is_seq(value) and bool(value) and all(is_map(v) for v in value))


def _toml_insert(body: TomlContainer, after: str | None, key: str, value: Any) -> None:
    """Insert into a TOML table's body where the key stays its own: `key = value` lines before the
    first [table] (after it they would belong to that table), tables after the last plain line."""
    entries = body.body
    first_table = next((i for i, (k, v) in enumerate(entries)
                        if k is not None and not k.is_dotted() and isinstance(v, toml_items.Table | toml_items.AoT)),
                       len(entries))
    position = 0
    if after is not None:
        where = next(index for k, index in body._map.items() if k.key == after)
        position = (max(where) if isinstance(where, tuple) else where) + 1
    position = max(position, first_table) if _tabular(value) else min(position, first_table)
    if position >= len(entries):
        body.append(key, value)
    else:
        body._insert_at(position, key, value)

"""One edit of a config tree, in a form both the tree and the YAML text can apply.

A mutation is exactly one `Edit`. Applied to the tree (`apply`), it gives the new tree
copy-on-write; applied to YAML text (`yamltext`), it gives the user's file with only the edited
lines changed, which is both what a person would write and far cheaper than a full round-trip dump.
Edits that alter disjoint subtrees (`independent`) combine: a guided storm writes two sites at once.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from chaos.configs.tree import Key, Path, assoc, dissoc, edit, fresh, is_map, map_insert


class EditOp(enum.StrEnum):
    SET = "set"  # the value at `path` becomes `value`
    DELETE = "delete"  # the entry or item at `path` goes
    INSERT = "insert"  # `value` goes into the container at `path` under `key`, right after `after`
    REORDER = "reorder"  # the list at `path` is rearranged: item i of the result is old item order[i]
    SELECT = "select"  # the list at `path` becomes [old[i] for i in order]: items may be left out or repeated


@dataclass(frozen=True)
class Edit:
    op: EditOp
    path: Path
    value: Any = None
    key: Key | None = None  # INSERT: the new key (map) or the new index (list)
    after: Key | None = None  # INSERT: the sibling the new one follows; None: it goes first
    source: Key | None = None  # INSERT: the sibling the value was cloned from, whose text can be reused
    order: tuple[int, ...] = ()  # REORDER, SELECT
    text: str | None = None  # INSERT: the entry's exact YAML text, when it is being put back


def apply(tree: Any, change: Edit) -> Any:
    """The tree with `change` made, sharing every untouched subtree with `tree`."""
    if change.op is EditOp.SET:
        return assoc(tree, change.path, change.value)
    if change.op is EditOp.DELETE:
        return dissoc(tree, change.path)
    if change.op is EditOp.INSERT:
        key, after, value = change.key, change.after, fresh(change.value)

        def insert(container: Any) -> None:
            if is_map(container):
                assert key is not None
                map_insert(container, after, key, value)
            else:
                container.insert(0 if after is None else int(after) + 1, value)

        return edit(tree, change.path, insert)
    order = change.order
    if change.op is EditOp.SELECT:

        def select(container: Any) -> None:
            seen: set[int] = set()
            picked = []
            for i in order:  # an item placed a second time is a copy of its own
                picked.append(fresh(container[i]) if i in seen else container[i])
                seen.add(i)
            while len(container) > len(picked):
                del container[-1]
            for index, item in enumerate(picked):
                if index < len(container):
                    container[index] = item
                else:
                    container.append(item)

        return edit(tree, change.path, select)

    def reorder(container: Any) -> None:
        items = [container[i] for i in order]
        for index, item in enumerate(items):
            container[index] = item

    return edit(tree, change.path, reorder)


def reach(change: Edit) -> Path:
    """The subtree `change` may alter: its path; for a list item deleted, the list (the later items move up)."""
    if change.op is EditOp.DELETE and change.path and isinstance(change.path[-1], int):
        return change.path[:-1]
    return change.path


def independent(a: Edit, b: Edit) -> bool:
    """Do `a` and `b` alter disjoint subtrees, so that both apply, in either order, to the same tree? Neither
    reach may hold the other: a key removed and a value set below it, an item deleted and its sibling's field
    set (the sibling moves), an entry inserted after a removed one, two edits of one path."""
    ra, rb = reach(a), reach(b)
    shorter = min(len(ra), len(rb))
    return ra[:shorter] != rb[:shorter]

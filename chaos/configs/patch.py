"""JSON Merge Patch (RFC 7396) on a parsed config, and the path-level difference of two configs.

A merge patch is how a scenario says "this config, but with these keys changed" without knowing
the rest of the user's file: objects merge, null deletes, anything else replaces. It is applied
copy-on-write to the parsed tree (`tree.edit`), so the YAML or TOML containers, and with them the
file's comments, survive and the dump is the user's file with the change in it.

`diff` lists what changed between two trees as (path, added/removed/changed, old, new), which is
what a report shows for every config version a storm wrote.
"""

from __future__ import annotations

import difflib
import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chaos.configs.tree import Path, dotted, fresh, is_map, is_seq, plain, same, shallow_copy


def merge_patch(target: Any, patch: Any) -> Any:
    """`target` with `patch` merged in (RFC 7396); `target` itself is left untouched."""
    if not isinstance(patch, Mapping):
        return fresh(patch)
    result = shallow_copy(target) if is_map(target) else {}
    for key, value in patch.items():
        if value is None:
            if key in result:
                del result[key]
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


class ChangeKind(enum.StrEnum):
    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"


@dataclass(frozen=True)
class Change:
    """One difference: the path, what happened, and the old and new values (builtins, None if absent)."""

    path: Path
    kind: ChangeKind
    old: Any = None
    new: Any = None

    @property
    def dotted(self) -> str:
        return dotted(self.path)

    def __str__(self) -> str:
        if self.kind is ChangeKind.ADDED:
            return f"+ {self.dotted} = {_short(self.new)}"
        if self.kind is ChangeKind.REMOVED:
            return f"- {self.dotted} (was {_short(self.old)})"
        return f"~ {self.dotted}: {_short(self.old)} -> {_short(self.new)}"


def diff(old: Any, new: Any, path: Path = ()) -> list[Change]:
    """Every path where `new` differs from `old`, parents before children, in document order.

    Maps are compared key by key; lists of the same length index by index; lists whose length
    changed are aligned first, so one inserted or dropped item is one change, not a cascade.
    Subtrees shared by both trees (copy-on-write edits) are skipped without a look.
    """
    if old is new:
        return []
    if is_map(old) and is_map(new):
        changes: list[Change] = []
        for key, value in old.items():
            if key not in new:
                changes.append(Change((*path, key), ChangeKind.REMOVED, plain(value)))
            else:
                changes.extend(diff(value, new[key], (*path, key)))
        changes.extend(Change((*path, key), ChangeKind.ADDED, None, plain(value))
                       for key, value in new.items() if key not in old)
        return changes
    if is_seq(old) and is_seq(new):
        return _diff_lists(old, new, path)
    if same(old, new):
        return []
    return [Change(path, ChangeKind.CHANGED, plain(old), plain(new))]


def _diff_lists(old: list[Any], new: list[Any], path: Path) -> list[Change]:
    if len(old) == len(new):
        return [c for i, (a, b) in enumerate(zip(old, new, strict=True)) for c in diff(a, b, (*path, i))]
    matcher = difflib.SequenceMatcher(None, [_fingerprint(v) for v in old], [_fingerprint(v) for v in new],
                                      autojunk=False)
    changes: list[Change] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            continue
        paired = min(i2 - i1, j2 - j1) if op == "replace" else 0
        for k in range(paired):
            changes.extend(diff(old[i1 + k], new[j1 + k], (*path, j1 + k)))
        changes.extend(Change((*path, i), ChangeKind.REMOVED, plain(old[i])) for i in range(i1 + paired, i2))
        changes.extend(Change((*path, j), ChangeKind.ADDED, None, plain(new[j])) for j in range(j1 + paired, j2))
    return changes


def _fingerprint(value: Any) -> str:
    return json.dumps(plain(value), sort_keys=True, default=str)


def _short(value: Any, width: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= width else text[: width - 3] + "..."

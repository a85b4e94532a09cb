"""Edits spliced into YAML text: only the lines an edit touches change.

A full round-trip dump of a 200-line YAML file costs ~15 ms of pure-Python emitting; a storm wants
a new version every few milliseconds, and a person reading the written file wants to see only the
edited lines differ. So an `Edit` is made on the text itself, guided by where libyaml's composer
says each node starts and ends (~1 ms for 200 lines, once per text):

- a scalar is replaced in place, in its own quoting style, so the line's comment stays;
- an entry or item of a block collection is a run of whole lines: from its first line to its last
  non-blank line, plus the comments and blank lines before it (those at or left of its own column,
  which describe it); deleting, cloning, reordering and selecting items (some left out, some
  repeated) move such runs;
- anything inside a flow collection (`[a, b]`, `{k: v}`) re-renders that collection on its line;
- a value that needs a new shape is written as a flow collection (`key:\\n  []`).

Anything it cannot place for certain (aliases and merge keys, a map starting on a `- ` line, keys
that are not plain scalars) raises `Unspliceable`, and the caller dumps the whole tree instead.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

import yaml

from chaos.configs.edits import Edit, EditOp
from chaos.configs.tree import Key, Path, get, is_map, is_seq, scalar_kind

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_PLAIN_SAFE = re.compile(r"[A-Za-z0-9_/][A-Za-z0-9_./@-]*")
#: Plain scalars some YAML resolver (1.1 or 1.2) reads as a number or a date rather than a string.
_NOT_A_STRING = re.compile(r"^[-+]?[0-9_.]+(?:[eE][-+]?[0-9]+)?$|^0[xob][0-9a-fA-F_]+$|^\d{4}-\d\d?-\d\d?")
_RESERVED = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"}
_MERGE_TAG = "tag:yaml.org,2002:merge"


class Unspliceable(Exception):
    """The edit cannot be placed in the text with certainty: dump the whole tree instead."""


@dataclass(frozen=True)
class _Child:
    first: int  # first line of the run, including the comments before it (not for the first child)
    head: int  # the line where the entry's key or the item's dash is
    last: int  # last line of its content


class YamlText:
    """One YAML text with its node positions, ready to have edits spliced in."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.lines = text.splitlines(keepends=True)
        self._root: yaml.Node | None = None

    @property
    def root(self) -> yaml.Node:
        if self._root is None:
            try:
                root = yaml.compose(self.text, Loader=_Loader)
            except yaml.YAMLError as e:
                raise Unspliceable(f"libyaml cannot compose it: {e}") from e
            if root is None:
                raise Unspliceable("empty document")
            _check_plain_graph(root)
            self._root = root
        return self._root

    def apply(self, change: Edit, new_tree: Any) -> str:
        """The text with `change` made; `new_tree` is the tree after it (for re-rendered parts)."""
        in_place = change.op in (EditOp.SET, EditOp.DELETE)
        flow = self._flow_ancestor(change.path[:-1] if in_place else change.path)
        if flow is not None:
            path, node = flow
            return self._splice(node.start_mark.index, node.end_mark.index, _flow(get(new_tree, path)))
        if change.op is EditOp.SET:
            return self._set(change.path, change.value)
        parent_path = change.path[:-1] if change.op is EditOp.DELETE else change.path
        parent = self.node(parent_path)
        children = self._children(parent, parent_path)
        if change.op is EditOp.DELETE:
            index = self._index(parent, change.path[-1])
            if len(children) == 1:
                return self._replace_block(parent, parent_path, children, _flow(get(new_tree, parent_path)))
            if index == 0 and self._after_dash(parent):  # `- a: 1\n  b: 2` -> `- b: 2`
                second = children[1]
                if second.first != second.head:
                    raise Unspliceable("comments between a '- ' line's first entry and the next")
                head = self.lines[children[0].head]
                column = self._column(parent)
                return self._replace_lines(children[0].head, second.head + 1,
                                           head[:column] + self.lines[second.head][column:])
            if index == 0:
                self._own_line(parent)
            child = children[index]
            return self._replace_lines(child.first, child.last + 1, "")
        if change.op is EditOp.INSERT:
            return self._insert(change, parent, children)
        if not change.order:  # no item left: `key:` alone would read as null
            return self._replace_block(parent, parent_path, children, _flow(get(new_tree, parent_path)))
        self._own_line(parent)
        runs = ["".join(self.lines[c.first:c.last + 1]) for c in children]
        runs = [run if run.endswith("\n") else run + "\n" for run in runs]
        start, end = children[0].first, children[-1].last + 1
        return self._replace_lines(start, end, "".join(runs[i] for i in change.order))

    def entry_text(self, path: Path) -> str:
        """The exact lines of the entry at `path` (with the comments before it), to put back later."""
        parent = self.node(path[:-1])
        children = self._children(parent, path[:-1])
        child = children[self._index(parent, path[-1])]
        text = "".join(self.lines[child.first:child.last + 1])
        return text if text.endswith("\n") else text + "\n"

    def node(self, path: Path) -> yaml.Node:
        node = self.root
        for part in path:
            node = self._child_node(node, part)
        return node

    def _child_node(self, node: yaml.Node, part: Key) -> yaml.Node:
        if isinstance(node, yaml.MappingNode):
            return node.value[self._index(node, part)][1]  # type: ignore[no-any-return]
        if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            return node.value[part]  # type: ignore[no-any-return]
        raise Unspliceable(f"no node for {part!r}")

    def _index(self, node: yaml.Node, part: Key) -> int:
        if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            return part
        if not isinstance(node, yaml.MappingNode):
            raise Unspliceable(f"no entry {part!r} here")
        matches = [i for i, (k, _) in enumerate(node.value) if _key_matches(k, part)]
        if len(matches) != 1:
            raise Unspliceable(f"key {part!r} is not one plain key here")
        return matches[0]

    def _flow_ancestor(self, path: Path) -> tuple[Path, yaml.Node] | None:
        node = self.root
        for depth in range(len(path) + 1):
            if isinstance(node, yaml.CollectionNode) and node.flow_style:
                return path[:depth], node
            if depth < len(path):
                node = self._child_node(node, path[depth])
        return None

    def _children(self, parent: yaml.Node, path: Path) -> list[_Child]:
        """Each entry or item of a block collection as a run of lines."""
        if not isinstance(parent, yaml.CollectionNode) or parent.flow_style or not parent.value:
            raise Unspliceable("not a block collection with children")
        heads = [self._head(parent, i) for i in range(len(parent.value))]
        limit = self._limit(path)
        column = self._column(parent)
        children: list[_Child] = []
        for i, head in enumerate(heads):
            end = heads[i + 1] if i + 1 < len(heads) else limit
            last = head
            for line in range(end - 1, head, -1):
                if not _trivia(self.lines[line], column):
                    last = line
                    break
            first = head if i == 0 else children[-1].last + 1
            children.append(_Child(first, head, last))
        return children

    def _head(self, parent: yaml.Node, index: int) -> int:
        if isinstance(parent, yaml.MappingNode):
            key = parent.value[index][0]
            if not isinstance(key, yaml.ScalarNode) or key.style not in ("", "'", '"'):
                raise Unspliceable("a key that is not a plain scalar")
            return int(key.start_mark.line)
        item = parent.value[index]
        line = int(item.start_mark.line)
        before = self.lines[line][: item.start_mark.column] if line < len(self.lines) else ""
        if not re.fullmatch(r"\s*-\s+", before) and not (isinstance(item, yaml.ScalarNode) and item.value == ""):
            raise Unspliceable("a sequence item whose dash is not at the start of its line")
        return line

    def _column(self, parent: yaml.Node) -> int:
        if isinstance(parent, yaml.MappingNode):
            return int(parent.value[0][0].start_mark.column)
        line = self.lines[self._head(parent, 0)]
        return len(line) - len(line.lstrip(" "))

    def _limit(self, path: Path) -> int:
        """The line where the collection at `path` is over: its next sibling's line, or the end."""
        for depth in range(len(path), 0, -1):
            parent = self.node(path[:depth - 1])
            index = self._index(parent, path[depth - 1])
            if index + 1 < len(parent.value):
                return self._head(parent, index + 1)
        end = len(self.lines)
        for i, line in enumerate(self.lines):
            if line.rstrip() == "..." or (i and line.startswith("---")):
                return i
        return end

    def _set(self, path: Path, value: Any) -> str:
        node = self.node(path)
        if isinstance(node, yaml.CollectionNode) and (node.flow_style or not node.value):
            return self._splice(node.start_mark.index, node.end_mark.index, _flow(value))
        if isinstance(node, yaml.ScalarNode) and not is_map(value) and not is_seq(value):
            start, end = node.start_mark.index, node.end_mark.index
            old = self.text[start:end]
            tail = re.search(r"\s*$", old)
            trailing = tail.group() if tail and "\n" in tail.group() else ""
            rendered = _scalar(value, node.style)
            if start and self.text[start - 1] in ":-" and not old:
                rendered = " " + rendered
            return self._splice(start, end, rendered + trailing)
        if isinstance(node, yaml.ScalarNode):
            start, end = node.start_mark.index, node.end_mark.index
            tail = re.search(r"\s*$", self.text[start:end])  # a block scalar ends past its last line break
            trailing = tail.group() if tail and "\n" in tail.group() else ""
            return self._splice(start, end, (" " if self.text[start - 1] == ":" else "") + _flow(value) + trailing)
        children = self._children(node, path)
        if isinstance(node, yaml.MappingNode) and self._after_dash(node):  # `- a: 1\n  b: 2` -> `- {}`
            last = children[-1].last
            return self._splice(node.start_mark.index, self._line_start(last) + len(self.lines[last].rstrip("\r\n")),
                                _flow(value))
        return self._replace_block(node, path, children, _flow(value))

    def _replace_block(self, node: yaml.Node, path: Path, children: list[_Child], flow: str) -> str:
        """The whole block collection `node` written as the flow text `flow`, on its own indented line."""
        self._own_line(node)
        column = self._column(node)
        if path:  # the flow text must sit right of its key, where a block list need not: `key:\n- a`
            parent = self.node(path[:-1])
            if isinstance(parent, yaml.MappingNode):
                key_column = int(parent.value[self._index(parent, path[-1])][0].start_mark.column)
                column = max(column, key_column + 2)
        return self._replace_lines(children[0].head, children[-1].last + 1, " " * column + flow + "\n")

    def _insert(self, change: Edit, parent: yaml.Node, children: list[_Child]) -> str:
        if change.text is not None:
            run = change.text
        elif change.source is not None:
            source = children[self._index(parent, change.source)]
            run = "".join(self.lines[source.head:source.last + 1])
            if source.head == children[0].head:
                self._own_line(parent)
            if isinstance(parent, yaml.MappingNode):
                key = parent.value[self._index(parent, change.source)][0]
                offset = key.start_mark.index - self._line_start(source.head)
                length = key.end_mark.index - key.start_mark.index
                run = run[:offset] + _scalar(change.key, key.style) + run[offset + length:]
        else:
            indent = " " * self._column(parent)
            lead = f"{_scalar(change.key, '')}: " if isinstance(parent, yaml.MappingNode) else "- "
            run = indent + lead + _flow(change.value)
        run = run if run.endswith("\n") else run + "\n"
        if change.after is None:
            self._own_line(parent)
            return self._replace_lines(children[0].head, children[0].head, run)
        after = children[self._index(parent, change.after)]
        return self._replace_lines(after.last + 1, after.last + 1, run)

    def _own_line(self, parent: yaml.Node) -> None:
        """Whole-line edits at a map's first entry need it to start its line, not follow a `- `."""
        if self._after_dash(parent):
            raise Unspliceable("the map starts on a '- ' line")

    def _after_dash(self, node: yaml.Node) -> bool:
        """Is `node` a map whose first key follows something on its line (a `- `)?"""
        if not isinstance(node, yaml.MappingNode) or not node.value:
            return False
        key = node.value[0][0]
        return bool(self.text[key.start_mark.index - key.start_mark.column:key.start_mark.index].strip())

    def _line_start(self, line: int) -> int:
        return sum(len(x) for x in self.lines[:line])

    def _replace_lines(self, start: int, end: int, text: str) -> str:
        before = "".join(self.lines[:start])
        if before and not before.endswith("\n"):
            before += "\n"
        return before + text + "".join(self.lines[end:])

    def _splice(self, start: int, end: int, text: str) -> str:
        return self.text[:start] + text + self.text[end:]


def _trivia(line: str, column: int) -> bool:
    stripped = line.strip()
    if not stripped:
        return True
    return stripped.startswith("#") and len(line) - len(line.lstrip(" ")) <= column


def _key_matches(node: yaml.Node, part: Key) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.value == str(part)


def _check_plain_graph(root: yaml.Node) -> None:
    """Aliases share nodes and merge keys pull entries from elsewhere: an edit could land twice."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            raise Unspliceable("the document uses aliases")
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.tag == _MERGE_TAG:
                    raise Unspliceable("the document uses merge keys")
                stack.extend((key, value))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)


def _scalar(value: Any, style: str | None) -> str:
    """`value` as a YAML scalar, in the style the replaced scalar had when it can keep it."""
    kind = scalar_kind(value)
    if kind == "bool":
        return "true" if value else "false"
    if kind == "null":
        return "null"
    if kind == "int":
        return str(int(value))
    if kind == "float":
        number = float(value)
        if math.isnan(number):
            return ".nan"
        if math.isinf(number):
            return ".inf" if number > 0 else "-.inf"
        return repr(number)
    text = str(value)
    if style == "'" and "\n" not in text:
        return "'" + text.replace("'", "''") + "'"
    if (style in ("", None) and kind == "str" and _PLAIN_SAFE.fullmatch(text) and text.lower() not in _RESERVED
            and not _NOT_A_STRING.match(text)):
        return text
    return json.dumps(text, ensure_ascii=False)


def _flow(value: Any) -> str:
    """`value` as one line of YAML flow syntax."""
    if is_map(value):
        return "{" + ", ".join(f"{_scalar(k, '')}: {_flow(v)}" for k, v in value.items()) + "}"
    if is_seq(value):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    if scalar_kind(value) == "time":
        return str(value.isoformat())
    return _scalar(value, "")

"""JSON Merge Patch (RFC 7396) on parsed configs, and path-level diffs."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from chaos.configs.formats import ConfigFormat, parse
from chaos.configs.patch import Change, ChangeKind, diff, merge_patch
from chaos.configs.tree import plain

#: RFC 7396, Appendix A: original, patch, result.
RFC_EXAMPLES: list[tuple[Any, Any, Any]] = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"a": "foo"}, None, None),
    ({"a": "foo"}, "bar", "bar"),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
]


@pytest.mark.parametrize(("original", "patch", "result"), RFC_EXAMPLES)
def test_rfc7396_appendix_a(original: Any, patch: Any, result: Any) -> None:
    before = copy.deepcopy(original)
    assert merge_patch(original, patch) == result
    assert original == before  # the target is never changed in place


def test_rfc7396_section_3_example() -> None:
    original = {"title": "Goodbye!", "author": {"givenName": "John", "familyName": "Doe"},
                "tags": ["example", "sample"], "content": "This will be unchanged"}
    patch = {"title": "Hello!", "phoneNumber": "+01-123-456-7890", "author": {"familyName": None},
             "tags": ["example"]}
    assert merge_patch(original, patch) == {
        "title": "Hello!", "author": {"givenName": "John"}, "tags": ["example"],
        "content": "This will be unchanged", "phoneNumber": "+01-123-456-7890"}


def test_a_patched_yaml_file_keeps_its_comments() -> None:
    text = "# head\nserver:\n  port: 80   # the port\n  debug: false\nlimits:\n  a: 1\n"
    config = parse(text, ConfigFormat.YAML, "svc.yaml")
    patched = merge_patch(config.tree, {"server": {"port": 81, "debug": None}, "limits": {"b": 2}})
    assert config.dump(patched) == "# head\nserver:\n  port: 81   # the port\nlimits:\n  a: 1\n  b: 2\n"
    assert config.dump() == text


def test_a_patched_toml_file_keeps_its_comments() -> None:
    text = '# head\nname = "svc"  # its name\n\n[server]\nport = 80  # the port\ndebug = false\n'
    config = parse(text, ConfigFormat.TOML, "svc.toml")
    patched = merge_patch(config.tree, {"server": {"port": 81, "debug": None}})
    assert config.dump(patched) == '# head\nname = "svc"  # its name\n\n[server]\nport = 81  # the port\n'
    assert config.dump() == text


def test_diff_lists_paths_kinds_and_values() -> None:
    old = {"a": 1, "b": {"c": [1, 2, 3], "d": "x"}, "gone": True}
    new = {"a": 1.0, "b": {"c": [1, 3], "d": "y", "e": {"f": None}}}
    assert diff(old, new) == [
        Change(("a",), ChangeKind.CHANGED, 1, 1.0),
        Change(("b", "c", 1), ChangeKind.REMOVED, 2),
        Change(("b", "d"), ChangeKind.CHANGED, "x", "y"),
        Change(("b", "e"), ChangeKind.ADDED, None, {"f": None}),
        Change(("gone",), ChangeKind.REMOVED, True),
    ]
    assert [str(c) for c in diff({"r": {"/a.b": [0]}}, {"r": {"/a.b": [0, 5]}})] == ['+ r["/a.b"][1] = 5']


def test_diff_tells_types_apart_and_skips_equal_trees() -> None:
    assert diff({"x": 1}, {"x": True}) == [Change(("x",), ChangeKind.CHANGED, 1, True)]
    assert diff({"x": 1}, {"x": "1"})[0].kind is ChangeKind.CHANGED
    yaml_tree = parse("a: [1, 2]\nb: {c: x}\n", ConfigFormat.YAML, "y.yaml").tree
    assert diff(yaml_tree, plain(yaml_tree)) == []
    assert diff([1, 2], [0, 1, 2]) == [Change((0,), ChangeKind.ADDED, None, 0)]

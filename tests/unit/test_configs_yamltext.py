"""YAML edits spliced into the text: only the edited lines change, and the text always parses to
the edited tree; what cannot be placed for certain is dumped whole instead."""

from __future__ import annotations

import pytest

from chaos.configs.edits import Edit, EditOp, apply
from chaos.configs.formats import ConfigFormat, parse
from chaos.configs.mutations import Mutator
from chaos.configs.tree import Path, plain
from chaos.configs.yamltext import Unspliceable, YamlText

TRICKY = {
    "block scalars": "a: |\n  line one\n  # not a comment\n\nb: >-\n  folded\n  text\nc: 1\nd:\n  - x\n  - y\n",
    "flow collections": "a: [1, 2, 3]\nb: {x: 1, y: [true, false]}\nc:\n  - {n: 1}\n  - {n: 2}\n",
    "comments everywhere": ("# head\na:   # a\n  # about x\n  x: 1  # x\n\n  # about y\n  y: 2\n# tail of a\n"
                            "b: [1, 2]\n"),
    "records in a list": "r:\n- name: a\n  port: 1\n  tags: [t]\n- name: b\n  port: 2\n  tags: [t, u]\nz: 0\n",
    "nulls and quotes": "a:\nb: ''\nc: \"q\"\nd: 'it''s'\ne: ~\nf: [1]\n",
    "no final newline": "a:\n  b: 1\n  c: [1, 2]\nd:\n  - 5\n  - 6",
    "nested lists": "m:\n  - - 1\n    - 2\n  - - 3\nn:\n  k: [1]\n  l: 2\n",
}


@pytest.mark.parametrize("name", sorted(TRICKY))
def test_spliced_text_parses_to_the_mutated_tree(name: str) -> None:
    config = parse(TRICKY[name], ConfigFormat.YAML, f"{name}.yaml")
    for seed in range(3):
        mutator = Mutator(config, seed)
        for mutation in mutator.mutations(25):
            assert plain(parse(mutation.text, ConfigFormat.YAML, "out.yaml").tree) == mutation.data, (
                name, mutation, mutation.text)


def test_a_scalar_is_replaced_in_place_in_its_own_quoting_with_its_comment() -> None:
    text = "a: 1   # one\nb: 'x'  # quoted\nc: \"y\"\nd: plain\n"
    tree = parse(text, ConfigFormat.YAML, "t.yaml").tree
    yaml_text = YamlText(text)
    for path, value, expected in [
        (("a",), 2, "a: 2   # one\n"),
        (("b",), "it's", "b: 'it''s'  # quoted\n"),
        (("c",), "z", 'c: "z"\n'),
        (("d",), "true", 'd: "true"\n'),
        (("d",), "v2", "d: v2\n"),
    ]:
        change = Edit(EditOp.SET, path, value)
        out = yaml_text.apply(change, apply(tree, change))
        assert expected in out and out.count("\n") == 4


def test_deleting_an_entry_takes_the_comments_before_it_and_leaves_the_rest() -> None:
    text = "a: 1\n\n# about b\nb:\n  x: 1\n  y: 2\n# about c\nc: 3\n"
    tree = parse(text, ConfigFormat.YAML, "t.yaml").tree
    change = Edit(EditOp.DELETE, ("b",))
    assert YamlText(text).apply(change, apply(tree, change)) == "a: 1\n# about c\nc: 3\n"
    last = Edit(EditOp.DELETE, ("b", "y"))
    assert YamlText(text).apply(last, apply(tree, last)) == "a: 1\n\n# about b\nb:\n  x: 1\n# about c\nc: 3\n"


def test_deleting_the_only_child_leaves_an_empty_collection_not_a_null() -> None:
    text = "a:\n  only: 1\nb:\n  - 1\n"
    tree = parse(text, ConfigFormat.YAML, "t.yaml").tree
    cases: list[tuple[Path, str]] = [(("a", "only"), "a:\n  {}\nb:\n  - 1\n"), (("b", 0), "a:\n  only: 1\nb:\n  []\n")]
    for path, expected in cases:
        change = Edit(EditOp.DELETE, path)
        assert YamlText(text).apply(change, apply(tree, change)) == expected


def test_a_clone_copies_the_siblings_lines_under_a_new_key() -> None:
    text = "routes:\n  /a:\n    status: 200   # ok\n  /b:\n    status: 404\n"
    tree = parse(text, ConfigFormat.YAML, "t.yaml").tree
    change = Edit(EditOp.INSERT, ("routes",), tree["routes"]["/a"], key="/a2", after="/a", source="/a")
    out = YamlText(text).apply(change, apply(tree, change))
    assert out == "routes:\n  /a:\n    status: 200   # ok\n  /a2:\n    status: 200   # ok\n  /b:\n    status: 404\n"


@pytest.mark.parametrize(("text", "change"), [
    ("base: &b {x: 1}\nother: *b\n", Edit(EditOp.SET, ("base", "x"), 2)),
    ("d: &d\n  x: 1\ne:\n  <<: *d\n  y: 2\n", Edit(EditOp.DELETE, ("e", "y"))),
    ("l:\n- a: 1\n  # about b\n  b: 2\n", Edit(EditOp.DELETE, ("l", 0, "a"))),
    ("l:\n- - 1\n  - 2\n", Edit(EditOp.DELETE, ("l", 0, 0))),
    ("? [complex]\n: 1\n", Edit(EditOp.SET, ("x",), 1)),
])
def test_what_cannot_be_placed_for_certain_is_refused(text: str, change: Edit) -> None:
    with pytest.raises(Unspliceable):
        YamlText(text).apply(change, {})


def test_the_first_entry_of_a_map_on_a_dash_line_is_deleted_and_the_next_takes_the_dash() -> None:
    text = "l:\n- a: 1  # one\n  b: 2  # two\n  c: 3\n- a: 4\n  b: 5\nz: 0\n"
    tree = parse(text, ConfigFormat.YAML, "t.yaml").tree
    change = Edit(EditOp.DELETE, ("l", 0, "a"))
    out = YamlText(text).apply(change, apply(tree, change))
    assert out == "l:\n- b: 2  # two\n  c: 3\n- a: 4\n  b: 5\nz: 0\n"


def test_a_map_on_a_dash_line_set_whole_becomes_flow_on_that_line() -> None:
    text = "l:\n  # first\n  - a: 1\n    b: [x, y]\n  # second\n  - a: 2\nz: 0\n"
    tree = parse(text, ConfigFormat.YAML, "t.yaml").tree
    change = Edit(EditOp.SET, ("l", 0), {})
    out = YamlText(text).apply(change, apply(tree, change))
    assert out == "l:\n  # first\n  - {}\n  # second\n  - a: 2\nz: 0\n"


def test_a_block_scalar_replaced_by_a_collection_keeps_the_line_break_after_it() -> None:
    text = "banner: |\n  Welcome.\n  Be nice.\n\nnext: 1\n"
    tree = parse(text, ConfigFormat.YAML, "t.yaml").tree
    change = Edit(EditOp.SET, ("banner",), ["Welcome.\nBe nice.\n"])
    out = YamlText(text).apply(change, apply(tree, change))
    assert out == 'banner: ["Welcome.\\nBe nice.\\n"]\n\nnext: 1\n'
    assert plain(parse(out, ConfigFormat.YAML, "o.yaml").tree) == {"banner": ["Welcome.\nBe nice.\n"], "next": 1}


def test_a_string_ending_in_a_line_break_is_quoted() -> None:
    text = "body: x\n"
    tree = parse(text, ConfigFormat.YAML, "t.yaml").tree
    change = Edit(EditOp.SET, ("body",), ["hello\n"])
    out = YamlText(text).apply(change, apply(tree, change))
    assert out == 'body: ["hello\\n"]\n'


@pytest.mark.parametrize(("order", "expected"), [
    ((0,), "l:\n  # a\n  - a\nz: 0\n"),
    ((0, 0, 1, 1), "l:\n  # a\n  - a\n  - a\n  # b\n  - b\n  # b\n  - b\nz: 0\n"),
    ((), "l:\n  # a\n  []\nz: 0\n"),  # the comment before the first item stays, as a delete leaves it
])
def test_selecting_items_moves_their_lines(order: tuple[int, ...], expected: str) -> None:
    text = "l:\n  # a\n  - a\n  # b\n  - b\nz: 0\n"
    tree = parse(text, ConfigFormat.YAML, "t.yaml").tree
    change = Edit(EditOp.SELECT, ("l",), order=order)
    new_tree = apply(tree, change)
    assert plain(new_tree)["l"] == [["a", "b"][i] for i in order]
    assert YamlText(text).apply(change, new_tree) == expected


def test_a_mutator_falls_back_to_a_full_dump_and_counts_it() -> None:
    config = parse("base: &b\n  x: 1\n  y: [1, 2]\nother: *b\n", ConfigFormat.YAML, "t.yaml")
    mutator = Mutator(config, 1)
    outputs = list(mutator.mutations(30))
    assert mutator.full_dumps > 0
    assert all(plain(parse(m.text, ConfigFormat.YAML, "o.yaml").tree) == m.data for m in outputs)

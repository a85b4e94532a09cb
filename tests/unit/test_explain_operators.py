"""`gochaos explain operators [NAME]`: the one operator table pattern auto writes from, as the table holds it."""

from __future__ import annotations

import pytest

from chaos.cli import main
from chaos.configs.operators import OPERATORS
from chaos.errors import ExitCode, UsageError
from chaos.explain import explain


def test_every_operator_is_one_row_in_table_order_with_what_it_applies_to_its_expectation_and_band(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["explain", "operators"]) == ExitCode.PASS
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("mutation operators: what reload_storm's pattern auto writes at each site")
    header = next(i for i, line in enumerate(lines) if line.split()[:2] == ["operator", "applies"])
    rows = lines[header + 1:]
    assert [row.split()[0] for row in rows] == [op.name for op in OPERATORS]
    for row, op in zip(rows, OPERATORS, strict=True):
        assert row.startswith(f"  {op.name} ") and f"  {op.applies}  " in row
        assert f"  {op.expect.value}  " in row and f"  {op.priority.value}  " in row
        assert row.endswith(f"  {op.description}")
    remove = next(row for row in rows if row.split()[0] == "remove-key")
    assert "unknown" in remove and "a strict decoder accepts a missing key" in remove
    assert "reject" in next(row for row in rows if row.split()[0] == "string-for-number")


def test_one_operator_and_the_mutations_alias() -> None:
    (row,) = [line for line in explain("operators", "empty-list") if line.startswith("  empty-list")]
    assert row.split()[:5] == ["empty-list", "list", "(1+", "items)", "unknown"]
    assert explain("mutations") == explain("operators")


@pytest.mark.parametrize(("kind", "name", "message"), [
    ("operators", "emtpy-list", "unknown operator 'emtpy-list'; did you mean 'empty-list'?"),
    ("operator", None, "cannot explain 'operator'; did you mean 'operators'?"),
])
def test_unknown_operators_are_usage_errors_with_did_you_mean(
    kind: str, name: str | None, message: str, capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(UsageError, match=message.replace("?", r"\?")):
        explain(kind, name)
    assert main(["explain", kind, *([name] if name else [])]) == ExitCode.USAGE
    assert message in capsys.readouterr().err

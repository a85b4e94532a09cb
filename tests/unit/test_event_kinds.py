"""Event kinds: one enum every producer and reader names, refused as strings, read back strictly."""

from __future__ import annotations

import ast
import gzip
import json
from pathlib import Path

import pytest
from report_samples import sample_result

from chaos.report import json_report
from chaos.timeline import Event, EventFamily, EventKind, Timeline

CHAOS = Path(__file__).resolve().parents[2] / "chaos"
RUNS = Path(__file__).resolve().parents[1] / "data" / "runs"
VALUES = {kind.value for kind in EventKind}


def sources() -> list[tuple[Path, ast.Module]]:
    return [(path, ast.parse(path.read_text(encoding="utf-8"), str(path)))
            for path in sorted(CHAOS.rglob("*.py")) if path.name != "timeline.py" or path.parent != CHAOS]


def test_every_kind_is_dotted_under_a_family_and_every_family_has_kinds() -> None:
    for kind in EventKind:
        family, _, name = kind.value.partition(".")
        assert kind.family is EventFamily(family) and name, kind
    assert {kind.family for kind in EventKind} == set(EventFamily)


def test_a_plain_string_is_refused_when_recorded() -> None:
    timeline = Timeline()
    with pytest.raises(TypeError, match=r"'fault\.start' is not an EventKind.*EventKind\.parse"):
        timeline.record("fault.start", "reload_storm")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="is not an EventKind"):
        Event(0, "fault.start", "reload_storm")  # type: ignore[arg-type]
    assert timeline.events() == []


def test_parse_reads_a_kind_back_and_names_the_valid_ones_for_anything_else() -> None:
    assert EventKind.parse("etcd.leader_lost") is EventKind.ETCD_LEADER_LOST
    with pytest.raises(ValueError, match=r"unknown event kind 'fault\.strat'; did you mean 'fault\.start'\? "
                                         r"\(valid: .*etcd\.leader_lost.*\)"):
        EventKind.parse("fault.strat")
    with pytest.raises(ValueError, match=r"unknown event kind 'fault\.'"):
        EventKind.parse("fault.")


def test_family_queries_match_every_kind_of_the_family_and_nothing_else() -> None:
    timeline = Timeline()
    for t_ns, kind in enumerate(EventKind):
        timeline.record(kind, "src", t_ns=t_ns)
    for family in EventFamily:
        found = [e.kind for e in timeline.events(family=family)]
        assert found == [k for k in EventKind if k.value.startswith(f"{family.value}.")], family
    assert [e.kind for e in timeline.events(EventKind.FAULT_END, family=EventFamily.FAULT)] == [EventKind.FAULT_END]
    assert timeline.events(EventKind.FAULT_END, family=EventFamily.ETCD) == []


def test_report_json_writes_plain_strings_that_read_back_as_the_same_kinds(tmp_path: Path) -> None:
    result = sample_result()
    written = json.loads(json_report.write(result, tmp_path).read_text())["events"]
    assert all(type(e["kind"]) is str for e in written)
    assert [EventKind.parse(e["kind"]) for e in written] == [e.kind for e in result.timeline.events()]


@pytest.mark.parametrize("run", sorted(p.name for p in RUNS.glob("*.json.gz")))
def test_every_kind_in_the_captured_runs_is_a_member(run: str) -> None:
    events = json.loads(gzip.decompress((RUNS / run).read_bytes()))["events"]
    assert events and {EventKind.parse(kind) for _, kind, _, _ in events} <= set(EventKind)


def test_no_module_spells_an_event_kind_as_a_string() -> None:
    spelled = [f"{path.relative_to(CHAOS.parent)}:{node.lineno}: {node.value!r}"
               for path, tree in sources() for node in ast.walk(tree)
               if isinstance(node, ast.Constant) and node.value in VALUES]
    assert spelled == []


def test_every_recorded_or_queried_kind_names_a_member() -> None:
    named: list[str] = []
    for path, tree in sources():
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("record", "events", "sample_now")):
                continue
            given = [*node.args[:1], *(k.value for k in node.keywords if k.arg == "kind")]
            for arg in given:
                if isinstance(arg, ast.Attribute) and isinstance(arg.value, ast.Name) and arg.value.id == "EventKind":
                    assert arg.attr in EventKind.__members__, f"{path}:{arg.lineno}: EventKind.{arg.attr}"
                    named.append(arg.attr)
                else:
                    assert isinstance(arg, ast.Name), f"{path}:{arg.lineno}: {ast.unparse(arg)} is not an EventKind"
    assert len(set(named)) == len(EventKind), set(EventKind.__members__) - set(named)

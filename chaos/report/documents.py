"""The shape of report.json, declared once: its writer is type-checked against it, its readers validate with it.

`chaos.report.json_report` builds these documents and mypy holds it to every key below;
`chaos.report.history` reads old reports through the same declarations (pydantic validates a TypedDict), so
a renamed field breaks the build, not a history table months later. Fields added after schema 1 was
first written are `NotRequired`: reports of older runs still read.
"""

from __future__ import annotations

from typing import Any, NotRequired

from typing_extensions import TypedDict  # pydantic validates only this one on Python < 3.12

SCHEMA_VERSION = 1
FILENAME = "report.json"


class EvidenceDocument(TypedDict):
    t_ns: int | None
    text: str


class FindingDocument(TypedDict):
    check: str
    status: str
    summary: str
    figures: dict[str, Any]
    evidence: list[EvidenceDocument]


class FaultDocument(TypedDict):
    name: str
    fault_id: int
    target: str | None
    start_ns: int
    end_ns: int
    landed: bool
    summary: str
    #: The injector's own figures (e.g. how long after each write the target served it).
    details: dict[str, Any]


class EventDocument(TypedDict):
    t_ns: int
    kind: str
    source: str
    details: dict[str, Any]


class WindowDocument(TypedDict):
    """The requests started in one phase of the run, as the load saw them."""

    requests: int
    errors: int
    #: Share of those requests that succeeded (None: no requests).
    availability: float | None
    p50_ms: float | None
    p99_ms: float | None


class RunDocument(TypedDict):
    """One run of one scenario."""

    schema: int
    scenario: str
    buggy: bool
    seed: int
    verdict: str
    exit_code: int
    started_ns: int
    phases: dict[str, int]
    #: Per phase (`baseline`, `faults`, `observe`): what the load saw, whatever oracles ran.
    load: NotRequired[dict[str, WindowDocument]]
    #: The scenario file that ran (absent for a scenario written in Python): `gochaos shrink` replays it.
    scenario_file: NotRequired[str]
    #: The run's artefacts (targets' logs, a storm's kept writes), when it had a report dir.
    artefacts: NotRequired[str]
    findings: list[FindingDocument]
    faults: list[FaultDocument]
    events: list[EventDocument]


class SuiteDocument(TypedDict):
    """Several runs in one report (a gate, `--repeat`): the worst verdict, and each run."""

    schema: int
    verdict: str
    exit_code: int
    runs: list[RunDocument]


#: The phases `RunDocument.load` reports, in order.
BASELINE, FAULTS, OBSERVE = "baseline", "faults", "observe"

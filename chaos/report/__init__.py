"""Reports of a run: the live console, the verdict table, and files for machines and people.

``json_report`` (report.json), ``junit`` (junit.xml, for CI) and ``html`` (report.html, one
self-contained page with timeline plots) each offer ``write(result, directory)`` for one run and
``write_many(results, directory)`` for several (a gate runs several scenarios).
"""

from __future__ import annotations

from collections.abc import Iterable

from chaos.verdict import Status


def overall_status(statuses: Iterable[Status]) -> Status:
    """Several runs as one outcome: any FAIL fails, then any INCONCLUSIVE; none at all is inconclusive."""
    seen = set(statuses)
    for status in (Status.FAIL, Status.INCONCLUSIVE, Status.PASS):
        if status in seen:
            return status
    return Status.INCONCLUSIVE

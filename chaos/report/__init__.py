"""Reports of a run: the live console, the verdict table, and files for machines and people.

``json_report`` (report.json), ``junit`` (junit.xml, for CI) and ``html`` (report.html, one
self-contained page with timeline plots) each offer ``write(result, directory)`` for one run and
``write_many(results, directory)`` for several (a gate runs several scenarios). Several runs add up
to one outcome by ``overall_status``, the same precedence a single run's findings follow.
"""

from __future__ import annotations

from chaos.verdict import overall_status

__all__ = ["overall_status"]

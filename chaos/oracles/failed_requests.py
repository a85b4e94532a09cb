"""What failed requests got, as their clients saw them: one vocabulary for every oracle that quotes them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from chaos.timeline import RequestRecord


def said(record: RequestRecord) -> str:
    """What one failed request got: its status (or no response) and the client's error."""
    status = f"status {record.status}" if record.status else "no response"
    return f"{record.name or 'request'}: {status}" + (f", {record.error}" if record.error else "")


def commonest(failed: Sequence[RequestRecord]) -> str:
    """The most frequent of `said` among `failed`, with its count ('' when nothing failed)."""
    if not failed:
        return ""
    (text, count), *_ = Counter(said(r) for r in failed).most_common(1)
    return f"{text} ({count}x)"

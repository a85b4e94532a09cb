"""The wire format between the Locust child and the parent."""

from __future__ import annotations

import pytest

from chaos.load.stream import LoadTotals, decode, encode, to_records, totals_message


def test_records_round_trip_with_keyed_fields() -> None:
    batch = [
        [1_000, 2.5, True, "GET /", 200, None, "v7", None, None, None],
        [2_000, 9.0, False, "GET /kv/{key}", 404, "HTTPError: 404", "v7", "k1", "a", None],
    ]
    message = decode(encode({"t": "r", "r": batch}))
    plain = to_records(message["r"])
    assert [(r.t_ns, r.latency_ms, r.ok, r.name, r.status, r.error, r.version) for r in plain] \
        == [(1_000, 2.5, True, "GET /", 200, None, "v7"),
            (2_000, 9.0, False, "GET /kv/{key}", 404, "HTTPError: 404", "v7")]
    assert [(r.key, r.expected, r.observed) for r in plain] == [(None, None, None), ("k1", "a", None)]


def test_totals_round_trip() -> None:
    msg = decode(encode(totals_message(
        num_requests=5, num_failures=1, entries=[("GET", "/", 3, 0), ("PUT", "/c", 2, 1)],
        records_sent=5, workers=2, complete=True)))
    totals = LoadTotals.from_message(msg)
    assert (totals.num_requests, totals.num_failures, totals.workers) == (5, 1, 2)
    entry = totals.entry("PUT", "/c")
    assert entry is not None and (entry.num_requests, entry.num_failures) == (2, 1)
    assert totals.entry("GET", "/missing") is None


@pytest.mark.parametrize("line", [b"[1,2]\n", b'{"x": 1}\n', b"not json\n"])
def test_decode_rejects_non_messages(line: bytes) -> None:
    with pytest.raises(ValueError):
        decode(line)

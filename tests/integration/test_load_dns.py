"""The built-in `dns` user against a tiny DNS server in this process: every query reaches the
timeline with its rcode as status, a wrong rcode and a timeout count as failures, and the run's
pacing holds. Each test runs a couple of seconds of load on loopback."""

from __future__ import annotations

import collections
import contextlib
import selectors
import socket
import threading
import time
from collections.abc import Iterator

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from chaos.load import LoadRun, LoadSpec
from chaos.timeline import RequestRecord, Timeline

pytestmark = pytest.mark.integration

#: The one name the server resolves (A only).
KNOWN = "ok.test."
KNOWN_ADDRESS = "127.0.0.1"
#: A name the server never answers, so the client times out.
SILENT = "silent.test."
#: The server stops by itself after this long, whatever the test does.
SERVER_LIFETIME_S = 60.0


class TinyDns:
    """A DNS server on 127.0.0.1 (UDP and TCP, each on its own port) in a thread: A for KNOWN,
    NOERROR without answers for KNOWN's other types, silence for SILENT, NXDOMAIN otherwise."""

    def __init__(self) -> None:
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.bind(("127.0.0.1", 0))
        self.tcp.listen(64)
        self.udp_port: int = self.udp.getsockname()[1]
        self.tcp_port: int = self.tcp.getsockname()[1]
        #: Answers sent, by (transport, qname, rcode).
        self.answered: collections.Counter[tuple[str, str, str]] = collections.Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="tiny-dns", daemon=True)

    def __enter__(self) -> TinyDns:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.udp.close()
        self.tcp.close()
        assert not self._thread.is_alive()

    def _answer(self, wire: bytes, transport: str) -> bytes | None:
        query = dns.message.from_wire(wire)
        question = query.question[0]
        qname = question.name.to_text()
        if qname == SILENT:
            return None
        reply = dns.message.make_response(query)
        if qname != KNOWN:
            reply.set_rcode(dns.rcode.NXDOMAIN)
        elif question.rdtype == dns.rdatatype.A:
            reply.answer.append(dns.rrset.from_text(KNOWN, 30, "IN", "A", KNOWN_ADDRESS))
        self.answered[(transport, qname, dns.rcode.to_text(reply.rcode()))] += 1
        return reply.to_wire()

    def _serve(self) -> None:
        deadline = time.monotonic() + SERVER_LIFETIME_S
        with selectors.DefaultSelector() as sel:
            sel.register(self.udp, selectors.EVENT_READ)
            sel.register(self.tcp, selectors.EVENT_READ)
            while not self._stop.is_set() and time.monotonic() < deadline:
                for key, _ in sel.select(timeout=0.05):
                    if key.fileobj is self.udp:
                        wire, peer = self.udp.recvfrom(65535)
                        reply = self._answer(wire, "udp")
                        if reply is not None:
                            self.udp.sendto(reply, peer)
                    else:
                        conn, _ = self.tcp.accept()
                        with conn, contextlib.suppress(OSError):
                            self._serve_tcp(conn)

    def _serve_tcp(self, conn: socket.socket) -> None:
        conn.settimeout(1.0)
        size = int.from_bytes(_read_exactly(conn, 2), "big")
        reply = self._answer(_read_exactly(conn, size), "tcp")
        if reply is not None:
            conn.sendall(len(reply).to_bytes(2, "big") + reply)


def _read_exactly(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise ConnectionError("peer closed mid-message")
        data += chunk
    return data


@pytest.fixture
def server() -> Iterator[TinyDns]:
    with TinyDns() as tiny:
        yield tiny


def _by_name(records: list[RequestRecord]) -> dict[str, list[RequestRecord]]:
    grouped: dict[str, list[RequestRecord]] = collections.defaultdict(list)
    for record in records:
        grouped[record.name].append(record)
    return grouped


def test_dns_user_over_udp_records_rcodes_failures_and_rate(server: TinyDns) -> None:
    users, rps_per_user, duration_s = 3, 40.0, 2.5
    spec = LoadSpec.model_validate({
        "host": f"dns://127.0.0.1:{server.udp_port}", "user": "dns", "users": users,
        "spawn_rate": 30, "duration_s": duration_s, "rps_per_user": rps_per_user,
        "dns": {"timeout_s": 0.2, "queries": [
            {"name": "ok.test", "type": "A", "weight": 4},
            {"name": "gone.test", "type": "A", "weight": 2, "expect_rcode": "NXDOMAIN"},
            {"name": "missing.test", "type": "A", "weight": 2},
            {"name": "silent.test", "type": "A", "weight": 1},
        ]},
    })
    timeline = Timeline()
    with LoadRun(spec, timeline) as run:
        time.sleep(1.2)
        live = run.live()
        assert live.rps > 0 and live.count > 0
        run.wait()
    totals = run.totals
    assert totals is not None and totals.complete
    records = timeline.requests()
    assert len(records) == totals.num_requests == run.records_received > 0
    assert sum(not r.ok for r in records) == totals.num_failures > 0
    assert {(e.method, e.name) for e in totals.entries} <= {
        ("DNS", "A ok.test"), ("DNS", "A gone.test"), ("DNS", "A missing.test"),
        ("DNS", "A silent.test")}

    grouped = _by_name(records)
    assert set(grouped) == {"DNS A ok.test", "DNS A gone.test", "DNS A missing.test",
                            "DNS A silent.test"}
    assert {(r.ok, r.status, r.error) for r in grouped["DNS A ok.test"]} == {(True, 0, None)}
    assert {(r.ok, r.status, r.error) for r in grouped["DNS A gone.test"]} == {(True, 3, None)}
    # NXDOMAIN where NOERROR was expected: the server answered, wrongly
    assert {(r.ok, r.status, r.error) for r in grouped["DNS A missing.test"]} == {
        (False, 3, "UnexpectedRcode: NXDOMAIN (expected NOERROR)")}
    silent = grouped["DNS A silent.test"]
    assert all(not r.ok and r.status == 0 and "Timeout" in (r.error or "") for r in silent)
    assert min(r.latency_ms for r in silent) >= 150

    assert {transport for transport, _, _ in server.answered} == {"udp"}
    assert server.answered[("udp", "missing.test.", "NXDOMAIN")] >= len(grouped["DNS A missing.test"])
    assert sum(server.answered.values()) >= sum(r.name != "DNS A silent.test" for r in records)
    # constant_throughput paces each user: no more than rps_per_user, plus ramp-up slack
    assert len(records) <= users * rps_per_user * (duration_s + 1)


def test_dns_user_over_tcp_takes_host_and_port_from_an_http_url(server: TinyDns) -> None:
    spec = LoadSpec.model_validate({
        "host": f"http://127.0.0.1:{server.tcp_port}", "user": "dns", "users": 2,
        "spawn_rate": 20, "duration_s": 1.5, "wait_s": (0.01, 0.02),
        "dns": {"protocol": "tcp", "timeout_s": 1.0, "queries": [
            {"name": "ok.test", "type": "A", "weight": 3},
            {"name": "ok.test", "type": "TXT", "weight": 1},
            {"name": "missing.test", "type": "AAAA", "weight": 1},
        ]},
    })
    timeline = Timeline()
    with LoadRun(spec, timeline) as run:
        run.wait()
    assert run.totals is not None
    records = timeline.requests()
    assert len(records) == run.totals.num_requests > 0
    grouped = _by_name(records)
    assert {(r.ok, r.status) for r in grouped["DNS A ok.test"]} == {(True, 0)}
    assert {(r.ok, r.status) for r in grouped.get("DNS TXT ok.test", [])} <= {(True, 0)}
    assert {(r.ok, r.status) for r in grouped.get("DNS AAAA missing.test", [])} <= {(False, 3)}
    assert sum(not r.ok for r in records) == run.totals.num_failures
    assert {transport for transport, _, _ in server.answered} == {"tcp"}
    assert sum(server.answered.values()) >= len(records)

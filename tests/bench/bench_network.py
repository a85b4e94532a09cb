"""Network faults through chaosproxy: what the proxy costs, how exact its faults are, how fast they start and stop.

    .venv/bin/python tests/bench/bench_network.py [--quick] [--seed 1] [--out FILE]

Real parts on loopback: the chaosproxy binary as the suite builds it (chaos.build) and starts it
(chaos.network.proxy.ChaosProxy, driven through ProxyClient as the `network` injector drives it), the
bundled configd (a Go HTTP service, on the local platform) as the HTTP upstream, and a TCP + UDP echo
server in a child Python process (its own interpreter, so the server never waits for this process's GIL).
Every figure compares requests through a link with requests straight to the same upstream in the same
run, alternated, because the machine is shared and noisy:

- overhead: no fault, round-trip time direct vs through a link (TCP echo 64 B, HTTP GET keep-alive,
  HTTP GET on a new connection, UDP echo 64 B); target: at most 100 us added at p50.
- delay: `delay` of D ms (10, 50, 200) per direction; the added latency per request (its time through
  the link minus the median direct time) against D x directions; target: within +-5 % or +-1 ms.
  Beside it, the proxy's own turnaround on the link over the same requests (what the `network` injector
  judges an upstream delay by), minus the same direct median.
- onset: traffic runs in a thread while the fault is put on and taken off; when the first request
  showing it started, relative to the PUT returning, and when the first request without it started,
  relative to the DELETE returning (a delay, on HTTP keep-alive; a loss of 1.0, on new connections);
  target: at most 50 ms each.
- loss: the share of failed new TCP connections (UDP: round trips) against the configured probability.
- blackhole and reset: sanity rows on an open TCP connection.
- overhead in one Go process: netfault's TestOverheadNoFault (go test), run after the above: what the
  proxy's own code costs, without a second process to wake or a Python client.

Each loop is bounded in count and in time. Writes JSON (machine with the load average at start and end,
command, figures) to tests/bench/results/network.json. `--quick` runs a few samples of each, in ~30 s.
"""

from __future__ import annotations

import argparse
import http.client
import math
import os
import random
import re
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import command_line, machine_info, quantile, write_report  # noqa: E402

from chaos.build import build, go_executable, go_targets_dir  # noqa: E402
from chaos.network.proxy import ChaosProxy, Direction, FaultSpec, LinkStats, ProxyClient  # noqa: E402
from chaos.platform.local.platform import LocalPlatform  # noqa: E402
from chaos.targets import ConfigSpec, bundled  # noqa: E402
from chaos.timeline import Timeline  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
ROUTE = "/api/hello"
CONFIGD_CONFIG = f'version: "bench"\nlog_level: error\nhttp:\n  routes:\n    {ROUTE}: {{status: 200, body: "hi"}}\n' \
                 "  middleware: []\nrate_limits: {}\n"
MSG = bytes(64)
#: No loop runs longer than this, whatever its count.
LOOP_LIMIT_S = 90.0
OVERHEAD_TARGET_US = 100.0
ONSET_TARGET_MS = 50.0

#: TCP and UDP echo on loopback; prints "TCP_PORT UDP_PORT"; exits when its stdin closes (the bench ended or died).
ECHO_SERVER = r"""
import socket, sys, threading
def serve(c):
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    with c:
        while True:
            try:
                b = c.recv(65536)
                if not b:
                    return
                c.sendall(b)
            except OSError:
                return
def tcp(ln):
    while True:
        c, _ = ln.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()
def udp(u):
    while True:
        b, a = u.recvfrom(65536)
        u.sendto(b, a)
ln = socket.create_server(("127.0.0.1", 0), backlog=1024)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(("127.0.0.1", 0))
threading.Thread(target=tcp, args=(ln,), daemon=True).start()
threading.Thread(target=udp, args=(u,), daemon=True).start()
print(ln.getsockname()[1], u.getsockname()[1], flush=True)
sys.stdin.read()
"""

Addr = tuple[str, int]


@contextmanager
def echo_server() -> Iterator[tuple[Addr, Addr]]:
    """The echo child process, its TCP and UDP addresses; ended (by its pid's process group) on the way out."""
    proc = subprocess.Popen([sys.executable, "-c", ECHO_SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        assert proc.stdout is not None
        ports = proc.stdout.readline().split()
        if len(ports) != 2:
            raise RuntimeError(f"the echo server did not start (exit {proc.poll()})")
        yield ("127.0.0.1", int(ports[0])), ("127.0.0.1", int(ports[1]))
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait(timeout=3)


def addr_of(hostport: str) -> Addr:
    host, port = hostport.rsplit(":", 1)
    return host, int(port)


# -- one request of each kind: seconds it took ------------------------------------------------------
def tcp_connect(addr: Addr, *, timeout_s: float = 2.0, abortive: bool = False) -> socket.socket:
    sock = socket.create_connection(addr, timeout=timeout_s)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if abortive:  # closed with an RST: thousands of short connections leave no TIME_WAIT behind
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    return sock


def echo_round_trip(sock: socket.socket) -> float:
    start = time.perf_counter()
    sock.sendall(MSG)
    got = 0
    while got < len(MSG):
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("the connection closed")
        got += len(chunk)
    return time.perf_counter() - start


def echo_new_connection(addr: Addr) -> bool:
    """Connect, one echo round trip, close: False when the connection was refused or reset."""
    try:
        with tcp_connect(addr, timeout_s=1.0, abortive=True) as sock:
            echo_round_trip(sock)
        return True
    except OSError:
        return False


def http_get(conn: http.client.HTTPConnection) -> float:
    start = time.perf_counter()
    conn.request("GET", ROUTE)
    reply = conn.getresponse()
    reply.read()
    if reply.status != 200:
        raise RuntimeError(f"GET {ROUTE}: HTTP {reply.status}")
    return time.perf_counter() - start


def http_get_new_connection(addr: Addr) -> float:
    start = time.perf_counter()
    with closing(http.client.HTTPConnection(*addr, timeout=5)) as conn:
        http_get(conn)
    return time.perf_counter() - start


class UdpEcho:
    """A connected UDP socket; each round trip tagged with a sequence number so a late reply is never counted."""

    def __init__(self, addr: Addr) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.connect(addr)
        self.seq = 0

    def round_trip(self, timeout_s: float = 2.0) -> float | None:
        """Seconds, or None when no reply came within `timeout_s` (lost)."""
        self.seq += 1
        tag = self.seq.to_bytes(8, "big")
        start = time.perf_counter()
        self.sock.send(tag + MSG[8:])
        while (left := start + timeout_s - time.perf_counter()) > 0:
            self.sock.settimeout(left)
            try:
                if self.sock.recv(2048)[:8] == tag:
                    return time.perf_counter() - start
            except TimeoutError:
                return None
        return None

    def must(self) -> float:
        took = self.round_trip()
        if took is None:
            raise RuntimeError("a UDP echo round trip with no fault got no reply within 2 s")
        return took

    def close(self) -> None:
        self.sock.close()


# -- figures ----------------------------------------------------------------------------------------
def q(samples: list[float], at: float, scale: float = 1.0) -> float:
    return round(quantile(samples, at) * scale, 3)


def overhead(direct: Callable[[], float], proxied: Callable[[], float], pairs: int) -> dict[str, Any]:
    """No fault: alternated round trips (order swapped every pair), warmed up first; times in microseconds."""
    for _ in range(max(20, pairs // 10)):
        direct(), proxied()
    d: list[float] = []
    p: list[float] = []
    deadline = time.monotonic() + LOOP_LIMIT_S
    for i in range(pairs):
        if i % 2:
            d.append(direct())
            p.append(proxied())
        else:
            p.append(proxied())
            d.append(direct())
        if time.monotonic() > deadline:
            break
    us = 1e6
    added = q(p, 0.5, us) - q(d, 0.5, us)
    return {"pairs": len(d), "direct_p50_us": q(d, 0.5, us), "direct_p99_us": q(d, 0.99, us),
            "proxied_p50_us": q(p, 0.5, us), "proxied_p99_us": q(p, 0.99, us),
            "added_p50_us": round(added, 1), "added_p99_us": round(q(p, 0.99, us) - q(d, 0.99, us), 1),
            "paired_added_p50_us": round(statistics.median(b - a for a, b in zip(d, p, strict=True)) * us, 1),
            "ratio_p50": round(quantile(p, 0.5) / quantile(d, 0.5), 3),
            "within_target": added <= OVERHEAD_TARGET_US}


def delay_accuracy(client: ProxyClient, link: str, latency_ms: float, direction: Direction, count: int,
                   direct: Callable[[], float], proxied: Callable[[], float]) -> dict[str, Any]:
    """Per request through the delayed link: its time minus the median direct time, against the configured delay; and
    the proxy's own turnaround (what the `network` injector judges an upstream delay by) minus the same median."""
    factor = 2 if direction == "both" else 1
    expected = latency_ms * factor
    applied = client.set_fault(link, FaultSpec("delay", direction, latency_ms=latency_ms))
    d: list[float] = []
    p: list[float] = []
    deadline = time.monotonic() + LOOP_LIMIT_S
    try:
        for _ in range(count):
            d.append(direct())
            p.append(proxied())
            if time.monotonic() > deadline:
                break
    finally:
        client.clear_fault(link, "delay")
        cleared = time.time_ns()
    base = statistics.median(d)
    turned = client.turnarounds(link, applied, cleared).samples_ms
    added = [(x - base) * 1000 for x in p]
    tolerance = max(0.05 * expected, 1.0)
    err50, err99 = q(added, 0.5) - expected, q(added, 0.99) - expected
    return {"configured_ms": latency_ms, "direction": direction, "expected_added_ms": expected, "requests": len(p),
            "direct_p50_ms": round(base * 1000, 3), "direct_p99_ms": q(d, 0.99, 1000),
            "added_p50_ms": q(added, 0.5), "added_p99_ms": q(added, 0.99),
            "added_min_ms": round(min(added), 3), "added_max_ms": round(max(added), 3),
            "error_p50_ms": round(err50, 3), "error_p99_ms": round(err99, 3), "tolerance_ms": round(tolerance, 3),
            "p50_within_target": abs(err50) <= tolerance, "p99_within_target": abs(err99) <= tolerance,
            "turnarounds": len(turned),
            "turnaround_added_p50_ms": round(statistics.median(turned) - base * 1000, 3) if turned else None}


@dataclass(frozen=True, slots=True)
class Req:
    start: float
    end: float
    ok: bool

    @property
    def ms(self) -> float:
        return (self.end - self.start) * 1000


def _traffic(request: Callable[[], bool], stop: threading.Event, pace_s: float, out: list[Req],
             failed: list[BaseException]) -> None:
    try:
        while not stop.is_set() and len(out) < 100_000:
            start = time.perf_counter()
            ok = request()
            out.append(Req(start, time.perf_counter(), ok))
            if pace_s:
                time.sleep(pace_s)
    except BaseException as e:  # re-raised by the trial, in the main thread
        failed.append(e)


def onset_trial(rng: random.Random, request: Callable[[], bool], pace_s: float, on_s: float,
                apply: Callable[[], int], remove: Callable[[], object],
                affected: Callable[[Req, float], bool], *, holds: bool = False) -> dict[str, Any]:
    """Traffic in a thread; the fault put on (`apply`) at a random moment and taken off (`remove`) `on_s` later.

    Times are relative to the control call returning (ms): negative when a request already in flight when the
    call returned showed it. `affected(request, base_ms)` says whether a request showed the fault. A fault that
    `holds` requests (a delay) reports when the one it held at the DELETE was answered.
    """
    out: list[Req] = []
    failed: list[BaseException] = []
    stop = threading.Event()
    thread = threading.Thread(target=_traffic, args=(request, stop, pace_s, out, failed), daemon=True)
    thread.start()
    try:
        time.sleep(rng.uniform(0.03, 0.06))
        put = time.perf_counter()
        applied_ns = apply()
        t0, t0_wall = time.perf_counter(), time.time_ns()
        time.sleep(on_s)
        delete = time.perf_counter()
        remove()
        t1 = time.perf_counter()
        time.sleep(0.03)
    finally:
        stop.set()
        thread.join(timeout=10)
    if failed:
        raise RuntimeError(f"the onset trial's traffic failed: {failed[0]!r}") from failed[0]
    if thread.is_alive():
        raise RuntimeError("the onset trial's traffic is stuck: its request did not finish within 10 s")
    reqs = list(out)
    base = statistics.median([r.ms for r in reqs if r.end < put] or [0.0])
    showing = next((r for r in reqs if r.end > put and affected(r, base)), None)
    after_on = [r for r in reqs if t0 <= r.start and r.end <= delete]
    after_off = [r for r in reqs if r.start >= t1]
    clean = next((r for r in after_off if not affected(r, base)), None)
    held = next((r for r in reqs if t0 <= r.start < delete < r.end), None) if holds else None
    ms = 1000.0
    return {"put_ms": (t0 - put) * ms, "delete_ms": (t1 - delete) * ms,
            "applied_before_return_ms": (t0_wall - applied_ns) / 1e6 if applied_ns else None,
            "first_showing_start_ms": (showing.start - t0) * ms if showing else None,
            "missed_after_put_ms": [round(r.ms, 3) for r in after_on if not affected(r, base)],
            "requests_after_put": len(after_on),
            "first_clean_start_ms": (clean.start - t1) * ms if clean else None,
            "faulted_after_delete_ms": [round(r.ms, 3) for r in after_off if affected(r, base)],
            "requests_after_delete": len(after_off),
            "held_request_done_ms": (held.end - t1) * ms if held else None}


def summarize_onset(trials: list[dict[str, Any]], what: str) -> dict[str, Any]:
    def stats(key: str) -> dict[str, float | None]:
        values = [t[key] for t in trials if t[key] is not None]
        if not values:
            return {"p50": None, "max": None, "min": None}
        return {"p50": round(statistics.median(values), 3), "max": round(max(values), 3),
                "min": round(min(values), 3)}

    first, clean = stats("first_showing_start_ms"), stats("first_clean_start_ms")
    seen = sum(t["first_showing_start_ms"] is not None for t in trials)
    cleared = sum(t["first_clean_start_ms"] is not None for t in trials)
    missed = [ms for t in trials for ms in t["missed_after_put_ms"]]
    faulted = [ms for t in trials for ms in t["faulted_after_delete_ms"]]
    row = {"what": what, "trials": len(trials), "put_call_ms": stats("put_ms"), "delete_call_ms": stats("delete_ms"),
           "applied_before_put_returned_ms": stats("applied_before_return_ms"),
           "first_showing_start_after_put_ms": first, "trials_showing_it": seen, "missed_after_put": len(missed),
           "missed_after_put_took_ms": missed[:10],
           "requests_after_put": sum(t["requests_after_put"] for t in trials),
           "first_clean_start_after_delete_ms": clean, "trials_clean_after": cleared,
           "faulted_after_delete": len(faulted), "faulted_after_delete_took_ms": faulted[:10],
           "requests_after_delete": sum(t["requests_after_delete"] for t in trials)}
    if any(t["held_request_done_ms"] is not None for t in trials):
        row["held_request_released_after_delete_ms"] = stats("held_request_done_ms")
    row["within_target"] = (seen == len(trials) == cleared and not missed and not faulted
                            and first["max"] is not None and first["max"] <= ONSET_TARGET_MS
                            and clean["max"] is not None and clean["max"] <= ONSET_TARGET_MS)
    return row


def wilson(failed: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % interval of a binomial share: does the configured probability fit what was observed?"""
    if n == 0:
        return 0.0, 1.0
    share = failed / n
    centre = (share + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(share * (1 - share) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return round(centre - half, 4), round(centre + half, 4)


def loss_row(configured: float, expected: float, failed: int, n: int, counters: dict[str, int],
             **extra: Any) -> dict[str, Any]:
    low, high = wilson(failed, n)
    return {"configured_probability": configured, "expected_failed_share": round(expected, 4), "attempts": n,
            "failed": failed, "observed_share": round(failed / n, 4) if n else None, "interval_95": [low, high],
            "expected_within_interval": low <= expected <= high, "proxy_counters": counters, **extra}


def delta(client: ProxyClient, link: str, before: LinkStats, *names: str) -> dict[str, int]:
    after = client.stats(link) - before
    return {name: getattr(after, name) for name in names}


# -- the phases --------------------------------------------------------------------------------------
@dataclass
class Setup:
    client: ProxyClient
    http: Addr  # configd direct
    http_link: Addr
    echo: Addr
    echo_link: Addr
    udp: Addr
    udp_link: Addr
    quick: bool
    rng: random.Random

    def n(self, full: int, quick: int) -> int:
        return quick if self.quick else full


def phase_overhead(s: Setup) -> dict[str, Any]:
    rows: dict[str, Any] = {}
    with tcp_connect(s.echo) as a, tcp_connect(s.echo_link) as b:
        rows["tcp echo 64 B, kept-open connection"] = overhead(lambda: echo_round_trip(a), lambda: echo_round_trip(b),
                                                               s.n(3000, 400))
    with closing(http.client.HTTPConnection(*s.http, timeout=5)) as a_, \
            closing(http.client.HTTPConnection(*s.http_link, timeout=5)) as b_:
        rows["http GET keep-alive (configd)"] = overhead(lambda: http_get(a_), lambda: http_get(b_), s.n(2000, 300))
    rows["http GET, new connection each (configd)"] = overhead(lambda: http_get_new_connection(s.http),
                                                               lambda: http_get_new_connection(s.http_link),
                                                               s.n(1000, 150))
    a2, b2 = UdpEcho(s.udp), UdpEcho(s.udp_link)
    try:
        rows["udp echo 64 B"] = overhead(a2.must, b2.must, s.n(3000, 400))
    finally:
        a2.close()
        b2.close()
    return rows


DELAY_COUNTS = {10: (200, 20), 50: (100, 10), 200: (40, 5)}
DIRECTIONS: tuple[Direction, ...] = ("upstream", "downstream", "both")


def phase_delay(s: Setup) -> dict[str, Any]:
    rows: dict[str, Any] = {}
    with closing(http.client.HTTPConnection(*s.http, timeout=5)) as a, \
            closing(http.client.HTTPConnection(*s.http_link, timeout=5)) as b:
        http_get(a), http_get(b)
        for ms, (full, quick) in DELAY_COUNTS.items():
            for direction in DIRECTIONS:
                rows[f"http {ms} ms {direction}"] = delay_accuracy(
                    s.client, "http", ms, direction, s.n(full, quick), lambda: http_get(a), lambda: http_get(b))
    a2, b2 = UdpEcho(s.udp), UdpEcho(s.udp_link)
    try:
        for ms in (10, 50):
            full, quick = DELAY_COUNTS[ms]
            for direction in DIRECTIONS[::2]:
                rows[f"udp {ms} ms {direction}"] = delay_accuracy(s.client, "udp", ms, direction, s.n(full, quick),
                                                                   a2.must, b2.must)
    finally:
        a2.close()
        b2.close()
    return rows


def phase_onset(s: Setup) -> dict[str, Any]:
    trials = s.n(20, 4)
    # A delayed request takes the whole delay (bytes read after the change wait readAt + latency); a shared machine
    # stalls this process for tens of ms now and then: a 100 ms delay and a 90 ms threshold keep stalls out of it.
    latency = 100.0
    rows: dict[str, Any] = {}
    with closing(http.client.HTTPConnection(*s.http_link, timeout=5)) as conn:
        http_get(conn)

        def get() -> bool:
            http_get(conn)
            return True

        spec = FaultSpec("delay", "upstream", latency_ms=latency)
        found = [onset_trial(s.rng, get, 0.0, 0.35, lambda: s.client.set_fault("http", spec),
                             lambda: s.client.clear_fault("http", "delay"),
                             lambda r, base: r.ms >= base + 0.9 * latency, holds=True) for _ in range(trials)]
    rows["delay 100 ms upstream, http keep-alive"] = summarize_onset(
        found, "a request showed it when it took >= the median before + 90 ms")
    spec = FaultSpec("loss", "both", probability=1.0)
    found = [onset_trial(s.rng, lambda: echo_new_connection(s.echo_link), 0.001, 0.1,
                         lambda: s.client.set_fault("echo", spec), lambda: s.client.clear_fault("echo", "loss"),
                         lambda r, base: not r.ok) for _ in range(trials)]
    rows["loss 1.0, a new tcp connection every 1 ms"] = summarize_onset(
        found, "a request showed it when its connection was reset")
    return rows


def phase_loss(s: Setup) -> dict[str, Any]:
    rows: dict[str, Any] = {}
    for p in (0.1, 0.5):
        n = s.n(2000, 200)
        before = s.client.stats("echo")
        s.client.set_fault("echo", FaultSpec("loss", "both", probability=p))
        failed = attempts = 0
        deadline = time.monotonic() + LOOP_LIMIT_S
        try:
            while attempts < n and time.monotonic() < deadline:
                failed += not echo_new_connection(s.echo_link)
                attempts += 1
        finally:
            s.client.clear_fault("echo", "loss")
        rows[f"tcp loss {p}"] = loss_row(p, p, failed, attempts, delta(
            s.client, "echo", before, "connections_accepted", "connections_refused"))
    a, b = UdpEcho(s.udp), UdpEcho(s.udp_link)
    try:
        for direction in DIRECTIONS[::2]:
            p = 0.1
            n = s.n(600, 100)
            before = s.client.stats("udp")
            s.client.set_fault("udp", FaultSpec("loss", direction, probability=p))
            failed = attempts = direct_lost = 0
            deadline = time.monotonic() + LOOP_LIMIT_S
            try:
                while attempts < n and time.monotonic() < deadline:
                    direct_lost += a.round_trip(0.2) is None
                    failed += b.round_trip(0.2) is None
                    attempts += 1
            finally:
                s.client.clear_fault("udp", "loss")
            expected = p if direction == "upstream" else 1 - (1 - p) ** 2
            rows[f"udp loss {p} {direction}"] = loss_row(
                p, expected, failed, attempts,
                delta(s.client, "udp", before, "datagrams_dropped_upstream", "datagrams_dropped_downstream"),
                direct_lost_control=direct_lost, round_trip_timeout_ms=200)
    finally:
        a.close()
        b.close()
    return rows


def phase_sanity(s: Setup) -> dict[str, Any]:
    rows: dict[str, Any] = {}
    tries = 5
    with tcp_connect(s.echo_link) as sock:
        echo_round_trip(sock)
        before = s.client.stats("echo")
        s.client.set_fault("echo", FaultSpec("blackhole", "both"))
        sock.settimeout(0.1)
        timed_out = 0
        try:
            for _ in range(tries):
                try:
                    echo_round_trip(sock)
                except TimeoutError:
                    timed_out += 1
        finally:
            s.client.clear_fault("echo", "blackhole")
        sock.settimeout(2.0)
        try:
            echo_round_trip(sock)
            answers_after = True
        except OSError:
            answers_after = False
        rows["tcp blackhole both, open connection"] = {
            "round_trips": tries, "timed_out_100ms": timed_out, "same_connection_answers_after_removal": answers_after,
            "proxy_counters": delta(s.client, "echo", before, "bytes_discarded_upstream", "bytes_discarded_downstream")}
    socks = [tcp_connect(s.echo_link) for _ in range(tries)]
    try:
        for sock in socks:
            echo_round_trip(sock)
        before = s.client.stats("echo")
        s.client.set_fault("echo", FaultSpec("reset", "both"))
        try:
            broken = 0
            for sock in socks:
                try:
                    echo_round_trip(sock)
                except OSError:
                    broken += 1
            refused = sum(not echo_new_connection(s.echo_link) for _ in range(tries))
        finally:
            s.client.clear_fault("echo", "reset")
        rows["tcp reset"] = {"open_connections": tries, "open_connections_broken": broken,
                             "new_connections_while_on": tries, "new_connections_refused": refused,
                             "new_connection_ok_after_removal": echo_new_connection(s.echo_link),
                             "proxy_counters": delta(s.client, "echo", before, "connections_reset")}
    finally:
        for sock in socks:
            sock.close()
    return rows


IN_PROCESS = re.compile(r"overhead, no fault, (?P<what>.+?), (?P<n>\d+) round trips each: "
                        r"direct p50 (?P<d50>[\d.]+) µs p99 (?P<d99>[\d.]+) µs; "
                        r"through the proxy p50 (?P<p50>[\d.]+) µs p99 (?P<p99>[\d.]+) µs")


def phase_in_process() -> dict[str, Any]:
    """The proxy's own code, without a second process or a Python client: netfault's TestOverheadNoFault (a Go
    client, the proxy and the upstream in one Go process), run now, beside the figures above."""
    try:
        done = subprocess.run([go_executable(), "test", "-run", "^TestOverheadNoFault$", "-count=1", "-v",
                               "./internal/netfault"], cwd=go_targets_dir(), capture_output=True, text=True,
                              timeout=300)
    except (OSError, subprocess.SubprocessError) as e:
        return {"error": str(e)}
    rows: dict[str, Any] = {}
    for m in IN_PROCESS.finditer(done.stdout):
        d50, d99, p50, p99 = (float(m[k]) for k in ("d50", "d99", "p50", "p99"))
        rows[m["what"]] = {"pairs": int(m["n"]), "direct_p50_us": d50, "direct_p99_us": d99, "proxied_p50_us": p50,
                           "proxied_p99_us": p99, "added_p50_us": round(p50 - d50, 1),
                           "added_p99_us": round(p99 - d99, 1)}
    return rows or {"error": f"go test exited {done.returncode}: {done.stdout[-500:]}{done.stderr[-500:]}"}


def go_version() -> str:
    try:
        return subprocess.run(["go", "version"], capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few samples of each figure (~30 s)")
    parser.add_argument("--seed", type=int, default=1, help="draws the moments the onset trials put faults on")
    parser.add_argument("--out", type=Path, default=RESULTS / "network.json")
    args = parser.parse_args()
    sys.setswitchinterval(0.0005)  # the onset trials run traffic in a thread: it must not wait 5 ms for the GIL
    started, load_at_start = time.monotonic(), os.getloadavg()
    binaries = build(["chaosproxy", "configd"])
    figures: dict[str, Any] = {}
    spec = bundled("configd").model_copy(update={"config": ConfigSpec(initial=CONFIGD_CONFIG)})
    with tempfile.TemporaryDirectory(prefix="gochaos-bench-network-") as tmp, \
            LocalPlatform(timeline=Timeline(), binaries=binaries) as platform, echo_server() as (echo, udp):
        configd = platform.start_target(spec)
        proxy = ChaosProxy(binaries["chaosproxy"], log_path=Path(tmp) / "chaosproxy.log").start()
        try:
            client = proxy.client
            http_addr = (configd.endpoint.host, configd.endpoint.port)
            links = {name: addr_of(client.create_link(name, f"{a[0]}:{a[1]}", protocol=proto).listen)
                     for name, a, proto in (("http", http_addr, "tcp"), ("echo", echo, "tcp"), ("udp", udp, "udp"))}
            setup = Setup(client, http_addr, links["http"], echo, links["echo"], udp, links["udp"], args.quick,
                          random.Random(args.seed))
            for name, phase in (("overhead", phase_overhead), ("delay", phase_delay), ("onset", phase_onset),
                                ("loss", phase_loss), ("blackhole_reset", phase_sanity)):
                print(f"{name} ...", flush=True)
                figures[name] = phase(setup)
        finally:
            proxy.stop()
    print("overhead_in_process_go ...", flush=True)
    figures["overhead_in_process_go"] = phase_in_process()
    report = {"benchmark": "network", "machine": {**machine_info(), "load_avg_1m_at_start": load_at_start[0],
                                                  "load_avg_at_end": os.getloadavg(), "go": go_version()},
              "command": command_line(), "quick": args.quick, "seconds": round(time.monotonic() - started, 1),
              "upstreams": {"http": f"configd (bundled Go target), GET {ROUTE}",
                            "tcp/udp echo": "a child Python process on loopback"},
              "targets": {"overhead_added_p50_us": OVERHEAD_TARGET_US, "delay": "within +-5 % or +-1 ms",
                          "onset_ms": ONSET_TARGET_MS},
              "figures": figures}
    write_report(args.out, report)
    print_summary(figures)
    print(f"wrote {args.out}")
    return 0


def print_summary(figures: dict[str, Any]) -> None:
    for name, row in figures["overhead"].items():
        print(f"overhead {name}: direct p50 {row['direct_p50_us']:.0f} us, through the proxy "
              f"{row['proxied_p50_us']:.0f} us: added p50 {row['added_p50_us']} us, p99 {row['added_p99_us']} us")
    for name, row in figures["overhead_in_process_go"].items():
        print(f"overhead in one Go process, {name}: {row}")
    for name, row in figures["delay"].items():
        print(f"delay {name}: added p50 {row['added_p50_ms']} ms, p99 {row['added_p99_ms']} ms against "
              f"{row['expected_added_ms']} ms (error p50 {row['error_p50_ms']:+}, p99 {row['error_p99_ms']:+}); the "
              f"proxy's turnaround added p50 {row['turnaround_added_p50_ms']} ms ({row['turnarounds']} samples)")
    for name, row in figures["onset"].items():
        print(f"onset {name}: first request showing it started {row['first_showing_start_after_put_ms']} ms after "
              f"the PUT returned ({row['missed_after_put']} of {row['requests_after_put']} later ones missed it); "
              f"first without it {row['first_clean_start_after_delete_ms']} ms after the DELETE "
              f"({row['faulted_after_delete']} of {row['requests_after_delete']} later ones still faulted)")
    for name, row in figures["loss"].items():
        print(f"{name}: {row['failed']}/{row['attempts']} failed ({row['observed_share']}), expected "
              f"{row['expected_failed_share']}, 95 % interval {row['interval_95']}")
    for name, row in figures["blackhole_reset"].items():
        print(f"{name}: {row}")


if __name__ == "__main__":
    sys.exit(main())

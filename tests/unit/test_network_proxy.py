"""The chaosproxy client and owner, against the real binary (built from go_targets/ in seconds, then cached; skipped
without Go), and the links a run makes through it."""

from __future__ import annotations

import http.server
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from chaos import state
from chaos.build import Binaries
from chaos.errors import BuildError, PlatformError
from chaos.network.links import LinkKind, LinkPlan, LinkRequest
from chaos.network.proxy import (
    ChaosProxy,
    FaultSpec,
    LinkStats,
    ProxyClient,
    ProxyNotReady,
    ProxyRefused,
    ProxyUnreachable,
)
from chaos.network.routing import RoutedLink, RunLinks
from chaos.timeline import EventKind, Timeline


@pytest.fixture(scope="module")
def binary() -> Path:
    try:
        return Binaries().get("chaosproxy", race=False)
    except BuildError as e:
        pytest.skip(f"chaosproxy cannot be built here: {e}")


@pytest.fixture
def proxy(binary: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ChaosProxy]:
    monkeypatch.setenv("GOCHAOS_STATE_DIR", str(tmp_path / "state"))
    started = ChaosProxy(binary, log_path=tmp_path / "chaosproxy.log").start()
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    class Quiet(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # one write: no Nagle wait between headers and body to blur the timing
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def timed_get(session: requests.Session, url: str) -> float:
    started = time.perf_counter()
    session.get(url, timeout=5).raise_for_status()
    return (time.perf_counter() - started) * 1000


def test_the_proxy_is_held_in_the_ledger_and_goes_with_stop(proxy: ChaosProxy, tmp_path: Path) -> None:
    assert proxy.running and proxy.client.healthy()
    held = [h for h in state.held() if h.kind == "process_group" and h.key == str(proxy.pid)]
    assert held and held[0].what.endswith("(chaosproxy)") and held[0].data["start"] is not None
    assert f"--parent-pid {os.getpid()}" in " ".join(proxy.process.argv)
    client = proxy.client
    proxy.stop()
    assert not proxy.running and not [h for h in state.held() if h.key == str(proxy.pid)]
    with pytest.raises(ProxyUnreachable, match=r"chaosproxy at http://127\.0\.0\.1:\d+ did not answer GET "
                                               r"/links: .*it has probably exited"):
        client.links()
    assert '"msg":"stopped"' in (tmp_path / "chaosproxy.log").read_text()


def test_a_link_forwards_and_a_delay_on_it_is_felt_then_gone(proxy: ChaosProxy, upstream: str) -> None:
    link = proxy.client.create_link("web", upstream)
    assert link.upstream == upstream and not link.listen.endswith(":0") and proxy.client.links() == [link]
    url = f"http://{link.listen}/"
    with requests.Session() as session:
        session.trust_env = False
        plain = min(timed_get(session, url) for _ in range(5))
        applied = proxy.client.set_fault("web", FaultSpec("delay", "downstream", latency_ms=30))
        delayed = min(timed_get(session, url) for _ in range(5))
        removed = proxy.client.clear_faults("web")
        removed_at = time.time_ns()
        after = min(timed_get(session, url) for _ in range(5))
    # felt one way only (both ways would add 60 ms), and gone once removed; the precision is a benchmark's
    assert 29 <= delayed - plain < 58 and after < delayed - 20, (plain, delayed, after)
    assert applied > 0 and removed == [{"kind": "delay", "direction": "downstream", "latency_ms": 30,
                                        "applied_at_unix_ns": applied}]
    stats = proxy.client.stats("web")
    assert stats.connections_accepted == 1 and stats.bytes_upstream > 0 and stats.bytes_downstream > 0
    assert stats.faults_changed_at_unix_ns >= applied and isinstance(stats - LinkStats(), LinkStats)
    # the proxy timed the same requests itself: the five under the delay each answered ~30 ms after it was read
    turned = proxy.client.turnarounds("web", applied, removed_at)
    assert len(turned.samples_ms) == 5 and all(30 <= ms < 58 for ms in turned.samples_ms), turned
    assert turned.total == 15 and len(proxy.client.turnarounds("web", removed_at).samples_ms) == 5


def test_refusals_are_typed_and_say_what_the_proxy_said(proxy: ChaosProxy, upstream: str) -> None:
    proxy.client.create_link("db", upstream)
    with pytest.raises(ProxyRefused, match=r'refused POST /links: link "db" exists already .*\(HTTP 409\)') as taken:
        proxy.client.create_link("db", upstream)
    assert taken.value.status == 409 and isinstance(taken.value, PlatformError)
    with pytest.raises(ProxyRefused, match=r'no link "nope" \(HTTP 404\)'):
        proxy.client.stats("nope")
    with pytest.raises(ProxyRefused, match=r"loses whole connections, so direction must be both .*\(HTTP 400\)"):
        proxy.client.set_fault("db", FaultSpec("loss", "upstream", probability=0.5))


def test_a_fault_is_taken_off_by_its_kind_and_leaves_the_others(proxy: ChaosProxy, upstream: str) -> None:
    proxy.client.create_link("both", upstream)
    proxy.client.set_fault("both", FaultSpec("delay", latency_ms=5))
    proxy.client.set_fault("both", FaultSpec("bandwidth", "downstream", bytes_per_s=1000))
    assert [f["kind"] for f in proxy.client.clear_fault("both", "delay")] == ["delay"]
    assert proxy.client.clear_fault("both", "delay") == [] and proxy.client.clear_fault("both", "reset") == []
    assert [f["kind"] for f in proxy.client.clear_faults("both")] == ["bandwidth"]


def test_a_binary_that_never_gets_ready_is_named_with_its_last_words(tmp_path: Path) -> None:
    script = tmp_path / "not-a-proxy"
    script.write_text("#!/bin/sh\necho oops >&2\n")
    script.chmod(0o755)
    with pytest.raises(ProxyNotReady, match=r"chaosproxy did not start \(it exited\); its last lines: oops; run .*"
                                            r"not-a-proxy --control 127\.0\.0\.1:0 by hand to see why"):
        ChaosProxy(script, log_path=tmp_path / "x.log").start()
    with pytest.raises(ProxyNotReady, match=r"chaosproxy binary /nonexistent does not exist"):
        ChaosProxy(Path("/nonexistent"), log_path=tmp_path / "y.log").start()


def test_run_links_start_the_proxy_at_the_first_link_and_record_each(binary: Path, tmp_path: Path,
                                                                      upstream: str) -> None:
    timeline = Timeline()
    plan = LinkPlan.of([LinkRequest(LinkKind.ETCD_PEER), LinkRequest(LinkKind.ETCD_CLIENT, "kvd"),
                        LinkRequest(LinkKind.UPSTREAM, "api", upstream=upstream)])
    starts: list[int] = []

    def start() -> ChaosProxy:
        starts.append(1)
        return ChaosProxy(binary, log_path=tmp_path / "p.log").start()

    links = RunLinks(plan, start_proxy=start, timeline=timeline)
    try:
        with pytest.raises(ProxyNotReady, match="no proxy holds them"):
            links.client_for(["etcd-peer.m0"])
        peer = links.peer_address("m0", 2380)
        assert peer != "127.0.0.1:2380" and links.peer_address("m0", 2380) == peer and starts == [1]
        endpoints = links.etcd_endpoints("kvd", "http://127.0.0.1:2379,http://127.0.0.1:2381",
                                         {"http://127.0.0.1:2379": "m0", "http://127.0.0.1:2381": "m1"})
        first, second = endpoints.split(",")
        assert first.startswith("http://127.0.0.1:") and first != "http://127.0.0.1:2379" and second != first
        text = links.rewrite_upstreams("api", f"--backend=http://{upstream}/x")
        (api,) = links.routed(LinkKind.UPSTREAM, target="api")
        assert text == f"--backend=http://{api.listen}/x" and links.rewrite_upstreams("db", "as is") == "as is"
        assert [link.member for link in links.routed(LinkKind.ETCD_CLIENT, target="kvd")] == ["m0", "m1"]
        with requests.Session() as session:  # the upstream link really forwards
            session.trust_env = False
            assert session.get(f"http://{api.listen}/", timeout=5).text == "ok"
        recorded = timeline.events(EventKind.NETWORK_LINK)
        assert [e.source for e in recorded] == ["etcd-peer.m0", "etcd-client.kvd.m0", "etcd-client.kvd.m1",
                                                f"upstream.api.{upstream.replace(':', '-')}.tcp"]
        assert recorded[0].details["listen"] == peer and recorded[0].details["proxy_pid"] == links.proxy_pid
        assert links.client_for([api.name, "etcd-peer.m0"]).stats(api.name).connections_accepted == 1
        assert links.proxy_running(api.name)
    finally:
        links.close()
    assert not links.proxy_running(api.name) and links.proxy_pid is None


class _HeldElsewhere:
    """A proxy the run does not start (a pod's sidecar): only what RunLinks asks of one."""

    def __init__(self, url: str) -> None:
        self.client = ProxyClient(url)
        self.running = True
        self.pid = None
        self.stopped = 0

    def stop(self) -> None:
        self.stopped += 1


def test_links_adopted_from_two_sidecars_answer_through_their_own_proxy() -> None:
    timeline = Timeline()
    links = RunLinks(LinkPlan.of([LinkRequest(LinkKind.LOAD, "a"), LinkRequest(LinkKind.LOAD, "b")]),
                     timeline=timeline)
    first, second = _HeldElsewhere("http://127.0.0.1:1"), _HeldElsewhere("http://127.0.0.1:2")
    a = RoutedLink("load.a", LinkKind.LOAD, "a", None, "tcp", "0.0.0.0:15000", "127.0.0.1:8080")
    b = RoutedLink("load.b", LinkKind.LOAD, "b", None, "tcp", "0.0.0.0:15000", "127.0.0.1:8081")
    links.adopt(first, [a])
    links.adopt(second, [b])
    assert links.client_for(["load.a"]) is first.client and links.client_for(["load.b"]) is second.client
    with pytest.raises(ProxyNotReady, match="they are on different proxies"):
        links.client_for(["load.a", "load.b"])
    with pytest.raises(ProxyNotReady, match="this platform makes no links of its own"):
        links.route("load.c", LinkKind.LOAD, "127.0.0.1:9")
    assert links.routed(LinkKind.LOAD, target="b") == [b] and links.proxy_running("load.a")
    assert [e.details["proxy_pid"] for e in timeline.events(EventKind.NETWORK_LINK)] == [None, None]
    links.close()
    assert (first.stopped, second.stopped) == (1, 1) and not links.proxy_running("load.a")

"""What each port a service listens on speaks, asked the way a client would: HTTP, gRPC health, DNS.

Each probe is one short exchange on loopback with a timeout, and each says what it tried and what
it got, so the scenario's comments can say why a port is (or is not) loaded: a server that speaks
first (NATS's `INFO {...}`, SMTP) is left alone by the HTTP probe; an HTTP port is crawled for GET
routes that answer 2xx (its index page's links, plus the usual health, metrics and status paths),
and only routes that answer 2xx every time, fast and small, are offered to the load.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import dns.exception
import dns.message
import dns.query
import dns.rcode
import requests

from chaos.errors import MissingExtra
from chaos.observe.readiness import grpc_address, grpc_health
from chaos.ports import LOOPBACK

#: Paths that usually answer when a service is healthy, best first (the readiness check).
HEALTH_PATHS = ("/healthz", "/-/healthz", "/health", "/-/ready", "/readyz", "/-/readyz", "/ready", "/livez",
                "/ping", "/status")
#: Paths worth a look on any HTTP port besides its index page's links.
WELL_KNOWN = (*HEALTH_PATHS, "/metrics", "/debug/vars", "/version", "/-/config", "/config", "/api", "/varz")
#: Never sent: paths that may stop, drain or change the service (some admin endpoints do so on GET), or that are
#: slow or endless by design (delays, streams, server-sent events): no route for a load either way.
UNSAFE = ("reload", "shutdown", "quit", "stop", "kill", "delete", "drain", "restart", "exit", "pprof", "debug/requests",
          "flush", "reset", "logout", "redirect", "drip", "delay", "sse", "stream", "websocket", "unstable")
#: Routes the load is offered: fast (< FAST_MS) and small (< SMALL_BYTES), 2xx in every one of STABLE_TRIES.
FAST_MS = 200.0
SMALL_BYTES = 256 * 1024
STABLE_TRIES = 6
MAX_CRAWL = 60
MAX_LOAD_ROUTES = 8
TIMEOUT_S = 1.0


@dataclass(frozen=True)
class Route:
    """A GET route that answered."""

    path: str
    status: int
    ms: float
    size: int
    content_type: str

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def json(self) -> bool:
        return "json" in self.content_type


@dataclass
class PortReport:
    """What one port speaks and what init tried on it."""

    port: int
    transport: str
    protocol: str = "tcp"  # http, grpc, dns, banner, tcp, udp
    routes: list[Route] = field(default_factory=list)
    #: 2xx GET routes that answered every time, fast and small: what the load may ask for.
    stable: list[str] = field(default_factory=list)
    grpc_health: str | None = None
    banner: str | None = None
    dns_rcode: str | None = None
    tried: list[str] = field(default_factory=list)

    @property
    def ready_path(self) -> str | None:
        """The best 2xx path to call the service ready by: a health path, else `/`."""
        ok = {route.path for route in self.routes if route.ok}
        return next((path for path in HEALTH_PATHS if path in ok), "/" if "/" in ok else None)

    @property
    def metrics_path(self) -> str | None:
        return next((r.path for r in self.routes if r.ok and r.path == "/metrics"), None)

    @property
    def json_paths(self) -> list[str]:
        return [route.path for route in self.routes if route.ok and route.json and route.path != "/metrics"]

    def load_routes(self) -> list[str]:
        """Up to MAX_LOAD_ROUTES stable routes for the load, `/` and health first, no metrics exposition."""
        chosen = [path for path in self.stable if path != "/metrics"]
        chosen.sort(key=lambda p: (p != "/", p not in HEALTH_PATHS, len(p), p))
        return chosen[:MAX_LOAD_ROUTES]


def probe_port(port: int, transport: str, host: str = LOOPBACK) -> PortReport:
    """Ask port `port` (tcp or udp) what it speaks."""
    report = PortReport(port, transport)
    if transport == "udp":
        _dns(report, host)
        return report
    banner = _banner(host, port)
    if banner is not None:
        report.protocol, report.banner = "banner", banner
        report.tried.append(f"it speaks first on connect ({banner!r}): not HTTP, left alone")
        return report
    report.tried.append("no banner on connect")
    if _http(report, host):
        report.protocol = "http"
    status = _grpc_health(host, port)
    report.tried.append(f"grpc.health.v1 Check: {status}")
    if status in ("SERVING", "NOT_SERVING", "SERVICE_UNKNOWN", "UNIMPLEMENTED"):
        report.grpc_health = status
        if report.protocol != "http":
            report.protocol = "grpc"
    if report.protocol == "tcp":
        _dns(report, host)
    return report


def _banner(host: str, port: int, wait_s: float = 0.3) -> str | None:
    """What the server sends on its own right after a connect (None: it waits for the client)."""
    try:
        with socket.create_connection((host, port), timeout=TIMEOUT_S) as sock:
            sock.settimeout(wait_s)
            data = sock.recv(120)
    except (TimeoutError, OSError):
        return None
    if not data:
        return None
    return data.decode("latin-1").splitlines()[0][:60] if data.strip() else None


def _http(report: PortReport, host: str) -> bool:
    base = f"http://{host}:{report.port}"
    with requests.Session() as session:
        index = _get(session, base + "/")
        if index is None:
            report.tried.append("GET / : no HTTP answer")
            return False
        route, body = index
        report.routes.append(route)
        candidates = [path for path in [*_links(body, base, route.content_type), *WELL_KNOWN]
                      if path != "/" and not _unsafe(path)]
        for path in list(dict.fromkeys(candidates))[:MAX_CRAWL]:
            got = _get(session, base + path)
            if got is not None:
                report.routes.append(got[0])
        fast = [r.path for r in report.routes if r.ok and r.ms < FAST_MS and r.size < SMALL_BYTES]
        report.stable = [path for path in fast if all(
            (again := _get(session, base + path)) is not None and again[0].ok for _ in range(STABLE_TRIES))]
    ok = [r.path for r in report.routes if r.ok]
    report.tried.append(f"HTTP: {len(report.routes)} GET route(s) answered, {len(ok)} with 2xx, {len(report.stable)} "
                        f"2xx every time in {STABLE_TRIES} tries under {FAST_MS:g} ms")
    return True


def _get(session: requests.Session, url: str) -> tuple[Route, str] | None:
    started = time.monotonic()
    try:
        with session.get(url, timeout=TIMEOUT_S, allow_redirects=False, stream=True) as reply:
            body = reply.raw.read(SMALL_BYTES + 1, decode_content=True) or b""
    except (requests.RequestException, OSError):
        return None
    path = urlsplit(url)
    text = path.path + (f"?{path.query}" if path.query else "")
    route = Route(text, reply.status_code, (time.monotonic() - started) * 1000, len(body),
                  reply.headers.get("Content-Type", ""))
    return route, body[:SMALL_BYTES].decode("utf-8", "replace")


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.hrefs += [value for name, value in attrs if name == "href" and value]


def _links(body: str, base: str, content_type: str) -> list[str]:
    """Same-server paths an HTML index page links to."""
    if "html" not in content_type:
        return []
    parser = _Links()
    parser.feed(body)
    own = urlsplit(base)
    out = []
    for href in parser.hrefs:
        url = urlsplit(urljoin(base + "/", href))
        if url.scheme == own.scheme and url.netloc == own.netloc and url.path and " " not in href:
            out.append(url.path + (f"?{url.query}" if url.query else ""))
    return out


def _unsafe(path: str) -> bool:
    lowered = path.lower()
    return any(word in lowered for word in UNSAFE) or ":" in lowered.split("?")[0]


def _grpc_health(host: str, port: int) -> str:
    """The grpc.health.v1 Check status, the gRPC error code, or why it was not asked."""
    try:
        return grpc_health(grpc_address(host, port), timeout_s=TIMEOUT_S)
    except MissingExtra:
        return "not asked (gochaos[grpc] is not installed)"


def _dns(report: PortReport, host: str) -> None:
    query = dns.message.make_query("example.org", "A")
    try:
        if report.transport == "udp":
            answer = dns.query.udp(query, host, port=report.port, timeout=TIMEOUT_S)
        else:
            answer = dns.query.tcp(query, host, port=report.port, timeout=TIMEOUT_S)
    except (dns.exception.DNSException, OSError, ValueError) as e:
        report.tried.append(f"DNS query example.org A over {report.transport}: {type(e).__name__}")
        return
    report.protocol = "dns"
    report.dns_rcode = dns.rcode.to_text(answer.rcode())
    report.tried.append(f"DNS query example.org A over {report.transport}: {report.dns_rcode}")

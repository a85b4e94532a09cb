"""Which load a written scenario drives, from what the ports answered: the generic `http` user over the GET
routes that answered 2xx every time (the bundled `configd` user's GET mix where no `http` user exists), the
`dns` user on a DNS port; none where no built-in user speaks the service's protocol (a TODO says so)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chaos.init.findings import Findings, PortFinding
from chaos.load.spec import BUILTIN_USERS

#: Simulated users: a light load that 2 shared cores keep steady, enough requests to judge a baseline.
USERS = 5


@dataclass
class LoadChoice:
    entry: dict[str, Any] | None
    why: str
    todo: list[str] = field(default_factory=list)


def choose(findings: Findings) -> LoadChoice:
    """The load entry for the port that answers best: HTTP with stable 2xx routes, else DNS."""
    http = [port for port in findings.ports if port.report is not None and port.report.load_routes()]
    http.sort(key=lambda p: bool(p.name))  # the main port first
    if http:
        return _http(http[0])
    dns = next((port for port in findings.ports if port.report is not None and port.report.protocol == "dns"), None)
    if dns is not None and dns.report is not None:
        query = {"name": "example.org", "type": "A", "expect_rcode": dns.report.dns_rcode or "NOERROR"}
        entry: dict[str, Any] = {"user": "dns", "users": USERS, "options": {"dns": {"queries": [query]}}}
        if dns.name:
            entry["port"] = dns.name
        return LoadChoice(entry, f"DNS on {dns.placeholder}: example.org A answered {query['expect_rcode']}",
                          ["set `queries` to names the server really serves"])
    spoken = ", ".join(f"{p.placeholder} {p.report.protocol}" for p in findings.ports if p.report is not None)
    return LoadChoice(None, "", [f"no built-in user speaks what its ports do ({spoken}): give a locustfile "
                                 "(`user: path/to/locustfile.py`) and remove `load: null`"])


def _http(port: PortFinding) -> LoadChoice:
    assert port.report is not None
    routes = port.report.load_routes()
    skipped = [r.path for r in port.report.routes if r.ok and r.path not in routes and r.path != "/metrics"]
    entry: dict[str, Any]
    if "http" in BUILTIN_USERS:
        entry = {"user": "http", "users": USERS,
                 "options": {"http": {"requests": [{"path": path} for path in routes]}}}
    else:
        entry = {"user": "configd", "users": USERS,
                 "options": {"configd": {"routes": routes, "cache_get_weight": 0, "cache_put_weight": 0}}}
    if port.name:
        entry["port"] = port.name
    why = f"GET routes of {port.placeholder} that answered 2xx in every try, fast and small"
    if skipped:
        why += f" (not loaded: {', '.join(skipped[:6])}{' ...' if len(skipped) > 6 else ''})"
    return LoadChoice(entry, why)

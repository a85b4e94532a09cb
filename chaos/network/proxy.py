"""The chaosproxy process of a run and the client of its control API (go_targets/cmd/chaosproxy).

`ChaosProxy` starts the binary as a supervised process (its own process group, recorded in the
state ledger as every process the suite starts is, so `gochaos cleanup` and the next run kill the
proxy of a SIGKILLed run; PR_SET_PDEATHSIG and `--parent-pid` make it die with the suite anyway),
keeps draining its stderr into a log file (a full pipe would stall its control API), and waits for
the JSON `ready` line that names the control address. `ProxyClient` speaks that API with `requests`:
links, faults per link and direction, per-link counters.

Errors are `ProxyError`s (a PlatformError: the stage could not be set), each saying what failed and
what to do: `ProxyNotReady` (it did not start), `ProxyUnreachable` (its control API does not answer:
it died), `ProxyRefused` (it answered 4xx/5xx: a bad link or fault, an address in use).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal

import requests

from chaos.errors import PlatformError
from chaos.platform.local.process import SupervisedProcess
from chaos.platform.observations import ExitRecord, LogLine
from chaos.ports import LOOPBACK
from chaos.targets import RestartPolicy

#: How long the proxy may take to print its ready line.
READY_TIMEOUT_S = 10.0
#: Bound of one control API call (they answer in microseconds; a link's listen is a bind).
CALL_TIMEOUT_S = 5.0

Direction = Literal["upstream", "downstream", "both"]


class ProxyError(PlatformError):
    """chaosproxy could not be started or driven."""


class ProxyNotReady(ProxyError):
    """chaosproxy exited, or never printed its ready line."""


class ProxyUnreachable(ProxyError):
    """chaosproxy's control API did not answer (the process died, or is stuck)."""


class ProxyRefused(ProxyError):
    """chaosproxy answered a control call with an error (`status`: its HTTP status)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Link:
    """One link as the proxy holds it: where it listens (the address actually bound) and where it forwards."""

    name: str
    protocol: str
    listen: str
    upstream: str


@dataclass(frozen=True, slots=True)
class FaultSpec:
    """A fault for one link, as `PUT /links/NAME/fault` takes it (fields a kind does not use stay None)."""

    kind: str
    direction: Direction = "both"
    latency_ms: float | None = None
    jitter_ms: float | None = None
    probability: float | None = None
    bytes_per_s: int | None = None
    #: partition: the PIDs whose connections the link cuts off, both ways.
    sources: tuple[int, ...] | None = None

    def body(self) -> dict[str, Any]:
        body = {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}
        if self.sources is not None:
            body["sources"] = list(self.sources)
        return body


@dataclass(frozen=True, slots=True)
class LinkStats:
    """A link's counters (`GET /links/NAME/stats`), all cumulative since the link was created."""

    connections_accepted: int = 0
    connections_active: int = 0
    connections_refused: int = 0
    connections_reset: int = 0
    dial_errors: int = 0
    connections_cut: int = 0
    bytes_upstream: int = 0
    bytes_downstream: int = 0
    bytes_discarded_upstream: int = 0
    bytes_discarded_downstream: int = 0
    datagrams_upstream: int = 0
    datagrams_downstream: int = 0
    datagrams_dropped_upstream: int = 0
    datagrams_dropped_downstream: int = 0
    fault_applied_at_unix_ns: int = 0
    faults_changed_at_unix_ns: int = 0

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> LinkStats:
        return cls(**{f.name: int(body.get(f.name, 0) or 0) for f in fields(cls)})

    def __sub__(self, earlier: LinkStats) -> LinkStats:
        """The counts between `earlier` and this reading (the time stamps are this reading's)."""
        stamps = ("fault_applied_at_unix_ns", "faults_changed_at_unix_ns", "connections_active")
        return LinkStats(**{f.name: getattr(self, f.name) if f.name in stamps
                            else getattr(self, f.name) - getattr(earlier, f.name) for f in fields(self)})

    def __add__(self, other: LinkStats) -> LinkStats:
        return LinkStats(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})


@dataclass(frozen=True, slots=True)
class Turnarounds:
    """What chaosproxy timed on a link in a window (`GET /links/NAME/turnaround`): each the time from a read from
    a client not yet answered to the next write back to it (TCP: on that connection; UDP: to that client address).

    The proxy's own view of a round trip, so a delay is measured on any protocol, with no request of the suite's.
    """

    samples_ms: tuple[float, ...] = ()
    #: Samples the link ever recorded; the proxy keeps the last `ring_size` of them.
    total: int = 0
    ring_size: int = 0

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> Turnarounds:
        return cls(tuple(float(x) for x in body.get("samples_ms") or ()), int(body.get("total", 0) or 0),
                   int(body.get("ring_size", 0) or 0))

    def __add__(self, other: Turnarounds) -> Turnarounds:
        return Turnarounds(self.samples_ms + other.samples_ms, self.total + other.total,
                           max(self.ring_size, other.ring_size))


class ProxyClient:
    """The control API of one chaosproxy at `base_url` (http://127.0.0.1:PORT); safe to share between threads."""

    def __init__(self, base_url: str, *, timeout_s: float = CALL_TIMEOUT_S) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self._session = requests.Session()
        self._session.trust_env = False  # never through an HTTP proxy from the environment: it is on loopback
        self._lock = threading.Lock()

    def close(self) -> None:
        self._session.close()

    def healthy(self) -> bool:
        try:
            self._call("GET", "/-/healthz")
        except ProxyError:
            return False
        return True

    def create_link(self, name: str, upstream: str, *, protocol: str = "tcp", listen: str = f"{LOOPBACK}:0") -> Link:
        """A new link `name` listening on `listen` (port 0: any free one) forwarding to `upstream`."""
        body = self._call("POST", "/links", {"name": name, "protocol": protocol, "listen": listen,
                                              "upstream": upstream})
        return _link(body)

    def links(self) -> list[Link]:
        return [_link(item) for item in self._call("GET", "/links").get("links", [])]

    def delete_link(self, name: str) -> None:
        self._call("DELETE", f"/links/{name}")

    def set_fault(self, link: str, fault: FaultSpec) -> int:
        """Put `fault` on `link` (replacing one of its kind); returns when it applied (unix ns, the proxy's clock)."""
        body = self._call("PUT", f"/links/{link}/fault", fault.body())
        return int(body.get("fault", {}).get("applied_at_unix_ns", 0))

    def clear_faults(self, link: str) -> list[dict[str, Any]]:
        """Take every fault off `link`; the faults removed (maybe none)."""
        return list(self._call("DELETE", f"/links/{link}/fault").get("removed", []))

    def clear_fault(self, link: str, kind: str) -> list[dict[str, Any]]:
        """Take `link`'s fault of `kind` off (others stay); the fault removed, or none when it had none of that kind."""
        try:
            return list(self._call("DELETE", f"/links/{link}/fault/{kind}").get("removed", []))
        except ProxyRefused as e:
            if e.status == 404 and "has no" in str(e):
                return []
            raise

    def clear_all(self) -> None:
        self._call("DELETE", "/faults")

    def stats(self, link: str) -> LinkStats:
        return LinkStats.from_json(self._call("GET", f"/links/{link}/stats"))

    def turnarounds(self, link: str, since_ns: int, until_ns: int = 0) -> Turnarounds:
        """The turnarounds `link` completed between `since_ns` and `until_ns` (unix ns; 0: now)."""
        query = f"?since_unix_ns={max(0, since_ns)}&until_unix_ns={max(0, until_ns)}"
        return Turnarounds.from_json(self._call("GET", f"/links/{link}/turnaround{query}"))

    def _call(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> dict[str, Any]:
        url = f"{self.base_url}{path}"
        try:
            with self._lock:
                reply = self._session.request(method, url, json=body, timeout=self.timeout_s)
        except requests.RequestException as e:
            raise ProxyUnreachable(f"chaosproxy at {self.base_url} did not answer {method} {path}: {e}; it has "
                                   "probably exited: see its log (chaosproxy.log in the run dir, --keep)") from e
        if reply.status_code >= 400:
            try:
                said = str(reply.json().get("error", reply.text))
            except ValueError:
                said = reply.text.strip()
            raise ProxyRefused(f"chaosproxy refused {method} {path}: {said} (HTTP {reply.status_code})",
                               reply.status_code)
        if reply.headers.get("Content-Type", "").startswith("application/json"):
            try:
                answer = reply.json()
            except ValueError as e:
                raise ProxyError(f"chaosproxy answered {method} {path} with bad JSON: {e}") from e
            return answer if isinstance(answer, dict) else {"value": answer}
        return {}


def _link(body: Mapping[str, Any]) -> Link:
    return Link(str(body["name"]), str(body.get("protocol", "tcp")), str(body["listen"]), str(body["upstream"]))


class ChaosProxy:
    """The run's chaosproxy process: `start()` it, use `client`, `stop()` it (closing every link)."""

    def __init__(self, binary: Path, *, log_path: Path, ready_timeout_s: float = READY_TIMEOUT_S) -> None:
        self.binary = binary
        self.log_path = log_path
        self.ready_timeout_s = ready_timeout_s
        self._ready = threading.Event()
        self._control: str | None = None
        self._client: ProxyClient | None = None
        self.process = SupervisedProcess(
            "chaosproxy",
            [str(binary), "--control", f"{LOOPBACK}:0", "--parent-pid", str(os.getpid())],
            log_path=log_path, restart=RestartPolicy.NEVER, on_line=self._on_line, on_exit=self._on_exit,
        )

    @property
    def client(self) -> ProxyClient:
        if self._client is None:
            raise ProxyNotReady("chaosproxy is not started: call start() first")
        return self._client

    @property
    def pid(self) -> int | None:
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process.running

    def start(self) -> ChaosProxy:
        """Start it and wait for its ready line; ProxyNotReady (with its last words) when it does not come."""
        if not self.binary.is_file():
            raise ProxyNotReady(f"chaosproxy binary {self.binary} does not exist; build it with "
                                "chaos.build.Binaries().get('chaosproxy', race=False)")
        self.process.start()  # recorded (process group, pid + start time) as soon as it exists
        deadline_hit = not self._ready.wait(self.ready_timeout_s)
        if self._control is None:
            last = [line.text for line in self.process.lines()][-5:]
            said = "; its last lines: " + " | ".join(last) if last else "; it printed nothing"
            why = f"no ready line within {self.ready_timeout_s:g}s" if deadline_hit else "it exited"
            self.stop()
            raise ProxyNotReady(f"chaosproxy did not start ({why}){said}; run {self.binary} --control "
                                f"{LOOPBACK}:0 by hand to see why")
        self._client = ProxyClient(f"http://{self._control}")
        return self

    def stop(self) -> None:
        """SIGTERM: it closes every link and connection and exits (SIGKILL after a grace)."""
        if self._client is not None:
            self._client.close()
        self.process.stop(timeout_s=2.0)

    def _on_line(self, process: SupervisedProcess, line: LogLine) -> None:
        if self._ready.is_set() or '"ready"' not in line.text:
            return
        try:
            said = json.loads(line.text)
        except ValueError:
            return
        if said.get("msg") == "ready" and said.get("control"):
            self._control = str(said["control"])
            self._ready.set()

    def _on_exit(self, process: SupervisedProcess, record: ExitRecord) -> None:
        self._ready.set()  # nobody waits for a ready line of a process that is gone

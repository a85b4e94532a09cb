"""Built-in Locust users (`http` for any HTTP service, one per bundled target, `dns`, `grpc`), and loading
of users' own user classes.

Imported only inside the load child: importing Locust monkey-patches the process with gevent.
Each built-in user runs one task that picks a weighted action, so the mix comes from the
`LoadSpec` options at run time rather than from decorators fixed at import time.
The HTTP users are FastHttpUsers; `DnsUser` sends DNS queries with dnspython and `GrpcUser`
(chaos.load.grpc_user) unary gRPC calls with grpcio, each firing Locust's request event itself, so
their results land on the timeline like any HTTP request's. `GrpcUser` is imported only when a run names
it (or a user's locustfile imports it): grpcio is an extra, gochaos[grpc].
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import random
import socket
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, cast

import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
from locust import FastHttpUser, User, between, constant_throughput, task

from chaos.errors import LoadError
from chaos.load.http_spec import HttpOptions, HttpRequest
from chaos.load.spec import (
    BUILTIN,
    AllocdOptions,
    ConfigdOptions,
    DnsOptions,
    DnsQuery,
    KvdOptions,
    UserOptions,
    host_port,
    parse_user_ref,
)


class OwnOptions:
    """A built-in user's own options (UserOptions' field of its name), set for the run by configure_builtin."""

    options: ClassVar[Any]

    @classmethod
    def apply(cls, options: Any, request_timeout_s: float) -> None:
        cls.options = options


class UnexpectedStatus(Exception):
    """An HTTP answer whose status is not one the request expects (`expect_status`): the service
    answered, but not as it should, so the request failed."""


class HttpUser(OwnOptions, FastHttpUser):
    """http: one weighted request per task from `HttpOptions.requests`, counted as "METHOD name"; with
    `expect_status`, any other status is a failure (UnexpectedStatus), else Locust's rule (below 400)."""

    options: ClassVar[HttpOptions] = HttpOptions()

    def on_start(self) -> None:
        common = self.options.headers
        self._requests: list[tuple[HttpRequest, dict[str, str], frozenset[int] | None]] = [
            (request, _merged_headers(common, request.headers), request.expected) for request in self.options.requests]
        self._weights = [request.weight for request in self.options.requests]

    @task
    def send(self) -> None:
        request, headers, expected = random.choices(self._requests, self._weights)[0]
        body: dict[str, Any] = {}
        if isinstance(request.body, str):
            body["data"] = request.body
        elif request.body is not None:
            body["json"] = request.body
        with self.client.request(request.method, request.path, name=request.label, headers=headers or None,
                                 catch_response=True, **body) as reply:
            status = reply.status_code or 0
            if expected is None or status == 0:
                return  # Locust's own rule; status 0: no answer, the connection error is the failure
            if status in expected:
                reply.success()
            else:
                reply.failure(UnexpectedStatus(f"status {status}, expected {_codes(expected)}"))


def _merged_headers(common: dict[str, str], own: dict[str, str]) -> dict[str, str]:
    """Common headers overridden by a request's own; header names are case-insensitive."""
    mine = {name.lower() for name in own}
    return {**{name: value for name, value in common.items() if name.lower() not in mine}, **own}


def _codes(codes: frozenset[int]) -> str:
    return " or ".join(str(code) for code in sorted(codes))


class ConfigdUser(OwnOptions, FastHttpUser):
    """configd: GET config routes, GET and PUT `/cache/{key}`."""

    options: ClassVar[ConfigdOptions] = ConfigdOptions()

    def on_start(self) -> None:
        opts = self.options
        self._actions = [self._route, self._cache_get, self._cache_put]
        self._weights = [opts.route_weight, opts.cache_get_weight, opts.cache_put_weight]
        self._value = "v" * opts.value_bytes

    @task
    def mix(self) -> None:
        random.choices(self._actions, self._weights)[0]()

    def _route(self) -> None:
        self.client.get(random.choice(self.options.routes))

    def _cache_get(self) -> None:
        key = f"k{random.randrange(self.options.cache_keys)}"
        # a key nobody has PUT yet answers 404: a correct answer, not a failure
        with self.client.get(f"/cache/{key}", name="/cache/{key}", catch_response=True) as reply:
            if reply.status_code == 404:
                reply.success()

    def _cache_put(self) -> None:
        key = f"k{random.randrange(self.options.cache_keys)}"
        self.client.put(f"/cache/{key}", data=self._value, name="/cache/{key}")


class KvdUser(OwnOptions, FastHttpUser):
    """kvd: `PUT /kv/{key}` then a GET of the same key (`/kv/{key}`, or `/cached/{key}` with
    `read_path`), each recorded with key, expected and observed value. Keys are private to one
    user, so the only correct answer to the read is this user's last acknowledged write."""

    options: ClassVar[KvdOptions] = KvdOptions()

    def on_start(self) -> None:
        self._prefix = uuid.uuid4().hex[:12]
        self._seq = 0
        self._acked: dict[str, str] = {}
        field = self.options.value_field
        self._observe = f"json:{field}" if field else "body"

    @task
    def write_then_read(self) -> None:
        self._seq += 1
        key = f"{self.options.key_prefix}{self._prefix}-{self._seq % self.options.keys_per_user}"
        stamp = f"{self._prefix}-{self._seq}-"
        value = stamp + "x" * max(0, self.options.value_bytes - len(stamp))
        put = self.client.put(f"/kv/{key}", data=value, name="/kv/{key}",
                              context={"key": key, "expected": value})
        if 200 <= (put.status_code or 0) < 300:
            self._acked[key] = value
        read_path = self.options.read_path
        self.client.get(read_path.replace("{key}", key), name=read_path,
                        context={"key": key, "expected": self._acked.get(key),
                                 "observe": self._observe})


class AllocdUser(OwnOptions, FastHttpUser):
    """allocd: `POST /merge` of maps and lists of configurable sizes (half-overlapping)."""

    options: ClassVar[AllocdOptions] = AllocdOptions()

    def on_start(self) -> None:
        opts = self.options
        self._maps: list[dict[str, Any]] = [
            {f"k{i + m * opts.map_size // 2}": i for i in range(opts.map_size)}
            for m in range(opts.maps)
        ]
        self._lists = [[i + n * opts.list_size // 2 for i in range(opts.list_size)]
                       for n in range(opts.lists)]
        self._prefix = uuid.uuid4().hex[:12]
        self._seq = 0

    @task
    def merge(self) -> None:
        maps = self._maps
        if self.options.unique:
            self._seq += 1
            maps = [*maps, {"nonce": f"{self._prefix}-{self._seq}"}]
        self.client.post("/merge", json={"maps": maps, "lists": self._lists})


class UnexpectedRcode(Exception):
    """A DNS answer whose response code is not the one the query expects (e.g. NXDOMAIN for a
    name that should resolve): the server answered, but wrongly, so the request failed."""


@dataclass(frozen=True, slots=True)
class DnsResponse:
    """What the request event carries as its response: the recorder reads `status_code`, so the
    numeric rcode becomes the RequestRecord's status (NOERROR = 0, NXDOMAIN = 3, ...)."""

    status_code: int
    message: dns.message.Message


@dataclass(frozen=True, slots=True)
class _Question:
    """A DnsQuery parsed once per user, so each task only builds the message."""

    qname: dns.name.Name
    rdtype: dns.rdatatype.RdataType
    expect: dns.rcode.Rcode
    label: str


class DnsUser(OwnOptions, User):
    """dns: one weighted query per task, over UDP or TCP, to the server at the host's address
    (any URL scheme; port 53 if none). Each result is a request event of type "DNS" named
    "QTYPE qname", with the rcode as status; a timeout, a network error or an rcode other than
    the query's `expect_rcode` is a failure."""

    options: ClassVar[DnsOptions] = DnsOptions()
    timeout_s: ClassVar[float] = 5.0

    @classmethod
    def apply(cls, options: DnsOptions, request_timeout_s: float) -> None:
        cls.options, cls.timeout_s = options, options.timeout_s or request_timeout_s

    def on_start(self) -> None:
        queries: tuple[DnsQuery, ...] = self.options.queries
        self._questions = [
            _Question(dns.name.from_text(q.name), dns.rdatatype.from_text(q.type),
                      dns.rcode.from_text(q.expect_rcode), f"{q.type} {q.name}")
            for q in queries
        ]
        self._weights = [q.weight for q in queries]
        self._send = dns.query.tcp if self.options.protocol == "tcp" else dns.query.udp
        self._server: tuple[str, int] | None = None

    @task
    def query(self) -> None:
        question = random.choices(self._questions, self._weights)[0]
        response: DnsResponse | None = None
        length = 0
        error: Exception | None = None
        start = time.perf_counter()
        try:
            address, port = self._address()
            message = dns.message.make_query(question.qname, question.rdtype)
            answer = self._send(message, address, timeout=self.timeout_s, port=port)
            length = len(answer.wire or b"")
            rcode = answer.rcode()
            response = DnsResponse(int(rcode), answer)
            if rcode != question.expect:
                error = UnexpectedRcode(f"{dns.rcode.to_text(rcode)} "
                                        f"(expected {dns.rcode.to_text(question.expect)})")
        except Exception as e:  # any failed exchange is a failed request, not a dead user
            error = e
        self.environment.events.request.fire(
            request_type="DNS", name=question.label,
            response_time=(time.perf_counter() - start) * 1000.0, response_length=length,
            response=response, context=self.context(), exception=error,
        )

    def _address(self) -> tuple[str, int]:
        """The server's IP address and port, resolved once: dnspython wants an address."""
        if self._server is None:
            host, port = host_port(self.host or "")
            sockaddr = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0][4]
            self._server = (str(sockaddr[0]), port)
        return self._server


#: The class of each built-in user (chaos.load.spec.BUILTIN names them), by class name; a user whose module
#: needs an extra (LAZY_BUILTIN) joins when a run names it.
BUILTIN_CLASSES: dict[str, type[User]] = {
    cls.__name__: cls for cls in (HttpUser, ConfigdUser, KvdUser, AllocdUser, DnsUser)
}
#: Built-in users whose module imports an extra (`grpc`: grpcio, gochaos[grpc]), by class name: the module.
LAZY_BUILTIN: dict[str, str] = {"GrpcUser": "chaos.load.grpc_user"}
assert set(BUILTIN_CLASSES) | set(LAZY_BUILTIN) == {user.class_name for user in BUILTIN}, \
    "chaos.load.spec.BUILTIN and these classes differ"


def builtin_class(class_name: str, *, imported_only: bool = False) -> type[User] | None:
    """The built-in user class `class_name`, importing its module if it is a lazy one; with `imported_only`,
    None for a lazy one whose module nothing imported (no user of this process is of it)."""
    if class_name not in BUILTIN_CLASSES:
        module = LAZY_BUILTIN[class_name]
        if imported_only and module not in sys.modules:
            return None
        BUILTIN_CLASSES[class_name] = getattr(importlib.import_module(module), class_name)
    return BUILTIN_CLASSES[class_name]


def configure_builtin(options: UserOptions) -> None:
    """Apply the run's options (mix, pacing, timeouts) to the built-in classes: each gets its own options
    (UserOptions' field of its name) and the run's request timeout."""
    for user in BUILTIN:
        cls = builtin_class(user.class_name, imported_only=True)
        if cls is None:
            continue
        cast("type[OwnOptions]", cls).apply(getattr(options, user.name), options.request_timeout_s)
        if options.rps_per_user is not None:
            cls.wait_time = constant_throughput(options.rps_per_user)
        else:
            cls.wait_time = between(*options.wait_s)
        if issubclass(cls, FastHttpUser):
            cls.network_timeout = options.request_timeout_s
            cls.connection_timeout = options.request_timeout_s


def resolve_user_classes(ref: str) -> list[type[User]]:
    """The User classes a user reference names; LoadError says what is wrong otherwise."""
    kind, target, class_name = parse_user_ref(ref)
    if kind == "builtin":
        assert class_name is not None
        cls = builtin_class(class_name)
        assert cls is not None
        return [cls]
    if kind == "file":
        module = _import_file(Path(target))
    else:
        try:
            module = importlib.import_module(target)
        except Exception as e:
            raise LoadError(f"user {ref!r}: cannot import module {target!r}: {e}") from e
    found = {
        name: obj for name, obj in vars(module).items()
        if inspect.isclass(obj) and issubclass(obj, User) and not getattr(obj, "abstract", True)
    }
    if class_name is not None:
        if class_name not in found:
            raise LoadError(
                f"user {ref!r}: no concrete Locust User class {class_name!r} in {target}; "
                f"found: {', '.join(sorted(found)) or 'none'}"
            )
        return [found[class_name]]
    if not found:
        raise LoadError(f"user {ref!r}: {target} defines no concrete Locust User class")
    return [found[name] for name in sorted(found)]


def _import_file(path: Path) -> Any:
    name = f"gochaos_locustfile_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise LoadError(f"locustfile {str(path)!r} cannot be imported (not a Python file?)")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    except Exception as e:
        raise LoadError(f"locustfile {str(path)!r} failed to import: {type(e).__name__}: {e}") from e
    return module

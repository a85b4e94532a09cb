"""Built-in Locust users for the bundled targets, and loading of users' own user classes.

Imported only inside the load child: importing Locust monkey-patches the process with gevent.
Each built-in user runs one task that picks a weighted action, so the mix comes from the
`LoadSpec` options at run time rather than from decorators fixed at import time.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import random
import sys
import uuid
from pathlib import Path
from typing import Any, ClassVar

from locust import FastHttpUser, User, between, constant_throughput, task

from chaos.errors import LoadError
from chaos.load.spec import (
    AllocdOptions,
    ConfigdOptions,
    KvdOptions,
    UserOptions,
    parse_user_ref,
)


class ConfigdUser(FastHttpUser):
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


class KvdUser(FastHttpUser):
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


class AllocdUser(FastHttpUser):
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


BUILTIN_CLASSES: dict[str, type[FastHttpUser]] = {
    "ConfigdUser": ConfigdUser,
    "KvdUser": KvdUser,
    "AllocdUser": AllocdUser,
}


def configure_builtin(options: UserOptions) -> None:
    """Apply the run's options (mix, pacing, timeouts) to the built-in classes."""
    ConfigdUser.options = options.configd
    KvdUser.options = options.kvd
    AllocdUser.options = options.allocd
    for cls in BUILTIN_CLASSES.values():
        if options.rps_per_user is not None:
            cls.wait_time = constant_throughput(options.rps_per_user)
        else:
            cls.wait_time = between(*options.wait_s)
        cls.network_timeout = options.request_timeout_s
        cls.connection_timeout = options.request_timeout_s


def resolve_user_classes(ref: str) -> list[type[User]]:
    """The User classes a user reference names; LoadError says what is wrong otherwise."""
    kind, target, class_name = parse_user_ref(ref)
    if kind == "builtin":
        assert class_name is not None
        return [BUILTIN_CLASSES[class_name]]
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

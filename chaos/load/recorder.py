"""Child side of the record stream: Locust request events -> batches -> a pipe or the master.

Imported only inside the load child (it uses gevent). The request listener does the least work
it can — one tuple per request — and a flush greenlet ships the batch every `FLUSH_INTERVAL_S`.

Context keys a user class may pass with a request (``self.client.get(..., context={...})``)::

    key       the key the request wrote or read
    expected  the value written (a write) or last acknowledged for that key (a read)
    observe   "body": record the response body as the observed value;
              "json:<field>": record that field of a JSON body
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import gevent
import gevent.event
import gevent.lock
import gevent.os

from chaos.load.stream import WireRecord, encode

#: Upper bound on how long a result waits in the child before it is shipped.
FLUSH_INTERVAL_S = 0.025
#: Errors are cut to this many characters.
MAX_ERROR_CHARS = 300
#: Observed values are cut to this many characters.
MAX_VALUE_CHARS = 4096

Sink = Callable[[list[WireRecord]], None]


class Recorder:
    """Collects request results (its own users' or, on a master, the workers') and ships them."""

    def __init__(self, version_header: str | None) -> None:
        self.version_header = version_header
        self._buffer: list[WireRecord] = []
        self.sent = 0
        self._sink: Sink | None = None
        self._loop: Any = None

    # -- collecting ----------------------------------------------------------------------
    def on_request(
        self,
        request_type: str,
        name: str,
        response_time: float | None,
        response_length: int = 0,
        response: Any = None,
        context: dict[str, Any] | None = None,
        exception: BaseException | None = None,
        **_: Any,
    ) -> None:
        """Listener for Locust's `events.request`: same event, same count as Locust's stats."""
        latency_ms = float(response_time or 0.0)
        t_ns = time.time_ns() - int(latency_ms * 1_000_000)
        status = 0
        version = None
        if response is not None:
            status = int(getattr(response, "status_code", 0) or 0)
            if self.version_header:
                headers = getattr(response, "headers", None)
                if headers is not None:
                    value = headers.get(self.version_header)
                    version = None if value is None else str(value)
        error = None
        if exception is not None:
            error = f"{type(exception).__name__}: {exception}"[:MAX_ERROR_CHARS]
        key = expected = observed = None
        if context and "key" in context:
            key = str(context["key"])
            raw_expected = context.get("expected")
            expected = None if raw_expected is None else str(raw_expected)
            observe = context.get("observe")
            if observe and 200 <= status < 300:
                observed = _observed_value(response, str(observe))
        self._buffer.append([t_ns, round(latency_ms, 3), exception is None,
                             f"{request_type} {name}", status, error, version,
                             key, expected, observed])

    def extend(self, batch: list[WireRecord]) -> None:
        """Queue results that another process recorded (a master forwarding its workers')."""
        self._buffer.extend(batch)

    # -- shipping ------------------------------------------------------------------------
    def start(self, sink: Sink) -> None:
        """Ship a batch to `sink` every FLUSH_INTERVAL_S until `stop()`."""
        self._sink = sink
        self._stopping = gevent.event.Event()
        self._loop = gevent.spawn(self._run)

    def take(self) -> list[WireRecord]:
        """Everything queued, in arrival order; the queue is empty afterwards."""
        batch, self._buffer = self._buffer, []
        return batch

    def flush(self) -> None:
        """Ship what is queued now."""
        if self._buffer and self._sink is not None:
            batch = self.take()
            self.sent += len(batch)
            self._sink(batch)

    def stop(self) -> None:
        """Stop the flush loop and ship what is left.

        The loop is asked to stop and joined, never killed: killed while a batch bigger than the pipe
        was half written, it left a cut line that the next message ran into (a broken result stream).
        """
        if self._loop is not None:
            self._stopping.set()
            self._loop.join()
            self._loop = None
        self.flush()

    def _run(self) -> None:
        while not self._stopping.wait(FLUSH_INTERVAL_S):
            self.flush()


def _observed_value(response: Any, observe: str) -> str | None:
    content = getattr(response, "content", None)
    if content is None:
        return None
    text = content.decode("utf-8", errors="replace") if isinstance(content, bytes) else str(content)
    if observe.startswith("json:"):
        try:
            doc = json.loads(text)
        except ValueError:
            return None
        value = doc.get(observe[5:]) if isinstance(doc, dict) else None
        return None if value is None else str(value)[:MAX_VALUE_CHARS]
    return text[:MAX_VALUE_CHARS]


class PipeWriter:
    """Writes stream messages to the parent's pipe without blocking the gevent hub."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        gevent.os.make_nonblocking(fd)
        # A full pipe makes nb_write yield to the hub mid-message; without this lock another greenlet
        # (the batch flusher, the totals) could write into the middle of that message's line.
        self._lock = gevent.lock.BoundedSemaphore()

    def send(self, message: dict[str, Any]) -> None:
        data = memoryview(encode(message))
        try:
            with self._lock:
                while data:
                    written = gevent.os.nb_write(self._fd, data)
                    data = data[written:]
        except BrokenPipeError:
            # Nobody reads the results any more: running on would be load without a record.
            print("gochaos load: the parent closed the result stream; exiting", file=sys.stderr,
                  flush=True)
            os._exit(3)

    def records(self, batch: list[WireRecord]) -> None:
        self.send({"t": "r", "r": batch})

    def close(self) -> None:
        os.close(self._fd)

"""Waiting for things to become ready, with a deadline and the reason when they do not."""

from __future__ import annotations

import time
from collections.abc import Callable

import requests


def wait_until(
    check: Callable[[], bool],
    *,
    timeout_s: float,
    interval_s: float = 0.05,
    abort: Callable[[], str | None] | None = None,
) -> bool:
    """Poll `check` until it is true (True) or the deadline passes (False).

    `abort` is asked between polls; when it returns a reason (e.g. "process exited"), waiting
    stops at once with False, so a dead process is not waited on for the full timeout.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        if check():
            return True
        if abort is not None and abort() is not None:
            return False
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval_s)


def http_ok(url: str, timeout_s: float = 0.5) -> bool:
    """True when GET url answers 2xx; connection errors count as not ready."""
    try:
        return requests.get(url, timeout=timeout_s).ok
    except requests.RequestException:
        return False

"""Exclusive file locks with a bounded wait, shared by every step that must not run twice at once."""

from __future__ import annotations

import contextlib
import fcntl
import time
from collections.abc import Callable, Iterator
from pathlib import Path


@contextlib.contextmanager
def held(lock_path: Path, *, timeout_s: float, timed_out: Callable[[], Exception], poll_s: float = 1.0,
         waiting: Callable[[], None] | None = None, note_every_s: float = 60.0) -> Iterator[None]:
    """Hold an exclusive flock on `lock_path` (created if needed); raise `timed_out()` after `timeout_s`.

    `waiting` is called when the lock is first found taken and then every `note_every_s`, so a long
    wait shows as progress rather than as a hang.
    """
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout_s
    next_note = 0.0
    with lock_path.open("w") as lock:
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                now = time.monotonic()
                if now > deadline:
                    raise timed_out() from None
                if waiting is not None and now >= next_note:
                    waiting()
                    next_note = now + note_every_s
                time.sleep(poll_s)
        yield

"""Start child processes from one long-lived thread, so parent-death signals mean what we want.

Linux delivers PR_SET_PDEATHSIG when the *thread* that forked the child exits, not the process.
A target restarted from a short-lived fault thread would be killed the moment that thread
finished. Every supervised child is therefore forked by this one thread, which lives as long as
the suite does; the children still die with the suite itself, whatever kills it.
"""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor
from typing import Any

_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gochaos-spawner")


def popen(argv: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
    """`subprocess.Popen(argv, **kwargs)`, forked by the spawner thread; errors re-raised here."""
    def fork() -> subprocess.Popen[bytes]:
        return subprocess.Popen(argv, **kwargs)

    return _executor.submit(fork).result()

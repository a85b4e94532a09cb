"""Reading /proc text, wherever it was read from: this host, or a Kubernetes node."""

from __future__ import annotations


def vm_rss_mb(proc_status: str) -> int:
    """VmRSS in MiB from the text of a /proc/<pid>/status (0 when absent)."""
    for line in proc_status.splitlines():
        if line.startswith("VmRSS:"):
            try:
                return int(line.split()[1]) // 1024
            except (IndexError, ValueError):
                return 0
    return 0

"""Where the Go module (go_targets/) and the Kubernetes manifests (manifests/) are found.

A checkout has them beside the chaos package; an installed wheel carries a copy inside it
(chaos/_bundled/, put there by setup.py at build time), so `pip install gochaos` gives a tool that
builds its targets and deploys its manifests with no checkout at hand.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


def bundled_dir(name: str, marker: str) -> Path:
    """<checkout>/<name>, else the wheel's copy; the checkout path when neither holds `marker` (the
    caller then says what is missing and how to point at it)."""
    for candidate in (PACKAGE.parent / name, PACKAGE / "_bundled" / name):
        if (candidate / marker).is_file():
            return candidate
    return PACKAGE.parent / name

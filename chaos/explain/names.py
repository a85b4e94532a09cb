"""What every `gochaos explain KIND NAME` shares: refusing an unknown NAME with the names there are, and a
model's description as one line."""

from __future__ import annotations

from collections.abc import Iterable

from chaos.errors import UsageError
from chaos.suggest import did_you_mean


def check_name(kind: str, name: str | None, known: Iterable[str], noun: str | None = None) -> None:
    """UsageError naming the nearest and every valid name when `name` is not one of `known`."""
    if name is None:
        return
    choices = list(known)
    if name not in choices:
        raise UsageError(f"unknown {noun or kind.removesuffix('s')} {name!r}{did_you_mean(name, choices)}; "
                         f"`gochaos explain {kind}` lists them all")


def one_line(text: object) -> str:
    """The first paragraph of a description or docstring, on one line."""
    return " ".join(str(text or "").strip().split("\n\n")[0].split())

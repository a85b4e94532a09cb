"""'Did you mean ...?' for every name a user types: injectors, oracles, targets, fields."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(word: str, choices: Iterable[object]) -> str:
    """A suffix for an error message: the nearest valid name (if any) and all valid names."""
    options = sorted(str(c) for c in choices if c)
    close = difflib.get_close_matches(word, options, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"{hint} (valid: {', '.join(options)})"

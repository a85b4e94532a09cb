"""'Did you mean ...?' for every name a user types: injectors, oracles, targets, fields."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel


def did_you_mean(word: str, choices: Iterable[object]) -> str:
    """A suffix for an error message: the nearest valid name (if any) and all valid names."""
    options = sorted(str(c) for c in choices if c)
    close = difflib.get_close_matches(word, options, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"{hint} (valid: {', '.join(options)})"


def fields_at(model: type[BaseModel], loc: Sequence[Any]) -> list[str]:
    """Field names valid at `loc` inside `model` (list indexes skipped), for 'did you mean'."""
    for part in loc:
        if isinstance(part, int):
            continue
        annotation = model.model_fields[str(part)].annotation if str(part) in model.model_fields else None
        found = _model_in(annotation)
        if found is None:
            return []
        model = found
    return list(model.model_fields)


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None

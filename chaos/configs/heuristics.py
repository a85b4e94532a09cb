"""What a config's own tree says about its schema, since the service's schema is not known.

A Go service usually decodes strictly (`yaml.v3` KnownFields, `json.Decoder.DisallowUnknownFields`):
a key its structs do not have is a rejection. A mutation that wants to stay acceptable may therefore
only add keys where the service takes arbitrary ones, a `map[string]T`. Such a "data map" is told
apart from a struct by its own entries (`is_data_map`):

- it is not the root, has at least two entries and every value has the same shape (`tree.shape`:
  the same keys and kinds two levels down); and
- either some key does not look like a struct field (a field name is letters, `_` and `-` only,
  so `/api/users`, `eu-west-1`, `client7` or `10.0.0.1` are data), or at least three entries
  hold records (maps) of one shape, as `routes`, `backends` or `users` do.

So `timeouts: {read: 5s, write: 5s}` (a struct of like-typed fields) never gets a new key, while
`limits: {client1: 10, client2: 20}` or three route records do: a cloned sibling with a new key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from chaos.configs.tree import Key, is_map, scalar_kind, shape

_FIELD_NAME = re.compile(r"^[A-Za-z][A-Za-z_-]*$")
_DURATION = re.compile(r"^(\d+)(ns|us|µs|ms|s|m|h)$")
_TRAILING_DIGITS = re.compile(r"^(.*?)(\d+)$")
#: How many record siblings of one shape make a map of plain-named keys a data map.
RECORD_SIBLINGS = 3


def is_data_map(value: Mapping[Any, Any]) -> bool:
    """Does this map take arbitrary keys (`map[string]T`) rather than a struct's fixed fields?"""
    if len(value) < 2:
        return False
    values = list(value.values())
    first = shape(values[0])
    if any(shape(v) != first for v in values[1:]):
        return False
    if any(not _FIELD_NAME.match(str(k)) for k in value):
        return True
    return len(value) >= RECORD_SIBLINGS and is_map(values[0]) and len(values[0]) > 0


def new_key(existing: Mapping[Any, Any], sibling: Key) -> Key:
    """A key not yet in `existing`, in the style of `sibling`: `client7` -> `client12`, `alice` -> `alice-gochaos1`."""
    if isinstance(sibling, int) and not isinstance(sibling, bool):
        return max(k for k in existing if isinstance(k, int)) + 1
    name = str(sibling)
    taken = {str(k) for k in existing}
    match = _TRAILING_DIGITS.match(name)
    if match:
        prefix, digits = match.groups()
        numbers = [int(m.group(2)) for k in taken if (m := _TRAILING_DIGITS.match(k)) and m.group(1) == prefix]
        candidate = f"{prefix}{max(numbers) + 1:0{len(digits)}d}"
        if candidate not in taken:
            return candidate
    n = 1
    while f"{name}-gochaos{n}" in taken:
        n += 1
    return f"{name}-gochaos{n}"


def nudge(value: Any) -> tuple[Any, str]:
    """A different value of the same type a person could have written: the number moved, the bool flipped."""
    kind = scalar_kind(value)
    if kind == "bool":
        return (not value), "flipped"
    if kind == "int":
        number = int(value)
        return (number - 1, "-1") if number > 1 else (number + 1, "+1")
    if kind == "float":
        real = float(value)
        if 0 < real <= 1:
            return real / 2, "halved"
        return (real * 1.5 if real else 0.5), "x1.5"
    text = str(value)
    if duration := _DURATION.match(text):
        return f"{int(duration.group(1)) + 1}{duration.group(2)}", "duration +1"
    if digits := _TRAILING_DIGITS.match(text):
        return f"{digits.group(1)}{int(digits.group(2)) + 1}", "trailing number +1"
    return (text + "-gochaos" if text else "gochaos"), "suffixed"

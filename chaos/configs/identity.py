"""Which config a text is: what oracles compare to tell one written version from another.

A service with a version key (`version: v42`, configurable as a dotted path such as
`meta.version`) names its config itself, and that is what it reports back live. Most services
have none, so the config is named by a content hash of its canonical form: the tree as JSON with
sorted keys and no whitespace. That choice makes every rewrite that only touches formatting,
comments, quoting or key order hash the same, which is right, because the service decodes those
to the same values; a value or structure change hashes differently. A strict decoder sees `1`,
`1.0` and `"1"` as different, and so does the canonical form (JSON keeps the three apart).
The hash of the raw bytes is kept beside it, to tell a byte-identical rewrite (which a watcher
may ignore) from a formatting-only one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from chaos.configs.tree import Path, dotted, get, is_map, is_seq, parse_path, plain

#: Hex digits kept of each hash: 64 bits, plenty to tell a storm's versions apart.
HASH_DIGITS = 16


@dataclass(frozen=True)
class ConfigIdentity:
    """The version a config names itself, if any; its content hash; its raw-bytes hash."""

    version: str | None
    content_hash: str
    bytes_hash: str
    version_path: str | None = None

    @property
    def name(self) -> str:
        """The version key's value when there is one, else `sha:<content hash>`."""
        return self.version if self.version is not None else f"sha:{self.content_hash}"

    def same_content(self, other: ConfigIdentity) -> bool:
        return self.content_hash == other.content_hash


def canonical(tree: Any) -> str:
    """The tree as sorted-key, whitespace-free JSON: equal for every layout of the same values."""
    return json.dumps(plain(tree), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=True)


def content_hash(tree: Any) -> str:
    return hashlib.sha256(canonical(tree).encode("utf-8")).hexdigest()[:HASH_DIGITS]


def bytes_hash(text: str | bytes) -> str:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()[:HASH_DIGITS]


def version_at(tree: Any, path: Path) -> str | None:
    """The scalar at `path` as text, or None when the config has no such key (or it is not a scalar)."""
    try:
        value = get(tree, path)
    except (KeyError, IndexError, TypeError):
        return None
    if value is None or is_map(value) or is_seq(value):
        return None
    return str(plain(value))


def identify(tree: Any, text: str | bytes, version_key: str | Path | None = None) -> ConfigIdentity:
    """The identity of a config given its parsed tree and the exact text it was parsed from."""
    path = parse_path(version_key) if isinstance(version_key, str) else version_key
    version = version_at(tree, path) if path else None
    return ConfigIdentity(version=version, content_hash=content_hash(tree), bytes_hash=bytes_hash(text),
                          version_path=dotted(path) if path else None)


#: A hex identity this long or longer may be any prefix of a full hash (services shorten them as they like).
MIN_HASH_PREFIX = 8
_HEX = frozenset("0123456789abcdef")


def matches_name(identity: str, names: Collection[str]) -> bool:
    """Does the service's `identity` name a write known by `names`: exactly, or as a prefix of a full hash?"""
    if identity in names:
        return True
    short = identity.lower()
    return (len(short) >= MIN_HASH_PREFIX and set(short) <= _HEX
            and any(len(name) >= 32 and name.startswith(short) for name in names))

"""Text from logs and evidence made safe to embed: no terminal escapes, no XML-illegal characters."""

from __future__ import annotations

import re

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
# Characters XML 1.0 forbids (HTML renders them as garbage too): C0 controls except tab, LF, CR.
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def printable(text: str) -> str:
    """Strip ANSI colour codes; show any other control character as ``\\xNN``."""
    return _ILLEGAL.sub(lambda m: f"\\x{ord(m.group()):02x}", _ANSI.sub("", text))

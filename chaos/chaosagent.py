"""Client of chaosagent, the Go package bundled targets (and users' services) mount at /-/chaos/.

In-process faults (ballast, garbage churn, GC percent, memory limit, forced GC) and a runtime
snapshot from runtime/metrics. Every action carries a duration after which the agent reverts it
by itself, so even a suite that dies mid-fault leaves nothing squeezed for long.
"""

from __future__ import annotations

from typing import Any

import requests

from chaos.errors import InjectionFailed
from chaos.platform.base import RunningTarget
from chaos.targets import CHAOSAGENT_TOKEN_ENV as TOKEN_ENV

TOKEN_HEADER = "X-Chaos-Token"
KINDS = ("ballast", "churn", "gc-percent", "memory-limit", "force-gc")


class AgentClient:
    """Talks to one target's chaosagent."""

    def __init__(self, base_url: str, token: str, timeout_s: float = 2.0) -> None:
        self.base_url = base_url.rstrip("/") + "/-/chaos/"
        self.timeout_s = timeout_s
        self._session = requests.Session()
        self._session.headers[TOKEN_HEADER] = token

    def start(self, kind: str, *, duration_s: float, **fields: Any) -> dict[str, Any]:
        """Start one action; returns its status document (with `id`)."""
        if kind not in KINDS:
            raise InjectionFailed(f"chaosagent has no action {kind!r}; choose from {', '.join(KINDS)}")
        body = {"duration": f"{duration_s:g}s", **{k: v for k, v in fields.items() if v is not None}}
        return self._call("POST", kind, json=body)

    def revert_all(self) -> list[dict[str, Any]]:
        reply = self._call("POST", "revert")
        return list(reply.get("reverted", []))

    def runtime(self, *, creators: bool = False) -> dict[str, Any]:
        """The runtime/metrics snapshot: goroutines, heap, GC cycles and pauses, ...; with `creators`, also
        the live goroutines by the function that started them (a full dump: only for the idle samples)."""
        return self._call("GET", "runtime", params={"creators": "1"} if creators else None)

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            reply = self._session.request(method, self.base_url + path, timeout=self.timeout_s, **kwargs)
        except requests.RequestException as e:
            raise InjectionFailed(f"chaosagent {method} {path}: {e}") from e
        if reply.status_code == 403:
            raise InjectionFailed("chaosagent refused the token (403): is CHAOSAGENT_TOKEN set on the target?")
        if reply.status_code >= 400:
            raise InjectionFailed(f"chaosagent {method} {path}: HTTP {reply.status_code}: {reply.text.strip()}")
        data = reply.json()
        return data if isinstance(data, dict) else {"items": data}


def agent_for(target: RunningTarget) -> AgentClient | None:
    """The target's chaosagent client, or None when the target has no agent switched on."""
    token = target.extra_env.get(TOKEN_ENV) or target.spec.env.get(TOKEN_ENV)
    if not target.spec.chaosagent or not token:
        return None
    return AgentClient(target.endpoint.url, token)

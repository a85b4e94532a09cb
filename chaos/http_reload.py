"""The POST that makes a service reload (`reload: http`), as the storm sends it and `gochaos init` tries it: one
place says what its body and headers are (`HttpReload`), so what init found is what the run sends."""

from __future__ import annotations

import requests

from chaos.targets import HttpReload


def post_reload(base_url: str, request: HttpReload, config: str, *, timeout_s: float = 2.0) -> requests.Response:
    """POST `request` to the service at `base_url` (`http://host:port`), carrying `config` when its body is the
    config; requests' own errors are the caller's to judge."""
    body = config.encode() if request.body == "config" else None
    return requests.post(base_url + request.path, data=body, headers=request.headers, timeout=timeout_s)

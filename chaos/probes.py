"""Reading a target's live state through its contract: the config version it serves now."""

from __future__ import annotations

import requests
import yaml

from chaos.platform.base import RunningTarget


def live_version(target: RunningTarget) -> str | None:
    """The config version the target serves now, per its version probe; None if unreachable."""
    probe = target.spec.version
    if probe is None:
        return None
    try:
        if probe.endpoint:
            reply = requests.get(target.endpoint.url + probe.endpoint, timeout=0.5)
            value = reply.json().get(probe.json_field)
            return None if value is None else str(value)
        if probe.header:
            return requests.get(target.endpoint.url + "/", timeout=0.5).headers.get(probe.header)
    except (requests.RequestException, ValueError, AttributeError):
        return None
    return None


def initial_version(target: RunningTarget, version_key: str = "version") -> str | None:
    """The version in the config the target was started with (None without a config)."""
    config = target.spec.config
    if config is None:
        return None
    try:
        data = yaml.safe_load(config.initial)
    except yaml.YAMLError:
        return None
    if isinstance(data, dict) and version_key in data:
        return str(data[version_key])
    return None

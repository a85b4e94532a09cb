"""The sample configs of tests/data/configs, with their placeholders filled as a platform would."""

from __future__ import annotations

from pathlib import Path

from chaos.configs import placeholders
from chaos.configs.formats import ConfigFormat, ParsedConfig, parse

DATA = Path(__file__).resolve().parents[1] / "data" / "configs"
VALUES = {"listen": "127.0.0.1:8080", "port": "8080", "host": "127.0.0.1", "port.admin": "9000",
          "workdir": "/tmp/gochaos-w", "etcd_endpoints": "http://127.0.0.1:2379"}
SAMPLES = ("gateway.yaml", "gateway.json", "gateway.toml")


def sample(name: str) -> ParsedConfig:
    path = DATA / name
    text = placeholders.fill(path.read_text(encoding="utf-8"), VALUES, name)
    return parse(text, ConfigFormat.of(path), name)

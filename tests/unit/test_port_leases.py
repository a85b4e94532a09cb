"""Ports handed to parallel gochaos processes (pytest-xdist workers) never collide while services start."""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from pathlib import Path

import pytest

from chaos import ports


def _grab(ledger: str, count: int, queue: multiprocessing.Queue[list[int]]) -> None:
    os.environ["GOCHAOS_PORT_LEDGER"] = ledger
    queue.put([p for _ in range(count) for p in ports.free_ports(5)])


def test_processes_picking_at_once_get_disjoint_ports(tmp_path: Path) -> None:
    # 4 processes x 300 ports from ~22k candidates: without leases a shared port is all but certain
    # (birthday bound: 1 - exp(-1200^2 / 44000) ~ 1).
    ledger = str(tmp_path / "ports.json")
    ctx = multiprocessing.get_context("spawn")
    queue: multiprocessing.Queue[list[int]] = ctx.Queue()
    workers = [ctx.Process(target=_grab, args=(ledger, 60, queue)) for _ in range(4)]
    for worker in workers:
        worker.start()
    got = [queue.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(10)
    flat = [p for chunk in got for p in chunk]
    assert len(flat) == 1200 and len(set(flat)) == 1200


def test_leases_expire_and_a_broken_ledger_is_started_afresh(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    ledger = tmp_path / "ports.json"
    monkeypatch.setenv("GOCHAOS_PORT_LEDGER", str(ledger))
    ledger.write_text("{not json")
    monkeypatch.setattr(ports, "LEASE_S", 0.05)
    first = ports.free_ports(3)
    assert sorted(int(p) for p in json.loads(ledger.read_text())) == sorted(first)
    time.sleep(0.1)
    second = ports.free_ports(1)  # the expired leases are dropped when the ledger is next written
    assert [int(p) for p in json.loads(ledger.read_text())] == second

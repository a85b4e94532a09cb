"""Run directories: one per run, `latest` and the fixed paths through it, etcd data dropped, retention."""

from __future__ import annotations

import json
from pathlib import Path

from chaos import run_dirs


def _fake_run(report_dir: Path, name: str, now: float, verdict: str = "pass") -> Path:
    run = run_dirs.new_run_dir(report_dir, name, 7, now=now)
    (run / "report.json").write_text(json.dumps({"verdict": verdict}))
    (run / "junit.xml").write_text("<testsuites/>")
    wal = run / "artefacts" / name / "etcd" / "m0" / "member" / "wal"
    wal.mkdir(parents=True)
    (wal / "0.wal").write_bytes(b"\0" * 4096)
    (run / "artefacts" / name / "etcd" / "m0.log").write_text("etcd log\n")
    return run


def test_each_run_gets_a_fresh_directory_even_within_the_same_second(tmp_path: Path) -> None:
    first = run_dirs.new_run_dir(tmp_path, "gate", 7, now=1_700_000_000)
    second = run_dirs.new_run_dir(tmp_path, "gate", 7, now=1_700_000_000)
    assert first != second and first.is_dir() and second.is_dir()
    assert first.name == "20231114T221320Z-gate-7" and second.name == "20231114T221320Z-gate-7.2"
    assert run_dirs.new_run_dir(tmp_path, "my service/x", None, now=0).name == "19700101T000000Z-my-service-x"


def test_latest_and_the_fixed_paths_follow_the_newest_run(tmp_path: Path) -> None:
    old = _fake_run(tmp_path, "etcd-leader-loss", 1_700_000_000, "fail")
    run_dirs.publish_latest(tmp_path, old)
    assert json.loads((tmp_path / "report.json").read_text())["verdict"] == "fail"
    new = _fake_run(tmp_path, "etcd-leader-loss", 1_700_000_100)
    (tmp_path / "report.html").write_text("stale")  # a file of an older layout: replaced by the link
    run_dirs.publish_latest(tmp_path, new)
    assert (tmp_path / "latest").resolve() == new.resolve()
    assert json.loads((tmp_path / "report.json").read_text())["verdict"] == "pass"
    assert not (tmp_path / "report.html").exists() and not (tmp_path / "report.html").is_symlink(), \
        "a report the newest run lacks must not be served from an older run"
    assert (tmp_path / "artefacts" / "etcd-leader-loss" / "etcd" / "m0.log").is_file()
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_passing_run_drops_etcd_data_but_keeps_logs(tmp_path: Path) -> None:
    run = _fake_run(tmp_path, "etcd-leader-loss", 1_700_000_000)
    freed = run_dirs.drop_etcd_data(run)
    etcd = run / "artefacts" / "etcd-leader-loss" / "etcd"
    assert freed == 4096 and not (etcd / "m0").exists() and (etcd / "m0.log").is_file()


def test_retire_keeps_the_newest_runs_and_touches_nothing_else(tmp_path: Path) -> None:
    made = [_fake_run(tmp_path, "gate", 1_700_000_000 + i * 60) for i in range(5)]
    (tmp_path / "notes").mkdir()
    run_dirs.publish_latest(tmp_path, made[-1])
    gone = run_dirs.retire(tmp_path, 2)
    assert gone == made[:3]
    assert run_dirs.runs(tmp_path) == made[3:]
    assert (tmp_path / "notes").is_dir() and (tmp_path / "latest").resolve() == made[-1]
    assert run_dirs.retire(tmp_path, 0) == [made[3]], "the newest run is always kept"

"""Every run in a directory of its own under the report dir, a `latest` link, and retention.

A scheduled job reuses its report dir run after run, so nothing a run writes may be in the next
run's way: each run gets `<report dir>/<UTC time>-<name>[-<seed>]/` (reports, and the targets' logs
and etcd's data under `artefacts/`). `latest` points at the newest run, and the report files and
`artefacts` at the top of the report dir are links through `latest`, so CI reads fixed paths.
A passing run drops etcd's data directories (hundreds of MB of preallocated WAL); a run that did
not pass keeps everything for the post-mortem. `retire` removes the oldest runs beyond `--keep`.

`gochaos run` keeps its runs in `DEFAULT_REPORT_DIR` unless told otherwise, and `gochaos history` reads
the same place: a run nobody configured still leaves its reports where the next command looks.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterable
from pathlib import Path

#: The report dir of `run` and `reproduce` without --report-dir (or GOCHAOS_REPORT_DIR), read by `history`.
DEFAULT_REPORT_DIR = Path("reports")
#: The link to the newest run, and the names linked through it at the top of the report dir.
LATEST = "latest"
STABLE_NAMES = ("report.json", "junit.xml", "report.html", "summary.md", "metrics.prom", "artefacts")
_RUN_DIR = re.compile(r"^\d{8}T\d{6}Z-[A-Za-z0-9._-]+$")


def new_run_dir(report_dir: Path, name: str, seed: int | None, *, now: float | None = None) -> Path:
    """Create and return a fresh directory for one run (never one an earlier run used)."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if now is None else now))
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "run"
    base = f"{stamp}-{safe}" + (f"-{seed}" if seed is not None else "")
    report_dir.mkdir(parents=True, exist_ok=True)
    for attempt in range(1, 1000):
        candidate = report_dir / (base if attempt == 1 else f"{base}.{attempt}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        return candidate.resolve()
    raise FileExistsError(f"{report_dir}: no free run directory name for {base}")


def publish_latest(report_dir: Path, run_dir: Path, names: Iterable[str] = STABLE_NAMES) -> None:
    """Point `latest` at `run_dir`, and each of `names` that the run has at `latest/<name>`.

    Links are relative (the report dir can be moved or mounted elsewhere) and replaced by rename,
    so a reader never sees a missing `latest`. A report the run lacks (it could not be written)
    loses its old link or file, so no reader takes an older run's report for this one's.
    """
    _link(report_dir / LATEST, os.path.relpath(run_dir, report_dir))
    for name in names:
        top = report_dir / name
        if top.is_dir() and not top.is_symlink():
            continue  # a directory of an older layout: never deleted on the user's behalf
        if (run_dir / name).exists():
            _link(top, f"{LATEST}/{name}")
        else:
            top.unlink(missing_ok=True)


def describe(run_dir: Path, files: Iterable[str]) -> str:
    """`reports: <run dir>/ (summary.md, report.html, ...)`: where a run's reports went, the pages people
    open first; the directory relative to the working directory when inside it."""
    try:
        shown = str(run_dir.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        shown = str(run_dir)
    first = ("summary.md", "report.html")
    names = sorted(dict.fromkeys(files), key=lambda n: first.index(n) if n in first else len(first))
    return f"reports: {shown}/ ({', '.join(names) or 'none could be written'})"


def runs(report_dir: Path) -> list[Path]:
    """The run directories under `report_dir`, oldest first (by their names' time stamps)."""
    if not report_dir.is_dir():
        return []
    return sorted((p for p in report_dir.iterdir() if p.is_dir() and not p.is_symlink() and _RUN_DIR.match(p.name)),
                  key=lambda p: p.name)


def retire(report_dir: Path, keep: int) -> list[Path]:
    """Remove the oldest run directories so that at most `keep` remain (the newest is always kept)."""
    found = runs(report_dir)
    doomed = found[:max(0, len(found) - max(keep, 1))]
    for path in doomed:
        shutil.rmtree(path, ignore_errors=True)
    return doomed


def drop_etcd_data(run_dir: Path) -> int:
    """Remove etcd data directories (those holding `member/wal`) under `run_dir`; bytes freed."""
    freed = 0
    for wal in list(run_dir.rglob("member/wal")):
        data_dir = wal.parent.parent
        if not data_dir.exists():
            continue
        freed += sum(f.stat().st_size for f in data_dir.rglob("*") if f.is_file() and not f.is_symlink())
        shutil.rmtree(data_dir, ignore_errors=True)
    return freed


def _link(path: Path, target: str) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(target)
    os.replace(temporary, path)

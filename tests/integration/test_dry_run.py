"""`gochaos run|reproduce --dry-run` prints the plan and touches nothing.

The real command runs under a Python audit hook (PEP 578) that records every attempt to start a
process, write or remove a file, send a signal or open a socket; HOME, TMPDIR, the build cache and
the state dir point at empty directories that must stay empty.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]

AUDITED = textwrap.dedent("""
    import json, os, sys
    seen = []
    WRITES = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
    EVENTS = {"subprocess.Popen", "os.fork", "os.forkpty", "os.posix_spawn", "os.exec", "os.spawn",
              "os.system", "os.kill", "os.killpg", "os.mkdir", "os.rename", "os.remove", "os.rmdir",
              "os.symlink", "os.link", "os.truncate", "os.chmod", "os.chown", "shutil.rmtree",
              "shutil.copyfile", "shutil.move", "socket.connect", "socket.bind", "tempfile.mkdtemp",
              "tempfile.mkstemp"}

    def hook(event, args):
        if event == "open":
            path, mode, flags = args
            writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or bool((flags or 0) & WRITES)
            if writes and not isinstance(path, int):
                seen.append(f"open {path} {mode}")
        elif event == "socket.bind" and args[1][1] == 0:
            pass  # urllib3's import-time probe for IPv6 (binds ::1 port 0, then closes)
        elif event in EVENTS:
            seen.append(f"{event} {args!r}"[:300])

    sys.addaudithook(hook)
    from chaos.cli import main
    code = main(sys.argv[1:])
    sys.stdout.flush()
    print("AUDIT " + json.dumps(seen), file=sys.stderr)
    sys.exit(code)
""")


@pytest.mark.parametrize(("command", "scenario", "shows"), [
    ("run", "gate", ["plan for reload-panic (fixed build)", "plan for gc-pressure (fixed build)",
                     "--reload-strategy=atomic", "etcd: 3 members on loopback, heartbeat 50 ms, election 500 ms",
                     "load: 20 configd users on configd, spawn rate 100/s", "leader_loss on cluster: mode=kill",
                     "recovery: bound_s=3.0", "consistency: max_lag_ms=500.0"]),
    ("reproduce", "etcd-leader-loss", ["plan for etcd-leader-loss (buggy build)", "--ctx-mode=leaky",
                                       "+   3.000s  leader_loss", "+   6.000s  leader_loss"]),
    ("run", "etcd-leader-loss --platform kubernetes",
     ["on platform kubernetes", "kvd: <kvd image> --listen=0.0.0.0:<container port>",
      "etcd: 3 members as the StatefulSet of manifests/etcd in the run's namespace"]),
    ("run", str(REPO / "tests" / "integration" / "user_service" / "go-httpbin.chaos.yaml"),
     ["httpbin: <github.com/mccutchen/go-httpbin/v2/cmd/go-httpbin@v2.18.0 binary> -host 127.0.0.1 -port "
      "<free port>", "gc_pressure on httpbin: method=env"]),
])
def test_dry_run_prints_the_plan_and_touches_nothing(
    tmp_path: Path, command: str, scenario: str, shows: list[str]
) -> None:
    dirs = {name: tmp_path / name for name in ("home", "tmp", "cache", "state", "cwd")}
    for folder in dirs.values():
        folder.mkdir()
    env = {**os.environ, "HOME": str(dirs["home"]), "TMPDIR": str(dirs["tmp"]),
           "GOCHAOS_CACHE_DIR": str(dirs["cache"]), "GOCHAOS_STATE_DIR": str(dirs["state"]),
           "GOCHAOS_REPORT_DIR": str(tmp_path / "reports"), "PYTHONDONTWRITEBYTECODE": "1",
           "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-c", AUDITED, command, *scenario.split(), "--dry-run", "--seed", "42"],
                            cwd=dirs["cwd"], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    audit = [line for line in result.stderr.splitlines() if line.startswith("AUDIT ")]
    assert len(audit) == 1 and json.loads(audit[0].removeprefix("AUDIT ")) == [], audit
    assert [line for line in result.stderr.splitlines() if not line.startswith("AUDIT ")] == []
    for text in shows:
        assert text in result.stdout, f"{text!r} not in the plan:\n{result.stdout}"
    assert "seed 42 (replay with --seed 42)" in result.stdout
    written = {name: sorted(p.name for p in folder.rglob("*")) for name, folder in dirs.items()}
    assert written == {name: [] for name in dirs}
    assert not (tmp_path / "reports").exists()

"""What this process holds outside itself, kept on disk, so a later run can undo it if we die.

A SIGKILLed suite runs no `finally`: its children die with it (PR_SET_PDEATHSIG), but iptables
rules, cgroups, SIGSTOPped processes and temp dirs stay. So every module that acquires such a thing
records it here first (`hold`) and forgets it once undone (`release`); the record is one JSON
state file per suite process, `<pid>.<start>.json`, with its identity (pid + start time from
/proc/<pid>/stat, boot id, pid namespace) so a recycled pid is never taken for it.

`reclaim()` (run at the start of every `gochaos run`/`reproduce`, by `gochaos cleanup` and when a
pytest session starts) undoes what dead owners left: each resource kind registers a reclaimer
that works from the recorded data alone, and may register a scanner that finds the resource by
the owner tag in its name or comment when no state file mentions it (a crash between acquiring
and recording). Live owners, and owners whose liveness cannot be judged from here, are left alone.
The ledger names no platform: the platform packages register their kinds (`kind`) and how to judge
an owner in another pod (`judge_pods_with`); chaos.platform.factory loads them all before a reclaim.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import logging
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chaos.errors import ChaosError, PlatformError

log = logging.getLogger("gochaos")

SCHEMA = 1
#: Says whether the run in another pod (`namespace/name/uid`) is alive, dead or unknown; registered by the
#: Kubernetes platform (`judge_pods_with`), else every such owner is "unknown" and nothing of it is undone.
_pod_judge: Callable[[str], str] | None = None


def judge_pods_with(judge: Callable[[str], str]) -> None:
    """Owners in other pods are judged by `judge` (the platform that can ask a cluster registers it)."""
    global _pod_judge
    _pod_judge = judge


# -- identity -------------------------------------------------------------------------------------
def process_start(pid: int) -> int | None:
    """Start time of `pid` in clock ticks after boot (/proc/<pid>/stat field 22); None if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return int(stat[stat.rindex(")") + 2:].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def _pid_ns() -> str:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""


#: Set by the downward API in a pod (manifests/runner): the pod a run lives in, so that a run in a
#: later pod (its state on the same volume) can tell whether the pod of a killed run is gone.
POD_ENV = ("GOCHAOS_POD_NAMESPACE", "GOCHAOS_POD_NAME", "GOCHAOS_POD_UID")


def _my_pod() -> str:
    """`namespace/name/uid` of the pod this process runs in, when the downward API says so; else ""."""
    parts = [os.environ.get(name, "") for name in POD_ENV]
    return "/".join(parts) if all(parts) else ""


@dataclass(frozen=True, slots=True)
class Owner:
    """One suite process, identified beyond its pid (pids are recycled), and its pod when it has one."""

    pid: int
    start: int | None
    boot_id: str
    pid_ns: str
    pod: str = ""

    @classmethod
    def me(cls) -> Owner:
        pid = os.getpid()
        return cls(pid, process_start(pid), _boot_id(), _pid_ns(), _my_pod())

    def is_me(self) -> bool:
        """This very process (a pid alone would match a dead run's in another pod: both are often 1)."""
        return self.pid == os.getpid() and self.pid_ns == _pid_ns() and self.pod == _my_pod()

    @property
    def tag(self) -> str:
        """`<pid>.<start>`: goes into rule comments and cgroup names so scans can find the owner."""
        return f"{self.pid}.{self.start}"

    @classmethod
    def from_tag(cls, tag: str) -> Owner | None:
        """The owner a tag names, assumed to be of this boot and pid namespace."""
        match = re.fullmatch(r"(\d+)\.(\d+)", tag)
        if match is None:
            return None
        return cls(int(match[1]), int(match[2]), _boot_id(), _pid_ns())

    def status(self) -> str:
        """One of alive, dead, or unknown (another pid namespace: its pids mean nothing here).

        An owner in another pod is as alive as its pod, which the API says (a pod gone, replaced or
        ended is dead).
        """
        if self.pod and self.pod != _my_pod():
            return _pod_judge(self.pod) if _pod_judge is not None else "unknown"
        if self.pid_ns != _pid_ns():
            return "unknown"
        if self.boot_id != _boot_id():
            return "dead"
        return "alive" if self.start is not None and process_start(self.pid) == self.start else "dead"


def same_process(pid: int, start: int | None) -> bool:
    """True when `pid` is still the process that had start time `start` (never a recycled pid)."""
    return start is not None and process_start(pid) == start


def identity(pid: int) -> dict[str, Any]:
    """What to record about a process so a reclaimer can tell it from a later one with its pid."""
    return {"pid": pid, "start": process_start(pid)}


def owner_tag() -> str:
    """This process's owner tag (see `Owner.tag`)."""
    return _ledger.owner().tag


# -- resource kinds -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Holding:
    """One thing held outside the process: kind, a key unique within the kind, and its data."""

    #: The resource kind, whose registered reclaimer undoes it ("pgroup", "iptables", "dir", ...).
    kind: str
    #: Unique within the kind (a pid, a rule's text, a path): holding it twice is one holding.
    key: str
    #: One line for people: what it is, as `gochaos cleanup` reports it.
    what: str
    #: What the reclaimer needs to undo it with nothing else at hand (pid and start time, a rule).
    data: dict[str, Any]


#: What a reclaimer returns when there was nothing left to undo (the process group exited, the dir is gone).
ALREADY_GONE = "already gone"
#: Undo a holding from its data alone; return what was done ("removed", or ALREADY_GONE).
Reclaimer = Callable[[Holding], str]
#: Find holdings by owner tag: (owner tag, holding) for each one found.
Scanner = Callable[[], Iterable[tuple[str, Holding]]]
#: Is the holding still there to undo? Asked by a dry run, which must not undo it to find out.
Presence = Callable[[Holding], bool]


@dataclass(frozen=True, slots=True)
class Kind:
    name: str
    order: int  # lower first: resume before kill, kill before rmdir
    reclaim: Reclaimer
    scan: Scanner | None = None
    #: Without it a dry run cannot tell what is gone, and says each holding would be cleaned up.
    present: Presence | None = None


KINDS: dict[str, Kind] = {}


def kind(name: str, *, order: int, scan: Scanner | None = None,
         present: Presence | None = None) -> Callable[[Reclaimer], Reclaimer]:
    """Register the reclaimer (and optional scanner and presence check) of a resource kind."""

    def register(reclaim: Reclaimer) -> Reclaimer:
        KINDS[name] = Kind(name, order, reclaim, scan, present)
        return reclaim

    return register


@kind("dir", order=50, present=lambda holding: Path(holding.key).exists())
def _reclaim_dir(holding: Holding) -> str:
    path = Path(holding.key)
    if not path.is_absolute() or not path.name.startswith("gochaos-"):
        raise PlatformError(f"refusing to remove {path}: not a gochaos temp dir")
    if not path.exists():
        return ALREADY_GONE
    shutil.rmtree(path)
    return "removed"


# -- state files ----------------------------------------------------------------------------------
def state_dirs() -> list[Path]:
    """Where state files live: $GOCHAOS_STATE_DIR alone if set, else every default location.

    The first one usable is written to; reclaiming looks in all of them, so a run as root and one
    as a user (or with another XDG_RUNTIME_DIR) still find each other's leftovers.
    """
    override = os.environ.get("GOCHAOS_STATE_DIR")
    if override:
        return [Path(override)]
    dirs = []
    if os.environ.get("XDG_RUNTIME_DIR"):
        dirs.append(Path(os.environ["XDG_RUNTIME_DIR"]) / "gochaos")
    if os.geteuid() == 0:
        dirs.append(Path("/run/gochaos"))
    dirs.append(Path.home() / ".cache" / "gochaos" / "state")
    return list(dict.fromkeys(dirs))


class _Ledger:
    """This process's holdings, mirrored to its state file on every change."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._holdings: dict[tuple[str, str], Holding] = {}
        self._owner: Owner | None = None
        self._path: Path | None = None
        self._warned = False

    def owner(self) -> Owner:
        with self._lock:
            if self._owner is None or self._owner.pid != os.getpid():  # a fork is a new owner
                self._owner, self._path, self._holdings = Owner.me(), None, {}
            return self._owner

    def path(self) -> Path:
        """The state file (its directory created); PlatformError when no location is writable."""
        owner = self.owner()
        with self._lock:
            if self._path is not None:
                return self._path
            problems = []
            for folder in state_dirs():
                try:
                    prove_writable(folder)
                except OSError as e:
                    problems.append(f"{folder}: {e.strerror or e}")
                    continue
                self._path = folder / f"{owner.tag}.json"  # pid and start: a recycled pid gets its own file
                return self._path
            raise PlatformError(
                "cannot record what this run holds (needed to clean up after a crash): "
                f"{'; '.join(problems)}; point GOCHAOS_STATE_DIR at a writable directory"
            )

    def hold(self, holding: Holding) -> None:
        with self._lock:
            self.owner()
            self._holdings[(holding.kind, holding.key)] = holding
            self._save()

    def release(self, kind_name: str, key: str) -> None:
        with self._lock:
            if self._owner is None or self._owner.pid != os.getpid():
                return
            if self._holdings.pop((kind_name, key), None) is not None:
                self._save()

    def held(self) -> list[Holding]:
        with self._lock:
            if self._owner is None or self._owner.pid != os.getpid():
                return []
            return list(self._holdings.values())

    def _save(self) -> None:
        """Write the file atomically (delete it when nothing is held). Never raises: a run goes on."""
        try:
            path = self.path()
            if not self._holdings:
                path.unlink(missing_ok=True)
                return
            owner = self.owner()
            document = {"schema": SCHEMA, "owner": {"pid": owner.pid, "start": owner.start,
                                                    "boot_id": owner.boot_id, "pid_ns": owner.pid_ns,
                                                    "pod": owner.pod},
                        "holdings": [{"kind": h.kind, "key": h.key, "what": h.what, "data": h.data}
                                     for h in self._holdings.values()]}
            tmp = path.with_name(f".{path.name}.tmp")
            tmp.write_text(json.dumps(document, indent=1), encoding="utf-8")
            os.replace(tmp, path)
        except (OSError, PlatformError) as e:
            if not self._warned:
                self._warned = True
                log.warning("could not update the state file (crash clean-up may miss things): %s", e)


_ledger = _Ledger()


def hold(kind_name: str, key: str, what: str, **data: Any) -> None:
    """Record that this process holds something; record BEFORE acquiring it (reclaim is idempotent)."""
    _ledger.hold(Holding(kind_name, key, what, data))


def release(kind_name: str, key: str) -> None:
    """Forget a holding once it is undone (or deliberately kept)."""
    _ledger.release(kind_name, key)


def held() -> list[Holding]:
    """What this process holds right now."""
    return _ledger.held()


def prove_writable(folder: Path) -> None:
    """Create `folder` if needed and a file in it (removed again); OSError when that cannot be done."""
    folder.mkdir(parents=True, exist_ok=True)
    probe = folder / f".gochaos-probe-{os.getpid()}"
    probe.touch()
    probe.unlink()


def ensure_writable() -> Path:
    """The state file path; PlatformError with a fix when no state location is writable."""
    return _ledger.path()


def make_temp_dir(prefix: str) -> Path:
    """A fresh temp dir (prefix must start with "gochaos-"), recorded so a crash cannot leak it."""
    path = Path(tempfile.mkdtemp(prefix=prefix)).resolve()
    hold("dir", str(path), f"temp dir {path}")
    return path


def remove_temp_dir(path: Path) -> None:
    """Remove a dir made by `make_temp_dir` and forget it."""
    shutil.rmtree(path, ignore_errors=True)
    release("dir", str(path))


# -- reclaiming -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Reclaimed:
    """One leftover of a dead run, and what was done about it."""

    holding: Holding
    owner_pid: int
    outcome: str
    ok: bool

    @property
    def gone(self) -> bool:
        """Nothing was left to undo: the ledger entry outlived what it recorded (not a leftover)."""
        return self.ok and self.outcome == ALREADY_GONE

    def describe(self) -> str:
        return f"{self.holding.what} (left by dead gochaos pid {self.owner_pid}): {self.outcome}"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[bool]:
    """Exclusive lock on a state file so two runs do not reclaim it at once; yields False if taken."""
    try:
        handle = path.open("r+")
    except OSError:
        yield False
        return
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False
            return
        yield True


def _read(path: Path) -> tuple[Owner, list[Holding]] | None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        o = doc["owner"]
        owner = Owner(int(o["pid"]), o.get("start"), str(o.get("boot_id", "")), str(o.get("pid_ns", "")),
                      str(o.get("pod", "")))
        holdings = [Holding(str(h["kind"]), str(h["key"]), str(h.get("what", h["key"])), dict(h.get("data", {})))
                    for h in doc["holdings"]]
    except (OSError, ValueError, KeyError, TypeError) as e:
        log.warning("ignoring unreadable state file %s: %s", path, e)
        return None
    return owner, holdings


def _undo(holding: Holding, owner_pid: int, dry_run: bool) -> Reclaimed:
    spec = KINDS.get(holding.kind)
    if dry_run:
        try:
            there = spec is None or spec.present is None or spec.present(holding)
        except (OSError, ChaosError):
            there = True  # cannot tell: the real run will say
        return Reclaimed(holding, owner_pid, "would be cleaned up" if there else ALREADY_GONE, True)
    if spec is None:
        return Reclaimed(holding, owner_pid, f"unknown kind {holding.kind!r}: remove it by hand", False)
    try:
        return Reclaimed(holding, owner_pid, spec.reclaim(holding), True)
    except (OSError, ChaosError) as e:
        return Reclaimed(holding, owner_pid, f"could not clean up: {e}", False)


def reclaim(*, dry_run: bool = False, report: Callable[[str], None] | None = None) -> list[Reclaimed]:
    """Undo everything dead gochaos processes left behind; `report` gets one line per item, which says
    when what an entry recorded was already gone (`Reclaimed.gone`: not a leftover, and not counted as one).

    State files of dead owners are worked through (and deleted once everything in them is undone),
    then the scanners' findings whose owner is dead and that no state file named. With `dry_run`
    nothing is changed, only reported. Only the kinds registered so far are undone:
    chaos.platform.factory.reclaim_dead_runs registers every platform's first.
    """
    me = os.getpid()
    done: list[Reclaimed] = []
    seen: set[tuple[str, str]] = set()

    def emit(item: Reclaimed) -> None:
        done.append(item)
        if report is not None:
            report(item.describe())

    files = sorted({p for folder in state_dirs() if folder.is_dir() for p in folder.glob("*.json")})
    for path in files:
        with _locked(path) as mine:
            if not mine:
                continue  # another run is reclaiming it right now
            parsed = _read(path)
            if parsed is None:
                continue
            owner, holdings = parsed
            seen.update((h.kind, h.key) for h in holdings)
            if owner.is_me() or owner.status() != "dead":
                continue
            results = [_undo(h, owner.pid, dry_run)
                       for h in sorted(holdings, key=lambda h: _order(h.kind))]
            for item in results:
                emit(item)
            if not dry_run and all(item.ok for item in results):
                path.unlink(missing_ok=True)
    for spec in sorted(KINDS.values(), key=lambda k: k.order):
        if spec.scan is None:
            continue
        for tag, holding in spec.scan():
            tagged = Owner.from_tag(tag)
            if (holding.kind, holding.key) in seen or tagged is None or tagged.pid == me \
                    or tagged.status() != "dead":
                continue
            seen.add((holding.kind, holding.key))
            emit(_undo(holding, tagged.pid, dry_run))
    return done


def _order(kind_name: str) -> int:
    spec = KINDS.get(kind_name)
    return spec.order if spec is not None else 100


def _reclaim_own_at_exit() -> None:
    """Whatever this process still holds at a normal exit is undone now, and said."""
    if _ledger._owner is None or _ledger._owner.pid != os.getpid():
        return
    for holding in sorted(held(), key=lambda h: _order(h.kind)):
        item = _undo(holding, os.getpid(), dry_run=False)
        log.warning("still held at exit, cleaned up: %s: %s", holding.what, item.outcome)
        if item.ok:
            release(holding.kind, holding.key)


atexit.register(_reclaim_own_at_exit)

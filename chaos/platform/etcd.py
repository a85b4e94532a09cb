"""etcd leadership as etcd's own API reports it, and the leader-loss operations built on it.

Every platform runs etcd differently (local processes, a StatefulSet's pods), but finding the
leader, waiting for a new one, timing the change and moving leadership gracefully all go through
the members' client URLs alone: the Maintenance Status and transfer-leadership calls of etcd's
JSON gateway. `EtcdLeadership` holds that shared part; a platform's cluster subclasses it with
how its members are started, stopped and hurt (`loss_modes`).
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, Self, TypeVar, runtime_checkable

import requests

from chaos.errors import EtcdError
from chaos.observe.readiness import wait_until
from chaos.timeline import EventKind, Timeline, now_ns

if TYPE_CHECKING:
    from chaos.platform.kinds import PlatformKind

STATUS_TIMEOUT_S = 0.3
POLL_S = 0.01


def check_shape(size: int, heartbeat_ms: int, election_ms: int) -> None:
    """EtcdError unless etcd would accept this cluster size and timing."""
    if size < 1:
        raise EtcdError(f"an etcd cluster needs at least 1 member, got {size}")
    if election_ms < 5 * heartbeat_ms:
        raise EtcdError(f"election timeout {election_ms} ms must be at least 5x the heartbeat "
                        f"{heartbeat_ms} ms (etcd refuses otherwise)")


@dataclass(frozen=True, slots=True)
class ClientTls:
    """Client TLS to etcd as files: what requests, etcdctl (--cacert/--cert/--key) and kvd take."""

    ca_file: Path
    cert_file: Path | None = None
    key_file: Path | None = None

    @property
    def requests_cert(self) -> tuple[str, str] | None:
        """The client certificate as requests' `cert` takes it (None: none is presented)."""
        if self.cert_file is None or self.key_file is None:
            return None
        return str(self.cert_file), str(self.key_file)


class Member(Protocol):
    """One etcd member as the leadership logic sees it."""

    name: str
    member_id: int | None
    paused: bool

    @property
    def client_url(self) -> str:
        """Where this host reaches the member's client API."""
        ...

    @property
    def running(self) -> bool:
        """False while the member is known to be down (killed, deleted, not yet back)."""
        ...

    @property
    def isolated(self) -> bool:
        """True while its peer traffic is cut: it may still claim a leadership it lost."""
        ...


M = TypeVar("M", bound=Member)


@dataclass(frozen=True, slots=True)
class MemberStatus:
    """What one member says about itself and the cluster (Maintenance Status)."""

    member_id: int
    leader_id: int
    raft_term: int
    version: str
    raft_applied_index: int = 0

    @property
    def is_leader(self) -> bool:
        return self.leader_id != 0 and self.leader_id == self.member_id


@dataclass(frozen=True, slots=True)
class LeaderChange:
    """The outcome of a leader-loss operation, with its timings on the run's clock."""

    operation: str
    old_leader: str
    new_leader: str
    started_ns: int
    observed_ns: int
    old_term: int
    new_term: int

    @property
    def elected(self) -> bool:
        """A new election happened: a leader of a later term (it may be the old member, restarted)."""
        return self.new_term > self.old_term

    @property
    def elapsed_ms(self) -> float:
        """From the operation to the first observation of a different, confirmed leader."""
        return (self.observed_ns - self.started_ns) / 1e6


@dataclass(frozen=True, slots=True)
class LossMode(Generic[M]):
    """One way to take a leader out (`lose`) and to bring the member back (`bring_back`)."""

    lose: Callable[[M], None]
    bring_back: Callable[[M], None]


@runtime_checkable
class MemberKilling(Protocol):
    """Can SIGKILL a member and bring it back on its data (`kill` leader loss)."""

    def kill(self, member: Any) -> None: ...

    def revive(self, member: Any) -> None: ...


@runtime_checkable
class MemberIsolating(Protocol):
    """Can cut a member's peer traffic both ways and restore it (`isolate` leader loss)."""

    def isolate(self, member: Any) -> None: ...

    def heal(self, member: Any) -> None: ...


@runtime_checkable
class MemberDeleting(Protocol):
    """Can delete a member outright and have it made again on its data (`delete` leader loss)."""

    def delete(self, member: Any) -> None: ...

    def revive(self, member: Any) -> None: ...


class EtcdLeadership(Generic[M]):
    """Leadership of an etcd cluster whose members this host reaches at their client URLs."""

    #: The platform the members run on (each cluster class names its own).
    platform: ClassVar[PlatformKind]

    def __init__(self, timeline: Timeline | None, where: str, tls: ClientTls | None = None) -> None:
        self.timeline = timeline or Timeline()
        self.members: list[M] = []
        #: Where the members' logs are, for error messages.
        self.where = where
        #: Client TLS every call to the members uses (None: plain HTTP); targets get it too.
        self.tls = tls
        self._session = requests.Session()
        #: The terms whose leader is on the timeline: several faults watching one election record it once.
        self._terms_recorded: set[int] = set()
        self._terms_lock = threading.Lock()

    def record_leader(self, leader: str, previous: str, operation: str, term: int, t_ns: int) -> None:
        """Put `leader`, elected in `term`, on the timeline, unless that term's leader is there already (a
        leader_loss and the network faults on each peer link all watch the one election)."""
        with self._terms_lock:
            if term in self._terms_recorded:
                return
            self._terms_recorded.add(term)
        self.timeline.record(EventKind.ETCD_LEADER, "etcd", t_ns=t_ns, leader=leader, previous=previous,
                             operation=operation, term=term)

    def post(self, session: requests.Session, url: str, body: dict[str, Any], timeout_s: float) -> requests.Response:
        """POST to a member's JSON gateway with the client TLS, given on each call: a Session's own `verify` loses
        to REQUESTS_CA_BUNDLE in the environment (psf/requests#3829), and the CA must be this etcd's."""
        if self.tls is None:
            return session.post(url, json=body, timeout=timeout_s)
        return session.post(url, json=body, timeout=timeout_s, verify=str(self.tls.ca_file),
                            cert=self.tls.requests_cert)

    @property
    def endpoints(self) -> str:
        """Client URLs of all members, comma-separated, as the targets reach them (--endpoints)."""
        raise NotImplementedError

    def start(self) -> None:
        """Start every member; return once all answer and one leads."""
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def started(self) -> Self:
        """`start()`, stopping whatever did start when it fails or is interrupted."""
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def loss_modes(self) -> Mapping[str, LossMode[M]]:
        """The leader-loss operations this cluster offers, by mode name: one per ability it has (every
        cluster can pause a member by signal; killing, isolating, deleting are `Member*` abilities)."""
        modes: dict[str, LossMode[M]] = {}
        if isinstance(self, MemberKilling):
            modes["kill"] = LossMode(self.kill, self.revive)
        modes["pause"] = LossMode(self.pause, self.resume)
        if isinstance(self, MemberIsolating):
            modes["isolate"] = LossMode(self.isolate, self.heal)
        if isinstance(self, MemberDeleting):
            modes["delete"] = LossMode(self.delete, self.revive)
        return modes

    def signal_member(self, member: M, sig: signal.Signals) -> None:
        """Send `sig` to the member's etcd process, wherever it runs."""
        raise NotImplementedError

    def pause(self, member: M) -> None:
        """SIGSTOP the member: it holds its sockets but answers nothing."""
        self.signal_member(member, signal.SIGSTOP)
        member.paused = True
        self.timeline.record(EventKind.ETCD_PAUSE, member.name)

    def resume(self, member: M) -> None:
        if member.paused:
            self.signal_member(member, signal.SIGCONT)
            member.paused = False
            self.timeline.record(EventKind.ETCD_RESUME, member.name)

    def unavailable(self, mode: str) -> str | None:
        """Why leader-loss `mode` cannot run here (None: it can)."""
        if mode == "move" or mode in self.loss_modes():
            return None
        return (f"leader_loss mode {mode!r} is not available on the {self.platform.name} platform; "
                f"choose from {', '.join(['move', *self.loss_modes()])}")

    def member(self, name: str) -> M:
        for m in self.members:
            if m.name == name:
                return m
        raise EtcdError(f"no etcd member {name!r}; members: {[m.name for m in self.members]}")

    # -- observation -------------------------------------------------------------------------
    def status(self, member: M) -> MemberStatus | None:
        """The member's Maintenance Status, or None when it is down or does not answer promptly."""
        if not member.running or member.paused:
            return None
        return self.ask_status(member)

    def ask_status(self, member: M) -> MemberStatus | None:
        """Ask the member even when it is believed down (to see it come back)."""
        try:
            return self.request_status(member, STATUS_TIMEOUT_S)
        except (requests.RequestException, ValueError):
            return None

    def request_status(self, member: M, timeout_s: float) -> MemberStatus:
        """Maintenance Status of `member`, raising what the request raised (a refused certificate, a timeout)."""
        reply = self.post(self._session, f"{member.client_url}/v3/maintenance/status", {}, timeout_s)
        reply.raise_for_status()
        body = reply.json()
        header = body.get("header", {})
        return MemberStatus(
            member_id=int(header.get("member_id", 0)),
            leader_id=int(body.get("leader", 0)),
            raft_term=int(body.get("raftTerm", 0)),
            version=str(body.get("version", "")),
            raft_applied_index=int(body.get("raftAppliedIndex", 0)),
        )

    def answers(self, member: M) -> bool:
        return self.status(member) is not None

    def leader(self, newer_than: int = 0) -> tuple[M, MemberStatus] | None:
        """The member that confirms it leads in a term after `newer_than` (with its status), if any.

        An isolated member is never taken for the leader: it may still claim a leadership it lost.
        """
        for member in self.members:
            if member.isolated:
                continue
            status = self.status(member)
            if status is not None and status.is_leader and status.raft_term > newer_than:
                return member, status
        return None

    def wait_for_leader(self, timeout_s: float = 10.0) -> tuple[M, int]:
        """Poll until a member leads; return it and when it was first seen."""
        member, _, seen = self._wait_for_leader(timeout_s)
        return member, seen

    def _wait_for_leader(self, timeout_s: float, give_up: Callable[[], bool] | None = None,
                         newer_than: int = 0) -> tuple[M, MemberStatus, int]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and not (give_up is not None and give_up()):
            found = self.leader(newer_than)
            if found is not None:
                return found[0], found[1], now_ns()
            time.sleep(POLL_S)
        term = f" in a term after {newer_than}" if newer_than else ""
        raise EtcdError(f"no etcd leader{term} within {timeout_s:g}s; member logs are in {self.where}")

    def await_serving(self, timeout_s: float, *, why_not: Callable[[M], str],
                      abort: Callable[[M], str | None] | None = None) -> None:
        """Wait until every member answers, learn their IDs, then wait for a leader (start's last step).

        `why_not(member)` says what is known of a member that never answered; `abort(member)` ends
        the wait early with a reason (a process that exited).
        """
        for member in self.members:
            if not wait_until(partial(self.answers, member), timeout_s=timeout_s,
                              abort=partial(abort, member) if abort is not None else None):
                raise EtcdError(f"etcd member {member.name} did not answer within {timeout_s:g}s: {why_not(member)}")
        for member in self.members:
            status = self.status(member)
            if status is None:
                raise EtcdError(f"etcd member {member.name} stopped answering during start; logs are in {self.where}")
            member.member_id = status.member_id
        self.wait_for_leader(timeout_s=timeout_s)

    # -- leader loss -------------------------------------------------------------------------
    def move_leader(self, to: M | None = None, timeout_s: float = 10.0) -> LeaderChange:
        """Gracefully transfer leadership (to `to`, or a caught-up follower) and time the change."""
        old, old_status, _ = self._wait_for_leader(timeout_s)
        target = to or self._caught_up_follower(old, timeout_s / 2)
        if target is old:
            raise EtcdError(f"{target.name} already leads; choose another member to move to")
        started = self.timeline.record(EventKind.ETCD_LEADER_LOST, "etcd", operation="move-leader",
                                       leader=old.name).t_ns
        # The API answers only after etcd's own wait for the change (a heartbeat or more), so the
        # request runs aside while the new leader is watched for, as for every other operation.
        failures: list[requests.RequestException] = []
        answered = threading.Event()

        def transfer() -> None:
            try:  # a session of its own: requests' Session is not shared across threads
                with requests.Session() as session:
                    self.post(session, f"{old.client_url}/v3/maintenance/transfer-leadership",
                              {"targetID": str(target.member_id)}, timeout_s).raise_for_status()
            except requests.RequestException as e:
                failures.append(e)
            finally:
                answered.set()

        threading.Thread(target=transfer, name="etcd-move-leader", daemon=True).start()
        try:
            change = self._observe_new_leader("move-leader", old, old_status.raft_term, started, timeout_s,
                                              give_up=lambda: bool(failures))
        except EtcdError:
            if failures:
                raise EtcdError(f"move-leader {old.name} -> {target.name} failed: {failures[0]}") from failures[0]
            raise
        answered.wait(timeout_s)
        return change

    def _caught_up_follower(self, leader: M, timeout_s: float) -> M:
        """The follower that has applied all the leader had when asked (waiting for one, bounded).

        etcd hands leadership only to a follower whose log matches the leader's; one just restarted,
        resumed or healed may still be catching up, and a transfer to it stalls until the request
        times out. Falls back to the most advanced follower.
        """
        followers = [m for m in self.members
                     if m is not leader and m.running and not m.paused and not m.isolated]
        if not followers:
            raise EtcdError(f"no running follower to move leadership from {leader.name} to")
        leader_status = self.status(leader)
        wanted = leader_status.raft_applied_index if leader_status else 0
        deadline = time.monotonic() + timeout_s
        while True:
            ranked = sorted(((st.raft_applied_index, m.name, m) for m in followers
                             if (st := self.status(m)) is not None), key=lambda x: (x[0], x[1]), reverse=True)
            if ranked and (ranked[0][0] >= wanted or time.monotonic() >= deadline):
                return ranked[0][2]
            if time.monotonic() >= deadline:
                return followers[0]
            time.sleep(POLL_S)

    def lose_leader(self, how: str, timeout_s: float = 10.0) -> tuple[M, LeaderChange]:
        """Take the current leader out (`how`: a loss mode); wait for another member to lead.

        Returns the old leader (still out: the caller brings it back with `bring_back`) and the
        timed change.
        """
        modes = self.loss_modes()
        if how not in modes:
            raise EtcdError(self.unavailable(how) or f"unknown leader-loss mode {how!r}")
        old, old_status, _ = self._wait_for_leader(timeout_s)
        started = self.timeline.record(EventKind.ETCD_LEADER_LOST, "etcd", operation=f"{how}-leader",
                                       leader=old.name).t_ns
        modes[how].lose(old)
        return old, self._observe_new_leader(f"{how}-leader", old, old_status.raft_term, started, timeout_s)

    def bring_back(self, how: str, member: M) -> None:
        """Undo `lose_leader(how)` for `member` (restart, resume, heal it)."""
        self.loss_modes()[how].bring_back(member)

    def _observe_new_leader(self, operation: str, old: M, old_term: int, started_ns: int, timeout_s: float,
                            give_up: Callable[[], bool] | None = None) -> LeaderChange:
        """The first leader of a later term than `old_term`.

        Any member may win that election: on Kubernetes the kubelet restarts a killed leader within
        a second or so, and with the longest log it can be elected again.
        """
        new, status, observed = self._wait_for_leader(timeout_s, give_up, old_term)
        self.record_leader(new.name, old.name, operation, status.raft_term, observed)
        return LeaderChange(operation, old.name, new.name, started_ns, observed, old_term, status.raft_term)

    def close_session(self) -> None:
        self._session.close()

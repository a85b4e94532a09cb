"""A real multi-member etcd cluster on loopback, and the leader-loss operations injectors use.

Each member is a supervised `etcd` process (built from the module pinned in go_targets/go.mod) with
its own data dir, client and peer ports, and its own gid so its peer traffic can be cut with
iptables. Leadership is read from etcd's own Maintenance Status API through its JSON gateway on the
client port; every operation records on the Timeline when leadership was lost and when (and where)
a new leader was first observed.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import requests

from chaos.errors import EtcdError
from chaos.netfilter import PortIsolation
from chaos.ports import LOOPBACK, free_ports
from chaos.process import RestartPolicy, SupervisedProcess, stop_concurrently
from chaos.readiness import wait_until
from chaos.timeline import Timeline, now_ns

_STATUS_TIMEOUT_S = 0.3
_POLL_S = 0.01
_GID_BASE = 200_000  # member gid = base + peer port: unique among live members


@dataclass
class EtcdMember:
    """One etcd process of the cluster."""

    name: str
    client_port: int
    peer_port: int
    data_dir: Path
    process: SupervisedProcess
    member_id: int | None = None
    isolation: PortIsolation | None = None
    paused: bool = False

    @property
    def client_url(self) -> str:
        return f"http://{LOOPBACK}:{self.client_port}"

    @property
    def peer_url(self) -> str:
        return f"http://{LOOPBACK}:{self.peer_port}"



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

    @property
    def elapsed_ms(self) -> float:
        """From the operation to the first observation of a different, confirmed leader."""
        return (self.observed_ns - self.started_ns) / 1e6


class EtcdCluster:
    """N real etcd members on loopback, tuned for fast elections; a context manager."""

    def __init__(
        self,
        *,
        etcd_binary: Path,
        base_dir: Path,
        size: int = 3,
        timeline: Timeline | None = None,
        heartbeat_ms: int = 50,
        election_ms: int = 500,
        log_level: str = "warn",
    ) -> None:
        if size < 1:
            raise EtcdError(f"an etcd cluster needs at least 1 member, got {size}")
        if election_ms < 5 * heartbeat_ms:
            raise EtcdError(
                f"election timeout {election_ms} ms must be at least 5x the heartbeat "
                f"{heartbeat_ms} ms (etcd refuses otherwise)"
            )
        self.etcd_binary = etcd_binary
        self.base_dir = base_dir.resolve()
        self.size = size
        self.timeline = timeline or Timeline()
        self.heartbeat_ms = heartbeat_ms
        self.election_ms = election_ms
        self.log_level = log_level
        self.members: list[EtcdMember] = []
        self._session = requests.Session()

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self, timeout_s: float = 30.0) -> None:
        """Start every member and wait until all answer and one of them leads."""
        if not self.etcd_binary.is_file():
            raise EtcdError(f"etcd binary {self.etcd_binary} does not exist; run chaos.build.build()")
        flat = free_ports(2 * self.size)
        ports = list(zip(flat[::2], flat[1::2], strict=True))
        initial = ",".join(
            f"m{i}=http://{LOOPBACK}:{peer}" for i, (_, peer) in enumerate(ports)
        )
        token = f"gochaos-{now_ns()}"
        for i, (client, peer) in enumerate(ports):
            name = f"m{i}"
            data_dir = self.base_dir / name
            data_dir.mkdir(parents=True, exist_ok=True)
            argv = [
                str(self.etcd_binary),
                f"--name={name}",
                f"--data-dir={data_dir}",
                f"--listen-client-urls=http://{LOOPBACK}:{client}",
                f"--advertise-client-urls=http://{LOOPBACK}:{client}",
                f"--listen-peer-urls=http://{LOOPBACK}:{peer}",
                f"--initial-advertise-peer-urls=http://{LOOPBACK}:{peer}",
                f"--initial-cluster={initial}",
                "--initial-cluster-state=new",
                f"--initial-cluster-token={token}",
                f"--heartbeat-interval={self.heartbeat_ms}",
                f"--election-timeout={self.election_ms}",
                f"--log-level={self.log_level}",
                "--logger=zap",
            ]
            process = SupervisedProcess(
                f"etcd-{name}", argv, log_path=self.base_dir / f"{name}.log",
                restart=RestartPolicy.NEVER, gid=_GID_BASE + peer,
            )
            self.members.append(EtcdMember(name, client, peer, data_dir, process))
        for member in self.members:
            member.process.start()
        self.timeline.record("etcd.start", "etcd", members=[m.name for m in self.members])
        for member in self.members:
            if not wait_until(partial(self._answers, member), timeout_s=timeout_s,
                              abort=partial(_exited, member)):
                tail = "\n".join(line.text for line in member.process.lines()[-10:])
                self.stop()
                raise EtcdError(f"etcd member {member.name} did not answer within {timeout_s:g}s:"
                                f"\n{tail}")
            status = self.status(member)
            assert status is not None
            member.member_id = status.member_id
        self.wait_for_leader(timeout_s=timeout_s)

    def stop(self) -> None:
        """Stop every member, lifting any pause or isolation first."""
        for member in self.members:
            if member.isolation is not None:
                self.heal(member)
        # The data is thrown away with the run: a short grace, not etcd's leadership hand-over (seconds).
        stop_concurrently([partial(m.process.stop, timeout_s=0.5) for m in self.members])
        self._session.close()

    def __enter__(self) -> EtcdCluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def endpoints(self) -> str:
        """Client URLs of all members, comma-separated (what a service's --endpoints takes)."""
        return ",".join(m.client_url for m in self.members)

    def member(self, name: str) -> EtcdMember:
        for m in self.members:
            if m.name == name:
                return m
        raise EtcdError(f"no etcd member {name!r}; members: {[m.name for m in self.members]}")

    # -- observation -------------------------------------------------------------------------
    def status(self, member: EtcdMember) -> MemberStatus | None:
        """The member's Maintenance Status, or None when it does not answer promptly."""
        if not member.process.running or member.paused:
            return None
        try:
            reply = self._session.post(f"{member.client_url}/v3/maintenance/status", json={},
                                       timeout=_STATUS_TIMEOUT_S)
            reply.raise_for_status()
            body = reply.json()
        except (requests.RequestException, ValueError):
            return None
        header = body.get("header", {})
        return MemberStatus(
            member_id=int(header.get("member_id", 0)),
            leader_id=int(body.get("leader", 0)),
            raft_term=int(body.get("raftTerm", 0)),
            version=str(body.get("version", "")),
            raft_applied_index=int(body.get("raftAppliedIndex", 0)),
        )

    def _answers(self, member: EtcdMember) -> bool:
        return self.status(member) is not None

    def leader(self, exclude: Iterable[EtcdMember] = ()) -> EtcdMember | None:
        """The member that confirms it leads, ignoring `exclude`; None when there is none."""
        excluded = {m.name for m in exclude}
        for member in self.members:
            if member.name in excluded or member.isolation is not None:
                continue
            status = self.status(member)
            if status is not None and status.is_leader:
                return member
        return None

    def wait_for_leader(self, exclude: Iterable[EtcdMember] = (), timeout_s: float = 10.0,
                        give_up: Callable[[], bool] | None = None) -> tuple[EtcdMember, int]:
        """Poll until a member outside `exclude` leads; return it and when it was first seen."""
        excluded = list(exclude)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and not (give_up is not None and give_up()):
            found = self.leader(exclude=excluded)
            if found is not None:
                return found, now_ns()
            time.sleep(_POLL_S)
        raise EtcdError(
            f"no etcd leader{' other than ' + ', '.join(m.name for m in excluded) if excluded else ''}"
            f" within {timeout_s:g}s; member logs are in {self.base_dir}"
        )

    # -- member operations -------------------------------------------------------------------
    def kill(self, member: EtcdMember) -> None:
        """SIGKILL the member (it stays down until `restart`)."""
        member.process.send_signal(signal.SIGKILL, expect_exit=True)
        member.process.wait_for_exit(member.process.incarnation, timeout_s=5)
        self.timeline.record("etcd.kill", member.name)

    def restart(self, member: EtcdMember, timeout_s: float = 15.0) -> None:
        """Start a killed member again on its data dir and wait until it answers."""
        member.process.start_again()
        if not wait_until(partial(self._answers, member), timeout_s=timeout_s):
            raise EtcdError(f"etcd member {member.name} did not come back within {timeout_s:g}s")
        self.timeline.record("etcd.restart", member.name)

    def pause(self, member: EtcdMember) -> None:
        """SIGSTOP the member: it holds its sockets but answers nothing."""
        member.process.send_signal(signal.SIGSTOP)
        member.paused = True
        self.timeline.record("etcd.pause", member.name)

    def resume(self, member: EtcdMember) -> None:
        if member.paused:
            member.process.send_signal(signal.SIGCONT)
            member.paused = False
            self.timeline.record("etcd.resume", member.name)

    def isolate(self, member: EtcdMember) -> None:
        """Cut the member's peer traffic both ways (iptables; needs root)."""
        if member.isolation is not None:
            return
        isolation = PortIsolation(
            tag=f"{member.process.pid}-{member.name}",
            own_port=member.peer_port,
            owner_gid=_GID_BASE + member.peer_port,
            peer_ports=[m.peer_port for m in self.members if m is not member],
        )
        isolation.apply()
        member.isolation = isolation
        self.timeline.record("etcd.isolate", member.name)

    def heal(self, member: EtcdMember) -> None:
        if member.isolation is not None:
            isolation, member.isolation = member.isolation, None
            isolation.remove()
            self.timeline.record("etcd.heal", member.name)

    def move_leader(self, to: EtcdMember | None = None, timeout_s: float = 10.0) -> LeaderChange:
        """Gracefully transfer leadership (to `to`, or the next member) and time the change."""
        old, _ = self.wait_for_leader(timeout_s=timeout_s)
        target = to or self._caught_up_follower(old, timeout_s / 2)
        if target is old:
            raise EtcdError(f"{target.name} already leads; choose another member to move to")
        started = self.timeline.record("etcd.leader_lost", "etcd", operation="move-leader",
                                       leader=old.name).t_ns
        # The API answers only after etcd's own wait for the change (a heartbeat or more), so the
        # request runs aside while the new leader is watched for, as for every other operation.
        failures: list[requests.RequestException] = []
        answered = threading.Event()

        def transfer() -> None:
            try:
                requests.post(f"{old.client_url}/v3/maintenance/transfer-leadership",
                              json={"targetID": str(target.member_id)}, timeout=timeout_s).raise_for_status()
            except requests.RequestException as e:
                failures.append(e)
            finally:
                answered.set()

        threading.Thread(target=transfer, name="etcd-move-leader", daemon=True).start()
        try:
            change = self._observe_new_leader("move-leader", old, started, timeout_s, give_up=lambda: bool(failures))
        except EtcdError:
            if failures:
                raise EtcdError(f"move-leader {old.name} -> {target.name} failed: {failures[0]}") from failures[0]
            raise
        answered.wait(timeout_s)
        return change

    def _caught_up_follower(self, leader: EtcdMember, timeout_s: float) -> EtcdMember:
        """The follower that has applied all the leader had when asked (waiting for one, bounded).

        etcd hands leadership only to a follower whose log matches the leader's; one just restarted,
        resumed or healed may still be catching up, and a transfer to it stalls until the request
        times out. Falls back to the most advanced follower.
        """
        followers = [m for m in self.members
                     if m is not leader and m.process.running and not m.paused and m.isolation is None]
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
            time.sleep(_POLL_S)

    def lose_leader(self, how: str, timeout_s: float = 10.0) -> tuple[EtcdMember, LeaderChange]:
        """Kill, pause or isolate the current leader; wait for another member to lead.

        Returns the old leader (still killed / paused / isolated: the caller reverts it with
        `restart`, `resume` or `heal`) and the timed change.
        """
        actions = {"kill": self.kill, "pause": self.pause, "isolate": self.isolate}
        if how not in actions:
            raise EtcdError(f"unknown leader-loss mode {how!r}; choose from {sorted(actions)}")
        old, _ = self.wait_for_leader(timeout_s=timeout_s)
        started = self.timeline.record("etcd.leader_lost", "etcd", operation=f"{how}-leader",
                                       leader=old.name).t_ns
        actions[how](old)
        return old, self._observe_new_leader(f"{how}-leader", old, started, timeout_s)

    def _observe_new_leader(self, operation: str, old: EtcdMember, started_ns: int, timeout_s: float,
                            give_up: Callable[[], bool] | None = None) -> LeaderChange:
        new, observed = self.wait_for_leader(exclude=[old], timeout_s=timeout_s, give_up=give_up)
        self.timeline.record("etcd.leader", "etcd", t_ns=observed, leader=new.name,
                             previous=old.name, operation=operation)
        return LeaderChange(operation, old.name, new.name, started_ns, observed)


def _exited(member: EtcdMember) -> str | None:
    return None if member.process.running else f"etcd member {member.name} exited"

"""A real multi-member etcd cluster on loopback, and the leader-loss operations injectors use.

Each member is a supervised `etcd` process (built from the module pinned in go_targets/go.mod) with
its own data dir, client and peer ports, and its own gid so its peer traffic can be cut with
iptables. Leadership is read and moved through etcd's own API (`chaos.platform.etcd`); this
module adds how local members are started, killed, paused and isolated.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import ClassVar

from chaos.cleanup import stop_concurrently
from chaos.errors import EtcdError
from chaos.observe.readiness import wait_until
from chaos.platform.etcd import ClientTls, EtcdLeadership, LeaderChange, MemberStatus, check_shape
from chaos.platform.kinds import PlatformKind
from chaos.platform.local.netfilter import PortIsolation, iptables_available
from chaos.platform.local.planning import LOCAL
from chaos.platform.local.process import SupervisedProcess
from chaos.ports import LOOPBACK, free_ports
from chaos.targets import RestartPolicy
from chaos.timeline import EventKind, Timeline, now_ns

__all__ = ["EtcdCluster", "EtcdMember", "LeaderChange", "MemberStatus", "ServerTls"]

_GID_BASE = 200_000  # member gid = base + peer port: unique among live members


@dataclass(frozen=True, slots=True)
class ServerTls:
    """Certificates every member serves its client and peer ports with, and the CA whose certificates it
    requires of clients and peers (etcd's --client-cert-auth and --peer-client-cert-auth). The
    certificate must name 127.0.0.1 and allow both server and client auth (peers dial each other)."""

    ca_file: Path
    cert_file: Path
    key_file: Path

    def flags(self) -> list[str]:
        return [f"--cert-file={self.cert_file}", f"--key-file={self.key_file}",
                f"--trusted-ca-file={self.ca_file}", "--client-cert-auth",
                f"--peer-cert-file={self.cert_file}", f"--peer-key-file={self.key_file}",
                f"--peer-trusted-ca-file={self.ca_file}", "--peer-client-cert-auth"]


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
    scheme: str = "http"
    #: host:port the other members reach this one at, when not its own peer port: a chaosproxy link
    #: (`peer_address` of EtcdCluster); it listens on its own peer port either way.
    advertised_peer: str | None = None

    @property
    def client_url(self) -> str:
        return f"{self.scheme}://{LOOPBACK}:{self.client_port}"

    @property
    def peer_url(self) -> str:
        return f"{self.scheme}://{LOOPBACK}:{self.peer_port}"

    @property
    def advertised_peer_url(self) -> str:
        """The peer URL the other members dial (its member ID derives from it): a link, or its own."""
        return f"{self.scheme}://{self.advertised_peer}" if self.advertised_peer else self.peer_url

    @property
    def running(self) -> bool:
        return self.process.running

    @property
    def pid(self) -> int | None:
        """Its process's PID (a network partition tells the proxy whose connections to cut by it)."""
        return self.process.pid

    @property
    def isolated(self) -> bool:
        return self.isolation is not None


class EtcdCluster(EtcdLeadership[EtcdMember]):
    """N real etcd members on loopback, tuned for fast elections; a context manager.

    With `server_tls` every member serves TLS on both ports and requires certificates; `client_tls` is
    then what this host (and the targets) present. With `peer_address`, each member advertises the
    host:port it returns for (member name, own peer port) as its peer URL, and listens on its own: how
    peer traffic is routed through chaosproxy links (chaos.network). The members are created with those
    URLs, so their IDs (a hash of the advertised peer URLs and the cluster token) derive from them from
    the start.
    """

    platform: ClassVar[PlatformKind] = LOCAL

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
        server_tls: ServerTls | None = None,
        client_tls: ClientTls | None = None,
        peer_address: Callable[[str, int], str] | None = None,
    ) -> None:
        check_shape(size, heartbeat_ms, election_ms)
        if (server_tls is None) != (client_tls is None):
            raise EtcdError("an etcd cluster serving TLS needs the client TLS this host presents, and only it does")
        super().__init__(timeline, str(base_dir), client_tls)
        self.server_tls = server_tls
        self.etcd_binary = etcd_binary
        self.base_dir = base_dir.resolve()
        self.size = size
        self.heartbeat_ms = heartbeat_ms
        self.election_ms = election_ms
        self.log_level = log_level
        self.peer_address = peer_address

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self, timeout_s: float = 30.0) -> None:
        """Start every member and wait until all answer and one of them leads."""
        if not self.etcd_binary.is_file():
            raise EtcdError(f"etcd binary {self.etcd_binary} does not exist; run chaos.build.build()")
        flat = free_ports(2 * self.size)
        ports = list(zip(flat[::2], flat[1::2], strict=True))
        scheme = "http" if self.server_tls is None else "https"
        advertised = [self.peer_address(f"m{i}", peer) if self.peer_address is not None else None
                      for i, (_, peer) in enumerate(ports)]
        peers = [f"{scheme}://{advertised[i] or f'{LOOPBACK}:{peer}'}" for i, (_, peer) in enumerate(ports)]
        initial = ",".join(f"m{i}={url}" for i, url in enumerate(peers))
        token = f"gochaos-{now_ns()}"
        for i, (client, peer) in enumerate(ports):
            name = f"m{i}"
            data_dir = self.base_dir / name
            data_dir.mkdir(parents=True, exist_ok=True)
            argv = [
                str(self.etcd_binary),
                f"--name={name}",
                f"--data-dir={data_dir}",
                f"--listen-client-urls={scheme}://{LOOPBACK}:{client}",
                f"--advertise-client-urls={scheme}://{LOOPBACK}:{client}",
                f"--listen-peer-urls={scheme}://{LOOPBACK}:{peer}",
                f"--initial-advertise-peer-urls={peers[i]}",
                f"--initial-cluster={initial}",
                "--initial-cluster-state=new",
                f"--initial-cluster-token={token}",
                f"--heartbeat-interval={self.heartbeat_ms}",
                f"--election-timeout={self.election_ms}",
                f"--log-level={self.log_level}",
                "--logger=zap",
                *(self.server_tls.flags() if self.server_tls is not None else []),
            ]
            process = SupervisedProcess(
                f"etcd-{name}", argv, log_path=self.base_dir / f"{name}.log",
                restart=RestartPolicy.NEVER, gid=_GID_BASE + peer,
            )
            self.members.append(EtcdMember(name, client, peer, data_dir, process, scheme=scheme,
                                           advertised_peer=advertised[i]))
        for member in self.members:
            member.process.start()
        self.timeline.record(EventKind.ETCD_START, "etcd", members=[m.name for m in self.members])
        try:
            self.await_serving(timeout_s, abort=_exited, why_not=_last_lines)
        except EtcdError:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop every member, lifting any pause or isolation first."""
        for member in self.members:
            if member.isolation is not None:
                self.heal(member)
        # The data is thrown away with the run: a short grace, not etcd's leadership hand-over (seconds).
        stop_concurrently([partial(m.process.stop, timeout_s=0.5) for m in self.members])
        self.close_session()

    def __enter__(self) -> EtcdCluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def endpoints(self) -> str:
        """Client URLs of all members, comma-separated (what a service's --endpoints takes)."""
        return ",".join(m.client_url for m in self.members)

    # -- member operations -------------------------------------------------------------------
    def kill(self, member: EtcdMember) -> None:
        """SIGKILL the member (it stays down until `restart`)."""
        member.process.send_signal(signal.SIGKILL, expect_exit=True)
        member.process.wait_for_exit(member.process.incarnation, timeout_s=5)
        self.timeline.record(EventKind.ETCD_KILL, member.name)

    def restart(self, member: EtcdMember, timeout_s: float = 15.0) -> None:
        """Start a killed member again on its data dir and wait until it answers."""
        member.process.start_again()
        if not wait_until(partial(self.answers, member), timeout_s=timeout_s):
            raise EtcdError(f"etcd member {member.name} did not come back within {timeout_s:g}s")
        self.timeline.record(EventKind.ETCD_RESTART, member.name)

    def signal_member(self, member: EtcdMember, sig: signal.Signals) -> None:
        member.process.send_signal(sig)

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
        self.timeline.record(EventKind.ETCD_ISOLATE, member.name)

    def heal(self, member: EtcdMember) -> None:
        if member.isolation is not None:
            isolation, member.isolation = member.isolation, None
            isolation.remove()
            self.timeline.record(EventKind.ETCD_HEAL, member.name)

    def revive(self, member: EtcdMember) -> None:
        """Bring a killed member back (`MemberKilling`)."""
        self.restart(member)

    def unavailable(self, mode: str) -> str | None:
        if mode == "isolate":
            return iptables_available()
        return super().unavailable(mode)


def _last_lines(member: EtcdMember) -> str:
    return "its last lines:\n" + "\n".join(line.text for line in member.process.lines()[-10:])


def _exited(member: EtcdMember) -> str | None:
    return None if member.process.running else f"etcd member {member.name} exited"

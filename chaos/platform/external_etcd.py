"""The team's own etcd (`etcd.external`), as the leadership logic sees it: members reached at their
endpoints, over TLS with the client certificate, never started or stopped by the suite.

`start()` starts nothing: it checks that every endpoint answers Maintenance Status (a refused
client certificate, a server certificate the CA did not sign or an unreachable endpoint stop the
run before any fault, exit 2, in one line naming the endpoint and the fix), names the members
from the member list, and waits for a leader. Leadership is read and moved by the shared
`EtcdLeadership`; the only loss modes are those the API allows (`move`), plus `delete` where a
platform subclass knows the members' pods.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlsplit

import requests

from chaos.errors import ExternalEtcdError
from chaos.external_etcd import EtcdTls, ExternalEtcd
from chaos.platform.etcd import ClientTls, EtcdLeadership, LossMode, MemberDeleting
from chaos.platform.kinds import PlatformKind
from chaos.platform.local.planning import LOCAL
from chaos.timeline import EventKind, Timeline

#: Bound of each endpoint's first answer: a TLS handshake to a remote member, not a loopback call.
CHECK_TIMEOUT_S = 5.0
LEADER_TIMEOUT_S = 15.0


@dataclass
class ExternalMember:
    """One member of the team's etcd, known by the endpoint the scenario lists for it."""

    name: str
    client_url: str
    member_id: int | None = None
    paused: bool = False
    #: The client URLs it advertises (the member list's), to find its pod by address.
    advertised: tuple[str, ...] = ()
    #: Its pod's name when the scenario names the pods on Kubernetes (`delete` leader loss).
    pod: str | None = None

    @property
    def running(self) -> bool:
        return True  # never stopped by the suite: always asked

    @property
    def isolated(self) -> bool:
        return False


def tls_files(tls: EtcdTls | None) -> ClientTls | None:
    """Client TLS from the scenario's files (anchored by the plan); None for plain HTTP."""
    if tls is None:
        return None
    if tls.secret is not None or tls.ca_file is None:
        raise ExternalEtcdError(f"etcd.external.tls reads {tls.source()}: that needs --platform kubernetes; on "
                                "this platform give ca_file, cert_file and key_file")
    return ClientTls(Path(tls.ca_file), Path(tls.cert_file) if tls.cert_file else None,
                     Path(tls.key_file) if tls.key_file else None)


class ExternalEtcdCluster(EtcdLeadership[ExternalMember]):
    """The team's etcd: checked by `start()`, driven through its API, left running by `stop()`."""

    platform: ClassVar[PlatformKind] = LOCAL

    def __init__(self, external: ExternalEtcd, *, timeline: Timeline | None, tls: ClientTls | None) -> None:
        super().__init__(timeline, f"the team's etcd logs ({', '.join(external.endpoints)})", tls)
        self.external = external
        self.members = [ExternalMember(_host_port(url), url) for url in external.endpoints]

    @property
    def endpoints(self) -> str:
        return ",".join(self.external.endpoints)

    def start(self, timeout_s: float = LEADER_TIMEOUT_S) -> None:
        """Start nothing: every endpoint answers over TLS, they are all the members, one of them leads."""
        for member in self.members:
            try:
                member.member_id = self.request_status(member, CHECK_TIMEOUT_S).member_id
            except (requests.RequestException, ValueError) as e:
                raise ExternalEtcdError(refusal(member.client_url, e, self.tls)) from e
        self._name_members()
        self.timeline.record(EventKind.ETCD_START, "etcd", members=[m.name for m in self.members], external=True,
                             endpoints=list(self.external.endpoints))
        self.wait_for_leader(timeout_s)

    def stop(self) -> None:
        """Leave the team's etcd as it is; only this host's connections close."""
        self.close_session()

    def loss_modes(self) -> Mapping[str, LossMode[ExternalMember]]:
        """Only what the API allows (`move`, always there) and, knowing the pods, `delete`."""
        if isinstance(self, MemberDeleting):
            return {"delete": LossMode(self.delete, self.revive)}
        return {}

    def unavailable(self, mode: str) -> str | None:
        return self.external.unavailable(mode, self.platform)

    def _name_members(self) -> None:
        """Members by their etcd names; ExternalEtcdError when two endpoints are one member or one is missing."""
        seen: dict[int | None, str] = {}
        for member in self.members:
            if member.member_id in seen:
                raise ExternalEtcdError(f"etcd endpoints {seen[member.member_id]} and {member.client_url} are the "
                                        "same member; list each member's own client URL once")
            seen[member.member_id] = member.client_url
        try:
            reply = self.post(self._session, f"{self.members[0].client_url}/v3/cluster/member/list", {},
                              CHECK_TIMEOUT_S)
            reply.raise_for_status()
            listed = reply.json().get("members", [])
        except (requests.RequestException, ValueError) as e:
            raise ExternalEtcdError(refusal(self.members[0].client_url, e, self.tls)) from e
        by_id = {int(m.get("ID", 0)): m for m in listed}
        for member in self.members:
            known = by_id.get(member.member_id or 0, {})
            member.name = str(known.get("name") or member.name)
            member.advertised = tuple(str(url) for url in known.get("clientURLs", []))
        unlisted = [m for m in listed if int(m.get("ID", 0)) not in seen]
        if unlisted:
            first = unlisted[0]
            raise ExternalEtcdError(f"etcd member {first.get('name') or hex(int(first.get('ID', 0)))} "
                                    f"({', '.join(first.get('clientURLs', []))}) is not among etcd.external.endpoints; "
                                    "list every member's client URL (the leader may be any of them)")


def _host_port(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port}"


_SSL_REASON = re.compile(r"\[SSL: [A-Z_0-9]+\][^(')\"]*|EOF occurred in violation of protocol|Connection refused|"
                         r"Read timed out|timed out|reset by peer")


def refusal(endpoint: str, error: Exception, tls: ClientTls | None) -> str:
    """One line: why `endpoint` did not answer Maintenance Status, and what to change."""
    text = " ".join(str(error).split())
    found = _SSL_REASON.search(text)
    said = found.group(0).strip().rstrip(":") if found else type(error).__name__
    if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
        ca = f"the CA {tls.ca_file}" if tls is not None else "no CA given (etcd.external.tls)"
        return (f"etcd endpoint {endpoint}: its server certificate is not signed by {ca} ({said}); give "
                "etcd.external.tls.ca_file the CA that signed the servers' certificates")
    if "PEM" in text or "KEY_VALUES_MISMATCH" in text or "NO_START_LINE" in text:
        return (f"etcd endpoint {endpoint}: the client certificate or key cannot be used ({said}); give "
                "etcd.external.tls.cert_file and key_file as a matching PEM pair")
    # TLS 1.3: the client's handshake ends before the server checks its certificate, so a refusal arrives
    # as the server's alert, or as the connection closed under the first request.
    if "alert" in text or (endpoint.startswith("https://") and any(
            closed in text for closed in ("EOF occurred in violation", "Connection aborted", "reset by peer"))):
        cert = (f"the client certificate {tls.cert_file}" if tls is not None and tls.cert_file is not None
                else "the connection without a client certificate")
        return (f"etcd endpoint {endpoint} refused {cert} ({said}); give etcd.external.tls.cert_file/key_file a "
                "client certificate signed by the CA the servers trust (their --trusted-ca-file)")
    if isinstance(error, requests.HTTPError) and error.response is not None:
        hint = ("; it serves TLS: use https:// and etcd.external.tls" if error.response.status_code == 400
                and endpoint.startswith("http://") else "; is it an etcd client URL?")
        return f"etcd endpoint {endpoint} answered HTTP {error.response.status_code} to Maintenance Status{hint}"
    if isinstance(error, ValueError):
        return f"etcd endpoint {endpoint} answered, but not as etcd's JSON gateway does; is it an etcd client URL?"
    return (f"etcd endpoint {endpoint} does not answer ({said}); check the address and port, and that etcd "
            "listens there, reachable from this host")

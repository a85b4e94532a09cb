"""`etcd: {external: ...}`: an etcd cluster the team already runs, named by a scenario.

Nothing of it is started or stopped by the suite: its endpoints are checked (Maintenance Status
over TLS with the client certificate) before any fault, targets are pointed at it, and leadership
is moved through its API. TLS material comes from files (relative to the scenario file) or, with
`--platform kubernetes`, from a Secret. Only `move` is possible without owning the members'
processes; `delete` too when the scenario names the pods that run it on Kubernetes.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from chaos.errors import ScenarioError, UsageError

if TYPE_CHECKING:
    from chaos.platform.kinds import PlatformKind

_DNS_NAME = r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$"
_SECRET_KEY = r"^[-._a-zA-Z0-9]{1,253}$"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TlsSecret(_Model):
    """A Kubernetes Secret holding the CA bundle, client certificate and key (read through the API)."""

    namespace: str = Field(pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", description="The Secret's namespace")
    name: str = Field(pattern=_DNS_NAME, description="The Secret's name")
    ca_key: str = Field("ca.crt", pattern=_SECRET_KEY, description="Its key holding the CA bundle (PEM)")
    cert_key: str = Field("tls.crt", pattern=_SECRET_KEY, description="Its key holding the client certificate (PEM)")
    key_key: str = Field("tls.key", pattern=_SECRET_KEY, description="Its key holding the client key (PEM)")


class EtcdTls(_Model):
    """Client TLS to the team's etcd: files (`ca_file`, `cert_file`, `key_file`) or a `secret`."""

    ca_file: str | None = Field(None, description="CA bundle that signed the servers' certificates (PEM), "
                                                  "relative to the scenario file (etcdctl --cacert)")
    cert_file: str | None = Field(None, description="Client certificate the servers trust (PEM; etcdctl --cert)")
    key_file: str | None = Field(None, description="Private key of cert_file (PEM; etcdctl --key)")
    secret: TlsSecret | None = Field(None, description="Read the three from a Kubernetes Secret instead "
                                                       "(--platform kubernetes only)")

    @model_validator(mode="after")
    def _one_source(self) -> EtcdTls:
        files = {name: getattr(self, name) for name in ("ca_file", "cert_file", "key_file")}
        given = [name for name, value in files.items() if value is not None]
        if self.secret is not None and given:
            raise ValueError(f"give the TLS files or `secret`, not both (remove {', '.join(given)} or secret)")
        if self.secret is None and self.ca_file is None:
            raise ValueError("TLS needs `ca_file` (the CA that signed the servers' certificates), or `secret`")
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("`cert_file` and `key_file` go together: give both (the client certificate and its "
                             "key) or neither")
        return self

    def source(self) -> str:
        """Where the material comes from, for the dry run and messages."""
        if self.secret is not None:
            s = self.secret
            return f"Secret {s.namespace}/{s.name} (keys {s.ca_key}, {s.cert_key}, {s.key_key})"
        client = f", client cert {self.cert_file}" if self.cert_file else ", no client cert"
        return f"files: CA {self.ca_file}{client}"

    def missing(self, base_dir: Path) -> list[tuple[str, str]]:
        """(field, what is wrong) for each TLS file that is not there, relative to the scenario's directory."""
        problems = []
        for field in ("ca_file", "cert_file", "key_file"):
            value = getattr(self, field)
            if value is not None and not (path := (base_dir / value).resolve()).is_file():
                problems.append((field, f"{path} does not exist; the path is relative to the scenario file: fix it "
                                        "or create the file"))
        return problems

    def anchored(self, base_dir: Path) -> EtcdTls:
        """The files as absolute paths next to the scenario, each checked to exist (ScenarioError naming it)."""
        if self.secret is not None:
            return self
        for field, problem in self.missing(base_dir):
            raise ScenarioError(f"etcd.external.tls.{field}: {problem}")
        return self.model_copy(update={field: str((base_dir / value).resolve()) for field in
                                       ("ca_file", "cert_file", "key_file") if (value := getattr(self, field))})


class EtcdPods(_Model):
    """The pods that run the team's etcd on Kubernetes (a StatefulSet's): `delete` leader loss deletes one."""

    namespace: str = Field(pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", description="The pods' namespace")
    selector: str = Field(min_length=1, description="Label selector of the etcd pods, e.g. app=etcd")


class ExternalEtcd(_Model):
    """An etcd cluster the team already runs: checked, used and hurt only through its API, never started."""

    endpoints: tuple[str, ...] = Field(min_length=1, description="Every member's client URL, e.g. "
                                                                 "https://10.0.0.5:2379 (etcdctl --endpoints)")
    tls: EtcdTls | None = Field(None, description="Client TLS (needed for https endpoints)")
    pods: EtcdPods | None = Field(None, description="Kubernetes only: the pods that run it, so `delete` leader "
                                                    "loss can delete the leader's pod")
    control_plane: bool = Field(False, description="Allow the cluster's own control-plane etcd (kube-system, "
                                                   "component=etcd): refused unless set")

    @field_validator("endpoints")
    @classmethod
    def _urls(cls, endpoints: tuple[str, ...]) -> tuple[str, ...]:
        for endpoint in endpoints:
            parts = urlsplit(endpoint)
            if parts.scheme not in ("http", "https") or not parts.hostname or parts.port is None:
                raise ValueError(f"endpoint {endpoint!r} is not a client URL: give scheme, host and port, e.g. "
                                 "https://10.0.0.5:2379")
            if parts.path not in ("", "/"):
                raise ValueError(f"endpoint {endpoint!r} has a path; give only scheme, host and port")
        if len(set(endpoints)) != len(endpoints):
            raise ValueError("an endpoint is listed twice; list each member once")
        return tuple(e.rstrip("/") for e in endpoints)

    @model_validator(mode="after")
    def _tls_for_https(self) -> ExternalEtcd:
        https = [e for e in self.endpoints if e.startswith("https://")]
        if https and self.tls is None:
            raise ValueError(f"endpoint {https[0]} is https: add `tls` (ca_file, cert_file, key_file, or secret)")
        if self.tls is not None and len(https) != len(self.endpoints):
            plain = next(e for e in self.endpoints if not e.startswith("https://"))
            raise ValueError(f"endpoint {plain} is plain http but `tls` is given: use https:// for every endpoint")
        return self

    def anchored(self, base_dir: Path) -> ExternalEtcd:
        """With TLS file paths made absolute and checked (the plan does this before anything starts)."""
        if self.tls is None:
            return self
        return self.model_copy(update={"tls": self.tls.anchored(base_dir)})

    def loss_modes(self, platform: PlatformKind) -> tuple[str, ...]:
        """The leader-loss modes possible on this etcd from `platform`: what its API allows (`move`), and
        `delete` where its pods are named on a cluster. The dry run and the run say the same."""
        return ("move", "delete") if self.pods is not None and platform.on_cluster else ("move",)

    def unavailable(self, mode: str, platform: PlatformKind) -> str | None:
        """Why leader-loss `mode` cannot hurt this etcd (None: it can), in one line."""
        modes = self.loss_modes(platform)
        if mode in modes:
            return None
        if mode == "delete":
            how = ("name its pods in etcd.external.pods" if platform.on_cluster
                   else "name its pods in etcd.external.pods and run with --platform kubernetes")
            return f"leader_loss mode 'delete' on the team's etcd (etcd.external) deletes the leader's pod: {how}"
        return (f"leader_loss mode {mode!r} needs to own etcd's processes, and the team's etcd (etcd.external) is "
                f"reached only through its API; choose from {', '.join(modes)}")

    def checked_for(self, platform: PlatformKind, base_dir: Path) -> ExternalEtcd:
        """This etcd as a run on `platform` uses it: TLS files anchored and checked; UsageError (exit 2) for what
        `platform` cannot do. Touches no network: the dry run checks the same."""
        if self.tls is not None and self.tls.secret is not None and not platform.on_cluster:
            raise UsageError(f"etcd.external.tls reads {self.tls.source()}, which needs --platform kubernetes; "
                             "on this platform give ca_file, cert_file and key_file")
        if self.pods is not None and not platform.on_cluster:
            raise UsageError("etcd.external.pods names Kubernetes pods: run with --platform kubernetes, or remove it "
                             "(only `move` leader loss is available then)")
        return self.anchored(base_dir)

    def describe(self, platform: PlatformKind) -> list[str]:
        """The dry run's lines: endpoints, TLS source, the leader-loss modes available and what is refused."""
        tls = self.tls.source() if self.tls is not None else "none (plain http)"
        modes = self.loss_modes(platform)
        lines = [f"etcd: the team's own (etcd.external), nothing started; endpoints {', '.join(self.endpoints)}",
                 f"  TLS: {tls}; every endpoint must answer Maintenance Status before any fault",
                 f"  leader_loss modes: {', '.join(modes)} (kill, pause, isolate need to own its processes"
                 + (")" if "delete" in modes else "; delete needs etcd.external.pods on kubernetes)")]
        if self.pods is not None:
            lines.append(f"  pods: {self.pods.selector} in namespace {self.pods.namespace} (delete: the leader's "
                         "pod, matched to its member by pod IP or name)")
        if platform.on_cluster:
            lines.append("  control-plane etcd (kube-system, component=etcd): "
                         + ("allowed (control_plane: true)" if self.control_plane else "refused"))
        return lines

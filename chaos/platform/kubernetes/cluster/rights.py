"""What the run may do on a shared cluster, checked before anything is changed.

Two gates, both up front so a run is never left half done:
- a namespace is touched only when its owners opted it in with the label `gochaos.io/chaos=allowed`
  (missing label: exit 2 with the `kubectl label` that fixes it);
- every verb the run will use is asked of the API server with a SelfSubjectAccessReview for the
  kubeconfig's own identity (a verb RBAC denies: exit 3 naming the verb, resource and namespace).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from chaos.errors import InfrastructureError, PlatformError, UsageError

OPT_IN_LABEL = "gochaos.io/chaos"
OPT_IN_VALUE = "allowed"


class RightsMissing(InfrastructureError):
    """The kubeconfig's identity may not do something the run needs (RBAC): exit 3, before any fault."""


class NotOptedIn(UsageError):
    """The namespace's owners did not allow chaos in it."""


@dataclass(frozen=True, slots=True, order=True)
class Need:
    """One verb on one resource in one namespace, as RBAC spells them."""

    verb: str
    resource: str
    namespace: str
    group: str = ""
    subresource: str = ""

    def __str__(self) -> str:
        resource = f"{self.resource}/{self.subresource}" if self.subresource else self.resource
        if self.group:
            resource += f".{self.group}"
        return f"{self.verb} {resource} in namespace {self.namespace}"


def require_opt_in(core: Any, namespace: str) -> None:
    """NotOptedIn unless namespace `namespace` exists and carries the opt-in label."""
    from kubernetes.client.exceptions import ApiException  # deferred: the kubernetes client is heavy to import

    try:
        found = core.read_namespace(namespace)
    except ApiException as e:
        if e.status == 404:
            raise UsageError(f"namespace {namespace} does not exist on this cluster; check the target's "
                             "`deployed.namespace`") from e
        if e.status == 403:
            raise RightsMissing(f"may not get namespaces/{namespace} (RBAC, HTTP 403): grant the run's identity "
                                "`get` on namespaces, which the opt-in check reads") from e
        raise PlatformError(f"read namespace {namespace}: HTTP {e.status} {e.reason}") from e
    labels = found.metadata.labels or {}
    if labels.get(OPT_IN_LABEL) != OPT_IN_VALUE:
        raise NotOptedIn(f"namespace {namespace} has not opted in to chaos (label {OPT_IN_LABEL}={OPT_IN_VALUE} is "
                         f"{'missing' if OPT_IN_LABEL not in labels else repr(labels[OPT_IN_LABEL])}); its owners "
                         f"allow it with `kubectl label namespace {namespace} {OPT_IN_LABEL}={OPT_IN_VALUE}`")


def denied(api: Any, needs: Iterable[Need]) -> list[tuple[Need, str]]:
    """Each need the API server says this identity may not have, with its reason (empty: all allowed)."""
    from kubernetes import client as client_module  # deferred: the kubernetes client is heavy to import

    client: Any = client_module  # untyped package
    authz = client.AuthorizationV1Api(api)
    refused: list[tuple[Need, str]] = []
    for need in sorted(set(needs)):
        review = client.V1SelfSubjectAccessReview(spec=client.V1SelfSubjectAccessReviewSpec(
            resource_attributes=client.V1ResourceAttributes(
                verb=need.verb, resource=need.resource, namespace=need.namespace, group=need.group,
                subresource=need.subresource or None)))
        try:
            answer = authz.create_self_subject_access_review(review)
        except Exception as e:
            raise PlatformError(f"cannot ask the API server what this identity may do (SelfSubjectAccessReview): "
                                f"{getattr(e, 'reason', None) or e}") from e
        if not answer.status.allowed:
            refused.append((need, answer.status.reason or answer.status.evaluation_error or "no RBAC rule allows it"))
    return refused


def require(api: Any, needs: Iterable[Need]) -> None:
    """RightsMissing naming every verb the run needs and may not use; nothing has been changed yet."""
    refused = denied(api, needs)
    if refused:
        listed = "; ".join(f"{need}" for need, _ in refused)
        raise RightsMissing(f"this kubeconfig's identity may not {listed} (RBAC); grant them with a Role in that "
                            f"namespace (see manifests/rbac/) and run again; nothing was changed")

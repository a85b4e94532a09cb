"""A kill switch in the cluster: deleting the run's Lease aborts the run and reverts every fault.

On a shared cluster the people who own a namespace must be able to stop chaos in it without access
to the machine running it. Each run holds a Lease `gochaos-run-<run id>` in every namespace of a
deployed service it touches; a thread reads it every POLL_S, and when it is gone the run is aborted
as by SIGTERM (`cleanup.request_abort`): faults reverted, exit 130, the reason named. The Lease is
deleted when the run ends.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

from chaos import cleanup
from chaos.errors import PlatformError
from chaos.platform.kubernetes.cluster.namespace import FIELD_MANAGER, reason

POLL_S = 1.0


class KillSwitch:
    """Lease `name` in `namespace`: present while the run may go on."""

    def __init__(self, api: Any, namespace: str, run_id: str) -> None:
        from kubernetes import client as client_module  # deferred: the kubernetes client is heavy to import

        client: Any = client_module  # untyped package
        self._leases: Any = client.CoordinationV1Api(api)
        self.namespace, self.name = namespace, f"gochaos-run-{run_id}"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def how_to_pull(self) -> str:
        return f"kubectl -n {self.namespace} delete lease {self.name}"

    def arm(self) -> KillSwitch:
        """Create the Lease and start watching for its deletion."""
        lease = {"metadata": {"name": self.name, "labels": {"app.kubernetes.io/managed-by": "gochaos"},
                              "annotations": {"gochaos.io/kill-switch": "delete this Lease to abort the run"}},
                 "spec": {"holderIdentity": self.name}}
        try:
            self._leases.create_namespaced_lease(self.namespace, lease, field_manager=FIELD_MANAGER)
        except Exception as e:
            raise PlatformError(f"create the kill-switch Lease {self.namespace}/{self.name}: {reason(e)}") from e
        self._thread = threading.Thread(target=self._watch, name=f"kill-switch-{self.namespace}", daemon=True)
        self._thread.start()
        return self

    def _watch(self) -> None:
        from kubernetes.client.exceptions import ApiException  # deferred: the kubernetes client is heavy to import

        while not self._stop.wait(POLL_S):
            try:
                self._leases.read_namespaced_lease(self.name, self.namespace)
            except ApiException as e:
                if e.status == 404 and not self._stop.is_set():
                    self._stop.set()
                    cleanup.request_abort(f"the kill switch (Lease {self.namespace}/{self.name} was deleted)")
                    return
            except Exception as e:  # an API hiccup is not a pulled switch: look again next time
                cleanup.report_listener_error(f"kill switch {self.namespace}/{self.name}: {e!r}")

    def disarm(self) -> None:
        """Stop watching and delete the Lease (already gone is fine)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=POLL_S + 10)
        with contextlib.suppress(Exception):
            self._leases.delete_namespaced_lease(self.name, self.namespace)

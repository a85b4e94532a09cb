"""One key of one ConfigMap or Secret, read and written through the API: where a pod's mounted config file lives.

The run's own targets (a ConfigMap gochaos applied), a team's deployed service (its own ConfigMap or
Secret) and the crash clean-up that restores a deployed service's key all read and write a key the
same way. A Secret's values travel base64-encoded; the text here is always the decoded file.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from chaos.errors import PlatformError
from chaos.platform.kubernetes.cluster.namespace import FIELD_MANAGER, reason

KINDS = ("ConfigMap", "Secret")


@dataclass(frozen=True, slots=True)
class ConfigKey:
    """Key `key` of the ConfigMap (or Secret, by `kind`) `name` in `namespace`, through the CoreV1 client `core`."""

    core: Any
    namespace: str
    name: str
    key: str
    kind: str = "ConfigMap"

    @property
    def what(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"

    def read(self) -> str:
        """The key's text ("" when the key is absent)."""
        read = self.core.read_namespaced_secret if self.kind == "Secret" else self.core.read_namespaced_config_map
        try:
            found = read(self.name, self.namespace)
        except Exception as e:
            raise PlatformError(f"read {self.what}: {reason(e)}") from e
        value = (found.data or {}).get(self.key)
        if value is None:
            return ""
        return base64.b64decode(value).decode("utf-8") if self.kind == "Secret" else str(value)

    def write(self, text: str) -> None:
        """Set the key to `text` (a patch: the object's other keys are left alone)."""
        if self.kind == "Secret":
            patch = self.core.patch_namespaced_secret
            value = base64.b64encode(text.encode("utf-8")).decode("ascii")
        else:
            patch, value = self.core.patch_namespaced_config_map, text
        try:
            patch(self.name, self.namespace, {"data": {self.key: value}}, field_manager=FIELD_MANAGER)
        except Exception as e:
            raise PlatformError(f"update {self.what}: {reason(e)}") from e

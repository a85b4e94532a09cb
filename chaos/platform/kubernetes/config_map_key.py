"""One key of one ConfigMap, read and written through the API: where a pod's mounted config file lives.

The run's own targets (a ConfigMap gochaos applied), a team's deployed service (its own ConfigMap)
and the crash clean-up that restores a deployed service's key all read and write a key the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chaos.errors import PlatformError


@dataclass(frozen=True, slots=True)
class ConfigMapKey:
    """Key `key` of ConfigMap `name` in `namespace`, through the CoreV1 client `core`."""

    core: Any
    namespace: str
    name: str
    key: str

    def read(self) -> str:
        """The key's text ("" when the key is absent)."""
        from chaos.platform.kubernetes.namespace import reason

        try:
            found = self.core.read_namespaced_config_map(self.name, self.namespace)
        except Exception as e:
            raise PlatformError(f"read ConfigMap {self.namespace}/{self.name}: {reason(e)}") from e
        return str((found.data or {}).get(self.key, ""))

    def write(self, text: str) -> None:
        """Set the key to `text` (a patch: the ConfigMap's other keys are left alone)."""
        from chaos.platform.kubernetes.namespace import FIELD_MANAGER, reason

        try:
            self.core.patch_namespaced_config_map(self.name, self.namespace, {"data": {self.key: text}},
                                                  field_manager=FIELD_MANAGER)
        except Exception as e:
            raise PlatformError(f"update ConfigMap {self.namespace}/{self.name}: {reason(e)}") from e

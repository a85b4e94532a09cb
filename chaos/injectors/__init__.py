"""Fault injectors, one module per fault family, registered by name in `base.REGISTRY`."""

from chaos.injectors import etcd_leader as _etcd_leader  # noqa: F401 - registers leader_loss
from chaos.injectors import gc_pressure as _gc_pressure  # noqa: F401 - registers gc_pressure
from chaos.injectors import reload as _reload  # noqa: F401 - registers reload_storm

"""Fault injectors, one module per fault family, registered by name in `base.REGISTRY`."""

from chaos.injectors import reload as _reload  # noqa: F401 - registers reload_storm

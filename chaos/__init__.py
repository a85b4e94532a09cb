"""gochaos: fault-injection chaos suite for Go services.

Real Go processes (or pods), a real etcd cluster, real Locust traffic; injectors that land
precisely and are always reverted; oracles that give sharp verdicts.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("gochaos")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

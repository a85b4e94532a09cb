"""Installing the Debian packages the host needs (docker.io, debootstrap) with apt, if missing.

Installing docker.io must not start Debian's own dockerd: that one would take /var/run/docker.sock
with settings kind cannot use here. On a machine without systemd, package scripts start services
through invoke-rc.d, which asks /usr/sbin/policy-rc.d; a policy that answers 101 ("not allowed")
is put in place for the install when none exists, and removed afterwards.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from .commands import run
from .errors import BuildFailed, PrerequisiteMissing
from .progress import Progress, quiet, step

_POLICY_RC = Path("/usr/sbin/policy-rc.d")
_DENY_ALL_SERVICES = "#!/bin/sh\n# gochaos kind_offline: no service starts while it installs packages\nexit 101\n"


def is_installed(package: str) -> bool:
    """True when dpkg knows `package` as fully installed."""
    if shutil.which("dpkg-query") is None:
        return False
    result = subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True, check=False
    )
    return result.returncode == 0 and result.stdout.strip() == "install ok installed"


def ensure_packages(packages: Iterable[str], *, why: str, progress: Progress = quiet) -> None:
    """Install the `packages` that are missing; `why` says what needs them (for messages)."""
    missing = [p for p in packages if not is_installed(p)]
    if not missing:
        return
    if shutil.which("apt-get") is None:
        raise PrerequisiteMissing(
            f"{why} needs the Debian packages {' '.join(missing)}, and this machine has no apt-get: "
            "install them by other means"
        )
    if os.geteuid() != 0:
        raise PrerequisiteMissing(
            f"{why} needs the Debian packages {' '.join(missing)}: run as root, or install them "
            f"first with `sudo apt-get install {' '.join(missing)}`"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    with step(progress, f"apt-get install {' '.join(missing)}"), _services_not_started():
        if not _all_have_candidates(missing):
            run(["apt-get", "update", "-qq"], error=BuildFailed, what="apt-get update",
                hint="check the Debian mirror in /etc/apt/sources.list", timeout=600, env=env,
                progress=progress)
        run(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends",
             "-o", "DPkg::Lock::Timeout=300", *missing],
            error=BuildFailed, what=f"apt-get install {' '.join(missing)}",
            hint="check that apt works on this machine (apt-get install -s docker.io)",
            timeout=900, env=env, progress=progress,
        )


def _all_have_candidates(packages: list[str]) -> bool:
    result = subprocess.run(["apt-cache", "policy", *packages], capture_output=True, text=True, check=False)
    return result.returncode == 0 and "Candidate: (none)" not in result.stdout and all(
        f"{p}:" in result.stdout for p in packages
    )


@contextmanager
def _services_not_started() -> Iterator[None]:
    """Keep package scripts from starting daemons, unless a policy already exists."""
    if _POLICY_RC.exists():
        yield
        return
    _POLICY_RC.write_text(_DENY_ALL_SERVICES)
    _POLICY_RC.chmod(0o755)
    try:
        yield
    finally:
        _POLICY_RC.unlink(missing_ok=True)

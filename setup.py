"""Build hook: the wheel carries go_targets/ and manifests/ inside the chaos package (chaos/_bundled/).

Everything else is declared in pyproject.toml. An installed gochaos builds its Go targets from that
copy and deploys those manifests (chaos.bundled finds them); a checkout keeps using its own.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
BUNDLED = ("go_targets", "manifests")


class BuildWithBundledData(build_py):
    """build_py, then the Go module and the manifests copied into the built package."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return  # an editable install reads them from the checkout
        for name in BUNDLED:
            target = Path(self.build_lib) / "chaos" / "_bundled" / name
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(ROOT / name, target, ignore=shutil.ignore_patterns("bin", ".*", "__pycache__"))


setup(cmdclass={"build_py": BuildWithBundledData})

"""Target images for a kind cluster: the static binary in a FROM-scratch image, loaded into the node.

No registry is involved anywhere: `chaos.build` builds the static binary (CGO off, or a statically
linked race build) into its cache,
keyed by a hash of its inputs; that key is the image tag, so an unchanged target is never rebuilt
and a changed one can never be mistaken for the old one. go_targets/Dockerfile only COPYs the
binary and the sample configs into an empty image; `kind load docker-image` puts it into the
node's containerd, where the Deployments find it with imagePullPolicy: Never.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from chaos.build import Binaries, go_targets_dir
from chaos.platform.kubernetes.cluster.kind import image_present, kind_cli, run_tool

BUILD_TIMEOUT_S = 180.0
LOAD_TIMEOUT_S = 180.0


def image_tag(binaries: Binaries, name: str, *, race: bool = False) -> str:
    """`gochaos/<name>:<input hash>` of the binary as chaos.build would (or did) build it."""
    path = binaries.get(name, race=race)
    return f"gochaos/{name}:{path.parent.name}"


def ensure_image(docker: str, binaries: Binaries, name: str, *, race: bool = False) -> str:
    """The image of bundled binary `name` in the Docker engine, built if missing; returns its tag."""
    tag = image_tag(binaries, name, race=race)
    if image_present(docker, tag):
        return tag
    module = go_targets_dir()
    with tempfile.TemporaryDirectory(prefix="gochaos-image-") as tmp:
        context = Path(tmp)
        (context / "bin").mkdir()
        shutil.copy2(binaries.get(name, race=race), context / "bin" / name)
        shutil.copytree(module / "configs", context / "configs")
        run_tool([docker, "build", "--quiet", "--build-arg", f"TARGET={name}", "-t", tag,
                  "-f", str(module / "Dockerfile"), str(context)],
                 what=f"docker build of {tag}", timeout_s=BUILD_TIMEOUT_S,
                 env={**os.environ, "DOCKER_BUILDKIT": "0"})  # the legacy builder needs no BuildKit image
    return tag


def load_into_kind(tag: str, cluster: str) -> None:
    """Put image `tag` into the nodes of kind cluster `cluster` (kind skips it when already there)."""
    run_tool([kind_cli(), "load", "docker-image", tag, "--name", cluster],
             what=f"kind load docker-image {tag}", timeout_s=LOAD_TIMEOUT_S)

"""The manifests/ directory and the run's base objects (namespace, RBAC): cluster plumbing.

The files under manifests/ work by hand with `kubectl apply -k`; the suite reads the very same files
(the resources a kustomization.yaml lists). This module finds them and renders the base every run
stands on; what the suite deploys into it (targets, etcd, the hog) is rendered by `workloads.manifests`.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import yaml

from chaos.bundled import bundled_dir
from chaos.errors import PlatformError

Manifest = dict[str, Any]

MANAGED_BY = "app.kubernetes.io/managed-by"
RUN_LABEL = "gochaos.io/run"


def manifests_dir() -> Path:
    """$GOCHAOS_MANIFESTS, else manifests/ of this checkout or of the installed package."""
    override = os.environ.get("GOCHAOS_MANIFESTS")
    path = Path(override) if override else bundled_dir("manifests", "base/kustomization.yaml")
    if not (path / "base" / "kustomization.yaml").is_file():
        raise PlatformError(f"Kubernetes manifests not found at {path} (no base/kustomization.yaml); "
                            "reinstall gochaos, run from a gochaos checkout or set GOCHAOS_MANIFESTS to its "
                            "manifests directory")
    return path


def load_kustomization(folder: Path) -> list[Manifest]:
    """Every object of the resources `folder/kustomization.yaml` lists, in order (a directory: its own, nested)."""
    try:
        kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text(encoding="utf-8"))
        docs: list[Manifest] = []
        for resource in kustomization.get("resources", []):
            if (folder / resource).is_dir():
                docs += load_kustomization(folder / resource)
                continue
            with (folder / resource).open(encoding="utf-8") as handle:
                docs += [doc for doc in yaml.safe_load_all(handle) if doc]
    except (OSError, yaml.YAMLError, AttributeError) as e:
        raise PlatformError(f"manifests in {folder} are unreadable: {e}") from e
    return docs


def run_labels(run_id: str) -> dict[str, str]:
    return {MANAGED_BY: "gochaos", RUN_LABEL: run_id}


def render_base(docs: list[Manifest], *, namespace: str, run_id: str) -> list[Manifest]:
    """The namespace (named and labelled for this run) and the RBAC objects inside it."""
    out = []
    for doc in map(copy.deepcopy, docs):
        meta = doc.setdefault("metadata", {})
        meta.setdefault("labels", {}).update(run_labels(run_id))
        if doc["kind"] == "Namespace":
            meta["name"] = namespace
        else:
            meta["namespace"] = namespace
            for subject in doc.get("subjects", []):
                subject["namespace"] = namespace
        out.append(doc)
    return out

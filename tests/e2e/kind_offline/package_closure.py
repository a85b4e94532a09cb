"""Picking a few commands, with every file their Debian packages need, out of a root filesystem.

kube-proxy runs `iptables-restore` and friends (and `conntrack`) inside its own container, so its
image cannot be a lone static binary. Shipping the whole node root filesystem would cost ~300 MB
per cluster; instead the image gets the files of the packages providing those commands plus
their dependency closure, read from the tree's dpkg database (/var/lib/dpkg/status and
info/*.list). Links made by maintainer scripts (update-alternatives' /usr/sbin/iptables ->
/etc/alternatives/iptables -> iptables-nft) are in no package list, so the wanted commands are
followed link by link as well.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from .errors import BuildFailed
from .image_archive import LayerWriter

_MERGED_USR_LINKS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")


def installed_packages(tree: Path) -> dict[str, list[list[str]]]:
    """Installed package name -> dependency groups (each a list of alternatives), from dpkg's status."""
    packages: dict[str, list[list[str]]] = {}
    provides: dict[str, str] = {}
    status = (tree / "var/lib/dpkg/status").read_text()
    for paragraph in status.split("\n\n"):
        fields = _fields(paragraph)
        name = fields.get("Package")
        if not name or "installed" not in fields.get("Status", "").split():
            continue
        depends = ", ".join(filter(None, [fields.get("Pre-Depends"), fields.get("Depends")]))
        packages[name] = [
            [alt.strip().split()[0].split(":")[0] for alt in group.split("|")]
            for group in depends.split(",") if group.strip()
        ]
        for provided in fields.get("Provides", "").split(","):
            if provided.strip():
                provides.setdefault(provided.strip().split()[0], name)
    for virtual, real in provides.items():
        packages.setdefault(virtual, [[real]])
    return packages


def closure(tree: Path, roots: Iterable[str]) -> list[str]:
    """The `roots` and every installed package they depend on, transitively (first installed alternative)."""
    packages = installed_packages(tree)
    wanted: list[str] = []
    queue = list(roots)
    while queue:
        name = queue.pop()
        if name in wanted:
            continue
        if name not in packages:
            raise BuildFailed(f"package {name} is not installed in {tree}; add it to versions.NODE_PACKAGES")
        wanted.append(name)
        for group in packages[name]:
            chosen = next((alt for alt in group if alt in packages), None)
            if chosen is not None:
                queue.append(chosen)
    return sorted(wanted)


def package_paths(tree: Path, package: str) -> list[str]:
    """The paths dpkg lists for `package` (absolute, as in the .list file)."""
    info = tree / "var/lib/dpkg/info"
    for candidate in (info / f"{package}.list", info / f"{package}:amd64.list"):
        if candidate.is_file():
            return [line for line in candidate.read_text().splitlines() if line.startswith("/")]
    return []  # virtual or files-less packages (e.g. provided names)


def add_commands(layer: LayerWriter, tree: Path, *, packages: Iterable[str], commands: Iterable[str]) -> None:
    """Add the files of `packages` (with their closure) and the link chains of `commands` to `layer`."""
    for name in _MERGED_USR_LINKS:
        link = tree / name
        if link.is_symlink():
            layer.symlink(name, str(link.readlink()))
    added: set[str] = set()
    for package in closure(tree, packages):
        for listed in package_paths(tree, package):
            _add_path(layer, tree, listed, added)
    for command in commands:
        if not _lexists(tree / command.lstrip("/")):
            raise BuildFailed(f"{command} does not exist in {tree}: its package is missing from the root filesystem")
        _add_path(layer, tree, command, added)


def _add_path(layer: LayerWriter, tree: Path, path: str, added: set[str]) -> None:
    """Add one path (following symlinks to their targets) unless it is a directory or trimmed away."""
    for _ in range(40):  # bounded: a symlink loop must not hang the build
        relative = _canonical_parent(tree, path)
        if relative in added:
            return
        source = tree / relative
        if source.is_symlink():
            target = str(source.readlink())
            layer.symlink(relative, target)
            added.add(relative)
            path = target if target.startswith("/") else str(PurePosixPath("/" + relative).parent / target)
            continue
        if source.is_file():
            layer.file(relative, source)
            added.add(relative)
        return  # a directory (created as a parent when needed) or a path the trim removed
    raise BuildFailed(f"symlink chain too long at {path} in {tree}")


def _canonical_parent(tree: Path, path: str) -> str:
    """`path` relative to `tree`: "." and ".." applied, symlinked parent directories resolved inside `tree`."""
    parts = [p for p in PurePosixPath(path).parts if p not in ("/", ".")]
    resolved: list[str] = []
    for i, part in enumerate(parts):
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        resolved.append(part)
        if i == len(parts) - 1:
            break
        current = tree.joinpath(*resolved)
        hops = 0
        while current.is_symlink() and hops < 40:
            target = PurePosixPath(str(current.readlink()))
            base = PurePosixPath("/") if target.is_absolute() else PurePosixPath("/", *resolved[:-1])
            resolved = [p for p in _normalise(base / target).parts if p != "/"]
            current = tree.joinpath(*resolved)
            hops += 1
    return "/".join(resolved)


def _normalise(path: PurePosixPath) -> PurePosixPath:
    out: list[str] = []
    for part in path.parts:
        if part == "..":
            if out:
                out.pop()
        elif part not in (".", "/"):
            out.append(part)
    return PurePosixPath("/", *out)


def _lexists(path: Path) -> bool:
    return path.is_symlink() or path.exists()


def _fields(paragraph: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for match in re.finditer(r"^([\w-]+):[ \t]*(.*(?:\n[ \t].*)*)", paragraph, flags=re.MULTILINE):
        fields[match.group(1)] = match.group(2)
    return fields

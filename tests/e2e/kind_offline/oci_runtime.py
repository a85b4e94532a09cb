"""The OCI runtime our dockerd uses by default: runc, minus CAP_SYS_RESOURCE.

This VM's capability bounding set lacks CAP_SYS_RESOURCE, Docker 20.10 grants a `--privileged`
container every capability it knows (ignoring --cap-drop), and runc then fails with "unable to
apply caps: operation not permitted". kind runs every node, and every `docker exec` into a node,
privileged. The wrapper written here is registered with dockerd as an extra runtime and made the
default: before handing over to runc it removes CAP_SYS_RESOURCE from every capability list of
the container's config.json (`create`/`run`, found through --bundle) or of the process.json
(`exec`, found through --process), then execs runc with the very same arguments.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from .errors import PrerequisiteMissing

RUNTIME_NAME = "runc-no-sys-resource"
DROPPED_CAPABILITY = "CAP_SYS_RESOURCE"

_WRAPPER = '''#!{python} -IS
"""OCI runtime wrapper written by gochaos (tests/e2e/kind_offline/oci_runtime.py): drops {cap}
from the capability lists of the bundle's config.json or the exec process.json, then execs runc."""
import json
import os
import sys

RUNC = {runc!r}
CAP = {cap!r}
SPEC_OPTIONS = {{"--bundle": "bundle", "-b": "bundle", "--process": "process", "-p": "process"}}
SUBCOMMANDS = {{"create", "run", "exec"}}


def spec_files(argv):
    """(path, is process.json) of --bundle's config.json (create, run) or --process (exec)."""
    sub = next((i for i, a in enumerate(argv) if a in SUBCOMMANDS), None)
    if sub is None:
        return []
    found = []
    args = argv[sub + 1:]
    for i, arg in enumerate(args):
        name, eq, value = arg.partition("=")
        kind = SPEC_OPTIONS.get(name)
        if kind is None:
            continue
        if not eq:
            if i + 1 >= len(args):
                continue
            value = args[i + 1]
        if kind == "bundle":
            found.append((os.path.join(value, "config.json"), False))
        else:
            found.append((value, True))
    return found


def strip(path, in_process):
    with open(path) as f:
        spec = json.load(f)
    process = spec if in_process else spec.get("process") or {{}}
    caps = process.get("capabilities") or {{}}
    changed = False
    for key, names in caps.items():
        if isinstance(names, list) and CAP in names:
            caps[key] = [n for n in names if n != CAP]
            changed = True
    if changed:
        tmp = path + ".gochaos-tmp"
        with open(tmp, "w") as f:
            json.dump(spec, f)
        os.replace(tmp, path)


for spec_path, in_process in spec_files(sys.argv[1:]):
    if os.path.isfile(spec_path):
        strip(spec_path, in_process)
os.execv(RUNC, [RUNC] + sys.argv[1:])
'''


def write_wrapper(directory: Path) -> Path:
    """Write the wrapper executable into `directory` and return its path."""
    runc = shutil.which("runc") or ("/usr/sbin/runc" if Path("/usr/sbin/runc").is_file() else None)
    if runc is None:
        raise PrerequisiteMissing("runc was not found: install Debian's runc package (apt-get install runc)")
    python = os.path.realpath(sys.executable)  # the wrapper needs only the standard library
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / RUNTIME_NAME
    tmp = path.with_suffix(".tmp")
    tmp.write_text(_WRAPPER.format(python=python, runc=os.path.realpath(runc), cap=DROPPED_CAPABILITY))
    tmp.chmod(0o755)
    tmp.replace(path)
    return path

"""Developer entry point: `PYTHONPATH=tests/e2e python -m kind_offline COMMAND`.

Commands: ensure | runner-image | run -- COMMAND... | dockerd start|stop|status.

`ensure` starts our dockerd if needed, installs kind, builds the node image if its inputs changed,
and prints the image name on stdout (progress goes to stderr), so that
`kind create cluster --image "$(python -m kind_offline ensure)" ...` works. The dockerd it starts
keeps running for such kind commands, whatever test sessions do meanwhile; stop it with
`dockerd stop` when done. `runner-image` builds the gochaos runner image (manifests/runner) into that
engine and prints its tag: `docker tag` and `docker push` it to your registry from there. `run`
runs COMMAND (e.g. `gochaos run gate --platform kubernetes`, which `make gate-kind` does) with
DOCKER_HOST, GOCHAOS_KIND and GOCHAOS_KIND_NODE_IMAGE pointing at all of that, and stops the
dockerd afterwards if it was started for this command alone; its exit code is COMMAND's.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

from .docker_engine import acquire, release, running_pid, stop
from .errors import KindOfflineError, PrerequisiteMissing
from .kind_tool import ensure_kind
from .locations import RunLayout
from .node_image import ensure_node_image
from .progress import print_progress
from .runner_image import ensure_runner_image


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kind_offline", description="Offline kind for gochaos e2e tests.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("ensure", help="engine + kind + node image; prints the node image name")
    commands.add_parser("runner-image", help="engine + the gochaos runner image of this checkout; prints its tag")
    run_command = commands.add_parser("run", help="COMMAND with the engine, kind and node image in its env")
    run_command.add_argument("argv", nargs=argparse.REMAINDER, help="-- COMMAND [ARGS...]")
    dockerd = commands.add_parser("dockerd", help="start, stop or inspect our own dockerd")
    dockerd.add_argument("action", choices=["start", "stop", "status"])
    args = parser.parse_args(argv)
    try:
        if args.command == "ensure":
            return _ensure()
        if args.command == "runner-image":
            return _runner_image()
        if args.command == "run":
            return _run(args.argv[1:] if args.argv[:1] == ["--"] else args.argv)
        return _dockerd(args.action)
    except KindOfflineError as e:
        print(f"kind_offline: {e}", file=sys.stderr)
        return int(e.exit_code)
    except KeyboardInterrupt:
        print("kind_offline: interrupted", file=sys.stderr)
        return 130


def _ensure() -> int:
    engine = acquire(manual=True, progress=print_progress)
    kind = ensure_kind(progress=print_progress)
    image = ensure_node_image(engine, progress=print_progress)
    print_progress(f"kind: {kind}")
    print_progress(f"engine: export DOCKER_HOST={engine.docker_host}")
    print(image)
    return 0


def _run(argv: list[str]) -> int:
    if not argv:
        raise PrerequisiteMissing("nothing to run: give a command after `run --`")
    engine = acquire(progress=print_progress)
    try:
        env = {**os.environ, "DOCKER_HOST": engine.docker_host,
               "GOCHAOS_KIND": str(ensure_kind(progress=print_progress)),
               "GOCHAOS_KIND_NODE_IMAGE": ensure_node_image(engine, progress=print_progress)}
        child = subprocess.Popen(argv, env=env)
        while True:
            try:
                return child.wait()
            except KeyboardInterrupt:  # the child got the same Ctrl-C: let it clean up and say how it ended
                continue
    finally:
        release(engine, progress=print_progress)


def _runner_image() -> int:
    engine = acquire(manual=True, progress=print_progress)
    print_progress(f"engine: export DOCKER_HOST={engine.docker_host}")
    print(ensure_runner_image(engine, progress=print_progress))
    return 0


def _dockerd(action: str) -> int:
    layout = RunLayout()
    if action == "start":
        engine = acquire(manual=True, progress=print_progress)
        print_progress("our dockerd keeps running until `python -m kind_offline dockerd stop`")
        print(f"export DOCKER_HOST={engine.docker_host}")
    elif action == "stop":
        if not stop(progress=print_progress) and running_pid(layout) is None:
            print_progress("our dockerd was not running")
    else:
        pid = running_pid(layout)
        print(f"running (pid {pid}) on {layout.docker_host}" if pid else "not running")
    return 0


if __name__ == "__main__":
    sys.exit(main())

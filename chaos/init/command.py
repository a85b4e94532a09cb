"""The `gochaos init` subcommand: its options, and the one call into `chaos.init.discover`.

Progress goes to stderr, one line per step, as init probes; stdout gets the written files and the
command that runs them, so `gochaos init ... | tail -1` is the next command.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from chaos.errors import ExitCode, UsageError


def add_arguments(sub: argparse.ArgumentParser) -> None:
    """`gochaos init [--go-install REF | --build DIR] [--config FILE] [--name N] [--out FILE] [--force] -- ARGV`."""
    how = sub.add_mutually_exclusive_group()
    how.add_argument("--go-install", metavar="MODULE/PKG@VERSION",
                     help="a published main package, built from the Go module proxy into the suite's cache "
                          "(argv starts with {binary}, or {binary} is put first)")
    how.add_argument("--build", type=Path, metavar="DIR",
                     help="your service's main package directory, built as the run builds it")
    sub.add_argument("--config", type=Path, metavar="FILE",
                     help="its config file: listen addresses in it become port placeholders in a copy written "
                          "beside the scenario; argv must name it (as its path or {config})")
    sub.add_argument("--name", help="target and scenario name (default: the binary's name)")
    sub.add_argument("--out", type=Path, metavar="FILE", help="scenario file to write (default: NAME.chaos.yaml)")
    sub.add_argument("--force", action="store_true", help="overwrite the scenario and config copy if they exist")
    sub.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- ARGV",
                     help="how to start it: BINARY [ARGS...], or {binary} [ARGS...] with --go-install/--build; "
                          "literal addresses (127.0.0.1:4222, -port 8080) are found and replaced")


def run(args: argparse.Namespace) -> int:
    """Probe the service, write its scenario, say how to run it."""
    # deferred: the probing machinery (and the scenario loader it validates with) loads only when init runs
    from chaos.init.discover import init_scenario
    from chaos.init.request import InitRequest

    argv = list(args.argv)
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv and not (args.go_install or args.build):
        raise UsageError("init needs how to start the service: a binary and its arguments after --, or "
                         "--go-install MODULE/cmd/x@VERSION / --build DIR (then {binary} [ARGS...])")

    def progress(line: str) -> None:
        print(f"init: {line}", file=sys.stderr, flush=True)

    written = init_scenario(InitRequest(argv=tuple(argv), go_install=args.go_install, build=args.build,
                                        config=args.config, name=args.name, out=args.out, force=args.force), progress)
    for line in written.plan:
        print(f"init: plan: {line}", file=sys.stderr, flush=True)
    if written.config is not None:
        print(f"config: {written.config}")
    print(f"scenario: {written.scenario}")
    print(f"gochaos run {written.scenario}")
    return ExitCode.PASS

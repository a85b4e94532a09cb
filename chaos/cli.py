"""The `gochaos` command: list, run and reproduce scenarios; exit codes CI can act on.

Exit codes: 0 pass, 1 an oracle failed, 2 usage or scenario error, 3 infrastructure error (could
not build or start a target, etcd or the load), 4 inconclusive (the fault did not land, too little
load to judge), 130 interrupted (everything started was stopped first).
Precedence of settings: scenario file < environment (GOCHAOS_*) < command-line flag.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from chaos import __version__, cleanup
from chaos.errors import ChaosError, ExitCode, Interrupted
from chaos.runner import PLATFORMS


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gochaos", description="Fault-injection chaos suite for Go services.",
        epilog="exit codes: 0 pass, 1 fail, 2 usage/scenario error, 3 infrastructure error, "
               "4 inconclusive, 130 interrupted",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("list", help="list the bundled scenarios")
    commands.add_parser("version", help="print the gochaos version")
    for name, helptext in (("run", "run a scenario against the fixed build"),
                           ("reproduce", "run a scenario against the buggy build, show the evidence")):
        sub = commands.add_parser(name, help=helptext)
        sub.add_argument("scenario", metavar="NAME|FILE",
                         help="bundled scenario name (see `gochaos list`) or a .chaos.yaml file")
        sub.add_argument("--platform", choices=PLATFORMS,
                         default=os.environ.get("GOCHAOS_PLATFORM", "local"),
                         help="where targets run (default: local; env GOCHAOS_PLATFORM)")
        sub.add_argument("--report-dir", type=Path,
                         default=_env_path("GOCHAOS_REPORT_DIR"),
                         help="write report.json and keep target logs here (env GOCHAOS_REPORT_DIR)")
        sub.add_argument("--seed", type=int, default=_env_int("GOCHAOS_SEED"),
                         help="seed for jitter and generated names, to replay a run (env GOCHAOS_SEED)")
    return parser


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value) if value else None


def _env_int(name: str) -> int | None:
    value = os.environ.get(name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise SystemExit(f"gochaos: {name}={value!r} is not an integer") from None


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    console = Console()
    err = Console(stderr=True)
    try:
        with cleanup.interrupts_raise():
            if args.command == "version":
                console.print(f"gochaos {__version__}", highlight=False)
                return ExitCode.PASS
            if args.command == "list":
                return _list(console)
            return _run(args, console, buggy=args.command == "reproduce")
    except KeyboardInterrupt:
        err.print("gochaos: interrupted by SIGINT; everything the run started was stopped")
        return ExitCode.INTERRUPTED
    except Interrupted as e:
        err.print(f"gochaos: {e}")
        return e.exit_code
    except ChaosError as e:
        err.print(f"gochaos: {type(e).__name__}: {e}", highlight=False, markup=False, soft_wrap=True)
        return e.exit_code


def _list(console: Console) -> int:
    from chaos.scenario import bundled_scenarios, load_scenario

    for name, path in bundled_scenarios().items():
        scenario = load_scenario(path)
        console.print(f"{name:<20} {scenario.description.strip().splitlines()[0] if scenario.description else ''}",
                      highlight=False)
    return ExitCode.PASS


def _run(args: argparse.Namespace, console: Console, *, buggy: bool) -> int:
    from chaos.report import json_report
    from chaos.report.console import ConsoleProgress, print_verdict
    from chaos.runner import run_scenario
    from chaos.scenario import load_scenario, resolve

    path = resolve(args.scenario)
    scenario = load_scenario(path)
    report_dir: Path | None = args.report_dir
    run_dir = report_dir / "artefacts" / scenario.name if report_dir else None
    title = f"{scenario.name}{' (buggy)' if buggy else ''}"
    with ConsoleProgress(console, title) as progress:
        result = run_scenario(scenario, base_dir=path.parent, platform=args.platform, buggy=buggy,
                              seed=args.seed, run_dir=run_dir, progress=progress)
    print_verdict(console, result)
    if report_dir is not None:
        written = json_report.write(result, report_dir)
        console.print(f"report: {written}", highlight=False)
    return result.verdict.exit_code


if __name__ == "__main__":
    sys.exit(main())

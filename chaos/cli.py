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
                         help="write report.json, junit.xml, report.html and keep target logs here "
                              "(env GOCHAOS_REPORT_DIR)")
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
    from chaos.scenario import bundled_scenarios, load_plan

    for name, path in bundled_scenarios().items():
        _, plan = load_plan(path)
        if len(plan) > 1 or plan[0][0].name != name:
            summary = "suite: " + ", ".join(scenario.name for scenario, _ in plan)
        else:
            summary = " ".join(plan[0][0].description.split()).split(". ")[0].rstrip(".")
        console.print(f"{name:<18} {summary}", highlight=False, soft_wrap=True)
    return ExitCode.PASS


def _run(args: argparse.Namespace, console: Console, *, buggy: bool) -> int:
    from chaos.report import html, json_report, junit, overall_status
    from chaos.report.console import ConsoleProgress, print_verdict
    from chaos.runner import RunResult, run_scenario
    from chaos.scenario import load_plan, resolve

    name, plan = load_plan(resolve(args.scenario))
    report_dir: Path | None = args.report_dir
    results: list[RunResult] = []
    for scenario, base_dir in plan:
        run_dir = report_dir / "artefacts" / scenario.name if report_dir else None
        title = f"{scenario.name}{' (buggy)' if buggy else ''}"
        if len(plan) > 1:
            title = f"{name} {len(results) + 1}/{len(plan)}: {title}"
        with ConsoleProgress(console, title) as progress:
            result = run_scenario(scenario, base_dir=base_dir, platform=args.platform, buggy=buggy,
                                  seed=args.seed, run_dir=run_dir, progress=progress)
        print_verdict(console, result)
        results.append(result)
    status = overall_status(r.verdict.status for r in results)
    if len(results) > 1:
        console.print(f"{name}: {len(results)} scenarios, " + ", ".join(
            f"{r.scenario.name} {r.verdict.status.value}" for r in results) + f" -> {status.value.upper()}",
            highlight=False, soft_wrap=True)
    code = {"pass": ExitCode.PASS, "fail": ExitCode.FAIL, "inconclusive": ExitCode.INCONCLUSIVE}[status.value]
    if report_dir is not None:
        missing = []
        for kind, one, many in (("json", json_report.write, json_report.write_many),
                                ("junit", junit.write, junit.write_many), ("html", html.write, html.write_many)):
            try:
                written = one(results[0], report_dir) if len(results) == 1 else many(results, report_dir)
            except Exception as e:  # a broken report must not hide the verdict; say so and go on
                missing.append(kind)
                console.print(f"gochaos: could not write the {kind} report to {report_dir}: {e!r}",
                              highlight=False, markup=False, style="bold red", soft_wrap=True)
            else:
                console.print(f"report: {written}", highlight=False, soft_wrap=True)
        if missing and code == ExitCode.PASS:
            return ExitCode.INFRASTRUCTURE  # a gate must not pass without the reports CI reads
    return code


if __name__ == "__main__":
    sys.exit(main())

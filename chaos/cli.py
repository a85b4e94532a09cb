"""The `gochaos` command: list, show, run and reproduce scenarios, compare kept runs, clean up after dead runs,
explain what a scenario may say (injectors, oracles, targets, probes, load, variants), print the scenario
files' JSON Schema.

`run` and `reproduce` first undo what dead runs left behind (see `chaos.state`); `--dry-run`
prints the plan and touches nothing; `cleanup` only cleans up (`--dry-run`: only reports).

Exit codes: 0 pass, 1 an oracle failed, 2 usage or scenario error, 3 infrastructure error (could
not build or start a target, etcd or the load), 4 inconclusive (the fault did not land, too little
load to judge), 130 interrupted (everything started was stopped first).
Precedence of settings: scenario file < environment (GOCHAOS_*) < command-line flag.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from rich.console import Console

from chaos import __version__, cleanup, run_dirs, state
from chaos.errors import ChaosError, ExitCode, Interrupted, UsageError
from chaos.os_support import require_linux
from chaos.platform.factory import PLATFORMS, platform_kind, reclaim_dead_runs
from chaos.report import repeat
from chaos.report.terminal import make_console
from chaos.verdict import Status

if TYPE_CHECKING:
    from chaos.plan import Plan
    from chaos.platform.kubernetes.cluster.cluster import ClusterAccess
    from chaos.run_result import RunResult
    from chaos.scenario import Scenario


class _Parser(argparse.ArgumentParser):
    """Command-line mistakes as one line that says how to fix them, not argparse's usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(ExitCode.USAGE, f"{self.prog}: {message}; see `{self.prog} --help`\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="gochaos", description="Fault-injection chaos suite for Go services.",
        epilog="exit codes: 0 pass, 1 fail, 2 usage/scenario error, 3 infrastructure error, "
               "4 inconclusive, 130 interrupted",
    )
    parser.add_argument("--version", action="version", version=f"gochaos {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("list", help="list the bundled scenarios (and the directory they are in)")
    show = commands.add_parser("show", help="print a bundled scenario file as it is, to copy and edit")
    show.add_argument("name", metavar="NAME", help="bundled scenario name (see `gochaos list`)")
    commands.add_parser("version", help="print the gochaos version")
    tidy = commands.add_parser("cleanup", help="find and undo what dead gochaos runs left behind "
                                               "(processes, iptables rules, cgroups, temp dirs)")
    tidy.add_argument("--dry-run", action="store_true", help="only report what would be cleaned up")
    for name, helptext in (("run", "run a scenario against the fixed build"),
                           ("reproduce", "run a scenario against the buggy build, show the evidence")):
        sub = commands.add_parser(name, help=helptext)
        sub.add_argument("scenario", metavar="NAME|FILE",
                         help="bundled scenario name (see `gochaos list`) or a .chaos.yaml file")
        sub.add_argument("--platform", choices=PLATFORMS,
                         default=os.environ.get("GOCHAOS_PLATFORM", "local"),
                         help="where targets run (default: local; env GOCHAOS_PLATFORM)")
        reports = sub.add_mutually_exclusive_group()
        reports.add_argument("--report-dir", type=Path,
                             default=_env_path("GOCHAOS_REPORT_DIR") or run_dirs.DEFAULT_REPORT_DIR,
                             help="each run gets its own directory here (<time>-<name>-<seed>: summary.md, "
                                  "report.html, report.json, junit.xml, target logs); `latest` links the newest "
                                  f"(default: ./{run_dirs.DEFAULT_REPORT_DIR}, where `gochaos history` looks; "
                                  "env GOCHAOS_REPORT_DIR)")
        reports.add_argument("--no-report", action="store_true",
                             help="write no reports and no run directory (a read-only checkout, a quick try); "
                                  "the verdict is printed all the same")
        sub.add_argument("--keep", type=_keep, default=os.environ.get("GOCHAOS_KEEP") or None, metavar="N",
                         help="keep only the newest N runs in the report dir (default: all; env GOCHAOS_KEEP)")
        sub.add_argument("--seed", type=_seed, default=os.environ.get("GOCHAOS_SEED"),
                         help="seed for jitter and generated names, to replay a run (env GOCHAOS_SEED)")
        sub.add_argument("--repeat", type=_positive, default=1, metavar="N",
                         help="run it N times with consecutive seeds from the first run's (--seed S, the "
                              "file's seed, or a drawn one: S, S+1, ...) and report the detection rate of a "
                              "failure, with its 95%% interval and the first failing seed")
        sub.add_argument("--until-fail", action="store_true", help="with --repeat: stop at the first failing run")
        sub.add_argument("--shrink", action="store_true",
                         help="when a run fails, shrink its storm's writes to the fewest that still fail and write "
                              "them as NAME-shrunk.chaos.yaml beside the scenario (as `gochaos shrink`; needs "
                              "the reports, not --no-report; with --repeat, the first failing run, --trials as "
                              "--repeat)")
        sub.add_argument("--jobs", type=_positive, default=os.environ.get("GOCHAOS_JOBS") or None, metavar="N",
                         help="run up to N scenarios of a suite at once, each with its own ports, dirs and state "
                              "(default: the suite's `jobs`, else 1; env GOCHAOS_JOBS)")
        sub.add_argument("--dry-run", action="store_true",
                         help="print the plan (targets, etcd, load, fault schedule from the seed, "
                              "oracles) and exit; builds, starts and writes nothing")
        _add_publish_options(sub)
        _add_kubernetes_options(sub)
    shrink = commands.add_parser("shrink", help="the fewest of a failed run's config writes that still fail, written "
                                                "as a scenario file (a regression test to commit)")
    shrink.add_argument("run_dir", type=Path, metavar="RUN_DIR",
                        help="a failed run's directory (or the report dir: its latest run)")
    shrink.add_argument("--trials", type=_positive, default=1, metavar="N",
                        help="runs per candidate; it fails when any of them fails (for a racy bug: 5 or more)")
    shrink.add_argument("--out", type=Path, metavar="FILE",
                        help="where to write it (default: NAME-shrunk.chaos.yaml beside the scenario file)")
    explain = commands.add_parser("explain", help="what a scenario may say, read from its models: injectors' and "
                                                   "oracles' parameters, mutation operators, target kinds, probes, "
                                                   "load users and their options, variants; types, defaults, bounds")
    explain.add_argument("kind", metavar="injectors|oracles|operators|targets|probes|load|variants",
                         help="what to explain")
    explain.add_argument("name", nargs="?", metavar="NAME",
                         help="only this one (an unknown NAME lists the names there are)")
    commands.add_parser("schema", help="print the JSON Schema of scenario files (for editors and CI checks)")
    # deferred: a command imports only what it runs (`gochaos --help` imports none of it)
    from chaos.init.command import add_arguments as add_init_arguments

    add_init_arguments(commands.add_parser("init", help="run a service once, probe it and write a scenario that "
                                                       "runs as written (ports, reload, live probes, load)"))
    _add_history_options(commands.add_parser(
        "history", help="compare the runs kept in a report dir: verdicts, recovery, availability, p99, "
                        "fault landing; regressions flagged"))
    return parser


def _add_history_options(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("dir", nargs="?", type=Path, metavar="DIR",
                     help="the report dir (default: --report-dir, GOCHAOS_REPORT_DIR, else "
                          f"./{run_dirs.DEFAULT_REPORT_DIR}, where `gochaos run` keeps its runs)")
    sub.add_argument("--report-dir", type=Path, default=_env_path("GOCHAOS_REPORT_DIR"), help=argparse.SUPPRESS)
    sub.add_argument("--scenario", metavar="NAME", help="only this scenario's runs")
    sub.add_argument("--last", type=_run_count, metavar="N", help="only the newest N runs of each scenario")
    sub.add_argument("--window", type=_run_count, default=5, metavar="N",
                     help="judge each run against the median of the last N passing runs (default 5)")
    sub.add_argument("--json", action="store_true", help="print the runs and regressions as JSON")
    sub.add_argument("--html", type=Path, metavar="FILE", help="also write the trend plots to FILE (HTML)")
    sub.add_argument("--fail-on-regression", action="store_true",
                     help="exit 1 when the newest run regressed (recovery, p99 or fault landing over 2x "
                          "the median, never recovered, or pass -> fail)")


def _add_publish_options(sub: argparse.ArgumentParser) -> None:
    """Reports beyond the run directory: a Pushgateway, a webhook (the step summary needs no flag)."""
    # deferred: a command imports only what it runs (`gochaos --help` imports none of it)
    from chaos.report.webhook import FORMATS

    group = sub.add_argument_group("publishing (besides --report-dir; $GITHUB_STEP_SUMMARY gets summary.md)")
    group.add_argument("--pushgateway", type=_url("--pushgateway", "GOCHAOS_PUSHGATEWAY"),
                       default=os.environ.get("GOCHAOS_PUSHGATEWAY") or None, metavar="URL",
                       help="push each scenario's metrics to this Prometheus Pushgateway (job gochaos, grouping "
                            "key scenario; env GOCHAOS_PUSHGATEWAY)")
    group.add_argument("--webhook", type=_url("--webhook", "GOCHAOS_WEBHOOK"),
                       default=os.environ.get("GOCHAOS_WEBHOOK") or None, metavar="URL",
                       help="POST the verdict here when a run fails or is inconclusive (env GOCHAOS_WEBHOOK)")
    group.add_argument("--webhook-format", choices=FORMATS, default=os.environ.get("GOCHAOS_WEBHOOK_FORMAT")
                       or "generic", help="generic JSON, or a Slack message {text, blocks} "
                                          "(default: generic; env GOCHAOS_WEBHOOK_FORMAT)")


def _url(flag: str, env: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        # deferred: a command imports only what it runs (`gochaos --help` imports none of it)
        from chaos.report.publish import http_url

        try:
            return http_url(value)
        except ValueError as e:
            raise argparse.ArgumentTypeError(f"{e} (from {flag} or {env})") from None
    return parse


def _add_kubernetes_options(sub: argparse.ArgumentParser) -> None:
    """--platform kubernetes: which cluster (a new kind cluster unless told otherwise)."""
    group = sub.add_argument_group("kubernetes (with --platform kubernetes)")
    group.add_argument("--kubeconfig", type=Path, default=_env_path("GOCHAOS_KUBECONFIG"),
                       help="use this kubeconfig instead of creating a kind cluster (env GOCHAOS_KUBECONFIG)")
    group.add_argument("--context", default=os.environ.get("GOCHAOS_CONTEXT"),
                       help="context of the kubeconfig (default: its current one; env GOCHAOS_CONTEXT)")
    group.add_argument("--allow-context", action="append", default=[], metavar="NAME",
                       help="allow faults in this context although it is not a local kind cluster")
    group.add_argument("--kind-cluster", default=os.environ.get("GOCHAOS_KIND_CLUSTER"), metavar="NAME",
                       help="reuse this kind cluster (never deleted) instead of creating one")
    group.add_argument("--keep-cluster", action="store_true",
                       help="keep the kind cluster created for the run (its name is printed)")
    group.add_argument("--kind-node-image", default=os.environ.get("GOCHAOS_KIND_NODE_IMAGE"), metavar="IMAGE",
                       help="node image for the kind cluster (env GOCHAOS_KIND_NODE_IMAGE)")


def _open_cluster(args: argparse.Namespace, console: Console, stack: ExitStack) -> ClusterAccess | None:
    """One cluster for every scenario of the plan (a gate creates kind once, not per scenario)."""
    if not platform_kind(args.platform).on_cluster:
        return None
    # deferred: a command imports only what it runs (`gochaos --help` imports none of it)
    import time

    # deferred: a command imports only what it runs (`gochaos --help` imports none of it)
    from chaos.platform.kubernetes.cluster.cluster import KubernetesOptions, connect

    options = KubernetesOptions(kubeconfig=args.kubeconfig, context=args.context,
                                allow_contexts=tuple(args.allow_context), kind_cluster=args.kind_cluster,
                                keep_cluster=args.keep_cluster, node_image=args.kind_node_image)
    started = time.monotonic()
    cluster = connect(options)
    stack.callback(cluster.close)
    kept = " (kept after the run)" if args.keep_cluster and cluster.kind and not cluster.kind.reused else ""
    console.print(f"cluster: context {cluster.context} ready in {time.monotonic() - started:.1f}s{kept}",
                  highlight=False, soft_wrap=True)
    return cluster


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value) if value else None


def _seed(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"seed {value!r} (from --seed or GOCHAOS_SEED) is not an integer; pass a whole number"
        ) from None


def _positive(value: str) -> int:
    try:
        count = int(value)
    except ValueError:
        count = 0
    if not 1 <= count <= 10_000:
        raise argparse.ArgumentTypeError(f"repeat {value!r} is not a whole number of runs from 1 to 10000")
    return count


def _run_count(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number of runs >= 1; pass e.g. 5")
    return int(value)


def _keep(value: str) -> int:
    try:
        count = int(value)
    except ValueError:
        count = 0
    if count < 1:
        raise argparse.ArgumentTypeError(
            f"keep {value!r} (from --keep or GOCHAOS_KEEP) is not a whole number of runs >= 1; pass e.g. --keep 20")
    return count


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    console = make_console()
    err = make_console(stderr=True)
    try:
        with cleanup.interrupts_raise():
            if args.command == "version":
                console.print(f"gochaos {__version__}", highlight=False)
                return ExitCode.PASS
            require_linux()
            if args.command == "list":
                return _list(console)
            if args.command == "show":
                return _show(args.name)
            if args.command == "cleanup":
                return _cleanup(console, err, dry_run=args.dry_run)
            if args.command == "history":
                return _history(args, console, err)
            if args.command == "explain":
                return _explain(args.kind, args.name)
            if args.command == "schema":
                return _schema()
            if args.command == "init":
                # deferred: a command imports only what it runs (`gochaos --help` imports none of it)
                from chaos.init.command import run as run_init

                return run_init(args)
            if args.command == "shrink":
                return _shrink(args, console)
            return _run(args, console, buggy=args.command == "reproduce")
    except KeyboardInterrupt:
        err.print("gochaos: interrupted by SIGINT; everything the run started was stopped")
        return ExitCode.INTERRUPTED
    except Interrupted as e:
        err.print(f"gochaos: {e}", highlight=False, markup=False, soft_wrap=True)
        return e.exit_code
    except ChaosError as e:
        err.print(f"gochaos: {type(e).__name__}: {e}", highlight=False, markup=False, soft_wrap=True)
        return e.exit_code


def _list(console: Console) -> int:
    """`gochaos list`: each bundled scenario with its first sentence, then the directory they are in."""
    # deferred: a command imports only what it runs (`gochaos --help` imports none of it)
    from chaos.scenario import bundled_scenarios, load_plan

    found = bundled_scenarios()
    width = max((len(name) for name in found), default=0)
    for name, path in found.items():
        plan = load_plan(path).members
        if len(plan) > 1 or plan[0][0].name != name:
            summary = "suite: " + ", ".join(scenario.name for scenario, _ in plan)
        else:
            summary = " ".join(plan[0][0].description.split()).split(". ")[0].rstrip(".")
        console.print(f"{name:<{width}}  {summary}", highlight=False, markup=False, soft_wrap=True)
    folders = sorted({str(path.parent) for path in found.values()})
    console.print(f"bundled scenario files: {', '.join(folders)} (`gochaos show NAME` prints one to copy)",
                  highlight=False, markup=False, soft_wrap=True)
    return ExitCode.PASS


def _show(name: str) -> int:
    """`gochaos show NAME`: a bundled scenario file byte for byte, to copy (`gochaos show NAME > mine.chaos.yaml`)."""
    # deferred: a command imports only what it runs (`gochaos --help` imports none of it)
    from chaos.scenario import bundled_scenarios
    from chaos.suggest import did_you_mean

    found = bundled_scenarios()
    if name not in found:
        raise UsageError(f"no bundled scenario {name!r}{did_you_mean(name, found)}; `gochaos list` describes them")
    data = found[name].read_bytes()
    binary = getattr(sys.stdout, "buffer", None)  # bytes as they are: no re-encoding, no newline translation
    if binary is None:
        sys.stdout.write(data.decode("utf-8"))
        return ExitCode.PASS
    sys.stdout.flush()
    binary.write(data)
    binary.flush()
    return ExitCode.PASS


def _explain(kind: str, name: str | None) -> int:
    """`gochaos explain KIND [NAME]`: fields, types and defaults from the models' JSON Schema (chaos.explain)."""
    # deferred: a command imports only what it runs (`gochaos --help` imports none of it)
    from chaos.explain import explain

    sys.stdout.write("\n".join(explain(kind, name)) + "\n")
    return ExitCode.PASS


def _shrink(args: argparse.Namespace, console: Console) -> int:
    """`gochaos shrink RUN_DIR`: ddmin over the failed storm's writes, each candidate a real run."""
    return _shrink_run(args.run_dir, args.trials, args.out, console)


def _shrink_run(run_dir: Path, trials: int, out_file: Path | None, console: Console) -> int:
    """Shrink the failed run in `run_dir`, each candidate judged by `trials` real runs; the shrunk writes as a
    scenario file; with several trials, the shrunk scenario's own detection rate and its 95% interval."""
    # deferred: a command imports only what it runs (`gochaos --help` imports none of it)
    import yaml

    # deferred: a command imports only what it runs (`gochaos --help` imports none of it)
    from chaos.runner import run_scenario
    from chaos.scenario import parse_scenario
    from chaos.shrink import candidate, failed_run, render, shrink

    run = failed_run(run_dir)
    out: Path = out_file or run.scenario_file.with_name(f"{run.scenario['name']}-shrunk.chaos.yaml")
    if out.resolve().parent != run.scenario_file.resolve().parent:
        raise UsageError(f"--out {out}: write it beside {run.scenario_file}, whose paths (config_file, ./binary) "
                         "are relative to its directory")

    def failures(data: dict[str, object], runs: int, *, stop_at_first: bool) -> int:
        """How many of `runs` runs of the candidate fail the way the run did."""
        scenario = parse_scenario(yaml.safe_dump(data, sort_keys=False), str(run.scenario_file))
        failed = 0
        for _ in range(runs):
            try:
                result = run_scenario(scenario, base_dir=run.scenario_file.parent, buggy=run.buggy, seed=run.seed)
            except (ChaosError, OSError) as e:
                if isinstance(e, Interrupted):
                    raise
                console.print(f"  a trial could not run ({e}): counted as not failing", highlight=False,
                              markup=False, soft_wrap=True)
                continue
            if {f.check for f in result.verdict.failures} & run.failing_checks:
                failed += 1
                if stop_at_first:
                    break
        return failed

    def still_fails(data: dict[str, object]) -> bool:
        return failures(data, trials, stop_at_first=True) > 0

    console.print(f"shrinking {len(run.writes)} writes to {run.target} of {run.scenario_file} (failed: "
                  f"{', '.join(sorted(run.failing_checks))}; {trials} run(s) per candidate)", highlight=False,
                  markup=False, soft_wrap=True)
    shrunk = shrink(run, still_fails, progress=lambda line: console.print(f"  {line}", highlight=False,
                                                                           markup=False))
    if not shrunk.kept:
        console.print("it fails with none of the writes: the storm's configs are not what breaks it", highlight=False)
    confidence = ""
    if trials > 1 and shrunk.kept:  # a racy failure: how often the shrunk writes alone fail, and how sure that is
        failed = failures(candidate(run, shrunk.kept), trials, stop_at_first=False)
        found = repeat.detection([(run.seed, Status.FAIL if i < failed else Status.PASS) for i in range(trials)])
        confidence = "; " + repeat.rate_text("the shrunk scenario alone", found)
    out.write_text(render(run, shrunk, run_dir), encoding="utf-8")
    console.print(f"{shrunk.describe()}{confidence}; wrote {out} (gochaos {'reproduce' if run.buggy else 'run'} {out} "
                  f"--seed {run.seed})", highlight=False, markup=False, soft_wrap=True)
    return ExitCode.PASS


def _schema() -> int:
    """`gochaos schema`: the scenario files' JSON Schema (schema/gochaos-scenario.schema.json is this output)."""
    # deferred: a command imports only what it runs (`gochaos --help` imports none of it)
    from chaos.schema import render, scenario_schema

    sys.stdout.write(render(scenario_schema()))
    return ExitCode.PASS


def _history(args: argparse.Namespace, console: Console, err: Console) -> int:
    """`gochaos history`: runs of the report dir as tables (or JSON, or an HTML page of trends)."""
    # deferred: a command imports only what it runs (`gochaos --help` imports none of it)
    import json

    # deferred: a command imports only what it runs (`gochaos --help` imports none of it)
    from chaos.report import history, trends
    from chaos.report.history_table import tables

    folder: Path = args.dir or args.report_dir or run_dirs.DEFAULT_REPORT_DIR
    found = history.load(folder)
    for skipped in found.skipped:
        err.print(f"gochaos: skipped {skipped.path}: {skipped.reason}", highlight=False, markup=False, soft_wrap=True)
    points = history.flag(found.points, window=args.window)
    if not points:
        unread = f" ({len(found.skipped)} unreadable, see above)" if found.skipped else ""
        raise UsageError(f"no runs in {folder}{unread}; runs are kept there by "
                         f"`gochaos run NAME --report-dir {folder}` (or pass the report dir as DIR)")
    if args.scenario:
        known = sorted({p.scenario for p in points})
        points = [p for p in points if p.scenario == args.scenario]
        if not points:
            raise UsageError(f"no runs of scenario {args.scenario!r} in {folder}; it holds {', '.join(known)}")
    if args.last:
        points = history.newest(points, args.last)
    if args.html:
        args.html.write_text(trends.page(history.by_series(points), folder), encoding="utf-8")
    if args.json:
        sys.stdout.write(json.dumps(history.document(folder, points, found.skipped, window=args.window),
                                    indent=2) + "\n")
    else:
        for table in tables(points):
            console.print(table)
        if args.html:
            console.print(f"trends: {args.html}", highlight=False, soft_wrap=True)
    regressed = history.newest_run_regressions(points)
    if regressed and not args.json:
        console.print(f"newest run {regressed[0].run}: " + "; ".join(
            f"{p.series}: {r.text}" for p in regressed for r in p.regressions), highlight=False, soft_wrap=True)
    return ExitCode.FAIL if regressed and args.fail_on_regression else ExitCode.PASS


def _run(args: argparse.Namespace, console: Console, *, buggy: bool) -> int:
    # deferred: a command imports only what it runs (`gochaos --help` imports none of it)
    from chaos.plan import build_plan
    from chaos.report import overall_status
    from chaos.scenario import load_plan, resolve

    if args.shrink and args.no_report:
        raise UsageError("--shrink shrinks a failed run's kept writes, which --no-report does not keep: "
                         "drop --no-report (or pass --report-dir DIR)")
    if args.until_fail and args.repeat == 1:
        raise UsageError("--until-fail stops a series of runs at the first failure: give --repeat N too")
    name, members, suite_jobs = load_plan(resolve(args.scenario))
    args.jobs = args.jobs or suite_jobs
    # every scenario planned before anything starts: the dry run prints exactly these plans
    plans = [build_plan(scenario, base_dir, platform=args.platform, buggy=buggy, seed=args.seed)
             for scenario, base_dir in members]
    if args.dry_run:
        return _dry_run(console, plans)
    report_dir: Path | None = None if args.no_report else args.report_dir
    run_root: Path | None = None
    if report_dir is not None:
        _check_writable(report_dir)
        seeds = {plan.seed for plan in plans}
        run_root = run_dirs.new_run_dir(report_dir, name, seeds.pop() if len(seeds) == 1 else None)
        console.print(f"run directory: {run_root}", highlight=False, soft_wrap=True)
    _reclaim_dead_runs(console)
    results: list[RunResult] = []
    try:
        _run_all(args, console, name, members, plans, results, run_root, buggy=buggy)
    except (ChaosError, KeyboardInterrupt):
        # the unfinished run is in `results` (verdict error or aborted): its reports are written all the same
        if report_dir is not None and run_root is not None and results:
            status = overall_status(r.verdict.status for r in results)
            _, written = _write_reports(console, results, report_dir, run_root, status.exit_code, keep=args.keep)
            console.print(run_dirs.describe(run_root, (p.name for p in written)), highlight=False,
                          markup=False, soft_wrap=True)
        raise
    if args.repeat > 1:
        # deferred: a command imports only what it runs (`gochaos --help` imports none of it)
        from chaos.report.coverage import of_result
        from chaos.report.replay import command_for

        for scenario, _ in members:
            found = repeat.detection([(r.seed, r.verdict.status) for r in results
                                      if r.scenario.name == scenario.name])
            command = command_for(scenario, buggy=buggy, seed=None)
            console.print(repeat.describe(scenario.name, found, command), highlight=False, soft_wrap=True)
            runs = [of_result(r) for r in results if r.scenario.name == scenario.name]
            for line in repeat.coverage_lines(scenario.name, runs):  # the sites explored, over every run
                console.print(line, highlight=False, soft_wrap=True)
    status = overall_status(r.verdict.status for r in results)
    if len(results) > 1:
        # deferred: a command imports only what it runs (`gochaos --help` imports none of it)
        from chaos.report.console import print_replays

        console.print(f"{name}: {len(results)} scenarios, " + ", ".join(
            f"{r.scenario.name} {r.verdict.status.value}" for r in results) + f" -> {status.value.upper()}",
            highlight=False, soft_wrap=True)
        print_replays(console, results)
    code = int(status.exit_code)
    where = "reports: none (--no-report)"
    if report_dir is not None and run_root is not None:
        code, written = _write_reports(console, results, report_dir, run_root, status.exit_code, keep=args.keep)
        where = run_dirs.describe(run_root, (p.name for p in written))
    _deliver(args, console, results, run_root)
    if args.shrink and status is Status.FAIL and run_root is not None:
        try:  # the verdict stands whatever the shrink finds
            _shrink_run(run_root, args.repeat, None, console)
        except UsageError as e:
            console.print(f"--shrink: {e}", highlight=False, markup=False, soft_wrap=True)
    console.print(where, highlight=False, markup=False, soft_wrap=True)  # the last word: where to look
    return code


def _run_all(args: argparse.Namespace, console: Console, name: str, members: list[tuple[Scenario, Path]],
             plans: list[Plan], results: list[RunResult], run_root: Path | None, *, buggy: bool) -> None:
    """Every member of the plan, `--repeat` times, into `results`; a run that cannot finish adds its
    unfinished result (error or aborted) before the error goes on up."""
    # deferred: a command imports only what it runs (`gochaos --help` imports none of it)
    from chaos.plan import build_plan
    from chaos.report.console import ConsoleProgress, print_verdict
    from chaos.runner import run_scenario

    def unfinished(result: RunResult) -> None:
        print_verdict(console, result)
        results.append(result)

    first_plans = plans
    with ExitStack() as stack:
        cluster = _open_cluster(args, console, stack)
        for repetition in range(1, args.repeat + 1):
            if repetition > 1:  # the next seed after the first run's (--seed, the file's, or a drawn one)
                plans = [build_plan(scenario, base_dir, platform=args.platform, buggy=buggy,
                                    seed=first.seed + repetition - 1)
                         for (scenario, base_dir), first in zip(members, first_plans, strict=True)]
            titled = [(plan, _run_title(name, plan, number, len(plans), repetition, args.repeat, buggy))
                      for number, plan in enumerate(plans, start=1)]
            jobs = min(args.jobs or 1, len(titled))
            if jobs > 1:
                _run_side_by_side(console, titled, jobs, results, run_root, cluster, args.repeat, repetition)
                continue
            for plan, title in titled:
                run_dir = _member_run_dir(run_root, plan, args.repeat, repetition)
                with ConsoleProgress(console, title) as progress:
                    result = run_scenario(plan, run_dir=run_dir, progress=progress, cluster=cluster,
                                          on_abort=unfinished)
                print_verdict(console, result)
                results.append(result)
            if args.until_fail and any(r.verdict.status is Status.FAIL for r in results):
                break


def _run_title(name: str, plan: Plan, number: int, members: int, repetition: int, repeat: int, buggy: bool) -> str:
    title = f"{plan.scenario.name}{' (buggy)' if buggy else ''}"
    if members > 1:
        title = f"{name} {number}/{members}: {title}"
    if repeat > 1:
        title = f"run {repetition}/{repeat}: {title}"
    return title


def _member_run_dir(run_root: Path | None, plan: Plan, repeat: int, repetition: int) -> Path | None:
    folder = plan.scenario.name + (f"-{repetition}" if repeat > 1 else "")
    return run_root / "artefacts" / folder if run_root else None


def _run_side_by_side(console: Console, titled: list[tuple[Plan, str]], jobs: int, results: list[RunResult],
                      run_root: Path | None, cluster: ClusterAccess | None, repeat: int, repetition: int) -> None:
    """The members of one repetition, up to `jobs` at once (chaos.jobs); their results into `results` in the
    suite's order, an unfinished member's too, before an error or interrupt goes on up."""
    # deferred: a command imports only what it runs (`gochaos --help` imports none of it)
    from chaos.jobs import CancellableProgress, Cancellation, run_side_by_side
    from chaos.report.console import ConsoleProgress, print_verdict
    from chaos.runner import run_scenario

    ended: dict[int, RunResult] = {}
    printing = threading.Lock()
    console.print(f"running {len(titled)} scenarios, {jobs} at a time", highlight=False)

    def one(item: tuple[int, tuple[Plan, str]], cancellation: Cancellation) -> None:
        index, (plan, title) = item

        def keep(result: RunResult) -> None:
            ended[index] = result
            with printing:
                print_verdict(console, result)

        with ConsoleProgress(console, title, redraw=False) as shown:
            keep(run_scenario(plan, run_dir=_member_run_dir(run_root, plan, repeat, repetition),
                              progress=CancellableProgress(shown, cancellation), cluster=cluster, on_abort=keep))

    try:
        run_side_by_side(list(enumerate(titled)), jobs, one)
    finally:
        results.extend(ended[index] for index in sorted(ended))


def _write_reports(console: Console, results: list[RunResult], report_dir: Path, run_root: Path,
                   code: ExitCode, *, keep: int | None) -> tuple[int, list[Path]]:
    """Reports into the run's directory, `latest` and the fixed paths pointed at it, then retention:
    (the exit code, the reports written)."""
    # deferred: a command imports only what it runs (`gochaos --help` imports none of it)
    from chaos.report.publish import write_files

    written, missing = write_files(results, run_root, lambda line: console.print(
        f"gochaos: {line}", highlight=False, markup=False, style="bold red", soft_wrap=True))
    run_dirs.publish_latest(report_dir, run_root)
    if code == ExitCode.PASS:  # a passing run needs no post-mortem: etcd's WAL files go
        run_dirs.drop_etcd_data(run_root)
    if keep is not None:
        for gone in run_dirs.retire(report_dir, keep):
            console.print(f"removed old run {gone.name} (--keep {keep})", highlight=False, soft_wrap=True)
    if missing and code == ExitCode.PASS:
        return ExitCode.INFRASTRUCTURE, written  # a gate must not pass without the reports CI reads
    return code, written


def _deliver(args: argparse.Namespace, console: Console, results: list[RunResult], run_dir: Path | None) -> None:
    """The step summary, Pushgateway and webhook: a failure there is a warning, never the verdict."""
    # deferred: a command imports only what it runs (`gochaos --help` imports none of it)
    from chaos.report.publish import Destinations, deliver

    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    to = Destinations(pushgateway=args.pushgateway, webhook=args.webhook, webhook_format=args.webhook_format,
                      step_summary=Path(summary) if summary else None)
    deliver(results, to, run_dir=run_dir, warn=lambda line: console.print(
        f"gochaos: warning: {line}", highlight=False, markup=False, style="yellow", soft_wrap=True))


def _dry_run(console: Console, plans: list[Plan]) -> int:
    # deferred: a command imports only what it runs (`gochaos --help` imports none of it)
    from chaos.plan import describe

    for plan in plans:
        for line in describe(plan):
            console.print(line, highlight=False, markup=False, soft_wrap=True)
    return ExitCode.PASS


def _check_writable(folder: Path) -> None:
    """Fail before the run, not after it, when the reports could not be written."""
    try:
        state.prove_writable(folder)
    except OSError as e:
        raise UsageError(f"--report-dir {folder} is not a writable directory ({e.strerror or e}); "
                         "pass a directory you can write to, or --no-report") from e


def _reclaim_dead_runs(console: Console) -> None:
    """Undo what dead runs left behind before starting anything, saying what it was."""
    for line in (r.describe() for r in reclaim_dead_runs()):
        console.print(f"gochaos: cleaned up after a dead run: {line}", highlight=False, markup=False,
                      soft_wrap=True)


def _cleanup(console: Console, err: Console, *, dry_run: bool) -> int:
    """`gochaos cleanup`: one line per ledger entry of a dead run, then the counts: what was still there and
    undone (or would be, with --dry-run), apart from the entries whose process or dir had already gone."""
    found = reclaim_dead_runs(dry_run=dry_run, report=lambda line: console.print(
        line, highlight=False, markup=False, soft_wrap=True))
    gone = [item for item in found if item.gone]
    left = [item for item in found if not item.gone]
    failed = [item for item in left if not item.ok]
    head = ("nothing left behind by dead gochaos runs" if not left else None if failed else
            f"{len(left)} leftover(s) of dead gochaos runs " + ("would be cleaned up (dry run)" if dry_run
                                                                else "cleaned up"))
    tail = None
    if gone:
        ledger = ("the ledger is left as it is (dry run)" if dry_run else
                  "ledger kept for the retry" if failed else "ledger cleared")
        one = len(gone) == 1
        tail = (f"{len(gone)} entr{'y' if one else 'ies'} of dead runs "
                f"{('is' if one else 'are') if dry_run else ('was' if one else 'were')} already gone; {ledger}")
    shown = f"{head}{': ' if not left else '; '}{tail}" if head and tail else head or tail
    if shown:
        console.print(shown, highlight=False, markup=False, soft_wrap=True)
    if failed:
        err.print(f"gochaos: {len(failed)} of {len(left)} leftover(s) could not be cleaned up (see above); "
                  "fix the cause (often: run as root) and run `gochaos cleanup` again",
                  highlight=False, markup=False, soft_wrap=True)
        return ExitCode.INFRASTRUCTURE
    return ExitCode.PASS


if __name__ == "__main__":
    sys.exit(main())

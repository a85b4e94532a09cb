"""Bad input to the real `gochaos` command: the right exit code and ONE line saying what and how to fix.

Each row runs `python -m chaos.cli` in a fresh directory and asserts that stderr is exactly one
line (no traceback, no usage block), that it names the problem and that it carries the fix.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from chaos.errors import ExitCode

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Row:
    argv: list[str]
    code: ExitCode
    what: str
    fix: str
    #: name -> text, written into the test's directory first ("PORT" becomes a port already taken)
    files: dict[str, str] = field(default_factory=dict)
    #: environment changes ({tmp} is the test's directory)
    env: dict[str, str] = field(default_factory=dict)
    #: a program the row needs on PATH to reach its error
    needs: str | None = None
    #: a dry-run row the run (argv without --dry-run) refuses alike, at plan time: same line, nothing started
    plan_time: bool = False


def user_service(command: str, extra: str = "") -> str:
    return f"name: svc-run\ntargets:\n  - name: svc\n    command: {command}\n{extra}load: null\n"


PATH_WITHOUT_GO = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep)
                                  if not (Path(p) / "go").exists())

ROWS: dict[str, Row] = {
    "malformed YAML": Row(
        ["run", "bad.chaos.yaml"], ExitCode.USAGE,
        "bad.chaos.yaml:5: not valid YAML: expected ',' or '}', but got ':' (while parsing a flow mapping that "
        "starts on line 4)", "fix the syntax there",
        files={"bad.chaos.yaml": "name: bad\ntargets:\n  - bundled: configd\n    flags: {a: b\nload: x: y\n"}),
    "invalid scenario (schema)": Row(
        ["run", "bad.chaos.yaml"], ExitCode.USAGE,
        "bad.chaos.yaml:4: windows.baseline_s", "should be greater than or equal to 0",
        files={"bad.chaos.yaml": "name: bad\ntargets:\n  - bundled: configd\nwindows: {baseline_s: -1}\n"}),
    "missing required field": Row(
        ["run", "bad.chaos.yaml"], ExitCode.USAGE,
        "bad.chaos.yaml:1: targets", "required field 'targets' is missing; add it",
        files={"bad.chaos.yaml": "name: bad\n"}),
    "unknown field": Row(
        ["run", "bad.chaos.yaml"], ExitCode.USAGE,
        "bad.chaos.yaml:3: faultz: unknown field 'faultz'", "did you mean 'faults'?",
        files={"bad.chaos.yaml": "name: bad\ntargets: [{bundled: configd}]\nfaultz: []\n"}),
    "unknown injector": Row(
        ["run", "bad.chaos.yaml"], ExitCode.USAGE,
        "faults.0.injector: unknown injector 'reload_strom'", "did you mean 'reload_storm'?",
        files={"bad.chaos.yaml": "name: bad\ntargets: [{bundled: configd}]\n"
                                 "faults:\n  - {injector: reload_strom, target: configd}\n"}),
    "gc_pressure: a field of another method (dry run)": Row(
        ["run", "bad.chaos.yaml", "--dry-run"], ExitCode.USAGE,
        "bad.chaos.yaml:6: faults.0.params: injector gc_pressure params: hog_mb: method agent does not take hog_mb",
        "(it is for method hog); remove it or change method",
        files={"bad.chaos.yaml": "name: bad\ntargets: [{bundled: allocd}]\nfaults:\n  - injector: gc_pressure\n"
                                 "    target: allocd\n"
                                 "    params: {method: agent, churn_mb_per_sec: 50, hog_mb: 64}\n"}),
    "gc_pressure: a method with nothing to apply (dry run)": Row(
        ["run", "bad.chaos.yaml", "--dry-run"], ExitCode.USAGE,
        "bad.chaos.yaml:5: faults.0.params: injector gc_pressure params",
        "method env needs gc_percent (GOGC) and/or memory_limit_mb (GOMEMLIMIT)",
        files={"bad.chaos.yaml": "name: bad\ntargets: [{bundled: allocd}]\nfaults:\n"
                                 "  - {injector: gc_pressure, target: allocd,\n"
                                 "     params: {method: env, duration_s: 2}}\n"}),
    "gc_pressure: unknown method": Row(
        ["run", "bad.chaos.yaml"], ExitCode.USAGE,
        "bad.chaos.yaml:6: faults.0.params: injector gc_pressure params: method: 'hgo' is not a gc_pressure method",
        "did you mean 'hog'?",
        files={"bad.chaos.yaml": "name: bad\ntargets: [{bundled: allocd}]\nfaults:\n  - injector: gc_pressure\n"
                                 "    target: allocd\n    params: {method: hgo}\n"}),
    "unknown oracle": Row(
        ["run", "bad.chaos.yaml"], ExitCode.USAGE,
        "oracles.0: unknown oracle 'panicz'", "did you mean 'panics'?",
        files={"bad.chaos.yaml": "name: bad\ntargets: [{bundled: configd}]\noracles: [panicz]\n"}),
    "unknown bundled scenario": Row(
        ["run", "reload-panik"], ExitCode.USAGE,
        "no bundled scenario 'reload-panik'", "did you mean 'reload-panic'?"),
    "scenario file missing": Row(
        ["run", "nowhere.chaos.yaml"], ExitCode.USAGE,
        "scenario file nowhere.chaos.yaml does not exist", "run `gochaos list`"),
    "target binary does not exist": Row(
        ["run", "svc.chaos.yaml"], ExitCode.INFRASTRUCTURE,
        "program '{tmp}/no-such-service' does not exist", "build it or fix the target's command",
        files={"svc.chaos.yaml": user_service('["./no-such-service", "--listen={listen}"]')}),
    "target exits at once": Row(
        ["run", "svc.chaos.yaml"], ExitCode.INFRASTRUCTURE,
        "target svc did not become ready", "fix its command, flags or config",
        files={"svc.chaos.yaml": user_service(
            '["/bin/sh", "-c", "echo \'flag provided but not defined: -frobnicate\' >&2; exit 2"]')}),
    "target port already in use": Row(
        ["run", "svc.chaos.yaml"], ExitCode.INFRASTRUCTURE,
        "Address already in use", "do not pin a port, pass {listen} or {port}",
        files={"svc.chaos.yaml": user_service(f'["{sys.executable}", "-m", "http.server", "--bind", '
                                              '"127.0.0.1", "PORT"]')}),
    "target config_file missing": Row(
        ["run", "svc.chaos.yaml"], ExitCode.USAGE,
        "config_file {tmp}/missing.yaml: No such file or directory", "relative to the scenario file",
        files={"svc.chaos.yaml": user_service('["/bin/true"]', "    config_file: missing.yaml\n")}),
    "Go toolchain missing (target)": Row(
        ["run", "reload-panic"], ExitCode.INFRASTRUCTURE,
        "the Go toolchain was not found on PATH", "install Go", env={"PATH": PATH_WITHOUT_GO}),
    "Go toolchain missing (etcd)": Row(
        ["run", "etcd-leader-loss"], ExitCode.INFRASTRUCTURE,
        "the Go toolchain was not found on PATH", "install Go", env={"PATH": PATH_WITHOUT_GO}),
    "build cache pointing nowhere": Row(
        ["run", "reload-panic"], ExitCode.INFRASTRUCTURE,
        "the build cache {tmp}/a-file/cache/bin is not a writable directory",
        "point GOCHAOS_CACHE_DIR at a writable directory",
        files={"a-file": ""}, env={"GOCHAOS_CACHE_DIR": "{tmp}/a-file/cache"}),
    "Go targets pointing nowhere": Row(
        ["run", "reload-panic"], ExitCode.INFRASTRUCTURE,
        "Go targets not found at {tmp}/nowhere", "set GOCHAOS_GO_TARGETS to the go_targets directory",
        env={"GOCHAOS_GO_TARGETS": "{tmp}/nowhere"}),
    "report dir not writable": Row(
        ["run", "reload-panic", "--report-dir", "a-file/reports"], ExitCode.USAGE,
        "--report-dir a-file/reports is not a writable directory", "pass a directory you can write to",
        files={"a-file": ""}),
    "state dir not writable": Row(
        ["run", "reload-panic"], ExitCode.INFRASTRUCTURE,
        "cannot record what this run holds", "point GOCHAOS_STATE_DIR at a writable directory",
        files={"a-file": ""}, env={"GOCHAOS_STATE_DIR": "{tmp}/a-file/state"}),
    "seed not a number": Row(
        ["run", "reload-panic"], ExitCode.USAGE,
        "seed 'abc' (from --seed or GOCHAOS_SEED) is not an integer", "pass a whole number",
        env={"GOCHAOS_SEED": "abc"}),
    "unknown platform": Row(
        ["run", "reload-panic", "--platform", "mars"], ExitCode.USAGE,
        "invalid choice: 'mars'", "see `gochaos run --help`"),
    "a config that does not parse in its format": Row(
        ["run", "svc.chaos.yaml", "--dry-run"], ExitCode.USAGE,
        "config svc.json:3:1: not valid JSON", "check the commas, quotes and brackets there",
        files={"svc.json": '{"listen": "{listen}",\n "a": [1, 2,\n}\n',
               "svc.chaos.yaml": user_service("[/bin/true, '--config={config}']",
                                              "    config_file: svc.json\nfaults:\n  - {injector: reload_storm, "
                                              "target: svc}\n")}),
    "a placeholder the platform cannot fill": Row(
        ["run", "svc.chaos.yaml", "--dry-run"], ExitCode.USAGE,
        "svc.chaos.yaml:5: targets.0.config_file: target svc: config svc.yaml:2:8: {port.admin} names a port the "
        "target does not declare", "declare it",
        files={"svc.yaml": "listen: '{listen}'\nadmin: {port.admin}\n",
               "svc.chaos.yaml": user_service("[/bin/true, '--config={config}']",
                                              "    config_file: svc.yaml\nfaults:\n  - {injector: reload_storm, "
                                              "target: svc}\n")}, plan_time=True),
    # everything below the run would refuse without starting a process: refused when the file loads or the run
    # is planned, so the dry run and the run stop alike (test_the_run_refuses_at_plan_time_what_the_dry_run_does)
    "a fault at_s of .inf (dry run)": Row(
        ["run", "bad.chaos.yaml", "--dry-run"], ExitCode.USAGE,
        "bad.chaos.yaml:4: faults.0.at_s: must be a finite number, not inf",
        "give a plain number (YAML's .inf and .nan are not offsets, durations or rates)",
        files={"bad.chaos.yaml": "name: bad\ntargets: [{bundled: configd}]\nfaults:\n"
                                 "  - {injector: reload_storm, target: configd, at_s: .inf}\n"}, plan_time=True),
    "a window of .nan (dry run)": Row(
        ["run", "bad.chaos.yaml", "--dry-run"], ExitCode.USAGE,
        "bad.chaos.yaml:3: windows.observe_s: must be a finite number, not nan", "give a plain number",
        files={"bad.chaos.yaml": "name: bad\ntargets: [{bundled: configd}]\nwindows: {observe_s: .nan}\n"},
        plan_time=True),
    "a storm lasting 69 days (dry run)": Row(
        ["run", "bad.chaos.yaml", "--dry-run"], ExitCode.USAGE,
        "bad.chaos.yaml:4: faults.0: the fault phase would last 69.4 days (reload_storm lasts up to 69.4 days: "
        "rounds 10000 x interval_ms 600000); at most 24 h",
        "lower those figures, or split the chaos into several scenarios",
        files={"bad.chaos.yaml": "name: bad\ntargets: [{bundled: configd}]\nfaults:\n  - injector: reload_storm\n"
                                 "    target: configd\n    params: {rounds: 10000, interval_ms: 600000}\n"},
        plan_time=True),
    "a repeated fault beyond 24 h (dry run)": Row(
        ["run", "bad.chaos.yaml", "--dry-run"], ExitCode.USAGE,
        "bad.chaos.yaml:4: faults.0: the fault phase would last 27 h 45 min 15.6 s (its last repetition starts up to "
        "27 h 45 min 10 s in: at_s 10 + (repeat 1000 - 1) x every_s 100; reload_storm lasts up to 5.6 s: rounds 5 x "
        "interval_ms 500); at most 24 h", "lower those figures",
        files={"bad.chaos.yaml": "name: bad\ntargets: [{bundled: configd}]\nfaults:\n  - {injector: reload_storm, "
                                 "target: configd, at_s: 10, repeat: 1000, every_s: 100}\n"}, plan_time=True),
    "reload: sighup with no config_file under a storm (dry run)": Row(
        ["run", "svc.chaos.yaml", "--dry-run"], ExitCode.USAGE,
        "svc.chaos.yaml:7: faults.0: reload_storm on svc: no config to reload: svc has no `config_file`, so its "
        "`reload: sighup` has nothing to trigger",
        "give target svc a `config_file` (its initial config, relative to the scenario file, passed to it as "
        "{config}); a trigger-only storm (pattern: unchanged, trigger_only: true) needs one too",
        files={"svc.chaos.yaml": user_service("[/bin/true, '--listen={listen}']",
                                              "    reload: sighup\nfaults:\n  - {injector: reload_storm, "
                                              "target: svc, params: {pattern: unchanged, trigger_only: true}}\n")},
        plan_time=True),
    "a storm on a bundled target that reads no config (dry run)": Row(
        ["run", "bad.chaos.yaml", "--dry-run"], ExitCode.USAGE,
        "bad.chaos.yaml:4: faults.0: reload_storm on kvd: no config to reload: kvd is the bundled kvd, which reads no "
        "config file", "storm configd, or a service of your own with a `config_file`",
        files={"bad.chaos.yaml": "name: bad\ntargets: [{bundled: kvd}]\nfaults:\n"
                                 "  - {injector: reload_storm, target: kvd}\n"}, plan_time=True),
    "a key given twice (dry run)": Row(
        ["run", "bad.chaos.yaml", "--dry-run"], ExitCode.USAGE,
        "bad.chaos.yaml:5: faults: duplicate key `faults` at line 5 (first at line 3)",
        "YAML would keep only the second and silently drop the first: merge them into one, or remove the one you "
        "do not mean",
        files={"bad.chaos.yaml": "name: bad\ntargets: [{bundled: configd}]\nfaults: []\nload: null\nfaults:\n"
                                 "  - {injector: reload_storm, target: configd}\n"}, plan_time=True),
    "a flag given twice (dry run)": Row(
        ["run", "bad.chaos.yaml", "--dry-run"], ExitCode.USAGE,
        "bad.chaos.yaml:6: targets.0.flags.reload_strategy: duplicate key `reload_strategy` at line 6 (first at "
        "line 5)", "merge them into one",
        files={"bad.chaos.yaml": "name: bad\ntargets:\n  - bundled: configd\n    flags:\n"
                                 "      reload_strategy: atomic\n      reload_strategy: unsafe\n"}, plan_time=True),
    "a suite naming its scenarios twice (dry run)": Row(
        ["run", "suite.chaos.yaml", "--dry-run"], ExitCode.USAGE,
        "suite.chaos.yaml:3: scenarios: duplicate key `scenarios` at line 3 (first at line 2)", "merge them into one",
        files={"suite.chaos.yaml": "name: mine\nscenarios: [reload-panic]\nscenarios: [gc-pressure]\n"},
        plan_time=True),
    "a placeholder typo in a command (dry run)": Row(
        ["run", "svc.chaos.yaml", "--dry-run"], ExitCode.USAGE,
        "svc.chaos.yaml:4: targets.0.command.1: unknown placeholder {lisen} in '--listen={lisen}'; did you mean "
        "{listen}?", "write {{ and }} for literal braces",
        files={"svc.chaos.yaml": user_service("[/bin/true, '--listen={lisen}']")}, plan_time=True),
    "a placeholder typo in a config file (dry run)": Row(
        ["run", "svc.chaos.yaml", "--dry-run"], ExitCode.USAGE,
        "svc.chaos.yaml:5: targets.0.config_file: target svc: config svc.yaml:1:10: unknown placeholder {lisen}; "
        "did you mean {listen}?", "(valid: {binary} {listen}",
        files={"svc.yaml": "listen: '{lisen}'\nlog: '{method} {path}'\n",
               "svc.chaos.yaml": user_service("[/bin/true, '--config={config}']", "    config_file: svc.yaml\n")},
        plan_time=True),
    "a variant whose file is missing": Row(
        ["run", "svc.chaos.yaml", "--dry-run"], ExitCode.USAGE,
        "svc.chaos.yaml:9: faults.0.params: variant broken: file", "the path is relative to the scenario file",
        files={"svc.yaml": "listen: '{listen}'\nlimit: 3\n",
               "svc.chaos.yaml": user_service("[/bin/true, '--config={config}']",
                                              "    config_file: svc.yaml\nfaults:\n  - injector: reload_storm\n"
                                              "    target: svc\n    params:\n      variants: [{name: broken, "
                                              "file: nowhere.yaml, expect: reject}]\n")}),
    "a merge patch on a config the suite does not parse": Row(
        ["run", "svc.chaos.yaml", "--dry-run"], ExitCode.USAGE,
        "variant more: a merge patch needs a config in yaml, json or toml", "give the variant as a whole `file`",
        files={"Corefile": ".:{port} {\n  whoami\n}\n",
               "svc.chaos.yaml": user_service("[/bin/true, '-conf', '{config}']",
                                              "    config_file: Corefile\n    format: text\nfaults:\n"
                                              "  - injector: reload_storm\n    target: svc\n    params:\n"
                                              "      pattern: variants\n      variants: [{name: more, "
                                              "patch: {a: 1}}]\n")}),
    # checked when the scenario loads, so the dry run (which builds and starts nothing) refuses them
    "load.options: a misspelt option (dry run)": Row(
        ["run", "bad.chaos.yaml", "--dry-run"], ExitCode.USAGE,
        "bad.chaos.yaml:5: load.options.configd.route_wieght: unknown option 'route_wieght'",
        "did you mean 'route_weight'?",
        files={"bad.chaos.yaml": "name: bad\ntargets: [{bundled: configd}]\nload:\n  options:\n"
                                 "    configd: {route_wieght: 2}\n"}),
    "bundled target: a misspelt flag (dry run)": Row(
        ["run", "bad.chaos.yaml", "--dry-run"], ExitCode.USAGE,
        "bad.chaos.yaml:4: targets.0.flags.reload_stratgy: configd has no flag 'reload_stratgy'",
        "did you mean 'reload_strategy'?",
        files={"bad.chaos.yaml": "name: bad\ntargets:\n  - bundled: configd\n    flags: {reload_stratgy: unsafe}\n"}),
    "bundled target: a flag value its Go code refuses (dry run)": Row(
        ["run", "bad.chaos.yaml", "--dry-run"], ExitCode.USAGE,
        "bad.chaos.yaml:4: targets.0.flags.ctx_mode: kvd --ctx-mode: 'leakey' is not a value it takes",
        "did you mean 'leaky'? (valid: isolated, leaky)",
        files={"bad.chaos.yaml": "name: bad\ntargets:\n  - bundled: kvd\n    flags: {ctx_mode: leakey}\n"}),
    "injector: an unknown param (dry run)": Row(
        ["run", "bad.chaos.yaml", "--dry-run"], ExitCode.USAGE,
        "bad.chaos.yaml:4: faults.0.params: injector reload_storm params: roundz", "did you mean 'rounds'?",
        files={"bad.chaos.yaml": "name: bad\ntargets: [{bundled: configd}]\nfaults:\n"
                                 "  - {injector: reload_storm, target: configd, params: {roundz: 3}}\n"}),
    "injector: a param out of bounds (dry run)": Row(
        ["run", "bad.chaos.yaml", "--dry-run"], ExitCode.USAGE,
        "bad.chaos.yaml:5: faults.0.params: injector gc_pressure params: hog_mb: Input should be less than",
        "or equal to 16384",
        files={"bad.chaos.yaml": "name: bad\ntargets: [{bundled: allocd}]\nfaults:\n"
                                 "  - {injector: gc_pressure, target: allocd,\n"
                                 "     params: {method: hog, hog_mb: 20000}}\n"}),
    "oracle: an unknown param (dry run)": Row(
        ["run", "bad.chaos.yaml", "--dry-run"], ExitCode.USAGE,
        "bad.chaos.yaml:4: oracles.0: oracle consistency params: max_lag: unknown parameter 'max_lag'",
        "did you mean 'max_lag_ms'?",
        files={"bad.chaos.yaml": "name: bad\ntargets: [{bundled: kvd}]\noracles:\n  - consistency: {max_lag: 300}\n"}),
    "--keep not a count": Row(
        ["run", "reload-panic", "--dry-run", "--keep", "0"], ExitCode.USAGE,
        "keep '0' (from --keep or GOCHAOS_KEEP) is not a whole number of runs >= 1", "pass e.g. --keep 20"),
    "--repeat not a count": Row(
        ["run", "reload-panic", "--dry-run", "--repeat", "often"], ExitCode.USAGE,
        "repeat 'often' is not a whole number of runs from 1 to 10000", "see `gochaos run --help`"),
    "--until-fail without --repeat": Row(
        ["run", "reload-panic", "--dry-run", "--until-fail"], ExitCode.USAGE,
        "--until-fail stops a series of runs at the first failure", "give --repeat N too"),
    "scenario path is a directory": Row(
        ["run", "folder.chaos.yaml", "--dry-run"], ExitCode.USAGE,
        "scenario folder.chaos.yaml is a directory", "give a .chaos.yaml file in it",
        files={"folder.chaos.yaml/.keep": ""}),
    "scenario file empty": Row(
        ["run", "empty.chaos.yaml", "--dry-run"], ExitCode.USAGE,
        "empty.chaos.yaml: the file is empty", "a YAML mapping with at least `name` and `targets`",
        files={"empty.chaos.yaml": ""}),
    "scenario file holds a list": Row(
        ["run", "list.chaos.yaml", "--dry-run"], ExitCode.USAGE,
        "list.chaos.yaml: the file holds a YAML list", "a YAML mapping with at least `name` and `targets`",
        files={"list.chaos.yaml": "- name: a\n- name: b\n"}),
    "seed in the file not a whole number": Row(
        ["run", "bad.chaos.yaml", "--dry-run"], ExitCode.USAGE,
        "bad.chaos.yaml:3: seed: Input should be a valid integer", "unable to parse string as an integer",
        files={"bad.chaos.yaml": "name: bad\ntargets: [{bundled: configd}]\nseed: twelve\n"}),
    "two targets with one name": Row(
        ["run", "bad.chaos.yaml", "--dry-run"], ExitCode.USAGE,
        "target name 'configd' is used twice", "give each target its own `name`",
        files={"bad.chaos.yaml": "name: bad\ntargets: [{bundled: configd}, {bundled: configd}]\n"}),
    # the team's own etcd (etcd.external): refused before any fault; tests/integration/test_external_etcd.py
    # holds the rows that need a real etcd serving TLS (a refused client certificate, a wrong CA)
    "etcd.external beside members of a started cluster": Row(
        ["run", "bad.chaos.yaml", "--dry-run"], ExitCode.USAGE,
        "bad.chaos.yaml:3: etcd: `external` is an etcd the team runs, so members", "remove it",
        files={"bad.chaos.yaml": "name: bad\ntargets: [{bundled: kvd}]\netcd: {members: 3, external: "
                                 "{endpoints: ['http://127.0.0.1:1']}}\n"}),
    "etcd.external: a TLS file missing (dry run)": Row(
        ["run", "bad.chaos.yaml", "--dry-run"], ExitCode.USAGE,
        "bad.chaos.yaml:6: etcd.external.tls.ca_file: {tmp}/certs/ca.crt does not exist",
        "relative to the scenario file",
        files={"bad.chaos.yaml": "name: bad\ntargets: [{bundled: kvd}]\netcd:\n  external:\n    endpoints: "
                                 "['https://127.0.0.1:1']\n    tls: {ca_file: certs/ca.crt}\n"}),
    "etcd.external: TLS from a Secret on the local platform (dry run)": Row(
        ["run", "bad.chaos.yaml", "--dry-run"], ExitCode.USAGE,
        "etcd.external.tls reads Secret db/etcd-client", "needs --platform kubernetes",
        files={"bad.chaos.yaml": "name: bad\ntargets: [{bundled: kvd}]\netcd: {external: {endpoints: "
                                 "['https://127.0.0.1:1'], tls: {secret: {namespace: db, name: etcd-client}}}}\n"}),
    "etcd.external: an endpoint that does not answer": Row(
        ["run", "bad.chaos.yaml"], ExitCode.USAGE,
        "etcd endpoint http://127.0.0.1:1 does not answer (Connection refused)",
        "check the address and port, and that etcd listens there",
        files={"bad.chaos.yaml": "name: bad\ntargets: [{bundled: kvd}]\netcd: {external: {endpoints: "
                                 "['http://127.0.0.1:1']}}\n"
                                 "faults: [{injector: leader_loss, params: {mode: move}}]\n"}),
    "a fault naming a target the scenario lacks": Row(
        ["run", "bad.chaos.yaml", "--dry-run"], ExitCode.USAGE,
        "bad.chaos.yaml:4: faults.0.target: 'confd' is not a target of this scenario", "did you mean 'configd'?",
        files={"bad.chaos.yaml": "name: bad\ntargets: [{bundled: configd}]\nfaults:\n"
                                 "  - {injector: reload_storm, target: confd}\n"}),
    "scenario file not UTF-8": Row(
        ["run", "latin1.chaos.yaml", "--dry-run"], ExitCode.USAGE,
        "latin1.chaos.yaml:2: not UTF-8 text (byte 0xe9)", "save the file as UTF-8",
        files={"latin1.chaos.yaml": "name: bad\ndescription: caf\udce9\n"}),
    "explain: an injector that does not exist": Row(
        ["explain", "injectors", "reload_strom"], ExitCode.USAGE,
        "unknown injector 'reload_strom'", "did you mean 'reload_storm'?"),
    # --platform kubernetes creates a kind cluster: first Docker must be there and answer (more rows,
    # e.g. kind missing behind a working Docker engine, belong with the Kubernetes platform's tests)
    "kubernetes: Docker CLI missing": Row(
        ["run", "reload-panic", "--platform", "kubernetes"], ExitCode.INFRASTRUCTURE,
        "docker not found", "install the Docker CLI", env={"GOCHAOS_DOCKER": "{tmp}/no-docker"}),
    "kubernetes: no Docker engine": Row(
        ["run", "reload-panic", "--platform", "kubernetes"], ExitCode.INFRASTRUCTURE,
        "no Docker engine answers at unix://{tmp}/no-docker.sock", "start dockerd or point DOCKER_HOST at one",
        env={"DOCKER_HOST": "unix://{tmp}/no-docker.sock"}, needs="docker"),
    # `true` stands in for a Docker CLI whose engine answers: the row is about what comes after it
    "kubernetes: kind missing": Row(
        ["run", "reload-panic", "--platform", "kubernetes"], ExitCode.INFRASTRUCTURE,
        "kind not found", "go install sigs.k8s.io/kind@v0.30.0",
        env={"GOCHAOS_DOCKER": "/bin/true", "GOCHAOS_KIND": "{tmp}/no-kind"}),
    "kubernetes: a context that is not a local kind cluster": Row(
        ["run", "reload-panic", "--platform", "kubernetes", "--kubeconfig", "staging.kubeconfig"], ExitCode.USAGE,
        "context 'staging' (server https://10.0.0.1:6443) is not a local kind cluster",
        "only when named with --allow-context staging",
        files={"staging.kubeconfig": "apiVersion: v1\nkind: Config\ncurrent-context: staging\n"
                                     "contexts: [{name: staging, context: {cluster: c1, user: u1}}]\n"
                                     "clusters: [{name: c1, cluster: {server: 'https://10.0.0.1:6443'}}]\n"
                                     "users: [{name: u1, user: {}}]\n"}),
}


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback port something already listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def run_row(row: Row, tmp_path: Path, port: int) -> tuple[subprocess.CompletedProcess[str], Callable[[str], str]]:
    def fill(text: str) -> str:
        return text.replace("{tmp}", str(tmp_path)).replace('"PORT"', f'"{port}"')

    for name, text in row.files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(fill(text), errors="surrogateescape")  # a lone \udcXX: that raw byte
    env = {**os.environ, "TMPDIR": str(tmp_path), "GOCHAOS_STATE_DIR": str(tmp_path / "state"),
           "PYTHONPATH": str(REPO)}
    env.update({key: fill(value) for key, value in row.env.items()})
    result = subprocess.run([sys.executable, "-m", "chaos.cli", *row.argv], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    return result, fill


@pytest.mark.parametrize("case", list(ROWS))
def test_bad_input_gets_one_clear_line_and_its_exit_code(case: str, tmp_path: Path, taken_port: int) -> None:
    row = ROWS[case]
    if row.needs is not None and shutil.which(row.needs) is None:
        pytest.skip(f"{row.needs} is not installed")
    result, fill = run_row(row, tmp_path, taken_port)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    print(f"{case} -> {result.returncode}: {result.stderr.strip()}")
    assert result.returncode == row.code, result.stdout + result.stderr
    assert len(lines) == 1, f"expected one line on stderr, got:\n{result.stderr}"
    assert "Traceback" not in result.stdout + result.stderr
    assert fill(row.what) in lines[0] and row.fix in lines[0], lines[0]
    assert list(tmp_path.glob("gochaos-run-*")) == [], "a failed run left its run dir behind"


@pytest.mark.parametrize("case", [case for case, row in ROWS.items() if row.plan_time])
def test_the_run_refuses_at_plan_time_what_the_dry_run_does(case: str, tmp_path: Path, taken_port: int) -> None:
    """`gochaos run FILE` stops with the dry run's very line and exit code, before anything starts (the state
    dir, made before the first process, is never made)."""
    row = ROWS[case]
    assert "--dry-run" in row.argv
    dry, fill = run_row(row, tmp_path, taken_port)
    run, _ = run_row(Row([arg for arg in row.argv if arg != "--dry-run"], row.code, row.what, row.fix,
                         row.files, row.env), tmp_path, taken_port)
    print(f"{case}: {run.stderr.strip()}")
    assert (dry.returncode, run.returncode) == (ExitCode.USAGE, ExitCode.USAGE), run.stdout + run.stderr
    assert run.stderr == dry.stderr and run.stdout == dry.stdout == ""
    assert run.stderr.startswith(f"gochaos: ScenarioError: {fill(row.what)}"), run.stderr
    assert row.fix in run.stderr
    assert not (tmp_path / "state").exists(), "the run got past its plan"

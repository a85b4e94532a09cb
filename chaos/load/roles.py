"""What each load process does once Locust is loaded: run users locally, be a master, or a worker.

Imported only by `chaos.load.child`, after gevent has monkey-patched the process.

Distributed mode keeps Locust's own protocol and adds four custom messages on top of it:

    worker -> master  gochaos_hello    "my handlers are registered; send the options"
    master -> worker  gochaos_options  the run's UserOptions (mix, pacing, version header)
    worker -> master  gochaos_records  a batch of request results (every FLUSH_INTERVAL_S)
    master -> worker  gochaos_stop     stop users, ship the last records and a final stats report
    worker -> master  gochaos_done     {"records": how many results this worker sent in total}

The master forwards every worker's records to the parent over its one pipe. Messages from one
worker arrive in order, so once a worker's `gochaos_done` is in, its records and its last stats
report are too: the master's totals are final when every worker has said done.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
from typing import Any

import gevent
import gevent.event
import locust
from locust.env import Environment
from locust.rpc.protocol import Message

from chaos.errors import LoadError
from chaos.load.recorder import PipeWriter, Recorder
from chaos.load.spec import UserOptions
from chaos.load.stream import totals_message
from chaos.load.users import configure_builtin, resolve_user_classes

log = logging.getLogger("chaos.load")

#: Max time a master waits for every worker to confirm, as a share of the stop grace.
_DONE_WAIT_SHARE = 0.5


def _environment(args: argparse.Namespace, options: UserOptions | None) -> Environment:
    user_classes = resolve_user_classes(args.user)
    if options is not None:
        configure_builtin(options)
    return Environment(user_classes=user_classes, host=args.host, events=locust.events,
                       catch_exceptions=True)


def _events(env: Environment) -> Any:
    """Locust's event hooks (their methods are untyped; this keeps the strict checks elsewhere)."""
    return env.events


def _stop_event() -> gevent.event.Event:
    stop = gevent.event.Event()
    gevent.signal_handler(signal.SIGTERM, stop.set)
    return stop


def _totals(env: Environment, *, records_sent: int, workers: int, complete: bool
            ) -> dict[str, Any]:
    stats = env.stats
    entries = sorted(
        (str(e.method), str(e.name), int(e.num_requests), int(e.num_failures))
        for e in stats.entries.values()
    )
    return totals_message(
        num_requests=int(stats.total.num_requests), num_failures=int(stats.total.num_failures),
        entries=entries, records_sent=records_sent, workers=workers, complete=complete,
    )


def run_local(args: argparse.Namespace, out: PipeWriter) -> int:
    """All users in this process; stop after the duration or on SIGTERM."""
    options = UserOptions.model_validate_json(args.options_json)
    env = _environment(args, options)
    recorder = Recorder(options.version_header)
    _events(env).request.add_listener(recorder.on_request)
    runner = env.create_local_runner()
    _events(env).init.fire(environment=env, runner=runner, web_ui=None)
    stop = _stop_event()
    recorder.start(out.records)
    out.send({"t": "ready", "role": "local", "pid": os.getpid()})
    runner.start(args.users, args.spawn_rate)
    stop.wait(timeout=args.duration_s)
    runner.stop()
    recorder.stop()
    out.send(_totals(env, records_sent=recorder.sent, workers=0, complete=True))
    runner.quit()
    return 0


def run_master(args: argparse.Namespace, out: PipeWriter) -> int:
    """Wait for the workers, run them for the duration, collect their last results and totals."""
    options = UserOptions.model_validate_json(args.options_json)
    env = _environment(args, options)
    runner = env.create_master_runner(master_bind_host=args.bind_host,
                                      master_bind_port=args.master_port)
    _events(env).init.fire(environment=env, runner=runner, web_ui=None)
    recorder = Recorder(options.version_header)
    ready: set[str] = set()
    done: dict[str, int] = {}

    def on_hello(environment: Environment, msg: Message) -> None:
        ready.add(msg.node_id)
        runner.send_message("gochaos_options", {"options": args.options_json},
                            client_id=msg.node_id)

    def on_records(environment: Environment, msg: Message) -> None:
        recorder.extend(msg.data["r"])

    def on_done(environment: Environment, msg: Message) -> None:
        done[msg.node_id] = int(msg.data["records"])

    runner.register_message("gochaos_hello", on_hello)
    runner.register_message("gochaos_records", on_records)
    runner.register_message("gochaos_done", on_done)
    stop = _stop_event()
    recorder.start(out.records)
    out.send({"t": "ready", "role": "master", "pid": os.getpid()})

    with gevent.Timeout(args.start_timeout_s, False):
        while len(ready) < args.expect_workers and not stop.is_set():
            gevent.sleep(0.05)
    if len(ready) < args.expect_workers:
        raise LoadError(
            f"only {len(ready)} of {args.expect_workers} workers joined the master on "
            f"{args.bind_host}:{args.master_port} within {args.start_timeout_s:g}s; check the "
            "workers' logs, and that remote workers can reach that address"
        )
    spawner = gevent.spawn(runner.start, args.users, args.spawn_rate)
    stop.wait(timeout=args.duration_s)
    spawner.kill(block=True)

    workers = set(ready)
    for client_id in workers:
        runner.send_message("gochaos_stop", None, client_id=client_id)
    with gevent.Timeout(args.stop_grace_s * _DONE_WAIT_SHARE, False):
        while not workers <= done.keys():
            gevent.sleep(0.01)
        # Each worker's final stats report travelled ahead of its done message; wait until
        # Locust's aggregation has absorbed them all.
        while env.stats.total.num_requests < sum(done.values()):
            gevent.sleep(0.01)
    recorder.stop()
    complete = workers <= done.keys() and env.stats.total.num_requests == sum(done.values())
    out.send(_totals(env, records_sent=sum(done.values()), workers=len(workers),
                     complete=complete))
    runner.quit()
    return 0


def run_worker(args: argparse.Namespace) -> int:
    """Run the users the master assigns; ship results to the master; exit when it says quit."""
    env = _environment(args, None)
    recorder = Recorder(None)
    _events(env).request.add_listener(recorder.on_request)
    runner = env.create_worker_runner(master_host=args.master_host, master_port=args.master_port)
    _events(env).init.fire(environment=env, runner=runner, web_ui=None)

    def on_options(environment: Environment, msg: Message) -> None:
        options = UserOptions.model_validate_json(msg.data["options"])
        configure_builtin(options)
        recorder.version_header = options.version_header

    def on_stop(environment: Environment, msg: Message) -> None:
        runner.stop()
        recorder.stop()
        report: dict[str, Any] = {}
        _events(environment).report_to_master.fire(client_id=runner.client_id, data=report)
        runner.send_message("stats", report)
        runner.send_message("gochaos_done", {"records": recorder.sent})

    runner.register_message("gochaos_options", on_options)
    runner.register_message("gochaos_stop", on_stop)
    recorder.start(lambda batch: runner.send_message("gochaos_records", {"r": batch}))
    runner.send_message("gochaos_hello", None)
    runner.greenlet.join()
    return 0

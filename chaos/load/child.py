"""Entry point of a load process: ``python -m chaos.load.child --role local|master|worker ...``.

The parent (`chaos.load.run.LoadRun`) starts it; a worker on another machine can be started by
hand (see the README). Before anything else it makes sure it cannot outlive its bounds:

- with ``--parent-pid``, it asks the kernel for SIGKILL when the parent dies (PR_SET_PDEATHSIG),
  then checks the parent is still the one that started it (closing the race with a parent that
  died before the prctl);
- ``--time-limit-s`` arms a real-time interval timer whose SIGALRM (default action: terminate)
  ends the process even if the gevent loop is stuck.

Only then does it import Locust, which monkey-patches this process with gevent (and grpcio, when
installed, through `grpc.experimental.gevent.init_gevent()`).
Exit codes: 0 done, 2 the user reference or options are unusable, 3 anything else.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import signal
import sys
import traceback
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the real import waits until gevent has patched the process
    from chaos.load.recorder import PipeWriter

PR_SET_PDEATHSIG = 1
#: How much lower the load's CPU priority is than the services it loads. Here the load shares the
#: machine's cores with its targets (a real load generator runs elsewhere): when both want a core, the
#: service under test goes first, so its latency is its own and not the load generator's appetite,
#: also beside a gate's other member under --jobs.
LOAD_NICENESS = 5


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m chaos.load.child",
                                description="A gochaos Locust process (local, master or worker).")
    p.add_argument("--role", choices=("local", "master", "worker"), required=True)
    p.add_argument("--user", required=True,
                   help="built-in user (http, configd, kvd, allocd, dns, grpc), path/to/locustfile.py[:Class], "
                        "or module:Class; workers must name the same classes as the master")
    p.add_argument("--host", help="target base URL (local, master)")
    p.add_argument("--users", type=int, default=1)
    p.add_argument("--spawn-rate", type=float, default=1.0)
    p.add_argument("--duration-s", type=float, default=10.0)
    p.add_argument("--options-json", default="{}", help="UserOptions as JSON (local, master)")
    p.add_argument("--stream-fd", type=int, help="pipe to the parent (local, master)")
    p.add_argument("--bind-host", default="127.0.0.1", help="master: address to listen on")
    p.add_argument("--master-host", default="127.0.0.1", help="worker: the master's address")
    p.add_argument("--master-port", type=int, default=5557)
    p.add_argument("--expect-workers", type=int, default=1, help="master: workers to wait for")
    p.add_argument("--start-timeout-s", type=float, default=20.0)
    p.add_argument("--stop-grace-s", type=float, default=5.0)
    p.add_argument("--time-limit-s", type=float, default=3600.0,
                   help="hard bound on this process's life (SIGALRM)")
    p.add_argument("--parent-pid", type=int, help="die with this process (PR_SET_PDEATHSIG)")
    return p


def _die_with_parent(parent_pid: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"prctl(PR_SET_PDEATHSIG): {os.strerror(errno)}")
    if os.getppid() != parent_pid:
        os._exit(3)  # the parent is already gone


def _arm_deadline(seconds: float) -> None:
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    signal.setitimer(signal.ITIMER_REAL, seconds)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.parent_pid is not None:
        _die_with_parent(args.parent_pid)
    _arm_deadline(args.time_limit_s)
    os.nice(LOAD_NICENESS)

    # deferred: gevent patches the whole process: only the load child imports it, first of all
    from gevent import monkey

    monkey.patch_all()
    # grpcio does its I/O in C: make it yield to gevent before any channel exists (the built-in
    # grpc user's, or one a user's own locustfile opens). grpcio is an extra (gochaos[grpc]): without
    # it no channel can exist here, and the plan refused the grpc user already.
    try:
        # deferred: grpcio (gochaos[grpc]) is optional and slow to import
        import grpc.experimental.gevent
    except ModuleNotFoundError as e:
        if e.name != "grpc":
            raise
    else:
        grpc.experimental.gevent.init_gevent()

    # after gevent's patching, so these see the patched modules
    import logging

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format=f"%(asctime)s {args.role}[%(process)d] %(levelname)s "
                               "%(name)s: %(message)s")

    # after gevent's patching, so these see the patched modules
    from chaos.errors import LoadError
    from chaos.load import roles
    from chaos.load.recorder import PipeWriter

    out = PipeWriter(args.stream_fd) if args.stream_fd is not None else None
    code = 3
    try:
        if args.role == "worker":
            code = roles.run_worker(args)
        else:
            if out is None or not args.host:
                raise LoadError(f"--role {args.role} needs --stream-fd and --host")
            run = roles.run_local if args.role == "local" else roles.run_master
            code = run(args, out)
    except LoadError as e:
        code = 2
        _report_error(out, str(e))
    except Exception as e:
        traceback.print_exc()
        _report_error(out, f"{args.role} load process failed: {type(e).__name__}: {e}")
    if out is not None:
        out.send({"t": "done"})
        out.close()
    return code


def _report_error(out: PipeWriter | None, message: str) -> None:
    print(f"gochaos load: {message}", file=sys.stderr, flush=True)
    if out is not None:
        out.send({"t": "error", "message": message})


if __name__ == "__main__":
    exit_code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(exit_code)  # skip interpreter teardown: zmq and gevent hub shutdown can hang

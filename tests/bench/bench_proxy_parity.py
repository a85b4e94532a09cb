"""What a userspace proxy with no fault costs here: chaosproxy against Toxiproxy, on the same upstreams, in one run.

    .venv/bin/python tests/bench/bench_proxy_parity.py [--pairs 2000] [--toxiproxy v2.5.0] [--out FILE]

The issue's overhead target ("p50 <= 100 us added per request, Toxiproxy parity") was set from
Toxiproxy's own figures; on this machine (2 shared cores, a Python client, the upstream another
process) part of any proxy's cost is waking a third process on each round trip. So both proxies are
measured side by side: Toxiproxy's server built from the Go module proxy (`go install
github.com/Shopify/toxiproxy/v2/cmd/server@VERSION` into a temporary GOBIN; nothing of it is kept),
chaosproxy as the suite builds and starts it. Each round is direct, chaosproxy, Toxiproxy in a rotating
order, so all three see the same moment of a noisy machine. Upstreams: the TCP echo child process of
bench_network.py (64 B kept-open) and the bundled configd (HTTP GET keep-alive). Writes
tests/bench/results/proxy_parity.json: per upstream, p50/p99 of each and what each proxy adds.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import requests

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_network import (  # noqa: E402
    CONFIGD_CONFIG,
    LOOP_LIMIT_S,
    Addr,
    addr_of,
    echo_round_trip,
    echo_server,
    http_get,
    tcp_connect,
)
from machine import command_line, machine_info, quantile, write_report  # noqa: E402

from chaos.build import build  # noqa: E402
from chaos.network.proxy import ChaosProxy  # noqa: E402
from chaos.platform.local.platform import LocalPlatform  # noqa: E402
from chaos.ports import free_port  # noqa: E402
from chaos.targets import ConfigSpec, bundled  # noqa: E402
from chaos.timeline import Timeline  # noqa: E402

RESULTS = HERE / "results"
TOXIPROXY = "github.com/Shopify/toxiproxy/v2/cmd/server"


def build_toxiproxy(version: str, folder: Path) -> Path:
    """Toxiproxy's server, built from the Go module proxy into `folder`."""
    env = {**os.environ, "GOBIN": str(folder), "GOFLAGS": "-modcacherw"}
    subprocess.run(["go", "install", f"{TOXIPROXY}@{version}"], env=env, check=True, timeout=600)
    return folder / "server"


@contextmanager
def toxiproxy(binary: Path) -> Iterator[str]:
    """Toxiproxy's API URL, the server ended (its own process group) on the way out."""
    port = free_port()
    proc = subprocess.Popen([str(binary), "-host", "127.0.0.1", "-port", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    api = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                requests.get(api + "/version", timeout=0.5)
                break
            except requests.RequestException:
                time.sleep(0.05)
        else:
            raise RuntimeError("toxiproxy's API did not answer within 10 s")
        yield api
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=5)


def toxiproxy_link(api: str, name: str, upstream: Addr) -> Addr:
    made = requests.post(api + "/proxies", json={"name": name, "listen": "127.0.0.1:0",
                                                 "upstream": f"{upstream[0]}:{upstream[1]}", "enabled": True},
                         timeout=5)
    made.raise_for_status()
    return addr_of(made.json()["listen"])


def side_by_side(ways: dict[str, Callable[[], float]], pairs: int) -> dict[str, Any]:
    """Round trips of each way, rotated each round after a warm-up; times in microseconds."""
    names = list(ways)
    for _ in range(max(20, pairs // 10)):
        for name in names:
            ways[name]()
    samples: dict[str, list[float]] = {name: [] for name in names}
    deadline = time.monotonic() + LOOP_LIMIT_S
    for i in range(pairs):
        for name in names[i % len(names):] + names[:i % len(names)]:
            samples[name].append(ways[name]())
        if time.monotonic() > deadline:
            break
    us = 1e6
    row: dict[str, Any] = {"rounds": len(samples["direct"])}
    for name, values in samples.items():
        row[f"{name}_p50_us"] = round(quantile(values, 0.5) * us, 1)
        row[f"{name}_p99_us"] = round(quantile(values, 0.99) * us, 1)
    for name in names[1:]:
        row[f"{name}_added_p50_us"] = round(row[f"{name}_p50_us"] - row["direct_p50_us"], 1)
    row["chaosproxy_to_toxiproxy_added_p50"] = (round(row["chaosproxy_added_p50_us"] / row["toxiproxy_added_p50_us"], 2)
                                                if row["toxiproxy_added_p50_us"] > 0 else None)
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=2000)
    parser.add_argument("--toxiproxy", default="v2.5.0")
    parser.add_argument("--out", type=Path, default=RESULTS / "proxy_parity.json")
    args = parser.parse_args()
    binaries = build(["chaosproxy", "configd"])
    figures: dict[str, Any] = {}
    spec = bundled("configd").model_copy(update={"config": ConfigSpec(initial=CONFIGD_CONFIG)})
    with tempfile.TemporaryDirectory(prefix="gochaos-bench-parity-") as tmp:
        toxi_binary = build_toxiproxy(args.toxiproxy, Path(tmp) / "bin")
        with LocalPlatform(timeline=Timeline(), binaries=binaries) as platform, echo_server() as (echo, _udp), \
                toxiproxy(toxi_binary) as toxi_api:
            configd = platform.start_target(spec)
            proxy = ChaosProxy(binaries["chaosproxy"], log_path=Path(tmp) / "chaosproxy.log").start()
            try:
                http_addr = (configd.endpoint.host, configd.endpoint.port)
                ours = {name: addr_of(proxy.client.create_link(name, f"{a[0]}:{a[1]}").listen)
                        for name, a in (("echo", echo), ("http", http_addr))}
                theirs = {name: toxiproxy_link(toxi_api, name, a) for name, a in (("echo", echo), ("http", http_addr))}
                with tcp_connect(echo) as d, tcp_connect(ours["echo"]) as c, tcp_connect(theirs["echo"]) as t:
                    print("tcp echo ...", flush=True)
                    figures["tcp echo 64 B, kept-open connection"] = side_by_side(
                        {"direct": lambda: echo_round_trip(d), "chaosproxy": lambda: echo_round_trip(c),
                         "toxiproxy": lambda: echo_round_trip(t)}, args.pairs)
                with closing(http.client.HTTPConnection(*http_addr, timeout=5)) as d_, \
                        closing(http.client.HTTPConnection(*ours["http"], timeout=5)) as c_, \
                        closing(http.client.HTTPConnection(*theirs["http"], timeout=5)) as t_:
                    print("http keep-alive ...", flush=True)
                    figures["http GET keep-alive (configd)"] = side_by_side(
                        {"direct": lambda: http_get(d_), "chaosproxy": lambda: http_get(c_),
                         "toxiproxy": lambda: http_get(t_)}, args.pairs)
            finally:
                proxy.stop()
    report = {"benchmark": "proxy_parity", "machine": machine_info(), "command": command_line(),
              "toxiproxy": f"{TOXIPROXY}@{args.toxiproxy}", "figures": figures}
    write_report(args.out, report)
    print(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Config mutation cost: building one mutation of a ~200-line config and writing its text; enumerating sites.

    .venv/bin/python tests/bench/bench_config_mutations.py [--mutations 2000] [--min-seconds 1] [--out FILE]

For each sample config of tests/data/configs (the same gateway config as YAML, JSON and TOML,
~200 lines each) it times `Mutator.next()` — choose the edit, build the new tree copy-on-write,
diff it, and write its text (spliced into the YAML text, a dump for JSON and TOML) — in two ways:
`fixed`, every mutation drawn from the user's own config, and `chain`, each one applied before the
next as in a storm (so the cost of re-reading the new current config is counted too). Beside them,
the cost of a full round-trip dump, which is what a YAML mutation would cost without the splice.

`sites`: how fast `pattern: auto` enumerates the mutation sites of a config (every path, every
operator of `chaos.configs.operators`; what a storm does once when it starts, and the plan once for
`rounds: auto`), as sites enumerated per second, on the bundled configs (tests/data/configs and
go_targets/configs) and on a generated 2,000-line YAML config (`big_yaml`); beside it the mean cost
of writing one site (its tree, diff and text, applied to the original config).
Writes machine, command and figures (mean / p50 / p99 in ms) to tests/bench/results/config_mutations.json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))

from configs_samples import SAMPLES, sample
from machine import command_line, machine_info, quantile, write_report

from chaos.configs import placeholders
from chaos.configs.formats import ConfigFormat, ParsedConfig, parse
from chaos.configs.mutations import Mutator
from chaos.configs.operators import SiteWriter

RESULTS = Path(__file__).resolve().parent / "results"
GO_CONFIGS = Path(__file__).resolve().parents[2] / "go_targets" / "configs"
GO_VALUES = {"listen": "127.0.0.1:8080", "listen.admin": "127.0.0.1:9000"}
BIG_LINES = 2000
#: The figure the mutations must stay under, per mutation built and written.
BUDGET_MS = 2.0


def _figures(samples_ms: list[float]) -> dict[str, float]:
    return {"mean_ms": round(statistics.fmean(samples_ms), 3), "p50_ms": round(quantile(samples_ms, 0.5), 3),
            "p99_ms": round(quantile(samples_ms, 0.99), 3), "max_ms": round(max(samples_ms), 3)}


def measure(name: str, count: int) -> dict[str, object]:
    config = sample(name)
    fixed_ms: list[float] = []
    mutator = Mutator(config, 1)
    for _ in range(count):
        start = time.perf_counter_ns()
        mutator.next()
        fixed_ms.append((time.perf_counter_ns() - start) / 1e6)
    chain_ms: list[float] = []
    chained = Mutator(config, 1)
    for _ in range(count):
        start = time.perf_counter_ns()
        mutation = chained.next()
        chain_ms.append((time.perf_counter_ns() - start) / 1e6)
        chained.apply(mutation)
    dump_ms: list[float] = []
    for _ in range(max(20, count // 50)):
        start = time.perf_counter_ns()
        config.dump()
        dump_ms.append((time.perf_counter_ns() - start) / 1e6)
    return {"config": name, "lines": config.text.count("\n"), "mutations": count,
            "fixed": _figures(fixed_ms), "chain": _figures(chain_ms),
            "full_dump": _figures(dump_ms), "yaml_full_dumps": mutator.full_dumps + chained.full_dumps}


def big_yaml(lines: int = BIG_LINES) -> str:
    """A generated YAML config of `lines` lines: server settings, upstream pools and routes, with comments."""
    out = ["# generated for bench_config_mutations: a gateway with many pools and routes", "server:",
           "  listen: 127.0.0.1:8080   # filled by the platform", "  read_timeout: 5s", "  max_header_bytes: 65536",
           "  debug: false", "upstreams:"]
    pools: list[str] = []
    routes: list[str] = []
    n = 0
    while len(out) + len(pools) + len(routes) + 1 < lines:
        n += 1
        pools += [f"  pool-{n:04d}:", f"    # pool {n}", "    endpoints:", f"      - http://10.0.{n % 250}.1:9000",
                  f"      - http://10.0.{n % 250}.2:9000", "    timeout: 2s", f"    retries: {n % 5}",
                  f"    weight: {n % 7 / 10}", f"    tls: {'true' if n % 2 else 'false'}"]
        routes += [f"  - path: /api/v1/r{n:04d}", "    methods: [GET, POST]", f"    upstream: pool-{n:04d}",
                   f"    rate_limit: {100 * (n % 9 + 1)}"]
    text = out + pools + ["routes:"] + routes
    return "\n".join(text[:lines]) + "\n"


def _site_configs() -> list[ParsedConfig]:
    configs = [sample(name) for name in SAMPLES]
    for path in sorted(GO_CONFIGS.iterdir()):
        if path.suffix in (".yaml", ".json", ".toml"):
            text = placeholders.fill(path.read_text(encoding="utf-8"), GO_VALUES, path.name)
            configs.append(parse(text, ConfigFormat.of(path), path.name))
    configs.append(parse(big_yaml(), ConfigFormat.YAML, f"generated-{BIG_LINES}-lines.yaml"))
    return configs


def measure_sites(config: ParsedConfig, min_seconds: float, renders: int = 300) -> dict[str, object]:
    """Sites enumerated per second (whole enumerations, repeated for at least `min_seconds`), and what writing
    one site costs."""
    writer = SiteWriter(config)
    protect = [("server", "listen")] if config.name.startswith("generated") else []
    count, rounds, elapsed = 0, 0, 0.0
    while elapsed < min_seconds or rounds < 3:
        start = time.perf_counter()
        count = len(writer.sites(protect))
        elapsed += time.perf_counter() - start
        rounds += 1
    found = writer.sites(protect)
    step = max(1, len(found) // renders)
    render_ms = []
    for site in found[::step]:
        start = time.perf_counter_ns()
        writer.render(site)
        render_ms.append((time.perf_counter_ns() - start) / 1e6)
    return {"config": config.name, "lines": config.text.count("\n"), "sites": count, "enumerations": rounds,
            "enumerate_ms": round(elapsed / rounds * 1000, 3), "sites_per_second": round(count * rounds / elapsed),
            "render": _figures(render_ms), "yaml_full_dumps": writer.full_dumps}


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--mutations", type=int, default=2000, help="mutations timed per config and mode")
    parser.add_argument("--min-seconds", type=float, default=1.0, help="enumerate each config's sites for this long")
    parser.add_argument("--out", type=Path, default=RESULTS / "config_mutations.json")
    args = parser.parse_args()
    figures = [measure(name, args.mutations) for name in SAMPLES]
    sites = [measure_sites(config, args.min_seconds) for config in _site_configs()]
    within = all(f["fixed"]["mean_ms"] <= BUDGET_MS and f["chain"]["mean_ms"] <= BUDGET_MS  # type: ignore[index]
                 for f in figures)
    report = {"benchmark": "config_mutations", "machine": machine_info(), "command": command_line(),
              "budget_ms": BUDGET_MS, "within_budget": within, "figures": figures, "sites": sites}
    write_report(args.out, report)
    for f in figures:
        fixed, chain, dump = f["fixed"], f["chain"], f["full_dump"]
        print(f"{f['config']:<13} {f['lines']} lines: one mutation built + written: mean {fixed['mean_ms']} ms "  # type: ignore[index]
              f"(p99 {fixed['p99_ms']}); chained: mean {chain['mean_ms']} ms (p99 {chain['p99_ms']}); "  # type: ignore[index]
              f"full round-trip dump {dump['mean_ms']} ms")  # type: ignore[index]
    for s in sites:
        print(f"{s['config']:<30} {s['lines']:>5} lines: {s['sites']:>6} sites, enumerated in {s['enumerate_ms']} ms "
              f"({s['sites_per_second']:,} sites/s); one site written: mean {s['render']['mean_ms']} ms "  # type: ignore[index]
              f"(p99 {s['render']['p99_ms']})")  # type: ignore[index]
    print(f"budget {BUDGET_MS} ms per mutation: {'met' if within else 'MISSED'}; wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

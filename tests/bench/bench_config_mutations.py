"""Config mutation cost: building one mutation of a ~200-line config and writing its text.

    .venv/bin/python tests/bench/bench_config_mutations.py [--mutations 2000] [--out FILE]

For each sample config of tests/data/configs (the same gateway config as YAML, JSON and TOML,
~200 lines each) it times `Mutator.next()` — choose the edit, build the new tree copy-on-write,
diff it, and write its text (spliced into the YAML text, a dump for JSON and TOML) — in two ways:
`fixed`, every mutation drawn from the user's own config, and `chain`, each one applied before the
next as in a storm (so the cost of re-reading the new current config is counted too). Beside them,
the cost of a full round-trip dump, which is what a YAML mutation would cost without the splice.
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

from chaos.configs.mutations import Mutator

RESULTS = Path(__file__).resolve().parent / "results"
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


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--mutations", type=int, default=2000, help="mutations timed per config and mode")
    parser.add_argument("--out", type=Path, default=RESULTS / "config_mutations.json")
    args = parser.parse_args()
    figures = [measure(name, args.mutations) for name in SAMPLES]
    within = all(f["fixed"]["mean_ms"] <= BUDGET_MS and f["chain"]["mean_ms"] <= BUDGET_MS  # type: ignore[index]
                 for f in figures)
    report = {"benchmark": "config_mutations", "machine": machine_info(), "command": command_line(),
              "budget_ms": BUDGET_MS, "within_budget": within, "figures": figures}
    write_report(args.out, report)
    for f in figures:
        fixed, chain, dump = f["fixed"], f["chain"], f["full_dump"]
        print(f"{f['config']:<13} {f['lines']} lines: one mutation built + written: mean {fixed['mean_ms']} ms "  # type: ignore[index]
              f"(p99 {fixed['p99_ms']}); chained: mean {chain['mean_ms']} ms (p99 {chain['p99_ms']}); "  # type: ignore[index]
              f"full round-trip dump {dump['mean_ms']} ms")  # type: ignore[index]
    print(f"budget {BUDGET_MS} ms per mutation: {'met' if within else 'MISSED'}; wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

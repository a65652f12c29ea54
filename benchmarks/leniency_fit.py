"""How long the rater-leniency fit takes, and how much memory it needs, at about 1M ratings.

    uv run python benchmarks/leniency_fit.py                 # both parts below
    uv run python benchmarks/leniency_fit.py --employees 20000 --pairs 200000

1. End to end on a demo company of `--employees` (default 75,000 -> about 1.1M rating rows
   in one cycle): the DuckDB aggregation to (rater, ratee) pairs (queries/rater_pair_scores.sql)
   and the model fit, for the manager role and for all roles but self.
2. The fit alone on `--pairs` simulated (rater, ratee) pairs (default 1,000,000): every
   ratee scored by their manager and two team mates, teams of eight.

Times are wall clock and CPU seconds (the machine may be shared: CPU time is the steadier
figure); memory is the peak of Python/NumPy allocations during the fit (tracemalloc, in a
second run so tracing does not slow the timed one) and the process's peak resident size.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gradelens import leniency  # noqa: E402
from gradelens.dataset import open_dataset  # noqa: E402
from gradelens.queries import run_query  # noqa: E402


def timed(function, *args, **kwargs):
    wall, cpu = time.perf_counter(), time.process_time()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - wall, time.process_time() - cpu


def peak_mib(function, *args, **kwargs) -> float:
    tracemalloc.start()
    try:
        function(*args, **kwargs)
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def report(label: str, pairs: pd.DataFrame, query_times: tuple[float, float] | None) -> None:
    result, wall, cpu = timed(leniency.estimate_leniency, pairs)
    raters = leniency.flag_raters(result.raters)
    fit = result.fit
    memory = peak_mib(leniency.estimate_leniency, pairs)
    query = f"query {query_times[0]:5.2f}s wall {query_times[1]:5.2f}s cpu | " if query_times else ""
    print(
        f"{label:<28} pairs {len(pairs):>9,} raters {pairs['rater_id'].nunique():>7,} | {query}"
        f"fit {wall:5.2f}s wall {cpu:5.2f}s cpu | peak {memory:6.0f} MiB traced, {rss_mib():6.0f} MiB process | "
        f"{fit.method}, se {fit.pev_method}, flagged {int(raters['flagged'].sum())}"
    )


def end_to_end(employees: int) -> None:
    from gradelens import demo

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "demo"
        _, wall, _ = timed(demo.generate, folder, employees=employees, cycles=1)
        dataset = open_dataset(folder)
        rows = dataset.cursor().execute("SELECT count(*) FROM ratings").fetchone()[0]
        print(f"demo company: {employees:,} employees, {rows:,} rating rows (generated in {wall:.1f}s)")
        for role in ("manager", "all_but_self"):
            pairs, query_wall, query_cpu = timed(run_query, dataset, "rater_pair_scores", {"role": role})
            report(f"  {role}", pairs, (query_wall, query_cpu))


def simulated(pair_count: int, seed: int = 7) -> None:
    rng = np.random.default_rng(seed)
    members = pair_count // 3
    team_size = 8
    team = np.arange(members) // team_size
    position = np.arange(members) % team_size
    attainment = np.clip(rng.normal(1.0, 0.25, members), 0.0, 1.5)
    quality = rng.normal(0.0, 0.25, members)
    managers = rng.normal(0.0, 0.1, team.max() + 1)
    peers = rng.normal(0.0, 0.08, members)
    ratee = np.tile(np.arange(members), 3)
    mate = np.concatenate([np.full(members, -1), team * team_size + (position + 1) % team_size, team * team_size + (position + 2) % team_size])
    mate = np.minimum(mate, members - 1)
    is_manager = mate < 0
    rater = np.where(is_manager, "M" + pd.Series(np.tile(team, 3)).astype(str), "P" + pd.Series(mate).astype(str))
    effect = np.where(is_manager, managers[np.tile(team, 3)], peers[mate])
    score = 3.0 + 1.2 * (attainment[ratee] - 1) + effect + quality[ratee] + rng.normal(0, 0.25, len(ratee))
    pairs = pd.DataFrame({
        "rater_id": rater,
        "ratee_id": ratee,
        "rater_role": np.where(is_manager, "manager", "peer"),
        "score": np.round(np.clip(score, 1, 5), 2),
        "attainment": attainment[ratee],
    })
    print(f"simulated: {len(pairs):,} pairs, {members:,} ratees in teams of {team_size}")
    report("  manager + 2 peers", pairs, None)
    report("  managers only", pairs[is_manager].reset_index(drop=True), None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--employees", type=int, default=75_000, help="demo company size for the end-to-end run (0 to skip)")
    parser.add_argument("--pairs", type=int, default=1_000_000, help="simulated pairs for the fit-only run (0 to skip)")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores")
    if args.employees:
        end_to_end(args.employees)
    if args.pairs:
        simulated(args.pairs)


if __name__ == "__main__":
    main()

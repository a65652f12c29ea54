"""Latency and memory of every named query and page at several company sizes, against pandas.

    uv run python benchmarks/run_benchmarks.py                                   # 2k, 20k, 200k; 8 cycles
    uv run python benchmarks/run_benchmarks.py --sizes 2000 --runs 3             # a quick run
    uv run python benchmarks/run_benchmarks.py --sizes 2000,20000,200000 --cycles 8 --runs 5 --out benchmarks/out

For each size:
1. the demo company (gradelens.demo.generate, seed 7) is generated in a child process, or reused
   from the cache folder (--data-dir, default /work/bench/demo-<size>-c<cycles>-s<seed>) when its
   manifest names the current GENERATOR_VERSION; the generation time and the folder's size on
   disk are reported;
2. queries, in a fresh child process: for every named query, *cold* is open_dataset + the first
   run_query on that new Dataset (a new DuckDB connection: no DuckDB cache; the OS file cache is
   warm after the first query); *warm* is --runs further run_query calls on it, median and p95.
   Streamlit's cache is bypassed (run_query is called directly). The leniency analyses keep an
   lru_cache of their model fit (gradelens.analyses.leniency._fit/_directory); it is cleared
   before every run, so warm figures include the fit. Wall and CPU time (user+system over all
   threads) are recorded; the child's peak RSS (VmHWM) is reported;
3. the pandas baseline, in its own child process: pd.read_parquet of the same files, merges and
   groupby for grade_distribution (group_by department), appeal_trends (group_by none), the
   overview_headline (head-counts, attainment, grading progress, appeals),
   attainment_by_department and attainment_headline (latest cycle at its end, and the cycle
   before; latest actual per goal, owner roll-up); timed the same way (each run re-reads the
   Parquet files, as an analyst's notebook would), with its peak RSS. At the smallest size the
   parent checks that both give the same numbers (1e-9);
4. pages, in a child process with GRADELENS_DATA set: the imports every page needs and app.py's
   chart warm-up are timed first (process start, once per server); then for each page of
   gradelens.navigation.PAGES, with Streamlit's data cache and the leniency fits cleared, a first
   AppTest render (nothing of the page cached, as for a user opening it first on a running
   server) and a second one (a new AppTest, served from the caches).

Results: a table on stdout, benchmarks/out/results.json and benchmarks/out/results.md. The load
average is printed: on a shared machine wall times grow with it, CPU times much less.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SEED = 7
REQUIRED_EXAMPLES = {"rater_id": None}  # filled with a real rater of the latest cycle (tests use "E1")


def percentile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks, like numpy's default."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summary(walls: list[float], cpus: list[float]) -> dict:
    return {"median": statistics.median(walls), "p95": percentile(walls, 0.95),
            "cpu_median": statistics.median(cpus), "runs": len(walls)}


def timed(function):
    """(result, wall seconds, CPU seconds of the whole process, all threads)."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = function()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def memory_mb(pid: int | str = "self") -> dict[str, float]:
    """A process's peak (VmHWM) and current (VmRSS) resident memory, MB, from /proc/<pid>/status."""
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return {key: int(status[key].split()[0]) / 1024 for key in ("VmHWM", "VmRSS")}


def peak_mb() -> float:
    """This process's peak resident memory: VmHWM. Not ru_maxrss, which Linux keeps through fork
    and exec: a child of a parent that had read a dataset reported the parent's peak (until
    2026-11-22 the 2k pages and 20k figures were the parent's 399 MB)."""
    try:
        return memory_mb()["VmHWM"]
    except (OSError, KeyError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---------------------------------------------------------------- children


def child_generate(folder: str, employees: int, cycles: int) -> dict:
    from gradelens.demo import generate

    _, wall, cpu = timed(lambda: generate(Path(folder), employees=employees, cycles=cycles, seed=SEED))
    return {"wall": wall, "cpu": cpu, "peak_mb": peak_mb()}


def rater_example(dataset) -> str:
    from gradelens.queries import cycle_ids

    latest = cycle_ids(dataset)[-1]
    row = dataset.cursor().execute(
        "SELECT rater_id FROM ratings WHERE cycle_id = $c AND rater_role = 'manager' "
        "GROUP BY rater_id ORDER BY count(*) DESC, rater_id LIMIT 1", {"c": latest}).fetchone()
    return row[0]


def clear_python_caches() -> None:
    from gradelens.analyses import leniency

    for name in ("_fit", "_directory"):
        cached = getattr(leniency, name, None)
        if cached is not None and hasattr(cached, "cache_clear"):
            cached.cache_clear()


def child_queries(folder: str, runs: int, only: str | None) -> dict:
    from gradelens.dataset import open_dataset
    from gradelens.queries import all_queries, run_query

    started = time.perf_counter()
    rater = rater_example(open_dataset(folder))
    examples = dict(REQUIRED_EXAMPLES, rater_id=rater)
    results = {}
    queries = all_queries()
    for query in [queries[n] for n in only.split(",")] if only else queries.values():  # --only: in its order
        params = {p.name: examples[p.name] for p in query.params if p.required}
        clear_python_caches()
        try:
            dataset, open_wall, open_cpu = timed(lambda: open_dataset(folder))
            frame, cold_wall, cold_cpu = timed(lambda: run_query(dataset, query.name, params))
            walls, cpus = [], []
            for _ in range(runs):
                clear_python_caches()
                _, wall, cpu = timed(lambda: run_query(dataset, query.name, params))
                walls.append(wall)
                cpus.append(cpu)
            results[query.name] = {"kind": "python" if query.function else "sql", "rows": len(frame),
                                   "cold": open_wall + cold_wall, "cold_cpu": open_cpu + cold_cpu,
                                   **summary(walls, cpus)}
        except Exception as exc:  # reported, not fatal: the other queries still get measured
            results[query.name] = {"error": f"{type(exc).__name__}: {str(exc)[:300]}"}
        print(json.dumps({query.name: results[query.name], "peak_mb": peak_mb()}), file=sys.stderr, flush=True)
    return {"queries": results, "rater_id": rater, "peak_mb": peak_mb(), "total": time.perf_counter() - started}


def child_pandas(folder: str, runs: int) -> dict:
    import pandas_baseline

    results = {}
    for name, function in pandas_baseline.BASELINES.items():
        _, cold, cold_cpu = timed(lambda: function(Path(folder)))
        walls, cpus = [], []
        for _ in range(runs):
            _, wall, cpu = timed(lambda: function(Path(folder)))
            walls.append(wall)
            cpus.append(cpu)
        results[name] = {"cold": cold, "cold_cpu": cold_cpu, **summary(walls, cpus)}
    return {"baseline": results, "peak_mb": peak_mb()}


def child_pages(folder: str) -> dict:
    os.environ["GRADELENS_DATA"] = folder
    # Process start, paid once per server: the imports every page needs (Streamlit, pandas,
    # plotly, scipy, gradelens's modules) and app.py's chart warm-up. Timed apart so that the
    # first page does not carry it.
    _, imports, imports_cpu = timed(_import_page_modules)
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from gradelens.navigation import PAGES

    results = {}
    for page in PAGES:
        # First render: what a user opening this page first gets from a running server, with no
        # query of it cached (Streamlit's data cache and the leniency fits cleared); the second
        # render (a new AppTest) is served from those caches.
        st.cache_data.clear()
        clear_python_caches()
        figures = {}
        for label in ("first", "second"):
            at = AppTest.from_file(str(ROOT / page.path), default_timeout=600)
            _, wall, cpu = timed(at.run)
            figures[label] = wall
            figures[f"{label}_cpu"] = cpu
            figures[f"{label}_errors"] = [str(e.value)[:200] for e in at.exception]
        results[page.path] = figures
    return {"pages": results, "imports": imports, "imports_cpu": imports_cpu, "peak_mb": peak_mb()}


def _import_page_modules() -> None:
    import importlib

    for module in ("streamlit", "streamlit.testing.v1", "pandas", "plotly.graph_objects", "plotly.express",
                   "scipy.sparse", "scipy.stats", "gradelens.ui", "gradelens.charts", "gradelens.attainment",
                   "gradelens.leniency", "gradelens.appeals", "gradelens.analyses.grades", "gradelens.importing.web"):
        importlib.import_module(module)
    # What app.py does once per server process before the first page (the pages alone, as
    # AppTest runs them, do not go through app.py).
    importlib.import_module("gradelens.charts").warm_up()


CHILDREN = {"generate": child_generate, "queries": child_queries, "pandas": child_pandas, "pages": child_pages}


def run_child(kind: str, *args) -> dict:
    """Run one measurement in a fresh Python process; its last stdout line is JSON."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "benchmarks")]))
    log = Path(os.environ.get("GRADELENS_BENCH_LOG", os.devnull))
    with log.open("a") as progress:  # the queries child reports each query on stderr as it goes
        child = subprocess.run([sys.executable, __file__, "--child", kind, *map(str, args)],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=progress, text=True, env=env)
    if child.returncode != 0:
        raise SystemExit(f"{kind} child failed ({child.returncode}):\n{child.stdout[-3000:]}\nsee {log} for its stderr")
    return json.loads(child.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- parent


def folder_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20


def ensure_dataset(data_dir: Path, employees: int, cycles: int) -> tuple[Path, dict | None]:
    folder = data_dir / f"demo-{employees}-c{cycles}-s{SEED}"
    from gradelens.demo import GENERATOR_VERSION, MANIFEST_FILE, read_manifest

    timing = data_dir / f"{folder.name}.generation.json"  # kept so a reused dataset still reports it
    if (folder / MANIFEST_FILE).exists():
        if read_manifest(folder).generator == GENERATOR_VERSION:
            return folder, json.loads(timing.read_text()) if timing.exists() else None
        print(f"{folder} was written by an older demo generator; writing it again", file=sys.stderr)
    print(f"generating {employees:,} employees x {cycles} cycles in {folder} …", file=sys.stderr)
    figures = run_child("generate", folder, employees, cycles)
    timing.write_text(json.dumps(figures))
    return folder, figures


def check_baseline(folder: Path) -> list[str]:
    """The pandas figures equal the named queries' (1e-9); returns what was checked."""
    import numpy as np
    import pandas as pd
    import pandas_baseline

    from gradelens.dataset import open_dataset
    from gradelens.queries import run_query

    dataset = open_dataset(folder)
    checked = []
    for name, (query, params, columns, keys) in pandas_baseline.SQL_EQUIVALENTS.items():
        sql = run_query(dataset, query, params)[keys + columns]
        mine = pandas_baseline.BASELINES[name](folder)[keys + columns]
        if keys:
            sql = sql.sort_values(keys).reset_index(drop=True)
            mine = mine.sort_values(keys).reset_index(drop=True)
        assert len(sql) == len(mine), (name, len(sql), len(mine))
        for column in keys:  # NULL / NaN / None read alike
            assert [None if pd.isna(v) else str(v) for v in sql[column]] == \
                   [None if pd.isna(v) else str(v) for v in mine[column]], (name, column)
        for column in columns:
            a = sql[column].astype("float64").to_numpy()
            b = mine[column].astype("float64").to_numpy()
            assert np.allclose(a, b, rtol=0, atol=1e-9, equal_nan=True), (name, column, a[:5], b[:5])
        checked.append(f"{name}: {len(sql)} rows x {len(columns)} columns")
    return checked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="2000,20000,200000", help="employees, comma-separated")
    parser.add_argument("--cycles", type=int, default=8)
    parser.add_argument("--runs", type=int, default=5, help="warm runs per query")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "out"))
    parser.add_argument("--data-dir", default="/work/bench", help="where generated demo datasets are kept and reused")
    parser.add_argument("--only", help="only these named queries (comma-separated)")
    parser.add_argument("--skip", default="", help="parts to skip: pandas,pages")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        casts = {"generate": (str, int, int), "queries": (str, int, str), "pandas": (str, int), "pages": (str,)}[kind]
        values = [cast(v) for cast, v in zip(casts, rest)]
        if kind == "queries" and values[2] == "-":
            values[2] = None
        print(json.dumps(CHILDREN[kind](*values)))
        return

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("GRADELENS_BENCH_LOG", str(out / "children.log"))
    skip = set(filter(None, args.skip.split(",")))
    sizes = [int(s) for s in args.sizes.split(",")]
    report = {"started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "cores": os.cpu_count(),
              "load_before": os.getloadavg()[0], "cycles": args.cycles, "runs": args.runs, "sizes": {}}
    for size in sizes:
        folder, generation = ensure_dataset(Path(args.data_dir), size, args.cycles)
        entry = {"folder": str(folder), "disk_mb": folder_mb(folder), "generation": generation,
                 "load": os.getloadavg()[0]}
        print(f"{size:,}: queries …", file=sys.stderr)
        entry["queries"] = run_child("queries", folder, args.runs, args.only or "-")
        if "pandas" not in skip:
            print(f"{size:,}: pandas baseline …", file=sys.stderr)
            entry["pandas"] = run_child("pandas", folder, args.runs)
            if size == min(sizes):
                entry["pandas_check"] = check_baseline(folder)
        if "pages" not in skip:
            print(f"{size:,}: pages …", file=sys.stderr)
            entry["pages"] = run_child("pages", folder)
        report["sizes"][str(size)] = entry
        (out / "results.json").write_text(json.dumps(report, indent=2))
    report["load_after"] = os.getloadavg()[0]
    (out / "results.json").write_text(json.dumps(report, indent=2))
    text = render(report)
    (out / "results.md").write_text(text)
    print(text)


def render(report: dict) -> str:
    sizes = list(report["sizes"])
    lines = [f"Run {report['started']}, {report['cores']} cores, {report['cycles']} cycles, {report['runs']} warm runs, "
             f"load average {report['load_before']:.1f} before, {report.get('load_after', float('nan')):.1f} after.", ""]
    lines += ["| employees | generation s (CPU s) | disk MB | query process peak MB | pandas peak MB | pages process peak MB |",
              "|---:|---:|---:|---:|---:|---:|"]
    for size in sizes:
        e = report["sizes"][size]
        gen = f"{e['generation']['wall']:.1f} ({e['generation']['cpu']:.1f})" if e["generation"] else "reused"
        lines.append(f"| {int(size):,} | {gen} | {e['disk_mb']:.0f} | {e['queries']['peak_mb']:.0f} | "
                     f"{e.get('pandas', {}).get('peak_mb', float('nan')):.0f} | {e.get('pages', {}).get('peak_mb', float('nan')):.0f} |")
    lines += ["", "Named queries, seconds: warm median / p95 (CPU median), cold = open + first run.", ""]
    lines.append("| query | " + " | ".join(f"{int(s):,} warm med / p95 (CPU)" for s in sizes)
                 + " | " + " | ".join(f"{int(s):,} cold" for s in sizes) + " |")
    lines.append("|---|" + "---:|" * (2 * len(sizes)))
    names = list(report["sizes"][sizes[0]]["queries"]["queries"])
    for name in names:
        cells, colds = [], []
        for size in sizes:
            q = report["sizes"][size]["queries"]["queries"].get(name, {})
            if "error" in q or not q:
                cells.append("error" if q else "-")
                colds.append("-")
                continue
            cells.append(f"{q['median']:.3f} / {q['p95']:.3f} ({q['cpu_median']:.3f})")
            colds.append(f"{q['cold']:.3f}")
        lines.append(f"| `{name}` | " + " | ".join(cells) + " | " + " | ".join(colds) + " |")
    if any("pandas" in report["sizes"][s] for s in sizes):
        lines += ["", "pandas baseline, warm median seconds (CPU); ratio = gradelens / pandas wall (CPU), below 1: gradelens faster.", ""]
        lines.append("| figure | " + " | ".join(f"{int(s):,} pandas | {int(s):,} gradelens | ratio" for s in sizes) + " |")
        lines.append("|---|" + "---:|---:|---:|" * len(sizes))
        import pandas_baseline

        first = next(s for s in sizes if "pandas" in report["sizes"][s])
        for name in report["sizes"][first]["pandas"]["baseline"]:
            query = pandas_baseline.SQL_EQUIVALENTS[name][0]
            cells = []
            for size in sizes:
                e = report["sizes"][size]
                p = e.get("pandas", {}).get("baseline", {}).get(name)
                q = e["queries"]["queries"].get(query, {})
                if not p or "median" not in q:
                    cells.append("- | - | -")
                    continue
                cells.append(f"{p['median']:.3f} ({p['cpu_median']:.3f}) | {q['median']:.3f} ({q['cpu_median']:.3f}) | "
                             f"{q['median'] / p['median']:.2f} ({q['cpu_median'] / p['cpu_median']:.2f})")
            lines.append(f"| {name} (`{query}`) | " + " | ".join(cells) + " |")
        checks = [c for s in sizes for c in report["sizes"][s].get("pandas_check", [])]
        if checks:
            lines += ["", "Checked equal to the named queries (1e-9) at the smallest size: " + "; ".join(checks) + "."]
    if any("pages" in report["sizes"][s] for s in sizes):
        lines += ["", "Pages (AppTest), seconds: first render (nothing of the page cached) / second render (CPU of first).",
                  "Process start (imports and chart warm-up, once per server) apart: "
                  + ", ".join(f"{int(s):,}: {report['sizes'][s]['pages']['imports']:.1f} s"
                              for s in sizes if "imports" in report["sizes"][s].get("pages", {})) + ".", ""]
        lines.append("| page | " + " | ".join(f"{int(s):,}" for s in sizes) + " |")
        lines.append("|---|" + "---:|" * len(sizes))
        pages = dict.fromkeys(p for s in sizes for p in report["sizes"][s].get("pages", {}).get("pages", {}))
        for page in pages:  # the union: a page added between sizes shows '-' where it was not measured
            cells = []
            for size in sizes:
                p = report["sizes"][size].get("pages", {}).get("pages", {}).get(page)
                if not p:
                    cells.append("-")
                    continue
                flag = " (exception)" if p["first_errors"] or p["second_errors"] else ""
                cells.append(f"{p['first']:.2f} / {p['second']:.2f} ({p['first_cpu']:.2f}){flag}")
            lines.append(f"| {page} | " + " | ".join(cells) + " |")
    lines += ["", chart(report)]
    return "\n".join(lines) + "\n"


def chart(report: dict, width: int = 48) -> str:
    """Warm median latency against employees as a log-scale text chart: the typical query (median
    over all named queries), the 90th percentile and the slowest, plus the slowest three by name."""
    sizes = list(report["sizes"])
    ok = {s: {n: q for n, q in report["sizes"][s]["queries"]["queries"].items() if "median" in q} for s in sizes}
    largest = sizes[-1]
    slowest = sorted(ok[largest], key=lambda n: ok[largest][n]["median"], reverse=True)[:3]
    series = {"median query": lambda s: statistics.median(q["median"] for q in ok[s].values()),
              "median query, CPU": lambda s: statistics.median(q["cpu_median"] for q in ok[s].values()),
              "p90 query": lambda s: percentile([q["median"] for q in ok[s].values()], 0.9),
              **{n: (lambda s, n=n: ok[s][n]["median"] if n in ok[s] else float("nan")) for n in slowest}}
    low, high = 0.01, 100.0  # seconds: the chart's log axis

    def bar(seconds: float) -> str:
        import math

        if seconds != seconds:
            return "-"
        cells = int(round(width * (math.log10(max(seconds, low)) - math.log10(low)) / (math.log10(high) - math.log10(low))))
        return "#" * max(cells, 1) + f" {seconds:.3f} s"

    lines = ["```", "warm median latency (wall) against employees, log scale 0.01 s .. 100 s; | marks 1 s",
             " " * 34 + "0.01" + " " * (width // 2 - 6) + "1 s|" + " " * (width // 2 - 5) + "100"]
    for label, value in series.items():
        for size in sizes:
            lines.append(f"{label[:22]:<22} {int(size):>9,}  {bar(value(size))}")
        lines.append("")
    lines.append("```")
    return "\n".join(lines)


if __name__ == "__main__":
    main()

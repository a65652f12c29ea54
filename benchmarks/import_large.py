"""How long a large HRIS export takes to import, and how much memory it needs.

    uv run python benchmarks/import_large.py                      # 200,000 employees, one cycle
    uv run python benchmarks/import_large.py --employees 20000    # a quick run

Steps (only the import is timed):
1. generate the demo company for one cycle (gradelens.demo) — 200,000 employees give about
   970,000 rater-ratee pairs (manager, self, peers, subordinates, customers), i.e. 2.9 million
   ratings over three dimensions, 860,000 goals and 5.2 million monthly KPI actuals;
2. export it as a Chinese HRIS would (examples/mappings/hris-zh.toml: 中文 headers, 中文
   grade and rater-role names, 100-point scores, one score column per dimension, UTF-8 with BOM);
3. import it in a fresh process, measuring wall time and peak resident memory (VmHWM of
   the child): (a) the people export — employees, 360 ratings, grades, cycles, org units —
   into a new dataset; (b) every table into a new dataset; (c) the people export again into
   the dataset from (a), which replaces the cycle's partitions and keeps the old ones in the
   history.

The figures go to stdout as a small table; docs/importing.md quotes them. The load average is
printed too: on a shared machine wall times grow with it, CPU times much less.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PEOPLE = ("cycles", "org_units", "employees", "ratings", "grades")


CHILD = """
import json, resource, sys, time
sys.path.insert(0, "benchmarks")  # run from the repository root
from run_benchmarks import peak_mb
started = time.perf_counter()
import streamlit  # the CLI loads it too, for its first message (gradelens.i18n)
from gradelens.importing.mapping import load_mapping
from gradelens.importing.pipeline import run_import
loaded = time.perf_counter()
cpu_before = resource.getrusage(resource.RUSAGE_SELF)
result = run_import(sys.argv[1], sys.argv[2], load_mapping(sys.argv[3]))
done = time.perf_counter()
cpu_after = resource.getrusage(resource.RUSAGE_SELF)
cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
assert result.imported, [i.line() for i in result.report.listed()][:20]
print(json.dumps({"startup": loaded - started, "import": done - loaded, "cpu": cpu,
                  "peak_mb": peak_mb(),  # VmHWM: ru_maxrss would be the parent's (the demo's generation)
                  "rows": {name: s.rows for name, s in result.tables.items()}, "snapshot": result.snapshot_id}))
"""


def run_import(source: Path, dataset: Path, mapping: Path) -> dict:
    """Import in a fresh process: seconds to start Python and load gradelens, seconds of the
    import itself, the child's peak resident memory, rows per table."""
    started = time.perf_counter()
    child = subprocess.run([sys.executable, "-c", CHILD, str(source), str(dataset), str(mapping)],
                           cwd=ROOT, capture_output=True, text=True)
    if child.returncode != 0:
        raise SystemExit(f"import failed ({child.returncode}):\n{child.stdout[-3000:]}\n{child.stderr[-3000:]}")
    figures = json.loads(child.stdout.strip().splitlines()[-1])
    figures["wall"] = time.perf_counter() - started
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--employees", type=int, default=200_000)
    parser.add_argument("--workdir", help="keep the generated files here (default: a temporary folder, removed)")
    args = parser.parse_args()

    from gradelens.demo import generate
    from gradelens.importing.export import export_source_files
    from gradelens.importing.mapping import EXAMPLES_DIR, load_mapping

    work = Path(args.workdir or tempfile.mkdtemp(prefix="gradelens-import-bench-"))
    try:
        demo, people, full = work / "demo", work / "export-people", work / "export-all"
        mapping_path = EXAMPLES_DIR / "hris-zh.toml"
        mapping = load_mapping(mapping_path)
        if not demo.exists():
            print(f"generating the demo: {args.employees:,} employees, one cycle …", file=sys.stderr)
            generate(demo, employees=args.employees, cycles=1)
        for folder, tables in ((people, PEOPLE), (full, tuple(mapping.tables))):
            if not folder.exists():
                print(f"exporting {', '.join(tables)} …", file=sys.stderr)
                subset = type(mapping)(tables={k: v for k, v in mapping.tables.items() if k in tables},
                                       grades=mapping.grades, source=mapping.source, text=mapping.text)
                export_source_files(demo, folder, subset, encoding="utf-8-sig")

        def size(folder: Path) -> str:
            files = list(folder.iterdir())
            return f"{len(files)} files, {sum(f.stat().st_size for f in files) / (1 << 20):,.0f} MB"

        results = []
        for label, source, target in (("people export into a new dataset", people, work / "ds-people"),
                                      ("every table into a new dataset", full, work / "ds-all"),
                                      ("people export again (replaces the cycle)", people, work / "ds-people")):
            if target.exists() and "again" not in label:
                shutil.rmtree(target)
            results.append((label, size(source), run_import(source, target, mapping_path)))

        print(f"\nimport of a {args.employees:,}-employee HRIS export (hris-zh mapping), {os.cpu_count()} cores, "
              f"load average {os.getloadavg()[0]:.1f}")
        print(f"{'what':<42} {'source':<19} {'import s':>8} {'CPU s':>6} {'+ startup s':>11} {'peak RSS':>9}")
        for label, source_size, figures in results:
            print(f"{label:<42} {source_size:<19} {figures['import']:>8.1f} {figures['cpu']:>6.1f} "
                  f"{figures['startup']:>11.1f} {figures['peak_mb']:>6.0f} MB")
        print("import s: wall time of run_import; CPU s: its user+system CPU time over all threads (on an idle "
              "2-core machine the wall time is between CPU/2 and CPU); startup: starting Python and loading gradelens.")
        for label, _, figures in results:
            print(f"  {label}: " + ", ".join(f"{name} {rows:,}" for name, rows in figures["rows"].items()))
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Importing HRIS exports (CSV, XLSX, Parquet) into a dataset as versioned snapshots.

The pieces, in the order an import uses them:

- `mapping`: which source files and headers feed which contract tables and columns, how
  source values (优秀, 上级, ...) become contract codes, date formats and score scales.
- `readers`: open a CSV (any delimiter; UTF-8, UTF-8 with BOM, UTF-16 or GBK), XLSX or
  Parquet file and stream it in batches, each row numbered as a spreadsheet shows it.
- `convert`: turn raw cells into contract types, reporting each cell that does not fit.
- `report`: the validation report: file, row, column, value, rule and fix for every issue.
- `pipeline`: stage the new rows, check them with gradelens.validate, and commit.
- `snapshots`: the `_staging/` and `_history/` folders, the atomic commit, snapshots and
  rollback, and `settled()`, which dataset.py uses so readers never see a half-moved import.
- `export`: write a dataset back out as source files for a mapping (round trips, benchmarks).
- `web`: what the Data page (pages/data.py) needs around its widgets.

This package's `__init__` stays empty on purpose: dataset.py imports `snapshots` on every
open, and that must not pull in the readers.
"""

"""The analyst's way today: pandas reading the dataset's Parquet files and grouping in memory.

Idiomatic pandas (read only the columns needed, merges, groupby, pyarrow-backed strings as
pandas 3 gives them), computing the same numbers as the named queries in SQL_EQUIVALENTS, so
benchmarks/run_benchmarks.py can time both in one run and check they agree. Every function
reads its files again, as a notebook cell re-run would; nothing is cached between calls.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gradelens.policy import load_policy


def read(folder: Path, table: str, columns: list[str]) -> pd.DataFrame:
    """`<table>.parquet`, or the Hive-partitioned folder `<table>/` (ratings)."""
    single = folder / f"{table}.parquet"
    return pd.read_parquet(single if single.exists() else folder / table, columns=columns)


def latest_cycle(cycles: pd.DataFrame) -> str:
    return cycles.sort_values(["start_date", "cycle_id"])["cycle_id"].iloc[-1]


def unit_departments(units: pd.DataFrame) -> pd.DataFrame:
    """unit_id -> department_id: the nearest ancestor (or the unit itself) of type department."""
    parent = units.set_index("unit_id")["parent_unit_id"]
    is_department = units.set_index("unit_id")["unit_type"].eq("department")
    current = pd.Series(units["unit_id"].to_numpy(), index=units["unit_id"].to_numpy())
    found = pd.Series(pd.NA, index=current.index, dtype="string")
    for _ in range(64):
        hit = found.isna() & current.notna() & current.map(is_department).fillna(False).astype(bool)
        found[hit] = current[hit]
        current = current.map(parent)
        if current.isna().all():
            break
    return found.rename("department_id").rename_axis("unit_id").reset_index()


def employee_units(folder: Path, cycle: str | None = None) -> pd.DataFrame:
    """Employees (of one cycle, or all) with department id and name resolved."""
    employees = read(folder, "employees", ["cycle_id", "employee_id", "unit_id", "region"])
    if cycle is not None:
        employees = employees[employees["cycle_id"] == cycle]
    units = read(folder, "org_units", ["unit_id", "parent_unit_id", "name", "unit_type"])
    departments = unit_departments(units)
    names = units[["unit_id", "name"]].rename(columns={"unit_id": "department_id", "name": "department"})
    out = employees.merge(departments, on="unit_id", how="left").merge(names, on="department_id", how="left")
    out["department"] = out["department"].fillna("(no department)")
    return out


def policy_grades(folder: Path) -> pd.DataFrame:
    policy = load_policy(folder)
    return pd.DataFrame({"grade": list(policy.grades), "grade_rank": range(len(policy.grades)),
                         "target_share": [policy.target_shares[g] for g in policy.grades]})


def grade_distribution(folder: Path) -> pd.DataFrame:
    """grade_distribution, latest cycle, final grades, group_by department."""
    cycle = latest_cycle(read(folder, "cycles", ["cycle_id", "start_date"]))
    members = employee_units(folder, cycle)
    members["group_id"] = members["department_id"].fillna("(none)")
    grades = read(folder, "grades", ["cycle_id", "employee_id", "final_grade"])
    grades = grades[grades["cycle_id"] == cycle]
    graded = grades.merge(members[["employee_id", "group_id", "department"]], on="employee_id")
    policy = policy_grades(folder)
    in_policy = graded[graded["final_grade"].isin(policy["grade"])]
    groups = in_policy.groupby("group_id").agg(group_name=("department", "min"), group_employees=("employee_id", "size"))
    counted = graded.groupby(["group_id", "final_grade"]).size().rename("employees")
    out = groups.reset_index().merge(policy, how="cross")
    out = out.merge(counted.reset_index().rename(columns={"final_grade": "grade"}), on=["group_id", "grade"], how="left")
    out["employees"] = out["employees"].fillna(0).astype("int64")
    out["share"] = out["employees"] / out["group_employees"]
    out["expected"] = out["group_employees"] * out["target_share"]
    return out.sort_values(["group_name", "group_id", "grade_rank"]).reset_index(drop=True)


def appeal_trends(folder: Path) -> pd.DataFrame:
    """appeal_trends, group_by none: one row per cycle."""
    cycles = read(folder, "cycles", ["cycle_id", "name", "start_date"])
    grades = read(folder, "grades", ["cycle_id", "employee_id"])
    units = employee_units(folder)[["cycle_id", "employee_id"]]
    population = grades.merge(units, on=["cycle_id", "employee_id"]).merge(cycles[["cycle_id"]], on="cycle_id")
    graded = population.groupby("cycle_id").size().rename("graded")
    appeals = read(folder, "appeals", ["cycle_id", "employee_id", "status", "filed_on", "resolved_on", "grade_before", "grade_after"])
    appeals = appeals.merge(population, on=["cycle_id", "employee_id"])
    rank = policy_grades(folder).set_index("grade")["grade_rank"]
    before, after = appeals["grade_before"].map(rank), appeals["grade_after"].map(rank)
    resolved_status = appeals["status"].isin(["upheld", "partially_upheld", "rejected", "withdrawn"])
    days = (pd.to_datetime(appeals["resolved_on"]) - pd.to_datetime(appeals["filed_on"])).dt.days
    appeals = appeals.assign(
        raised=after < before, lowered=after > before,
        days=days.where(resolved_status & (appeals["resolved_on"] >= appeals["filed_on"]).fillna(False).astype(bool)),
        **{s: appeals["status"] == s for s in ("open", "upheld", "partially_upheld", "rejected", "withdrawn")},
    )
    by_cycle = appeals.groupby("cycle_id")
    stats = by_cycle.agg(
        appeals=("status", "size"), open=("open", "sum"), upheld=("upheld", "sum"),
        partially_upheld=("partially_upheld", "sum"), rejected=("rejected", "sum"), withdrawn=("withdrawn", "sum"),
        grade_raised=("raised", "sum"), grade_lowered=("lowered", "sum"), timed=("days", "count"),
    )
    stats["median_days_to_resolve"] = by_cycle["days"].quantile(0.5)
    stats["p90_days_to_resolve"] = by_cycle["days"].quantile(0.9)
    out = cycles.merge(graded.reset_index(), on="cycle_id", how="left").merge(stats.reset_index(), on="cycle_id", how="left")
    counts = ["graded", "appeals", "open", "upheld", "partially_upheld", "rejected", "withdrawn", "grade_raised", "grade_lowered", "timed"]
    out[counts] = out[counts].fillna(0).astype("int64")
    out["resolved"] = out[["upheld", "partially_upheld", "rejected", "withdrawn"]].sum(axis=1)
    out["appeal_rate"] = 100.0 * out["appeals"] / out["graded"].replace(0, np.nan)
    out["upheld_share"] = (out["upheld"] + out["partially_upheld"]) / out["resolved"].replace(0, np.nan)
    return out.rename(columns={"name": "cycle_name"}).sort_values(["start_date", "cycle_id"]).reset_index(drop=True)


def overview_counts(folder: Path) -> pd.DataFrame:
    """The head-count figures of overview_headline (latest cycle, whole company); not attainment."""
    cycle = latest_cycle(read(folder, "cycles", ["cycle_id", "start_date"]))
    people = read(folder, "employees", ["cycle_id", "employee_id"])
    people = people[people["cycle_id"] == cycle][["employee_id"]]
    grades = read(folder, "grades", ["cycle_id", "employee_id", "final_grade"])
    grades = grades[grades["cycle_id"] == cycle].merge(people, on="employee_id")
    appeals = read(folder, "appeals", ["cycle_id", "employee_id", "status"])
    appeals = appeals[appeals["cycle_id"] == cycle].merge(people, on="employee_id")
    return pd.DataFrame([{"employees": len(people), "graded": len(grades), "calibrated": int(grades["final_grade"].notna().sum()),
                          "appeals": len(appeals), "open_appeals": int((appeals["status"] == "open").sum())}])


BASELINES = {"grade_distribution": grade_distribution, "appeal_trends": appeal_trends, "overview_counts": overview_counts}

# baseline -> (named query, params, compared numeric columns, key columns)
SQL_EQUIVALENTS = {
    "grade_distribution": ("grade_distribution", {"group_by": "department"},
                           ["employees", "share", "target_share", "grade_rank", "group_employees", "expected"],
                           ["group_id", "grade"]),
    "appeal_trends": ("appeal_trends", {"group_by": "none"},
                      ["graded", "appeals", "appeal_rate", "open", "upheld", "partially_upheld", "rejected", "withdrawn",
                       "resolved", "upheld_share", "grade_raised", "grade_lowered", "timed",
                       "median_days_to_resolve", "p90_days_to_resolve"],
                      ["cycle_id"]),
    "overview_counts": ("overview_headline", {}, ["employees", "graded", "calibrated", "appeals", "open_appeals"], []),
}

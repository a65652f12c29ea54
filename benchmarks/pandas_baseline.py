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


# ---------------------------------------------------------------- attainment (docs/methods.md, "Goal attainment")


def cycle_dates(folder: Path) -> pd.DataFrame:
    """cycle_id, start_date, end_date as datetimes, in cycle order."""
    cycles = read(folder, "cycles", ["cycle_id", "start_date", "end_date"])
    cycles[["start_date", "end_date"]] = cycles[["start_date", "end_date"]].apply(pd.to_datetime)
    return cycles.sort_values(["start_date", "cycle_id"]).reset_index(drop=True)


def goal_attainment(folder: Path, cycle: str, until: pd.Timestamp, actuals: pd.DataFrame) -> pd.DataFrame:
    """The cycle's goals with their latest actual dated within [cycle start, until] (until: at
    most the cycle's end) and their attainment: actual / target (higher is better) or
    2 - actual / target (lower is better), clipped to [0, cap]; no attainment without an actual
    or with a target that is not positive."""
    cycles = cycle_dates(folder).set_index("cycle_id")
    start, end = cycles.at[cycle, "start_date"], min(cycles.at[cycle, "end_date"], until)
    goals = read(folder, "goals", ["cycle_id", "goal_id", "owner_type", "owner_id", "direction", "target", "weight"])
    goals = goals[goals["cycle_id"] == cycle]
    window = actuals[actuals["goal_id"].isin(goals["goal_id"]) & actuals["as_of"].between(start, end)]
    latest = window.dropna(subset=["actual"]).sort_values("as_of").drop_duplicates("goal_id", keep="last")
    goals = goals.merge(latest[["goal_id", "actual"]], on="goal_id", how="left")
    ratio = goals["actual"] / goals["target"].where(goals["target"] > 0)
    raw = ratio.where(goals["direction"] == "higher_better", 2.0 - ratio).where(goals["direction"].isin(["higher_better", "lower_better"]))
    goals["attainment"] = raw.clip(lower=0.0, upper=load_policy(folder).attainment_cap)
    return goals


def owner_attainment(goals: pd.DataFrame) -> pd.DataFrame:
    """Per owner: sum(weight * attainment) / sum(weight) over goals with an attainment and a
    positive weight (so weights that do not sum to 1 are normalised)."""
    counted = goals[goals["attainment"].notna() & (goals["weight"] > 0)]
    weighted = counted.assign(weighted=counted["weight"] * counted["attainment"])
    sums = weighted.groupby(["owner_type", "owner_id"])[["weighted", "weight"]].sum()
    return (sums["weighted"] / sums["weight"]).rename("attainment").reset_index()


def read_actuals(folder: Path) -> pd.DataFrame:
    return read(folder, "kpi_actuals", ["goal_id", "as_of", "actual"]).assign(as_of=lambda f: pd.to_datetime(f["as_of"]))


def attainment_by_department(folder: Path) -> pd.DataFrame:
    """attainment_by_department, latest cycle at its end, no region filter: per department the
    mean of its employees' owner attainment, and the department's own goals' attainment."""
    cycles = cycle_dates(folder)
    cycle, end = cycles["cycle_id"].iloc[-1], cycles["end_date"].iloc[-1]
    owners = owner_attainment(goal_attainment(folder, cycle, end, read_actuals(folder)))
    people = employee_units(folder, cycle).merge(
        owners[owners["owner_type"] == "employee"][["owner_id", "attainment"]],
        left_on="employee_id", right_on="owner_id", how="left")
    out = people.groupby(["department_id", "department"], dropna=False).agg(
        employees=("employee_id", "size"), employees_with_attainment=("attainment", "count"), attainment=("attainment", "mean"),
    ).reset_index()
    own = owners[owners["owner_type"] == "department"][["owner_id", "attainment"]]
    out = out.merge(own.rename(columns={"owner_id": "department_id", "attainment": "department_goal_attainment"}),
                    on="department_id", how="left")
    out["unplaced"] = out["department_id"].isna()  # "(no department)" last, as the query orders
    return out.sort_values(["unplaced", "department"]).drop(columns="unplaced").reset_index(drop=True)


def attainment_headline(folder: Path) -> pd.DataFrame:
    """attainment_headline, latest cycle at its end, whole company: the `current` row and the
    `previous` one (the cycle before, at its end), as the named query returns both."""
    cycles = cycle_dates(folder)
    actuals = read_actuals(folder)
    people = read(folder, "employees", ["cycle_id", "employee_id"])
    rows = []
    for period, position in (("current", -1), ("previous", -2)):
        if len(cycles) < -position:
            continue
        cycle, end = cycles["cycle_id"].iloc[position], cycles["end_date"].iloc[position]
        goals = goal_attainment(folder, cycle, end, actuals)
        owners = owner_attainment(goals)
        staff = people[people["cycle_id"] == cycle].merge(
            owners[owners["owner_type"] == "employee"], left_on="employee_id", right_on="owner_id", how="left")
        band = goals["attainment"].round(9)  # as the query: thresholds after rounding to 9 decimals
        rows.append({
            "period": period, "cycle_id": cycle, "employees": len(staff),
            "employees_with_attainment": int(staff["attainment"].notna().sum()), "attainment": staff["attainment"].mean(),
            "company_goal_attainment": owners.loc[owners["owner_type"] == "company", "attainment"].mean(),
            "goals": len(goals), "goals_with_attainment": int(band.notna().sum()),
            "on_track": int((band >= 1.0).sum()), "at_risk": int(band.between(0.8, 1.0, inclusive="left").sum()),
            "off_track": int((band < 0.8).sum()),
        })
    out = pd.DataFrame(rows)
    for status in ("on_track", "at_risk", "off_track"):
        out[f"{status}_share"] = out[status] / out["goals_with_attainment"].replace(0, np.nan)
    return out


def overview_headline(folder: Path) -> pd.DataFrame:
    """overview_headline, latest cycle at its end, whole company: head-counts, the employees' mean
    attainment and the company goals' attainment, grading progress and appeals."""
    cycles = cycle_dates(folder)
    cycle, end = cycles["cycle_id"].iloc[-1], cycles["end_date"].iloc[-1]
    people = read(folder, "employees", ["cycle_id", "employee_id"])
    people = people[people["cycle_id"] == cycle][["employee_id"]]
    owners = owner_attainment(goal_attainment(folder, cycle, end, read_actuals(folder)))
    attained = people.merge(owners[owners["owner_type"] == "employee"], left_on="employee_id", right_on="owner_id")
    grades = read(folder, "grades", ["cycle_id", "employee_id", "final_grade"])
    grades = grades[grades["cycle_id"] == cycle].merge(people, on="employee_id")
    appeals = read(folder, "appeals", ["cycle_id", "employee_id", "status"])
    appeals = appeals[appeals["cycle_id"] == cycle].merge(people, on="employee_id")
    return pd.DataFrame([{
        "employees": len(people), "employees_with_attainment": len(attained), "attainment": attained["attainment"].mean(),
        "company_goal_attainment": owners.loc[owners["owner_type"] == "company", "attainment"].mean(),
        "graded": len(grades), "calibrated": int(grades["final_grade"].notna().sum()),
        "appeals": len(appeals), "open_appeals": int((appeals["status"] == "open").sum()),
    }])


BASELINES = {"grade_distribution": grade_distribution, "appeal_trends": appeal_trends, "overview_headline": overview_headline,
             "attainment_by_department": attainment_by_department, "attainment_headline": attainment_headline}

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
    "overview_headline": ("overview_headline", {}, ["employees", "employees_with_attainment", "attainment", "company_goal_attainment",
                                                    "graded", "calibrated", "appeals", "open_appeals"], []),
    "attainment_by_department": ("attainment_by_department", {},
                                 ["employees", "employees_with_attainment", "attainment", "department_goal_attainment"],
                                 ["department_id", "department"]),
    "attainment_headline": ("attainment_headline", {},
                            ["employees", "employees_with_attainment", "attainment", "company_goal_attainment", "goals",
                             "goals_with_attainment", "on_track", "at_risk", "off_track", "on_track_share",
                             "at_risk_share", "off_track_share"],
                            ["period", "cycle_id"]),
}

"""Attainment questions answered by running other named queries with constant parameters.

The headline compares two periods whose cycle and date are found first (attainment_periods):
passing them to attainment_snapshot as bound values lets DuckDB read only those cycles' files
and the precomputed end-of-cycle figures, which one SQL statement deriving them could not.
"""

from __future__ import annotations

import pandas as pd

from gradelens.dataset import Dataset
from gradelens.queries import python_query, run_query


RETURNS = ["period", "cycle_id", "as_of", "employees", "employees_with_attainment", "attainment", "company_goal_attainment",
           "goals", "goals_with_attainment", "on_track", "at_risk", "off_track", "on_track_share", "at_risk_share",
           "off_track_share"]


@python_query("""
-- Is the strategy landing? Attainment and the shares of goals on track, at risk and off track,
-- for a cycle and for the cycle before it.
-- One row per period: `current` (the chosen cycle as of the chosen date) and `previous` (the
-- cycle before it at the same point: its end when the chosen date is the chosen cycle's end,
-- else as many days after its start as the chosen date is after the chosen cycle's start); no
-- `previous` row for the first cycle (attainment_periods). The figures of each row are
-- attainment_snapshot's for that cycle and date: attainment is the mean of the employees' owner
-- attainment; employees without any goal with an actual are counted in employees but not in the
-- mean. The goals counted are those owned within the filters (company and department goals have
-- no region, so a region filter leaves them out); on track is >= 100%, at risk 80-100%, off
-- track < 80%, shares of the goals with an attainment. company_goal_attainment is the company's
-- own goals, whatever the filters.
-- @param cycle cycle=latest  The performance cycle.
-- @param as_of date=null  Attainment as of this date (default: the cycle's end; later dates count as the end).
-- @param department text=null  Only this department_id (default: all).
-- @param region text=null  Only this region (default: all).
-- @needs cycles, employees, goals
-- @privacy aggregate count=employees
-- @returns period, cycle_id, as_of, employees, employees_with_attainment, attainment, company_goal_attainment, goals, goals_with_attainment, on_track, at_risk, off_track, on_track_share, at_risk_share, off_track_share
""")
def attainment_headline(dataset: Dataset, cycle: str, as_of, department: str | None, region: str | None) -> pd.DataFrame:
    periods = run_query(dataset, "attainment_periods", {"cycle": cycle, "as_of": as_of})
    rows = [
        run_query(dataset, "attainment_snapshot", {"cycle": period.cycle_id, "department": department, "region": region,
                                                   "as_of": None if pd.isna(period.until_date) else period.until_date})
        .assign(period=period.period, cycle_id=period.cycle_id, as_of=period.as_of)
        for period in periods.itertuples()
    ]
    if not rows:
        return pd.DataFrame(columns=RETURNS)
    return pd.concat(rows, ignore_index=True)[RETURNS]

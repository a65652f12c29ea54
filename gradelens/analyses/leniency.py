"""Rater leniency as named queries: the crossed random-effects fit of gradelens.leniency over
the pairs of queries/rater_pair_scores.sql, per cycle and rater role.

One fit serves several questions (the ranked raters, a rater's history and ratees, the
spread by department), so fits are memoised per (dataset folder, fingerprint, cycle, role):
a changed dataset has a new fingerprint and is fitted afresh.

The default role's fits (manager, every cycle) are also stored with the derived tables when
the data changes (`write_stored_fits`, called by gradelens/derived.py); the queries read them
when they are current, and give the same rows and values as fitting (tests/test_leniency_stored.py).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from gradelens import derived, leniency
from gradelens.dataset import Dataset
from gradelens.errors import QueryError
from gradelens.queries import cycle_ids, python_query, result_frame, run_query

ROLES = ("manager", "all_but_self", "peer", "subordinate", "customer")
_ROLE_PARAM = "-- @param role choice(manager|all_but_self|peer|subordinate|customer)=manager  Which raters: one role, or every role but self.\n"
_FLAG_PARAMS = (
    "-- @param threshold number=0.25  Smallest |effect| in score points worth flagging.\n"
    "-- @param min_ratees int=5  Fewest ratees a rater needs to be flagged.\n"
)
FIT_CACHE_SIZE = 24
STORED_ROLE = "manager"
"""The role whose fits are stored for every cycle with the derived tables (the page's default)."""


@python_query(
    "-- Which raters score systematically high (lenient) or low (severe), adjusted for their ratees?\n"
    "-- A crossed random-effects model, score = mu + beta * attainment + rater effect + ratee effect\n"
    "-- + residual, fitted to one dimension-weighted score per rater and ratee (docs/methods.md).\n"
    "-- effect: the rater's effect in score points; expected_mean: what an average rater would give\n"
    "-- the same ratees; q_value: Benjamini-Hochberg across raters with at least min_ratees ratees;\n"
    "-- flagged: q < 0.05, |effect| >= threshold and ratees >= min_ratees. Filters keep raters of\n"
    "-- that department or region; the fit and the q-values always cover the whole cycle.\n"
    "-- @param cycle cycle=latest  The performance cycle.\n"
    + _ROLE_PARAM
    + _FLAG_PARAMS
    + "-- @param department text=null  Only raters in this department_id (default: all).\n"
    "-- @param region text=null  Only raters in this region (default: all).\n"
    "-- @needs ratings\n"
    "-- @returns rater_id, rater_name, department_id, department, region, ratees, mean_attainment, raw_mean, "
    "expected_mean, effect, se, z, p_value, q_value, flagged, direction"
)
def rater_leniency(dataset: Dataset, cycle: str, role: str, threshold: float, min_ratees: int,
                   department: str | None, region: str | None) -> pd.DataFrame:
    raters = _flagged_raters(dataset, cycle, role, threshold, min_ratees)
    keep = np.ones(len(raters), dtype=bool)
    if department is not None:
        keep &= (raters["department_id"] == department).to_numpy(dtype=bool, na_value=False)
    if region is not None:
        keep &= (raters["region"] == region).to_numpy(dtype=bool, na_value=False)
    ranked = raters[keep].assign(_size=lambda f: f["effect"].abs())
    ranked = ranked.sort_values(["flagged", "_size", "rater_id"], ascending=[False, False, True], kind="stable")
    return ranked.drop(columns="_size").reset_index(drop=True)


@python_query(
    "-- Is a rater's leniency persistent? Their effect in every cycle in which they rated.\n"
    "-- Each cycle is fitted on its own, as in rater_leniency; cycles without ratings by this rater\n"
    "-- in the role are left out.\n"
    "-- @param rater_id text  The rater's employee_id (or customer id).\n"
    + _ROLE_PARAM
    + _FLAG_PARAMS
    + "-- @param department text=null  Only cycles in which the rater was in this department_id (default: all).\n"
    "-- @needs ratings\n"
    "-- @returns cycle_id, ratees, raw_mean, expected_mean, effect, se, q_value, flagged"
)
def rater_leniency_history(dataset: Dataset, rater_id: str, role: str, threshold: float, min_ratees: int,
                           department: str | None) -> pd.DataFrame:
    rows = []
    stored = _stored(dataset, role)
    if stored is not None:
        _check_flag_limits(threshold, min_ratees)
        everyone = _read_stored(dataset, stored, "leniency_raters", "cycle_id, rater_id, department_id, " + _NUMBERS,
                                "cycle_id IN (SELECT cycle_id FROM {table} WHERE rater_id = $rater_id)", {"rater_id": rater_id})
        by_cycle = dict(tuple(everyone.groupby("cycle_id", sort=False))) if everyone is not None else {}
    for cycle in cycle_ids(dataset):
        if stored is None:
            if department is not None and _department_of(_Keyed(dataset), cycle, rater_id) != department:
                continue
            raters = _flagged_raters(dataset, cycle, role, threshold, min_ratees, named=False)
        elif cycle in by_cycle:
            raters = leniency.flag_raters(by_cycle[cycle].reset_index(drop=True), threshold=threshold, min_ratees=min_ratees)
        else:
            continue
        mine = raters[raters["rater_id"] == rater_id]
        if stored is not None and department is not None and len(mine) and mine["department_id"].iloc[0] != department:
            continue
        if len(mine):
            rows.append(mine.assign(cycle_id=cycle))
    columns = ["cycle_id", "ratees", "raw_mean", "expected_mean", "effect", "se", "q_value", "flagged"]
    if not rows:
        return _empty(columns, {"cycle_id": "object", "ratees": "int64", "flagged": "bool"})
    return pd.concat(rows, ignore_index=True)[columns]


@python_query(
    "-- What did a rater's ratees achieve, and what scores did the rater give them?\n"
    "-- expected_score is the company's relationship at the ratee's attainment (mu + beta * attainment,\n"
    "-- plus the role's shift when roles are pooled); ratee_effect is what other raters' scores say\n"
    "-- about the ratee beyond attainment; rater_effect is the rater's fitted effect.\n"
    "-- @param cycle cycle=latest  The performance cycle.\n"
    "-- @param rater_id text  The rater's employee_id (or customer id).\n"
    + _ROLE_PARAM
    + "-- @param department text=null  Only when the rater is in this department_id, and only their ratees in it (default: all).\n"
    "-- @needs ratings\n"
    "-- @returns ratee_id, ratee_name, rater_role, attainment, score, expected_score, ratee_effect, rater_effect"
)
def rater_ratee_scores(dataset: Dataset, cycle: str, rater_id: str, role: str, department: str | None) -> pd.DataFrame:
    columns = ["ratee_id", "ratee_name", "rater_role", "attainment", "score", "expected_score", "ratee_effect", "rater_effect"]
    stored = _stored(dataset, role)
    mine = None
    if stored is not None:
        mine = _read_stored(dataset, stored, "leniency_pairs", ", ".join(columns) + ", rater_department_id, ratee_department_id",
                            "cycle_id = $cycle AND rater_id = $rater_id", {"cycle": cycle, "rater_id": rater_id})
        if mine is not None and mine.empty:
            if (_stored_model(dataset, stored, cycle, None) or {}).get("pairs"):
                # DuckDB gives no rows of text as object; a fitted cycle's pairs have str columns.
                mine = mine.astype({c: "str" for c in mine.columns if mine[c].dtype == object})
            else:  # a cycle without pairs: fitting it is cheap and gives exactly its empty frame
                mine = None
    if mine is None:
        keyed = _Keyed(dataset)
        pairs = _fit(keyed, cycle, role).pairs
        mine = _name_pairs(pairs[pairs["rater_id"] == rater_id], _directory(keyed, cycle))
    if department is not None:
        mine = mine[(mine["rater_department_id"] == department).fillna(False).astype(bool)
                    & (mine["ratee_department_id"] == department).fillna(False).astype(bool)]
    return mine[columns].sort_values(["attainment", "ratee_id"], na_position="last").reset_index(drop=True)


@python_query(
    "-- Where is calibration most needed? The spread of rater effects in each department.\n"
    "-- Over raters with at least min_ratees ratees (smaller ones are shrunk towards 0 and would hide\n"
    "-- the spread); lenient and severe count flagged raters. Widest spread first.\n"
    "-- @param cycle cycle=latest  The performance cycle.\n"
    + _ROLE_PARAM
    + _FLAG_PARAMS
    + "-- @param department text=null  Only raters in this department_id (default: all).\n"
    "-- @param region text=null  Only raters in this region (default: all).\n"
    "-- @privacy aggregate count=raters\n"
    "-- @needs ratings\n"
    "-- @returns department_id, department, raters, lenient, severe, effect_sd, effect_min, effect_median, effect_max"
)
def rater_leniency_by_department(dataset: Dataset, cycle: str, role: str, threshold: float, min_ratees: int,
                                 department: str | None, region: str | None) -> pd.DataFrame:
    raters = _flagged_raters(dataset, cycle, role, threshold, min_ratees)
    raters = raters[raters["ratees"] >= min_ratees]
    if department is not None:
        raters = raters[(raters["department_id"] == department).to_numpy(dtype=bool, na_value=False)]
    if region is not None:
        raters = raters[(raters["region"] == region).to_numpy(dtype=bool, na_value=False)]
    return department_spread(raters)


def department_spread(raters: pd.DataFrame) -> pd.DataFrame:
    """Per department: raters, flagged lenient / severe, and the spread of effects."""
    columns = ["department_id", "department", "raters", "lenient", "severe", "effect_sd", "effect_min", "effect_median", "effect_max"]
    if raters.empty:
        return _empty(columns, {"department_id": "object", "department": "object", "raters": "int64", "lenient": "int64", "severe": "int64"})
    frame = raters.assign(
        department=raters["department"].fillna("(no department)"),
        _lenient=raters["flagged"] & (raters["effect"] > 0),
        _severe=raters["flagged"] & (raters["effect"] < 0),
    )
    grouped = frame.groupby(["department_id", "department"], dropna=False, sort=False)
    summary = grouped.agg(
        raters=("rater_id", "size"),
        lenient=("_lenient", "sum"),
        severe=("_severe", "sum"),
        effect_sd=("effect", lambda e: float(np.std(e, ddof=1)) if len(e) > 1 else np.nan),
        effect_min=("effect", "min"),
        effect_median=("effect", "median"),
        effect_max=("effect", "max"),
    ).reset_index()
    summary = summary.astype({"raters": "int64", "lenient": "int64", "severe": "int64"})
    return summary.sort_values(["effect_sd", "department"], ascending=[False, True], na_position="last").reset_index(drop=True)[columns]


@python_query(
    "-- How was the leniency model fitted for a cycle and role? One row: data sizes, the fixed\n"
    "-- effects, the variance components (as standard deviations, in score points) and the methods.\n"
    "-- beta is the score points per 1.0 (100%) of attainment, empty when attainment is not used.\n"
    "-- ratee_effects_separate is false when no ratee has two raters: then rater and team quality are\n"
    "-- told apart only through attainment.\n"
    "-- @param cycle cycle=latest  The performance cycle.\n"
    + _ROLE_PARAM
    + "-- @param department text=null  Count only pairs whose rater and ratee are both in this department_id; the fit\n"
    "-- itself always covers the whole cycle (default: all).\n"
    "-- @needs ratings\n"
    "-- @returns pairs, raters, ratees, mu, beta, attainment_adjusted, attainment_coverage, rater_sd, "
    "ratee_sd, residual_sd, ratee_effects_separate, variance_method, se_method, converged"
)
def rater_leniency_model(dataset: Dataset, cycle: str, role: str, department: str | None) -> pd.DataFrame:
    stored = _stored(dataset, role)
    row = None
    if stored is not None:
        row = _stored_model(dataset, stored, cycle, department)
    if row is None:
        keyed = _Keyed(dataset)
        result = _fit(keyed, cycle, role)
        pairs = result.pairs
        if department is not None:
            pairs = pairs[_in_department(keyed, cycle, pairs["rater_id"], department) & _in_department(keyed, cycle, pairs["ratee_id"], department)]
        row = _model_row(result, pairs)
    return pd.DataFrame([row])


def _model_row(result: leniency.LeniencyResult, pairs: pd.DataFrame) -> dict[str, object]:
    """The model query's row: counts over `pairs` (the whole cycle's or a department's), the rest from the fit."""
    fit = result.fit
    return {
        "pairs": len(pairs),
        "raters": int(pairs["rater_id"].nunique()),
        "ratees": int(pairs["ratee_id"].nunique()),
        "mu": fit.fixed("intercept", np.nan) if fit else np.nan,
        "beta": fit.fixed("attainment", np.nan) if fit and result.attainment_adjusted else np.nan,
        "attainment_adjusted": result.attainment_adjusted,
        "attainment_coverage": result.attainment_coverage,
        "rater_sd": float(np.sqrt(fit.rater_variance)) if fit else np.nan,
        "ratee_sd": float(np.sqrt(fit.ratee_variance)) if fit else np.nan,
        "residual_sd": float(np.sqrt(fit.residual_variance)) if fit else np.nan,
        "ratee_effects_separate": bool(fit.ratee_variance_identified) if fit else False,
        "variance_method": fit.method if fit else None,
        "se_method": fit.pev_method if fit else None,
        "converged": bool(fit.converged) if fit else True,
    }


@python_query(
    "-- Who is who in a cycle's ratings: name, department and region of every employee of the\n"
    "-- cycle and of every rater who is not one (customers keep their id as name and have no\n"
    "-- department or region). Used to label raters and ratees of the leniency fits.\n"
    "-- @param cycle cycle=latest  The performance cycle.\n"
    "-- @param department text=null  Only people of this department_id (default: all; customers and other\n"
    "-- raters who are not employees belong to no department).\n"
    "-- @needs ratings\n"
    "-- @returns person_id, name, department_id, department, region"
)
def rater_directory(dataset: Dataset, cycle: str, department: str | None) -> pd.DataFrame:
    # The raters who are not employees take a DISTINCT over the cycle's every rating (14.6M at
    # 1M employees: 2 of the 3.5 s this took); they are stored with the leniency fits, so only
    # the employees are read here when those are current.
    # The rows (a million at 1M employees, five text columns) come through Arrow: pandas builds
    # its Arrow-backed text columns from Arrow's about three times faster than from .df()'s
    # Python strings, and the frame is the same (a test compares them).
    folder = derived.leniency_folder(dataset.path, dataset.policy)
    stored = folder / OUTSIDE_RATERS if folder is not None else None
    with dataset.cursor() as con:
        if stored is None or not stored.is_dir():
            sql, params = _directory_sql(_OUTSIDE_RATERS_SQL), {"cycle": cycle, "department": department}
        else:
            files = [str(f) for f in sorted(stored.rglob("*.parquet"))]
            outside = ("SELECT rater_id FROM read_parquet($files, hive_partitioning = true, hive_types = {'cycle_id': VARCHAR}) "
                       "WHERE cycle_id = $cycle") if files else "SELECT NULL::VARCHAR AS rater_id WHERE false"
            sql, params = _directory_sql(outside), {"cycle": cycle, "department": department, **({"files": files} if files else {})}
        return con.sql(sql, params=params).to_arrow_table().to_pandas()


OUTSIDE_RATERS = "leniency_outside_raters"
"""The stored table (per cycle) of raters who are not employees of the cycle (write_stored_fits)."""
_OUTSIDE_RATERS_SQL = """
    SELECT DISTINCT rater_id FROM ratings WHERE cycle_id = $cycle AND rater_id IS NOT NULL
    AND rater_id NOT IN (SELECT employee_id FROM employees WHERE cycle_id = $cycle)"""


def _directory_sql(outside_raters: str) -> str:
    """rater_directory's SQL, the raters who are not employees given by `outside_raters` (a SELECT of rater_id)."""
    return f"""
    SELECT employee_id AS person_id, name, department_id, department, region
    FROM employee_units
    WHERE cycle_id = $cycle AND ($department IS NULL OR department_id = $department)
    UNION ALL
    SELECT r.rater_id, r.rater_id, NULL, NULL, NULL
    FROM ({outside_raters}) AS r
    WHERE $department IS NULL
    ORDER BY person_id"""


# ----------------------------------------------------------------------------- fits


class _Keyed:
    """A dataset that hashes by (folder, fingerprint), so a fit is memoised per version."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset
        self.key = (str(dataset.path), dataset.fingerprint)

    def __hash__(self) -> int:
        return hash(self.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Keyed) and other.key == self.key


@functools.lru_cache(maxsize=FIT_CACHE_SIZE)
def _fit(keyed: _Keyed, cycle: str, role: str) -> leniency.LeniencyResult:
    pairs = run_query(keyed.dataset, "rater_pair_scores", {"cycle": cycle, "role": role})
    return leniency.estimate_leniency(pairs)


@functools.lru_cache(maxsize=FIT_CACHE_SIZE)
def _directory(keyed: _Keyed, cycle: str) -> pd.DataFrame:
    people = run_query(keyed.dataset, "rater_directory", {"cycle": cycle})
    return people.drop_duplicates("person_id").set_index("person_id")


def _department_of(keyed: _Keyed, cycle: str, person_id: str) -> str | None:
    departments = _directory(keyed, cycle)["department_id"]
    return departments.get(person_id) if person_id in departments.index else None


def _in_department(keyed: _Keyed, cycle: str, people: pd.Series, department: str) -> pd.Series:
    """Whether each person was in the department in the cycle (customers never are)."""
    departments = people.map(_directory(keyed, cycle)["department_id"])
    return (departments == department).fillna(False).astype(bool)


def _check_flag_limits(threshold: float, min_ratees: int) -> None:
    if threshold < 0 or min_ratees < 1:
        raise QueryError("errors.leniency_flag_limits", threshold=threshold, min_ratees=min_ratees)


def _flagged_raters(dataset: Dataset, cycle: str, role: str, threshold: float, min_ratees: int, named: bool = True) -> pd.DataFrame:
    """The fit's raters with q-values and flags; with `named`, their name, department and region."""
    _check_flag_limits(threshold, min_ratees)
    stored = _stored(dataset, role) if named else None
    raters = None
    if stored is not None:
        raters = _read_stored(dataset, stored, "leniency_raters", _NAMED_COLUMNS, "cycle_id = $cycle", {"cycle": cycle})
    if raters is None or raters.empty:  # not stored, or a cycle without raters (computed: the same empty frame, cheaply)
        keyed = _Keyed(dataset)
        raters = _fit(keyed, cycle, role).raters
        if named:
            raters = _name_raters(raters, _directory(keyed, cycle))
    raters = leniency.flag_raters(raters, threshold=threshold, min_ratees=min_ratees)
    return raters.assign(direction=np.where(raters["effect"].to_numpy() < 0, "severe", "lenient"))


def _name_raters(raters: pd.DataFrame, directory: pd.DataFrame) -> pd.DataFrame:
    """The fit's raters with their name (their id when unknown), department and region."""
    people = directory.reindex(raters["rater_id"])
    raters = raters.assign(
        rater_name=np.where(people["name"].isna(), raters["rater_id"], people["name"]),
        department_id=people["department_id"].to_numpy(),
        department=people["department"].to_numpy(),
        region=people["region"].to_numpy(),
    )
    return raters[["rater_id", "rater_name", "department_id", "department", "region", *leniency.RATER_COLUMNS[1:]]]


def _name_pairs(pairs: pd.DataFrame, directory: pd.DataFrame) -> pd.DataFrame:
    """The fit's pairs with the ratee's name (their id when unknown) and both people's departments."""
    departments = directory["department_id"]
    return pairs.assign(
        ratee_name=pairs["ratee_id"].map(directory["name"]).fillna(pairs["ratee_id"]),
        rater_department_id=pairs["rater_id"].map(departments),
        ratee_department_id=pairs["ratee_id"].map(departments),
    )


# ----------------------------------------------------------------------------- stored fits

_NUMBERS = "ratees, mean_attainment, raw_mean, expected_mean, effect, se, z, p_value, q_value, flagged"
_NAMED_COLUMNS = "rater_id, rater_name, department_id, department, region, " + _NUMBERS
_MODEL_TYPES: dict[str, Callable[[object], object]] = {
    "pairs": int, "raters": int, "ratees": int, "mu": float, "beta": float, "attainment_adjusted": bool,
    "attainment_coverage": float, "rater_sd": float, "ratee_sd": float, "residual_sd": float,
    "ratee_effects_separate": bool, "variance_method": str, "se_method": str, "converged": bool,
}


def _stored(dataset: Dataset, role: str) -> Path | None:
    """The folder of stored fits when they are current and hold `role`, else None (fit on demand)."""
    if role != STORED_ROLE:
        return None
    return derived.leniency_folder(dataset.path, dataset.policy)


def _read_stored(dataset: Dataset, folder: Path, table: str, columns: str, where: str, params: dict[str, object],
                 order: str = "ORDER BY cycle_id, rater_id") -> pd.DataFrame | None:
    """Rows of a stored table (`where` may refer to the table itself as {table}); None when it has no files."""
    files = [str(f) for f in sorted((folder / table).rglob("*.parquet"))]
    if not files:
        return None
    source = "read_parquet($files, hive_partitioning = true, hive_types = {'cycle_id': VARCHAR})"
    sql = f"SELECT {columns} FROM {source} WHERE {where.format(table=source)} {order}"
    with dataset.cursor() as con:
        return result_frame(con, sql, {"files": files, **params})


def _stored_model(dataset: Dataset, folder: Path, cycle: str, department: str | None) -> dict[str, object] | None:
    """The model query's row from the stored fit of `cycle`, or None when it is not stored."""
    stored = _read_stored(dataset, folder, "leniency_fits", ", ".join(_MODEL_TYPES), "cycle_id = $cycle", {"cycle": cycle}, order="")
    if stored is None or stored.empty:
        return None
    values = stored.iloc[0]
    row = {name: None if pd.isna(values[name]) and convert is str else convert(values[name]) for name, convert in _MODEL_TYPES.items()}
    if department is not None:
        counts = _read_stored(
            dataset, folder, "leniency_pairs", "count(*) AS pairs, count(DISTINCT rater_id) AS raters, count(DISTINCT ratee_id) AS ratees",
            "cycle_id = $cycle AND rater_department_id = $department AND ratee_department_id = $department",
            {"cycle": cycle, "department": department}, order="",
        )
        row.update({name: int(counts[name].iloc[0]) for name in ("pairs", "raters", "ratees")})
    return row


def write_stored_fits(dataset: Dataset, folder: Path, progress: Callable[[float], None] = lambda fraction: None) -> None:
    """Fit the stored role for every cycle and write what the queries read to `folder`:

        leniency_raters/cycle_id=<id>/   the fit's raters, named (unflagged: flags depend on the query's parameters)
        leniency_pairs/cycle_id=<id>/    the fit's pairs with the ratee's name and both people's departments
        leniency_fits/cycle_id=<id>/     the model query's row for the whole cycle (one per cycle, fitted or empty)
        leniency_outside_raters/cycle_id=<id>/  the cycle's raters who are not its employees (rater_directory)

    Fitted here exactly as on demand (rater_pair_scores, estimate_leniency, rater_directory),
    one cycle at a time, so memory stays that of one fit.
    """
    cycles = cycle_ids(dataset)
    (folder / OUTSIDE_RATERS).mkdir()  # present even when no cycle has such raters: then none are
    with dataset.cursor() as con:
        for done, cycle in enumerate(cycles):
            result = leniency.estimate_leniency(run_query(dataset, "rater_pair_scores", {"cycle": cycle, "role": STORED_ROLE}))
            outside = con.execute(_OUTSIDE_RATERS_SQL + " ORDER BY rater_id", {"cycle": cycle}).df()
            con.register("_outside_raters", outside)
            try:  # rater_directory as it reads the stored rows
                directory = con.execute(_directory_sql("SELECT rater_id FROM _outside_raters"), {"cycle": cycle, "department": None}).df()
            finally:
                con.unregister("_outside_raters")
            directory = directory.drop_duplicates("person_id").set_index("person_id")
            tables = {
                "leniency_raters": _name_raters(result.raters, directory),
                "leniency_pairs": _name_pairs(result.pairs.drop(columns="dimensions"), directory),
                "leniency_fits": pd.DataFrame([_model_row(result, result.pairs)]).astype({"variance_method": "str", "se_method": "str"}),
                OUTSIDE_RATERS: outside,
            }
            for name, frame in tables.items():
                con.register("_stored_frame", frame.assign(cycle_id=cycle))
                try:
                    con.execute(
                        "COPY (SELECT * FROM _stored_frame) TO $target (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (cycle_id), "
                        "FILENAME_PATTERN 'part-{i}', OVERWRITE_OR_IGNORE true)",
                        {"target": str(folder / name)},
                    )
                finally:
                    con.unregister("_stored_frame")
            progress((done + 1) / len(cycles))


def _empty(columns: list[str], dtypes: dict[str, str]) -> pd.DataFrame:
    """No rows, with the query's columns (numbers unless `dtypes` says otherwise)."""
    return pd.DataFrame({c: pd.Series(dtype=dtypes.get(c, "float64")) for c in columns})

"""Small-group suppression on query results, as pure functions on data frames.

A *unit* is one group of a breakdown (the rows sharing the `by` columns, e.g. one department's
five grade rows); a *breakdown* is all units sharing the `within` columns (e.g. one cycle).
A unit whose count is under `min_size` is hidden (primary suppression, reason `small_group`).
If a breakdown then has exactly one hidden unit and others shown, the smallest shown unit is
hidden too (reason `complementary`), so the hidden one cannot be worked out by subtracting the
shown ones from a total published elsewhere. Hidden cells become null; the `suppressed`
column says why (null where nothing was hidden). Label columns (text, dates) stay, and so does a unit's
headcount when units are given with `by`.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

SMALL_GROUP = "small_group"
COMPLEMENTARY = "complementary"
REASON_COLUMN = "suppressed"
# Flags that say "this group is too small": a hidden group is reported as small, which is
# true of the result shown and keeps pages that filter on them working.
SMALL_GROUP_FLAGS = ("small_group", "below_min_group")
# Policy values repeated on result rows (the guideline), not facts about the group's people.
POLICY_COLUMNS = ("grade_rank", "target_share", "guideline", "min_group_size")


def value_columns(frame: pd.DataFrame, keep: Sequence[str] = ()) -> list[str]:
    """The numeric and boolean columns, which suppression hides; labels are kept."""
    return [
        c for c in frame.columns
        if c not in keep and c != REASON_COLUMN
        and (pd.api.types.is_numeric_dtype(frame[c]) or pd.api.types.is_bool_dtype(frame[c]))
    ]


def suppress(
    frame: pd.DataFrame,
    count: str,
    min_size: int,
    by: Sequence[str] | None = None,
    within: Sequence[str] = (),
) -> pd.DataFrame:
    """A copy of `frame` with small units and their complements hidden (see module doc).

    `by` None makes each row its own unit. A missing count column hides everything, since
    the group size cannot be checked.
    """
    out = frame.copy()
    reasons = pd.Series([None] * len(out), index=out.index, dtype=object)
    if len(out) == 0:
        out[REASON_COLUMN] = reasons
        return out
    # With `by`, the count is the unit's headcount (e.g. group_employees), not a result about
    # its people, and stays visible; without it the count may itself be the result (people
    # per grade), so it is hidden with the rest.
    hide = value_columns(out, keep=[*(by or ()), *within, *([count] if by else []), *POLICY_COLUMNS])
    if count not in out.columns:
        reasons[:] = SMALL_GROUP
        return _apply(out, reasons, hide)
    sizes = pd.to_numeric(out[count], errors="coerce")
    units = _keys(out, by) if by else pd.Series(range(len(out)), index=out.index).astype(str)
    breakdowns = _keys(out, within) if within else pd.Series([""] * len(out), index=out.index)
    # A unit's size: the largest count on its rows (a unit's rows share it, or are parts of it).
    unit_size = sizes.groupby(units).transform("max")
    small = unit_size.isna() | (unit_size < min_size)
    reasons[small] = SMALL_GROUP
    for _, rows in out.groupby(breakdowns, sort=False).groups.items():
        block_units = units.loc[rows]
        hidden = set(block_units[small.loc[rows]])
        shown = block_units[~small.loc[rows]]
        if len(hidden) == 1 and len(shown) > 0:
            shown_sizes = unit_size.loc[shown.index].groupby(shown).max().sort_values(kind="stable")
            victim = shown_sizes.index[0]
            reasons[block_units.index[block_units == victim]] = COMPLEMENTARY
    return _apply(out, reasons, hide)


def _keys(frame: pd.DataFrame, columns: Sequence[str]) -> pd.Series:
    present = [c for c in columns if c in frame.columns]
    if not present:
        return pd.Series([""] * len(frame), index=frame.index)
    return frame[present].astype(str).agg("\x1f".join, axis=1)


def _apply(frame: pd.DataFrame, reasons: pd.Series, hide: list[str]) -> pd.DataFrame:
    mask = reasons.notna()
    if mask.any():
        for column in hide:
            if column in SMALL_GROUP_FLAGS:
                frame[column] = frame[column].astype("boolean")
                frame.loc[mask, column] = True
            elif pd.api.types.is_bool_dtype(frame[column]):
                frame[column] = frame[column].astype("boolean")
                frame.loc[mask, column] = pd.NA
            else:
                frame[column] = frame[column].astype("float64")
                frame.loc[mask, column] = float("nan")
    frame[REASON_COLUMN] = reasons
    return frame

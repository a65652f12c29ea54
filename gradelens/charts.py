"""Chart styling declared once: the grade colours, the attainment colour scale, number formats.

Every page uses these so a grade or an attainment level looks the same everywhere.
"""

from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go

from gradelens.i18n import t

# Best grade first; colour-blind-safe ramp from strong blue (S) to red (D).
GRADE_COLORS = {"S": "#1f4e9c", "A": "#4a90c8", "B": "#9ab8ca", "C": "#f2a35e", "D": "#c8423b"}
FALLBACK_GRADE_COLOR = "#888888"
TARGET_COLOR = "#222222"

# Attainment: red below 80 %, amber to 100 %, green above (diverging at 100 %).
ATTAINMENT_COLORSCALE = [
    [0.0, "#c8423b"],
    [0.8 / 1.5, "#f2a35e"],
    [1.0 / 1.5, "#f4f1e1"],
    [1.2 / 1.5, "#7fbf7b"],
    [1.0, "#1b7837"],
]
ATTAINMENT_RANGE = (0.0, 1.5)

FONT_FAMILY = '"Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", sans-serif'


def grade_color(grade: str) -> str:
    return GRADE_COLORS.get(grade, FALLBACK_GRADE_COLOR)


def percent(value: float | None, digits: int = 1) -> str:
    """0.873 -> '87.3%'; missing -> '–'."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or pd.isna(value):
        return "–"
    return f"{value * 100:.{digits}f}%"


def style(fig: go.Figure, height: int = 360) -> go.Figure:
    """The house layout: CJK-capable font, tight margins, horizontal legend on top."""
    fig.update_layout(
        height=height,
        margin=dict(l=10, r=10, t=40, b=10),
        font=dict(family=FONT_FAMILY, size=13),
        legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="left", x=0),
        hoverlabel=dict(font_family=FONT_FAMILY),
    )
    return fig


def grade_mix_chart(mix: pd.DataFrame, title: str = "") -> go.Figure:
    """Bars of actual grade shares with the guideline's target share as markers.

    Expects the columns of the grade_mix query: grade, employees, share, target_share.
    """
    fig = go.Figure()
    fig.add_bar(
        x=mix["grade"],
        y=mix["share"],
        marker_color=[grade_color(g) for g in mix["grade"]],
        name=t("overview.chart_actual"),
        customdata=mix[["employees"]],
        hovertemplate=t("overview.chart_hover_actual") + "<extra></extra>",
    )
    fig.add_scatter(
        x=mix["grade"],
        y=mix["target_share"],
        mode="markers",
        marker=dict(symbol="line-ew-open", size=40, color=TARGET_COLOR, line=dict(width=3, color=TARGET_COLOR)),
        name=t("overview.chart_guideline"),
        hovertemplate=t("overview.chart_hover_guideline") + "<extra></extra>",
    )
    fig.update_yaxes(tickformat=".0%", title=None, rangemode="tozero")
    fig.update_xaxes(title=None, type="category")
    fig.update_layout(title=title or None, bargap=0.35)
    return style(fig, height=320)

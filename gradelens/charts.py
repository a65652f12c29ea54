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


def warm_up() -> None:
    """Load what plotly and Streamlit load on a figure's first use: one module per trace type
    and layout part, and the pandas adapter, 0.2-0.5 s on a page's first visit otherwise. Draws,
    without showing, one small figure of each kind the pages draw; app.py runs it once per
    server process."""
    import plotly.colors
    import plotly.io as pio
    from plotly.tools import return_figure_from_figure_or_data

    frame = pd.DataFrame({"x": ["a", "b"], "y": [0.5, 1.0], "n": [1, 2]})
    bars = go.Figure()
    bars.add_bar(x=frame["x"], y=frame["y"], marker_color=["#000000", "#ffffff"], customdata=frame[["n"]], text=["a", "b"])
    bars.add_scatter(x=frame["x"], y=frame["y"], mode="lines+markers+text", line=dict(color="#000000", dash="dot"),
                     marker=dict(symbol="line-ew-open", size=4, line=dict(width=1, color="#000000")), error_y=dict(array=[0.1, 0.1]),
                     textfont=dict(size=10), selected=dict(marker=dict(opacity=1), textfont=dict(color="#000000")),
                     unselected=dict(marker=dict(opacity=0.3), textfont=dict(color="#000000")))
    bars.add_box(y=["a"], q1=[0.0], median=[0.5], q3=[1.0], lowerfence=[0.0], upperfence=[1.0], orientation="h", marker=dict(color="#000000"),
                 line=dict(color="#000000"))
    bars.add_hline(y=1.0, line_dash="dot")
    bars.add_vline(x=0, line=dict(color="#000000", width=1), annotation_text="a")
    bars.add_annotation(text="a", x="a", y=0.5, font=dict(size=10))
    bars.update_xaxes(title=dict(text="a"), type="category")
    bars.update_yaxes(title=dict(text="a"), tickformat=".0%", rangemode="tozero")
    bars.update_layout(title=dict(text="a"))
    plotly.colors.sample_colorscale(ATTAINMENT_COLORSCALE, [0.5])
    heatmap = go.Figure(go.Heatmap(z=[[0.5]], x=["a"], y=["b"], colorscale=ATTAINMENT_COLORSCALE, colorbar=dict(title="a", tickformat=".0%")))
    icicle = go.Figure(go.Icicle(ids=["a"], parents=[""], labels=["a"], values=[1], branchvalues="total", text=["a"],
                                 marker=dict(colors=["#ffffff"], line=dict(color="#ffffff", width=1)), tiling=dict(orientation="h")))
    for fig in (bars, heatmap, icicle):
        pio.to_json(return_figure_from_figure_or_data(style(fig), validate_figure=True), validate=False)

"""gradelens: the entry point. Run with `uv run streamlit run app.py`.

Each page renders the shared sidebar filters itself (`ui.sidebar_filters()`), so a page
also runs on its own, as AppTest reruns it.
"""

from pathlib import Path

import streamlit as st

from gradelens import charts
from gradelens.i18n import normalise, t
from gradelens.navigation import ENTRY_MARK, PAGES


@st.cache_resource(show_spinner=False)
def _charts_warmed_up() -> bool:
    # Once per server process: the first visit of each page then does not load plotly's parts.
    charts.warm_up()
    return True


st.set_page_config(page_title="gradelens", page_icon="📊", layout="wide")
st.session_state[ENTRY_MARK] = True  # this session's pages run under this navigation

# The menu speaks the page's language: the one chosen in the sidebar, else the URL's or the browser's.
language = st.session_state.get("lang") or normalise(st.query_params.get("lang") or st.context.locale)
pages = [
    st.Page(spec.path, title=t(f"{Path(spec.path).stem}.title", language), icon=spec.icon, default=index == 0)
    for index, spec in enumerate(PAGES)
]
_charts_warmed_up()
st.navigation(pages).run()

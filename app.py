"""gradelens: the entry point. Run with `uv run streamlit run app.py`.

Each page renders the shared sidebar filters itself (`ui.sidebar_filters()`), so a page
also runs on its own, as AppTest reruns it.
"""

import threading
from pathlib import Path

import streamlit as st

from gradelens.i18n import normalise, t
from gradelens.navigation import ENTRY_MARK, PAGES


@st.cache_resource(show_spinner=False)
def _warm_up_charts() -> threading.Thread:
    # Once per server process, beside the sessions: later first visits of each page do not load
    # plotly's parts. In the background, so no session's first run waits for it before
    # st.navigation (a run that has not called it yet shows Streamlit's pages-folder menu).
    thread = threading.Thread(target=_warm_up, name="gradelens-chart-warm-up", daemon=True)
    thread.start()
    return thread


def _warm_up() -> None:
    from gradelens import charts  # imported here: plotly takes a second or two to import

    charts.warm_up()


st.set_page_config(page_title="gradelens", page_icon="📊", layout="wide")
st.session_state[ENTRY_MARK] = True  # this session's pages run under this navigation

# The menu speaks the page's language: the one chosen in the sidebar, else the URL's or the browser's.
language = st.session_state.get("lang") or normalise(st.query_params.get("lang") or st.context.locale)
pages = [
    st.Page(spec.path, title=t(f"{Path(spec.path).stem}.title", language), icon=spec.icon, default=index == 0)
    for index, spec in enumerate(PAGES)
]
page = st.navigation(pages)
_warm_up_charts()
page.run()

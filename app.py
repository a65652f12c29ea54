"""gradelens: the entry point. Run with `uv run streamlit run app.py`.

Each page renders the shared sidebar filters itself (`ui.sidebar_filters()`), so a page
also runs on its own, as AppTest reruns it.
"""

import streamlit as st

from gradelens.navigation import PAGES

st.set_page_config(page_title="gradelens", page_icon=":material/insights:", layout="wide")

pages = [st.Page(spec.path, title=spec.title, icon=spec.icon, default=index == 0) for index, spec in enumerate(PAGES)]
st.navigation(pages).run()

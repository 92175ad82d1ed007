"""PersonaGraph in the browser (``persona ui``). The chat page comes first; the user lives in
the URL (``?user=sam``), and so do each page's filters, so a link reopens the same view."""

from __future__ import annotations

import streamlit as st

from agent.policies import describe_policy
from ui import clients
from ui.render import md

st.set_page_config(page_title="PersonaGraph", layout="wide")

pages = [
    st.Page("views/chat.py", title="Chat", default=True),
    st.Page("views/explorer.py", title="Graph explorer", url_path="explorer"),
    st.Page("views/analytics.py", title="Timeline & analytics", url_path="analytics"),
    st.Page("views/memory.py", title="Memory admin", url_path="memory"),
]
nav = st.navigation(pages)

with st.sidebar:
    st.markdown("### PersonaGraph")
    c = clients.get(banner=False)
    users = [u["id"] for u in c.analytics.users()] if c else []
    wanted = st.query_params.get("user")
    if wanted and wanted not in users:
        users = [*users, wanted]  # a new user, or one the server does not know (said below)
    st.selectbox(
        "User",
        users,
        index=None,
        key="user",
        bind="query-params",
        accept_new_options=True,
        placeholder="pick or type a new user id",
    )
    s = clients.settings()
    st.caption("policy: " + md(describe_policy(s)))
    if c:
        info = c.app.conn.info
        st.caption(md(f"Neo4j {info.version} at {info.address}"))

nav.run()

"""Clients built once per Streamlit server (``st.cache_resource``) from settings read once.
A server that cannot be reached is not cached: the page shows how to start it and the next
rerun tries again."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import streamlit as st

from graph.analytics import Analytics
from pipelines.app import App, open_checkpoints
from schema.errors import PersonaError
from schema.settings import Settings

__all__ = ["Clients", "get", "settings"]


@dataclass
class Clients:
    app: App
    analytics: Analytics
    checkpointer: Any  # a SqliteSaver shared by the chat page


@st.cache_resource(show_spinner=False)
def settings() -> Settings:
    """The environment, read once per server process."""
    return Settings()


@st.cache_resource(show_spinner="Connecting to Neo4j ...")
def _clients() -> Clients:
    from langgraph.checkpoint.sqlite import SqliteSaver

    app = App(settings())
    app.store  # noqa: B018  (connects, migrates; raises when the server is down)
    saver = SqliteSaver(open_checkpoints(app.settings))
    return Clients(app=app, analytics=Analytics(app.conn), checkpointer=saver)


_START = "start the embedded server with `persona db start` (or check NEO4J_URI), then reload"


def get(*, banner: bool = True) -> Clients | None:
    """The clients, or None after showing (when ``banner``) what is wrong and the fix; the
    sidebar asks quietly so the banner appears once, on the page."""
    try:
        return _clients()
    except Exception as exc:  # PersonaError or a driver error: a banner, never a traceback
        if banner:
            msg = exc.message if isinstance(exc, PersonaError) else f"{type(exc).__name__}: {exc}"
            st.error(f"**Neo4j is not reachable.** {msg}")
            hint = exc.hint if isinstance(exc, PersonaError) and exc.hint else ""
            st.info(f"Fix: {_START} this page." + (f" ({hint})" if hint else ""))
        return None

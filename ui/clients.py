"""Clients built once per Streamlit server (``st.cache_resource``) from settings read once.
A server that cannot be reached is not cached: the page shows how to start it and the next
rerun tries again."""

from __future__ import annotations

import contextlib
import gc
import importlib
import threading
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


#: what the other pages import on their first visit (pandas and altair for the charts):
#: about 2 s on this 2-core machine, paid once per server. Not st_link_analysis: a component
#: declared outside a script run is not served to the browser (and it imports in ~30 ms).
_PAGE_MODULES = ("pandas", "altair")


def _preload() -> None:
    for name in _PAGE_MODULES:
        with contextlib.suppress(ImportError):  # the page that needs it says so when opened
            importlib.import_module(name)
    gc.freeze()  # what these imports built joins what the app froze (pipelines.app.settle_heap)


@st.cache_resource(show_spinner="Connecting to Neo4j ...")
def _clients() -> Clients:
    from langgraph.checkpoint.sqlite import SqliteSaver

    # warm the other pages' imports while the first one loads the embedder, so a page's first
    # visit costs its queries and charts, not its imports
    threading.Thread(target=_preload, name="persona-preload", daemon=True).start()
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

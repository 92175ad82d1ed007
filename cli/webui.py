"""`persona ui`: the Streamlit app on 127.0.0.1, against the same Neo4j as the CLI (the
embedded server is started first when needed). The app runs as a program of its own
(``streamlit run ui/app.py``): it reads the same settings from the environment."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from cli._shared import app, console, make_app, settings
from schema.errors import ConfigError

__all__ = ["app_path", "streamlit_command"]


def app_path() -> Path:
    """ui/app.py, located without importing the package (it is its own program)."""
    spec = importlib.util.find_spec("ui")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            "the Streamlit app (package `ui`) is not installed",
            hint="make install (the `ui` extra: streamlit, st-link-analysis)",
        )
    return Path(next(iter(spec.submodule_search_locations))) / "app.py"


def streamlit_command(port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app_path()),
        "--server.address",
        "127.0.0.1",
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
        "--global.developmentMode",
        "false",
    ]


@app.command("ui")
def ui_cmd(
    port: Annotated[int, typer.Option("--port", "-p", help="port on 127.0.0.1")] = 8501,
) -> None:
    """Serve the Streamlit app (chat, graph explorer, analytics, memory admin) on 127.0.0.1."""
    if not 1 <= port <= 65535:
        raise typer.BadParameter(f"{port} is not a port (1-65535)", param_hint="--port")
    try:
        import streamlit  # noqa: F401
    except ImportError as exc:
        raise ConfigError(
            "streamlit is not installed", hint="make install (the `ui` extra)"
        ) from exc
    a = make_app()
    a.store  # noqa: B018  (starts the embedded server if needed, migrates)
    a.close()
    env = dict(os.environ)
    env.setdefault("PERSONA_HOME", str(settings().home))
    console.print(f"PersonaGraph UI on http://127.0.0.1:{port}/  (Ctrl-C stops it)")
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C stops the app: not an error
        subprocess.run(streamlit_command(port), env=env, check=False)

"""``persona``: the command line, one module per command group. With the Streamlit app it is
an entry point: settings are read here once, clients built here and passed down, and user
errors translated here, at the edge. It sits above ``pipelines`` and ``training`` and joins
them (``persona train all`` runs pipelines' data generation, then training's SFT and GRPO);
``persona ui`` starts the Streamlit app (``ui/``) as a program of its own."""

from __future__ import annotations

import sys

from cli import agent as _agent  # noqa: F401  (registers its commands)
from cli import memory as _memory  # noqa: F401
from cli import webui as _webui  # noqa: F401
from cli._shared import _State, app, show_error
from cli.analytics import analytics_app
from cli.bench import bench_group
from cli.db import db_app
from cli.train import train_app
from schema.errors import PersonaError

__all__ = ["_State", "app", "main"]

app.add_typer(db_app, name="db")
app.add_typer(bench_group, name="bench")
app.add_typer(train_app, name="train")
app.add_typer(analytics_app, name="analytics")


def main() -> None:
    try:
        app()
    except PersonaError as exc:
        show_error(exc)
        sys.exit(2)

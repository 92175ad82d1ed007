"""The Streamlit app in a real browser (Debian Chromium driven by python playwright): every
page opens, the chat answers a question with its memories, the explorer draws a graph, the
analytics page a chart. Without Chromium the test fails at once with the install command
(it never hangs waiting for a browser)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from agent_helpers import SAMPLE_QUESTION, ingest_sample, new_user

from pipelines.bench.browser import INSTALL_HINT, chromium_path, drive, serve_streamlit
from schema.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]

APP = Path(__file__).resolve().parent.parent / "ui" / "app.py"


@pytest.fixture(scope="module")
def chromium() -> str:
    exe = chromium_path()
    if exe is None:
        pytest.fail(f"Chromium is not installed; install it with: {INSTALL_HINT}")
    return exe


def test_every_page_in_a_real_browser(
    chromium: str,
    settings: Settings,
    neo4j_server: Any,
    session_store: Any,
    embedder: Any,
    tmp_path: Path,
) -> None:
    user = ingest_sample(session_store, embedder, new_user("browser"))
    env = {
        "PERSONA_HOME": str(settings.home),
        "PERSONA_POLICY": "offline",
        "PERSONA_TIMEZONE": "UTC",
    }
    with serve_streamlit(APP, env) as base:
        run = drive(base, user, SAMPLE_QUESTION, tmp_path / "shots")
    report = {k: v for k, v in run.__dict__.items()}
    (tmp_path / "ui.json").write_text(json.dumps(report, indent=1))
    print(json.dumps(report, indent=1))  # the browser test's report (timings)
    assert set(run.first_render_s) == {"chat", "explorer", "analytics", "memory"}
    assert "Nguyen" in run.answer_text  # the answer, quoting the memory it came from
    assert run.graph_drawn
    assert run.charts >= 1
    assert len(run.screenshots) == 4 and all(
        Path(p).stat().st_size > 10_000 for p in run.screenshots
    )

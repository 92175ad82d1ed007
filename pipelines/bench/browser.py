"""The Streamlit app in a real browser: Debian's Chromium driven by Python playwright (never
``playwright install``, which cannot download here). Serves the app, opens every page, asks a
question on the chat page and waits for the answer with its memories, checks that the
explorer draws a graph and analytics a chart, takes screenshots, and times it all.

Used by ``persona bench ui`` (report in docs/benchmarks/ui.md, screenshots in
docs/screenshots/) and by the browser tests.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "CHROMIUM",
    "INSTALL_HINT",
    "BrowserRun",
    "chromium_path",
    "drive",
    "serve_streamlit",
]

CHROMIUM = "/usr/bin/chromium"
INSTALL_HINT = "make chromium  (or: sudo apt-get install -y chromium)"
_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]


def chromium_path() -> str | None:
    found = shutil.which("chromium") or (CHROMIUM if Path(CHROMIUM).is_file() else None)
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve_streamlit(
    app_path: Path, env: dict[str, str], *, port: int | None = None, timeout_s: float = 90
) -> Iterator[str]:
    """``streamlit run`` on 127.0.0.1; yields the base URL once /_stcore/health answers."""
    port = port or free_port()
    cmd = [
        sys.executable, "-m", "streamlit", "run", str(app_path),
        "--server.address", "127.0.0.1", "--server.port", str(port),
        "--server.headless", "true", "--browser.gatherUsageStats", "false",
        "--server.fileWatcherType", "none", "--global.developmentMode", "false",
    ]  # fmt: skip
    proc = subprocess.Popen(
        cmd, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            if proc.poll() is not None:
                out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
                raise RuntimeError(f"streamlit exited with {proc.returncode}:\n{out[-2000:]}")
            try:
                with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"streamlit did not answer on {base} in {timeout_s:.0f} s")
            time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@dataclass
class BrowserRun:
    first_render_s: dict[str, float] = field(default_factory=dict)
    #: each page reached from the app's own navigation (a click in the sidebar of the tab that
    #: holds the app: what a user does), its first visit after the server is up
    nav_s: dict[str, float] = field(default_factory=dict)
    #: every later visit of each page (a fresh tab each time), when ``rounds`` > 1
    again_s: dict[str, list[float]] = field(default_factory=dict)
    answer_s: float | None = None
    answer_text: str = ""
    graph_drawn: bool = False
    charts: int = 0
    screenshots: list[str] = field(default_factory=list)
    cold_start_s: float | None = None


def _wait_idle(page: Any, timeout_ms: int) -> None:
    page.wait_for_selector(
        '[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=timeout_ms
    )


def drive(
    base: str,
    user: str,
    question: str,
    shots: Path | None,
    *,
    timeout_s: float = 60,
    rounds: int = 1,
    pages_user: str | None = None,
) -> BrowserRun:
    """Reach every page through the app's navigation, then open each by its URL ``rounds``
    times, each time in a new browser context (a visitor with an empty cache); ask
    ``question`` on the chat page (as ``user``); look for the graph and a chart. The pages are
    shown for ``pages_user`` (default ``user``): a bigger memory makes a fairer test."""
    from playwright.sync_api import sync_playwright

    exe = chromium_path()
    if exe is None:
        raise FileNotFoundError(f"Chromium is not installed: {INSTALL_HINT}")
    run = BrowserRun()
    ms = int(timeout_s * 1000)
    shown = pages_user or user
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, headless=True, args=_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            t0 = time.perf_counter()
            page.goto(f"{base}/?user={shown}", timeout=ms)  # cold: builds the clients
            page.get_by_text("Chat", exact=True).first.wait_for(timeout=ms * 3)
            _wait_idle(page, ms * 3)
            run.cold_start_s = round(time.perf_counter() - t0, 2)
            pages = {
                "chat": "Chat",
                "explorer": "Graph explorer",
                "analytics": "Timeline & analytics",
                "memory": "Memory admin",
            }
            for path in ("explorer", "analytics", "memory", "chat"):  # chat last: it is open
                t0 = time.perf_counter()
                page.get_by_test_id("stSidebarNavLink").filter(has_text=pages[path]).first.click(
                    timeout=ms
                )
                page.locator("h1", has_text=pages[path]).first.wait_for(timeout=ms)
                _wait_idle(page, ms)
                run.nav_s[path] = round(time.perf_counter() - t0, 2)
            for visit in range(rounds):
                shots_now = shots if visit == 0 else None
                for path, title in pages.items():
                    fresh = browser.new_page(viewport={"width": 1400, "height": 1100})
                    t0 = time.perf_counter()
                    url = "" if path == "chat" else path  # the default page lives at the root
                    fresh.goto(f"{base}/{url}?user={shown}", timeout=ms)
                    fresh.locator("h1", has_text=title).first.wait_for(timeout=ms)
                    _wait_idle(fresh, ms)
                    took = round(time.perf_counter() - t0, 2)
                    if visit == 0:
                        run.first_render_s[path] = took
                    else:
                        run.again_s.setdefault(path, []).append(took)
                    try:
                        if path == "explorer":
                            frame = fresh.locator("iframe").first
                            frame.wait_for(timeout=ms)
                            run.graph_drawn = frame.is_visible()
                            fresh.wait_for_timeout(2500)  # let Cytoscape lay the graph out
                        if path == "analytics":
                            chart = fresh.locator('[data-testid="stVegaLiteChart"]')
                            chart.first.wait_for(timeout=ms)
                            run.charts = chart.count()
                    except Exception as exc:  # leave the evidence: what the page showed
                        if shots is not None:
                            shots.mkdir(parents=True, exist_ok=True)
                            fresh.screenshot(path=str(shots / f"failed-{path}.png"), full_page=True)
                        raise AssertionError(
                            f"{path}: {exc}\npage text:\n{fresh.inner_text('body')[:3000]}"
                        ) from exc
                    if shots_now is not None and path != "chat":
                        shots_now.mkdir(parents=True, exist_ok=True)
                        target = shots_now / f"{path}.png"
                        fresh.screenshot(path=str(target), full_page=True)
                        run.screenshots.append(str(target))
                    fresh.close()
            page.close()  # the first tab sat idle while the others ran: ask in a fresh one
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            page.goto(f"{base}/?user={user}", timeout=ms)
            _wait_idle(page, ms)
            box = page.get_by_test_id("stChatInputTextArea")
            try:
                box.fill(question, timeout=ms)
            except Exception as exc:
                if shots is not None:
                    shots.mkdir(parents=True, exist_ok=True)
                    page.screenshot(path=str(shots / "failed-chat.png"), full_page=True)
                raise AssertionError(
                    f"chat: {exc}\npage text:\n{page.inner_text('body')[:3000]}"
                ) from exc
            t0 = time.perf_counter()
            box.press("Enter")
            answer = page.locator('[data-testid="stChatMessage"]', has_text="offline policy")
            answer.first.wait_for(timeout=ms)
            _wait_idle(page, ms)
            run.answer_s = round(time.perf_counter() - t0, 2)
            run.answer_text = answer.first.inner_text()
            if shots is not None:
                target = shots / "chat.png"
                page.screenshot(path=str(target), full_page=True)
                run.screenshots.append(str(target))
        finally:
            browser.close()
    return run

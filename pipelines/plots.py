"""Plots people would rather see than read (matplotlib, headless)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates
import matplotlib.pyplot as plt

from schema.nodes import TRAITS, PersonalitySnapshot

__all__ = ["personality_plot"]


def personality_plot(history: Sequence[PersonalitySnapshot], out: Path, *, title: str) -> Path:
    """The five traits over time (1-5), one line each, from the snapshots."""
    snaps = sorted(history, key=lambda s: s.step)
    fig, ax = plt.subplots(figsize=(8, 4))
    times = mdates.date2num([s.t for s in snaps])
    for trait in TRAITS:
        ax.plot(times, [getattr(s, trait) for s in snaps], marker="o", ms=3, label=trait)
    ax.set_ylim(1, 5)
    ax.set_ylabel("trait level (1-5)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8, ncols=3)
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m-%d"))
    fig.autofmt_xdate()
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out

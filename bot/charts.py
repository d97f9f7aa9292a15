"""Drawing a `Chart` as a PNG (matplotlib, no display needed)."""
from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from handlers.types import Chart  # noqa: E402

COLOURS = {"verified": "#2a9d8f", "done": "#8ab17d", "in progress": "#e9c46a", "claimed": "#f4a261",
           "open": "#e76f51"}


def png(chart: Chart, *, width: float = 7.5, height: float = 3.6) -> bytes:
    fig, ax = plt.subplots(figsize=(width, height), dpi=110)
    try:
        bottoms = [0] * len(chart.categories)
        for name, values in chart.series.items():
            ax.bar(chart.categories, values, bottom=bottoms, label=name, color=COLOURS.get(name))
            bottoms = [b + v for b, v in zip(bottoms, values, strict=True)]
        ax.set_title(chart.title, fontsize=10)
        ax.set_ylabel("units")
        ax.legend(fontsize=8, ncols=len(chart.series), loc="upper center", bbox_to_anchor=(0.5, -0.12), frameon=False)
        ax.spines[["top", "right"]].set_visible(False)
        fig.tight_layout()
        out = io.BytesIO()
        fig.savefig(out, format="png")
        return out.getvalue()
    finally:
        plt.close(fig)

"""Drawing a `Chart` as a PNG (matplotlib, no display needed).

Charts are drawn off the event loop, on worker threads: pyplot keeps global state and is not
thread-safe, so each chart is its own `matplotlib.figure.Figure` with the Agg canvas.
"""
from __future__ import annotations

import io

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from handlers.types import Chart

# Okabe-Ito: told apart with every common kind of colour blindness
COLOURS = {"verified": "#009E73", "done": "#56B4E9", "in progress": "#E69F00", "claimed": "#F0E442",
           "open": "#D55E00", "paid": "#0072B2", "billed": "#CC79A7"}
OTHERS = ["#0072B2", "#CC79A7", "#000000", "#999999"]


def png(chart: Chart, *, width: float = 7.5, height: float = 3.6) -> bytes:
    fig = Figure(figsize=(width, height), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    bottoms = [0] * len(chart.categories)
    shown = [(name, values) for name, values in chart.series.items() if any(values)]  # no empty legend entries
    for i, (name, values) in enumerate(shown):
        ax.bar(chart.categories, values, bottom=bottoms, label=name,
               color=COLOURS.get(name, OTHERS[i % len(OTHERS)]))
        bottoms = [b + v for b, v in zip(bottoms, values, strict=True)]
    ax.set_title(chart.title, fontsize=10)
    ax.set_ylabel(chart.unit)
    if shown:
        ax.legend(fontsize=8, ncols=len(shown), loc="upper center", bbox_to_anchor=(0.5, -0.12), frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()

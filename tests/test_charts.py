"""Charts are drawn on worker threads, several at once: each is its own figure, never pyplot's."""
from __future__ import annotations

import threading

from bot.charts import png
from handlers.types import Chart


def test_charts_drawn_at_once_on_many_threads_are_each_whole():
    charts = [Chart(title=f"SR-{i}", categories=["SR-1", "SR-2", "SR-3"], series={"verified": [i, 2, 3], "open": [1, i, 0]})
              for i in range(8)]
    alone = [png(c) for c in charts]
    drawn: dict[int, bytes] = {}
    start = threading.Barrier(len(charts))

    def draw(i: int) -> None:
        start.wait(10)
        drawn[i] = png(charts[i])

    threads = [threading.Thread(target=draw, args=(i,)) for i in range(len(charts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert [drawn[i] for i in range(len(charts))] == alone  # no chart took another's bars or title
    assert len(set(alone)) == len(charts)


def test_a_chart_of_money_is_drawn_and_one_without_values_still_draws():
    assert png(Chart(title="Paid", categories=["Contoso"], series={"paid": [140]}, unit="$")).startswith(b"\x89PNG")
    assert png(Chart(title="Nothing yet", categories=[], series={})).startswith(b"\x89PNG")


def test_a_horizontal_chart_of_shares_reads_top_down_with_late_bars_marked():
    from bot.charts import figure

    chart = Chart(title="Units by status", categories=["LATE · SR-2", "SR-1"], horizontal=True, shares=True,
                  series={"verified": [1, 0], "done": [0, 0], "open": [3, 10]}, marked=[0])
    ax = figure(chart).axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["LATE · SR-2", "SR-1"] and ax.yaxis_inverted()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["verified", "open"]  # "done" is empty
    assert [[bar.get_width() for bar in bars] for bars in ax.containers] == [[0.25, 0.0], [0.75, 1.0]]
    assert [bar.get_hatch() for bar in ax.containers[1]] == ["//", None]
    assert png(chart).startswith(b"\x89PNG")

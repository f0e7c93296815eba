"""A comparison chart of a backtest (matplotlib; returns a Figure, no pyplot state)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .methods import METHOD_LABELS

if TYPE_CHECKING:  # matplotlib is imported when a chart is drawn, not with the package
    from matplotlib.figure import Figure


def plot_backtest(result) -> Figure:  # type: ignore[no-untyped-def]
    """Left: mean PAI at 1/5/10% of the area per method with bootstrap intervals and the line
    PAI = 1 (no better than chance); right: PAI at the criterion's coverage per origin."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4.5), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.1, 1]})
    s = result.summary
    cols = [c for c in s.columns if c.startswith("pai_") and not c.endswith(("_low", "_high"))]
    n_m = len(s)
    width = 0.8 / max(len(cols), 1)
    x = np.arange(n_m)
    for k, c in enumerate(cols):
        mean = s[c].to_numpy(float)
        lo = mean - s[c + "_low"].to_numpy(float)
        hi = s[c + "_high"].to_numpy(float) - mean
        ax1.bar(x + (k - (len(cols) - 1) / 2) * width, mean, width,
                yerr=np.vstack([lo, hi]), capsize=3, label=f"PAI bij {c.split('_')[1]}%")
    ax1.axhline(1.0, color="grey", lw=1, ls="--")
    ax1.set_xticks(x, [METHOD_LABELS.get(m, m).split(" (")[0] for m in s["method"]],
                   rotation=30, ha="right")
    ax1.set_ylabel("PAI (gemiddelde, 95%-interval)")
    title = "Backtest" + (f" {result.crime_type}" if result.crime_type else "")
    ax1.set_title(f"{title}: venster {result.window.days} dagen")
    ax1.legend(fontsize=8)
    m = result.criterion.metric
    for method, grp in result.scores.groupby("method", sort=False):
        ax2.plot(grp["origin"], grp[m], marker="o", ms=3, lw=1,
                 label=METHOD_LABELS.get(str(method), str(method)).split(" (")[0])
    ax2.axhline(1.0, color="grey", lw=1, ls="--")
    ax2.set_ylabel(m.upper().replace("_", " @ ") + "%")
    ax2.set_title("per startmoment")
    ax2.legend(fontsize=7)
    for label in ax2.get_xticklabels():
        label.set_rotation(30)
    fig.suptitle(result.verdict, fontsize=8, wrap=True)
    return fig

"""PNG plots of sweep tables: an estimate against the first grid parameter, one line per
value of the others, with 1.96-SE error bars."""
from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

__all__ = ["plot_sweep"]


def plot_sweep(
    frame: Any,
    grid_keys: Sequence[str],
    path: str | os.PathLike[str],
    *,
    title: str | None = None,
    estimates: Sequence[str] | None = None,
    max_panels: int = 4,
) -> list[str]:
    """Draw `frame` (a `sweep` table) to `path`; returns the list of estimates drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid_keys = list(grid_keys)
    x_key, line_keys = grid_keys[0], grid_keys[1:]
    if estimates is None:
        estimates = [c[:-3] for c in frame.columns if c.endswith("_se") and c[:-3] in frame.columns]
    estimates = list(estimates)[:max_panels]
    if not estimates:
        raise ValueError("the table has no estimate with a standard error to plot")
    fig, axes = plt.subplots(1, len(estimates), figsize=(5.2 * len(estimates), 4.0), squeeze=False)
    # lines are grouped by the text of their values, so that list-valued parameters group too
    labels = [tuple(map(str, row)) for row in frame[line_keys].itertuples(index=False, name=None)]
    groups = sorted(set(labels)) if line_keys else [()]
    for ax, est in zip(axes[0], estimates):
        for group in groups:
            sub = frame[[label == group for label in labels]] if line_keys else frame
            x = sub[x_key]
            numeric = getattr(x, "dtype", None) is not None and x.dtype.kind in "iuf"
            xs = x.to_numpy() if numeric else range(len(x))
            label = ", ".join(f"{k}={v}" for k, v in zip(line_keys, group)) or None
            ax.errorbar(xs, sub[est], yerr=1.96 * sub[f"{est}_se"], marker="o", capsize=3, label=label)
            if not numeric:
                ax.set_xticks(list(xs), [str(v) for v in x])
        ax.set_xlabel(x_key)
        ax.set_ylabel(est)
        ax.grid(alpha=0.3)
        if line_keys:
            ax.legend(fontsize=8)
    if title:
        fig.suptitle(f"{title} (error bars: 1.96 SE)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return estimates

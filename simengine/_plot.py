"""The picture of a sweep table (`simengine sweep --plot`): each estimate against the first grid parameter, one
line per value of the others, 1.96-SE error bars, labels in words, reference lines and a caption.

Drawing only (matplotlib, imported on use); the numbers come from the table.
"""
from __future__ import annotations

import itertools
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = ["ESTIMATE_LABELS", "PARAMETER_LABELS", "VALUE_LABELS", "plot_sweep", "sweep_figure"]

# estimate -> axis label in words (an estimate not listed shows its name with spaces)
ESTIMATE_LABELS = {
    "rejected_any_look": "P(reject at any look)",
    "rejected_final": "P(reject at the final look)",
    "expected_visitors_per_arm": "expected visitors per arm",
    "power": "power: P(reject)",
    "fwer": "family-wise error rate: P(any false rejection)",
    "fdr": "false discovery rate",
    "mean_rejections": "mean rejections per family",
    "coverage": "coverage: P(interval contains p)",
    "mean_width": "mean interval width",
    "exact_coverage": "exact coverage",
    "exact_mean_width": "exact mean interval width",
    "prob_b_better": "P(B better than A)",
    "expected_loss_a": "expected loss of choosing A",
    "expected_loss_b": "expected loss of choosing B",
    "prob_best": "P(best arm)",
    "expected_loss": "expected loss",
    "prob_declare_peeking": "P(declare a winner at any look)",
    "prob_declare_final": "P(declare a winner at the final look)",
    "detection_rate": "P(drift detected)",
    "false_alarm_rate": "P(false alarm before the drift)",
    "false_alarms_per_stream": "false alarms per stream",
    "delay_mean": "mean detection delay (steps)",
    "delay_median": "median detection delay (steps)",
}

# grid parameter -> axis or legend title in words
PARAMETER_LABELS = {
    "n_looks": "number of looks",
    "visitors_per_look": "visitors per arm per look",
    "total_visitors": "visitors per arm in total",
    "boundary": "boundary",
    "test": "test",
    "lift": "lift",
    "rate": "conversion rate",
    "alpha": "alpha",
    "n": "sample size n",
    "effect_size": "effect size",
    "distribution": "distribution",
    "methods": "method",
    "p": "true proportion p",
    "n_tests": "tests per family",
    "n_true": "true effects per family",
    "n_per_group": "sample size per group",
    "detector": "detector",
    "drift": "drift",
    "error_after": "error rate after the drift",
    "error_before": "error rate before the drift",
    "n_steps": "stream length (steps)",
    "threshold": "decision threshold",
    "prior": "prior",
}

# parameter values -> legend names
VALUE_LABELS = {
    "none": "no boundary",
    "pocock": "Pocock",
    "obrien-fleming": "O'Brien-Fleming",
    "t": "t-test",
    "welch": "Welch t-test",
    "mannwhitney": "Mann-Whitney U",
    "permutation": "permutation test",
    "msprt": "mSPRT",
    "normal": "Wald (normal)",
    "wilson": "Wilson",
    "jeffreys": "Jeffreys",
    "beta": "Clopper-Pearson",
    "agresti_coull": "Agresti-Coull",
    "ddm": "DDM",
    "adwin": "ADWIN",
    "sudden": "sudden",
    "gradual": "gradual",
    "lognormal": "lognormal",
}

_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")
_LINESTYLES = ("-", "--", ":", "-.")


def _words(name: str) -> str:
    return name.replace("_", " ")


def _value_label(value: object) -> str:
    return VALUE_LABELS.get(value, str(value)) if isinstance(value, str) else str(value)


def _reference(estimate: str, simulation: str | None, fixed: dict[str, Any]) -> tuple[float, str] | None:
    """(y, label) of the line the question measures this estimate against, or None."""
    alpha = fixed.get("alpha", 0.05)
    grid = fixed.get("_grid", ())
    if not isinstance(alpha, (int, float)) or "alpha" in grid:  # no single nominal level to draw
        return None
    a_a = fixed.get("lift", 0.0) == 0 and "lift" not in grid  # an A/A test: every rejection is a false positive
    if estimate in ("rejected_any_look", "rejected_final") and simulation in (None, "peeking") and a_a:
        return alpha, f"nominal alpha = {alpha:g}"
    if estimate in ("fwer", "fdr"):
        return alpha, f"alpha = {alpha:g}"
    if estimate in ("coverage", "exact_coverage"):
        return 1 - alpha, f"nominal {1 - alpha:.0%}"
    if estimate == "power":
        return 0.8, "target power 0.8"
    return None


def _caption(frame: pd.DataFrame, fixed: dict[str, Any], seed: object, target_se: float | None) -> str:
    parts = []
    if "n_sims" in frame.columns and len(frame):
        lo, hi = int(frame["n_sims"].min()), int(frame["n_sims"].max())
        sims = f"{lo:,} simulations per point" if lo == hi else f"{lo:,} to {hi:,} simulations per point"
        if target_se is not None:
            sims += f" (until every SE <= {target_se:g})"
        parts.append(sims)
    if seed is not None:
        parts.append(f"seed {seed}")
    parts.append("error bars: 1.96 SE")
    shown = [f"{k} = {v}" for k, v in fixed.items() if not k.startswith("_")]
    text = "; ".join(parts)
    if shown:
        text += "\nfixed: " + ", ".join(shown)
    return text


def _groups(frame: pd.DataFrame, line_keys: list[str], grid: dict[str, Any] | None) -> list[tuple[str, ...]]:
    """Line groups (tuples of the line parameters' values) in the spec's order."""
    present = {tuple(row) for row in frame[line_keys].astype(str).itertuples(index=False, name=None)}
    if grid is not None:
        ordered = list(itertools.product(*[[str(v) for v in grid[k]] for k in line_keys]))
    else:  # first appearance in the table (the sweep writes its points in grid order)
        ordered = list(dict.fromkeys(tuple(row) for row in frame[line_keys].astype(str).itertuples(index=False,
                                                                                                   name=None)))
    return [g for g in ordered if g in present]


def sweep_figure(frame: pd.DataFrame, grid: Mapping[str, Any] | Sequence[str], *, title: str | None = None,
                 estimates: Sequence[str] | None = None, max_panels: int = 4, fixed: Mapping[str, Any] | None = None,
                 simulation: str | None = None, seed: object = None, target_se: float | None = None) -> Figure:
    """The matplotlib Figure of a `sweep` table; see `plot_sweep`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.ticker import MaxNLocator

    grid_values = dict(grid) if isinstance(grid, dict) else None
    grid_keys = list(grid)
    fixed = dict(fixed or {})
    if seed is None:
        seed = frame.attrs.get("seed")
    x_key, line_keys = grid_keys[0], grid_keys[1:]
    if estimates is None:
        estimates = [c[:-3] for c in frame.columns if c.endswith("_se") and c[:-3] in frame.columns]
    estimates = list(estimates)[:max_panels]
    if not estimates:
        raise ValueError("the table has no estimate with a standard error to plot")
    fig, axes = plt.subplots(1, len(estimates), figsize=(5.4 * len(estimates), 4.4), squeeze=False)
    labels = [tuple(row) for row in frame[line_keys].astype(str).itertuples(index=False, name=None)]
    groups = _groups(frame, line_keys, grid_values) if line_keys else [()]
    x_all = frame[x_key]
    numeric = x_all.dtype.kind in "iuf"
    integer = x_all.dtype.kind in "iu"
    log_x = False
    if numeric:
        values = np.unique(x_all.to_numpy())
        span = float(values.max() - values.min()) if len(values) > 1 else 1.0
        # values crowded at one end (n = 10, 20, 30, ..., 500) spread out on a log axis
        log_x = bool(len(values) > 2 and values.min() > 0 and np.diff(values).min() < span / 25)
        if log_x:
            span = float(np.log(values.max() / values.min()))
    else:  # categories in the spec's order, at 0, 1, 2, ...
        order = [str(v) for v in grid_values[x_key]] if grid_values else list(dict.fromkeys(map(str, x_all)))
        positions = {v: i for i, v in enumerate(order)}
        span = max(len(order) - 1, 1)
    # lines that coincide stay visible: each line its own marker and dash, shifted sideways by a little
    step = 0.012 * span if len(groups) > 1 else 0.0
    for ax, est in zip(axes[0], estimates):
        for i, group in enumerate(groups):
            sub = frame[[lab == group for lab in labels]] if line_keys else frame
            x = sub[x_key]
            xs = x.to_numpy(dtype=float) if numeric else np.array([positions[str(v)] for v in x], dtype=float)
            shift = (i - (len(groups) - 1) / 2) * step
            xs = xs * np.exp(shift) if log_x else xs + shift
            label: str | None
            if len(line_keys) == 1:
                label = _value_label(sub[line_keys[0]].iloc[0])
            else:
                label = ", ".join(_value_label(sub[k].iloc[0]) for k in line_keys) or None
            ax.errorbar(xs, sub[est], yerr=1.96 * sub[f"{est}_se"], marker=_MARKERS[i % len(_MARKERS)],
                        linestyle=_LINESTYLES[(i // len(_MARKERS)) % len(_LINESTYLES)], markersize=5,
                        capsize=3, label=label, markerfacecolor="none" if i % 2 else None)
        ref = _reference(est, simulation, {**fixed, "_grid": tuple(grid_keys)})
        if ref is not None:
            ax.axhline(ref[0], color="0.35", linestyle=(0, (4, 3)), linewidth=1.0, label=ref[1], zorder=0)
        if numeric:
            if log_x:
                ax.set_xscale("log")
                ax.minorticks_off()
            if integer and (len(values) <= 12 or log_x):
                ax.set_xticks([int(v) for v in values], [str(int(v)) for v in values])
            elif integer:
                ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            elif log_x:
                ax.set_xticks(list(values), [f"{v:g}" for v in values])
        else:
            ax.set_xticks(range(len(order)), [_value_label(v) for v in order])
        ax.set_xlabel(PARAMETER_LABELS.get(x_key, _words(x_key)))
        ax.set_ylabel(ESTIMATE_LABELS.get(est, _words(est)))
        ax.grid(alpha=0.3)
        if line_keys or ref is not None:
            legend_title = " / ".join(PARAMETER_LABELS.get(k, _words(k)) for k in line_keys) or None
            handles, texts = ax.get_legend_handles_labels()
            if ref is not None:  # the lines first, in the spec's order; the reference line last
                k = texts.index(ref[1])
                handles = handles[:k] + handles[k + 1:] + [handles[k]]
                texts = texts[:k] + texts[k + 1:] + [texts[k]]
            ax.legend(handles, texts, fontsize=8, title=legend_title, title_fontsize=8)
    if title:
        fig.suptitle(title)
    fig.text(0.01, 0.01, _caption(frame, fixed, seed, target_se), fontsize=7.5, color="0.25", va="bottom")
    n_caption_lines = 2 if fixed else 1
    fig.tight_layout(rect=(0, 0.035 * n_caption_lines + 0.01, 1, 1))
    return cast("Figure", fig)


def plot_sweep(frame: pd.DataFrame, grid_keys: Mapping[str, Any] | Sequence[str], path: str | os.PathLike[str], *,
               title: str | None = None, estimates: Sequence[str] | None = None, max_panels: int = 4,
               fixed: Mapping[str, Any] | None = None, simulation: str | None = None, seed: object = None,
               target_se: float | None = None) -> list[str]:
    """Draw `frame` (a `sweep` table) to the PNG `path`; returns the list of estimates drawn.

    `grid_keys` is the sweep's grid (a dict keeps the spec's value order for the legend) or its parameter names;
    the first is the x axis. `fixed`, `simulation`, `seed` and `target_se` feed the reference lines and the
    caption (`seed` defaults to ``frame.attrs["seed"]``).
    """
    import matplotlib.pyplot as plt

    estimates = list(estimates)[:max_panels] if estimates is not None else None
    fig = sweep_figure(frame, grid_keys, title=title, estimates=estimates, max_panels=max_panels, fixed=fixed,
                       simulation=simulation, seed=seed, target_se=target_se)
    if estimates is None:
        estimates = [c[:-3] for c in frame.columns if c.endswith("_se") and c[:-3] in frame.columns][:max_panels]
    try:
        fig.savefig(path, dpi=110)
    finally:
        plt.close(fig)
    return estimates

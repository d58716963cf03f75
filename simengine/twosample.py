"""Classical two-sample tests batched over columns: Student/Welch t and Mann-Whitney U.

Statistics come from numba kernels (one test per column, in parallel); p-values
use scipy's distribution functions so they agree with `scipy.stats` to rounding.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simengine import _validate as v
from simengine._results import ResultMixin
from simengine.permutation import _as_rows

__all__ = ["ttest_ind", "mannwhitneyu", "TtestResult", "MannwhitneyuResult"]


@dataclass(frozen=True, slots=True)
class TtestResult(ResultMixin):
    """Result of `ttest_ind` (scipy's field names).

    Attributes
    ----------
    statistic : float or ndarray
        t statistic of x minus y, one per column for 2-D input.
    pvalue : float or ndarray
        p-value for `alternative`.
    df : float or ndarray
        Degrees of freedom (n1 + n2 - 2, or Welch-Satterthwaite).
    """

    statistic: float | np.ndarray
    pvalue: float | np.ndarray
    df: float | np.ndarray


@dataclass(frozen=True, slots=True)
class MannwhitneyuResult(ResultMixin):
    """Result of `mannwhitneyu` (scipy's field names).

    Attributes
    ----------
    statistic : float or ndarray
        U statistic of `x` (scipy's U1), one per column for 2-D input.
    pvalue : float or ndarray
        Asymptotic (normal-approximation, tie-corrected) p-value.
    """

    statistic: float | np.ndarray
    pvalue: float | np.ndarray


def _unwrap(one_d, *arrays):
    return tuple(float(a[0]) for a in arrays) if one_d else arrays


def _t_pvalue(t, df, alternative):
    """scipy's t-test p-value from t and df (via the Student-t CDF, `scipy.special.stdtr`)."""
    from scipy import special

    if alternative == "less":
        p = special.stdtr(df, t)
    elif alternative == "greater":
        p = special.stdtr(df, -t)
    else:
        p = 2.0 * special.stdtr(df, -np.abs(t))
    return np.clip(p, 0.0, 1.0)


def _rescaled_ttest(xr, yr, equal_var, t, df, overflow):
    """Recompute the rows whose moments over- or underflowed on data scaled by a power of two.

    t and df are scale-free and scaling by 2**-e is exact (barring values under 1e-300 that
    vanish next to those near 1e308), so this is the same test, computed without overflow.
    """
    from simengine.kernels.hypothesis import _ttest_ind_rows

    rows = np.flatnonzero(overflow)
    xs, ys = xr[rows], yr[rows]
    big = np.maximum(np.abs(xs).max(axis=1), np.abs(ys).max(axis=1))
    scale = np.ldexp(1.0, -np.frexp(big)[1])[:, None]  # |values| < 1 after scaling
    with np.errstate(over="ignore", under="ignore"):
        ts, dfs, _ = _ttest_ind_rows(np.ascontiguousarray(xs * scale), np.ascontiguousarray(ys * scale), equal_var)
    if not (np.isfinite(ts) | np.isnan(ts)).all() and not np.isfinite(big).all():
        raise ValueError("`x` and `y` hold values whose moments cannot be computed")  # not reachable for finite data
    t, df = t.copy(), df.copy()
    t[rows], df[rows] = ts, dfs
    return t, df


def ttest_ind(x, y, *, equal_var=True, alternative="two-sided", axis=0) -> TtestResult:
    """Two-sample t-test (Student's pooled, or Welch's), one test per column.

    Agrees with ``scipy.stats.ttest_ind(x, y, equal_var=..., alternative=..., axis=...)``
    to rtol 1e-10 (Student 1908; Welch 1947).

    Parameters
    ----------
    x, y : array_like
        Samples: 1-D, or 2-D with observations along `axis` and one test per other
        index; NaN/inf are refused.
    equal_var : bool, default True
        Pooled variance (Student) if True, Welch-Satterthwaite if False.
    alternative : {"two-sided", "less", "greater"}, default "two-sided"
        "greater": mean of x larger than mean of y.
    axis : int, default 0
        Axis of 2-D input holding the observations.

    Returns
    -------
    TtestResult
        A constant sample pair gives t = nan (0/0) or +-inf, as scipy does.

    Examples
    --------
    >>> import numpy as np
    >>> import simengine
    >>> rng = np.random.default_rng(0)
    >>> x, y = rng.normal(0, 1, (30, 1000)), rng.normal(0.5, 1, (30, 1000))
    >>> res = simengine.ttest_ind(x, y)
    >>> res.pvalue.shape
    (1000,)
    """
    equal_var = v.check_bool(equal_var, "equal_var")
    v.check_choice(alternative, "alternative", v.ALTERNATIVES)
    xr, yr, one_d = _as_rows(x, y, axis)
    from simengine.kernels.hypothesis import _ttest_ind_rows

    with np.errstate(divide="ignore", invalid="ignore"):
        t, df, overflow = _ttest_ind_rows(xr, yr, equal_var)
        if overflow.any():
            t, df = _rescaled_ttest(xr, yr, equal_var, t, df, overflow)
        if not equal_var:
            # zero variance in both samples makes Welch's df 0/0; scipy sets it to 1
            # (t is then +-inf or nan, so df does not change the p-value)
            df = np.where(np.isnan(df), 1.0, df)
        p = _t_pvalue(t, df, alternative)
    return TtestResult(*_unwrap(one_d, t, p, df))


def mannwhitneyu(x, y, *, alternative="two-sided", use_continuity=True, axis=0) -> MannwhitneyuResult:
    """Mann-Whitney U test with the tie-corrected normal approximation, one test per column.

    Agrees with ``scipy.stats.mannwhitneyu(x, y, method="asymptotic", ...)`` to
    rtol 1e-10 (Mann & Whitney 1947; tie correction as in scipy's reference).

    Parameters
    ----------
    x, y : array_like
        Samples: 1-D, or 2-D with observations along `axis`; NaN/inf are refused.
    alternative : {"two-sided", "less", "greater"}, default "two-sided"
        "greater": x stochastically larger than y.
    use_continuity : bool, default True
        Subtract 0.5 from ``U - n1 n2 / 2`` (continuity correction).
    axis : int, default 0
        Axis of 2-D input holding the observations.

    Returns
    -------
    MannwhitneyuResult

    Examples
    --------
    >>> import numpy as np
    >>> import simengine
    >>> rng = np.random.default_rng(0)
    >>> res = simengine.mannwhitneyu(rng.normal(0, 1, (40, 500)), rng.normal(0.3, 1, (40, 500)))
    >>> res.statistic.shape
    (500,)
    """
    use_continuity = v.check_bool(use_continuity, "use_continuity")
    code = v.alternative_code(alternative)
    xr, yr, one_d = _as_rows(x, y, axis)
    from scipy import special

    from simengine.kernels.hypothesis import _mannwhitneyu_rows

    try:
        u, z, done = _mannwhitneyu_rows(xr, yr, use_continuity, code)
        done = done.all()
    except (MemoryError, SystemError):  # SystemError: raised inside the parallel loop
        done = False
    if not done:
        raise MemoryError(
            f"mannwhitneyu ran out of memory ranking samples of {xr.shape[1]} + {yr.shape[1]} observations (`x`, `y`)"
        )
    p = special.ndtr(-z) * (2.0 if code == 0 else 1.0)
    p = np.clip(p, 0.0, 1.0)
    return MannwhitneyuResult(*_unwrap(one_d, u, p))

"""Classical two-sample tests batched over columns: Student/Welch t and Mann-Whitney U.

Statistics come from numba kernels (one test per column, in parallel); p-values
use scipy's distribution functions (and, for the exact Mann-Whitney test, our own
exact null distribution of U) so they agree with `scipy.stats`.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from simengine import _validate as v
from simengine._long import concatenate, contiguous, run_blocks
from simengine._results import Result
from simengine._typing import Alternative, ArrayLike, FloatOrArray, NanPolicy
from simengine.permutation import _as_rows, _blank_rows, _check_nan_policy, _n_splits, _omitted

Arr = npt.NDArray[Any]

__all__ = ["ttest_ind", "mannwhitneyu", "TtestIndResult", "MannwhitneyuResult"]

MWU_METHODS = ("auto", "exact", "asymptotic")


@dataclass(frozen=True, slots=True)
class TtestIndResult(Result):
    """Result of `ttest_ind` (scipy's field names).

    Unpacks as ``statistic, pvalue = ttest_ind(...)``, like scipy's result.

    Attributes
    ----------
    statistic : float or ndarray
        t statistic of x minus y, one per column for 2-D input.
    pvalue : float or ndarray
        p-value for `alternative`.
    df : float or ndarray
        Degrees of freedom (n1 + n2 - 2, or Welch-Satterthwaite).
    """

    statistic: FloatOrArray
    pvalue: FloatOrArray
    df: FloatOrArray

    _unpack = ("statistic", "pvalue")


@dataclass(frozen=True, slots=True)
class MannwhitneyuResult(Result):
    """Result of `mannwhitneyu` (scipy's field names).

    Unpacks as ``statistic, pvalue = mannwhitneyu(...)``.

    Attributes
    ----------
    statistic : float or ndarray
        U statistic of `x` (scipy's U1), one per column for 2-D input.
    pvalue : float or ndarray
        p-value for `alternative`, exact or from the normal approximation (see `method`).
    """

    statistic: FloatOrArray
    pvalue: FloatOrArray

    _unpack = ("statistic", "pvalue")


# Values per run of the sliced stable sort (a power of two: the merge segments are runs too).
SORT_RUN = 2**16


def _sorted_in_slices(x: Arr, desc: str) -> tuple[Arr, Arr]:
    """(sorted values, stable order) of a long 1-D float64 array, in slices Ctrl-C can stop.

    Runs of `SORT_RUN` values are sorted, then merged pairwise in passes, each pass cut into
    independent output segments (see `kernels.twosample._merge_pass`); every step is a
    `run_blocks` call, so SIGINT is answered between slices of ~0.25 s.  A stable order is
    unique, so it equals ``np.argsort(x, kind="stable")`` whatever the slicing.
    """
    from simengine.kernels.twosample import _merge_pass, _sort_runs

    n = x.shape[0]
    run = SORT_RUN
    units = -(-n // run)
    keys, order = np.empty(n), np.empty(n, dtype=np.int64)
    # ~1 us per value to sort a run on a loaded machine, ~20 ns per value to merge: first slices of ~0.1 s
    run_blocks(lambda lo, hi: _sort_runs(x, run, lo, hi, keys, order), units, progress=False, desc=desc,
               first=2)
    if units > 1:
        keys2, order2 = np.empty(n), np.empty(n, dtype=np.int64)
        width = run
        while width < n:
            def merge(lo: int, hi: int, k: Arr = keys, o: Arr = order, w: int = width, k2: Arr = keys2,
                      o2: Arr = order2) -> None:
                _merge_pass(k, o, w, run, lo, hi, k2, o2)
            run_blocks(merge, units, progress=False, desc=desc, first=64)
            keys, keys2, order, order2 = keys2, keys, order2, order
            width *= 2
    return keys, order


def _unwrap(one_d: bool, *arrays: Arr) -> tuple[Any, ...]:
    return tuple(float(a[0]) for a in arrays) if one_d else arrays


def _t_pvalue(t: npt.NDArray[Any], df: npt.NDArray[Any], alternative: str) -> Any:
    """scipy's t-test p-value from t and df (via the Student-t CDF, `scipy.special.stdtr`)."""
    from scipy import special

    if alternative == "less":
        p = special.stdtr(df, t)
    elif alternative == "greater":
        p = special.stdtr(df, -t)
    else:
        p = 2.0 * special.stdtr(df, -np.abs(t))
    return np.clip(p, 0.0, 1.0)


def _rescaled_ttest(
    xr: npt.NDArray[Any],
    yr: npt.NDArray[Any],
    equal_var: bool,
    t: npt.NDArray[Any],
    df: npt.NDArray[Any],
    overflow: npt.NDArray[Any],
) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
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


def ttest_ind(
    x: ArrayLike,
    y: ArrayLike,
    *,
    axis: int = 0,
    equal_var: bool = True,
    nan_policy: NanPolicy = "propagate",
    alternative: Alternative = "two-sided",
) -> TtestIndResult:
    """Two-sample t-test (Student's pooled, or Welch's) of x minus y, one test per column.

    Agrees with ``scipy.stats.ttest_ind(x, y, axis=..., equal_var=..., nan_policy=...,
    alternative=...)`` to rtol 1e-10 (Student 1908; Welch 1947), with one difference:
    two constant samples (every value of each sample equal) give exactly what exact
    arithmetic gives: t = nan, p = nan when the two values are equal, t = +-inf
    (p = 0 or 1) when they differ.  scipy gives that only for values it can average
    exactly; for others (15 x 3.7 vs 14 x 3.7) its t is rounding noise (0, or
    -1.9e14 for 3.7 vs 3.8).  Moments are computed on the data shifted by their first
    value, so a constant sample has a spread of exactly 0.  scipy's `trim`, `method`
    (permutation / bootstrap) and `keepdims` are not offered; arguments after `y` are
    keyword-only.

    Parameters
    ----------
    x, y : array_like
        Samples: 1-D, or 2-D with observations along `axis` and one test per other
        index; inf is refused, NaN follows `nan_policy`.
    axis : int, default 0
        Axis of 2-D input holding the observations.
    equal_var : bool, default True
        Pooled variance (Student) if True, Welch-Satterthwaite if False.
    nan_policy : {"propagate", "omit", "raise"}, default "propagate"
        scipy's: "propagate" gives nan statistic, p-value and df for a column holding
        NaN; "omit" drops the NaNs of each sample of each column (nan when a sample is
        left empty); "raise" refuses NaN.
    alternative : {"two-sided", "less", "greater"}, default "two-sided"
        "greater": mean of x larger than mean of y.

    Returns
    -------
    TtestIndResult
        Unpacks as ``statistic, pvalue``; `df` is a field.

    Examples
    --------
    >>> import numpy as np
    >>> import simengine
    >>> rng = np.random.default_rng(0)
    >>> x, y = rng.normal(1, 1, 30), rng.normal(0, 1, 30)
    >>> t, p = simengine.ttest_ind(x, y, alternative="greater")
    >>> round(t, 3), round(p, 4)
    (2.621, 0.0056)
    >>> res = simengine.ttest_ind(rng.normal(0, 1, (30, 1000)), rng.normal(0.5, 1, (30, 1000)))
    >>> res.pvalue.shape
    (1000,)
    """
    equal_var = v.check_bool(equal_var, "equal_var")
    v.check_choice(alternative, "alternative", v.ALTERNATIVES)
    nan_policy = _check_nan_policy(nan_policy)
    xr, yr, one_d, nan_rows = _as_rows(x, y, axis, nan_policy)
    if nan_rows is not None:
        xr_c, yr_c = _blank_rows(xr, yr, nan_rows)
        t, p, df = _ttest_rows(xr_c, yr_c, equal_var, alternative)
        t[nan_rows] = p[nan_rows] = df[nan_rows] = np.nan
        if nan_policy == "omit":
            for r in np.flatnonzero(nan_rows):
                a, b = _omitted(xr, yr, r)
                if a.size and b.size:
                    t[r : r + 1], p[r : r + 1], df[r : r + 1] = _ttest_rows(
                        a[None, :], b[None, :], equal_var, alternative
                    )
    else:
        t, p, df = _ttest_rows(xr, yr, equal_var, alternative)
    return TtestIndResult(*_unwrap(one_d, t, p, df))


# Rows with at least this many observations (both samples) run one at a time, each sample's two
# passes in segments (`_long_ttest_row`); Mann-Whitney sorts such rows in slices (`_long_mwu_row`).
_LONG_TTEST = 2**24
_LONG_MWU = 2**20
# elements per unit of a long row's passes
_SEGMENT = 2**20


def _ttest_kernel(xr: Arr, yr: Arr, equal_var: bool) -> tuple[Arr, Arr, Arr]:
    """t, df and overflow flags of every row: slices of rows (rows never interact), long rows in segments."""
    from simengine.kernels.hypothesis import _ttest_ind_rows

    k, n1 = xr.shape
    n = n1 + yr.shape[1]
    if n >= _LONG_TTEST:
        t, df, overflow = np.empty(k), np.empty(k), np.empty(k, dtype=np.bool_)
        for r in range(k):
            t[r], df[r], overflow[r] = _long_ttest_row(xr[r], yr[r], equal_var)
        return t, df, overflow
    # ~2 ns per observation and pass: a first slice of 2**23 observations is ~0.05 s
    parts = run_blocks(lambda lo, hi: _ttest_ind_rows(xr[lo:hi], yr[lo:hi], equal_var), k, progress=False,
                       desc="ttest_ind", first=max(1, 2**23 // n))
    if len(parts) == 1:
        return parts[0]  # type: ignore[no-any-return]  # the kernel's (t, df, overflow)
    t, df, overflow = (np.concatenate([part[i] for part in parts]) for i in range(3))
    return t, df, overflow


def _segments(n: int, step: Callable[[int, int], None]) -> None:
    """``step(a, b)`` over consecutive segments of `_SEGMENT` covering [0, n), in slices, in order."""
    run_blocks(lambda lo, hi: step(lo * _SEGMENT, min(n, hi * _SEGMENT)), -(-n // _SEGMENT), progress=False,
               desc="two-sample test", first=16)


def _long_ttest_row(x: Arr, y: Arr, equal_var: bool) -> tuple[float, float, bool]:
    """`_ttest_ind_rows` for one long row: the shifted two-pass moments in segments, bit for bit."""
    from simengine.kernels.hypothesis import _shifted_ssd_seg, _shifted_sum_seg, _ttest_moments1

    moments = []
    for sample in (x, y):
        n = sample.shape[0]
        x0 = float(sample[0])
        acc = [0.0]

        def add(a: int, b: int, s: Arr = sample, x0: float = x0, acc: list[float] = acc) -> None:
            acc[0] = _shifted_sum_seg(s, x0, a, b, acc[0])
        _segments(n, add)
        dm = acc[0] / n
        acc[0] = 0.0

        def add_sq(a: int, b: int, s: Arr = sample, x0: float = x0, dm: float = dm, acc: list[float] = acc) -> None:
            acc[0] = _shifted_ssd_seg(s, x0, dm, a, b, acc[0])
        _segments(n, add_sq)
        moments += [x0 + dm, acc[0]]
    t, df, overflow = _ttest_moments1(x.shape[0], moments[0], moments[1], y.shape[0], moments[2], moments[3],
                                      equal_var)
    return float(t), float(df), bool(overflow)


def _ttest_rows(xr: Arr, yr: Arr, equal_var: bool, alternative: str) -> tuple[Any, Any, Any]:
    with np.errstate(divide="ignore", invalid="ignore"):
        t, df, overflow = _ttest_kernel(contiguous(xr), contiguous(yr), equal_var)
        if overflow.any():
            t, df = _rescaled_ttest(xr, yr, equal_var, t, df, overflow)
        if not equal_var:
            # zero variance in both samples makes Welch's df 0/0; scipy sets it to 1
            # (t is then +-inf or nan, so df does not change the p-value)
            df = np.where(np.isnan(df), 1.0, df)
        p = _t_pvalue(t, df, alternative)
    return t, p, df


def mannwhitneyu(
    x: ArrayLike,
    y: ArrayLike,
    *,
    use_continuity: bool = True,
    alternative: Alternative = "two-sided",
    axis: int = 0,
    method: Literal["auto", "exact", "asymptotic"] = "auto",
    nan_policy: NanPolicy = "propagate",
) -> MannwhitneyuResult:
    """Mann-Whitney U test of x against y, exact or asymptotic, one test per column.

    Agrees with ``scipy.stats.mannwhitneyu(x, y, use_continuity=..., alternative=...,
    axis=..., method=..., nan_policy=...)``: the same statistic (U1, of `x`) and p-values
    (to rtol 1e-12; for the exact method bit for bit while comb(n1 + n2, n1) < 2**53, where
    scipy's own counts are exact; ours stay exact up to 2**62) for every method (Mann & Whitney 1947; tie
    correction as in scipy's reference).
    Differences: arguments after `y` are keyword-only, scipy's `PermutationMethod` is not
    accepted as `method` (use `permutation_test`), inf is refused, and no `keepdims`.

    Parameters
    ----------
    x, y : array_like
        Samples: 1-D, or 2-D with observations along `axis`; inf is refused, NaN follows
        `nan_policy`.
    use_continuity : bool, default True
        Subtract 0.5 from ``U - n1 n2 / 2`` in the normal approximation.
    alternative : {"two-sided", "less", "greater"}, default "two-sided"
        "greater": x stochastically larger than y.
    axis : int, default 0
        Axis of 2-D input holding the observations.
    method : {"auto", "exact", "asymptotic"}, default "auto"
        "exact": the exact null distribution of U (computed by counting, ties ignored,
        a tied U truncated to an integer, as scipy does); "asymptotic": the
        tie-corrected normal approximation; "auto", as scipy decides: asymptotic if both
        samples have more than 8 observations, else asymptotic if there are ties, else
        exact.  Like scipy, one decision serves the whole batch (ties in any column make
        every column of a small-sample batch asymptotic), except when the input holds
        NaN: scipy then tests, and decides, column by column, and so do we.
    nan_policy : {"propagate", "omit", "raise"}, default "propagate"
        scipy's: "propagate" gives nan statistic and p-value for a column holding NaN;
        "omit" drops the NaNs of each sample of each column (nan when a sample is left
        empty); "raise" refuses NaN.

    Returns
    -------
    MannwhitneyuResult
        Unpacks as ``statistic, pvalue``.

    Raises
    ------
    ValueError
        Bad inputs; an exact null distribution too large to count (use "asymptotic").

    Examples
    --------
    >>> import numpy as np
    >>> import simengine
    >>> u, p = simengine.mannwhitneyu([3.1, 4.2, 5.0, 6.3], [1.0, 2.2, 2.9])
    >>> u, round(p, 4)
    (12.0, 0.0571)
    >>> rng = np.random.default_rng(0)
    >>> res = simengine.mannwhitneyu(rng.normal(0, 1, (40, 500)), rng.normal(0.3, 1, (40, 500)))
    >>> res.statistic.shape
    (500,)
    """
    use_continuity = v.check_bool(use_continuity, "use_continuity")
    code = v.alternative_code(alternative)
    method = v.check_choice(method, "method", MWU_METHODS)
    nan_policy = _check_nan_policy(nan_policy)
    xr, yr, one_d, nan_rows = _as_rows(x, y, axis, nan_policy)
    if nan_rows is None:
        u, p = _mwu_rows(xr, yr, use_continuity, code, method, per_row=False)
    else:
        xr_c, yr_c = _blank_rows(xr, yr, nan_rows)
        u, p = _mwu_rows(xr_c, yr_c, use_continuity, code, method, per_row=True)
        u[nan_rows] = p[nan_rows] = np.nan
        if nan_policy == "omit":
            for r in np.flatnonzero(nan_rows):
                a, b = _omitted(xr, yr, r)
                if a.size and b.size:
                    u[r : r + 1], p[r : r + 1] = _mwu_rows(
                        a[None, :], b[None, :], use_continuity, code, method, per_row=True
                    )
    return MannwhitneyuResult(*_unwrap(one_d, u, p))


def _mwu_rows(
    xr: npt.NDArray[Any], yr: npt.NDArray[Any], continuity: bool, code: int, method: str, per_row: bool
) -> tuple[Any, Any]:
    """U1 and p-values of rows without NaN; `per_row`: "auto" decides row by row."""
    from scipy import special

    from simengine.kernels.hypothesis import _mannwhitneyu_rows
    from simengine.kernels.twosample import _mwu_u1, _mwu_z1

    n1, n2 = xr.shape[1], yr.shape[1]
    xr, yr = contiguous(xr), contiguous(yr)
    try:
        if n1 + n2 >= _LONG_MWU:
            u, z, ties = np.empty(len(xr)), np.empty(len(xr)), np.empty(len(xr))
            for r in range(len(xr)):
                u[r], z[r], ties[r] = _long_mwu_row(xr[r], yr[r], continuity, code)
            done = True
        elif len(xr) == 1:
            # one row (every 1-D call): the batched kernel's own row helpers, called from here, so a first
            # call compiles them and not the parallel region around them (~2 s of a cold start); same numbers
            u1, tie_term = _mwu_u1(xr[0], yr[0])
            u, ties = np.array([u1]), np.array([tie_term])
            z = np.array([_mwu_z1(u1, float(n1), float(n2), tie_term, continuity, code)])
            done = True
        else:
            # ~0.5 us per observation to sort on a loaded machine: a first slice of 2**17 is ~0.05 s
            parts = run_blocks(lambda lo, hi: _mannwhitneyu_rows(xr[lo:hi], yr[lo:hi], continuity, code), len(xr),
                               progress=False, desc="mannwhitneyu", first=max(1, 2**17 // (n1 + n2)))
            u, z, ties, ok = (parts[0] if len(parts) == 1
                              else [np.concatenate([part[i] for part in parts]) for i in range(4)])
            done = bool(ok.all())
    except (MemoryError, SystemError):  # SystemError: raised inside the parallel loop
        done = False
    if not done:
        raise MemoryError(f"mannwhitneyu ran out of memory ranking samples of {n1} + {n2} observations (`x`, `y`)")
    if method == "asymptotic" or (method == "auto" and n1 > 8 and n2 > 8):
        exact = np.zeros(u.shape, dtype=bool)
    elif method == "exact":
        exact = np.ones(u.shape, dtype=bool)
    else:
        has_ties = ties > 0
        exact = ~has_ties if per_row else np.full(u.shape, not has_ties.any())
    factor = 2.0 if code == 0 else 1.0
    p = special.ndtr(-z)
    if exact.any():
        u2 = n1 * n2 - u
        stat = u if code == 2 else (u2 if code == 1 else np.maximum(u, u2))
        p = np.where(exact, 0.0, p)
        p[exact] = _mwu_exact_sf(stat[exact], n1, n2)
    return u, np.clip(p * factor, 0.0, 1.0)


def _long_mwu_row(x: Arr, y: Arr, continuity: bool, code: int) -> tuple[float, float, float]:
    """U1, z and tie term of one long row (`_mannwhitneyu_rows`' values): a sliced sort, then a sliced scan."""
    from simengine.kernels.hypothesis import _mwu_scan_seg
    from simengine.kernels.twosample import _mwu_z1

    n1, n2 = x.shape[0], y.shape[0]
    keys, order = _sorted_in_slices(concatenate((x, y)), "mannwhitneyu")
    state: list[Any] = [0, 0.0, 0.0]  # next tie group's start, rank sum of x, tie term

    def scan(a: int, b: int) -> None:
        state[:] = _mwu_scan_seg(keys, order, n1, state[0], b, state[1], state[2])
    _segments(n1 + n2, scan)
    u1 = state[1] - n1 * (n1 + 1) / 2.0
    tie_term = state[2]
    return u1, _mwu_z1(u1, float(n1), float(n2), tie_term, continuity, code), tie_term


# counting the exact null distribution beyond this many operations is refused
_MWU_EXACT_WORK = 10**10


def _mwu_exact_sf(stat: npt.NDArray[Any], n1: int, n2: int) -> Any:
    """P(U >= stat) under the null, as scipy's exact method computes it.

    The statistic is truncated to an integer (scipy's ``np.asarray(U, np.int64)``); the
    tail is summed from whichever end is shorter, with scipy's float operations
    (pmf = counts / comb, cdf = cumsum(pmf), sf = 1 - cdf + pmf), so p-values are
    scipy's bit for bit while scipy's counts are exact (comb(n1 + n2, n1) < 2**53).
    """
    from scipy import special

    from simengine.kernels.twosample import _mwu_counts_int1, _mwu_pmf_float1

    m, n = min(n1, n2), max(n1, n2)
    k = stat.astype(np.int64)
    kc = m * n - k
    low = k < kc
    kc[low] = k[low]
    maxu = int(kc.max())
    fits = _n_splits(m, n, 2**62) <= 2**62
    work = m * (maxu + 1) if fits else m * n * (maxu + 1)
    if work > _MWU_EXACT_WORK:
        raise ValueError(
            f"`method`='exact' needs {work:.3g} operations to count the null distribution of U for samples "
            f"of {n1} and {n2} (`x`, `y`); the limit is {_MWU_EXACT_WORK:.0e}: use method='asymptotic'"
        )
    v.check_memory(8 * (m + 2) * (maxu + 1), "len(`x`) x len(`y`)", what="the exact null distribution of U")
    if fits:
        pmfs = _mwu_counts_int1(m, n, maxu) / special.binom(m + n, m)
    else:
        pmfs = _mwu_pmf_float1(m, n, maxu)
    cdfs = np.cumsum(pmfs)
    sf = cdfs[kc]
    sf[low] = 1.0 - cdfs[kc[low]] + pmfs[kc[low]]
    return sf

"""Two-sample permutation tests, batched over columns, with scipy's semantics.

`permutation_test` matches ``scipy.stats.permutation_test((x, y), ..., permutation_type="independent")``:
exact enumeration when all distinct splits fit in `n_resamples`, otherwise a
randomized test with p = (k + 1) / (R + 1).  Ties are decided with a tolerance
relative to the data's scale (see `permutation_test`).  Also holds the shared input
conversion of the two-sample tests (`_as_rows`, scipy's `nan_policy`).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

from simengine import _validate as v
from simengine._long import contiguous, run_blocks
from simengine._numba_compat import CPUDispatcher, NumbaError
from simengine._results import Result
from simengine._rng import as_seed_sequence, n_blocks
from simengine._typing import Alternative, ArrayLike, NanPolicy, SeedLike

if TYPE_CHECKING:  # pandas is imported when a frame is made, not with the package
    import pandas as pd

__all__ = ["permutation_test", "PermutationTestResult", "PERM_BLOCK", "NAN_POLICIES"]

# Resamples per random stream.  A constant of the algorithm (never the thread
# count): 9 999 resamples make four nearly equal blocks.
PERM_BLOCK = 2500

# Work of one unit of the exact enumeration (splits x rows x observations), see `_run_exact`.
_EXACT_UNIT_OPS = 2**22
# Work of one unit of random splits (resamples x rows x observations), see `_run_random`: below it a unit
# is a whole block of PERM_BLOCK resamples.  ~3 ns per element in cache, ~30 ns on rows of 10**6 (10 and
# 100 ns on a loaded core): a unit takes ~0.01-0.1 s, unless one resample alone is more.
_RANDOM_UNIT_OPS = 2**20
# Rows at least this long (x and y together) are sorted in slices (see `_permutation_rows`).
_LONG_ROW = 2**18
# Columns (rows here) run in batches of at most this many values together (unless one row is more), so that
# one resample of all rows of a batch stays well under a slice (see `_permutation_rows`).
_ROW_CHUNK_OPS = 2**22

# scipy's relative tolerance: null values within 100 ulp-scale of the observed
# statistic count as equal to it (kept, next to the tolerance relative to the data).
_TIE_RTOL = 100 * np.finfo(np.float64).eps

NAN_POLICIES = ("propagate", "omit", "raise")


@dataclass(frozen=True, slots=True)
class PermutationTestResult(Result):
    """Result of `permutation_test` (field names as in scipy's result).

    Unpacks as ``statistic, pvalue = permutation_test(...)``.

    Attributes
    ----------
    statistic : float or ndarray
        Observed statistic (x minus y for the built-in ones, as scipy's ``statistic(x, y)``);
        one per column for 2-D input.
    pvalue : float or ndarray
        Exact p-value (all splits enumerated) or randomized p-value ``(k + 1) / (R + 1)``.
    null_distribution : ndarray
        Statistic of every resample: shape ``(R,)`` for 1-D input, ``(R, n_columns)`` for 2-D.
        A column whose NaNs were dropped (``nan_policy="omit"``) has its own, possibly
        smaller, number of splits: its values come first and NaN pads the rest.  All NaN
        for a column that propagated NaN.
    exact : bool
        True when all distinct splits were enumerated (for the full-size columns).
    n_resamples : int
        Number of values in the null distribution (the number of splits when exact).
    """

    _unpack = ("statistic", "pvalue")

    statistic: float | np.ndarray
    pvalue: float | np.ndarray
    null_distribution: np.ndarray = field(repr=False)
    exact: bool
    n_resamples: int

    def to_frame(self) -> pd.DataFrame:
        """One row per test (statistic, pvalue, exact, n_resamples); the null distribution is in `to_dict`."""
        import pandas as pd

        return pd.DataFrame({
            "statistic": np.atleast_1d(self.statistic),
            "pvalue": np.atleast_1d(self.pvalue),
            "exact": self.exact,
            "n_resamples": self.n_resamples,
        })


def _check_statistic(statistic):
    if isinstance(statistic, str):
        return v.check_choice(statistic, "statistic", ("mean", "median")), None
    if isinstance(statistic, CPUDispatcher):
        return "custom", statistic
    if callable(statistic):
        raise TypeError(
            "`statistic` must be 'mean', 'median' or a numba-jitted function f(x, y) -> float; "
            f"got a plain Python callable {getattr(statistic, '__name__', statistic)!r}. "
            "Decorate it with @numba.njit (it receives two 1-D float64 arrays and must return a float)"
        )
    raise TypeError(
        "`statistic` must be 'mean', 'median' or a jitted function f(x, y) -> float (decorated with @njit); "
        f"got {v._describe(statistic)}"
    )


def _check_nan_policy(nan_policy: NanPolicy) -> NanPolicy:
    if type(nan_policy) is str and nan_policy == "propagate":  # the default: no tuple scan
        return nan_policy
    return v.check_choice(nan_policy, "nan_policy", NAN_POLICIES)


def _as_rows(
    x: ArrayLike, y: ArrayLike, axis: int, nan_policy: str = "propagate"
) -> tuple[npt.NDArray[Any], npt.NDArray[Any], bool, npt.NDArray[Any] | None]:
    """(k, nx), (k, ny) C-contiguous rows, one test per row, whether the input was 1-D, and
    the rows holding a NaN (None when there is none).

    inf is refused; NaN follows scipy's `nan_policy` ("raise" refuses it here; the caller
    propagates or omits per row).
    """
    x = v.as_data_array(x, "x", ndim=(1, 2), finite=False)
    y = v.as_data_array(y, "y", ndim=(1, 2), finite=False)
    xr, yr, one_d = _rows(x, y, axis)
    nan_rows = None
    if not (np.isfinite(xr).all() and np.isfinite(yr).all()):
        for arr, name in ((x, "x"), (y, "y")):
            if np.isinf(arr).any():
                raise ValueError(f"`{name}` must be finite; it contains inf (NaN follows `nan_policy`)")
        for arr, name in ((x, "x"), (y, "y")):
            if nan_policy == "raise" and np.isnan(arr).any():
                raise ValueError(f"`{name}` contains NaN and `nan_policy` is 'raise' (use 'propagate' or 'omit')")
        nan_rows = np.isnan(xr).any(axis=1) | np.isnan(yr).any(axis=1)
    return xr, yr, one_d, nan_rows


def _blank_rows(
    xr: npt.NDArray[Any], yr: npt.NDArray[Any], nan_rows: npt.NDArray[Any]
) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
    """Copies with the rows holding NaN set to 0 (their results are replaced afterwards)."""
    xr, yr = xr.copy(), yr.copy()
    xr[nan_rows] = 0.0
    yr[nan_rows] = 0.0
    return xr, yr


def _omitted(
    xr: npt.NDArray[Any], yr: npt.NDArray[Any], r: int | np.integer[Any]
) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
    """Row r of each sample without its NaNs."""
    a, b = xr[r], yr[r]
    return a[~np.isnan(a)], b[~np.isnan(b)]


def _rows(x, y, axis):
    if x.ndim != y.ndim:
        raise ValueError(f"`x` and `y` must have the same number of dimensions; got {x.ndim}-D and {y.ndim}-D")
    if x.ndim == 1:
        v.check_axis(axis, "axis", 1)
        return x[None, :], y[None, :], True
    axis = v.check_axis(axis, "axis", 2)
    other = 1 - axis
    if x.shape[other] != y.shape[other]:
        raise ValueError(
            f"`x` and `y` must have the same number of columns (tests) along axis {other}; "
            f"got {x.shape[other]} and {y.shape[other]}"
        )
    if axis == 0:
        x, y = x.T, y.T
    return contiguous(x), contiguous(y), False  # a transpose: copied in pieces (Ctrl-C answered)


def _pvalues(observed, null, alternative, exact, n_null, tol):
    """scipy's p-value rule, on observed (k,) and null (k, R), with ties within
    max(100 eps |observed|, tol) (tol (k,): the tolerance relative to the data's scale)."""
    adjustment = 0 if exact else 1
    gamma = np.maximum(np.abs(_TIE_RTOL * observed), tol)[:, None]
    obs = observed[:, None]

    def less():
        count = np.count_nonzero(null <= obs + gamma, axis=1) + adjustment
        return count.astype(np.float64) / (n_null + adjustment)

    def greater():
        count = np.count_nonzero(null >= obs - gamma, axis=1) + adjustment
        return count.astype(np.float64) / (n_null + adjustment)

    if alternative == "less":
        p = less()
    elif alternative == "greater":
        p = greater()
    else:
        p = np.minimum(less(), greater()) * 2
    return np.clip(p, 0.0, 1.0)


def permutation_test(
    x: ArrayLike,
    y: ArrayLike,
    *more_samples: ArrayLike,
    statistic: Literal["mean", "median", "correlation", "f_oneway", "kruskal"] | Callable[..., float] = "mean",
    permutation_type: Literal["independent", "samples", "pairings"] = "independent",
    alternative: Alternative = "two-sided",
    n_resamples: int = 9999,
    axis: int = 0,
    rng: SeedLike = None,
    nan_policy: NanPolicy = "propagate",
) -> PermutationTestResult:
    """Permutation test of two samples (independent or paired), of an association, or of k samples.

    One test per column.  ``permutation_type`` and the samples choose the design, with scipy's
    semantics (``scipy.stats.permutation_test``); the default is the two-sample test below.

    Same semantics and sign as ``scipy.stats.permutation_test((x, y), statistic,
    permutation_type="independent")`` with ``statistic(x, y) = mean(x) - mean(y)``
    (Fisher 1935; Phipson & Smyth 2010); differences from scipy: the samples are two
    arguments (not a tuple), the statistic is "mean", "median" or a numba-jitted
    ``f(x, y)``, `nan_policy` is added, and ties are decided relative to the data's scale
    (below), so on tied decimal data our exact p-values are those of exact arithmetic
    where scipy's can differ.  When the number of distinct splits ``comb(nx + ny, nx)`` is
    at most `n_resamples`, all splits are enumerated and the p-value is exact; otherwise
    `n_resamples` random splits give ``p = (k + 1) / (n_resamples + 1)``.  Two-sided
    p-values are twice the smaller one-sided p-value, clipped to 1.

    Designs (``permutation_type``; exact when all distinct resamples fit in `n_resamples`):

    - ``"samples"`` (paired, before/after): each pair's two values may swap (2^n sign flips of
      the differences ``d = x - y``).  ``"mean"`` is mean(x) - mean(y) = mean(d); ``"median"``
      is the median of the differences, median(d) (not median(x) - median(y)): scipy's
      ``permutation_test((x, y), lambda x, y: np.median(x - y), permutation_type="samples")``.
      A jitted ``f(x, y)`` gets the pairs with some swapped.
    - ``"pairings"`` (association): y is re-paired with x (n! pairings; scipy permutes both
      samples and counts (n!)^2, each pairing n! times: the same exact p-value, and we are exact
      up to n = 7 at the default `n_resamples` where scipy is up to n = 4).  ``"correlation"`` is
      Pearson's r (scipy's ``pearsonr(x, y).statistic``); or a jitted ``f(x, y)``.
    - ``"independent"`` with k >= 3 samples (``permutation_test(x, y, z, ...)``), or with
      ``statistic="f_oneway"`` / ``"kruskal"`` for two: the samples are split anew in groups
      of their sizes (multinomial count).  ``"f_oneway"`` is the F of ``scipy.stats.f_oneway``,
      ``"kruskal"`` the H of ``scipy.stats.kruskal`` (with its tie correction); both are
      increasing functions of the between-groups sum ``sum_j S_j^2 / n_j`` (of the values
      centred at their midrange, or of the ranks), on which p-values and ties are decided.
      Usually ``alternative="greater"``.  A jitted statistic is ``f(pooled, sizes)``: the
      samples one after another (1-D float64) and their lengths (1-D int64).

    Ties: a resample's statistic counts as equal to the observed one when they differ by
    at most ``max(100 eps |observed|, tol)`` (scipy uses the first term only, which is 0
    when the observed statistic is 0).  For "mean" and "median", ``tol = 4 eps (M + n S)``
    with ``n = nx + ny``, M the largest |value| and S half the range of the pooled column:
    the statistics are computed on the column centred at its midrange, and two splits
    whose statistics are equal in exact arithmetic on the decimal data then differ by
    less than tol.  Statistics of distinct splits closer than tol (data whose differences
    are ~1e-12 of their spread) count as tied.  For a custom statistic,
    ``tol = 100 eps max |null_distribution|`` (its scale).  The other designs use the same idea:
    sign flips ``4 eps (M + n max|d|)``; Pearson r ``4 eps (n + sqrt(n) (M_x / N_x + M_y / N_y))``
    (N the norm of the centred sample); F ``4 eps n S (M + (k + 1) S)`` on the between-groups sum;
    H ``4 (k + 1) eps (n (n + 1) / 2)^2`` on the sum of squared rank sums.  Where scipy's relative
    tolerance alone misses an exact tie (an observed statistic of 0, or F / H computed in another
    order), its p-value can differ from ours; ours is that of exact arithmetic.

    Parameters
    ----------
    x, y, *more_samples : array_like
        Samples, 1-D, or 2-D with one test per column (along `axis`); inf is refused,
        NaN follows `nan_policy`.  Paired designs need ``len(x) == len(y)`` and take no
        more samples.
    statistic : str or numba-jitted callable, default "mean"
        Two independent samples: ``"mean"``: mean(x) - mean(y); ``"median"``:
        median(x) - median(y); or ``f(x, y) -> float`` compiled with ``numba.njit`` (it gets
        two 1-D float64 arrays and is called from several threads, so it must be pure).
        Other designs: see above ("mean" / "median" for "samples", "correlation" for
        "pairings", "f_oneway" / "kruskal" for k samples, or a jitted function).
    permutation_type : {"independent", "samples", "pairings"}, default "independent"
        scipy's name: which resamples form the null distribution (see above).
    alternative : {"two-sided", "less", "greater"}, default "two-sided"
        "greater": the statistic is larger than under the null (for the built-in
        statistics: x tends to be larger than y, as in `ttest_ind` and `mannwhitneyu`).
    n_resamples : int, default 9999
        Random splits per test (>= 1); also the exact-enumeration threshold.
    axis : int, default 0
        Axis of 2-D `x`, `y` along which observations lie.
    rng : None, int, SeedSequence or Generator
        Seed (SPEC 7).  Resamples are drawn in blocks of `PERM_BLOCK`, each from
        its own stream, so results do not depend on the thread count (the new designs
        use smaller blocks for columns of more than 419 observations, ~2^20 / n each).  As in scipy,
        every column uses the same random splits, so a column's result does not
        depend on the rest of the batch (batched = column-by-column, same seed).
    nan_policy : {"propagate", "omit", "raise"}, default "propagate"
        scipy's: "propagate" gives NaN statistic, p-value and null distribution for a
        column holding NaN; "omit" drops the NaNs of each sample of each column and tests
        what remains (as a call on that column alone with the same seed; NaN if a sample
        is left empty; paired designs drop the pairs holding NaN); "raise" refuses NaN.

    Returns
    -------
    PermutationTestResult
        Unpacks as ``statistic, pvalue``.

    Raises
    ------
    ValueError
        Bad inputs; `n_resamples` above 10^9; too much work or memory; a statistic that
        returns NaN or inf (for the observed data or any resample) or raises.
    TypeError
        A statistic that is not 'mean', 'median' or a jitted ``f(x, y) -> float``.

    Examples
    --------
    >>> import numpy as np
    >>> import simengine
    >>> rng = np.random.default_rng(0)
    >>> x, y = rng.normal(0, 1, 52), rng.normal(0.5, 1, 52)
    >>> stat, p = simengine.permutation_test(x, y, statistic="median", rng=1)
    >>> round(stat, 3), round(p, 3)
    (-0.451, 0.063)
    >>> simengine.permutation_test([4.0, 5.0, 6.0], [1.0, 2.0, 3.0], alternative="greater").pvalue
    0.05

    Paired (sign flips), correlation and k-sample tests:

    >>> before = rng.normal(10, 2, 30)
    >>> after = before + rng.normal(0.8, 1.5, 30)
    >>> res = simengine.permutation_test(after, before, permutation_type="samples", rng=2)
    >>> round(res.statistic, 3), round(res.pvalue, 4)
    (0.559, 0.052)
    >>> res = simengine.permutation_test([1.0, 2, 3, 4, 5], [2.0, 1, 4, 3, 5],
    ...                                  permutation_type="pairings", statistic="correlation")
    >>> round(res.statistic, 3), round(res.pvalue, 4), res.n_resamples
    (0.8, 0.1333, 120)
    >>> a, b, c = rng.normal(0, 1, 8), rng.normal(0.5, 1, 8), rng.normal(1.5, 1, 8)
    >>> res = simengine.permutation_test(a, b, c, statistic="kruskal", alternative="greater", rng=3)
    >>> round(res.statistic, 2), round(res.pvalue, 4)
    (4.86, 0.09)
    """
    if not (type(permutation_type) is str and permutation_type == "independent"):
        v.check_choice(permutation_type, "permutation_type", PERMUTATION_TYPES)
    if more_samples or permutation_type != "independent" or (
            isinstance(statistic, str) and statistic in _DESIGN_CHOICES["groups"]):
        for i, sample in enumerate(more_samples):
            if isinstance(sample, str) or callable(sample):
                raise TypeError(
                    f"`more_samples[{i}]` must be a sample (array_like); got {v._describe(sample)}. "
                    "Arguments after the samples are keyword-only (e.g. statistic=...)"
                )
        if more_samples and permutation_type != "independent":
            raise ValueError(
                f"`permutation_type` {permutation_type!r} takes two samples `x`, `y` (pairs); "
                f"got {2 + len(more_samples)} samples (k samples are 'independent')"
            )
        design = "groups" if permutation_type == "independent" else permutation_type
        return _design_test((x, y, *more_samples), statistic, design, alternative, n_resamples, axis, rng,
                            nan_policy)
    kind, func = _check_statistic(statistic)
    v.check_choice(alternative, "alternative", v.ALTERNATIVES)
    n_resamples = v.check_bounded_count(n_resamples, "n_resamples")
    nan_policy = _check_nan_policy(nan_policy)
    ss = as_seed_sequence(rng)
    xr, yr, one_d, nan_rows = _as_rows(x, y, axis, nan_policy)
    if nan_rows is not None:
        return _permutation_with_nan(xr, yr, one_d, nan_rows, nan_policy, ss,
                                     dict(statistic=statistic, alternative=alternative, n_resamples=n_resamples))
    observed, pvalue, null, exact, n_null = _permutation_rows(xr, yr, kind, func, alternative, n_resamples, ss)
    if one_d:
        return PermutationTestResult(float(observed[0]), float(pvalue[0]), null[0], exact, n_null)
    return PermutationTestResult(observed, pvalue, contiguous(null.T), exact, n_null)


def _permutation_rows(xr, yr, kind, func, alternative, n_resamples, ss, *, checked=False):
    """The test on rows without NaN: (observed, pvalue, null (k, R), exact, R)."""
    k, nx = xr.shape
    ny = yr.shape[1]
    n_max = _n_splits(nx, ny, n_resamples)
    exact = n_max <= n_resamples
    n_null = n_max if exact else n_resamples
    n = nx + ny
    import numba

    threads = max(1, numba.get_num_threads())
    # Random splits: a block of PERM_BLOCK resamples runs as parts of `sub` resamples, about
    # _RANDOM_UNIT_OPS element operations each (a block of one column of 10**6 + 10**6 would otherwise be
    # one call of minutes); a long call holds the streams and Fisher-Yates states of `group` blocks at a time.
    sub = max(1, min(PERM_BLOCK, _RANDOM_UNIT_OPS // (k * n)))
    group = threads if sub < PERM_BLOCK else 0
    n_gens = 1 if exact else n_blocks(n_null, PERM_BLOCK)
    if not checked:
        _check_perm_size(k, n, n_null, n_gens, group)
        rows = max(1, _ROW_CHUNK_OPS // n)
        if k > rows:
            # One resample (or exact split) of many long columns alone would take seconds: the columns run
            # in batches of `rows`, each a whole test.  Every column uses the same splits whatever the
            # batch (as a single-column call with the same seed would), so nothing changes but the redraws.
            outs = [_permutation_rows(np.ascontiguousarray(xr[a:a + rows]), np.ascontiguousarray(yr[a:a + rows]),
                                      kind, func, alternative, n_resamples, ss, checked=True)
                    for a in range(0, k, rows)]
            return (np.concatenate([o[0] for o in outs]), np.concatenate([o[1] for o in outs]),
                    np.concatenate([o[2] for o in outs]), exact, n_null)
    from simengine.kernels import permutation as kp

    observed = np.empty(k)
    null = np.empty((k, n_null))
    failed = None  # why the null distribution is not whole: None, "memory" or "statistic"
    try:
        if kind == "custom":
            tol = None
            _run_custom(lambda: _run_exact(xr, yr, kind, func, n_null, observed, null) if exact
                        else _run_random(xr, yr, kind, func, n_null, sub, group, ss, observed, null))
        else:
            tol = np.empty(k)
            vals = np.empty((k, n))
            from_x = np.empty((k, n), dtype=np.bool_)
            rank = np.empty((k, 0 if exact else n), dtype=np.int64)

            if n < _LONG_ROW:
                def sort_rows(r0, r1):
                    kp._sorted_rows(xr, yr, r0, r1, vals, from_x, rank, tol)

                # rows in slices: sorting many columns can take seconds (~10 ns x n log2 n each, loaded)
                run_blocks(sort_rows, k, progress=False, desc="permutation_test", dispatchers=(kp._sorted_rows,),
                           first=max(1, int(0.05 / (n * max(1.0, np.log2(n)) * 1e-8))))
            else:
                # a long row alone takes seconds to sort: mannwhitneyu's merge sort in slices
                from simengine.twosample import _sorted_in_slices

                for r in range(k):
                    pooled = np.concatenate((xr[r], yr[r]))
                    order = _sorted_in_slices(pooled, "permutation_test")[1]
                    tol[r] = kp._centre_row1(pooled, order, vals[r], from_x[r], rank[r], nx)
            if exact:
                _run_exact(vals, from_x, kind, None, n_null, observed, null, nx=nx, ny=ny)
            else:
                _run_random(vals, from_x, kind, rank, n_null, sub, group, ss, observed, null, nx=nx, ny=ny)
    except MemoryError:
        failed = "memory"
    except _Incomplete:
        failed = "statistic" if kind == "custom" else "memory"
    except SystemError as exc:
        # numba's parallel loop returned with an exception set (a statistic that raised, or
        # an allocation that failed inside the loop)
        if kind != "custom" or isinstance(exc.__context__, MemoryError):
            failed = "memory"
        else:
            raise ValueError(
                "`statistic` raised an exception while computing the null distribution: "
                f"{type(exc.__context__).__name__}: {exc.__context__}"
            ) from None
    if failed == "statistic":
        raise ValueError(
            "`statistic` raised an exception while computing the null distribution "
            "(or memory ran out); call it on the data directly to see the error"
        )
    if failed == "memory":
        raise MemoryError(
            f"permutation_test ran out of memory for {k} test(s) of {nx} + {ny} observations "
            f"(`x`, `y`) with `n_resamples` = {n_resamples}; use fewer columns or resamples"
        )
    _check_finite_statistic(observed, null, kind)
    if tol is None:  # custom statistic: relative to the scale of its null distribution
        tol = _TIE_RTOL * np.abs(null).max(axis=1)
    pvalue = _pvalues(observed, null, alternative, exact, n_null, tol)
    return observed, pvalue, null, exact, n_null


class _Incomplete(Exception):
    """A kernel's parallel loop skipped work without raising (an allocation failed, or a statistic raised)."""


def _run_exact(a, b, kind, func, n_null, observed, null, *, nx=None, ny=None):
    """All splits, in units of about _EXACT_UNIT_OPS element operations run in slices.

    a, b: the rows x, y (custom statistic) or the sorted rows and their masks of x's positions.
    Exact splits draw nothing, so their unit is free: a slice stays short even for one long column;
    the next split is carried from one slice to the next.
    """
    from simengine.kernels import permutation as kp

    k = a.shape[0]
    if kind == "custom":
        nx, ny = a.shape[1], b.shape[1]
    n = nx + ny
    unit = max(1, min(PERM_BLOCK, _EXACT_UNIT_OPS // (k * n)))
    units = n_blocks(n_null, unit)
    comb = np.arange(min(nx, ny), dtype=np.int64)  # the first split of the next slice
    comb_next = comb.copy()
    done = np.zeros(k, dtype=np.bool_)
    ok = np.ones(k, dtype=np.bool_)  # rows that ran to the end of every slice
    if kind == "custom":
        kernel = kp._perm_custom_exact

        def run(lo, hi):
            return kernel(a, b, func, n_null, unit, lo, hi, comb, comb_next, observed, null, done)
    else:
        kernel = kp._perm_exact_mean if kind == "mean" else kp._perm_exact_median

        def run(lo, hi):
            return kernel(a, b, nx, ny, n_null, unit, lo, hi, comb, comb_next, observed, null, done)

    def call(lo, hi):
        run(lo, hi)
        ok[:] &= done
        done[:] = False
        comb[:] = comb_next

    # ~3 ns per element operation; exact units run their rows in parallel, one unit at a time
    first = max(1, 4 * _EXACT_UNIT_OPS // (unit * k * n))
    # no `progress` parameter (a test, like scipy's): Ctrl-C is answered, no bar is drawn
    run_blocks(call, units, progress=False, desc="permutation_test", dispatchers=(kernel,), first=first)
    if not ok.all():
        raise _Incomplete


def _run_random(a, b, kind, c, n_null, sub, group, ss, observed, null, *, nx=None, ny=None):
    """`n_null` random splits in blocks of PERM_BLOCK, each from its own stream, run in slices.

    a, b, c: x, y and the statistic (custom), or the sorted rows, their masks of x's positions
    and the ranks.  With ``sub == PERM_BLOCK`` a unit is a block and a slice makes the streams of
    its own blocks; otherwise blocks run in groups of `group`, a group's units (one part of `sub`
    resamples of one block) part-major, each block's stream and Fisher-Yates state carried from
    one part to the next (see the kernels), so the numbers never depend on `sub` or the slicing.
    """
    from simengine._long import first_slice, threaded_blocks
    from simengine._rng import slice_generators
    from simengine.kernels import permutation as kp

    k = a.shape[0]
    if kind == "custom":
        nx, ny = a.shape[1], b.shape[1]
        kernel = kp._perm_custom_random
    else:
        kernel = kp._perm_random_mean if kind == "mean" else kp._perm_random_median
    n = nx + ny
    nb = n_blocks(n_null, PERM_BLOCK)
    parts = n_blocks(min(PERM_BLOCK, n_null), sub)  # (units past the end of the last block do nothing)
    done = np.zeros(nb, dtype=np.int64)

    def run(gens, base, u0, u1, perms):
        if kind == "custom":
            kernel(a, b, c, n_null, PERM_BLOCK, gens, base, sub, u0, u1, perms, observed, null, done)
        else:  # one serial call per block of the group, in threads (see the kernels)
            threaded_blocks(lambda j: kernel(a, b, c, nx, ny, n_null, PERM_BLOCK, gens, base, sub, u0, u1, j, perms,
                                             observed, null, done), 0, min(len(gens), u1 - u0))

    if parts == 1:
        def call(lo, hi):
            run(slice_generators(ss, lo, hi), lo, 0, hi - lo, np.empty((hi - lo, n), dtype=np.int64))
        units = nb
    else:
        size = group * parts  # units of a full group
        state: dict[str, Any] = {"index": -1}

        def call(lo, hi):
            while lo < hi:
                index = lo // size
                base = index * group
                width = min(group, nb - base)
                start = index * size
                stop = min(hi, start + width * parts)
                if state["index"] != index:  # a new group: its streams and states (the old ones are done)
                    state.update(index=index, gens=slice_generators(ss, base, base + width),
                                 perms=np.empty((width, n), dtype=np.int64))
                run(state["gens"], base, lo - start, stop - start, state["perms"])
                lo = stop
        units = (nb - 1) // group * size + (nb - (nb - 1) // group * group) * parts
    # ~3 ns per element operation in cache, ~30 ns on long rows (whose rank, perm and mask do not fit)
    first = first_slice(sub * k * n * (3e-9 if n <= 2**15 else 3e-8))
    # no `progress` parameter (a test, like scipy's): Ctrl-C is answered, no bar is drawn
    run_blocks(call, units, progress=False, desc="permutation_test", dispatchers=(kernel,), first=first)
    if not (done == parts).all():
        raise _Incomplete


def _permutation_with_nan(xr, yr, one_d, nan_rows, nan_policy, ss, kwargs):
    """scipy's "propagate" / "omit" for the rows holding NaN; the other rows as one batch."""
    if one_d and nan_policy == "omit":
        a, b = _omitted(xr, yr, 0)
        if a.size and b.size:
            return permutation_test(a, b, rng=ss, **kwargs)
    kind, func = _check_statistic(kwargs["statistic"])
    k = xr.shape[0]
    clean = np.flatnonzero(~nan_rows)
    observed = np.full(k, np.nan)
    pvalue = np.full(k, np.nan)
    if clean.size:
        obs_c, p_c, null_c, exact, n_null = _permutation_rows(
            np.ascontiguousarray(xr[clean]), np.ascontiguousarray(yr[clean]), kind, func,
            kwargs["alternative"], kwargs["n_resamples"], ss)
    else:  # what the full-size columns would have used
        n_max = _n_splits(xr.shape[1], yr.shape[1], kwargs["n_resamples"])
        exact = n_max <= kwargs["n_resamples"]
        n_null = n_max if exact else kwargs["n_resamples"]
    null = np.full((k, n_null), np.nan)
    if clean.size:
        observed[clean], pvalue[clean], null[clean] = obs_c, p_c, null_c
    if nan_policy == "omit":
        for r in np.flatnonzero(nan_rows):
            a, b = _omitted(xr, yr, r)
            if a.size and b.size:
                res = permutation_test(a, b, rng=ss, **kwargs)
                observed[r], pvalue[r] = res.statistic, res.pvalue
                null[r, : res.null_distribution.size] = res.null_distribution
    if one_d:
        return PermutationTestResult(float(observed[0]), float(pvalue[0]), null[0], exact, n_null)
    return PermutationTestResult(observed, pvalue, contiguous(null.T), exact, n_null)


def _n_splits(nx: int, ny: int, limit: int) -> int:
    """comb(nx + ny, nx) if it is at most `limit`, else limit + 1.

    math.comb itself takes 40 s for two samples of 10**6 (a 600 000-digit number) only to
    learn that enumeration is out of the question; the partial products C(n - k + i, i)
    grow with i, so the loop stops as soon as one passes `limit`.
    """
    k = min(nx, ny)
    n = nx + ny
    count = 1
    for i in range(1, k + 1):
        count = count * (n - k + i) // i
        if count > limit:
            return limit + 1
    return count


# Bytes a numba.typed.List entry of one block Generator takes (measured: about 2.9 KB).
_GEN_BYTES = 3000


def _check_perm_size(k, n, n_null, n_gens, group):
    """Refuse work and memory beyond the shared limits (Python ints: nothing wraps)."""
    v.check_work(
        n_null * k * n, "`n_resamples` x columns x (len(`x`) + len(`y`))", unit="statistic element operations"
    )
    # null (k, R), its transposed copy and the p-value temporaries; sorted rows, masks and ranks; streams
    # (and the Fisher-Yates states of a group of blocks run in parts)
    v.check_memory(
        20 * k * n_null + 17 * k * n + _GEN_BYTES * n_gens + 8 * n * group,
        "`n_resamples` x columns of `x`",
        what="the null distribution",
    )


def _run_custom(run):
    try:
        return run()
    except NumbaError as exc:
        # the statistic does not compile with two 1-D float64 arrays -> float
        raise TypeError(
            "`statistic` must be a jitted function f(x, y) -> float of two 1-D float64 arrays; "
            f"it could not be compiled for that ({v.compile_error_line(exc)})"
        ) from None


def _check_finite_statistic(observed, null, kind):
    """Refuse a non-finite observed statistic or resample: it would make every p-value wrong."""
    if np.isfinite(observed).all() and np.isfinite(null).all():
        return
    where = "the observed data" if not np.isfinite(observed).all() else "a resample"
    if kind == "custom":
        raise ValueError(
            f"`statistic` returned a non-finite value (NaN or inf) for {where}; "
            "it must return a finite float for every split of the data"
        )
    raise ValueError(
        f"the {kind} difference overflowed to a non-finite value for {where}: "
        "`x` and `y` hold values too large to sum (rescale them)"
    )


# ---------------------------------------------------------------------------------------------------------
# Designs beyond two independent samples (issue 17): "samples" (paired sign flips), "pairings" (association)
# and k independent samples.  The two-sample independent test above is untouched (same numbers).
# ---------------------------------------------------------------------------------------------------------

PERMUTATION_TYPES = ("independent", "samples", "pairings")

# Resamples per stream of the new designs: PERM_BLOCK, fewer for rows longer than 2**20 / PERM_BLOCK = 419
# observations, so that a block (the unit of a slice) stays about 2**20 element operations.  A function of
# the row length only (never of the thread count or the number of columns).
_DESIGN_BLOCK_OPS = 2**20

_DESIGN_CHOICES = {
    "samples": ("mean", "median"),
    "pairings": ("correlation",),
    "groups": ("f_oneway", "kruskal"),
}
_DESIGN_CUSTOM = {
    "samples": "f(x, y) -> float (x, y: the pairs, some swapped)",
    "pairings": "f(x, y) -> float (y re-paired)",
    "groups": "f(pooled, sizes) -> float (pooled: the samples one after another, sizes: their lengths)",
}


def _design_block(n: int) -> int:
    return max(1, min(PERM_BLOCK, _DESIGN_BLOCK_OPS // max(1, n)))


def _check_design_statistic(statistic, design, n_samples):
    choices = _DESIGN_CHOICES[design]
    names = " or ".join(repr(c) for c in choices)
    if isinstance(statistic, str):
        if design == "groups" and statistic in ("mean", "median"):
            raise ValueError(
                f"`statistic` {statistic!r} compares two samples; with {n_samples} samples use "
                "'f_oneway', 'kruskal' or a jitted f(pooled, sizes)"
            )
        if statistic not in choices:
            raise ValueError(
                f"`statistic` must be {names} or a jitted function for permutation_type="
                f"{'independent' if design == 'groups' else design!r}; got {statistic!r}"
            )
        return statistic, None
    if isinstance(statistic, CPUDispatcher):
        return "custom", statistic
    what = "a plain Python callable" if callable(statistic) else v._describe(statistic)
    raise TypeError(
        f"`statistic` must be {names} or a jitted function {_DESIGN_CUSTOM[design]}, decorated with @njit; "
        f"got {what}"
    )


def _as_rows_k(samples, names, axis, nan_policy, paired):
    """Rows (k, n_i) of every sample, whether the input was 1-D, and the rows holding a NaN (or None)."""
    arrs = [v.as_data_array(s, name, ndim=(1, 2), finite=False) for s, name in zip(samples, names)]
    ndim = arrs[0].ndim
    for a, name in zip(arrs[1:], names[1:]):
        if a.ndim != ndim:
            raise ValueError(
                f"`x` and `{name}` must have the same number of dimensions; got {ndim}-D and {a.ndim}-D"
            )
    if ndim == 1:
        v.check_axis(axis, "axis", 1)
        rows = [a[None, :] for a in arrs]
    else:
        axis = v.check_axis(axis, "axis", 2)
        other = 1 - axis
        for a, name in zip(arrs[1:], names[1:]):
            if a.shape[other] != arrs[0].shape[other]:
                raise ValueError(
                    f"`x` and `{name}` must have the same number of columns (tests) along axis {other}; "
                    f"got {arrs[0].shape[other]} and {a.shape[other]}"
                )
        rows = [contiguous(a.T) if axis == 0 else contiguous(a) for a in arrs]
    if paired and rows[0].shape[1] != rows[1].shape[1]:
        raise ValueError(
            f"`x` and `y` must have the same length (pairs) for this `permutation_type`; "
            f"got {rows[0].shape[1]} and {rows[1].shape[1]}"
        )
    nan_rows = None
    if not all(np.isfinite(r).all() for r in rows):
        for a, name in zip(arrs, names):
            if np.isinf(a).any():
                raise ValueError(f"`{name}` must be finite; it contains inf (NaN follows `nan_policy`)")
        for a, name in zip(arrs, names):
            if nan_policy == "raise" and np.isnan(a).any():
                raise ValueError(f"`{name}` contains NaN and `nan_policy` is 'raise' (use 'propagate' or 'omit')")
        nan_rows = np.zeros(rows[0].shape[0], dtype=bool)
        for r in rows:
            nan_rows |= np.isnan(r).any(axis=1)
    return rows, ndim == 1, nan_rows


def _design_test(samples, statistic, design, alternative, n_resamples, axis, rng, nan_policy):
    """`permutation_test` for the designs "samples", "pairings" and k independent samples ("groups")."""
    names = ["x", "y"] + [f"more_samples[{i}]" for i in range(len(samples) - 2)]
    kind, func = _check_design_statistic(statistic, design, len(samples))
    v.check_choice(alternative, "alternative", v.ALTERNATIVES)
    n_resamples = v.check_bounded_count(n_resamples, "n_resamples")
    nan_policy = _check_nan_policy(nan_policy)
    ss = as_seed_sequence(rng)
    rows, one_d, nan_rows = _as_rows_k(samples, names, axis, nan_policy, design != "groups")
    k = rows[0].shape[0]
    sizes = [r.shape[1] for r in rows]
    if nan_rows is None:
        observed, pvalue, null, exact, n_null = _design_rows(design, kind, func, rows, alternative, n_resamples, ss)
    else:
        # scipy's "propagate" (NaN results for a column holding NaN) or "omit": a column's NaN pairs
        # (paired designs) or NaN values (k samples) dropped, tested alone with the same seed
        n_max = _design_count(design, sizes, n_resamples)
        exact = n_max <= n_resamples
        n_null = n_max if exact else n_resamples
        observed, pvalue = np.full(k, np.nan), np.full(k, np.nan)
        null = np.full((k, n_null), np.nan)
        clean = np.flatnonzero(~nan_rows)
        if clean.size:
            out = _design_rows(design, kind, func, [np.ascontiguousarray(r[clean]) for r in rows],
                               alternative, n_resamples, ss)
            observed[clean], pvalue[clean], null[clean] = out[0], out[1], out[2]
        if nan_policy == "omit":
            for r in np.flatnonzero(nan_rows):
                parts = [s[r] for s in rows]
                if design == "groups":
                    parts = [p[~np.isnan(p)] for p in parts]
                else:
                    keep = ~(np.isnan(parts[0]) | np.isnan(parts[1]))
                    parts = [p[keep] for p in parts]
                if all(p.size for p in parts) and (design != "pairings" or parts[0].size >= 2):
                    o = _design_rows(design, kind, func, [p[None, :] for p in parts], alternative, n_resamples, ss)
                    observed[r], pvalue[r] = o[0][0], o[1][0]
                    null[r, : o[2].shape[1]] = o[2][0]
    if one_d:
        return PermutationTestResult(float(observed[0]), float(pvalue[0]), null[0], exact, n_null)
    return PermutationTestResult(observed, pvalue, contiguous(null.T), exact, n_null)


def _design_count(design, sizes, limit):
    """Distinct resamples (2^n sign flips, n! pairings, the multinomial of k samples), or limit + 1 past it."""
    if design == "samples":
        n = sizes[0]
        return 2**n if n < 64 and 2**n <= limit else limit + 1
    if design == "pairings":
        count = 1
        for i in range(2, sizes[0] + 1):
            count *= i
            if count > limit:
                return limit + 1
        return count
    count, total = 1, 0
    for m in sizes:  # the partial products C(total + m, m) grow, so stop early (math.comb of huge n is slow)
        for i in range(1, m + 1):
            total += 1
            count = count * total // i
            if count > limit:
                return limit + 1
    return count


def _design_rows(design, kind, func, rows, alternative, n_resamples, ss, *, checked=False):
    """The test on rows without NaN: (observed, pvalue, null (k, R), exact, R)."""
    k = rows[0].shape[0]
    sizes = [r.shape[1] for r in rows]
    n = sum(sizes) if design == "groups" else sizes[0]
    n_max = _design_count(design, sizes, n_resamples)
    exact = n_max <= n_resamples
    n_null = n_max if exact else n_resamples
    block = _design_block(n)
    if not checked:
        _check_perm_size(k, 2 * n, n_null, 1 if exact else n_blocks(n_null, block), 0)
        # columns in batches whose exact unit or random block stays short; every column sees the same
        # resamples whatever its batch (the same streams), so batching changes no number
        per = max(1, _ROW_CHUNK_OPS // (n * (1 if exact else block)))
        if k > per:
            outs = [_design_rows(design, kind, func, [np.ascontiguousarray(r[a:a + per]) for r in rows],
                                 alternative, n_resamples, ss, checked=True) for a in range(0, k, per)]
            return (np.concatenate([o[0] for o in outs]), np.concatenate([o[1] for o in outs]),
                    np.concatenate([o[2] for o in outs]), exact, n_null)
    from simengine.kernels import permutation as kp

    observed = np.empty(k)
    null = np.full((k, n_null), np.nan)  # work a parallel loop skipped stays NaN (refused below)
    state = np.arange(n, dtype=np.int64)  # the enumeration's first permutation (pairings, groups)
    tol = None
    post = None
    if design == "samples":
        x, y = rows
        with np.errstate(over="ignore"):
            d = x - y
        if not np.isfinite(d).all():
            raise ValueError("the paired differences `x` - `y` overflowed: `x` and `y` hold values too large "
                             "to subtract (rescale them)")
        a = np.abs(d)
        neg = d < 0
        if kind == "median":  # |d| ascending, and the signs in that order
            order = np.argsort(a, axis=1, kind="stable")
            a = np.ascontiguousarray(np.take_along_axis(a, order, axis=1))
            neg = np.ascontiguousarray(np.take_along_axis(neg, order, axis=1))
        if kind == "custom":
            args: tuple[Any, ...] = (x, y, func)
            ek, rk = kp._flip_custom_exact, kp._flip_custom_random
        elif kind == "mean":
            args = (np.ascontiguousarray(d),)
            ek, rk = kp._flip_exact_mean, kp._flip_random_mean
        else:
            args = (a, neg)
            ek, rk = kp._flip_exact_median, kp._flip_random_median
            # as the two-sample test's tol: datum representation (M) and sum rounding (n S)
            big = np.maximum(np.abs(x).max(axis=1), np.abs(y).max(axis=1))
            tol = 4.0 * _EPS * (big + n * a.max(axis=1))
        e_args, r_args = args, args
        state = np.empty(0, dtype=np.int64)
    elif design == "pairings":
        x, y = rows
        if kind == "custom":
            e_args = r_args = (x, y, func)
            ek, rk = kp._pair_custom_exact, kp._pair_custom_random
        else:
            zs, scale = [], []
            for arr, name in ((x, "x"), (y, "y")):
                z = arr - arr.mean(axis=1, keepdims=True)
                norm = np.sqrt((z * z).sum(axis=1))
                if not (norm > 0).all():
                    where = "" if k == 1 else f" in column {int(np.flatnonzero(~(norm > 0))[0])}"
                    raise ValueError(f"`{name}` is constant{where}: its correlation is undefined")
                zs.append(np.ascontiguousarray(z / norm[:, None]))
                scale.append(np.abs(arr).max(axis=1) / norm)
            e_args = r_args = (zs[0], zs[1])
            ek, rk = kp._pair_exact_r, kp._pair_random_r
            # r = sum zx zy': rounding of the n products and sums, and the centring's error relative to the norm
            tol = 4.0 * _EPS * (n + np.sqrt(n) * (scale[0] + scale[1]))
    else:
        pooled = np.ascontiguousarray(np.concatenate(rows, axis=1))
        g_sizes = np.asarray(sizes, dtype=np.int64)
        labels = np.repeat(np.arange(len(sizes), dtype=np.int64), g_sizes)
        state = labels.copy()
        if kind == "custom":
            e_args, r_args = (pooled, g_sizes, func), (pooled, labels, g_sizes, func)
            ek, rk = kp._groups_custom_exact, kp._groups_custom_random
        else:
            ek, rk = kp._groups_exact_ss, kp._groups_random_ss
            n_groups = len(sizes)
            if kind == "f_oneway":
                lo, hi = pooled.min(axis=1), pooled.max(axis=1)
                w = np.ascontiguousarray(pooled - (0.5 * lo + 0.5 * hi)[:, None])  # centred: errors relative to S
                spread = np.abs(w).max(axis=1)
                big = np.maximum(np.abs(lo), np.abs(hi))
                tol = 4.0 * _EPS * n * spread * (big + (n_groups + 1) * spread)
                total = (w * w).sum(axis=1)
                corr = w.sum(axis=1) ** 2 / n

                def post(ss_between):  # sum_j S_j^2 / n_j -> F
                    between = (ss_between - corr[:, None]) / (n_groups - 1)
                    within = (total[:, None] - ss_between) / (n - n_groups)
                    with np.errstate(divide="ignore", invalid="ignore"):
                        return between / within
                v_rows = w
            else:
                v_rows, ties = _midranks(pooled)
                tol = np.full(k, 4.0 * (n_groups + 1) * _EPS * (n * (n + 1) / 2.0) ** 2)

                def post(ss_between):  # sum_j R_j^2 / n_j -> H (with the tie correction)
                    with np.errstate(divide="ignore", invalid="ignore"):
                        return (12.0 / (n * (n + 1)) * ss_between - 3.0 * (n + 1)) / ties[:, None]
            e_args, r_args = (v_rows, g_sizes), (v_rows, labels, g_sizes)
    failed = None
    try:
        def run():
            if exact:
                _design_exact(ek, e_args, state, n_null, k, n, observed, null)
            else:
                _design_random(rk, r_args, n_null, block, ss, k, n, observed, null)
        if kind == "custom":
            _run_custom(run)
        else:
            run()
    except MemoryError:
        failed = "memory"
    except SystemError as exc:
        if kind != "custom" or isinstance(exc.__context__, MemoryError):
            failed = "memory"
        else:
            raise ValueError(
                "`statistic` raised an exception while computing the null distribution: "
                f"{type(exc.__context__).__name__}: {exc.__context__}"
            ) from None
    if failed is None and not (np.isfinite(observed).all() and np.isfinite(null).all()):
        failed = "statistic" if kind == "custom" else "memory"
    if failed == "statistic":
        raise ValueError(
            "`statistic` returned a non-finite value (NaN or inf) or raised, for the observed data or a "
            "resample; it must return a finite float for every resample of the data"
        )
    if failed == "memory":
        raise MemoryError(
            f"permutation_test ran out of memory for {k} test(s) of {n} observations "
            f"with `n_resamples` = {n_resamples}; use fewer columns or resamples"
        )
    if tol is None:  # custom statistic: relative to the scale of its null distribution
        tol = _TIE_RTOL * np.abs(null).max(axis=1)
    # F and H are increasing functions of the between-groups sum, so its p-value is theirs; ties are
    # decided on the sum, whose rounding is bounded (tol), not on the ratio
    pvalue = _pvalues(observed, null, alternative, exact, n_null, tol)
    if post is not None:
        observed = post(observed[:, None])[:, 0]
        null = post(null)
    return observed, pvalue, null, exact, n_null


_EPS = float(np.finfo(np.float64).eps)


def _midranks(rows):
    """Midranks of each row (scipy's rankdata "average") and kruskal's tie correction
    1 - sum(t^3 - t) / (n^3 - n) (a tie group of t values: t elements of t^2 - 1 each)."""
    k, n = rows.shape
    order = np.argsort(rows, axis=1, kind="stable")
    srt = np.take_along_axis(rows, order, axis=1)
    idx = np.broadcast_to(np.arange(n), (k, n))
    start = np.ones((k, n), dtype=bool)
    start[:, 1:] = srt[:, 1:] != srt[:, :-1]
    end = np.ones((k, n), dtype=bool)
    end[:, :-1] = start[:, 1:]
    first = np.maximum.accumulate(np.where(start, idx, 0), axis=1)
    last = np.minimum.accumulate(np.where(end, idx, n)[:, ::-1], axis=1)[:, ::-1]
    ranks = np.empty((k, n))
    np.put_along_axis(ranks, order, (first + last) / 2.0 + 1.0, axis=1)
    t = (last - first + 1).astype(np.float64)
    ties = 1.0 - (t * t - 1.0).sum(axis=1) / (float(n) ** 3 - n)
    return ranks, ties


def _design_exact(kernel, args, state, n_null, k, n, observed, null):
    """All distinct resamples, `unit` per work unit, run in slices; the enumeration state carried across."""
    unit = max(1, min(PERM_BLOCK, _EXACT_UNIT_OPS // (k * n)))
    units = n_blocks(n_null, unit)
    state_next = state.copy()
    with_state = state.shape[0] > 0

    def call(lo, hi):
        if with_state:
            kernel(*args, n_null, unit, lo, hi, state, state_next, observed, null)
            state[:] = state_next
        else:
            kernel(*args, n_null, unit, lo, hi, observed, null)

    run_blocks(call, units, progress=False, desc="permutation_test", dispatchers=(kernel,),
               first=max(1, 4 * _EXACT_UNIT_OPS // (unit * k * n)))


def _design_random(kernel, args, n_null, block, ss, k, n, observed, null):
    """`n_null` random resamples in blocks of `block`, each from its own stream, run in slices of blocks.

    The built-in sign-flip kernels step the streams themselves from PCG64 states (the same numbers as the
    blocks' Generators, without making one per block); the others take the Generators."""
    from simengine._long import first_slice
    from simengine._rng import slice_generators, slice_states
    from simengine.kernels import permutation as kp

    streams = slice_states if kernel in (kp._flip_random_mean, kp._flip_random_median) else slice_generators

    def call(lo, hi):
        kernel(*args, n_null, block, streams(ss, lo, hi), lo, observed, null)

    run_blocks(call, n_blocks(n_null, block), progress=False, desc="permutation_test", dispatchers=(kernel,),
               first=first_slice(block * k * n * 3e-9))

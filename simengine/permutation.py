"""Two-sample permutation tests, batched over columns, with scipy's semantics.

`permutation_test` matches ``scipy.stats.permutation_test(..., permutation_type="independent")``:
exact enumeration when all distinct splits fit in `n_resamples`, otherwise a
randomized test with p = (k + 1) / (R + 1), and scipy's tolerance for ties.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from simengine import _validate as v
from simengine._numba_compat import CPUDispatcher, NumbaError
from simengine._results import ResultMixin
from simengine._rng import as_seed_sequence, block_generators, n_blocks

__all__ = ["permutation_test", "PermutationTestResult", "PERM_BLOCK"]

# Resamples per random stream.  A constant of the algorithm (never the thread
# count): 9 999 resamples make four nearly equal blocks.
PERM_BLOCK = 2500

# scipy's relative tolerance: null values within 100 ulp-scale of the observed
# statistic count as equal to it.
_TIE_RTOL = 100 * np.finfo(np.float64).eps


@dataclass(frozen=True, slots=True)
class PermutationTestResult(ResultMixin):
    """Result of `permutation_test` (field names as in scipy's result).

    Attributes
    ----------
    statistic : float or ndarray
        Observed statistic (y minus x for the built-in ones); one per column for 2-D input.
    pvalue : float or ndarray
        Exact p-value (all splits enumerated) or randomized p-value ``(k + 1) / (R + 1)``.
    null_distribution : ndarray
        Statistic of every resample: shape ``(R,)`` for 1-D input, ``(R, n_columns)`` for 2-D.
    exact : bool
        True when all distinct splits were enumerated.
    n_resamples : int
        Number of values in the null distribution (the number of splits when exact).
    """

    statistic: float | np.ndarray
    pvalue: float | np.ndarray
    null_distribution: np.ndarray = field(repr=False)
    exact: bool
    n_resamples: int


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


def _as_rows(x, y, axis):
    """(k, nx), (k, ny) C-contiguous rows, one test per row, and whether the input was 1-D."""
    x = v.as_data_array(x, "x", ndim=(1, 2))
    y = v.as_data_array(y, "y", ndim=(1, 2))
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
    return np.ascontiguousarray(x), np.ascontiguousarray(y), False


def _pvalues(observed, null, alternative, exact, n_null):
    """scipy's p-value rule, on observed (k,) and null (k, R)."""
    adjustment = 0 if exact else 1
    gamma = np.abs(_TIE_RTOL * observed)[:, None]
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


def permutation_test(x, y, *, statistic="mean", alternative="two-sided", n_resamples=9999, axis=0, rng=None):
    """Two-sample permutation test of ``statistic(y) - statistic(x)``, one test per column.

    Same semantics as ``scipy.stats.permutation_test((x, y), ...,
    permutation_type="independent")`` (Fisher 1935; Phipson & Smyth 2010):
    when the number of distinct splits ``comb(nx + ny, nx)`` is at most
    `n_resamples`, all splits are enumerated and the p-value is exact
    (equal to scipy's); otherwise `n_resamples` random splits give
    ``p = (k + 1) / (n_resamples + 1)``.  Null values within a relative
    ``100 * eps`` of the observed statistic count as ties, as in scipy.
    Two-sided p-values are twice the smaller one-sided p-value, clipped to 1.

    Parameters
    ----------
    x, y : array_like
        Samples, 1-D, or 2-D with one test per column (along `axis`); NaN/inf are refused.
    statistic : {"mean", "median"} or numba-jitted callable, default "mean"
        ``"mean"``: mean(y) - mean(x); ``"median"``: median(y) - median(x);
        or ``f(x, y) -> float`` compiled with ``numba.njit`` (it gets two 1-D
        float64 arrays and is called from several threads, so it must be pure).
    alternative : {"two-sided", "less", "greater"}, default "two-sided"
        "greater": the statistic is larger than under the null.
    n_resamples : int, default 9999
        Random splits per test (>= 1); also the exact-enumeration threshold.
    axis : int, default 0
        Axis of 2-D `x`, `y` along which observations lie.
    rng : None, int, SeedSequence or Generator
        Seed (SPEC 7).  Resamples are drawn in blocks of `PERM_BLOCK`, each from
        its own stream, so results do not depend on the thread count.  As in scipy,
        every column uses the same random splits, so a column's result does not
        depend on the rest of the batch (batched = column-by-column, same seed).

    Returns
    -------
    PermutationTestResult

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
    >>> res = simengine.permutation_test(x, y, statistic="median", rng=1)
    >>> round(res.statistic, 3), round(res.pvalue, 3), res.null_distribution.shape
    (0.451, 0.063, (9999,))
    >>> simengine.permutation_test([1.0, 2.0, 3.0], [4.0, 5.0, 6.0], alternative="greater").pvalue
    0.05
    """
    kind, func = _check_statistic(statistic)
    v.check_choice(alternative, "alternative", v.ALTERNATIVES)
    n_resamples = v.check_bounded_count(n_resamples, "n_resamples")
    ss = as_seed_sequence(rng)
    xr, yr, one_d = _as_rows(x, y, axis)
    k, nx = xr.shape
    ny = yr.shape[1]
    n_max = _n_splits(nx, ny, n_resamples)
    exact = n_max <= n_resamples
    n_null = n_max if exact else n_resamples
    n_gens = 1 if exact else n_blocks(n_null, PERM_BLOCK)
    _check_perm_size(k, nx + ny, n_null, n_gens)
    gens = block_generators(ss, n_gens)
    from simengine.kernels import permutation as kp

    try:
        if kind == "custom":
            observed, null, done = _run_custom(kp, xr, yr, func, n_null, exact, gens)
        else:
            code = kp.MEAN if kind == "mean" else kp.MEDIAN
            observed, null, done = kp._perm_null_builtin(xr, yr, code, n_null, exact, gens, PERM_BLOCK)
    except MemoryError:
        done = None
    except SystemError as exc:
        # numba's parallel loop returned with an exception set (a statistic that raised, or
        # an allocation that failed inside the loop)
        if kind != "custom" or isinstance(exc.__context__, MemoryError):
            done = None
        else:
            raise ValueError(
                "`statistic` raised an exception while computing the null distribution: "
                f"{type(exc.__context__).__name__}: {exc.__context__}"
            ) from None
    if done is None or not done.all():
        if kind == "custom" and done is not None:
            raise ValueError(
                "`statistic` raised an exception while computing the null distribution "
                "(or memory ran out); call it on the data directly to see the error"
            )
        raise MemoryError(
            f"permutation_test ran out of memory for {k} test(s) of {nx} + {ny} observations "
            f"(`x`, `y`) with `n_resamples` = {n_resamples}; use fewer columns or resamples"
        )
    _check_finite_statistic(observed, null, kind)
    pvalue = _pvalues(observed, null, alternative, exact, n_null)
    if one_d:
        return PermutationTestResult(float(observed[0]), float(pvalue[0]), null[0], exact, n_null)
    return PermutationTestResult(observed, pvalue, np.ascontiguousarray(null.T), exact, n_null)


def _n_splits(nx, ny, limit):
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


def _check_perm_size(k, n, n_null, n_gens):
    """Refuse work and memory beyond the shared limits (Python ints: nothing wraps)."""
    v.check_work(
        n_null * k * n, "`n_resamples` x columns x (len(`x`) + len(`y`))", unit="statistic element operations"
    )
    # null (k, R), its transposed copy and the p-value temporaries; sorted rows and ranks; streams
    v.check_memory(
        20 * k * n_null + 16 * k * n + _GEN_BYTES * n_gens,
        "`n_resamples` x columns of `x`",
        what="the null distribution",
    )


def _run_custom(kp, xr, yr, func, n_null, exact, gens):
    try:
        return kp._perm_null_custom(xr, yr, func, n_null, exact, gens, PERM_BLOCK)
    except NumbaError as exc:
        # the statistic does not compile with two 1-D float64 arrays -> float
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        first = re.sub(r"nopython|numba", "compiled", first, flags=re.IGNORECASE)
        raise TypeError(
            "`statistic` must be a jitted function f(x, y) -> float of two 1-D float64 arrays; "
            f"it could not be compiled for that ({first[:200]})"
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

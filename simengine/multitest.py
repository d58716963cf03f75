"""Multiple-testing corrections for many families at once, and their simulated error rates.

`multipletests` is statsmodels' function batched over rows; `simulate_multiple_testing`
estimates FWER, FDR and power of each correction on simulated two-sample t-test families.
"""
from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from simengine import _validate as v
from simengine._long import check_progress, run_blocks
from simengine._results import MEAN, MonteCarloResult, Result, until_target
from simengine._rng import child_seed_sequence
from simengine._typing import ArrayLike, FloatOrArray, Progress, SeedLike, StrOrArray

if TYPE_CHECKING:  # pandas is imported when a frame is made, not with the package
    import pandas as pd

__all__ = [
    "multipletests",
    "MultipletestsResult",
    "METHODS",
    "ALIASES",
    "simulate_multiple_testing",
    "SimulateMultipleTestingResult",
    "FAMILY_BLOCK",
]

# canonical name -> kernel code (simengine.kernels.multitest)
METHODS = {
    "bonferroni": 0,
    "sidak": 1,
    "holm": 2,
    "holm-sidak": 3,
    "simes-hochberg": 4,
    "hommel": 5,
    "fdr_bh": 6,
    "fdr_by": 7,
    "fdr_tsbh": 8,
    "fdr_tsbky": 9,
    "fdr_gbs": 10,
    "lfdr": 11,
}

# every name statsmodels 0.15 accepts (matched after lower-casing, as statsmodels does) -> canonical name
ALIASES = {
    **dict.fromkeys(("b", "bonf", "bonferroni"), "bonferroni"),
    **dict.fromkeys(("s", "sidak"), "sidak"),
    **dict.fromkeys(("h", "holm"), "holm"),
    **dict.fromkeys(("hs", "holm-sidak"), "holm-sidak"),
    **dict.fromkeys(("sh", "simes-hochberg"), "simes-hochberg"),
    **dict.fromkeys(("ho", "hommel"), "hommel"),
    **dict.fromkeys(("fdr_bh", "fdr_i", "fdr_p", "fdri", "fdrp"), "fdr_bh"),
    **dict.fromkeys(("fdr_by", "fdr_n", "fdr_c", "fdrn", "fdrcorr"), "fdr_by"),
    **dict.fromkeys(("fdr_tsbh", "fdr_2sbh"), "fdr_tsbh"),
    **dict.fromkeys(("fdr_tsbky", "fdr_2sbky", "fdr_twostage"), "fdr_tsbky"),
    "fdr_gbs": "fdr_gbs",
    **dict.fromkeys(("lfdr", "lfdr_sl"), "lfdr"),
}


@dataclass(frozen=True, slots=True)
class MultipletestsResult(Result):
    """Result of `multipletests`.

    Unpacks as statsmodels' tuple: ``reject, pvals_corrected, alphacSidak, alphacBonf =
    multipletests(p)``.

    Attributes
    ----------
    reject : ndarray of bool
        True where the hypothesis is rejected at level `alpha`; same shape as the input (in sorted
        order within each family when ``returnsorted=True``).
    pvals_corrected : ndarray
        Adjusted p-values (clipped to 1), same shape and order as `reject`.
    alphacSidak : float
        Sidak-corrected per-test level ``1 - (1 - alpha)**(1/m)``.
    alphacBonf : float
        Bonferroni-corrected per-test level ``alpha / m``.
    method : str
        The correction used, by its canonical name (a key of `METHODS`, whatever alias was passed).
    alpha : float
        The family-wise error rate (or FDR for ``fdr_*``) controlled.
    """

    _unpack = ("reject", "pvals_corrected", "alphacSidak", "alphacBonf")

    reject: np.ndarray = field(repr=False)
    pvals_corrected: np.ndarray = field(repr=False)
    alphacSidak: float
    alphacBonf: float
    method: str
    alpha: float


def _check_method(method, name="method"):
    """The canonical name of `method` (any statsmodels alias, any case)."""
    if isinstance(method, str) and method.lower() in ALIASES:
        return ALIASES[method.lower()]
    allowed = ", ".join(repr(a) for a in ALIASES)
    if not isinstance(method, str):
        raise TypeError(f"`{name}` must be one of {allowed}; got {v._describe(method)}")
    raise ValueError(f"`{name}` must be one of {allowed} (any case); got {method!r}")


def _check_maxiter(maxiter, n):
    """statsmodels' `maxiter` as the number of iterations it runs (bools as statsmodels' code reads them)."""
    if maxiter is None or (type(maxiter) is int and maxiter == -1):
        return n
    if isinstance(maxiter, (bool, np.bool_)):
        return int(maxiter)  # statsmodels: False runs 0 iterations, True 1 (range(True)), whatever its docs say
    if not isinstance(maxiter, numbers.Integral):
        raise TypeError(f"`maxiter` must be an integer >= -1, None or a bool; got {v._describe(maxiter)}")
    maxiter = int(maxiter)
    if maxiter == -1:
        return n
    if maxiter < 0:
        raise ValueError(
            f"`maxiter` must be an integer >= -1 (-1: iterate to convergence), None or a bool; got {maxiter}"
        )
    # the iteration ends after at most n + 1 stages (the rejections grow each stage or it stops)
    return min(maxiter, n + 2)


def _check_pvals(rows):
    """Raise if `rows` holds NaN or a value outside [0, 1] (one parallel pass, in slices); returns the minimum."""
    from simengine.kernels.multitest import _nan_min_max

    flat = rows.reshape(-1)
    size = flat.shape[0]
    unit = 2**16  # values per unit: any cut gives the same (any NaN, min, max)

    def call(lo, hi):
        a, b = lo * unit, min(size, hi * unit)
        part = flat[a:b]
        return _nan_min_max(part.reshape(-1, 256) if (b - a) % 256 == 0 else part.reshape(1, -1))

    parts = run_blocks(call, -(-size // unit), progress=False, desc="multipletests", first=64)
    has_nan = any(part[0] for part in parts)
    lo = min(part[1] for part in parts)
    hi = max(part[2] for part in parts)
    if has_nan:
        raise ValueError("`pvals` must not contain NaN")
    if lo < 0 or hi > 1:
        raise ValueError(f"`pvals` must be in [0, 1]; got values in [{lo:g}, {hi:g}]")
    return lo


def multipletests(
    pvals: ArrayLike,
    alpha: float = 0.05,
    method: str = "hs",
    maxiter: int | bool | None = 1,
    is_sorted: bool = False,
    returnsorted: bool = False,
) -> MultipletestsResult:
    """Adjust p-values for multiple testing, one family per row, rows in parallel.

    ``statsmodels.stats.multitest.multipletests`` with the same arguments (order, names and
    defaults, Holm-Sidak by default), the same method names and aliases, and the same
    4-tuple on unpacking; every row of `pvals` (the last axis) is one family, so 10^5
    families are corrected in one call.  Rejections are identical to statsmodels' and
    corrected p-values equal bit for bit (tested for every method and alias, with ties,
    exact 0s and 1s).  Differences: N-D input is a batch of families (statsmodels wants
    1-D); empty input, NaN, values outside [0, 1] and `alpha` outside (0, 1) raise
    ValueError (statsmodels computes something).

    Parameters
    ----------
    pvals : array_like
        p-values in [0, 1]; 1-D (one family) or N-D (families along the leading axes).
    alpha : float, default 0.05
        Family-wise error rate (false discovery rate for the ``fdr_*`` methods), in (0, 1).
    method : str, default "hs"
        Any name statsmodels accepts, in any case (statsmodels lower-cases it):
        ``"b"`` / ``"bonf"`` / ``"bonferroni"``; ``"s"`` / ``"sidak"``; ``"h"`` / ``"holm"``
        (Holm 1979); ``"hs"`` / ``"holm-sidak"``; ``"sh"`` / ``"simes-hochberg"`` (Hochberg
        1988); ``"ho"`` / ``"hommel"`` (Hommel 1988); ``"fdr_bh"`` / ``"fdr_i"`` / ``"fdr_p"`` /
        ``"fdri"`` / ``"fdrp"`` (Benjamini & Hochberg 1995); ``"fdr_by"`` / ``"fdr_n"`` /
        ``"fdr_c"`` / ``"fdrn"`` / ``"fdrcorr"`` (Benjamini & Yekutieli 2001); ``"fdr_tsbh"`` /
        ``"fdr_2sbh"`` (two-stage Benjamini-Hochberg); ``"fdr_tsbky"`` / ``"fdr_2sbky"`` /
        ``"fdr_twostage"`` (two-stage Benjamini, Krieger & Yekutieli 2006, definition 6);
        ``"fdr_gbs"`` (adaptive step-down of Gavrilov, Benjamini & Sarkar 2009); ``"lfdr"`` /
        ``"lfdr_sl"`` (local FDR from the Grenander density estimate, statsmodels'
        ``local_fdr_correction(p).lfdr``, rejecting where it is <= alpha; p-values must be > 0,
        as statsmodels' fit fails on 0).
    maxiter : int, bool or None, default 1
        Iterations of the two-stage methods (ignored by the others), as statsmodels' code
        reads it: 1 is the two-stage method, 0 a single stage at the first stage's level,
        k > 1 up to k further stages, -1 or None iterate to convergence.  A bool counts as
        its integer (False = 0, True = 1), which is what statsmodels computes although its
        docstring calls True "full iteration".  The two-stage corrected p-values depend on
        `alpha`.
    is_sorted : bool, default False
        Each family is taken as already sorted ascending and used as given (as statsmodels
        does: an unsorted family gives statsmodels' answer for that order).
    returnsorted : bool, default False
        Return `reject` and `pvals_corrected` in sorted order within each family (stably
        sorted: tied p-values get equal corrections, so their order does not matter).

    Returns
    -------
    MultipletestsResult
        Unpacks as ``reject, pvals_corrected, alphacSidak, alphacBonf``; `reject` and
        `pvals_corrected` have the shape of `pvals`.

    Notes
    -----
    As in statsmodels, when an iteration of ``fdr_tsbh`` / ``fdr_tsbky`` with `maxiter`
    > 1 (or -1) rejects every hypothesis, the estimated number of true nulls is 0 and the
    corrected p-values are all 0 (statsmodels also warns of a division by zero).

    Examples
    --------
    >>> import numpy as np
    >>> import simengine
    >>> p = np.random.default_rng(1).uniform(size=(100_000, 20))
    >>> res = simengine.multipletests(p, alpha=0.05, method="fdr_bh")
    >>> res.reject.shape
    (100000, 20)
    >>> reject, pvals_corrected, _, _ = simengine.multipletests([0.01, 0.02, 0.04], 0.05, "holm")
    >>> pvals_corrected
    array([0.03, 0.04, 0.04])
    >>> simengine.multipletests([0.01, 0.02, 0.04]).method  # statsmodels' default
    'holm-sidak'
    """
    method = _check_method(method)
    alpha = v.check_probability(alpha, "alpha")
    is_sorted = v.check_bool(is_sorted, "is_sorted")
    returnsorted = v.check_bool(returnsorted, "returnsorted")
    p = v.as_data_array(pvals, "pvals", ndim=tuple(range(1, 33)), finite=False)
    shape = p.shape
    n = shape[-1]
    maxiter = _check_maxiter(maxiter, n)
    rows = p.reshape(-1, n)
    if method == "hommel":  # O(tests^2) per family, like statsmodels' implementation
        v.check_work(rows.shape[0] * n * n, "`pvals` (families x tests^2 for method='hommel')", unit="steps")
    huge = n >= (_HUGE_HOMMEL if method == "hommel" else _HUGE)
    if p.size > 10**7 or huge:  # outputs (bool + float) and, for the Sidak methods, one more float array
        # a long family is sorted in slices: its values, order and ping-pong copies, and the sorted outputs
        v.check_memory(17 * p.size + 48 * n + (57 * n if huge else 0), "`pvals`", what="the corrected p-values")
    if method in ("sidak", "holm-sidak", "lfdr") or huge:
        # NumPy transforms these p-values before the kernel runs (and a long family is sorted
        # first), so check them first; the other methods have the kernel check each row as it loads it
        lo = _check_pvals(rows)
        if method == "lfdr" and lo == 0.0:  # statsmodels fails too (a zero-width first gap)
            raise ValueError(
                "`pvals` must be > 0 for method='lfdr' (the density estimate needs a positive first gap); "
                "got a p-value of 0"
            )
    reject = np.empty(rows.shape, dtype=np.bool_)
    corrected = np.empty(rows.shape)
    if huge:
        for r in range(rows.shape[0]):
            _correct_long_family(rows[r], method, alpha, maxiter, is_sorted, returnsorted, reject[r], corrected[r])
    else:
        _correct_rows(rows, method, alpha, maxiter, is_sorted, returnsorted, reject, corrected)
    return MultipletestsResult(
        reject=reject.reshape(shape),
        pvals_corrected=corrected.reshape(shape),
        alphacSidak=float(1 - np.power(1.0 - alpha, 1.0 / n)),
        alphacBonf=alpha / float(n),
        method=method,
        alpha=alpha,
    )


# Families of at least this many tests (Hommel's O(tests^2) method: _HUGE_HOMMEL) are corrected one
# at a time in slices (sorted by `_sorted_in_slices`, then NumPy passes over chunks of `_CHUNK`):
# a family sorted in one kernel call takes ~1 s per 10**6 p-values on a loaded machine.
_HUGE = 2**20
_HUGE_HOMMEL = 2**13
_CHUNK = 2**16


class _BadRows(Exception):
    """A slice of a row driver (`kernels.multitest._step_up_rows`, ...) met invalid p-values or could not
    allocate its scratch."""


def _correct_rows(rows, method, alpha, maxiter, is_sorted, returnsorted, reject, corrected):
    """Families shorter than `_HUGE` (rows), in slices of rows: each row's result depends on it alone."""
    from simengine.kernels import multitest as k
    from simengine.kernels.multitest import _ROWS, _rank_rows

    n_fam, n = rows.shape
    code = METHODS[method]
    # Thresholds, ecdf factors and Sidak terms use NumPy's own ufuncs, operation for
    # operation as statsmodels writes them, so results match it to the last bit
    # (libm's pow/log1p/expm1 inside numba differ from NumPy's in the last ulp).
    k_down = np.arange(n, 0, -1)
    ecdf = np.arange(1, n + 1) / float(n)
    factors = ecdf
    # (alpha, first-stage alpha, factor 1 + alpha or 1, iterations) for the two-stage and adaptive FDR methods
    params = np.array([alpha, alpha, 1.0, float(maxiter)])
    if method == "bonferroni":
        cuts = np.full(n, alpha / float(n))
    elif method == "sidak":
        cuts = np.full(n, 1 - np.power(1.0 - alpha, 1.0 / n))
    elif method == "holm":
        cuts = alpha / k_down
    elif method == "holm-sidak":
        cuts = 1 - np.power(1.0 - alpha, 1.0 / k_down)
    elif method == "simes-hochberg":
        cuts = alpha / k_down
    elif method == "hommel":
        cuts = np.full(n, alpha)
    elif method == "fdr_bh":
        cuts = ecdf * alpha
    elif method == "fdr_by":  # Benjamini-Yekutieli's constant with NumPy's pairwise sum
        factors = ecdf / np.sum(1.0 / np.arange(1, n + 1))
        cuts = factors * alpha
    else:  # two-stage and adaptive FDR: thresholds are formed in the kernel, from `params`
        cuts = np.empty(n)
        if method == "fdr_tsbky":
            fact = 1.0 + alpha
            params[1:3] = alpha / fact, fact
    cuts = np.ascontiguousarray(cuts, dtype=np.float64)
    empty = np.empty((0, 0))

    def call(lo, hi):
        a, b = lo * _ROWS, min(n_fam, hi * _ROWS)
        part = rows[a:b]
        raw = empty
        if method == "sidak":
            with np.errstate(divide="ignore"):  # log1p(-1) = -inf: p = 1 maps to 1, as in statsmodels
                raw = -np.expm1(n * np.log1p(-part))
        elif method == "holm-sidak":
            # statsmodels multiplies the i-th value of the family as sorted (or as given, when is_sorted)
            rank = np.broadcast_to(np.arange(n), part.shape) if is_sorted else _ranks(part, _rank_rows)
            with np.errstate(divide="ignore"):
                raw = -np.expm1((n - rank) * np.log1p(-part))
        rej, adj = reject[a:b], corrected[a:b]
        # one chunk of rows: its serial kernel, directly (a first small call then does not compile the
        # parallel driver, ~3 s of CPU); more: the parallel driver over chunks
        one = b - a <= _ROWS
        args: tuple[Any, ...]  # each group of methods has its kernels' own argument list
        try:
            if method == "lfdr":
                ok = k._lfdr_rows(part, alpha, is_sorted, returnsorted, rej, adj)
            elif method in ("bonferroni", "sidak"):
                args = (part, raw, code, cuts, is_sorted, returnsorted, rej, adj)
                ok = k._single_step_chunk(*args, 0) if one else k._single_step_rows(*args)
            elif method in ("holm", "holm-sidak"):
                args = (part, raw, code, cuts, is_sorted, returnsorted, rej, adj)
                ok = k._step_down_chunk(*args, 0) if one else k._step_down_rows(*args)
            elif method in ("simes-hochberg", "fdr_bh", "fdr_by"):
                args = (part, code, cuts, factors, is_sorted, returnsorted, rej, adj)
                ok = k._step_up_chunk(*args, 0) if one else k._step_up_rows(*args)
            elif method in ("fdr_tsbh", "fdr_tsbky"):
                args = (part, factors, params, is_sorted, returnsorted, rej, adj)
                ok = k._two_stage_chunk(*args, 0) if one else k._two_stage_rows(*args)
            elif method == "fdr_gbs":
                args = (part, alpha, is_sorted, returnsorted, rej, adj)
                ok = k._gbs_chunk(*args, 0) if one else k._gbs_rows(*args)
            else:
                args = (part, cuts, is_sorted, returnsorted, rej, adj)
                ok = k._hommel_chunk(*args, 0) if one else k._hommel_rows(*args)
        except (MemoryError, SystemError):  # SystemError: the parallel loop returned with it set
            raise MemoryError(
                f"multipletests ran out of memory for {n_fam} families of {n} p-values (`pvals`)") from None
        if not ok:
            raise _BadRows

    # ~5 ns per p-value (Hommel: per step of its O(tests^2) loop), a few times that on a loaded machine:
    # a first slice of ~2**22 of them is ~0.05 s, and a call of 10**5 families of 20 is one slice
    per_row = n + (n * n // 4 if method == "hommel" else 0)
    try:
        run_blocks(call, -(-n_fam // _ROWS), progress=False, desc="multipletests",
                   first=max(1, 2**22 // (_ROWS * per_row)))
    except _BadRows:  # the kernel met NaN or a value outside [0, 1]; its outputs are incomplete
        _check_pvals(rows)
        # valid p-values, yet a chunk did not finish: its scratch could not be allocated
        raise MemoryError(f"multipletests ran out of memory for families of {n} p-values (`pvals`)") from None


# Below this many p-values NumPy ranks them (~25 ns each, 5x the kernel): a first call of the default
# method (Holm-Sidak) then does not compile the parallel rank kernel (~5 s of CPU).
_NUMPY_RANKS = 2**16


def _ranks(rows, kernel):
    """Stable rank of every value within its row: NumPy's stable argsort for small calls, else `kernel`."""
    if rows.size > _NUMPY_RANKS:
        return kernel(rows)
    # the rank is the inverse of the stable order, and argsort inverts a permutation
    return np.argsort(np.argsort(rows, axis=1, kind="stable"), axis=1, kind="stable")


def _chunked(n, step, reverse=False):
    """``step(a, b)`` over consecutive chunks covering [0, n) (from the end when `reverse`), in slices."""
    def call(lo, hi):
        if reverse:
            step(max(0, n - hi * _CHUNK), n - lo * _CHUNK)
        else:
            step(lo * _CHUNK, min(n, hi * _CHUNK))

    run_blocks(call, -(-n // _CHUNK), progress=False, desc="multipletests", first=16)


class _Running:
    """A running minimum or maximum carried from chunk to chunk: exact, so it equals one sequential pass."""

    def __init__(self, ufunc, start):
        self.ufunc, self.value = ufunc, start

    def __call__(self, values):
        acc = self.ufunc(self.ufunc.accumulate(values), self.value)
        self.value = acc[-1]
        return acc


def _correct_long_family(row, method, alpha, maxiter, is_sorted, returnsorted, rej_out, adj_out):
    """One family of at least `_HUGE` tests (valid p-values), in slices; the same numbers as the kernel.

    The kernels' per-method passes (`kernels.multitest._step_up1`, ...) run as NumPy
    passes over chunks of the sorted values, with the same operations on the same operands:
    thresholds as statsmodels forms them, element by element, and the running minima and
    maxima carried across chunks (exact).  Local FDR runs as one kernel call on the sorted
    values (linear time, ~1 s per 10**8 tests); Hommel's stages run in slices of stages.
    """
    from simengine.kernels.multitest import _hommel_steps
    from simengine.twosample import _sorted_in_slices

    n = row.shape[0]
    ps, order = (row, None) if is_sorted else _sorted_in_slices(row, "multipletests")
    rej = np.empty(n, dtype=np.bool_)
    adj = np.empty(n)
    fn = float(n)
    found = {"stop": n, "last": -1}

    def first_above(cut_of):  # first k with ps[k] > cut(k) (n if none): where a step-down stops
        def step(a, b):
            if found["stop"] == n:
                hit = np.flatnonzero(ps[a:b] > cut_of(a, b))
                if hit.size:
                    found["stop"] = a + int(hit[0])
        _chunked(n, step)
        return found["stop"]

    def last_below(cut_of):  # last k with ps[k] <= cut(k) (-1 if none): where a step-up ends
        last = [-1]

        def step(a, b):
            hit = np.flatnonzero(ps[a:b] <= cut_of(a, b))
            if hit.size:
                last[0] = a + int(hit[-1])
        _chunked(n, step)
        return last[0]

    def running(raw_of, ufunc, start, reverse, then=None):  # adj = running min / max of raw
        acc = _Running(ufunc, start)

        def step(a, b):
            raw = raw_of(a, b)
            if reverse:
                adj[a:b] = acc(raw[::-1])[::-1]
            else:
                adj[a:b] = acc(raw)
            if then is not None:
                then(a, b)
        _chunked(n, step, reverse)

    def k_down(a, b):
        return n - np.arange(a, b)

    def ecdf(a, b):
        return np.arange(a + 1, b + 1) / fn

    with np.errstate(divide="ignore"):
        if method in ("bonferroni", "sidak"):
            cut = alpha / fn if method == "bonferroni" else 1 - np.power(1.0 - alpha, 1.0 / n)

            def step(a, b):
                seg = ps[a:b]
                rej[a:b] = seg <= cut
                adj[a:b] = seg * fn if method == "bonferroni" else -np.expm1(n * np.log1p(-seg))
            _chunked(n, step)
        elif method in ("holm", "holm-sidak"):
            if method == "holm":
                stop = first_above(lambda a, b: alpha / k_down(a, b))
                running(lambda a, b: ps[a:b] * k_down(a, b), np.maximum, -np.inf, False)
            else:
                stop = first_above(lambda a, b: 1 - np.power(1.0 - alpha, 1.0 / k_down(a, b)))
                running(lambda a, b: -np.expm1(k_down(a, b) * np.log1p(-ps[a:b])), np.maximum, -np.inf, False)
            rej[:stop] = True
            rej[stop:] = False
        elif method in ("simes-hochberg", "fdr_bh", "fdr_by"):
            if method == "simes-hochberg":
                last = last_below(lambda a, b: alpha / k_down(a, b))
                running(lambda a, b: k_down(a, b) * ps[a:b], np.minimum, np.inf, True)
            else:
                const = _harmonic_sum(n) if method == "fdr_by" else None

                def factors(a, b):
                    return ecdf(a, b) if const is None else ecdf(a, b) / const
                last = last_below(lambda a, b: factors(a, b) * alpha)
                running(lambda a, b: ps[a:b] / factors(a, b), np.minimum, np.inf, True)
            rej[: last + 1] = True
            rej[last + 1 :] = False
        elif method in ("fdr_tsbh", "fdr_tsbky"):
            fact = 1.0 + alpha if method == "fdr_tsbky" else 1.0
            alpha_prime = alpha / fact if method == "fdr_tsbky" else alpha

            def bh_count(level):
                return last_below(lambda a, b: ecdf(a, b) * level) + 1

            running(lambda a, b: ps[a:b] / ecdf(a, b), np.minimum, np.inf, True)
            _chunked(n, lambda a, b: np.minimum(adj[a:b], 1.0, out=adj[a:b]))
            r1 = bh_count(alpha_prime)
            scales = []
            if r1 == 0 or r1 == n:
                ri = r1
                scales.append(fact)
            else:
                ri_old = ri = r1
                ntests0 = fn
                for it in range(maxiter):
                    ntests0 = 1.0 * n - ri_old
                    alpha_star = alpha_prime * n / ntests0 if ntests0 else np.inf
                    ri = bh_count(alpha_star)
                    if it >= maxiter - 1 or ri == ri_old:
                        break
                    ri_old = ri
                scales.append(ntests0 * 1.0 / n)
                if fact != 1.0:
                    scales.append(fact)

            def scale(a, b):
                for f in scales:
                    adj[a:b] *= f
            _chunked(n, scale)
            rej[:ri] = True
            rej[ri:] = False
        elif method == "fdr_gbs":
            def q(a, b):
                ii = np.arange(a, b) + 1.0
                seg = ps[a:b]
                return (n + 1.0 - ii) / ii * seg / (1.0 - seg)
            running(q, np.maximum, -np.inf, False)

            def reject_where(a, b):
                rej[a:b] = adj[a:b] <= alpha
            running(lambda a, b: adj[a:b].copy(), np.minimum, np.inf, True, then=reject_where)
        elif method == "lfdr":
            _lfdr_long(ps, alpha, rej, adj)
        else:  # hommel
            adj[:] = ps
            per = max(1, 2**20 // n)  # stages per unit, ~n steps each
            units = -(-(n - 1) // per)
            run_blocks(lambda lo, hi: _hommel_steps(ps, adj, n - lo * per, max(1, n - hi * per)), units,
                       progress=False, desc="multipletests", first=4)
            _chunked(n, lambda a, b: np.less_equal(adj[a:b], alpha, out=rej[a:b]))

    def write(a, b):
        np.minimum(adj[a:b], 1.0, out=adj[a:b])
        if order is None or returnsorted:
            rej_out[a:b] = rej[a:b]
            adj_out[a:b] = adj[a:b]
        else:
            idx = order[a:b]
            rej_out[idx] = rej[a:b]
            adj_out[idx] = adj[a:b]
    _chunked(n, write)



def _harmonic_sum(n):
    """``np.sum(1.0 / np.arange(1, n + 1))`` (Benjamini-Yekutieli's constant), bit for bit, in slices.

    NumPy sums a contiguous float64 array pairwise: halves (the first rounded down to a multiple
    of 8) down to runs of at most 128, each summed in 8 lanes.  The halving tree is cut at nodes of
    at most `_CHUNK` terms; each is `np.sum` of its own terms (the same pairwise sum, as a node's
    subtree is the sum's tree of that node alone), and the node sums are added back up the tree in
    its order.  No array of n terms is made.
    """
    leaf = max(_CHUNK, 128)  # NumPy's runs of <= 128 terms are not halved
    nodes = []  # (first term, terms) of every leaf, in order

    def tree(lo, size):
        if size <= leaf:
            nodes.append((lo, size))
            return len(nodes) - 1
        half = size // 2
        half -= half % 8
        return (tree(lo, half), tree(lo + half, size - half))

    root = tree(0, n)
    sums = np.concatenate(run_blocks(
        lambda a, b: np.array([np.sum(1.0 / np.arange(lo + 1, lo + size + 1)) for lo, size in nodes[a:b]]),
        len(nodes), progress=False, desc="multipletests", first=16))

    def add(node):
        return sums[node] if isinstance(node, int) else add(node[0]) + add(node[1])

    return float(add(root))


# Steps of the sliced pool-adjacent-violators fit per kernel call (~10 ms)
_PAVA_STEPS = 2**21


def _lfdr_long(ps, alpha, rej, adj):
    """`kernels.multitest._lfdr1` on one long family of valid p-values (> 0), in slices; the same numbers.

    The kernel's passes (sort check, distinct values and their counts, the slopes and gaps, the
    isotonic fit, spreading the fit back) run as NumPy passes over chunks, with the same
    operations on the same operands; the fit runs in slices of steps, its state carried exactly
    from one to the next (`kernels.multitest._pava_steps`).
    """
    from simengine._long import interruptible
    from simengine.kernels.multitest import _pava_steps
    from simengine.twosample import _sorted_in_slices

    n = ps.shape[0]
    unsorted = [False]

    def check(a, b):
        a = max(a, 1)
        if not unsorted[0] and b > a and (ps[a:b] < ps[a - 1 : b - 1]).any():
            unsorted[0] = True
    _chunked(n, check)
    srt = _sorted_in_slices(ps, "multipletests")[0] if unsorted[0] else ps
    # starts[j]: where the j-th distinct value begins in `srt` (starts[m] = n)
    starts = np.empty(n + 1, dtype=np.int64)
    found = [0]

    def distinct(a, b):
        new = srt[a:b] != srt[a - 1 : b - 1] if a else np.concatenate(([True], srt[1:b] != srt[: b - 1]))
        idx = np.flatnonzero(new) + a
        starts[found[0] : found[0] + idx.shape[0]] = idx
        found[0] += idx.shape[0]
    _chunked(n, distinct)
    m = found[0]
    starts[m] = n
    # slopes count / (n * gap) and gaps, reversed: the fit is non-decreasing, as scipy's
    x = np.empty(m)
    w = np.empty(m)

    def slopes(a, b):
        vals = srt[starts[a:b]]
        prev = np.empty(b - a)
        prev[0] = srt[starts[a - 1]] if a else 0.0
        prev[1:] = vals[:-1]
        gap = vals - prev
        x[m - b : m - a] = (np.diff(starts[a : b + 1]) / (n * gap))[::-1]
        w[m - b : m - a] = gap[::-1]
    _chunked(m, slopes)
    r = np.empty(m + 1, dtype=np.int64)
    state = np.zeros(3, dtype=np.int64)  # i, b, phase (see _pava_steps)
    fstate = np.array([x[0], w[0], 0.0, 0.0, 0.0])
    r[0], r[1], state[0] = 0, 1, 1
    with interruptible() as flag:
        while not _pava_steps(x, w, r, m, state, fstate, _PAVA_STEPS):
            flag.check()
    blocks = state[1] + 1  # x[:blocks] holds the block values, r[:blocks + 1] their starts

    def spread(a, b):  # from the end, as the kernel (a block's value sits at or before its members)
        x[a:b] = x[np.searchsorted(r[1 : blocks + 1], np.arange(a, b), side="right")]
    _chunked(m, spread, reverse=True)

    def lfdr(a, b):  # value of the j-th distinct p-value, j in [a, b), into w (no longer needed)
        w[a:b] = np.minimum(1.0, 1.0 / x[m - b : m - a][::-1])
    _chunked(m, lfdr)

    def write(a, b):
        adj[a:b] = w[np.searchsorted(starts[: m + 1], np.arange(a, b), side="right") - 1]
        np.less_equal(adj[a:b], alpha, out=rej[a:b])
    _chunked(n, write)

# Families per random stream (a constant of the algorithm).
FAMILY_BLOCK = 1000
# Most tests per work unit of `simulate_multiple_testing` (any size gives the same numbers: see
# `_multiple_testing_run`); ~0.01-0.05 s of drawing and correcting on a loaded machine.
_UNIT_CELLS = 2**16

_RATES = ("fwer", "fdr", "power", "mean_rejections")


def _block_generator(ss, b):
    """The Generator of block `b`, as `_rng.slice_generators` makes it."""
    return np.random.Generator(np.random.PCG64(child_seed_sequence(ss, b)))


@dataclass(frozen=True, slots=True)
class SimulateMultipleTestingResult(MonteCarloResult):
    """Result of `simulate_multiple_testing`: error rates and power of each correction.

    With one method (a string) every estimate is a float; with a sequence of methods each is an
    array aligned with `method`.  ``to_frame()`` gives one row per method, indexed by method.

    Attributes
    ----------
    method : str or ndarray of str
        The corrections, as passed (``"none"``: no correction, reject where p <= alpha).
    fwer, fwer_se : float or ndarray
        P(at least one false rejection in a family) and its Monte Carlo standard error.
    fdr, fdr_se : float or ndarray
        False discovery rate, the mean of V / max(R, 1), and its standard error.
    power, power_se : float or ndarray
        Mean fraction of the true effects rejected (nan when ``n_true = 0``) and its standard error.
    mean_rejections, mean_rejections_se : float or ndarray
        Mean number of rejections per family and its standard error.
    n_sims, n_tests, n_true, effect_size, n_per_group, alpha
        The inputs (`n_sims` simulated families).
    """

    _estimates = {"fwer": MEAN, "fdr": MEAN, "power": MEAN, "mean_rejections": MEAN}
    _replicates = "n_sims"
    _chunk_size = 100_000
    # the rates decide (mean_rejections counts tests); power is NaN, so skipped, without true effects
    _target_estimates = ("fwer", "fdr", "power")

    method: StrOrArray
    fwer: FloatOrArray
    fwer_se: FloatOrArray
    fdr: FloatOrArray
    fdr_se: FloatOrArray
    power: FloatOrArray
    power_se: FloatOrArray
    mean_rejections: FloatOrArray
    mean_rejections_se: FloatOrArray
    n_sims: int
    n_tests: int
    n_true: int
    effect_size: float
    n_per_group: int
    alpha: float

    def to_frame(self) -> pd.DataFrame:
        """One row per method (index ``method``): each rate followed by its ``*_se``."""
        import pandas as pd

        methods = [self.method] if isinstance(self.method, str) else list(self.method)
        columns = {}
        for name in _RATES:
            for col in (name, f"{name}_se"):
                columns[col] = np.atleast_1d(np.asarray(getattr(self, col), dtype=np.float64))
        table = pd.DataFrame(columns, index=pd.Index(methods, name="method"))
        return table


def simulate_multiple_testing(
    *,
    n_tests: int = 20,
    n_true: int = 2,
    effect_size: float,
    n_per_group: int,
    n_sims: int = 10_000,
    methods: Sequence[str] = ("none", "bonferroni", "holm", "hommel", "fdr_bh", "fdr_by"),
    alpha: float = 0.05,
    rng: SeedLike = None,
    progress: Progress = None,
    target_se: float | None = None,
    max_sims: int | None = None,
) -> SimulateMultipleTestingResult:
    """FWER, FDR and power of multiple-testing corrections on simulated families of t-tests.

    Each of `n_sims` families holds `n_tests` two-sided pooled t-tests on normal data with
    `n_per_group` observations per group; the first `n_true` have a true effect
    of `effect_size` (Cohen's d), the others are null.  Every method corrects the
    same simulated p-values.

    Parameters
    ----------
    n_tests : int, default 20
    n_true : int, default 2
        Tests with a real effect (0 <= n_true <= n_tests).
    effect_size : float
    n_per_group : int
        Observations per group (>= 2).
    n_sims : int, default 10 000
        Simulated families.
    methods : str or sequence of str
        Names (or aliases, any case) accepted by `multipletests` with its defaults
        (``maxiter=1``), plus ``"none"`` (no correction: p <= alpha).
    alpha : float, default 0.05
    rng : None, int, SeedSequence or Generator
        Seed (SPEC 7); families are drawn in blocks of `FAMILY_BLOCK`, each with its own stream.
    progress : None, True or False
        A progress bar on stderr: True always, False never, None (default) only when stderr is a
        terminal and the rest of the call is expected to take more than ~2 s (a first call shows
        compiling the kernels as a step of its own).  Ctrl-C stops the call within about a second
        with a plain KeyboardInterrupt, whatever `progress` is.
    target_se : float, optional
        Precision on demand: run rounds of `n_sims` families (round i from the i-th child stream of
        `rng`) until the standard errors of the rates (``fwer_se``, ``fdr_se`` and ``power_se``, of
        every method; power is left out when ``n_true = 0``, where it is NaN) are at most
        `target_se`, or `max_sims` is reached (then a `TargetNotReachedWarning`).
        ``mean_rejections`` counts tests, so it does not decide.  The result's `n_sims` is the
        total run; the same seed gives the same result.
    max_sims : int, optional
        Cap on the total families with `target_se` (default 1000 x `n_sims`, at most 10**9); at
        least `n_sims`.

    Returns
    -------
    SimulateMultipleTestingResult
        ``fwer`` (P(at least one false rejection)), ``fdr`` (mean of V / max(R, 1)),
        ``power`` (mean fraction of true effects rejected; NaN when ``n_true = 0``),
        ``mean_rejections``, each with its Monte Carlo standard error (``*_se``): floats
        for one method (a string), arrays aligned with ``method`` otherwise.
        ``to_frame()`` gives one row per method.

    Examples
    --------
    >>> import simengine
    >>> res = simengine.simulate_multiple_testing(effect_size=0.5, n_per_group=50, n_sims=2000, rng=1)
    >>> table = res.to_frame()
    >>> list(table.index)
    ['none', 'bonferroni', 'holm', 'hommel', 'fdr_bh', 'fdr_by']
    >>> bool(table.loc["bonferroni", "fwer"] <= 0.05 + 4 * table.loc["bonferroni", "fwer_se"])
    True
    >>> holm = simengine.simulate_multiple_testing(effect_size=0.5, n_per_group=50, n_sims=2000,
    ...                                            methods="holm", rng=1)
    >>> type(holm.fwer)
    <class 'float'>
    """
    from simengine._rng import as_seed_sequence, n_blocks

    n_tests = v.check_bounded_count(n_tests, "n_tests")
    n_true = v.check_int(n_true, "n_true", minimum=0, maximum=n_tests)
    effect_size = v.check_real(effect_size, "effect_size")
    n_per_group = v.check_bounded_count(n_per_group, "n_per_group", minimum=2)
    n_sims = v.check_bounded_count(n_sims, "n_sims")
    progress = check_progress(progress)
    from simengine._long import check_target

    target_se, max_sims = check_target(target_se, max_sims, n_sims)
    one = isinstance(methods, str)
    if one:
        methods = (methods,)  # type: ignore[assignment]  # one name passed as a string
    elif isinstance(methods, (bytes, dict, set, frozenset)) or not hasattr(methods, "__iter__"):
        raise TypeError(f"`methods` must be a method name or a sequence of them; got {v._describe(methods)}")
    try:
        methods = tuple(methods)
    except TypeError:  # a 0-d array, say
        raise TypeError(f"`methods` must be a method name or a sequence of them; got {v._describe(methods)}") from None
    if not methods:
        raise ValueError("`methods` must name at least one method")
    for m in methods:
        if not (isinstance(m, str) and m.lower() == "none"):
            _check_method(m, "methods")
    alpha = v.check_probability(alpha, "alpha")
    cells = n_sims * n_tests  # Python ints: nothing wraps
    v.check_work(4 * cells, "`n_sims` x `n_tests`")
    # t, p and one method's corrected p-values and temporaries at a time; one stream per block
    v.check_memory(48 * cells + 3000 * n_blocks(n_sims, FAMILY_BLOCK), "`n_sims` x `n_tests`",
                   what="the simulated p-values and their corrections")
    ss = as_seed_sequence(rng)
    inputs = dict(n_tests=n_tests, n_true=n_true, effect_size=effect_size, n_per_group=n_per_group, alpha=alpha)

    def run(n, seed_seq):
        return _multiple_testing_run(n, seed_seq, methods, one, inputs, progress)

    if target_se is None:
        return run(n_sims, ss)
    return until_target(lambda i: run(n_sims, child_seed_sequence(ss, i)), SimulateMultipleTestingResult,
                        target_se=target_se, n_per_round=n_sims, max_sims=max_sims)


def _family_counts(p, methods, inputs):
    """Per family and method: (false rejections, rejections, true rejections), each (families, methods), from
    the families' two-sided t-test p-values `p` (families, tests)."""
    n_tests, n_true, alpha = inputs["n_tests"], inputs["n_true"], inputs["alpha"]
    is_true = np.arange(n_tests) < n_true
    shape = (p.shape[0], len(methods))
    false_rej, n_rej, true_rej = np.empty(shape, np.int64), np.empty(shape, np.int64), np.empty(shape, np.int64)
    for col, m in enumerate(methods):
        if m.lower() == "none":
            reject = p <= alpha
        elif ALIASES[m.lower()] == "lfdr" and not (p > 0.0).all():
            raise ValueError(
                f"`methods` {m!r} (local FDR) cannot correct a simulated family holding a p-value of 0 "
                f"(`effect_size` = {inputs['effect_size']:g} with `n_per_group` = {inputs['n_per_group']} gives "
                "t-tests beyond double precision); drop it or use a smaller effect"
            )
        else:
            reject = multipletests(p, alpha=alpha, method=m).reject
        false_rej[:, col] = (reject & ~is_true).sum(axis=1)
        n_rej[:, col] = reject.sum(axis=1)
        true_rej[:, col] = (reject & is_true).sum(axis=1)
    return false_rej, n_rej, true_rej


def _multiple_testing_run(n_sims, ss, methods, one, inputs, progress):
    """One run of `n_sims` families from `ss`: simulation and corrections per slice of units, then the rates.

    The families' cells (one test each, family after family) run in work units, consecutive
    units in slices: a block is one unit, or, when it holds more than `_UNIT_CELLS` cells,
    equal parts of at most that many.  A block's cells are drawn in order from its generator,
    which keeps its state from one slice to the next, so a block of huge families is cut
    anywhere and the draws are those of one call.  Each slice keeps only integer counts per family it
    completes (a family cut by the slice's end waits for the next), and the rates are formed
    from all of them at once, so the numbers do not depend on the slicing.
    """
    import numba

    from simengine._long import first_slice
    from simengine._results import mean_se, proportion_se
    from simengine._rng import n_blocks, slice_generators
    from simengine.kernels.power import _family_t_normal

    n_tests, n_true = inputs["n_tests"], inputs["n_true"]
    cells = n_sims * n_tests
    per_block = FAMILY_BLOCK * n_tests
    from simengine.twosample import _t_pvalue

    df = 2.0 * inputs["n_per_group"] - 2.0
    # the generator of a block cut by a slice's end, and the first tests of a family cut there (their t
    # statistics' buffer and their p-values: a slice turns the statistics it draws into p-values at once, so
    # a huge family's p-values are spread over the slices that draw it)
    carried: dict[str, Any] = {"gen": None, "row": None, "prow": None}

    parts_per_block = -(-per_block // _UNIT_CELLS)
    part = -(-per_block // parts_per_block)  # cells per unit

    def start(u):  # first cell of unit u
        return min(cells, u // parts_per_block * per_block + u % parts_per_block * part)

    def call(lo, hi):
        c_lo, c_hi = start(lo), min(cells, start(hi - 1) + part, (hi - 1) // parts_per_block * per_block + per_block)
        f0, f_end = c_lo // n_tests, c_hi // n_tests  # families f0..f_end-1 complete in this slice
        try:
            b_lo, b_hi = c_lo // per_block, (c_hi - 1) // per_block + 1
            rows = -(-c_hi // n_tests) - f0
            row, prow = carried["row"], carried["prow"]
            done = c_lo - f0 * n_tests  # cells of the first family drawn by earlier slices
            if row is not None and rows == 1:
                t, pv = row, prow  # the slice stays inside the family the last one cut
            else:
                t = np.empty((rows, n_tests))
                pv = np.empty((rows, n_tests))
                if prow is not None:
                    pv[0, :done] = prow[0, :done]
            args = (FAMILY_BLOCK, n_tests, n_true, inputs["n_per_group"], inputs["effect_size"], c_lo, c_hi, t, f0)
            # (a one-block slice could run `_family_t_block` alone, 3 s less to compile on a first call, but a
            # later call of many blocks would then load the parallel driver inside a slice Ctrl-C must wait for)
            if c_lo % per_block:  # the block the last slice cut: its generator goes on where it stopped
                # (typed-list appends, not item assignment, which compiles for a second in every process)
                gens = numba.typed.List.empty_list(numba.typeof(carried["gen"]))
                gens.append(carried["gen"])
                for b in range(b_lo + 1, b_hi):  # as slice_generators makes them (SIGINT only sets a flag)
                    gens.append(_block_generator(ss, b))
            else:
                gens = slice_generators(ss, b_lo, b_hi)
            _family_t_normal(gens, *args)
            last_gen = gens[len(gens) - 1]
            new = slice(done, done + (c_hi - c_lo))  # the cells this slice drew, as flat offsets from family f0
            pv.reshape(-1)[new] = _t_pvalue(t.reshape(-1)[new], df, "two-sided")
        except MemoryError:
            raise MemoryError(
                f"simulate_multiple_testing ran out of memory for `n_sims` x `n_tests` = {n_sims} x {n_tests}"
            ) from None
        carried["gen"] = last_gen if c_hi % per_block else None
        cut = c_hi % n_tests != 0
        carried["row"] = None if not cut else (t if rows == 1 else np.empty((1, n_tests)))
        carried["prow"] = None if not cut else (pv if rows == 1 else pv[rows - 1 :].copy())
        if f_end == f0:
            empty = np.empty((0, len(methods)), np.int64)
            return empty, empty, empty
        return _family_counts(pv[: f_end - f0], methods, inputs)

    # ~1 us per test and method (Hommel: O(tests^2) per family) on a loaded machine, plus its p-value
    hommel = sum(m.lower() != "none" and ALIASES[m.lower()] == "hommel" for m in methods)
    unit_seconds = part * (len(methods) + 0.2 + hommel * n_tests * 1e-3) * 1e-6
    last = (n_blocks(n_sims, FAMILY_BLOCK) - 1) * per_block  # first cell of the last block
    units = last // per_block * parts_per_block + -(-(cells - last) // part)
    parts = run_blocks(call, units, progress=progress, desc="simulate_multiple_testing",
                       dispatchers=(_family_t_normal,), first=first_slice(unit_seconds), unit="units")
    false_all, n_rej_all, true_all = (
        parts[0] if len(parts) == 1 else [np.concatenate([p[k] for p in parts]) for k in range(3)]
    )
    out: dict[str, list[Any]] = {name: [] for name in _RATES}
    out.update({f"{name}_se": [] for name in _RATES})
    for col in range(len(methods)):
        false_rej, n_rej = false_all[:, col], n_rej_all[:, col]
        fwer = float((false_rej > 0).mean())
        fdp = false_rej / np.maximum(n_rej, 1)
        fdr, fdr_se = mean_se(fdp.sum(), (fdp * fdp).sum(), n_sims)
        if n_true:
            tpr = true_all[:, col] / n_true
            power, power_se = mean_se(tpr.sum(), (tpr * tpr).sum(), n_sims)
        else:
            power = power_se = np.nan
        mean_r, mean_r_se = mean_se(float(n_rej.sum()), float((n_rej.astype(float) ** 2).sum()), n_sims)
        for name, value in (("fwer", fwer), ("fwer_se", proportion_se(fwer, n_sims)), ("fdr", fdr),
                            ("fdr_se", fdr_se), ("power", power), ("power_se", power_se),
                            ("mean_rejections", mean_r), ("mean_rejections_se", mean_r_se)):
            out[name].append(float(value))
    if one:
        fields = {name: vals[0] for name, vals in out.items()}
        method = methods[0]
    else:
        fields = {name: np.array(vals) for name, vals in out.items()}
        method = np.array(methods, dtype=object)
    return SimulateMultipleTestingResult(method=method, **fields, n_sims=n_sims, **inputs)

"""Multiple-testing corrections for many families at once, and their simulated error rates.

`multipletests` is statsmodels' function batched over rows; `simulate_multiple_testing`
estimates FWER, FDR and power of each correction on simulated two-sample t-test families.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from simengine import _validate as v
from simengine._results import ResultMixin

__all__ = ["multipletests", "MultipleTestsResult", "METHODS", "simulate_multiple_testing", "FAMILY_BLOCK"]

# public name -> kernel code (simengine.kernels.multitest)
METHODS = {
    "bonferroni": 0,
    "sidak": 1,
    "holm": 2,
    "holm-sidak": 3,
    "simes-hochberg": 4,
    "hommel": 5,
    "fdr_bh": 6,
    "fdr_by": 7,
}


@dataclass(frozen=True, slots=True)
class MultipleTestsResult(ResultMixin):
    """Result of `multipletests`.

    Iterating yields ``(reject, pvals_corrected, alphacSidak, alphacBonf)`` like
    statsmodels' tuple, so ``reject, pcorr, _, _ = multipletests(p)`` works.

    Attributes
    ----------
    reject : ndarray of bool
        True where the hypothesis is rejected at family-wise level `alpha`; same shape as the input.
    pvals_corrected : ndarray
        Adjusted p-values (clipped to 1), same shape as the input.
    alphacSidak : float
        Sidak-corrected per-test level ``1 - (1 - alpha)**(1/m)``.
    alphacBonf : float
        Bonferroni-corrected per-test level ``alpha / m``.
    method : str
        The correction used.
    alpha : float
        The family-wise error rate (or FDR for ``fdr_*``) controlled.
    """

    reject: np.ndarray = field(repr=False)
    pvals_corrected: np.ndarray = field(repr=False)
    alphacSidak: float
    alphacBonf: float
    method: str
    alpha: float

    def __iter__(self):
        return iter((self.reject, self.pvals_corrected, self.alphacSidak, self.alphacBonf))


def _check_method(method):
    return METHODS[v.check_choice(method, "method", METHODS)]


def _check_pvals(rows):
    """Raise if `rows` holds NaN or a value outside [0, 1] (one parallel pass)."""
    from simengine.kernels.multitest import _nan_min_max

    has_nan, lo, hi = _nan_min_max(rows)
    if has_nan:
        raise ValueError("`pvals` must not contain NaN")
    if lo < 0 or hi > 1:
        raise ValueError(f"`pvals` must be in [0, 1]; got values in [{lo:g}, {hi:g}]")


def multipletests(pvals, *, alpha=0.05, method="holm") -> MultipleTestsResult:
    """Adjust p-values for multiple testing, one family per row, rows in parallel.

    Every row of `pvals` (the last axis) is one family, corrected exactly as
    ``statsmodels.stats.multitest.multipletests(row, alpha, method)`` would: the
    same rejections and the same adjusted p-values (bit-identical in our tests),
    for 10^5 families in one call.

    Parameters
    ----------
    pvals : array_like
        p-values in [0, 1]; 1-D (one family) or N-D (families along the leading axes).
    alpha : float, default 0.05
        Family-wise error rate (false discovery rate for ``fdr_bh`` / ``fdr_by``).
    method : str, default "holm"
        ``"bonferroni"``, ``"sidak"``, ``"holm"`` (Holm 1979), ``"holm-sidak"``,
        ``"simes-hochberg"`` (Hochberg 1988), ``"hommel"`` (Hommel 1988),
        ``"fdr_bh"`` (Benjamini & Hochberg 1995), ``"fdr_by"`` (Benjamini & Yekutieli 2001).

    Returns
    -------
    MultipleTestsResult
        `reject` and `pvals_corrected` with the shape of `pvals`.

    Examples
    --------
    >>> import numpy as np
    >>> import simengine
    >>> p = np.random.default_rng(1).uniform(size=(100_000, 20))
    >>> res = simengine.multipletests(p, alpha=0.05, method="fdr_bh")
    >>> res.reject.shape
    (100000, 20)
    >>> simengine.multipletests([0.01, 0.02, 0.04], method="holm").pvals_corrected
    array([0.03, 0.04, 0.04])
    """
    code = _check_method(method)
    alpha = v.check_probability(alpha, "alpha")
    p = v.as_data_array(pvals, "pvals", ndim=tuple(range(1, 33)), finite=False)
    shape = p.shape
    n = shape[-1]
    rows = p.reshape(-1, n)
    if method == "hommel":  # O(tests^2) per family, like statsmodels' implementation
        v.check_work(rows.shape[0] * n * n, "`pvals` (families x tests^2 for method='hommel')", unit="steps")
    if p.size > 10**7:  # outputs (bool + float) and, for the Sidak methods, one more float array
        v.check_memory(17 * p.size + 48 * n, "`pvals`", what="the corrected p-values")
    from simengine.kernels.multitest import _multipletests, _rank_rows

    if method in ("sidak", "holm-sidak"):
        # NumPy transforms these p-values before the kernel runs, so check them first
        # (the other methods have the kernel check each row as it loads it)
        _check_pvals(rows)

    # Thresholds, ecdf factors and Sidak terms use NumPy's own ufuncs, operation for
    # operation as statsmodels writes them, so results match it to the last bit
    # (libm's pow/log1p/expm1 inside numba differ from NumPy's in the last ulp).
    k_down = np.arange(n, 0, -1)
    ecdf = np.arange(1, n + 1) / float(n)
    factors = ecdf
    raw = np.empty((0, 0))
    if method == "bonferroni":
        cuts = np.full(n, alpha / float(n))
    elif method == "sidak":
        cuts = np.full(n, 1 - np.power(1.0 - alpha, 1.0 / n))
        with np.errstate(divide="ignore"):  # log1p(-1) = -inf: p = 1 maps to 1, as in statsmodels
            raw = -np.expm1(n * np.log1p(-rows))
    elif method == "holm":
        cuts = alpha / k_down
    elif method == "holm-sidak":
        cuts = 1 - np.power(1.0 - alpha, 1.0 / k_down)
        rank = _rank_rows(rows)
        with np.errstate(divide="ignore"):
            raw = -np.expm1((n - rank) * np.log1p(-rows))
    elif method == "simes-hochberg":
        cuts = alpha / k_down
    elif method == "hommel":
        cuts = np.full(n, alpha)
    elif method == "fdr_bh":
        cuts = ecdf * alpha
    else:  # fdr_by: Benjamini-Yekutieli's constant with NumPy's pairwise sum
        factors = ecdf / np.sum(1.0 / np.arange(1, n + 1))
        cuts = factors * alpha
    try:
        ok, reject, corrected = _multipletests(
            rows, np.ascontiguousarray(raw), code, np.ascontiguousarray(cuts, dtype=np.float64), factors
        )
    except (MemoryError, SystemError):  # SystemError: the parallel loop returned with it set
        ok = reject = corrected = None
    if ok is None:
        raise MemoryError(f"multipletests ran out of memory for {rows.shape[0]} families of {n} p-values (`pvals`)")
    if not ok:  # the kernel met NaN or a value outside [0, 1]; its outputs are incomplete
        _check_pvals(rows)
        # valid p-values, yet a chunk did not finish: its scratch could not be allocated
        raise MemoryError(f"multipletests ran out of memory for families of {n} p-values (`pvals`)")
    return MultipleTestsResult(
        reject=reject.reshape(shape),
        pvals_corrected=corrected.reshape(shape),
        alphacSidak=float(1 - np.power(1.0 - alpha, 1.0 / n)),
        alphacBonf=alpha / float(n),
        method=method,
        alpha=alpha,
    )


# Families per random stream (a constant of the algorithm).
FAMILY_BLOCK = 1000


def simulate_multiple_testing(
    *,
    n_tests=20,
    n_true=2,
    effect_size,
    n_per_group,
    n_families=10_000,
    methods=("none", "bonferroni", "holm", "hommel", "fdr_bh", "fdr_by"),
    alpha=0.05,
    rng=None,
):
    """FWER, FDR and power of multiple-testing corrections on simulated families of t-tests.

    Each family holds `n_tests` two-sided pooled t-tests on normal data with
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
    n_families : int, default 10 000
    methods : sequence of str
        Names accepted by `multipletests`, plus ``"none"`` (no correction: p <= alpha).
    alpha : float, default 0.05
    rng : None, int, SeedSequence or Generator
        Seed (SPEC 7); families are drawn in blocks of `FAMILY_BLOCK`, each with its own stream.

    Returns
    -------
    pandas.DataFrame
        One row per method: ``fwer`` (P(at least one false rejection)), ``fdr``
        (mean of V / max(R, 1)), ``power`` (mean fraction of true effects
        rejected; NaN when ``n_true = 0``), ``mean_rejections``, each with its
        Monte Carlo standard error (``*_se``).

    Examples
    --------
    >>> import simengine
    >>> table = simengine.simulate_multiple_testing(effect_size=0.5, n_per_group=50, n_families=2000, rng=1)
    >>> list(table.index)
    ['none', 'bonferroni', 'holm', 'hommel', 'fdr_bh', 'fdr_by']
    >>> bool(table.loc["bonferroni", "fwer"] <= 0.05 + 4 * table.loc["bonferroni", "fwer_se"])
    True
    """
    import pandas as pd

    from simengine._results import mean_se, proportion_se
    from simengine._rng import as_seed_sequence, block_generators, n_blocks

    n_tests = v.check_bounded_count(n_tests, "n_tests")
    n_true = v.check_int(n_true, "n_true", minimum=0, maximum=n_tests)
    effect_size = v.check_real(effect_size, "effect_size")
    n_per_group = v.check_bounded_count(n_per_group, "n_per_group", minimum=2)
    n_families = v.check_bounded_count(n_families, "n_families")
    if isinstance(methods, str):
        methods = (methods,)
    elif isinstance(methods, (bytes, dict, set, frozenset)) or not hasattr(methods, "__iter__"):
        raise TypeError(f"`methods` must be a method name or a sequence of them; got {v._describe(methods)}")
    try:
        methods = tuple(methods)
    except TypeError:  # a 0-d array, say
        raise TypeError(f"`methods` must be a method name or a sequence of them; got {v._describe(methods)}") from None
    if not methods:
        raise ValueError("`methods` must name at least one method")
    for m in methods:
        v.check_choice(m, "methods", ("none", *METHODS))
    alpha = v.check_probability(alpha, "alpha")
    cells = n_families * n_tests  # Python ints: nothing wraps
    v.check_work(4 * cells, "`n_families` x `n_tests`")
    # t, p and one method's corrected p-values and temporaries at a time; one stream per block
    v.check_memory(48 * cells + 3000 * n_blocks(n_families, FAMILY_BLOCK), "`n_families` x `n_tests`",
                   what="the simulated p-values and their corrections")
    ss = as_seed_sequence(rng)
    from simengine.kernels.power import _family_t_normal
    from simengine.twosample import _t_pvalue

    gens = block_generators(ss, n_blocks(n_families, FAMILY_BLOCK))
    try:
        t = _family_t_normal(gens, FAMILY_BLOCK, n_families, n_tests, n_true, n_per_group, effect_size)
    except MemoryError:
        raise MemoryError(
            f"simulate_multiple_testing ran out of memory for `n_families` x `n_tests` = {n_families} x {n_tests}"
        ) from None
    p = _t_pvalue(t, 2.0 * n_per_group - 2.0, "two-sided")
    is_true = np.arange(n_tests) < n_true
    rows = {}
    for m in methods:
        reject = p <= alpha if m == "none" else multipletests(p, alpha=alpha, method=m).reject
        false_rej = (reject & ~is_true).sum(axis=1)
        n_rej = reject.sum(axis=1)
        fwer = float((false_rej > 0).mean())
        fdp = false_rej / np.maximum(n_rej, 1)
        fdr, fdr_se = mean_se(fdp.sum(), (fdp * fdp).sum(), n_families)
        if n_true:
            tpr = (reject & is_true).sum(axis=1) / n_true
            power, power_se = mean_se(tpr.sum(), (tpr * tpr).sum(), n_families)
        else:
            power = power_se = np.nan
        mean_r, mean_r_se = mean_se(float(n_rej.sum()), float((n_rej.astype(float) ** 2).sum()), n_families)
        rows[m] = {
            "fwer": fwer,
            "fwer_se": float(proportion_se(fwer, n_families)),
            "fdr": float(fdr),
            "fdr_se": float(fdr_se),
            "power": float(power),
            "power_se": float(power_se),
            "mean_rejections": float(mean_r),
            "mean_rejections_se": float(mean_r_se),
        }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "method"
    return table

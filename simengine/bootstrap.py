"""Bootstrap confidence intervals and their coverage (issue 17).

`simulate_bootstrap_coverage` runs the nested Monte Carlo (replicates x resamples) that asks whether
a bootstrap interval covers at a given sample size; its kernels are in `kernels/bootcov.py` and call
the interval helpers of `kernels/bootstrap.py`.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from simengine import _validate as v
from simengine._long import check_progress, first_slice, run_blocks
from simengine._results import MEAN, SUM, MonteCarloResult, proportion_se
from simengine._rng import as_seed_sequence, child_seed_sequence, n_blocks
from simengine._typing import ArrayLike, FloatOrArray, IntOrArray, Progress, SeedLike, StrOrArray

if TYPE_CHECKING:  # pandas is imported when a frame is made, not with the package
    import pandas as pd

__all__ = ["simulate_bootstrap_coverage", "SimulateBootstrapCoverageResult", "COVERAGE_BLOCK"]


# ---------------------------------------------------------------- coverage of bootstrap intervals

# Replicates per random stream of `simulate_bootstrap_coverage` (a constant of the algorithm): a
# replicate of n = 30 with 999 resamples costs ~0.3 ms, so a block is ~10 ms against ~0.1 ms for its
# Generator.  A block may be cut between slices (its Generator carries on), so Ctrl-C waits for at most
# one replicate.
COVERAGE_BLOCK = 32

BOOTSTRAP_METHODS = ("percentile", "basic", "BCa")
COVERAGE_DISTRIBUTIONS = ("normal", "lognormal", "exponential", "t3", "bernoulli")
_METHOD_CODES = {"percentile": 0, "basic": 1, "BCa": 2}


@dataclass(frozen=True, slots=True)
class SimulateBootstrapCoverageResult(MonteCarloResult):
    """Coverage and mean width of bootstrap intervals, one entry per (n, method) row.

    Rows run over `n`, then `methods` (the last fastest).  With one (n, method) every field is a
    scalar; otherwise each row field is a 1-D array.  `to_frame()` gives one row per (n, method)
    with the columns method, n, coverage, coverage_se, width, width_se, n_nan.  Does not unpack.

    Attributes
    ----------
    method, n : ndarray (or scalars)
        The interval method and sample size of each row.
    coverage, coverage_se : ndarray (or floats)
        Fraction of the `n_sims` simulated intervals containing `true_value` (ends included), and
        its Monte Carlo standard error.  An interval with a NaN end counts as not covering.
    width, width_se : ndarray (or floats)
        Mean width of the intervals with finite ends, and its standard error.
    n_nan : ndarray (or int)
        Intervals with a NaN end (BCa of a sample whose statistic is constant under the jackknife,
        where scipy.stats.bootstrap warns and returns NaN).
    distribution, statistic : str
    true_value : float
        The population value of `statistic` the intervals should cover.
    confidence_level : float
    n_resamples, n_sims : int
    """

    method: StrOrArray
    n: IntOrArray
    coverage: FloatOrArray
    coverage_se: FloatOrArray
    width: FloatOrArray
    width_se: FloatOrArray
    n_nan: IntOrArray
    distribution: str
    statistic: str
    true_value: float
    confidence_level: float
    n_resamples: int
    n_sims: int

    _estimates = {"coverage": MEAN, "width": MEAN}
    _combine_fields = {"n_nan": SUM}
    # never split: `width` is a mean over the finite intervals, which a replicate-weighted mean of
    # chunks would only approximate when some are NaN
    _chunk_size = None

    def to_frame(self) -> pd.DataFrame:
        """One row per (n, method): method, n, coverage, coverage_se, width, width_se, n_nan."""
        import pandas as pd

        rows = {}
        for name in ("method", "n", "coverage", "coverage_se", "width", "width_se", "n_nan"):
            value = getattr(self, name)
            if name == "method":
                rows[name] = np.array([value], dtype=object) if isinstance(value, str) else value
            else:
                rows[name] = np.atleast_1d(np.asarray(value, dtype=np.int64 if name in ("n", "n_nan") else np.float64))
        return pd.DataFrame(rows)


def _coverage_distribution(distribution: Any) -> tuple[str, float]:
    """(name, Bernoulli p) from `distribution`: a name, or ("bernoulli", p)."""
    if isinstance(distribution, tuple):
        if len(distribution) != 2 or distribution[0] != "bernoulli":
            raise ValueError(f'`distribution` as a tuple must be ("bernoulli", p); got {distribution!r}')
        p = v.check_real(distribution[1], "distribution", low=0.0, high=1.0, low_inclusive=False,
                         high_inclusive=False)
        return "bernoulli", p
    if not isinstance(distribution, str):
        raise TypeError(f'`distribution` must be a name or ("bernoulli", p); got {type(distribution).__name__}')
    v.check_choice(distribution, "distribution", COVERAGE_DISTRIBUTIONS)
    return distribution, 0.5


def _coverage_statistic(statistic: Any) -> tuple[str, float]:
    """(label, q) from `statistic`: "mean" (q NaN), "median" (q 0.5) or ("quantile", q)."""
    if isinstance(statistic, tuple):
        if len(statistic) != 2 or statistic[0] != "quantile":
            raise ValueError(f'`statistic` as a tuple must be ("quantile", q); got {statistic!r}')
        q = v.check_real(statistic[1], "statistic", low=0.0, high=1.0)
        return f"quantile({q:g})", q
    if not isinstance(statistic, str):
        raise TypeError(f'`statistic` must be "mean", "median" or ("quantile", q); got {type(statistic).__name__}')
    v.check_choice(statistic, "statistic", ("mean", "median"))
    return statistic, (math.nan if statistic == "mean" else 0.5)


def _true_value(dist: str, p: float, q: float) -> float:
    """The population mean (q NaN) or q-quantile of `dist`."""
    from scipy import special

    if math.isnan(q):
        return {"normal": 0.0, "lognormal": math.exp(0.5), "exponential": 1.0, "t3": 0.0, "bernoulli": p}[dist]
    if dist == "bernoulli":
        if q == 1.0 - p:
            raise ValueError(f"the {q:g}-quantile of Bernoulli({p:g}) is not unique (any value in [0, 1]); "
                             "choose another `statistic` or p")
        return 0.0 if q < 1.0 - p else 1.0
    if q in (0.0, 1.0) and dist != "bernoulli":
        raise ValueError(f"`statistic` quantile {q:g} of {dist} data is infinite or its support's end; "
                         "choose q in (0, 1)")
    if dist == "normal":
        return float(special.ndtri(q))
    if dist == "lognormal":
        return math.exp(float(special.ndtri(q)))
    if dist == "exponential":
        return -math.log1p(-q)
    return float(special.stdtrit(3.0, q))


def simulate_bootstrap_coverage(
    *,
    distribution: Literal["normal", "lognormal", "exponential", "t3", "bernoulli"] | tuple[str, float],
    n: int | ArrayLike,
    statistic: Literal["mean", "median"] | tuple[str, float],
    methods: Sequence[Literal["percentile", "basic", "BCa"]] = ("percentile", "basic", "BCa"),
    confidence_level: float = 0.95,
    n_resamples: int = 999,
    n_sims: int = 2000,
    rng: SeedLike = None,
    progress: Progress = None,
) -> SimulateBootstrapCoverageResult:
    """Coverage and mean width of bootstrap confidence intervals at given sample sizes, by simulation.

    Each of `n_sims` replicates draws a sample of `n` from `distribution`, bootstraps `statistic`
    with `n_resamples` resamples and forms every interval of `methods` from the same bootstrap
    distribution (common random numbers across methods), with ``scipy.stats.bootstrap``'s
    formulas for a two-sided interval; coverage is the fraction containing the population value.
    scipy has no such simulation (it would call ``bootstrap`` once per replicate, re-evaluating a
    Python statistic on every resample); here the whole nested loop is compiled.  An array of `n`
    gives a coverage curve.

    Parameters
    ----------
    distribution : {"normal", "lognormal", "exponential", "t3", "bernoulli"} or ("bernoulli", p)
        Standard normal, lognormal(0, 1), exponential(1), Student t with 3 df, Bernoulli(p)
        ("bernoulli" alone: p = 0.5).
    n : int or array_like of int
        Sample sizes (>= 2).
    statistic : {"mean", "median"} or ("quantile", q)
        The sample quantiles use the linear method (NumPy's default, scipy.stats.quantile's
        "linear"); the population value is the distribution's mean or q-quantile.
    methods : sequence of {"percentile", "basic", "BCa"}, default all three
        BCa's acceleration is the jackknife one, as in scipy.
    confidence_level : float, default 0.95
    n_resamples : int, default 999
        Bootstrap resamples per replicate.
    n_sims : int, default 2000
        Replicates (simulated samples) per `n`.
    rng : None, int, SeedSequence or Generator
        Seed (SPEC 7); replicates run in blocks of 32, each with its own stream.
    progress : None, True or False
        A progress bar on stderr: True always, False never, None only when stderr is a terminal and
        the call is expected to take more than ~2 s.  Ctrl-C stops the call within about a second.

    Returns
    -------
    SimulateBootstrapCoverageResult
        One row per (n, method); ``to_frame()`` gives the table.

    Raises
    ------
    ValueError
        Bad inputs; a quantile of 0 or 1 of an unbounded distribution; a Bernoulli quantile at
        1 - p (not unique); more than 10^12 resample draws in one call.

    Notes
    -----
    A resample's index j is ``int(u * n)`` for one uniform draw u (the NumPy replay in
    `simengine.naive.bootstrap_coverage_replay` reproduces every number).  A BCa interval whose
    acceleration is undefined (the jackknife statistics all equal, e.g. a Bernoulli sample of one
    value) has NaN ends, as in scipy: it counts as not covering, is left out of `width` and is
    counted in `n_nan`.

    Examples
    --------
    >>> import simengine
    >>> res = simengine.simulate_bootstrap_coverage(distribution="exponential", n=20, statistic="mean",
    ...                                             methods=("percentile", "BCa"), n_sims=1000, rng=1)
    >>> res.to_frame()[["method", "n", "coverage"]].round(3)
           method   n  coverage
    0  percentile  20     0.900
    1         BCa  20     0.911
    """
    dist, p = _coverage_distribution(distribution)
    label, q = _coverage_statistic(statistic)
    n_arr = np.atleast_1d(v.as_count_array(n, "n", ndim=(0, 1), minimum=2))
    scalar_n = np.ndim(n) == 0
    if n_arr.size == 0:
        raise ValueError("`n` must not be empty")
    if isinstance(methods, str):
        methods = (methods,)  # type: ignore[assignment]  # one name passed as a string
    if not isinstance(methods, (tuple, list)):
        raise TypeError(f"`methods` must be a method name or a sequence of them; got {type(methods).__name__}")
    methods = tuple(v.check_choice(m, "methods", BOOTSTRAP_METHODS) for m in methods)
    if not methods:
        raise ValueError("`methods` must name at least one method")
    confidence_level = v.check_probability(confidence_level, "confidence_level")
    n_resamples = v.check_bounded_count(n_resamples, "n_resamples")
    n_sims = v.check_bounded_count(n_sims, "n_sims")
    progress = check_progress(progress)
    truth = _true_value(dist, p, q)
    ns = np.ascontiguousarray(n_arr.reshape(-1), dtype=np.int64)
    sum_n = int(ns.sum(dtype=object))
    v.check_work(n_sims * sum_n * (n_resamples + 1), "`n_sims` x `n` x `n_resamples`", unit="resample draws")
    import numba

    n_max = int(ns.max())
    v.check_memory((8 * (5 * n_max + 2 * n_resamples)) * numba.get_num_threads(), "`n` and `n_resamples`",
                   what="a sample and its bootstrap distribution on each thread")
    ss = as_seed_sequence(rng)

    from simengine.kernels import bootcov as k
    from simengine.sequential import threaded_blocks

    dcode = {"normal": k.NORMAL, "lognormal": k.LOGNORMAL, "exponential": k.EXPONENTIAL, "t3": k.T3,
             "bernoulli": k.BERNOULLI}[dist]
    codes = np.array([_METHOD_CODES[m] for m in methods], dtype=np.int64)
    bca = "BCa" in methods
    block = COVERAGE_BLOCK
    nb = n_blocks(n_sims, block)
    jobs = ns.size * nb
    sums = np.zeros((jobs, len(methods), 4))
    kernel = k._coverage_mean1 if math.isnan(q) else k._coverage_quantile1
    carry: dict[int, np.random.Generator] = {}  # the Generator of a block cut at the end of the last slice

    def call(lo: int, hi: int) -> None:
        def job(jb: int) -> None:
            g = carry.pop(jb, None) or np.random.Generator(np.random.PCG64(child_seed_sequence(ss, jb)))
            i, b = divmod(jb, nb)
            r0 = b * block + max(lo - jb * block, 0)
            r1 = min(b * block + min(hi - jb * block, block), n_sims)
            if r0 < r1:
                if math.isnan(q):
                    kernel(g, ns[i], r0, r1, dcode, p, truth, codes, confidence_level, n_resamples, bca, sums[jb])
                else:
                    kernel(g, ns[i], r0, r1, dcode, p, q, truth, codes, confidence_level, n_resamples, bca,
                           sums[jb])
            if hi < (jb + 1) * block:
                carry[jb] = g

        threaded_blocks(job, lo // block, (hi - 1) // block + 1)

    # items are replicates (job * block + k); ~8 ns per resample draw
    per_item = 8e-9 * n_max * (n_resamples + 1)
    run_blocks(call, jobs * block, progress=progress, desc="simulate_bootstrap_coverage", dispatchers=(kernel,),
               first=first_slice(per_item * block) * block if per_item * block <= 0.1 else first_slice(per_item),
               unit="replicates")
    return _bootstrap_coverage_result(sums, ns, nb, methods, n_sims, scalar_n,
                                      dict(distribution=dist, statistic=label, true_value=truth,
                                           confidence_level=confidence_level, n_resamples=n_resamples))


def _bootstrap_coverage_result(sums: np.ndarray, ns: np.ndarray, nb: int, methods: tuple[str, ...], n_sims: int,
                               scalar_n: bool, inputs: dict[str, Any]) -> SimulateBootstrapCoverageResult:
    """The result from the per-block sums, reduced in block order."""
    tot = sums.reshape(ns.size, nb, len(methods), 4).sum(axis=1)  # (sizes, methods, 4)
    cov = tot[:, :, 0] / n_sims
    n_nan = tot[:, :, 3].astype(np.int64)
    finite = np.maximum(n_sims - n_nan, 1).astype(np.float64)
    width = tot[:, :, 1] / finite
    var = np.maximum(tot[:, :, 2] / finite - width * width, 0.0) * finite / np.maximum(finite - 1.0, 1.0)
    width_se = np.sqrt(var / finite)
    width = np.where(n_nan == n_sims, np.nan, width)
    width_se = np.where(n_nan == n_sims, np.nan, width_se)
    rows: dict[str, Any] = {
        "method": np.tile(np.array(methods, dtype=object), ns.size),
        "n": np.repeat(ns, len(methods)),
        "coverage": cov.ravel(),
        "coverage_se": proportion_se(cov, n_sims).ravel(),
        "width": np.asarray(width).ravel(),
        "width_se": np.asarray(width_se).ravel(),
        "n_nan": n_nan.ravel(),
    }
    if scalar_n and len(methods) == 1:  # one (n, method): scalars, as a sweep row reads them
        rows = {name: value[0].item() if isinstance(value[0], np.generic) else value[0]
                for name, value in rows.items()}
    return SimulateBootstrapCoverageResult(**rows, n_sims=n_sims, **inputs)

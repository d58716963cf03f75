"""Bayesian A/B testing with Beta-Binomial posteriors, binomial intervals and their coverage,
and the "stop when P(B > A) > threshold" peeking simulator.

The public layer validates and broadcasts; the arithmetic is in `kernels.bayes`.
"""
from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from simengine._long import check_progress, check_target, joined, run_blocks, threaded_blocks
from simengine._results import CONCAT, MEAN, SUM, MonteCarloResult, Result, mean_se, proportion_se, until_target
from simengine._rng import as_seed_sequence, child_seed_sequence, n_blocks
from simengine._typing import ArrayLike, FloatOrArray, IntOrArray, Progress, SeedLike, StrOrArray
from simengine._validate import (
    as_count_array,
    as_real_array,
    check_choice,
    check_count_at_least_one,
    check_memory,
    check_positive_int,
    check_probability,
    check_real,
    check_work,
)

if TYPE_CHECKING:  # pandas is imported when a frame is made, not with the package
    import pandas as pd

__all__ = [
    "BayesAbResult",
    "ProbBestResult",
    "ProportionIntervalResult",
    "SimulateCoverageResult",
    "SimulateBayesPeekingResult",
    "bayes_ab",
    "prob_best",
    "proportion_interval",
    "simulate_coverage",
    "simulate_bayes_peeking",
    "INTERVAL_METHODS",
    "ALTERNATIVES",
]

MC_BLOCK = 16_384  # Beta pairs per generator block in `bayes_ab(method="mc")` and `prob_best`
COVERAGE_BLOCK = 8192  # binomial draws per block in `simulate_coverage`
PEEKING_BLOCK = 256  # replicates per block in `simulate_bayes_peeking`
PEEKING_UNIT = 8  # replicates per work unit of `simulate_bayes_peeking` (a block runs as 32 units, in order)
# Beta prior parameters accepted everywhere.  Below 0.05 an arm without successes has a posterior with
# most of its mass under the smallest double: the exact sums, the quadrature and the Beta draws (which tie
# at 0.0) all fail, e.g. P(B > A) = 0.37 for two identical arms with prior (0.001, 0.001).  Above 1e9 the
# quadrature's windows take seconds to minutes (a 1e20 prior did not finish).
PRIOR_RANGE = (0.05, 1e9)
# Visitors per arm over all looks in `simulate_bayes_peeking`: counts stay exact in float64 posteriors.
MAX_VISITORS = 2**53
# Work cap of `simulate_bayes_peeking`, in estimated microseconds of exact P(B > A) evaluations (~17 min).
MAX_PEEKING_WORK = 10**9
# `alpha` of the intervals: below this the quantile routines of the beta methods lose all accuracy (scipy's
# incomplete-beta inverse returns NaN or out-of-order ends for large counts), and no design needs it.
MIN_INTERVAL_ALPHA = 1e-100
INTERVAL_METHODS = ("normal", "wilson", "agresti_coull", "beta", "jeffreys", "bayes")
IntervalMethod = Literal["normal", "wilson", "agresti_coull", "beta", "jeffreys", "bayes"]
# Sides of `proportion_interval`, with the words of statsmodels' `proportion_confint`: "larger" keeps the
# upper bound (the interval is (0, upper)), "smaller" the lower bound ((lower, 1)).
ALTERNATIVES = ("two-sided", "larger", "smaller")

# Five typical A/B read-outs (name, successes_a, trials_a, successes_b, trials_b), shared by
# the demo, `simengine bench` and benchmarks/bench_bayes.py.
AB_SCENARIOS = (
    ("small test, no clear winner", 12, 200, 15, 200),
    ("clear winner", 120, 2400, 165, 2400),
    ("big traffic, tiny lift", 5000, 100_000, 5100, 100_000),
    ("low conversion", 8, 1000, 15, 1000),
    ("unequal traffic", 300, 6000, 70, 1200),
)


# --------------------------------------------------------------------------- validation helpers


def _check_prior(prior, name="prior", *, allow_list=False):
    """(alpha, beta) of a Beta prior, or an (n_priors, 2) array when `allow_list`."""
    extra = " or a list of such pairs" if allow_list else ""
    what = f"`{name}` must be a pair (alpha, beta) of positive numbers{extra}"
    if prior is None or isinstance(prior, (str, bytes, bool, np.bool_, numbers.Number)):
        raise TypeError(f"{what}; got {_describe(prior)}")
    try:
        raw = np.asarray(prior)
    except (TypeError, ValueError, OverflowError):  # ragged nesting and the like
        raise TypeError(f"{what}; got {_describe(prior)}") from None
    # strings, bools, None and other objects inside the pair are refused, not converted (NumPy turns
    # (True, 1.0) into floats and (1, "2") into strings)
    if raw.dtype.kind not in "iuf" or (isinstance(prior, (list, tuple)) and _has_bool(prior)):
        raise TypeError(f"{what}; got {_describe(prior)}")
    arr = raw.astype(np.float64)
    if arr.shape == (2,):
        pass
    elif allow_list and arr.ndim == 2 and arr.shape[1] == 2 and arr.shape[0] >= 1:
        pass
    else:
        raise ValueError(f"`{name}` must be a pair (alpha, beta){extra}; got shape {arr.shape}")
    if not np.isfinite(arr).all() or (arr <= 0).any():
        raise ValueError(f"`{name}` parameters must be finite and > 0; got {arr.tolist()}"[:200])
    if (arr < PRIOR_RANGE[0]).any() or (arr > PRIOR_RANGE[1]).any():
        raise ValueError(
            f"`{name}` parameters must be in [{PRIOR_RANGE[0]:g}, {PRIOR_RANGE[1]:g}]; got {arr.tolist()}"[:200]
        )
    return arr


def _has_bool(seq):
    for v in seq:
        if isinstance(v, (bool, np.bool_)) or (isinstance(v, (list, tuple)) and _has_bool(v)):
            return True
    return False


def _describe(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _counts(successes, trials, s_name, t_name, *, min_trials=0):
    s = as_count_array(successes, s_name, ndim=(0, 1, 2, 3), minimum=0)
    t = as_count_array(trials, t_name, ndim=(0, 1, 2, 3), minimum=min_trials)
    try:
        s, t = np.broadcast_arrays(s, t)
    except ValueError:
        raise ValueError(
            f"`{s_name}` and `{t_name}` must have broadcastable shapes; got {s.shape} and {t.shape}"
        ) from None
    if (s > t).any():
        raise ValueError(f"`{s_name}` must be <= `{t_name}` elementwise")
    return s, t


# Bytes of one block Generator (PCG64 state, SeedSequence, Python objects), for the memory check.
GENERATOR_BYTES = 4096


def _check_generators(count, names):
    """Refuse more block Generators than memory holds (each ~4 KiB and ~0.1 ms to create)."""
    if count * GENERATOR_BYTES > 2**28:
        check_memory(count * GENERATOR_BYTES, names, what="its per-block random generators")


def _check_block_sums(count, names):
    """Refuse more per-block partial sums (`count` doubles, kept until the call reduces them) than memory holds.

    The block Generators of the sliced kernels are made per slice, so they no longer count."""
    if count * 8 > 2**28:
        check_memory(count * 8, names, what="its per-block sums")


def _first_slice(blocks_per_thread):
    """Blocks of the first slice of `run_blocks`: `blocks_per_thread` for each numba thread.

    The first slice is timed to size the next ones, so it must stay well under the ~1 s a
    Ctrl-C may wait; as many blocks as take ~0.05 s at the kernel's usual speed let a
    typical call end in one slice (one parallel launch, as before slicing).
    """
    import numba

    return blocks_per_thread * max(1, numba.get_num_threads())


# --------------------------------------------------------------------------- bayes_ab


@dataclass(frozen=True, slots=True)
class BayesAbResult(MonteCarloResult):
    """Posterior comparison of two Beta-Binomial arms: A (control) and B (treatment).

    Every difference is B - A.  Shapes follow the broadcast shape of the counts, with a
    leading prior axis when `prior` was a list of priors.  Scalars come back as floats.
    The estimates (with ``method="mc"``: means over `n_draws` posterior draws) are
    `prob_b_better`, `expected_loss_a` and `expected_loss_b`; their standard errors are 0
    for ``method="exact"``.  Does not unpack.

    Attributes
    ----------
    prob_b_better : float or ndarray
        P(B > A) under the posteriors.
    expected_loss_a : float or ndarray
        E[max(B - A, 0)]: the expected conversion lost by choosing A.
    expected_loss_b : float or ndarray
        E[max(A - B, 0)]: the expected conversion lost by choosing B.
    prob_b_better_se, expected_loss_a_se, expected_loss_b_se : float or ndarray
        Monte Carlo standard errors (0 for ``method="exact"``).
    alpha_a, beta_a, alpha_b, beta_b : ndarray
        Posterior Beta parameters (prior plus successes / failures).
    method : str
        "exact" or "mc".
    n_draws : int
        Monte Carlo draws per arm and scenario (0 for "exact").
    """

    prob_b_better: FloatOrArray
    expected_loss_a: FloatOrArray
    expected_loss_b: FloatOrArray
    prob_b_better_se: FloatOrArray
    expected_loss_a_se: FloatOrArray
    expected_loss_b_se: FloatOrArray
    alpha_a: np.ndarray = field(repr=False)
    beta_a: np.ndarray = field(repr=False)
    alpha_b: np.ndarray = field(repr=False)
    beta_b: np.ndarray = field(repr=False)
    method: str = "exact"
    n_draws: int = 0

    _estimates = {"prob_b_better": MEAN, "expected_loss_a": MEAN, "expected_loss_b": MEAN}
    _replicates = "n_draws"
    _chunk_size = 10_000_000


def _reshaped(arr, shape):
    return arr if arr.shape == shape else arr.reshape(shape)


def _shape_out(arr, shape):
    arr = _reshaped(arr, shape)
    return float(arr) if arr.ndim == 0 else arr


_INT64 = np.dtype(np.int64)
_FLAT_PRIORS = np.ones((1, 2))  # the default prior as the kernels take it; never handed out
_PLAIN_REALS = (float, int)


def _ab_counts(successes_a, trials_a, successes_b, trials_b):
    """Validated counts as one (4, n) int64 array (sa, ta, sb, tb rows) and the broadcast shape."""
    sa, ta = _counts(successes_a, trials_a, "successes_a", "trials_a")
    sb, tb = _counts(successes_b, trials_b, "successes_b", "trials_b")
    try:
        shape = np.broadcast_shapes(sa.shape, sb.shape)
    except ValueError:
        raise ValueError(
            f"arm A counts of shape {sa.shape} and arm B counts of shape {sb.shape} do not broadcast"
        ) from None
    size = math.prod(shape)
    if size > 2**22:  # counts, posteriors and results: about 12 float64 arrays of the broadcast shape
        check_memory(size * 8 * 12, "the broadcast counts", what=f"{size:.3g} scenarios")
    sa, ta, sb, tb = np.broadcast_arrays(sa, ta, sb, tb)
    return np.stack((sa, ta, sb, tb)).reshape(4, -1), sa.shape


def _ab_counts_fast(successes_a, trials_a, successes_b, trials_b):
    """(counts, shape) as `_ab_counts` gives when the four inputs stack into one int64 array
    of equal shapes, else None; the values are checked later, inside the kernel.

    Python overhead dominates `bayes_ab` on a handful of scenarios: one `np.array` call
    replaces four conversions, three broadcasts and the value reductions.
    """
    try:
        c = np.array((successes_a, trials_a, successes_b, trials_b))
    except (TypeError, ValueError, OverflowError):
        return None
    if c.dtype != _INT64 or c.ndim > 4:
        return None
    return c.reshape(4, -1), c.shape[1:]


def _prior_pair_fast(prior):
    """The (1, 2) prior array for a plain tuple of two finite positive numbers, else None."""
    if type(prior) is not tuple or len(prior) != 2:
        return None
    a, b = prior
    if type(a) not in _PLAIN_REALS or type(b) not in _PLAIN_REALS or not (
        PRIOR_RANGE[0] <= a <= PRIOR_RANGE[1] and PRIOR_RANGE[0] <= b <= PRIOR_RANGE[1]
    ):
        return None
    if a == 1.0 and b == 1.0:
        return _FLAT_PRIORS
    return np.array(((a, b),), dtype=np.float64)


_COST_CHECK_MIN = 1000  # scenarios above which `bayes_ab` estimates the exact method's cost first


def _check_exact_cost(counts, n_priors):
    """Refuse exact evaluations estimated at more than ~17 minutes: a sum costs ~20 us up to 1e6 trials,
    the quadrature beyond ~2 ms (~40 ms from 1e13).  Vectorised; only for many scenarios."""
    trials = np.maximum(counts[1], counts[3])
    us = np.where(trials <= 10**6, 20.0, np.where(trials <= 10**13, 2000.0, 40_000.0)).sum() * n_priors
    check_work(math.ceil(us), "the counts (scenarios x priors)", limit=MAX_PEEKING_WORK,
               unit="microseconds of exact evaluations (estimated)")


def _bayes_kernels():
    global _K
    if _K is None:
        from simengine.kernels import bayes

        _K = bayes
    return _K


_K: Any = None


def bayes_ab(
    successes_a: int | ArrayLike,
    trials_a: int | ArrayLike,
    successes_b: int | ArrayLike,
    trials_b: int | ArrayLike,
    *,
    prior: tuple[float, float] | ArrayLike = (1.0, 1.0),
    method: Literal["exact", "mc"] = "exact",
    n_draws: int = 100_000,
    rng: SeedLike = None,
    progress: Progress = None,
) -> BayesAbResult:
    """Posterior probability that B beats A, and the expected loss of choosing each arm.

    Arm A is the control (`successes_a` of `trials_a`), arm B the treatment; the result
    reports P(B > A) and expected losses of the difference B - A.  With a Beta(alpha, beta)
    prior, each arm's conversion rate has posterior Beta(alpha + successes,
    beta + trials - successes).

    ``method="exact"`` sums Evan Miller's (2015) closed form for P(B > A) over the
    smallest integer posterior parameter (with a term-ratio recurrence), and gets the
    losses from the identity E[B 1{B > A}] = E[B] P(B' > A), B' ~ Beta(alpha_B + 1, beta_B).
    When no parameter is an integer, or the shortest sum has more than
    `kernels.bayes.MAX_TERMS` terms (large counts), it integrates
    ``f_B(x) F_A(x)`` by tanh-sinh quadrature over the narrower posterior's mass.
    Agrees with `scipy.integrate.quad` to 1e-9 and stays fast for counts up to 1e7.

    ``method="mc"`` draws `n_draws` Beta pairs per scenario in a fused parallel
    kernel (no arrays of draws) and reports Monte Carlo standard errors.

    Parameters
    ----------
    successes_a, trials_a, successes_b, trials_b : int or array_like of int
        Counts; broadcast together (many scenarios in one call).
    prior : (float, float) or sequence of pairs, default (1, 1)
        Beta prior shared by both arms, each parameter in [0.05, 1e9]; a list of pairs
        evaluates every prior (prior sensitivity) and adds a leading axis to the results.
    method : {"exact", "mc"}
    n_draws : int, default 100_000
        Monte Carlo draws per arm and scenario (``method="mc"`` only).
    rng : None, int, SeedSequence or Generator
        Randomness for ``method="mc"`` (SPEC 7).
    progress : None, True or False
        ``method="mc"`` only (an exact call takes microseconds): True draws a progress
        bar on stderr, None only when stderr is a terminal and the draws are expected
        to take more than ~2 s, False never.  Ctrl-C stops a long Monte Carlo call
        within about a quarter of a second with KeyboardInterrupt, whatever `progress`.

    Returns
    -------
    BayesAbResult
        `prob_b_better` = P(B > A), `expected_loss_a` = E[max(B - A, 0)],
        `expected_loss_b` = E[max(A - B, 0)], each with its ``_se`` (0 for "exact").

    Examples
    --------
    >>> import simengine
    >>> res = simengine.bayes_ab(120, 2400, 145, 2400)
    >>> round(res.prob_b_better, 4)
    0.9427
    >>> mc = simengine.bayes_ab(120, 2400, 145, 2400, method="mc", rng=1)
    >>> abs(mc.prob_b_better - res.prob_b_better) < 4 * mc.prob_b_better_se
    True
    """
    if progress is not None and progress is not True and progress is not False:
        check_progress(progress)
    priors = fast = None
    if type(method) is str and method == "exact" and bool not in (
        type(successes_a), type(trials_a), type(successes_b), type(trials_b)
    ):
        fast = _ab_counts_fast(successes_a, trials_a, successes_b, trials_b)
        if fast is not None:
            priors = _prior_pair_fast(prior)
    if priors is None:
        # anything but plain int counts with one plain prior: the full checks, in order
        counts, shape = _ab_counts(successes_a, trials_a, successes_b, trials_b)
        method = check_choice(method, "method", ("exact", "mc"))
        priors = _check_prior(prior, allow_list=True)
        many = priors.ndim == 2
        priors = np.ascontiguousarray(priors.reshape(-1, 2))
        if method == "mc":
            n_draws = check_count_at_least_one(n_draws, "n_draws")
            m = priors.shape[0] * counts.shape[1]
            check_work(2 * n_draws * m, "`n_draws` x scenarios x priors x 2 arms", unit="Beta draws")
            # generators are made per slice: what stays is 5 sums a block
            _check_block_sums(n_blocks(n_draws, MC_BLOCK) * m * 5, "`n_draws` x scenarios x priors")
            ss = as_seed_sequence(rng)
    else:
        counts, shape = fast
        many = False
    out_shape = ((priors.shape[0],) if many else ()) + shape
    k = _bayes_kernels()

    if method == "exact":
        m = priors.shape[0] * counts.shape[1]
        if m > _COST_CHECK_MIN:
            _check_exact_cost(counts, priors.shape[0])
        # Few scenarios run serially, by a kernel that compiles only the method they need: with no whole-number
        # prior parameter every posterior takes quadrature; with only whole ones (the default prior) exact sums
        # as a rule, the full kernel finishing the call if one scenario needs quadrature after all.
        done = False
        if m < k.PARALLEL_MIN:
            flat = priors.ravel().tolist()  # at most 2 x 63 values: Python is quicker than ufuncs here
            whole = sum(v == math.floor(v) for v in flat)
            if whole == 0:
                params, res, ok = k._bayes_ab_counts_quad(counts, priors)
                done = True
            elif whole == len(flat):
                params, res, ok, done = k._bayes_ab_counts_sums(counts, priors)
        if not done:
            kernel = k._bayes_ab_counts if m >= k.PARALLEL_MIN else k._bayes_ab_counts_serial
            params, res, ok = kernel(counts, priors)
        if not ok:
            _ab_counts(successes_a, trials_a, successes_b, trials_b)  # raises the precise error
            raise ValueError("`successes_a` and `successes_b` must be in [0, trials] elementwise")
        p, la, lb = res
        zero = np.zeros_like(p)
        p_se = la_se = lb_se = zero
        draws = 0
    else:
        params, _ = k._beta_posteriors(counts, priors)  # counts validated above
        a1, b1, a2, b2 = params
        bps = n_blocks(n_draws, MC_BLOCK)

        def block(j):
            g = np.random.Generator(np.random.PCG64(child_seed_sequence(ss, j)))
            return k._bayes_ab_mc(a1, b1, a2, b2, n_draws, MC_BLOCK, g, j)

        def call(lo, hi):
            return np.array(threaded_blocks(block, lo, hi))

        # a block is 16 384 Beta pairs, ~1 ms
        part = joined(run_blocks(call, bps * a1.shape[0], progress=progress, desc="bayes_ab",
                                  dispatchers=(k._bayes_ab_mc,), first=_first_slice(32)))
        sums = part.reshape(a1.shape[0], bps, 5).sum(axis=1)
        p = sums[:, 0] / n_draws
        p_se = proportion_se(p, n_draws)
        la, la_se = mean_se(sums[:, 1], sums[:, 2], n_draws)
        lb, lb_se = mean_se(sums[:, 3], sums[:, 4], n_draws)
        draws = n_draws
    alpha_a, beta_a, alpha_b, beta_b = params
    return BayesAbResult(
        prob_b_better=_shape_out(p, out_shape),
        expected_loss_a=_shape_out(la, out_shape),
        expected_loss_b=_shape_out(lb, out_shape),
        prob_b_better_se=_shape_out(p_se, out_shape),
        expected_loss_a_se=_shape_out(la_se, out_shape),
        expected_loss_b_se=_shape_out(lb_se, out_shape),
        alpha_a=_reshaped(alpha_a, out_shape),
        beta_a=_reshaped(beta_a, out_shape),
        alpha_b=_reshaped(alpha_b, out_shape),
        beta_b=_reshaped(beta_b, out_shape),
        method=method,
        n_draws=draws,
    )


# --------------------------------------------------------------------------- prob_best


@dataclass(frozen=True, slots=True)
class ProbBestResult(MonteCarloResult):
    """Monte Carlo comparison of k Beta-Binomial arms (estimates: means over `n_draws` draws).

    Does not unpack.

    Attributes
    ----------
    prob_best : ndarray, shape (k,)
        P(arm j has the highest rate).
    prob_best_se : ndarray, shape (k,)
        Monte Carlo standard errors.
    expected_loss : ndarray, shape (k,)
        E[max_i X_i - X_j]: the expected rate lost by choosing arm j.
    expected_loss_se : ndarray, shape (k,)
    n_draws : int
    """

    prob_best: np.ndarray
    prob_best_se: np.ndarray
    expected_loss: np.ndarray
    expected_loss_se: np.ndarray
    n_draws: int

    _estimates = {"prob_best": MEAN, "expected_loss": MEAN}
    _replicates = "n_draws"
    _chunk_size = 10_000_000


def prob_best(
    successes: ArrayLike,
    trials: ArrayLike,
    *,
    prior: tuple[float, float] = (1.0, 1.0),
    n_draws: int = 100_000,
    rng: SeedLike = None,
    progress: Progress = None,
) -> ProbBestResult:
    """Probability that each of k arms is best, and each arm's expected loss (Monte Carlo).

    Each draw takes one sample from every arm's Beta posterior; blocks of draws run
    in parallel with their own generators, without storing the draws.

    Parameters
    ----------
    successes, trials : array_like of int, shape (k,)
        Counts per arm, k >= 2.
    prior : (float, float), default (1, 1)
        Beta prior shared by all arms, each parameter in [0.05, 1e9].
    n_draws : int, default 100_000
        Draws, in [1, 10**9]; `n_draws` x arms is at most 10**12.
    rng : None, int, SeedSequence or Generator
    progress : None, True or False
        True draws a progress bar on stderr, None only when stderr is a terminal and
        the call is expected to take more than ~2 s, False never.  Ctrl-C stops the
        call within about a quarter of a second with KeyboardInterrupt.

    Returns
    -------
    ProbBestResult

    Examples
    --------
    >>> import simengine
    >>> res = simengine.prob_best([100, 120, 110], [2000, 2000, 2000], rng=0)
    >>> int(res.prob_best.argmax())
    1
    """
    s, t = _counts(successes, trials, "successes", "trials")
    if s.ndim != 1 or s.shape[0] < 2:
        raise ValueError(f"`successes` and `trials` must be 1-D with at least 2 arms; got shape {s.shape}")
    pr = _check_prior(prior)
    n_draws = check_count_at_least_one(n_draws, "n_draws")
    check_work(n_draws * s.shape[0], "`n_draws` x arms", unit="Beta draws")
    _check_block_sums(n_blocks(n_draws, MC_BLOCK) * s.shape[0] * 3, "`n_draws` x arms")
    progress = check_progress(progress)
    ss = as_seed_sequence(rng)
    alpha = np.ascontiguousarray(pr[0] + s, dtype=np.float64)
    beta = np.ascontiguousarray(pr[1] + (t - s), dtype=np.float64)
    from simengine.kernels import bayes as k

    def block(j):
        g = np.random.Generator(np.random.PCG64(child_seed_sequence(ss, j)))
        return k._prob_best_mc(alpha, beta, n_draws, MC_BLOCK, g, j)

    def call(lo, hi):
        return np.array(threaded_blocks(block, lo, hi))

    # a block is 16 384 draws of every arm, ~0.5 ms an arm
    parts = run_blocks(call, n_blocks(n_draws, MC_BLOCK), progress=progress, desc="prob_best",
                       dispatchers=(k._prob_best_mc,), first=_first_slice(max(1, 64 // s.shape[0])))
    sums = joined(parts).sum(axis=0)
    p = sums[:, 0] / n_draws
    loss, loss_se = mean_se(sums[:, 1], sums[:, 2], n_draws)
    return ProbBestResult(p, proportion_se(p, n_draws), loss, loss_se, n_draws)


# --------------------------------------------------------------------------- intervals


@dataclass(frozen=True, slots=True)
class ProportionIntervalResult(Result):
    """Ends of a binomial-proportion interval; unpacks as ``low, high`` like statsmodels'
    ``ci_low, ci_upp = proportion_confint(...)``.

    Attributes
    ----------
    low : float or ndarray
        Lower end (0.0 for ``alternative="larger"``).
    high : float or ndarray
        Upper end (1.0 for ``alternative="smaller"``).
    """

    low: FloatOrArray
    high: FloatOrArray

    _unpack = ("low", "high")


def _interval_table(k, n, alpha, method, prior, alternative="two-sided"):
    """Interval ends for float arrays k, n (broadcast), following statsmodels' definitions.

    A one-sided interval keeps one end of the two-sided interval at 2 * alpha (each end
    of every method here is a bound at level 1 - alpha / 2 on its own) and puts the
    other at 0 or 1, as `statsmodels.stats.proportion.proportion_confint` does.
    """
    from scipy import stats

    q = k / n
    a2 = alpha / 2.0 if alternative == "two-sided" else alpha
    with np.errstate(divide="ignore", invalid="ignore"):
        if method == "normal":
            half = stats.norm.isf(a2) * np.sqrt(q * (1.0 - q) / n)
            low, high = q - half, q + half
        elif method == "wilson":
            z = stats.norm.isf(a2)
            z2 = z * z
            denom = 1.0 + z2 / n
            center = (q + z2 / (2.0 * n)) / denom
            half = z * np.sqrt(q * (1.0 - q) / n + z2 / (4.0 * n * n)) / denom
            low, high = center - half, center + half
        elif method == "agresti_coull":
            z = stats.norm.isf(a2)
            n_c = n + z * z
            q_c = (k + z * z / 2.0) / n_c
            half = z * np.sqrt(q_c * (1.0 - q_c) / n_c)
            low, high = q_c - half, q_c + half
        elif method == "beta":
            # Clopper & Pearson (1934); the end at 0 or n successes is exactly 0 or 1.
            low = np.where(k == 0, 0.0, _beta_quantile(k, n - k + 1.0, a2, upper=False))
            high = np.where(k == n, 1.0, _beta_quantile(k + 1.0, n - k, a2, upper=True))
        else:
            pa, pb = (0.5, 0.5) if method == "jeffreys" else prior
            low = _beta_quantile(k + pa, n - k + pb, a2, upper=False)
            high = _beta_quantile(k + pa, n - k + pb, a2, upper=True)
    if method in ("normal", "wilson", "agresti_coull"):
        low, high = np.clip(low, 0.0, 1.0), np.clip(high, 0.0, 1.0)
    low = np.asarray(low, dtype=np.float64)
    high = np.asarray(high, dtype=np.float64)
    if alternative == "larger":  # statsmodels' words: "larger" -> (0, upper bound)
        low = np.zeros_like(high)
    elif alternative == "smaller":  # "smaller" -> (lower bound, 1)
        high = np.ones_like(low)
    # alpha near 1 shrinks an interval to a point, where the two quantiles can cross by an ulp
    low = np.minimum(low, high)
    if not (np.isfinite(low).all() and np.isfinite(high).all()):
        raise ValueError(
            f"`alpha` = {alpha:g} with method {method!r}: the interval could not be computed for some counts "
            "(the incomplete-beta inverse failed); use a larger `alpha`"
        )
    return low, high


# Both Beta parameters above this: scipy's incomplete-beta inverse returns NaN or out-of-order ends (seen from
# ~1e16), while the Cornish-Fisher expansion below is exact to ~1e-10 standard deviations.
_HUGE_BETA = 1e12


def _beta_quantile(a, b, tail, *, upper):
    """Beta(a, b) quantile at `tail` (lower) or 1 - `tail` (upper), elementwise.

    scipy's ``betaincinv`` / ``betainccinv``, except where both parameters exceed 1e12: there the
    distribution is normal up to O(1 / (a + b)) and the Cornish-Fisher expansion with the skewness
    term, m + sd (z + g (z^2 - 1) / 6), is used instead.
    """
    from scipy import special

    a, b = np.broadcast_arrays(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
    exact = special.betainccinv(a, b, tail) if upper else special.betaincinv(a, b, tail)
    huge = np.minimum(a, b) >= _HUGE_BETA
    if not huge.any():
        return exact
    ah, bh = a[huge], b[huge]
    total = ah + bh
    mean = ah / total
    sd = np.sqrt(ah / total * (bh / total) / (total + 1.0))
    skew = 2.0 * (bh - ah) * np.sqrt(total + 1.0) / ((total + 2.0) * np.sqrt(ah) * np.sqrt(bh))
    z = -special.ndtri(tail) if upper else special.ndtri(tail)
    out = np.array(exact, dtype=np.float64, copy=True).reshape(a.shape)
    out[huge] = np.clip(mean + sd * (z + skew * (z * z - 1.0) / 6.0), 0.0, 1.0)
    return out


def _check_alpha(alpha):
    alpha = check_probability(alpha, "alpha")
    if alpha < MIN_INTERVAL_ALPHA:
        raise ValueError(f"`alpha` must be in [{MIN_INTERVAL_ALPHA:g}, 1) for binomial intervals; got {alpha:g}")
    return alpha


def proportion_interval(
    successes: int | ArrayLike,
    trials: int | ArrayLike,
    *,
    alpha: float = 0.05,
    method: IntervalMethod = "wilson",
    prior: tuple[float, float] = (1.0, 1.0),
    alternative: Literal["two-sided", "larger", "smaller"] = "two-sided",
) -> ProportionIntervalResult:
    """Confidence (or credible) interval for a binomial proportion, two- or one-sided, batched.

    A drop-in for ``statsmodels.stats.proportion.proportion_confint(count, nobs, alpha,
    method, alternative)`` (equal to it to 1e-10 for every method and alternative both
    have), except: the default method is "wilson" here, "normal" there; `alpha`,
    `method` and `alternative` are keyword-only (a positional call raises TypeError);
    method names must be spelled in full (statsmodels takes any "jeff..." prefix), there
    is no "binom_test" and there is an extra "bayes"; counts must be whole numbers; and
    the result is a `ProportionIntervalResult` (unpacks as ``low, high``) whose fixed end
    of a one-sided interval is an array like the other (statsmodels gives a scalar 0 or
    1 there for array input) and whose arrays are NumPy (pandas input is not kept).
    `alternative` uses proportion_confint's words: "larger" gives (0, upper bound),
    "smaller" gives (lower bound, 1) -- the reverse of statsmodels' ``zconfint`` /
    ``tconfint_mean``, where "larger" gives (lower bound, inf).

    Methods, as in statsmodels: "normal" (Wald), "wilson" (Wilson 1927),
    "agresti_coull" (Agresti & Coull 1998), "beta" (Clopper & Pearson 1934, exact; the
    end at 0 or n successes is exactly 0 or 1), "jeffreys" (equal-tailed Beta(k + 1/2,
    n - k + 1/2) interval, Brown, Cai & DasGupta 2001, without their edge adjustment);
    plus "bayes": the equal-tailed interval of the Beta(prior_a + k, prior_b + n - k)
    posterior.  Normal-approximation intervals are clipped to [0, 1].  A one-sided
    interval at level 1 - alpha keeps one end of the two-sided interval at 2 * alpha:
    for "beta" that is the exact one-sided Clopper-Pearson bound (the Beta quantile at
    alpha, so P(X >= k | p = low) = alpha), for "jeffreys" / "bayes" the posterior
    quantile at alpha or 1 - alpha, for the others the normal approximation with
    z = Phi^-1(1 - alpha).

    Parameters
    ----------
    successes, trials : int or array_like of int
        Broadcast together; ``0 <= successes <= trials``, ``trials >= 1``.
    alpha : float, default 0.05
        Interval level is 1 - alpha; in [1e-100, 1).
    method : {"wilson", "normal", "agresti_coull", "beta", "jeffreys", "bayes"}, default "wilson"
    prior : (float, float), default (1, 1)
        Beta prior for ``method="bayes"``, each parameter in [0.05, 1e9].
    alternative : {"two-sided", "larger", "smaller"}, default "two-sided"
        "larger": the one-sided interval (0, upper bound); "smaller": (lower bound, 1).

    Returns
    -------
    ProportionIntervalResult
        ``(low, high)``, floats for scalar input.

    Examples
    --------
    >>> import simengine
    >>> low, high = simengine.proportion_interval(12, 100, method="wilson")
    >>> round(low, 4), round(high, 4)
    (0.07, 0.1981)
    >>> res = simengine.proportion_interval(12, 100, method="beta", alternative="larger")
    >>> res.low, round(res.high, 4)
    (0.0, 0.1872)
    """
    s, t = _counts(successes, trials, "successes", "trials", min_trials=1)
    alpha = _check_alpha(alpha)
    method = check_choice(method, "method", INTERVAL_METHODS)
    pr = _check_prior(prior)
    alternative = check_choice(alternative, "alternative", ALTERNATIVES)
    low, high = _interval_table(s.astype(np.float64), t.astype(np.float64), alpha, method, pr, alternative)
    if low.ndim == 0:
        return ProportionIntervalResult(float(low), float(high))
    return ProportionIntervalResult(low, high)


@dataclass(frozen=True, slots=True)
class SimulateCoverageResult(MonteCarloResult):
    """Coverage and mean width of binomial intervals, one entry per (p, n, method) row.

    Rows run over `p`, then `n`, then `methods` (the last fastest).  With one (p, n,
    method) every field is a scalar (floats; `n` an int, `method` a str); otherwise every
    field is a 1-D array of the rows.  `to_frame()` gives one row per (p, n, method) with
    the columns p, n, method, coverage, coverage_se, mean_width, mean_width_se,
    exact_coverage, exact_mean_width.  Does not unpack.

    Attributes
    ----------
    p, n, method : ndarray (or scalars)
        The cell and interval method of each row.
    coverage, coverage_se : ndarray (or floats)
        Fraction of the `n_sims` simulated intervals that contain `p`, and its Monte Carlo
        standard error.
    mean_width, mean_width_se : ndarray (or floats)
        Mean width of the simulated intervals and its standard error.
    exact_coverage, exact_coverage_se : ndarray (or floats)
        sum_k pmf(k) 1{p in CI(k)}, exact; its standard error is 0.
    exact_mean_width, exact_mean_width_se : ndarray (or floats)
        sum_k pmf(k) width(k), exact; its standard error is 0.
    n_sims : int
        Simulated intervals per row.
    """

    p: FloatOrArray
    n: IntOrArray
    method: StrOrArray
    coverage: FloatOrArray
    coverage_se: FloatOrArray
    mean_width: FloatOrArray
    mean_width_se: FloatOrArray
    exact_coverage: FloatOrArray
    exact_coverage_se: FloatOrArray
    exact_mean_width: FloatOrArray
    exact_mean_width_se: FloatOrArray
    n_sims: int = 0

    _estimates = {"coverage": MEAN, "mean_width": MEAN, "exact_coverage": MEAN, "exact_mean_width": MEAN}
    _chunk_size = 1_000_000
    # every other field is an input (p, n, method) or exact (equal in every chunk)
    _combine_fields = {}

    def to_frame(self) -> pd.DataFrame:
        """One row per (p, n, method): p, n, method, coverage, coverage_se, mean_width,
        mean_width_se, exact_coverage, exact_mean_width (the exact figures' zero SEs are
        left out)."""
        import pandas as pd

        cols = ("p", "n", "method", "coverage", "coverage_se", "mean_width", "mean_width_se",
                "exact_coverage", "exact_mean_width")
        rows = {}
        for name in cols:
            value = getattr(self, name)
            if name == "method":
                rows[name] = np.array([value], dtype=object) if isinstance(value, str) else value
            else:
                rows[name] = np.atleast_1d(np.asarray(value, dtype=np.int64 if name == "n" else np.float64))
        return pd.DataFrame(rows)


def simulate_coverage(
    *,
    p: float | ArrayLike,
    n: int | ArrayLike,
    methods: Sequence[IntervalMethod] = ("normal", "wilson", "agresti_coull", "beta", "jeffreys"),
    alpha: float = 0.05,
    n_sims: int = 100_000,
    prior: tuple[float, float] = (1.0, 1.0),
    alternative: Literal["two-sided", "larger", "smaller"] = "two-sided",
    rng: SeedLike = None,
    progress: Progress = None,
    target_se: float | None = None,
    max_sims: int | None = None,
) -> SimulateCoverageResult:
    """Coverage and mean width of binomial intervals by simulation, over a (p, n) grid.

    For every cell, `n_sims` success counts are drawn from Binomial(n, p) (one draw
    shared by all methods, so methods are compared on common random numbers) and
    each method's `proportion_interval` is looked up in a table over k = 0..n.  Because
    the interval depends only on k, the exact coverage sum_k pmf(k) 1{p in CI(k)} and
    the exact mean width are reported alongside (Brown, Cai & DasGupta 2001 plot these
    maps).  An interval covers p when low <= p <= high.

    Parameters
    ----------
    p : float or array_like
        True proportions in [0, 1].
    n : int or array_like of int
        Trials per interval, >= 1.  The grid is every (p, n) pair.
    methods : str or sequence of str
        Any of "normal", "wilson", "agresti_coull", "beta", "jeffreys", "bayes" (one name
        or several).
    alpha : float, default 0.05
    n_sims : int, default 100_000
        Simulated intervals per cell.
    prior : (float, float), default (1, 1)
        Prior for "bayes", each parameter in [0.05, 1e9].
    alternative : {"two-sided", "larger", "smaller"}, default "two-sided"
        Sides of the intervals, as in `proportion_interval` ("larger": (0, upper bound)).
    rng : None, int, SeedSequence or Generator
    progress : None, True or False
        True draws a progress bar on stderr (and a "compiling" step on the first call),
        None only when stderr is a terminal and the call is expected to take more than
        ~2 s, False never.  Ctrl-C stops the call within about a quarter of a second
        with KeyboardInterrupt, whatever `progress`.
    target_se : float, optional
        Run rounds of `n_sims` intervals per cell (round i from the i-th child stream of
        `rng`) until the standard error of every simulated coverage and mean width is at
        most `target_se`, or `max_sims` is reached (then a `TargetNotReachedWarning`).
        The result's `n_sims` is the total run.  The exact figures do not depend on it.
    max_sims : int, optional
        Cap on the total intervals per cell with `target_se`, in [`n_sims`, 10**9];
        default 1000 x `n_sims` (at most 10**9).

    Returns
    -------
    SimulateCoverageResult
        One entry per (p, n, method): `coverage`, `mean_width` (Monte Carlo, with
        ``_se``) and `exact_coverage`, `exact_mean_width` (SE 0); scalars for one
        (p, n, method).  ``to_frame()`` gives the table.

    Examples
    --------
    >>> import simengine
    >>> res = simengine.simulate_coverage(p=0.1, n=50, methods="wilson", n_sims=20_000, rng=0)
    >>> abs(res.coverage - res.exact_coverage) < 4 * res.coverage_se
    True
    >>> df = simengine.simulate_coverage(p=0.1, n=50, methods=("wilson", "beta"), n_sims=20_000, rng=0).to_frame()
    >>> list(df.method)
    ['wilson', 'beta']
    """
    from scipy import stats

    if isinstance(p, (bool, np.bool_)):
        raise TypeError(f"`p` must be a number or a 1-D array of numbers in [0, 1]; got {p!r}")
    p_arr = np.atleast_1d(as_real_array(p, "p", ndim=(0, 1)))
    if (p_arr < 0).any() or (p_arr > 1).any():
        raise ValueError("`p` must be in [0, 1]")
    n_arr = np.atleast_1d(as_count_array(n, "n", ndim=(0, 1), minimum=1))
    if isinstance(methods, str):
        methods = (methods,)  # type: ignore[assignment]  # one name passed as a string
    if not isinstance(methods, (tuple, list)):
        raise TypeError(f"`methods` must be a method name or a sequence of them; got {_describe(methods)}")
    methods = tuple(check_choice(m, "methods", INTERVAL_METHODS) for m in methods)
    if not methods:
        raise ValueError("`methods` must name at least one method")
    alpha = _check_alpha(alpha)
    n_sims = check_count_at_least_one(n_sims, "n_sims")
    pr = _check_prior(prior)
    alternative = check_choice(alternative, "alternative", ALTERNATIVES)
    cells = p_arr.size * n_arr.size
    # The interval table has one row per success count of every cell: sum over cells of n + 1.
    table = p_arr.size * (int(n_arr.sum(dtype=object)) + n_arr.size)
    check_work(table * len(methods), "`p` x `n` (every k = 0..n of every cell) x `methods`", unit="interval ends")
    check_memory(table * 8 * (2 * len(methods) + 8), "`p` x `n`", what="the interval tables of every cell")
    check_work(n_sims * cells, "`n_sims` x cells of `p` x `n`", unit="binomial draws")
    _check_block_sums(n_blocks(n_sims, COVERAGE_BLOCK) * cells * len(methods) * 3, "`n_sims` x cells of `p` x `n`")
    progress = check_progress(progress)
    target_se, max_sims = check_target(target_se, max_sims, n_sims)
    ss = as_seed_sequence(rng)

    cell_p = np.repeat(p_arr, n_arr.size)
    cell_n = np.tile(n_arr, p_arr.size)
    sizes = cell_n + 1
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    ks = np.concatenate([np.arange(m) for m in sizes]).astype(np.float64)  # over cells, vectorised per cell
    ns = np.repeat(cell_n, sizes).astype(np.float64)
    ps = np.repeat(cell_p, sizes)
    covered = np.empty((len(methods), ks.size))
    width = np.empty((len(methods), ks.size))
    for m, name in enumerate(methods):  # methods, not replicates
        low, high = _interval_table(ks, ns, alpha, name, pr, alternative)
        covered[m] = (low <= ps) & (ps <= high)
        width[m] = high - low
    pmf = stats.binom.pmf(ks, ns, ps)
    cell_of = np.repeat(np.arange(cell_n.size), sizes)
    exact_cov = np.stack([np.bincount(cell_of, pmf * covered[m], minlength=cell_n.size) for m in range(len(methods))])
    exact_width = np.stack([np.bincount(cell_of, pmf * width[m], minlength=cell_n.size) for m in range(len(methods))])

    from simengine.kernels import bayes as k

    cell_n64 = cell_n.astype(np.int64)
    bpc = n_blocks(n_sims, COVERAGE_BLOCK)

    def run(seq):
        def block(j):
            g = np.random.Generator(np.random.PCG64(child_seed_sequence(seq, j)))
            return k._coverage_mc(cell_p, cell_n64, covered, width, offsets, n_sims, COVERAGE_BLOCK, g, j)

        def call(lo, hi):
            return np.array(threaded_blocks(block, lo, hi))

        # a block is 8192 binomial draws, each scored by every method: ~0.5 ms
        part = joined(run_blocks(call, bpc * cell_n.size, progress=progress, desc="simulate_coverage",
                                  dispatchers=(k._coverage_mc,), first=_first_slice(max(1, 64 // len(methods)))))
        return _coverage_result(part, methods, cell_p, cell_n, bpc, n_sims, exact_cov, exact_width)

    if target_se is None:
        return run(ss)
    return until_target(lambda i: run(child_seed_sequence(ss, i)), SimulateCoverageResult,
                        target_se=target_se, n_per_round=n_sims, max_sims=max_sims)


def _coverage_result(part, methods, cell_p, cell_n, bpc, n_sims, exact_cov, exact_width):
    """The result from the per-block sums of `_coverage_mc`, reduced in block order."""
    sums = part.reshape(cell_n.size, bpc, len(methods), 3).sum(axis=1)  # (cells, methods, 3)
    cov = sums[:, :, 0] / n_sims
    w_mean, w_se = mean_se(sums[:, :, 1], sums[:, :, 2], n_sims)
    rows = {
        "p": np.repeat(cell_p, len(methods)),
        "n": np.repeat(cell_n, len(methods)),
        "method": np.tile(np.array(methods, dtype=object), cell_n.size),
        "coverage": cov.ravel(),
        "coverage_se": proportion_se(cov, n_sims).ravel(),
        "mean_width": w_mean.ravel(),
        "mean_width_se": w_se.ravel(),
        "exact_coverage": exact_cov.T.ravel(),
        "exact_coverage_se": np.zeros(cov.size),
        "exact_mean_width": exact_width.T.ravel(),
        "exact_mean_width_se": np.zeros(cov.size),
    }
    if cov.size == 1:  # one (p, n, method): scalars, as a sweep row reads them
        rows = {name: value[0].item() if isinstance(value[0], np.generic) else value[0]
                for name, value in rows.items()}
    return SimulateCoverageResult(**rows, n_sims=n_sims)


# --------------------------------------------------------------------------- peeking


@dataclass(frozen=True, slots=True)
class SimulateBayesPeekingResult(MonteCarloResult):
    """How often "declare B (treatment) the winner over A (control) when P(B > A) > threshold" fires.

    Estimates (fractions of the `n_sims` experiments): `prob_declare_peeking` and
    `prob_declare_final`, each with its ``_se``.  Does not unpack.

    Attributes
    ----------
    prob_declare_peeking : float
        Fraction of experiments where P(B > A) exceeded the threshold at some look.
    prob_declare_peeking_se : float
    prob_declare_final : float
        Fraction where it exceeded the threshold at the final look (no peeking).
    prob_declare_final_se : float
    stop_look_counts : ndarray, shape (n_looks,)
        How many experiments first crossed at each look.
    first_crossing : ndarray, shape (n_sims,)
        First look (1-based) where the rule fired, 0 if never.
    final_prob_b_better : ndarray, shape (n_sims,)
        P(B > A) at the final look.
    n_sims : int
    """

    prob_declare_peeking: float
    prob_declare_peeking_se: float
    prob_declare_final: float
    prob_declare_final_se: float
    stop_look_counts: np.ndarray
    first_crossing: np.ndarray = field(repr=False)
    final_prob_b_better: np.ndarray = field(repr=False)
    n_sims: int = 0

    _estimates = {"prob_declare_peeking": MEAN, "prob_declare_final": MEAN}
    _chunk_size = 200_000
    _combine_fields = {"stop_look_counts": SUM, "first_crossing": CONCAT, "final_prob_b_better": CONCAT}

    def to_frame(self) -> pd.DataFrame:
        """One row: the estimates, their SEs and `n_sims` (the per-look and per-replicate
        arrays are in `to_dict()`)."""
        import pandas as pd

        row = self.estimates()
        row["n_sims"] = self.n_sims
        return pd.DataFrame([row])


def simulate_bayes_peeking(
    *,
    n_sims: int,
    n_looks: int,
    visitors_per_look: int,
    rate: float,
    lift: float = 0.0,
    threshold: float = 0.95,
    prior: tuple[float, float] = (1.0, 1.0),
    rng: SeedLike = None,
    progress: Progress = None,
    target_se: float | None = None,
    max_sims: int | None = None,
) -> SimulateBayesPeekingResult:
    """Simulate the Bayesian "stop when P(B > A) > threshold" rule under peeking.

    Two arms: A (control, conversion `rate`) and B (treatment, conversion
    ``rate + lift``, so `lift` is the difference B - A).  Each experiment adds
    `visitors_per_look` visitors to each arm per look, computes the exact posterior
    P(B > A) after every look, and records whether the rule fires at any look
    (peeking) or at the final look only.  With ``lift=0`` (an A/A test) this is the
    rule's false-declaration rate, which peeking inflates well above ``1 - threshold``.

    Parameters
    ----------
    n_sims : int
        In [1, 10**9].
    n_looks : int
        In [1, 10**9].  Every look of every replicate is an exact P(B > A); calls estimated at more than
        ~17 minutes of such evaluations are refused.
    visitors_per_look : int
        Visitors per arm added at each look; `visitors_per_look` x `n_looks` is at most 2**53.
    rate : float
        Conversion rate of A, in (0, 1).
    lift : float, default 0.0
        Absolute difference B - A of the conversion rates; ``rate + lift`` must be in [0, 1].
    threshold : float, default 0.95
    prior : (float, float), default (1, 1)
        Each parameter in [0.05, 1e9].
    rng : None, int, SeedSequence or Generator
    progress : None, True or False
        True draws a progress bar on stderr (and a "compiling" step on the first call),
        None only when stderr is a terminal and the call is expected to take more than
        ~2 s, False never.  Ctrl-C stops the call with KeyboardInterrupt within about a
        quarter of a second (or 8 experiments, if those take longer).
    target_se : float, optional
        Run rounds of `n_sims` experiments (round i from the i-th child stream of `rng`)
        until the standard errors of `prob_declare_peeking` and `prob_declare_final` are
        at most `target_se`, or `max_sims` is reached (then a `TargetNotReachedWarning`).
        The result's `n_sims` is the total run; per-experiment arrays hold every round,
        in order.  The work limit applies to one round.
    max_sims : int, optional
        Cap on the total experiments with `target_se`, in [`n_sims`, 10**9]; default
        1000 x `n_sims` (at most 10**9).

    Returns
    -------
    SimulateBayesPeekingResult

    Examples
    --------
    >>> import simengine
    >>> res = simengine.simulate_bayes_peeking(n_sims=2000, n_looks=10, visitors_per_look=200,
    ...                                        rate=0.1, rng=0)
    >>> res.prob_declare_peeking > res.prob_declare_final
    True
    """
    n_sims = check_count_at_least_one(n_sims, "n_sims")
    n_looks = check_count_at_least_one(n_looks, "n_looks")
    visitors = check_positive_int(visitors_per_look, "visitors_per_look")
    if visitors * n_looks > MAX_VISITORS:
        raise ValueError(
            f"`visitors_per_look` x `n_looks` = {visitors * n_looks:.3g} visitors per arm; the limit is "
            f"2**53 = {MAX_VISITORS:.3g} (where counts stay exact in float64)"
        )
    # Every look of every replicate evaluates P(B > A) exactly: a sum walked over ~sqrt(count) terms up to
    # 1e6 visitors per arm (1-20 us), quadrature beyond (~2 ms, ~40 ms from 1e13).  Refuse calls estimated
    # at more than MAX_PEEKING_WORK microseconds (about 17 minutes on one core).
    total = visitors * n_looks
    cost_us = 1.0 + math.sqrt(total) / 50.0 if total <= 10**6 else (2000.0 if total <= 10**13 else 40_000.0)
    check_work(math.ceil(n_sims * n_looks * cost_us), "`n_sims` x `n_looks`", limit=MAX_PEEKING_WORK,
               unit="microseconds of exact posterior evaluations (estimated)")
    if n_sims * 16 > 2**28:
        check_memory(n_sims * 16, "`n_sims`", what="its per-replicate results")
    _check_generators(n_blocks(n_sims, PEEKING_BLOCK), "`n_sims`")
    rate = check_probability(rate, "rate")
    lift = check_real(lift, "lift")
    rate_b = rate + lift
    if not 0.0 <= rate_b <= 1.0:
        raise ValueError(f"`rate` + `lift` must be in [0, 1]; got {rate_b:g}")
    threshold = check_probability(threshold, "threshold")
    pr = _check_prior(prior)
    progress = check_progress(progress)
    target_se, max_sims = check_target(target_se, max_sims, n_sims)
    if target_se is not None and max_sims * 16 > 2**28:
        check_memory(max_sims * 16, "`max_sims`", what="its per-replicate results")
    ss = as_seed_sequence(rng)
    from simengine.kernels import bayes as k

    # A block's 256 experiments run in order from its generator, and can take seconds where every look is a
    # quadrature; work units of PEEKING_UNIT experiments (one block's parts run part after part, the
    # generator keeping its state between calls) let Ctrl-C in between.  The first slice holds ~0.05 s of
    # units a thread by the cost estimate above.
    nb = n_blocks(n_sims, PEEKING_BLOCK)
    parts_per_block = PEEKING_BLOCK // PEEKING_UNIT
    import numba

    threads = max(1, numba.get_num_threads())
    first_units = threads * max(1, int(50_000 / (PEEKING_UNIT * n_looks * cost_us)))

    # Whole-number priors: every posterior has an exact sum while the shortest, at most half of
    # a + b = prior_a + prior_b + visitors, stays within MAX_TERMS; then a kernel without quadrature runs.
    sums = pr[0] == math.floor(pr[0]) and pr[1] == math.floor(pr[1]) and pr[0] + pr[1] + total <= 2 * k.MAX_TERMS
    kernel = k._bayes_peeking_sums if sums else k._bayes_peeking

    def run(seq):
        # Each block's Generator is made when its first unit runs (part 0 of every block comes first, in block
        # order), inside the timed slices, and keeps its state until the block's last unit; a typed list makes
        # a kernel call cheap (passing Generators one by one would unbox each, ~0.05 ms, at every call).
        gens = numba.typed.List.empty_list(numba.typeof(np.random.Generator(np.random.PCG64(0))))
        first = np.zeros(n_sims, dtype=np.int64)
        final = np.empty(n_sims)

        def call(lo, hi):
            for b in range(len(gens), min(nb, hi)):  # SIGINT only sets a flag here (run_blocks)
                gens.append(np.random.Generator(np.random.PCG64(child_seed_sequence(seq, b))))
            step = min(threads, hi - lo)
            threaded_blocks(lambda t: kernel(gens, t, step, lo, hi, n_sims, n_looks, visitors, rate, rate_b,
                                             float(pr[0]), float(pr[1]), threshold, PEEKING_BLOCK, PEEKING_UNIT,
                                             first, final), 0, step)

        run_blocks(call, nb * parts_per_block, progress=progress, desc="simulate_bayes_peeking",
                   dispatchers=(kernel,), first=first_units, unit="units")
        return _peeking_result(first, final, n_sims, n_looks, threshold)

    if target_se is None:
        return run(ss)
    # combine() would concatenate the per-experiment arrays at every round (quadratic in the rounds): the
    # rounds hand over empty ones, and the arrays of all rounds are joined once at the end
    firsts, finals = [], []

    def round_(i):
        res = run(child_seed_sequence(ss, i))
        firsts.append(res.first_crossing)
        finals.append(res.final_prob_b_better)
        return dataclasses.replace(res, first_crossing=res.first_crossing[:0],
                                   final_prob_b_better=res.final_prob_b_better[:0])

    res = until_target(round_, SimulateBayesPeekingResult, target_se=target_se, n_per_round=n_sims,
                       max_sims=max_sims)
    # every round run is in the result; combine() adds the counts as floats (exact integers)
    return dataclasses.replace(res, first_crossing=joined(firsts), final_prob_b_better=joined(finals),
                               stop_look_counts=np.asarray(res.stop_look_counts).astype(np.int64))


def _peeking_result(first, final, n_sims, n_looks, threshold):
    peek = float(np.mean(first > 0))
    fin = float(np.mean(final > threshold))
    counts = np.bincount(first, minlength=n_looks + 1)[1:]
    return SimulateBayesPeekingResult(
        prob_declare_peeking=peek,
        prob_declare_peeking_se=float(proportion_se(peek, n_sims)),
        prob_declare_final=fin,
        prob_declare_final_se=float(proportion_se(fin, n_sims)),
        stop_look_counts=counts,
        first_crossing=first,
        final_prob_b_better=final,
        n_sims=n_sims,
    )

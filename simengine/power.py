"""Power of two-sample tests: the exact noncentral-t calculation and Monte Carlo power.

`power_ttest` solves the usual power equation of the pooled two-sample t-test for
whichever of effect size, sample size or power is missing; `simulate_power` runs
the test on simulated data (any of four tests, three shapes of data), with a
standard error on every estimate.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from simengine import _validate as v
from simengine._long import check_progress, check_target, first_slice, run_blocks
from simengine._results import MEAN, MonteCarloResult, Result, TargetNotReachedWarning, proportion_se, until_target  # noqa: F401 (the warning is re-exported)
from simengine._rng import as_seed_sequence, child_seed_sequence, n_blocks, slice_generators
from simengine._typing import Alternative, ArrayLike, Progress, SeedLike

__all__ = [
    "power_ttest",
    "PowerTtestResult",
    "TargetNotReachedWarning",
    "simulate_power",
    "SimulatePowerResult",
    "power_proportions",
    "PowerProportionsResult",
    "SUFFSTAT_BLOCK",
    "SAMPLE_BLOCK",
]

# Replicates per random stream (constants of the algorithms, not of the machine):
# the sufficient-statistic t path costs ~50 ns a replicate, so 10 000 replicates make
# two equal blocks; full-sample paths cost 100x more and use smaller blocks.
SUFFSTAT_BLOCK = 5000
SAMPLE_BLOCK = 500

_SM_ALTERNATIVE = {"two-sided": "two-sided", "greater": "larger", "less": "smaller"}


@dataclass(frozen=True, slots=True)
class PowerTtestResult(Result):
    """Result of `power_ttest`: every quantity of the power equation, the solved one filled in.

    ``float(result)`` is the solved value, like statsmodels' `solve_power` (which returns
    that one number); the result does not unpack.

    Attributes
    ----------
    effect_size : float
        Cohen's d, (mean1 - mean2) / sd.
    n : float
        Observations in group 1 (not rounded); group 2 has ``ratio * n``.
    power : float
        Probability of rejecting at `alpha` when the effect is `effect_size`.
    alpha : float
    ratio : float
    alternative : str
    solved_for : str
        "effect_size", "n" or "power".
    n_ceil : int
        `n` rounded up: the smallest whole group size reaching `power` when solving for `n`.
    power_at_n_ceil : float
        Power with ``n_ceil`` in group 1 and ``ratio * n_ceil`` in group 2.
    """

    effect_size: float
    n: float
    power: float
    alpha: float
    ratio: float
    alternative: str
    solved_for: str
    n_ceil: int
    power_at_n_ceil: float

    def __float__(self):
        return float(getattr(self, self.solved_for))




# Smallest `alpha` power_ttest accepts: below it scipy's t quantile (Boost) loses accuracy at
# small df and then returns -inf or NaN (t.isf(5e-324, 126) = -inf), so no power can be trusted.
MIN_ALPHA = 1e-100
# Brackets of the solvers: beyond them the answer is refused, never extrapolated.
MAX_N = 1e15
MAX_EFFECT_SIZE = 1e300


def _nct_tail_quad(x, df, nc, upper):
    """P(T > x) (upper) or P(T <= x) of the noncentral t by one quadrature over Z.

    T = (Z + nc) / S with S = sqrt(V / df), V ~ chi-square(df) independent of Z, so
    for x > 0, P(T > x) = int phi(z) P(S < (nc + z) / x) dz over z > -nc, and the
    other cases follow.  Used where Boost is slow or returns NaN (|nc| above 1e4, or
    df near 0); it gives the right limits (1 or 0) as |nc| grows without bound.
    """
    from scipy import integrate, special

    if not upper:  # P(T <= x) = P(-T >= -x), and -T is noncentral t with -nc
        return _nct_tail_quad(-x, df, -nc, True)
    if math.isinf(x):
        return 0.0 if x > 0 else 1.0
    if x == 0.0:
        return float(special.ndtr(nc))
    # scalar ufuncs, not scipy.stats objects: quad calls the integrand hundreds of times
    chi2 = special.chdtr if x > 0 else special.chdtrc
    inv_sqrt_2pi = 1.0 / math.sqrt(2.0 * math.pi)

    def f(z):
        q = (nc + z) / x  # S threshold; q * q overflows to inf harmlessly
        return inv_sqrt_2pi * math.exp(-0.5 * z * z) * chi2(df, df * (q * q))

    if x > 0:
        lo, hi, base = max(-nc, -40.0), 40.0, 0.0
    else:
        lo, hi, base = -40.0, min(-nc, 40.0), float(special.ndtr(nc))
    if not lo < hi:
        return min(max(base, 0.0), 1.0)
    with np.errstate(over="ignore", invalid="ignore"):
        val = integrate.quad(f, lo, hi, epsabs=1e-15, epsrel=1e-12, limit=200)[0]
    return min(max(base + val, 0.0), 1.0)


def _nct_tail(x, df, nc, upper):
    """P(T > x) (upper) or P(T <= x) of the noncentral t, robust in the far tails.

    Boost returns NaN when a tail underflows (e.g. the lower tail at d = 1.1,
    n = 114); then the reflected tail is tried, and a tail lying more than 12
    standard units beyond the noncentrality is below 1e-30 and taken as 0.
    Above |nc| = 1e4 (Boost slows down linearly in nc) and where Boost still fails
    (df near 0), one quadrature does it.
    """
    from scipy import stats

    if abs(nc) > _NC_QUAD or math.isnan(nc):
        # Boost's series costs time linear in nc (0.35 s at 1e7, 9 s at 1.7e8: a solver
        # calling it dozens of times hung) and drifts in the 12th digit: integrate instead
        return _checked_tail(_nct_tail_quad(x, df, nc, upper), df, nc)
    with np.errstate(all="ignore"):
        p = stats.nct.sf(x, df, nc) if upper else stats.nct.cdf(x, df, nc)
        if math.isnan(p):
            p = stats.nct.cdf(-x, df, -nc) if upper else stats.nct.sf(-x, df, -nc)
    if math.isnan(p) and ((x - nc > 12.0) if upper else (nc - x > 12.0)):
        p = 0.0
    if math.isnan(p):
        p = _nct_tail_quad(x, df, nc, upper)
    return _checked_tail(p, df, nc)


# above this noncentrality the noncentral t tails come from `_nct_tail_quad`, not Boost
_NC_QUAD = 1e4


def _checked_tail(p, df, nc):
    if math.isnan(p):
        raise ValueError(
            f"the power cannot be computed at noncentrality {nc:g} with df = {df:g}; "
            "check `effect_size`, `n` and `ratio`"
        )
    return float(p)


def _t_critical(a, df, upper):
    """t quantile for the rejection region, checked: Boost fails at tiny `a` for some df."""
    from scipy import stats

    c = float(stats.t.isf(a, df) if upper else stats.t.ppf(a, df))
    bad = math.isnan(c) or (a < 0.5 and (c <= 0.0 if upper else c >= 0.0))
    if not bad and abs(c) > 1e6:
        # far quantiles (tiny alpha, df near 0) are where Boost saturates: check the tail it gives
        tail = float(stats.t.sf(abs(c), df))
        bad = not abs(tail - a) <= 1e-6 * a
    if bad:
        raise ValueError(
            f"the t critical value at tail probability {a:g} (from `alpha`) and df = {df:g} (from `n` "
            "and `ratio`) is beyond floating-point range; use a larger `alpha` or `n`"
        )
    return c


def _power_t(d, n1, alpha, ratio, alternative):
    """Power of the pooled two-sample t-test (noncentral t), statsmodels' formula.

    Uses scipy.stats.nct (Boost) rather than special.nctdtr, which statsmodels calls
    and which returns NaN for large noncentrality (e.g. d = 2.2, n = 30).
    """
    n2 = n1 * ratio
    df = n1 + n2 - 2.0
    nc = d * math.sqrt(1.0 / (1.0 / n1 + 1.0 / n2))
    a = alpha / 2.0 if alternative == "two-sided" else alpha
    power = 0.0
    if alternative in ("two-sided", "greater"):
        power += _nct_tail(_t_critical(a, df, True), df, nc, True)
    if alternative in ("two-sided", "less"):
        power += _nct_tail(_t_critical(a, df, False), df, nc, False)
    return float(min(power, 1.0))


def _brentq(f, lo, hi, xtol, name):
    """brentq that never raises on non-convergence: warns and returns its last iterate."""
    import warnings

    from scipy.optimize import brentq

    root, info = brentq(f, lo, hi, xtol=xtol, rtol=4 * np.finfo(float).eps, maxiter=500,
                        full_output=True, disp=False)
    if not info.converged:
        warnings.warn(
            f"power_ttest: solving for `{name}` did not converge in 500 iterations ({info.flag}); "
            "the result holds the power actually reached at the returned value",
            TargetNotReachedWarning,
            stacklevel=3,
        )
    return root


def power_ttest(
    *,
    effect_size: float | None = None,
    n: float | None = None,
    alpha: float = 0.05,
    power: float | None = None,
    ratio: float = 1.0,
    alternative: Alternative = "two-sided",
) -> PowerTtestResult:
    """Solve the power equation of the two-sample t-test for the one missing quantity.

    Exactly one of `effect_size`, `n`, `power` is None; it is found from the
    noncentral t distribution (Cohen 1988), agreeing with
    ``statsmodels.stats.power.TTestIndPower().solve_power`` within 1e-6.
    Differences from that call: `n` is statsmodels' `nobs1`, `alternative` takes scipy's
    "greater" / "less" (statsmodels' "larger" / "smaller"), arguments are keyword-only,
    and it returns a `PowerTtestResult` with every quantity (``float(result)`` is the
    solved value statsmodels returns).  Use ``result.n_ceil`` for a whole group size: at
    d = 0.2, alpha = 0.05 and power 0.8 (two-sided) it is 394 per group.

    Parameters
    ----------
    effect_size : float or None
        Cohen's d = (mean1 - mean2) / sd; its sign must match a one-sided `alternative`.
    n : float or None
        Observations in group 1 (> 1); group 2 has ``ratio * n``.
    alpha : float, default 0.05
    power : float or None
        Target power, in (alpha, 1) when solving for `n` or `effect_size`.
    ratio : float, default 1.0
        n2 / n1.
    alternative : {"two-sided", "greater", "less"}, default "two-sided"
        "greater": mean1 > mean2 (statsmodels' "larger").

    Returns
    -------
    PowerTtestResult
        `power` is always the power actually reached by the reported `effect_size` and `n`.

    Warns
    -----
    TargetNotReachedWarning
        When the solver stops at a bound (n at its floor of two observations per group
        already exceeds the target power, or the root finder did not converge); the result
        then reports the power reached there, not the target.

    Raises
    ------
    ValueError
        Bad inputs; `alpha` below 1e-100 (scipy's t quantile is unreliable there); a target
        that no n up to 1e15 (or effect size up to 1e300) reaches.

    Notes
    -----
    Huge noncentrality (|d| sqrt(n) above ~1e9), where Boost's noncentral t returns NaN, is
    computed by one quadrature over the normal part, so the power tends to its limits
    (1 in the tested direction, 0 in the other) instead of NaN.

    Examples
    --------
    >>> import simengine
    >>> res = simengine.power_ttest(effect_size=0.2, power=0.8)
    >>> round(res.n, 2), res.n_ceil
    (393.41, 394)
    >>> round(simengine.power_ttest(effect_size=0.5, n=64).power, 4)
    0.8015
    """
    alpha = v.check_probability(alpha, "alpha")
    ratio = v.check_real(ratio, "ratio", low=0.0, low_inclusive=False)
    v.check_choice(alternative, "alternative", v.ALTERNATIVES)
    missing = [name for name, val in (("effect_size", effect_size), ("n", n), ("power", power)) if val is None]
    if len(missing) != 1:
        raise ValueError(
            "exactly one of `effect_size`, `n`, `power` must be None (it is solved for); "
            f"got {len(missing)} None"
        )
    solved = missing[0]
    if effect_size is not None:
        effect_size = v.check_real(effect_size, "effect_size")
    if n is not None:
        n = v.check_real(n, "n", low=1.0, low_inclusive=False)
        if n * ratio <= 1.0:
            raise ValueError(f"`ratio` * `n` must be > 1 (group 2 needs two observations); got {n * ratio:g}")
    if power is not None:
        power = v.check_probability(power, "power")
    if alpha < MIN_ALPHA:
        raise ValueError(
            f"`alpha` must be in [{MIN_ALPHA:g}, 1) for power_ttest (scipy's t quantile is unreliable "
            f"below it); got {alpha:g}"
        )
    import warnings

    if solved in ("n", "effect_size"):
        if effect_size == 0.0:
            raise ValueError("`effect_size` must be nonzero to solve for `n`: an effect of 0 is never detected")
        if power <= alpha and not (alternative == "two-sided"):  # type: ignore[operator]  # only the solved one of effect_size/n/power was None
            raise ValueError(f"`power` must be > `alpha` ({alpha:g}) to solve for {solved}; got {power:g}")
        if alternative == "two-sided" and power <= alpha:  # type: ignore[operator]  # only the solved one of effect_size/n/power was None
            raise ValueError(f"`power` must be > `alpha` ({alpha:g}) to solve for {solved}; got {power:g}")
        if alternative != "two-sided" and effect_size is not None:
            if (alternative == "greater") != (effect_size > 0):
                raise ValueError(
                    f"`effect_size` must be {'positive' if alternative == 'greater' else 'negative'} "
                    f"for alternative={alternative!r}; with this sign power stays below alpha"
                )
    if solved == "power":
        power = _power_t(effect_size, n, alpha, ratio, alternative)
    elif solved == "n":

        def gap(n1):
            return _power_t(effect_size, n1, alpha, ratio, alternative) - power

        # two observations per group at least: below that df -> 0 and the power
        # curve is no longer monotone, so the root would be meaningless
        lo = max(2.0, 2.0 / ratio)
        hi = 4.0
        # the bracket's top starts above its bottom (ratio < 1/2 puts lo above 4) and stops at MAX_N
        while hi <= lo or gap(hi) < 0:
            hi *= 2.0
            if hi > MAX_N:
                top = hi / 2.0
                raise ValueError(
                    f"no sample size up to {MAX_N:g} reaches `power` = {power:g}: the power at "
                    f"n = {top:g} is {gap(top) + power:.6g} (is `effect_size` = {effect_size:g} tiny?)"
                )
        if gap(lo) >= 0:
            n = lo
            reached = gap(lo) + power
            if reached > power:
                warnings.warn(
                    f"power_ttest: the smallest n solved for ({lo:g} in group 1: two observations per "
                    f"group) already gives power {reached:.6g} > the target {power:g}; the result "
                    "reports n at that bound and the power it reaches",
                    TargetNotReachedWarning,
                    stacklevel=2,
                )
                power = reached
        else:
            n = _brentq(gap, lo, hi, 1e-12, "n")
            reached = gap(n) + power
            if abs(reached - power) > 1e-6:  # brentq stopped short (see _brentq); report the truth
                power = reached
    else:
        sign = -1.0 if alternative == "less" else 1.0

        def gap_d(d):
            return _power_t(sign * d, n, alpha, ratio, alternative) - power

        hi = 1.0
        while gap_d(hi) < 0:
            hi *= 2.0
            if hi > MAX_EFFECT_SIZE:
                raise ValueError(
                    f"no effect size up to {MAX_EFFECT_SIZE:g} reaches `power` = {power:g} with "
                    f"n = {n:g} (the t-test has df = {n * (1 + ratio) - 2:g}); use a larger `n` or a smaller `power`"  # type: ignore[operator]  # only the solved one of effect_size/n/power was None
                )
        d = _brentq(gap_d, 0.0, hi, 1e-14, "effect_size")
        effect_size = sign * d
        reached = gap_d(d) + power
        if abs(reached - power) > 1e-6:
            power = reached
    # a float n that is whole up to rounding (e.g. 64.00000000001) must not round up to 65
    n_ceil = int(math.ceil(n - 1e-9 * max(1.0, n)))  # type: ignore[operator, type-var]  # only the solved one of effect_size/n/power was None
    n_ceil = max(n_ceil, 2)
    return PowerTtestResult(
        effect_size=float(effect_size),  # type: ignore[arg-type]  # only the solved one of effect_size/n/power was None
        n=float(n),  # type: ignore[arg-type]  # only the solved one of effect_size/n/power was None
        power=float(power),  # type: ignore[arg-type]  # only the solved one of effect_size/n/power was None
        alpha=alpha,
        ratio=ratio,
        alternative=alternative,
        solved_for=solved,
        n_ceil=n_ceil,
        power_at_n_ceil=_power_t(effect_size, float(n_ceil), alpha, ratio, alternative),
    )


@dataclass(frozen=True, slots=True)
class SimulatePowerResult(MonteCarloResult):
    """Result of `simulate_power` (a Monte Carlo result: estimate `power`, its SE `power_se`).

    Attributes
    ----------
    power : float or ndarray
        Fraction of replicates rejecting at `alpha`; one per entry of `n` when `n` is an array.
    power_se : float or ndarray
        Monte Carlo standard error of `power`, sqrt(p (1 - p) / n_sims).
    n : int or ndarray
        Observations per group (pairs for a paired test).
    effect_size, alpha, test, distribution, alternative, n_sims, n_resamples
        The inputs.
    """

    power: float | np.ndarray
    power_se: float | np.ndarray
    n: int | np.ndarray = field(repr=False)
    effect_size: float
    alpha: float
    test: str
    distribution: str
    alternative: str
    n_sims: int
    n_resamples: int

    _estimates = {"power": MEAN}
    _replicates = "n_sims"
    _chunk_size = 50_000


# standard deviation of each base distribution: the shift is effect_size * sd
_SD = {"normal": 1.0, "lognormal": math.sqrt((math.e - 1.0) * math.e), "exponential": 1.0}
# its mean: paired designs centre the within-pair differences on it before the shift
_MEAN = {"normal": 0.0, "lognormal": math.exp(0.5), "exponential": 1.0}

TESTS = ("t", "welch", "mannwhitney", "permutation")
PAIRED_TESTS = ("paired_t", "wilcoxon", "paired_permutation")


# |effect_size| above this is refused by simulate_power (see there).
MAX_SIM_EFFECT_SIZE = 1e50
# Bytes a numba.typed.List entry of one block Generator takes (measured: about 2.9 KB).
_GEN_BYTES = 3000


def _check_power_size(test, suffstat, ns, n_max, n_sims, n_resamples):
    """Refuse work and memory beyond the shared limits before any kernel or stream is made."""
    import numba

    n_points = len(ns)
    sum_n = int(ns.sum(dtype=object)) if n_points > 1 else n_max  # Python ints: no int64 wrap
    if test in PAIRED_TESTS and not suffstat:
        draws = n_sims * sum_n
        names = "`n_sims` x `n`"
        if test == "paired_permutation":
            # all 2**n sign patterns when they are at most n_resamples, else n_resamples random ones
            draws += n_sims * sum(int(k) * min(n_resamples, 2 ** min(int(k), 62)) for k in ns)
            names = "`n_sims` x `n` x `n_resamples`"
        v.check_work(draws, names)
        n_gens = n_points * n_blocks(n_sims, SAMPLE_BLOCK)
        # per thread: the differences and, for the signed ranks, three more arrays of n
        scratch = 32 * n_max * numba.get_num_threads()
        v.check_memory(scratch, "`n`", what=f"samples of {n_max} differences on each thread")
    elif suffstat:
        v.check_work(4 * n_sims * n_points, "`n_sims` x len(`n`)")
        n_gens = n_points * n_blocks(n_sims, SUFFSTAT_BLOCK)
        scratch = 0
    else:
        draws = n_sims * 2 * sum_n
        names = "`n_sims` x `n`"
        if test == "permutation":
            draws += n_sims * sum_n * n_resamples
            names = "`n_sims` x `n` x `n_resamples`"
        v.check_work(draws, names)
        n_gens = n_points * n_blocks(n_sims, SAMPLE_BLOCK)
        # per thread: two samples of n and the pooled sample with its permutation
        scratch = 48 * n_max * numba.get_num_threads()
        v.check_memory(scratch, "`n`", what=f"samples of {n_max} per group on each thread")
    # statistics (and df) per replicate, the temporaries of the rejection rule, one stream per block
    v.check_memory(32 * n_points * n_sims + _GEN_BYTES * n_gens + scratch, "`n_sims` x len(`n`)",
                   what="the per-replicate statistics and random streams")


def simulate_power(
    *,
    test: Literal["t", "welch", "mannwhitney", "permutation", "paired_t", "wilcoxon", "paired_permutation"] = "t",
    effect_size: float,
    n: int | ArrayLike,
    n_sims: int = 10_000,
    alpha: float = 0.05,
    distribution: Literal["normal", "lognormal", "exponential"] = "normal",
    alternative: Alternative = "two-sided",
    n_resamples: int = 999,
    rng: SeedLike = None,
    progress: Progress = None,
    target_se: float | None = None,
    max_sims: int | None = None,
) -> SimulatePowerResult:
    """Monte Carlo power of a two-sample or paired test under a shift alternative.

    Each replicate draws two groups of `n` from `distribution` (standard normal,
    lognormal(0, 1) or exponential(1)), shifts group 1 by ``effect_size * sd``,
    and runs `test` on (group 1, group 2); power is the fraction of p-values
    <= `alpha`.  For the t-test on normal data the group means (normal) and sums
    of squared deviations (sd^2 chi-square(n - 1)) are drawn directly: exact, and
    four draws per replicate instead of 2n.

    Paired designs (``test="paired_t"``, ``"wilcoxon"``, ``"paired_permutation"``) draw the
    `n` within-pair differences (group 1 minus group 2) directly: `distribution` centred on
    its mean, plus ``effect_size * sd``.  So `effect_size` is Cohen's d_z, the mean difference
    over the SD of the differences, as in statsmodels' ``TTestPower`` (whose power the paired t
    matches; unlike that class, the power here is simulated and the test may be rank-based).
    The paired t on normal differences draws their mean and sum of squares exactly (two draws
    per replicate).  Skewed differences ("lognormal", "exponential") at ``effect_size=0`` have
    mean 0, the paired t's null, but the one-sample t is then calibrated only as n grows
    (it rejects 0.16 of lognormal samples of 10 at alpha 0.05), and they are not symmetric
    about 0, the null of the Wilcoxon and sign-flip tests, which reject them ever more often.

    Parameters
    ----------
    test : {"t", "welch", "mannwhitney", "permutation", "paired_t", "wilcoxon", "paired_permutation"}, default "t"
        Pooled t, Welch t, Mann-Whitney U (asymptotic, continuity-corrected: as
        ``mannwhitneyu(method="asymptotic")``; for n <= 8 `mannwhitneyu`'s default "auto"
        would use the exact distribution), or a randomised permutation test of
        mean(group 1) - mean(group 2) with `n_resamples` (ties as in `permutation_test`).
        Paired: the one-sample t of the differences (``ttest_rel``); Wilcoxon's signed-rank
        test with ``scipy.stats.wilcoxon``'s defaults (zeros dropped, no continuity
        correction, the exact null distribution for n <= 50 without zeros or ties, else
        the normal approximation with tie-corrected variance); the sign-flip permutation
        test of the mean difference (``permutation_test(permutation_type="samples")``:
        exact over all 2**n sign patterns when 2**n <= `n_resamples`, else `n_resamples`
        random ones).  Every test is run on (group 1, group 2) with the same sign, so one
        `alternative` means the same for all seven.
    effect_size : float
        Shift in units of the distribution's standard deviation.
    n : int or array of int
        Observations per group, or pairs for a paired test (>= 2); an array gives a power
        curve in one call.
    n_sims : int, default 10 000
    alpha : float, default 0.05
    distribution : {"normal", "lognormal", "exponential"}, default "normal"
    alternative : {"two-sided", "less", "greater"}, default "two-sided"
        "greater": group 1 larger, as in ``scipy.stats.ttest_ind(group1, group2, alternative=...)``.
    n_resamples : int, default 999
        Permutations (sign-flip patterns) per replicate for ``test="permutation"``
        (``"paired_permutation"``).
    rng : None, int, SeedSequence or Generator
        Seed (SPEC 7); replicates are drawn in fixed blocks, each with its own stream.
    progress : None, True or False
        A progress bar on stderr: True always, False never, None (default) only when stderr is a
        terminal and the rest of the call is expected to take more than ~2 s (a first call shows
        compiling the kernels as a step of its own).  Ctrl-C stops the call within about a second
        with a plain KeyboardInterrupt, whatever `progress` is.
    target_se : float, optional
        Precision on demand: run rounds of `n_sims` replicates (round i from the i-th child stream
        of `rng`) until `power_se` is at most `target_se` for every `n`, or `max_sims` is reached
        (then a `TargetNotReachedWarning`).  The result's `n_sims` is the total per `n`.
    max_sims : int, optional
        Cap on the total replicates per `n` with `target_se` (default 1000 x `n_sims`, at most
        10**9); at least `n_sims`.

    Returns
    -------
    SimulatePowerResult

    Raises
    ------
    ValueError
        Bad inputs; a count above 10^9 (`n`, `n_sims`, `n_resamples`); more than 10^12 random
        draws in one call; arrays that do not fit in memory; |`effect_size`| > 1e50 (the
        simulated sums of squares would overflow); `alpha` < 1e-100.
    MemoryError
        If a block's scratch arrays still cannot be allocated inside the kernel.

    Examples
    --------
    >>> import simengine
    >>> res = simengine.simulate_power(effect_size=0.2, n=[100, 394, 600], rng=1)
    >>> res.power.round(2), res.power_se.round(3)
    (array([0.3 , 0.8 , 0.93]), array([0.005, 0.004, 0.003]))
    >>> res = simengine.simulate_power(effect_size=0.2, n=[100, 394], n_sims=2000, target_se=0.005, rng=1)
    >>> res.n_sims, bool((res.power_se <= 0.005).all())
    (10000, True)
    >>> res = simengine.simulate_power(test="paired_t", effect_size=0.5, n=[20, 34], rng=1)
    >>> res.power.round(2)
    array([0.57, 0.81])
    """
    test = v.check_choice(test, "test", TESTS + PAIRED_TESTS)
    effect_size = v.check_real(effect_size, "effect_size")
    if abs(effect_size) > MAX_SIM_EFFECT_SIZE:
        # a larger shift leaves rounding errors whose squares overflow the sums of squares
        # (t = 0, a silent power of 0); the power is 1 long before this anyway
        raise ValueError(
            f"`effect_size` must be in [-{MAX_SIM_EFFECT_SIZE:g}, {MAX_SIM_EFFECT_SIZE:g}] "
            f"(larger shifts overflow the simulated data); got {effect_size:g}"
        )
    n_arr = v.as_count_array(n, "n", ndim=(0, 1), minimum=2)
    scalar = np.ndim(n) == 0  # after the conversion, which refused ragged input (and returns at least 1-D)
    if n_arr.size == 0:
        raise ValueError("`n` must not be empty")
    n_max = int(n_arr.max())
    if n_max > v.MAX_COUNT:
        raise ValueError(f"`n` must be an integer in [2, {v.MAX_COUNT}]; got {n_max}")
    n_sims = v.check_bounded_count(n_sims, "n_sims")
    progress = check_progress(progress)
    target_se, max_sims = check_target(target_se, max_sims, n_sims)
    alpha = v.check_probability(alpha, "alpha")
    if alpha < MIN_ALPHA:
        raise ValueError(
            f"`alpha` must be in [{MIN_ALPHA:g}, 1) (the t quantile is unreliable below it); got {alpha:g}"
        )
    distribution = v.check_choice(distribution, "distribution", tuple(_SD))
    code = v.alternative_code(alternative)
    n_resamples = v.check_bounded_count(n_resamples, "n_resamples")
    ns = np.ascontiguousarray(n_arr.reshape(-1))
    suffstat = test in ("t", "paired_t") and distribution == "normal"
    _check_power_size(test, suffstat, ns, n_max, n_sims, n_resamples)
    ss = as_seed_sequence(rng)
    inputs = dict(effect_size=effect_size, alpha=alpha, test=test, distribution=distribution,
                  alternative=alternative, n_resamples=n_resamples)

    def run(n_run, seed_seq):
        return _power_run(n_run, seed_seq, ns, n_max, scalar, suffstat, code, progress, inputs)

    if target_se is None:
        return run(n_sims, ss)
    return until_target(lambda i: run(n_sims, child_seed_sequence(ss, i)), SimulatePowerResult,
                        target_se=target_se, n_per_round=n_sims, max_sims=max_sims)


# Full-sample paths run a block's replicates in work units of about this many seconds (by
# `_replicate_seconds`), so that Ctrl-C is answered between units even where one block of SAMPLE_BLOCK
# replicates takes seconds (large `n`, Mann-Whitney's sorts, permutations).  A block that fits in one
# unit runs whole, as before.
UNIT_SECONDS = 0.05


def _replicate_seconds(test, n, n_resamples):
    """Rough seconds of one full-sample replicate with `n` per group on one loaded core.

    ~10 ns per draw; Mann-Whitney ~20 ns per element and merge level of the pooled sort; the
    permutation test ~10 ns per element of group 1 and resample (a uniform draw and a swap each).
    Measured on a loaded core: 6, 12 and 7 ns.
    """
    if test in PAIRED_TESTS:
        # one sample of differences; the signed ranks sort it, the sign flips visit it per resample
        seconds = n * 10e-9
        if test == "wilcoxon":
            seconds += n * math.log2(2.0 * n) * 20e-9
        elif test == "paired_permutation":
            seconds += n * min(n_resamples, 2 ** min(n, 62)) * 10e-9
        return seconds
    seconds = 2.0 * n * 10e-9
    if test == "mannwhitney":
        seconds += 2.0 * n * math.log2(2.0 * n) * 20e-9
    elif test == "permutation":
        seconds += n * n_resamples * 10e-9
    return seconds


def _unit_size(replicate_seconds, block):
    """Replicates per work unit: a block's share of `UNIT_SECONDS`, between 1 and the whole block."""
    return max(1, min(block, int(UNIT_SECONDS / replicate_seconds)))


def _run_samples(kp, ss, ns, n_max, n_sims, shift, test, distribution, code, n_resamples, stat, progress):
    """The full-sample kernel of `test` over every work unit, in slices; returns (all units done, df or None).

    A block of SAMPLE_BLOCK replicates (job i * n_blocks + b: block b of size index i) runs as parts of
    `_unit_size` replicates from its one Generator.  When a block is one part, each slice runs (and makes
    the streams of) its own blocks.  Otherwise jobs run in groups of `_GROUP_PER_THREAD` per thread, a
    group's units part-major (so a slice spreads over the group's blocks, i.e. threads), and only the
    current group's Generators live, each carrying its state from part to part.
    """
    import numba

    from simengine._long import threaded_blocks

    block = SAMPLE_BLOCK
    dcode = {"normal": kp.NORMAL, "lognormal": kp.LOGNORMAL, "exponential": kp.EXPONENTIAL}[distribution]
    jobs = ns.size * n_blocks(n_sims, block)
    per_rep = _replicate_seconds(test, n_max, n_resamples)
    unit = _unit_size(per_rep, block)
    parts = -(-block // unit)
    threads = max(1, numba.get_num_threads())
    df = None
    if test == "paired_t":
        kernel = kp._power_paired_t_samples

        def job(gens, j0, nj, u0, u1, il, done):
            kernel(gens, j0, nj, block, unit, ns, n_sims, shift, dcode, u0, u1, il, stat, done)
    elif test == "wilcoxon":
        # the count of nonzero differences and the tie term of each replicate, for its p-value
        df = np.zeros((2, ns.size, n_sims))
        kernel = kp._power_wilcoxon_samples

        def job(gens, j0, nj, u0, u1, il, done):
            kernel(gens, j0, nj, block, unit, ns, n_sims, shift, dcode, u0, u1, il, stat, df, done)
    elif test == "paired_permutation":
        kernel = kp._power_paired_perm_samples

        def job(gens, j0, nj, u0, u1, il, done):
            kernel(gens, j0, nj, block, unit, ns, n_sims, shift, dcode, code, n_resamples, u0, u1, il, stat,
                   done)
    elif test in ("t", "welch"):
        df = np.zeros((ns.size, n_sims))
        kernel = kp._power_t_samples
        welch = test == "welch"

        def job(gens, j0, nj, u0, u1, il, done):
            kernel(gens, j0, nj, block, unit, ns, n_sims, shift, dcode, welch, u0, u1, il, stat, df, done)
    elif test == "mannwhitney":
        kernel = kp._power_mwu_samples

        def job(gens, j0, nj, u0, u1, il, done):
            kernel(gens, j0, nj, block, unit, ns, n_sims, shift, dcode, code, u0, u1, il, stat, done)
    else:
        kernel = kp._power_perm_samples

        def job(gens, j0, nj, u0, u1, il, done):
            kernel(gens, j0, nj, block, unit, ns, n_sims, shift, dcode, code, n_resamples, u0, u1, il, stat,
                   done)

    def run(gens, j0, nj, u0, u1):
        # one serial kernel call per job of the group, spread over numba's thread count in Python threads
        # (`threaded_blocks`): a prange kernel cost ~2 s more to compile, and a job's draws come from its
        # own Generator alone, so nothing depends on which thread ran it
        done = np.zeros(u1 - u0, dtype=np.bool_)
        threaded_blocks(lambda il: job(gens, j0, nj, u0, u1, il, done), 0, min(nj, u1 - u0))
        return done

    if parts == 1:
        def call(lo, hi):
            return [run(slice_generators(ss, lo, hi), lo, hi - lo, 0, hi - lo)]
    else:
        group = _GROUP_PER_THREAD * threads
        current = [-1, None]  # the group whose Generators are alive, and they

        def call(lo, hi):
            flags = []
            while lo < hi:  # the slice's units, cut at group boundaries
                g = lo // (group * parts)
                j0 = g * group
                nj = min(group, jobs - j0)
                first_unit = j0 * parts
                stop = min(hi, first_unit + nj * parts)
                if current[0] != g:
                    current[0], current[1] = g, slice_generators(ss, j0, j0 + nj)
                flags.append(run(current[1], j0, nj, lo - first_unit, stop - first_unit))
                lo = stop
            return flags
    # a blind first slice of ~0.1 s a thread; a block's units run one after another on one thread, so
    # with fewer blocks than threads only that many units run side by side
    first = first_slice(unit * per_rep)
    if parts > 1:
        first = first // threads * min(threads, jobs)
    flags = run_blocks(call, jobs * parts, progress=progress, desc="simulate_power", dispatchers=(kernel,),
                       first=first, unit="blocks" if parts == 1 else "units")
    return all(bool(f.all()) for part in flags for f in part), df


# With blocks cut into units, jobs run in groups of this many per numba thread (see `_run_samples`).
_GROUP_PER_THREAD = 8


def _power_run(n_sims, ss, ns, n_max, scalar, suffstat, code, progress, inputs):
    """One run of `n_sims` replicates per `n` from `ss`: the kernel's jobs in slices, then the rejections."""
    from simengine.kernels import power as kp

    test, distribution, alternative = inputs["test"], inputs["distribution"], inputs["alternative"]
    alpha, n_resamples = inputs["alpha"], inputs["n_resamples"]
    shift = inputs["effect_size"] * _SD[distribution]
    if test in PAIRED_TESTS:
        # the differences are the base draws centred on their mean, then shifted
        shift -= _MEAN[distribution]
    block = SUFFSTAT_BLOCK if suffstat else SAMPLE_BLOCK
    jobs = ns.size * n_blocks(n_sims, block)
    try:
        stat = np.empty((ns.size, n_sims))
        if suffstat:
            sskernel = kp._power_paired_t_normal if test == "paired_t" else kp._power_t_normal
            run_blocks(
                lambda lo, hi: sskernel(slice_generators(ss, lo, hi), block, ns, n_sims, shift, lo, hi, stat),
                jobs, progress=progress, desc="simulate_power", dispatchers=(sskernel,))
            done = True
        else:
            done, df = _run_samples(kp, ss, ns, n_max, n_sims, shift, test, distribution, code, n_resamples, stat,
                                    progress)
    except (MemoryError, SystemError):
        # SystemError: numba's parallel loop returned with the allocation failure set
        done = False
    if not done:
        # a block whose scratch arrays could not be allocated stops early (numba's parallel
        # loops do not re-raise): its replicates were never computed
        raise MemoryError(
            f"simulate_power ran out of memory for `n` = {n_max} and `n_sims` = {n_sims} "
            f"(samples of {n_max} per group, {len(ns) * n_sims} replicates); use a smaller `n` or `n_sims`"
        )
    if test in ("t", "paired_t"):
        # p <= alpha  <=>  t beyond the critical value: one quantile per n, not n_sims CDFs.
        # scipy.stats.t.isf(a, df) is -special.stdtrit(df, a) (its _isf, times scale 1 plus loc 0):
        # the same numbers without importing scipy.stats (~0.5 s of a warm first call)
        from scipy import special

        df_t = (ns[:, None] - 1.0) if test == "paired_t" else (2.0 * ns[:, None] - 2.0)

        def isf(a):
            return -special.stdtrit(df_t, a)

        if alternative == "two-sided":
            reject = np.abs(stat) >= isf(alpha / 2.0)
        elif alternative == "greater":
            reject = stat >= isf(alpha)
        else:
            reject = stat <= -isf(alpha)
    elif test == "welch":
        from simengine.twosample import _t_pvalue

        reject = _t_pvalue(stat, df, alternative) <= alpha
    elif test == "wilcoxon":
        reject = _wilcoxon_pvalue(stat, df[0], df[1], ns, alternative) <= alpha
    elif test == "mannwhitney":
        from scipy import special

        reject = np.clip(special.ndtr(-stat) * (2.0 if code == 0 else 1.0), 0.0, 1.0) <= alpha
    else:
        reject = stat <= alpha
    pw = reject.mean(axis=1)
    se = proportion_se(pw, n_sims)
    return SimulatePowerResult(
        power=float(pw[0]) if scalar else pw,
        power_se=float(se[0]) if scalar else se,
        n=int(ns[0]) if scalar else ns,
        n_sims=n_sims,
        **inputs,
    )


def _signed_rank_pmf(n):
    """Null probabilities of Wilcoxon's r_plus = 0 .. n (n + 1) / 2 with n nonzero untied differences.

    Each rank k joins the positive set with probability 1/2: adding rank k moves half the mass up by k.
    """
    pmf = np.ones(1)
    for k in range(1, n + 1):
        nxt = np.zeros(pmf.size + k)
        nxt[: pmf.size] += 0.5 * pmf
        nxt[k:] += 0.5 * pmf
        pmf = nxt
    return pmf


# scipy's wilcoxon (method="auto") is exact up to this many differences when none is zero or tied
WILCOXON_EXACT_MAX = 50


def _wilcoxon_pvalue(r_plus, count, tie_term, ns, alternative):
    """p-values of the signed-rank statistics (rows: sizes `ns`), as scipy.stats.wilcoxon's defaults give them.

    zero_method="wilcox" (zeros dropped: `count` is the number left), correction=False, method="auto":
    the exact null distribution when n <= 50 and no difference is zero or tied, else the normal
    approximation with the tie-corrected variance.  (With ties or zeros and n <= 13 scipy runs a
    permutation test instead; continuous differences tie with probability 0.)
    """
    from scipy import special

    mn = count * (count + 1.0) * 0.25
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.sqrt((count * (count + 1.0) * (2.0 * count + 1.0) - tie_term / 2.0) / 24.0)
        z = (r_plus - mn) / se
    if alternative == "less":
        p = special.ndtr(z)
    elif alternative == "greater":
        p = special.ndtr(-z)
    else:
        p = 2.0 * special.ndtr(-np.abs(z))
    for i, n in enumerate(ns):
        if n > WILCOXON_EXACT_MAX:
            continue
        exact = (count[i] == n) & (tie_term[i] == 0.0)
        if not exact.any():
            continue
        pmf = _signed_rank_pmf(int(n))
        cdf = np.cumsum(pmf)
        sf = np.cumsum(pmf[::-1])[::-1]
        k = r_plus[i][exact].astype(np.int64)
        mean = n * (n + 1) / 4.0
        # scipy's rule: the tail on the near side of the mean summed directly, the far one as 1 - the other
        cdf_k = np.where(k <= mean, cdf[k], 1.0 - sf[np.minimum(k + 1, pmf.size - 1)] * (k + 1 < pmf.size))
        sf_k = np.where(k <= mean, sf[k], 1.0 - cdf[np.maximum(k - 1, 0)] * (k >= 1))
        if alternative == "less":
            pe = cdf_k
        elif alternative == "greater":
            pe = sf_k
        else:
            pe = np.clip(2.0 * np.minimum(sf_k, cdf_k), 0.0, 1.0)
        p[i][exact] = pe
    return p


# ---------------------------------------------------------------- power of a two-proportion test

_PROP_METHODS = ("normal", "arcsine")


@dataclass(frozen=True, slots=True)
class PowerProportionsResult(Result):
    """Result of `power_proportions`: the design of a two-proportion test, the solved quantity filled in.

    Every numeric field is a float (an int for `n_ceil`) when all inputs are scalars, else an
    array of their broadcast shape; ``float(result)`` is the solved value (scalar inputs).
    The result does not unpack.

    Attributes
    ----------
    n : float or ndarray
        Observations in group 1 (not rounded); group 2 has ``ratio * n``.
    n_ceil : int or ndarray
        `n` rounded up (at least 1): the smallest whole group size reaching `power` when solving for `n`.
    power : float or ndarray
        Power at `n` (the target when solving for `n`).
    p1, p2 : float or ndarray
        The two success rates.
    alpha, ratio : float or ndarray
    alternative, method, solved_for : str
        `solved_for` is "n" or "power".
    power_at_n_ceil : float or ndarray
        Power with ``n_ceil`` in group 1 and ``ratio * n_ceil`` in group 2.
    simulated_power, simulated_power_se : float, ndarray or None
        With ``simulate=True``: the rejection rate of the actual test on simulated binomial
        counts, with ``n_ceil`` in group 1 and ``round(ratio * n_ceil)`` in group 2, and its
        Monte Carlo standard error; None otherwise.
    n_sims : int
        Simulated experiments per design (0 without `simulate`).
    """

    n: float | np.ndarray
    n_ceil: int | np.ndarray
    power: float | np.ndarray
    p1: float | np.ndarray
    p2: float | np.ndarray
    alpha: float | np.ndarray
    ratio: float | np.ndarray
    alternative: str
    method: str
    solved_for: str
    power_at_n_ceil: float | np.ndarray
    simulated_power: float | np.ndarray | None = None
    simulated_power_se: float | np.ndarray | None = None
    n_sims: int = 0

    def __float__(self) -> float:
        return float(getattr(self, self.solved_for))

    def _primary(self) -> tuple[str, ...]:
        return ("n", "n_ceil", "power", "simulated_power", "simulated_power_se")


def _prop_rates(value, name):
    arr = v.as_real_array(value, name, ndim=(0, 1, 2))
    if not ((arr > 0.0) & (arr < 1.0)).all():
        raise ValueError(f"`{name}` must be in (0, 1) (a rate of exactly 0 or 1 has no variance); "
                         f"got {arr.min() if (arr <= 0.0).any() else arr.max():g}")
    return arr


def _prop_positive(value, name, *, upper=None):
    arr = v.as_real_array(value, name, ndim=(0, 1, 2))
    bad = ~(arr > 0.0) if upper is None else ~((arr > 0.0) & (arr < upper))
    if bad.any():
        interval = "(0, inf)" if upper is None else f"(0, {upper:g})"
        raise ValueError(f"`{name}` must be in {interval}; got {arr[bad].reshape(-1)[0]:g}")
    return arr


def _prop_terms(p1, p2, ratio, alternative, method):
    """(effect in the tested direction, SD under H0, SD under H1), per observation of group 1.

    "normal": the difference p1 - p2 with the pooled SD under H0 and the unpooled SD under
    H1; "arcsine": Cohen's h = 2 asin sqrt(p1) - 2 asin sqrt(p2), SD 1 under both, scaled
    by the effective size n1 n2 / (n1 + n2) = n1 ratio / (1 + ratio).
    """
    if method == "normal":
        effect = p1 - p2
        pbar = (p1 + ratio * p2) / (1.0 + ratio)
        sd0 = np.sqrt(pbar * (1.0 - pbar) * (1.0 + 1.0 / ratio))
        sd1 = np.sqrt(p1 * (1.0 - p1) + p2 * (1.0 - p2) / ratio)
    else:
        effect = 2.0 * np.arcsin(np.sqrt(p1)) - 2.0 * np.arcsin(np.sqrt(p2))
        sd0 = sd1 = np.sqrt((1.0 + ratio) / ratio)
    if alternative == "less":
        effect = -effect
    elif alternative == "two-sided" and method == "normal":
        effect = np.abs(effect)
    return effect, sd0, sd1


def _prop_power(n1, p1, p2, alpha, ratio, alternative, method):
    """Power of the two-proportion test at n1 observations in group 1 (arrays broadcast)."""
    from scipy.special import ndtr, ndtri

    effect, sd0, sd1 = _prop_terms(p1, p2, ratio, alternative, method)
    a = alpha / 2.0 if alternative == "two-sided" else alpha
    z = -ndtri(a)  # the upper critical value
    root_n = np.sqrt(n1)
    power = ndtr((effect * root_n - z * sd0) / sd1)
    if method == "arcsine" and alternative == "two-sided":
        power = power + ndtr((-effect * root_n - z * sd0) / sd1)  # statsmodels counts both tails
    return power


def _prop_solve_n(power, p1, p2, alpha, ratio, alternative, method):
    """n1 reaching `power`: closed form, except the two-tailed arcsine power (a root in a bracket)."""
    from scipy.special import ndtr, ndtri

    effect, sd0, sd1 = _prop_terms(p1, p2, ratio, alternative, method)
    a = alpha / 2.0 if alternative == "two-sided" else alpha
    z_a, z_b = -ndtri(a), ndtri(power)
    top = z_a * sd0 + z_b * sd1
    if alternative != "two-sided" or method == "normal":
        if (effect <= 0.0).any():
            i = np.flatnonzero((effect <= 0.0).reshape(-1))[0]
            which = "p1 > p2" if alternative == "greater" else "p1 < p2" if alternative == "less" else "p1 != p2"
            raise ValueError(f"solving for `n` needs {which} for alternative={alternative!r}; got p1 = "
                             f"{np.broadcast_to(p1, effect.shape).reshape(-1)[i]:g}, p2 = "
                             f"{np.broadcast_to(p2, effect.shape).reshape(-1)[i]:g}")
        if (top <= 0.0).any():
            floor = float(np.max(np.broadcast_to(ndtr(-z_a * sd0 / sd1), top.shape)))
            raise ValueError(f"`power` must exceed the power of the smallest design ({floor:.6g} here: the test "
                             "rejects that often as n -> 0); ask for more power")
        return (top / effect) ** 2
    # two-tailed arcsine: one tail's closed form overshoots a little (the other tail adds power)
    if (effect == 0.0).any():
        raise ValueError("solving for `n` needs p1 != p2: an effect of 0 is never detected")
    if (power <= alpha).any():
        raise ValueError("`power` must be > `alpha` to solve for `n` (the two-sided test rejects at rate alpha "
                         "as n -> 0)")
    out = np.empty(np.broadcast(power, p1, p2, alpha, ratio).shape)
    args = [np.broadcast_to(x, out.shape).reshape(-1) for x in (power, p1, p2, alpha, ratio)]
    for i, (pw, q1, q2, al, r) in enumerate(zip(*args)):
        hi = float((((-ndtri(al / 2.0)) + ndtri(pw)) / abs(float(_prop_terms(q1, q2, r, "two-sided", method)[0]))) ** 2
                   * (1.0 + r) / r)

        def gap(n1, pw=pw, q1=q1, q2=q2, al=al, r=r):
            return float(_prop_power(n1, q1, q2, al, r, "two-sided", method)) - pw

        lo = hi / 2.0
        while gap(lo) > 0.0:
            lo /= 2.0
        out.reshape(-1)[i] = _brentq(gap, lo, hi, 1e-12 * hi, "n") if gap(hi) > 0.0 else hi
    return out


def power_proportions(
    p1: ArrayLike,
    p2: ArrayLike,
    *,
    n: ArrayLike | None = None,
    power: ArrayLike | None = None,
    alpha: ArrayLike = 0.05,
    ratio: ArrayLike = 1.0,
    alternative: Alternative = "two-sided",
    method: Literal["normal", "arcsine"] = "normal",
    simulate: bool = False,
    n_sims: int = 10_000,
    rng: SeedLike = None,
) -> PowerProportionsResult:
    """Power or sample size of the two-sample test of proportions (conversion rates), for one missing quantity.

    Exactly one of `n` (observations in group 1) and `power` is None and is solved for.
    ``method="normal"`` is the classic z-test formula of R's ``power.prop.test`` (pooled
    variance under H0, unpooled under H1) with its default ``strict = FALSE``: a two-sided
    test counts rejections in the direction of the effect only; unlike R it takes `ratio`
    (group 2 has ``ratio * n``) and one-sided directions ("greater": p1 > p2), and solves
    for `n` in closed form (R's ``uniroot`` stops at a tolerance of ~1e-4).
    ``method="arcsine"`` equals ``statsmodels.stats.power.NormalIndPower().solve_power`` with
    ``effect_size=proportion_effectsize(p1, p2)`` (a two-sided test counts both tails; `n`
    is statsmodels' `nobs1`; "greater" is its "larger").  Arguments broadcast, so a power
    curve is one call.  ``simulate=True`` also runs the actual test on `n_sims` simulated
    pairs of binomial counts per design and reports its rejection rate with a standard error.

    Parameters
    ----------
    p1, p2 : float or array_like
        Success rates in (0, 1) of group 1 and group 2.
    n : float, array_like or None
        Observations in group 1 (> 0); group 2 has ``ratio * n``.
    power : float, array_like or None
        Target power in (0, 1) when solving for `n`.
    alpha : float or array_like, default 0.05
    ratio : float or array_like, default 1.0
        n2 / n1.
    alternative : {"two-sided", "greater", "less"}, default "two-sided"
        "greater": p1 > p2.
    method : {"normal", "arcsine"}, default "normal"
    simulate : bool, default False
        Also estimate the power of the actual test (pooled z-test for "normal", the
        arcsine-difference z-test for "arcsine") by simulation, at ``n_ceil`` in group 1
        and ``round(ratio * n_ceil)`` in group 2.
    n_sims : int, default 10000
        Simulated experiments per design (with `simulate`).
    rng : None, int, SeedSequence or Generator
        Seed of the simulation (SPEC 7); design i of the broadcast grid (C order) draws from
        child stream i, so a design's numbers do not depend on the others.

    Returns
    -------
    PowerProportionsResult

    Raises
    ------
    ValueError
        Bad inputs; not exactly one of `n` / `power` None; solving for `n` with p1 = p2, with
        a one-sided `alternative` pointing away from the effect, or with a target power
        below what the test reaches as n -> 0.

    Examples
    --------
    >>> import simengine
    >>> res = simengine.power_proportions(0.10, 0.12, power=0.8)
    >>> round(res.n, 1), res.n_ceil
    (3840.8, 3841)
    >>> round(float(simengine.power_proportions(0.5, 0.75, n=50).power), 4)
    0.7402
    """
    v.check_choice(alternative, "alternative", v.ALTERNATIVES)
    v.check_choice(method, "method", _PROP_METHODS)
    simulate = v.check_bool(simulate, "simulate")
    p1a, p2a = _prop_rates(p1, "p1"), _prop_rates(p2, "p2")
    alpha_a = _prop_positive(alpha, "alpha", upper=1.0)
    ratio_a = _prop_positive(ratio, "ratio")
    if (ratio_a < 1e-300).any():  # 1 / ratio (the variance of group 2's share) must stay finite
        raise ValueError(f"`ratio` must be at least 1e-300; got {ratio_a.min():g}")
    if (n is None) == (power is None):
        raise ValueError("exactly one of `n` and `power` must be None (it is solved for); "
                         f"got {'both' if n is None else 'neither'}")
    if n is not None:
        n_a = _prop_positive(n, "n")
        if not (n_a <= MAX_N).all():
            raise ValueError(f"`n` must be at most {MAX_N:g}; got {n_a.max():g}")
        solved = "power"
    else:
        power_a = _prop_positive(power, "power", upper=1.0)
        solved = "n"
    given = n_a if n is not None else power_a
    try:
        shape = np.broadcast(p1a, p2a, alpha_a, ratio_a, given).shape
    except ValueError:
        raise ValueError("`p1`, `p2`, `alpha`, `ratio` and `n` / `power` must broadcast to one shape; got shapes "
                         f"{[np.shape(x) for x in (p1a, p2a, alpha_a, ratio_a, given)]}") from None
    if simulate:
        n_sims = v.check_count(n_sims, "n_sims")
        size = int(np.prod(shape, dtype=np.int64)) if shape else 1
        v.check_work(size * n_sims, "`n_sims` x designs", unit="simulated experiments")
        ss = as_seed_sequence(rng)
    if solved == "power":
        n1 = np.broadcast_to(n_a, shape).astype(np.float64)
        pw = _prop_power(n1, p1a, p2a, alpha_a, ratio_a, alternative, method)
    else:
        pw = np.broadcast_to(power_a, shape).astype(np.float64)
        n1 = np.broadcast_to(_prop_solve_n(power_a, p1a, p2a, alpha_a, ratio_a, alternative, method),
                             shape).astype(np.float64)
        if not np.isfinite(n1).all() or (n1 > MAX_N).any():
            raise ValueError(f"no sample size up to {MAX_N:g} reaches `power` (is |p1 - p2| tiny?)")
    if not (n1 * ratio_a <= MAX_N).all():
        raise ValueError(f"`ratio` x `n` (group 2) must be at most {MAX_N:g}; got {np.max(n1 * ratio_a):g}")
    # a float n that is whole up to rounding (e.g. 64.00000000001) must not round up to 65
    n_ceil = np.maximum(np.ceil(n1 - 1e-9 * np.maximum(1.0, n1)), 1.0)
    if simulate and not (np.maximum(n_ceil, n_ceil * ratio_a) <= v.MAX_COUNT).all():
        raise ValueError(f"`simulate` draws binomial counts of at most {v.MAX_COUNT:g} trials per group; this "
                         f"design has {np.max(np.maximum(n_ceil, n_ceil * ratio_a)):g} (`n` / `ratio`)")
    at_ceil = _prop_power(n_ceil, p1a, p2a, alpha_a, ratio_a, alternative, method)
    sim = sim_se = None
    if simulate:
        sim, sim_se = _prop_simulate(n_ceil, p1a, p2a, alpha_a, ratio_a, alternative, method, n_sims, ss)

    def out(x, kind=float):
        x = np.broadcast_to(np.asarray(x, dtype=np.float64), shape)
        if shape:
            return np.ascontiguousarray(x).astype(np.int64) if kind is int else np.ascontiguousarray(x)
        return kind(x[()])

    def keep(x):
        return out(x) if np.ndim(x) or shape else float(x)

    return PowerProportionsResult(
        n=out(n1), n_ceil=out(n_ceil, int), power=out(pw), p1=keep(p1a), p2=keep(p2a),
        alpha=keep(alpha_a), ratio=keep(ratio_a), alternative=alternative, method=method, solved_for=solved,
        power_at_n_ceil=out(at_ceil),
        simulated_power=None if sim is None else out(sim), simulated_power_se=None if sim_se is None else out(sim_se),
        n_sims=n_sims if simulate else 0,
    )


def _prop_simulate(n_ceil, p1, p2, alpha, ratio, alternative, method, n_sims, ss):
    """Rejection rate (and SE) of the actual test on binomial counts, per design (child stream i for design i)."""
    from scipy.special import ndtri

    shape = n_ceil.shape
    grid = [np.broadcast_to(x, shape).reshape(-1) for x in (n_ceil, p1, p2, alpha, ratio)]
    rate = np.empty(max(1, int(np.prod(shape, dtype=np.int64))))
    code = v.ALTERNATIVES[alternative]
    for i, (m1, q1, q2, al, r) in enumerate(zip(*grid)):
        m1 = int(m1)
        m2 = max(1, int(round(r * m1)))
        gen = np.random.Generator(np.random.PCG64(child_seed_sequence(ss, i)))
        x1 = gen.binomial(m1, q1, n_sims)
        x2 = gen.binomial(m2, q2, n_sims)
        f1, f2 = x1 / m1, x2 / m2
        with np.errstate(divide="ignore", invalid="ignore"):
            if method == "normal":
                pooled = (x1 + x2) / (m1 + m2)
                z = (f1 - f2) / np.sqrt(pooled * (1.0 - pooled) * (1.0 / m1 + 1.0 / m2))
            else:
                z = (2.0 * np.arcsin(np.sqrt(f1)) - 2.0 * np.arcsin(np.sqrt(f2))) * math.sqrt(m1 * m2 / (m1 + m2))
        crit = -ndtri(al / 2.0 if code == 0 else al)
        # a z of 0/0 (no variation in either group) never rejects
        reject = np.abs(z) > crit if code == 0 else (z > crit if code == 2 else z < -crit)
        rate[i] = np.count_nonzero(reject) / n_sims
    rate = rate.reshape(shape)
    return rate, proportion_se(rate, n_sims)

"""Sequential testing: the peeking Monte Carlo and group-sequential boundaries.

`simulate_peeking` runs A/A or A/B experiments analysed at every look (with no correction, a Pocock or
O'Brien-Fleming boundary, or an always-valid mSPRT); `group_sequential_boundaries` computes the boundaries by
recursive numerical integration.  The kernels live in `simengine.kernels.sequential`.  Also holds the small
long-call helpers the hypothesis-test simulators share (per-slice streams, first-slice size, `target_se`
checks; candidates for `simengine._long`).
"""
from __future__ import annotations

import dataclasses
import functools
import math
import numbers
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np
import numpy.typing as npt

from simengine._long import check_progress, check_target, first_slice, run_blocks, threaded_blocks
from simengine._results import MEAN, SUM, MonteCarloResult, Result, proportion_se, until_target
from simengine._rng import as_seed_sequence, child_seed_sequence, n_blocks
from simengine._typing import Alternative, ArrayLike, FloatArray, Progress, SeedLike
from simengine._validate import (
    alternative_code,
    as_count_array,
    as_real_array,
    check_bool,
    check_choice,
    check_count_at_least_one,
    check_int,
    check_memory,
    check_positive_int,
    check_probability,
    check_real,
    check_work,
)

if TYPE_CHECKING:  # pandas is imported when a frame is made, not with the package
    import pandas as pd

BoundaryKind = Literal["obrien-fleming", "pocock", "ld-obrien-fleming", "ld-pocock", "hsd", "kim-demets"]

__all__ = [
    "simulate_peeking", "SimulatePeekingResult", "group_sequential_boundaries", "group_sequential_design",
    "GroupSequentialDesignResult", "msprt", "MsprtResult",
]


# Replicates per RNG block: a constant of the algorithm (SPEC 7), small enough that the 1 000-replicate seed
# scenario still spreads over two threads, large enough that generator set-up stays ~3% of a 10^6 run.
BLOCK = 512

METRICS = {"binary": 0, "normal": 1}
TESTS = {"t": 0, "welch": 1, "z": 2, "msprt": 3}
BOUNDARY_KINDS = ("pocock", "obrien-fleming")
SPENDING_KINDS = ("ld-obrien-fleming", "ld-pocock", "hsd", "kim-demets")  # simengine._groupseq.SPENDING_KINDS
GS_ALTERNATIVES = ("two-sided", "one-sided", "greater", "less")

# Visitors per arm over all looks: counts stay exact in float64 (the kernels hold n as a double) and
# every sum the kernels form (both arms, successes, n * rate) stays far inside int64.
MAX_VISITORS = 2**53
MAX_LOOKS = 10_000
MAX_BOUNDARY_LOOKS = 1000  # group_sequential_boundaries: 1 000 looks take a few seconds (the cost grows as K^1.5)
# Normal data are simulated as given while sd lies in this range and |mean| <= _MEAN_PER_SD sds, else in
# standardised units (see simulate_peeking).
_SD_RANGE = (1e-100, 1e100)
_MEAN_PER_SD = 1e8
# Bytes of one block Generator (PCG64 state, SeedSequence, Python objects), for the memory check.
GENERATOR_BYTES = 4096

# Relative half-width of the band around a critical value inside which the kernel evaluates the exact
# p-value instead of comparing the statistic (see kernels.sequential._reject1).
_BAND = 1e-7


# --------------------------------------------------------------------------------------------------------------
# Group-sequential boundaries by recursive numerical integration
# --------------------------------------------------------------------------------------------------------------

def _simpson_weights(n_points: int) -> np.ndarray:
    w = np.ones(n_points)
    w[1:-1:2] = 4.0
    w[2:-1:2] = 2.0
    return w / 3.0


def _crossing_probabilities(critical, information, two_sided, drift=0.0, resolution=8.0, max_points=6001,
                            counts=None):
    """Probability that the first boundary crossing happens at each look.

    The score statistic S_k = Z_k sqrt(t_k) is Brownian motion with `drift` observed at information
    fractions t_k (Armitage, McPherson & Rowe 1969; Jennison & Turnbull 2000, ch. 19).  The sub-density of
    S_k on the continuation region is carried from look to look on a uniform grid with Simpson's rule; the
    crossing probability at each look integrates exact normal tail areas against it.  The integrand is smooth
    on the closed continuation interval, so the error falls as h^4; the grid step is the smallest increment's
    standard deviation / `resolution` (8 gives critical values accurate to ~1e-6).  `counts`, if given, fixes
    the number of grid intervals of each look (see `_grid_counts`).  The recursion runs in
    `kernels.sequential._gs_crossing`; a look costs O(grid x 10-sd band), so 1 000 looks take well under a
    second per evaluation.
    """
    from simengine.kernels.sequential import _gs_crossing

    crit = np.ascontiguousarray(critical, dtype=np.float64)
    t = np.ascontiguousarray(information, dtype=np.float64)
    sd = np.sqrt(np.diff(np.concatenate([[0.0], t])))
    bound = np.ascontiguousarray(crit * np.sqrt(t))
    step = sd.min() / resolution
    if counts is None:
        counts = np.zeros(t.shape[0], dtype=np.int64)
    return _gs_crossing(bound, t, float(drift), bool(two_sided), float(step), float(max_points), counts)


def _grid_counts(critical, information, two_sided, resolution=8.0, max_points=6001):
    """Grid intervals per look for `critical` (drift 0), each look's step being the smaller sd of the
    increments into and out of it / `resolution`: the sub-density at look k is smooth on the scale of the
    increment into it, and the next transition's Gaussian kernel has the sd of the increment out of it.
    (`_crossing_probabilities` alone uses the smallest increment's sd for every look, which with very
    unequal looks puts thousands of points on looks that need a few hundred.)  Equal looks get the same
    grids either way."""
    t = np.asarray(information, dtype=np.float64)
    sd = np.sqrt(np.diff(np.concatenate([[0.0], t])))
    local = np.minimum(sd, np.append(sd[1:], sd[-1]))
    bound = np.asarray(critical, dtype=np.float64) * np.sqrt(t)
    width = 12.0 * np.sqrt(t)
    hi = np.minimum(bound, width)
    lo = np.maximum(-bound, -width) if two_sided else -width
    m = np.clip(np.ceil((hi - lo) / (local / resolution)), 2, max_points - 1).astype(np.int64)
    return np.ascontiguousarray(m + m % 2)


def _information_fractions(n_looks, information):
    if information is None:
        return np.arange(1, n_looks + 1, dtype=np.float64) / n_looks
    info = as_real_array(information, "information", ndim=1)
    if info.shape[0] != n_looks:
        raise ValueError(f"`information` must have length `n_looks` = {n_looks}; got length {info.shape[0]}")
    if info[0] <= 0 or np.any(np.diff(info) <= 0):
        raise ValueError("`information` must be positive and strictly increasing")
    return info / info[-1]


def group_sequential_boundaries(
    n_looks: int | None = None,
    *,
    information: ArrayLike | None = None,
    alpha: float = 0.05,
    kind: BoundaryKind | Callable[[FloatArray], ArrayLike] = "obrien-fleming",
    alternative: Literal["two-sided", "one-sided", "greater", "less"] = "two-sided",
    gamma: float | None = None,
    rho: float | None = None,
) -> FloatArray:
    """Critical z values of a group-sequential design: Pocock, O'Brien-Fleming or an alpha-spending function.

    The default `kind` is "obrien-fleming" (it was "pocock" before version 0.16, as were the
    positional `n_looks` and keyword `alpha`, `kind`, `alternative`, `information` arguments,
    which still work).  Pocock (1977) uses one constant critical value c at every look and O'Brien
    & Fleming (1979) use c / sqrt(t_k) at information fraction t_k, c solved so that the overall
    type I error is `alpha`.  The spending kinds (Lan & DeMets 1983) release a cumulative error
    alpha(t_k) by look k and solve each look's critical value in turn at the information fractions
    actually given, so looks may be unequal and unplanned: "ld-obrien-fleming" 2 - 2 Phi(z_{1-a/2} /
    sqrt(t)), "ld-pocock" a log(1 + (e - 1) t), "hsd" (Hwang, Shih & DeCani 1990) a (1 - e^{-gamma
    t}) / (1 - e^{-gamma}), "kim-demets" a t^rho, or any callable ``spending(t) -> cumulative alpha``
    (non-decreasing, 0 at 0, `alpha` at 1).  Two-sided designs are symmetric and spend alpha / 2 on
    each side (a = alpha / 2: gsDesign's and ldbounds' convention); one-sided designs spend alpha on
    the tested side.  Crossing probabilities come from recursive numerical integration of the score
    statistic (Armitage, McPherson & Rowe 1969; Jennison & Turnbull 2000, ch. 19), not simulation;
    critical values are accurate to about 1e-6.

    Parameters
    ----------
    n_looks : int, optional
        Number of analyses K, in [1, 1000]; may be left out when `information` is given.
    information : array_like of shape (n_looks,), optional
        Cumulative information (e.g. sample size) at each look, positive and strictly increasing; only ratios
        matter, and every increment must be at least 1e-6 of the last value.  Default equal increments.
    alpha : float, default 0.05
        Overall type I error, in [1e-20, 1).
    kind : {"obrien-fleming", "pocock", "ld-obrien-fleming", "ld-pocock", "hsd", "kim-demets"} or callable
        Boundary shape or spending function.
    alternative : {"two-sided", "one-sided", "greater", "less"}
        Two-sided designs reject when |Z_k| >= c_k; one-sided ones ("greater" and "less" are synonyms of
        "one-sided", the boundary being the same value of the statistic in the tested direction) reject when
        the directional statistic reaches c_k, with no futility boundary.
    gamma : float, optional
        Parameter of "hsd" (default -4, gsDesign's; -4 is close to O'Brien-Fleming, 1 to Pocock).
    rho : float, optional
        Parameter of "kim-demets", > 0 (default 1, rpact's: alpha spent in proportion to information; 3 is
        close to O'Brien-Fleming).

    Returns
    -------
    ndarray of shape (n_looks,)
        Critical value of the (directional or absolute) z statistic at each look; +inf at a look where the
        spending function releases no error.

    Notes
    -----
    Two-sided alpha = 0.05 with equal looks reproduces Jennison & Turnbull (2000), Tables 2.1 and 2.3:
    Pocock C_P(K) = 2.178, 2.289, 2.361, 2.413 for K = 2..5 and 2.555 for K = 10; O'Brien-Fleming
    C_B(K) = 1.977, 2.004, 2.024, 2.040 for K = 2..5 (the final-look value); and the Lan-DeMets
    O'Brien-Fleming spending boundaries of gsDesign / ldbounds, e.g. 3.710, 2.511, 1.993 for K = 3.

    Examples
    --------
    >>> import simengine
    >>> simengine.group_sequential_boundaries(5, kind="pocock").round(3)
    array([2.413, 2.413, 2.413, 2.413, 2.413])
    >>> simengine.group_sequential_boundaries(3).round(3)
    array([3.471, 2.454, 2.004])
    >>> simengine.group_sequential_boundaries(information=[0.2, 0.5, 1.0], kind="ld-obrien-fleming").round(3)
    array([4.877, 2.963, 1.969])
    """
    alpha = check_probability(alpha, "alpha")
    if callable(kind):
        spend = kind
        kind_name = "custom"
    else:
        kind_name = check_choice(kind, "kind", BOUNDARY_KINDS + SPENDING_KINDS)
    alternative = check_choice(alternative, "alternative", GS_ALTERNATIVES)
    if n_looks is None:
        if information is None:
            raise ValueError("give `n_looks` or `information` (the looks' cumulative information)")
        info = as_real_array(information, "information", ndim=1)
        n_looks = check_positive_int(info.shape[0], "information (its length)", maximum=MAX_BOUNDARY_LOOKS)
    n_looks = check_positive_int(n_looks, "n_looks", maximum=MAX_BOUNDARY_LOOKS)
    gamma, rho = _spending_parameters(kind_name, gamma, rho)
    t = _information_fractions(n_looks, information)
    two_sided = alternative == "two-sided"
    if kind_name != "custom":
        return _boundaries(n_looks, alpha, kind_name, two_sided, t, gamma=gamma, rho=rho)
    _check_looks(n_looks, alpha, t, "information")
    _check_spending(spend, t, alpha)
    from simengine._groupseq import spending_boundaries

    return spending_boundaries(t, alpha, spend, two_sided)[0]


def _spending_parameters(kind, gamma, rho):
    """`gamma` / `rho` checked, defaulted for their kind and refused for any other."""
    if gamma is not None:
        if kind != "hsd":
            raise ValueError(f"`gamma` only applies to kind='hsd'; got kind={kind!r}")
        gamma = check_real(gamma, "gamma", low=-40.0, high=40.0)
    if rho is not None:
        if kind != "kim-demets":
            raise ValueError(f"`rho` only applies to kind='kim-demets'; got kind={kind!r}")
        rho = check_real(rho, "rho", low=0.0, low_inclusive=False, high=100.0)
    if kind == "hsd" and gamma is None:
        gamma = -4.0
    if kind == "kim-demets" and rho is None:
        rho = 1.0
    return gamma, rho


def _check_spending(spend, t, alpha, name="kind", total="`alpha`"):
    """A user's spending function, evaluated at the looks: non-decreasing from >= 0 to `alpha` at t = 1."""
    try:
        values = np.asarray(spend(t.copy()), dtype=np.float64)
    except Exception as exc:  # the user's function: any failure is reported as a bad `kind`
        raise ValueError(f"`{name}` (a spending function) raised {type(exc).__name__}: {exc}") from None
    if values.shape != t.shape or not np.isfinite(values).all():
        raise ValueError(f"`{name}` (a spending function) must return {t.shape[0]} finite values for the "
                         f"{t.shape[0]} information fractions; got {values.shape} values")
    if values[0] < 0 or np.any(np.diff(values) < 0) or values[-1] > alpha * (1 + 1e-9):
        raise ValueError(f"`{name}` (a spending function) must be non-decreasing, from >= 0 to at most {total}; "
                         f"got {np.array2string(values, precision=4)}")
    if abs(values[-1] - alpha) > 1e-9 * alpha:
        raise ValueError(f"`{name}` (a spending function) must spend {total} = {alpha:g} at the last look "
                         f"(t = 1); got {values[-1]:.6g}")


@functools.lru_cache(maxsize=256)
def _spending_cached(alpha, kind, two_sided, t, gamma, rho):
    from simengine._groupseq import spending_boundaries

    return tuple(spending_boundaries(np.asarray(t), alpha, kind, two_sided, gamma, rho)[0])


def _check_looks(n_looks, alpha, t, name):
    if n_looks > 1 and np.diff(np.concatenate([[0.0], t])).min() < MIN_INCREMENT:
        raise ValueError(
            f"`{name}` must give every look at least {MIN_INCREMENT:g} of the final information (the "
            "recursion cannot resolve looks closer than that; merge them)"
        )
    if alpha < MIN_GS_ALPHA:
        raise ValueError(
            f"`alpha` must be in [{MIN_GS_ALPHA:g}, 1) for group-sequential boundaries; got {alpha:g} "
            "(below it the crossing probabilities are too small for the recursion's accuracy)"
        )


def _boundaries(n_looks, alpha, kind, two_sided, t, name="information", gamma=None, rho=None):
    """Critical z per look of a named `kind`: a constant shape (Pocock, O'Brien-Fleming) or a spending function
    (with its `gamma` / `rho`).  `name` is the argument the information fractions came from (for messages)."""
    # Sweeps call this with the same design many times; the cache key is exact (floats as given).
    _check_looks(n_looks, alpha, t, name)
    if kind in SPENDING_KINDS:
        return np.array(_spending_cached(alpha, kind, two_sided, tuple(float(v) for v in t), gamma, rho))
    try:
        return np.array(_boundaries_cached(n_looks, alpha, kind, two_sided, tuple(float(v) for v in t)))
    except ValueError as exc:  # a root finder without a sign change: the integration cannot resolve alpha
        raise ValueError(
            f"the boundary constant could not be solved for: `alpha` = {alpha:g} with {n_looks} looks at these "
            f"`information` fractions is beyond the integration's accuracy ({exc})"
        ) from None


MIN_GS_ALPHA = 1e-20
# Smallest information increment between looks, as a fraction of the final information: nearer looks
# (e.g. [1, 1 + 1e-8, 2]) make the integration fail or, at 1e-100, silently merge looks.
MIN_INCREMENT = 1e-6


@functools.lru_cache(maxsize=256)
def _boundaries_cached(n_looks, alpha, kind, two_sided, t):
    from scipy import optimize
    from scipy.special import ndtri

    t = np.asarray(t)
    shape = np.ones(n_looks) if kind == "pocock" else 1.0 / np.sqrt(t)
    # Both shapes are >= 1 with equality at the last look, so the fixed-sample value bounds c from below
    # (the last look alone already spends alpha) and the Bonferroni value bounds it from above.
    tail = alpha / 2.0 if two_sided else alpha
    lo = -ndtri(tail) - 1e-9
    hi = -ndtri(tail / n_looks) + 1e-9
    if n_looks == 1:
        return (float(-ndtri(tail)),)

    sd = np.sqrt(np.diff(np.concatenate([[0.0], t])))
    if n_looks <= _FIXED_GRIDS and sd.max() <= _SD_RATIO * sd.min():
        def excess(c):
            return _crossing_probabilities(c * shape, t, two_sided).sum() - alpha

        c = optimize.brentq(excess, lo, hi, xtol=1e-10, rtol=1e-12)
        return tuple(c * shape)
    # Many looks (or very unequal ones, where the smallest increment's step would cap every grid at
    # `max_points` and leave the others too coarse): an evaluation costs ~K^1.5 grid points, so evaluations
    # must be few.  With the grid sizes following c, the crossing probability jumps by ~1e-9 whenever a look
    # gains a grid point and root finders end in bisection; fixed sizes (those of the largest c in the bracket:
    # every step at most the target step) keep it smooth.  A solve on a 4x coarser grid (1/16 of the cost)
    # gives a start within ~1e-5, and secant steps at full resolution finish in three or four evaluations.
    coarse = _grid_counts(hi * shape, t, two_sided, resolution=2.0)
    c0 = optimize.brentq(
        lambda c: _crossing_probabilities(c * shape, t, two_sided, counts=coarse).sum() - alpha,
        lo, hi, xtol=1e-6, rtol=1e-12,
    )
    counts = _grid_counts(hi * shape, t, two_sided)

    seen = {}

    def excess(c):  # type: ignore[no-redef]  # the other branch's excess is defined under a condition
        if c not in seen:
            seen[c] = _crossing_probabilities(c * shape, t, two_sided, counts=counts).sum() - alpha
        return seen[c]

    with warnings.catch_warnings():
        # scipy warns when the secant stalls; it is checked below, with Brent's method as the fallback
        warnings.simplefilter("ignore", RuntimeWarning)
        sol = optimize.root_scalar(excess, method="secant", x0=c0, x1=c0 + 1e-5, xtol=1e-11, maxiter=12)
    c = sol.root
    if not (sol.converged and lo <= c <= hi and abs(excess(c)) < 1e-9):
        c = optimize.brentq(excess, lo, hi, xtol=1e-10, rtol=1e-12)
    return tuple(c * shape)


_FIXED_GRIDS = 20  # looks above which `_boundaries_cached` fixes the grid sizes while it solves for c
_SD_RATIO = 100.0  # ... and the ratio of the largest to the smallest increment's sd above which it does too


# --------------------------------------------------------------------------------------------------------------
# Group-sequential designs: efficacy and futility boundaries, maximum and expected sample size
# --------------------------------------------------------------------------------------------------------------

FUTILITY_KINDS = ("ld-obrien-fleming", "ld-pocock", "hsd")


@dataclass(frozen=True, slots=True)
class GroupSequentialDesignResult(Result):
    """A group-sequential design from `group_sequential_design`; ``to_frame()`` gives one row per look.

    Attributes
    ----------
    information : ndarray, shape (n_looks,)
        Information fractions t_k (last 1).
    efficacy : ndarray, shape (n_looks,)
        Critical z per look (|z| for two-sided designs); +inf where no error is spent.
    futility : ndarray or None
        Futility z per look (stop for futility when z <= it; -inf where no beta is spent; the last equals the
        last efficacy value), or None without futility.
    alpha_spent : ndarray, shape (n_looks,)
        Cumulative type I error spent by each look (both sides for two-sided designs), futility ignored for a
        non-binding design and in force for a binding one.
    beta_spent : ndarray or None
        Cumulative type II error spent by each look under the design alternative (futility designs).
    inflation_factor : float
        Maximum information over the fixed design's information for the same alpha and power.
    expected_sample_fraction_h0, expected_sample_fraction_h1 : float
        Expected sample size as a fraction of the fixed design's, under H0 and under the design alternative
        (futility boundaries obeyed, binding or not).
    alpha, power, kind, futility_kind, binding, alternative
        The inputs (`kind` / `futility_kind` "custom" for a callable).
    """

    information: FloatArray
    efficacy: FloatArray
    futility: FloatArray | None
    alpha_spent: FloatArray
    beta_spent: FloatArray | None
    inflation_factor: float
    expected_sample_fraction_h0: float
    expected_sample_fraction_h1: float
    alpha: float
    power: float
    kind: str
    futility_kind: str | None
    binding: bool
    alternative: str

    def _primary(self) -> tuple[str, ...]:
        return ("information", "efficacy", "futility", "alpha_spent", "beta_spent")

    def sample_size(self, n_fixed: float) -> npt.NDArray[np.int64]:
        """Cumulative sample size at each look, from the fixed design's `n_fixed` (e.g. `power_ttest`'s n).

        ``ceil(n_fixed * inflation_factor * t_k)`` per look: per group if `n_fixed` is per group.
        """
        n_fixed = check_real(n_fixed, "n_fixed", low=0.0, low_inclusive=False, high=1e15)
        total = n_fixed * self.inflation_factor * self.information
        return np.ceil(total - 1e-9 * np.maximum(1.0, total)).astype(np.int64)


def group_sequential_design(
    n_looks: int | None = None,
    *,
    information: ArrayLike | None = None,
    alpha: float = 0.05,
    power: float = 0.9,
    kind: BoundaryKind | Callable[[FloatArray], ArrayLike] = "obrien-fleming",
    futility: Literal["ld-obrien-fleming", "ld-pocock", "hsd"] | Callable[[FloatArray], ArrayLike] | None = None,
    binding: bool = False,
    alternative: Literal["two-sided", "one-sided", "greater", "less"] = "two-sided",
    gamma: float | None = None,
    rho: float | None = None,
    futility_gamma: float | None = None,
) -> GroupSequentialDesignResult:
    """A group-sequential design: efficacy (and futility) boundaries, inflation factor, expected sample size.

    The efficacy boundaries are `group_sequential_boundaries`' for the same `kind` (see there, with
    `gamma` / `rho`); `power` is reached under the design alternative by choosing the maximum
    information, reported as `inflation_factor` over the fixed-sample design with the same alpha and
    power (Jennison & Turnbull 2000, ch. 2 and 7).  `futility` adds a lower boundary by beta spending
    (Pampallona, Tsiatis & Kim 2001): the spending function, with total beta = 1 - `power`, releases
    the type II error that may be spent by stopping for futility at each look, under the alternative;
    the last look's futility value equals its efficacy value, so the design has exactly `power`.
    Non-binding designs (the default, as regulators expect) compute the efficacy boundaries ignoring
    futility, so the type I error stays at most alpha whether or not futility is obeyed; binding designs
    count futility stops under H0 and spend alpha exactly only if they are obeyed.  Futility needs a
    one-sided design ("greater" / "less" / "one-sided": gsDesign's test.type 3 and 4); a two-sided
    design is symmetric, with efficacy on both sides.

    Parameters
    ----------
    n_looks, information, alpha, kind, alternative, gamma, rho
        As in `group_sequential_boundaries`.
    power : float, default 0.9
        Power under the design alternative, in (alpha', 1) with alpha' = alpha / 2 two-sided.
    futility : {"ld-obrien-fleming", "ld-pocock", "hsd"}, callable or None
        Beta-spending function of the futility boundary (a callable returns the cumulative beta spent at
        the information fractions: non-decreasing, 0 at 0, 1 - `power` at 1); None: no futility boundary.
    binding : bool, default False
        Whether futility stops are binding (count under H0 when the efficacy boundaries are solved); needs a
        spending `kind` and a `futility`.
    futility_gamma : float, optional
        Parameter of the "hsd" futility function (default -2, gsDesign's).

    Returns
    -------
    GroupSequentialDesignResult

    Examples
    --------
    >>> import simengine
    >>> d = simengine.group_sequential_design(5, power=0.9)
    >>> round(d.inflation_factor, 3), round(d.expected_sample_fraction_h1, 3)
    (1.026, 0.75)
    >>> d.sample_size(100).tolist()
    [21, 42, 62, 83, 103]
    """
    alpha = check_probability(alpha, "alpha")
    power = check_probability(power, "power")
    alternative = check_choice(alternative, "alternative", GS_ALTERNATIVES)
    two_sided = alternative == "two-sided"
    binding = check_bool(binding, "binding")
    side = alpha / 2.0 if two_sided else alpha
    if power <= side:
        raise ValueError(f"`power` must be above the one-sided alpha ({side:g}); got {power:g}")
    if futility is not None:
        fut_name = "custom" if callable(futility) else check_choice(futility, "futility", FUTILITY_KINDS)
        if two_sided:
            raise ValueError("`futility` needs a one-sided design (`alternative` 'greater', 'less' or 'one-sided'); "
                             "a two-sided design stops for efficacy on either side")
    else:
        fut_name = None
    if futility_gamma is not None:
        if fut_name != "hsd":
            raise ValueError(f"`futility_gamma` only applies to futility='hsd'; got futility={fut_name!r}")
        futility_gamma = check_real(futility_gamma, "futility_gamma", low=-40.0, high=40.0)
    elif fut_name == "hsd":
        futility_gamma = -2.0
    efficacy = group_sequential_boundaries(n_looks, information=information, alpha=alpha, kind=kind,
                                           alternative=alternative, gamma=gamma, rho=rho)
    kind_name = "custom" if callable(kind) else kind
    if binding:
        if fut_name is None:
            raise ValueError("`binding` needs a `futility` boundary")
        if kind_name in BOUNDARY_KINDS:
            raise ValueError(f"`binding` needs a spending `kind` (the boundary of {kind_name!r} is fixed by its "
                             "shape); use e.g. 'ld-obrien-fleming'")
    n = efficacy.shape[0]
    t = _information_fractions(n, information)
    from scipy.special import ndtri

    from simengine import _groupseq as gs

    beta = 1.0 - power
    beta_inc = None
    if futility is not None:
        if callable(futility):
            _check_spending(futility, t, beta, name="futility", total="1 - `power`")
        beta_inc = np.diff(np.concatenate(
            [[0.0], gs.cumulative_spent(futility, t, beta, False, futility_gamma)]))
    alpha_inc = None
    if binding:  # one-sided (futility needs it): the efficacy spending itself, solved with futility in force
        gamma_, rho_ = _spending_parameters(kind_name, gamma, rho)
        alpha_inc = np.diff(np.concatenate([[0.0], gs.cumulative_spent(kind, t, alpha, two_sided, gamma_, rho_)]))
    theta, found = gs.design(t, alpha, power, None if binding else efficacy, alpha_inc, beta_inc, two_sided)
    fixed = float(-ndtri(side) - ndtri(beta))
    inflation = (theta / fixed) ** 2
    eff = found["efficacy"]
    fut = found["futility"]
    # alpha spent: efficacy exits under H0 (both sides two-sided), futility in force only when binding
    spent_a = np.cumsum(found["efficacy_h0"] if binding else
                        gs.design_at(0.0, t, eff, None, None, two_sided)["efficacy_h0"])
    beta_spent = None if fut is None else np.cumsum(found["futility_h1"])
    return GroupSequentialDesignResult(
        information=t, efficacy=eff, futility=fut, alpha_spent=spent_a, beta_spent=beta_spent,
        inflation_factor=float(inflation),
        expected_sample_fraction_h0=float(inflation * (t @ found["stop_h0"])),
        expected_sample_fraction_h1=float(inflation * (t @ found["stop_h1"])),
        alpha=alpha, power=power, kind=kind_name, futility_kind=fut_name, binding=bool(binding),
        alternative=alternative,
    )


# --------------------------------------------------------------------------------------------------------------
# Always-valid inference on observed data: the mSPRT
# --------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class MsprtResult(Result):
    """Result of `msprt`: the always-valid p-value and confidence sequence at every analysis.

    ``to_frame()`` gives one row per analysis (observation pair, or look).

    Attributes
    ----------
    pvalue : ndarray
        Always-valid p-value after each analysis: the running minimum of 1 / Lambda_k (capped at 1), so it
        never increases; rejecting the first time it is <= alpha keeps the type I error at most alpha however
        often one looks.
    ci_low, ci_high : ndarray
        The (1 - alpha) confidence sequence for the difference mean(x) - mean(y): the running intersection of
        every analysis' interval {delta : Lambda_k(delta) < 1 / alpha}; it covers the true difference at all
        analyses at once with probability at least 1 - alpha.
    difference : ndarray
        mean(x) - mean(y) at each analysis.
    statistic : ndarray
        log Lambda_k, the log mixture likelihood ratio against difference 0.
    first_rejection : int
        Index of the first analysis with pvalue <= alpha, or -1.
    n_x, n_y : ndarray of int64
        Observations of each arm at each analysis.
    tau, alpha : float
    metric : str
    """

    pvalue: FloatArray
    ci_low: FloatArray
    ci_high: FloatArray
    difference: FloatArray
    statistic: FloatArray
    first_rejection: int
    n_x: npt.NDArray[np.int64]
    n_y: npt.NDArray[np.int64]
    tau: float
    alpha: float
    metric: str

    def _primary(self) -> tuple[str, ...]:
        return ("pvalue", "ci_low", "ci_high", "difference", "statistic", "n_x", "n_y")


def _arm_moments(data, name, metric):
    """(n, mean, sum of squared deviations) per analysis of one arm, as float arrays."""
    if data.ndim == 1:  # observations in arrival order: analysis k sees the first k + 1
        if metric == "binary" and not np.isin(data, (0.0, 1.0)).all():
            raise ValueError(f"`{name}` must hold 0/1 outcomes for metric='binary'")
        n = np.arange(1, data.shape[0] + 1, dtype=np.float64)
        # running sums about the sample's mean (any centre gives the same sums algebraically; the mean keeps
        # the running sum of squares from cancelling when the data sit far from 0)
        centre = float(np.mean(data))
        dev = data - centre
        total = np.cumsum(dev)
        mean = centre + total / n
        ssd = np.maximum(np.cumsum(dev * dev) - total * total / n, 0.0)
        return n, mean, ssd
    cols = 2 if metric == "binary" else 3
    if data.shape[1] != cols:
        what = "(successes, trials)" if metric == "binary" else "(count, mean, variance)"
        raise ValueError(f"`{name}` per look must have {cols} columns {what} for metric={metric!r}; "
                         f"got {data.shape[1]}")
    n = data[:, 1] if metric == "binary" else data[:, 0]
    if (n < 1).any() or (n != np.round(n)).any() or np.any(np.diff(n) < 0):
        raise ValueError(f"`{name}`: the cumulative counts per look must be whole numbers >= 1, non-decreasing")
    if metric == "binary":
        succ = data[:, 0]
        if (succ < 0).any() or (succ > n).any() or (succ != np.round(succ)).any() or np.any(np.diff(succ) < 0):
            raise ValueError(f"`{name}`: successes must be whole numbers in [0, trials], non-decreasing")
        return n, succ / n, succ * (n - succ) / n
    if (data[:, 2] < 0).any():
        raise ValueError(f"`{name}`: variances must be >= 0")
    return n, data[:, 1], data[:, 2] * np.maximum(n - 1.0, 0.0)


def msprt(
    x: ArrayLike,
    y: ArrayLike,
    *,
    metric: Literal["normal", "binary"] = "normal",
    tau: float | None = None,
    alpha: float = 0.05,
) -> MsprtResult:
    """Always-valid p-values and confidence sequence of the mixture SPRT on data as it arrived.

    The mixture sequential probability ratio test of Johari, Pekelis & Walsh (2022) for the difference of
    means mean(x) - mean(y), with a N(0, tau^2) mixture over the difference and a plug-in variance V_k of the
    difference (per-arm Bernoulli variances for binary data, the pooled sample variance for normal data):
    Lambda_k = sqrt(V_k / (V_k + tau^2)) exp(tau^2 d_k^2 / (2 V_k (V_k + tau^2))), the same statistic
    ``simulate_peeking(test="msprt")`` uses (its arm B is `x`, A is `y`).  Its running minimum of 1 / Lambda
    is a p-value that stays valid however often and whenever one looks, and the running intersection of the
    intervals where Lambda_k(delta) < 1 / alpha is a confidence sequence.

    Parameters
    ----------
    x, y : array_like
        Observations of each arm in arrival order (1-D, equal lengths: analysis k uses the first k + 1 of
        each; 0/1 for binary), or cumulative summaries per look (2-D, one row per look): (successes, trials)
        for binary, (count, mean, variance with ddof = 1) for normal; the arms may then differ in size.
    metric : {"normal", "binary"}, default "normal"
    tau : float, optional
        Mixing standard deviation, in the units of the difference, in [1e-100, 1e100].  Default: the simulator's,
        tau^2 = c* V with V = sigma^2 (1 / n_x + 1 / n_y) at the last analysis and sigma^2 estimated from all
        the data (the pooled variance, or p (1 - p) at the pooled rate); this looks at the whole sample, which
        suits the analysis of a finished experiment; for monitoring, fix `tau` in advance (e.g. from
        historical data), as the guarantee assumes.
    alpha : float, default 0.05

    Returns
    -------
    MsprtResult

    Notes
    -----
    Analyses where V_k is 0 or undefined (no variation yet, or fewer than three observations in all for
    normal data) give no interval (-inf, inf); their Lambda follows the simulator's limits (1 / Lambda = 0 when
    the difference is nonzero, else 1).

    Examples
    --------
    >>> import numpy as np, simengine
    >>> rng = np.random.default_rng(1)
    >>> res = simengine.msprt(rng.normal(0.3, 1, 2000), rng.normal(0.0, 1, 2000), tau=0.1)
    >>> res.first_rejection, round(float(res.pvalue[-1]), 6)
    (387, 0.0)
    """
    metric = check_choice(metric, "metric", tuple(METRICS))
    alpha = check_probability(alpha, "alpha")
    if tau is not None:  # tau^2 must stay a normal float next to the data's variances
        tau = check_real(tau, "tau", low=1e-100, high=1e100)
    xa = as_real_array(x, "x", ndim=(1, 2))
    ya = as_real_array(y, "y", ndim=(1, 2))
    if xa.ndim != ya.ndim:
        raise ValueError(f"`x` and `y` must both be observations (1-D) or both per-look summaries (2-D); "
                         f"got {xa.ndim}-D and {ya.ndim}-D")
    if xa.shape[0] != ya.shape[0]:
        what = "observations (pairs in arrival order)" if xa.ndim == 1 else "looks"
        raise ValueError(f"`x` and `y` must have the same number of {what}; got {xa.shape[0]} and {ya.shape[0]}")
    nx, mx, sx = _arm_moments(xa, "x", metric)
    ny, my, sy = _arm_moments(ya, "y", metric)
    d = mx - my
    with np.errstate(divide="ignore", invalid="ignore"):
        if metric == "binary":
            var = mx * (1.0 - mx) / nx + my * (1.0 - my) / ny
            pooled = (mx[-1] * nx[-1] + my[-1] * ny[-1]) / (nx[-1] + ny[-1])
            sigma2 = pooled * (1.0 - pooled) if 0.0 < pooled < 1.0 else 0.25
        else:
            df = nx + ny - 2.0
            var = np.where(df > 0, (sx + sy) / np.where(df > 0, df, 1.0), np.nan) * (1.0 / nx + 1.0 / ny)
            sigma2 = float((sx[-1] + sy[-1]) / df[-1]) if df[-1] > 0 else math.nan
    if tau is None:
        if not (math.isfinite(sigma2) and sigma2 > 0):
            raise ValueError("the data have no variation to set the default `tau` from; pass `tau`")
        tau2 = _msprt_default_tau2(alpha, sigma2 * (1.0 / nx[-1] + 1.0 / ny[-1]))
        tau = math.sqrt(tau2)
    else:
        tau2 = tau * tau
    ok = np.isfinite(var) & (var > 0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        stat = np.where(ok, 0.5 * np.log(var / (var + tau2)) + tau2 * d * d / (2.0 * var * (var + tau2)),
                        np.where(np.isnan(var), np.nan, np.where(d != 0.0, np.inf, -np.inf)))
        inv = np.where(np.isnan(stat), 1.0, np.minimum(1.0, np.exp(-stat)))
        half = np.sqrt(var * (var + tau2) / tau2 * (2.0 * math.log(1.0 / alpha) + np.log((var + tau2) / var)))
    pvalue = np.minimum.accumulate(inv)
    low = np.maximum.accumulate(np.where(ok, d - half, -np.inf))
    high = np.minimum.accumulate(np.where(ok, d + half, np.inf))
    hits = np.flatnonzero(pvalue <= alpha)
    return MsprtResult(
        pvalue=pvalue, ci_low=low, ci_high=high, difference=d, statistic=stat,
        first_rejection=int(hits[0]) if hits.size else -1, n_x=nx.astype(np.int64), n_y=ny.astype(np.int64),
        tau=float(tau), alpha=alpha, metric=metric,
    )


# --------------------------------------------------------------------------------------------------------------
# Peeking Monte Carlo
# --------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class SimulatePeekingResult(MonteCarloResult):
    """Outcome of `simulate_peeking`: how often the sequential procedure rejected, and when.

    Arm A is the control, arm B the treatment; rejections are of the test of B against A (the
    difference B - A).  The estimates a sweep reports are `rejected_any_look`, `rejected_final` and
    `expected_visitors_per_arm`, each a mean over the simulated experiments.

    Attributes
    ----------
    rejected_any_look : float
        Fraction of experiments rejected at some look by the sequential procedure (the any-look false
        positive rate when ``lift == 0``, its power otherwise).
    rejected_any_look_se : float
        Its Monte Carlo standard error.
    rejected_final : float
        Fraction rejected by the fixed-horizon analysis: the same test once, at the last look only, at level
        `alpha`, ignoring any boundary (for mSPRT: that look's own likelihood ratio >= 1 / alpha).
    rejected_final_se : float
        Its Monte Carlo standard error.
    first_rejection_look : ndarray of int64, shape (n_looks,)
        Number of experiments whose first rejection happened at each look.
    cumulative_rejection : ndarray, shape (n_looks,)
        Fraction rejected at or before each look; the last entry is `rejected_any_look`.
    cumulative_rejection_se : ndarray, shape (n_looks,)
        Monte Carlo standard errors of `cumulative_rejection`.
    expected_visitors_per_arm : float
        Mean visitors per arm when the experiment stops (first rejection or futility stop, else the last look).
    expected_visitors_per_arm_se : float
        Its Monte Carlo standard error.
    stopped_futility, stopped_futility_se : float
        Fraction of experiments stopped by the futility boundary (0 without one), and its standard error.
    futility_look : ndarray of int64, shape (n_looks,)
        Number of experiments stopped for futility at each look (zeros without a futility boundary).
    critical_values : ndarray, shape (n_looks,)
        Critical value of the z statistic at each look (nominal: the normal quantile of `alpha`); nan for
        mSPRT, whose threshold is a likelihood ratio of 1 / alpha.
    nominal_alpha : ndarray, shape (n_looks,)
        Nominal level at which each look's p-value is compared (p <= level rejects).
    visitors_per_look : ndarray of int64, shape (n_looks,)
        New visitors per arm at each look.
    n_sims, n_looks, total_visitors, metric, rate, mean, sd, lift, test, alpha, alternative, boundary, tau
        The inputs (`total_visitors` None unless given; `boundary` is "custom" for an array; `tau` is the
        mixing sd used, None unless mSPRT).
    futility_values : ndarray or None
        The futility boundary (z per look) simulated, or None.
    """

    _estimates = {"rejected_any_look": MEAN, "rejected_final": MEAN, "expected_visitors_per_arm": MEAN,
                  "stopped_futility": MEAN}
    _combine_fields = {"first_rejection_look": SUM, "cumulative_rejection": MEAN, "futility_look": SUM}
    _target_estimates = ("rejected_any_look", "rejected_final")  # expected_visitors_per_arm is in visitors
    _replicates = "n_sims"
    _chunk_size = 200_000

    rejected_any_look: float
    rejected_any_look_se: float
    rejected_final: float
    rejected_final_se: float
    first_rejection_look: np.ndarray = field(repr=False)
    cumulative_rejection: np.ndarray = field(repr=False)
    cumulative_rejection_se: np.ndarray = field(repr=False)
    expected_visitors_per_arm: float
    expected_visitors_per_arm_se: float
    stopped_futility: float
    stopped_futility_se: float
    futility_look: np.ndarray = field(repr=False)
    critical_values: np.ndarray = field(repr=False)
    nominal_alpha: np.ndarray = field(repr=False)
    visitors_per_look: np.ndarray = field(repr=False)
    n_sims: int
    n_looks: int
    total_visitors: int | None
    metric: str
    rate: float
    mean: float
    sd: float
    lift: float
    test: str
    alpha: float
    alternative: str
    boundary: str
    tau: float | None
    futility_values: np.ndarray | None = field(default=None, repr=False)

    def to_frame(self) -> pd.DataFrame:
        """One row per look, ready to plot: cumulative visitors, critical value, rejections and their SEs.

        Columns: look, visitors_per_arm (cumulative), critical_value, nominal_alpha, first_rejections,
        first_rejection_rate, cumulative_rejection, cumulative_rejection_se, and with a futility boundary
        futility_value and futility_stops.
        """
        import pandas as pd

        n = self.n_sims
        return pd.DataFrame(
            {
                "look": np.arange(1, self.n_looks + 1),
                "visitors_per_arm": np.cumsum(self.visitors_per_look),
                "critical_value": self.critical_values,
                "nominal_alpha": self.nominal_alpha,
                "first_rejections": self.first_rejection_look,
                "first_rejection_rate": self.first_rejection_look / n,
                "cumulative_rejection": self.cumulative_rejection,
                "cumulative_rejection_se": self.cumulative_rejection_se,
                **({} if self.futility_values is None else
                   {"futility_value": self.futility_values, "futility_stops": self.futility_look}),
            }
        )


def _msprt_default_tau2(alpha, final_var):
    """Mixing variance that minimises the last look's critical |z|: tau^2 = c* V_K.

    With tau^2 = c V_K the mSPRT rejects at the last look when z^2 >= (1 + 1/c)(2 log(1/alpha) + log(1 + c));
    c* (about 8 at alpha = 0.05) minimises that threshold, so the default spends its power where a
    fixed-horizon design would (Johari, Pekelis & Walsh 2022 tune tau to the effects of interest).
    """
    from scipy import optimize

    log_inv = math.log(1.0 / alpha)
    res = optimize.minimize_scalar(
        lambda lc: (1.0 + math.exp(-lc)) * (2.0 * log_inv + math.log1p(math.exp(lc))),
        bounds=(-10.0, 15.0),
        method="bounded",
        options={"xatol": 1e-10},
    )
    return math.exp(res.x) * final_var


def _critical_band(test, alternative, levels, n_cum):
    """(sure, never) thresholds on the directional statistic bracketing each look's critical value."""
    from scipy.special import ndtri, stdtrit

    levels = np.asarray(levels, dtype=np.float64)
    tail = levels / 2.0 if alternative == 0 else levels
    n_cum = np.asarray(n_cum, dtype=np.float64)

    def t_isf(q, df):
        # Upper-tail quantile via the lower tail (symmetry) to keep precision for small q; nan where df <= 0.
        return np.where(df > 0, -stdtrit(np.maximum(df, 1.0), q), np.nan)

    with np.errstate(invalid="ignore", divide="ignore"):
        if test == TESTS["z"]:
            lo = hi = -ndtri(tail)
        elif test == TESTS["t"]:
            lo = hi = t_isf(tail, 2.0 * n_cum - 2.0)
        else:  # Welch: df lies in [n - 1, 2n - 2] for equal arms, and the quantile falls as df grows
            hi = t_isf(tail, n_cum - 1.0)
            lo = t_isf(tail, 2.0 * n_cum - 2.0)
    hi = np.asarray(hi, dtype=np.float64)
    lo = np.asarray(lo, dtype=np.float64)
    with np.errstate(invalid="ignore"):  # inf - inf at infinite critical values: nan, handled below
        sure = hi + _BAND * (1.0 + np.abs(hi))
        never = lo - _BAND * (1.0 + np.abs(lo))
    # Undefined critical values (df <= 0): let the kernel compute the (nan) p-value itself.
    sure = np.where(np.isnan(sure), np.inf, sure)
    never = np.where(np.isnan(never), -np.inf, never)
    # A zero level never rejects, whatever the statistic.
    sure = np.where(levels <= 0.0, np.inf, sure)
    return np.ascontiguousarray(sure), np.ascontiguousarray(never)


def simulate_peeking(
    *,
    n_sims: int = 10_000,
    n_looks: int = 14,
    visitors_per_look: int | ArrayLike | None = None,
    total_visitors: int | None = None,
    metric: Literal["binary", "normal"] = "binary",
    rate: float = 0.10,
    mean: float = 0.0,
    sd: float = 1.0,
    lift: float = 0.0,
    test: Literal["t", "welch", "z", "msprt"] = "t",
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
    boundary: Literal["none", "pocock", "obrien-fleming", "ld-obrien-fleming", "ld-pocock", "hsd", "kim-demets"]
    | GroupSequentialDesignResult | ArrayLike = "none",
    tau: float | None = None,
    rng: SeedLike = None,
    progress: Progress = None,
    target_se: float | None = None,
    max_sims: int | None = None,
    futility: ArrayLike | None = None,
) -> SimulatePeekingResult:
    """Monte Carlo of an A/B (or A/A) test analysed at every look: the cost of peeking and of its fixes.

    Two arms: A, the control (conversion rate `rate`, or normal with mean `mean`), and B, the treatment
    (``rate + lift``, or ``mean + lift``).  Every look tests B against A, the difference B - A, as
    ``scipy.stats.ttest_ind(B, A)`` would: ``alternative="greater"`` means B is larger than A.

    Each of `n_sims` experiments adds `visitors_per_look` visitors to each arm before each of `n_looks`
    analyses (or splits `total_visitors` per arm over the looks), tests B against A on all data so far,
    and stops at the first rejection (repeated significance testing, Armitage, McPherson & Rowe 1969).
    Data are simulated through exact sufficient statistics: a
    binomial count per arm per look for binary data; for normal data each look's sum (normal) and
    within-look sum of squared deviations (sd^2 chi-square(m - 1)), merged across looks with the
    parallel-variance formula.  The results are therefore distributed exactly as with per-visitor draws, and
    memory does not grow with the number of visitors.

    Parameters
    ----------
    n_sims : int, default 10_000
        Number of simulated experiments, in [1, 10**9]; `n_sims` x `n_looks` x 2 is at most 10**12.
    n_looks : int, default 14
        Number of analyses per experiment, in [1, 10_000] (at most 1 000 with a named `boundary`).
    visitors_per_look : int or array_like of int, optional
        New visitors per arm before each look; an array of length `n_looks` gives unequal looks.  The total
        per arm over all looks is at most 2**53 (about 9e15), where counts stay exact in float64.  Default
        100 per look unless `total_visitors` is given.
    total_visitors : int, optional
        Instead of `visitors_per_look`: the maximum sample per arm, split over the `n_looks` looks as
        equally as possible (look k ends at ``round(k * total_visitors / n_looks)``, halves to even, so
        look sizes differ by at most one), so designs with different numbers of looks can be
        compared (and swept) at one maximum sample size.  At least `n_looks`.
    metric : {"binary", "normal"}
        Conversion data with rate `rate` (B has ``rate + lift``), or normal data with `mean` and `sd`
        (B has ``mean + lift``).
    rate : float, default 0.10
        Conversion rate of A, in [0, 1] (binary only).
    mean, sd : float, default 0.0, 1.0
        Mean and standard deviation of A (normal only; `sd` > 0 is also B's sd).
    lift : float, default 0.0
        Absolute difference B - A; 0 is an A/A test (the rejection rate is a false-positive rate), otherwise
        it is power.  For binary data ``rate + lift`` must lie in [0, 1].
    test : {"t", "welch", "z", "msprt"}
        "t": pooled two-sample t-test, exactly ``scipy.stats.ttest_ind(B, A)`` on the per-visitor data;
        "welch": ``equal_var=False``; "z": pooled two-proportion z-test (binary) or z-test with known `sd`
        (normal); "msprt": mixture sequential probability ratio test (Johari, Pekelis & Walsh 2022) with a
        N(0, tau^2) mixture over the difference in means and a plug-in variance (per-arm Bernoulli variance
        for binary data, the pooled sample variance for normal data); its always-valid p-value is the running
        minimum of 1 / Lambda_k and it rejects once that is <= alpha.
    alpha : float, default 0.05
        Significance level, in (0, 1).
    alternative : {"two-sided", "less", "greater"}
        As in scipy for ``ttest_ind(B, A)``: "greater" tests whether B is larger than A (``lift > 0``),
        "less" whether B is smaller.  mSPRT is two-sided only.
    boundary : str, GroupSequentialDesignResult or array_like of shape (n_looks,)
        "none" tests every look at nominal `alpha` (naive peeking).  A named boundary ("pocock",
        "obrien-fleming", or a spending function "ld-obrien-fleming", "ld-pocock", "hsd", "kim-demets" with its
        default parameter) comes from `group_sequential_boundaries` with the information fractions of
        `visitors_per_look`; a `group_sequential_design` result gives its efficacy and futility boundaries (its
        information fractions must be those of `visitors_per_look`, its alternative this one); an array gives
        critical values of the z statistic (positive, inf for a look that never rejects).  Look k then
        rejects when its p-value is <= the nominal level of c_k (2 Phi(-c_k) two-sided, Phi(-c_k) one-sided),
        which for t-tests is the usual way of applying z-scale boundaries.  Must be "none" for mSPRT.
    futility : array_like of shape (n_looks,), optional
        Futility boundary on the z scale for a one-sided test ("greater" / "less"): look k stops the experiment
        without rejecting when its one-sided p-value is >= Phi(-f_k) (z <= f_k for a z-test; -inf: no futility
        stop at that look).  The simulation obeys it, so a non-binding design shows its type I error with
        futility obeyed.  Default: the design's, when `boundary` is one, else none.
    tau : float, optional
        mSPRT mixing standard deviation, in the units of the difference in means.  Default: tau^2 = c*
        sigma^2 (2 / N), with N the final visitors per arm, sigma^2 = sd^2 (normal) or rate (1 - rate) (binary;
        0.25 if rate is 0 or 1), and c* (about 8 at alpha = 0.05) the value that minimises the final look's
        critical |z|.  Only for ``test="msprt"``.
    rng : None, int, SeedSequence or Generator
        Randomness (SPEC 7); the same seed gives the same result on any number of threads.
    progress : None, True or False
        A progress bar on stderr: True always, False never, None (default) only when stderr is a
        terminal and the rest of the call is expected to take more than ~2 s.  A first call shows
        compiling the kernels as a step of its own.  Ctrl-C stops the call within about a second
        with a plain KeyboardInterrupt, whatever `progress` is.
    target_se : float, optional
        Precision on demand: run rounds of `n_sims` experiments (round i from the i-th child stream
        of `rng`) until the standard errors of the rates `rejected_any_look` and `rejected_final`
        are both at most `target_se`, or `max_sims` is reached (then a `TargetNotReachedWarning`).
        (`expected_visitors_per_arm` is in visitors, so it does not decide; its SE shrinks too.)
        Rounds combine exactly: counts add, rates are replicate-weighted means.  The result's
        `n_sims` is the total run; the same seed gives the same result.  Default: one run of `n_sims`.
    max_sims : int, optional
        Cap on the total experiments with `target_se` (default 1000 x `n_sims`, at most 10**9);
        at least `n_sims`.

    Returns
    -------
    SimulatePeekingResult
        Any-look and fixed-horizon rejection rates with standard errors, rejections per look, expected
        sample size; ``to_frame()`` gives one row per look.

    Notes
    -----
    Degenerate looks follow scipy: when both arms have zero variance and equal means (e.g. no conversions
    yet, or ``rate`` 0 or 1) the t statistic is 0/0, the p-value nan, and the look does not reject; when both
    have zero variance but different means, t = +-inf and p = 0 (Welch uses df = 1 there, as scipy does).
    The pooled z-test and mSPRT behave the same way.  Comparisons use ``p <= level``.

    Examples
    --------
    >>> import simengine
    >>> res = simengine.simulate_peeking(n_sims=1000, n_looks=14, visitors_per_look=100, rate=0.10, rng=1)
    >>> print(f"{res.rejected_any_look:.3f} +- {res.rejected_any_look_se:.3f}")
    0.199 +- 0.013
    >>> print(f"{res.rejected_final:.3f} +- {res.rejected_final_se:.3f}")
    0.055 +- 0.007
    >>> obf = simengine.simulate_peeking(n_sims=1000, boundary="obrien-fleming", rng=1)
    >>> obf.critical_values[[0, -1]].round(3)
    array([7.882, 2.107])
    >>> simengine.simulate_peeking(n_sims=1000, n_looks=3, total_visitors=1000, rng=1).visitors_per_look
    array([333, 334, 333])
    """
    n_sims = check_count_at_least_one(n_sims, "n_sims")
    progress = check_progress(progress)
    target_se, max_sims = check_target(target_se, max_sims, n_sims)
    n_looks = check_positive_int(n_looks, "n_looks", maximum=MAX_LOOKS)
    if total_visitors is None:
        visitors = _visitors(100 if visitors_per_look is None else visitors_per_look, n_looks)
    elif visitors_per_look is not None:
        raise ValueError(
            "give `visitors_per_look` or `total_visitors`, not both; got "
            f"visitors_per_look={visitors_per_look!r}, total_visitors={total_visitors!r}"[:200]
        )
    else:
        total_visitors = check_int(total_visitors, "total_visitors", minimum=1, maximum=MAX_VISITORS)
        visitors = _split_visitors(total_visitors, n_looks)
    check_work(n_sims * n_looks * 2, "`n_sims` x `n_looks` x 2 arms", unit="simulated looks")
    blocks = n_blocks(n_sims, BLOCK)
    if blocks * (n_looks * 8 + GENERATOR_BYTES) > 2**28:
        check_memory(blocks * (n_looks * 8 + GENERATOR_BYTES), "`n_sims` x `n_looks`",
                     what="per-block generators and rejection counts")
    metric = check_choice(metric, "metric", METRICS)
    test_name = check_choice(test, "test", TESTS)
    alpha = check_probability(alpha, "alpha")
    alt = alternative_code(alternative)
    if metric == "binary":
        rate = check_probability(rate, "rate", closed=True)
        lift = check_real(lift, "lift", low=-1.0, high=1.0)
        if not 0.0 <= rate + lift <= 1.0:
            raise ValueError(f"`lift` must keep B's rate `rate` + `lift` in [0, 1]; got {rate} + {lift}")
        mean = check_real(mean, "mean")
        sd = check_real(sd, "sd", low=0.0, low_inclusive=False)
        param_a, param_b = rate, rate + lift
    else:
        rate = check_probability(rate, "rate", closed=True)
        mean = check_real(mean, "mean")
        sd = check_real(sd, "sd", low=0.0, low_inclusive=False)
        lift = check_real(lift, "lift")
        param_a, param_b = mean, mean + lift
    scale, kernel_sd = 1.0, sd
    if metric == "normal" and not (
        _SD_RANGE[0] <= sd <= _SD_RANGE[1] and abs(mean) <= _MEAN_PER_SD * sd and abs(lift) <= _SD_RANGE[1]
    ):
        # Every test here is location-scale invariant, so simulate in units of `sd` about `mean`: with sd^2
        # under- or overflowing, or a mean a billion sds from zero, the raw sums lose the data (sd = 1e-300
        # made every A/A look reject, mean = 1e300 none).  An effect beyond 1e100 sds rejects surely either way.
        scale, kernel_sd = sd, 1.0
        param_a, param_b = 0.0, max(-_SD_RANGE[1], min(_SD_RANGE[1], lift / sd))
    if test_name == "msprt" and alt != 0:
        raise ValueError(f"`alternative` must be 'two-sided' when `test` is 'msprt'; got {alternative!r}")
    if tau is not None:
        if test_name != "msprt":
            raise ValueError(f"`tau` only applies to test='msprt'; got test={test_name!r} with tau={tau!r}")
        tau = check_real(tau, "tau", low=0.0, low_inclusive=False)
    boundary_name, critical, fut = _boundary(boundary, n_looks, alpha, alt, visitors, test_name, futility)
    ss = as_seed_sequence(rng)

    from scipy.special import ndtr, ndtri

    n_cum = np.cumsum(visitors)
    test_code = TESTS[test_name]
    tail_factor = 2.0 if alt == 0 else 1.0
    if test_name == "msprt":
        if tau is None:
            sigma2 = (
                kernel_sd * kernel_sd if metric == "normal" else (rate * (1.0 - rate) if 0.0 < rate < 1.0 else 0.25)
            )
            tau2 = _msprt_default_tau2(alpha, sigma2 * 2.0 / n_cum[-1])
            tau = math.sqrt(tau2) * scale
        else:
            tau_k = tau / scale  # in the kernel's units
            tau2 = tau_k * tau_k
        levels = np.full(n_looks, alpha)
        sure = never = np.full(n_looks, math.log(1.0 / alpha))
        final_sure = final_never = math.log(1.0 / alpha)
        critical = np.full(n_looks, np.nan)
    else:
        tau2 = 0.0
        if critical is None:
            levels = np.full(n_looks, alpha)
            critical = np.full(n_looks, -ndtri(alpha / tail_factor))
        else:
            levels = tail_factor * ndtr(-critical)
        sure, never = _critical_band(test_code, alt, levels, n_cum)
        fs, fn = _critical_band(test_code, alt, [alpha], n_cum[-1:])
        final_sure, final_never = float(fs[0]), float(fn[0])
    rows = [visitors, sure, never, levels]
    fut_levels = None
    if fut is not None:  # futile when the one-sided p-value is >= Phi(-f_k): the band of that level
        fut_levels = ndtr(-fut)
        fsure, fnever = _critical_band(test_code, alt, fut_levels, n_cum)
        rows += [fsure, fnever, fut_levels]
    looks = np.ascontiguousarray(np.stack(rows), dtype=np.float64)
    kernel_args = (
        looks, float(param_a), float(param_b), float(kernel_sd), alt, float(tau2), float(final_sure),
        float(final_never), float(alpha),
    )
    inputs = dict(
        critical_values=np.asarray(critical, dtype=np.float64), nominal_alpha=np.asarray(levels, dtype=np.float64),
        visitors_per_look=visitors, n_looks=n_looks, total_visitors=total_visitors, metric=metric, rate=rate,
        mean=mean, sd=sd, lift=lift, test=test_name, alpha=alpha, alternative=alternative, boundary=boundary_name,
        tau=tau if test_name == "msprt" else None, futility_values=fut,
    )

    def run(n, seed_seq):
        return _peeking_run(n, seed_seq, (METRICS[metric], test_code), kernel_args, n_cum, inputs, progress)

    if target_se is None:
        return run(n_sims, ss)
    res = until_target(lambda i: run(n_sims, child_seed_sequence(ss, i)), SimulatePeekingResult,
                       target_se=target_se, n_per_round=n_sims, max_sims=max_sims)
    # combine() adds counts as floats (exact below 2**53): give them back their integer dtype
    return dataclasses.replace(res, first_rejection_look=np.asarray(res.first_rejection_look).astype(np.int64),
                               futility_look=np.asarray(res.futility_look).astype(np.int64))


def _peeking_run(n_sims, ss, path, kernel_args, n_cum, inputs, progress):
    """One run of `n_sims` experiments from `ss`: the kernel of `path` (metric and test codes) over the blocks, in
    slices, then the reductions."""
    from simengine.kernels.sequential import BAND_KERNELS, PEEKING_KERNELS

    kernel = PEEKING_KERNELS[path]  # one kernel per metric and test, so a call compiles only its own path
    # t and Welch: first the kernel without p-values; a block with a look in the thin band around a critical value
    # runs again from its own stream with the p-values (same counts as if it had run so at once), so the Student-t
    # tail is compiled only by a call that needs it
    fast = BAND_KERNELS.get(path)
    blocks = n_blocks(n_sims, BLOCK)

    def block(b):
        reps = min(BLOCK, n_sims - b * BLOCK)
        if fast is not None:
            out = fast(np.random.Generator(np.random.PCG64(child_seed_sequence(ss, b))), reps, *kernel_args)
            if out[1] >= 0:
                return out
        g = np.random.Generator(np.random.PCG64(child_seed_sequence(ss, b)))
        return kernel(g, reps, *kernel_args)

    def run_slice(lo, hi):  # integer counts: summing per slice gives the same totals as any other order
        outs = threaded_blocks(block, lo, hi)
        return np.sum([f for f, _ in outs], axis=0), sum(n for _, n in outs)

    # ~0.4 us per experiment and look (a t-test p-value near the boundary) on a loaded machine
    parts = run_blocks(run_slice, blocks, progress=progress, desc="simulate_peeking", dispatchers=(fast or kernel,),
                       first=first_slice(BLOCK * len(n_cum) * 4e-7))
    counts = np.sum([f for f, _ in parts], axis=0)
    n_looks = len(n_cum)
    first, futile = counts[:n_looks], counts[n_looks:]  # the kernels' one array: rejections, then futility
    final = sum(n for _, n in parts)
    cumulative = np.cumsum(first) / n_sims
    any_look = float(cumulative[-1])
    fixed = float(final) / n_sims
    stopped_futility = float(futile.sum()) / n_sims
    stop_n = np.append(n_cum, n_cum[-1]).astype(np.float64)
    weights = np.append(first + futile, n_sims - first.sum() - futile.sum()).astype(np.float64)
    exp_n = float(weights @ stop_n) / n_sims
    var_n = float(weights @ (stop_n - exp_n) ** 2) / max(n_sims - 1, 1)
    return SimulatePeekingResult(
        rejected_any_look=any_look,
        rejected_any_look_se=float(proportion_se(any_look, n_sims)),
        rejected_final=fixed,
        rejected_final_se=float(proportion_se(fixed, n_sims)),
        first_rejection_look=first,
        cumulative_rejection=cumulative,
        cumulative_rejection_se=proportion_se(cumulative, n_sims),
        expected_visitors_per_arm=exp_n,
        expected_visitors_per_arm_se=math.sqrt(var_n / n_sims),
        stopped_futility=stopped_futility,
        stopped_futility_se=float(proportion_se(stopped_futility, n_sims)),
        futility_look=futile.astype(np.int64),
        n_sims=n_sims,
        **inputs,
    )


def _split_visitors(total_visitors, n_looks):
    """Visitors per arm added at each of `n_looks` looks, as equal as possible and summing to `total_visitors`.

    Look k ends at ``round(k * total_visitors / n_looks)`` visitors (exact integer arithmetic, halves to
    even), so look sizes differ by at most one.

    Examples
    --------
    >>> from simengine.sequential import _split_visitors
    >>> _split_visitors(1000, 3)
    array([333, 334, 333])
    >>> _split_visitors(10, 4)  # looks end at 2.5 -> 2, 5, 7.5 -> 8, 10
    array([2, 3, 3, 2])
    """
    total = check_int(total_visitors, "total_visitors", minimum=1, maximum=MAX_VISITORS)
    n_looks = check_positive_int(n_looks, "n_looks", maximum=MAX_LOOKS)
    if n_looks > total:
        raise ValueError(f"`total_visitors` must be at least `n_looks` = {n_looks} (one visitor per look); got {total}")
    # total = n_looks * base + rem: k * base <= 2**53 and k * rem < n_looks**2 <= 10**8 stay exact in int64
    base, rem = divmod(total, n_looks)
    k = np.arange(n_looks + 1, dtype=np.int64)
    q, r = np.divmod(k * rem, n_looks)
    edges = k * base + q
    edges += (2 * r > n_looks) | ((2 * r == n_looks) & (edges % 2 == 1))
    return np.diff(edges)


def _visitors(visitors_per_look, n_looks):
    v = visitors_per_look
    if isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)):
        if v < 1:
            raise ValueError(f"`visitors_per_look` must be >= 1; got {v}")
        if int(v) * n_looks > MAX_VISITORS:
            raise ValueError(
                f"`visitors_per_look` x `n_looks` = {int(v) * n_looks:.3g} visitors per arm; the limit is "
                f"2**53 = {MAX_VISITORS:.3g} (where counts stay exact in float64)"
            )
        return np.full(n_looks, int(v), dtype=np.int64)
    if v is None or isinstance(v, (numbers.Number, str, bytes, np.bool_, np.generic)):
        raise TypeError(f"`visitors_per_look` must be an integer or an array of integers; got {v!r}"[:160])
    arr = as_count_array(v, "visitors_per_look", ndim=1, minimum=1, maximum=MAX_VISITORS)
    if arr.shape[0] != n_looks:
        raise ValueError(
            f"`visitors_per_look` must have length `n_looks` = {n_looks}; got length {arr.shape[0]}"
        )
    # Each entry is <= 2**53 and there are <= 10**4 of them: an exact Python sum when int64 could overflow.
    total = int(arr.sum()) if int(arr.max()) <= _INT64_SAFE // n_looks else sum(arr.tolist())
    if total > MAX_VISITORS:
        raise ValueError(
            f"`visitors_per_look` sums to {total:.3g} visitors per arm over the looks; the limit is "
            f"2**53 = {MAX_VISITORS:.3g} (where counts stay exact in float64)"
        )
    return arr


_INT64_SAFE = 2**62


def _boundary(boundary, n_looks, alpha, alt, visitors, test_name, futility=None):
    """(name, critical z values or None for nominal alpha, futility z values or None)."""
    t = np.cumsum(visitors) / visitors.sum()
    fut = None
    if isinstance(boundary, GroupSequentialDesignResult):
        if test_name == "msprt":
            raise ValueError("`boundary` must be 'none' when `test` is 'msprt' (always valid); got a design")
        if boundary.efficacy.shape[0] != n_looks or not np.allclose(boundary.information, t, rtol=1e-9, atol=0):
            raise ValueError("`boundary` (a design) was made for other looks: its information fractions "
                             f"{np.round(boundary.information, 4).tolist()} are not those of `visitors_per_look` "
                             f"{np.round(t, 4).tolist()}; make it with information=visitors_per_look")
        if (boundary.alternative == "two-sided") != (alt == 0):
            raise ValueError(f"`boundary` is a {boundary.alternative!r} design; `alternative` must match it")
        if boundary.alpha != alpha:
            raise ValueError(f"`boundary` was designed at alpha = {boundary.alpha:g}; `alpha` must be the same "
                             f"(got {alpha:g}): it also sets the fixed-horizon test")
        name, crit = "design", np.asarray(boundary.efficacy, dtype=np.float64)
        fut = None if boundary.futility is None else np.asarray(boundary.futility, dtype=np.float64)
    elif isinstance(boundary, str):
        name = check_choice(boundary, "boundary", ("none",) + BOUNDARY_KINDS + SPENDING_KINDS)
        crit = None
        if name != "none":
            if test_name == "msprt":
                raise ValueError(f"`boundary` must be 'none' when `test` is 'msprt' (always valid); got {name!r}")
            if n_looks > MAX_BOUNDARY_LOOKS:
                raise ValueError(
                    f"`boundary` {name!r} is computed for at most {MAX_BOUNDARY_LOOKS} looks; got `n_looks` = "
                    f"{n_looks} (pass the critical values as an array instead)"
                )
            gamma, rho = _spending_parameters(name, None, None)  # a spending kind's default parameter
            crit = _boundaries(n_looks, alpha, name, alt == 0, t, "visitors_per_look", gamma, rho)
    else:
        crit = as_real_array(boundary, "boundary", ndim=1, finite=False)
        if crit.shape[0] != n_looks:
            raise ValueError(f"`boundary` must have length `n_looks` = {n_looks}; got length {crit.shape[0]}")
        if np.isnan(crit).any() or (crit <= 0).any():
            raise ValueError("`boundary` critical values must be positive (inf allowed), without NaN")
        if test_name == "msprt":
            raise ValueError("`boundary` must be 'none' when `test` is 'msprt' (always valid); got an array")
        name = "custom"
    if futility is not None:
        if fut is not None:
            raise ValueError("`futility` is already given by the design passed as `boundary`; pass one of them")
        fut = as_real_array(futility, "futility", ndim=1, finite=False)
        if fut.shape[0] != n_looks:
            raise ValueError(f"`futility` must have length `n_looks` = {n_looks}; got length {fut.shape[0]}")
        if np.isnan(fut).any() or np.isposinf(fut).any():
            raise ValueError("`futility` values must be finite or -inf (no stop at that look), without NaN")
    if fut is not None:
        if alt == 0:
            raise ValueError("`futility` needs a one-sided test (`alternative` 'greater' or 'less')")
        if test_name not in ("t", "z"):  # Welch's random df would need the p-value at every look
            raise ValueError(f"`futility` is simulated for test 't' or 'z'; got test={test_name!r}")
        from scipy.special import ndtri

        upper = crit if crit is not None else np.full(n_looks, -ndtri(alpha))
        if np.any(fut > upper + 1e-12):
            raise ValueError("`futility` must not exceed the efficacy critical value at any look")
    return name, crit, fut

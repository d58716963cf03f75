"""Bootstrap kernels: confidence intervals from one bootstrap distribution, and the resampling itself.

The interval helpers (``*_interval1``, ``boot_quantile1``, ``percentile_of_score1``,
``jackknife_accel_terms1``, ``bca_accel``) take one 1-D float64 bootstrap distribution, sorted
ascending with NaN last, and allocate nothing; they follow scipy.stats.bootstrap's formulas
(scipy 1.17 ``_resampling.py``: quantiles by ``scipy.stats.quantile``'s linear method, z0 by the
"mean" percentile of score, the jackknife acceleration of Efron & Tibshirani 1993, eq. 14.15).
Other kernel families (bootstrap coverage) call them, so their names and signatures stay.
No validation and no warnings here: the public layer (`simengine.bootstrap`) does both.
"""
import math

from simengine._jit import njit
from simengine.kernels.special import norm_cdf, norm_ppf

# `alternative` codes (scipy's meaning: "less" has low = -inf, "greater" has high = inf)
ALT_TWO_SIDED = 0
ALT_LESS = 1
ALT_GREATER = 2


# --------------------------------------------------------------------------- interval helpers


@njit
def boot_quantile1(sorted_theta, p):
    """Quantile `p` of the sorted 1-D float64 array `sorted_theta`, as scipy.stats.quantile's "linear" method.

    ``j + g = p (B - 1)`` with B = len(sorted_theta), result ``(1 - g) a[j] + g a[j + 1]`` computed as
    scipy does (``jg = p B + 1 - p``).  NaN if `p` is NaN or outside [0, 1], or if the array holds a
    NaN (it sorts last), as scipy's nan_policy="propagate".
    """
    n = sorted_theta.shape[0]
    if not (0.0 <= p <= 1.0) or n == 0:
        return math.nan
    if sorted_theta[n - 1] != sorted_theta[n - 1]:
        return math.nan
    jg = p * n + (1.0 - p)
    jp1 = math.floor(jg)
    g = jg - jp1
    j = jp1 - 1.0
    if j < 0.0:
        g = 0.0
    j = min(max(j, 0.0), n - 1.0)
    jp1 = min(max(jp1, 0.0), n - 1.0)
    return (1.0 - g) * sorted_theta[int(j)] + g * sorted_theta[int(jp1)]


@njit
def percentile_of_score1(sorted_theta, score):
    """``(#{theta < score} + #{theta <= score}) / (2 B)`` over the sorted array (scipy's BCa percentile of score).

    Two bisections; NaN entries (last) and a NaN `score` count as neither below nor equal.
    """
    n = sorted_theta.shape[0]
    lo = 0
    hi = n
    while lo < hi:  # first index with not (theta < score)
        mid = (lo + hi) // 2
        if sorted_theta[mid] < score:
            lo = mid + 1
        else:
            hi = mid
    below = lo
    hi = n
    while lo < hi:  # first index with not (theta <= score)
        mid = (lo + hi) // 2
        if sorted_theta[mid] <= score:
            lo = mid + 1
        else:
            hi = mid
    return (below + lo) / (2.0 * n)


@njit
def jackknife_accel_terms1(theta_jack):
    """One sample's terms of the BCa acceleration from its jackknife statistics ``theta_jack`` (1-D float64).

    Returns ``(sum(U**3) / m**3, sum(U**2) / m**2)`` with ``U = (m - 1) (mean(theta_jack) - theta_jack)``,
    m = len(theta_jack).  Several samples add their terms before `bca_accel`, as scipy does.
    """
    m = theta_jack.shape[0]
    s = 0.0
    for i in range(m):
        s += theta_jack[i]
    mean = s / m
    num = 0.0
    den = 0.0
    for i in range(m):
        u = (m - 1.0) * (mean - theta_jack[i])
        u2 = u * u
        num += u2 * u
        den += u2
    return num / (float(m) ** 3), den / (float(m) ** 2)


@njit
def bca_accel(num, den):
    """The BCa acceleration ``num / (6 den**1.5)`` from summed `jackknife_accel_terms1` (NaN when den = 0)."""
    return 1.0 / 6.0 * num / den**1.5


@njit
def _alpha(confidence_level, alternative):
    """Tail probability of each end: half of 1 - level for a two-sided interval, all of it for one-sided."""
    if alternative == ALT_TWO_SIDED:
        return (1.0 - confidence_level) / 2.0
    return 1.0 - confidence_level


@njit
def _one_sided(low, high, alternative):
    if alternative == ALT_LESS:
        return -math.inf, high
    if alternative == ALT_GREATER:
        return low, math.inf
    return low, high


@njit
def percentile_interval1(sorted_theta, confidence_level, alternative):
    """Percentile interval ``(low, high)`` of a sorted bootstrap distribution.

    ``alternative``: ALT_TWO_SIDED (0), ALT_LESS (1, low = -inf) or ALT_GREATER (2, high = inf).
    """
    alpha = _alpha(confidence_level, alternative)
    low = boot_quantile1(sorted_theta, alpha)
    high = boot_quantile1(sorted_theta, 1.0 - alpha)
    return _one_sided(low, high, alternative)


@njit
def basic_interval1(sorted_theta, theta_hat, confidence_level, alternative):
    """Basic ("reverse percentile") interval ``(2 theta_hat - q_high, 2 theta_hat - q_low)``."""
    alpha = _alpha(confidence_level, alternative)
    q_low = boot_quantile1(sorted_theta, alpha)
    q_high = boot_quantile1(sorted_theta, 1.0 - alpha)
    return _one_sided(2.0 * theta_hat - q_high, 2.0 * theta_hat - q_low, alternative)


@njit
def bca_levels1(sorted_theta, theta_hat, accel, alpha):
    """BCa's adjusted quantile levels ``(alpha_1, alpha_2)`` for tail probability `alpha` (scipy's formulas)."""
    z0 = norm_ppf(percentile_of_score1(sorted_theta, theta_hat))
    z_alpha = norm_ppf(alpha)
    num1 = z0 + z_alpha
    alpha_1 = norm_cdf(z0 + num1 / (1.0 - accel * num1))
    num2 = z0 - z_alpha
    alpha_2 = norm_cdf(z0 + num2 / (1.0 - accel * num2))
    return alpha_1, alpha_2


@njit
def bca_interval1(sorted_theta, theta_hat, accel, confidence_level, alternative):
    """Bias-corrected and accelerated interval of a sorted bootstrap distribution.

    `theta_hat` is the statistic of the data, `accel` the acceleration (`bca_accel`).  NaN ends
    where scipy gives NaN (a NaN acceleration, e.g. a statistic constant under the jackknife).
    """
    alpha_1, alpha_2 = bca_levels1(sorted_theta, theta_hat, accel, _alpha(confidence_level, alternative))
    low = boot_quantile1(sorted_theta, alpha_1)
    high = boot_quantile1(sorted_theta, alpha_2)
    return _one_sided(low, high, alternative)

"""Scalar two-sample test statistics from sufficient statistics, shared by every simulator.

`alternative` is an int code (see `simengine._validate.ALTERNATIVES`):
0 two-sided, 1 less, 2 greater.  Degenerate inputs (zero variance) follow
NumPy arithmetic like scipy: a nonzero difference over zero spread gives
t = +-inf and p = 0; a zero difference gives nan.
"""
import math

from simengine._jit import njit
from simengine.kernels import special

TWO_SIDED = 0
LESS = 1
GREATER = 2


@njit
def _pvalue_t1(t, df, alternative):
    """p-value of a t statistic with `df` degrees of freedom."""
    if math.isnan(t) or math.isnan(df):
        return math.nan
    if alternative == TWO_SIDED:
        return special.t_pvalue_two_sided(t, df)
    if alternative == LESS:
        return special.t_cdf(t, df)
    return special.t_sf(t, df)


@njit
def _pvalue_z1(z, alternative):
    """p-value of a standard-normal statistic."""
    if math.isnan(z):
        return math.nan
    if alternative == TWO_SIDED:
        return 2.0 * special.norm_sf(abs(z))
    if alternative == LESS:
        return special.norm_cdf(z)
    return special.norm_sf(z)


@njit
def _ttest_pooled1(n1, mean1, ssd1, n2, mean2, ssd2):
    """Student's pooled-variance t for sample 1 minus sample 2.

    `ssd` is the sum of squared deviations from the sample mean.  Returns (t, df),
    matching scipy.stats.ttest_ind(sample1, sample2, equal_var=True).
    """
    df = n1 + n2 - 2.0
    var = (ssd1 + ssd2) / df
    denom = math.sqrt(var * (1.0 / n1 + 1.0 / n2))
    return (mean1 - mean2) / denom, df


@njit
def _ttest_welch1(n1, mean1, ssd1, n2, mean2, ssd2):
    """Welch's t and Welch-Satterthwaite df for sample 1 minus sample 2 (scipy's equal_var=False)."""
    v1 = ssd1 / (n1 - 1.0) / n1
    v2 = ssd2 / (n2 - 1.0) / n2
    denom = math.sqrt(v1 + v2)
    df = (v1 + v2) ** 2 / (v1 * v1 / (n1 - 1.0) + v2 * v2 / (n2 - 1.0))
    return (mean1 - mean2) / denom, df


@njit
def _ztest_prop_pooled1(k1, n1, k2, n2):
    """Pooled two-proportion z for sample 1 minus sample 2 (statsmodels' proportions_ztest default)."""
    p1 = k1 / n1
    p2 = k2 / n2
    p = (k1 + k2) / (n1 + n2)
    denom = math.sqrt(p * (1.0 - p) * (1.0 / n1 + 1.0 / n2))
    return (p1 - p2) / denom

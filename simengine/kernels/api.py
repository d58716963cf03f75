"""Public @njit kernels for other numba code: test statistics and p-values from sufficient statistics,
DDM and ADWIN step functions, PSI of a block, Beta/binomial helpers.

Thin, documented entry points to the private kernels simengine itself runs, so a user's @njit
function gets the same numbers as the public layer.  Like every kernel they do not validate: bad
arguments give nan (or the documented result), never an exception, with the one exception of a
state array of the wrong size, which would otherwise be written past its end.  The special
functions (normal, Student t, beta) are in `simengine.kernels.special`; the stable set of both
modules is `simengine.kernels.__all__`.
"""
import math

import numpy as np

from simengine._jit import njit
from simengine.kernels import bayes as _bayes, drift as _drift, special as _special, twosample as _ts

__all__ = [
    # distributions not in `special`
    "t_isf",
    "beta_cdf",
    "beta_sf",
    "beta_ppf",
    "beta_isf",
    "binom_pmf",
    "binom_cdf",
    "binom_sf",
    # two-sample tests from sufficient statistics
    "TWO_SIDED",
    "LESS",
    "GREATER",
    "mean_var",
    "student_t_from_stats",
    "welch_t_from_stats",
    "t_pvalue",
    "z_pvalue",
    "two_proportion_z",
    "mannwhitneyu_u",
    "mannwhitneyu_z",
    "mannwhitneyu_pvalue",
    "mannwhitneyu_asymptotic",
    # drift detection
    "ddm_state",
    "ddm_update",
    "ddm_drift_detected",
    "ddm_n",
    "ddm_error_rate",
    "adwin_state",
    "adwin_update",
    "adwin_drift_detected",
    "adwin_width",
    "adwin_estimation",
    "adwin_variance",
    "adwin_n_detections",
    "psi_bin_counts",
    "psi_from_counts",
    "psi_block",
    # Beta-Binomial A/B
    "beta_prob_greater",
    "bayes_ab_beta",
]

#: ``alternative`` codes of the p-value kernels (scipy's names: "two-sided", "less", "greater").
TWO_SIDED = _ts.TWO_SIDED
LESS = _ts.LESS
GREATER = _ts.GREATER


# --------------------------------------------------------------------------- distributions


@njit
def t_isf(q, df):
    """Student t inverse survival function: the t with P(T > t) = q (scipy.stats.t.isf).

    Signature ``t_isf(q: float64, df: float64) -> float64``.

    Parameters
    ----------
    q : float64
        Upper-tail probability in [0, 1].
    df : float64
        Degrees of freedom, > 0; ``inf`` gives the normal quantile.

    Returns
    -------
    float64
        ``-t_ppf(q, df)``, exact by symmetry, so tiny `q` keeps full relative accuracy.  q = 0 gives
        inf, q = 1 gives -inf; nan for NaN or q outside [0, 1] or df <= 0.
    """
    return -_special.t_ppf(q, df)


@njit
def beta_cdf(x, a, b):
    """Beta(a, b) distribution function P(X <= x) (scipy.stats.beta.cdf(x, a, b)).

    Signature ``beta_cdf(x: float64, a: float64, b: float64) -> float64``.

    Parameters
    ----------
    x : float64
        Point; below 0 gives 0, above 1 gives 1.
    a, b : float64
        Shape parameters, > 0 and finite.

    Returns
    -------
    float64
        The regularised incomplete beta I_x(a, b); nan if any argument is NaN or a shape is not in
        (0, inf).
    """
    if math.isnan(x):
        return math.nan
    if x <= 0.0 or x >= 1.0:
        if not (0.0 < a < math.inf and 0.0 < b < math.inf):
            return math.nan
        return 0.0 if x <= 0.0 else 1.0
    return _special.betainc(a, b, x)


@njit
def beta_sf(x, a, b):
    """Beta(a, b) survival function P(X > x) (scipy.stats.beta.sf(x, a, b)), accurate when small.

    Signature ``beta_sf(x: float64, a: float64, b: float64) -> float64``.

    Parameters
    ----------
    x : float64
        Point; below 0 gives 1, above 1 gives 0.
    a, b : float64
        Shape parameters, > 0 and finite.

    Returns
    -------
    float64
        1 - I_x(a, b), computed directly (no cancellation); nan if any argument is NaN or a shape is
        not in (0, inf).
    """
    if math.isnan(x):
        return math.nan
    if x <= 0.0 or x >= 1.0:
        if not (0.0 < a < math.inf and 0.0 < b < math.inf):
            return math.nan
        return 1.0 if x <= 0.0 else 0.0
    return _special.betaincc(a, b, x)


@njit
def _beta_root(target, upper, a, b):
    """x with I_x(a, b) = target (or 1 - I_x(a, b) = target if `upper`), for 0 < target <= 1/2.

    Newton on log(tail) - log(target), a near-linear function in the tails, stepping in log x
    while x <= 1/2 and in log(1 - x) above (both tails are close to powers there), and kept
    inside a bracket [lo, hi] on the root: a step that leaves it bisects it instead
    (geometrically while it spans decades).  Both tails are computed directly, never as
    1 - the other, so the residual keeps its relative accuracy.
    """
    lt = math.log(target)
    lbeta = _special.betaln(a, b)
    # start: the power-law form of the tail that is solved, I_x ~ x^a / (a B(a, b)), else the mean
    if upper:
        ly = (lt + math.log(b) + lbeta) / b
        x = 1.0 - math.exp(ly) if ly < -0.7 else a / (a + b)
    else:
        lx = (lt + math.log(a) + lbeta) / a
        x = math.exp(lx) if lx < -0.7 else a / (a + b)
    lo = 0.0
    hi = 1.0
    for _ in range(400):
        tail = _special.betaincc(a, b, x) if upper else _special.betainc(a, b, x)
        if tail > 0.0:
            ltail = math.log(tail)
            h = ltail - lt
        else:  # the tail underflowed: far beyond the root
            ltail = -math.inf
            h = -math.inf
        if h == 0.0:
            return x
        if (h < 0.0) != upper:  # the lower tail grows with x, the upper one shrinks
            lo = x
        else:
            hi = x
        # d log(tail) / dx = +-pdf(x) / tail
        slope = math.exp(_special.beta_logpdf(x, a, b) - ltail)
        if upper:
            slope = -slope
        if x <= 0.5:
            x_new = x * math.exp(-h / (slope * x))
        else:
            y = 1.0 - x
            x_new = 1.0 - y * math.exp(h / (slope * y))
        if not (lo < x_new < hi):  # also catches nan steps
            if lo == 0.0 and hi <= 0.5:
                x_new = hi * 1e-4
            elif hi == 1.0 and lo >= 0.5:
                x_new = 1.0 - (1.0 - lo) * 1e-4
            elif 0.0 < lo and hi <= 0.5 and hi > 16.0 * lo:
                x_new = math.sqrt(lo) * math.sqrt(hi)
            elif lo >= 0.5 and hi < 1.0 and (1.0 - lo) > 16.0 * (1.0 - hi):
                x_new = 1.0 - math.sqrt(1.0 - lo) * math.sqrt(1.0 - hi)
            else:
                x_new = 0.5 * (lo + hi)
            if not (lo < x_new < hi):  # the geometric point rounded onto an end
                x_new = 0.5 * (lo + hi)
        if abs(x_new - x) <= 1e-15 * min(x_new, 1.0 - x_new) or x_new == x:
            return x_new
        x = x_new
    return x


@njit
def _beta_quantile_args_ok(q, a, b):
    return 0.0 <= q <= 1.0 and 0.0 < a < math.inf and 0.0 < b < math.inf


@njit
def beta_ppf(p, a, b):
    """Beta(a, b) quantile: the x with P(X <= x) = p (scipy.stats.beta.ppf(p, a, b)).

    Signature ``beta_ppf(p: float64, a: float64, b: float64) -> float64``.

    Parameters
    ----------
    p : float64
        Lower-tail probability in [0, 1].
    a, b : float64
        Shape parameters, > 0 and finite.

    Returns
    -------
    float64
        The quantile in [0, 1]: 0 for p = 0, 1 for p = 1; nan for NaN, p outside [0, 1] or a shape
        not in (0, inf).  The smaller of the two tails is solved for (p > 1/2 through the upper
        tail 1 - p), so a tiny tail keeps full relative accuracy; use `beta_isf` for an upper
        quantile with tiny q.
    """
    if not _beta_quantile_args_ok(p, a, b):
        return math.nan
    if p == 0.0:
        return 0.0
    if p == 1.0:
        return 1.0
    if p <= 0.5:
        return _beta_root(p, False, float(a), float(b))
    return _beta_root(1.0 - p, True, float(a), float(b))  # 1 - p is exact for p >= 1/2


@njit
def beta_isf(q, a, b):
    """Beta(a, b) inverse survival function: the x with P(X > x) = q (scipy.stats.beta.isf(q, a, b)).

    Signature ``beta_isf(q: float64, a: float64, b: float64) -> float64``.  Use it for upper
    quantiles with a tiny q, where ``beta_ppf(1 - q, a, b)`` would lose q to rounding.

    Parameters
    ----------
    q : float64
        Upper-tail probability in [0, 1].
    a, b : float64
        Shape parameters, > 0 and finite.

    Returns
    -------
    float64
        The quantile in [0, 1]: 1 for q = 0, 0 for q = 1; nan for NaN, q outside [0, 1] or a shape
        not in (0, inf).
    """
    if not _beta_quantile_args_ok(q, a, b):
        return math.nan
    if q == 0.0:
        return 1.0
    if q == 1.0:
        return 0.0
    if q <= 0.5:
        return _beta_root(q, True, float(a), float(b))
    return _beta_root(1.0 - q, False, float(a), float(b))


@njit
def _binom_args_ok(n, p):
    return 0.0 <= n < math.inf and n == np.floor(n) and 0.0 <= p <= 1.0


@njit
def binom_pmf(k, n, p):
    """Binomial(n, p) probability P(X = k) (scipy.stats.binom.pmf).

    Signature ``binom_pmf(k: float64, n: float64, p: float64) -> float64``; int64 arguments are
    accepted and give the same numbers.

    Parameters
    ----------
    k : float64
        Number of successes; a non-integer or a value outside [0, n] gives 0.
    n : float64
        Number of trials, a whole number >= 0.
    p : float64
        Success probability in [0, 1].

    Returns
    -------
    float64
        C(n, k) p^k (1 - p)^(n - k), formed in logs from the Beta density (Beta(k+1, n-k+1) at p,
        divided by n + 1) so it stays accurate for large n; nan for NaN arguments, n not a whole
        number >= 0, or p outside [0, 1].
    """
    k = float(k)
    n = float(n)
    p = float(p)
    if math.isnan(k) or not _binom_args_ok(n, p):
        return math.nan
    if k < 0.0 or k > n or k != np.floor(k):
        return 0.0
    if p == 0.0:
        return 1.0 if k == 0.0 else 0.0
    if p == 1.0:
        return 1.0 if k == n else 0.0
    return math.exp(_special.beta_logpdf(p, k + 1.0, n - k + 1.0) - math.log1p(n))


@njit
def binom_cdf(k, n, p):
    """Binomial(n, p) distribution function P(X <= k) (scipy.stats.binom.cdf).

    Signature ``binom_cdf(k: float64, n: float64, p: float64) -> float64``; int64 arguments are
    accepted and give the same numbers.

    Parameters
    ----------
    k : float64
        Number of successes; rounded down, as scipy does.
    n : float64
        Number of trials, a whole number >= 0.
    p : float64
        Success probability in [0, 1].

    Returns
    -------
    float64
        0 for k < 0, 1 for k >= n, otherwise 1 - I_p(k + 1, n - k) computed directly (accurate in the
        lower tail); nan for NaN arguments, n not a whole number >= 0, or p outside [0, 1].
    """
    k = np.floor(float(k))  # np.floor: math.floor gives an int, undefined for NaN
    n = float(n)
    p = float(p)
    if math.isnan(k) or not _binom_args_ok(n, p):
        return math.nan
    if k < 0.0:
        return 0.0
    if k >= n:
        return 1.0
    return _special.betaincc(k + 1.0, n - k, p)


@njit
def binom_sf(k, n, p):
    """Binomial(n, p) survival function P(X > k) (scipy.stats.binom.sf).

    Signature ``binom_sf(k: float64, n: float64, p: float64) -> float64``; int64 arguments are
    accepted and give the same numbers.

    Parameters
    ----------
    k : float64
        Number of successes; rounded down, as scipy does.
    n : float64
        Number of trials, a whole number >= 0.
    p : float64
        Success probability in [0, 1].

    Returns
    -------
    float64
        1 for k < 0, 0 for k >= n, otherwise I_p(k + 1, n - k) computed directly (accurate in the
        upper tail); nan for NaN arguments, n not a whole number >= 0, or p outside [0, 1].
    """
    k = np.floor(float(k))
    n = float(n)
    p = float(p)
    if math.isnan(k) or not _binom_args_ok(n, p):
        return math.nan
    if k < 0.0:
        return 1.0
    if k >= n:
        return 0.0
    return _special.betainc(k + 1.0, n - k, p)


# --------------------------------------------------------------------------- two-sample tests


@njit
def mean_var(x):
    """Sample mean and variance (ddof=1) of a 1-D array, the sufficient statistics of the t-tests.

    Signature ``mean_var(x: float64[:]) -> (float64, float64)``.

    Two passes on ``x - x[0]`` (the kernel `ttest_ind` uses): a constant sample gives a variance of
    exactly 0 and its value as the mean.

    Parameters
    ----------
    x : 1-D float64 array
        The sample (any stride).

    Returns
    -------
    mean, var : float64
        ``np.mean(x)`` and ``np.var(x, ddof=1)`` to rounding; var is nan for one value, both are nan
        for an empty array.  A NaN in `x` gives nan for both.
    """
    n = x.shape[0]
    if n == 0:
        return math.nan, math.nan
    m, ssd = _ts._mean_ssd_shifted1(x)
    return m, ssd / (n - 1.0) if n > 1 else math.nan


@njit
def student_t_from_stats(n1, mean1, var1, n2, mean2, var2):
    """Student's pooled-variance t statistic and degrees of freedom for sample 1 minus sample 2.

    Signature ``student_t_from_stats(n1, mean1, var1, n2, mean2, var2: float64) -> (float64,
    float64)``; int64 counts are accepted.  Same t and df as ``scipy.stats.ttest_ind_from_stats(mean1,
    sqrt(var1), n1, mean2, sqrt(var2), n2, equal_var=True)``.

    Parameters
    ----------
    n1, n2 : float64
        Sample sizes, n1 + n2 > 2.
    mean1, mean2 : float64
        Sample means.
    var1, var2 : float64
        Sample variances with ddof=1 (as `mean_var` returns them).

    Returns
    -------
    t, df : float64
        t = (mean1 - mean2) / sqrt(s_p^2 (1/n1 + 1/n2)) and df = n1 + n2 - 2.  A NaN mean or
        variance gives t = nan (df depends on the counts only: nan only for a NaN count); zero
        variances give t = +-inf for different means and nan for equal ones, as NumPy arithmetic
        does.  Turn t into a p-value with `t_pvalue`.
    """
    a = float(n1)
    b = float(n2)
    return _ts._ttest_pooled1(a, mean1, var1 * (a - 1.0), b, mean2, var2 * (b - 1.0))


@njit
def welch_t_from_stats(n1, mean1, var1, n2, mean2, var2):
    """Welch's t statistic and Welch-Satterthwaite degrees of freedom for sample 1 minus sample 2.

    Signature ``welch_t_from_stats(n1, mean1, var1, n2, mean2, var2: float64) -> (float64,
    float64)``; int64 counts are accepted.  Same t and df as ``scipy.stats.ttest_ind_from_stats(mean1,
    sqrt(var1), n1, mean2, sqrt(var2), n2, equal_var=False)``.

    Parameters
    ----------
    n1, n2 : float64
        Sample sizes, each >= 2.
    mean1, mean2 : float64
        Sample means.
    var1, var2 : float64
        Sample variances with ddof=1 (as `mean_var` returns them).

    Returns
    -------
    t, df : float64
        t = (mean1 - mean2) / sqrt(var1/n1 + var2/n2) and the Welch-Satterthwaite df (not rounded).
        A NaN input gives nan; zero variances give t = +-inf for different means and nan for equal
        ones, and df nan.  Turn t into a p-value with `t_pvalue`.
    """
    a = float(n1)
    b = float(n2)
    return _ts._ttest_welch1(a, mean1, var1 * (a - 1.0), b, mean2, var2 * (b - 1.0))


@njit
def t_pvalue(t, df, alternative):
    """p-value of a t statistic with `df` degrees of freedom, as scipy's t-tests compute it.

    Signature ``t_pvalue(t: float64, df: float64, alternative: int64) -> float64``.

    Parameters
    ----------
    t : float64
        Test statistic.
    df : float64
        Degrees of freedom, > 0 (need not be whole); ``inf`` gives the normal.
    alternative : int64
        `TWO_SIDED` (0): 2 P(T > |t|); `LESS` (1): P(T <= t); `GREATER` (2): P(T > t).  Any other
        value is taken as `GREATER`.

    Returns
    -------
    float64
        The p-value in [0, 1]; nan if t or df is NaN or df <= 0.
    """
    return _ts._pvalue_t1(t, df, alternative)


@njit
def z_pvalue(z, alternative):
    """p-value of a standard-normal test statistic.

    Signature ``z_pvalue(z: float64, alternative: int64) -> float64``.

    Parameters
    ----------
    z : float64
        Test statistic.
    alternative : int64
        `TWO_SIDED` (0): 2 P(Z > |z|); `LESS` (1): P(Z <= z); `GREATER` (2): P(Z > z).  Any other
        value is taken as `GREATER`.

    Returns
    -------
    float64
        The p-value in [0, 1]; nan if z is NaN.
    """
    return _ts._pvalue_z1(z, alternative)


@njit
def two_proportion_z(k1, n1, k2, n2):
    """Pooled two-proportion z statistic for sample 1 minus sample 2.

    Signature ``two_proportion_z(k1, n1, k2, n2: float64) -> float64``; int64 counts are accepted.
    The statistic of ``statsmodels.stats.proportion.proportions_ztest([k1, k2], [n1, n2])`` (its
    default pooled variance); its p-value is ``z_pvalue(z, alternative)``.

    Parameters
    ----------
    k1, k2 : float64
        Successes, 0 <= k <= n.
    n1, n2 : float64
        Trials, > 0.

    Returns
    -------
    float64
        (k1/n1 - k2/n2) / sqrt(p (1 - p) (1/n1 + 1/n2)) with p the pooled proportion; +-inf or nan
        when every trial succeeded or every trial failed (p = 0 or 1), nan for a NaN input.
    """
    return _ts._ztest_prop_pooled1(float(k1), float(n1), float(k2), float(n2))


@njit
def _has_nan(x):
    for i in range(x.shape[0]):
        if x[i] != x[i]:
            return True
    return False


@njit
def mannwhitneyu_u(x, y):
    """Mann-Whitney U of `x` (scipy's U1) and the tie term of the pooled sample.

    Signature ``mannwhitneyu_u(x: float64[:], y: float64[:]) -> (float64, float64)``.  O((n1 + n2)
    log(n1 + n2)): one stable sort of the pooled values, average ranks for ties.

    Parameters
    ----------
    x, y : 1-D float64 arrays
        The two samples, each non-empty.

    Returns
    -------
    u1, tie_term : float64
        U1 = (rank sum of x) - n1 (n1 + 1) / 2, the statistic scipy.stats.mannwhitneyu returns, and
        sum(t^3 - t) over groups of t tied values (0 without ties), the input of `mannwhitneyu_z`.
        Both are nan when either sample holds a NaN (scipy's nan_policy="propagate").
    """
    if _has_nan(x) or _has_nan(y):
        return math.nan, math.nan
    return _ts._mwu_u1(x, y)


@njit
def mannwhitneyu_z(u1, n1, n2, tie_term, use_continuity, alternative):
    """Standardised U of the normal approximation, scipy's convention (tie-corrected variance).

    Signature ``mannwhitneyu_z(u1: float64, n1: float64, n2: float64, tie_term: float64,
    use_continuity: bool, alternative: int64) -> float64``; int64 sizes are accepted.

    Parameters
    ----------
    u1 : float64
        U of the first sample (`mannwhitneyu_u`).
    n1, n2 : float64
        Sample sizes.
    tie_term : float64
        sum(t^3 - t) over tie groups (`mannwhitneyu_u`).
    use_continuity : bool
        Subtract 0.5 from |U - n1 n2 / 2| (scipy's default True).
    alternative : int64
        `GREATER` uses U1, `LESS` U2 = n1 n2 - U1, `TWO_SIDED` (or any other value) the larger of the
        two.

    Returns
    -------
    float64
        z such that the p-value is ``mannwhitneyu_pvalue(z, alternative)``; +-inf or nan when every
        value is tied (zero spread), nan for a NaN input.
    """
    return _ts._mwu_z1(u1, float(n1), float(n2), tie_term, use_continuity, alternative)


@njit
def mannwhitneyu_pvalue(z, alternative):
    """p-value of the Mann-Whitney normal approximation from `mannwhitneyu_z`'s z.

    Signature ``mannwhitneyu_pvalue(z: float64, alternative: int64) -> float64``.

    Parameters
    ----------
    z : float64
        Standardised U for this `alternative` (`mannwhitneyu_z`).
    alternative : int64
        `TWO_SIDED` (0) doubles the upper tail, clipped to 1; `LESS` (1) and `GREATER` (2) take the
        upper tail of their own z.

    Returns
    -------
    float64
        P(Z > z), doubled and clipped to 1 for `TWO_SIDED`, as scipy.stats.mannwhitneyu(...,
        method="asymptotic") computes it; nan for NaN z.
    """
    if math.isnan(z):
        return math.nan
    p = _special.norm_sf(z)
    if alternative == TWO_SIDED:
        p = min(1.0, 2.0 * p)
    return p


@njit
def mannwhitneyu_asymptotic(x, y, use_continuity, alternative):
    """Mann-Whitney U test with the normal approximation: `mannwhitneyu_u`, `_z` and `_pvalue` in one.

    Signature ``mannwhitneyu_asymptotic(x: float64[:], y: float64[:], use_continuity: bool,
    alternative: int64) -> (float64, float64)``.  Equals ``scipy.stats.mannwhitneyu(x, y,
    use_continuity, alternative, method="asymptotic")``.

    Parameters
    ----------
    x, y : 1-D float64 arrays
        The two samples, each non-empty.
    use_continuity : bool
        Continuity correction (scipy's default True).
    alternative : int64
        `TWO_SIDED`, `LESS` or `GREATER` (x is stochastically smaller / larger than y).

    Returns
    -------
    u1, pvalue : float64
        U of `x` and the p-value; both nan when either sample holds a NaN.
    """
    u1, tie_term = mannwhitneyu_u(x, y)
    z = mannwhitneyu_z(u1, x.shape[0], y.shape[0], tie_term, use_continuity, alternative)
    return u1, mannwhitneyu_pvalue(z, alternative)


# --------------------------------------------------------------------------- DDM


@njit
def ddm_state():
    """A fresh DDM detector state (Gama et al. 2004), to pass to `ddm_update`.

    Signature ``ddm_state() -> float64[:]``.  The array's layout is private: read it only through
    `ddm_drift_detected`, `ddm_n` and `ddm_error_rate`.

    Returns
    -------
    1-D float64 array
        The state of a detector that has seen nothing (`simengine.DDM()` after construction).
    """
    state = np.empty(_drift.DDM_STATE_SIZE)
    _drift._ddm_init(state)
    return state


@njit
def ddm_update(state, x, warning_threshold, drift_threshold, warm_start, reset):
    """One DDM update with error indicator `x`; the step `simengine.ddm` and `simengine.DDM` run.

    Signature ``ddm_update(state: float64[:], x: float64, warning_threshold: float64,
    drift_threshold: float64, warm_start: int64, reset: bool) -> int64``.

    Parameters
    ----------
    state : 1-D float64 array
        From `ddm_state`; updated in place.
    x : float64
        1.0 for an error, 0.0 for a correct prediction.
    warning_threshold, drift_threshold : float64
        Multiples of s_min above p_min + s_min that raise a warning / a drift (river's and
        `simengine.DDM`'s defaults: 2.0 and 3.0).
    warm_start : int64
        Samples seen before the test starts (default elsewhere: 30).
    reset : bool
        Restart the statistics at the update after a drift (`simengine.DDM`'s default True).

    Returns
    -------
    int64
        0 normal, 1 warning, 2 drift.  A NaN `x` makes the error rate nan for good: every later
        status is 0 (until a reset, which a nan rate never triggers).
    """
    return _drift._ddm_step(
        state, float(x), float(warning_threshold), float(drift_threshold), int(warm_start), bool(reset)
    )


@njit
def ddm_drift_detected(state):
    """True if the last `ddm_update` of `state` reported a drift (status 2).

    Signature ``ddm_drift_detected(state: float64[:]) -> bool``.

    Parameters
    ----------
    state : 1-D float64 array
        From `ddm_state`.

    Returns
    -------
    bool
        The drift flag of the last update (False before the first).
    """
    return state[5] != 0.0


@njit
def ddm_n(state):
    """Samples seen since the start or the last reset (`simengine.DDM.n`).

    Signature ``ddm_n(state: float64[:]) -> int64``.

    Parameters
    ----------
    state : 1-D float64 array
        From `ddm_state`.

    Returns
    -------
    int64
        The count.
    """
    return np.int64(state[0])


@njit
def ddm_error_rate(state):
    """Mean error rate of the samples since the start or the last reset (`simengine.DDM.error_rate`).

    Signature ``ddm_error_rate(state: float64[:]) -> float64``.

    Parameters
    ----------
    state : 1-D float64 array
        From `ddm_state`.

    Returns
    -------
    float64
        The rate; 0.0 before the first update, nan after a NaN update.
    """
    return state[1]


# --------------------------------------------------------------------------- ADWIN


@njit
def adwin_state(max_buckets):
    """A fresh ADWIN detector state (Bifet & Gavalda 2007, river's variant), for `adwin_update`.

    Signature ``adwin_state(max_buckets: int64) -> float64[:]``.  The array's layout is private: read
    it only through the `adwin_*` readers.

    Parameters
    ----------
    max_buckets : int64
        Buckets per level of the exponential histogram, 1 <= max_buckets <= 1000 (river's default 5);
        every `adwin_update` of this state must pass the same value.

    Returns
    -------
    1-D float64 array
        ``7 + 48 + 96 (max_buckets + 1)`` doubles: an empty window (`simengine.ADWIN()` after
        construction).
    """
    state = np.zeros(_drift._adwin_state_size(int(max_buckets)))
    _drift._adwin_init(state)
    return state


@njit
def adwin_update(state, x, delta, clock, max_buckets, min_window_length, grace_period):
    """One ADWIN update with value `x`; the step `simengine.adwin` and `simengine.ADWIN` run.

    Signature ``adwin_update(state: float64[:], x: float64, delta: float64, clock: int64,
    max_buckets: int64, min_window_length: int64, grace_period: int64) -> bool``.  Parameters in
    river's order; decisions bit for bit river's ``ADWIN.update``.

    Parameters
    ----------
    state : 1-D float64 array
        From ``adwin_state(max_buckets)``; updated in place.
    x : float64
        The new value, finite, |x| <= 1e100.
    delta : float64
        Confidence of the cut test, in (0, 1) (default elsewhere: 0.002).
    clock : int64
        Test for a cut every `clock` updates, >= 1 (32).
    max_buckets : int64
        The value `state` was made with (5).
    min_window_length : int64
        Smallest sub-window the cut test considers, >= 1 (5).
    grace_period : int64
        Updates before the first test, >= 1 (10).

    Returns
    -------
    bool
        True if the window was cut at this update (a drift).  A NaN or infinite `x` makes the window's
        sums nan for good: no later update detects anything.

    Raises
    ------
    ValueError
        If `state` does not have the size ``adwin_state(max_buckets)`` gives: the update would write
        past its end.
    """
    mb = int(max_buckets)
    if state.shape[0] != _drift._adwin_state_size(mb):
        raise ValueError("adwin_update: `state` was not made by adwin_state(max_buckets) for this `max_buckets`")
    return _drift._adwin_step(
        state, float(x), float(delta), mb, int(min_window_length), int(grace_period), int(clock)
    )


@njit
def adwin_drift_detected(state):
    """True if the last `adwin_update` of `state` cut the window (`simengine.ADWIN.drift_detected`).

    Signature ``adwin_drift_detected(state: float64[:]) -> bool``.

    Parameters
    ----------
    state : 1-D float64 array
        From `adwin_state`.

    Returns
    -------
    bool
        The drift flag of the last update (False before the first).
    """
    return state[5] != 0.0


@njit
def adwin_width(state):
    """Number of values in the window (`simengine.ADWIN.width`).

    Signature ``adwin_width(state: float64[:]) -> int64``.

    Parameters
    ----------
    state : 1-D float64 array
        From `adwin_state`.

    Returns
    -------
    int64
        The width.
    """
    return np.int64(state[0])


@njit
def adwin_estimation(state):
    """Mean of the window, 0.0 when it is empty (`simengine.ADWIN.estimation`).

    Signature ``adwin_estimation(state: float64[:]) -> float64``.

    Parameters
    ----------
    state : 1-D float64 array
        From `adwin_state`.

    Returns
    -------
    float64
        The mean; nan after a NaN update.
    """
    return state[1] / state[0] if state[0] > 0.0 else 0.0


@njit
def adwin_variance(state):
    """Variance of the window (sum of squared deviations / width), 0.0 when empty (`simengine.ADWIN.variance`).

    Signature ``adwin_variance(state: float64[:]) -> float64``.

    Parameters
    ----------
    state : 1-D float64 array
        From `adwin_state`.

    Returns
    -------
    float64
        The variance; nan after a NaN update.
    """
    return state[2] / state[0] if state[0] > 0.0 else 0.0


@njit
def adwin_n_detections(state):
    """Detections since the state was made (`simengine.ADWIN.n_detections`).

    Signature ``adwin_n_detections(state: float64[:]) -> int64``.

    Parameters
    ----------
    state : 1-D float64 array
        From `adwin_state`.

    Returns
    -------
    int64
        The count.
    """
    return np.int64(state[4])


# --------------------------------------------------------------------------- PSI


@njit
def psi_bin_counts(values, edges):
    """Histogram counts of a block of values for the PSI, NaN not counted.

    Signature ``psi_bin_counts(values: float64[:], edges: float64[:]) -> int64[:]``.

    Parameters
    ----------
    values : 1-D float64 array
        The block.  NaN values are skipped (``simengine.psi(..., nan_policy="omit")``).
    edges : 1-D float64 array
        k + 1 >= 2 sorted bin edges.  Bins are [e_i, e_i+1) with the last one closed, as np.histogram;
        values below the first edge count in bin 0 and values above the last in bin k - 1, as
        `simengine.psi` does.

    Returns
    -------
    1-D int64 array of length k
        Counts per bin (empty when `edges` has fewer than two values).
    """
    k = edges.shape[0] - 1
    counts = np.zeros(max(k, 0), dtype=np.int64)
    if k < 1:
        return counts
    for i in range(values.shape[0]):
        v = values[i]
        if v == v:
            counts[_drift._bin_index1(v, edges, 0.0, 0.0, False)] += 1
    return counts


@njit
def psi_from_counts(ref_counts, cur_counts, eps):
    """PSI from the bin counts of a reference and a current block.

    Signature ``psi_from_counts(ref_counts: int64[:], cur_counts: int64[:], eps: float64) -> float64``.

    Parameters
    ----------
    ref_counts, cur_counts : 1-D int64 arrays
        Counts per bin (`psi_bin_counts`) with the same bins; float64 counts are accepted.
    eps : float64
        Added to every proportion (`simengine.psi`'s default 1e-7), so an empty bin gives no infinity.

    Returns
    -------
    float64
        sum_b (c_b - r_b) ln(c_b / r_b) over the proportions plus `eps`, summed in bin order as
        `simengine.psi` sums; nan when a side has no value or the lengths differ.
    """
    if ref_counts.shape[0] != cur_counts.shape[0]:
        return math.nan
    return _drift._psi_from_counts1(ref_counts, ref_counts.sum(), cur_counts, cur_counts.sum(), eps)


@njit
def psi_block(reference, current, edges, eps):
    """PSI of a current block against a reference block on fixed bin edges.

    Signature ``psi_block(reference: float64[:], current: float64[:], edges: float64[:],
    eps: float64) -> float64``.  The same number as ``simengine.psi(reference, current, bins=edges, eps=eps,
    nan_policy="omit")``.

    Parameters
    ----------
    reference, current : 1-D float64 arrays
        The two blocks; NaN values are skipped.
    edges : 1-D float64 array
        k + 1 >= 2 sorted bin edges (see `psi_bin_counts`).
    eps : float64
        Added to every proportion.

    Returns
    -------
    float64
        The PSI; nan when a block has no non-NaN value or `edges` fewer than two values.
    """
    return psi_from_counts(psi_bin_counts(reference, edges), psi_bin_counts(current, edges), eps)


# --------------------------------------------------------------------------- Beta-Binomial A/B


@njit
def _beta_params_ok(a1, b1, a2, b2):
    return 0.0 < a1 < math.inf and 0.0 < b1 < math.inf and 0.0 < a2 < math.inf and 0.0 < b2 < math.inf


@njit
def beta_prob_greater(a1, b1, a2, b2):
    """P(X2 > X1) for independent X1 ~ Beta(a1, b1) and X2 ~ Beta(a2, b2): P(B beats A).

    Signature ``beta_prob_greater(a1, b1, a2, b2: float64) -> float64``.  With posteriors
    Beta(prior_a + successes, prior_b + failures) of arms A (1) and B (2) this is
    ``simengine.bayes_ab(...).prob_b_better``: Miller's exact sum over an integer parameter, or
    tanh-sinh quadrature (error below 1e-9) when none is an integer or the sum is too long.

    Parameters
    ----------
    a1, b1, a2, b2 : float64
        Beta parameters, > 0 and finite.

    Returns
    -------
    float64
        The probability in [0, 1]; nan if any parameter is NaN, <= 0 or infinite.
    """
    if not _beta_params_ok(a1, b1, a2, b2):
        return math.nan
    return _bayes._prob_greater1(float(a1), float(b1), float(a2), float(b2))


@njit
def bayes_ab_beta(a1, b1, a2, b2):
    """P(B > A) and both expected losses for A ~ Beta(a1, b1), B ~ Beta(a2, b2).

    Signature ``bayes_ab_beta(a1, b1, a2, b2: float64) -> (float64, float64, float64)``: the numbers
    of ``simengine.bayes_ab(..., method="exact")`` for those posteriors.

    Parameters
    ----------
    a1, b1, a2, b2 : float64
        Posterior Beta parameters of A and B, > 0 and finite.

    Returns
    -------
    prob_b_better, expected_loss_a, expected_loss_b : float64
        P(B > A), E[max(B - A, 0)] (the loss of keeping A) and E[max(A - B, 0)] (of choosing B); all
        nan if any parameter is NaN, <= 0 or infinite.
    """
    if not _beta_params_ok(a1, b1, a2, b2):
        return math.nan, math.nan, math.nan
    return _bayes._bayes_ab1(float(a1), float(b1), float(a2), float(b2))

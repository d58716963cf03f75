"""Scalar special functions that @njit kernels call: normal, Student t, beta and incomplete beta.

float64 scalars in and out, tested against scipy in tests/test_special.py.  No array
functions and no validation: a bad argument gives nan, never an exception.  The names in
`__all__` are part of the public kernel API (`simengine.kernels`); the others are internal.
"""
import math

import numpy as np

from simengine._jit import hjit, njit

__all__ = [
    "norm_pdf",
    "norm_cdf",
    "norm_sf",
    "norm_logcdf",
    "norm_ppf",
    "norm_isf",
    "t_pdf",
    "t_cdf",
    "t_sf",
    "t_ppf",
    "t_pvalue_two_sided",
    "betaln",
    "beta_logpdf",
    "betainc",
    "betaincc",
]

_LN_SQRT_2PI = 0.9189385332046728  # 0.5 * log(2 pi)
_INV_SQRT_2PI = 0.3989422804014327
_SQRT_2PI = 2.5066282746310002
_SQRT1_2 = 0.7071067811865476
_LN2 = 0.6931471805599453

# Stirling series B_2k / (2k (2k-1)) for k = 1..10: with z >= 10 the first omitted
# term is below 1e-20, far under the rounding of anything that adds stirlerr.
_S1 = 1.0 / 12.0
_S2 = -1.0 / 360.0
_S3 = 1.0 / 1260.0
_S4 = -1.0 / 1680.0
_S5 = 1.0 / 1188.0
_S6 = -691.0 / 360360.0
_S7 = 1.0 / 156.0
_S8 = -3617.0 / 122400.0
_S9 = 43867.0 / 244188.0
_S10 = -174611.0 / 125400.0

# Beta functions switch from lgamma/gamma to Stirling forms when an argument reaches this.
_LARGE = 10.0
# Incomplete-beta continued fraction: stop once a step changes it by < 5e-16.  After
# convergence c*d rounds to 1 - 1 ulp (1.1e-16) rather than 1, so a tighter tolerance is
# never met and the fraction then drifts by rounding.  Near the switch point
# x = (a+1)/(a+b+2) it needs about 0.4 sqrt(a+b) steps (1200 at a = b = 1e7); the cap is
# 5x that, and only bounds the time spent on arguments where it would not converge.
_CF_TOL = 5e-16
# Student t with more degrees of freedom than this is the normal to within
# t**4 / (4 df) < 1e-13 relative for every t with a representable tail.
_DF_NORMAL = 1e20


# --------------------------------------------------------------------------- normal


@njit
def norm_pdf(x):
    """Standard normal density (scipy.stats.norm.pdf).

    Signature ``norm_pdf(x: float64) -> float64``.

    Parameters
    ----------
    x : float64
        Point.

    Returns
    -------
    float64
        exp(-x^2 / 2) / sqrt(2 pi); 0 at +-inf, nan for NaN.
    """
    return _INV_SQRT_2PI * math.exp(-0.5 * x * x)


@njit
def norm_cdf(x):
    """Standard normal CDF P(Z <= x) (scipy.special.ndtr); erfc keeps relative accuracy deep in the lower tail.

    Signature ``norm_cdf(x: float64) -> float64``.

    Parameters
    ----------
    x : float64
        Point.

    Returns
    -------
    float64
        The probability; 0 at -inf, 1 at inf, nan for NaN.
    """
    return 0.5 * math.erfc(-x * _SQRT1_2)


@njit
def norm_sf(x):
    """Standard normal survival function P(Z > x) = 1 - CDF, accurate in the upper tail.

    Signature ``norm_sf(x: float64) -> float64``.

    Parameters
    ----------
    x : float64
        Point.

    Returns
    -------
    float64
        The probability; 1 at -inf, 0 at inf, nan for NaN.
    """
    return 0.5 * math.erfc(x * _SQRT1_2)


@njit
def norm_logcdf(x):
    """log of the standard normal CDF (scipy.special.log_ndtr), finite far beyond where the CDF underflows.

    Signature ``norm_logcdf(x: float64) -> float64``.

    Parameters
    ----------
    x : float64
        Point.

    Returns
    -------
    float64
        log P(Z <= x); -inf at -inf, 0 at inf, nan for NaN.
    """
    if x > 0.0:
        return math.log1p(-norm_sf(x))
    if x > -20.0:
        return math.log(norm_cdf(x))
    # Asymptotic series of the Mills ratio: CDF = pdf/|x| * sum (-1)^k (2k-1)!! / x^2k.
    # At |x| >= 20 its terms shrink by at least 1/400 each, so 12 terms are exact.
    r = 1.0 / (x * x)
    term = 1.0
    total = 1.0
    for k in range(1, 13):
        term *= -(2.0 * k - 1.0) * r
        total += term
    return -0.5 * x * x - math.log(-x) - _LN_SQRT_2PI + math.log(total)


@hjit
def _norm_ppf_lower(p):
    """Normal quantile for 0 < p <= 0.5 (result <= 0)."""
    if p > 0.4:
        # Inverse series of CDF - 1/2 about 0: exact sign and relative accuracy near p = 1/2.
        s = (p - 0.5) * _SQRT_2PI
        s2 = s * s
        x = s * (1.0 + s2 * (1.0 / 6.0 + s2 * (7.0 / 120.0)))
    else:
        # Abramowitz & Stegun 26.2.23, |error| < 4.5e-4: a start for Halley.
        t = math.sqrt(-2.0 * math.log(p))
        num = 2.515517 + t * (0.802853 + t * 0.010328)
        den = 1.0 + t * (1.432788 + t * (0.189269 + t * 0.001308))
        x = num / den - t
    if p < 1e-300:
        # The pdf would be subnormal here: Newton on log CDF(x) = log p instead,
        # with d/dx log CDF = pdf / CDF formed in logs.
        lp = math.log(p)
        for _ in range(8):
            lc = norm_logcdf(x)
            dx = (lc - lp) / math.exp(-0.5 * x * x - _LN_SQRT_2PI - lc)
            x -= dx
            if abs(dx) <= 1e-15 * abs(x):
                break
        return x
    for _ in range(8):
        if p > 0.25:
            # p - 1/2 is exact here and erf is relatively accurate near 0, so the
            # residual keeps full relative precision when the quantile is tiny.
            f = 0.5 * math.erf(x * _SQRT1_2) - (p - 0.5)
        else:
            f = norm_cdf(x) - p
        u = f / norm_pdf(x)
        # Halley: the second derivative of the CDF is -x * pdf.
        dx = u / (1.0 + 0.5 * x * u)
        x -= dx
        if abs(dx) <= 1e-15 * abs(x):
            break  # cubic convergence: the error left is far below rounding
    return x


@njit
def norm_ppf(p):
    """Standard normal quantile, the inverse CDF (scipy.special.ndtri).

    Signature ``norm_ppf(p: float64) -> float64``.

    Parameters
    ----------
    p : float64
        Lower-tail probability in [0, 1].

    Returns
    -------
    float64
        The z with P(Z <= z) = p; -inf for p = 0, inf for p = 1, nan for NaN or p outside [0, 1].
    """
    if not (0.0 <= p <= 1.0):
        return math.nan
    if p == 0.0:
        return -math.inf
    if p == 1.0:
        return math.inf
    if p <= 0.5:
        return _norm_ppf_lower(p)
    # 1 - p is exact for p >= 1/2, so this loses nothing.
    return -_norm_ppf_lower(1.0 - p)


@njit
def norm_isf(q):
    """Upper-tail normal quantile: the z with P(Z > z) = q, i.e. -norm_ppf(q), accurate for tiny q.

    Signature ``norm_isf(q: float64) -> float64``.

    Parameters
    ----------
    q : float64
        Upper-tail probability in [0, 1].

    Returns
    -------
    float64
        The quantile; inf for q = 0, -inf for q = 1, nan for NaN or q outside [0, 1].
    """
    if not (0.0 <= q <= 1.0):
        return math.nan
    if q == 0.0:
        return math.inf
    if q == 1.0:
        return -math.inf
    if q <= 0.5:
        return -_norm_ppf_lower(q)
    return _norm_ppf_lower(1.0 - q)


# --------------------------------------------------------------------------- beta function


@hjit
def _stirlerr(z):
    """Error of Stirling's formula: lgamma(z) - [(z - 1/2) log z - z + log(2 pi)/2]."""
    if z < _LARGE:
        return math.lgamma(z) - ((z - 0.5) * math.log(z) - z + _LN_SQRT_2PI)
    r = 1.0 / z
    r2 = r * r
    poly = _S8 + r2 * (_S9 + r2 * _S10)
    poly = _S4 + r2 * (_S5 + r2 * (_S6 + r2 * (_S7 + r2 * poly)))
    return r * (_S1 + r2 * (_S2 + r2 * (_S3 + r2 * poly)))


@njit
def stirlerr(z):
    """`_stirlerr` with a Python entry point (for tests)."""
    return _stirlerr(z)


@hjit
def _betaln(a, b):
    """`betaln` for kernels (no Python entry point: see `simengine._jit.hjit`)."""
    if a > b:
        a, b = b, a
    if not (a > 0.0) or b == math.inf or math.isnan(b):
        return math.nan
    if b < _LARGE:
        # gamma(b) / gamma(a + b) is an O(1) ratio: one rounding instead of a difference of lgammas.
        return math.lgamma(a) + math.log(math.gamma(b) / math.gamma(a + b))
    if a < _LARGE:
        # lgamma(a + b) - lgamma(b) by Stirling, written so no two huge terms cancel.
        shift = (a * math.log(b) + (a + b - 0.5) * math.log1p(a / b) - a
                 + _stirlerr(a + b) - _stirlerr(b))
        return math.lgamma(a) - shift
    s = a + b
    l1p = math.log1p(a / b)  # log(s / b), exact-ish even when a << b
    return (_LN_SQRT_2PI + a * math.log(a / s) - b * l1p + 0.5 * (l1p - math.log(a))
            + _stirlerr(a) + _stirlerr(b) - _stirlerr(s))


@njit
def betaln(a, b):
    """log of the Beta function B(a, b) (scipy.special.betaln), accurate for arguments up to 1e300.

    Signature ``betaln(a: float64, b: float64) -> float64``.

    Parameters
    ----------
    a, b : float64
        Arguments, > 0 and finite.

    Returns
    -------
    float64
        log B(a, b); nan for NaN, a or b <= 0, or an infinite argument.
    """
    return _betaln(a, b)


@hjit
def _log1pmx(u):
    """log(1 + u) - u without cancellation for small |u|."""
    if abs(u) > 0.5:
        return math.log1p(u) - u
    # log(1+u) = 2 atanh(s), s = u / (2 + u); and u - 2s = s*u exactly in real arithmetic,
    # so log(1+u) - u = -s*u + 2 (s^3/3 + s^5/5 + ...), with |s| <= 1/3.
    s = u / (2.0 + u)
    s2 = s * s
    power = s * s2
    acc = 0.0
    k = 3.0
    while True:
        term = power / k
        acc += term
        if abs(term) <= 1e-17 * abs(acc):
            break
        power *= s2
        k += 2.0
    return 2.0 * acc - s * u


@hjit
def _log_beta_power_terms(a, b, x, y):
    """log(x**a * y**b / B(a, b)) with y = 1 - x given separately."""
    if a < _LARGE or b < _LARGE:
        # Use the log of whichever of x, y is smaller directly; the other through log1p
        # of the small one, which is where the relative accuracy of the inputs sits.
        if x <= y:
            lx = math.log(x)
            ly = math.log1p(-x)
        else:
            lx = math.log1p(-y)
            ly = math.log(y)
        return a * lx + b * ly - _betaln(a, b)
    # Both large: x**a y**b / B is a ratio of numbers that each under/overflow.  With the
    # mode x0 = a/(a+b) and d = x*b - y*a = (a+b)(x - x0), x/x0 = 1 + d/a and
    # y/y0 = 1 - d/b; the linear parts of a*log(1 + d/a) and b*log(1 - d/b) cancel
    # exactly, so only log1p(u) - u terms are summed (Temme; DiDonato & Morris 1992).
    s = a + b
    d = x * b - y * a
    u = d / a
    if abs(u) <= 0.5:
        tx = a * _log1pmx(u)
    else:
        # Far from the mode 1 + d/a would lose x when x is tiny; use log(x / x0) itself,
        # as a sum so a subnormal x is not rounded again by a product.
        tx = a * (math.log(x) + math.log1p(b / a)) - d
    v = -d / b
    if abs(v) <= 0.5:
        ty = b * _log1pmx(v)
    else:
        ty = b * (math.log(y) + math.log1p(a / b)) + d
    return (tx + ty + 0.5 * math.log(a * (b / s)) - _LN_SQRT_2PI
            - (_stirlerr(a) + _stirlerr(b) - _stirlerr(s)))


@njit
def beta_power_terms(a, b, x, y):
    """x**a * y**b / B(a, b), with y = 1 - x passed separately so callers can give it accurately."""
    return math.exp(_log_beta_power_terms(a, b, x, y))


@njit
def beta_logpdf(x, a, b):
    """log density of Beta(a, b) at x (scipy.stats.beta.logpdf(x, a, b)).

    Signature ``beta_logpdf(x: float64, a: float64, b: float64) -> float64``.

    Parameters
    ----------
    x : float64
        Point.
    a, b : float64
        Shape parameters, > 0.

    Returns
    -------
    float64
        The log density; -inf outside [0, 1], scipy's convention at x = 0 and 1 (finite, inf or -inf
        by the shape); nan for NaN or a shape <= 0.
    """
    if math.isnan(x) or not (a > 0.0) or not (b > 0.0):
        return math.nan
    if x < 0.0 or x > 1.0:
        return -math.inf
    if x == 0.0:
        # scipy's convention at the edge of the support.
        if a == 1.0:
            return -_betaln(a, b)
        return math.inf if a < 1.0 else -math.inf
    if x == 1.0:
        if b == 1.0:
            return -_betaln(a, b)
        return math.inf if b < 1.0 else -math.inf
    y = 1.0 - x
    return _log_beta_power_terms(a, b, x, y) - math.log(x) - math.log1p(-x)


# --------------------------------------------------------------------------- incomplete beta


@hjit
def _betainc_cf(a, b, x, y):
    """I_x(a, b) divided by x**a y**b / (a B(a, b)), for x < (a + 1) / (a + b + 2).

    The Gauss continued fraction 1 / (1 + d1 / (1 + d2 / (1 + ...))) for 2F1(a+b, 1; a+1; x)
    (Numerical Recipes' betacf), contracted to its odd part so every partial denominator
    is 1 + d_2m + d_2m+1, and evaluated by modified Lentz.  Written with y = 1 - x when
    x > 1/2 those denominators have no cancellation for b <= 1 and x near 1: the case
    a = df/2, b = 1/2 of the Student t, where the plain fraction lost up to eps / y.
    """
    tiny = 1e-300
    use_y = x > 0.5
    am1bm1 = (a - 1.0) * (b - 1.0)
    if use_y:
        f = ((a + 1.0) * y - (b - 1.0) * x) / (a + 1.0)
    else:
        f = ((a + 1.0) - (a + b) * x) / (a + 1.0)
    if abs(f) < tiny:
        f = tiny
    c = f
    d = 0.0
    x2 = x * x
    # int(min(100 + 2 sqrt(a + b), 1e7)) written out (each builtin min / max / int call compiles a small
    # overload on a first call; these are the expressions numba evaluates, NaN included)
    n_max = 100.0 + 2.0 * math.sqrt(a + b)
    n_max = np.int64(1e7 if 1e7 < n_max else n_max)
    for m in range(1, n_max):
        fm = float(m)
        a2m = a + 2.0 * fm
        # -d_{2m-1} d_{2m}, as a product of O(1) ratios so large a cannot overflow it.
        num = ((a + fm - 1.0) / (a2m - 2.0)) * ((a + b + fm - 1.0) / (a2m - 1.0)) \
            * (fm / (a2m - 1.0)) * ((b - fm) / a2m) * x2
        if use_y:
            den = 2.0 * fm * (a + fm) - am1bm1 \
                + y * ((a + fm) * (a + fm) + fm * fm - a + b * (a - 1.0))
        else:
            den = a2m * a2m - 1.0 - x * ((a + fm) * (a + fm) + fm * fm - a + b * (a - 1.0))
        den /= a2m * a2m - 1.0
        d = den + num * d
        if abs(d) < tiny:
            d = tiny
        c = den + num / c
        if abs(c) < tiny:
            c = tiny
        d = 1.0 / d
        delta = c * d
        f *= delta
        if abs(delta - 1.0) <= _CF_TOL:
            break
    return 1.0 / f


@hjit
def _betainc_log_side(a, b, x, y):
    """(log w, lower) for 0 < x < 1: w = I_x(a, b) if lower else 1 - I_x(a, b).

    w is the side the continued fraction converges for, x < (a+1)/(a+b+2), so it is
    computed directly; its log stays finite when w itself underflows.
    """
    # Test the switch point through whichever of x, y is small: the other may have rounded to 1.
    if (x * (a + b + 2.0) < a + 1.0) if x <= 0.5 else (y * (a + b + 2.0) > b + 1.0):
        # Combined in logs: x**a y**b / B may be subnormal while the result is not.
        return _log_beta_power_terms(a, b, x, y) + math.log(_betainc_cf(a, b, x, y) / a), True
    return _log_beta_power_terms(b, a, y, x) + math.log(_betainc_cf(b, a, y, x) / b), False


@hjit
def _betainc_pair(a, b, x, y):
    """(I_x(a, b), 1 - I_x(a, b)), each computed directly where it is the small one."""
    if not (a > 0.0 and b > 0.0 and x >= 0.0 and y >= 0.0):
        return math.nan, math.nan
    if a == math.inf or b == math.inf:
        return math.nan, math.nan
    if x == 0.0:
        return 0.0, 1.0
    if y == 0.0:
        return 1.0, 0.0
    lw, lower = _betainc_log_side(a, b, x, y)
    w = math.exp(lw)
    w = 1.0 if 1.0 < w else w  # min(w, 1.0)
    if lower:
        return w, 1.0 - w
    return 1.0 - w, w


@njit
def _betainc_xy(a, b, x, y):
    """Regularized incomplete beta I_x(a, b) with y = 1 - x passed separately."""
    return _betainc_pair(a, b, x, y)[0]


@hjit
def _betainc(a, b, x):
    """`betainc` for kernels (no Python entry point: see `simengine._jit.hjit`)."""
    if not (0.0 <= x <= 1.0):
        return math.nan
    return _betainc_pair(a, b, x, 1.0 - x)[0]


@njit
def betainc(a, b, x):
    """Regularized incomplete beta function I_x(a, b) (scipy.special.betainc), the Beta(a, b) CDF at x.

    Signature ``betainc(a: float64, b: float64, x: float64) -> float64``.

    Parameters
    ----------
    a, b : float64
        Shape parameters, > 0 and finite.
    x : float64
        Point in [0, 1].

    Returns
    -------
    float64
        I_x(a, b); nan for NaN, x outside [0, 1], or a shape that is not in (0, inf).
    """
    return _betainc(a, b, x)


@njit
def betaincc(a, b, x):
    """Complement 1 - I_x(a, b) (scipy.special.betaincc), computed directly so small values keep their accuracy.

    Signature ``betaincc(a: float64, b: float64, x: float64) -> float64``.

    Parameters
    ----------
    a, b : float64
        Shape parameters, > 0 and finite.
    x : float64
        Point in [0, 1].

    Returns
    -------
    float64
        1 - I_x(a, b); nan for NaN, x outside [0, 1], or a shape that is not in (0, inf).
    """
    if not (0.0 <= x <= 1.0):
        return math.nan
    return _betainc_pair(a, b, x, 1.0 - x)[1]


# --------------------------------------------------------------------------- Student t


@hjit
def _t_log_far_tail(at, df):
    """log P(|T| > at) once x = df/(df+t^2) < 1e-20.

    The continued fraction and y**(1/2) are then 1 to double precision, and x may
    underflow, so log x = log df - 2 log|t| is used directly.
    """
    a = 0.5 * df
    return a * (math.log(df) - 2.0 * math.log(at)) - math.log(a) - _betaln(a, 0.5)


@hjit
def _t_two_tail(at, df):
    """For at = |t| >= 0: (P(|T| > at), P(|T| < at)) for T ~ t(df), both accurate."""
    if df > _DF_NORMAL:
        p = math.erfc(at * _SQRT1_2)
        return p, math.erf(at * _SQRT1_2)
    if at == math.inf:
        return 0.0, 1.0
    w = at * at / df  # inf or 0 at the extremes: both handled below
    if w > 1e20:
        return math.exp(_t_log_far_tail(at, df)), 1.0
    # x and y = 1 - x each computed directly: y is never formed as 1 - x.
    return _betainc_pair(0.5 * df, 0.5, 1.0 / (1.0 + w), w / (1.0 + w))


@hjit
def _t_log_two_tail(at, df):
    """log P(|T| > at) for 0 < at < inf and finite df, finite where the tail underflows."""
    w = at * at / df
    if w > 1e20:
        return _t_log_far_tail(at, df)
    lw, lower = _betainc_log_side(0.5 * df, 0.5, 1.0 / (1.0 + w), w / (1.0 + w))
    if lower:
        return lw
    return math.log1p(-math.exp(lw))


@njit
def t_pvalue_two_sided(t, df):
    """Two-sided p-value 2 P(T > |t|) = I_{df/(df+t^2)}(df/2, 1/2) for T ~ Student t(df).

    Signature ``t_pvalue_two_sided(t: float64, df: float64) -> float64``.

    Parameters
    ----------
    t : float64
        Test statistic.
    df : float64
        Degrees of freedom, > 0 (need not be whole); inf gives the normal.

    Returns
    -------
    float64
        The p-value; 0 for |t| = inf, nan for NaN or df <= 0.
    """
    if math.isnan(t) or not (df > 0.0):
        return math.nan
    return _t_two_tail(abs(t), df)[0]


@njit
def t_sf(t, df):
    """Student t survival function P(T > t) (scipy.stats.t.sf(t, df)).

    Signature ``t_sf(t: float64, df: float64) -> float64``.

    Parameters
    ----------
    t : float64
        Point.
    df : float64
        Degrees of freedom, > 0 (need not be whole); inf gives the normal.

    Returns
    -------
    float64
        The probability; 0 at t = inf, 1 at -inf, nan for NaN or df <= 0.
    """
    if math.isnan(t) or not (df > 0.0):
        return math.nan
    tail, middle = _t_two_tail(abs(t), df)
    if t >= 0.0:
        return 0.5 * tail
    return 0.5 + 0.5 * middle


@njit
def t_cdf(t, df):
    """Student t CDF P(T <= t) (scipy.special.stdtr(df, t)).

    Signature ``t_cdf(t: float64, df: float64) -> float64``.

    Parameters
    ----------
    t : float64
        Point.
    df : float64
        Degrees of freedom, > 0 (need not be whole); inf gives the normal.

    Returns
    -------
    float64
        The probability; 1 at t = inf, 0 at -inf, nan for NaN or df <= 0.
    """
    if math.isnan(t) or not (df > 0.0):
        return math.nan
    tail, middle = _t_two_tail(abs(t), df)
    if t <= 0.0:
        return 0.5 * tail
    return 0.5 + 0.5 * middle


@hjit
def _t_logpdf(t, df):
    """log density of Student t; stays finite for |t| up to the float maximum."""
    w = abs(t) / math.sqrt(df)
    if w > 1e100:
        l1p = 2.0 * math.log(w)  # log(1 + w^2) to double precision, without overflow
    else:
        l1p = math.log1p(w * w)
    return -0.5 * (df + 1.0) * l1p - 0.5 * math.log(df) - _betaln(0.5 * df, 0.5)


@njit
def t_pdf(t, df):
    """Student t density (scipy.stats.t.pdf(t, df)).

    Signature ``t_pdf(t: float64, df: float64) -> float64``.

    Parameters
    ----------
    t : float64
        Point.
    df : float64
        Degrees of freedom, > 0; inf gives the normal density.

    Returns
    -------
    float64
        The density; nan for NaN or df <= 0.
    """
    if math.isnan(t) or not (df > 0.0):
        return math.nan
    if df > _DF_NORMAL:
        return norm_pdf(t)
    return math.exp(_t_logpdf(t, df))


@hjit
def _t_isf_resid(t, q, df):
    """Residual log(sf(t) / q) for t >= 0, 0 < q < 1/2, and log sf(t)."""
    if q > 0.25:
        # Near the centre sf - q = (1/2 - q) - middle/2, both terms exact or
        # relatively accurate, so tiny quantiles keep their relative precision.
        middle = _t_two_tail(t, df)[1]
        diff = (0.5 - q) - 0.5 * middle
        return math.log1p(diff / q), math.log(q + diff)
    lsf = _t_log_two_tail(t, df) - _LN2
    return lsf - math.log(q), lsf


@hjit
def _t_isf_half(q, df):
    """t >= 0 with P(T > t) = q, for 0 < q <= 1/2."""
    if q == 0.5:
        return 0.0
    z = -_norm_ppf_lower(q)
    # Start 1: Cornish-Fisher expansion in 1/df (Abramowitz & Stegun 26.7.5).
    z2 = z * z
    g1 = z * (z2 + 1.0) / 4.0
    g2 = z * ((5.0 * z2 + 16.0) * z2 + 3.0) / 96.0
    g3 = z * (((3.0 * z2 + 19.0) * z2 + 17.0) * z2 - 15.0) / 384.0
    g4 = z * ((((79.0 * z2 + 776.0) * z2 + 1482.0) * z2 - 1920.0) * z2 - 945.0) / 92160.0
    r = 1.0 / df
    t_cf = z + r * (g1 + r * (g2 + r * (g3 + r * g4)))
    # Start 2: the power-law tail, P(T > t) ~ (df/t^2)^(df/2) / (df B(df/2, 1/2)).
    a = 0.5 * df
    lt = (a * math.log(df) - math.log(a) - _betaln(a, 0.5) - _LN2 - math.log(q)) / df
    t_tail = math.exp(lt) if lt < 709.0 else math.inf  # inf: not a usable start

    # Keep a bracket [lo, hi] on the root (the residual falls with t) for safeguarding.
    lo = 0.0
    hi = math.inf
    best = math.nan
    best_g = math.inf
    best_lsf = 0.0
    best_signed = 0.0
    for cand in (z, t_cf, t_tail):
        if not (cand > 0.0) or cand == math.inf:
            continue
        g, lsf = _t_isf_resid(cand, q, df)
        if math.isnan(g):
            continue
        if g > 0.0:
            lo = max(lo, cand)
        else:
            hi = min(hi, cand)
        if abs(g) < best_g:
            best, best_g, best_lsf, best_signed = cand, abs(g), lsf, g
    t = best
    g = best_signed
    lsf = best_lsf
    for _ in range(100):
        if g == 0.0:
            break
        # Newton on log sf against u = asinh(t): near-linear in the power-law tail and
        # like plain Newton in t near 0.  The step is applied to t multiplicatively,
        # so large quantiles are not rounded through u.
        ht = math.hypot(1.0, t)
        du = g * math.exp(lsf - _t_logpdf(t, df)) / ht
        t_new = t * math.cosh(du) + ht * math.sinh(du)
        if not (lo <= t_new <= hi):
            # Newton left the bracket: bisect (geometrically once the bracket is wide).
            if hi == math.inf:
                t_new = 2.0 * max(lo, t)
            elif lo > 0.0 and hi > 4.0 * lo:
                t_new = math.sqrt(lo) * math.sqrt(hi)
            else:
                t_new = 0.5 * (lo + hi)
        step = abs(t_new - t)
        t = t_new
        g, lsf = _t_isf_resid(t, q, df)
        if g > 0.0:
            lo = t
        elif g < 0.0:
            hi = t
        if step <= 1e-14 * t:
            break  # quadratic convergence: the step just taken left ~1e-28 error
        if hi - lo <= 4e-16 * hi:
            break
    return t


@njit
def t_ppf(p, df):
    """Student t quantile, the inverse CDF (scipy.stats.t.ppf(p, df)).

    Signature ``t_ppf(p: float64, df: float64) -> float64``.

    Parameters
    ----------
    p : float64
        Lower-tail probability in [0, 1].
    df : float64
        Degrees of freedom, > 0; inf gives the normal quantile.

    Returns
    -------
    float64
        The t with P(T <= t) = p; -inf for p = 0, inf for p = 1, nan for NaN, p outside [0, 1] or
        df <= 0.  For an upper-tail quantile with tiny q use `simengine.kernels.t_isf` (``-t_ppf(q,
        df)``, exact by symmetry).
    """
    if not (0.0 <= p <= 1.0) or not (df > 0.0):
        return math.nan
    if p == 0.0:
        return -math.inf
    if p == 1.0:
        return math.inf
    if df > _DF_NORMAL:
        return norm_ppf(p)
    if p <= 0.5:
        return -_t_isf_half(p, df)
    return _t_isf_half(1.0 - p, df)  # 1 - p is exact for p >= 1/2

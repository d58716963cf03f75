"""simengine.kernels.special against scipy: normal, Student t and beta functions.

Every comparison uses rtol=1e-10.  Where scipy itself is not accurate to that (checked
offline against mpmath at 50 digits) the region is left out with assume(), says why, and
is covered instead by an exact identity, a closed form or mpmath values written out here.
"""
import math

import numpy as np
import pytest
import scipy.special as sc
from hypothesis import assume, given, settings, strategies as st
from numpy.testing import assert_allclose
from scipy import stats

from simengine._jit import njit
from simengine.kernels import special

RTOL = 1e-10
# Smallest normal double.  Below it results are subnormal (a few significant bits at most)
# and scipy's ndtr / stdtr flush them to 0, so comparisons there are absolute at this size.
TINY = np.finfo(float).tiny
EPS = np.finfo(float).eps
SETTINGS = settings(max_examples=300, deadline=None)


def log_uniform(lo, hi):
    """10**e with e uniform in [lo, hi]: every decade equally likely."""
    return st.floats(lo, hi).map(lambda e: 10.0**e)


def probabilities():
    """p in (0, 1): lower tail to 1e-300, upper tail to 1 - 1e-16, the body (subnormals too), 1/2 +- 1e-6."""
    return st.one_of(
        log_uniform(-300, math.log10(0.5)),
        log_uniform(-16, math.log10(0.5)).map(lambda q: 1.0 - q),
        st.floats(0.0, 1.0, exclude_min=True, exclude_max=True),
        st.floats(-1e-6, 1e-6).map(lambda h: 0.5 + h),
    )


def t_values():
    """t in [-1e6, 1e6]: every decade from 1e-12 up (either sign), uniform draws, the body, 0."""
    decades = st.tuples(st.sampled_from([-1.0, 1.0]), log_uniform(-12, 6)).map(lambda s: s[0] * s[1])
    return st.one_of(decades, st.floats(-1e6, 1e6), st.floats(-10.0, 10.0), st.just(0.0))


@st.composite
def beta_args(draw, lo=-2, hi=5):
    """(a, b, x): a, b log-uniform in [10**lo, 10**hi]; x uniform or a far-tail quantile."""
    a = draw(log_uniform(lo, hi))
    b = draw(log_uniform(lo, hi))
    if draw(st.booleans()):
        x = draw(st.floats(0.0, 1.0, exclude_min=True, exclude_max=True))
    else:
        # Uniform x misses the body of Beta(a, b) once a, b are large; quantiles hit it and both tails.
        u = draw(log_uniform(-200, 0))
        x = sc.betaincinv(a, b, u) if draw(st.booleans()) else sc.betainccinv(a, b, u)
    return a, b, float(x)


# Betainc from scipy is 1e-10-accurate only above this: below ~1e-250 Boost's ibeta loses
# digits (up to all of them: it returns 0 for values of 1e-280), checked against mpmath,
# which special.betainc matches to 1e-12 there.
BETAINC_REF_MIN = 1e-200


# --------------------------------------------------------------------------- normal


@SETTINGS
@given(x=st.floats(-38.0, 38.0))
def test_norm_functions_match_scipy(x):
    assert_allclose(special.norm_cdf(x), sc.ndtr(x), rtol=RTOL, atol=TINY)
    assert_allclose(special.norm_sf(x), sc.ndtr(-x), rtol=RTOL, atol=TINY)
    assert_allclose(special.norm_pdf(x), stats.norm.pdf(x), rtol=RTOL, atol=TINY)
    assert_allclose(special.norm_logcdf(x), sc.log_ndtr(x), rtol=RTOL, atol=TINY)


@SETTINGS
@given(x=log_uniform(math.log10(20.0), 100).map(lambda v: -v))
def test_norm_logcdf_beyond_underflow(x):
    assert_allclose(special.norm_logcdf(x), sc.log_ndtr(x), rtol=RTOL)


@SETTINGS
@given(p=probabilities())
def test_norm_ppf_isf_match_ndtri(p):
    assert_allclose(special.norm_ppf(p), sc.ndtri(p), rtol=RTOL)
    assert_allclose(special.norm_isf(p), -sc.ndtri(p), rtol=RTOL)


def test_norm_edge_cases():
    assert special.norm_ppf(0.0) == -math.inf
    assert special.norm_ppf(1.0) == math.inf
    assert special.norm_ppf(0.5) == 0.0
    assert special.norm_isf(0.0) == math.inf
    assert special.norm_isf(1.0) == -math.inf
    for bad in (math.nan, -0.1, 1.1, -math.inf, math.inf):
        assert math.isnan(special.norm_ppf(bad))
        assert math.isnan(special.norm_isf(bad))
    assert special.norm_cdf(math.inf) == 1.0
    assert special.norm_cdf(-math.inf) == 0.0
    assert special.norm_sf(math.inf) == 0.0
    assert special.norm_cdf(0.0) == 0.5
    assert special.norm_logcdf(math.inf) == 0.0
    assert special.norm_logcdf(-math.inf) == -math.inf
    for f in (special.norm_cdf, special.norm_sf, special.norm_pdf, special.norm_logcdf):
        assert math.isnan(f(math.nan))


# --------------------------------------------------------------------------- beta function


@SETTINGS
@given(a=log_uniform(-3, 7), b=log_uniform(-3, 7))
def test_betaln_matches_scipy(a, b):
    ref = sc.betaln(a, b)
    # scipy's betaln (cephes lbeta) forms lgamma(a) + lgamma(b) - lgamma(a+b) once a+b > 171,
    # which is off by ~eps * lgamma(a+b) in absolute terms: up to 1e-6 relative when one
    # argument is small and the other large.  Where that bound exceeds 1e-11 scipy is no
    # 1e-10 reference; test_betaln_recurrence and the mpmath table cover that region.
    assume(EPS * sc.gammaln(a + b) < 1e-11 * abs(ref))
    # Where B(a, b) is near 1 (e.g. a = 1, b = 1 + 1e-7) betaln is near 0 and both scipy
    # and we are accurate only to ~1e-16 absolute, not relative.
    assume(abs(ref) > 1e-5)
    assert_allclose(special.betaln(a, b), ref, rtol=RTOL)


@SETTINGS
@given(a=log_uniform(-3, 7), b=log_uniform(-3, 7))
def test_betaln_recurrence(a, b):
    # B(a, b+1) = B(a, b) * b / (a+b): exact, and holds whatever the size of a and b.
    assert special.betaln(a, b) == special.betaln(b, a)
    lhs = special.betaln(a, b + 1.0)
    rhs = special.betaln(a, b) - math.log1p(a / b)
    # The right side cancels two terms of size up to ~25 (log1p(a/b) <= log(1e10)), so
    # near B(a, b+1) = 1 it is only good to ~1e-14 absolute: compare away from there.
    assume(abs(rhs) > 1e-3)
    assert_allclose(lhs, rhs, rtol=RTOL)


# mpmath.log(mpmath.beta(a, b)) at 50 digits, mostly where scipy's betaln is inaccurate.
BETALN_MPMATH = [
    (0.01, 1e6, 4.4613247774123797662),
    (1e-3, 1e7, 6.8910607897828453424),
    (0.164, 8.6e5, -0.50725551443611415578),
    (5.0, 1e7, -77.412425424443503321),
    (0.5, 5e6, -7.1401092672744871523),
    (20.0, 3e6, -258.94263607864429343),
    (1e7, 1e7, -13862950.404734595683),
    (1e-3, 1e-3, 7.6009008170083473785),
]


@pytest.mark.parametrize("a, b, expected", BETALN_MPMATH)
def test_betaln_mpmath_values(a, b, expected):
    assert_allclose(special.betaln(a, b), expected, rtol=RTOL)


# lgamma(z) - [(z - 1/2) log z - z + log(2 pi)/2] from mpmath at 50 digits; both sides of z = 10.
STIRLERR_MPMATH = [
    (0.5, 0.15342640972002734529),
    (1.0, 0.08106146679532725822),
    (2.5, 0.033162873519936287485),
    (7.0, 0.011896709945891770095),
    (9.999, 0.008331396020466342872),
    (10.0, 0.0083305634333628712565),
    (12.5, 0.0066652470327076824424),
    (100.0, 0.00083333055563491468338),
    (1e4, 8.3333333305555555635e-6),
    (1e7, 8.3333333333333305556e-9),
]


@pytest.mark.parametrize("z, expected", STIRLERR_MPMATH)
def test_stirlerr_mpmath_values(z, expected):
    assert_allclose(special.stirlerr(z), expected, rtol=RTOL)


# x**a (1-x)**b / B(a, b) from mpmath at 50 digits.  scipy has no accurate reference for
# large a, b (its beta.logpdf loses up to 3e-8 relative there).  Each 1 - x is exact in doubles.
POWER_TERMS_MPMATH = [
    (1e5, 1e5, 0.5, 89.206094299950988963),
    (1e5, 1e5, 0.5009765625, 60.914966803404316064),
    (1e7, 3e6, 0.77, 2.2809012970291978896e-7),
    (2e5, 1.2e5, 0.6, 5.3936190734142086372e-181),
    (1e7, 0.5, 0.9999999, 0.207553735792811343),
    (30.0, 20.0, 0.25, 1.5555964905857042608e-6),
    (0.5, 0.5, 0.125, 0.10527109983694809746),
    (1e6, 1e6, 0.500244140625, 222.25478922355002601),
    (1e6, 1e6, 0.501953125, 0.000066609559911222048643),
]


@pytest.mark.parametrize("a, b, x, expected", POWER_TERMS_MPMATH)
def test_beta_power_terms_mpmath_values(a, b, x, expected):
    assert_allclose(special.beta_power_terms(a, b, x, 1.0 - x), expected, rtol=RTOL)


@SETTINGS
@given(args=beta_args(-2, 3))
def test_beta_logpdf_matches_scipy(args):
    a, b, x = args
    assume(0.0 < x < 1.0)
    ref = stats.beta.logpdf(x, a, b)
    # The log density crosses 0 on a surface in (x, a, b); next to it a relative bound asks
    # more than the ~1e-14 absolute accuracy that any evaluation (ours or scipy's) has.
    # Arguments stop at 1e3: beyond, scipy's beta.logpdf itself is only good to ~1e-8.
    assume(abs(ref) > 1e-2)
    assert_allclose(special.beta_logpdf(x, a, b), ref, rtol=RTOL)


def test_beta_logpdf_edges():
    assert special.beta_logpdf(-0.1, 2.0, 3.0) == -math.inf
    assert special.beta_logpdf(1.1, 2.0, 3.0) == -math.inf
    edges = [(0.0, 0.5, 2.0), (0.0, 1.0, 2.0), (0.0, 2.0, 2.0), (1.0, 2.0, 0.5), (1.0, 2.0, 1.0), (1.0, 2.0, 3.0)]
    for x, a, b in edges:
        assert_allclose(special.beta_logpdf(x, a, b), stats.beta.logpdf(x, a, b), rtol=RTOL)
    assert math.isnan(special.beta_logpdf(math.nan, 2.0, 3.0))
    assert math.isnan(special.beta_logpdf(0.5, 0.0, 3.0))


# --------------------------------------------------------------------------- incomplete beta


@SETTINGS
@given(args=beta_args())
def test_betainc_matches_scipy(args):
    a, b, x = args
    # scipy mishandles subnormal x (betainc(0.1, 10, 5e-324) is 0.8% off against mpmath).
    assume(TINY <= x < 1.0)
    ref = sc.betainc(a, b, x)
    assume(ref >= BETAINC_REF_MIN)  # see BETAINC_REF_MIN: scipy loses accuracy below it
    assert_allclose(special.betainc(a, b, x), ref, rtol=RTOL)


@SETTINGS
@given(args=beta_args())
def test_betaincc_matches_scipy(args):
    a, b, x = args
    # scipy mishandles subnormal x (betainc(0.1, 10, 5e-324) is 0.8% off against mpmath).
    assume(TINY <= x < 1.0)
    ref = sc.betaincc(a, b, x)
    assume(ref >= BETAINC_REF_MIN)  # see BETAINC_REF_MIN
    assert_allclose(special.betaincc(a, b, x), ref, rtol=RTOL)


@SETTINGS
@given(a=log_uniform(-2, 7), b=log_uniform(-2, 5), y=log_uniform(-300, math.log10(0.5)))
def test_betainc_xy_uses_the_accurate_y(a, b, y):
    # I_x(a, b) = 1 - I_y(b, a) = betaincc(b, a, y) with y exact, while x = 1 - y has rounded:
    # with a up to 1e7, x**a computed from the rounded x would be off by up to 1e-9.
    ref = sc.betaincc(b, a, y)
    assume(ref >= BETAINC_REF_MIN)  # see BETAINC_REF_MIN
    assert_allclose(special._betainc_xy(a, b, 1.0 - y, y), ref, rtol=RTOL)


def test_betainc_edge_cases():
    assert special.betainc(2.0, 3.0, 0.0) == 0.0
    assert special.betainc(2.0, 3.0, 1.0) == 1.0
    assert special.betaincc(2.0, 3.0, 0.0) == 1.0
    assert special.betaincc(2.0, 3.0, 1.0) == 0.0
    for f in (special.betainc, special.betaincc):
        for a, b, x in [(2.0, 3.0, -0.1), (2.0, 3.0, 1.1), (2.0, 3.0, math.nan), (0.0, 3.0, 0.5),
                        (-1.0, 3.0, 0.5), (2.0, math.nan, 0.5)]:
            assert math.isnan(f(a, b, x))


# --------------------------------------------------------------------------- Student t


@SETTINGS
@given(t=t_values(), df=log_uniform(0, 6))
def test_t_cdf_sf_pvalue_match_scipy(t, df):
    # scipy's stdtr at exactly df = 1 loses up to 3e-9 relative for |t| < 1e-4 (against
    # 0.5 + atan(t)/pi); test_t_cdf_closed_forms covers df = 1 there.
    assume(not (df == 1.0 and abs(t) < 1e-4))
    assert_allclose(special.t_cdf(t, df), sc.stdtr(df, t), rtol=RTOL, atol=TINY)
    assert_allclose(special.t_sf(t, df), sc.stdtr(df, -t), rtol=RTOL, atol=TINY)
    assert_allclose(special.t_pvalue_two_sided(t, df), 2.0 * sc.stdtr(df, -abs(t)), rtol=RTOL, atol=TINY)


def _t_cdf_df1(t):
    """Cauchy CDF; atan2 keeps both tails relatively accurate."""
    return math.atan2(1.0, -t) / math.pi


def _t_cdf_df2(t):
    """CDF for df = 2, 1/2 + t / (2 sqrt(2 + t^2)), with the lower tail free of cancellation."""
    r = math.sqrt(2.0 + t * t)
    lower = 1.0 / (r * (r + abs(t)))
    return lower if t <= 0.0 else 1.0 - lower


@SETTINGS
@given(t=t_values())
def test_t_cdf_closed_forms(t):
    assert_allclose(special.t_cdf(t, 1.0), _t_cdf_df1(t), rtol=RTOL)
    assert_allclose(special.t_sf(-t, 1.0), _t_cdf_df1(t), rtol=RTOL)
    assert_allclose(special.t_cdf(t, 2.0), _t_cdf_df2(t), rtol=RTOL)
    assert_allclose(special.t_sf(-t, 2.0), _t_cdf_df2(t), rtol=RTOL)


@SETTINGS
@given(t=t_values(), df=log_uniform(0, 6))
def test_t_pdf_matches_scipy(t, df):
    assert_allclose(special.t_pdf(t, df), stats.t.pdf(t, df), rtol=RTOL, atol=TINY)


@SETTINGS
@given(p=probabilities(), df=log_uniform(0, 6))
def test_t_ppf_matches_scipy(p, df):
    # scipy's t.ppf is wrong for subnormal p (6.5e-4 relative at p = 5e-324, df = 1000, or
    # inf at df = 30) where this t_ppf matches mpmath to 1e-16.
    assume(p >= TINY)
    ref = stats.t.ppf(p, df)
    # scipy's t.ppf (Boost) drifts once |t| > ~1e33 (tiny p with df < 10): 1e-10 at 1e41,
    # 90% at 1e150 against mpmath.  The closed forms and the round trip below cover it.
    assume(abs(ref) < 1e30)
    # Near the median scipy's t.ppf is accurate only to ~3e-17 absolute: 1e-10 relative
    # is lost for |t| < 4e-6.  test_t_ppf_near_median covers that region.
    assume(abs(ref) > 1e-4)
    assert_allclose(special.t_ppf(p, df), ref, rtol=RTOL)


@SETTINGS
@given(h=st.tuples(st.sampled_from([-1.0, 1.0]), log_uniform(-16, -1)).map(lambda s: s[0] * s[1]),
       df=log_uniform(0, 6))
def test_t_ppf_near_median(h, df):
    p = 0.5 + h
    t = special.t_ppf(p, df)
    # P(0 < T < t) = I_y(1/2, df/2) / 2 with y = t^2 / (df + t^2): relatively accurate for
    # tiny t, unlike a CDF value near 1/2.  p - 1/2 is exact in doubles.
    half_middle = 0.5 * sc.betainc(0.5, 0.5 * df, t * t / (df + t * t))
    assert_allclose(math.copysign(half_middle, t), p - 0.5, rtol=RTOL)


def _t_ppf_df1(p):
    """Cauchy quantile, with the argument of tan kept exact near p = 1/2."""
    if 0.25 <= p <= 0.75:
        return math.tan(math.pi * (p - 0.5))
    if p < 0.25:
        return -1.0 / math.tan(math.pi * p)
    return 1.0 / math.tan(math.pi * (1.0 - p))


def _t_ppf_df2(p):
    return (2.0 * p - 1.0) / math.sqrt(2.0 * p * (1.0 - p))


@SETTINGS
@given(p=probabilities())
def test_t_ppf_closed_forms(p):
    assert_allclose(special.t_ppf(p, 1.0), _t_ppf_df1(p), rtol=RTOL)
    assert_allclose(special.t_ppf(p, 2.0), _t_ppf_df2(p), rtol=RTOL)


@SETTINGS
@given(p=log_uniform(-300, math.log10(0.5)), df=log_uniform(0, 1))
def test_t_ppf_round_trip_far_tail(p, df):
    # Where scipy's t.ppf fails (|t| up to 1e300): the quantile must give back p.  A relative
    # error e in t moves the tail by df * e, so for df <= 10 rtol 1e-10 still tests t to 1e-11.
    t = special.t_ppf(p, df)
    assert_allclose(special.t_cdf(t, df), p, rtol=RTOL)


def test_t_edge_cases():
    for df in (1.0, 3.5, 1e6, math.inf):
        assert special.t_cdf(0.0, df) == 0.5
        assert special.t_sf(0.0, df) == 0.5
        assert special.t_pvalue_two_sided(0.0, df) == 1.0
        assert special.t_cdf(math.inf, df) == 1.0
        assert special.t_cdf(-math.inf, df) == 0.0
        assert special.t_sf(math.inf, df) == 0.0
        assert special.t_sf(-math.inf, df) == 1.0
        assert special.t_pvalue_two_sided(-math.inf, df) == 0.0
        assert special.t_ppf(0.0, df) == -math.inf
        assert special.t_ppf(1.0, df) == math.inf
        assert special.t_ppf(0.5, df) == 0.0
        for f in (special.t_cdf, special.t_sf, special.t_pvalue_two_sided, special.t_pdf, special.t_ppf):
            assert math.isnan(f(math.nan, df))
    for bad_df in (math.nan, 0.0, -1.0):
        for f in (special.t_cdf, special.t_sf, special.t_pvalue_two_sided, special.t_pdf):
            assert math.isnan(f(1.0, bad_df))
        assert math.isnan(special.t_ppf(0.3, bad_df))
    for bad_p in (-0.1, 1.1):
        assert math.isnan(special.t_ppf(bad_p, 5.0))
    # df = inf is the normal, exactly.
    for t in (-40.0, -3.0, 0.5, 8.0):
        assert special.t_cdf(t, math.inf) == special.norm_cdf(t)
        assert special.t_sf(t, math.inf) == special.norm_sf(t)
        assert special.t_pdf(t, math.inf) == special.norm_pdf(t)
    assert special.t_ppf(1e-20, math.inf) == special.norm_ppf(1e-20)


# --------------------------------------------------------------------------- called from @njit


@njit
def _t_tails_grid(t, df):
    out = np.empty((df.size, t.size, 3))
    for i in range(df.size):
        for j in range(t.size):
            out[i, j, 0] = special.t_cdf(t[j], df[i])
            out[i, j, 1] = special.t_sf(t[j], df[i])
            out[i, j, 2] = special.t_pvalue_two_sided(t[j], df[i])
    return out


@njit
def _betainc_grid(a, b, x):
    out = np.empty((a.size, 2))
    for i in range(a.size):
        out[i, 0] = special.betainc(a[i], b[i], x[i])
        out[i, 1] = special.betaincc(a[i], b[i], x[i])
    return out


def test_t_grid_from_njit_matches_scipy():
    # A dense deterministic sweep, evaluated inside @njit as later kernels will call it.
    df = np.concatenate([np.geomspace(1.0, 1e6, 31), [2.0, 3.0, 30.0]])
    mag = np.geomspace(1e-12, 1e6, 91)
    t = np.concatenate([-mag[::-1], [0.0], mag])
    got = _t_tails_grid(t, df)
    tt, dd = np.meshgrid(t, df)
    ok = ~((dd == 1.0) & (np.abs(tt) < 1e-4))  # scipy's stdtr at df = 1, as in the test above
    assert_allclose(got[ok, 0], sc.stdtr(dd, tt)[ok], rtol=RTOL, atol=TINY)
    assert_allclose(got[ok, 1], sc.stdtr(dd, -tt)[ok], rtol=RTOL, atol=TINY)
    assert_allclose(got[ok, 2], 2.0 * sc.stdtr(dd, -np.abs(tt))[ok], rtol=RTOL, atol=TINY)


def test_betainc_grid_from_njit_matches_scipy():
    ab = np.geomspace(1e-2, 1e5, 15)
    a, b, u = (g.ravel() for g in np.meshgrid(ab, ab, np.geomspace(1e-150, 0.5, 12)))
    # Quantiles from both tails of every Beta(a, b) on the grid.
    x = np.concatenate([sc.betaincinv(a, b, u), sc.betainccinv(a, b, u)])
    a, b = np.tile(a, 2), np.tile(b, 2)
    keep = (x >= TINY) & (x < 1.0)  # subnormal x: see test_betainc_matches_scipy
    a, b, x = a[keep], b[keep], x[keep]
    got = _betainc_grid(a, b, x)
    for col, ref in ((0, sc.betainc(a, b, x)), (1, sc.betaincc(a, b, x))):
        ok = ref >= BETAINC_REF_MIN  # see BETAINC_REF_MIN
        assert_allclose(got[ok, col], ref[ok], rtol=RTOL)

"""The public kernel API, `simengine.kernels`: the exported names are pinned, and every exported
function is called from a user's own @njit function and compared with scipy / statsmodels / the
public Python API.

Tolerances: special and binomial functions rtol 1e-10 (as tests/test_special.py) with atol 1e-300
for underflowing tails (beta_logpdf atol 1e-14: it is 0 at a = b = 1); beta quantiles: the smaller
of x and 1 - x to rtol 1e-11 or 2.3e-16 (one rounding of 1 - x), and tails of 1e-300 round-tripped
to 1e-11; statistics whose arithmetic differs from scipy's only by rounding order (t, df, z)
rtol 1e-12, their p-values 1e-10 (over generated samples 1e-9, with atol 1e-12 for t ~ 0);
kernels the public layer runs itself (DDM, ADWIN, PSI, Beta A/B) exactly, since the same step
functions give the same bits.  Each group compiles one user function, so the file stays cheap.
"""
import inspect
import math
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st
from numba import njit
from numpy.testing import assert_allclose, assert_array_equal
from scipy import special as sc, stats

import simengine
from simengine import kernels
from simengine.kernels import api, special

# The stable set.  Adding a name is a feature, removing or renaming one is a breaking change:
# either is a deliberate edit of this set, of `kernels.__all__` and of the README section.
SPECIAL = {
    "norm_pdf", "norm_cdf", "norm_sf", "norm_logcdf", "norm_ppf", "norm_isf",
    "t_pdf", "t_cdf", "t_sf", "t_ppf", "t_pvalue_two_sided",
    "betaln", "beta_logpdf", "betainc", "betaincc",
}  # fmt: skip
API = {
    "t_isf", "beta_cdf", "beta_sf", "beta_ppf", "beta_isf", "binom_pmf", "binom_cdf", "binom_sf",
    "TWO_SIDED", "LESS", "GREATER",
    "mean_var", "student_t_from_stats", "welch_t_from_stats", "t_pvalue", "z_pvalue", "two_proportion_z",
    "mannwhitneyu_u", "mannwhitneyu_z", "mannwhitneyu_pvalue", "mannwhitneyu_asymptotic",
    "ddm_state", "ddm_update", "ddm_drift_detected", "ddm_n", "ddm_error_rate",
    "adwin_state", "adwin_update", "adwin_drift_detected", "adwin_width", "adwin_estimation",
    "adwin_variance", "adwin_n_detections",
    "psi_bin_counts", "psi_from_counts", "psi_block",
    "beta_prob_greater", "bayes_ab_beta",
}  # fmt: skip
CONSTANTS = {"TWO_SIDED": 0, "LESS": 1, "GREATER": 2}
# functions of a detector state or of an integer only: NaN input does not apply to them
STATE_ONLY = {
    "ddm_state", "adwin_state", "ddm_drift_detected", "ddm_n", "ddm_error_rate", "adwin_drift_detected",
    "adwin_width", "adwin_estimation", "adwin_variance", "adwin_n_detections",
}  # fmt: skip
RTOL = 1e-10
TINY = 1e-300
NAN = math.nan


# --------------------------------------------------------------------------- the names


def test_exported_names_are_pinned():
    assert len(kernels.__all__) == len(set(kernels.__all__))
    assert set(kernels.__all__) == SPECIAL | API
    assert set(special.__all__) == SPECIAL
    assert set(api.__all__) == API
    assert kernels.__all__ == [*special.__all__, *api.__all__]  # same order: one list to read
    for name in kernels.__all__:
        assert not name.startswith("_")
        value = getattr(kernels, name)
        home = special if name in SPECIAL else api
        assert value is getattr(home, name)
        if name in CONSTANTS:
            assert value == CONSTANTS[name]
            continue
        assert hasattr(value, "py_func"), f"{name} is not an @njit function"
        # every public kernel is documented in the package docstring and states its signature
        assert name in kernels.__doc__
        doc = value.__doc__
        assert f"Signature ``{name}(" in doc and ") -> " in doc, name
        # numpydoc: a Returns section, and every argument documented under Parameters
        assert "\n    Returns\n    -------\n" in doc, name
        args = inspect.signature(value.py_func).parameters
        if args:
            params = doc.split("\n    Parameters\n    ----------\n")[1].split("\n    Returns\n")[0]
            documented = {n.strip() for line in params.splitlines() if not line.startswith("        ")
                          for n in line.split(" : ")[0].split(",")}  # fmt: skip
            assert documented == set(args), name
        if name not in STATE_ONLY:
            assert "nan" in doc.lower(), f"{name}'s docstring does not say what NaN does"
    assert set(dir(kernels)) >= SPECIAL | API
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        kernels.nope  # noqa: B018


def test_import_simengine_loads_no_public_kernel_module():
    code = (
        "import sys, simengine\n"
        "print(sorted(m for m in ('simengine.kernels.api', 'simengine.kernels.special') if m in sys.modules))\n"
        "from simengine.kernels import t_sf, welch_t_from_stats\n"
        "print(t_sf.signatures, welch_t_from_stats.signatures)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split("\n")[:2] == ["[]", "[] []"]  # nothing loaded, nothing compiled until called


# --------------------------------------------------------------------------- special functions

XS = np.array([-40.0, -8.5, -1.0, -1e-3, 0.0, 0.7, 3.0, 12.0, 40.0])
PS = np.array([1e-300, 1e-20, 1e-5, 0.025, 0.3, 0.5, 0.8, 0.975, 1.0 - 1e-12])
DFS = np.array([0.7, 1.0, 3.0, 29.5, 1e3, 1e8])
BETA_AB = [(0.5, 0.5), (1.0, 1.0), (2.0, 5.0), (30.0, 0.8), (200.0, 300.0), (3e4, 1e5)]
BETA_X = np.array([1e-12, 1e-4, 0.1, 0.35, 0.5, 0.4, 0.9, 0.999])


@njit
def _user_special(xs, ps, dfs, ab, bx):
    """A user's function: every special kernel on a grid, rows in a fixed order."""
    nx, npr, nd, nab, nb = xs.shape[0], ps.shape[0], dfs.shape[0], ab.shape[0], bx.shape[0]
    norm = np.empty((6, max(nx, npr)))
    for i in range(nx):
        x = xs[i]
        norm[0, i] = kernels.norm_pdf(x)
        norm[1, i] = kernels.norm_cdf(x)
        norm[2, i] = kernels.norm_sf(x)
        norm[3, i] = kernels.norm_logcdf(x)
    for i in range(npr):
        norm[4, i] = kernels.norm_ppf(ps[i])
        norm[5, i] = kernels.norm_isf(ps[i])
    t = np.empty((7, nd, max(nx, npr)))
    for j in range(nd):
        for i in range(nx):
            t[0, j, i] = kernels.t_pdf(xs[i], dfs[j])
            t[1, j, i] = kernels.t_cdf(xs[i], dfs[j])
            t[2, j, i] = kernels.t_sf(xs[i], dfs[j])
            t[3, j, i] = kernels.t_pvalue_two_sided(xs[i], dfs[j])
        for i in range(npr):
            t[4, j, i] = kernels.t_ppf(ps[i], dfs[j])
            t[5, j, i] = kernels.t_isf(ps[i], dfs[j])
    beta = np.empty((8, nab, nb))
    for j in range(nab):
        a = ab[j, 0]
        b = ab[j, 1]
        for i in range(nb):
            beta[0, j, i] = kernels.betaln(a, b)
            beta[1, j, i] = kernels.beta_logpdf(bx[i], a, b)
            beta[2, j, i] = kernels.betainc(a, b, bx[i])
            beta[3, j, i] = kernels.betaincc(a, b, bx[i])
            beta[4, j, i] = kernels.beta_cdf(bx[i], a, b)
            beta[5, j, i] = kernels.beta_sf(bx[i], a, b)
            beta[6, j, i] = kernels.beta_ppf(bx[i], a, b)
            beta[7, j, i] = kernels.beta_isf(bx[i], a, b)
    return norm, t, beta


def test_special_functions_from_user_njit_match_scipy():
    ab = np.array(BETA_AB)
    norm, t, beta = _user_special(XS, PS, DFS, ab, BETA_X)
    nx, npr = XS.size, PS.size
    assert_allclose(norm[0, :nx], stats.norm.pdf(XS), rtol=RTOL, atol=TINY)
    assert_allclose(norm[1, :nx], sc.ndtr(XS), rtol=RTOL, atol=TINY)
    assert_allclose(norm[2, :nx], sc.ndtr(-XS), rtol=RTOL, atol=TINY)
    assert_allclose(norm[3, :nx], sc.log_ndtr(XS), rtol=RTOL)
    assert_allclose(norm[4, :npr], sc.ndtri(PS), rtol=RTOL)
    assert_allclose(norm[5, :npr], -sc.ndtri(PS), rtol=RTOL)
    for j, df in enumerate(DFS):
        assert_allclose(t[0, j, :nx], stats.t.pdf(XS, df), rtol=RTOL, atol=TINY)
        assert_allclose(t[1, j, :nx], sc.stdtr(df, XS), rtol=RTOL, atol=TINY)
        assert_allclose(t[2, j, :nx], sc.stdtr(df, -XS), rtol=RTOL, atol=TINY)
        assert_allclose(t[3, j, :nx], 2.0 * sc.stdtr(df, -np.abs(XS)), rtol=RTOL, atol=TINY)
        # scipy's t quantile loses accuracy below 1e-20 for small df; the exact symmetry is checked too
        ok = PS >= 1e-20
        assert_allclose(t[4, j, :npr][ok], sc.stdtrit(df, PS[ok]), rtol=1e-9)
        assert_array_equal(t[5, j, :npr], -t[4, j, :npr])
    for j, (a, b) in enumerate(BETA_AB):
        assert_allclose(beta[0, j], sc.betaln(a, b), rtol=RTOL)
        assert_allclose(beta[1, j], stats.beta.logpdf(BETA_X, a, b), rtol=RTOL, atol=1e-14)  # log: 0 at a=b=1
        assert_allclose(beta[2, j], sc.betainc(a, b, BETA_X), rtol=RTOL, atol=TINY)
        assert_allclose(beta[3, j], sc.betaincc(a, b, BETA_X), rtol=RTOL, atol=TINY)
        assert_allclose(beta[4, j], stats.beta.cdf(BETA_X, a, b), rtol=RTOL, atol=TINY)
        assert_allclose(beta[5, j], stats.beta.sf(BETA_X, a, b), rtol=RTOL, atol=TINY)
        # quantiles: the smaller of x and 1 - x to 1e-11, or to a rounding of 1 - x (2.3e-16)
        for row, ref in ((6, sc.betaincinv(a, b, BETA_X)), (7, sc.betainccinv(a, b, BETA_X))):
            assert_allclose(np.minimum(beta[row, j], 1.0 - beta[row, j]), np.minimum(ref, 1.0 - ref),
                            rtol=1e-11, atol=2.3e-16)  # fmt: skip
    # NaN in, nan out, for every scalar special function
    nan1 = np.array([NAN])
    norm, t, beta = _user_special(nan1, nan1, np.array([3.0]), np.array([[NAN, 2.0]]), np.array([NAN]))
    assert np.isnan(norm).all() and np.isnan(t[:6]).all() and np.isnan(beta).all()


@njit
def _user_beta_tails(rows):
    """beta_ppf / beta_isf of tiny tails and the tail of the answer, through betainc / betaincc."""
    out = np.empty((4, rows.shape[0]))
    for i in range(rows.shape[0]):
        a, b, q = rows[i, 0], rows[i, 1], rows[i, 2]
        out[0, i] = kernels.beta_ppf(q, a, b)
        out[1, i] = kernels.betainc(a, b, out[0, i])
        out[2, i] = kernels.beta_isf(q, a, b)
        out[3, i] = kernels.betaincc(a, b, out[2, i])
    return out


def test_beta_quantiles_of_tiny_tails_round_trip():
    # scipy's inverses are off by up to 1e6 x in the tail here (e.g. a=505.5, b=25, p=1.9e-291); the
    # answer's own tail, by the scipy-checked betainc/betaincc, must give q back to 1e-11.  Upper
    # quantiles are checked where they lie well below 1: near 1, x itself cannot resolve such a tail.
    lower = np.array([(505.5, 25.0, 1.9e-291), (30.0, 1e4, 1e-300), (0.5, 0.5, 1e-150), (2.0, 1e7, 1e-100),
                      (1e3, 1e7, 1e-8), (0.05, 40.0, 1e-15), (7.5, 0.5, 1e-250)])  # fmt: skip
    upper = np.array([(24.0, 610.0, 9.4e-284), (30.0, 1e4, 1e-300), (2.0, 1e7, 1e-100), (1e3, 1e7, 1e-8),
                      (39.7, 5839.6, 1.7e-268)])  # fmt: skip
    out = _user_beta_tails(lower)
    assert_allclose(out[1], lower[:, 2], rtol=1e-11)
    assert (out[0] > 0.0).all()
    out = _user_beta_tails(upper)
    assert_allclose(out[3], upper[:, 2], rtol=1e-11)
    assert (out[2] < 0.75).all()
    # edges and bad arguments
    edge = _user_beta_tails(np.array([(2.0, 3.0, 0.0), (2.0, 3.0, 1.0), (2.0, 3.0, NAN), (0.0, 3.0, 0.5),
                                      (2.0, 3.0, 1.5)]))  # fmt: skip
    assert (edge[0, 0], edge[2, 0], edge[0, 1], edge[2, 1]) == (0.0, 1.0, 1.0, 0.0)
    assert np.isnan(edge[[0, 2], 2:]).all()


@njit
def _user_binom(ks, ns, ps):
    out = np.empty((3, ks.shape[0]))
    for i in range(ks.shape[0]):
        out[0, i] = kernels.binom_pmf(ks[i], ns[i], ps[i])
        out[1, i] = kernels.binom_cdf(ks[i], ns[i], ps[i])
        out[2, i] = kernels.binom_sf(ks[i], ns[i], ps[i])
    return out


def test_binomial_from_user_njit_matches_scipy():
    rows = [(k, n, p) for n in (0, 1, 10, 1000, 10**6) for p in (1e-3, 0.3, 0.5, 0.97)
            for k in {-1, 0, 1, n // 3, n // 2, int(n * p), n - 1, n, n + 2}]  # fmt: skip
    rows += [(2.5, 10, 0.4), (3, 10, 0.0), (0, 10, 0.0), (10, 10, 1.0), (4, 10, 1.0)]
    k, n, p = (np.array(c, dtype=float) for c in zip(*rows, strict=True))
    out = _user_binom(k, n, p)
    assert_allclose(out[0], stats.binom.pmf(k, n, p), rtol=RTOL, atol=TINY)
    assert_allclose(out[1], stats.binom.cdf(k, n, p), rtol=RTOL, atol=TINY)
    assert_allclose(out[2], stats.binom.sf(k, n, p), rtol=RTOL, atol=TINY)
    bad = _user_binom(np.array([NAN, 1.0, 1.0, 1.0]), np.array([5.0, NAN, 2.5, 5.0]), np.array([0.5, 0.5, 0.5, 1.5]))
    assert np.isnan(bad).all()


# --------------------------------------------------------------------------- two-sample tests


@njit
def _user_ttests(x, y, alternative):
    m1, v1 = kernels.mean_var(x)
    m2, v2 = kernels.mean_var(y)
    ts, dfs = kernels.student_t_from_stats(x.shape[0], m1, v1, y.shape[0], m2, v2)
    tw, dfw = kernels.welch_t_from_stats(x.shape[0], m1, v1, y.shape[0], m2, v2)
    return (np.array([m1, v1, m2, v2]), np.array([ts, dfs, kernels.t_pvalue(ts, dfs, alternative)]),
            np.array([tw, dfw, kernels.t_pvalue(tw, dfw, alternative)]))


@pytest.mark.parametrize("alternative", ["two-sided", "less", "greater"])
def test_t_tests_from_user_njit_match_scipy(alternative):
    code = {"two-sided": kernels.TWO_SIDED, "less": kernels.LESS, "greater": kernels.GREATER}[alternative]
    g = np.random.default_rng(7)
    x = g.normal(10.0, 2.0, 23)
    y = g.normal(11.0, 3.5, 31)
    mv, student, welch = _user_ttests(x, y, code)
    assert_allclose(mv, [x.mean(), x.var(ddof=1), y.mean(), y.var(ddof=1)], rtol=1e-13)
    for res, equal_var in ((student, True), (welch, False)):
        ref = stats.ttest_ind(x, y, equal_var=equal_var, alternative=alternative)
        assert_allclose(res[:2], [ref.statistic, ref.df], rtol=1e-12)
        assert_allclose(res[2], ref.pvalue, rtol=RTOL)
        # ... and the same as the public layer
        pub = simengine.ttest_ind(x, y, equal_var=equal_var, alternative=alternative)
        assert_allclose(res, [pub.statistic, pub.df, pub.pvalue], rtol=1e-12)
    mv, student, welch = _user_ttests(np.array([1.0, NAN]), y, code)
    assert np.isnan(mv[:2]).all() and np.isnan(welch).all()
    assert np.isnan(student[[0, 2]]).all() and student[1] == 2 + y.size - 2  # df: counts only
    mv, _, _ = _user_ttests(np.array([3.7] * 15), np.array([2.0]), code)
    assert mv[0] == 3.7 and mv[1] == 0.0 and mv[2] == 2.0 and np.isnan(mv[3])  # exact 0 spread, one value
    assert np.isnan(_user_ttests(np.empty(0), y, code)[0][:2]).all()


@njit
def _user_z(z, k1, n1, k2, n2):
    out = np.empty((4, z.shape[0]))
    for i in range(z.shape[0]):
        out[0, i] = kernels.z_pvalue(z[i], kernels.TWO_SIDED)
        out[1, i] = kernels.z_pvalue(z[i], kernels.LESS)
        out[2, i] = kernels.z_pvalue(z[i], kernels.GREATER)
        out[3, i] = kernels.two_proportion_z(k1[i], n1[i], k2[i], n2[i])
    return out


def test_z_pvalue_and_two_proportion_z_match_scipy_and_statsmodels():
    from statsmodels.stats.proportion import proportions_ztest

    z = np.array([-9.0, -1.96, -0.1, 0.0, 0.5, 2.5, 38.0, NAN])
    counts = [(45, 100, 30, 90), (1, 20, 9, 20), (700, 1000, 720, 1000), (5, 5, 3, 5), (0, 10, 0, 12), (0, 0, 0, 0)]
    counts += [(3, 10, 4, 11)] * (z.size - len(counts))
    k1, n1, k2, n2 = (np.array(c) for c in zip(*counts, strict=True))  # int64 counts, as a user has them
    out = _user_z(z, k1, n1, k2, n2)
    assert_allclose(out[0], 2.0 * stats.norm.sf(np.abs(z)), rtol=RTOL, atol=TINY)
    assert_allclose(out[1], stats.norm.cdf(z), rtol=RTOL, atol=TINY)
    assert_allclose(out[2], stats.norm.sf(z), rtol=RTOL, atol=TINY)
    for i in range(4):
        ref = proportions_ztest([k1[i], k2[i]], [n1[i], n2[i]])
        assert_allclose(out[3, i], ref[0], rtol=1e-12)
    assert np.isnan(out[3, 4]) and np.isnan(out[3, 5])  # no success anywhere: 0/0; no trials at all


@njit
def _user_mwu(x, y, use_continuity, alternative):
    u1, tie_term = kernels.mannwhitneyu_u(x, y)
    z = kernels.mannwhitneyu_z(u1, x.shape[0], y.shape[0], tie_term, use_continuity, alternative)
    u_all, p_all = kernels.mannwhitneyu_asymptotic(x, y, use_continuity, alternative)
    return np.array([u1, tie_term, z, kernels.mannwhitneyu_pvalue(z, alternative), u_all, p_all])


@pytest.mark.parametrize("use_continuity", [True, False])
def test_mannwhitneyu_from_user_njit_matches_scipy(use_continuity):
    g = np.random.default_rng(3)
    x = np.round(g.normal(0.0, 1.0, 40), 1)  # rounded: ties within and across samples
    y = np.round(g.normal(0.4, 1.0, 33), 1)
    for name, code in (("two-sided", kernels.TWO_SIDED), ("less", kernels.LESS), ("greater", kernels.GREATER)):
        res = _user_mwu(x, y, use_continuity, code)
        ref = stats.mannwhitneyu(x, y, use_continuity=use_continuity, alternative=name, method="asymptotic")
        assert res[0] == ref.statistic and res[4] == ref.statistic
        assert res[1] > 0.0  # there are ties
        assert_allclose(res[3], ref.pvalue, rtol=RTOL)
        assert res[5] == res[3]
    res = _user_mwu(np.array([1.0, 2.0, NAN]), y, use_continuity, kernels.TWO_SIDED)
    assert np.isnan(res).all()


# --------------------------------------------------------------------------- drift


@njit
def _user_ddm(x, warning, drift, warm_start, reset):
    state = kernels.ddm_state()
    status = np.empty(x.shape[0], dtype=np.int64)
    info = np.empty((3, x.shape[0]))
    for t in range(x.shape[0]):
        status[t] = kernels.ddm_update(state, x[t], warning, drift, warm_start, reset)
        info[0, t] = kernels.ddm_drift_detected(state)
        info[1, t] = kernels.ddm_n(state)
        info[2, t] = kernels.ddm_error_rate(state)
    return status, info


@pytest.mark.parametrize("reset", [True, False])
def test_ddm_from_user_njit_matches_public_ddm(reset):
    g = np.random.default_rng(11)
    x = np.r_[g.random(1500) < 0.1, g.random(1500) < 0.35, g.random(1000) < 0.1].astype(np.float64)
    status, info = _user_ddm(x, 2.0, 3.0, 30, reset)
    assert_array_equal(status, simengine.ddm(x, reset=reset).status)
    assert (status == 2).sum() >= 1
    det = simengine.DDM(reset=reset)
    for t in range(0, x.size, 37):  # the streaming class, step for step (every 37th step checked)
        for s in range(t - 36 if t else 0, t + 1):
            det.update(x[s])
        assert (det.status, det.drift_detected, det.n, det.error_rate) == (
            status[t], bool(info[0, t]), int(info[1, t]), info[2, t])  # fmt: skip
    # NaN poisons the rate for good: no further warning or drift
    x[100] = NAN
    status, info = _user_ddm(x, 2.0, 3.0, 30, reset)
    assert (status[100:] == 0).all() and np.isnan(info[2, 100:]).all()


@njit
def _user_adwin(x, delta, clock, max_buckets, min_window_length, grace_period):
    state = kernels.adwin_state(max_buckets)
    detected = np.zeros(x.shape[0], dtype=np.bool_)
    info = np.empty((5, x.shape[0]))
    for t in range(x.shape[0]):
        detected[t] = kernels.adwin_update(state, x[t], delta, clock, max_buckets, min_window_length, grace_period)
        info[0, t] = kernels.adwin_drift_detected(state)
        info[1, t] = kernels.adwin_width(state)
        info[2, t] = kernels.adwin_estimation(state)
        info[3, t] = kernels.adwin_variance(state)
        info[4, t] = kernels.adwin_n_detections(state)
    return detected, info


@pytest.mark.parametrize(("delta", "clock", "max_buckets", "min_window_length", "grace_period"),
                         [(0.002, 32, 5, 5, 10), (0.05, 1, 2, 1, 1)])  # fmt: skip
def test_adwin_from_user_njit_matches_public_adwin(delta, clock, max_buckets, min_window_length, grace_period):
    g = np.random.default_rng(5)
    x = np.r_[g.normal(0.0, 1.0, 1500), g.normal(1.5, 1.0, 1500)]
    params = dict(delta=delta, clock=clock, max_buckets=max_buckets, min_window_length=min_window_length,
                  grace_period=grace_period)  # fmt: skip
    detected, info = _user_adwin(x, delta, clock, max_buckets, min_window_length, grace_period)
    res = simengine.adwin(x, **params)
    assert_array_equal(detected, res.detected)
    assert detected.any()
    assert (int(info[1, -1]), info[2, -1]) == (res.width, res.estimation)
    det = simengine.ADWIN(**params)
    for t in range(0, x.size, 41):
        for s in range(t - 40 if t else 0, t + 1):
            det.update(x[s])
        assert (det.drift_detected, det.width, det.estimation, det.variance, det.n_detections) == (
            bool(info[0, t]), int(info[1, t]), info[2, t], info[3, t], int(info[4, t]))  # fmt: skip
    x[10] = NAN
    detected, info = _user_adwin(x, delta, clock, max_buckets, min_window_length, grace_period)
    assert not detected[10:].any() and np.isnan(info[2, 10:]).all()


@njit
def _user_adwin_mismatch():
    state = kernels.adwin_state(5)
    return kernels.adwin_update(state, 1.0, 0.002, 32, 6, 5, 10)


def test_adwin_update_refuses_a_state_of_another_size():
    with pytest.raises(ValueError, match="max_buckets"):
        _user_adwin_mismatch()


@njit
def _user_psi(reference, current, edges, eps):
    rc = kernels.psi_bin_counts(reference, edges)
    cc = kernels.psi_bin_counts(current, edges)
    return rc, cc, kernels.psi_from_counts(rc, cc, eps), kernels.psi_block(reference, current, edges, eps)


def test_psi_from_user_njit_matches_public_psi():
    g = np.random.default_rng(2)
    ref = g.normal(0.0, 1.0, 5000)
    cur = g.normal(0.3, 1.2, 3000)
    cur[::97] = NAN
    edges = np.array([-2.5, -1.0, -0.3, 0.0, 0.0, 0.4, 1.0, 2.0, 2.0, 3.1])  # repeated edges, values outside
    rc, cc, from_counts, block = _user_psi(ref, cur, edges, 1e-7)
    assert block == simengine.psi(ref, cur, bins=edges, eps=1e-7, nan_policy="omit")
    assert from_counts == block
    for counts, data in ((rc, ref), (cc, cur)):
        clipped = np.clip(data[~np.isnan(data)], edges[0], edges[-1])  # values outside go to the end bins
        assert_array_equal(counts, np.histogram(clipped, edges)[0])
    r = rc / rc.sum() + 1e-7
    c = cc / cc.sum() + 1e-7
    assert_allclose(block, np.sum((c - r) * np.log(c / r)), rtol=1e-12)
    _, _, empty, empty_block = _user_psi(ref, np.full(4, NAN), edges, 1e-7)
    assert np.isnan(empty) and np.isnan(empty_block)
    rc, _, _, one_edge = _user_psi(ref, cur, edges[:1], 1e-7)
    assert rc.size == 0 and np.isnan(one_edge)


# --------------------------------------------------------------------------- Beta-Binomial A/B


@njit
def _user_bayes(params):
    out = np.empty((4, params.shape[0]))
    for i in range(params.shape[0]):
        a1, b1, a2, b2 = params[i, 0], params[i, 1], params[i, 2], params[i, 3]
        out[0, i] = kernels.beta_prob_greater(a1, b1, a2, b2)
        out[1:, i] = np.array(kernels.bayes_ab_beta(a1, b1, a2, b2))
    return out


def test_beta_ab_from_user_njit_matches_public_bayes_ab_and_quadrature():
    from scipy import integrate

    # posteriors of Beta(1, 1) priors: exact sums; a Beta(0.5, 0.5) prior: quadrature
    sa, ta, sb, tb = np.array([12, 130, 4000]), np.array([100, 1000, 50000]), np.array([20, 118, 4200]), np.array([
        100, 1000, 50000])  # fmt: skip
    for prior in ((1.0, 1.0), (0.5, 0.5)):
        params = np.column_stack([prior[0] + sa, prior[1] + ta - sa, prior[0] + sb, prior[1] + tb - sb])
        out = _user_bayes(params)
        pub = simengine.bayes_ab(sa, ta, sb, tb, prior=prior)
        assert_array_equal(out[0], pub.prob_b_better)
        assert_array_equal(out[1:], [pub.prob_b_better, pub.expected_loss_a, pub.expected_loss_b])
    a1, b1, a2, b2 = 3.5, 8.25, 5.5, 7.0
    ref = integrate.quad(lambda v: stats.beta.pdf(v, a2, b2) * stats.beta.cdf(v, a1, b1), 0, 1, epsabs=1e-13)[0]
    assert_allclose(_user_bayes(np.array([[a1, b1, a2, b2]]))[0, 0], ref, rtol=1e-9)
    bad = _user_bayes(np.array([[NAN, 1.0, 1.0, 1.0], [1.0, 0.0, 1.0, 1.0], [1.0, 1.0, math.inf, 1.0]]))
    assert np.isnan(bad).all()


# --------------------------------------------------------------------------- properties over generated inputs

_SAMPLE = st.lists(st.integers(-20, 20).map(lambda v: v / 4.0), min_size=2, max_size=25).map(np.array)  # ties


@settings(max_examples=40, deadline=None)
@given(x=_SAMPLE, y=_SAMPLE, alternative=st.sampled_from(["two-sided", "less", "greater"]))
def test_two_sample_kernels_agree_with_scipy_on_generated_samples(x, y, alternative):
    code = {"two-sided": kernels.TWO_SIDED, "less": kernels.LESS, "greater": kernels.GREATER}[alternative]
    assume(np.ptp(np.r_[x, y]) > 0)  # not all tied: scipy's z is then 0/0 as ours
    res = _user_mwu(x, y, True, code)
    ref = stats.mannwhitneyu(x, y, alternative=alternative, method="asymptotic")
    assert res[0] == ref.statistic
    assert_allclose(res[3], ref.pvalue, rtol=RTOL)
    assume(x.var() > 0 and y.var() > 0)
    _, student, welch = _user_ttests(x, y, code)
    for res, equal_var in ((student, True), (welch, False)):
        ref = stats.ttest_ind(x, y, equal_var=equal_var, alternative=alternative)
        assert_allclose(res, [ref.statistic, ref.df, ref.pvalue], rtol=1e-9, atol=1e-12)  # t ~ 0: rounding


@settings(max_examples=30, deadline=None)
@given(
    ref=st.lists(st.floats(-50, 50) | st.just(NAN), min_size=1, max_size=40).map(np.array),
    cur=st.lists(st.floats(-50, 50) | st.just(NAN), min_size=1, max_size=40).map(np.array),
    edges=st.lists(st.floats(-40, 40), min_size=2, max_size=8).map(sorted).map(np.array),
)
def test_psi_block_agrees_with_public_psi_on_generated_data(ref, cur, edges):
    assume(not np.isnan(ref).all() and not np.isnan(cur).all())
    assume(edges[-1] > edges[0])  # the public layer refuses edges that span nothing
    assert _user_psi(ref, cur, edges, 1e-7)[3] == simengine.psi(ref, cur, bins=edges, nan_policy="omit")


@settings(max_examples=60, deadline=None)
@given(
    a=st.floats(0.1, 1e4),
    b=st.floats(0.1, 1e4),
    p=st.floats(1e-300, 0.5) | st.floats(-300, -1).map(lambda e: 10.0**e),
)
def test_beta_ppf_inverts_betainc_on_generated_arguments(a, b, p):
    out = _user_beta_tails(np.array([(a, b, p)]))
    x = out[0, 0]
    assume(1e-300 < x <= 0.5)  # below: the quantile underflows; above: see beta_isf
    assert_allclose(out[1, 0], p, rtol=1e-10)

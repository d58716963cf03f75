"""bootstrap: interval kernels against a NumPy + scipy replay of scipy's formulas, and scipy.stats.bootstrap."""
import math
from types import SimpleNamespace

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import special, stats

from simengine.kernels import bootstrap as kb

ALTS = ["two-sided", "less", "greater"]
ALT_CODE = {"two-sided": kb.ALT_TWO_SIDED, "less": kb.ALT_LESS, "greater": kb.ALT_GREATER}


# --------------------------------------------------------------------------- replay of scipy's formulas


def _replay_interval(theta_b, theta_hat, jack, method, level, alt):
    """scipy 1.17 ``bootstrap``'s interval step written out in NumPy + scipy.special / stats.quantile.

    `jack` is a list of per-sample jackknife statistic arrays (BCa only)."""
    alpha = (1 - level) / 2 if alt == "two-sided" else 1 - level
    if method == "BCa":
        pct = (np.count_nonzero(theta_b < theta_hat) + np.count_nonzero(theta_b <= theta_hat)) / (2 * len(theta_b))
        z0 = special.ndtri(pct)
        nums = []
        dens = []
        for t in jack:
            n = float(len(t))
            u = (n - 1) * (np.mean(t) - t)
            nums.append(np.sum(u**3) / n**3)
            dens.append(np.sum(u**2) / n**2)
        a = 1 / 6 * sum(nums) / sum(dens) ** 1.5
        za = float(special.ndtri(alpha))
        lv = (special.ndtr(z0 + (z0 + za) / (1 - a * (z0 + za))), special.ndtr(z0 + (z0 - za) / (1 - a * (z0 - za))))
    else:
        lv = (alpha, 1 - alpha)
    lo, hi = stats.quantile(theta_b, np.asarray(lv, dtype=float))
    if method == "basic":
        lo, hi = 2 * theta_hat - hi, 2 * theta_hat - lo
    if alt == "less":
        lo = -np.inf
    elif alt == "greater":
        hi = np.inf
    return lo, hi


def _kernel_interval(theta_b, theta_hat, jack, method, level, alt):
    s = np.sort(theta_b)
    code = ALT_CODE[alt]
    if method == "percentile":
        return kb.percentile_interval1(s, level, code)
    if method == "basic":
        return kb.basic_interval1(s, theta_hat, level, code)
    num = den = 0.0
    for t in jack:
        a, b = kb.jackknife_accel_terms1(np.ascontiguousarray(t, dtype=float))
        num += a
        den += b
    return kb.bca_interval1(s, theta_hat, kb.bca_accel(num, den), level, code)


@pytest.mark.parametrize("alt", ALTS)
@pytest.mark.parametrize("method", ["percentile", "basic", "BCa"])
def test_interval_kernels_equal_replay(method, alt):
    # Reference: scipy's formulas replayed in NumPy (1e-12), and for one-sample means scipy.stats.bootstrap
    # itself, fed the same bootstrap distribution through `bootstrap_result` with no new resamples.
    rng = np.random.default_rng(3)
    for n, b, level in [(15, 999, 0.95), (40, 2000, 0.9), (7, 101, 0.5), (25, 37, 0.99)]:
        x = rng.lognormal(size=n)
        idx = rng.integers(0, n, size=(b, n))
        theta_b = x[idx].mean(axis=1)
        theta_hat = x.mean()
        jack = [np.array([np.delete(x, i).mean() for i in range(n)])]
        got = _kernel_interval(theta_b, theta_hat, jack, method, level, alt)
        want = _replay_interval(theta_b, theta_hat, jack, method, level, alt)
        assert_allclose(got, want, rtol=1e-12, atol=1e-14)
        ref = stats.bootstrap(
            (x,), np.mean, n_resamples=0, bootstrap_result=SimpleNamespace(bootstrap_distribution=theta_b),
            method=method, confidence_level=level, alternative=alt,
        )
        assert_allclose(got, tuple(ref.confidence_interval), rtol=1e-12, atol=1e-14)
        # two samples: their jackknife terms add up (scipy's a_hat over a tuple of samples)
        y = rng.normal(size=n + 3)
        jack2 = jack + [np.array([x.mean() - np.delete(y, i).mean() for i in range(n + 3)])]
        got = _kernel_interval(theta_b, theta_hat, jack2, method, level, alt)
        assert_allclose(got, _replay_interval(theta_b, theta_hat, jack2, method, level, alt), rtol=1e-12, atol=1e-14)


def test_interval_kernels_degenerate():
    # All resamples equal and a statistic constant under the jackknife: scipy's BCa gives NaN ends (a = 0/0),
    # the percentile and basic intervals the constant.
    theta_b = np.full(50, 2.5)
    jack = [np.full(10, 2.5)]
    for alt in ALTS:
        lo, hi = _kernel_interval(theta_b, 2.5, jack, "BCa", 0.95, alt)
        assert math.isnan(hi if alt != "greater" else lo)
        assert _kernel_interval(theta_b, 2.5, jack, "percentile", 0.95, "two-sided") == (2.5, 2.5)
        assert _kernel_interval(theta_b, 2.5, jack, "basic", 0.95, "two-sided") == (2.5, 2.5)
    # A NaN in the distribution propagates (scipy.stats.quantile's nan_policy="propagate").
    t = np.arange(20.0)
    t[3] = np.nan
    assert all(math.isnan(v) for v in _kernel_interval(t, 1.0, [t], "percentile", 0.9, "two-sided"))
    # quantile levels outside [0, 1] or NaN give NaN, the ends 0 and 1 the extremes
    s = np.arange(5.0)
    assert math.isnan(kb.boot_quantile1(s, math.nan)) and math.isnan(kb.boot_quantile1(s, 1.5))
    assert kb.boot_quantile1(s, 0.0) == 0.0 and kb.boot_quantile1(s, 1.0) == 4.0
    assert kb.percentile_of_score1(s, 2.0) == 0.5 and kb.percentile_of_score1(s, -1.0) == 0.0

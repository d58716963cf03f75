"""msprt on observed data (issue 16): the simulator's statistic, always-valid type I error and coverage."""
import math

import numpy as np
import pytest

import simengine
from simengine import msprt


def _kernel_statistic(metric, nb, mb, sb, na, ma, sa, tau2):
    from simengine.kernels.sequential import _look_statistic1

    return _look_statistic1(3, 0 if metric == "binary" else 1, na, ma, sa, nb, mb, sb, 1.0, tau2)[0]


@pytest.mark.parametrize("metric", ["normal", "binary"])
def test_same_statistic_as_the_simulator(metric):
    rng = np.random.default_rng(4)
    if metric == "binary":
        x, y = rng.binomial(1, 0.3, 300).astype(float), rng.binomial(1, 0.25, 300).astype(float)
    else:
        x, y = rng.normal(0.2, 2.0, 300), rng.normal(0.0, 2.0, 300)
    res = msprt(x, y, metric=metric, tau=0.3)
    for k in (0, 1, 5, 49, 299):
        n = k + 1
        mx, my = x[:n].mean(), y[:n].mean()
        sx, sy = ((x[:n] - mx) ** 2).sum(), ((y[:n] - my) ** 2).sum()
        want = _kernel_statistic(metric, n, mx, sx, n, my, sy, 0.09)
        if math.isfinite(want):
            assert res.statistic[k] == pytest.approx(want, rel=1e-9, abs=1e-12)
        else:
            assert res.statistic[k] == want or (math.isnan(want) and math.isnan(res.statistic[k]))
    assert np.all(np.diff(res.pvalue) <= 0) and np.all(np.diff(res.ci_low) >= 0) and np.all(np.diff(res.ci_high) <= 0)


def test_per_look_summaries_equal_the_raw_data_at_those_looks():
    rng = np.random.default_rng(2)
    x, y = rng.binomial(1, 0.2, 1000).astype(float), rng.binomial(1, 0.2, 1000).astype(float)
    looks = np.array([100, 250, 600, 1000])
    raw = msprt(x, y, metric="binary", tau=0.05)
    sx = np.column_stack([np.cumsum(x)[looks - 1], looks])
    sy = np.column_stack([np.cumsum(y)[looks - 1], looks])
    per = msprt(sx, sy, metric="binary", tau=0.05)
    assert np.allclose(per.statistic, raw.statistic[looks - 1], rtol=1e-12)
    xn, yn = rng.normal(size=500) + 100.0, rng.normal(size=500) + 100.0
    rawn = msprt(xn, yn, tau=0.2)
    looks = np.array([50, 200, 500])
    summ = [np.column_stack([looks, [a[:m].mean() for m in looks], [a[:m].var(ddof=1) for m in looks]])
            for a in (xn, yn)]
    pern = msprt(*summ, tau=0.2)
    assert np.allclose(pern.statistic, rawn.statistic[looks - 1], rtol=1e-9)


def test_always_valid_under_h0_and_coverage():
    """Over 10^4 observations per arm the p-value ever reaching alpha, and the confidence sequence ever
    missing the true difference, each happen with probability <= alpha (Johari et al. 2022), within MC error."""
    rng = np.random.default_rng(7)
    streams, n = 600, 10_000
    rejected = missed = 0
    for _ in range(streams):
        x, y = rng.normal(0.1, 1.0, n), rng.normal(0.0, 1.0, n)
        h0 = msprt(x - 0.1, y, tau=0.05)
        rejected += h0.first_rejection >= 0
        h1 = msprt(x, y, tau=0.05)
        missed += not (np.all(h1.ci_low <= 0.1) and np.all(h1.ci_high >= 0.1))
    se = math.sqrt(0.05 * 0.95 / streams)
    assert rejected / streams <= 0.05 + 3 * se
    assert missed / streams <= 0.05 + 3 * se


def test_default_tau_and_frame():
    """tau=None: the simulator's rule tau^2 = c* sigma^2 (1/n_x + 1/n_y), sigma^2 the pooled sample variance."""
    from simengine.sequential import _msprt_default_tau2

    rng = np.random.default_rng(3)
    x, y = rng.normal(size=400) * 3, rng.normal(size=300 + 100) * 3
    res = msprt(x, y)
    pooled = (((x - x.mean()) ** 2).sum() + ((y - y.mean()) ** 2).sum()) / 798
    assert res.tau == pytest.approx(math.sqrt(_msprt_default_tau2(0.05, pooled * (2 / 400))), rel=1e-9)
    frame = res.to_frame()
    assert frame.shape[0] == 400 and list(frame.columns[:3]) == ["pvalue", "ci_low", "ci_high"]


@pytest.mark.parametrize("kwargs, match", [
    (dict(x=[1.0, 2.0], y=[1.0]), "same number of observations"),
    (dict(x=[0.0, 2.0], y=[1.0, 0.0], metric="binary"), "0/1 outcomes"),
    (dict(x=[[1, 10]], y=[1.0]), "both be observations"),
    (dict(x=[[1, 10, 3]], y=[[1, 10, 3]], metric="binary"), "2 columns"),
    (dict(x=[[11, 10]], y=[[1, 10]], metric="binary"), "successes must be whole numbers in"),
    (dict(x=[[5, 10], [4, 20]], y=[[1, 10], [2, 20]], metric="binary"), "non-decreasing"),
    (dict(x=[1.0, 2.0], y=[1.0, 2.0], tau=0.0), r"`tau` must be in \[1e-100, 1e\+100\]"),
    (dict(x=[1.0, 1.0], y=[1.0, 1.0]), "no variation"),
    (dict(x=[1.0, 2.0], y=[1.0, 2.0], metric="poisson"), "`metric`"),
])
def test_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        msprt(**kwargs)


def test_exported():
    assert simengine.msprt is msprt and "MsprtResult" in simengine.__all__

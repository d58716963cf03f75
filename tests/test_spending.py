"""Alpha-spending group-sequential boundaries (issue 16): published values, an independent
multivariate-normal computation of the alpha spent at every look, and a Brownian simulation."""
import math

import numpy as np
import pytest
from scipy import stats

from simengine import group_sequential_boundaries as gsb
from simengine._groupseq import spending

EQUAL = {k: np.arange(1, k + 1) / k for k in (2, 3, 4, 5)}
UNEQUAL = {3: np.array([0.25, 0.6, 1.0]), 4: np.array([0.1, 0.3, 0.45, 1.0])}


def test_published_lan_demets_values():
    # gsDesign (test.type = 2, sfLDOF / sfLDPocock at alpha = 0.025 per side) and ldbounds (sides = 2,
    # alpha = 0.05), equal looks, to the 3 decimals the tables print
    assert np.round(gsb(5, kind="ld-obrien-fleming"), 3).tolist() == [4.877, 3.357, 2.680, 2.290, 2.031]
    assert np.round(gsb(3, kind="ld-obrien-fleming"), 3).tolist() == [3.710, 2.511, 1.993]
    assert np.round(gsb(5, kind="ld-pocock"), 3).tolist() == [2.438, 2.427, 2.410, 2.397, 2.386]


def test_converged_in_the_grid():
    """A 4x finer integration grid moves no boundary by more than 1e-6."""
    from simengine import _groupseq

    t = UNEQUAL[4]
    coarse = _groupseq.spending_boundaries(t, 0.05, "hsd", True, gamma=-2)[0]
    old = _groupseq._RESOLUTION
    try:
        _groupseq._RESOLUTION = 4 * old
        fine = _groupseq.spending_boundaries(t, 0.05, "hsd", True, gamma=-2)[0]
    finally:
        _groupseq._RESOLUTION = old
    assert np.abs(coarse - fine).max() < 1e-6


def _mvn_cumulative(c, t, two_sided):
    """P(some |Z_j| >= c_j, j <= k) for each k, by scipy's multivariate normal CDF (Genz), not recursion."""
    t = np.asarray(t)
    cov = np.sqrt(np.minimum.outer(t, t) / np.maximum.outer(t, t))
    out = []
    for k in range(1, len(t) + 1):
        upper = np.where(np.isfinite(c[:k]), c[:k], 40.0)
        lower = -upper if two_sided else np.full(k, -40.0)
        if k == 1:
            inside = stats.norm.cdf(upper[0]) - stats.norm.cdf(lower[0])
        else:
            inside = stats.multivariate_normal.cdf(upper, np.zeros(k), cov[:k, :k], lower_limit=lower, abseps=2e-8,
                                                   releps=0, maxpts=400_000, rng=np.random.default_rng(k))
        out.append(1.0 - inside)
    return np.array(out)


# every kind once at unequal 4-look fractions, two-sided; the one-sided and equal-look cases on fewer kinds
# (Genz's integration costs ~0.5 s per design at this accuracy)
MVN_CASES = [(kind, param, "unequal4", "two-sided") for kind, param in (
    ("ld-obrien-fleming", {}), ("ld-pocock", {}), ("hsd", {"gamma": -4}), ("hsd", {"gamma": 1}), ("kim-demets", {"rho": 2}))
] + [("ld-obrien-fleming", {}, "equal3", "greater"), ("hsd", {"gamma": -2}, "unequal3", "greater"),
     ("kim-demets", {"rho": 3}, "unequal4", "greater"), ("ld-pocock", {}, "equal3", "two-sided")]


@pytest.mark.parametrize("kind, param, looks, alternative", MVN_CASES)
def test_alpha_spent_at_every_look_by_multivariate_normal(kind, param, looks, alternative):
    t = {"equal3": EQUAL[3], "unequal3": UNEQUAL[3], "unequal4": UNEQUAL[4]}[looks]
    alpha = 0.05 if alternative == "two-sided" else 0.025
    c = gsb(information=t * 37.0, kind=kind, alternative=alternative, alpha=alpha, **param)
    two = alternative == "two-sided"
    side = alpha / 2 if two else alpha
    target = spending(kind, t, side, param.get("gamma"), param.get("rho")) * (2 if two else 1)
    assert np.abs(_mvn_cumulative(c, t, two) - target).max() < 1e-6


def test_spending_functions_take_their_textbook_forms():
    t = np.array([0.0, 0.3, 1.0])
    assert spending("ld-obrien-fleming", t, 0.025)[1] == pytest.approx(2 - 2 * stats.norm.cdf(stats.norm.isf(0.0125) / math.sqrt(0.3)))
    assert spending("ld-pocock", t, 0.025)[1] == pytest.approx(0.025 * math.log(1 + (math.e - 1) * 0.3))
    assert spending("hsd", t, 0.025, gamma=-4)[1] == pytest.approx(0.025 * (1 - math.exp(1.2)) / (1 - math.exp(4)))
    assert spending("hsd", t, 0.025, gamma=0)[1] == pytest.approx(0.0075)
    assert spending("kim-demets", t, 0.025, rho=3)[1] == pytest.approx(0.025 * 0.027)
    for kind in ("ld-obrien-fleming", "ld-pocock", "hsd", "kim-demets"):
        s = spending(kind, t, 0.025, gamma=-4, rho=3)
        assert s[0] == 0 and s[-1] == pytest.approx(0.025, rel=1e-14)


def test_brownian_simulation_crosses_at_alpha():
    """Z paths at unequal, unplanned looks cross the HSD boundary with probability alpha (4 SE)."""
    t = np.array([0.15, 0.4, 0.55, 0.8, 1.0])
    c = gsb(information=t, kind="hsd", gamma=-2)
    rng = np.random.default_rng(11)
    n = 400_000
    s = np.cumsum(rng.standard_normal((n, 5)) * np.sqrt(np.diff(np.concatenate([[0.0], t]))), axis=1)
    crossed = (np.abs(s / np.sqrt(t)) >= c).any(axis=1).mean()
    assert abs(crossed - 0.05) < 4 * math.sqrt(0.05 * 0.95 / n)


def test_callable_equals_named_and_unplanned_looks():
    t = UNEQUAL[4]
    named = gsb(information=t, kind="kim-demets", rho=3)
    custom = gsb(information=t, kind=lambda u: 0.05 * u**3)
    assert np.allclose(named, custom, rtol=0, atol=1e-12)
    # a look whose spending increment is 0 never rejects
    step = gsb(information=[1, 2, 3], kind=lambda u: np.where(u < 0.5, 0.0, 0.05 * u))
    assert step[0] == math.inf and np.isfinite(step[1:]).all()
    # the design of the looks as they happened: only the fractions given matter
    assert np.array_equal(gsb(information=[10, 25, 40], kind="ld-pocock"), gsb(3, information=[2, 5, 8], kind="ld-pocock"))


def test_one_look_is_the_fixed_sample_test():
    for kind in ("ld-obrien-fleming", "ld-pocock", "hsd", "kim-demets"):
        assert gsb(1, kind=kind)[0] == pytest.approx(stats.norm.isf(0.025), abs=1e-9)
        assert gsb(1, kind=kind, alternative="greater", alpha=0.1)[0] == pytest.approx(stats.norm.isf(0.1), abs=1e-9)


def test_spending_close_to_the_constant_shapes():
    # HSD(-4) and Kim-DeMets(3) approximate O'Brien-Fleming; HSD(1) approximates Pocock (J&T section 7.3)
    obf, poc = gsb(5, kind="obrien-fleming"), gsb(5, kind="pocock")
    assert np.abs(gsb(5, kind="hsd", gamma=1) - poc).max() < 0.05
    assert np.abs(gsb(5, kind="kim-demets", rho=3)[2:] - obf[2:]).max() < 0.1


@pytest.mark.parametrize("kwargs, err, match", [
    (dict(), ValueError, "give `n_looks` or `information`"),
    (dict(n_looks=3, gamma=1.0), ValueError, "`gamma` only applies to kind='hsd'"),
    (dict(n_looks=3, kind="hsd", rho=1.0), ValueError, "`rho` only applies to kind='kim-demets'"),
    (dict(n_looks=3, kind="kim-demets", rho=0.0), ValueError, r"`rho` must be in \(0, 100\]"),
    (dict(n_looks=3, kind="hsd", gamma=math.nan), ValueError, "`gamma`"),
    (dict(n_looks=3, kind=lambda t: 0.05 * t[:2]), ValueError, "must return 3 finite values"),
    (dict(n_looks=3, kind=lambda t: 0.05 * (1 - t)), ValueError, "non-decreasing"),
    (dict(n_looks=3, kind=lambda t: 0.04 * t), ValueError, "must spend `alpha` = 0.05 at the last look"),
    (dict(n_looks=3, kind=lambda t: 1 / 0 * t), ValueError, "raised ZeroDivisionError"),
    (dict(n_looks=3, information=[1, 2]), ValueError, "`information` must have length"),
    (dict(n_looks=3, kind="ld-magic"), ValueError, "`kind`"),
])
def test_bad_input(kwargs, err, match):
    with pytest.raises(err, match=match):
        gsb(**kwargs)


def test_hsd_at_tiny_gamma_is_its_linear_limit():
    linear = gsb(3, kind="kim-demets", rho=1)
    for gamma in (0.0, 5e-324, -1e-12):
        assert np.allclose(gsb(3, kind="hsd", gamma=gamma), linear, rtol=0, atol=1e-8)

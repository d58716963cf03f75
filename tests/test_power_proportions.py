"""power_proportions against R's power.prop.test (its documented examples), statsmodels and simulation."""
import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import power_proportions_2indep, proportion_effectsize

import simengine
from simengine import power_proportions

SM = {"two-sided": "two-sided", "greater": "larger", "less": "smaller"}


def test_r_documented_examples():
    # R's ?power.prop.test: n = 50, p1 = .50, p2 = .75  => power = 0.740; power = .90 => n = 76.7
    assert round(float(power_proportions(0.50, 0.75, n=50).power), 3) == 0.740
    assert round(float(power_proportions(0.50, 0.75, power=0.90).n), 1) == 76.7


def _r_formula(p1, p2, n, alpha, one_sided):
    """R's power.prop.test p.body (strict = FALSE), written out with scipy."""
    q = stats.norm.isf(alpha if one_sided else alpha / 2)
    return stats.norm.cdf((np.sqrt(n) * abs(p1 - p2) - q * np.sqrt((p1 + p2) * (1 - (p1 + p2) / 2)))
                          / np.sqrt(p1 * (1 - p1) + p2 * (1 - p2)))


@pytest.mark.parametrize("p1, p2, n", [(0.1, 0.12, 3000), (0.5, 0.75, 50), (0.02, 0.01, 800), (0.9, 0.6, 7.5)])
@pytest.mark.parametrize("alpha", [0.05, 0.001])
def test_normal_equals_r_formula(p1, p2, n, alpha):
    two = power_proportions(p1, p2, n=n, alpha=alpha)
    assert two.power == pytest.approx(_r_formula(p1, p2, n, alpha, False), rel=1e-12, abs=1e-15)
    alt = "greater" if p1 > p2 else "less"
    one = power_proportions(p1, p2, n=n, alpha=alpha, alternative=alt)
    assert one.power == pytest.approx(_r_formula(p1, p2, n, alpha, True), rel=1e-12, abs=1e-15)
    # solving back for n gives the same n (closed form)
    for res, a in ((two, "two-sided"), (one, alt)):
        if res.power > 0.51:
            back = power_proportions(p1, p2, power=res.power, alpha=alpha, alternative=a)
            assert back.n == pytest.approx(n, rel=1e-9)


@pytest.mark.parametrize("ratio", [0.5, 1.0, 2.0, 3.7])
@pytest.mark.parametrize("alternative", ["greater", "less", "two-sided"])
def test_normal_with_ratio_equals_statsmodels_2indep(ratio, alternative):
    # statsmodels' power_proportions_2indep (pooled SD under H0, unpooled under H1) counts both
    # tails in a two-sided test; R's formula (ours) counts the effect's direction only
    p1, p2 = (0.26, 0.2) if alternative != "less" else (0.2, 0.26)
    for n in (40.0, 333.0, 2500.0):
        ours = float(power_proportions(p1, p2, n=n, ratio=ratio, alternative=alternative).power)
        ref = power_proportions_2indep(p1 - p2, p2, n, ratio=ratio, alternative=SM[alternative],
                                       return_results=True)
        expected = ref.power
        if alternative == "two-sided":
            crit = stats.norm.isf(0.025)
            expected -= stats.norm.cdf((-abs(p1 - p2) * np.sqrt(n) - crit * ref.std_null) / ref.std_alt)
        assert ours == pytest.approx(expected, rel=1e-10, abs=1e-14)


@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
@pytest.mark.parametrize("ratio", [1.0, 2.5])
def test_arcsine_equals_statsmodels(alternative, ratio):
    p1, p2 = (0.3, 0.2) if alternative != "less" else (0.2, 0.3)
    es = proportion_effectsize(p1, p2)
    ipow = NormalIndPower()
    for n in (20.0, 140.0, 1200.0):
        ours = float(power_proportions(p1, p2, n=n, ratio=ratio, method="arcsine", alternative=alternative).power)
        assert ours == pytest.approx(ipow.power(es, n, 0.05, ratio=ratio, alternative=SM[alternative]), rel=1e-10)
    res = power_proportions(p1, p2, power=0.9, ratio=ratio, method="arcsine", alternative=alternative)
    # statsmodels' own solver stops near 1e-10 relative; ours solves to the float: its power is the target
    assert ipow.power(es, res.n, 0.05, ratio=ratio, alternative=SM[alternative]) == pytest.approx(0.9, abs=1e-12)
    assert res.n == pytest.approx(ipow.solve_power(es, power=0.9, alpha=0.05, ratio=ratio,
                                                   alternative=SM[alternative]), rel=1e-7)


def test_broadcast_power_curve_and_frame():
    res = power_proportions(0.1, [[0.12], [0.15]], n=[100, 1000, 10000])
    assert res.power.shape == (2, 3) and res.n_ceil.dtype == np.int64
    assert np.all(np.diff(res.power, axis=1) > 0)  # power grows with n
    for i, p2 in enumerate((0.12, 0.15)):
        for j, n in enumerate((100, 1000, 10000)):
            assert res.power[i, j] == power_proportions(0.1, p2, n=n).power
    frame = res.to_frame()
    assert len(frame) == 6 and list(frame.columns[:3]) == ["n", "n_ceil", "power"]
    assert float(power_proportions(0.1, 0.2, power=0.8)) == power_proportions(0.1, 0.2, power=0.8).n


def test_n_ceil_is_the_smallest_whole_size_reaching_power():
    res = power_proportions(0.1, 0.12, power=0.8)
    assert res.n_ceil == 3841 and res.power_at_n_ceil >= 0.8
    assert float(power_proportions(0.1, 0.12, n=res.n_ceil - 1).power) < 0.8


@pytest.mark.parametrize("method", ["normal", "arcsine"])
@pytest.mark.parametrize("alternative", ["two-sided", "greater"])
def test_simulated_test_agrees_with_formula(method, alternative):
    """Where the normal approximation holds, the simulated z-test's rejection rate is the formula's."""
    res = power_proportions([0.3, 0.5], [0.2, 0.4], power=[0.5, 0.8], method=method, alternative=alternative,
                            simulate=True, n_sims=20_000, rng=7)
    z = (res.simulated_power - res.power_at_n_ceil) / res.simulated_power_se
    assert np.all(np.abs(z) < 4), z
    again = power_proportions([0.3, 0.5], [0.2, 0.4], power=[0.5, 0.8], method=method, alternative=alternative,
                              simulate=True, n_sims=20_000, rng=7)
    assert np.array_equal(again.simulated_power, res.simulated_power)
    assert power_proportions(0.3, 0.2, n=50).simulated_power is None


def test_simulated_type_one_error_of_the_pooled_test():
    res = power_proportions(0.3, 0.3 + 1e-12, n=400, alternative="greater", simulate=True, n_sims=40_000, rng=3)
    assert abs(res.simulated_power - 0.05) < 4 * res.simulated_power_se


@pytest.mark.parametrize("kwargs, match", [
    (dict(p1=0.1, p2=0.2), "exactly one of `n` and `power`"),
    (dict(p1=0.1, p2=0.2, n=10, power=0.8), "exactly one of `n` and `power`"),
    (dict(p1=0.0, p2=0.2, n=10), r"`p1` must be in \(0, 1\)"),
    (dict(p1=0.1, p2=[0.2, 1.0], n=10), r"`p2` must be in \(0, 1\)"),
    (dict(p1=0.1, p2=0.2, n=-1), r"`n` must be in \(0, inf\)"),
    (dict(p1=0.1, p2=0.2, power=1.0), r"`power` must be in \(0, 1\)"),
    (dict(p1=0.1, p2=0.2, n=10, alpha=0.0), r"`alpha` must be in \(0, 1\)"),
    (dict(p1=0.1, p2=0.2, n=10, ratio=0.0), r"`ratio` must be in \(0, inf\)"),
    (dict(p1=0.1, p2=0.2, power=0.8, alternative="greater"), r"needs p1 > p2"),
    (dict(p1=0.1, p2=0.1, power=0.8), r"needs p1 != p2"),
    (dict(p1=0.1, p2=0.1, power=0.8, method="arcsine"), r"needs p1 != p2"),
    (dict(p1=0.1, p2=0.2, power=0.01), r"`power` must exceed"),
    (dict(p1=0.1, p2=0.2, n=[1, 2], power=None, ratio=[1, 2, 3]), "must broadcast"),
    (dict(p1=0.1, p2=0.2, n=10, method="exact"), "`method`"),
    (dict(p1=0.1, p2=0.2, n=10, simulate=True, n_sims=0), "`n_sims`"),
])
def test_bad_input_names_the_parameter(kwargs, match):
    with pytest.raises(ValueError, match=match):
        power_proportions(**kwargs)


def test_type_errors():
    with pytest.raises(TypeError, match="`p1`"):
        power_proportions("0.1", 0.2, n=10)
    with pytest.raises(TypeError, match="`simulate`"):
        power_proportions(0.1, 0.2, n=10, simulate="yes")


def test_exported():
    assert simengine.power_proportions is power_proportions
    assert "PowerProportionsResult" in simengine.__all__

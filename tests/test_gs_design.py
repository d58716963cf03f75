"""group_sequential_design (issue 16): inflation factors from Jennison & Turnbull's tables, expected sample
sizes and error rates against a Brownian-motion simulation, beta spending, binding and non-binding futility."""
import math

import numpy as np
import pytest
from scipy.special import ndtri

import simengine
from simengine import group_sequential_design as gsd
from simengine._groupseq import spending

# Jennison & Turnbull (2000), Tables 2.4 and 2.7 (two-sided alpha = 0.05, equal looks): R(K) for K = 2..5
INFLATION = {
    ("pocock", 0.8): [1.110, 1.166, 1.202, 1.229],
    ("pocock", 0.9): [1.100, 1.151, 1.183, 1.207],
    ("obrien-fleming", 0.8): [1.008, 1.017, 1.024, 1.028],
    ("obrien-fleming", 0.9): [1.007, 1.016, 1.022, 1.026],
}


@pytest.mark.parametrize("kind, power", sorted(INFLATION))
def test_inflation_factors_reproduce_the_tables(kind, power):
    got = [round(gsd(k, kind=kind, power=power).inflation_factor, 3) for k in (2, 3, 4, 5)]
    assert got == INFLATION[kind, power]


def _simulate(design, theta, n=200_000, seed=0, obey_futility=True):
    """Brownian paths S_k = Z_k sqrt(t_k) with drift theta (per unit of information fraction) through the
    design: (P(efficacy), mean stopping fraction, exits per look)."""
    t = design.information
    rng = np.random.default_rng(seed)
    inc = np.sqrt(np.diff(np.concatenate([[0.0], t])))
    s = np.cumsum(rng.standard_normal((n, t.size)) * inc + theta * np.diff(np.concatenate([[0.0], t])), axis=1)
    z = s / np.sqrt(t)
    two = design.alternative == "two-sided"
    eff = (np.abs(z) if two else z) >= design.efficacy
    fut = np.zeros_like(eff) if design.futility is None or not obey_futility else z <= design.futility
    stop = eff | fut
    first = np.where(stop.any(axis=1), stop.argmax(axis=1), t.size - 1)
    rows = np.arange(n)
    rejected = eff[rows, first]
    return rejected.mean(), t[first].mean(), first


def _se(p, n=200_000):
    return math.sqrt(p * (1 - p) / n)


@pytest.mark.parametrize("kwargs", [
    dict(n_looks=4, kind="pocock"),
    dict(information=[0.3, 0.55, 1.0], kind="ld-obrien-fleming"),
    dict(n_looks=3, alpha=0.025, alternative="greater", kind="hsd", futility="hsd"),
    dict(information=[1, 3, 4, 6], alpha=0.025, alternative="greater", kind="ld-pocock", futility="ld-obrien-fleming",
         binding=True),
])
def test_power_and_expected_sample_size_by_simulation(kwargs):
    d = gsd(power=0.85, **kwargs)
    side = d.alpha / 2 if d.alternative == "two-sided" else d.alpha
    theta = (float(-ndtri(side) - ndtri(0.15))) * math.sqrt(d.inflation_factor)
    n = 200_000
    power, frac1, _ = _simulate(d, theta, n, seed=1)
    assert abs(power - 0.85) < 4 * _se(0.85, n)
    assert abs(frac1 * d.inflation_factor - d.expected_sample_fraction_h1) < 4 * 0.4 * d.inflation_factor / math.sqrt(n)
    alpha0, frac0, _ = _simulate(d, 0.0, n, seed=2)
    assert abs(frac0 * d.inflation_factor - d.expected_sample_fraction_h0) < 4 * 0.4 * d.inflation_factor / math.sqrt(n)
    if d.futility is None or d.binding:
        assert abs(alpha0 - d.alpha) < 4 * _se(d.alpha, n)  # binding: exactly alpha when futility is obeyed
    else:
        ignored, _, _ = _simulate(d, 0.0, n, seed=3, obey_futility=False)
        assert abs(ignored - d.alpha) < 4 * _se(d.alpha, n)  # non-binding: alpha even if futility is ignored
        assert alpha0 < d.alpha


def test_beta_and_alpha_spent_follow_their_spending_functions():
    d = gsd(information=[0.2, 0.45, 0.7, 1.0], alpha=0.025, power=0.9, alternative="greater", kind="hsd", gamma=-3,
            futility="hsd", futility_gamma=-1)
    t = d.information
    # the looks before the last spend exactly what the function releases (solved to 1e-12); the last look's
    # total is 1 - power as integrated, to the recursion's accuracy (~1e-7)
    assert np.allclose(d.beta_spent[:-1], spending("hsd", t, 0.1, -1)[:-1], rtol=0, atol=1e-9)
    assert d.beta_spent[-1] == pytest.approx(0.1, abs=1e-6)
    assert np.allclose(d.alpha_spent, spending("hsd", t, 0.025, -3), rtol=0, atol=1e-8)
    assert d.futility[-1] == d.efficacy[-1] and np.all(d.futility <= d.efficacy)
    two = gsd(4, kind="ld-pocock")
    assert np.allclose(two.alpha_spent, 2 * spending("ld-pocock", two.information, 0.025), rtol=0, atol=1e-8)
    assert two.futility is None and two.beta_spent is None


def test_binding_futility_gives_smaller_designs():
    common = dict(n_looks=3, alpha=0.025, alternative="greater", kind="ld-obrien-fleming", futility="ld-pocock")
    free, bound = gsd(**common), gsd(binding=True, **common)
    assert bound.inflation_factor < free.inflation_factor
    assert bound.efficacy[-1] < free.efficacy[-1]
    assert bound.alpha_spent[-1] == pytest.approx(0.025, abs=1e-9) and free.alpha_spent[-1] == pytest.approx(0.025, abs=1e-9)


def test_one_look_is_the_fixed_design_and_sample_size():
    d = gsd(1, power=0.8)
    assert d.inflation_factor == pytest.approx(1.0, abs=1e-9)
    assert d.expected_sample_fraction_h0 == pytest.approx(1.0, abs=1e-9)
    n_fixed = simengine.power_ttest(effect_size=0.5, power=0.8).n
    looks = gsd(4, power=0.8, kind="pocock").sample_size(n_fixed)
    assert looks[-1] == math.ceil(n_fixed * 1.202 - 0.02) or looks[-1] == math.ceil(n_fixed * 1.2024)
    assert np.all(np.diff(looks) > 0)
    frame = gsd(4).to_frame()
    assert len(frame) == 4 and list(frame.columns[:3]) == ["information", "efficacy", "futility"]


@pytest.mark.parametrize("kwargs, match", [
    (dict(n_looks=3, futility="hsd"), "`futility` needs a one-sided design"),
    (dict(n_looks=3, alternative="greater", futility="kim-demets"), "`futility`"),
    (dict(n_looks=3, alternative="greater", binding=True), "`binding` needs a `futility`"),
    (dict(n_looks=3, alternative="greater", futility="hsd", binding=True), "`binding` needs a spending `kind`"),
    (dict(n_looks=3, alternative="greater", futility="ld-pocock", futility_gamma=1.0), "`futility_gamma` only applies"),
    (dict(n_looks=3, power=0.01), "`power` must be above"),
    (dict(n_looks=3, alternative="greater", futility=lambda t: 0.05 * t), "must spend 1 - `power`"),
])
def test_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        gsd(**kwargs)
    with pytest.raises(TypeError, match="`binding`"):
        gsd(3, binding="yes")
    with pytest.raises(ValueError, match="`n_fixed`"):
        gsd(3).sample_size(-5)


# ------------------------------------------------------------------ simulate_peeking runs a design (issue 16)

def _design_and_looks():
    d = gsd(information=[250, 500, 750, 1000], alpha=0.025, power=0.9, alternative="greater",
            kind="ld-obrien-fleming", futility="hsd")
    return d, np.full(4, 250)


def test_simulating_the_design_confirms_it():
    """Normal data with known sd and the z-test is the design's model exactly: power, type I error with futility
    obeyed, expected sample size and the futility stops per look agree with the design within 4 SE."""
    from simengine import _groupseq

    d, per_look = _design_and_looks()
    n_fixed = 1000 / d.inflation_factor  # the fixed design's visitors per arm
    delta = (float(-ndtri(0.025) - ndtri(0.1))) * math.sqrt(2.0 / n_fixed)  # the design alternative (sd 1)
    n = 40_000
    common = dict(n_sims=n, n_looks=4, visitors_per_look=per_look, metric="normal", sd=1.0, test="z",
                  alpha=0.025, alternative="greater", boundary=d, rng=3)
    h1 = simengine.simulate_peeking(lift=delta, **common)
    h0 = simengine.simulate_peeking(lift=0.0, **common)
    theta = (float(-ndtri(0.025) - ndtri(0.1))) * math.sqrt(d.inflation_factor)
    exits = _groupseq.design_at(theta, d.information, d.efficacy, None,
                                np.diff(np.concatenate([[0.0], d.beta_spent])), False)
    assert abs(h1.rejected_any_look - 0.9) < 4 * h1.rejected_any_look_se
    assert np.all(np.abs(h1.futility_look / n - exits["futility_h1"]) < 4 * np.sqrt(exits["futility_h1"] / n) + 1e-9)
    alpha_obeyed = exits["efficacy_h0"].sum()  # non-binding: below alpha when futility is obeyed
    assert alpha_obeyed < 0.025 and abs(h0.rejected_any_look - alpha_obeyed) < 4 * h0.rejected_any_look_se
    for res, frac in ((h0, d.expected_sample_fraction_h0), (h1, d.expected_sample_fraction_h1)):
        assert abs(res.expected_visitors_per_arm - frac * n_fixed) < 4 * res.expected_visitors_per_arm_se
    assert h0.stopped_futility > 0.9 and h1.first_rejection_look.sum() + h1.futility_look.sum() == n
    frame = h1.to_frame()
    assert list(frame.columns[-2:]) == ["futility_value", "futility_stops"]


def test_futility_array_and_spending_names():
    base = dict(n_sims=2000, n_looks=3, visitors_per_look=100, rate=0.1, alpha=0.025, alternative="greater", rng=1)
    plain = simengine.simulate_peeking(boundary="obrien-fleming", **base)
    no_stop = simengine.simulate_peeking(boundary="obrien-fleming", futility=[-np.inf] * 3, **base)
    assert no_stop.rejected_any_look == plain.rejected_any_look and no_stop.stopped_futility == 0
    assert plain.futility_values is None and "futility_stops" not in plain.to_frame()
    spend = simengine.simulate_peeking(boundary="ld-pocock", **base)
    assert np.allclose(spend.critical_values, simengine.group_sequential_boundaries(3, kind="ld-pocock",
                                                                                    alternative="greater", alpha=0.025))


@pytest.mark.parametrize("kwargs, match", [
    (dict(futility=[0.0, 0.5, 1.0]), "one-sided test"),
    (dict(futility=[0.0, 0.5, 1.0], alternative="greater", test="welch"), "test 't' or 'z'"),
    (dict(futility=[0.0, 0.5], alternative="greater"), "length `n_looks`"),
    (dict(futility=[0.0, 9.0, 1.0], alternative="greater", boundary="pocock"), "must not exceed"),
    (dict(futility=[0.0, np.nan, 1.0], alternative="greater"), "without NaN"),
])
def test_futility_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        simengine.simulate_peeking(n_sims=10, n_looks=3, visitors_per_look=10, **kwargs)


def test_design_must_fit_the_simulation():
    d, per_look = _design_and_looks()
    base = dict(n_sims=10, n_looks=4, alternative="greater", alpha=0.025)
    with pytest.raises(ValueError, match="made for other looks"):
        simengine.simulate_peeking(visitors_per_look=[100, 300, 300, 300], boundary=d, **base)
    with pytest.raises(ValueError, match="designed at alpha"):
        simengine.simulate_peeking(visitors_per_look=per_look, boundary=d, **{**base, "alpha": 0.05})
    with pytest.raises(ValueError, match="`alternative` must match"):
        simengine.simulate_peeking(visitors_per_look=per_look, boundary=d, **{**base, "alternative": "two-sided"})
    with pytest.raises(ValueError, match="already given by the design"):
        simengine.simulate_peeking(visitors_per_look=per_look, boundary=d, futility=[0, 0, 0, 0], **base)

"""Bad-input fuzz suite for the hypothesis-test slice (issue 12).

Every public function (ttest_ind, mannwhitneyu, permutation_test, power_ttest, power_proportions,
simulate_power, multipletests, simulate_multiple_testing) is called with each parameter
replaced by every hostile value of `tests/_fuzz.py` and by hypothesis-generated ones: the call
returns a sane result or raises TypeError / ValueError naming that parameter, without
NumPy/numba internals in the message.  Data-level extremes (values near 1e308 and 1e-300,
pandas objects) must give the right answer.
"""
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st
from numpy.testing import assert_allclose
from scipy import stats

import simengine as se
from _fuzz import ANY_BAD, bad_values, check_call
from simengine._validate import MAX_COUNT

X = np.linspace(0.0, 1.0, 8)
Y = np.linspace(0.3, 1.4, 9)



def _simulate_multiple_testing_frame(**kwargs):
    """se.simulate_multiple_testing's table (one row per method), checked by `_sane` as a DataFrame."""
    return se.simulate_multiple_testing(**kwargs).to_frame()


def _permutation_k(x, y, z, **kwargs):
    """se.permutation_test of three samples (k-sample design: `z` is more_samples[0])."""
    return se.permutation_test(x, y, z, **kwargs)


# (function, a cheap valid call); each parameter of the call is replaced in turn
CASES = {
    "ttest_ind": (se.ttest_ind, dict(x=X, y=Y, axis=0, equal_var=True, nan_policy="propagate",
                                     alternative="two-sided")),
    "mannwhitneyu": (se.mannwhitneyu, dict(x=X, y=Y, use_continuity=True, alternative="two-sided", axis=0,
                                           method="auto", nan_policy="propagate")),
    "mannwhitneyu-exact": (se.mannwhitneyu, dict(x=X[:4], y=Y[:5], method="exact", nan_policy="omit")),
    "permutation_test": (
        se.permutation_test,
        dict(x=X[:5], y=Y[:6], statistic="mean", alternative="two-sided", n_resamples=99, axis=0, rng=1,
             nan_policy="propagate"),
    ),
    # issue 17: the paired, association and k-sample designs
    "permutation_test-samples": (
        se.permutation_test,
        dict(x=X[:6], y=Y[:6], statistic="median", permutation_type="samples", alternative="less", n_resamples=99,
             axis=0, rng=1, nan_policy="propagate"),
    ),
    "permutation_test-pairings": (
        se.permutation_test,
        dict(x=X[:6], y=Y[:6] ** 2, statistic="correlation", permutation_type="pairings", alternative="greater",
             n_resamples=99, axis=0, rng=1, nan_policy="omit"),
    ),
    "permutation_test-k": (
        _permutation_k,
        dict(x=X[:5], y=Y[:6], z=X[:4] + 0.5, statistic="kruskal", permutation_type="independent",
             alternative="greater", n_resamples=99, axis=0, rng=1, nan_policy="propagate"),
    ),
    "power_ttest-power": (se.power_ttest, dict(effect_size=0.5, n=20, alpha=0.05, ratio=1.0, alternative="two-sided")),
    "power_ttest-n": (se.power_ttest, dict(effect_size=0.5, power=0.8, alpha=0.05, ratio=1.0, alternative="greater")),
    "power_ttest-effect_size": (se.power_ttest, dict(n=20, power=0.8, alpha=0.05, ratio=1.0, alternative="less")),
    "power_proportions-power": (
        se.power_proportions,
        dict(p1=0.3, p2=0.2, n=50, alpha=0.05, ratio=1.0, alternative="two-sided", method="normal", simulate=True,
             n_sims=200, rng=1),
    ),
    "power_proportions-n": (
        se.power_proportions,
        dict(p1=[0.3, 0.4], p2=0.2, power=0.8, alpha=0.05, ratio=2.0, alternative="greater", method="arcsine"),
    ),
    "simulate_power-t": (
        se.simulate_power,
        dict(test="t", effect_size=0.5, n=10, n_sims=50, alpha=0.05, distribution="normal",
             alternative="two-sided", n_resamples=19, rng=1),
    ),
    "simulate_power-permutation": (
        se.simulate_power,
        dict(test="permutation", effect_size=0.5, n=[5, 6], n_sims=20, alpha=0.05, distribution="exponential",
             alternative="greater", n_resamples=19, rng=1),
    ),
    "simulate_power-wilcoxon": (  # issue 17: paired designs
        se.simulate_power,
        dict(test="wilcoxon", effect_size=0.5, n=[5, 60], n_sims=20, alpha=0.05, distribution="lognormal",
             alternative="less", n_resamples=19, rng=1),
    ),
    "simulate_power-paired_permutation": (
        se.simulate_power,
        dict(test="paired_permutation", effect_size=0.5, n=[4, 6], n_sims=20, alpha=0.05, distribution="exponential",
             alternative="greater", n_resamples=19, rng=1),
    ),
    "simulate_power-adaptive": (  # issue 14: progress bar, precision on demand
        se.simulate_power,
        dict(effect_size=0.5, n=10, n_sims=50, progress=False, target_se=0.2, max_sims=200),
    ),
    "multipletests": (
        se.multipletests,
        dict(pvals=[0.01, 0.2, 0.03], alpha=0.05, method="fdr_tsbky", maxiter=1, is_sorted=False, returnsorted=False),
    ),
    "simulate_multiple_testing": (
        _simulate_multiple_testing_frame,
        dict(n_tests=5, n_true=1, effect_size=0.5, n_per_group=10, n_sims=20, methods=("holm", "fdr_bh"),
             alpha=0.05, rng=1),
    ),
    "simulate_multiple_testing-adaptive": (
        _simulate_multiple_testing_frame,
        dict(effect_size=0.5, n_per_group=10, n_sims=20, methods="holm", progress=False, target_se=0.3,
             max_sims=100),
    ),
}
PARAMS = [(case, param) for case, (_, base) in CASES.items() for param in base]


def _sane(out):
    """An accepted hostile value must still give a result without NaN (no silent wrong number)."""
    if isinstance(out, pd.DataFrame):
        values = out.drop(columns=[c for c in out.columns if c.startswith("power")]).to_numpy(float)
        assert not np.isnan(values).any()
        return
    for key, value in out.to_dict().items():
        if key == "null_distribution" or isinstance(value, str) or value is None:  # None: not computed
            continue
        assert not np.isnan(np.asarray(value, dtype=float)).any(), key


_WARM = set()


def _call(case, param, value):
    fn, base = CASES[case]
    if case not in _WARM:
        # the first call compiles the kernels (seconds on a cold cache under load); the timeout in
        # check_call is there to catch hangs in the call itself, so time only warm calls
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fn(**base)
        _WARM.add(case)
    kwargs = dict(base)
    kwargs[param] = value
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # solver warnings are tested elsewhere
        ok, out = check_call(fn, (), kwargs, param=param, timeout=10)
    if ok and not _propagated_nan(case, param, value):
        _sane(out)


# hyp slice (issue 13): NaN in the data of the two-sample tests follows `nan_policy` (scipy's
# "propagate" by default), a documented NaN result rather than a silent wrong number
_NAN_POLICY_CASES = ("ttest_ind", "mannwhitneyu", "mannwhitneyu-exact", "permutation_test",
                     "permutation_test-samples", "permutation_test-pairings", "permutation_test-k")


def _propagated_nan(case, param, value):
    if case not in _NAN_POLICY_CASES or param not in ("x", "y", "z"):
        return False
    try:
        return bool(np.isnan(np.asarray(value, dtype=float)).any())
    except (TypeError, ValueError):
        return False


@pytest.mark.parametrize("case,param", PARAMS)
def test_every_hostile_value(case, param):
    for value in ANY_BAD:
        _call(case, param, value)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_generated_hostile_values(data):
    case, param = data.draw(st.sampled_from(PARAMS))
    value = data.draw(bad_values())
    # a large count that is valid is not hostile, only slow (n_resamples=19_299_986 runs for seconds)
    assume(not (isinstance(value, int) and 10**4 < value <= MAX_COUNT))
    _call(case, param, value)


# --- data-level extremes ---


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    exponent=st.integers(-1000, 1000),  # the scaled data stay normal (not subnormal) floats
    equal_var=st.booleans(),
)
def test_ttest_ind_scale_free_across_the_float_range(seed, exponent, equal_var):
    # t, df and p do not depend on a power-of-two scale of both samples, even where the sums of
    # squares over- or underflow (the scaled data stay normal floats here)
    rng = np.random.default_rng(seed)
    x, y = rng.normal(0, 1, 7), rng.normal(0.3, 1, 11)
    ref = se.ttest_ind(x, y, equal_var=equal_var)
    res = se.ttest_ind(np.ldexp(x, exponent), np.ldexp(y, exponent), equal_var=equal_var)
    assert_allclose([res.statistic, res.pvalue, res.df], [ref.statistic, ref.pvalue, ref.df], rtol=1e-11)


def test_pandas_objects_as_data_work_like_arrays():
    rng = np.random.default_rng(0)
    frame_x = pd.DataFrame(rng.normal(0, 1, (12, 3)), columns=list("abc"))
    frame_y = pd.DataFrame(rng.normal(0.5, 1, (15, 3)), columns=list("abc"))
    sx, sy = frame_x["a"], frame_y["a"]
    for fn in (se.ttest_ind, se.mannwhitneyu):
        assert_allclose(fn(sx, sy).pvalue, fn(sx.to_numpy(), sy.to_numpy()).pvalue, rtol=0)
        assert_allclose(fn(frame_x, frame_y).pvalue, fn(frame_x.to_numpy(), frame_y.to_numpy()).pvalue, rtol=0)
    assert_allclose(se.ttest_ind(sx, sy).pvalue, stats.ttest_ind(sx, sy).pvalue, rtol=1e-12)
    perm = se.permutation_test(sx, sy, n_resamples=99, rng=1)
    assert perm.pvalue == se.permutation_test(sx.to_numpy(), sy.to_numpy(), n_resamples=99, rng=1).pvalue
    p = pd.DataFrame(rng.uniform(size=(4, 6)))
    assert (se.multipletests(p, method="holm").reject == se.multipletests(p.to_numpy(), method="holm").reject).all()
    assert se.simulate_power(effect_size=0.5, n=pd.Series([10, 20]), n_sims=100, rng=1).power.shape == (2,)


def test_mannwhitneyu_values_near_the_float_limit():
    # ranks only: data near 1e308 give scipy's answer on the rescaled data
    rng = np.random.default_rng(5)
    x, y = rng.normal(0, 1, 20), rng.normal(0.4, 1, 23)
    ref = stats.mannwhitneyu(x, y, method="asymptotic")
    res = se.mannwhitneyu(x * 1e307, y * 1e307)
    assert_allclose([res.statistic, res.pvalue], [ref.statistic, ref.pvalue], rtol=1e-12)


# --- the new messages ---


def test_hardening_iv():
    ragged = [[1.0, 2.0], [3.0]]
    with pytest.raises(TypeError, match="`x` must be a rectangular array of real numbers; got a ragged"):
        se.ttest_ind(ragged, Y)
    with pytest.raises(TypeError, match="`y` must be a rectangular array of real numbers; got a ragged"):
        se.permutation_test(X, ragged)
    with pytest.raises(TypeError, match="`pvals` must be a rectangular array of real numbers; got a ragged"):
        se.multipletests(ragged)
    with pytest.raises(TypeError, match="`n` must be a rectangular array of integers; got a ragged"):
        se.simulate_power(effect_size=0.5, n=[[10, 20], [30]])
    with pytest.raises(TypeError, match=r"`statistic` must be 'mean', 'median' or a jitted function .*; got None"):
        se.permutation_test(X, Y, statistic=None)
    with pytest.raises(TypeError, match="`methods` must be a method name or a sequence of them; got None"):
        se.simulate_multiple_testing(effect_size=0.5, n_per_group=10, methods=None)
    with pytest.raises(TypeError, match="`methods` must be a method name or a sequence of them"):
        se.simulate_multiple_testing(effect_size=0.5, n_per_group=10, methods=np.array(1.0))
    with pytest.raises(ValueError, match=r"`n` must be an integer in \[2, 1000000000\]; got 2147483648"):
        se.simulate_power(effect_size=0.5, n=2**31)
    with pytest.raises(ValueError, match=r"`alpha` must be in \[1e-100, 1\) for power_ttest"):
        se.power_ttest(effect_size=0.5, power=0.8, alpha=1e-200)
    assert math.isfinite(se.power_ttest(effect_size=0.5, n=2**63).power)

"""The one result protocol, checked over every public function and result class.

Every public function returns an exported ``<FunctionName>Result``: a frozen, slotted
dataclass that unpacks like the scipy / statsmodels value it replaces, with ``to_dict()``
and ``to_frame()``; every Monte Carlo result declares its estimates (``x`` with ``x_se``)
and `sweep` runs every simulation with no adapter, equal to the direct call.
"""
import dataclasses
import inspect
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import simengine
from simengine._results import MonteCarloResult, Result, declaration_problems
from simengine._rng import as_seed_sequence
from simengine._sweep import _point_seed

_X = np.array([0.3, 1.2, -0.4, 2.2, 0.9, 1.7, 0.1, 1.4])
_Y = np.array([-0.2, 0.4, -1.1, 0.8, 0.0, -0.6, 0.5])
_ERRORS = np.random.default_rng(0).random(400) < np.r_[np.full(200, 0.1), np.full(200, 0.5)]
_REF = np.random.default_rng(1).normal(size=500)

# name -> (args, kwargs, number of values unpacked or None when the result does not unpack)
CALLS = {
    "permutation_test": ((_X, _Y), dict(n_resamples=99, rng=0), 2),
    "ttest_ind": ((_X, _Y), {}, 2),
    "mannwhitneyu": ((_X, _Y), {}, 2),
    "power_ttest": ((), dict(effect_size=0.5, n=20), None),
    "power_proportions": ((0.1, 0.2), dict(n=100), None),
    "simulate_power": ((), dict(effect_size=0.5, n=20, n_sims=200, rng=0), None),
    "multipletests": (([0.01, 0.02, 0.5],), {}, 4),
    "simulate_multiple_testing": ((), dict(effect_size=0.5, n_per_group=10, n_sims=50, rng=0), None),
    "simulate_peeking": ((), dict(n_sims=100, n_looks=3, visitors_per_look=50, rng=0), None),
    "group_sequential_design": ((3,), dict(alternative="greater", futility="hsd"), None),
    "msprt": ((np.arange(20.0) % 3, np.arange(20.0) % 4), dict(tau=0.5), None),
    "bayes_ab": ((10, 100, 12, 100), {}, None),
    "prob_best": (([10, 12, 11], [100, 100, 100]), dict(n_draws=1000, rng=0), None),
    "proportion_interval": ((5, 20), {}, 2),
    "simulate_coverage": ((), dict(p=0.1, n=20, n_sims=100, rng=0), None),
    "simulate_bayes_peeking": ((), dict(n_sims=100, n_looks=3, visitors_per_look=50, rate=0.1, rng=0), None),
    "metropolis_hastings": (
        (simengine.targets.multivariate_normal([0.0, 0.0], np.eye(2)), [0.0, 0.0]),
        dict(n_steps=50, n_chains=2, rng=0), None),
    "psi_monitor": ((_REF, [_REF[:100], _REF[100:200] + 1.0]), {}, None),
    "ddm": ((_ERRORS,), {}, None),
    "adwin": ((_ERRORS.astype(float),), {}, None),
    "simulate_drift_detection": ((), dict(n_sims=20, n_steps=200, drift_start=100, rng=0), None),
    # a design of a function: "name[design]" calls `name` (issue 17: permutation designs)
    "permutation_test[samples]": ((_X[:7], _Y), dict(permutation_type="samples", n_resamples=99, rng=0), 2),
    "permutation_test[pairings]": ((_X[:7], _Y), dict(permutation_type="pairings", statistic="correlation",
                                                      n_resamples=99, rng=0), 2),
    "permutation_test[k samples]": ((_X, _Y, _X + 1.0), dict(statistic="kruskal", n_resamples=99, rng=0), 2),
    "simulate_load_test": ((), dict(arrival_rate=300.0, workers=12, n_requests=2000, n_sims=5, quantiles=0.99, rng=0),
                           None),
    "simulate_bootstrap_coverage": ((), dict(distribution="normal", n=10, statistic="mean", n_resamples=49,
                                             n_sims=40, rng=0), None),
    "bootstrap": (((_X,),), dict(n_resamples=99, rng=0), None),
    "token_bucket": ((np.arange(20.0) / 4, np.arange(20) % 3), dict(capacity=2, refill_per_second=1.0), None),
    "window_metrics": ((np.arange(20.0), _REF[:20] ** 2, _ERRORS[:20]), dict(window_seconds=5), None),
    "zscore_gate": ((_REF[:40].reshape(10, 4),), dict(mean=0.0, std=1.0, threshold=2.0), None),
    "simulate_gate": ((), dict(n_features=3, threshold=2.0, shift=1.0, n_rows=50, n_sims=10, rng=0), None),
}
# public functions that return plain arrays / floats / tables by design (like the calls they mirror)
NOT_RESULTS = {"group_sequential_boundaries", "rhat", "ess", "mcse", "psi", "sweep", "register_simulation", "simulations",
               # point-in-time features return the DataFrames a feature pipeline joins (issue 19)
               "point_in_time_features", "session_features", "freshness", "skew_report"}


def _camel(name):
    return "".join(w.capitalize() for w in name.split("[")[0].split("_")) + "Result"


def _public_functions():
    return sorted(
        n for n in simengine.__all__
        if inspect.isfunction(getattr(simengine, n, None)) and not isinstance(getattr(simengine, n), type)
    )


def test_every_public_function_is_covered_here():
    missing = [n for n in _public_functions() if n not in CALLS and n not in NOT_RESULTS]
    assert not missing, f"add these public functions to CALLS: {missing}"


@pytest.fixture(scope="module")
def results():
    return {name: getattr(simengine, name.split("[")[0])(*args, **kwargs) for name, (args, kwargs, _) in CALLS.items()}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_result_class_is_named_exported_and_frozen(name, results):
    res = results[name]
    cls = type(res)
    assert cls.__name__ == _camel(name)
    assert getattr(simengine, cls.__name__) is cls and cls.__name__ in simengine.__all__
    assert isinstance(res, Result) and dataclasses.is_dataclass(res)
    assert not hasattr(res, "__dict__"), "result classes are slotted"
    field = dataclasses.fields(res)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(res, field, 0)


@pytest.mark.parametrize("name", sorted(CALLS))
def test_unpacking_to_dict_and_to_frame(name, results):
    res = results[name]
    n_unpack = CALLS[name][2]
    if n_unpack is None:
        with pytest.raises(TypeError, match="does not unpack"):
            tuple(res)
    else:
        values = tuple(res)
        assert len(values) == n_unpack == len(res)
        for value, field in zip(values, type(res)._unpack):
            assert value is getattr(res, field)
        assert res[0] is values[0] and res[-1] is values[-1]
    assert bool(res)
    d = res.to_dict()
    assert list(d) == [f.name for f in dataclasses.fields(res)]
    frame = res.to_frame()
    assert isinstance(frame, pd.DataFrame) and len(frame) >= 1


def _result_classes():
    out = []
    for name in simengine.__all__:
        obj = getattr(simengine, name)
        if isinstance(obj, type) and issubclass(obj, Result):
            out.append(obj)
    return out


def test_every_result_class_in_the_package_is_exported():
    import importlib
    import pkgutil

    found = set()
    for mod in pkgutil.iter_modules(simengine.__path__):
        if mod.name in ("cli", "__main__", "_demo", "_bench"):
            continue
        module = importlib.import_module(f"simengine.{mod.name}")
        for obj in vars(module).values():
            if isinstance(obj, type) and issubclass(obj, Result) and obj not in (Result, MonteCarloResult):
                found.add(obj.__name__)
    assert found, "no result classes found"
    assert sorted(found - set(simengine.__all__)) == []
    assert all(name.endswith("Result") for name in found)


@pytest.mark.parametrize("cls", _result_classes(), ids=lambda c: c.__name__)
def test_monte_carlo_results_declare_their_estimates(cls):
    if issubclass(cls, MonteCarloResult):
        assert declaration_problems(cls) == []
    else:
        assert "se" not in {f.name for f in dataclasses.fields(cls)}


def test_unpacking_matches_scipy_and_statsmodels():
    from scipy import stats
    from statsmodels.stats.multitest import multipletests
    from statsmodels.stats.proportion import proportion_confint

    t, p = simengine.ttest_ind(_X, _Y)
    assert_allclose((t, p), tuple(stats.ttest_ind(_X, _Y)), rtol=1e-12)
    u, p = simengine.mannwhitneyu(_X, _Y)
    assert_allclose((u, p), tuple(stats.mannwhitneyu(_X, _Y)), rtol=1e-12)
    pv = [0.01, 0.02, 0.03, 0.5, 0.04]
    ours = simengine.multipletests(pv, 0.05)
    theirs = multipletests(pv, 0.05)
    reject, corrected, sidak, bonf = ours
    assert_array_equal(reject, theirs[0])
    assert_allclose(corrected, theirs[1], rtol=1e-15)
    assert_allclose((sidak, bonf), theirs[2:], rtol=1e-15)
    low, high = simengine.proportion_interval(7, 40)
    assert_allclose((low, high), proportion_confint(7, 40, method="wilson"), rtol=1e-12)
    stat, p = simengine.permutation_test(_X, _Y, n_resamples=999, rng=0)
    assert_allclose(stat, _X.mean() - _Y.mean(), rtol=1e-12)


# ---------------------------------------------------------------- sweep runs every simulation

SWEEPS = {
    # function -> (grid, fixed)
    "simulate_power": ({"n": [10, 20]}, {"effect_size": 0.5}),
    "simulate_multiple_testing": ({"methods": ["holm", "fdr_bh"]}, {"effect_size": 0.5, "n_per_group": 10}),
    "simulate_peeking": ({"n_looks": [2, 4]}, {"visitors_per_look": 50}),
    "simulate_coverage": ({"methods": ["wilson", "beta"]}, {"p": 0.1, "n": 30}),
    "simulate_bayes_peeking": ({"n_looks": [2, 3]}, {"visitors_per_look": 50, "rate": 0.1}),
    "simulate_drift_detection": ({"detector": ["ddm", "adwin"]}, {"n_steps": 300, "drift_start": 150}),
    "simulate_load_test": ({"workers": [10, 14]}, {"arrival_rate": 300.0, "n_requests": 200, "quantiles": 0.99}),
    "bayes_ab": ({"method": ["exact", "mc"]}, {"successes_a": 10, "trials_a": 100, "successes_b": 15,
                                                 "trials_b": 100}),
    "simulate_bootstrap_coverage": ({"n": [8, 12]}, {"distribution": "exponential", "statistic": "mean",
                                                      "methods": "BCa", "n_resamples": 49}),
    "simulate_gate": ({"threshold": [2.0, 3.0]}, {"n_features": 3, "n_rows": 20}),
}


def test_every_simulation_is_swept_here():
    sims = [n for n in _public_functions() if n.startswith("simulate_")]
    assert sorted(set(sims) - set(SWEEPS)) == []


@pytest.mark.parametrize("name", sorted(SWEEPS))
def test_sweep_runs_every_simulation_without_an_adapter(name):
    func = getattr(simengine, name)
    grid, fixed = SWEEPS[name]
    n = 300
    table = simengine.sweep(func, grid, fixed=fixed, n_sims=n, rng=7, progress=False)
    cls = inspect.signature(func).return_annotation
    cls = getattr(simengine, cls) if isinstance(cls, str) else cls
    assert issubclass(cls, MonteCarloResult)
    key = next(iter(grid))
    for row, value in zip(table.itertuples(index=False), grid[key]):
        params = {**fixed, key: value}
        entropy, spawn = _point_seed(as_seed_sequence(7), params)
        ss = np.random.SeedSequence(entropy=entropy, spawn_key=(*spawn, 0))
        direct = func(rng=np.random.Generator(np.random.PCG64(ss)), **{cls._replicates: n}, **params)
        assert type(direct) is cls
        for est in cls._estimates:
            for col in (est, f"{est}_se"):
                want = np.asarray(getattr(direct, col), dtype=float).reshape(-1)[0]
                assert_allclose(getattr(row, col), want, rtol=0, atol=0, equal_nan=True)
        assert row.n_sims == n


def test_sweep_by_registry_name_equals_sweep_by_function():
    a = simengine.sweep("power", {"n": [10]}, fixed={"effect_size": 0.4}, n_sims=500, rng=3, progress=False)
    b = simengine.sweep(simengine.simulate_power, {"n": [10]}, fixed={"effect_size": 0.4}, n_sims=500, rng=3,
                        progress=False)
    assert_allclose(a["power"], b["power"], rtol=0, atol=0)


def test_chunked_points_combine_as_the_class_declares():
    cls = simengine.SimulatePowerResult
    n = cls._chunk_size + 100  # two chunks
    t = simengine.sweep("power", {"n": [5]}, fixed={"effect_size": 0.0}, n_sims=n, rng=2, progress=False)
    assert t["n_sims"][0] == n
    # under the null the rejection rate is alpha within its combined Monte Carlo error
    assert abs(t["power"][0] - 0.05) < 4 * t["power_se"][0]
    assert_allclose(t["power_se"][0], np.sqrt(0.05 * 0.95 / n), rtol=0.1)


# ---------------------------------------------------------------- the registry

_REGISTRY_SCRIPT = textwrap.dedent(
    """
    import simengine

    def mine(*, rng, n_sims, n):
        return {"x": float(n), "x_se": 0.0}

    before = sorted(simengine.simulations())
    try:
        simengine.register_simulation("power", mine)
    except ValueError as exc:
        assert "already registered" in str(exc) and "overwrite=True" in str(exc), exc
    else:
        raise SystemExit("registering a built-in name did not raise")
    assert sorted(simengine.simulations()) == before  # a refused registration changes nothing
    simengine.register_simulation("power", mine, overwrite=True)
    assert simengine.simulations()["power"].func is mine
    t = simengine.sweep("power", {"n": [3]}, n_sims=10, rng=0, progress=False)
    assert t["x"][0] == 3.0
    p = simengine.sweep("peeking", {"n_looks": [2]}, fixed={"visitors_per_look": 20}, n_sims=50, rng=0,
                        progress=False)
    assert 0.0 <= p["rejected_any_look"][0] <= 1.0
    # after the first sweep: a built-in and a user name alike
    for name in ("coverage", "power"):
        try:
            simengine.register_simulation(name, mine)
        except ValueError:
            pass
        else:
            raise SystemExit(f"registering {name!r} again did not raise")
    simengine.register_simulation("mine", mine)
    assert sorted(simengine.simulations()) == sorted(set(before) | {"mine"})
    print("ok")
    """
)


def test_registering_a_builtin_name_before_and_after_the_first_sweep():
    out = subprocess.run([sys.executable, "-c", _REGISTRY_SCRIPT], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().endswith("ok")


def test_an_unregistered_function_returning_a_result_runs_directly():
    def coin(*, rng, n_sims, p):
        heads = rng.binomial(n_sims, p)
        est = heads / n_sims
        return {"rate": est, "rate_se": (est * (1 - est) / n_sims) ** 0.5}

    t = simengine.sweep(coin, {"p": [0.2, 0.8]}, n_sims=1000, rng=0, progress=False)
    assert list(t.columns[:3]) == ["p", "rate", "rate_se"]


# ---------------------------------------------------------------- one stopping rule for target_se


def test_worst_se_skips_undefined_estimates_and_never_meets_a_nan_se():
    from simengine._results import worst_se

    assert worst_se({"a": 0.5, "b": np.nan}, {"a": 0.01, "b": np.nan}) == ("a", 0.01)  # b undefined: skipped
    assert worst_se({"a": 0.5}, {"a": np.nan})[1] == np.inf  # a defined estimate without an SE
    assert worst_se({"a": np.array([0.1, 0.2])}, {"a": np.array([0.0, 0.03])}) == ("a", 0.03)
    assert worst_se({"a": 1.0}, {"a": 0.0}) == ("a", 0.0)  # exact quantities meet any target


def test_target_se_applies_to_rates_not_to_counts_in_other_units():
    # peeking's expected visitors (SE of a few visitors) and multiple testing's mean rejections are not rates
    assert simengine.SimulatePeekingResult.target_names() == ("rejected_any_look", "rejected_final")
    assert "mean_rejections" not in simengine.SimulateMultipleTestingResult.target_names()
    t = simengine.sweep("peeking", {"n_looks": [2]}, fixed={"visitors_per_look": 50}, n_sims=2000, target_se=0.005,
                        rng=1, progress=False)
    assert bool(t["target_met"][0]) and t["rejected_any_look_se"][0] <= 0.005
    assert t["expected_visitors_per_arm_se"][0] > 0.005  # in visitors: never held the point back
    direct = simengine.simulate_peeking(n_looks=2, visitors_per_look=50, n_sims=2000, target_se=0.005, rng=1)
    assert direct.rejected_any_look_se <= 0.005 and direct.n_sims < 2000 * 1000

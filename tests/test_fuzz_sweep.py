"""Bad-input fuzz for the sweep engine's public functions: `sweep`, `register_simulation`, `simulations`.

Every call with one hostile argument returns or raises TypeError / ValueError naming that
argument, before any point runs.
"""
import pytest
from hypothesis import given, settings

import simengine
import tests._sweep_sims  # noqa: F401  (registers the cheap test simulations)
from tests._fuzz import ANY_BAD, bad_values, check_call

GOOD_SWEEP = dict(simulation="test-coin", grid={"p": [0.2, 0.5]}, n_sims=200, rng=1, progress=False)


def _sweep(**override):
    kwargs = {**GOOD_SWEEP, **override}
    return simengine.sweep(kwargs.pop("simulation"), kwargs.pop("grid"), **kwargs)


def test_good_sweep_runs():
    table = _sweep()
    assert list(table["p"]) == [0.2, 0.5]


def _valid_sweep_argument(param, value):
    """Values that are not hostile for `param` (defaults and real seeds/flags): not fuzzed."""
    if value is None:
        return param in ("fixed", "rng", "client", "progress", "target_se", "max_sims")
    if param == "rng":
        return isinstance(value, int) and not isinstance(value, bool) and value >= 0
    return param == "progress" and isinstance(value, bool)


SWEEP_CASES = [
    pytest.param(param, value, id=f"{param}-{i}-{type(value).__name__}")
    for param in ("simulation", "grid", "n_sims", "rng", "backend", "client", "progress", "fixed", "target_se",
                  "max_sims")
    for i, value in enumerate(ANY_BAD)
    if not _valid_sweep_argument(param, value)
]


@pytest.mark.filterwarnings("ignore:.*did not reach target_se:RuntimeWarning")  # a tiny valid target_se: expected
@pytest.mark.parametrize("param, value", SWEEP_CASES)
def test_sweep_hostile_argument(param, value):
    ok, out = check_call(_sweep, kwargs={param: value}, param=param, timeout=10)
    if ok:
        # accepted only when it really is a valid value for that parameter
        assert param == "n_sims" and isinstance(value, int) and 1 <= value <= 10**9 or param == "grid" or (
            param == "target_se" and isinstance(value, (int, float)) and 0 < value < float("inf")), (param, value)


@pytest.mark.parametrize("value", ANY_BAD, ids=lambda v: type(v).__name__)
def test_sweep_hostile_max_sims_with_a_target(value):
    # `max_sims` is looked at only with `target_se`; with one, every bad cap is refused by name
    ok, _ = check_call(_sweep, kwargs={"target_se": 0.5, "max_sims": value}, param="max_sims", timeout=10)
    if ok:
        assert value is None or isinstance(value, int) and 200 <= value <= 10**9, value


@settings(max_examples=40, deadline=None)
@given(value=bad_values())
def test_sweep_grid_values_are_checked_before_running(value):
    # a built-in simulation validates every point first: a bad value fails at once, naming the parameter
    ok, out = check_call(
        simengine.sweep, args=("power", {"alpha": [0.05, value]}),
        kwargs=dict(n_sims=200, rng=1, progress=False, fixed={"effect_size": 0.5, "n": 20}),
        param="alpha", timeout=20,
    )
    if ok:
        assert len(out) == 2 and 0 < value < 1


REGISTER_CASES = [
    pytest.param(param, value, id=f"{param}-{i}-{type(value).__name__}")
    for param in ("name", "parameters", "chunk_size", "validate", "overwrite")
    for i, value in enumerate(ANY_BAD)
    if not (value is None and param in ("parameters", "chunk_size", "validate"))  # None is their default
]


@pytest.mark.parametrize("param, value", REGISTER_CASES)
def test_register_simulation_hostile_argument(param, value):
    kwargs = {"name": "fuzz-sim", "func": tests._sweep_sims.coin, "overwrite": True, param: value}
    name = kwargs.pop("name")
    ok, _ = check_call(simengine.register_simulation, args=(name,), kwargs=kwargs, param=param, timeout=5)
    if ok:
        valid_name = param == "name" and isinstance(value, str) and value
        assert valid_name or param in ("chunk_size", "parameters") or (param == "overwrite" and isinstance(value, bool))
        simengine._sweep._USER.pop(value if param == "name" else "fuzz-sim", None)


@pytest.mark.parametrize("value", ANY_BAD, ids=lambda v: type(v).__name__)
def test_register_simulation_hostile_func(value):
    check_call(simengine.register_simulation, args=("fuzz-func", value), kwargs={"overwrite": True}, param="func")
    simengine._sweep._USER.pop("fuzz-func", None)


def test_simulations_lists_the_builtins():
    names = simengine.simulations()
    assert "power" in names and "peeking" in names


def test_every_public_function_is_fuzzed():
    """Each public function and class is called in one of the fuzz files (a new one must join them)."""
    import pathlib
    import re

    here = pathlib.Path(__file__).parent
    text = "".join(p.read_text() for p in sorted(here.glob("test_fuzz_*.py")))
    public = [
        name
        for name in simengine.__all__
        if name not in ("__version__", "targets") and not name.endswith(("Result", "Warning"))
    ]
    missing = [name for name in public if not re.search(rf"\b{name}\b", text)]
    assert not missing, f"public names without a fuzz test: {missing}"

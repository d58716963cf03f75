"""simulate_power on huge samples: a block cut into work units of replicates (issue 14).

A block of SAMPLE_BLOCK replicates with large `n` (Mann-Whitney's sorts, permutations, long samples) takes
seconds; it runs in units of replicates, its Generator carrying the stream from one unit to the next.  In
process: any unit size and slicing gives bit-identical results.  In a child interpreter: SIGINT ~0.25 s into
a call whose single block takes many seconds gives a plain KeyboardInterrupt within 1 s, and a small call
afterwards gives the numbers it gave before.
"""
import signal
import sys
import textwrap
import time

import numpy as np
import pytest
from numpy.testing import assert_array_equal

import simengine
from _child import Child
from simengine import _long, power

# name -> (long call: one block of 500 replicates, >= 10 s on an idle core; small call: milliseconds)
CALLS = {
    # 2 x 20 000 pooled values sorted per replicate
    "mannwhitney": (
        "simengine.simulate_power(test='mannwhitney', effect_size=0.05, n=20_000, n_sims=500, rng=1)",
        "simengine.simulate_power(test='mannwhitney', effect_size=0.5, n=[9, 30], n_sims=700, rng=2)",
    ),
    # 9999 resamples of 1000 + 1000 per replicate
    "permutation": (
        "simengine.simulate_power(test='permutation', effect_size=0.1, n=1000, n_sims=500, n_resamples=9999, rng=1)",
        "simengine.simulate_power(test='permutation', effect_size=0.5, n=12, n_sims=600, n_resamples=49, rng=2)",
    ),
    # 2 x 2 x 10^6 lognormal draws per replicate
    "welch": (
        "simengine.simulate_power(test='welch', effect_size=0.01, n=2_000_000, n_sims=500, "
        "distribution='lognormal', rng=1)",
        "simengine.simulate_power(test='welch', effect_size=0.5, n=[7, 20], n_sims=900, distribution='exponential', "
        "rng=2)",
    ),
}

_CHILD = textwrap.dedent(
    """
    import signal, sys
    signal.signal(signal.SIGINT, signal.default_int_handler)
    import numpy as np
    import simengine

    CALLS = {calls!r}

    def same(a, b):
        a, b = a.to_dict(), b.to_dict()
        return a.keys() == b.keys() and all(np.array_equal(np.asarray(a[k]), np.asarray(b[k])) for k in a)

    before = {{name: eval(small) for name, (_, small) in CALLS.items()}}  # also compiles every kernel
    print("ready", flush=True)
    for name, (long, small) in CALLS.items():
        sys.stdin.readline()  # the parent is listening
        print("start", name, flush=True)
        try:
            eval(long)
            print("finished", name, flush=True)
        except KeyboardInterrupt:
            print("interrupted", name, flush=True)
        except BaseException as exc:
            print("error", name, type(exc).__name__, exc, flush=True)
        handler = signal.getsignal(signal.SIGINT) is signal.default_int_handler
        print("after", name, same(before[name], eval(small)), handler, flush=True)
    """
)


@pytest.fixture(scope="module")
def interrupted():
    """Run the child; returns {name: (seconds from SIGINT to the reply, reply, after-line)}."""
    child = Child(_CHILD.format(calls=CALLS))
    out = {}
    try:
        # a cold child compiles the three kernels first (a minute on two loaded cores)
        assert child.line(600.0, "compiling the kernels") == "ready"
        for name in CALLS:
            child.send("go")
            assert child.line(60.0, f"starting {name}").split() == ["start", name]
            time.sleep(0.25)  # inside the call: its first units run by then
            sent = time.perf_counter()
            child.proc.send_signal(signal.SIGINT)
            line = child.line(60.0, f"SIGINT during {name}")
            out[name] = (time.perf_counter() - sent, line, child.line(60.0, f"the small call after {name}"))
        child.finish()
    finally:
        child.close()
    return out


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child needs POSIX signals")
@pytest.mark.parametrize("name", list(CALLS))
def test_sigint_inside_one_long_block_returns_within_a_second(interrupted, name):
    elapsed, line, after = interrupted[name]
    assert line == f"interrupted {name}"  # a plain KeyboardInterrupt: not SystemError, not a finished call
    print(f"{name}: {elapsed:.2f} s from SIGINT to KeyboardInterrupt")
    assert elapsed < 1.0, f"{name}: {elapsed:.2f} s from SIGINT to KeyboardInterrupt"
    assert after == f"after {name} True True"  # same numbers afterwards, Python's SIGINT handler back


def test_long_calls_would_run_as_one_unit_each_without_units():
    # the long calls above are long because of single blocks: each is one block of SAMPLE_BLOCK replicates
    # whose estimated cost is seconds, cut into units of UNIT_SECONDS (or of one replicate, the smallest unit)
    for test, n, r in (("mannwhitney", 20_000, 999), ("permutation", 1000, 9999), ("welch", 2_000_000, 999)):
        seconds = power._replicate_seconds(test, n, r)
        assert power.SAMPLE_BLOCK * seconds > 5.0
        assert power._unit_size(seconds, power.SAMPLE_BLOCK) * seconds <= max(power.UNIT_SECONDS, seconds)


# -------------------------------------------------------------------- units never change a number
# every test and distribution, several sizes (the jobs of a power curve), a short last block
UNIT_CALLS = {
    "t-lognormal": dict(test="t", distribution="lognormal", n=[5, 8], n_sims=610),
    "welch": dict(test="welch", distribution="exponential", n=[6, 3], n_sims=603),
    "mannwhitney": dict(test="mannwhitney", n=[7, 12], n_sims=610, alternative="less"),
    "permutation": dict(test="permutation", n=[4, 6], n_sims=607, n_resamples=9, alternative="greater"),
}


def _same(a, b):
    da, db = a.to_dict(), b.to_dict()
    assert da.keys() == db.keys()
    for key in da:
        if isinstance(da[key], np.ndarray):
            assert_array_equal(da[key], db[key], err_msg=key, strict=True)
        else:
            assert da[key] == db[key], key


@pytest.mark.parametrize("name", list(UNIT_CALLS))
@pytest.mark.parametrize("unit", [1, 7])
def test_units_give_identical_results(monkeypatch, name, unit):
    kw = dict(effect_size=0.4, rng=11, **UNIT_CALLS[name])
    whole = simengine.simulate_power(**kw)
    assert power._unit_size(power._replicate_seconds(kw["test"], 12, 9), power.SAMPLE_BLOCK) == power.SAMPLE_BLOCK
    monkeypatch.setattr(power, "_unit_size", lambda seconds, block: unit)
    _same(simengine.simulate_power(**kw), whole)
    monkeypatch.setattr(power, "_GROUP_PER_THREAD", 1)  # more groups of jobs, each with its own Generators
    _same(simengine.simulate_power(**kw), whole)


@pytest.mark.parametrize("name", list(UNIT_CALLS))
def test_one_unit_per_slice_gives_identical_results(monkeypatch, name):
    # units of 60 (the last of a block 20; the short last block has units with nothing to do), one per slice
    kw = dict(effect_size=0.4, rng=12, **{**UNIT_CALLS[name], "n_sims": 520})
    whole = simengine.simulate_power(**kw)
    monkeypatch.setattr(power, "_unit_size", lambda seconds, block: 60)
    monkeypatch.setattr(power, "_GROUP_PER_THREAD", 1)
    monkeypatch.setattr(_long, "SLICE_SECONDS", 1e-12)
    monkeypatch.setattr(power, "run_blocks", lambda *a, **k: _long.run_blocks(*a, **{**k, "first": 1}))
    _same(simengine.simulate_power(**kw), whole)


def test_units_sized_by_work():
    seconds = power._replicate_seconds
    assert power._unit_size(seconds("t", 30, 999), 500) == 500  # a block of small samples runs whole
    assert power._unit_size(seconds("mannwhitney", 1000, 999), 500) < 500
    assert power._unit_size(seconds("permutation", 100, 9999), 500) < 500
    assert power._unit_size(seconds("welch", 10**8, 999), 500) == 1  # one replicate is the smallest unit
    assert seconds("mannwhitney", 1000, 1) > seconds("welch", 1000, 1)
    assert seconds("permutation", 100, 999) < seconds("permutation", 100, 9999)

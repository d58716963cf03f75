"""Long calls of the Bayesian and drift simulations and drift scans: Ctrl-C, slicing and progress (issue 14).

One child interpreter runs every long call in turn: it warms the kernels, announces each call, and the
parent sends SIGINT shortly after; the call must end within 1 s with a plain KeyboardInterrupt (no
SystemError), and a small call afterwards must give the numbers it gave before.  The child is shared by the
parametrised tests (one interpreter start for all of them).  In-process tests check that running the blocks
in many tiny slices gives bit-identical results, and that `progress=True` draws a bar.
"""
import signal
import textwrap
import time

import numpy as np
import pytest

import simengine
import simengine._long
from _child import Child

# name -> (long call: >= 10 s on two cores, small call: milliseconds)
CALLS = {
    "simulate_coverage": (
        "simengine.simulate_coverage(p=0.3, n=100, n_sims=400_000_000, rng=1)",
        "simengine.simulate_coverage(p=[0.3, 0.5], n=30, methods=('wilson', 'beta'), n_sims=20_000, rng=2)",
    ),
    "simulate_bayes_peeking": (
        "simengine.simulate_bayes_peeking(n_sims=10**7, n_looks=20, visitors_per_look=1000, rate=0.1, rng=1)",
        "simengine.simulate_bayes_peeking(n_sims=600, n_looks=3, visitors_per_look=50, rate=0.1, rng=2)",
    ),
    # a Jeffreys prior puts every look on quadrature (~1 ms): one block of 256 experiments x 30 looks takes
    # seconds, so Ctrl-C must come between parts of a block
    "simulate_bayes_peeking-quadrature": (
        "simengine.simulate_bayes_peeking(n_sims=10_000, n_looks=30, visitors_per_look=200_000, rate=0.1, "
        "prior=(0.5, 0.5), rng=1)",
        "simengine.simulate_bayes_peeking(n_sims=20, n_looks=2, visitors_per_look=500, rate=0.1, prior=(0.5, 0.5), "
        "rng=2)",
    ),
    "bayes_ab_mc": (
        "simengine.bayes_ab(120, 2400, 145, 2400, method='mc', n_draws=10**9, rng=1)",
        "simengine.bayes_ab([12, 120], [200, 2400], [15, 145], [200, 2400], method='mc', n_draws=50_000, rng=2)",
    ),
    "prob_best": (
        "simengine.prob_best([100, 120, 110], [2000, 2000, 2000], n_draws=10**9, rng=1)",
        "simengine.prob_best([100, 120, 110], [2000, 2000, 2000], n_draws=50_000, rng=2)",
    ),
    "simulate_drift_detection-ddm": (
        "simengine.simulate_drift_detection(n_sims=10**7, n_steps=2000, drift_start=1000, rng=1)",
        "simengine.simulate_drift_detection(n_sims=300, n_steps=400, drift_start=200, rng=2)",
    ),
    "simulate_drift_detection-adwin": (
        "simengine.simulate_drift_detection(detector='adwin', n_sims=10**7, n_steps=2000, drift_start=1000, rng=1)",
        "simengine.simulate_drift_detection(detector='adwin', n_sims=300, n_steps=400, drift_start=200, rng=2)",
    ),
    # a scan of many given streams (a cut test over 200 buckets at every update: ~15 us an update)
    "adwin": (
        "simengine.adwin(np.random.default_rng(0).random((400, 5000)), clock=1, max_buckets=200)",
        "simengine.adwin(np.random.default_rng(1).random((3, 300)), clock=1, max_buckets=200)",
    ),
    # one stream: cut into segments of steps, each detector's state carried between them (np.zeros maps its
    # pages lazily, so the 10^9-value input costs no memory; the status array is 1 GB)
    "ddm-one-stream": (
        "simengine.ddm(np.zeros(10**9, dtype=np.uint8))",
        "simengine.ddm(np.random.default_rng(1).random(3000) < np.where(np.arange(3000) < 1500, 0.1, 0.4))",
    ),
    "adwin-one-stream": (
        "simengine.adwin(np.random.default_rng(0).random(500_000), clock=1, max_buckets=200)",
        "simengine.adwin(np.random.default_rng(1).random(400), clock=1, max_buckets=200)",
    ),
    # psi / psi_monitor: every pass over the data in slices of rows (windows: of work); zeros again cost no
    # memory, and constant data checks every value against the edges (the slowest counting)
    "psi-one-column": (
        "simengine.psi(np.zeros(3 * 10**8), np.zeros(3 * 10**8))",
        "simengine.psi(np.random.default_rng(1).normal(size=3000), np.random.default_rng(2).normal(0.3, 1, 2000))",
    ),
    "psi-many-columns": (
        "simengine.psi(np.zeros((10**7, 100)), np.zeros((10**7, 100)))",
        "simengine.psi(np.random.default_rng(1).normal(size=(300, 120)), np.random.default_rng(2).normal(size=(200, 120)))",
    ),
    "psi-quantile-columns": (
        "simengine.psi(np.zeros((10**6, 300)), np.zeros((10**6, 300)), binning='quantile')",
        "simengine.psi(np.random.default_rng(1).normal(size=(300, 3)), np.random.default_rng(2).normal(size=(200, 3)), "
        "binning='quantile')",
    ),
    "psi_monitor-one-long-window": (
        "simengine.psi_monitor(np.arange(1000.0), [np.zeros(2 * 10**9)])",
        "simengine.psi_monitor(np.arange(1000.0), [np.arange(0.0, 1000.0, 3.0), np.arange(500.0)])",
    ),
    "psi_monitor-many-windows": (
        "simengine.psi_monitor(np.arange(1000.0), np.zeros((10**5, 10**4)))",
        "simengine.psi_monitor(np.arange(1000.0), np.arange(3000.0).reshape(3, 1000) % 1100)",
    ),
}

# Small calls run serial twins of some parallel kernels (psi, psi_monitor, adwin: nothing parallel to compile for
# a small first call); these mid-sized calls compile the parallel ones too, so that no long call below compiles
# a kernel in its first slice (a compilation cannot be interrupted).
WARM = [
    "simengine.psi(np.zeros((5000, 3)), np.ones((5000, 3)))",
    "simengine.psi(np.zeros((5000, 3)), np.ones((5000, 3)), binning='quantile')",
    "simengine.psi_monitor(np.arange(1000.0), np.zeros((10, 7000)))",
    "simengine.adwin(np.zeros((20, 4000)))",
]

_CHILD = textwrap.dedent(
    """
    import signal, sys, time
    signal.signal(signal.SIGINT, signal.default_int_handler)
    import numpy as np
    import simengine

    CALLS = {calls!r}
    for statement in {warm!r}:
        eval(statement)

    def equal(x, y):
        if isinstance(x, list):
            return len(x) == len(y) and all(equal(i, j) for i, j in zip(x, y))
        if isinstance(x, (dict, str, type(None))):
            return x == y
        return np.array_equal(np.asarray(x), np.asarray(y), equal_nan=np.asarray(x).dtype.kind == "f")

    def same(a, b):
        if not hasattr(a, "to_dict"):  # psi: a float or an array
            return equal(a, b)
        a, b = a.to_dict(), b.to_dict()
        return a.keys() == b.keys() and all(equal(a[k], b[k]) for k in a)

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
            print("error", name, type(exc).__name__, flush=True)
        handler = signal.getsignal(signal.SIGINT) is signal.default_int_handler
        print("after", name, same(before[name], eval(small)), handler, flush=True)
    """
)


# A cold child compiles every kernel first (a minute or more on two loaded cores); each call after that
# answers within seconds.
READY_SECONDS = 600.0
CALL_SECONDS = 60.0


@pytest.fixture(scope="module")
def interrupted():
    """Run the child; returns {name: (seconds from SIGINT to "interrupted", line, after-line)}."""
    child = Child(_CHILD.format(calls=CALLS, warm=WARM))
    out = {}
    try:
        assert child.line(READY_SECONDS, "compiling every kernel") == "ready"
        for name in CALLS:
            child.send("go")
            assert child.line(CALL_SECONDS, f"starting {name}").split() == ["start", name]
            time.sleep(0.25)  # inside the call (its first slice runs by then)
            sent = time.perf_counter()
            child.proc.send_signal(signal.SIGINT)
            line = child.line(CALL_SECONDS, f"SIGINT during {name}")
            elapsed = time.perf_counter() - sent
            out[name] = (elapsed, line, child.line(CALL_SECONDS, f"the small call after {name}"))
        child.finish()
    finally:
        child.close()
    return out


@pytest.mark.parametrize("name", list(CALLS))
def test_sigint_returns_within_a_second_and_process_stays_usable(interrupted, name):
    elapsed, line, after = interrupted[name]
    assert line == f"interrupted {name}"  # a plain KeyboardInterrupt: not SystemError, not a finished call
    assert elapsed < 1.0
    # the same small call gives the same numbers afterwards, and Python's SIGINT handler is back
    assert after == f"after {name} True True"


SMALL = {
    "simulate_coverage": lambda: simengine.simulate_coverage(
        p=[0.1, 0.5], n=[10, 37], methods=("wilson", "beta"), n_sims=30_000, rng=3),
    "simulate_bayes_peeking": lambda: simengine.simulate_bayes_peeking(
        n_sims=3000, n_looks=4, visitors_per_look=50, rate=0.2, rng=5),
    "bayes_ab_mc": lambda: simengine.bayes_ab(
        [12, 120, 5000], [200, 2400, 100000], [15, 165, 5100], [200, 2400, 100000], method="mc", n_draws=70_000,
        rng=6),
    "prob_best": lambda: simengine.prob_best([100, 120, 110], [2000, 2000, 2000], n_draws=300_000, rng=7),
    "simulate_drift_detection-ddm": lambda: simengine.simulate_drift_detection(
        n_sims=1000, n_steps=600, drift_start=300, rng=8),
    "simulate_drift_detection-adwin": lambda: simengine.simulate_drift_detection(
        detector="adwin", drift="gradual", drift_end=400, n_sims=700, n_steps=600, drift_start=300, rng=9),
    "ddm": lambda: simengine.ddm(_STREAMS.astype(np.uint8)),
    "adwin": lambda: simengine.adwin(_STREAMS),
}
_STREAMS = (np.random.default_rng(3).random((40, 3000)) < np.where(np.arange(3000) < 1500, 0.15, 0.4)).astype(float)


def _equal(a, b):
    a, b = a.to_dict(), b.to_dict()
    assert a.keys() == b.keys()
    for key in a:
        x, y = a[key], b[key]
        if isinstance(x, list):
            assert len(x) == len(y) and all(i.tobytes() == j.tobytes() for i, j in zip(x, y)), key
        elif isinstance(x, np.ndarray):
            assert x.dtype == y.dtype and x.tobytes() == y.tobytes() if x.dtype != object else list(x) == list(y), key
        elif isinstance(x, float) and x != x:
            assert y != y, key
        else:
            assert type(x) is type(y) and x == y, key


def _first_slice_of_one_block(monkeypatch):
    """Make every `run_blocks` call of the bayes and drift modules start with a slice of one block; returns
    the list of the block counts they were called with."""
    calls = []
    real = simengine._long.run_blocks

    def one_first(call, n_blocks, **kwargs):
        kwargs["first"] = 1
        calls.append(n_blocks)
        return real(call, n_blocks, **kwargs)

    for module in (simengine.bayes, simengine.drift):
        monkeypatch.setattr(module, "run_blocks", one_first)
    monkeypatch.setattr(simengine.drift, "_rows_first", lambda *args: 1)  # ddm / adwin: slices of one stream
    return calls


@pytest.mark.parametrize("name", list(SMALL))
def test_tiny_and_uneven_slices_give_bit_identical_results(monkeypatch, name):
    """Every call above runs several blocks (or units, or streams): run in slices of 1, 2, 5, 13, 40, 1, ...
    of them (some longer than a peeking run has blocks, so that one slice holds several parts of a block),
    the numbers are the same bits as in one run."""
    whole = SMALL[name]()
    calls = []

    def uneven(call, n_blocks, **kwargs):
        calls.append(n_blocks)
        sizes = (1, 2, 5, 13, 40)
        outs, lo, i = [], 0, 0
        while lo < n_blocks:
            hi = min(n_blocks, lo + sizes[i % len(sizes)])
            outs.append(call(lo, hi))
            lo, i = hi, i + 1
        return outs

    for module in (simengine.bayes, simengine.drift):
        monkeypatch.setattr(module, "run_blocks", uneven)
    monkeypatch.setattr(simengine.drift, "_rows_first", lambda *args: 1)  # ddm / adwin: no direct call
    sliced = SMALL[name]()
    assert calls and calls[0] > 10
    _equal(whole, sliced)


PROGRESS_CALLS = {  # more than one block: the bar appears after a first slice of one block
    "simulate_coverage": (simengine.simulate_coverage, dict(p=0.3, n=20, n_sims=200_000, rng=1)),
    "simulate_bayes_peeking": (simengine.simulate_bayes_peeking,
                               dict(n_sims=3000, n_looks=3, visitors_per_look=50, rate=0.2, rng=1)),
    "bayes_ab": (simengine.bayes_ab, dict(successes_a=1, trials_a=10, successes_b=2, trials_b=10, method="mc",
                                          n_draws=300_000, rng=1)),
    "prob_best": (simengine.prob_best, dict(successes=[1, 2], trials=[10, 10], n_draws=300_000, rng=1)),
    "simulate_drift_detection": (simengine.simulate_drift_detection,
                                 dict(n_sims=2000, n_steps=300, drift_start=150, rng=1)),
}


@pytest.mark.parametrize("name", list(PROGRESS_CALLS))
def test_progress_true_draws_a_bar_and_false_does_not(capsys, monkeypatch, name):
    func, kwargs = PROGRESS_CALLS[name]
    _first_slice_of_one_block(monkeypatch)  # a call that ends in its first slice needs no bar
    quiet = func(**kwargs, progress=False)
    assert capsys.readouterr().err == ""
    loud = func(**kwargs, progress=True)
    assert name in capsys.readouterr().err
    _equal(quiet, loud)


# ---------------------------------------------------------------------------------------------------------
# One long stream: `ddm` / `adwin` in segments of steps, the detector states carried between them
# ---------------------------------------------------------------------------------------------------------

_LONG = np.random.default_rng(11).random((5, 2400)) < np.where(np.arange(2400) < 1200, 0.1, 0.35)
SEGMENTED = {
    "ddm": lambda x: simengine.ddm(x),
    "ddm-no-reset": lambda x: simengine.ddm(x, reset=False, warm_start=5, warning_threshold=1.5),
    "adwin": lambda x: simengine.adwin(x.astype(float)),
    "adwin-clock-grace": lambda x: simengine.adwin(x + 0.25 * (x == 0), clock=3, grace_period=40, max_buckets=2,
                                                   min_window_length=2),
}


@pytest.mark.parametrize("steps, span", [(1, slice(1000, 1400)), (7, slice(600, 1800)), (1000, slice(None))])
@pytest.mark.parametrize("name", list(SEGMENTED))
def test_segments_of_a_stream_give_bit_identical_results(monkeypatch, name, steps, span):
    """A stream cut into segments of 1, 7 or 1000 updates (one stream alone, and groups of 2 of 5 streams)
    gives the same bits as one pass: the segments carry each detector's state exactly."""
    x = _LONG[:, span]
    whole_1d, whole_2d = SEGMENTED[name](x[2]), SEGMENTED[name](x)
    assert whole_2d.n_drifts.sum() > 0
    pieces = []
    real = simengine.drift._run_scan

    def counting(piece, *args, **kwargs):
        def counted(*a):
            pieces.append(a[1:])
            return piece(*a)
        return real(counted, *args, **kwargs)

    def one_by_one(call, n_blocks, **kwargs):  # one segment per call: each piece is one segment
        return [call(b, b + 1) for b in range(n_blocks)]

    monkeypatch.setattr(simengine.drift, "_run_scan", counting)
    monkeypatch.setattr(simengine.drift, "run_blocks", one_by_one)
    monkeypatch.setattr(simengine.drift, "_scan_plan", lambda *args: (2, steps))
    _equal(whole_1d, SEGMENTED[name](x[2]))
    _equal(whole_2d, SEGMENTED[name](x))
    assert len(pieces) >= 4 * x.shape[1] // steps and all(t1 - t0 <= steps for _, _, t0, t1 in pieces)


def test_scan_plan_sizes_segments_by_work():
    """No piece of a long scan is longer than the per-thread budget (times the threads it keeps busy), one
    stream of 10^9 updates included; short calls are not cut."""
    import numba

    threads = numba.get_num_threads()
    plan = simengine.drift._scan_plan
    assert plan(1, 10**9, 20_000_000, 6) == (1, 20_000_000)
    rows, steps = plan(3, 4 * 10**8, 20_000_000, 6)
    assert rows == 3 and rows * steps <= 20_000_000 * threads
    rows, steps = plan(400, 5000, 1562, 19351)  # ADWIN with 200 buckets: the states of a group stay bounded
    assert rows * 19351 * 8 <= simengine.drift._SCAN_STATE_BYTES and rows * steps <= 1562 * threads
    assert plan(1, 10**6, 20_000_000, 6) is None and plan(10**4, 10**4, 20_000_000, 6) is None


# ---------------------------------------------------------------------------------------------------------
# psi / psi_monitor: their passes over big data run in slices of rows (and windows in pieces)
# ---------------------------------------------------------------------------------------------------------

_G = np.random.default_rng(12)
_REF = _G.normal(size=(3000, 4)) * [1.0, 2.0, 1.0, 5.0]
_CUR = _G.normal(0.2, 1.1, size=(2500, 4)) * [1.0, 2.0, 1.0, 5.0]
_REF_NAN, _CUR_NAN = _REF.copy(), _CUR.copy()
_REF_NAN[::7, 1] = np.nan
_CUR_NAN[::5, 2] = np.nan
_CUR_NAN[:, 3] = np.nan
PSI_CALLS = {
    "equal-width 1-D": lambda: simengine.psi(_REF[:, 0], _CUR[:, 0]),
    "equal-width, NaN omitted": lambda: simengine.psi(_REF_NAN, _CUR_NAN, nan_policy="omit"),
    "quantile, NaN omitted": lambda: simengine.psi(_REF_NAN, _CUR_NAN, binning="quantile", nan_policy="omit"),
    "quantile 1-D": lambda: simengine.psi(_REF[:, 1], _CUR[:, 1], binning="quantile", bins=37),
    "explicit edges": lambda: simengine.psi(_REF, _CUR, bins=np.array([-4.0, -1.0, -0.2, 0.0, 0.7, 3.0])),
    "uniform edges, axis 1": lambda: simengine.psi(_REF.T, _CUR.T, bins=np.linspace(-3, 3, 25), axis=1),
    "monitor, windows of many sizes": lambda: simengine.psi_monitor(
        _REF[:, 0], [_CUR[:n, 0] + 0.1 * w for w, n in enumerate([5, 700, 1, 2500, 40, 300, 1200, 9])],
        consecutive=2).psi,
    "monitor, equal-width 2-D windows": lambda: simengine.psi_monitor(
        _REF[:, 0], _CUR[:2400, 0].reshape(60, 40), binning="equal-width", bins=25).psi,
}


@pytest.mark.parametrize("name", list(PSI_CALLS))
def test_psi_passes_in_tiny_slices_give_bit_identical_results(monkeypatch, name):
    """Forced into slices of a few rows (uneven sizes) and windows into pieces of 64 values, every pass of
    psi and psi_monitor gives the same bits as one call: counts are integers, min and max exact."""
    whole = np.asarray(PSI_CALLS[name]())
    calls = []

    def uneven(call, n_blocks, **kwargs):
        calls.append(n_blocks)
        sizes = (1, 2, 5, 13, 40)
        outs, lo, i = [], 0, 0
        while lo < n_blocks:
            hi = min(n_blocks, lo + sizes[i % len(sizes)])
            outs.append(call(lo, hi))
            lo, i = hi, i + 1
        return outs

    monkeypatch.setattr(simengine.drift, "run_blocks", uneven)
    monkeypatch.setattr(simengine.drift, "_PASS_FIRST", 300)
    monkeypatch.setattr(simengine.drift, "_WINDOW_PIECE", 64)
    sliced = np.asarray(PSI_CALLS[name]())
    assert calls and max(calls) > 10
    assert whole.dtype == sliced.dtype and whole.tobytes() == sliced.tobytes()

"""Ctrl-C during the quantile edges of one long `psi` reference column (issue 14).

The column is sorted in slices (`simengine.drift._column_quantiles`); SIGINT shortly into the call must end
it within 1 s with a plain KeyboardInterrupt, and the same small call must give the same bits afterwards.
The bit-identity of tiny slices is tested in test_drift.py
(`test_psi_quantile_edges_of_long_columns_sorted_in_tiny_slices`).
"""
import signal
import textwrap
import time

from _child import Child

_CHILD = textwrap.dedent(
    """
    import signal, sys
    signal.signal(signal.SIGINT, signal.default_int_handler)
    import numpy as np
    import simengine

    # random values: every radix pass is needed (zeros would skip them); 2 x 10^7 values take a few
    # tenths of a second a pass once warm, 480 MB with the two key arrays
    long = np.random.default_rng(0).random(2 * 10**7)
    simengine.drift._SORTED_ROWS = 10**5  # the small call below takes the sliced sort too: compiled here
    small = np.random.default_rng(1).normal(size=300_000)
    before = simengine.psi(small, small[:5000] + 0.1, binning="quantile")
    print("ready", flush=True)
    sys.stdin.readline()
    print("start", flush=True)
    try:
        simengine.psi(long, long[:1000], binning="quantile")
        print("finished", flush=True)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
    after = simengine.psi(small, small[:5000] + 0.1, binning="quantile")
    print("after", after == before, signal.getsignal(signal.SIGINT) is signal.default_int_handler, flush=True)
    """
)


def test_sigint_during_the_quantile_edges_of_one_long_column():
    child = Child(_CHILD)
    try:
        assert child.line(300.0, "compiling the psi kernels") == "ready"
        child.send("go")
        assert child.line(60.0, "starting the long call") == "start"
        time.sleep(0.25)  # inside the call (the sort's first slices run by then)
        sent = time.perf_counter()
        child.proc.send_signal(signal.SIGINT)
        line = child.line(60.0, "SIGINT during the quantile edges")
        elapsed = time.perf_counter() - sent
        assert line == "interrupted"
        assert elapsed < 1.0
        assert child.line(60.0, "the small call after") == "after True True"
        child.finish()
    finally:
        child.close()

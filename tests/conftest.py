import os

from hypothesis import HealthCheck, settings

# CI runs derandomised so a red build is reproducible; locally hypothesis explores.
settings.register_profile(
    "ci", derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.register_profile("dev", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") else "dev")


def pytest_configure(config):
    # pytest-xdist runs one worker per core; if each worker also ran numba kernels on every core, a 2-core machine
    # would run 4 compute threads on 2 cores, and parallel kernels would wait at their barriers for descheduled
    # threads (measured: a third of the wall time of the hypothesis, power, multitest, bayes and drift files).
    # So each worker uses its share of the cores. Results never depend on the thread count, and the tests of
    # that still compare 1 and 2 threads: they set the count explicitly (numba.config.NUMBA_NUM_THREADS, the
    # maximum, is unchanged) or run a child process with NUMBA_NUM_THREADS set.
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1:
        import numba

        numba.set_num_threads(max(1, numba.config.NUMBA_NUM_THREADS // workers))


# The longest test files start first (longest-processing-time-first): pytest-xdist's --dist loadfile hands whole
# files to workers in collection order, and alphabetical order left several long files (sequential, sweep,
# results) for the end, where one worker ran them while the other had nothing left (~1 minute of a 2-core CI run).
# Order within a file, and the order of all other files, is unchanged; the outcome of a test does not depend on it.
_LONG_FILES_FIRST = (
    "test_results.py", "test_multitest.py", "test_sequential.py", "test_bayes.py", "test_cli.py", "test_jit.py",
    "test_sweep_builtins.py", "test_sweep_faults.py", "test_interrupt_hypothesis.py", "test_mcmc.py",
    "test_fuzz_serving.py", "test_serving_load.py", "test_permutation_designs.py", "test_sweep.py", "test_drift.py",
    "test_kernel_api.py", "test_interrupt_bayes_drift.py", "test_fuzz_drift.py", "test_packaging.py", "test_power.py",
)


def pytest_collection_modifyitems(session, config, items):
    rank = {name: i for i, name in enumerate(_LONG_FILES_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: keeps each file's own order

"""Every `Examples` section of the public docstrings runs and prints what it shows.

Comparison is doctest's, with NORMALIZE_WHITESPACE and ELLIPSIS.  Float convention of the examples: a float
is shown through ``round(x, k)``, an f-string with a fixed precision, ``DataFrame.round`` or a comparison
(``0.01 < x < 0.02``, ``bool(...)``), never as a bare repr, so what is printed does not hang on the last bits
of a result; every example is seeded (``rng=<int>``) and small.
"""
import doctest
import importlib

import pytest

# the public layer: the modules whose names simengine/__init__.py exports (and `targets`)
MODULES = [
    "simengine.twosample",
    "simengine.permutation",
    "simengine.power",
    "simengine.multitest",
    "simengine.sequential",
    "simengine.bayes",
    "simengine.drift",
    "simengine.mcmc",
    "simengine.serving",
    "simengine.bootstrap",
    "simengine.features",
    "simengine.targets",
    "simengine._sweep",
    "simengine._results",
]
FLAGS = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS


@pytest.fixture
def restore_registry():
    """Examples register simulations ("coin"); the registry of this process is put back afterwards."""
    from simengine import _sweep

    saved = dict(_sweep._USER)
    yield
    _sweep._USER.clear()
    _sweep._USER.update(saved)


@pytest.mark.parametrize("name", MODULES)
def test_examples(name, restore_registry):
    module = importlib.import_module(name)
    tests = [t for t in doctest.DocTestFinder().find(module, name) if t.examples]
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    report = []
    for test in tests:
        runner.run(test, out=report.append)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, "".join(report)


def test_every_public_function_has_examples():
    import inspect

    import simengine

    missing = [
        name
        for name in simengine.__all__
        if inspect.isfunction(getattr(simengine, name)) and "Examples\n" not in (getattr(simengine, name).__doc__ or "")
    ]
    assert not missing, f"public functions without an Examples section: {missing}"

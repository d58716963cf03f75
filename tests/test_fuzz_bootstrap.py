"""Bad-input fuzz suite for the bootstrap family (issue 17): each parameter replaced by every hostile value of
`tests/_fuzz.py`; the call returns or raises TypeError / ValueError naming that parameter, quickly."""
import warnings

import pytest

import simengine as se
from _fuzz import ANY_BAD, check_call

# slice bootcov: simulate_bootstrap_coverage (a separate function, so the bootstrap() cases can sit beside it)
COVERAGE_BASE = dict(distribution="exponential", n=[5, 6], statistic="median", methods=("percentile", "BCa"),
                     confidence_level=0.9, n_resamples=19, n_sims=10, rng=1, progress=False)


@pytest.mark.parametrize("param", list(COVERAGE_BASE))
def test_simulate_bootstrap_coverage_hostile_values(param):
    se.simulate_bootstrap_coverage(**COVERAGE_BASE)  # compiled before any call is timed
    for value in ANY_BAD:
        kwargs = {**COVERAGE_BASE, param: value}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            check_call(se.simulate_bootstrap_coverage, (), kwargs, param=param, timeout=10)

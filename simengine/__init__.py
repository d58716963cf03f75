"""simengine: numba-accelerated simulation engine for experiment statistics and model monitoring.

Importing the package compiles nothing: kernels compile (or load from the cache)
on their first call.
"""
from importlib.metadata import PackageNotFoundError, version as _version

try:
    __version__ = _version("numba-simengine")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

from simengine import targets
from simengine._sweep import register_simulation, simulations, sweep
from simengine.bayes import (
    BayesABResult,
    BayesPeekingResult,
    ConfidenceInterval,
    ProbBestResult,
    bayes_ab,
    prob_best,
    proportion_interval,
    simulate_bayes_peeking,
    simulate_coverage,
)
from simengine.drift import (
    ADWIN,
    DDM,
    PSIMonitor,
    adwin,
    ddm,
    psi,
    psi_monitor,
    simulate_drift_detection,
)
from simengine.mcmc import MCMCResult, ess, metropolis_hastings, rhat
from simengine.multitest import MultipleTestsResult, multipletests, simulate_multiple_testing
from simengine.permutation import PermutationTestResult, permutation_test
from simengine.power import (
    PowerTTestResult,
    SimulatePowerResult,
    TargetNotReachedWarning,
    power_ttest,
    simulate_power,
)
from simengine.sequential import PeekingResult, group_sequential_boundaries, simulate_peeking
from simengine.twosample import MannwhitneyuResult, TtestResult, mannwhitneyu, ttest_ind

__all__ = [
    "__version__",
    # hypothesis testing (issue 3)
    "permutation_test",
    "PermutationTestResult",
    "ttest_ind",
    "TtestResult",
    "mannwhitneyu",
    "MannwhitneyuResult",
    "power_ttest",
    "PowerTTestResult",
    "TargetNotReachedWarning",
    "simulate_power",
    "SimulatePowerResult",
    "multipletests",
    "MultipleTestsResult",
    "simulate_multiple_testing",
    # sequential testing (issue 4)
    "simulate_peeking",
    "PeekingResult",
    "group_sequential_boundaries",
    # Bayesian A/B, intervals, MCMC (issue 5)
    "bayes_ab",
    "BayesABResult",
    "prob_best",
    "ProbBestResult",
    "proportion_interval",
    "ConfidenceInterval",
    "simulate_coverage",
    "simulate_bayes_peeking",
    "BayesPeekingResult",
    "metropolis_hastings",
    "MCMCResult",
    "rhat",
    "ess",
    "targets",
    # drift detection (issue 6)
    "psi",
    "psi_monitor",
    "PSIMonitor",
    "ddm",
    "DDM",
    "adwin",
    "ADWIN",
    "simulate_drift_detection",
    # sweeps (issue 7)
    "sweep",
    "register_simulation",
    "simulations",
]

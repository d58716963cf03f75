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
    BayesAbResult,
    ProbBestResult,
    ProportionIntervalResult,
    SimulateBayesPeekingResult,
    SimulateCoverageResult,
    bayes_ab,
    prob_best,
    proportion_interval,
    simulate_bayes_peeking,
    simulate_coverage,
)
from simengine.bootstrap import (
    BootstrapResult,
    SimulateBootstrapCoverageResult,
    bootstrap,
    simulate_bootstrap_coverage,
)
from simengine.drift import (
    ADWIN,
    DDM,
    AdwinResult,
    DdmResult,
    PSIMonitor,
    PsiMonitorResult,
    SimulateDriftDetectionResult,
    adwin,
    ddm,
    psi,
    psi_monitor,
    simulate_drift_detection,
)

# point-in-time features (issue 19)
from simengine.features import freshness, point_in_time_features, session_features, skew_report
from simengine.mcmc import MetropolisHastingsResult, ess, mcse, metropolis_hastings, rhat
from simengine.multitest import (
    MultipletestsResult,
    SimulateMultipleTestingResult,
    multipletests,
    simulate_multiple_testing,
)
from simengine.permutation import PermutationTestResult, permutation_test
from simengine.power import (
    PowerProportionsResult,
    PowerTtestResult,
    SimulatePowerResult,
    TargetNotReachedWarning,
    power_proportions,
    power_ttest,
    simulate_power,
)
from simengine.sequential import (
    GroupSequentialDesignResult,
    MsprtResult,
    SimulatePeekingResult,
    group_sequential_boundaries,
    group_sequential_design,
    msprt,
    simulate_peeking,
)
from simengine.serving import (  # serving simulation (issue 18)
    SimulateGateResult,
    SimulateLoadTestResult,
    TokenBucket,
    TokenBucketResult,
    WindowMetricsResult,
    ZscoreGateResult,
    simulate_gate,
    simulate_load_test,
    token_bucket,
    window_metrics,
    zscore_gate,
)
from simengine.twosample import MannwhitneyuResult, TtestIndResult, mannwhitneyu, ttest_ind

__all__ = [
    "__version__",
    # hypothesis testing
    "permutation_test",
    "PermutationTestResult",
    "ttest_ind",
    "TtestIndResult",
    "mannwhitneyu",
    "MannwhitneyuResult",
    "power_ttest",
    "PowerTtestResult",
    "power_proportions",
    "PowerProportionsResult",
    "TargetNotReachedWarning",
    "simulate_power",
    "SimulatePowerResult",
    "multipletests",
    "MultipletestsResult",
    "simulate_multiple_testing",
    "SimulateMultipleTestingResult",
    # sequential testing
    "simulate_peeking",
    "SimulatePeekingResult",
    "group_sequential_boundaries",
    "group_sequential_design",
    "GroupSequentialDesignResult",
    "msprt",
    "MsprtResult",
    # Bayesian A/B, intervals, MCMC
    "bayes_ab",
    "BayesAbResult",
    "prob_best",
    "ProbBestResult",
    "proportion_interval",
    "ProportionIntervalResult",
    "simulate_coverage",
    "SimulateCoverageResult",
    "simulate_bayes_peeking",
    "SimulateBayesPeekingResult",
    "metropolis_hastings",
    "MetropolisHastingsResult",
    "rhat",
    "ess",
    "mcse",
    "targets",
    # drift detection
    "psi",
    "psi_monitor",
    "PSIMonitor",
    "PsiMonitorResult",
    "ddm",
    "DDM",
    "DdmResult",
    "adwin",
    "ADWIN",
    "AdwinResult",
    "simulate_drift_detection",
    "SimulateDriftDetectionResult",
    # serving simulation: load tests
    "simulate_load_test",
    "SimulateLoadTestResult",
    "TokenBucket",
    # bootstrap (issue 17)
    "bootstrap",
    "BootstrapResult",
    "simulate_bootstrap_coverage",
    "SimulateBootstrapCoverageResult",
    # point-in-time features (issue 19)
    "point_in_time_features",
    "session_features",
    "freshness",
    "skew_report",
    # sweeps
    "sweep",
    "register_simulation",
    "simulations",
    # serving: recorded traffic and input gates
    "token_bucket",
    "TokenBucketResult",
    "window_metrics",
    "WindowMetricsResult",
    "zscore_gate",
    "ZscoreGateResult",
    "simulate_gate",
    "SimulateGateResult",
]

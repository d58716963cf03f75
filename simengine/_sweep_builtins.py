"""Adapters that register the engine's simulators for `sweep`.

Each adapter takes ``rng``, ``n_sims`` and the simulator's parameters (scalars, so
that every grid point is one scenario) and returns a flat dict of estimates, each
with its ``_se`` companion.  Exact quantities (no Monte Carlo error) report an SE of 0.

Chunking: an adapter registered with `chunk_size` returns only means over
independent replicates, so `sweep` may split a large point into chunks and combine
them exactly.  Estimates that are not plain means (median delays, delays averaged
over detected streams only) are registered without chunking.
"""
from __future__ import annotations

import numpy as np

from simengine._sweep import register_simulation

__all__ = []

_PROBE_SEED = 0


def _probe(func):
    """Validation by running the point once with one replicate (cheap; fills the kernel cache)."""

    def validate(**params):
        func(rng=np.random.default_rng(_PROBE_SEED), n_sims=1, **params)

    return validate


def _pick(result, names):
    out = {}
    for name in names:
        out[name] = float(getattr(result, name))
        out[f"{name}_se"] = float(getattr(result, f"{name}_se"))
    return out


# ------------------------------------------------------------------------------------------------- peeking

_CORRECTIONS = ("none", "pocock", "obrien-fleming", "msprt")


def _looks(n_looks, visitors_per_look, total_visitors):
    if total_visitors is None:
        return n_looks, visitors_per_look
    if visitors_per_look is not None:
        raise ValueError("give `visitors_per_look` or `total_visitors`, not both")
    if isinstance(total_visitors, bool) or not isinstance(total_visitors, (int, np.integer)) or total_visitors < 1:
        raise ValueError(f"`total_visitors` must be an integer >= 1 (visitors per arm); got {total_visitors!r}")
    if isinstance(n_looks, bool) or not isinstance(n_looks, (int, np.integer)) or n_looks < 1:
        raise ValueError(f"`n_looks` must be an integer >= 1; got {n_looks!r}")
    if n_looks > total_visitors:
        raise ValueError(f"`total_visitors` ({total_visitors}) must be at least `n_looks` ({n_looks})")
    # as equal as possible, summing exactly to the total
    edges = np.round(np.linspace(0, total_visitors, int(n_looks) + 1)).astype(np.int64)
    return n_looks, np.diff(edges)


def peeking(*, rng, n_sims, n_looks=14, visitors_per_look=None, total_visitors=None, correction=None,
            metric="binary", rate=0.10, mean=0.0, sd=1.0, lift=0.0, test="t", alpha=0.05,
            alternative="two-sided", boundary="none", tau=None):
    """`simulate_peeking` at one design.

    `correction` is a shortcut for the comparisons researchers make: "none", "pocock" and
    "obrien-fleming" set `boundary` (with the chosen `test`), "msprt" sets ``test="msprt"``.
    `total_visitors` (per arm) spreads a fixed sample over `n_looks` equal looks, so that
    designs with different numbers of looks are compared at the same maximum sample size.
    """
    from simengine.sequential import simulate_peeking

    if correction is not None:
        if correction not in _CORRECTIONS:
            raise ValueError(f"`correction` must be one of {', '.join(_CORRECTIONS)}; got {correction!r}")
        if boundary != "none" or test == "msprt":
            raise ValueError("give `correction` or `boundary`/`test='msprt'`, not both")
        if correction == "msprt":
            test = "msprt"
        else:
            boundary = correction
    if visitors_per_look is None and total_visitors is None:
        visitors_per_look = 100
    n_looks, visitors = _looks(n_looks, visitors_per_look, total_visitors)
    r = simulate_peeking(n_sims=n_sims, n_looks=n_looks, visitors_per_look=visitors, metric=metric, rate=rate,
                         mean=mean, sd=sd, lift=lift, test=test, alpha=alpha, alternative=alternative,
                         boundary=boundary, tau=tau, rng=rng)
    return _pick(r, ("rejected_any_look", "rejected_final", "expected_visitors_per_arm"))


register_simulation(
    "peeking", peeking,
    parameters=("n_looks", "visitors_per_look", "total_visitors", "correction", "metric", "rate", "mean", "sd",
                "lift", "test", "alpha", "alternative", "boundary", "tau"),
    chunk_size=200_000,
    description="A/A or A/B test analysed at every look: any-look and final rejection rates (simulate_peeking)",
    validate=_probe(peeking),
)


def bayes_peeking(*, rng, n_sims, n_looks=14, visitors_per_look=100, rate=0.10, lift=0.0, threshold=0.95,
                  prior=(1.0, 1.0)):
    """`simulate_bayes_peeking`: "stop when P(B > A) > threshold" checked at every look vs at the end."""
    from simengine.bayes import simulate_bayes_peeking

    r = simulate_bayes_peeking(n_sims=n_sims, n_looks=n_looks, visitors_per_look=visitors_per_look, rate=rate,
                               lift=lift, threshold=threshold, prior=tuple(prior), rng=rng)
    return _pick(r, ("prob_declare_peeking", "prob_declare_final"))


register_simulation(
    "bayes_peeking", bayes_peeking,
    parameters=("n_looks", "visitors_per_look", "rate", "lift", "threshold", "prior"),
    chunk_size=200_000,
    description="Bayesian stopping rule P(B > A) > threshold checked at every look vs only at the end",
    validate=_probe(bayes_peeking),
)


# ---------------------------------------------------------------------------------------------- power


def power(*, rng, n_sims, effect_size, n, test="t", alpha=0.05, distribution="normal", alternative="two-sided",
          n_resamples=999):
    """`simulate_power` at one sample size per group."""
    from simengine.power import simulate_power

    if isinstance(n, (list, tuple, np.ndarray)):
        raise TypeError("`n` must be one integer per grid point; put the sample sizes in the grid")
    r = simulate_power(test=test, effect_size=effect_size, n=n, n_sims=n_sims, alpha=alpha,
                       distribution=distribution, alternative=alternative, n_resamples=n_resamples, rng=rng)
    return {"power": float(np.asarray(r.power).reshape(-1)[0]), "power_se": float(np.asarray(r.se).reshape(-1)[0])}


register_simulation(
    "power", power,
    parameters=("effect_size", "n", "test", "alpha", "distribution", "alternative", "n_resamples"),
    chunk_size=50_000,
    description="Monte Carlo power of t / Welch / Mann-Whitney / permutation tests (simulate_power)",
    validate=_probe(power),
)


def multiple_testing(*, rng, n_sims, effect_size, n_per_group, n_tests=20, n_true=2, method="holm", alpha=0.05):
    """`simulate_multiple_testing` for one correction; `n_sims` is the number of families."""
    from simengine.multitest import simulate_multiple_testing

    if not isinstance(method, str):
        raise TypeError(f"`method` must be one correction name per grid point; got {method!r}")
    table = simulate_multiple_testing(n_tests=n_tests, n_true=n_true, effect_size=effect_size,
                                      n_per_group=n_per_group, n_families=n_sims, methods=(method,), alpha=alpha,
                                      rng=rng)
    row = table.iloc[0]
    return {str(k): float(v) for k, v in row.items()}


register_simulation(
    "multiple_testing", multiple_testing,
    parameters=("effect_size", "n_per_group", "n_tests", "n_true", "method", "alpha"),
    chunk_size=100_000,
    description="FWER, FDR and power of a multiple-testing correction over simulated families of t-tests",
    validate=_probe(multiple_testing),
)


# -------------------------------------------------------------------------------------- Bayesian / coverage


def coverage(*, rng, n_sims, p, n, method="wilson", alpha=0.05, prior=(1.0, 1.0)):
    """`simulate_coverage` of one interval method at one (p, n); exact figures carry an SE of 0."""
    from simengine.bayes import simulate_coverage

    if not isinstance(method, str):
        raise TypeError(f"`method` must be one interval method per grid point; got {method!r}")
    table = simulate_coverage(p=p, n=n, methods=(method,), alpha=alpha, n_sims=n_sims, prior=tuple(prior), rng=rng)
    row = table.iloc[0]
    return {
        "coverage": float(row["coverage"]), "coverage_se": float(row["coverage_se"]),
        "mean_width": float(row["mean_width"]), "mean_width_se": float(row["mean_width_se"]),
        "exact_coverage": float(row["exact_coverage"]), "exact_coverage_se": 0.0,
        "exact_mean_width": float(row["exact_mean_width"]), "exact_mean_width_se": 0.0,
    }


register_simulation(
    "coverage", coverage,
    parameters=("p", "n", "method", "alpha", "prior"),
    chunk_size=1_000_000,
    description="Coverage and width of binomial intervals (Wald, Wilson, Agresti-Coull, Clopper-Pearson, ...)",
    validate=_probe(coverage),
)


def bayes_ab(*, rng, n_sims, successes_a, trials_a, successes_b, trials_b, prior=(1.0, 1.0), method="exact"):
    """`bayes_ab` at one set of counts; with ``method="mc"`` `n_sims` is the number of posterior draws."""
    from simengine.bayes import bayes_ab as _bayes_ab

    r = _bayes_ab(successes_a, trials_a, successes_b, trials_b, prior=tuple(prior), method=method,
                  n_draws=n_sims, rng=rng)
    return _pick(r, ("prob_b_better", "expected_loss_a", "expected_loss_b"))


register_simulation(
    "bayes_ab", bayes_ab,
    parameters=("successes_a", "trials_a", "successes_b", "trials_b", "prior", "method"),
    chunk_size=10_000_000,
    description="P(B > A) and expected losses for Beta posteriors (exact, or Monte Carlo with n_sims draws)",
    validate=_probe(bayes_ab),
)


# ---------------------------------------------------------------------------------------------------- drift

_DETECTOR_KEYS = ("warning_level", "drift_level", "min_samples", "reset",
                  "delta", "max_buckets", "min_window_length", "grace_period", "clock")


def drift_detection(*, rng, n_sims, detector="ddm", drift="sudden", n_steps=1_000, drift_start=500, drift_end=None,
                    error_before=0.15, error_after=0.40, **detector_params):
    """`simulate_drift_detection` with `n_sims` streams; detector settings are given as plain parameters.

    `drift_end` only applies to gradual drift, so one grid can compare "sudden" and
    "gradual" with a shared `drift_end` (a sudden drift ignores it; `simulate_drift_detection`
    itself refuses the combination).

    Not chunked: the delays are averaged over detected streams only and their median is
    not a mean over replicates, so a point runs as one task.
    """
    from simengine.drift import simulate_drift_detection

    if drift == "sudden":
        drift_end = None
    r = simulate_drift_detection(detector=detector, drift=drift, n_streams=n_sims, n_steps=n_steps,
                                 drift_start=drift_start, drift_end=drift_end, error_before=error_before,
                                 error_after=error_after, detector_params=detector_params or None, rng=rng)
    return _pick(r, ("detection_rate", "false_alarm_rate", "false_alarms_per_stream", "delay_mean", "delay_median"))


register_simulation(
    "drift_detection", drift_detection,
    parameters=("detector", "drift", "n_steps", "drift_start", "drift_end", "error_before", "error_after")
    + _DETECTOR_KEYS,
    description="DDM / ADWIN over simulated error streams: detection rate, false alarms, delay (mean, median); "
                "drift_end applies to gradual drift only",
    validate=_probe(drift_detection),
)

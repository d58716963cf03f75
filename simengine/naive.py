"""Plain NumPy / SciPy baselines: the straightforward way to write each simulation.

Tests use them as references, `benchmarks/` and `simengine bench` time against
them.  They favour obviousness over speed on purpose; never optimise them.
"""
from __future__ import annotations

import numpy as np

__all__: list[str] = []


# --------------------------------------------------------------------------- Bayesian A/B and MCMC (issue 5)


def bayes_ab_mc(successes_a, trials_a, successes_b, trials_b, *, prior=(1.0, 1.0), n_draws=50_000, rng=None):
    """P(B > A) and expected losses by drawing `n_draws` Beta variates per arm, one scenario at a time."""
    rng = np.random.default_rng(rng)
    sa, ta, sb, tb = (np.atleast_1d(np.asarray(v)) for v in (successes_a, trials_a, successes_b, trials_b))
    out = np.empty((sa.size, 3))
    for i in range(sa.size):
        a = rng.beta(prior[0] + sa[i], prior[1] + ta[i] - sa[i], n_draws)
        b = rng.beta(prior[0] + sb[i], prior[1] + tb[i] - sb[i], n_draws)
        out[i] = np.mean(b > a), np.mean(np.maximum(b - a, 0.0)), np.mean(np.maximum(a - b, 0.0))
    return out


def beta_draws(alpha_a, beta_a, alpha_b, beta_b, n_draws, rng=None):
    """Only the Beta draws of a Monte Carlo A/B comparison (the floor of any MC method)."""
    rng = np.random.default_rng(rng)
    return [(rng.beta(a1, b1, n_draws), rng.beta(a2, b2, n_draws)) for a1, b1, a2, b2 in zip(alpha_a, beta_a, alpha_b, beta_b)]


def metropolis_hastings_2d(mean, cov, x0, n_steps, proposal_scale=1.0, rng=None):
    """Random-walk MH on a Gaussian target, the textbook way: NumPy proposal and
    `np.linalg.inv` inside the log density at every step."""
    rng = np.random.default_rng(rng)
    mean = np.asarray(mean, dtype=float)
    cov = np.asarray(cov, dtype=float)

    def log_density(x):
        d = x - mean
        return -0.5 * d @ np.linalg.inv(cov) @ d

    x = np.asarray(x0, dtype=float).copy()
    lp = log_density(x)
    chain = np.empty((n_steps, x.size))
    for t in range(n_steps):
        prop = x + proposal_scale * rng.standard_normal(x.size)
        lp_new = log_density(prop)
        if np.log(rng.random()) < lp_new - lp:
            x, lp = prop, lp_new
        chain[t] = x
    return chain

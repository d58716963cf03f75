"""Bayesian A/B, intervals and Metropolis-Hastings: naive NumPy vs the usual library vs simengine.

Targets (issue 5): exact `bayes_ab` on the five scenarios >= 1000x the naive 50 000-draw
Monte Carlo; `method="mc"` within 1.5x of drawing the same Beta variates alone (floor);
MH on a 2-D correlated Gaussian, 10 000 steps, one chain, >= 500x the naive loop.
"""
import itertools

import numpy as np
import pytest
from conftest import QUICK, sizes

import simengine
from simengine import naive, targets
from simengine._rng import as_seed_sequence, block_generators, n_blocks
from simengine.bayes import AB_SCENARIOS, MC_BLOCK
from simengine.kernels import bayes as kb

SA, NA, SB, NB = (np.array([s[i] for s in AB_SCENARIOS]) for i in range(1, 5))


def _scipy_quad(sa, na, sb, nb):
    from scipy import integrate, stats

    out = []
    for i in range(len(sa)):
        a = stats.beta(1 + sa[i], 1 + na[i] - sa[i])
        b = stats.beta(1 + sb[i], 1 + nb[i] - sb[i])
        out.append(integrate.quad(lambda x: b.pdf(x) * a.cdf(x), 0, 1, points=[a.mean(), b.mean()], limit=200)[0])
    return out


@pytest.mark.parametrize("impl", ["naive MC 50k draws", "scipy quad", "simengine exact"])
def test_bayes_ab_exact(run, benchmark, impl):
    benchmark.group = "bayes_ab: five scenarios"
    if impl == "naive MC 50k draws":
        run(naive.bayes_ab_mc, SA, NA, SB, NB, n_draws=50_000, rng=0, rounds=3)
    elif impl == "scipy quad":
        run(_scipy_quad, SA, NA, SB, NB, rounds=3)
    else:
        run(simengine.bayes_ab, SA, NA, SB, NB)


@pytest.mark.parametrize("n_draws", sizes(20_000, 1_000_000))
@pytest.mark.parametrize(
    "impl", ["naive MC", "numpy beta draws only", "floor: simengine beta draws only", "simengine mc"]
)
def test_bayes_ab_mc(run, benchmark, impl, n_draws):
    benchmark.group = f"bayes_ab mc: five scenarios, {n_draws} draws per arm"
    r = simengine.bayes_ab(SA, NA, SB, NB)
    ss = as_seed_sequence(1)
    if impl == "naive MC":
        run(naive.bayes_ab_mc, SA, NA, SB, NB, n_draws=n_draws, rng=0, rounds=3)
    elif impl == "numpy beta draws only":
        run(naive.beta_draws, r.alpha_a, r.beta_a, r.alpha_b, r.beta_b, n_draws, 0, rounds=3)
    elif impl == "floor: simengine beta draws only":
        # same generators, same parallel blocks, only the draws (setup included, as in bayes_ab)
        def floor():
            gens = block_generators(ss, n_blocks(n_draws, MC_BLOCK) * len(SA))
            return kb._beta_draw_floor(r.alpha_a, r.beta_a, r.alpha_b, r.beta_b, n_draws, MC_BLOCK, gens)

        run(floor)
    else:
        run(simengine.bayes_ab, SA, NA, SB, NB, method="mc", n_draws=n_draws, rng=ss)


@pytest.mark.parametrize("n_steps", sizes(1_000, 10_000))
@pytest.mark.parametrize("impl", ["naive", "floor", "simengine", "simengine + rhat/ess"])
def test_mh_gaussian(run, benchmark, impl, n_steps):
    benchmark.group = f"metropolis_hastings: 2-D Gaussian rho=0.7, one chain, {n_steps} steps"
    cov = np.array([[1.0, 0.7], [0.7, 1.0]])
    if impl == "naive":
        run(naive.metropolis_hastings_2d, np.zeros(2), cov, np.zeros(2), n_steps, 1.0, 0, rounds=3)
    elif impl == "floor":  # the chain's random numbers alone, drawn by NumPy in bulk
        def floor():
            g = np.random.default_rng(0)
            return g.standard_normal((n_steps, 2)), g.standard_exponential(n_steps)

        run(floor)
    else:
        # a new seed every round: one chain repeated lets the branch predictor learn its accept/reject pattern
        f = targets.multivariate_normal(np.zeros(2), cov)
        seeds = itertools.count()
        if impl == "simengine":  # the default call: R-hat and ESS wait until read
            run(lambda: simengine.metropolis_hastings(f, np.zeros(2), n_steps=n_steps, n_chains=1, rng=next(seeds)))
        else:
            run(lambda: simengine.metropolis_hastings(f, np.zeros(2), n_steps=n_steps, n_chains=1,
                                                      rng=next(seeds)).rhat)


@pytest.mark.parametrize("impl", ["statsmodels", "simengine"])
@pytest.mark.parametrize("method", ["wilson", "beta"])
def test_proportion_interval(run, benchmark, impl, method):
    benchmark.group = f"proportion_interval {method}: 10^5 intervals"
    from statsmodels.stats.proportion import proportion_confint

    rng = np.random.default_rng(0)
    n = rng.integers(1, 1000, 10_000 if QUICK else 100_000)
    k = rng.integers(0, n + 1)
    fn = proportion_confint if impl == "statsmodels" else simengine.proportion_interval
    run(fn, k, n, alpha=0.05, method=method)


def _have_arviz():
    import importlib.util

    return importlib.util.find_spec("arviz") is not None


@pytest.mark.parametrize("impl", ["naive"] + (["arviz"] if _have_arviz() else []) + ["simengine"])
def test_rhat_ess(run, benchmark, impl):
    benchmark.group = "rhat + ess: 4 chains x 10^4 draws x 5 params"
    x = np.random.default_rng(0).standard_normal((4, 10_000, 5))
    if impl == "naive":
        run(naive.rhat_ess_numpy, x)
    elif impl == "arviz":
        import arviz as az

        run(lambda: (az.rhat(az.convert_to_dataset(x)), az.ess(az.convert_to_dataset(x), method="bulk")))
    else:
        run(lambda: (simengine.rhat(x), simengine.ess(x)))


@pytest.mark.parametrize("impl", (["arviz"] if _have_arviz() else []) + ["simengine"])
@pytest.mark.parametrize("what", ["ess tail", "mcse mean"])
def test_tail_ess_mcse(run, benchmark, impl, what):
    benchmark.group = f"{what}: 4 chains x 10^4 draws x 5 params"
    x = np.random.default_rng(0).standard_normal((4, 10_000, 5))
    if impl == "arviz":
        import arviz as az

        fn = az.ess if what == "ess tail" else az.mcse
        run(lambda: fn(az.convert_to_dataset(x), method=what.split()[1]))
    elif what == "ess tail":
        run(simengine.ess, x, method="tail")
    else:
        from simengine.mcmc import mcse  # also `simengine.mcse` once exported

        run(mcse, x)

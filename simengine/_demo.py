"""Sections printed by `simengine demo`: each runs an engine simulation and returns tables.

A section is a function ``(quick, rng) -> list[(title, DataFrame | str)]``; later
capabilities add theirs to `SECTIONS`.
"""
from __future__ import annotations

__all__ = ["SECTIONS"]


def _environment(quick, rng):
    import pandas as pd

    from simengine._info import environment

    env = environment()
    return [("Environment", pd.DataFrame({"value": env}))]


def _hypothesis(quick, rng):
    """Permutation test of medians vs Mann-Whitney, power curve, one- vs two-sided, corrections."""
    import numpy as np
    import pandas as pd

    import simengine as se
    from simengine._rng import as_seed_sequence, child_seed_sequence

    ss = as_seed_sequence(rng)
    seeds = [child_seed_sequence(ss, i) for i in range(6)]
    data = np.random.default_rng(seeds[0])
    x = data.lognormal(0.0, 1.0, 52)
    y = data.lognormal(0.4, 1.0, 52)
    perm = se.permutation_test(x, y, statistic="median", rng=seeds[1])
    mwu = se.mannwhitneyu(y, x, alternative="two-sided")
    tt = se.ttest_ind(y, x)
    tests = pd.DataFrame(
        {
            "statistic": [perm.statistic, mwu.statistic, tt.statistic],
            "p-value": [perm.pvalue, mwu.pvalue, tt.pvalue],
        },
        index=["permutation, median(y) - median(x)", "Mann-Whitney U (asymptotic)", "Student t"],
    )

    n_sims = 2_000 if quick else 20_000
    ns = np.array([50, 100, 200, 300, 394, 500, 700])
    two = se.simulate_power(effect_size=0.2, n=ns, n_sims=n_sims, rng=seeds[2])
    one = se.simulate_power(effect_size=0.2, n=ns, n_sims=n_sims, alternative="greater", rng=seeds[3])
    curve = pd.DataFrame(
        {
            "simulated two-sided": two.power,
            "se": two.se,
            "exact two-sided": [se.power_ttest(effect_size=0.2, n=k).power for k in ns],
            "simulated one-sided": one.power,
            "exact one-sided": [se.power_ttest(effect_size=0.2, n=k, alternative="greater").power for k in ns],
        },
        index=pd.Index(ns, name="n per group"),
    )
    need = pd.DataFrame(
        {
            "n (exact)": [se.power_ttest(effect_size=0.2, power=0.8, alternative=a).n for a in ("two-sided", "greater")],
            "n per group (rounded up)": [
                se.power_ttest(effect_size=0.2, power=0.8, alternative=a).n_ceil for a in ("two-sided", "greater")
            ],
        },
        index=["two-sided", "one-sided (greater)"],
    )
    table = se.simulate_multiple_testing(
        n_tests=20, n_true=3, effect_size=0.5, n_per_group=50, n_families=2_000 if quick else 20_000,
        methods=("none", "bonferroni", "holm", "fdr_bh"), rng=seeds[4],
    )
    return [
        ("Lognormal samples of 52 (shifted log-scale): permutation test of medians vs Mann-Whitney vs t", tests),
        ("Power curve of the two-sample t-test at d = 0.2 (Monte Carlo vs noncentral t)", curve),
        ("n per group for 80% power at d = 0.2, alpha = 0.05", need),
        ("20 t-tests per family, 3 real effects (d = 0.5, n = 50): FWER, FDR, power per correction", table),
    ]


def _peeking(quick, rng):
    """The seed A/A table, then any-look error and power vs number of looks for each correction."""
    import numpy as np
    import pandas as pd

    from simengine._rng import as_seed_sequence, child_seed_sequence
    from simengine.sequential import simulate_peeking

    ss = as_seed_sequence(rng)
    seed = simulate_peeking(n_sims=1000, n_looks=14, visitors_per_look=100, rate=0.10, test="t",
                            rng=child_seed_sequence(ss, 0))
    aa = pd.DataFrame(
        {
            "rejection rate": [seed.rejected_any_look, seed.rejected_final],
            "SE": [seed.rejected_any_look_se, seed.rejected_final_se],
        },
        index=pd.Index(["peeking (any of 14 looks)", "fixed horizon (look 14 only)"], name="analysis"),
    )
    # Fixed total of 1 400 visitors per arm spread over K looks; power at an absolute lift of 0.03.
    n_sims = 1000 if quick else 20_000
    lift = 0.03
    rows = []
    for i, looks in enumerate((1, 2, 5, 10, 14, 20)):
        visitors = np.diff(np.round(np.linspace(0, 1400, looks + 1))).astype(np.int64)
        for j, (label, test, boundary) in enumerate(
            [("none", "t", "none"), ("Pocock", "t", "pocock"), ("O'Brien-Fleming", "t", "obrien-fleming"),
             ("mSPRT", "msprt", "none")]
        ):
            common = dict(n_sims=n_sims, n_looks=looks, visitors_per_look=visitors, rate=0.10, test=test,
                          boundary=boundary)
            null = simulate_peeking(lift=0.0, rng=child_seed_sequence(ss, 1, i, j), **common)
            alt = simulate_peeking(lift=lift, rng=child_seed_sequence(ss, 2, i, j), **common)
            rows.append(
                {
                    "looks": looks,
                    "correction": label,
                    "any-look FPR": null.rejected_any_look,
                    "FPR SE": null.rejected_any_look_se,
                    f"power (lift {lift})": alt.rejected_any_look,
                    "power SE": alt.rejected_any_look_se,
                    "E[visitors/arm] under lift": alt.expected_visitors_per_arm,
                }
            )
    table = pd.DataFrame(rows).set_index(["looks", "correction"])
    return [
        ("Peeking: 1 000 A/A tests, 14 daily looks of 100 visitors/arm, rate 0.10, pooled t-test", aa),
        (f"Any-look false-positive rate and power vs looks (1 400 visitors/arm in total, {n_sims} sims each)",
         table),
    ]
def _bayes(quick, rng):
    """Bayesian A/B (issue 5): updates, intervals, scenarios, priors, coverage, peeking."""
    import numpy as np
    import pandas as pd

    import simengine
    from simengine.bayes import AB_SCENARIOS

    seed = np.random.SeedSequence(rng)
    data_seed, mc_seed, cov_seed, peek_seed = seed.spawn(4)
    out = []

    # sequential posterior updates: one week of daily traffic, B truly 15% better
    days, per_day, rate_a, rate_b = 7, 800, 0.10, 0.115
    g = np.random.default_rng(data_seed)
    sa = np.cumsum(g.binomial(per_day, rate_a, days))
    sb = np.cumsum(g.binomial(per_day, rate_b, days))
    n = per_day * np.arange(1, days + 1)
    res = simengine.bayes_ab(sa, n, sb, n)
    lo_a, hi_a = simengine.proportion_interval(sa, n, method="bayes")
    lo_b, hi_b = simengine.proportion_interval(sb, n, method="bayes")
    out.append((
        f"Sequential posterior updates (true rates A {rate_a}, B {rate_b}; {per_day} visitors/arm/day; Beta(1,1) prior)",
        pd.DataFrame({
            "day": np.arange(1, days + 1), "visitors/arm": n, "conv A": sa, "conv B": sb,
            "A 95% CrI": [f"[{a:.4f}, {b:.4f}]" for a, b in zip(lo_a, hi_a)],
            "B 95% CrI": [f"[{a:.4f}, {b:.4f}]" for a, b in zip(lo_b, hi_b)],
            "P(B > A)": res.prob_b_better, "loss if A": res.expected_loss_a, "loss if B": res.expected_loss_b,
        }),
    ))

    # Wilson vs Bayes (Jeffreys and uniform) intervals at small and large counts
    k = np.array([0, 1, 5, 20, 50, 480])
    t = np.array([20, 20, 50, 100, 1000, 5000])
    table = {"successes": k, "trials": t}
    for label, kw in [("Wilson", {"method": "wilson"}), ("Clopper-Pearson", {"method": "beta"}),
                      ("Jeffreys", {"method": "jeffreys"}), ("Bayes Beta(1,1)", {"method": "bayes"})]:
        lo, hi = simengine.proportion_interval(k, t, **kw)
        table[label] = [f"[{a:.4f}, {b:.4f}]" for a, b in zip(lo, hi)]
    out.append(("95% intervals for a proportion: Wilson vs Bayes", pd.DataFrame(table)))

    # five A/B scenarios: exact, and Monte Carlo with its standard errors
    names = [s[0] for s in AB_SCENARIOS]
    SA, NA, SB, NB = (np.array([s[i] for s in AB_SCENARIOS]) for i in range(1, 5))
    ex = simengine.bayes_ab(SA, NA, SB, NB)
    mc = simengine.bayes_ab(SA, NA, SB, NB, method="mc", n_draws=20_000 if quick else 200_000, rng=mc_seed)
    out.append(("Five A/B scenarios: exact P(B > A) and expected losses (Monte Carlo +- SE alongside)", pd.DataFrame({
        "scenario": names, "A": [f"{a}/{b}" for a, b in zip(SA, NA)], "B": [f"{a}/{b}" for a, b in zip(SB, NB)],
        "P(B > A) exact": ex.prob_b_better,
        "P(B > A) mc": [f"{m:.4f} +- {s:.4f}" for m, s in zip(mc.prob_b_better, mc.prob_b_better_se)],
        "loss if A": ex.expected_loss_a, "loss if B": ex.expected_loss_b,
    })))

    # prior sensitivity: one call, every prior
    priors = [(1, 1), (0.5, 0.5), (10, 90), (50, 450), (100, 100)]
    ps = simengine.bayes_ab(SA, NA, SB, NB, prior=priors)
    sens = pd.DataFrame(ps.prob_b_better.T, columns=[f"Beta{p}" for p in priors])
    sens.insert(0, "scenario", names)
    out.append(("Prior sensitivity of P(B > A)", sens))

    # coverage map of 95% intervals
    cov = simengine.simulate_coverage(p=[0.01, 0.05, 0.2, 0.5], n=[20, 100] if quick else [20, 100, 500],
                                      methods=("normal", "wilson", "agresti_coull", "beta", "jeffreys"),
                                      n_sims=10_000 if quick else 100_000, rng=cov_seed)
    pivot = cov.assign(cell=[f"{c:.3f} +- {s:.3f}" for c, s in zip(cov.coverage, cov.coverage_se)]).pivot_table(
        index=["p", "n"], columns="method", values="cell", aggfunc="first")
    out.append(("Coverage of nominal 95% intervals (Monte Carlo +- SE)", pivot.reset_index()))

    # peeking with the Bayesian stopping rule in an A/A test
    rows = []
    for looks in (1, 5, 20):
        r = simengine.simulate_bayes_peeking(n_sims=2_000 if quick else 20_000, n_looks=looks,
                                             visitors_per_look=10_000 // looks, rate=0.1, rng=peek_seed)
        rows.append({"looks": looks, "declare B better (peeking)": f"{r.prob_declare_peeking:.4f} +- {r.prob_declare_peeking_se:.4f}",
                     "declare at the end only": f"{r.prob_declare_final:.4f} +- {r.prob_declare_final_se:.4f}"})
    out.append(("A/A test, rule 'stop when P(B > A) > 0.95', 10 000 visitors/arm in total", pd.DataFrame(rows)))
    return out


def _mcmc(quick, rng):
    """Metropolis-Hastings (issue 5) on the built-in targets, with R-hat and ESS."""
    import numpy as np
    import pandas as pd

    import simengine
    from simengine import targets

    seeds = np.random.SeedSequence(rng).spawn(3)
    steps = 5_000 if quick else 50_000
    cov = np.array([[1.0, 0.7], [0.7, 1.0]])
    cases = [
        ("Gaussian rho=0.7", targets.multivariate_normal([0.0, 0.0], cov), [0.0, 0.0], [1.0, 1.0]),
        ("banana b=0.1", targets.banana(b=0.1), [0.0, 0.0], [100.0, 1.0 + 2 * 0.01 * 1e4]),
        ("mixture +-3", targets.mixture([0.5, 0.5], [[-3.0, 0.0], [3.0, 0.0]], [np.eye(2), np.eye(2)]),
         [0.0, 0.0], [10.0, 1.0]),
    ]
    if quick:  # each target compiles its own sampler; one is enough for a smoke run
        cases = cases[:1]
    rows = []
    for (name, f, mean, var), ss in zip(cases, seeds):
        r = simengine.metropolis_hastings(f, np.zeros(2), n_steps=steps, burn_in=steps // 5, adapt=True,
                                          proposal_scale=1.0, n_chains=4, rng=ss)
        x = r.samples.reshape(-1, 2)
        for j in range(2):
            rows.append({"target": name, "coord": j, "mean": x[:, j].mean(), "true mean": mean[j],
                         "MC SE": x[:, j].std() / np.sqrt(r.ess[j]), "var": x[:, j].var(), "true var": var[j],
                         "ESS (bulk)": r.ess[j], "R-hat": r.rhat[j],
                         "acceptance": r.acceptance_rate.mean(), "scale": r.proposal_scale.mean()})
    return [(f"Metropolis-Hastings, 4 chains x {steps} steps, adaptive scale during burn-in", pd.DataFrame(rows))]


# (name, function); order is the order printed.
SECTIONS = [
    ("environment", _environment),
    ("hypothesis", _hypothesis),
    ("peeking", _peeking),
    ("bayes", _bayes),
    ("mcmc", _mcmc),
]

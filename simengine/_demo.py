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


# (name, function); order is the order printed.
SECTIONS = [
    ("environment", _environment),
    ("hypothesis", _hypothesis),
    ("peeking", _peeking),
]

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
    perm = se.permutation_test(y, x, statistic="median", rng=seeds[1])
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
            "se": two.power_se,
            "exact two-sided": [se.power_ttest(effect_size=0.2, n=k).power for k in ns],
            "simulated one-sided": one.power,
            "exact one-sided": [se.power_ttest(effect_size=0.2, n=k, alternative="greater").power for k in ns],
        },
        index=pd.Index(ns, name="n per group"),
    )
    need = pd.DataFrame(
        {
            "n (exact)": [
                se.power_ttest(effect_size=0.2, power=0.8, alternative=a).n for a in ("two-sided", "greater")
            ],
            "n per group (rounded up)": [
                se.power_ttest(effect_size=0.2, power=0.8, alternative=a).n_ceil for a in ("two-sided", "greater")
            ],
        },
        index=["two-sided", "one-sided (greater)"],
    )
    table = se.simulate_multiple_testing(
        n_tests=20, n_true=3, effect_size=0.5, n_per_group=50, n_sims=2_000 if quick else 20_000,
        methods=("none", "bonferroni", "holm", "fdr_bh"), rng=seeds[4],
    ).to_frame()
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
        f"Sequential posterior updates (true rates A {rate_a}, B {rate_b}; {per_day} visitors/arm/day; "
        "Beta(1,1) prior)",
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
    cov = cov.to_frame()
    pivot = cov.assign(cell=[f"{c:.3f} +- {s:.3f}" for c, s in zip(cov.coverage, cov.coverage_se)]).pivot_table(
        index=["p", "n"], columns="method", values="cell", aggfunc="first")
    out.append(("Coverage of nominal 95% intervals (Monte Carlo +- SE)", pivot.reset_index()))

    # peeking with the Bayesian stopping rule in an A/A test
    rows = []
    for looks in (1, 5, 20):
        r = simengine.simulate_bayes_peeking(n_sims=2_000 if quick else 20_000, n_looks=looks,
                                             visitors_per_look=10_000 // looks, rate=0.1, rng=peek_seed)
        rows.append({"looks": looks,
                     "declare B better (peeking)": f"{r.prob_declare_peeking:.4f} +- {r.prob_declare_peeking_se:.4f}",
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


# --- drift detection (issue 6) ---------------------------------------------------------------------------


def _fmt(est, se, digits=3):
    return f"{est:.{digits}f} ± {se:.{digits}f}"


def _river_adwin_delays(x, drift_start, delta):
    """First detection at or after drift_start per stream with river's ADWIN (its defaults, clock=32)."""
    import numpy as np
    from river.drift import ADWIN

    first = np.full(x.shape[0], -1)
    false = np.zeros(x.shape[0], dtype=bool)
    for i, row in enumerate(x):
        det = ADWIN(delta=delta)
        for t, v in enumerate(row.tolist()):
            det.update(v)
            if det.drift_detected:
                if t < drift_start:
                    false[i] = True
                else:
                    first[i] = t
                    break
    return first, false


def _drift_section(quick, rng):
    import numpy as np
    import pandas as pd
    from scipy import stats

    import simengine
    from simengine._results import proportion_se

    g = np.random.default_rng(rng)
    out = []

    # 1. PSI vs KS on four drift scenarios
    n = 2_000 if quick else 10_000
    ref = g.normal(size=n)
    scenarios = {
        "no drift": g.normal(size=n),
        "mean shift +0.25 sd": g.normal(0.25, 1.0, size=n),
        "variance x1.5": g.normal(0.0, 1.5, size=n),
        "5% outliers at +4 sd": np.where(g.random(n) < 0.05, g.normal(4.0, 0.5, size=n), g.normal(size=n)),
    }
    rows = []
    for name, cur in scenarios.items():
        ks = stats.ks_2samp(ref, cur)
        rows.append({
            "scenario": name,
            "PSI equal-width": simengine.psi(ref, cur),
            "PSI quantile": simengine.psi(ref, cur, binning="quantile"),
            "KS statistic": ks.statistic,
            "KS p-value": ks.pvalue,
        })
    out.append((f"PSI vs KS, n = {n} per sample (PSI > 0.2 is the usual 'significant shift' rule)",
                pd.DataFrame(rows).set_index("scenario")))

    # 2. sliding-window PSI monitor
    shifts = [0, 0, 0, 0.1, 0.6, 0, 0.6, 0.6, 0.6, 0.6, 0.3, 0.6]
    wins = [g.normal(s, 1.0, size=500) for s in shifts]
    res = simengine.psi_monitor(ref, wins, threshold=0.2, consecutive=3)
    frame = res.to_frame()
    frame.insert(0, "true mean shift", shifts)
    out.append((f"PSI monitor, windows of 500, threshold 0.2, alert after 3 in a row: alerts at windows "
                f"{res.alert_windows.tolist()}", frame))

    # 3. DDM on sudden drift
    n_streams = 2_000 if quick else 10_000
    seed = int(g.integers(2**31))
    r = simengine.simulate_drift_detection(detector="ddm", n_sims=n_streams, rng=seed)
    out.append((f"DDM on sudden drift (error 0.15 -> 0.40 at step 500 of 1000), {n_streams} streams, estimate ± MC SE",
                r.to_frame()))

    # 4. sudden vs gradual, DDM and ADWIN
    rows = []
    for det in ("ddm", "adwin"):
        for drift, end in (("sudden", None), ("gradual", 800)):
            s = simengine.simulate_drift_detection(
                detector=det, drift=drift, drift_end=end, n_sims=n_streams, rng=seed + 1
            )
            rows.append({
                "detector": det, "drift": drift + ("" if end is None else " (500 -> 800)"),
                "detection rate": _fmt(s.detection_rate, s.detection_rate_se),
                "false-alarm rate": _fmt(s.false_alarm_rate, s.false_alarm_rate_se),
                "mean delay": _fmt(s.delay_mean, s.delay_mean_se, 1),
                "median delay": _fmt(s.delay_median, s.delay_median_se, 1),
                "90% delay": _fmt(s.delay_quantiles[0.9], s.delay_quantiles_se[0.9], 1),
            })
    out.append(("Sudden vs gradual drift (error 0.15 -> 0.40), estimate ± MC SE; quantile SEs from the "
                "binomial order-statistic interval", pd.DataFrame(rows)))

    # 4b. ADWIN vs river's ADWIN on the same sudden-drift streams, same delta
    m = 100 if quick else 500
    x = (g.random((m, 1000)) < np.where(np.arange(1000) < 500, 0.15, 0.40)).astype(float)
    rows = []
    runs = [
        ("simengine ADWIN (clock=1)", *_adwin_first(simengine.adwin(x, delta=0.002, clock=1), 500)),
        ("simengine ADWIN (clock=32, river's default)", *_adwin_first(simengine.adwin(x, delta=0.002), 500)),
    ]
    river_label = "river ADWIN (delta=0.002, clock=32, max_buckets=5, min_window_length=5, grace_period=10)"
    try:
        runs.append((river_label, *_river_adwin_delays(x, 500, 0.002)))
    except ModuleNotFoundError as exc:  # river comes with the compare extra
        rows.append({"implementation": f"{river_label}: skipped, {exc.name.split('.')[0]} is not installed "
                     '(python -m pip install "numba-simengine[compare]")'})
    for label, first, false in runs:
        d = (first[first >= 0] - 500).astype(float)
        rows.append({
            "implementation": label,
            "detection rate": _fmt(d.size / m, float(proportion_se(d.size / m, m))),
            "false-alarm rate": _fmt(false.mean(), float(proportion_se(false.mean(), m))),
            "mean delay": _fmt(d.mean(), d.std(ddof=1) / np.sqrt(d.size), 1) if d.size > 1 else "n/a",
            "median delay": f"{np.median(d):.1f}" if d.size else "n/a",
        })
    out.append((f"ADWIN delay vs river's ADWIN, same {m} streams (0.15 -> 0.40 at 500)", pd.DataFrame(rows)))

    # 5. training-serving skew per feature
    n = 5_000 if quick else 20_000
    train = pd.DataFrame({
        "age": g.normal(40, 10, n), "income": g.lognormal(10, 0.5, n),
        "tenure_days": g.exponential(300, n), "clicks": g.poisson(5, n).astype(float),
    })
    serve = pd.DataFrame({
        "age": g.normal(40, 10, n),
        "income": g.lognormal(10, 0.5, n) / 1000.0,  # served in thousands: a unit bug
        "tenure_days": np.where(g.random(n) < 0.2, 0.0, g.exponential(300, n)),  # missing filled with 0
        "clicks": g.poisson(5.5, n).astype(float),
    })
    psis = simengine.psi(train, serve, binning="quantile")
    ks = [stats.ks_2samp(train[c], serve[c]) for c in train.columns]
    skew = pd.DataFrame({"PSI (quantile)": psis, "KS statistic": [k.statistic for k in ks],
                         "flag": np.where(psis > 0.2, "SKEW", "")})
    out.append(("Training-serving skew per feature (unit bug in income, zero-filled tenure)", skew))

    # 6. PSI-triggered retraining with a scikit-learn model
    title = "PSI-triggered retraining: logistic regression, retrain when max feature PSI > 0.2"
    try:
        out.append((title, _retraining_table(g, quick)))
    except ModuleNotFoundError as exc:  # scikit-learn comes with the compare extra
        missing = (exc.name or "a library").split(".")[0]
        note = f"skipped: {missing} is not installed (python -m pip install \"numba-simengine[compare]\")"
        out.append((title, note))
    return out


def _adwin_first(res, drift_start):
    import numpy as np

    first = np.array([next((t for t in idx if t >= drift_start), -1) for idx in res.drift_indices])
    false = np.array([bool(len(idx)) and idx[0] < drift_start for idx in res.drift_indices])
    return first, false


def _retraining_table(g, quick):
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    import simengine

    n = 2_000 if quick else 10_000
    beta_old = np.array([1.0, -1.0, 0.5])
    beta_new = np.array([-0.5, -1.0, 1.5])

    def period(t):
        # covariates drift from period 3 on, and the relation changes with them
        shift = 0.0 if t < 3 else 1.0
        X = g.normal(size=(n, 3)) + np.array([shift, 0.0, -shift])
        beta = beta_old if t < 3 else beta_new
        y = (g.random(n) < 1 / (1 + np.exp(-(X @ beta)))).astype(int)
        return X, y

    X_ref, y_ref = period(0)
    model = LogisticRegression().fit(X_ref, y_ref)
    rows = []
    for t in range(1, 7):
        X, y = period(t)
        drift = simengine.psi(X_ref, X, binning="quantile")
        auc_before = roc_auc_score(y, model.predict_proba(X)[:, 1])
        retrain = bool(drift.max() > 0.2)
        if retrain:
            # retrain on the first half of the period (the labelled recent data), score the second half
            half = n // 2
            new = LogisticRegression().fit(X[:half], y[:half])
            auc_stale = roc_auc_score(y[half:], model.predict_proba(X[half:])[:, 1])
            auc_after = roc_auc_score(y[half:], new.predict_proba(X[half:])[:, 1])
            model, X_ref = new, X
        else:
            auc_stale = auc_after = auc_before
        rows.append({"period": t, "max PSI": drift.max(), "retrained": retrain,
                     "AUC (model in use)": auc_before, "AUC stale model (held-out half)": auc_stale,
                     "AUC after retraining (held-out half)": auc_after})
    return pd.DataFrame(rows).set_index("period")


SECTIONS.append(("drift detection", _drift_section))


# --- sweeps (issue 7) -------------------------------------------------------------------------------------


def _sweep_section(quick, rng):
    """A small grid through the sweep engine: the registered coverage simulation, one row per point."""
    from simengine._rng import as_seed_sequence, child_seed_sequence
    from simengine._sweep import sweep

    ss = child_seed_sequence(as_seed_sequence(rng), 7)
    n_sims = 5_000 if quick else 100_000
    table = sweep("coverage", {"n": [10, 30, 100], "methods": ["normal", "wilson", "jeffreys", "beta"]},
                  fixed={"p": 0.1}, n_sims=n_sims, rng=ss, progress=False)
    table = table.drop(columns=["exact_coverage_se", "exact_mean_width_se"]).set_index(["n", "methods"])
    return [(f"sweep('coverage'): 95% intervals at p = 0.1, {n_sims} samples per point (Monte Carlo vs exact)",
             table)]


SECTIONS.append(("sweep", _sweep_section))


# --- serving simulation (issue 18): load tests --------------------------------------------------------------


def _load_test_demo(quick, rng):
    """The notebook's load test (20 workers, lognormal(3.2, 0.6) ms service, 10% of requests x5 slower) as
    replicated runs: latency percentiles with Monte Carlo errors by load, and what the slow requests do to them."""
    import pandas as pd

    import simengine
    from simengine._rng import as_seed_sequence, child_seed_sequence

    ss = child_seed_sequence(as_seed_sequence(rng), 18)
    n_requests, n_sims = (10_000, 10) if quick else (100_000, 100)
    base = dict(workers=20, n_requests=n_requests, n_sims=n_sims, progress=False)
    names = ["p50", "p90", "p95", "p99", "p99.9"]

    def ms(est, se):
        return f"{1e3 * est:.2f} ± {1e3 * se:.2f}"

    rows = []
    for i, rate in enumerate((100, 200, 300, 400, 450)):
        res = simengine.simulate_load_test(arrival_rate=rate, slow_prob=0.1, slow_factor=5.0,
                                           rng=child_seed_sequence(ss, 0, i), **base)
        row = {"requests/s": rate, "utilisation": f"{res.utilisation:.3f}"}
        row.update({n: ms(e, s) for n, e, s in zip(names, res.latency_quantiles, res.latency_quantiles_se)})
        row["P(wait > 0)"] = f"{res.p_wait:.3f} ± {res.p_wait_se:.3f}"
        rows.append(row)
    out = [(f"Load test latency (ms) by load, 20 workers, 10% of requests x5 slower: mean of {n_sims} runs of "
            f"{n_requests} requests ± Monte Carlo SE", pd.DataFrame(rows).set_index("requests/s"))]
    rows = []
    for i, slow in enumerate((0.0, 0.02, 0.05, 0.1, 0.2)):
        res = simengine.simulate_load_test(arrival_rate=300, slow_prob=slow, slow_factor=5.0,
                                           rng=child_seed_sequence(ss, 1, i), **base)
        row = {"slow share": slow, "mean": ms(res.mean_latency, res.mean_latency_se)}
        row.update({n: ms(e, s) for n, e, s in zip(names, res.latency_quantiles, res.latency_quantiles_se)})
        rows.append(row)
    out.append(("Slow requests (GC pauses, x5) and the tail at 300 requests/s, 20 workers (ms ± SE)",
                pd.DataFrame(rows).set_index("slow share")))
    return out


# --- serving (issue 18): metrics collector, token-bucket burst, input gate ----------------------------------


def _serving_section(quick, rng):
    """The notebook's deployment chapter on recorded traffic: /metrics over a sliding window, the token-bucket
    burst, the z-score input gate on clean and shifted traffic; then the replicated load tests."""
    import numpy as np
    import pandas as pd

    import simengine as se
    from simengine._rng import as_seed_sequence, child_seed_sequence

    ss = child_seed_sequence(as_seed_sequence(rng), 18)
    g = np.random.default_rng(child_seed_sequence(ss, 0))
    # ten minutes of traffic at 20 requests/s; lognormal(3.2, 0.6) ms latencies with 10% x5 slow requests;
    # 2% errors, 10% during minute 6 (a bad deploy)
    n = int(g.poisson(20 * 600))
    t = np.sort(g.uniform(0.0, 600.0, n))
    lat = g.lognormal(3.2, 0.6, n) / 1000 * np.where(g.random(n) < 0.1, 5.0, 1.0)
    err = g.random(n) < np.where((t >= 300) & (t < 360), 0.10, 0.02)
    at = np.arange(60.0, 601.0, 60.0)
    m = se.window_metrics(t, lat, err, window_seconds=60, at=at)
    metrics = m.to_frame().set_index("time")
    metrics[[c for c in metrics.columns if c.startswith("latency") or c == "mean_latency"]] *= 1000
    metrics = metrics.rename(columns=lambda c: c.replace("latency_q", "latency ms q").replace(
        "mean_latency", "mean latency ms"))

    burst_t = np.r_[np.zeros(120), np.linspace(0.0, 1.0, 5), [60.0] * 3]
    burst_c = np.r_[["burst"] * 120, ["steady"] * 5, ["burst"] * 3]
    tb = se.token_bucket(burst_t, burst_c, capacity=100, refill_per_second=100 / 60)
    bucket = tb.to_frame().set_index("client")

    n_rows, n_sims = (2_000, 20) if quick else (10_000, 200)
    rows = []
    # the notebook's gate (10 SD) catches gross errors (a feature in the wrong unit: 12 SD) and lets a real
    # but moderate shift through; a 3 SD gate catches moderate shifts and rejects clean rows too
    for threshold, shifts in ((10.0, (8.0, 12.0)), (3.0, (2.0, 4.0))):
        for shift in shifts:
            res = se.simulate_gate(n_features=10, threshold=threshold, shift=shift, shifted_features=[0],
                                   n_rows=n_rows, n_sims=n_sims, rng=child_seed_sequence(ss, len(rows) + 1))
            rows.append({"threshold (SD)": threshold, "feature 0 shifted by (SD)": shift,
                         "clean rows rejected": _fmt(res.clean_rejection_rate, res.clean_rejection_rate_se, 4),
                         "clean exact": round(res.clean_rejection_rate_exact, 4),
                         "shifted rows rejected":
                             _fmt(res.shifted_rejection_rate, res.shifted_rejection_rate_se, 4),
                         "shifted exact": round(res.shifted_rejection_rate_exact, 4)})
    gate = pd.DataFrame(rows).set_index(["threshold (SD)", "feature 0 shifted by (SD)"])
    return [
        (f"/metrics: 60 s window at each minute of {n} requests (window_metrics; errors x5 in minute 6)", metrics),
        ("Token bucket, capacity 100, 100 per minute: a burst of 120 at t = 0, a steady client, and the burst "
         "client again at t = 60 s (token_bucket)", bucket),
        (f"z-score input gate, 10 features: rejected fraction of rows +- SE ({n_sims} x {n_rows} rows per "
         "kind; simulate_gate)", gate),
    ] + _load_test_demo(quick, child_seed_sequence(ss, 100))


SECTIONS.append(("serving", _serving_section))


# --- point-in-time features (issue 19) --------------------------------------------------------------------


def _features_section(quick, rng):
    """The notebook's feature-store chapter: lag features as of two dates, a session sum, freshness, skew."""
    import numpy as np
    import pandas as pd

    import simengine
    from simengine._rng import as_seed_sequence, child_seed_sequence

    g = np.random.default_rng(child_seed_sequence(as_seed_sequence(rng), 19))
    start = pd.Timestamp("2024-01-01")
    # purchases of three customers over 120 days (different rates and basket sizes)
    rows = []
    for customer, per_day, basket in (("C001", 0.3, 40.0), ("C002", 0.1, 120.0), ("C003", 0.6, 15.0)):
        n = g.poisson(per_day * 120)
        times = start + pd.to_timedelta(np.sort(g.uniform(0, 120 * 86400, n)), unit="s")
        rows.append(pd.DataFrame({"entity": customer, "time": times, "value": g.exponential(basket, n)}))
    purchases = pd.concat(rows, ignore_index=True)
    as_of = [pd.Timestamp("2024-03-01"), pd.Timestamp("2024-04-15")]
    queries = pd.DataFrame({"entity": np.repeat(["C001", "C002", "C003"], 2), "time": as_of * 3})
    lag = simengine.point_in_time_features(purchases, queries, windows=("7D", "30D", "90D"), aggs=("sum", "count"),
                                           max_age="14D")
    lag = pd.concat([queries, lag.round(2)], axis=1).set_index(["entity", "time"])
    out = [("point_in_time_features: purchase sum and count over 7/30/90 days as of two dates (events before "
            "the as-of time only; stale = no purchase in 14 days)", lag)]

    # real-time session feature: sum of clicks' values in the last 30 minutes, at every event
    n_clicks = 12
    clicks = pd.DataFrame({"entity": g.choice(["u1", "u2"], n_clicks),
                           "time": start + pd.to_timedelta(np.sort(g.integers(0, 3 * 3600, n_clicks)), unit="s"),
                           "value": g.integers(1, 5, n_clicks).astype(float)})
    session = simengine.session_features(clicks, window="30min", closed="both")
    out.append(("session_features: value summed over the last 30 minutes at every click (this click included)",
                pd.concat([clicks, session], axis=1).set_index(["entity", "time"])))

    # freshness of a feature table
    now = pd.Timestamp("2024-04-15 12:00")
    updated = pd.Series(now - pd.to_timedelta([2, 30, 5, 70], unit="h"),
                        index=["spend_7d", "spend_30d", "clicks_1h", "country_risk"])
    out.append(("freshness: features not updated in more than 24 hours are stale",
                simengine.freshness(updated, now=now, max_age="24h")))

    # training-serving skew, including two versions of one feature
    n = 2_000 if quick else 20_000
    train = pd.DataFrame({"spend_7d": g.gamma(2.0, 50.0, n), "visits": g.poisson(3.0, n).astype(float),
                          "basket": g.normal(40.0, 8.0, n)})
    serve = pd.DataFrame({"spend_7d": g.gamma(2.0, 50.0, n) * 1.25, "visits": g.poisson(3.0, n).astype(float),
                          "basket": g.normal(40.0, 8.0, n)})
    skew = simengine.skew_report(train, serve)
    v1 = g.gamma(2.0, 50.0, n)
    v2 = v1 + g.normal(0.0, 5.0, n)  # a re-implementation with a little noise
    versions = simengine.skew_report(pd.Series(v1, name="spend_7d v1 vs v2"), pd.Series(v2))
    out.append(("skew_report: training vs serving (PSI, KS as scipy's ks_2samp), and feature v1 vs v2",
                pd.concat([skew, versions]).round(4)))
    return out


SECTIONS.append(("features", _features_section))

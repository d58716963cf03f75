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


# (name, function); order is the order printed.
SECTIONS = [
    ("environment", _environment),
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
    r = simengine.simulate_drift_detection(detector="ddm", n_streams=n_streams, rng=seed)
    out.append((f"DDM on sudden drift (error 0.15 -> 0.40 at step 500 of 1000), {n_streams} streams, estimate ± MC SE",
                r.to_frame()))

    # 4. sudden vs gradual, DDM and ADWIN
    rows = []
    for det in ("ddm", "adwin"):
        for drift, end in (("sudden", None), ("gradual", 800)):
            s = simengine.simulate_drift_detection(
                detector=det, drift=drift, drift_end=end, n_streams=n_streams, rng=seed + 1
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
    for label, first, false in (
        ("simengine ADWIN (clock=1)", *_adwin_first(simengine.adwin(x, delta=0.002), 500)),
        ("simengine ADWIN (clock=32)", *_adwin_first(simengine.adwin(x, delta=0.002, clock=32), 500)),
        ("river ADWIN (delta=0.002, clock=32, max_buckets=5, min_window_length=5, grace_period=10)",
         *_river_adwin_delays(x, 500, 0.002)),
    ):
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
    out.append(("PSI-triggered retraining: logistic regression, retrain when max feature PSI > 0.2",
                _retraining_table(g, quick)))
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

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
    ("peeking", _peeking),
]

"""Point-in-time features: 10^7 events over 10^5 entities, 10^6 queries, 3 windows x (sum, count).

Implementations: pandas (groupby cumulative sums + merge_asof, the fastest pandas formulation we found), polars
(the same with join_asof; skipped when polars is absent), NumPy reading the inputs once (the floor) and simengine.
Quick mode: 10^5 events over 10^3 entities, 10^4 queries.
"""
import numpy as np
import pandas as pd
import pytest
from conftest import sizes

import simengine
from simengine import naive

WINDOWS = ("7D", "30D", "90D")
SIZES = sizes((100_000, 1_000, 10_000), (10_000_000, 100_000, 1_000_000))


def _floor(events, queries):
    return (events["entity"].sum(), events["time"].view(np.int64).sum(), events["value"].sum(),
            queries["entity"].sum(), queries["time"].view(np.int64).sum())


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}ev-{s[1]}ent-{s[2]}q")
@pytest.mark.parametrize("impl", ["pandas merge_asof", "polars join_asof", "numpy read once", "simengine"])
def test_point_in_time_features(run, benchmark, impl, size):
    benchmark.group = f"point_in_time_features {size[0]} events, {size[2]} queries, 3 windows x 2 aggs"
    events, queries = naive.feature_events(*size)
    deltas = [pd.Timedelta(w) for w in WINDOWS]
    big = size[0] > 10**6
    if impl == "simengine":
        run(simengine.point_in_time_features, events, queries, windows=WINDOWS, rounds=3 if big else None)
    elif impl.startswith("pandas"):
        run(naive.pit_sum_count_pandas, events, queries, deltas, rounds=1 if big else None)
    elif impl.startswith("polars"):
        pytest.importorskip("polars")
        run(naive.pit_sum_count_polars, events, queries, deltas, rounds=1 if big else None)
    else:
        run(_floor, events, queries)

"""Serving simulation: load tests of a model server, token-bucket rate limiting, sliding-window metrics and
input gates (issue 18).  The public layer validates and wraps; the kernels live in `simengine.kernels.serving`.
"""
from __future__ import annotations

__all__: list[str] = []

# --- load tests (simulate_load_test, TokenBucket) ---

# --- recorded traffic (token_bucket, window_metrics) and input gates (zscore_gate, simulate_gate) ---

"""Kernels of the serving simulation: the multi-server FIFO queue, token buckets, sliding windows and z-score
gates.  @njit code only; `simengine.serving` validates and calls these.
"""
from __future__ import annotations

# --- load tests ---

# --- recorded traffic and input gates ---

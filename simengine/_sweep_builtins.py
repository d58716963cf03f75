"""Adapters that register the engine's simulators for `sweep`.

Each adapter takes ``rng``, ``n_sims`` and the simulator's parameters and returns
a flat dict of estimates with ``_se`` companions.
"""
from __future__ import annotations

from simengine._sweep import register_simulation

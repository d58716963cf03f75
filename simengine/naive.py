"""Plain NumPy / SciPy baselines: the straightforward way to write each simulation.

Tests use them as references, `benchmarks/` and `simengine bench` time against
them.  They favour obviousness over speed on purpose; never optimise them.
"""
from __future__ import annotations

import numpy as np

__all__: list[str] = []

"""What `simengine info` reports: versions, threads, threading layer, cache directory."""
from __future__ import annotations

import platform
from typing import Any

__all__ = ["environment"]


def _threading_layer() -> str:
    import numpy as np

    from simengine.kernels.util import _parallel_probe

    _parallel_probe(np.zeros(4))  # the layer is only chosen once a parallel kernel has run
    import numba

    layer: str = numba.threading_layer()
    return layer


def environment() -> dict[str, Any]:
    import numba
    import numpy as np

    import simengine
    from simengine._jit import cache_dir

    return {
        "simengine": simengine.__version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "numba threads": str(numba.get_num_threads()),
        "threading layer": _threading_layer(),
        "cache directory": str(cache_dir() or "none (unsafe or unavailable: kernels compile in every process)"),
    }

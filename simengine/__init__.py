"""simengine: numba-accelerated simulation engine for experiment statistics and model monitoring.

Importing the package compiles nothing: kernels compile (or load from the cache)
on their first call.
"""
from importlib.metadata import PackageNotFoundError, version as _version

try:
    __version__ = _version("numba-simengine")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

from simengine._sweep import register_simulation, simulations, sweep

__all__ = ["__version__", "sweep", "register_simulation", "simulations"]

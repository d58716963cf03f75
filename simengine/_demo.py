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

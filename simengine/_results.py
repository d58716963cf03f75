"""Shared pieces of result objects: Monte Carlo standard errors and a dict view.

Result classes themselves live next to the function that returns them; they are
frozen, slotted dataclasses and keep long arrays out of their repr.
"""
from __future__ import annotations

import dataclasses

import numpy as np

__all__ = ["proportion_se", "mean_se", "ResultMixin"]


def proportion_se(p, n):
    """Monte Carlo standard error of a proportion `p` estimated from `n` replicates."""
    p = np.asarray(p, dtype=np.float64)
    return np.sqrt(p * (1.0 - p) / n)


def mean_se(total, total_sq, n):
    """Mean and its standard error from a sum and a sum of squares of `n` replicates."""
    total = np.asarray(total, dtype=np.float64)
    mean = total / n
    var = np.maximum(np.asarray(total_sq, dtype=np.float64) / n - mean * mean, 0.0) * n / max(n - 1, 1)
    return mean, np.sqrt(var / n)


class ResultMixin:
    """`to_dict()` for the frozen result dataclasses."""

    __slots__ = ()

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

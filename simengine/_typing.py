"""Type aliases shared by the public signatures.

They are real runtime objects (not behind TYPE_CHECKING): `sweep` resolves the annotations
of a simulation with `typing.get_type_hints`, so every name they use must import.
"""

from __future__ import annotations

from typing import Any, Literal, Union

import numpy as np
import numpy.typing as npt

__all__ = [
    "Alternative",
    "ArrayLike",
    "BoolArray",
    "FloatArray",
    "FloatOrArray",
    "IntArray",
    "IntOrArray",
    "NanPolicy",
    "Progress",
    "SeedLike",
    "StrOrArray",
]

ArrayLike = npt.ArrayLike
#: anything `rng` accepts (Scientific Python SPEC 7)
SeedLike = Union[int, np.random.SeedSequence, np.random.Generator, None]
Alternative = Literal["two-sided", "less", "greater"]
NanPolicy = Literal["propagate", "omit", "raise"]
#: `progress`: None decides by the expected duration, True/False force the bar on/off
Progress = Union[bool, None]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
#: a scalar for 1-D input, one value per column (an array) for 2-D input
FloatOrArray = Union[float, npt.NDArray[Any]]
IntOrArray = Union[int, npt.NDArray[Any]]
StrOrArray = Union[str, npt.NDArray[Any]]

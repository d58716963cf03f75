"""The one result protocol: every public result is a frozen, slotted dataclass built on `Result`.

`Result` gives unpacking like the scipy / statsmodels return value a result replaces
(``t, p = ttest_ind(...)``), ``to_dict()`` and ``to_frame()``.  `MonteCarloResult` adds
the declaration the sweep engine reads: which fields are estimates (each estimate ``x``
has its standard error in ``x_se``), how chunks of replicates combine, and which
parameter counts the replicates.  Nothing here imports a kernel.
"""
from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, cast

import numpy as np
import numpy.typing as npt

from simengine._typing import ArrayLike

if TYPE_CHECKING:  # pandas is imported when a frame is made, not with the package
    import pandas as pd

__all__ = [
    "proportion_se", "mean_se", "Result", "MonteCarloResult", "MEAN", "SUM", "CONCAT", "NOT_COMBINABLE",
    "TargetNotReachedWarning", "until_target", "worst_se",
]

#: combine chunks by the replicate-weighted mean (a fraction or a mean over replicates)
MEAN = "mean"
#: combine chunks by adding (a count)
SUM = "sum"
#: per-replicate arrays: chunks are concatenated along the first axis (only in `_combine_fields`)
CONCAT = "concat"
#: the estimate does not combine across chunks (a quantile, a mean over a random subset)
NOT_COMBINABLE = None

_RULES = (MEAN, SUM, NOT_COMBINABLE)

_R = TypeVar("_R", bound="MonteCarloResult")


class TargetNotReachedWarning(RuntimeWarning):
    """A solver or an adaptive run stopped at a bound: the result holds what it reached, not the target."""


def proportion_se(p: ArrayLike, n: Any) -> Any:
    """Monte Carlo standard error of a proportion `p` estimated from `n` replicates."""
    p = np.asarray(p, dtype=np.float64)
    return np.sqrt(p * (1.0 - p) / n)


def mean_se(total: ArrayLike, total_sq: ArrayLike, n: int) -> tuple[Any, Any]:
    """Mean and its standard error from a sum and a sum of squares of `n` replicates."""
    total = np.asarray(total, dtype=np.float64)
    mean = total / n
    var = np.maximum(np.asarray(total_sq, dtype=np.float64) / n - mean * mean, 0.0) * n / max(n - 1, 1)
    return mean, np.sqrt(var / n)


def _is_scalar(value: object) -> bool:
    return value is None or isinstance(value, (numbers.Number, str, bool, np.generic)) or (
        isinstance(value, np.ndarray) and value.ndim == 0
    )


def _scalar(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        value = value[()]
    return value.item() if isinstance(value, np.generic) else value


class Result:
    """Base of every public result class.

    Subclasses are ``@dataclass(frozen=True, slots=True)`` classes that set `_unpack`
    (class attribute, not a field) to the fields yielded, in order, when the result is
    unpacked or indexed, as the scipy / statsmodels tuple it replaces; an empty `_unpack`
    means the result does not unpack.
    """

    __slots__ = ()
    _unpack: tuple[str, ...] = ()

    # ------------------------------------------------------------ tuple behaviour
    def _tuple(self) -> tuple[Any, ...]:
        if not self._unpack:
            raise TypeError(
                f"{type(self).__name__} does not unpack (the call it replaces returns one object); "
                "use its fields, to_dict() or to_frame()"
            )
        return tuple(getattr(self, name) for name in self._unpack)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._tuple())

    def __len__(self) -> int:
        return len(self._tuple())

    def __getitem__(self, index: int) -> Any:
        return self._tuple()[index]

    def __bool__(self) -> bool:  # a result is never "empty", whatever __len__ says
        return True

    # ------------------------------------------------------------ views
    def to_dict(self) -> dict[str, Any]:
        """Every field by name (arrays stay arrays)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}  # type: ignore[arg-type]

    def _frame_fields(self) -> list[str]:
        """Field names in the order `to_frame` tries them: unpacked/estimates first, then the rest."""
        names = [f.name for f in dataclasses.fields(self)]  # type: ignore[arg-type]  # subclasses are dataclasses
        first = [n for n in self._primary() if n in names]
        return first + [n for n in names if n not in first]

    def _primary(self) -> tuple[str, ...]:
        return tuple(self._unpack)

    def to_frame(self) -> pd.DataFrame:
        """A pandas DataFrame of the result.

        Scalar results give one row; when the main fields (those unpacked, or the
        estimates; for a result with neither, any field) are arrays, one row per
        element, with every field of that shape as a column and scalar fields repeated.  Fields of other
        shapes (and dicts) are left to `to_dict`.
        """
        import pandas as pd

        values = {n: getattr(self, n) for n in self._frame_fields()}
        # the row shape comes from the main fields; only a result without any looks at the others
        primary = [n for n in self._primary() if n in values] or list(values)
        shape = None
        for name in primary:
            value = values[name]
            if isinstance(value, np.ndarray) and value.ndim >= 1:
                shape = value.shape
                break
        if shape is None:
            row = {n: _scalar(v) for n, v in values.items() if _is_scalar(v)}
            return pd.DataFrame([row])
        columns = {}
        for name, value in values.items():
            if isinstance(value, np.ndarray) and value.shape == shape:
                columns[name] = value.reshape(-1)
            elif _is_scalar(value):
                columns[name] = _scalar(value)
        size = int(np.prod(shape))
        return pd.DataFrame(columns, index=pd.RangeIndex(size))


class MonteCarloResult(Result):
    """A result whose estimates carry Monte Carlo standard errors.

    Class attributes (declarations the sweep engine reads; not dataclass fields):

    _estimates : dict
        Estimate name -> how chunks of replicates combine: `MEAN` (replicate-weighted
        mean: fractions and means over replicates), `SUM` (counts) or `NOT_COMBINABLE`
        (quantiles, means over a random subset of replicates).  Estimate ``x`` has its
        standard error in the field ``x_se``.
    _replicates : str
        The keyword argument that counts the replicates (``"n_sims"``, or ``"n_draws"``).
    _chunk_size : int or None
        Replicates per chunk when a sweep splits a large point: a constant of the
        algorithm, so a point's numbers never depend on the machine.  None: never split.
    """

    __slots__ = ()
    _estimates: dict[str, str | None] = {}
    # further fields with a combination rule (per-replicate arrays, counts that are not estimates)
    _combine_fields: dict[str, str | None] = {}
    _replicates: str = "n_sims"
    _chunk_size: int | None = None
    # the estimates a `target_se` applies to (None: all): an estimate in other units than a
    # rate (visitors, tests per family) would otherwise hold every adaptive run to its cap
    _target_estimates: tuple[str, ...] | None = None

    @classmethod
    def target_names(cls) -> tuple[str, ...]:
        """The estimates whose standard errors decide when an adaptive (`target_se`) run stops."""
        return tuple(cls._target_estimates) if cls._target_estimates is not None else tuple(cls._estimates)

    def _primary(self) -> tuple[str, ...]:
        out: list[str] = []
        for name in self._estimates:
            out += [name, f"{name}_se"]
        return tuple(self._unpack) + tuple(out)

    def estimates(self) -> dict[str, Any]:
        """Each declared estimate and its standard error: ``{"x": ..., "x_se": ..., ...}``."""
        out = {}
        for name in self._estimates:
            out[name] = getattr(self, name)
            out[f"{name}_se"] = getattr(self, f"{name}_se")
        return out

    @classmethod
    def combinable(cls) -> bool:
        """Whether chunks of replicates combine exactly (every estimate a mean or a count)."""
        return cls._chunk_size is not None and all(rule is not NOT_COMBINABLE for rule in cls._estimates.values())

    @classmethod
    def combine(cls: type[_R], parts: Iterable[_R]) -> _R:
        """One result from independent runs of the same call (chunks of replicates, own streams).

        Declared estimates and the fields of `_combine_fields` combine by their rule
        (their ``_se`` fields alike), the replicate count adds up, and every other field
        (the inputs) must be equal in all parts; a field that differs without a rule
        raises TypeError, so a class that forgot to declare an output never returns one
        chunk's value as if it were the whole.
        """
        parts = list(parts)
        if not parts:
            raise ValueError("`parts` must hold at least one result")
        if len(parts) == 1:
            return parts[0]
        if not cls.combinable():
            raise TypeError(f"the estimates of {cls.__name__} do not combine across chunks")
        rules = {**cls._estimates, **getattr(cls, "_combine_fields", {})}
        sizes = np.array([getattr(p, cls._replicates) for p in parts], dtype=np.float64)
        w = sizes / sizes.sum()
        names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]  # subclasses are dataclasses
        values: dict[str, Any] = {}
        for name in names:
            if name in rules:
                rule = rules[name]
                vals = [getattr(p, name) for p in parts]
                se_name = f"{name}_se"
                ses = [getattr(p, se_name) for p in parts] if se_name in names else None
                if rule == CONCAT:
                    values[name] = np.concatenate([np.asarray(v) for v in vals], axis=0)
                    if ses is not None:
                        values[se_name] = np.concatenate([np.asarray(v) for v in ses], axis=0)
                    continue
                arr = np.array([np.asarray(v, dtype=np.float64) for v in vals])
                weights = w.reshape((-1,) + (1,) * (arr.ndim - 1)) if rule == MEAN else 1.0
                combined = np.sum(weights * arr, axis=0)
                if ses is not None:
                    se_arr = np.array([np.asarray(v, dtype=np.float64) for v in ses])
                    values[se_name] = _like(np.sqrt(np.sum((weights * se_arr) ** 2, axis=0)), ses[0])
                values[name] = _like(combined, vals[0])
            elif name.endswith("_se") and name[:-3] in rules:
                continue
            elif name == cls._replicates:
                values[name] = int(sum(getattr(p, name) for p in parts))
            else:
                first = getattr(parts[0], name)
                for p in parts[1:]:
                    if not _same(getattr(p, name), first):
                        raise TypeError(
                            f"{cls.__name__}.{name} differs between chunks and has no combination rule"
                        )
                values[name] = first
        return cls(**values)

    @classmethod
    def combine_estimates(
        cls, parts: Sequence[Mapping[str, Any]], sizes: Sequence[int] | npt.NDArray[Any]
    ) -> dict[str, Any]:
        """Combine the `estimates()` of independent chunks run with `sizes` replicates each.

        Means are weighted by replicates and their SEs combine as those of independent
        means; counts and their variances add.  Raises TypeError for a class whose
        estimates do not combine.
        """
        if not cls.combinable():
            raise TypeError(f"the estimates of {cls.__name__} do not combine across chunks")
        if len(parts) == 1:
            return dict(parts[0])
        total = float(sum(sizes))
        w = np.asarray(sizes, dtype=np.float64) / total
        out = {}
        for name, rule in cls._estimates.items():
            vals = np.array([np.asarray(p[name], dtype=np.float64) for p in parts])
            ses = np.array([np.asarray(p[f"{name}_se"], dtype=np.float64) for p in parts])
            weights = w.reshape((-1,) + (1,) * (vals.ndim - 1)) if rule == MEAN else 1.0
            out[name] = np.sum(weights * vals, axis=0)
            out[f"{name}_se"] = np.sqrt(np.sum((weights * ses) ** 2, axis=0))
            if out[name].ndim == 0:
                out[name] = float(out[name])
                out[f"{name}_se"] = float(out[f"{name}_se"])
        return out


def declaration_problems(cls: type[MonteCarloResult]) -> list[str]:
    """What is wrong with a MonteCarloResult subclass's declaration (empty when it is sound)."""
    problems: list[str] = []
    names: set[str] = {f.name for f in dataclasses.fields(cls)} if dataclasses.is_dataclass(cls) else set()
    if not dataclasses.is_dataclass(cls):
        problems.append("not a dataclass")
    if not cls._estimates:
        problems.append("declares no estimates")
    for name, rule in cls._estimates.items():
        if name not in names:
            problems.append(f"estimate {name!r} is not a field")
        if f"{name}_se" not in names:
            problems.append(f"estimate {name!r} has no {name}_se field")
        if rule not in _RULES:
            problems.append(f"estimate {name!r} has an unknown rule {rule!r}")
    if "se" in names:
        problems.append("has a bare `se` field")
    for name in cls._unpack:
        if name not in names:
            problems.append(f"unpacked field {name!r} is not a field")
    if cls._chunk_size is not None and (not isinstance(cls._chunk_size, int) or cls._chunk_size < 1):
        problems.append("_chunk_size must be a positive int or None")
    if not isinstance(cls._replicates, str):
        problems.append("_replicates must be a parameter name")
    return problems


def _like(value: Any, template: Any) -> Any:
    """`value` as the type of `template`: a Python float for scalars, an array (of its dtype) otherwise."""
    if isinstance(template, np.ndarray):
        return np.asarray(value).astype(template.dtype if template.dtype.kind in "fc" else np.float64, copy=False)
    if isinstance(template, (int, np.integer)) and not isinstance(template, bool):
        return int(round(float(value)))
    return float(value)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        try:
            return np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True)
        except TypeError:
            return np.array_equal(np.asarray(a), np.asarray(b))
    if isinstance(a, float) and isinstance(b, float) and a != a and b != b:
        return True
    return cast(bool, a == b)


def until_target(
    run_round: Callable[[int], _R], cls: type[_R], *, target_se: float, n_per_round: int, max_sims: int
) -> _R:
    """Run rounds until every declared estimate's standard error is at or below `target_se`.

    ``run_round(i)`` runs round i (`n_per_round` replicates from the call's i-th child
    stream) and returns a `cls` result; rounds combine with `cls.combine`.  The estimates
    are `cls.target_names()`, read as `worst_se` reads them.
    Stops when the next round would pass `max_sims` replicates in total, with a
    `TargetNotReachedWarning` naming the worst estimate.  Returns the combined result.
    """
    import warnings

    result = run_round(0)
    total = n_per_round
    index = 1
    names = cls.target_names()
    while True:
        worst_name, worst = worst_se(
            {n: getattr(result, n) for n in names}, {n: getattr(result, f"{n}_se") for n in names}
        )
        if worst <= target_se:
            return result
        if math.isinf(worst):  # an undefined standard error: more rounds cannot help
            warnings.warn(
                f"`target_se` = {target_se:g} cannot be reached: {worst_name}_se is NaN after {total} replicates",
                TargetNotReachedWarning, stacklevel=3,
            )
            return result
        if total + n_per_round > max_sims:
            warnings.warn(
                f"`target_se` = {target_se:g} not reached: {worst_name}_se = {worst:.3g} after {total} replicates "
                f"(`max_sims` = {max_sims}); the result holds what was reached",
                TargetNotReachedWarning, stacklevel=3,
            )
            return result
        result = cls.combine([result, run_round(index)])
        total += n_per_round
        index += 1


def worst_se(values: Mapping[str, Any], ses: Mapping[str, Any]) -> tuple[str | None, float]:
    """The largest standard error among estimates, by the one stopping rule of `target_se`.

    `values` and `ses` map estimate names to values (scalars or arrays) and their SEs.
    An element whose estimate is NaN is undefined for the scenario (e.g. power without
    true effects) and is skipped; an SE of 0 (an exact quantity) meets any target; a NaN
    SE of a defined estimate never does (returned as inf).  Returns (name, worst SE).
    """
    worst_name, worst = None, 0.0
    for name, value in values.items():
        v = np.asarray(value, dtype=np.float64).reshape(-1)
        se = np.asarray(ses[name], dtype=np.float64).reshape(-1)
        if se.size == 1 and v.size > 1:
            se = np.broadcast_to(se, v.shape)
        defined = ~np.isnan(v) if v.size == se.size else np.ones(se.shape, dtype=bool)
        se = se[defined]
        if se.size == 0:
            continue
        this = math.inf if np.isnan(se).any() else float(se.max())
        if worst_name is None or this > worst:
            worst_name, worst = name, this
    return worst_name, worst

r"""The :class:`Estimate`: a Monte Carlo value with its standard error, scalar or array.

An :class:`Estimate` is the currency between the samplers, the validation harness, the report and the
CLI. ``value`` and ``stderr`` are floats (scalar observables) or arrays of the same shape (e.g. a
``P×P`` Gram matrix, a vector of per-layer means); ``n`` is the number of independent samples (or the
*effective* number for correlated sequences) behind it, an int or an int array of the same shape.

Array estimates index like arrays (``e[i]`` is the :class:`Estimate` of entry ``i``), iterate over
their first axis and compute z-scores elementwise, so code written for lists of scalar estimates keeps
working.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["Estimate", "zscore", "mean_estimate", "difference"]


def _as_value(x):
    a = np.asarray(x, dtype=float)
    return float(a) if a.ndim == 0 else a


def _as_n(n, shape):
    a = np.asarray(n)
    if a.ndim == 0:
        return int(a)
    return np.broadcast_to(a.astype(np.int64), shape).copy()


def _encode(x):
    """JSON-exact encoding: nested lists of floats; non-finite numbers as the strings 'nan', 'inf', '-inf'."""
    a = np.asarray(x, dtype=float)
    if a.ndim == 0:
        v = float(a)
        if math.isfinite(v):
            return v
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    return [_encode(v) for v in a]


def _decode(x):
    if isinstance(x, list):
        return np.array([_decode(v) for v in x], dtype=float) if x else np.zeros(0)
    if x is None:
        return math.nan
    return float(x)


@dataclass(frozen=True, eq=False)
class Estimate:
    """A Monte Carlo estimate ``value ± stderr`` from ``n`` (effective) samples; scalar or array-valued.

    Parameters
    ----------
    value : float or array_like
        The estimate (arrays are stored as float64 ndarrays, scalars as Python floats).
    stderr : float or array_like
        Its standard error, broadcast to the shape of ``value``.
    n : int or array_like of int
        Number of independent (or effective) samples; a scalar or one per entry.
    """

    value: object
    stderr: object
    n: object

    def __post_init__(self):
        value = _as_value(self.value)
        shape = np.shape(value)
        stderr = np.broadcast_to(np.asarray(self.stderr, dtype=float), shape)
        stderr = float(stderr) if stderr.ndim == 0 else stderr.copy()
        object.__setattr__(self, "value", value)
        object.__setattr__(self, "stderr", stderr)
        object.__setattr__(self, "n", _as_n(self.n, shape))

    # ------------------------------------------------------------------ array behaviour
    @property
    def shape(self) -> tuple:
        """Shape of ``value`` (``()`` for a scalar estimate)."""
        return np.shape(self.value)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a scalar Estimate")
        return self.shape[0]

    def __getitem__(self, index) -> "Estimate":
        if self.ndim == 0:
            raise TypeError("a scalar Estimate cannot be indexed")
        n = self.n[index] if isinstance(self.n, np.ndarray) else self.n
        return Estimate(self.value[index], self.stderr[index], n)

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("a scalar Estimate is not iterable")
        return (self[i] for i in range(len(self)))

    def __eq__(self, other):
        if not isinstance(other, Estimate):
            return NotImplemented
        return (np.array_equal(self.value, other.value, equal_nan=True)
                and np.array_equal(self.stderr, other.stderr, equal_nan=True)
                and np.array_equal(self.n, other.n))

    __hash__ = None

    def __mul__(self, c):
        """``c * estimate`` for a real constant ``c`` (value and error scale, ``n`` unchanged)."""
        c = float(c)
        return Estimate(np.multiply(self.value, c), np.multiply(self.stderr, abs(c)), self.n)

    __rmul__ = __mul__

    def __sub__(self, other):
        """Difference of two *independent* estimates (errors in quadrature), see :func:`difference`."""
        return difference(self, other)

    # ------------------------------------------------------------------ statistics
    def z(self, prediction):
        """z-score(s) of ``prediction`` against this estimate, elementwise (float for a scalar estimate)."""
        return zscore(self, prediction)

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict:
        """Plain JSON types: ``{"value", "stderr", "n"}`` as (nested) lists for arrays.

        Non-finite numbers are written as the strings ``"nan"``, ``"inf"``, ``"-inf"`` so that
        :meth:`from_dict` restores the estimate exactly (JSON has no NaN/inf).
        """
        n = self.n.tolist() if isinstance(self.n, np.ndarray) else int(self.n)
        return {"value": _encode(self.value), "stderr": _encode(self.stderr), "n": n}

    @classmethod
    def from_dict(cls, d) -> "Estimate":
        """Inverse of :meth:`to_dict` (exact: floats round-trip through JSON's shortest repr)."""
        try:
            return cls(_decode(d["value"]), _decode(d["stderr"]), np.asarray(d["n"], dtype=np.int64)
                       if isinstance(d["n"], list) else int(d["n"]))
        except (KeyError, TypeError) as exc:
            raise ValueError(f"d must be a dict with keys 'value', 'stderr', 'n' (from Estimate.to_dict), got {d!r}") from exc

    def __format__(self, spec):
        if self.ndim:
            return repr(self)
        spec = spec or ".6g"
        return f"{format(self.value, spec)} ± {format(self.stderr, '.2g')}"

    def __repr__(self):
        if self.ndim == 0:
            return f"Estimate(value={self.value!r}, stderr={self.stderr!r}, n={self.n!r})"
        return f"Estimate(shape={self.shape}, value={self.value!r}, stderr={self.stderr!r}, n={self.n!r})"


def zscore(estimate: Estimate, prediction):
    """``(estimate.value - prediction) / estimate.stderr``, elementwise.

    A zero error bar gives ``0`` where the value equals the prediction and ``±inf`` elsewhere. Scalar
    estimates (and scalar predictions) give a float.
    """
    value = np.asarray(estimate.value, dtype=float)
    se = np.asarray(estimate.stderr, dtype=float)
    diff = value - np.asarray(prediction, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, diff / np.where(se > 0, se, 1.0), np.where(diff == 0, 0.0, np.copysign(np.inf, diff)))
    return float(z) if z.ndim == 0 else z


def mean_estimate(x, axis=0) -> Estimate:
    """Mean over independent samples along ``axis`` with ``stderr = std(ddof=1)/sqrt(n)``.

    Returns an :class:`Estimate` (array-valued when ``x`` has other axes).
    """
    x = np.asarray(x, float)
    n = x.shape[axis]
    if n < 2:
        raise ValueError(f"x must have at least 2 samples along axis {axis}, got {n}")
    return Estimate(x.mean(axis=axis), x.std(axis=axis, ddof=1) / math.sqrt(n), int(n))


def difference(a: Estimate, b: Estimate) -> Estimate:
    """``a - b`` for independent estimates (errors in quadrature, ``n`` the smaller of the two)."""
    return Estimate(np.subtract(a.value, b.value), np.hypot(a.stderr, b.stderr), np.minimum(a.n, b.n))

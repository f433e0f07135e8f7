r"""Estimates with honest error bars, and streaming accumulators.

:class:`Estimate` is the currency between the samplers, the validation harness and the
CLI: a value, its standard error and the number of samples it came from.

:class:`MomentAccumulator` keeps running means and central moments of a vector observable
(shape ``(...,)`` per sample) with the pairwise/Chan update, so memory does not grow with the
number of samples and chunks can be merged in any order with the same result up to round-off.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["Estimate", "MomentAccumulator", "zscore"]


@dataclass(frozen=True)
class Estimate:
    """A Monte Carlo estimate: ``value ± stderr`` from ``n`` samples (or effective samples)."""

    value: float
    stderr: float
    n: int

    def z(self, prediction: float) -> float:
        """z-score of ``prediction`` against this estimate."""
        return zscore(self, prediction)

    def to_dict(self) -> dict:
        return {"value": float(self.value), "stderr": float(self.stderr), "n": int(self.n)}

    def __format__(self, spec):
        spec = spec or ".6g"
        return f"{format(self.value, spec)} ± {format(self.stderr, '.2g')}"


def zscore(estimate: Estimate, prediction: float) -> float:
    """``(estimate.value - prediction) / estimate.stderr``; ``inf`` for a zero error bar and a mismatch."""
    diff = float(estimate.value) - float(prediction)
    if estimate.stderr > 0:
        return diff / float(estimate.stderr)
    return 0.0 if diff == 0 else math.copysign(math.inf, diff)


class MomentAccumulator:
    r"""Streaming mean and central moments :math:`M_2, M_3, M_4` of a vector observable.

    ``update(batch)`` takes an array of shape ``(n_batch, *shape)``; ``merge(other)`` combines
    two accumulators (Chan et al. 1979 / Pébay 2008 update formulas). All on NumPy float64 (the
    samplers reduce on their backend and pass small per-chunk batches here).
    """

    def __init__(self, shape=()):
        self.shape = tuple(shape)
        self.n = 0
        self.mean = np.zeros(self.shape)
        self.M2 = np.zeros(self.shape)
        self.M3 = np.zeros(self.shape)
        self.M4 = np.zeros(self.shape)

    def update(self, batch):
        batch = np.asarray(batch, dtype=float)
        if batch.shape[1:] != self.shape:
            raise ValueError(f"batch must have shape (n, {self.shape}), got {batch.shape}")
        nb = batch.shape[0]
        if nb == 0:
            return self
        other = MomentAccumulator(self.shape)
        other.n = nb
        other.mean = batch.mean(axis=0)
        d = batch - other.mean
        other.M2 = np.sum(d**2, axis=0)
        other.M3 = np.sum(d**3, axis=0)
        other.M4 = np.sum(d**4, axis=0)
        return self.merge(other)

    def merge(self, other: "MomentAccumulator"):
        if other.n == 0:
            return self
        if self.n == 0:
            self.n, self.mean, self.M2, self.M3, self.M4 = other.n, other.mean.copy(), other.M2.copy(), other.M3.copy(), other.M4.copy()
            return self
        na, nb = self.n, other.n
        n = na + nb
        delta = other.mean - self.mean
        d_n = delta / n
        mean = self.mean + nb * d_n
        M2 = self.M2 + other.M2 + delta * d_n * na * nb
        M3 = (self.M3 + other.M3 + delta * d_n**2 * na * nb * (na - nb)
              + 3 * d_n * (na * other.M2 - nb * self.M2))
        M4 = (self.M4 + other.M4 + delta * d_n**3 * na * nb * (na * na - na * nb + nb * nb)
              + 6 * d_n**2 * (na * na * other.M2 + nb * nb * self.M2)
              + 4 * d_n * (na * other.M3 - nb * self.M3))
        self.n, self.mean, self.M2, self.M3, self.M4 = n, mean, M2, M3, M4
        return self

    @property
    def variance(self):
        """Unbiased sample variance."""
        return self.M2 / max(self.n - 1, 1)

    def mean_estimate(self):
        """Mean with standard error ``sqrt(var/n)`` (independent samples), as arrays."""
        se = np.sqrt(self.variance / max(self.n, 1))
        return self.mean, se

    def excess_kurtosis(self):
        """Sample excess kurtosis ``n M4 / M2^2 - 3``."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.n * self.M4 / self.M2**2 - 3.0

    def state(self) -> dict:
        """Plain arrays, for checkpoints (npz)."""
        return {"n": np.asarray(self.n), "mean": self.mean, "M2": self.M2, "M3": self.M3, "M4": self.M4}

    @classmethod
    def from_state(cls, state) -> "MomentAccumulator":
        acc = cls(np.asarray(state["mean"]).shape)
        acc.n = int(state["n"])
        for k in ("mean", "M2", "M3", "M4"):
            setattr(acc, k, np.array(state[k], dtype=float))
        return acc

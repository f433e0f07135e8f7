r"""Shared machinery of the built-in checks: raw MC chains and honest estimators.

Statistics convention: every estimate here is built from **independent networks** (or independent
MCMC chains). Quantities averaged over the layers of one network (correlated) are first reduced to
one number per network, so the standard error across networks is honest without blocking; non-linear
functions of means (ratios, fitted slopes, extrapolations) get delete-one-group jackknife errors.
"""

from __future__ import annotations

import math
import zlib

import numpy as np

from ..stats import Estimate, difference, jackknife, lagged_covariances
from ..stats import mean_estimate as _mean_estimate

__all__ = ["rng_for", "pick", "collective_chains", "preactivation_layers", "weights_layers", "mean_estimate",
           "lagged_covariances", "jackknife", "extrapolate_inverse_width", "difference", "sub_seed",
           "bulk_mean_per_network", "finish"]


def finish(recs, t0, fig=None):
    """Stamp each record with its share of the check's wall time (since ``t0``) and the figure path."""
    import time

    dt = time.perf_counter() - t0
    for r in recs:
        r.runtime = dt / max(len(recs), 1)
        if fig:
            r.figure = fig
    return recs


def pick(profile, quick, full):
    """``quick`` or ``full`` according to the profile."""
    return full if profile == "full" else quick


def rng_for(seed, key, xp=None):
    """The backend generator of one check: ``SeedSequence(seed, spawn_key=(crc32(key),))``."""
    from ..sampling.backend import default_rng, get_namespace

    ss = np.random.SeedSequence(int(seed), spawn_key=(zlib.crc32(key.encode()),))
    return default_rng(ss, xp if xp is not None else get_namespace("numpy"))


def collective_chains(activation, sigma_w2, sigma_b2, width, depth, n, g1, seed, key, names=("q",)):
    r"""Single-input chains of ``n`` independent networks in collective coordinates (exact, any width).

    Returns ``dict[name] -> ndarray (n, depth)`` for ``names`` among the observables of
    :func:`statfield.sampling.collective.sample_collective` (``q, log_q, G`` and for ReLU ``u, v, k``);
    ``g1`` is :math:`K^1 = \sigma_b^2 + \sigma_w^2|x|^2/d_{in}`.
    """
    from ..activations import get_activation
    from ..sampling.backend import get_namespace
    from ..sampling.collective import sample_collective

    xp = get_namespace("numpy")
    act = get_activation(activation)
    rng = rng_for(seed, key, xp)
    out = {k: np.empty((n, depth)) for k in names}
    for l, rec in enumerate(sample_collective(rng, n, act, sigma_w2, sigma_b2, [int(width)] * depth, g1, xp)):
        for k in names:
            out[k][:, l] = np.asarray(rec[k])
    return out


def _layers(sampler, activation, sigma_w2, sigma_b2, width, depth, n, inputs, seed, key, want):
    from ..activations import get_activation
    from ..sampling.backend import get_namespace

    xp = get_namespace("numpy")
    act = get_activation(activation)
    rng = rng_for(seed, key, xp)
    recs = list(sampler(rng, n, act, sigma_w2, sigma_b2, [int(width)] * depth, np.asarray(inputs, float), xp,
                        tuple(want)))
    return {k: np.stack([np.asarray(r[k]) for r in recs], axis=1) for k in want}


def preactivation_layers(activation, sigma_w2, sigma_b2, width, depth, n, inputs, seed, key, want=("G",)):
    """Per-layer observables of the pre-activation sampler, stacked as ``(n, depth, ...)``."""
    from ..sampling.preactivation import sample_preactivation

    return _layers(sample_preactivation, activation, sigma_w2, sigma_b2, width, depth, n, inputs, seed, key, want)


def weights_layers(activation, sigma_w2, sigma_b2, width, depth, n, inputs, seed, key, want=("q",)):
    """Per-layer observables of full random networks (weight space), stacked as ``(n, depth, ...)``."""
    from ..sampling.weights import sample_weights

    return _layers(sample_weights, activation, sigma_w2, sigma_b2, width, depth, n, inputs, seed, key, want)


def mean_estimate(x, axis=0) -> Estimate | tuple:
    """Mean over independent samples along ``axis`` with ``stderr = std(ddof=1)/sqrt(n)``
    (:func:`statfield.stats.mean_estimate`).

    Scalar result -> :class:`Estimate`; otherwise the triple ``(mean, stderr, n)`` of arrays and count.
    """
    e = _mean_estimate(x, axis=axis)
    if e.ndim == 0:
        return e
    return e.value, e.stderr, e.n


def extrapolate_inverse_width(widths, estimates, order=1):
    r"""Weighted least-squares fit of :math:`a_0 + a_1/N (+ a_2/N^2)` to independent estimates at several widths.

    Returns ``(intercept Estimate, chi2, dof, coefficients)``; the intercept's standard error is from the
    fit covariance :math:`(A^\top W A)^{-1}` (estimates at different widths are independent).
    """
    N = np.asarray(widths, float)
    y = np.array([e.value for e in estimates])
    s = np.array([e.stderr for e in estimates])
    A = np.vander(1.0 / N, order + 1, increasing=True)
    W = 1.0 / s**2
    cov = np.linalg.inv(A.T @ (A * W[:, None]))
    coef = cov @ (A.T @ (W * y))
    chi2 = float(np.sum(W * (y - A @ coef) ** 2))
    n_eff = int(sum(e.n for e in estimates))
    return Estimate(float(coef[0]), float(math.sqrt(cov[0, 0])), n_eff), chi2, len(N) - order - 1, coef


def sub_seed(seed, key) -> int:
    """A 32-bit integer seed for ``statfield.simulate`` derived from the check's seed and a key."""
    ss = np.random.SeedSequence(int(seed), spawn_key=(zlib.crc32(key.encode()),))
    return int(ss.generate_state(1, dtype=np.uint32)[0])


def bulk_mean_per_network(x, burn_in):
    """Average of ``x[:, burn_in:]`` over the bulk layers of each network (one number per network)."""
    return np.asarray(x, float)[:, burn_in:].mean(axis=1)

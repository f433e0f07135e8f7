r"""Gaussian expectations by Gauss–Hermite quadrature, with closed forms where the registry has them.

The single place where theory code (mean field, finite width) evaluates
:math:`\mathbb{E}_{z\sim N(0,1)}[f(\sqrt{q}\,z)]` and bivariate expectations
:math:`\mathbb{E}[f(u)g(v)]`, :math:`(u,v)\sim N(0,[[q_1,c_{12}],[c_{12},q_2]])`.

Quadrature uses probabilists' Gauss–Hermite nodes (``numpy.polynomial.hermite_e``), exact for
polynomials of degree ``2n-1``. The bivariate case uses the Cholesky factorisation
:math:`u = \sqrt{q_1} z_1`, :math:`v = \sqrt{q_2}(\rho z_1 + \sqrt{1-\rho^2} z_2)`.
Kinked activations (ReLU, leaky ReLU) must not come here (physics.md §4): the registry gives
them closed forms, which :func:`kernel` and :func:`deriv_kernel` use first.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .activations import get_activation

__all__ = ["hermite_nodes", "expect", "expect2", "kernel", "deriv_kernel", "DEFAULT_NODES"]

DEFAULT_NODES = 120


@lru_cache(maxsize=32)
def hermite_nodes(n: int = DEFAULT_NODES):
    """Nodes and weights for :math:`\\mathbb{E}_{z\\sim N(0,1)}[f(z)] \\approx \\sum_i w_i f(x_i)`."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    x, w = np.polynomial.hermite_e.hermegauss(int(n))
    w = w / np.sqrt(2.0 * np.pi)
    x.setflags(write=False)
    w.setflags(write=False)
    return x, w


def expect(f, q, n: int = DEFAULT_NODES):
    """:math:`\\mathbb{E}[f(\\sqrt{q} z)]`, ``z ~ N(0,1)``; ``q >= 0`` broadcasts; ``f`` is a NumPy ufunc-like."""
    x, w = hermite_nodes(n)
    q = np.asarray(q, dtype=float)
    vals = f(np.sqrt(q)[..., None] * x)
    return np.sum(vals * w, axis=-1)


def expect2(f, g, q1, q2, c12, n: int = DEFAULT_NODES):
    """:math:`\\mathbb{E}[f(u) g(v)]` for a centred bivariate Gaussian; arguments broadcast."""
    x, w = hermite_nodes(n)
    q1, q2, c12 = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in (q1, q2, c12)))
    s1, s2 = np.sqrt(q1), np.sqrt(q2)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = np.where(s1 * s2 > 0, c12 / np.where(s1 * s2 > 0, s1 * s2, 1.0), 0.0)
    rho = np.clip(rho, -1.0, 1.0)
    sq = np.sqrt(1.0 - rho * rho)
    z1 = x[:, None]
    z2 = x[None, :]
    ww = w[:, None] * w[None, :]
    u = s1[..., None, None] * z1
    v = s2[..., None, None] * (rho[..., None, None] * z1 + sq[..., None, None] * z2)
    return np.sum(f(u) * g(v) * ww, axis=(-2, -1))


def kernel(activation, q1, q2, c12, n: int = DEFAULT_NODES):
    r""":math:`\mathbb{E}[\phi(u)\phi(v)]`: the registry's closed form if any, else quadrature."""
    act = get_activation(activation)
    if act.has_closed_form("kernel"):
        return act.kernel(q1, q2, c12)
    return expect2(act.numpy, act.numpy, q1, q2, c12, n)


def deriv_kernel(activation, q1, q2, c12, n: int = DEFAULT_NODES):
    r""":math:`\mathbb{E}[\phi'(u)\phi'(v)]`: closed form if any, else quadrature."""
    act = get_activation(activation)
    if act.has_closed_form("deriv_kernel"):
        return act.deriv_kernel(q1, q2, c12)
    d = lambda t: act.derivative(np.asarray(t, dtype=float), np)  # noqa: E731
    return expect2(d, d, q1, q2, c12, n)

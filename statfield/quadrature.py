r"""Gaussian expectations: closed forms first, then spectrally accurate quadrature with an error estimate.

The single place where theory code (mean field, finite width) evaluates

* 1-D expectations :math:`\mathbb{E}_{z\sim N(0,1)}[f(\sqrt{q}\,z)]`,
* bivariate expectations :math:`\mathbb{E}[f(u)g(v)]`, :math:`(u,v)\sim N(0,[[q_1,c_{12}],[c_{12},q_2]])`,
* Hermite (Mehler) coefficients :math:`a_k(q) = \mathbb{E}[f(\sqrt q z)\,\mathrm{He}_k(z)]/\sqrt{k!}`, with which
  :math:`\mathbb{E}[f(u)f(v)] = \sum_k a_k(q_1)a_k(q_2)\rho^k`, :math:`\rho = c_{12}/\sqrt{q_1q_2}` (Mehler's formula).

Method (default, ``n=None``)
    The trapezoidal rule on the real line, :math:`\mathbb{E}[f(\sqrt q z)] \approx h\sum_{|jh|\le L}
    f(\sqrt q\,jh)\,e^{-j^2h^2/2}/\sqrt{2\pi}`, with step :math:`h = h_0/\sqrt{1+q}` (``h0 = 0.2``,
    ``L = 9``). For integrands analytic in a strip :math:`|\mathrm{Im}\,z| < a` the error is
    :math:`O(e^{-2\pi a/h})`; saturating activations (tanh, erf) have :math:`a\propto 1/\sqrt q`, hence the
    :math:`\sqrt{1+q}` scaling, which keeps the relative error uniform in ``q`` (measured against mpmath:
    :math:`\le 10^{-14}` for tanh, SiLU, erf and :math:`\tanh'^2` for :math:`10^{-2}\le q\le 10^2`, tested in
    ``tests/test_quadrature.py``). Gauss–Hermite needs far more nodes for the same accuracy at large ``q``
    (tanh, ``q = 5``: 2048 GH nodes for :math:`10^{-14}` against 245 trapezoid points), which is why it is not
    the default. The error estimate returned with ``return_error=True`` is :math:`|T_h - T_{2h}|`, the error
    of the *coarser* rule, hence a (very) conservative bound on the error of the returned :math:`T_h`.

Kinked activations (ReLU, leaky ReLU) must not come here (``physics.md`` §4): both Gauss–Hermite and the
trapezoidal rule converge only algebraically across a kink. :func:`kernel` and :func:`deriv_kernel` use the
registry's closed forms first (piecewise linear, erf, GELU); a user activation with a kink shows up as a
large error estimate.

``n=<int>`` keeps the historical fixed Gauss–Hermite rule (probabilists' nodes, exact for polynomials of
degree ``2n-1``).
"""

from __future__ import annotations

import math
import warnings
from functools import lru_cache

import numpy as np

from .activations import get_activation

__all__ = [
    "DEFAULT_NODES",
    "H0",
    "hermite_nodes",
    "expect",
    "expect2",
    "kernel",
    "deriv_kernel",
    "hermite_coefficients",
    "mehler_kernel",
    "QuadratureWarning",
]

DEFAULT_NODES = 120
#: trapezoid step parameter: h = H0 / sqrt(1 + q)
H0 = 0.2
_L = 9.0           # truncation |z| <= L (P(|z| > 9) = 2e-19)
_L_COEF = 13.0     # Hermite coefficients: the Hermite functions reach |z| ~ sqrt(4k); e^{-z^2/4} < 5e-19 at 13
_CHUNK = 2**22     # elements per chunk (memory O(chunk))
_INV_SQRT2PI = 1.0 / math.sqrt(2.0 * math.pi)


class QuadratureWarning(RuntimeWarning):
    """The quadrature error estimate exceeds the requested tolerance."""


@lru_cache(maxsize=32)
def hermite_nodes(n: int = DEFAULT_NODES):
    """Nodes and weights for :math:`\\mathbb{E}_{z\\sim N(0,1)}[f(z)] \\approx \\sum_i w_i f(x_i)` (Gauss–Hermite)."""
    if int(n) < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    from scipy.special import roots_hermitenorm

    x, w = roots_hermitenorm(int(n))
    w = w / np.sqrt(2.0 * np.pi)
    x.setflags(write=False)
    w.setflags(write=False)
    return x, w


def _as_q(q, name="q"):
    q = np.asarray(q, dtype=float)
    if not np.all(np.isfinite(q)) or np.any(q < 0):
        raise ValueError(f"{name} must be finite and >= 0, got {q if q.size < 8 else '(array)'}")
    return q


# --------------------------------------------------------------------------- 1-D
def _chunks(q, h0, L):
    r"""Group the sorted q values into chunks whose steps h0/sqrt(1+q) differ by at most a factor 2.

    Each chunk uses the smallest step of its members (shared nodes and weights), so no member is
    integrated with a coarser step than its own.
    """
    order = np.argsort(q, kind="stable")
    r = np.sqrt(1.0 + q[order])
    s = 0
    while s < q.size:
        e = s + int(np.searchsorted(r[s:], 2.0 * r[s], side="right"))
        e = max(e, s + 1)
        h = h0 / r[e - 1]
        J = int(math.ceil(L / h))
        e = min(e, s + max(1, _CHUNK // (2 * J + 1)))
        yield order[s:e], h0 / r[e - 1], J
        s = e


def _trap_1d(f, q, h0, L=_L):
    """Trapezoid rule for E[f(sqrt(q) z)], q a 1-D array; per-element step h0/sqrt(1+q); chunked."""
    return _trap_1d_many(lambda x, z: [f(x)], q, h0, L)[0]


def expect(f, q, n: int | None = None, *, rtol: float = 1e-11, atol: float = 1e-300, return_error: bool = False):
    r""":math:`\mathbb{E}[f(\sqrt{q}\,z)]`, :math:`z\sim N(0,1)`; ``q >= 0`` broadcasts.

    Parameters
    ----------
    f : callable
        NumPy-vectorised function of the pre-activation :math:`x = \sqrt q z` (it receives arrays with one
        extra trailing axis).
    q : float or array
        Variance(s), ``>= 0``.
    n : int, optional
        Fixed Gauss–Hermite rule with ``n`` nodes (no error estimate). Default: trapezoid rule, see module.
    rtol, atol : float
        Target for the error estimate :math:`|T_h - T_{2h}| \le` ``rtol`` :math:`\mathbb{E}|f| +` ``atol``;
        ``h`` is halved (up to 7 times) until it is met, otherwise a :class:`QuadratureWarning` is issued.
    return_error : bool
        Also return the error estimate (an upper bound on the error of the returned value).
    """
    qa = _as_q(q)
    if n is not None:
        x, w = hermite_nodes(int(n))
        val = np.sum(np.asarray(f(np.sqrt(qa)[..., None] * x), dtype=float) * w, axis=-1)
        return (val, np.full(qa.shape, np.nan)) if return_error else val
    flat = qa.reshape(-1)
    h0 = 2 * H0

    def both(x, z):
        v = np.asarray(f(x), dtype=float)
        return [v, np.abs(v)]

    coarse = _trap_1d_many(both, flat, h0)[0]
    for _ in range(7):
        h0 /= 2
        fine, scale = _trap_1d_many(both, flat, h0)
        err = np.abs(fine - coarse)
        if np.all(err <= rtol * scale + atol):
            break
        coarse = fine
    else:
        warnings.warn(f"expect: error estimate {err.max():.2e} above rtol={rtol:g} (kinked or singular integrand?)",
                      QuadratureWarning, stacklevel=2)
    val, err = fine.reshape(qa.shape), err.reshape(qa.shape)
    if val.ndim == 0:
        val, err = float(val), float(err)
    return (val, err) if return_error else val


# --------------------------------------------------------------------------- 2-D
def _trap_2d(f, g, q1, q2, rho, h0, L=_L):
    """Tensor trapezoid in Cholesky coordinates u = sqrt(q1) z1, v = sqrt(q2)(rho z1 + sqrt(1-rho^2) z2)."""
    sq = np.sqrt(np.clip(1.0 - rho * rho, 0.0, None))
    h1 = h0 / np.sqrt(1.0 + np.maximum(q1, q2 * rho * rho))
    h2 = h0 / np.sqrt(1.0 + q2 * sq * sq)
    J1 = int(math.ceil(L / h1.min()))
    J2 = int(math.ceil(L / h2.min()))
    j1 = np.arange(-J1, J1 + 1, dtype=float)
    j2 = np.arange(-J2, J2 + 1, dtype=float)
    out = np.empty(q1.shape)
    absout = np.empty(q1.shape)
    step = max(1, _CHUNK // (j1.size * j2.size))
    for s in range(0, q1.size, step):
        sl = slice(s, s + step)
        z1 = h1[sl, None] * j1
        z2 = h2[sl, None] * j2
        in1, in2 = np.abs(z1) <= L, np.abs(z2) <= L
        z1, z2 = np.where(in1, z1, 0.0), np.where(in2, z2, 0.0)
        w1 = np.where(in1, h1[sl, None] * np.exp(-0.5 * z1 * z1) * _INV_SQRT2PI, 0.0)
        w2 = np.where(in2, h2[sl, None] * np.exp(-0.5 * z2 * z2) * _INV_SQRT2PI, 0.0)
        u = np.sqrt(q1[sl])[:, None, None] * z1[:, :, None]
        v = np.sqrt(q2[sl])[:, None, None] * (rho[sl, None, None] * z1[:, :, None] + sq[sl, None, None] * z2[:, None, :])
        fu = np.where(in1[:, :, None], np.asarray(f(u), dtype=float), 0.0)
        gv = np.where(in1[:, :, None] & in2[:, None, :], np.asarray(g(v), dtype=float), 0.0)
        prod = fu * gv
        out[sl] = np.einsum("pij,pi,pj->p", prod, w1, w2)
        absout[sl] = np.einsum("pij,pi,pj->p", np.abs(prod), w1, w2)
    return out, absout


def _corr(q1, q2, c12):
    s = np.sqrt(q1) * np.sqrt(q2)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = np.where(s > 0, c12 / np.where(s > 0, s, 1.0), 0.0)
    return rho


def _check_cov(q1, q2, c12):
    q1, q2 = _as_q(q1, "q1"), _as_q(q2, "q2")
    c12 = np.asarray(c12, dtype=float)
    if not np.all(np.isfinite(c12)):
        raise ValueError("c12 must be finite")
    q1, q2, c12 = np.broadcast_arrays(q1, q2, c12)
    bad = np.abs(c12) > np.sqrt(q1) * np.sqrt(q2) * (1 + 1e-12) + 1e-300
    if np.any(bad):
        raise ValueError("c12 must satisfy c12**2 <= q1*q2 (a covariance matrix is positive semidefinite)")
    return q1, q2, c12


def expect2(f, g, q1, q2, c12, n: int | None = None, *, rtol: float = 1e-11, atol: float = 1e-300,
            return_error: bool = False):
    r""":math:`\mathbb{E}[f(u) g(v)]`, :math:`(u,v)\sim N(0,[[q_1,c_{12}],[c_{12},q_2]])`; arguments broadcast.

    Default: tensor trapezoid rule in Cholesky coordinates with steps :math:`h_1 = h_0/\sqrt{1+\max(q_1,
    q_2\rho^2)}`, :math:`h_2 = h_0/\sqrt{1+q_2(1-\rho^2)}` (so :math:`\rho\to\pm1` costs fewer points, not
    more), error estimate :math:`|T_h - T_{2h}|` against ``rtol`` :math:`\mathbb{E}|fg|` as in :func:`expect`. ``n=<int>``: fixed ``n x n``
    Gauss–Hermite (no error estimate). ``|c12| <= sqrt(q1 q2)`` is required (round-off of 1e-12 is clipped).
    """
    q1, q2, c12 = _check_cov(q1, q2, c12)
    rho = np.clip(_corr(q1, q2, c12), -1.0, 1.0)
    shape = q1.shape
    if n is not None:
        x, w = hermite_nodes(int(n))
        sq = np.sqrt(1.0 - rho * rho)
        z1, z2 = x[:, None], x[None, :]
        ww = w[:, None] * w[None, :]
        u = np.sqrt(q1)[..., None, None] * z1
        v = np.sqrt(q2)[..., None, None] * (rho[..., None, None] * z1 + sq[..., None, None] * z2)
        val = np.sum(f(u) * g(v) * ww, axis=(-2, -1))
        return (val, np.full(shape, np.nan)) if return_error else val
    a1, a2, r = (a.reshape(-1) for a in (q1, q2, rho))
    h0 = 2 * H0
    coarse = _trap_2d(f, g, a1, a2, r, h0)[0]
    for _ in range(4):
        h0 /= 2
        fine, scale = _trap_2d(f, g, a1, a2, r, h0)
        err = np.abs(fine - coarse)
        if np.all(err <= rtol * scale + atol):
            break
        coarse = fine
    else:
        warnings.warn(f"expect2: error estimate {err.max():.2e} above rtol={rtol:g}", QuadratureWarning, stacklevel=2)
    val, err = fine.reshape(shape), err.reshape(shape)
    if val.ndim == 0:
        val, err = float(val), float(err)
    return (val, err) if return_error else val


# --------------------------------------------------------------------------- Mehler
def hermite_coefficients(f, q, K: int, h0: float = H0, parity: str | None = None):
    r"""Normalised Hermite coefficients :math:`a_k(q) = \mathbb{E}[f(\sqrt q z)\,\mathrm{He}_k(z)]/\sqrt{k!}`.

    ``q`` (1-D array or scalar) -> array ``(..., K+1)``. Computed with the trapezoid rule on the Hermite
    *functions* :math:`\mathrm{He}_k(z)e^{-z^2/4}/\sqrt{k!}` (stable three-term recurrence, bounded by ~1, no
    overflow at large ``k``), step :math:`\min(h_0/\sqrt{1+q}, 2/\sqrt{2K+1})` (the Nyquist frequency
    :math:`2\pi/h` stays above twice the turning point of the highest Hermite function), :math:`|z|\le 13`.
    ``parity="odd"``/``"even"`` (``f`` odd/even): only the non-zero half of the coefficients is computed, on
    the nodes :math:`z\ge0` (4x cheaper); the others are returned as exact zeros.
    Parseval: :math:`\sum_k a_k^2 = \mathbb{E}[f(\sqrt q z)^2]`; Mehler:
    :math:`\mathbb{E}[f(u)f(v)] = \sum_k a_k(q_1)a_k(q_2)\rho^k`.
    """
    K = int(K)
    if K < 0:
        raise ValueError(f"K must be >= 0, got {K}")
    qa = _as_q(q)
    flat = np.atleast_1d(qa).reshape(-1)
    h = min(h0 / math.sqrt(1.0 + float(flat.max())), 2.0 / math.sqrt(2 * K + 1))
    J = int(math.ceil(_L_COEF / h))
    if parity not in (None, "odd", "even"):
        raise ValueError(f"parity must be None, 'odd' or 'even', got {parity!r}")
    z = np.arange(0 if parity else -J, J + 1, dtype=float) * h
    H = _hermite_functions(z, K)                           # (K+1, M)
    w = h * np.exp(-0.25 * z * z) * _INV_SQRT2PI            # e^{-z^2/2} = e^{-z^2/4} (in H) * e^{-z^2/4}
    if parity:
        w = np.where(z > 0, 2.0 * w, w)                    # f psi_k even in z for the kept k
    with np.errstate(over="ignore"):
        F = np.asarray(f(np.sqrt(flat)[:, None] * z), dtype=float) * w
    if parity is None:
        A = F @ H.T
    else:
        A = np.zeros((flat.size, K + 1))
        start = 1 if parity == "odd" else 0
        A[:, start::2] = F @ H[start::2].T
    return A.reshape(qa.shape + (K + 1,))


def _hermite_functions(z, K):
    H = np.empty((K + 1, z.size))
    H[0] = np.exp(-0.25 * z * z)
    if K >= 1:
        H[1] = z * H[0]
    for k in range(1, K):
        H[k + 1] = (z * H[k] - math.sqrt(k) * H[k - 1]) / math.sqrt(k + 1)
    return H


def mehler_kernel(A1, A2, rho, tail1=None, tail2=None, derivative=False):
    r"""Sum the Mehler series :math:`\sum_k a_k b_k \rho^k` (or its :math:`\rho`-derivative) by Horner's rule.

    ``A1, A2``: coefficient arrays ``(..., K+1)``; ``A1[..., k] * A2[..., k]`` must broadcast against
    ``rho`` (e.g. ``A[:, None, :]`` and ``A[None, :, :]`` with ``rho`` of shape ``(P, P)``: memory stays
    ``O(P^2)``). With ``tail1`` and ``tail2`` (the Parseval remainders
    :math:`T = \mathbb{E}[f^2] - \sum_{k\le K} a_k^2`), the term :math:`\sqrt{T_1T_2}\,\rho^{K+1}` is added,
    which makes the series exact at :math:`\rho = 1`, :math:`q_1 = q_2`; by Cauchy–Schwarz the truncation
    error is at most :math:`\sqrt{T_1T_2}|\rho|^{K+1}` (twice that with the correction).
    """
    rho = np.asarray(rho, dtype=float)
    K = A1.shape[-1] - 1
    if derivative:
        acc = np.zeros(np.broadcast_shapes(rho.shape, (A1[..., 0] * A2[..., 0]).shape))
        for k in range(K, 0, -1):
            acc = acc * rho + k * (A1[..., k] * A2[..., k])
        if tail1 is not None:
            acc = acc + (K + 1) * np.sqrt(np.clip(tail1 * tail2, 0.0, None)) * rho**K
        return acc
    acc = np.zeros(np.broadcast_shapes(rho.shape, (A1[..., 0] * A2[..., 0]).shape))
    for k in range(K, -1, -1):
        acc = acc * rho + A1[..., k] * A2[..., k]
    if tail1 is not None:
        acc = acc + np.sqrt(np.clip(tail1 * tail2, 0.0, None)) * rho ** (K + 1)
    return acc


def _trap_1d_many(fs, q, h0=H0, L=_L, even=False):
    r"""Trapezoid sums of several functions at once: ``fs(x, z)`` returns a list of arrays; q a 1-D array.

    Nodes :math:`z_j = jh`, :math:`|z_j|\le L`, shared within a chunk of similar ``q`` (step = the chunk's
    smallest :math:`h_0/\sqrt{1+q}`); the sums are matrix-vector products. ``even=True``: every integrand is
    even in ``z`` (e.g. :math:`\phi^2` for odd or even :math:`\phi`); only :math:`z\ge0` is evaluated.
    """
    outs = None
    for idx, h, J in _chunks(q, h0, L):
        z = np.arange(0 if even else -J, J + 1, dtype=float) * h
        keep = np.abs(z) <= L
        z = z[keep]
        w = h * np.exp(-0.5 * z * z) * _INV_SQRT2PI
        if even:  # integrands even in z: fold the negative half onto the positive one
            w = np.where(z > 0, 2.0 * w, w)
        with np.errstate(over="ignore"):
            vals = fs(np.sqrt(q[idx, None]) * z, z)
        if outs is None:
            outs = [np.empty(q.shape) for _ in vals]
        for o, v in zip(outs, vals):
            o[idx] = np.asarray(v, dtype=float) @ w
    if outs is None:
        return [np.empty(q.shape)]
    return outs


# --------------------------------------------------------------------------- kernels
def kernel(activation, q1, q2, c12, n: int | None = None):
    r""":math:`\mathbb{E}[\phi(u)\phi(v)]`: the registry's closed form if any, else :func:`expect2`."""
    act = get_activation(activation)
    if act.has_closed_form("kernel"):
        _check_cov(q1, q2, c12)
        return act.kernel(q1, q2, c12)
    return expect2(act.numpy, act.numpy, q1, q2, c12, n)


def deriv_kernel(activation, q1, q2, c12, n: int | None = None):
    r""":math:`\mathbb{E}[\phi'(u)\phi'(v)]`: closed form if any, else :func:`expect2`."""
    act = get_activation(activation)
    if act.has_closed_form("deriv_kernel"):
        _check_cov(q1, q2, c12)
        return act.deriv_kernel(q1, q2, c12)
    d = lambda t: act.derivative(np.asarray(t, dtype=float), np)  # noqa: E731
    return expect2(d, d, q1, q2, c12, n)

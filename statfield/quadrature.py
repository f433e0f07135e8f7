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

Kinks and large variances: graded Gauss–Legendre panels
    Where the integrand has kinks (``kinks=``: points :math:`x_k` where :math:`f'` jumps, e.g.
    ``Activation.kinks``) or the variance exceeds :data:`Q_TRAP`, the trapezoid rule is replaced by a
    composite Gauss–Legendre rule (``n`` = 20 nodes per panel) on panels that are *split exactly at every
    kink* (:math:`z = x_k/\sqrt q`) and graded geometrically (ratio 2) away from each breakpoint: from the
    feature scale :math:`\min(1, s_f/\sqrt q)` (:math:`s_f = 1/4`, the scale on which an activation bends) at
    :math:`z = 0` and at the kinks, from 1 at the centre of the Gaussian, out to :math:`|z| = L`. On each
    panel the integrand is analytic, so the error falls exponentially with ``n`` (not algebraically, as
    across a kink), and the number of nodes grows only like :math:`\log q` (bounded memory; e.g. 21 panels
    per side at :math:`q = 10^6`). Two-dimensional expectations use the same rule iterated in Cholesky
    coordinates, with the breakpoints of the inner integral placed where :math:`v` crosses a feature of
    :math:`g`. The error estimate compares ``n`` with ``n/2`` nodes per panel (the coarser rule's error).
    Reference: Davis & Rabinowitz, *Methods of Numerical Integration* (1984) §2.7 (graded composite rules).

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
    "Q_TRAP",
    "QuadratureWarning",
    "deriv_kernel",
    "expect",
    "expect2",
    "hermite_coefficients",
    "hermite_nodes",
    "kernel",
    "mehler_kernel",
]

DEFAULT_NODES = 120
#: trapezoid step parameter: h = H0 / sqrt(1 + q)
H0 = 0.2
_L = 9.0           # truncation |z| <= L (P(|z| > 9) = 2e-19)
_L_COEF = 13.0     # Hermite coefficients: the Hermite functions reach |z| ~ sqrt(4k); e^{-z^2/4} < 5e-19 at 13
_CHUNK = 2**22     # elements per chunk (memory O(chunk))
#: above this variance (or with kinks) the graded Gauss-Legendre rule replaces the trapezoid rule
Q_TRAP = 64.0
_GL_N = 20         # Gauss-Legendre nodes per panel
_S_F = 0.25        # feature scale of an activation (x units): where phi bends
_COEF_NODES = 2048 # nodes per chunk in hermite_coefficients (memory O(K * chunk))
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
        J = math.ceil(L / h)
        e = min(e, s + max(1, _CHUNK // (2 * J + 1)))
        yield order[s:e], h0 / r[e - 1], J
        s = e


def _trap_1d(f, q, h0, L=_L):
    """Trapezoid rule for E[f(sqrt(q) z)], q a 1-D array; per-element step h0/sqrt(1+q); chunked."""
    return _trap_1d_many(lambda x, z: [f(x)], q, h0, L)[0]


def expect(f, q, n: int | None = None, *, rtol: float = 1e-11, atol: float = 1e-300, return_error: bool = False,
           kinks=()):
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
    kinks : sequence of float
        Points (in units of :math:`x`) where ``f`` or its derivative jumps: the integral is split there
        exactly (graded Gauss–Legendre rule, see the module docstring).
    """
    qa = _as_q(q)
    kinks = _check_kinks(kinks)
    if n is not None:
        x, w = hermite_nodes(int(n))
        val = np.sum(np.asarray(f(np.sqrt(qa)[..., None] * x), dtype=float) * w, axis=-1)
        return (val, np.full(qa.shape, np.nan)) if return_error else val
    flat = qa.reshape(-1)
    h0 = 2 * H0

    def both(x, z):
        v = np.asarray(f(x), dtype=float)
        return [v, np.abs(v)]

    coarse = _trap_1d_many(both, flat, h0, kinks=kinks)[0]
    for _ in range(7):
        h0 /= 2
        fine, scale = _trap_1d_many(both, flat, h0, kinks=kinks)
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
    J1 = math.ceil(L / h1.min())
    J2 = math.ceil(L / h2.min())
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
            return_error: bool = False, kinks=(), kinks2=None):
    r""":math:`\mathbb{E}[f(u) g(v)]`, :math:`(u,v)\sim N(0,[[q_1,c_{12}],[c_{12},q_2]])`; arguments broadcast.

    Default: tensor trapezoid rule in Cholesky coordinates with steps :math:`h_1 = h_0/\sqrt{1+\max(q_1,
    q_2\rho^2)}`, :math:`h_2 = h_0/\sqrt{1+q_2(1-\rho^2)}` (so :math:`\rho\to\pm1` costs fewer points, not
    more), error estimate :math:`|T_h - T_{2h}|` against ``rtol`` :math:`\mathbb{E}|fg|` as in :func:`expect`. ``n=<int>``: fixed ``n x n``
    Gauss–Hermite (no error estimate). ``|c12| <= sqrt(q1 q2)`` is required (round-off of 1e-12 is clipped).

    ``kinks`` (``kinks2``, default ``kinks``): points where ``f`` (``g``) or its derivative jumps, in units of
    ``u`` (``v``). With kinks, or where :math:`\max(q_1, q_2) >` :data:`Q_TRAP`, the graded Gauss–Legendre rule
    iterated in Cholesky coordinates is used (exact splits at the kinks; nodes grow like :math:`\log q`,
    bounded memory); its error estimate compares 20 and 10 nodes per panel.
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
    kf = _check_kinks(kinks)
    kg = kf if kinks2 is None else _check_kinks(kinks2)
    graded = (np.maximum(a1, a2) > Q_TRAP) | bool(kf or kg)
    if np.any(graded):
        val = np.empty(a1.shape)
        err = np.empty(a1.shape)
        gi = np.nonzero(graded)[0]
        fine, scale = _graded_2d(f, g, a1[gi], a2[gi], r[gi], kf, kg, _GL_N)
        coarse = _graded_2d(f, g, a1[gi], a2[gi], r[gi], kf, kg, _GL_N // 2)[0]
        val[gi], err[gi] = fine, np.abs(fine - coarse)
        if np.any(err[gi] > rtol * scale + atol):
            warnings.warn(f"expect2: error estimate {err[gi].max():.2e} above rtol={rtol:g}", QuadratureWarning,
                          stacklevel=2)
        ti = np.nonzero(~graded)[0]
        if ti.size:
            val[ti], err[ti] = _expect2_trap(f, g, a1[ti], a2[ti], r[ti], rtol, atol)
        val, err = val.reshape(shape), err.reshape(shape)
        if val.ndim == 0:
            val, err = float(val), float(err)
        return (val, err) if return_error else val
    val, err = _expect2_trap(f, g, a1, a2, r, rtol, atol)
    val, err = val.reshape(shape), err.reshape(shape)
    if val.ndim == 0:
        val, err = float(val), float(err)
    return (val, err) if return_error else val


def _expect2_trap(f, g, a1, a2, r, rtol, atol):
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
        warnings.warn(f"expect2: error estimate {err.max():.2e} above rtol={rtol:g}", QuadratureWarning, stacklevel=3)
    return fine, err


def _breakpoints(act):
    """Points where an activation (or its derivative) is not smooth: ``act.kinks`` and ``act.jumps``."""
    return tuple(sorted(set(getattr(act, "kinks", ())) | set(getattr(act, "jumps", ()))))


def _check_kinks(kinks):
    try:
        k = tuple(float(x) for x in (kinks or ()))
    except (TypeError, ValueError):
        raise ValueError(f"kinks must be a sequence of finite numbers, got {kinks!r}") from None
    if not all(math.isfinite(x) for x in k):
        raise ValueError(f"kinks must be a sequence of finite numbers, got {kinks!r}")
    return tuple(sorted(set(k)))


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
    J = math.ceil(_L_COEF / h)
    if parity not in (None, "odd", "even"):
        raise ValueError(f"parity must be None, 'odd' or 'even', got {parity!r}")
    zall = np.arange(0 if parity else -J, J + 1, dtype=float) * h
    A = np.zeros((flat.size, K + 1))
    start = 1 if parity == "odd" else 0
    step = max(64, min(_COEF_NODES, _CHUNK // max(K + 1, flat.size)))
    for s0 in range(0, zall.size, step):                  # memory O((K + P) * step), not O(K * sqrt(q))
        z = zall[s0:s0 + step]
        H = _hermite_functions(z, K)                       # (K+1, m)
        w = h * np.exp(-0.25 * z * z) * _INV_SQRT2PI        # e^{-z^2/2} = e^{-z^2/4} (in H) * e^{-z^2/4}
        if parity:
            w = np.where(z > 0, 2.0 * w, w)                # f psi_k even in z for the kept k
        with np.errstate(over="ignore"):
            F = np.asarray(f(np.sqrt(flat)[:, None] * z), dtype=float) * w
        if parity is None:
            A += F @ H.T
        else:
            A[:, start::2] += F @ H[start::2].T
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


def _trap_1d_many(fs, q, h0=H0, L=_L, even=False, kinks=()):
    r"""Trapezoid sums of several functions at once: ``fs(x, z)`` returns a list of arrays; q a 1-D array.

    Nodes :math:`z_j = jh`, :math:`|z_j|\le L`, shared within a chunk of similar ``q`` (step = the chunk's
    smallest :math:`h_0/\sqrt{1+q}`); the sums are matrix-vector products. ``even=True``: every integrand is
    even in ``z`` (e.g. :math:`\phi^2` for odd or even :math:`\phi`); only :math:`z\ge0` is evaluated.
    With ``kinks`` (x units), and for ``q > Q_TRAP``, the graded Gauss–Legendre rule is used instead
    (:func:`_graded_1d_many`; ``h0`` then sets the nodes per panel, ``20 * H0 / h0``).
    """
    kinks = tuple(float(k) for k in kinks)
    big = q > Q_TRAP
    if kinks or np.any(big):
        n = int(min(64, max(6, round(_GL_N * H0 / h0))))
        sel = np.ones(q.shape, dtype=bool) if kinks else big
        res_g = _graded_1d_many(fs, q[sel], kinks, n, L)
        if np.all(sel):
            return res_g
        res_t = _trap_1d_many(fs, q[~sel], h0, L, even)
        outs = []
        for a, b in zip(res_g, res_t):
            o = np.empty(q.shape)
            o[sel], o[~sel] = a, b
            outs.append(o)
        return outs
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
    return expect2(act.numpy, act.numpy, q1, q2, c12, n, kinks=_breakpoints(act))


def deriv_kernel(activation, q1, q2, c12, n: int | None = None):
    r""":math:`\mathbb{E}[\phi'(u)\phi'(v)]`: closed form if any, else :func:`expect2`."""
    act = get_activation(activation)
    if act.has_closed_form("deriv_kernel"):
        _check_cov(q1, q2, c12)
        return act.deriv_kernel(q1, q2, c12)
    d = lambda t: act.derivative(np.asarray(t, dtype=float), np)
    return expect2(d, d, q1, q2, c12, n, kinks=_breakpoints(act))


# --------------------------------------------------------------------------- graded Gauss-Legendre panels
@lru_cache(maxsize=16)
def _gl(n: int):
    x, w = np.polynomial.legendre.leggauss(int(n))
    x.setflags(write=False)
    w.setflags(write=False)
    return x, w


def _graded_rule(pts, scales, L=_L, n=_GL_N):
    r"""Composite Gauss–Legendre rule on :math:`[-L, L]`, split at breakpoints and graded away from them.

    ``pts`` (R, k): breakpoints per row (any order; outside :math:`[-L, L]` they are clipped, NaN means
    "none"); ``scales`` (R, k): the length scale at each breakpoint. Each segment between neighbouring
    breakpoints is halved; each half is cut into panels whose widths double from the breakpoint's scale
    to the half's length. The number of panels per half is fixed per sorted column (from the smallest scale
    in that column), so every row has the same number of nodes. Returns ``(Z, W)``, shape ``(R, M)``:
    :math:`\int_{-L}^{L} g\,dz \approx \sum_j W_j g(Z_j)`.
    """
    pts = np.asarray(pts, dtype=float)
    scales = np.broadcast_to(np.asarray(scales, dtype=float), pts.shape)
    R = pts.shape[0]
    P = np.where(np.isfinite(pts), np.clip(pts, -L, L), L)         # "none" -> a zero-length segment at L
    S = np.where(np.isfinite(pts), scales, 2 * L)
    order = np.argsort(P, axis=1, kind="stable")
    P = np.take_along_axis(P, order, 1)
    S = np.take_along_axis(S, order, 1)
    # coincident breakpoints: both ends take the smaller scale
    lo = np.concatenate([np.full((R, 1), -L), P], axis=1)
    hi = np.concatenate([P, np.full((R, 1), L)], axis=1)
    slo = np.concatenate([np.full((R, 1), 2 * L), S], axis=1)
    shi = np.concatenate([S, np.full((R, 1), 2 * L)], axis=1)
    for _ in range(2):  # propagate the minimum scale across zero-length segments
        same = hi - lo <= 0
        m = np.minimum(slo, shi)
        slo = np.where(same, m, slo)
        shi = np.where(same, m, shi)
        shi[:, :-1] = np.where(same[:, 1:], np.minimum(shi[:, :-1], slo[:, 1:]), shi[:, :-1])
        slo[:, 1:] = np.where(same[:, :-1], np.minimum(slo[:, 1:], shi[:, :-1]), slo[:, 1:])
    mid = 0.5 * (lo + hi)
    H = np.maximum(mid - lo, 0.0)
    edges_lo, edges_hi = [], []
    for c in range(lo.shape[1]):
        for start, sc, sign in ((lo[:, c], slo[:, c], 1.0), (hi[:, c], shi[:, c], -1.0)):
            Hc = H[:, c]
            smin = float(np.min(np.maximum(sc, 1e-300)))
            hmax = float(np.max(Hc))
            if hmax <= 0:
                continue
            J = min(max(0, math.ceil(math.log2(hmax / smin))), 1100) if smin < hmax else 0
            r = np.concatenate([[0.0], 2.0 ** np.arange(-J, 1, dtype=float)])   # 0, 2^-J, ..., 1
            e = start[:, None] + sign * Hc[:, None] * r[None, :]
            a, b = (e[:, :-1], e[:, 1:]) if sign > 0 else (e[:, 1:], e[:, :-1])
            edges_lo.append(a)
            edges_hi.append(b)
    A = np.concatenate(edges_lo, axis=1)
    B = np.concatenate(edges_hi, axis=1)
    keep = np.any(B > A, axis=0)
    A, B = A[:, keep], B[:, keep]
    x, w = _gl(n)
    half = 0.5 * (B - A)
    Z = (0.5 * (A + B))[:, :, None] + half[:, :, None] * x
    W = half[:, :, None] * w
    return Z.reshape(R, -1), W.reshape(R, -1)


def _feature_points(q, kinks):
    """Breakpoints and scales (z units) of an integrand f(sqrt(q) z): z = 0, the kinks, the Gaussian centre."""
    q = np.asarray(q, dtype=float)
    sq = np.sqrt(q)
    with np.errstate(divide="ignore", invalid="ignore"):
        fs = np.minimum(1.0, np.where(sq > 0, _S_F / np.where(sq > 0, sq, 1.0), np.inf))
        cols = [np.zeros(q.shape)]
        for k in kinks:
            cols.append(np.where(sq > 0, k / np.where(sq > 0, sq, 1.0), np.nan) if k != 0 else np.zeros(q.shape))
    pts = np.stack(cols + [np.zeros(q.shape)], axis=-1)
    scl = np.stack([fs] * len(cols) + [np.ones(q.shape)], axis=-1)
    return pts, scl


def _graded_1d_many(fs, q, kinks=(), n=_GL_N, L=_L):
    """Graded Gauss–Legendre version of :func:`_trap_1d_many` (kinks split exactly; nodes ~ log q)."""
    outs = None
    order = np.argsort(q, kind="stable")
    qs = q[order]
    s = 0
    while s < q.size:      # chunks of q within a factor 16 (shared number of panels), bounded memory
        e = s + max(1, int(np.searchsorted(qs[s:], 16.0 * max(qs[s], 1e-300), side="right")))
        e = min(e, s + max(1, _CHUNK // (60 * n * (2 + len(kinks)))))
        idx = order[s:e]
        pts, scl = _feature_points(q[idx], kinks)
        Z, W = _graded_rule(pts, scl, L, n)
        W = W * np.exp(-0.5 * Z * Z) * _INV_SQRT2PI
        with np.errstate(over="ignore"):
            vals = fs(np.sqrt(q[idx])[:, None] * Z, Z)
        if outs is None:
            outs = [np.empty(q.shape) for _ in vals]
        for o, v in zip(outs, vals):
            o[idx] = np.einsum("ij,ij->i", np.asarray(v, dtype=float) * np.ones_like(W), W)
        s = e
    if outs is None:
        return [np.empty(q.shape)]
    return outs


def _graded_2d(f, g, q1, q2, rho, kinks_f=(), kinks_g=(), n=_GL_N, L=_L):
    r"""E[f(u) g(v)] by the graded rule iterated in Cholesky coordinates; element by element.

    :math:`u = \sqrt{q_1}z_1`, :math:`v = \sqrt{q_2}(\rho z_1 + \rho' z_2)`, :math:`\rho' = \sqrt{1-\rho^2}`.
    Outer breakpoints (``z1``): the features of ``f`` and, mapped to ``z1``, those of ``g``
    (:math:`z_1 = k/(\sqrt{q_2}\rho)`, scale :math:`\rho'/|\rho|` or finer); inner (``z2``, per outer node):
    where ``v`` crosses a feature of ``g``.
    """
    out = np.empty(q1.shape)
    absout = np.empty(q1.shape)
    gk = (0.0,) + tuple(k for k in kinks_g if k != 0)
    for i in range(q1.size):
        a, b, r = float(q1[i]), float(q2[i]), float(rho[i])
        rp = math.sqrt(max(0.0, 1.0 - r * r))
        sa, sb = math.sqrt(a), math.sqrt(b)
        p1, s1 = _feature_points(np.array([a]), kinks_f)
        extra_p, extra_s = [], []
        if sb > 0 and abs(r) > 0:
            fsc = min(1.0, _S_F / sb)
            for k in gk:
                extra_p.append(k / (sb * r))
                kinked = k != 0 or 0.0 in kinks_g
                sc = (rp if kinked else max(fsc, rp)) / abs(r)
                extra_s.append(min(1.0, max(sc, 1e-12)))
        pts = np.concatenate([p1, np.array([extra_p])], axis=1) if extra_p else p1
        scl = np.concatenate([s1, np.array([extra_s])], axis=1) if extra_s else s1
        Z1, W1 = _graded_rule(pts, scl, L, n)
        z1, w1 = Z1[0], W1[0] * np.exp(-0.5 * Z1[0] ** 2) * _INV_SQRT2PI
        m1 = w1 > 0
        z1, w1 = z1[m1], w1[m1]
        if rp > 0 and sb > 0:
            ip, isc = [np.zeros(z1.size)], [np.ones(z1.size)]
            fsc = min(1.0, _S_F / (sb * rp))
            for k in gk:
                ip.append((k / sb - r * z1) / rp)
                isc.append(np.full(z1.size, max(fsc, 1e-12)))
            Z2, W2 = _graded_rule(np.stack(ip, axis=1), np.stack(isc, axis=1), L, n)
        else:
            Z2, W2 = _graded_rule(np.zeros((1, 1)), np.ones((1, 1)), L, n)
        W2 = W2 * np.exp(-0.5 * Z2 * Z2) * _INV_SQRT2PI
        with np.errstate(over="ignore", invalid="ignore"):
            fu = np.asarray(f(sa * z1), dtype=float)
            gv = np.asarray(g(sb * (r * z1[:, None] + rp * Z2)), dtype=float)
        inner = np.sum(gv * W2, axis=1)
        inner_abs = np.sum(np.abs(gv) * W2, axis=1)
        out[i] = np.dot(fu * inner, w1)
        absout[i] = np.dot(np.abs(fu) * inner_abs, w1)
    return out, absout

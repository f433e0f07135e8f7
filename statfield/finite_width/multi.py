r"""Finite width for P inputs: kernel, four-point vertex, 1/n kernel shift and the connected four-point function.

Conventions (``docs/conventions.md``): :math:`z^{(1)} = W^{(1)}x + b^{(1)}`,
:math:`z^{(l)} = W^{(l)}\phi(z^{(l-1)}) + b^{(l)}`, :math:`W^{(l)}_{ij}\sim N(0,\sigma_w^2/n_{l-1})` (fan-in),
:math:`b^{(l)}_i\sim N(0,\sigma_b^2)`, so :math:`K^{(1)}_{\alpha\beta} = \sigma_b^2 + \sigma_w^2 x_\alpha\cdot x_\beta/d_{in}`.
Given layer :math:`l-1`, the rows :math:`(z^{(l)}_{i\alpha})_\alpha` are i.i.d. :math:`N(0, \hat G^{(l)})` with the
metric :math:`\hat G^{(l)}_{\alpha\beta} = \sigma_b^2 + \frac{\sigma_w^2}{n_{l-1}}\sum_j\phi(z^{(l-1)}_{j\alpha})
\phi(z^{(l-1)}_{j\beta})` (exactly, at any width). Normalisations:

.. math:: \mathbb E\hat G^{(l)}_{\alpha\beta} = K^{(l)}_{\alpha\beta} + \frac{K^{(l)}_{\{1\}\alpha\beta}}{n_{l-1}} + O(n^{-2}),
          \qquad V^{(l)}_{(\alpha_1\alpha_2)(\alpha_3\alpha_4)} = n_{l-1}\,\mathrm{Cov}(\hat G^{(l)}_{\alpha_1\alpha_2},
          \hat G^{(l)}_{\alpha_3\alpha_4}) + O(1/n),

and the connected four-point function of one unit is, exactly,

.. math:: \mathbb E[z_{\alpha_1}z_{\alpha_2}z_{\alpha_3}z_{\alpha_4}] - (\text{3 pairings})
          = \mathrm{Cov}(\hat G_{\alpha_1\alpha_2},\hat G_{\alpha_3\alpha_4}) + \mathrm{Cov}(\hat G_{\alpha_1\alpha_3},
          \hat G_{\alpha_2\alpha_4}) + \mathrm{Cov}(\hat G_{\alpha_1\alpha_4},\hat G_{\alpha_2\alpha_3})

(:math:`= [V_{(12)(34)} + V_{(13)(24)} + V_{(14)(23)}]/n_{l-1}` at leading order; PDLT, arXiv:2106.10165, §4.1–4.3).

Leading-order recursions (PDLT eq. 4.90 and §4.5, written with derivatives with respect to the independent
kernel entries): with :math:`k_{(ab)}(K) = \langle\phi_a\phi_b\rangle_K`,
:math:`J_{(ab),e} = \partial k_{(ab)}/\partial K_e`, :math:`H_{(ab),ef} = \partial^2 k_{(ab)}/\partial K_e\partial K_f`
(:math:`e, f` over the unordered entries :math:`aa, bb, ab`; Price's theorem:
:math:`\partial/\partial K_{aa} \leftrightarrow \frac12\partial_a^2`, :math:`\partial/\partial K_{ab}\leftrightarrow\partial_a\partial_b`)
and :math:`C_{(ab)(cd)} = \langle\phi_a\phi_b\phi_c\phi_d\rangle - k_{(ab)}k_{(cd)}`:

.. math::
   K^{(l+1)} &= \sigma_b^2 + \sigma_w^2 k(K^{(l)}),\\
   V^{(l+1)}_{pp'} &= \sigma_w^4 C_{pp'} + \frac{n_l}{n_{l-1}}\sigma_w^4\sum_{e,f} J_{pe}V^{(l)}_{ef}J_{p'f},\\
   K^{(l+1)}_{\{1\}p} &= \frac{n_l}{n_{l-1}}\Big[\sigma_w^2\sum_e J_{pe}K^{(l)}_{\{1\}e}
        + \frac{\sigma_w^2}{2}\sum_{e,f}H_{p,ef}V^{(l)}_{ef}\Big],\qquad V^{(1)} = K^{(1)}_{\{1\}} = 0.

:math:`J_{(ab),\cdot}` and :math:`H_{(ab),\cdot\cdot}` only involve the entries :math:`aa, bb, ab`, so
:math:`K_{\{1\}}` needs only the two-input blocks of :math:`V` (two-dimensional Gaussian integrals), and a block
:math:`V_{(ab)(cd)}` needs the blocks :math:`\{aa,bb,ab\}\times\{cc,dd,cd\}` of the layer below (closed under the
recursion). Linear networks: the exact Wishart recursion (:func:`linear_exact_moments`).
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from .._checks import check_int, check_variances
from ..activations import Activation, get_activation
from ..quadrature import QuadratureWarning, hermite_nodes
from ._single import _result_fan_in  # noqa: E402
from ._single import (
    FiniteWidthOverflowError,
    _fan_in,
    _warn_expansion,
    _widths,
    first_layer_kernel,
    gaussian_moments,
)

__all__ = [
    "DEFAULT_NODES",
    "MultiInputResult",
    "connected_four_point",
    "gaussian_four_point",
    "linear_exact_moments",
    "multi_input_recursion",
]

#: quadrature of the 3- and 4-index Gaussian averages: scale-invariant φ ``pwl`` Gauss–Legendre nodes per piece
#: (nested conditional rule split at the kinks: relative error ~1e-6 at 6 nodes, 1e-8 at 8 for well-conditioned
#: kernels, ~1e-4 for nearly singular ones); smooth φ a tensor rule in eigen-coordinates designed for the relative
#: error ``eps`` (:func:`_rule_1d`). The two-index averages use closed forms or the same tensor rules at 1e-11.
DEFAULT_NODES = {"pwl": 6, "eps": 1e-6}
_QUAD_WARN = 1e-4  # relative quadrature error estimate above which a QuadratureWarning is issued
_CHUNK = 2**21


# --------------------------------------------------------------------------- inputs
def _kernel_input(sigma_w2, sigma_b2, X, K1):
    """First-layer kernel (P, P) from inputs X (P, d_in) or (d_in,), or from K1; validated."""
    if (X is None) == (K1 is None):
        raise ValueError("give either X (inputs, shape (P, d_in)) or K1 (the first-layer kernel, (P, P)), "
                         "exactly one of them")
    if X is not None:
        X = np.asarray(X, dtype=float)
        if X.ndim == 1:
            X = X[None, :]
        K = first_layer_kernel(sigma_w2, sigma_b2, X)
        K = np.atleast_2d(K)
    else:
        try:
            K = np.array(K1, dtype=float)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"K1 must be a (P, P) kernel matrix, got {K1!r}") from exc
        if K.ndim == 0:
            K = K.reshape(1, 1)
        if K.ndim != 2 or K.shape[0] != K.shape[1]:
            raise ValueError(f"K1 must be a square (P, P) kernel matrix, got shape {K.shape}")
        if not np.all(np.isfinite(K)) or not np.allclose(K, K.T, rtol=1e-12, atol=0):
            raise ValueError("K1 must be finite and symmetric")
        K = 0.5 * (K + K.T)
        lam = np.linalg.eigvalsh(K)
        if lam[0] < -1e-10 * max(lam[-1], 1e-300):
            raise ValueError(f"K1 must be positive semi-definite (smallest eigenvalue {lam[0]:.3g})")
    if np.any(np.diag(K) <= 0):
        raise ValueError("the first-layer kernel must have a positive diagonal: an input x = 0 needs sigma_b2 > 0")
    return K


def _dedupe(K):
    """Representatives of identical inputs (K_aa = K_bb = K_ab: the pre-activations coincide at every layer)."""
    P = K.shape[0]
    rep = np.arange(P)
    for b in range(P):
        for a in range(b):
            if rep[a] == a and abs(K[a, a] - K[b, b]) <= 1e-14 * K[a, a] and abs(K[a, b] - K[a, a]) <= 1e-14 * K[a, a]:
                rep[b] = a
                break
    uniq = np.unique(rep)
    pos = {int(u): i for i, u in enumerate(uniq)}
    return uniq, np.array([pos[int(r)] for r in rep])


# --------------------------------------------------------------------------- Gaussian averages
def _eig_factor(K):
    """T with T T^T = K for a batch of PSD matrices (B, d, d) (eigen-decomposition, exact for singular K)."""
    lam, U = np.linalg.eigh(K)
    lam = np.clip(lam, 0.0, None)
    return U * np.sqrt(lam)[:, None, :]


def _grid(d, m):
    x, w = hermite_nodes(int(m))
    pts = np.stack(np.meshgrid(*([x] * d), indexing="ij"), axis=-1).reshape(-1, d)
    wts = np.prod(np.stack(np.meshgrid(*([w] * d), indexing="ij"), axis=-1).reshape(-1, d), axis=1)
    return pts, wts


def _smoothed(act, mu, s):
    r""":math:`\mathbb E[\phi(\mu + s\eta)]`, :math:`\eta\sim N(0,1)`, for the scale-invariant class (closed form)."""
    ap, am = float(act.a_plus), float(act.a_minus)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(s > 0, mu / np.where(s > 0, s, 1.0), 0.0)
    from scipy.special import ndtr

    Phi, pdf = ndtr(t), np.exp(-0.5 * t * t) / math.sqrt(2 * math.pi)
    out = ap * (mu * Phi + s * pdf) + am * (mu * (1.0 - Phi) - s * pdf)
    return np.where(s > 0, out, act.numpy(mu))


_PWL_GRID = 7
_EPS2 = 1e-11  # target relative error of the two-index averages (smooth activations)


def _psd_cholesky(K):
    """Lower-triangular L with L L^T = K for a batch of PSD matrices; zero pivots give zero columns (exact)."""
    d = K.shape[1]
    L = np.zeros_like(K)
    scale = np.maximum(np.max(np.abs(np.diagonal(K, axis1=1, axis2=2)), axis=1), 1e-300)
    for j in range(d):
        piv = K[:, j, j] - np.sum(L[:, j, :j] ** 2, axis=1)
        ok = piv > 1e-13 * scale
        ljj = np.sqrt(np.where(ok, piv, 1.0))
        L[:, j, j] = np.where(ok, ljj, 0.0)
        for i in range(j + 1, d):
            v = (K[:, i, j] - np.sum(L[:, i, :j] * L[:, j, :j], axis=1)) / ljj
            L[:, i, j] = np.where(ok, v, 0.0)
    return L


def _nested_pwl(act, Ksub, powers, n):
    r"""Scale-invariant φ: nested conditional integration, exact up to round-off.

    :math:`v = L\eta` (Cholesky, one variable after the other); the integral over :math:`\eta_i` given the previous
    ones is split at the kink of :math:`\phi(v_i)` (:math:`\eta_i = -\sum_{j<i}L_{ij}\eta_j/L_{ii}`) and at the zeros
    of :math:`\sum_{k\le i}L_{jk}\eta_k` of the later variables :math:`j>i` (their kinks when the kernel is nearly
    singular), and at 9 fixed points of :math:`[-7.5, 7.5]`; each piece is done by ``n``-point Gauss–Legendre (a
    polynomial times the Gaussian there); the last variable (power 1) is integrated in closed form
    (:func:`_smoothed`).
    """
    B, d, _ = Ksub.shape
    powers = np.asarray(powers)
    j = int(np.nonzero(powers == 1)[0][-1])
    order = [i for i in range(d) if i != j] + [j]
    L = _psd_cholesky(Ksub[:, order][:, :, order])
    pw = powers[order]
    gx, gw = np.polynomial.legendre.leggauss(int(n))
    lo, hi = -7.5, 7.5  # P(|eta| > 7.5) = 6e-14
    grid = np.linspace(lo, hi, _PWL_GRID)  # fixed break points (short pieces: the Gaussian is smooth there)
    out = np.empty(B)
    npts = math.prod((d + _PWL_GRID - i) * n for i in range(d - 1))
    step = max(1, _CHUNK // npts)
    for b0 in range(0, B, step):
        Lb = L[b0:b0 + step]
        nb = Lb.shape[0]
        etas, w, prod = [], np.ones((nb, 1)), np.ones((nb, 1))
        for i in range(d - 1):
            # break points in eta_i: the kink of phi(v_i) and, for every later variable j, the zero of its part
            # sum_{k<=i} L_jk eta_k (its kink when its remaining conditional variance is small)
            cuts = []
            for jv in range(i, d):
                mu_j = sum(Lb[:, jv, k, None] * etas[k] for k in range(i)) if i else np.zeros((nb, 1))
                lji = Lb[:, jv, i, None]
                with np.errstate(divide="ignore", invalid="ignore"):
                    cuts.append(np.where(lji != 0, -mu_j / np.where(lji != 0, lji, 1.0), lo))
            N0 = max(c.shape[1] for c in cuts)
            edges = np.clip(np.stack([np.broadcast_to(c, (nb, N0)) for c in cuts], axis=-1), lo, hi)
            edges = np.sort(np.concatenate([np.broadcast_to(grid, (nb, N0, grid.size)), edges], axis=-1), axis=-1)
            a, b = edges[..., :-1, None], edges[..., 1:, None]  # pieces (nb, N0, npieces, 1)
            x = (a + (b - a) * (gx + 1) / 2).reshape(nb, N0, -1)
            wx = ((b - a) / 2 * gw).reshape(nb, N0, -1) * np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
            mu = sum(Lb[:, i, k, None] * etas[k] for k in range(i)) if i else np.zeros((nb, 1))
            v = mu[..., None] + Lb[:, i, i, None, None] * x
            m_new = x.shape[2]
            N = N0 * m_new
            etas = [np.broadcast_to(e, (nb, N0))[..., None].repeat(m_new, axis=-1).reshape(nb, N) for e in etas]
            etas.append(x.reshape(nb, N))
            w = (np.broadcast_to(w, (nb, N0))[..., None] * wx).reshape(nb, N)
            prod = (np.broadcast_to(prod, (nb, N0))[..., None] * act.numpy(v) ** pw[i]).reshape(nb, N)
        mu = sum(Lb[:, d - 1, k, None] * etas[k] for k in range(d - 1))
        out[b0:b0 + nb] = np.sum(w * prod * _smoothed(act, mu, Lb[:, d - 1, d - 1, None]), axis=1)
    return out


def _rule_1d(lam, eps):
    r"""A 1-D rule for :math:`\mathbb E f(\xi)`, :math:`\xi\sim N(0,1)`, where f has features on the scale
    :math:`1/\sqrt\lambda` (poles at distance :math:`\ge\pi/(2\sqrt\lambda)` for tanh-like φ) — the cheaper of
    a trapezoid rule (error :math:`\propto e^{-2\pi a/h}` for functions analytic in the strip
    :math:`|\mathrm{Im}\,\xi|<a`; :math:`h = \pi^2/(1.5\sqrt\lambda\ln(1/\epsilon))`, truncation
    :math:`|\xi|\le L = \sqrt{2\ln(1/\epsilon)} + 1`) and Gauss–Hermite with
    :math:`6 + 25\,\lambda\,(\ln(1/\epsilon)/\ln 10^6)^2` nodes (constants calibrated on tanh).
    """
    ln = math.log(1.0 / eps)
    L = math.sqrt(2 * ln) + 1.0
    h = min(1.0, math.pi**2 / (1.5 * max(lam, 1e-300) ** 0.5 * ln))
    n_trap = 2 * math.ceil(L / h) + 1
    m_gh = math.ceil(6 + 25.0 * lam * (ln / math.log(1e6)) ** 2)
    if m_gh <= n_trap:
        return hermite_nodes(min(m_gh, 400))
    x = (np.arange(n_trap) - n_trap // 2) * h
    return x, h * np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)


def _gh_adaptive(act, Ksub, powers, eps):
    r"""Smooth φ: tensor rule in eigen-coordinates, per direction the cheaper of trapezoid and Gauss–Hermite
    for the variance :math:`\lambda` of that direction (:func:`_rule_1d`), target relative error ``eps``.
    """
    B, d, _ = Ksub.shape
    lam, U = np.linalg.eigh(Ksub)
    lam = np.clip(lam, 0.0, None)
    T = U * np.sqrt(lam)[:, None, :]
    # bucket the variances (rules for the bucket's upper edge: never coarser than needed)
    edges = np.concatenate([[0.0], 0.02 * 1.25 ** np.arange(60)])
    bucket = np.searchsorted(edges, lam)
    out = np.empty(B)
    keys, inv = np.unique(bucket, axis=0, return_inverse=True)
    inv = inv.reshape(-1)
    for g, key in enumerate(keys):
        idx = np.nonzero(inv == g)[0]
        rules = [_rule_1d(float(edges[min(k, edges.size - 1)]) if k < edges.size else float(lam[idx].max()), eps)
                 for k in key]
        xs, ws = zip(*rules)
        pts = np.stack(np.meshgrid(*xs, indexing="ij"), axis=-1).reshape(-1, d)
        wts = np.prod(np.stack(np.meshgrid(*ws, indexing="ij"), axis=-1).reshape(-1, d), axis=1)
        step = max(1, _CHUNK // (pts.shape[0] * d))
        for a in range(0, idx.size, step):
            sl = idx[a:a + step]
            z = np.einsum("nk,bik->bni", pts, T[sl])
            out[sl] = np.prod(act.numpy(z) ** powers, axis=-1) @ wts
    return out


def _moments_nd(act, Ksub, powers, nodes):
    r""":math:`\mathbb E\prod_i\phi(z_i)^{p_i}`, :math:`z\sim N(0, K)`, for a batch ``Ksub (B, d, d)``, ``powers (d,)``."""
    if act.is_piecewise_linear and np.any(np.asarray(powers) == 1):
        return _nested_pwl(act, Ksub, powers, nodes["pwl"])
    return _gh_adaptive(act, Ksub, np.asarray(powers), nodes["eps"])


def _check_nodes(nodes):
    out = dict(DEFAULT_NODES)
    for key, val in (nodes or {}).items():
        if key not in out:
            raise ValueError(f"nodes: unknown key {key!r} (allowed: {sorted(out)})")
        out[key] = val
    out["pwl"] = check_int(out["pwl"], "nodes['pwl']", minimum=2, maximum=200)
    eps = float(out["eps"])
    if not (1e-14 <= eps <= 1e-2):
        raise ValueError(f"nodes['eps'] must be in [1e-14, 1e-2], got {out['eps']!r}")
    out["eps"] = eps
    return out


def _isserlis(K, idx):
    """E[z_a z_b z_c z_d] for a Gaussian (Isserlis), idx (B, 4)."""
    a, b, c, d = idx.T
    return K[a, b] * K[c, d] + K[a, c] * K[b, d] + K[a, d] * K[b, c]


def gaussian_four_point(activation, K, quads, nodes=None):
    r""":math:`\langle\phi(z_a)\phi(z_b)\phi(z_c)\phi(z_d)\rangle_K` for index quadruples ``quads (Q, 4)``.

    ``K`` is a (P, P) covariance. Linear :math:`\phi = az`: Isserlis (exact). Otherwise grouped by the number of
    distinct indices: one (:func:`statfield.finite_width.gaussian_moments`), two (exact angular quadrature for the
    scale-invariant class), otherwise :func:`_nested_pwl` (scale-invariant class: nested conditional Gauss–Legendre
    split at the kinks, last variable in closed form; exact to round-off) or :func:`_gh_adaptive` (tensor
    Gauss–Hermite in eigen-coordinates, nodes growing with the variance of each direction). ``nodes``: overrides of
    :data:`DEFAULT_NODES`.
    """
    act = get_activation(activation)
    K = np.asarray(K, dtype=float)
    quads = np.sort(np.asarray(quads, dtype=int).reshape(-1, 4), axis=1)
    nodes = _check_nodes(nodes)
    return _four_point(act, K, quads, nodes)


def _four_point(act, K, quads, nodes):
    out = np.empty(len(quads))
    if act.is_piecewise_linear and act.a_plus == act.a_minus:
        return act.a_plus**4 * _isserlis(K, quads)
    groups = {}
    for i, q in enumerate(quads):
        els, cnt = np.unique(q, return_counts=True)
        groups.setdefault((len(els), tuple(cnt)), []).append((i, els))
    for (d, cnt), items in groups.items():
        ii = np.array([i for i, _ in items])
        els = np.array([e for _, e in items])
        if d == 1:
            out[ii] = gaussian_moments(act, K[els[:, 0], els[:, 0]])["g4"]
            continue
        if d == 2 and act.is_piecewise_linear:
            out[ii] = _polar_batch(act, K[els[:, 0], els[:, 0]], K[els[:, 1], els[:, 1]], K[els[:, 0], els[:, 1]], cnt)
            continue
        sub = K[els[:, :, None], els[:, None, :]]
        out[ii] = _moments_nd(act, sub, np.array(cnt), nodes)
    return out


def _polar_batch(act, qa, qb, c, power, nodes=32):
    r""":math:`\langle\phi(u)^{p}\phi(v)^{p'}\rangle` for the scale-invariant class, exactly, for a batch of 2x2 kernels.

    The vectorised form of :func:`statfield.finite_width._single._polar_moments`: with
    :math:`(u, v) = Lr(\cos\theta, \sin\theta)` and homogeneity, :math:`\mathbb E[r^{p+p'}]` times the angular average,
    done by Gauss–Legendre on the arcs between the kinks (a trigonometric polynomial there: exact to round-off).
    """
    pa_, pb_ = power
    L11 = np.sqrt(qa)
    L21 = c / L11
    L22 = np.sqrt(np.clip(qb - L21 * L21, 0.0, None))
    tB = np.arctan2(L22, L21)
    two_pi = 2 * math.pi
    fixed = np.array([0.0, math.pi / 2, 3 * math.pi / 2, two_pi])
    cuts = np.concatenate([np.broadcast_to(fixed, (qa.size, 4)),
                           np.stack([(tB + math.pi / 2) % two_pi, (tB - math.pi / 2) % two_pi], axis=1)], axis=1)
    cuts = np.sort(cuts, axis=1)
    x, w = np.polynomial.legendre.leggauss(nodes)
    a, b = cuts[:, :-1, None], cuts[:, 1:, None]
    th = (0.5 * (b - a) * x + 0.5 * (a + b)).reshape(qa.size, -1)
    wt = (0.5 * (b - a) * w).reshape(qa.size, -1) / two_pi
    A = act.numpy(L11[:, None] * np.cos(th))
    Bv = act.numpy(L21[:, None] * np.cos(th) + L22[:, None] * np.sin(th))
    m = pa_ + pb_
    return 2.0 ** (m / 2) * math.gamma(1 + m / 2) * np.sum(wt * A**pa_ * Bv**pb_, axis=1)


def _pair_batch(act, T, idx, pts, wts, qa, qb, ba, bb, acc):
    """The two-index averages of the pairs ``idx`` on one tensor rule (``pts``, ``wts``) in eigen-coordinates."""
    step = max(1, _CHUNK // (pts.shape[0] * 2))
    for a0 in range(0, idx.size, step):
        sl = idx[a0:a0 + step]
        z = np.einsum("nk,bik->bni", pts, T[sl])
        za, zb = z[..., 0], z[..., 1]
        fa, fb = act.numpy(za), act.numpy(zb)
        da, db = act.derivative(za, np), act.derivative(zb, np)
        sa, sb = act.second_derivative(za, np), act.second_derivative(zb, np)
        q1, q2, b1, b2 = qa[sl, None], qb[sl, None], ba[sl, None], bb[sl, None]
        terms = {
            "k": fa * fb, "d11": da * db, "d20": sa * fb, "d02": fa * sb, "d22": sa * sb,
            # <phi''''_a phi_b> and <phi'''_a phi'_b> by Gaussian integration by parts in z_a (z_b = b1 z_a + w)
            "haa": sa * (b1 * b1 * sb - 2 * b1 * (za / q1) * db + fb * (za * za / (q1 * q1) - 1 / q1)),
            "hbb": sb * (b2 * b2 * sa - 2 * b2 * (zb / q2) * da + fa * (zb * zb / (q2 * q2) - 1 / q2)),
            "hac": sa * (za * db / q1 - b1 * sb),
            "hbc": sb * (zb * da / q2 - b2 * sa),
            "m31": fa**3 * fb, "m22": fa**2 * fb**2, "m13": fa * fb**3,
        }
        for name, v in terms.items():
            acc[name][sl] = v @ wts


def _pair_quantities(act, K, pa, pb, nodes):
    r"""For the off-diagonal pairs (pa[i], pb[i]): k, J (3), H (3, 3) over the entries (aa, bb, ab), and the
    two-index four-point moments <φa^4>, <φa^3φb>, <φa^2φb^2>, <φaφb^3>, <φb^4>.
    """
    B = len(pa)
    qa, qb, c = K[pa, pa], K[pb, pb], K[pa, pb]
    J = np.zeros((B, 3))
    H = np.zeros((B, 3, 3))
    mom = {}
    if B == 0:
        return np.zeros(0), J, H, {key: np.zeros(0) for key in ((3, 1), (2, 2), (1, 3))}
    if act.is_piecewise_linear:
        ap, am = float(act.a_plus), float(act.a_minus)
        s = np.sqrt(qa * qb)
        rho = np.clip(c / s, -1.0, 1.0)
        th = np.arccos(rho)
        sq = np.sqrt(np.clip(1.0 - rho * rho, 0.0, None))
        F = ap * am * rho + (ap - am) ** 2 * (sq + (np.pi - th) * rho) / (2 * np.pi)
        F1 = ap * am + (ap - am) ** 2 * (np.pi - th) / (2 * np.pi)
        # F'' = (a+ - a-)^2/(2 pi sqrt(1 - rho^2)); exactly collinear pairs (|rho| = 1) keep rho = 1 at every layer
        # (the metric fluctuates only along the collinear direction), where the terms with F'' cancel: set to 0
        with np.errstate(divide="ignore"):
            F2 = np.where(sq > 1e-12, (ap - am) ** 2 / (2 * np.pi * np.where(sq > 1e-12, sq, 1.0)), 0.0)
        k = s * F
        J[:, 0] = s / (2 * qa) * (F - rho * F1)
        J[:, 1] = s / (2 * qb) * (F - rho * F1)
        J[:, 2] = F1
        H[:, 0, 0] = s / (4 * qa**2) * (rho * rho * F2 - (F - rho * F1))
        H[:, 1, 1] = s / (4 * qb**2) * (rho * rho * F2 - (F - rho * F1))
        H[:, 0, 1] = H[:, 1, 0] = s / (4 * qa * qb) * (F - rho * F1 + rho * rho * F2)
        H[:, 2, 2] = F2 / s
        H[:, 0, 2] = H[:, 2, 0] = -rho * F2 / (2 * qa)
        H[:, 1, 2] = H[:, 2, 1] = -rho * F2 / (2 * qb)
        if ap == am:
            for key in ((3, 1), (2, 2), (1, 3)):
                idx = np.stack([pa] * key[0] + [pb] * key[1], axis=1)
                mom[key] = ap**4 * _isserlis(K, idx)
        else:
            for key in ((3, 1), (2, 2), (1, 3)):
                mom[key] = _polar_batch(act, qa, qb, c, key)
        return k, J, H, mom
    # smooth activations: one tensor trapezoid rule in eigen-coordinates for every average
    Ks = np.stack([np.stack([qa, c], -1), np.stack([c, qb], -1)], -2)
    T = _eig_factor(Ks)
    ba, bb = c / qa, c / qb
    acc = {name: np.empty(B) for name in ("k", "d11", "d20", "d02", "d22", "haa", "hbb", "hac", "hbc",
                                          "m31", "m22", "m13")}
    lam = np.sum(T * T, axis=1)  # variance along each eigen-direction
    edges = np.concatenate([[0.0], 0.02 * 1.25 ** np.arange(60)])
    bucket = np.minimum(np.searchsorted(edges, lam), edges.size - 1)
    keys, inv = np.unique(bucket, axis=0, return_inverse=True)
    inv = inv.reshape(-1)
    for g, key in enumerate(keys):
        idx = np.nonzero(inv == g)[0]
        rules = [_rule_1d(max(float(edges[kk]), float(lam[idx, j].max())), _EPS2) for j, kk in enumerate(key)]
        (x0, w0), (x1, w1) = rules
        pts = np.stack(np.meshgrid(x0, x1, indexing="ij"), axis=-1).reshape(-1, 2)
        wts = (w0[:, None] * w1[None, :]).reshape(-1)
        _pair_batch(act, T, idx, pts, wts, qa, qb, ba, bb, acc)
    k = acc["k"]
    J[:, 0], J[:, 1], J[:, 2] = 0.5 * acc["d20"], 0.5 * acc["d02"], acc["d11"]
    H[:, 0, 0] = 0.25 * acc["haa"]
    H[:, 1, 1] = 0.25 * acc["hbb"]
    H[:, 0, 1] = H[:, 1, 0] = 0.25 * acc["d22"]
    H[:, 2, 2] = acc["d22"]
    H[:, 0, 2] = H[:, 2, 0] = 0.5 * acc["hac"]
    H[:, 1, 2] = H[:, 2, 1] = 0.5 * acc["hbc"]
    mom = {(3, 1): acc["m31"], (2, 2): acc["m22"], (1, 3): acc["m13"]}
    return k, J, H, mom


# --------------------------------------------------------------------------- result
@dataclass(frozen=True)
class MultiInputResult:
    r"""Output of :func:`multi_input_recursion`: P inputs over layers ``1..depth``.

    Attributes
    ----------
    K : ndarray (depth, P, P)
        Leading order: the infinite-width kernel. Exact route (linear): :math:`\mathbb E\hat G^{(l)}`.
    K_shift : ndarray (depth, P, P)
        :math:`K^{(l)}_{\{1\}}`, :math:`\mathbb E\hat G^{(l)} = K^{(l)} + K^{(l)}_{\{1\}}/n_{l-1} + O(n^{-2})`
        (identically 0 for linear networks).
    pairs : list of (a, b)
        The input pairs (a <= b) indexing the rows/columns of ``V``.
    V : ndarray (depth, S, S)
        :math:`V^{(l)}_{pp'}` over ``pairs`` (exact route: :math:`n_{l-1}\mathrm{Cov}(\hat G_p, \hat G_{p'})`).
        Only entries with ``V_mask`` true are computed (the rest are 0); :meth:`vertex` refuses the others.
    V_mask : ndarray (S, S) of bool
    widths : ndarray or None
    exact : bool
    info : dict
        Cost and accuracy: ``seconds``, ``integrals_per_layer`` (by dimension), ``nodes``, ``quad_error``.
    """

    activation: Activation
    sigma_w2: float
    sigma_b2: float
    depth: int
    K1: np.ndarray
    K: np.ndarray
    K_shift: np.ndarray
    pairs: list
    V: np.ndarray
    V_mask: np.ndarray
    widths: np.ndarray | None = None
    exact: bool = False
    info: dict = field(default_factory=dict)

    @property
    def P(self) -> int:
        return self.K.shape[1]

    @property
    def layers(self) -> np.ndarray:
        return np.arange(1, self.depth + 1)

    def _layer(self, layer):
        layer = self.depth if layer is None else check_int(layer, "layer", minimum=1, maximum=self.depth)
        return layer - 1

    def _pair_index(self):
        return {p: i for i, p in enumerate(self.pairs)}

    def vertex_entry(self, a, b, c, d, layer=None):
        r""":math:`V^{(l)}_{(ab)(cd)}` (ValueError if that block was not requested via ``pairs=``)."""
        idx = self._pair_index()
        p, q = tuple(sorted((a, b))), tuple(sorted((c, d)))
        if p not in idx or q not in idx or not self.V_mask[idx[p], idx[q]]:
            raise ValueError(f"pairs: the block V_({a}{b})({c}{d}) was not computed; include both pairs in pairs=")
        return float(self.V[self._layer(layer), idx[p], idx[q]])

    def vertex(self, layer=None) -> np.ndarray:
        r"""The full tensor :math:`V^{(l)}_{(\alpha_1\alpha_2)(\alpha_3\alpha_4)}`, shape (P, P, P, P) (default: last layer)."""
        if not np.all(self.V_mask) or len(self.pairs) != self.P * (self.P + 1) // 2:
            raise ValueError("pairs: the full vertex needs every pair (pairs=None)")
        li = self._layer(layer)
        P = self.P
        pid = np.empty((P, P), dtype=int)
        for i, (a, b) in enumerate(self.pairs):
            pid[a, b] = pid[b, a] = i
        return self.V[li][pid[:, :, None, None], pid[None, None, :, :]]

    def G_cov(self, width=None, layer=None) -> np.ndarray:
        r""":math:`\mathrm{Cov}(\hat G_p,\hat G_{p'}) = V_{pp'}/n_{l-1}` over ``pairs`` at one layer (0 at layer 1)."""
        li = self._layer(layer)
        if li == 0:
            return np.zeros_like(self.V[0])
        n = self._fan_in(width)[li]
        return self.V[li] / n

    def G_mean(self, width=None, layer=None) -> np.ndarray:
        r""":math:`\mathbb E\hat G^{(l)} \approx K^{(l)} + K^{(l)}_{\{1\}}/n_{l-1}`, shape (P, P)."""
        li = self._layer(layer)
        if li == 0 or self.exact:
            return self.K[li].copy()
        return self.K[li] + self.K_shift[li] / self._fan_in(width)[li]

    def four_point(self, width=None, layer=None) -> np.ndarray:
        r"""Connected four-point function of one unit, (P, P, P, P): :math:`[V_{(12)(34)} + V_{(13)(24)} + V_{(14)(23)}]/n_{l-1}`."""
        li = self._layer(layer)
        if li == 0:
            return np.zeros((self.P,) * 4)
        V = self.vertex(li + 1) / self._fan_in(width)[li]
        return V + V.transpose(0, 2, 1, 3) + V.transpose(0, 3, 2, 1)

    def _fan_in(self, width):
        return _result_fan_in(self, width)

    def to_dict(self) -> dict:
        return {"activation": self.activation.name, "sigma_w2": self.sigma_w2, "sigma_b2": self.sigma_b2,
                "depth": self.depth, "exact": self.exact, "K1": self.K1.tolist(), "K": self.K.tolist(),
                "K_shift": self.K_shift.tolist(), "pairs": [list(p) for p in self.pairs], "V": self.V.tolist(),
                "V_mask": self.V_mask.tolist(), "widths": None if self.widths is None else self.widths.tolist(),
                "info": self.info}


# --------------------------------------------------------------------------- recursion
def _pairs_closure(P, pairs):
    """Requested pairs -> (sorted pair list over unique inputs incl. all pairs, mask of requested blocks)."""
    allp = [(a, b) for a in range(P) for b in range(a, P)]
    pid = {p: i for i, p in enumerate(allp)}
    S = len(allp)
    mask = np.zeros((S, S), dtype=bool)
    for a, b in allp:  # two-input blocks: always (they drive K_shift)
        blk = [pid[(a, a)], pid[(b, b)], pid[(a, b)]]
        mask[np.ix_(blk, blk)] = True
    if pairs is None:
        mask[:] = True
    else:
        req = sorted({pid[p] for a, b in pairs for p in ((a, a), (b, b), (min(a, b), max(a, b)))})
        mask[np.ix_(req, req)] = True
    return allp, pid, mask


def multi_input_recursion(activation, sigma_w2, sigma_b2, depth, X=None, width=None, pairs=None, *, K1=None,
                          exact=False, nodes=None) -> MultiInputResult:
    r"""Finite-width recursion for P inputs: :math:`K^{(l)}`, :math:`V^{(l)}` over input quadruples, :math:`K^{(l)}_{\{1\}}`.

    Parameters
    ----------
    activation : str, Activation, SymPy expression or callable
        :math:`\phi` (:func:`statfield.get_activation`); needs :math:`\phi', \phi''` unless scale invariant.
    sigma_w2, sigma_b2 : float
        :math:`W\sim N(0,\sigma_w^2/n_{l-1})` (fan-in, > 0), :math:`b\sim N(0,\sigma_b^2)` (>= 0).
    depth : int
        Number of layers L >= 1.
    X : array (P, d_in) or (d_in,)
        Inputs; :math:`K^{(1)}_{\alpha\beta} = \sigma_b^2 + \sigma_w^2x_\alpha\cdot x_\beta/d_{in}`
        (``docs/conventions.md``). Or pass the kernel ``K1=`` (P, P) instead.
    width : int or sequence of int, optional
        :math:`n_l`; needed for unequal widths (factors :math:`n_l/n_{l-1}`), for ``exact=True`` and for the
        warning when depth/width > 0.1.
    pairs : sequence of (a, b), optional
        Compute the vertex only on the blocks :math:`V_{(ab)(cd)}` for requested pairs ``(a, b)``, ``(c, d)``
        (plus the diagonal pairs they need; the two-input blocks :math:`\{aa,bb,ab\}^2` of every pair are always
        computed, they drive :math:`K_{\{1\}}`). Default: every quadruple.
    exact : bool
        ``True``: the exact finite-width Wishart recursion (linear :math:`\phi` only; requires ``width``).
    nodes : dict, optional
        Overrides of :data:`DEFAULT_NODES` (quadrature of the three- and four-index Gaussian averages).

    Returns
    -------
    MultiInputResult

    Notes
    -----
    Identical inputs (:math:`K^{(1)}_{aa} = K^{(1)}_{bb} = K^{(1)}_{ab}`) have identical pre-activations at every
    layer; they are computed once and copied (exact, no singular kernels). Exactly collinear inputs of a
    scale-invariant activation (:math:`\rho = 1`) are exact as well (see the source).

    Cost per layer, with :math:`P_u` distinct inputs and :math:`S = P_u(P_u+1)/2` pairs: :math:`S` two-dimensional
    averages (closed forms for linear/ReLU-type, else one tensor rule per group of similar kernels for all of them,
    relative error ~1e-11, :func:`_rule_1d`),
    then one Gaussian average per distinct index multiset of the requested blocks — with all quadruples
    :math:`\binom{P_u}{3}\cdot 3` three-dimensional (:math:`m_3^3` nodes) and :math:`\binom{P_u}{4}`
    four-dimensional ones (:math:`m_4^4` nodes, :math:`m_4^3` for the scale-invariant class) — and an
    :math:`O(S^2)` update of :math:`V` by the symmetries :math:`V_{pp'} = V_{p'p}` and
    :math:`V_{(ab)(cd)} = V_{(ba)(cd)}`. ``info`` records the counts, the run time and a quadrature error estimate
    (the 3-/4-dimensional averages of the last layer recomputed with 4 more nodes per dimension).

    Raises
    ------
    ValueError
        Invalid parameters (named), ``exact=True`` for a non-linear activation.
    OverflowError
        (:class:`FiniteWidthOverflowError`) float64 overflow; the message names the layer.
    """
    t0 = time.perf_counter()
    act = get_activation(activation)
    sigma_w2, sigma_b2 = check_variances(sigma_w2, sigma_b2)
    depth = check_int(depth, "depth", minimum=1)
    K1m = _kernel_input(sigma_w2, sigma_b2, X, K1)
    widths = _widths(width, depth)
    nodes = _check_nodes(nodes)
    P = K1m.shape[0]
    if pairs is not None:
        try:
            pairs = [(int(a), int(b)) for a, b in pairs]
        except (TypeError, ValueError) as exc:
            raise ValueError(f"pairs must be a sequence of index pairs (a, b), got {pairs!r}") from exc
        if any(not (0 <= a < P and 0 <= b < P) for a, b in pairs):
            raise ValueError(f"pairs: indices must be in 0..{P - 1}, got {pairs!r}")
    linear = act.is_piecewise_linear and act.a_plus == act.a_minus
    if exact:
        if not linear:
            raise ValueError(f"exact=True needs a linear activation (phi = a z) for several inputs; activation "
                             f"{act.name!r} has the leading-order recursion (exact=False)")
        if widths is None:
            raise ValueError("width must be given (integer >= 1 or one per layer) when exact=True")
    elif depth > 2:
        _warn_expansion(depth, widths)
    uniq, inv = _dedupe(K1m)
    Ku = K1m[np.ix_(uniq, uniq)]
    upairs = None if pairs is None else [(inv[a], inv[b]) for a, b in pairs]
    if exact:
        Ku_all, Vu, mask, allp, info = _linear_exact(act, sigma_w2, sigma_b2, depth, Ku, widths, upairs)
        Ksu = np.zeros_like(Ku_all)
    else:
        Ku_all, Vu, Ksu, mask, allp, info = _lo_multi(act, sigma_w2, sigma_b2, depth, Ku, widths, upairs, nodes)
    # expand to the original inputs
    Kout = Ku_all[:, inv][:, :, inv]
    Ksout = Ksu[:, inv][:, :, inv]
    upid = {p: i for i, p in enumerate(allp)}
    opairs = [(a, b) for a in range(P) for b in range(a, P)]
    sel = np.array([upid[tuple(sorted((inv[a], inv[b])))] for a, b in opairs])
    Vout = Vu[:, sel][:, :, sel]
    Mout = mask[np.ix_(sel, sel)]
    if pairs is not None:  # report only the requested rows (plus the pairs they need)
        keep = sorted({opairs.index(p) for a, b in pairs for p in ((a, a), (b, b), (min(a, b), max(a, b)))}
                      | {i for i, (a, b) in enumerate(opairs) if a == b})
        opairs = [opairs[i] for i in keep]
        Vout, Mout = Vout[:, keep][:, :, keep], Mout[np.ix_(keep, keep)]
    Vout = np.where(Mout, Vout, 0.0)
    info.update(seconds=time.perf_counter() - t0, distinct_inputs=len(uniq))
    return MultiInputResult(act, sigma_w2, sigma_b2, depth, K1m, Kout, Ksout, opairs, Vout, Mout, widths, exact, info)


def _multisets(allp, mask):
    """Distinct sorted index quadruples of the masked blocks, and their inverse map over the masked entries."""
    ii, jj = np.nonzero(np.triu(mask))
    A = np.array(allp)
    quads = np.sort(np.concatenate([A[ii], A[jj]], axis=1), axis=1)
    uq, inv = np.unique(quads, axis=0, return_inverse=True)
    return ii, jj, uq, inv.reshape(-1)


def _lo_multi(act, sigma_w2, sigma_b2, depth, K1, widths, pairs, nodes):
    P = K1.shape[0]
    allp, pid, mask = _pairs_closure(P, pairs)
    S = len(allp)
    A = np.array(allp)
    diag = A[:, 0] == A[:, 1]
    off = np.nonzero(~diag)[0]
    ii, jj, uq, qinv = _multisets(allp, mask)
    ndist = np.array([len(set(q)) for q in uq.tolist()])
    hi = np.nonzero(ndist >= 3)[0]
    K = np.empty((depth, P, P))
    V = np.zeros((depth, S, S))
    Ks = np.zeros((depth, S))
    K[0] = K1
    sw4 = sigma_w2 * sigma_w2
    # neighbour entries (aa, bb, ab) of every pair
    nb = np.stack([[pid[(a, a)], pid[(b, b)], pid[(a, b)]] for a, b in allp])
    quad_err = 0.0
    # where the one- and two-index four-point averages come from (gaussian_moments / _pair_quantities)
    da = A[diag, 0]
    diag_pos = {int(a): i for i, a in enumerate(da)}
    off_pos = {pid_: i for i, pid_ in enumerate(off.tolist())}
    one_t, one_pos, two = [], [], {}
    for t in np.nonzero(ndist <= 2)[0]:
        els, cnt = np.unique(uq[t], return_counts=True)
        if len(els) == 1:
            one_t.append(t)
            one_pos.append(diag_pos[int(els[0])])
        else:
            two.setdefault(tuple(int(c) for c in cnt), []).append((t, off_pos[pid[(int(els[0]), int(els[1]))]]))
    one_t, one_pos = np.array(one_t, dtype=int), np.array(one_pos, dtype=int)
    two_src = {k: (np.array([t for t, _ in v]), np.array([p for _, p in v])) for k, v in two.items()}
    for l in range(depth - 1):
        Kl = K[l]
        # two-dimensional quantities
        kvec = np.empty(S)
        Jm = np.zeros((S, 3))
        Hm = np.zeros((S, 3, 3))
        gm = gaussian_moments(act, Kl[da, da])
        kvec[diag] = gm["g"]
        Jm[diag, 0] = gm["dg"]
        Hm[diag, 0, 0] = gm["d2g"]
        k_off, J_off, H_off, mom = _pair_quantities(act, Kl, A[off, 0], A[off, 1], nodes)
        kvec[off], Jm[off], Hm[off] = k_off, J_off, H_off
        # four-point moments of the masked multisets
        M4 = np.empty(len(uq))
        M4[one_t] = gm["g4"][one_pos]
        for key, (tt, pos) in two_src.items():
            M4[tt] = mom[key][pos]
        if hi.size:
            M4[hi] = _four_point(act, Kl, uq[hi], nodes)
            if l == depth - 2:
                sample = hi[:: max(1, hi.size // 16)]
                finer = {"pwl": nodes["pwl"] + 4, "eps": nodes["eps"] * 1e-3}
                fine = _four_point(act, Kl, uq[sample], finer)
                # relative to the Cauchy-Schwarz scale prod_i <phi_i^4>^(1/4) of each average
                g4 = np.empty(P)
                g4[da] = gm["g4"]
                scale = np.prod(np.abs(g4[uq[sample]]) ** 0.25, axis=1)
                quad_err = float(np.max(np.abs(fine - M4[sample]) / np.maximum(scale, 1e-300)))
        C = np.zeros((S, S))
        C[ii, jj] = M4[qinv] - kvec[ii] * kvec[jj]
        C[jj, ii] = C[ii, jj]
        # Jacobian over all pairs (dense S x S, three entries per row)
        ratio = 1.0 if (widths is None or l == 0) else widths[l] / widths[l - 1]
        with np.errstate(over="ignore", invalid="ignore"):
            K[l + 1][A[:, 0], A[:, 1]] = sigma_b2 + sigma_w2 * kvec
            K[l + 1][A[:, 1], A[:, 0]] = K[l + 1][A[:, 0], A[:, 1]]
            # J V J^T with the three non-zero entries per row of J (no dense products)
            JV = sum(Jm[:, c, None] * V[l][nb[:, c], :] for c in range(3))
            JVJ = sum(JV[:, nb[:, c]] * Jm[None, :, c] for c in range(3))
            Vn = sw4 * C + ratio * sw4 * JVJ
            V[l + 1] = np.where(mask, 0.5 * (Vn + Vn.T), 0.0)
            Vblk = V[l][nb[:, :, None], nb[:, None, :]]  # (S, 3, 3): V on (aa, bb, ab)^2 of every pair
            JK = sum(Jm[:, c] * Ks[l][nb[:, c]] for c in range(3))
            Ks[l + 1] = ratio * (sigma_w2 * JK + 0.5 * sigma_w2 * np.einsum("sef,sef->s", Hm, Vblk))
        for name, arr in (("K", K[l + 1]), ("V", V[l + 1]), ("K_shift", Ks[l + 1])):
            if not np.all(np.isfinite(arr)):
                raise FiniteWidthOverflowError(f"the multi-input recursion overflows float64 at layer {l + 2} "
                                               f"({name}); reduce depth (at most {l + 1} here) or sigma_w2")
    if quad_err > _QUAD_WARN:
        warnings.warn(f"multi_input_recursion: quadrature error estimate {quad_err:.1e} (relative to prod <phi^4>^(1/4)) of the 3-/4-point "
                      f"Gaussian averages (nodes={nodes}); pass larger nodes= for more accuracy", QuadratureWarning,
                      stacklevel=3)
    Ksm = np.zeros((depth, P, P))
    Ksm[:, A[:, 0], A[:, 1]] = Ks
    Ksm[:, A[:, 1], A[:, 0]] = Ks
    n2 = int(np.sum(ndist == 2))
    info = {"nodes": nodes, "quad_error": quad_err, "pairs": S,
            "integrals_per_layer": {"1d": int(P), "2d": int(off.size), "3d": int(np.sum(ndist == 3)),
                                    "4d": int(np.sum(ndist == 4)), "2d_four_point": n2},
            "vertex_entries": int(np.count_nonzero(np.triu(mask)))}
    return K, V, Ksm, mask, allp, info


# --------------------------------------------------------------------------- exact (linear)
def linear_exact_moments(sigma_w2, sigma_b2, depth, K1, width, slope=1.0):
    r"""Exact first and second moments of the metric of a linear network (:math:`\phi = a z`), any width, P inputs.

    Given layer :math:`l`, :math:`\hat G^{(l+1)} = \sigma_b^2\mathbf 1\mathbf 1^\top + \frac{\sigma_w^2a^2}{n_l}W`
    with :math:`W\sim\mathrm{Wishart}_P(n_l, \hat G^{(l)})` exactly, and
    :math:`\mathbb E[W_{ab}W_{cd}\,|\,G] = n^2G_{ab}G_{cd} + n(G_{ac}G_{bd} + G_{ad}G_{bc})`. Hence, with
    :math:`c = \sigma_w^2a^2`, :math:`M^{(l)} = \mathbb E\hat G^{(l)}` and :math:`M_2^{(l)}{}_{abcd} = \mathbb E[\hat G_{ab}\hat G_{cd}]`:

    .. math:: M^{(l+1)} = \sigma_b^2 + cM^{(l)},\qquad
              M_2^{(l+1)}{}_{abcd} = \sigma_b^4 + \sigma_b^2 c(M_{ab} + M_{cd})
              + c^2\Big[M_{2,abcd} + \frac{M_{2,acbd} + M_{2,adbc}}{n_l}\Big].

    Returns ``(M (depth, P, P), M2 (depth, P, P, P, P))``; :math:`\mathbb E[z_az_bz_cz_d] = M_{2,abcd} + M_{2,acbd} + M_{2,adbc}`.
    """
    sigma_w2, sigma_b2 = check_variances(sigma_w2, sigma_b2)
    depth = check_int(depth, "depth", minimum=1)
    K1 = np.asarray(K1, dtype=float)
    widths = _widths(width, depth)
    if widths is None:
        raise ValueError("width must be given (integer >= 1 or one per layer)")
    c = sigma_w2 * float(slope) ** 2
    P = K1.shape[0]
    M = np.empty((depth, P, P))
    M2 = np.empty((depth, P, P, P, P))
    M[0] = K1
    M2[0] = np.einsum("ab,cd->abcd", K1, K1)
    with np.errstate(over="ignore", invalid="ignore"):
        for l in range(depth - 1):
            n = float(widths[l])
            m2 = M2[l]
            M[l + 1] = sigma_b2 + c * M[l]
            M2[l + 1] = (sigma_b2**2 + sigma_b2 * c * (M[l][:, :, None, None] + M[l][None, None, :, :])
                         + c * c * (m2 + (m2.transpose(0, 2, 1, 3) + m2.transpose(0, 3, 2, 1)) / n))
            if not (np.all(np.isfinite(M[l + 1])) and np.all(np.isfinite(M2[l + 1]))):
                raise FiniteWidthOverflowError(f"the exact linear recursion overflows float64 at layer {l + 2}; "
                                               f"reduce depth (at most {l + 1} here) or sigma_w2")
    return M, M2


def _linear_exact(act, sigma_w2, sigma_b2, depth, K1, widths, pairs):
    P = K1.shape[0]
    allp, _, mask = _pairs_closure(P, pairs)
    M, M2 = linear_exact_moments(sigma_w2, sigma_b2, depth, K1, widths, slope=float(act.a_plus))
    A = np.array(allp)
    cov = M2 - np.einsum("lab,lcd->labcd", M, M)
    V = cov[:, A[:, 0], A[:, 1]][:, :, A[:, 0], A[:, 1]]
    n_in = _fan_in(widths)
    V[0] = 0.0
    V[1:] *= n_in[1:, None, None]
    info = {"nodes": None, "quad_error": 0.0, "pairs": len(allp), "integrals_per_layer": {},
            "vertex_entries": int(np.count_nonzero(np.triu(mask)))}
    return M, V, mask, allp, info


# --------------------------------------------------------------------------- connected four-point function
def connected_four_point(activation, sigma_w2, sigma_b2, X, depth, width, *, nodes=None) -> np.ndarray:
    r"""Connected four-point function of one unit of layer ``depth``, shape (P, P, P, P).

    Entries :math:`\mathbb E[z_i(x_a)z_i(x_b)z_i(x_c)z_i(x_d)] - (\text{the three pairings of }\mathbb E[z_iz_i])`.
    Exactly (conditional Gaussianity) this equals :math:`\mathrm{Cov}(\hat G_{ab},\hat G_{cd}) + \mathrm{Cov}(\hat G_{ac},
    \hat G_{bd}) + \mathrm{Cov}(\hat G_{ad},\hat G_{bc})` of the metric of layer ``depth``:

    * ``depth = 1``: 0 (the first layer is Gaussian);
    * ``depth = 2`` (one hidden layer): **exact at every width**, :math:`\frac{\sigma_w^4}{n_1}\big[3\text{-term
      symmetrisation of } \langle\phi_a\phi_b\phi_c\phi_d\rangle - \langle\phi_a\phi_b\rangle\langle\phi_c\phi_d\rangle\big]_{K^{(1)}}`
      (hidden units independent given the input; Halverson, Maiti & Stoner, arXiv:2008.08601);
    * linear :math:`\phi`: exact at every width and depth (Wishart recursion, :func:`linear_exact_moments`);
    * otherwise leading order in :math:`1/n`, :math:`[V_{(ab)(cd)} + V_{(ac)(bd)} + V_{(ad)(bc)}]/n_{l-1}`
      (PDLT §4.3; :func:`multi_input_recursion`), with a :class:`FiniteWidthWarning` when depth/width > 0.1.

    ``X``: inputs (P, d_in) or (d_in,); ``width``: int or one per layer (required). For one input the result
    (1, 1, 1, 1) is :math:`3V/n` (and the excess kurtosis times :math:`K^2`).
    """
    act = get_activation(activation)
    depth = check_int(depth, "depth", minimum=1)
    if width is None:
        raise ValueError("width must be given (an integer >= 1 or one per layer)")
    widths = _widths(width, depth)
    linear = act.is_piecewise_linear and act.a_plus == act.a_minus
    res = multi_input_recursion(act, sigma_w2, sigma_b2, depth, X, widths, exact=linear, nodes=nodes)
    return res.four_point(widths, depth)

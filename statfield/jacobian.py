r"""Input–output Jacobians of deep random networks: mean squared singular value, free-probability spectra, and
finite-width log-normal fluctuations.

Network and conventions (docs/conventions.md): :math:`z^{l+1} = W^{l+1}\phi(z^l) + b^{l+1}`,
:math:`W_{ij}\sim N(0,\sigma_w^2/N)` (fan-in; or :math:`W = \sigma_w O` with Haar-orthogonal :math:`O`),
:math:`b_i\sim N(0,\sigma_b^2)`, all widths :math:`N`. The Jacobian across ``depth`` layers in the bulk
(pre-activations at the fixed point :math:`q^*`, or at a given ``q``) is

.. math:: J = \frac{\partial z^{l_0+L}}{\partial z^{l_0}} = \prod_{k=1}^{L} W^{l_0+k}D^{l_0+k-1},\qquad
          D^l = \mathrm{diag}\,\phi'(z^l).

* **Mean squared singular value** (Poole et al. 2016; Schoenholz et al. 2017):
  :math:`\frac1N\mathbb E\,\mathrm{tr}\,JJ^\top = \chi_1^L`, :math:`\chi_1 = \sigma_w^2\langle\phi'(z)^2\rangle_{q^*}`.
* **Spectrum at infinite width** by free probability (Pennington, Schoenholz & Ganguli 2017, arXiv:1711.04735,
  Eq. 7–11): the S-transform multiplies, :math:`S_{JJ^\top} = \prod_k S_{D_k^2}S_{W_k^\top W_k}`, with
  :math:`S_{W^\top W}(m) = 1/(\sigma_w^2(1+m))` (Gaussian) or :math:`1/\sigma_w^2` (orthogonal). Expanding
  :math:`S(m) = \mu_1^{-1}(1 - \frac{\mu_2-\mu_1^2}{\mu_1^2}m + \dots)` gives, for **any** activation, the exact
  relative variance of the squared singular values

  .. math:: \frac{\mathrm{Var}\,\lambda}{(\mathbb E\lambda)^2} = L\,(\kappa_D + s_W),\qquad
            \kappa_D = \frac{\langle\phi'^4\rangle}{\langle\phi'^2\rangle^2} - 1,\quad
            s_W = 1\ (\text{Gaussian}),\ 0\ (\text{orthogonal}),

  so dynamical isometry needs orthogonal weights and :math:`\kappa_D\to0` (:func:`jacobian_moments`). For linear
  and ReLU-type activations the defining equation :math:`z\,m\,S_{JJ^\top}(m) = 1+m` is polynomial and the full
  density :math:`\rho(\lambda) = -\frac1\pi\mathrm{Im}\,G(\lambda+i0)`, :math:`G = (1+m)/z`, follows from its roots
  (:func:`jacobian_spectral_density`).
* **Finite width** (Hanin & Nica 2018, arXiv:1812.05994): for :math:`\phi = a\,\mathrm{ReLU}` at
  :math:`\sigma_b^2 = 0`, :math:`\|Ju\|^2/\|u\|^2` is a product of independent layer factors
  :math:`(a^2\sigma_w^2/N)\chi^2_{k}` with :math:`k\sim\mathrm{Bin}(N,\frac12)` (the exact law of the forward
  :math:`q` chain, :func:`statfield.finite_width.log_q_moments`), so :math:`\ln\|Ju\|^2` is a sum of ``depth``
  i.i.d. terms — log-normal at large depth with variance growing like depth/N (:func:`log_jacobian_norm_moments`;
  checked by Monte Carlo in the tests).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._checks import check_finite, check_int, check_positive, check_variances
from .activations import get_activation

__all__ = ["jacobian_moments", "JacobianMoments", "jacobian_spectral_density", "log_jacobian_norm_moments",
           "sample_jacobian_spectrum", "sample_log_jacobian_norm"]

_WEIGHTS = ("gaussian", "orthogonal")


def _check_weights(weights):
    if weights not in _WEIGHTS:
        raise ValueError(f"weights must be one of {_WEIGHTS}, got {weights!r}")
    return weights


@dataclass(frozen=True)
class JacobianMoments:
    r"""Moments of the squared singular values :math:`\lambda` of :math:`J` at infinite width.

    ``mean`` = :math:`\chi_1^L`; ``relative_variance`` = :math:`\mathrm{Var}\lambda/(\mathbb E\lambda)^2`;
    ``chi1``, ``kappa_D`` and ``q`` (the pre-activation variance used).
    """

    mean: float
    relative_variance: float
    chi1: float
    kappa_D: float
    q: float
    depth: int
    weights: str


def _phi_prime_moments(act, q):
    """<phi'^2>, <phi'^4> at pre-activation variance q (closed form for piecewise linear, quadrature otherwise)."""
    if act.is_piecewise_linear:
        a2 = 0.5 * (act.a_plus**2 + act.a_minus**2)
        a4 = 0.5 * (act.a_plus**4 + act.a_minus**4)
        return a2, a4
    from .quadrature import expect

    def d2(x):
        d = act.derivative(x, np)
        return d * d

    def d4(x):
        d = act.derivative(x, np)
        return (d * d) ** 2

    m2, m4 = float(expect(d2, q)), float(expect(d4, q))
    if not (math.isfinite(m2) and math.isfinite(m4)) or m2 <= 0:
        raise ValueError(f"activation {act.name!r}: <phi'^2> = {m2} at q = {q}: the Jacobian moments are undefined")
    return m2, m4


def jacobian_moments(activation, sigma_w2, sigma_b2, depth, weights="gaussian", q=None) -> JacobianMoments:
    r"""Mean and relative variance of the squared singular values of the bulk Jacobian (infinite width, exact).

    .. math:: \mathbb E\lambda = \chi_1^L,\qquad \frac{\mathrm{Var}\lambda}{(\mathbb E\lambda)^2} = L(\kappa_D + s_W)

    (module docstring; Pennington, Schoenholz & Ganguli 2017). ``q`` defaults to the fixed point :math:`q^*`.
    """
    act = get_activation(activation)
    sigma_w2, sigma_b2 = check_variances(sigma_w2, sigma_b2)
    depth = check_int(depth, "depth", minimum=1)
    weights = _check_weights(weights)
    if q is None:
        if act.is_piecewise_linear:
            q = 1.0  # the moments of phi' do not depend on q for piecewise-linear phi
        else:
            from .meanfield import q_star

            q = float(q_star(act, sigma_w2, sigma_b2))
    q = check_positive(q, "q")
    m2, m4 = _phi_prime_moments(act, q)
    chi = sigma_w2 * m2
    kappa = m4 / (m2 * m2) - 1.0
    log_mean = depth * math.log(chi)
    if log_mean > 700:
        raise OverflowError(f"chi1^depth = exp({log_mean:.4g}) overflows float64 (chi1 = {chi:.6g}, depth = {depth})")
    return JacobianMoments(math.exp(log_mean), depth * (kappa + (1.0 if weights == "gaussian" else 0.0)), chi,
                           kappa, q, depth, weights)


def _layer_polynomials(act, sigma_w2, weights):
    """(c, P, Q) with S_{D^2} S_W = c P(m)/Q(m) (numpy.polynomial coefficient arrays, increasing powers)."""
    ap, am = act.a_plus, act.a_minus
    if ap == am:  # linear up to scale: D^2 = a^2
        a2 = ap * ap
        if weights == "gaussian":
            return 1.0 / (a2 * sigma_w2), np.array([1.0]), np.array([1.0, 1.0])
        return 1.0 / (a2 * sigma_w2), np.array([1.0]), np.array([1.0])
    if am == 0.0 or ap == 0.0:  # ReLU type: D^2 = a^2 with probability 1/2, else 0
        a2 = (ap if am == 0.0 else am) ** 2
        c = 2.0 / (a2 * sigma_w2)
        if weights == "gaussian":
            return c, np.array([1.0]), np.array([1.0, 2.0])
        return c, np.array([1.0, 1.0]), np.array([1.0, 2.0])
    raise NotImplementedError(f"activation {act.name!r}: the free-probability density is implemented for linear and "
                              f"ReLU-type activations (a_minus = 0 or a_plus = a_minus); jacobian_moments works for any")


def jacobian_spectral_density(lam, activation, sigma_w2, depth, weights="gaussian"):
    r"""Density :math:`\rho(\lambda)` of the squared singular values of :math:`J` at infinite width (continuous part).

    Solves :math:`\lambda\,m\,S_{JJ^\top}(m) = 1+m` — a polynomial of degree :math:`\le 2L+1` in :math:`m` for
    linear and ReLU-type activations — and returns :math:`\rho = |\mathrm{Im}\,m|/(\pi\lambda)` on the physical
    branch, followed by continuation from :math:`\lambda\to\infty` (where :math:`m\simeq\mu_1/\lambda` is real)
    on a geometric grid of 20000 points, interpolated in :math:`\ln\lambda`. ReLU-type activations
    also have an atom of weight 1/2 at :math:`\lambda=0` (half the units are off), not included. For linear
    activations with orthogonal weights the spectrum is a single atom at :math:`(a^2\sigma_w^2)^L`: the density
    is 0 and a ``ValueError`` says so. Independent of :math:`\sigma_b^2` (the moments of :math:`\phi'` are).
    """
    act = get_activation(activation)
    if not act.is_piecewise_linear:
        raise NotImplementedError(f"activation {act.name!r}: the free-probability density is implemented for "
                                  f"piecewise-linear activations; use jacobian_moments for any activation")
    sigma_w2 = check_positive(sigma_w2, "sigma_w2")
    depth = check_int(depth, "depth", minimum=1, maximum=200)
    weights = _check_weights(weights)
    c, P, Q = _layer_polynomials(act, sigma_w2, weights)
    if len(P) == 1 and len(Q) == 1:
        raise ValueError("linear activation with orthogonal weights: every squared singular value equals "
                         f"{(act.a_plus**2 * sigma_w2) ** depth:.6g} (an atom, no density)")
    from numpy.polynomial import polynomial as Pn

    PL = Pn.polypow(P, depth) * c**depth
    QL = Pn.polypow(Q, depth)
    lam = np.asarray(check_finite(lam, "lam"), dtype=float)
    pos = lam[lam > 0]
    if pos.size == 0:
        return np.zeros(lam.shape)
    # physical branch by continuation: start far above the support (m ~ mu1/z, real) and follow the root
    # nearest to the previous one down a fine geometric grid; rho = |Im m|/(pi z) on that branch
    mu1 = (c ** -1) ** depth if len(P) == 1 else 1.0
    top = max(float(pos.max()), 1.0) * 1e3 * (depth + 1) * max(mu1, 1.0)
    grid = np.geomspace(top, max(float(pos.min()) * 0.5, 1e-12), 20000)
    m = complex(mu1 / top)
    rho_grid = np.empty(grid.size)
    for i, z in enumerate(grid):
        poly = Pn.polysub(Pn.polymul([0.0, z], PL), Pn.polymul([1.0, 1.0], QL))
        roots = Pn.polyroots(poly)
        m = roots[np.argmin(np.abs(roots - m))]
        rho_grid[i] = abs(m.imag) / (math.pi * z)
    out = np.zeros(lam.shape)
    inside = lam > 0
    out[inside] = np.interp(np.log(lam[inside]), np.log(grid[::-1]), rho_grid[::-1])
    return out


def log_jacobian_norm_moments(activation, sigma_w2, depth, width):
    r"""Exact mean and variance of :math:`\ln(\|Ju\|^2/\|u\|^2)` at finite width for ReLU-type :math:`\phi`, :math:`\sigma_b^2=0`.

    Each layer contributes an independent :math:`\ln(a^2\sigma_w^2\chi^2_k/N)`, :math:`k\sim\mathrm{Bin}(N,\frac12)`
    (Hanin & Nica 2018), so with :math:`\mathbb E\ln\chi^2_k = \psi(k/2)+\ln2`,
    :math:`\mathrm{Var}\ln\chi^2_k = \psi'(k/2)`, mixed over :math:`k\ge1` (the event :math:`k=0`, probability
    :math:`2^{-N}` per layer, gives :math:`J u = 0`; it is excluded and its probability returned).

    Returns
    -------
    dict
        ``mean``, ``var`` (per the whole depth), ``per_layer_mean``, ``per_layer_var``, ``p_dead``
        (probability that some layer has k = 0).
    """
    from scipy.special import digamma, polygamma
    from scipy.stats import binom

    act = get_activation(activation)
    if not (act.is_piecewise_linear and (act.a_minus == 0.0 or act.a_plus == 0.0) and act.a_plus != act.a_minus):
        raise NotImplementedError(f"activation {act.name!r}: exact finite-width Jacobian law implemented for "
                                  f"ReLU-type activations only")
    a2 = (act.a_plus if act.a_minus == 0.0 else act.a_minus) ** 2
    sigma_w2 = check_positive(sigma_w2, "sigma_w2")
    depth = check_int(depth, "depth", minimum=1)
    N = check_int(width, "width", minimum=1, maximum=10**7)
    k = np.arange(1, N + 1)
    p = binom.pmf(k, N, 0.5)
    p0 = 0.5**N
    p = p / p.sum()
    m_k = digamma(k / 2) + math.log(2.0) + math.log(a2 * sigma_w2 / N)
    v_k = polygamma(1, k / 2)
    mean1 = float(np.sum(p * m_k))
    var1 = float(np.sum(p * (v_k + m_k**2)) - mean1**2)
    return {"mean": depth * mean1, "var": depth * var1, "per_layer_mean": mean1, "per_layer_var": var1,
            "p_dead": float(-math.expm1(depth * math.log1p(-p0)))}


# ----------------------------------------------------------------------------- Monte Carlo (weight space)
def _orthogonal(rng, n, N):
    A = rng.standard_normal((n, N, N))
    Qm, R = np.linalg.qr(A)
    d = np.sign(np.diagonal(R, axis1=1, axis2=2))
    return Qm * d[:, None, :]  # Haar measure (Mezzadri 2007)


def _weights(rng, n, N, sigma_w2, weights):
    if weights == "gaussian":
        return rng.standard_normal((n, N, N)) * math.sqrt(sigma_w2 / N)
    return math.sqrt(sigma_w2) * _orthogonal(rng, n, N)


def sample_jacobian_spectrum(activation, sigma_w2, sigma_b2, width, depth, n_networks, weights="gaussian",
                             burn_in=20, seed=0):
    r"""Squared singular values of the bulk Jacobian of sampled finite networks (weight space, exact).

    The input is propagated ``burn_in`` layers (to reach the fixed point) and then :math:`J` is accumulated over
    ``depth`` layers. Returns an array ``(n_networks, width)``.
    """
    act = get_activation(activation)
    sigma_w2, sigma_b2 = check_variances(sigma_w2, sigma_b2)
    N = check_int(width, "width", minimum=1, maximum=4096)
    depth = check_int(depth, "depth", minimum=1)
    n = check_int(n_networks, "n_networks", minimum=1)
    weights = _check_weights(weights)
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, N))
    for _ in range(check_int(burn_in, "burn_in", minimum=0)):
        W = _weights(rng, n, N, sigma_w2, weights)
        z = np.einsum("nij,nj->ni", W, act(z, np)) + math.sqrt(sigma_b2) * rng.standard_normal((n, N))
    J = np.broadcast_to(np.eye(N), (n, N, N)).copy()
    for _ in range(depth):
        W = _weights(rng, n, N, sigma_w2, weights)
        D = act.derivative(z, np)
        J = W @ (D[:, :, None] * J)
        z = np.einsum("nij,nj->ni", W, act(z, np)) + math.sqrt(sigma_b2) * rng.standard_normal((n, N))
    s = np.linalg.svd(J, compute_uv=False)
    return s * s


def sample_log_jacobian_norm(activation, sigma_w2, width, depth, n_networks, seed=0, input_scale=1.0):
    r"""Samples of :math:`\ln(\|Ju\|^2/\|u\|^2)` with :math:`J = \partial z^{L}/\partial z^{0}`-type products
    :math:`\prod W D` of a zero-bias network started from a random input, and a random unit direction ``u``
    (forward-mode tangent propagation; exact)."""
    act = get_activation(activation)
    sigma_w2 = check_positive(sigma_w2, "sigma_w2")
    N = check_int(width, "width", minimum=1, maximum=4096)
    depth = check_int(depth, "depth", minimum=1)
    n = check_int(n_networks, "n_networks", minimum=1)
    rng = np.random.default_rng(seed)
    z = input_scale * rng.standard_normal((n, N))
    u = rng.standard_normal((n, N))
    out = np.log(np.sum(u * u, axis=1))
    for _ in range(depth):
        W = rng.standard_normal((n, N, N)) * math.sqrt(sigma_w2 / N)
        u = np.einsum("nij,nj->ni", W, act.derivative(z, np) * u)
        z = np.einsum("nij,nj->ni", W, act(z, np))
    with np.errstate(divide="ignore"):
        return np.log(np.sum(u * u, axis=1)) - out

r"""Initialisation schemes with unequal widths: forward and backward variance through the layers.

Network: :math:`z^1 = W^1x + b^1`, :math:`z^l = W^l\phi(z^{l-1}) + b^l`, widths :math:`N_0 = d_{in}, N_1, \dots, N_L`,
:math:`b^l_i\sim N(0,\sigma_b^2)`. The schemes differ in the variance :math:`v_l` of the entries of :math:`W^l`
(:math:`N_l\times N_{l-1}`):

============== ======================================== ==========================================================
scheme         :math:`v_l`                               also known as
============== ======================================== ==========================================================
``fan_in``     :math:`\sigma_w^2/N_{l-1}`               He et al. 2015 (statfield's convention everywhere else)
``fan_out``    :math:`\sigma_w^2/N_l`                   He et al. 2015, "fan_out" mode
``glorot``     :math:`2\sigma_w^2/(N_{l-1}+N_l)`        Glorot & Bengio 2010
``orthogonal`` :math:`\sigma_w^2/\max(N_l, N_{l-1})`    :math:`W = \sigma_w O`, O Haar semi-orthogonal (Saxe et al. 2014)
============== ======================================== ==========================================================

With uncorrelated entries (all four schemes), the per-unit second moments obey the mean-field recursions

.. math:: q^l = v_l N_{l-1}\,\langle\phi(z)^2\rangle_{q^{l-1}} + \sigma_b^2,\qquad
          g^{l-1} = v_l N_l\,\langle\phi'(z)^2\rangle_{q^{l-1}}\; g^l ,

for :math:`q^l = \mathbb E|z^l|^2/N_l` (forward) and the backpropagated signal
:math:`g^l = \mathbb E|\delta^l|^2/N_l`, :math:`\delta^{l-1} = D^{l-1}W^{l\top}\delta^l` (backward; gradient
independence, exact at infinite width — Schoenholz et al. 2017, arXiv:1611.01232, §4). The per-layer ratios are
therefore :math:`v_lN_{l-1}\langle\phi^2\rangle/q^{l-1}` forward and :math:`v_lN_l\langle\phi'^2\rangle` backward:
fan-in keeps the forward pass at :math:`\sigma_w^2\kappa` but multiplies the backward pass by
:math:`N_l/N_{l-1}`; fan-out does the opposite; Glorot splits the difference (it is exactly neutral in both
directions only when :math:`N_l = N_{l-1}`). For :math:`\phi = a_+z\theta(z)+a_-z\theta(-z)` and :math:`\sigma_b^2 = 0`
the forward recursion is exact for the mean at any width. The gradient of :math:`W^l_{ij}` has second moment
:math:`g^l\,\langle\phi(z^{l-1})^2\rangle` per entry (first layer: :math:`g^1 x_j^2`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._checks import check_finite, check_int, check_variances
from .activations import get_activation

__all__ = ["SCHEMES", "weight_variances", "variance_propagation", "VariancePropagation", "sample_variance_propagation"]

SCHEMES = ("fan_in", "fan_out", "glorot", "orthogonal")


def _widths(widths):
    w = [check_int(n, "widths", minimum=1) for n in np.asarray(widths).reshape(-1).tolist()]
    if len(w) < 2:
        raise ValueError(f"widths must list at least (d_in, N_1), got {widths!r}")
    return w


def weight_variances(widths, scheme="fan_in", sigma_w2=1.0) -> np.ndarray:
    r"""Entry variances :math:`v_l` of :math:`W^1..W^L` for ``widths`` :math:`(N_0, \dots, N_L)` (table in the module docstring)."""
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {SCHEMES}, got {scheme!r}")
    w = np.asarray(_widths(widths), dtype=float)
    sigma_w2, _ = check_variances(sigma_w2, 0.0)
    n_in, n_out = w[:-1], w[1:]
    if scheme == "fan_in":
        return sigma_w2 / n_in
    if scheme == "fan_out":
        return sigma_w2 / n_out
    if scheme == "glorot":
        return 2 * sigma_w2 / (n_in + n_out)
    return sigma_w2 / np.maximum(n_in, n_out)


@dataclass(frozen=True)
class VariancePropagation:
    """Mean-field forward ``q`` (l = 1..L), backward ``g`` (l = 1..L, ``g[-1]`` = 1) and per-layer ratios."""

    scheme: str
    widths: tuple
    q: np.ndarray
    g: np.ndarray
    forward_ratio: np.ndarray
    backward_ratio: np.ndarray
    weight_grad: np.ndarray


def _moments(act, q):
    if act.is_piecewise_linear:
        k = 0.5 * (act.a_plus**2 + act.a_minus**2)
        return k * q, k
    from .quadrature import expect

    m = float(expect(lambda x: act(x, np) ** 2, q))
    p = float(expect(lambda x: act.derivative(x, np) ** 2, q))
    return m, p


def variance_propagation(activation, widths, scheme="fan_in", sigma_w2=1.0, sigma_b2=0.0, x_sq=1.0) -> VariancePropagation:
    r"""Forward :math:`q^l` and backward :math:`g^l` second moments under an initialisation scheme (module docstring).

    Parameters
    ----------
    widths : sequence of int
        :math:`(N_0 = d_{in}, N_1, \dots, N_L)`.
    x_sq : float > 0
        :math:`|x|^2/d_{in}` of the input (so :math:`q^1 = v_1 N_0\,x\_sq + \sigma_b^2`).

    Returns
    -------
    VariancePropagation
        ``forward_ratio[l]`` = :math:`q^{l+1}/q^l` (l = 1..L-1; with :math:`\sigma_b^2 = 0`), ``backward_ratio[l]`` =
        :math:`g^{l}/g^{l+1}`, ``weight_grad[l]`` = second moment of one entry of :math:`\partial/\partial W^{l+1}`,
        normalised to :math:`g^L = 1`.
    """
    act = get_activation(activation)
    w = _widths(widths)
    v = weight_variances(w, scheme, sigma_w2)
    _, sigma_b2 = check_variances(sigma_w2, sigma_b2)
    x_sq = float(check_finite(x_sq, "x_sq"))
    if x_sq <= 0:
        raise ValueError(f"x_sq must be > 0, got {x_sq}")
    L = len(w) - 1
    q = np.empty(L)
    phi2 = np.empty(L)   # <phi^2> at layer l (input of layer l+1)
    dphi2 = np.empty(L)
    q[0] = v[0] * w[0] * x_sq + sigma_b2
    for l in range(L):
        phi2[l], dphi2[l] = _moments(act, q[l])
        if l + 1 < L:
            with np.errstate(over="ignore"):
                q[l + 1] = v[l + 1] * w[l + 1] * phi2[l] + sigma_b2
            if not math.isfinite(q[l + 1]):
                raise OverflowError(f"q overflows float64 at layer {l + 2}")
    g = np.empty(L)
    g[-1] = 1.0
    for l in range(L - 1, 0, -1):  # g^{l} = v_{l+1} N_{l+1} <phi'^2>_{q^l} g^{l+1}  (0-based: layer l+1 -> l)
        g[l - 1] = v[l] * w[l + 1] * dphi2[l - 1] * g[l]
    fwd = q[1:] / q[:-1]
    bwd = g[:-1] / g[1:]
    wg = np.concatenate([[g[0] * x_sq], g[1:] * phi2[:-1]])
    return VariancePropagation(scheme, tuple(w), q, g, fwd, bwd, wg)


def _layer_weights(rng, n, n_out, n_in, v, scheme):
    if scheme != "orthogonal":
        return rng.standard_normal((n, n_out, n_in)) * math.sqrt(v)
    big, small = max(n_out, n_in), min(n_out, n_in)
    A = rng.standard_normal((n, big, small))
    Qm, R = np.linalg.qr(A)
    Qm = Qm * np.sign(np.diagonal(R, axis1=1, axis2=2))[:, None, :]
    O = Qm if n_out >= n_in else np.swapaxes(Qm, 1, 2)
    return O * math.sqrt(v * big)  # sigma_w * O: entries of variance sigma_w2 / max(N_l, N_{l-1})


def sample_variance_propagation(activation, widths, scheme="fan_in", sigma_w2=1.0, sigma_b2=0.0, n_networks=256,
                                seed=0):
    r"""Monte Carlo of sampled networks (weight space): per network ``|z^l|^2/N_l`` and ``|delta^l|^2/N_l`` with
    :math:`\delta^L\sim N(0, I)` backpropagated, for an input with :math:`|x|^2/d_{in} = 1`.

    Returns
    -------
    (q, g) : arrays (n_networks, L)
        Per-network ``|z^l|^2/N_l`` and ``|delta^l|^2/N_l`` (``E g[:, -1] = 1``).
    """
    act = get_activation(activation)
    w = _widths(widths)
    v = weight_variances(w, scheme, sigma_w2)
    _, sigma_b2 = check_variances(sigma_w2, sigma_b2)
    n = check_int(n_networks, "n_networks", minimum=1)
    rng = np.random.default_rng(seed)
    L = len(w) - 1
    x = np.ones((n, w[0]))
    Ws, zs = [], []
    h = x
    for l in range(L):
        W = _layer_weights(rng, n, w[l + 1], w[l], v[l], scheme)
        z = np.einsum("nij,nj->ni", W, h) + math.sqrt(sigma_b2) * rng.standard_normal((n, w[l + 1]))
        Ws.append(W)
        zs.append(z)
        h = act(z, np)
    q = np.stack([np.sum(z * z, axis=1) / z.shape[1] for z in zs], axis=1)
    delta = rng.standard_normal((n, w[-1]))
    g = np.empty((n, L))
    g[:, -1] = np.sum(delta * delta, axis=1) / w[-1]  # E = 1 exactly
    for l in range(L - 1, 0, -1):
        delta = act.derivative(zs[l - 1], np) * np.einsum("nij,ni->nj", Ws[l], delta)
        g[:, l - 1] = np.sum(delta * delta, axis=1) / w[l]
    return q, g

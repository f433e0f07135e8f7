r"""The empirical neural tangent kernel of sampled finite-width networks, by an explicit forward/backward pass.

Network (NTK parameterisation; the same law at initialisation as the standard fan-in convention of
``docs/conventions.md``): trainable parameters :math:`\omega^l_{ij},\beta^l_i\sim N(0,1)` and

.. math:: z^1 = \sqrt{\sigma_w^2/d_\mathrm{in}}\,\omega^1 x + \sigma_b\beta^1,\qquad
          z^l = \sqrt{\sigma_w^2/N_{l-1}}\,\omega^l\phi(z^{l-1}) + \sigma_b\beta^l\quad(l = 2..L),

hidden widths :math:`N_1..N_{L-1}` and one output :math:`f(x) = z^L(x)` (:math:`N_L = 1`; one unit of a wider
layer has the same law). With the back-propagated sensitivities :math:`\delta^L = 1`,
:math:`\delta^{l}_i(x) = \phi'(z^l_i(x))\sum_j\sqrt{\sigma_w^2/N_l}\,\omega^{l+1}_{ji}\delta^{l+1}_j(x)` and
:math:`h^0 = x`, :math:`h^l = \phi(z^l)`, the NTK :math:`\hat\Theta(x,x') = \sum_\theta\partial_\theta f(x)\,
\partial_\theta f(x')` is exactly

.. math:: \hat\Theta(x,x') = \sum_{l=1}^{L}\bigl[\delta^l(x)\cdot\delta^l(x')\bigr]\,
          \Bigl[\sigma_b^2 + \frac{\sigma_w^2}{N_{l-1}}\,h^{l-1}(x)\cdot h^{l-1}(x')\Bigr]

(the weight term of layer :math:`l` factorises into the product of the two Gram matrices; Jacot et al. 2018,
arXiv:1806.07572, Proof of Thm. 1; Arora et al. 2019, arXiv:1904.11955, Eq. 8). Its expectation tends to
``meanfield.ntk_kernel(..., depth=L)`` as the widths grow. No autodiff framework and no Jacobian
(P x number of parameters) is formed: after the forward pass (:math:`O(L N^2 P)`, shared with training) the
kernel costs :math:`O(L N P^2)` time; memory is :math:`O(L N P)` for the stored activations of one network
(plus its weights), times the batch of networks, which is vectorised in the array API (NumPy, CuPy,
array-api-strict).
"""

from __future__ import annotations

import math

import numpy as np

from .._checks import check_int, check_variances
from ..activations import get_activation

__all__ = [
    "backward",
    "empirical_ntk",
    "forward",
    "init_parameters",
    "network_widths",
    "ntk_from_pass",
    "parameter_count",
]


def network_widths(width, depth) -> list[int]:
    """Layer widths ``[N_1, ..., N_{L-1}, 1]`` (hidden widths from ``width``, scalar output).

    ``width`` is an int (all hidden layers) or a sequence of ``depth - 1`` ints.
    """
    depth = check_int(depth, "depth", minimum=1)
    if isinstance(width, (int, np.integer)) and not isinstance(width, bool):
        hidden = [check_int(width, "width", minimum=1)] * (depth - 1)
    else:
        try:
            hidden = [check_int(w, "width", minimum=1) for w in width]
        except TypeError:
            raise ValueError(f"width must be a positive integer or a sequence of depth - 1 = {depth - 1} "
                             f"positive integers, got {width!r}") from None
        if len(hidden) != depth - 1:
            raise ValueError(f"width: a sequence of hidden widths must have length depth - 1 = {depth - 1}, "
                             f"got {len(hidden)}")
    return hidden + [1]


def parameter_count(widths, d_in) -> int:
    """Number of trainable parameters of one network."""
    fan, total = int(d_in), 0
    for N in widths:
        total += N * fan + N
        fan = N
    return total


def init_parameters(rng, n, widths, d_in):
    r"""Draw ``n`` networks: a list over layers of ``(omega (n, N_l, N_{l-1}), beta (n, N_l, 1))``, all
    :math:`N(0,1)` (NTK parameterisation), drawn from ``rng`` (a :class:`statfield.sampling.backend.BackendRNG`)
    layer by layer, weights before biases."""
    params, fan = [], int(d_in)
    for N in widths:
        W = rng.standard_normal((int(n), int(N), fan))
        b = rng.standard_normal((int(n), int(N), 1))
        params.append((W, b))
        fan = int(N)
    return params


def forward(params, X, activation, sigma_w2, sigma_b2, xp):
    r"""Forward pass of a batch of networks on inputs ``X`` (array (P, d_in) of namespace ``xp``).

    Returns ``(zs, hs)``: ``zs[l]`` is :math:`z^{l+1}` of shape ``(n, N_{l+1}, P)``; ``hs[l]`` is the layer input
    :math:`h^{l}` (``hs[0] = X^T`` of shape ``(d_in, P)``, shared, then ``(n, N_l, P)``). The output is
    ``zs[-1][:, 0, :]``.
    """
    act = get_activation(activation)
    h = xp.matrix_transpose(X)
    zs, hs = [], [h]
    sb = math.sqrt(sigma_b2)
    for l, (W, b) in enumerate(params):
        fan = W.shape[2]
        z = math.sqrt(sigma_w2 / fan) * xp.matmul(W, h) + sb * b
        zs.append(z)
        if l + 1 < len(params):
            h = act(z, xp)
            hs.append(h)
    return zs, hs


def backward(params, zs, activation, sigma_w2, xp, seed=None):
    r"""Back-propagated sensitivities :math:`\delta^l = \partial(\sum_\alpha s_\alpha f(x_\alpha))/\partial z^l`
    for the output seed ``s`` (``(n, P)``; ``None`` means :math:`\delta^L = 1` per input, i.e. the Jacobian rows).

    Returns a list ``deltas[l]`` of shape ``(n, N_{l+1}, P)`` for :math:`l = 0..L-1`.
    """
    act = get_activation(activation)
    n, _, P = zs[-1].shape
    d = xp.ones((n, 1, P), dtype=zs[-1].dtype) if seed is None else xp.reshape(seed, (n, 1, P))
    deltas = [d]
    for l in range(len(params) - 1, 0, -1):
        W = params[l][0]
        fan = W.shape[2]
        d = act.derivative(zs[l - 1], xp) * (math.sqrt(sigma_w2 / fan) * xp.matmul(xp.matrix_transpose(W), d))
        deltas.append(d)
    deltas.reverse()
    return deltas


def _gram(A, B, xp):
    """``A^T B`` per network for ``A (n, N, Pa)``, ``B (n, N, Pb)`` (or shared 2-D inputs)."""
    return xp.matmul(xp.matrix_transpose(A), B)


def ntk_from_pass(hs, deltas, sigma_w2, sigma_b2, xp, cols=None):
    r"""Assemble :math:`\hat\Theta = \sum_l (\delta^{l\top}\delta^l)\circ(\sigma_b^2 + \sigma_w^2 h^{l-1\top}h^{l-1}/N_{l-1})`.

    ``cols`` (a slice) restricts the second argument to a subset of the inputs (cross kernels).
    Returns ``(n, P, P_cols)``.
    """
    theta = None
    for l, d in enumerate(deltas):
        h = hs[l]
        hc = h if cols is None else h[..., cols]
        dc = d if cols is None else d[..., cols]
        G = sigma_b2 + (sigma_w2 / h.shape[-2]) * _gram(h, hc, xp)
        D = _gram(d, dc, xp)
        term = D * G
        theta = term if theta is None else theta + term
    return theta


def empirical_ntk(params, X, activation, sigma_w2, sigma_b2, X2=None, xp=None):
    r"""Empirical NTK :math:`\hat\Theta(X, X_2)` of a batch of networks (see the module docstring).

    Parameters
    ----------
    params : list of (omega, beta)
        From :func:`init_parameters` (or trained): ``omega`` (n, N_l, N_{l-1}), ``beta`` (n, N_l, 1), last layer
        of width 1.
    X : array (P, d_in)
    activation : str or Activation
    sigma_w2 : float > 0
        Weight variance per fan-in.
    sigma_b2 : float >= 0
    X2 : array (P2, d_in), optional
        Second set of inputs (default ``X``).
    xp : namespace, optional
        Array namespace (default: that of ``params``).

    Returns
    -------
    array (n, P, P2)
        :math:`\sum_\theta \partial_\theta f(x_\alpha)\partial_\theta f(x'_\beta)` per network, float64.
    """
    from .._xp import namespace_of

    act = get_activation(activation)
    sigma_w2, sigma_b2 = check_variances(sigma_w2, sigma_b2)
    xp = namespace_of(params[0][0], xp=xp)
    Xn = np.asarray(X, dtype=np.float64)
    if Xn.ndim != 2 or Xn.shape[1] != params[0][0].shape[2]:
        raise ValueError(f"X must have shape (P, d_in={params[0][0].shape[2]}), got {Xn.shape}")
    if not np.all(np.isfinite(Xn)):
        raise ValueError("X must be finite (it contains NaN or inf)")
    P = Xn.shape[0]
    cols = None
    if X2 is not None:
        X2n = np.asarray(X2, dtype=np.float64)
        if X2n.ndim != 2 or X2n.shape[1] != Xn.shape[1]:
            raise ValueError(f"X2 must have shape (P2, d_in={Xn.shape[1]}), got {X2n.shape}")
        if not np.all(np.isfinite(X2n)):
            raise ValueError("X2 must be finite (it contains NaN or inf)")
        Xn = np.concatenate([Xn, X2n], axis=0)
        cols = slice(P, Xn.shape[0])
    Xa = xp.asarray(Xn)
    zs, hs = forward(params, Xa, act, sigma_w2, sigma_b2, xp)
    deltas = backward(params, zs, act, sigma_w2, xp)
    if cols is None:
        return ntk_from_pass(hs, deltas, sigma_w2, sigma_b2, xp)
    hs_a = [h[..., :P] for h in hs]
    ds_a = [d[..., :P] for d in deltas]
    th = None
    for l, d in enumerate(deltas):
        h = hs[l]
        G = sigma_b2 + (sigma_w2 / h.shape[-2]) * _gram(hs_a[l], h[..., cols], xp)
        term = _gram(ds_a[l], d[..., cols], xp) * G
        th = term if th is None else th + term
    return th

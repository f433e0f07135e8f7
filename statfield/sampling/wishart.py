r"""Wishart chains for linear networks: the P×P Gram matrices layer by layer, cost independent of the width.

Conventions (``docs/conventions.md``, "Network and parameterisation"): :math:`z^l = W^l\phi(z^{l-1}) + b^l`,
:math:`W^l_{ij}\sim N(0,\sigma_w^2/N_{l-1})`, :math:`b^l_i\sim N(0,\sigma_b^2)`, first layer
:math:`\Sigma^1 = \sigma_b^2 + \sigma_w^2 X X^\top/d_{in}`. For a *linear* activation :math:`\phi(z) = a z`
the conditional kernel of layer :math:`l` depends on layer :math:`l-1` only through its Gram matrix
:math:`\mathrm{gram}^{l-1} = z^{l-1\top}z^{l-1}/N_{l-1}`:

.. math:: \Sigma^l = \sigma_b^2 + \sigma_w^2 a^2\,\mathrm{gram}^{l-1}

and, given :math:`\Sigma^l`, the :math:`N_l` rows of :math:`z^l` are i.i.d. :math:`N(0,\Sigma^l)`
(arXiv:1710.06570 Eq. 9), so

.. math:: N_l\,\mathrm{gram}^l \mid \Sigma^l \sim W_P(N_l, \Sigma^l)

exactly (a Markov chain of P×P matrices). We sample it with the Bartlett decomposition (Bartlett 1933;
e.g. Anderson, *An Introduction to Multivariate Statistical Analysis*, 3rd ed., Thm. 7.2.1): for
:math:`N_l\ge P`, :math:`W = (LA)(LA)^\top` with :math:`LL^\top = \Sigma^l` and :math:`A` lower triangular,
:math:`A_{ii} = \sqrt{\chi^2_{N_l-i+1}}` (:math:`i = 1..P`), :math:`A_{ij}\sim N(0,1)` for :math:`i>j`:
:math:`P` chi-square and :math:`P(P-1)/2` normal variates and :math:`O(P^3)` work per layer and network,
independent of the width. For :math:`N_l < P` (singular Wishart, rank :math:`N_l`) we sample the Gaussian
factor itself, :math:`W = Z^\top Z` with :math:`Z = \xi L^\top`, :math:`\xi\in\mathbb{R}^{N_l\times P}` standard
normal (:math:`O(N_l P^2)`, exact). A singular :math:`\Sigma^l` (duplicate inputs, or
:math:`\sigma_b^2 = 0` after a layer with :math:`N < P`) uses the symmetric factor of
:func:`statfield.sampling.preactivation.factor`; both constructions only need :math:`LL^\top = \Sigma^l`.

Observables (same names and meanings as the pre-activation sampler): several inputs ``gram``, ``G``
(:math:`=\Sigma^l`), ``c`` (``P = 2``); a single input ``q``, ``log_q``, ``G``. No log-scale is tracked:
in deep chaotic linear networks use ``method="collective"`` (single input) for ``log_q``.

:func:`linear_gram_moments` gives the exact first and second moments of the chain (tests, control values).
"""

from __future__ import annotations

import numpy as np

from .preactivation import factor, input_kernel

__all__ = ["is_linear", "sample_wishart", "wishart_observables", "linear_gram_moments"]


def is_linear(activation) -> bool:
    """True for :math:`\\phi(z) = a z` (piecewise linear with equal slopes, the only case with Wishart chains)."""
    return bool(activation.is_piecewise_linear) and float(activation.a_plus) == float(activation.a_minus)


def wishart_observables(n_inputs) -> tuple[str, ...]:
    """Per-layer observables of the Wishart sampler for ``n_inputs`` inputs."""
    if n_inputs == 1:
        return ("q", "log_q", "G")
    return ("gram", "G", "c") if n_inputs == 2 else ("gram", "G")


def _wishart_gram(rng, n, S, N, P, xp):
    """``n`` draws of :math:`W_P(N, S)/N` (``S``: ``(P, P)`` or ``(n, P, P)``) -> ``(n, P, P)``."""
    L = factor(S, xp) if P > 1 else xp.sqrt(S)
    Lt = xp.matrix_transpose(L)
    if N < P:  # rank-N Wishart: the Gaussian factor itself
        z = xp.matmul(rng.standard_normal((n, N, P)), Lt)
        return xp.matmul(xp.matrix_transpose(z), z) / N
    below = xp.asarray(np.tril(np.ones((P, P)), -1))
    eye = xp.asarray(np.eye(P))
    diag = xp.sqrt(rng.chisquare(np.asarray(N - np.arange(P), dtype=np.float64), (n, P)))
    A = rng.standard_normal((n, P, P)) * below + diag[:, :, None] * eye
    B = xp.matmul(L, A)
    return xp.matmul(B, xp.matrix_transpose(B)) / N


def sample_wishart(rng, n, activation, sigma_w2, sigma_b2, widths, inputs, xp, want):
    r"""Sample ``n`` linear networks as a chain of Wishart-distributed Gram matrices.

    Parameters
    ----------
    rng : statfield.sampling.backend.BackendRNG
    n : int
        Networks in this block.
    activation : Activation
        Linear, :math:`\phi(z) = a z` (:func:`is_linear`).
    sigma_w2, sigma_b2 : float
        Weight variance per fan-in, bias variance.
    widths : sequence of int
        :math:`N_1..N_L` (any values, :math:`N_l < P` included).
    inputs : ndarray, shape (P, d_in)
    xp : namespace
    want : collection of str
        Observables (:func:`wishart_observables`).

    Yields
    ------
    dict
        Per layer, the requested observables: ``gram`` (``(n, P, P)``), ``G`` (:math:`\Sigma^l`),
        ``c`` (``P = 2``), or for ``P = 1`` ``q``, ``log_q``, ``G`` (``(n,)``).
    """
    if not is_linear(activation):
        raise ValueError(f"activation: the Wishart sampler needs a linear activation phi(z) = a z, "
                         f"got {activation.name!r}")
    slope2 = float(sigma_w2) * float(activation.a_plus) ** 2
    S1 = input_kernel(inputs, sigma_w2, sigma_b2)
    P = S1.shape[0]
    S = xp.asarray(S1)
    depth = len(widths)
    for l, N in enumerate(widths):
        N = int(N)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            if bool(xp.all(xp.isfinite(S))):
                g = _wishart_gram(rng, n, S, N, P, xp)
            else:  # float64 overflow of a deep chaotic chain: propagate inf, the runner names the layer
                g = xp.full((n, P, P), xp.inf, dtype=xp.float64)
            out = {}
            if P == 1:
                q = g[:, 0, 0]
                if "q" in want:
                    out["q"] = q
                if "log_q" in want:
                    out["log_q"] = xp.log(q)
                if "G" in want:
                    out["G"] = xp.broadcast_to(S[..., 0, 0], (n,))
            else:
                if "gram" in want:
                    out["gram"] = g
                if "gram_diag" in want:
                    out["gram_diag"] = xp.linalg.diagonal(g)
                if "G" in want:
                    out["G"] = xp.broadcast_to(S, (n, P, P))
                if "c" in want:
                    out["c"] = g[:, 0, 1] / xp.sqrt(g[:, 0, 0] * g[:, 1, 1])
            if l + 1 < depth:
                S = sigma_b2 + slope2 * g
        yield out


def linear_gram_moments(sigma_w2, sigma_b2, widths, inputs, a=1.0):
    r"""Exact mean and second moments of the Gram chain of a linear network, at any widths.

    With :math:`\Sigma^l = b + c\,\mathrm{gram}^{l-1}` (:math:`b = \sigma_b^2`, :math:`c = \sigma_w^2 a^2`,
    :math:`\Sigma^1` from the inputs) and the Wishart moments
    :math:`E[\mathrm{gram}_{ij}\mathrm{gram}_{kl}\mid\Sigma] = \Sigma_{ij}\Sigma_{kl} +
    (\Sigma_{ik}\Sigma_{jl} + \Sigma_{il}\Sigma_{jk})/N` (Anderson, Thm. 7.3.x / Isserlis):

    .. math:: K^l = E\,\mathrm{gram}^l = E\,\Sigma^l,\quad E\Sigma^{l+1} = b + cK^l,\qquad
              E[\Sigma^{l+1}_{ij}\Sigma^{l+1}_{kl}] = b^2 + bc(K^l_{ij}+K^l_{kl}) + c^2 M^l_{ijkl},

    .. math:: M^l_{ijkl} = E[\mathrm{gram}^l_{ij}\mathrm{gram}^l_{kl}]
              = E[\Sigma_{ij}\Sigma_{kl}] + (E[\Sigma_{ik}\Sigma_{jl}] + E[\Sigma_{il}\Sigma_{jk}])/N_l .

    Parameters
    ----------
    sigma_w2, sigma_b2 : float
    widths : sequence of int
    inputs : array (P, d_in)
    a : float
        Slope of :math:`\phi(z) = a z`.

    Returns
    -------
    K : ndarray (L, P, P)
        :math:`E\,\mathrm{gram}^l` (= the iterated mean-field kernel).
    M : ndarray (L, P, P, P, P)
        :math:`E[\mathrm{gram}^l_{ij}\mathrm{gram}^l_{kl}]`; ``Var gram_ij = M[l,i,j,i,j] - K[l,i,j]**2``.
    """
    X = np.atleast_2d(np.asarray(inputs, dtype=np.float64))
    b, c = float(sigma_b2), float(sigma_w2) * float(a) ** 2
    S1 = input_kernel(X, sigma_w2, sigma_b2)
    ES = S1
    ESS = np.einsum("ij,kl->ijkl", S1, S1)
    Ks, Ms = [], []
    for l, N in enumerate(widths):
        M = ESS + (ESS.transpose(0, 2, 1, 3) + ESS.transpose(0, 3, 2, 1)) / int(N)
        Ks.append(ES)
        Ms.append(M)
        ES = b + c * ES
        K = Ks[-1]
        ESS = b * b + b * c * (K[:, :, None, None] + K[None, None, :, :]) + c * c * M
    return np.stack(Ks), np.stack(Ms)

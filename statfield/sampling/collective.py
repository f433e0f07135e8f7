r"""Single-input chains in collective coordinates: exact at any width, cost independent of it.

Conventions (``docs/conventions.md``, "Network and parameterisation"): :math:`z^l = W^l\phi(z^{l-1}) + b^l`,
:math:`W^l_{ij}\sim N(0,\sigma_w^2/N_{l-1})`, :math:`b^l_i\sim N(0,\sigma_b^2)`; per-unit second moment
:math:`q^l = |z^l|^2/N_l`. Conditional on layer :math:`l-1` the units of layer :math:`l` are i.i.d.
:math:`N(0, K^l)` with

.. math:: K^l \equiv \hat G^l = \sigma_b^2 + \sigma_w^2\,|\phi(z^{l-1})|^2/N_{l-1},
          \qquad K^1 = \sigma_b^2 + \sigma_w^2 |x|^2/d_{in}

(arXiv:1710.06570 Eq. 9: the Markov-chain form of the lattice action). Hence, exactly:

* **linear / scale-equivariant** :math:`\phi(z) = a z`: :math:`q^l = K^l\,\chi^2_{N_l}/N_l` with
  :math:`K^{l+1} = \sigma_w^2 a^2 q^l + \sigma_b^2` — one :math:`\chi^2` variate per layer (N, not N−1,
  degrees of freedom);
* **piecewise linear** :math:`\phi(z) = a_+ z\theta(z) + a_- z\theta(-z)` (ReLU, leaky ReLU):
  :math:`k^l\sim\mathrm{Binomial}(N_l,\tfrac12)` independently of the past (the units are centred),
  and given :math:`k^l, K^l`: :math:`u^l = K^l\chi^2_{k}/N_l`, :math:`v^l = K^l\chi^2_{N_l-k}/N_l`
  independently (:math:`u = |z_+|^2/N`, :math:`v = |z_-|^2/N`; :math:`\chi^2_0 \equiv 0`), with
  :math:`K^{l+1} = \sigma_w^2(a_+^2 u^l + a_-^2 v^l) + \sigma_b^2`;
* **general** :math:`\phi`: explicit unit vectors :math:`z^l = \sqrt{K^l}\,\xi`, :math:`\xi\sim N(0, I_{N_l})`,
  :math:`O(N)` per layer and network (still :math:`N` times cheaper than weight matrices).

The piecewise-linear chains run entirely in log space (:math:`\ln K`, :math:`\ln u`, :math:`\ln v`,
``logaddexp``), so deep chaotic networks (e.g. linear, :math:`\sigma_w^2 = 4`, depth 2000, where
:math:`q^l\sim 4^l` exceeds float64) keep a finite ``log_q``; the linear-space observables
(``q``, ``G``, ``u``, ``v``) then overflow to ``inf`` and the runner stops with an ``OverflowError``
naming the layer unless only log-space observables are requested.

Each sampler is a generator over layers :math:`l = 1..L` yielding ``dict[name, array (n,)]``
in the namespace ``xp`` (vectorised over the ``n`` networks of one block; Python loops only run
over layers).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["collective_observables", "sample_collective"]

_NEG_INF = -math.inf


def _log(x):
    return math.log(x) if x > 0 else _NEG_INF


def collective_observables(activation) -> tuple[str, ...]:
    """Per-layer observables the collective sampler yields for ``activation``.

    ``q``, ``log_q``, ``G`` always; ``u``, ``v``, ``k`` for piecewise-linear non-linear φ
    (:math:`a_+\\ne a_-`).
    """
    from .eft import collective_kind

    if collective_kind(activation) == "orthant":
        return ("q", "log_q", "G", "u", "v", "k")
    return ("q", "log_q", "G")


def sample_collective(rng, n, activation, sigma_w2, sigma_b2, widths, g1, xp):
    r"""Sample ``n`` independent single-input networks layer by layer in collective coordinates.

    Parameters
    ----------
    rng : statfield.sampling.backend.BackendRNG
        The block's generator.
    n : int
        Number of independent networks (vectorised).
    activation : statfield.activations.Activation
    sigma_w2, sigma_b2 : float
        Weight variance per fan-in and bias variance.
    widths : sequence of int
        :math:`N_1, \dots, N_L`.
    g1 : float
        :math:`K^1 = \sigma_b^2 + \sigma_w^2|x|^2/d_{in}` (> 0).
    xp : namespace

    Yields
    ------
    dict
        For each layer: ``log_q`` (:math:`\ln q^l`), ``q``, ``G`` (:math:`K^l`, the conditional
        variance of a unit of layer ``l``) and, for piecewise-linear non-linear φ, ``u``, ``v``,
        ``k`` — arrays of shape ``(n,)``, float64.
    """
    if activation.is_piecewise_linear:
        yield from _piecewise_linear(rng, n, activation, sigma_w2, sigma_b2, widths, g1, xp)
    else:
        yield from _general(rng, n, activation, sigma_w2, sigma_b2, widths, g1, xp)


def _piecewise_linear(rng, n, act, sigma_w2, sigma_b2, widths, g1, xp):
    ap, am = float(act.a_plus), float(act.a_minus)
    log_sb2 = _log(sigma_b2)
    log_sw2 = math.log(sigma_w2)
    linear = ap == am
    log_a2 = _log(ap * ap)
    log_ap2, log_am2 = _log(ap * ap), _log(am * am)
    log_K = xp.full((n,), math.log(g1), dtype=xp.float64)
    for N in widths:
        N = int(N)
        if linear:
            chi = rng.chisquare(float(N), (n,))
            with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
                log_q = log_K + xp.log(chi / N)
                out = {"log_q": log_q, "q": xp.exp(log_q), "G": xp.exp(log_K)}
                log_K = xp.logaddexp(xp.asarray(log_sb2, dtype=xp.float64), log_sw2 + log_a2 + log_q)
        else:
            k = rng.binomial(N, 0.5, (n,))
            chi_p = rng.chisquare(k, (n,))
            chi_m = rng.chisquare(N - k, (n,))
            with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
                log_u = log_K + xp.log(chi_p / N)  # -inf when k = 0 (u = 0 exactly)
                log_v = log_K + xp.log(chi_m / N)
                log_q = xp.logaddexp(log_u, log_v)
                out = {"log_q": log_q, "q": xp.exp(log_q), "G": xp.exp(log_K),
                       "u": xp.exp(log_u), "v": xp.exp(log_v), "k": k}
                log_phi2 = xp.logaddexp(log_ap2 + log_u, log_am2 + log_v)
                log_K = xp.logaddexp(xp.asarray(log_sb2, dtype=xp.float64), log_sw2 + log_phi2)
        yield out


def _general(rng, n, act, sigma_w2, sigma_b2, widths, g1, xp):
    K = xp.full((n,), float(g1), dtype=xp.float64)
    for N in widths:
        N = int(N)
        xi = rng.standard_normal((n, N))
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            z = xp.sqrt(K)[:, None] * xi
            q = xp.mean(z * z, axis=1)
            out = {"log_q": xp.log(q), "q": q, "G": K}
            phi = act(z, xp)
            K = sigma_b2 + sigma_w2 * xp.mean(phi * phi, axis=1)
        yield out

r"""Sampler hook: the empirical NTK of sampled networks as a Monte Carlo observable.

For ``simulate(..., observables=("ntk",))``: the networks of a block are drawn in the NTK parameterisation
(same law at initialisation as the fan-in convention of ``docs/conventions.md``) with hidden widths
:math:`N_1..N_{L-1}` and **one output unit** of layer :math:`L` (the law of one unit of layer :math:`L` and of its
NTK does not depend on :math:`N_L`), and the NTK of that unit,
:math:`\hat\Theta(x_\alpha, x_\beta) = \sum_\theta\partial_\theta z^L(x_\alpha)\,\partial_\theta z^L(x_\beta)`, is
computed by the explicit forward/backward formula of :mod:`statfield.training.empirical`
(:math:`O(L N P^2)` on top of the forward pass; no autodiff). Its mean tends to
``meanfield.ntk_kernel(..., depth=L)``.
"""

from __future__ import annotations

__all__ = ["empirical_ntk_observable", "sample_ntk"]


def empirical_ntk_observable(rng, n, activation, sigma_w2, sigma_b2, widths, inputs, xp):
    r"""Draw ``n`` networks and return ``{"ntk": array (n, P, P)}`` on backend ``xp``.

    Parameters
    ----------
    rng : statfield.sampling.backend.BackendRNG
        The block's generator (the runner passes ``default_rng(SeedSequence(seed, spawn_key=(block,)), xp)``).
    n : int
        Networks in this block.
    activation : str or Activation
    sigma_w2 : float > 0
        Weight variance per fan-in.
    sigma_b2 : float >= 0
    widths : sequence of int
        ``simulate``'s per-layer widths :math:`N_1..N_L` (length ``depth``); :math:`N_L` is not used (one output
        unit).
    inputs : ndarray (P, d_in)
    xp : namespace

    Returns
    -------
    dict
        ``{"ntk": (n, P, P)}`` float64 array of namespace ``xp``: one record per block (not per layer).
    """
    import numpy as np

    from ..activations import get_activation
    from ..training.empirical import backward, forward, init_parameters, ntk_from_pass

    act = get_activation(activation)
    X = np.asarray(inputs, dtype=np.float64)
    ws = [int(w) for w in widths][:-1] + [1]
    params = init_parameters(rng, int(n), ws, X.shape[1])
    zs, hs = forward(params, xp.asarray(X), act, float(sigma_w2), float(sigma_b2), xp)
    deltas = backward(params, zs, act, float(sigma_w2), xp)
    return {"ntk": ntk_from_pass(hs, deltas, float(sigma_w2), float(sigma_b2), xp)}


def sample_ntk(rng, n, activation, sigma_w2, sigma_b2, widths, inputs, xp, want=("ntk",)):
    """Block sampler in the runner's form (an iterator of records): yields :func:`empirical_ntk_observable` once."""
    yield empirical_ntk_observable(rng, n, activation, sigma_w2, sigma_b2, widths, inputs, xp)

r"""Weight-space sampler: batches of full random networks (the reference).

Conventions (``docs/conventions.md``, "Network and parameterisation"): for inputs :math:`x_\alpha\in\mathbb{R}^{d_{in}}`,

.. math:: z^1 = W^1 x + b^1,\qquad z^l = W^l\phi(z^{l-1}) + b^l\ (l = 2..L),\qquad
          W^l_{ij}\sim N(0, \sigma_w^2/N_{l-1}),\ b^l_i\sim N(0,\sigma_b^2),\ N_0 = d_{in}

(standard parameterisation, fan-in; the NNGP of neural-tangents ``stax.Dense(W_std, b_std)`` with
:math:`W_{std}^2=\sigma_w^2`, :math:`b_{std}^2=\sigma_b^2`). Per-layer widths are allowed.

The ``n`` networks of a block are propagated together with batched matmuls
``(n, N_l, N_{l-1}) @ (n, N_{l-1}, P)``; only the current layer is kept (never all layers of all
networks), and its observables are computed on the fly with the same function as the
pre-activation sampler (:func:`statfield.sampling.preactivation.layer_observables`), so the two
samplers are compared on identical estimators. Memory per block is
:math:`n N_l N_{l-1}` floats for the weights of one layer. Cost :math:`O(n N^2 P)` per layer.
"""

from __future__ import annotations

import math

import numpy as np

from .preactivation import gram, input_kernel, layer_observables, phi_inplace

__all__ = ["sample_weights"]


def sample_weights(rng, n, activation, sigma_w2, sigma_b2, widths, inputs, xp, want, dtype="float64"):
    r"""Sample ``n`` full random networks and yield per-layer observables.

    Parameters
    ----------
    rng : statfield.sampling.backend.BackendRNG
    n : int
        Networks in this block.
    activation : Activation
    sigma_w2, sigma_b2 : float
        Weight variance per fan-in, bias variance.
    widths : sequence of int
        :math:`N_1..N_L`.
    inputs : ndarray, shape (P, d_in)
    xp : namespace
    want : collection of str
        Observables (see :func:`statfield.sampling.preactivation.available_observables`).
    dtype : {"float64", "float32"}
        Precision of the weights, biases, pre-activations and GEMMs; ``G`` and all observables are float64.

    Yields
    ------
    dict
        Per layer ``l = 1..L``: the requested observables; ``G`` is
        :math:`\hat G^l = \sigma_b^2 + \sigma_w^2\phi(z^{l-1})^\top\phi(z^{l-1})/N_{l-1}`
        (:math:`\Sigma^1` from the inputs for ``l = 1``).
    """
    X = np.asarray(inputs, dtype=np.float64)
    P, d_in = X.shape
    low = dtype == "float32"
    h = xp.asarray(X.T)  # (d_in, P): the "activations" of layer 0, shared by all networks
    if low:
        h = xp.astype(h, xp.float32)
    G = xp.asarray(input_kernel(X, sigma_w2, sigma_b2)) if "G" in want else None
    fan_in = d_in
    sb = math.sqrt(sigma_b2)
    depth = len(widths)
    for l, N in enumerate(widths):
        N = int(N)
        W = rng.standard_normal((n, N, fan_in), dtype=dtype)
        b = rng.standard_normal((n, N, 1), dtype=dtype)
        with np.errstate(over="ignore", invalid="ignore"):
            z = xp.matmul(W, h)
            del W
            z *= math.sqrt(sigma_w2 / fan_in)
            b *= sb
            z += b  # (n, N, P)
            obs = layer_observables(z, G, activation, xp, want)
            if l + 1 < depth:
                h = phi_inplace(activation, z, xp)
                if "G" in want:
                    g = gram(h, xp)
                    G = sigma_b2 + sigma_w2 * (g if not low else xp.astype(g, xp.float64))
        fan_in = N
        yield obs

r"""Pre-activation-space sampler: :math:`z^l \mid z^{l-1} \sim N(0, \Sigma^l\otimes I_{N_l})`, exact at any width.

Conventions (``docs/conventions.md``, "Network and parameterisation"): :math:`z^l = W^l\phi(z^{l-1}) + b^l`,
:math:`W^l_{ij}\sim N(0,\sigma_w^2/N_{l-1})` (fan-in, :math:`N_0 = d_{in}`), :math:`b^l_i\sim N(0,\sigma_b^2)`.
For ``P`` inputs, conditional on layer :math:`l-1` the rows :math:`z^l_i\in\mathbb{R}^P` are i.i.d.
:math:`N(0, \Sigma^l)` with

.. math:: \Sigma^l_{\alpha\beta} = \hat G^l_{\alpha\beta}
          = \sigma_b^2 + \sigma_w^2\,\phi(z^{l-1}_\alpha)\cdot\phi(z^{l-1}_\beta)/N_{l-1},
          \qquad \Sigma^1_{\alpha\beta} = \sigma_b^2 + \sigma_w^2\, x_\alpha\cdot x_\beta/d_{in}

(integrate out :math:`W^l, b^l` at fixed :math:`z^{l-1}`: arXiv:1710.06570 Eq. 9). So
:math:`z^l_i = L^l\xi_i` with :math:`L^l L^{l\top} = \Sigma^l` (a :math:`P\times P` Cholesky factor; when
:math:`\Sigma^l` is singular, e.g. for duplicate inputs, the symmetric factor
:math:`U\,\mathrm{diag}(\sqrt{\max(\lambda, 0)})` from ``eigh``). Cost :math:`O(N P^2)` per layer and
network instead of :math:`O(N^2 P)` for weight matrices.

Overflow: for piecewise-linear φ each network carries a log-scale :math:`s^l` (:math:`z^l = e^{s^l}\hat z^l`,
see :func:`sample_preactivation`), so ``log_q`` and ``c`` stay finite in deep chaotic networks.

Array layout (shared with :mod:`statfield.sampling.weights`): pre-activations of one layer are
``(n, N, P)`` (networks, units, inputs); Gram-type matrices are ``(n, P, P)``.

Per-layer observables (:func:`layer_observables`):

* single input (``P == 1``): ``q`` :math:`= |z^l|^2/N_l`, ``log_q``, ``G`` :math:`=\hat G^l`,
  and for piecewise-linear non-linear φ ``u`` :math:`=|z_+|^2/N`, ``v`` :math:`=|z_-|^2/N`, ``k`` (number
  of positive units);
* several inputs: ``gram`` :math:`= z^{l\top}z^l/N_l` (``P×P``), ``G`` :math:`=\hat G^l` (``P×P``, the
  conditional expectation of ``gram``: same mean, smaller variance), and for ``P == 2`` the
  per-network correlation coefficient ``c`` :math:`= \mathrm{gram}_{12}/\sqrt{\mathrm{gram}_{11}\mathrm{gram}_{22}}`.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["input_kernel", "factor", "layer_observables", "available_observables", "sample_preactivation",
           "phi_gram", "gram", "phi_inplace", "DTYPES"]

#: Sampling dtypes (:func:`sample_preactivation`, :func:`statfield.sampling.weights.sample_weights`).
DTYPES = ("float64", "float32")


def phi_inplace(act, z, xp):
    r""":math:`\phi(z)`, overwriting ``z`` when possible (NumPy arrays and piecewise-linear φ), else a new array.

    Piecewise linear :math:`\phi(z) = a_+ z\theta(z) + a_- z\theta(-z)`: ``np.maximum(z, 0, out=z)`` for
    :math:`a_- = 0`, masked in-place multiplications otherwise; no temporary of the size of ``z`` besides a
    boolean mask. ``z`` must not be used afterwards.
    """
    if not (act.is_piecewise_linear and isinstance(z, np.ndarray) and z.flags.writeable):
        return act(z, xp)
    ap, am = float(act.a_plus), float(act.a_minus)
    if am == 0.0:
        np.maximum(z, 0, out=z)
        if ap != 1.0:
            z *= ap
        return z
    if ap == am:
        if ap != 1.0:
            z *= ap
        return z
    neg = z < 0
    if ap != 1.0:
        np.multiply(z, ap, out=z, where=~neg)
    np.multiply(z, am, out=z, where=neg)
    return z


def input_kernel(inputs, sigma_w2, sigma_b2):
    r""":math:`\Sigma^1 = \sigma_b^2 + \sigma_w^2 X X^\top/d_{in}` for inputs ``X`` of shape ``(P, d_in)`` (NumPy)."""
    X = np.asarray(inputs, dtype=np.float64)
    return sigma_b2 + sigma_w2 * (X @ X.T) / X.shape[1]


def factor(S, xp):
    r"""A factor ``L`` with ``L @ L^T = S`` for a stack of PSD matrices ``S`` (``(..., P, P)``).

    Cholesky first; if it fails or returns non-finite entries (CuPy does not raise), the whole stack
    uses ``eigh`` with eigenvalues clipped at 0: :math:`L = U\,\mathrm{diag}(\sqrt{\max(\lambda,0)})`.
    """
    try:
        L = xp.linalg.cholesky(S)
        if bool(xp.all(xp.isfinite(L))):
            return L
    except Exception:  # numpy.linalg.LinAlgError and backend equivalents: not positive definite
        pass
    w, U = xp.linalg.eigh(S)
    w = xp.where(w > 0, w, xp.zeros_like(w))
    return U * xp.sqrt(w)[..., None, :]


def phi_gram(act, z, xp, inplace=False):
    r""":math:`\phi(z)^\top\phi(z)/N` for ``z`` of shape ``(n, N, P)`` → ``(n, P, P)`` (float64).

    ``inplace=True`` lets :func:`phi_inplace` overwrite ``z``.
    """
    f = phi_inplace(act, z, xp) if inplace else act(z, xp)
    return _f64(gram(f, xp), xp)


def _f64(a, xp):
    return a if a.dtype == xp.float64 else xp.astype(a, xp.float64)


def gram(f, xp):
    r""":math:`f^\top f/N` for ``f`` of shape ``(n, N, P)`` → ``(n, P, P)``."""
    N = f.shape[1]
    if f.shape[2] == 1:
        return xp.sum(f * f, axis=1)[:, :, None] / N
    return xp.matmul(xp.matrix_transpose(f), f) / N


def available_observables(activation, n_inputs) -> tuple[str, ...]:
    """Per-layer observables of the weight-space and pre-activation samplers."""
    if n_inputs == 1:
        from .eft import collective_kind

        if collective_kind(activation) == "orthant":
            return ("q", "log_q", "G", "u", "v", "k")
        return ("q", "log_q", "G")
    return ("gram", "G", "c") if n_inputs == 2 else ("gram", "G")


def layer_observables(z, G, act, xp, want, log_scale=None):
    r"""Observables of one layer from its pre-activations ``z`` (``(n, N, P)``) and ``G`` (``(n, P, P)``).

    ``G`` may be ``None`` when ``"G"`` is not in ``want``. With ``log_scale`` (``(n,)``) the arguments are
    rescaled: the true pre-activations are :math:`e^{s}\hat z` and the true kernel :math:`e^{2s}\hat G`
    (log-norm tracking; ``log_q`` and ``c`` stay finite when :math:`q` itself overflows). Returns
    ``dict[name, array]`` with arrays of shape ``(n,)`` (single input, ``c``) or ``(n, P, P)`` (``gram``, ``G``).
    """
    n, N, P = z.shape
    out = _layer_observables(z, G, act, xp, want, log_scale)
    if z.dtype != xp.float64:  # float32 sampling: observables accumulated in float64
        out = {k: _f64(v, xp) for k, v in out.items()}
    return out


def _layer_observables(z, G, act, xp, want, log_scale=None):
    n, N, P = z.shape
    out = {}
    f = None if log_scale is None else xp.exp(2.0 * log_scale)  # may overflow to inf: then q, G are inf
    if P == 1:
        z1 = z[:, :, 0]
        q = xp.sum(z1 * z1, axis=1) / N
        if "log_q" in want:
            with np.errstate(divide="ignore"):
                out["log_q"] = xp.log(q) if f is None else xp.log(q) + 2.0 * log_scale
        if "q" in want:
            out["q"] = q if f is None else q * f
        if "G" in want:
            g = xp.broadcast_to(G[..., 0, 0], (n,))
            out["G"] = g if f is None else g * f
        if {"u", "v", "k"} & set(want):
            pos = z1 > 0
            zero = xp.zeros_like(z1)
            u = xp.sum(xp.where(pos, z1 * z1, zero), axis=1) / N
            v = xp.sum(xp.where(pos, zero, z1 * z1), axis=1) / N
            out["u"], out["v"] = (u, v) if f is None else (u * f, v * f)
            out["k"] = xp.sum(xp.astype(pos, xp.float64), axis=1)
        return {k: v for k, v in out.items() if k in want}
    if "gram_diag" in want:  # internal: the controls of statfield.sampling.control, O(N P)
        d = xp.sum(z * z, axis=1) / N
        out["gram_diag"] = d if f is None else d * f[:, None]
    if "gram" in want or "c" in want:
        gram = xp.matmul(xp.matrix_transpose(z), z) / N
        if "gram" in want:
            out["gram"] = gram if f is None else gram * f[:, None, None]
        if "c" in want:
            out["c"] = gram[:, 0, 1] / xp.sqrt(gram[:, 0, 0] * gram[:, 1, 1])  # scale-free
    if "G" in want:
        g = xp.broadcast_to(G, (n, P, P))
        out["G"] = g if f is None else g * f[:, None, None]
    return out


def sample_preactivation(rng, n, activation, sigma_w2, sigma_b2, widths, inputs, xp, want, dtype="float64"):
    r"""Sample ``n`` networks layer by layer in pre-activation space.

    For piecewise-linear φ (homogeneous of degree one, :math:`\phi(e^s\hat z) = e^s\phi(\hat z)`) each
    network carries a log-scale :math:`s^l` with :math:`z^l = e^{s^l}\hat z^l`, chosen so that the largest
    diagonal entry of :math:`\hat\Sigma^l = e^{-2s^l}\Sigma^l` is 1 (computed with ``logaddexp``); the
    random numbers are the same, so this only removes float64 overflow: ``log_q`` and ``c`` stay finite in
    deep chaotic networks, while ``q``, ``G``, ``gram`` overflow to ``inf`` (and the runner stops, naming
    the layer) once :math:`e^{2s}` exceeds float64.

    Parameters
    ----------
    rng : statfield.sampling.backend.BackendRNG
    n : int
        Networks in this block (vectorised).
    activation : Activation
    sigma_w2, sigma_b2 : float
    widths : sequence of int
        :math:`N_1..N_L`.
    inputs : ndarray, shape (P, d_in)
    xp : namespace
    want : collection of str
        Observables to compute (see :func:`available_observables`).
    dtype : {"float64", "float32"}
        Precision of the normals, the pre-activations and the GEMMs; kernels, Cholesky factors and all
        observables stay float64 (float32 sums over ``N`` units have a relative rounding error of order
        :math:`10^{-7}\sqrt{N}`).

    Yields
    ------
    dict
        Per layer, the requested observables (:func:`layer_observables`).
    """
    low = dtype == "float32"
    S1 = input_kernel(inputs, sigma_w2, sigma_b2)
    P = S1.shape[0]
    S = xp.asarray(S1)
    L = factor(S, xp)  # (P, P), shared by all networks
    depth = len(widths)
    homogeneous = activation.is_piecewise_linear
    log_sb2 = math.log(sigma_b2) if sigma_b2 > 0 else -math.inf
    s = xp.zeros((n,), dtype=xp.float64) if homogeneous else None
    for l, N in enumerate(widths):
        N = int(N)
        xi = rng.standard_normal((n, N, P), dtype=dtype)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            Lt = xp.matrix_transpose(L)
            z = xp.matmul(xi, xp.astype(Lt, xp.float32) if low else Lt)
            del xi
            obs = layer_observables(z, S, activation, xp, want, log_scale=s)
            if l + 1 < depth:
                g = phi_gram(activation, z, xp, inplace=True)
                if homogeneous:
                    # Sigma = sigma_b2 + sigma_w2 e^{2s} g; new scale: max_a log Sigma_aa (log space)
                    d = xp.linalg.diagonal(g) if P > 1 else g[:, :, 0]
                    log_d = xp.logaddexp(xp.asarray(log_sb2, dtype=xp.float64),
                                         math.log(sigma_w2) + 2.0 * s[:, None] + xp.log(d))
                    s_new = 0.5 * xp.max(log_d, axis=1)
                    s_new = xp.where(xp.isfinite(s_new), s_new, xp.zeros_like(s_new))  # dead network: Sigma = 0
                    S = (sigma_b2 * xp.exp(-2.0 * s_new)[:, None, None]
                         + sigma_w2 * xp.exp(2.0 * (s - s_new))[:, None, None] * g)
                    s = s_new
                else:
                    S = sigma_b2 + sigma_w2 * g
                if not bool(xp.all(xp.isfinite(S))):
                    # float64 overflow: propagate inf so the runner stops naming the layer
                    L = xp.full(S.shape, xp.inf, dtype=xp.float64)
                else:
                    L = factor(S, xp) if P > 1 else xp.sqrt(S)
        yield obs

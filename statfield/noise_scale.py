r"""The gradient noise scale :math:`\mathcal B_{\rm simple} = \mathrm{tr}\,\Sigma/|G|^2` (Kaplan's notes §4.5,
Eq. 4.5.9; McCandlish, Kaplan, Amodei et al. 2018, arXiv:1812.06162, Eq. 2.9).

:math:`G = \mathbb E_x[g(x)]` is the mean per-example gradient and :math:`\Sigma = \mathrm{cov}_x[g(x)]` the
per-example gradient covariance (notes Eq. 4.5.3); :math:`\mathbb E|G_{\rm est}-G|^2/|G|^2 =
\mathcal B_{\rm simple}/B` for a batch of :math:`B` (Eq. 4.5.10).

**Linear regression** (exact). Inputs :math:`x\sim N(0, I/P)` in :math:`\mathbb R^P`, labels
:math:`y = \bar w\cdot x + \epsilon`, :math:`\epsilon\sim N(0,\sigma_\epsilon^2)`, loss :math:`\frac12(w\cdot x-y)^2`,
:math:`\delta = w - \bar w`. Then :math:`g = (\delta\cdot x - \epsilon)x`, :math:`G = \delta/P`, and by Isserlis
:math:`\mathbb E[(\delta\cdot x)^2xx^\top] = (|\delta|^2I + 2\delta\delta^\top)/P^2`, so

.. math:: |G|^2 = \frac{|\delta|^2}{P^2},\qquad \mathrm{tr}\,\Sigma = \frac{(P+1)|\delta|^2}{P^2} + \sigma_\epsilon^2,
          \qquad \mathcal B_{\rm simple} = P + 1 + \frac{\sigma_\epsilon^2P^2}{|\delta|^2}

(:func:`linear_regression_noise_scale`): at least :math:`P+1` however close to the optimum, and divergent as
:math:`|\delta|\to0` when the labels are noisy.

**Estimator** (:func:`noise_scale_from_gram`). Everything is a function of the Gram matrix
:math:`M_{ij} = g_i\cdot g_j` of :math:`D` i.i.d. per-example gradients. Unbiased U-statistics:

.. math:: \widehat{|G|^2} = \frac{\sum_{i\ne j}M_{ij}}{D(D-1)},\qquad
          \widehat{\mathrm{tr}\,\Sigma} = \frac1D\Big(\sum_iM_{ii} - \frac{\sum_{i\ne j}M_{ij}}{D-1}\Big),

and :math:`\hat{\mathcal B} = \widehat{\mathrm{tr}\,\Sigma}/\widehat{|G|^2}` (consistent, bias :math:`O(1/D)`);
standard errors by the delete-one jackknife over examples (Efron & Stein 1981), in :math:`O(D^2)` from the row
sums of :math:`M`.

**Random networks at initialisation** (:func:`network_noise_scale`). For the MSE loss
:math:`\frac12(f(x)-y)^2` the per-example gradients satisfy :math:`g_i\cdot g_j = r_ir_j\hat\Theta_{ij}`,
:math:`r = f - y`, :math:`\hat\Theta` the empirical NTK (NTK parameterisation,
:func:`statfield.training.empirical.empirical_ntk`). For a data set of :math:`P` points sampled uniformly (with
replacement) the population quantities are exact functions of :math:`M = rr^\top\circ\hat\Theta`:
:math:`|G|^2 = \mathbf 1^\top M\mathbf 1/P^2`, :math:`\mathrm{tr}\,\Sigma = \mathrm{tr}M/P - |G|^2`. At infinite
width :math:`\hat\Theta\to\Theta` (:func:`statfield.meanfield.ntk_kernel`) and :math:`f\sim GP(0,K)`
(:func:`statfield.meanfield.nngp_kernel`), so :math:`\mathbb E[M] = (K + yy^\top)\circ\Theta` gives the
expectations of numerator and denominator (:func:`infinite_width_noise_scale`); :math:`\mathcal B` itself stays a
random variable (a ratio of quadratic forms in :math:`f`), whose GP mean is estimated by sampling :math:`f`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._checks import check_int, check_nonnegative, check_variances
from .stats import Estimate

__all__ = [
    "InfiniteWidthNoiseScale",
    "NetworkNoiseScale",
    "NoiseScaleEstimate",
    "infinite_width_noise_scale",
    "linear_regression_gradients",
    "linear_regression_noise_scale",
    "network_noise_scale",
    "noise_scale_from_gradients",
    "noise_scale_from_gram",
    "population_noise_scale",
]


# ============================================================================ linear regression
def _vec(a, name):
    a = np.asarray(a, dtype=float).reshape(-1)
    if a.size < 1 or not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be a non-empty finite vector, got {a!r}")
    return a


def linear_regression_noise_scale(w, wbar, sigma_eps2, return_parts: bool = False):
    r"""Exact :math:`\mathcal B_{\rm simple} = P + 1 + \sigma_\epsilon^2P^2/|w-\bar w|^2` for linear regression with
    :math:`x\sim N(0, I/P)` (module docstring).

    Parameters
    ----------
    w, wbar : array (P,)
        Student and teacher weights (finite, same length).
    sigma_eps2 : float
        Label-noise variance, ``>= 0``.
    return_parts : bool
        Also return ``(|G|^2, tr Sigma)``.

    Raises
    ------
    ValueError
        ``w == wbar`` (then :math:`G = 0` and :math:`\mathcal B` is undefined), bad shapes or values.
    """
    w, wbar = _vec(w, "w"), _vec(wbar, "wbar")
    if w.shape != wbar.shape:
        raise ValueError(f"w and wbar must have the same length, got {w.size} and {wbar.size}")
    s2 = check_nonnegative(sigma_eps2, "sigma_eps2")
    P = w.size
    d2 = float(np.sum((w - wbar) ** 2))
    if d2 == 0:
        raise ValueError("w == wbar: the mean gradient G vanishes and B_simple = tr(Sigma)/|G|^2 is undefined")
    G2 = d2 / P**2
    tr = (P + 1) * d2 / P**2 + s2
    B = tr / G2
    return (B, G2, tr) if return_parts else B


def linear_regression_gradients(w, wbar, sigma_eps2, n_examples, seed=0):
    r"""``n_examples`` i.i.d. per-example gradients :math:`g = (w\cdot x - y)x`, :math:`x\sim N(0,I/P)`,
    :math:`y = \bar w\cdot x + \epsilon` — array ``(n_examples, P)``."""
    w, wbar = _vec(w, "w"), _vec(wbar, "wbar")
    if w.shape != wbar.shape:
        raise ValueError(f"w and wbar must have the same length, got {w.size} and {wbar.size}")
    s2 = check_nonnegative(sigma_eps2, "sigma_eps2")
    D = check_int(n_examples, "n_examples", minimum=1)
    rng = np.random.default_rng(np.random.SeedSequence(check_int(seed, "seed", minimum=0)))
    P = w.size
    x = rng.standard_normal((D, P)) / math.sqrt(P)
    r = x @ (w - wbar) - math.sqrt(s2) * rng.standard_normal(D)
    return r[:, None] * x


# ============================================================================ estimator
@dataclass(frozen=True)
class NoiseScaleEstimate:
    r"""Unbiased :math:`|G|^2` and :math:`\mathrm{tr}\,\Sigma`, their ratio :math:`\mathcal B_{\rm simple}`, each an
    :class:`~statfield.stats.Estimate` with a delete-one jackknife standard error (``n`` = number of examples);
    ``B_jackknife``: the jackknife bias-corrected ratio (same error)."""

    B: Estimate
    G2: Estimate
    tr_sigma: Estimate
    B_jackknife: float


def noise_scale_from_gram(M) -> NoiseScaleEstimate:
    r"""Estimate :math:`|G|^2`, :math:`\mathrm{tr}\,\Sigma` and :math:`\mathcal B_{\rm simple}` from the Gram matrix
    :math:`M_{ij} = g_i\cdot g_j` of ``D >= 3`` i.i.d. per-example gradients (module docstring: U-statistics and
    the delete-one jackknife, :math:`O(D^2)`).

    Raises
    ------
    ValueError
        ``M`` not a finite square matrix with ``D >= 3``; an estimated :math:`|G|^2 \le 0` (the mean gradient is
        not resolved from the noise at this ``D``: :math:`\mathcal B` would be negative or infinite).
    """
    M = np.asarray(M, dtype=float)
    if M.ndim != 2 or M.shape[0] != M.shape[1] or M.shape[0] < 3:
        raise ValueError(f"M must be a square (D, D) Gram matrix with D >= 3, got shape {M.shape}")
    if not np.all(np.isfinite(M)):
        raise ValueError("M must be finite (it contains NaN or inf)")
    D = M.shape[0]
    diag = np.diagonal(M).copy()
    rows = M.sum(axis=1) - diag                      # sum_{j != i} M_ij
    off = float(rows.sum())
    sdiag = float(diag.sum())

    def stats(off, sdiag, D):
        G2 = off / (D * (D - 1))
        tr = (sdiag - off / (D - 1)) / D
        return G2, tr

    G2, tr = stats(off, sdiag, D)
    # delete-one replicates (vectorised): removing example k removes row and column k
    G2k, trk = stats(off - 2.0 * rows, sdiag - diag, D - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        Bk = trk / G2k

    def jk(reps):
        return math.sqrt((D - 1) / D * float(np.sum((reps - reps.mean()) ** 2)))

    if not G2 > 0:
        raise ValueError(f"the estimated |G|^2 = {G2:.3g} is not positive with D = {D} examples: the mean gradient "
                         "is not resolved from the per-example noise; use more examples")
    B = tr / G2
    B_se = jk(Bk) if np.all(np.isfinite(Bk)) else math.inf
    B_jk = D * B - (D - 1) * float(np.mean(Bk)) if np.all(np.isfinite(Bk)) else B
    return NoiseScaleEstimate(B=Estimate(B, B_se, D), G2=Estimate(G2, jk(G2k), D), tr_sigma=Estimate(tr, jk(trk), D),
                              B_jackknife=float(B_jk))


def noise_scale_from_gradients(g) -> NoiseScaleEstimate:
    """:func:`noise_scale_from_gram` of ``g @ g.T`` for per-example gradients ``g`` of shape ``(D, n_params)``."""
    g = np.asarray(g, dtype=float)
    if g.ndim != 2:
        raise ValueError(f"g must be a 2-D array (D examples x n_params), got shape {g.shape}")
    return noise_scale_from_gram(g @ g.T)


# ============================================================================ finite data sets, networks
def population_noise_scale(M):
    r"""Exact :math:`(\mathcal B, |G|^2, \mathrm{tr}\,\Sigma)` of a finite data set sampled uniformly with
    replacement, from its Gram matrix ``M (..., P, P)``: :math:`|G|^2 = \mathbf 1^\top M\mathbf 1/P^2`,
    :math:`\mathrm{tr}\,\Sigma = \mathrm{tr}M/P - |G|^2` (batched over leading axes; ``B = inf`` where
    :math:`|G|^2 = 0`)."""
    M = np.asarray(M, dtype=float)
    if M.ndim < 2 or M.shape[-1] != M.shape[-2]:
        raise ValueError(f"M must have shape (..., P, P), got {M.shape}")
    P = M.shape[-1]
    G2 = M.sum(axis=(-2, -1)) / P**2
    tr = np.trace(M, axis1=-2, axis2=-1) / P - G2
    with np.errstate(divide="ignore", invalid="ignore"):
        B = np.where(G2 > 0, tr / np.where(G2 > 0, G2, 1.0), np.inf)
    return B, G2, tr


def _data(X, y):
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[0] < 2 or not np.all(np.isfinite(X)):
        raise ValueError(f"X must be a finite 2-D array (P x d_in) with P >= 2, got shape {X.shape}")
    y = np.asarray(y, dtype=float).reshape(-1)
    if y.size != X.shape[0] or not np.all(np.isfinite(y)):
        raise ValueError(f"y must be a finite vector of length P = {X.shape[0]}, got shape {y.shape}")
    return X, y


@dataclass(frozen=True)
class NetworkNoiseScale:
    r"""Per-network population noise scales of random networks at initialisation (:func:`network_noise_scale`):
    arrays ``B``, ``G2``, ``tr_sigma`` of shape ``(n,)`` and their means as :class:`~statfield.stats.Estimate`
    (``mean_B``, ``mean_G2``, ``mean_tr_sigma``), plus ``ratio_of_means`` (:math:`\mathbb E\,\mathrm{tr}\Sigma/
    \mathbb E|G|^2`, jackknife error over networks)."""

    B: np.ndarray
    G2: np.ndarray
    tr_sigma: np.ndarray
    mean_B: Estimate
    mean_G2: Estimate
    mean_tr_sigma: Estimate
    ratio_of_means: Estimate


def network_noise_scale(activation, sigma_w2, sigma_b2, width, depth, X, y, n_networks, seed=0,
                        residual: bool = False, block: int = 64) -> NetworkNoiseScale:
    r""":math:`\mathcal B_{\rm simple}` of the MSE loss for ``n_networks`` random networks at initialisation.

    Per network: :math:`M = rr^\top\circ\hat\Theta`, :math:`r = f(X) - y`, :math:`\hat\Theta` the empirical NTK
    (NTK parameterisation; :func:`statfield.training.empirical.empirical_ntk` for the plain network,
    :func:`statfield.resnet.resnet_empirical_ntk` with ``residual=True``), then :func:`population_noise_scale`
    (module docstring). Widths: ``depth - 1`` hidden layers of ``width`` (plain) or ``depth`` layers of ``width``
    with output unit 1 (residual).

    Parameters
    ----------
    activation, sigma_w2, sigma_b2
        As :func:`statfield.meanfield.nngp_kernel`.
    width, depth : int
        Hidden width ``>= 1`` and number of layers ``>= 1``.
    X : array (P, d_in), y : array (P,)
        The data set (``P >= 2``).
    n_networks : int
        ``>= 2`` independent networks.
    seed : int
    residual : bool
        Residual network :math:`z^{l+1} = z^l + W\phi(z^l) + b`.
    block : int
        Networks per vectorised block (memory ``block * depth * width^2``).
    """
    from .activations import get_activation

    act = get_activation(activation)
    sw, sb = check_variances(sigma_w2, sigma_b2)
    N = check_int(width, "width", minimum=1)
    L = check_int(depth, "depth", minimum=1)
    n = check_int(n_networks, "n_networks", minimum=2)
    seed = check_int(seed, "seed", minimum=0)
    blk = check_int(block, "block", minimum=1)
    X, y = _data(X, y)
    children = np.random.SeedSequence(seed).spawn((n + blk - 1) // blk)
    Ms = []
    done = 0
    for ss in children:
        b = min(blk, n - done)
        if residual:
            from .resnet import resnet_empirical_ntk

            theta, f = resnet_empirical_ntk(act, sw, sb, N, L, X, b,
                                            seed=int(ss.generate_state(1, dtype=np.uint32)[0]))
        else:
            from .sampling.backend import default_rng, get_namespace
            from .training.empirical import (
                empirical_ntk,
                forward,
                init_parameters,
                network_widths,
            )

            xp = get_namespace("numpy")
            params = init_parameters(default_rng(ss, xp), b, network_widths(N, L), X.shape[1])
            theta = np.asarray(empirical_ntk(params, X, act, sw, sb, xp=xp))
            f = np.asarray(forward(params, xp.asarray(X), act, sw, sb, xp)[0][-1][:, 0, :])
        r = f - y[None, :]
        Ms.append(r[:, :, None] * r[:, None, :] * theta)
        done += b
    M = np.concatenate(Ms)
    B, G2, tr = population_noise_scale(M)
    if not (np.all(np.isfinite(G2)) and np.all(np.isfinite(tr))):
        raise OverflowError("network_noise_scale: non-finite gradients (the network output overflows); reduce depth "
                            "or sigma_w2")
    from .stats import jackknife, mean_estimate

    val, se = jackknife(lambda m: m[1] / m[0], np.stack([G2, tr], axis=1), n_groups=min(n, 50))
    return NetworkNoiseScale(B=B, G2=G2, tr_sigma=tr, mean_B=mean_estimate(B), mean_G2=mean_estimate(G2),
                             mean_tr_sigma=mean_estimate(tr), ratio_of_means=Estimate(float(val), float(se), n))


@dataclass(frozen=True)
class InfiniteWidthNoiseScale:
    r"""Infinite-width predictions (:func:`infinite_width_noise_scale`): ``G2`` = :math:`\mathbb E|G|^2`,
    ``tr_sigma`` = :math:`\mathbb E\,\mathrm{tr}\Sigma`, ``ratio_of_means`` = their ratio, and ``mean_B``: the GP
    mean :math:`\mathbb E_f[\mathcal B]` (an :class:`~statfield.stats.Estimate`, by sampling :math:`f\sim GP(0,K)`;
    ``None`` with ``n_gp_samples=0``)."""

    G2: float
    tr_sigma: float
    ratio_of_means: float
    mean_B: Estimate | None
    K: np.ndarray
    Theta: np.ndarray


def infinite_width_noise_scale(activation, sigma_w2, sigma_b2, depth, X, y, n_gp_samples: int = 100_000,
                               seed: int = 0, residual: bool = False) -> InfiniteWidthNoiseScale:
    r"""Infinite-width :math:`\mathcal B_{\rm simple}` of the MSE loss at initialisation.

    :math:`\mathbb E[M] = (K + yy^\top)\circ\Theta` with :math:`K` = ``nngp_kernel(..., depth)`` and
    :math:`\Theta` = ``ntk_kernel(..., depth)`` (or :func:`statfield.resnet.resnet_nngp_kernel` /
    :func:`~statfield.resnet.resnet_ntk_kernel` with ``residual=True``); numerator and denominator are linear
    in :math:`M`, so :math:`\mathbb E|G|^2 = \mathbf 1^\top\mathbb E[M]\mathbf 1/P^2` and
    :math:`\mathbb E\,\mathrm{tr}\Sigma = \mathrm{tr}\,\mathbb E[M]/P - \mathbb E|G|^2` are exact; the mean of the
    ratio is estimated from ``n_gp_samples`` draws :math:`f\sim N(0, K)` at fixed :math:`\Theta`.
    """
    X, y = _data(X, y)
    n_gp = check_int(n_gp_samples, "n_gp_samples", minimum=0)
    if residual:
        from .resnet import resnet_nngp_kernel, resnet_ntk_kernel

        K = resnet_nngp_kernel(activation, sigma_w2, sigma_b2, X, depth)
        Th = resnet_ntk_kernel(activation, sigma_w2, sigma_b2, X, depth)
    else:
        from .meanfield import nngp_kernel, ntk_kernel

        K = nngp_kernel(activation, sigma_w2, sigma_b2, X, depth)
        Th = ntk_kernel(activation, sigma_w2, sigma_b2, X, depth)
    _, G2, tr = population_noise_scale((K + np.outer(y, y)) * Th)
    G2, tr = float(G2), float(tr)
    mean_B = None
    if n_gp >= 2:
        rng = np.random.default_rng(np.random.SeedSequence(check_int(seed, "seed", minimum=0)))
        w, V = np.linalg.eigh(0.5 * (K + K.T))
        S = V * np.sqrt(np.clip(w, 0.0, None))
        vals = []
        for start in range(0, n_gp, 20_000):
            m = min(20_000, n_gp - start)
            r = rng.standard_normal((m, len(y))) @ S.T - y
            P = len(y)
            G2s = np.einsum("ni,ij,nj->n", r, Th, r) / P**2
            trs = np.einsum("ni,i,ni->n", r, np.diagonal(Th), r) / P - G2s
            vals.append(trs / G2s)
        vals = np.concatenate(vals)
        mean_B = Estimate(float(vals.mean()), float(vals.std(ddof=1) / math.sqrt(vals.size)), vals.size)
    return InfiniteWidthNoiseScale(G2=G2, tr_sigma=tr, ratio_of_means=tr / G2 if G2 > 0 else math.inf,
                                   mean_B=mean_B, K=K, Theta=Th)

r"""Data as a perturbation of the random-network prior: the :math:`J_D` series, reweighting, adjusted batches.

Three tools, each checked against exact results (``tests/test_perturbation.py``):

1. **Exact perturbative series** (SymPy, Wick's theorem): :func:`wick_expansion` and
   :func:`free_energy_expansion` (defined in :mod:`statfield.symbolic.perturbation`, re-exported here).
2. **The network case** — the data term of the action of Schoenholz, Pennington & Sohl-Dickstein
   (arXiv:1710.06570, the closing "perturbation theory in :math:`J_D`"),

   .. math:: P(f\mid D) \propto P_0(f)\,\exp\Big(-J_D\sum_{\mu\in D}\tfrac12\big(f(x_\mu)-y_\mu\big)^2\Big),

   with the NNGP prior :math:`P_0 = N(0, K)` at infinite width. The posterior is Gaussian (kernel regression
   with noise variance :math:`1/J_D`), :func:`gp_posterior`; its Taylor series in :math:`J_D`,
   :func:`data_series`, converges for :math:`J_D\,\lambda_{\max}(K_{DD}) < 1`. At finite width the prior is
   not Gaussian; to second order the connected four-point function :math:`C_4` enters
   (:func:`posterior_mean_series`).
3. **Reweighted Monte Carlo** (:func:`reweight`: self-normalised importance sampling with log-sum-exp weights,
   Kish effective sample size and the PSIS :math:`\hat k` diagnostic) applied to exactly sampled random networks
   (:func:`sample_outputs`, :func:`network_posterior`), and the **adjusted batch size**
   (:class:`AdjustedBatcher`) for training on reweighted data streams.

Conventions: networks :math:`z^l = W^l\phi(z^{l-1}) + b^l`, :math:`W^l_{ij}\sim N(0,\sigma_w^2/N_{l-1})` (fan-in),
:math:`b^l_i\sim N(0,\sigma_b^2)`, :math:`K^1 = \sigma_b^2 + \sigma_w^2\,x\cdot x'/d_{in}`; the output
:math:`f(x)` is one unit of layer ``depth`` (docs/conventions.md). Loss and perturbation:
:math:`\Delta H = \sum_\mu \tfrac12(f_\mu-y_\mu)^2` (sum over training points), :math:`\varepsilon = J_D`.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np

from ._checks import check_finite, check_int, check_nonnegative, check_positive, check_variances
from .stats import Estimate

__all__ = [
    "eps", "wick_expansion", "free_energy_expansion",
    "gp_posterior", "GPPosterior", "data_series", "DataSeries", "posterior_mean_series", "linear_response",
    "reweight", "ReweightResult", "psis_khat", "ReweightingWarning",
    "sample_outputs", "network_posterior",
    "AdjustedBatcher", "adjusted_batch_size",
]

_SYMBOLIC = {"eps", "wick_expansion", "free_energy_expansion"}


def __getattr__(name):
    # the symbolic half is imported lazily (SymPy is not needed for reweighting or batching)
    if name in _SYMBOLIC:
        from .symbolic import perturbation as _sp

        return getattr(_sp, name)
    raise AttributeError(f"module 'statfield.perturbation' has no attribute {name!r}")


class ReweightingWarning(RuntimeWarning):
    """Reweighted estimates are unreliable (Pareto :math:`\\hat k > 0.7` or a small effective sample size)."""


# ============================================================================ the J_D series (Gaussian prior)
def _matrix(a, name, shape=None):
    arr = np.asarray(check_finite(a, name), dtype=float)
    arr = np.atleast_2d(arr) if arr.ndim < 2 else arr
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array, got shape {arr.shape}")
    if shape is not None and arr.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {arr.shape}")
    return arr


def _vector(a, name, n):
    arr = np.asarray(check_finite(a, name), dtype=float).reshape(-1)
    if arr.shape != (n,):
        raise ValueError(f"{name} must have {n} entries (one per training point), got shape {np.shape(a)}")
    return arr


def _kernels(K_train, K_cross, K_test, y):
    Kd = _matrix(K_train, "K_train")
    P = Kd.shape[0]
    if Kd.shape != (P, P) or not np.allclose(Kd, Kd.T, rtol=1e-12, atol=0):
        raise ValueError(f"K_train must be a symmetric square matrix, got shape {Kd.shape}")
    Kx = _matrix(K_cross, "K_cross")
    if Kx.shape[1] != P:
        raise ValueError(f"K_cross must have shape (P_test, {P}) (test x train), got {Kx.shape}")
    Kt = _matrix(K_test, "K_test", (Kx.shape[0], Kx.shape[0])) if K_test is not None else None
    yv = _vector(y, "y", P)
    return Kd, Kx, Kt, yv


@dataclass(frozen=True)
class GPPosterior:
    r"""Gaussian posterior of the outputs at the test points: ``mean`` (P_test,), ``cov`` (P_test, P_test)."""

    mean: np.ndarray
    cov: np.ndarray | None
    J_D: float


def gp_posterior(K_train, K_cross, y, J_D, K_test=None) -> GPPosterior:
    r"""Exact posterior of a Gaussian prior under the MSE data term (kernel regression with noise :math:`1/J_D`).

    .. math:: \langle f_*\rangle = K_{*D}\,(K_{DD} + J_D^{-1}I)^{-1}y,\qquad
              \mathrm{Cov}(f_*) = K_{**} - K_{*D}\,(K_{DD} + J_D^{-1}I)^{-1}K_{D*}

    (Rasmussen & Williams 2006, Eq. 2.23–2.24, with noise variance :math:`\sigma_n^2 = 1/J_D`).

    Parameters
    ----------
    K_train : array (P, P)
        Prior covariance of the training outputs (e.g. :func:`statfield.meanfield.nngp_kernel`).
    K_cross : array (P_test, P)
        Test–train prior covariance.
    y : array (P,)
        Targets.
    J_D : float > 0
        Strength of the data term (inverse noise variance).
    K_test : array (P_test, P_test), optional
        Test–test prior covariance; when given the posterior covariance is returned.
    """
    Kd, Kx, Kt, yv = _kernels(K_train, K_cross, K_test, y)
    J = check_positive(J_D, "J_D")
    A = J * Kd + np.eye(Kd.shape[0])  # (I + J K) is positive definite for PSD K
    sol = np.linalg.solve(A, np.column_stack([yv, Kx.T]))
    mean = J * (Kx @ sol[:, 0])
    cov = None if Kt is None else Kt - J * (Kx @ sol[:, 1:])
    return GPPosterior(mean=mean, cov=cov, J_D=J)


@dataclass(frozen=True)
class DataSeries:
    r"""Taylor coefficients in :math:`J_D` of the posterior of a Gaussian prior (:func:`data_series`).

    ``mean_coefficients[n]`` (P_test,) and ``cov_coefficients[n]`` (P_test, P_test) multiply :math:`J_D^n`;
    ``radius`` is the radius of convergence :math:`1/\lambda_{\max}(K_{DD})`.
    """

    mean_coefficients: np.ndarray
    cov_coefficients: np.ndarray | None
    radius: float

    def mean(self, J_D):
        """Partial sum of the mean series at ``J_D``."""
        J = float(J_D)
        return sum(c * J**n for n, c in enumerate(self.mean_coefficients))

    def cov(self, J_D):
        """Partial sum of the covariance series at ``J_D``."""
        if self.cov_coefficients is None:
            raise ValueError("cov: the series was built without K_test")
        J = float(J_D)
        return sum(c * J**n for n, c in enumerate(self.cov_coefficients))


def data_series(K_train, K_cross, y, order: int = 2, K_test=None) -> DataSeries:
    r"""Perturbation series in :math:`J_D` of the Gaussian-prior posterior, to ``order``.

    With :math:`\Delta H = \sum_\mu\frac12(f_\mu - y_\mu)^2`, the cumulant expansion of
    :math:`\langle f_*\rangle_{J_D}` (see :func:`wick_expansion`) resums to the geometric series

    .. math:: \langle f_*\rangle = \sum_{n\ge0}(-1)^n J_D^{n+1}\,K_{*D}K_{DD}^n\,y,\qquad
              \mathrm{Cov}(f_*) = K_{**} - \sum_{n\ge0}(-1)^n J_D^{n+1}\,K_{*D}K_{DD}^n K_{D*},

    the Taylor series of :func:`gp_posterior` (expand :math:`(I + J_D K)^{-1}`), convergent for
    :math:`J_D < 1/\lambda_{\max}(K_{DD})` and divergent beyond (the series stops converging where the data term
    is as stiff as the prior's largest mode).

    Returns
    -------
    DataSeries
    """
    Kd, Kx, Kt, yv = _kernels(K_train, K_cross, K_test, y)
    order = check_int(order, "order", minimum=0, maximum=10_000)
    mean = np.zeros((order + 1, Kx.shape[0]))
    cov = None if Kt is None else np.zeros((order + 1, Kx.shape[0], Kx.shape[0]))
    if cov is not None:
        cov[0] = Kt
    v = yv.copy()        # K^n y
    M = Kx.T.copy()      # K^n K_D*
    for n in range(order):
        mean[n + 1] = (-1) ** n * (Kx @ v)
        if cov is not None:
            cov[n + 1] = -((-1) ** n) * (Kx @ M)
        v = Kd @ v
        M = Kd @ M
    lam = float(np.max(np.linalg.eigvalsh(Kd)))
    return DataSeries(mean_coefficients=mean, cov_coefficients=cov, radius=math.inf if lam <= 0 else 1.0 / lam)


def posterior_mean_series(K, y, test, train, C4=None):
    r"""Posterior mean of one output to second order in :math:`J_D`, for a symmetric (not necessarily Gaussian) prior.

    For a prior symmetric under :math:`f\to-f` with two-point function :math:`K` and connected four-point
    function :math:`C_4` (e.g. a finite-width network: :func:`statfield.finite_width.connected_four_point`),
    and :math:`\Delta H = \sum_\mu\frac12(f_\mu-y_\mu)^2`, the cumulant expansion gives (derivation in
    ``docs/perturbation.md``; odd cumulants vanish by symmetry)

    .. math:: \langle f_*\rangle = J_D\sum_\mu K_{*\mu}y_\mu
              - J_D^2\sum_{\mu\nu}\Big(K_{*\mu}K_{\mu\nu} + \tfrac12 C_{4,*\mu\mu\nu}\Big)y_\nu + O(J_D^3).

    Parameters
    ----------
    K : array (P, P)
        Two-point function over all inputs (training and test).
    y : array (len(train),)
    test : int
        Index of the test input in ``K``.
    train : sequence of int
        Indices of the training inputs in ``K``.
    C4 : array (P, P, P, P) or None
        Connected four-point function (``None``: Gaussian prior).

    Returns
    -------
    ndarray (3,)
        The coefficients :math:`(c_0, c_1, c_2)` of :math:`1, J_D, J_D^2`.
    """
    K = _matrix(K, "K")
    P = K.shape[0]
    train = np.asarray(train, dtype=int).reshape(-1)
    if np.any(train < 0) or np.any(train >= P):
        raise ValueError(f"train indices must lie in [0, {P - 1}], got {train}")
    test = check_int(test, "test", minimum=0, maximum=P - 1)
    yv = _vector(y, "y", train.size)
    Ksd = K[test, train]
    Kdd = K[np.ix_(train, train)]
    c1 = float(Ksd @ yv)
    c2 = -float(Ksd @ Kdd @ yv)
    if C4 is not None:
        C4 = np.asarray(check_finite(C4, "C4"), dtype=float)
        if C4.shape != (P, P, P, P):
            raise ValueError(f"C4 must have shape {(P,) * 4}, got {C4.shape}")
        sub = C4[test][np.ix_(train, train, train)]  # [mu, mu', nu]
        diag = np.einsum("mmn->n", sub)
        c2 -= 0.5 * float(diag @ yv)
    return np.array([0.0, c1, c2])


def linear_response(K_train, K_cross, J_D):
    r"""Data as an external source: :math:`\partial\langle f_*\rangle/\partial y_\mu = J_D\,[K_{*D}(I + J_D K_{DD})^{-1}]_{*\mu}`.

    Exact for the Gaussian prior (the posterior mean is linear in :math:`y`); to first order in :math:`J_D` it is
    the prior covariance :math:`J_D K_{*\mu}` — the data point acts as a source coupled to :math:`f(x_\mu)`.
    Returns an array (P_test, P).
    """
    Kd = _matrix(K_train, "K_train")
    Kx = _matrix(K_cross, "K_cross")
    if Kx.shape[1] != Kd.shape[0]:
        raise ValueError(f"K_cross must have shape (P_test, {Kd.shape[0]}), got {Kx.shape}")
    J = check_positive(J_D, "J_D")
    A = J * Kd + np.eye(Kd.shape[0])
    return J * np.linalg.solve(A.T, Kx.T).T


# ============================================================================ reweighting
def _gpdfit(x):
    r"""Generalised-Pareto fit (Zhang & Stephens 2009) of exceedances ``x > 0``; returns (k, sigma).

    The empirical-Bayes estimator used by PSIS (Vehtari, Simpson, Gelman, Yao & Gabry 2024, arXiv:1507.02646,
    Appendix), with the weakly informative prior that shrinks :math:`k` towards 0.5 (their Eq. 6).
    """
    x = np.sort(np.asarray(x, dtype=float))
    n = x.size
    prior_bs, prior_k = 3.0, 10.0
    m_est = 30 + int(math.sqrt(n))
    b = 1.0 - np.sqrt(m_est / (np.arange(1, m_est + 1) - 0.5))
    b /= prior_bs * x[int(n / 4 + 0.5) - 1]
    b += 1.0 / x[-1]
    k_b = np.mean(np.log1p(-b[:, None] * x[None, :]), axis=1)
    len_scale = n * (np.log(-(b / k_b)) - k_b - 1.0)
    with np.errstate(over="ignore"):  # exp(+large) -> inf -> weight 0: the intended limit
        weights = 1.0 / np.sum(np.exp(len_scale - len_scale[:, None]), axis=1)
    keep = weights >= 10 * np.finfo(float).eps
    weights = weights[keep] / np.sum(weights[keep])
    b_post = np.sum(b[keep] * weights)
    k_post = np.mean(np.log1p(-b_post * x))
    sigma = -k_post / b_post
    k_post = (n * k_post + prior_k * 0.5) / (n + prior_k)
    return float(k_post), float(sigma)


def psis_khat(log_weights) -> float:
    r"""Pareto-tail shape :math:`\hat k` of importance weights (PSIS diagnostic).

    Fits a generalised Pareto distribution to the :math:`M = \min(n/5, 3\sqrt n)` largest weights
    (Vehtari et al. 2024, arXiv:1507.02646, §3): :math:`\hat k < 0.5` the weights have finite variance,
    :math:`0.5 \le \hat k < 0.7` usable with caution, :math:`\hat k \ge 0.7` the estimate is unreliable
    (the self-normalised estimator's error bar cannot be trusted).
    """
    lw = np.asarray(check_finite(log_weights, "log_weights"), dtype=float).reshape(-1)
    n = lw.size
    if n < 10:
        raise ValueError(f"log_weights: the Pareto-k diagnostic needs at least 10 samples, got {n}")
    M = int(min(n / 5.0, 3.0 * math.sqrt(n)))
    order = np.argsort(lw)
    tail = lw[order[-M:]]
    cutoff = lw[order[-M - 1]]
    w = np.exp(tail - tail.max())
    u = np.exp(cutoff - tail.max())
    exceed = w - u
    exceed = exceed[exceed > 0]
    if exceed.size < 5:
        return 0.0  # (near-)constant tail: no heavier than exponential
    k, _ = _gpdfit(exceed)
    return k


@dataclass(frozen=True)
class ReweightResult:
    r"""Output of :func:`reweight`.

    Attributes
    ----------
    estimates : dict[str, Estimate]
        :math:`\langle O\rangle_\varepsilon` with delta-method standard errors (``n`` = Kish ESS, rounded down).
    ess : float
        Kish effective sample size :math:`(\sum w)^2/\sum w^2`.
    khat : float
        PSIS Pareto-:math:`\hat k` of the weights (NaN-free; ``None`` for fewer than 10 samples).
    weights : ndarray
        Normalised weights (sum to 1).
    log_Z_ratio : float
        :math:`\ln\langle e^{-\varepsilon\Delta H}\rangle_0` (estimate of :math:`-\Delta F`).
    """

    estimates: dict
    ess: float
    khat: float | None
    weights: np.ndarray = field(repr=False)
    log_Z_ratio: float

    def __getitem__(self, name):
        return self.estimates[name]


def reweight(delta_H, observables, eps: float = 1.0, *, warn: bool = True) -> ReweightResult:
    r"""Self-normalised importance reweighting of prior samples by :math:`e^{-\varepsilon\Delta H}`.

    .. math:: \hat O_\varepsilon = \frac{\sum_i w_i O_i}{\sum_i w_i},\quad w_i = e^{-\varepsilon\Delta H_i},\qquad
              \widehat{\mathrm{se}}^2 = \frac{\sum_i w_i^2\,(O_i - \hat O_\varepsilon)^2}{(\sum_i w_i)^2}

    (delta method for the ratio estimator; Owen 2013, *Monte Carlo theory, methods and examples*, Eq. 9.8).
    Weights are formed in log space (log-sum-exp), so :math:`\varepsilon\Delta H` of any size is safe.

    Parameters
    ----------
    delta_H : array (n,)
        :math:`\Delta H` of each prior sample (finite).
    observables : mapping str -> array (n, ...)
        Per-sample values of each observable.
    eps : float >= 0
        Strength of the perturbation (:math:`J_D` for the data term).
    warn : bool
        Emit :class:`ReweightingWarning` when :math:`\hat k > 0.7` or the ESS is below 100.

    Raises
    ------
    ValueError
        Non-finite input, mismatched lengths, or an effective sample size below 2 (a single sample
        dominates: the estimate and its error bar would be meaningless).
    """
    dH = np.asarray(check_finite(delta_H, "delta_H"), dtype=float).reshape(-1)
    n = dH.size
    if n < 2:
        raise ValueError(f"delta_H must have at least 2 samples, got {n}")
    e = check_nonnegative(eps, "eps")
    if not isinstance(observables, dict) or not observables:
        raise TypeError("observables must be a non-empty dict mapping names to arrays of shape (n, ...)")
    lw = -e * dH
    lw -= lw.max()
    w = np.exp(lw)
    S = w.sum()
    wn = w / S
    ess = float(1.0 / np.sum(wn * wn))
    if not ess >= 2.0:
        raise ValueError(f"eps={e:g}: the effective sample size is {ess:.3g} < 2 (a few samples carry all the "
                         f"weight); reduce eps or sample closer to the target")
    log_Z = float(np.log(np.mean(w)) + (-e * dH).max())
    khat = psis_khat(lw) if n >= 10 else None
    if warn and khat is not None and khat > 0.7:
        warnings.warn(f"reweight: Pareto k-hat = {khat:.2f} > 0.7 at eps={e:g}: the importance weights have "
                      f"(effectively) infinite variance and the error bars are unreliable (ESS = {ess:.1f})",
                      ReweightingWarning, stacklevel=2)
    elif warn and ess < 100:
        warnings.warn(f"reweight: effective sample size {ess:.1f} < 100 at eps={e:g}", ReweightingWarning,
                      stacklevel=2)
    est = {}
    for name, vals in observables.items():
        O = np.asarray(check_finite(vals, f"observables[{name!r}]"), dtype=float)
        if O.shape[:1] != (n,):
            raise ValueError(f"observables[{name!r}] must have shape ({n}, ...), got {O.shape}")
        W = wn.reshape((n,) + (1,) * (O.ndim - 1))
        mean = np.sum(W * O, axis=0)
        se = np.sqrt(np.sum(W * W * (O - mean) ** 2, axis=0))
        if mean.ndim == 0:
            mean, se = float(mean), float(se)
        est[name] = Estimate(mean, se, int(ess))
    return ReweightResult(estimates=est, ess=ess, khat=khat, weights=wn, log_Z_ratio=log_Z)


# ============================================================================ network samples
def sample_outputs(activation, sigma_w2, sigma_b2, width, depth, X, n_samples, seed=0, block_size=4096):
    r"""Exact samples of the output :math:`f(x) = z^{\mathrm{depth}}_1(x)` of one unit, for ``n_samples`` random networks.

    Pre-activation sampling (exact at any width): given layer :math:`l-1`, the rows of :math:`z^l` are i.i.d.
    :math:`N(0,\hat G^l)` with :math:`\hat G^l_{\alpha\beta} = \sigma_b^2 + \sigma_w^2\phi(z^{l-1}_\alpha)\cdot
    \phi(z^{l-1}_\beta)/N_{l-1}` (arXiv:1710.06570 Eq. 9); hidden layers have ``width`` units, the output layer
    one unit. Blocks of ``block_size`` networks use ``SeedSequence(seed, spawn_key=(block,))`` (same numbers for
    any ``n_samples`` prefix).

    Returns
    -------
    ndarray (n_samples, P)
    """
    from .activations import get_activation
    from .sampling.preactivation import factor, input_kernel, phi_gram

    act = get_activation(activation)
    sigma_w2, sigma_b2 = check_variances(sigma_w2, sigma_b2)
    width = check_int(width, "width", minimum=1)
    depth = check_int(depth, "depth", minimum=1)
    n_samples = check_int(n_samples, "n_samples", minimum=1)
    block_size = check_int(block_size, "block_size", minimum=1)
    Xa = np.asarray(check_finite(X, "X"), dtype=float)
    Xa = Xa.reshape(-1, 1) if Xa.ndim == 1 else Xa
    if Xa.ndim != 2:
        raise ValueError(f"X must have shape (P, d_in), got {np.shape(X)}")
    P = Xa.shape[0]
    mem = 8.0 * min(block_size, n_samples) * width * P * 3
    if mem > 4e9:
        raise ValueError(f"width*block_size*P too large: a block needs ~{mem / 1e9:.1f} GB; lower block_size")
    S1 = input_kernel(Xa, sigma_w2, sigma_b2)
    L1 = factor(S1, np)
    out = np.empty((n_samples, P))
    for b, start in enumerate(range(0, n_samples, block_size)):
        m = min(block_size, n_samples - start)
        rng = np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(b,)))
        L = L1
        for l in range(depth):
            N = 1 if l == depth - 1 else width
            xi = rng.standard_normal((m, N, P))
            z = xi @ np.swapaxes(L, -1, -2)
            if l == depth - 1:
                out[start:start + m] = z[:, 0, :]
                break
            S = sigma_b2 + sigma_w2 * phi_gram(act, z, np)
            if not np.all(np.isfinite(S)):
                raise OverflowError(f"sample_outputs: the kernel overflows float64 at layer {l + 2}")
            L = factor(S, np)
    return out


def network_posterior(activation, sigma_w2, sigma_b2, width, depth, X_train, y_train, X_test, J_D,
                      n_samples=100_000, seed=0):
    r"""Finite-width Bayesian posterior of the outputs by reweighting exact prior networks.

    Prior networks (:func:`sample_outputs` on the training and test inputs together) are reweighted by
    :math:`\exp(-J_D\sum_\mu\frac12(f(x_\mu)-y_\mu)^2)` (:func:`reweight`). At large width the result must agree
    with :func:`gp_posterior` on the NNGP kernel within the error bars; at small width it differs by the
    non-Gaussianity of the prior (to :math:`O(J_D^2)`: :func:`posterior_mean_series` with :math:`C_4`).

    Returns
    -------
    ReweightResult
        ``estimates["mean"]`` (P_test,), ``estimates["second_moment"]`` (P_test, P_test).
    """
    Xd = np.asarray(check_finite(X_train, "X_train"), dtype=float)
    Xs = np.asarray(check_finite(X_test, "X_test"), dtype=float)
    Xd = Xd.reshape(-1, 1) if Xd.ndim == 1 else Xd
    Xs = Xs.reshape(-1, 1) if Xs.ndim == 1 else Xs
    if Xd.shape[1] != Xs.shape[1]:
        raise ValueError(f"X_train and X_test must have the same d_in, got {Xd.shape[1]} and {Xs.shape[1]}")
    y = _vector(y_train, "y_train", Xd.shape[0])
    J = check_nonnegative(J_D, "J_D")
    f = sample_outputs(activation, sigma_w2, sigma_b2, width, depth, np.vstack([Xd, Xs]), n_samples, seed)
    fd, fs = f[:, : Xd.shape[0]], f[:, Xd.shape[0]:]
    dH = 0.5 * np.sum((fd - y) ** 2, axis=1)
    return reweight(dH, {"mean": fs, "second_moment": fs[:, :, None] * fs[:, None, :]}, eps=J)


# ============================================================================ adjusted batch size
def adjusted_batch_size(weights) -> float:
    r"""Adjusted size of a batch of weighted samples: :math:`B_{\rm adj} = \sum_{i\in\rm batch} w_i`.

    Definition used here (the seed note's formula was lost; this is our derivation): with per-sample weights
    normalised to mean one over the data, :math:`\tilde w = w/\langle w\rangle`, the weighted summed loss
    :math:`\sum_{i\in B}\tilde w_i\,\ell_i` has expectation :math:`B_{\rm adj}\langle\ell\rangle_w` and its gradient
    scales with :math:`\sum_i\tilde w_i`. A fixed *number* of samples therefore gives gradient norms that
    fluctuate with the weights; a fixed :math:`B_{\rm adj}` removes that fluctuation (the step size in the
    reweighted distribution is constant), which is what the note's error-carrying batcher achieves on average.
    """
    w = np.asarray(check_nonnegative(weights, "weights"), dtype=float).reshape(-1)
    return float(np.sum(w))


class AdjustedBatcher:
    r"""Form batches of a weighted stream whose adjusted sizes average to ``b_avg``.

    The note's rule: keep an error variable; at each step add ``b_avg`` to it, then add samples while the adjusted
    size (:func:`adjusted_batch_size`, the sum of normalised weights) stays :math:`\le` the error, subtract the
    batch's adjusted size and yield the batch. The carried error makes the running mean of the adjusted sizes
    converge to ``b_avg`` (the deviation after :math:`T` batches is bounded by
    :math:`(\max_i\tilde w_i + B_{\rm avg})/T`), whereas the number of samples per batch varies.

    Every step yields a non-empty batch: a sample whose weight alone exceeds the accumulated error forms a batch
    of its own, and the error goes negative (by less than that weight) until later steps repay it.

    Parameters
    ----------
    b_avg : float > 0
        Target mean adjusted batch size (in units of normalised weight).

    Examples
    --------
    >>> batcher = AdjustedBatcher(32.0)
    >>> for idx in batcher.batches(weights):   # doctest: +SKIP
    ...     train_step(data[idx], weights[idx])
    """

    def __init__(self, b_avg: float):
        self.b_avg = check_positive(b_avg, "b_avg")
        self.err = 0.0
        self.sizes: list[float] = []

    def batches(self, weights, order=None):
        """Yield index arrays of consecutive batches over one pass of ``weights`` (normalised to mean one).

        Parameters
        ----------
        weights : array (n,) of non-negative weights (not all zero)
        order : array of int, optional
            Visiting order (e.g. a random permutation); default ``0..n-1``.
        """
        w = np.asarray(check_nonnegative(weights, "weights"), dtype=float).reshape(-1)
        if w.size == 0 or not np.any(w > 0):
            raise ValueError("weights must contain at least one positive weight")
        wt = w / w.mean()
        idx = np.arange(w.size) if order is None else np.asarray(order, dtype=int).reshape(-1)
        pos = 0
        while pos < idx.size:
            self.err += self.b_avg
            size = 0.0
            start = pos
            while pos < idx.size and (pos == start or size + wt[idx[pos]] <= self.err):
                # the first sample is always taken: a sample heavier than the error forms a batch of its own
                # and the error goes negative (by less than its weight), to be repaid by the next steps
                size += wt[idx[pos]]
                pos += 1
            self.err -= size
            self.sizes.append(size)
            yield idx[start:pos]

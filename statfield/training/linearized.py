r"""Infinite-width training dynamics and the exact Bayesian (NNGP) posterior.

Conventions (``docs/conventions.md``): inputs :math:`x\in\mathbb R^{d_\mathrm{in}}`, one scalar output
:math:`f(x) = z^{L}(x)` of a network with ``depth`` = :math:`L` Dense layers; at initialisation
:math:`W^l_{ij}\sim N(0,\sigma_w^2/N_{l-1})` (fan-in), :math:`b^l_i\sim N(0,\sigma_b^2)`, so the outputs are a
Gaussian process with the NNGP kernel :math:`K = K^{(L)}` (``meanfield.nngp_kernel(..., depth=L)``). Training uses
the **NTK parameterisation** (the same law at initialisation, trainable parameters of unit variance,
:math:`z^l = \sqrt{\sigma_w^2/N_{l-1}}\,\omega^l h^{l-1} + \sigma_b\beta^l`), whose neural tangent kernel
:math:`\Theta = \Theta^{(L)}` (``meanfield.ntk_kernel(..., depth=L)``) is :math:`O(1)` at infinite width.

Loss and step convention (shared with :func:`statfield.training.train_ensemble`):
:math:`\mathcal L = \tfrac12\sum_{\mu=1}^{P}(f(x_\mu)-y_\mu)^2` (a **sum** over the training points);
gradient flow :math:`\dot\theta = -\partial\mathcal L/\partial\theta` (continuous time :math:`t`) or gradient
descent :math:`\theta\leftarrow\theta-\eta\,\partial\mathcal L/\partial\theta` (:math:`t` counts steps).

At infinite width the network is its linearisation (Lee et al. 2019, arXiv:1902.06720, Eqs. 9-16):
:math:`f_t(X) = y + e^{-\Theta t}(f_0(X) - y)` and for test inputs

.. math::  f_t(X_*) = f_0(X_*) + \Theta_{*}\Theta^{-1}(1 - e^{-\Theta t})\,(y - f_0(X)),

with :math:`f_0\sim GP(0, K)`. Hence (Lee et al. 2019, Eq. 16), with :math:`T_t = \Theta_*\Theta^{-1}(1-e^{-\Theta t})`,

.. math::  \mu_t = T_t\,y,\qquad
           \Sigma_t = K_{**} + T_t K T_t^\top - T_t K_*^\top - K_* T_t^\top .

Discrete gradient descent replaces :math:`e^{-\Theta t}` by :math:`(1-\eta\Theta)^t`; it converges iff
:math:`\eta < 2/\lambda_{\max}(\Theta)` (the stability limit). The functions of :math:`\Theta` are evaluated in its
eigenbasis, :math:`(1 - e^{-\lambda t})/\lambda` by ``expm1`` (its :math:`\lambda\to 0` limit :math:`t` is exact), so
no inverse is formed at finite :math:`t`; :math:`t=\infty` needs :math:`\Theta` invertible (or ``ridge > 0``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .._checks import check_int, check_nonnegative, check_positive, check_variances
from ..activations import get_activation

__all__ = [
    "PosteriorPrediction",
    "TrainingPrediction",
    "gradient_descent_mse",
    "nngp_posterior",
    "stability_limit",
    "train_test_kernels",
]

#: relative eigenvalue floor below which the training NTK/NNGP counts as singular
SINGULAR_RTOL = 1e-12


@dataclass
class TrainingPrediction:
    """Distribution of the test outputs of the trained infinite-width ensemble.

    Attributes
    ----------
    t : ndarray (T,)
        Training times (gradient flow) or step counts (gradient descent); may contain ``inf``.
    mean : ndarray (T, P_test)
        :math:`\\mu_t = E f_t(X_*)`.
    cov : ndarray (T, P_test, P_test)
        :math:`\\Sigma_t = \\mathrm{Cov} f_t(X_*)` over initialisations.
    train_mean, train_cov : ndarray
        The same on the training inputs, shapes (T, P) and (T, P, P).
    train_loss : ndarray (T,)
        Expected loss :math:`E\\mathcal L_t = \\tfrac12(|E r_t|^2 + \\mathrm{tr\\,Cov}\\,r_t)`, :math:`r = f_t(X) - y`.
    learning_rate : float or None
        ``None`` for gradient flow.
    stability_limit : float
        :math:`2/\\lambda_{\\max}(\\Theta + \\mathrm{ridge})` (learning rates must stay below it).
    params : dict
    """

    t: np.ndarray
    mean: np.ndarray
    cov: np.ndarray
    train_mean: np.ndarray
    train_cov: np.ndarray
    train_loss: np.ndarray
    learning_rate: float | None
    stability_limit: float
    params: dict = field(default_factory=dict)

    @property
    def std(self) -> np.ndarray:
        """Marginal standard deviations :math:`\\sqrt{\\mathrm{diag}\\,\\Sigma_t}`, shape (T, P_test)."""
        return np.sqrt(np.clip(np.diagonal(self.cov, axis1=1, axis2=2), 0.0, None))

    def to_json(self) -> dict:
        from .._io import to_jsonable

        return to_jsonable({"t": [None if not math.isfinite(x) else x for x in self.t.tolist()],
                            "t_is_inf": np.isinf(self.t).tolist(), "mean": self.mean, "cov": self.cov,
                            "train_loss": self.train_loss, "learning_rate": self.learning_rate,
                            "stability_limit": self.stability_limit, "params": self.params})


@dataclass
class PosteriorPrediction:
    """Exact GP posterior of the outputs at the test inputs: ``mean`` (P_test,), ``cov`` (P_test, P_test)."""

    mean: np.ndarray
    cov: np.ndarray
    noise_variance: float
    log_marginal_likelihood: float
    params: dict = field(default_factory=dict)

    @property
    def std(self) -> np.ndarray:
        return np.sqrt(np.clip(np.diag(self.cov), 0.0, None))


# ---------------------------------------------------------------------------------------------- inputs
def _matrix(X, name, d_in=None):
    try:
        A = np.asarray(X, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real array of shape (P, d_in)") from None
    if A.ndim == 1 and d_in is not None and A.shape[0] == d_in:
        A = A[None, :]
    if A.ndim != 2 or A.shape[0] < 1 or A.shape[1] < 1:
        raise ValueError(f"{name} must be a 2-D array (P, d_in) with P, d_in >= 1, got shape {A.shape}")
    if not np.all(np.isfinite(A)):
        raise ValueError(f"{name} must be finite (it contains NaN or inf)")
    if d_in is not None and A.shape[1] != d_in:
        raise ValueError(f"{name} must have d_in = {d_in} columns like X_train, got {A.shape[1]}")
    return A


def _targets(y, P):
    try:
        v = np.asarray(y, dtype=float)
    except (TypeError, ValueError):
        raise ValueError("y_train must be a real array of shape (P,)") from None
    if v.ndim == 2 and v.shape[1] == 1:
        v = v[:, 0]
    if v.shape != (P,):
        raise ValueError(f"y_train must have shape ({P},) (one scalar target per training input), got {v.shape}")
    if not np.all(np.isfinite(v)):
        raise ValueError("y_train must be finite (it contains NaN or inf)")
    return v


def _times(t, discrete):
    try:
        ts = np.atleast_1d(np.asarray(t, dtype=float))
    except (TypeError, ValueError):
        raise ValueError("t must be a number or a 1-D sequence of numbers >= 0 (numpy.inf allowed)") from None
    if ts.ndim != 1 or ts.size == 0:
        raise ValueError(f"t must be a number or a non-empty 1-D sequence, got shape {ts.shape}")
    if np.any(np.isnan(ts)) or np.any(ts < 0):
        raise ValueError(f"t must be >= 0 (numpy.inf allowed), got {t!r}")
    if discrete:
        fin = ts[np.isfinite(ts)]
        if np.any(fin != np.round(fin)):
            raise ValueError("t must hold integer step counts (or numpy.inf) when learning_rate is given")
    return ts


def train_test_kernels(activation, sigma_w2, sigma_b2, depth, X_train, X_test):
    r"""NNGP and NTK blocks ``(K, K_*, K_**, Theta, Theta_*)`` for train/test inputs.

    Computed on the stacked inputs ``[X_train; X_test]`` by :func:`statfield.meanfield.nngp_kernel` and
    :func:`statfield.meanfield.ntk_kernel` (``depth`` Dense layers) and split: ``K`` (P, P),
    ``K_*`` (P_test, P), ``K_**`` (P_test, P_test), ``Theta`` (P, P), ``Theta_*`` (P_test, P).
    """
    from .. import meanfield as mf

    Xall = np.concatenate([X_train, X_test], axis=0)
    P = X_train.shape[0]
    K = np.asarray(mf.nngp_kernel(activation, sigma_w2, sigma_b2, Xall, depth), dtype=float)
    Th = np.asarray(mf.ntk_kernel(activation, sigma_w2, sigma_b2, Xall, depth), dtype=float)
    for name, M in (("nngp_kernel", K), ("ntk_kernel", Th)):
        if not np.all(np.isfinite(M)):
            raise FloatingPointError(f"{name} is not finite for these inputs (overflow at depth={depth}); "
                                     f"use fewer layers or sigma_w2 at or below the order-chaos line")
    return K[:P, :P], K[P:, :P], K[P:, P:], Th[:P, :P], Th[P:, :P]


def _eigh_psd(M, name):
    lam, V = np.linalg.eigh(0.5 * (M + M.T))
    scale = max(float(np.max(np.abs(lam))), 1e-300)
    if lam[0] < -1e-9 * scale:
        raise ValueError(f"{name} is not positive semi-definite (smallest eigenvalue {lam[0]:.3g}); "
                         f"check the inputs")
    return np.clip(lam, 0.0, None), V, scale


def stability_limit(activation, sigma_w2, sigma_b2, depth, X_train, ridge=0.0) -> float:
    r"""Largest stable learning rate :math:`2/\lambda_{\max}(\Theta + \mathrm{ridge})` of gradient descent on
    :math:`\mathcal L = \tfrac12\sum_\mu (f(x_\mu)-y_\mu)^2` at infinite width (NTK parameterisation)."""
    from .. import meanfield as mf

    X = _matrix(X_train, "X_train")
    Th = np.asarray(mf.ntk_kernel(activation, sigma_w2, sigma_b2, X, depth), dtype=float)
    lam = np.linalg.eigvalsh(0.5 * (Th + Th.T))
    return 2.0 / (float(lam[-1]) + float(ridge))


# ---------------------------------------------------------------------------------------------- dynamics
def gradient_descent_mse(activation, sigma_w2, sigma_b2, depth, X_train, y_train, X_test, t, learning_rate=None,
                         ridge=0.0) -> TrainingPrediction:
    r"""Test-output mean and covariance of the infinite-width ensemble trained on the MSE loss.

    Lee et al. 2019 (arXiv:1902.06720), Eqs. 14-16: at infinite width, gradient flow on
    :math:`\mathcal L = \tfrac12\sum_\mu (f(x_\mu) - y_\mu)^2` gives :math:`\dot f = -\Theta(f - y)` and

    .. math:: \mu_t = T_t y,\quad \Sigma_t = K_{**} + T_t K T_t^\top - T_t K_*^\top - K_* T_t^\top,\quad
              T_t = \Theta_*\Theta^{-1}(1 - e^{-\Theta t}),

    with the NNGP kernel :math:`K` (prior at initialisation) and the NTK :math:`\Theta` (dynamics), both of
    ``depth`` Dense layers (``meanfield.nngp_kernel`` / ``meanfield.ntk_kernel``; NTK parameterisation, so
    with the standard parameterisation :math:`\Theta` and the learning rate would be rescaled by the widths).
    For gradient descent with step ``learning_rate`` :math:`\eta`, :math:`e^{-\Theta t}\to(1-\eta\Theta)^t`.

    Parameters
    ----------
    activation : str or Activation
    sigma_w2 : float > 0
        Weight variance per fan-in.
    sigma_b2 : float >= 0
        Bias variance.
    depth : int >= 1
        Number of Dense layers :math:`L` (the output is :math:`z^L`).
    X_train : array (P, d_in)
    y_train : array (P,)
        Scalar targets.
    X_test : array (P_test, d_in)
    t : float or sequence of floats >= 0
        Times (gradient flow) or step counts (integers, gradient descent); ``numpy.inf`` gives the
        converged ensemble (kernel regression mean :math:`\Theta_*\Theta^{-1}y`).
    learning_rate : float > 0, optional
        ``None``: gradient flow. A number :math:`\eta`: gradient descent; must be below the stability limit
        :math:`2/\lambda_{\max}(\Theta + \mathrm{ridge})` (else ``ValueError`` naming the limit).
    ridge : float >= 0
        Added to the diagonal of the training NTK: dynamics :math:`\dot f = -(\Theta + \mathrm{ridge})(f - y)`,
        so :math:`t = \infty` gives kernel ridge regression (neural-tangents ``diag_reg`` on the NTK). Needed for
        :math:`t=\infty` when :math:`\Theta` is singular (duplicate or degenerate training inputs).

    Returns
    -------
    TrainingPrediction
        ``mean`` (len(t), P_test), ``cov`` (len(t), P_test, P_test), the same on the training inputs, the
        expected training loss and the stability limit.

    Raises
    ------
    ValueError
        Bad shapes, non-finite data (naming ``X_train``, ``y_train`` or ``X_test``), ``learning_rate`` at or
        above the stability limit, or a singular training NTK with ``t = inf`` and ``ridge = 0``.
    """
    act = get_activation(activation)
    sigma_w2, sigma_b2 = check_variances(sigma_w2, sigma_b2)
    depth = check_int(depth, "depth", minimum=1)
    X = _matrix(X_train, "X_train")
    P, d_in = X.shape
    Xs = _matrix(X_test, "X_test", d_in)
    y = _targets(y_train, P)
    ridge = check_nonnegative(ridge, "ridge")
    eta = None if learning_rate is None else check_positive(learning_rate, "learning_rate")
    ts = _times(t, eta is not None)
    K, Ks, Kss, Th, Ths = train_test_kernels(act, sigma_w2, sigma_b2, depth, X, Xs)
    lam, V, _scale = _eigh_psd(Th + ridge * np.eye(P), "the training NTK")
    lam_max = float(lam[-1])
    limit = 2.0 / lam_max if lam_max > 0 else math.inf
    if eta is not None and not eta < limit:
        raise ValueError(f"learning_rate = {eta:g} is at or above the stability limit 2/lambda_max(Theta) = "
                         f"{limit:.6g} of gradient descent (lambda_max = {lam_max:.6g}); use learning_rate < {limit:.6g}")
    singular = lam[0] <= SINGULAR_RTOL * lam_max
    if singular and np.any(np.isinf(ts)):
        raise ValueError(f"the training NTK is singular (eigenvalue ratio {lam[0] / lam_max:.2e} <= {SINGULAR_RTOL:g}: "
                         f"duplicate or degenerate training inputs), so t = inf is undefined; pass ridge > 0 "
                         f"(e.g. ridge = {1e-8 * lam_max:.1e}) or finite t")
    AV = Ths @ V  # (P_test, P)
    means, covs, tmeans, tcovs, losses = [], [], [], [], []
    I = np.eye(P)
    for tt in ts:
        g = _filter(lam, tt, eta)  # (1 - decay(lambda, t)) / lambda
        decay = 1.0 - lam * g  # e^{-lambda t} or (1 - eta lambda)^t
        T = (AV * g) @ V.T  # (P_test, P)
        means.append(T @ y)
        TK = T @ K
        C = Kss + TK @ T.T - T @ Ks.T - Ks @ T.T
        covs.append(0.5 * (C + C.T))
        # training inputs: f_t(X) = y + E_t (f_0 - y), E_t = V diag(decay) V^T
        Ttr = I - (V * decay) @ V.T
        m_tr = Ttr @ y
        C_tr = K + Ttr @ K @ Ttr.T - Ttr @ K - K @ Ttr.T
        C_tr = 0.5 * (C_tr + C_tr.T)
        tmeans.append(m_tr)
        tcovs.append(C_tr)
        r = m_tr - y
        losses.append(0.5 * (float(r @ r) + float(np.trace(C_tr))))
    params = {"activation": act.name, "sigma_w2": float(sigma_w2), "sigma_b2": float(sigma_b2), "depth": depth,
              "P_train": P, "P_test": int(Xs.shape[0]), "ridge": float(ridge),
              "lambda_min": float(lam[0]), "lambda_max": lam_max}
    out = TrainingPrediction(t=ts, mean=np.array(means), cov=np.array(covs), train_mean=np.array(tmeans),
                             train_cov=np.array(tcovs), train_loss=np.array(losses), learning_rate=eta,
                             stability_limit=limit, params=params)
    for name in ("mean", "cov", "train_loss"):
        if not np.all(np.isfinite(getattr(out, name))):
            raise FloatingPointError(f"gradient_descent_mse: non-finite {name} (ill-conditioned NTK); pass ridge > 0")
    return out


def _filter(lam, t, eta):
    r""":math:`(1 - e^{-\lambda t})/\lambda` (flow) or :math:`(1 - (1-\eta\lambda)^t)/\lambda` (GD), exact at
    :math:`\lambda\to0` (value :math:`t`, resp. :math:`\eta t`) and at :math:`t = \infty` (:math:`1/\lambda`)."""
    lam = np.asarray(lam, dtype=float)
    pos = lam > 0
    safe = np.where(pos, lam, 1.0)
    if math.isinf(t):
        return np.where(pos, 1.0 / safe, math.inf)
    if eta is None:
        with np.errstate(over="ignore"):
            g = -np.expm1(-safe * t) / safe
        return np.where(pos, g, t)
    base = 1.0 - eta * safe
    k = int(t)
    with np.errstate(divide="ignore", invalid="ignore"):
        # 1 - base^k computed as -expm1(k log1p(-eta lam)) where the base is positive (accurate for small eta lam)
        lp = np.log1p(np.where(base > 0, -eta * safe, 0.0))
        one_minus = np.where(base > 0, -np.expm1(k * lp), 1.0 - np.power(base, k))
    return np.where(pos, one_minus / safe, eta * k)


# ---------------------------------------------------------------------------------------------- posterior
def nngp_posterior(activation, sigma_w2, sigma_b2, depth, X_train, y_train, X_test, noise_variance=0.0
                   ) -> PosteriorPrediction:
    r"""Exact Bayesian posterior of the infinite-width network outputs (NNGP regression).

    Prior :math:`f\sim GP(0, K)` with :math:`K = K^{(\mathrm{depth})}` (``meanfield.nngp_kernel``), Gaussian
    likelihood :math:`y_\mu = f(x_\mu) + \epsilon_\mu`, :math:`\epsilon_\mu\sim N(0, \sigma_n^2)`:

    .. math:: \mu_* = K_*(K + \sigma_n^2)^{-1}y,\qquad \Sigma_* = K_{**} - K_*(K+\sigma_n^2)^{-1}K_*^\top

    (Rasmussen & Williams 2006, Eqs. 2.22-2.24; Lee et al. 2018, arXiv:1711.00165, Eq. 8). The noise variance is
    the inverse of the data term's coupling :math:`J_D` of the SPS17 talk, :math:`\sigma_n^2 = 1/J_D`
    (:math:`J_D\to\infty` conditions exactly on the data).

    Parameters
    ----------
    activation, sigma_w2, sigma_b2, depth, X_train, y_train, X_test
        As in :func:`gradient_descent_mse`.
    noise_variance : float >= 0
        :math:`\sigma_n^2 = 1/J_D`. ``0`` needs a non-singular :math:`K` (distinct, non-degenerate inputs).

    Returns
    -------
    PosteriorPrediction
        ``mean`` (P_test,), ``cov`` (P_test, P_test), and the log marginal likelihood
        :math:`-\tfrac12 y^\top(K+\sigma_n^2)^{-1}y - \tfrac12\ln\det 2\pi(K+\sigma_n^2)`.

    Raises
    ------
    ValueError
        Bad shapes or non-finite data (naming the argument); a singular :math:`K + \sigma_n^2` (names
        ``noise_variance``).
    """
    from .. import meanfield as mf

    act = get_activation(activation)
    sigma_w2, sigma_b2 = check_variances(sigma_w2, sigma_b2)
    depth = check_int(depth, "depth", minimum=1)
    X = _matrix(X_train, "X_train")
    P, d_in = X.shape
    Xs = _matrix(X_test, "X_test", d_in)
    y = _targets(y_train, P)
    s2 = check_nonnegative(noise_variance, "noise_variance")
    Kall = np.asarray(mf.nngp_kernel(act, sigma_w2, sigma_b2, np.concatenate([X, Xs]), depth), dtype=float)
    if not np.all(np.isfinite(Kall)):
        raise FloatingPointError(f"nngp_kernel is not finite for these inputs at depth={depth}")
    K, Ks, Kss = Kall[:P, :P], Kall[P:, :P], Kall[P:, P:]
    A = 0.5 * (K + K.T) + s2 * np.eye(P)
    lam, V, _scale = _eigh_psd(A, "K + noise_variance")
    if lam[0] <= SINGULAR_RTOL * lam[-1]:
        raise ValueError(f"K + noise_variance is singular (eigenvalue ratio {lam[0] / lam[-1]:.2e}: duplicate or "
                         f"degenerate training inputs); pass noise_variance > 0 (= 1/J_D), e.g. {1e-8 * lam[-1]:.1e}")
    Ainv_y = V @ ((V.T @ y) / lam)
    B = (Ks @ V) / np.sqrt(lam)
    mean = Ks @ Ainv_y
    cov = Kss - B @ B.T
    cov = 0.5 * (cov + cov.T)
    lml = -0.5 * float(y @ Ainv_y) - 0.5 * float(np.sum(np.log(lam))) - 0.5 * P * math.log(2 * math.pi)
    params = {"activation": act.name, "sigma_w2": float(sigma_w2), "sigma_b2": float(sigma_b2), "depth": depth,
              "P_train": P, "P_test": int(Xs.shape[0]), "noise_variance": float(s2)}
    return PosteriorPrediction(mean=mean, cov=cov, noise_variance=float(s2), log_marginal_likelihood=lml,
                               params=params)

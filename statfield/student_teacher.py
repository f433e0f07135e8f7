r"""The solvable linear student–teacher model of generalisation (Advani & Saxe, arXiv:1710.03667).

A teacher :math:`\bar w\in\mathbb R^P` with i.i.d. :math:`N(0,\sigma_{\bar w}^2)` entries labels :math:`D` inputs
:math:`y_i = \bar w\cdot x_i + \epsilon_i`, :math:`\epsilon_i\sim N(0,\sigma_\epsilon^2)`. A linear student
:math:`\hat y = w\cdot x`, initialised with i.i.d. :math:`N(0,\sigma_{w_0}^2)` entries, follows gradient flow on
:math:`L = \frac12\sum_{i=1}^D(y_i - w\cdot x_i)^2`, :math:`\dot w = -\nabla L` (or ridge regression,
:math:`w = (X^\top X + \gamma I)^{-1}X^\top y`).

**Variance convention.** The inputs have i.i.d. entries :math:`x_{i\alpha}\sim N(0, 1/P)`. This is what the
formulas of Kaplan's notes (§6, Eq. 6.0.14–6.0.15) require — :math:`E_{\rm gen} = \frac1P\sum_\alpha\langle(\bar z_\alpha
-z_\alpha)^2\rangle + \sigma_\epsilon^2` and the Marchenko–Pastur edges :math:`\lambda_\pm = (1\pm\sqrt r)^2`,
:math:`r = D/P` — although the notes' text says "unit variance"; with unit variance every eigenvalue is
multiplied by :math:`P` and the error by :math:`P`. We state and use :math:`1/P`.

Per eigenmode :math:`\lambda_\alpha` of :math:`X^\top X` (P×P; :math:`P-\mathrm{rank}` modes have
:math:`\lambda=0` and never learn), the error of mode :math:`\alpha` at time :math:`t` is (notes Eq. 6.0.13)

.. math:: \bar z_\alpha - z_\alpha(t) = (\bar z_\alpha - z_\alpha(0))e^{-\lambda_\alpha t}
          - \frac{\tilde\epsilon_\alpha}{\sqrt{\lambda_\alpha}}\big(1 - e^{-\lambda_\alpha t}\big),

so the generalisation error on a fresh input, averaged over teacher, noise and initialisation, is

.. math:: E_{\rm gen}(t) = \frac1P\sum_\alpha\Big[(\sigma_{\bar w}^2+\sigma_{w_0}^2)e^{-2\lambda_\alpha t}
          + \frac{\sigma_\epsilon^2}{\lambda_\alpha}\big(1-e^{-\lambda_\alpha t}\big)^2\Big] + \sigma_\epsilon^2

(notes Eq. 6.0.14; the :math:`\lambda=0` modes contribute :math:`\sigma_{\bar w}^2+\sigma_{w_0}^2`). Ridge:

.. math:: E_{\rm gen}(\gamma) = \frac1P\sum_\alpha\Big[\frac{\sigma_{\bar w}^2\gamma^2}{(\lambda_\alpha+\gamma)^2}
          + \frac{\sigma_\epsilon^2\lambda_\alpha}{(\lambda_\alpha+\gamma)^2}\Big] + \sigma_\epsilon^2,

minimised at :math:`\gamma^* = \sigma_\epsilon^2/\sigma_{\bar w}^2` (the Bayes posterior mean).

:func:`generalization_error` evaluates both for a given spectrum (exact at finite :math:`P, D`, conditional on
the spectrum) and :func:`asymptotic_generalization_error` integrates them over the Marchenko–Pastur law (notes
Eq. 6.0.15) for :math:`P, D\to\infty` at fixed :math:`r`. :func:`simulate_student_teacher` samples the model
exactly (closed-form gradient flow per sampled data set) with error bars. At :math:`t\to\infty` and
:math:`\gamma\to0` the error diverges at :math:`r=1` (the interpolation peak, "double descent" in :math:`P`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._checks import check_int, check_nonnegative, check_positive
from .stats import Estimate

__all__ = ["mp_edges", "mp_density", "generalization_error", "asymptotic_generalization_error",
           "optimal_ridge", "optimal_stopping_time", "simulate_student_teacher", "StudentTeacherMC"]


def mp_edges(r):
    r"""Edges :math:`\lambda_\pm = (1\pm\sqrt r)^2` of the Marchenko–Pastur bulk of :math:`X^\top X`, entries :math:`N(0,1/P)`, :math:`r=D/P`."""
    r = check_positive(r, "r")
    return (1.0 - math.sqrt(r)) ** 2, (1.0 + math.sqrt(r)) ** 2


def mp_density(lam, r):
    r"""Continuous part of the Marchenko–Pastur density of :math:`X^\top X` (per eigenvalue, P of them).

    .. math:: \rho(\lambda) = \frac{\sqrt{(\lambda_+-\lambda)(\lambda-\lambda_-)}}{2\pi\lambda}
              \quad\text{on }[\lambda_-,\lambda_+],

    plus an atom of weight :math:`\max(0, 1-r)` at :math:`\lambda = 0` (Kaplan's notes Eq. 6.0.15; Marchenko &
    Pastur 1967).
    """
    lo, hi = mp_edges(r)
    lam = np.asarray(lam, dtype=float)
    inside = (lam > lo) & (lam < hi)
    with np.errstate(invalid="ignore", divide="ignore"):
        val = np.sqrt(np.clip((hi - lam) * (lam - lo), 0.0, None)) / (2 * np.pi * lam)
    return np.where(inside, val, 0.0)


def _params(sigma_wbar2, sigma_eps2, sigma_w02):
    return (check_nonnegative(sigma_wbar2, "sigma_wbar2"), check_nonnegative(sigma_eps2, "sigma_eps2"),
            check_nonnegative(sigma_w02, "sigma_w02"))


def _mode_error_time(lam, t, s_w, s_e, s_0):
    """Per-mode error at times ``t`` (modes x times); lam = 0 modes are frozen; t = inf allowed."""
    L = np.asarray(lam, dtype=float)[:, None]
    T = np.asarray(t, dtype=float)[None, :]
    pos = L > 0
    with np.errstate(invalid="ignore", over="ignore"):
        x = np.where(pos, L * T, 0.0)  # 0 * inf is never used: frozen modes have x = 0
        noise = np.where(pos, np.expm1(-x) ** 2 / np.where(pos, L, 1.0), 0.0)
    return (s_w + s_0) * np.exp(-2.0 * x) + s_e * noise


def _interpolation_limit(r, s_w, s_e, s_0):
    r"""Exact :math:`E_{\rm gen}` at :math:`t=\infty` (or :math:`\gamma\to0`) in the MP limit:
    :math:`\sigma_\epsilon^2/(r-1)` for :math:`r>1`; :math:`(1-r)(\sigma_{\bar w}^2+\sigma_{w_0}^2)
    + \sigma_\epsilon^2 r/(1-r)` for :math:`r<1` (from :math:`\langle\lambda^{-1}\rangle` of the MP law); plus
    :math:`\sigma_\epsilon^2`. Infinite at :math:`r=1` when :math:`\sigma_\epsilon^2>0`."""
    if r > 1:
        return s_e / (r - 1.0) + s_e
    if r < 1:
        return (1.0 - r) * (s_w + s_0) + s_e * r / (1.0 - r) + s_e
    return math.inf if s_e > 0 else s_e


def _grid(t, ridge):
    """Validate the exclusive choice of gradient-flow times ``t`` or ridge parameters; returns (kind, 1-D array)."""
    if (t is None) == (ridge is None):
        raise ValueError("give exactly one of t (gradient-flow time) or ridge (ridge parameter)")
    if t is not None:
        tt = np.atleast_1d(np.asarray(t, dtype=float))
        if np.any(np.isnan(tt)) or np.any(tt < 0):
            raise ValueError(f"t must be >= 0 (inf allowed), got {t!r}")
        return "t", tt
    return "ridge", np.atleast_1d(np.asarray(check_nonnegative(ridge, "ridge"), dtype=float))


def _mode_errors(lam, kind, grid, s_w, s_e, s_0):
    """Per-mode errors (modes x grid) for gradient flow from w0 (kind "t") or ridge from w0 = 0 (kind "ridge")."""
    if kind == "t":
        return _mode_error_time(lam, grid, s_w, s_e, s_0)
    L, g = np.asarray(lam, dtype=float)[:, None], grid[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        den = (L + g) ** 2
        return np.where(L + g > 0, (s_w * g**2 + s_e * L) / np.where(den > 0, den, 1.0), s_w)


def generalization_error(eigenvalues, sigma_wbar2=1.0, sigma_eps2=0.1, sigma_w02=0.0, t=None, ridge=None):
    r"""Generalisation error for a given spectrum of :math:`X^\top X` (exact given the spectrum).

    Parameters
    ----------
    eigenvalues : array (P,)
        All P eigenvalues of :math:`X^\top X` (zeros included), entries of X ~ N(0, 1/P).
    sigma_wbar2, sigma_eps2, sigma_w02 : float >= 0
        Teacher, label-noise and student-initialisation variances.
    t : float or array, optional
        Training times (gradient flow; ``numpy.inf`` allowed: the least-norm-change solution).
    ridge : float or array, optional
        Ridge parameters :math:`\gamma \ge 0` (student from :math:`w_0 = 0`). Exactly one of ``t``/``ridge``.

    Returns
    -------
    ndarray
        :math:`E_{\rm gen}` for each ``t`` (or ``ridge``), including the irreducible :math:`\sigma_\epsilon^2`.

    Raises
    ------
    ValueError
        Negative or non-finite variances/eigenvalues, negative times or ridge, or both/neither of ``t`` and ``ridge``.
        Modes with :math:`\lambda = 0` are frozen and contribute :math:`\sigma_{\bar w}^2 + \sigma_{w_0}^2`.
    """
    s_w, s_e, s_0 = _params(sigma_wbar2, sigma_eps2, sigma_w02)
    lam = np.asarray(check_nonnegative(eigenvalues, "eigenvalues"), dtype=float).reshape(-1)
    if lam.size == 0:
        raise ValueError("eigenvalues must be non-empty")
    kind, grid = _grid(t, ridge)
    per = _mode_errors(lam, kind, grid, s_w, s_e, s_0)
    out = per.mean(axis=0) + s_e
    return float(out[0]) if np.ndim(t if t is not None else ridge) == 0 else out


def _mp_quadrature(r, n=4000):
    """Nodes and weights for integrals over the continuous MP part (Chebyshev substitution, exact at the edges)."""
    lo, hi = mp_edges(r)
    theta = (np.arange(n) + 0.5) * np.pi / n
    lam = 0.5 * (lo + hi) - 0.5 * (hi - lo) * np.cos(theta)
    jac = 0.5 * (hi - lo) * np.sin(theta) * (np.pi / n)
    return lam, mp_density(lam, r) * jac


def asymptotic_generalization_error(r, sigma_wbar2=1.0, sigma_eps2=0.1, sigma_w02=0.0, t=None, ridge=None):
    r""":math:`E_{\rm gen}` for :math:`P, D\to\infty` at fixed :math:`r = D/P`: the spectrum sum becomes an integral over
    the Marchenko–Pastur law (continuous part on :math:`[\lambda_-,\lambda_+]` plus the atom
    :math:`\max(0,1-r)\,\delta(\lambda)` of frozen modes). Named approximation: the large-size limit."""
    r = check_positive(r, "r")
    s_w, s_e, s_0 = _params(sigma_wbar2, sigma_eps2, sigma_w02)
    lam, w = _mp_quadrature(r)
    atom = max(0.0, 1.0 - r)
    kind, grid = _grid(t, ridge)
    per = _mode_errors(lam, kind, grid, s_w, s_e, s_0)
    frozen = s_w + s_0 if kind == "t" else s_w
    out = w @ per + atom * frozen + s_e
    limit = np.isinf(grid) if kind == "t" else grid == 0
    if np.any(limit):  # t = inf / ridge = 0: the exact interpolation limit (diverges at r = 1)
        out = np.where(limit, _interpolation_limit(r, s_w, s_e, s_0 if kind == "t" else 0.0), out)
    return float(out[0]) if np.ndim(t if t is not None else ridge) == 0 else out


def optimal_ridge(sigma_wbar2=1.0, sigma_eps2=0.1) -> float:
    r"""The optimal ridge :math:`\gamma^* = \sigma_\epsilon^2/\sigma_{\bar w}^2` (posterior mean of the Gaussian teacher;
    it minimises every mode's error separately)."""
    return check_nonnegative(sigma_eps2, "sigma_eps2") / check_positive(sigma_wbar2, "sigma_wbar2")


def optimal_stopping_time(eigenvalues, sigma_wbar2=1.0, sigma_eps2=0.1, sigma_w02=0.0):
    """The early-stopping time minimising :func:`generalization_error` (bounded scalar minimisation in log t)."""
    from scipy.optimize import minimize_scalar

    f = lambda lt: generalization_error(eigenvalues, sigma_wbar2, sigma_eps2, sigma_w02, t=math.exp(lt))  # noqa: E731
    res = minimize_scalar(f, bounds=(-10.0, 12.0), method="bounded", options={"xatol": 1e-8})
    return math.exp(res.x), float(res.fun)


@dataclass(frozen=True)
class StudentTeacherMC:
    """Monte Carlo of the student–teacher model: ``errors[k]`` is the Estimate of E_gen at ``t[k]`` (or ``ridge[k]``)."""

    P: int
    D: int
    t: np.ndarray | None
    ridge: np.ndarray | None
    errors: list
    theory_given_spectrum: np.ndarray


def simulate_student_teacher(P, D, sigma_wbar2=1.0, sigma_eps2=0.1, sigma_w02=0.0, t=None, ridge=None,
                             n_samples=200, n_test=2000, seed=0) -> StudentTeacherMC:
    r"""Exact simulation: sample teacher, data, noise and initialisation, train (closed-form gradient flow /
    ridge), measure the test error on ``n_test`` fresh points; repeat ``n_samples`` times.

    Gradient flow is solved exactly in the eigenbasis of :math:`X^\top X`:
    :math:`w(t) = w_0 + V\,\mathrm{diag}\big((1-e^{-\lambda t})/\lambda\big)V^\top X^\top(y - Xw_0)` (the factor is
    :math:`t` for :math:`\lambda = 0`, where :math:`X^\top(y-Xw_0)` has no component). The returned theory is the
    average of :func:`generalization_error` over the sampled spectra (exact, conditional on them).
    """
    P = check_int(P, "P", minimum=1)
    D = check_int(D, "D", minimum=1)
    n_samples = check_int(n_samples, "n_samples", minimum=2)
    n_test = check_int(n_test, "n_test", minimum=1)
    s_w, s_e, s_0 = _params(sigma_wbar2, sigma_eps2, sigma_w02)
    if (t is None) == (ridge is None):
        raise ValueError("give exactly one of t (gradient-flow time) or ridge (ridge parameter)")
    grid = np.atleast_1d(np.asarray(t if t is not None else ridge, dtype=float))
    if np.any(np.isnan(grid)) or np.any(grid < 0):
        raise ValueError(f"{'t' if t is not None else 'ridge'} must be >= 0, got {grid}")
    rng = np.random.default_rng(seed)
    errs = np.empty((n_samples, grid.size))
    theory = np.zeros(grid.size)
    for s in range(n_samples):
        X = rng.standard_normal((D, P)) / math.sqrt(P)
        wbar = math.sqrt(s_w) * rng.standard_normal(P)
        y = X @ wbar + math.sqrt(s_e) * rng.standard_normal(D)
        w0 = math.sqrt(s_0) * rng.standard_normal(P) if t is not None else np.zeros(P)
        lam, V = np.linalg.eigh(X.T @ X)
        lam = np.clip(lam, 0.0, None)
        lam = np.where(lam > 1e-10 * max(lam.max(), 1.0), lam, 0.0)  # exact zeros of the rank-deficient case
        b = V.T @ (X.T @ (y - X @ w0))
        Xt = rng.standard_normal((n_test, P)) / math.sqrt(P)
        yt = Xt @ wbar + math.sqrt(s_e) * rng.standard_normal(n_test)
        for k, g in enumerate(grid):
            if t is not None:
                with np.errstate(divide="ignore", invalid="ignore"):
                    f = np.where(lam > 0, -np.expm1(-lam * g) / np.where(lam > 0, lam, 1.0), 0.0) if np.isfinite(g) \
                        else np.where(lam > 0, 1.0 / np.where(lam > 0, lam, 1.0), 0.0)
                w = w0 + V @ (f * b)
            else:
                with np.errstate(divide="ignore", invalid="ignore"):
                    f = np.where(lam + g > 0, 1.0 / (lam + g), 0.0)
                w = V @ (f * (V.T @ (X.T @ y)))
            errs[s, k] = np.mean((yt - Xt @ w) ** 2)
        theory += generalization_error(lam, s_w, s_e, s_0, t=grid if t is not None else None,
                                       ridge=grid if ridge is not None else None) / n_samples
    est = [Estimate(float(errs[:, k].mean()), float(errs[:, k].std(ddof=1) / math.sqrt(n_samples)), n_samples)
           for k in range(grid.size)]
    return StudentTeacherMC(P, D, grid if t is not None else None, grid if ridge is not None else None, est, theory)

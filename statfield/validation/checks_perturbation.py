r"""Data as a perturbation (:mod:`statfield.perturbation`) against Monte Carlo.

* ``perturbation-cumulants``: the exact Wick coefficients of :math:`\langle O\rangle_\varepsilon` (SymPy) against
  the joint cumulants :math:`\kappa(O,\Delta H)`, :math:`\kappa(O,\Delta H,\Delta H)` estimated from prior samples,
  and the reweighted estimate of :math:`\langle O\rangle_\varepsilon` against the exact (quadrature) value, for
  :math:`x\sim N(0,1)`, :math:`\Delta H = x^4/24`, :math:`O = x^2`.
* ``perturbation-posterior``: exact random networks (pre-activation sampling) reweighted by the data term
  :math:`\exp(-J_D\sum_\mu\frac12(f_\mu-y_\mu)^2)` against the closed-form NNGP posterior (kernel regression with
  noise :math:`1/J_D`); the quick profile uses one wide network (width 256), the full profile extrapolates three
  widths to :math:`1/N\to0` (named approximation: the finite-width bias is linear in :math:`1/N`).

Conventions: docs/conventions.md (fan-in variances, :math:`K^1 = \sigma_b^2 + \sigma_w^2 x\cdot x'/d_{in}`).
"""

from __future__ import annotations

import math
import time

import numpy as np

from ..stats import Estimate
from ._common import extrapolate_inverse_width, finish, pick, sub_seed
from .core import compare, register_check

__all__ = ["check_cumulants", "check_posterior"]


def _cov_estimate(a, b):
    """Estimate of cov(a, b) with the standard error of the mean of centred products."""
    p = (a - a.mean()) * (b - b.mean())
    n = a.size
    return Estimate(float(p.mean() * n / (n - 1)), float(p.std(ddof=1) / math.sqrt(n)), n)


def _kappa3_estimate(a, b):
    """Estimate of the joint cumulant kappa(a, b, b) = E[(a-Ea)(b-Eb)^2] (standard error of the mean)."""
    p = (a - a.mean()) * (b - b.mean()) ** 2
    return Estimate(float(p.mean()), float(p.std(ddof=1) / math.sqrt(a.size)), a.size)


@register_check("perturbation-cumulants", "perturbation",
                "x ~ N(0,1), dH = x^4/24: Wick coefficients vs sampled cumulants; reweighted <x^2>_eps vs quadrature",
                caption=r"Perturbation theory around $x\sim N(0,1)$ with $\Delta H=x^4/24$: the exact Wick coefficients "
                        r"of $\langle x^2\rangle_\varepsilon = 1-\varepsilon/2+\tfrac23\varepsilon^2+\dots$ against "
                        r"sampled joint cumulants, and reweighted Monte Carlo against quadrature.")
def check_cumulants(profile, seed, outdir):
    import sympy as sp
    from scipy import integrate

    from ..perturbation import reweight
    from ..symbolic.perturbation import wick_expansion

    t0 = time.perf_counter()
    x_s = sp.Symbol("x")
    series = wick_expansion(x_s**2, x_s**4 / 24, [x_s], [[1]], order=2, return_series=True)
    c1, c2 = float(series.coefficients[1]), float(series.coefficients[2])
    n = pick(profile, 400_000, 4_000_000)
    rng = np.random.default_rng(sub_seed(seed, "perturbation-cumulants"))
    x = rng.standard_normal(n)
    O, H = x * x, x**4 / 24
    params = {"observable": "x^2", "delta_H": "x^4/24", "n_samples": n}
    recs = [compare("perturbation-cumulants/kappa2", "-kappa(x^2, dH) = first Wick coefficient",
                    -c1, _cov_estimate(O, H), params, seed),
            compare("perturbation-cumulants/kappa3", "kappa(x^2, dH, dH)/2 = second Wick coefficient",
                    c2, Estimate(*(v / 2 for v in (_kappa3_estimate(O, H).value, _kappa3_estimate(O, H).stderr)), n),
                    params, seed)]
    for e in (0.1, 0.5):
        w = lambda t, e=e: np.exp(-t * t / 2 - e * t**4 / 24)  # noqa: E731
        exact = (integrate.quad(lambda t: t * t * w(t), -np.inf, np.inf, epsrel=1e-13)[0]
                 / integrate.quad(w, -np.inf, np.inf, epsrel=1e-13)[0])
        r = reweight(H, {"x2": O}, eps=e, warn=False)
        recs.append(compare(f"perturbation-cumulants/reweight-eps{e:g}", f"reweighted <x^2> at eps={e:g} = exact",
                            exact, r["x2"], {**params, "eps": e, "ess": r.ess, "khat": r.khat}, seed))
    return finish(recs, t0)


@register_check("perturbation-posterior", "perturbation",
                "reweighted finite-width networks vs the closed-form NNGP posterior (kernel regression, noise 1/J_D)",
                caption=r"Bayesian posterior of random $\tanh$ networks: prior networks reweighted by "
                        r"$e^{-J_D\sum_\mu(f_\mu-y_\mu)^2/2}$ against the NNGP posterior mean "
                        r"$K_{*D}(K_{DD}+J_D^{-1})^{-1}y$.")
def check_posterior(profile, seed, outdir):
    from ..meanfield import nngp_kernel
    from ..perturbation import gp_posterior, network_posterior

    t0 = time.perf_counter()
    act, sw, sb, depth, J = "tanh", 1.6, 0.2, 2, 1.0
    Xd = np.array([[1.0, 0.2], [-0.4, 0.9], [0.5, -0.8]])
    Xs = np.array([[0.7, 0.7], [-1.0, 0.1]])
    y = np.array([0.8, -0.5, 0.3])
    K = nngp_kernel(act, sw, sb, np.vstack([Xd, Xs]), depth)
    gp = gp_posterior(K[:3, :3], K[3:, :3], y, J, K_test=K[3:, 3:])
    widths = pick(profile, (256,), (64, 128, 256))
    n = pick(profile, 40_000, 400_000)
    params = {"activation": act, "sigma_w2": sw, "sigma_b2": sb, "depth": depth, "J_D": J, "n_samples": n}
    per_width = []
    for N in widths:
        r = network_posterior(act, sw, sb, N, depth, Xd, y, Xs, J, n_samples=n, seed=sub_seed(seed, f"post{N}"))
        m = r["mean"]
        per_width.append([Estimate(float(m.value[i]), float(m.stderr[i]), m.n) for i in range(len(Xs))])
    recs = []
    for i in range(len(Xs)):
        if len(widths) == 1:
            est = per_width[0][i]
            label = f"width {widths[0]}"
        else:
            est, chi2, dof, _ = extrapolate_inverse_width(widths, [pw[i] for pw in per_width])
            label = "1/N -> 0 extrapolation"
        recs.append(compare(f"perturbation-posterior/mean{i}", f"posterior mean at test point {i} ({label}) = NNGP",
                            float(gp.mean[i]), est, {**params, "widths": list(widths), "test_point": i}, seed))
    return finish(recs, t0)

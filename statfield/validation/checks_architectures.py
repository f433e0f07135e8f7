r"""Residual networks (:mod:`statfield.resnet`) and the gradient noise scale (:mod:`statfield.noise_scale`) against
Monte Carlo.

* ``resnet-nngp``: the residual NNGP kernel :math:`K^{l+1} = K^l + \sigma_b^2 + \sigma_w^2\mathbb E[\phi\phi]`
  against the mean Gram matrix of exactly sampled residual networks (:func:`statfield.resnet.sample_resnet`),
  extrapolated to :math:`1/N\to0` (named approximation: the finite-width bias is linear in :math:`1/N`).
* ``resnet-finite-width``: ReLU ResNet, :math:`\mathbb E\,q^L` at several widths against the leading-order
  theory :math:`q^L_{\rm MF} + \mathrm{slope}/N` (:func:`statfield.resnet.resnet_finite_width_q`); the fitted
  :math:`1/N` slope against the derived one; the :math:`1/N\to0` intercept against mean field.
* ``resnet-ntk``: the mean empirical NTK of weight-space residual networks against
  :func:`statfield.resnet.resnet_ntk_kernel` (:math:`1/N` extrapolation).
* ``noise-scale-linear``: the U-statistic estimator of :math:`|G|^2`, :math:`\mathrm{tr}\Sigma` and
  :math:`\mathcal B_{\rm simple}` on sampled per-example gradients of linear regression against the exact
  :math:`\mathcal B = P + 1 + \sigma_\epsilon^2P^2/|w-\bar w|^2`.
* ``noise-scale-network``: :math:`\mathbb E|G|^2`, :math:`\mathbb E\,\mathrm{tr}\Sigma` and their ratio for random
  ReLU networks at initialisation (MSE, empirical NTK) against the infinite-width values from the NNGP and NTK
  kernels (:math:`1/N` extrapolation), and the mean of the per-network :math:`\mathcal B` against its GP mean.

Conventions: docs/conventions.md (fan-in variances, :math:`K^1 = \sigma_b^2 + \sigma_w^2 x\cdot x'/d_{in}`).
"""

from __future__ import annotations

import math
import time

import numpy as np

from ..stats import Estimate
from ._common import extrapolate_inverse_width, finish, pick, sub_seed
from .core import compare, register_check

__all__ = [
    "check_noise_scale_linear",
    "check_noise_scale_network",
    "check_resnet_finite_width",
    "check_resnet_nngp",
    "check_resnet_ntk",
]

_X2 = np.array([[1.0, 0.0], [0.6, 0.8]])


def _entries(est, idx):
    return Estimate(float(est.value[idx]), float(est.stderr[idx]), int(np.max(est.n)))


@register_check("resnet-nngp", "architectures",
                "residual NNGP kernel K^{l+1} = K^l + sb + sw E[phi phi] vs exact residual-network MC (1/N -> 0)",
                caption=r"Residual networks $z^{l+1}=z^l+W\phi(z^l)+b$: the NNGP recursion "
                        r"$K^{l+1}=K^l+\sigma_b^2+\sigma_w^2\mathbb E[\phi\phi]$ against the mean Gram matrix of "
                        r"exactly sampled networks, extrapolated in $1/N$.")
def check_resnet_nngp(profile, seed, outdir):
    from ..resnet import resnet_nngp_kernel, sample_resnet

    t0 = time.perf_counter()
    recs = []
    depth = 5
    widths = pick(profile, (64, 128, 256), (64, 128, 256, 512))
    n = pick(profile, 1500, 8000)
    for act, sw, sb in (("relu", 0.8, 0.1), ("tanh", 1.5, 0.05)):
        K = resnet_nngp_kernel(act, sw, sb, _X2, depth)
        per = [sample_resnet(act, sw, sb, N, depth, _X2, n, seed=sub_seed(seed, f"rn-nngp-{act}-{N}")).gram
               for N in widths]
        params = {"activation": act, "sigma_w2": sw, "sigma_b2": sb, "depth": depth, "widths": list(widths),
                  "n_networks": n}
        for idx, lab in (((0, 0), "q(x1)"), ((0, 1), "K(x1,x2)")):
            est, chi2, dof, _ = extrapolate_inverse_width(widths, [_entries(g[depth - 1], idx) for g in per])
            recs.append(compare(f"resnet-nngp/{act}/{lab}", f"{act} ResNet layer {depth} {lab} (1/N -> 0) = NNGP",
                                float(K[idx]), est, {**params, "chi2": chi2, "dof": dof}, seed))
    return finish(recs, t0)


@register_check("resnet-finite-width", "architectures",
                "ReLU ResNet: E q^L at widths 8..64 vs q_MF + slope/N (derived), fitted slope, 1/N intercept = MF",
                caption=r"ReLU residual networks: the finite-width mean $\mathbb E\,q^L$ is \emph{not} the "
                        r"mean-field value; the derived $1/N$ correction against exact Monte Carlo.")
def check_resnet_finite_width(profile, seed, outdir):
    from ..resnet import resnet_finite_width_q, sample_resnet

    t0 = time.perf_counter()
    sw, sb, depth = 1.0, 0.05, 6
    x = np.array([[1.0]])
    q1 = sb + sw
    th = resnet_finite_width_q("relu", sw, sb, q1, depth)
    widths = pick(profile, (16, 32, 64), (8, 16, 32, 64))
    n = pick(profile, 20000, 200000)
    ests = []
    recs = []
    params = {"activation": "relu", "sigma_w2": sw, "sigma_b2": sb, "depth": depth, "n_networks": n}
    for N in widths:
        s = sample_resnet("relu", sw, sb, N, depth, x, n, seed=sub_seed(seed, f"rn-fw-{N}"))
        e = Estimate(float(s.q.value[-1, 0]), float(s.q.stderr[-1, 0]), n)
        ests.append(e)
        recs.append(compare(f"resnet-finite-width/Eq-N{N}", f"E q^{depth} at N = {N} = q_MF + slope/N",
                            float(th.mean_q(N)[-1]), e, {**params, "width": N}, seed))
    icpt, chi2, dof, _ = extrapolate_inverse_width(widths, ests)
    recs.append(compare("resnet-finite-width/intercept", "1/N -> 0 intercept of E q^L = mean field",
                        float(th.q_mf[-1]), icpt, {**params, "widths": list(widths), "chi2": chi2, "dof": dof}, seed))
    # slope: weighted LS slope with its fit error
    Nn = np.asarray(widths, float)
    y = np.array([e.value for e in ests])
    s_ = np.array([e.stderr for e in ests])
    A = np.vander(1.0 / Nn, 2, increasing=True)
    W = 1.0 / s_**2
    cov = np.linalg.inv(A.T @ (A * W[:, None]))
    slope = float((cov @ (A.T @ (W * y)))[1])
    recs.append(compare("resnet-finite-width/slope", "fitted 1/N slope of E q^L = derived slope",
                        float(th.slope[-1]), Estimate(slope, math.sqrt(cov[1, 1]), n * len(widths)),
                        {**params, "widths": list(widths)}, seed))
    return finish(recs, t0)


@register_check("resnet-ntk", "architectures",
                "residual NTK recursion vs the mean empirical NTK of weight-space residual networks (1/N -> 0)",
                caption=r"Residual NTK $\Theta^{l+1}=\Theta^l(1+\sigma_w^2\mathbb E[\phi'\phi'])+\sigma_b^2+"
                        r"\sigma_w^2\mathbb E[\phi\phi]$ against sampled residual networks.")
def check_resnet_ntk(profile, seed, outdir):
    from ..resnet import resnet_empirical_ntk, resnet_ntk_kernel

    t0 = time.perf_counter()
    act, sw, sb, depth = "relu", 0.5, 0.1, 4
    Th = resnet_ntk_kernel(act, sw, sb, _X2, depth)
    widths = pick(profile, (32, 64, 128), (32, 64, 128, 256))
    n = pick(profile, 300, 2000)
    per = []
    for N in widths:
        th, _ = resnet_empirical_ntk(act, sw, sb, N, depth, _X2, n, seed=sub_seed(seed, f"rn-ntk-{N}"))
        per.append(Estimate(th.mean(axis=0), th.std(axis=0, ddof=1) / math.sqrt(n), n))
    recs = []
    params = {"activation": act, "sigma_w2": sw, "sigma_b2": sb, "depth": depth, "widths": list(widths),
              "n_networks": n}
    for idx, lab in (((0, 0), "Theta(x1,x1)"), ((0, 1), "Theta(x1,x2)")):
        est, chi2, dof, _ = extrapolate_inverse_width(widths, [_entries(p, idx) for p in per])
        recs.append(compare(f"resnet-ntk/{lab}", f"ReLU ResNet NTK {lab} (1/N -> 0) = resnet_ntk_kernel",
                            float(Th[idx]), est, {**params, "chi2": chi2, "dof": dof}, seed))
    return finish(recs, t0)


@register_check("noise-scale-linear", "architectures",
                "linear regression: estimated |G|^2, tr Sigma, B_simple vs exact B = P + 1 + s^2 P^2/|w - wbar|^2",
                caption=r"Gradient noise scale of linear regression, $x\sim N(0,I/P)$: U-statistic estimates with "
                        r"jackknife errors against $\mathcal B_{\rm simple}=P+1+\sigma_\epsilon^2P^2/|w-\bar w|^2$.")
def check_noise_scale_linear(profile, seed, outdir):
    from ..noise_scale import (
        linear_regression_gradients,
        linear_regression_noise_scale,
        noise_scale_from_gradients,
    )

    t0 = time.perf_counter()
    P, s2 = 16, 0.2
    rng = np.random.default_rng(sub_seed(seed, "ns-lin-w"))
    wbar = rng.standard_normal(P)
    w = wbar + 0.4 * rng.standard_normal(P)
    B, G2, tr = linear_regression_noise_scale(w, wbar, s2, return_parts=True)
    D = pick(profile, 3000, 20000)
    g = linear_regression_gradients(w, wbar, s2, D, seed=sub_seed(seed, "ns-lin"))
    e = noise_scale_from_gradients(g)
    params = {"P": P, "sigma_eps2": s2, "delta2": float(np.sum((w - wbar) ** 2)), "n_examples": D}
    return finish([compare("noise-scale-linear/G2", "unbiased |G|^2 = |w - wbar|^2/P^2", G2, e.G2, params, seed),
                   compare("noise-scale-linear/trSigma", "unbiased tr Sigma = (P+1)|d|^2/P^2 + s^2", tr, e.tr_sigma,
                           params, seed),
                   compare("noise-scale-linear/B", "B_simple (ratio, jackknife) = P + 1 + s^2 P^2/|d|^2", B, e.B,
                           params, seed)], t0)


def noise_scale_data(P=8, d=4, seed=3):
    """The fixed data set of the network noise-scale checks: ``P`` inputs of norm 2 in ``d`` dimensions,
    labels ``tanh(x_1 + x_2)``."""
    X = np.random.default_rng(seed).standard_normal((P, d))
    X *= 2.0 / np.linalg.norm(X, axis=1, keepdims=True)
    return X, np.tanh(X[:, 0] + X[:, 1])


@register_check("noise-scale-network", "architectures",
                "random ReLU networks, MSE: E|G|^2, E tr Sigma, their ratio and E B vs infinite width (1/N -> 0)",
                caption=r"Gradient noise scale of random ReLU networks at initialisation (MSE loss, "
                        r"$g_i\cdot g_j=r_ir_j\hat\Theta_{ij}$): Monte Carlo extrapolated in $1/N$ against the "
                        r"infinite-width NNGP/NTK prediction.")
def check_noise_scale_network(profile, seed, outdir):
    from ..noise_scale import infinite_width_noise_scale, network_noise_scale

    t0 = time.perf_counter()
    act, sw, sb, depth = "relu", 2.0, 0.1, 3
    X, y = noise_scale_data()
    inf = infinite_width_noise_scale(act, sw, sb, depth, X, y, n_gp_samples=pick(profile, 200_000, 1_000_000),
                                     seed=sub_seed(seed, "ns-gp"))
    widths = pick(profile, (32, 64, 128), (32, 64, 128, 256))
    n = pick(profile, 400, 3000)
    res = [network_noise_scale(act, sw, sb, N, depth, X, y, n, seed=sub_seed(seed, f"ns-net-{N}")) for N in widths]
    params = {"activation": act, "sigma_w2": sw, "sigma_b2": sb, "depth": depth, "P": len(y), "widths": list(widths),
              "n_networks": n}
    recs = []
    for key, pred, attr in (("G2", inf.G2, "mean_G2"), ("trSigma", inf.tr_sigma, "mean_tr_sigma"),
                            ("ratio", inf.ratio_of_means, "ratio_of_means")):
        est, chi2, dof, _ = extrapolate_inverse_width(widths, [getattr(r, attr) for r in res])
        recs.append(compare(f"noise-scale-network/{key}", f"{key} of random ReLU networks (1/N -> 0) = infinite width",
                            pred, est, {**params, "chi2": chi2, "dof": dof}, seed))
    est, chi2, dof, _ = extrapolate_inverse_width(widths, [r.mean_B for r in res])
    gp = inf.mean_B
    recs.append(compare("noise-scale-network/meanB", "mean per-network B (1/N -> 0) = GP mean E_f[B]", gp.value,
                        Estimate(est.value, math.hypot(est.stderr, gp.stderr), est.n),
                        {**params, "chi2": chi2, "dof": dof, "gp_stderr": gp.stderr}, seed))
    return finish(recs, t0)

r"""Checks of the samplers themselves: exact finite-N identities and agreement in distribution.

* ``relu-k-binomial`` — in a ReLU network the number of positive units of a layer is
  :math:`k^l\sim\mathrm{Binomial}(N, 1/2)`, independent of everything before (the units are centred
  Gaussians given the previous layer; ``docs/conventions.md``, *Order parameters and fields*). Tested on full
  weight-space networks at a small odd width: :math:`\mathbb E k = N/2`, :math:`\mathbb E(k-N/2)^2 = N/4`, and
  zero covariance of :math:`k^l` with :math:`q^{l-1}` and with :math:`k^{l-1}`.
* ``samplers-agree`` — weight space, pre-activation space and collective coordinates sample the same
  law (SPS17 Eq. 9 integrated over :math:`W, b`): two-sample z-scores of
  :math:`\mathbb E q^L`, :math:`\mathbb E (q^L)^2`, :math:`\mathbb E\ln q^L` and :math:`\mathbb E k^L`.

Conventions: fan-in :math:`W\sim N(0,\sigma_w^2/N)`, :math:`q=|z|^2/N`, :math:`K^1=\sigma_b^2+\sigma_w^2|x|^2/d_{in}`.
"""

from __future__ import annotations

import time

import numpy as np

from ._common import collective_chains, difference, finish, mean_estimate, pick, preactivation_layers, weights_layers
from .core import compare, register_check

__all__ = ["check_relu_k_binomial", "check_samplers_agree"]


@register_check("relu-k-binomial", "samplers",
                "ReLU: k^l ~ Binomial(N, 1/2) independent of the past (full weight-space networks)",
                caption=r"ReLU: the number $k^l$ of positive units of a layer in full weight-space networks of width "
                        r"$N=7$ against $\mathrm{Binomial}(N,\tfrac12)$ (markers: exact probabilities); pulls below.")
def check_relu_k_binomial(profile, seed, outdir):
    t0 = time.perf_counter()
    N, depth = 7, 4
    n = pick(profile, 20000, 200000)
    sw2, sb2 = 1.7, 0.3
    X = np.ones((1, 3))
    obs = weights_layers("relu", sw2, sb2, N, depth, n, X, seed, "relu-k-binomial", want=("q", "k"))
    k, q = obs["k"], obs["q"]
    params = {"activation": "relu", "width": N, "depth": depth, "sigma_w2": sw2, "sigma_b2": sb2, "n_networks": n,
              "sampler": "weights"}
    recs = []
    # pool layers 2..L (each layer's k is independent of the previous ones: i.i.d. samples)
    kk = k[:, 1:].reshape(-1)
    recs.append(compare("relu-k-binomial/mean", "E k^l/N = 1/2", 0.5, mean_estimate(kk / N), params, seed))
    recs.append(compare("relu-k-binomial/var", "E (k^l - N/2)^2 = N/4", N / 4, mean_estimate((kk - N / 2) ** 2),
                        params, seed))
    dk = k[:, 1:] - N / 2
    dq = q[:, :-1] - q[:, :-1].mean(axis=0)
    recs.append(compare("relu-k-binomial/cov-k-qprev", "Cov(k^l, q^{l-1}) = 0 (k independent of the past)", 0.0,
                        mean_estimate((dk * dq).mean(axis=1)), params, seed))
    recs.append(compare("relu-k-binomial/cov-k-kprev", "Cov(k^l, k^{l-1}) = 0", 0.0,
                        mean_estimate((dk[:, 1:] * dk[:, :-1]).mean(axis=1)), params, seed))
    fig = None
    if outdir is not None:
        from math import comb

        from .plots import theory_vs_mc

        vals = np.arange(N + 1)
        freq = np.array([(kk == v).mean() for v in vals])
        err = np.sqrt(freq * (1 - freq) / kk.size)
        pmf = np.array([comb(N, int(v)) / 2.0**N for v in vals])
        fig = theory_vs_mc(outdir / "relu_k_binomial.png",
                           curves=[{"x": vals, "y": pmf, "label": "Binomial(N, 1/2)", "discrete": True}],
                           points=[{"x": vals + 0.15, "y": freq, "yerr": err, "theory": pmf,
                                    "label": f"weight-space MC, N = {N}"}],
                           xlabel="k (positive units)", ylabel="P(k)",
                           title="ReLU: number of positive units per layer")
    return finish(recs, t0, fig)


@register_check("samplers-agree", "samplers",
                "weight-space, pre-activation and collective samplers agree in distribution (two-sample z)",
                caption=r"ReLU, $N=12$: mean and variance of $q^l$ from the weight-space, pre-activation and "
                        r"collective-coordinate samplers (the same law, SPS17 Eq.~9 integrated over $W$, $b$).")
def check_samplers_agree(profile, seed, outdir):
    t0 = time.perf_counter()
    N, depth = 12, 6
    sw2, sb2 = 1.8, 0.2
    X = np.full((1, 5), 1.1)
    g1 = sb2 + sw2 * float((X @ X.T)[0, 0]) / X.shape[1]
    n_w = pick(profile, 6000, 60000)
    n_p = pick(profile, 6000, 60000)
    n_c = pick(profile, 40000, 400000)
    params = {"activation": "relu", "width": N, "depth": depth, "sigma_w2": sw2, "sigma_b2": sb2,
              "n_weights": n_w, "n_preactivation": n_p, "n_collective": n_c}
    want = ("q", "log_q", "k")
    res = {
        "weights": weights_layers("relu", sw2, sb2, N, depth, n_w, X, seed, "agree-w", want),
        "preactivation": preactivation_layers("relu", sw2, sb2, N, depth, n_p, X, seed, "agree-p", want),
        "collective": collective_chains("relu", sw2, sb2, N, depth, n_c, g1, seed, "agree-c", want),
    }
    funcs = {"E q^L": lambda o: o["q"][:, -1], "E (q^L)^2": lambda o: o["q"][:, -1] ** 2,
             "E ln q^L": lambda o: o["log_q"][:, -1], "E k^L": lambda o: o["k"][:, -1]}
    recs = []
    for other in ("weights", "preactivation"):
        for label, f in funcs.items():
            d = difference(mean_estimate(f(res[other])), mean_estimate(f(res["collective"])))
            recs.append(compare(f"samplers-agree/{other}-collective/{label.replace(' ', '')}",
                                f"{label}: {other} sampler minus collective sampler = 0", 0.0, d, params, seed))
    fig = None
    if outdir is not None:
        from .plots import theory_vs_mc

        layers = np.arange(1, depth + 1)
        pts = []
        for i, (name, o) in enumerate(res.items()):
            m, se, _ = mean_estimate(o["q"])
            pts.append({"x": layers + 0.12 * (i - 1), "y": m, "yerr": se, "label": name})
        pts2 = []
        for i, (name, o) in enumerate(res.items()):
            m, se, _ = mean_estimate(o["q"] ** 2)
            v = m - mean_estimate(o["q"])[0] ** 2
            pts2.append({"x": layers + 0.12 * (i - 1), "y": v, "yerr": se, "label": name})
        fig = theory_vs_mc(outdir / "samplers_agree.png", panels=[
            {"points": pts, "xlabel": "layer l", "ylabel": r"$E\,q^l$", "title": f"ReLU, N = {N}: mean of q"},
            {"points": pts2, "xlabel": "layer l", "ylabel": r"$\mathrm{Var}\,q^l$", "title": "variance of q (error bar of E q^2)"}])
    return finish(recs, t0, fig)

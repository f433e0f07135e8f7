"""Residual networks and the gradient noise scale: theory against exact Monte Carlo.

Sections (written to ``resnet_validation.json``; figure ``resnet_validation.png``):

1. ``variance_growth`` — ReLU ResNet q^l = (q1 + sb/(k sw))(1 + sw/2)^(l-1) - sb/(k sw) (mean field) and the
   depth-scaled sigma_w2 = c/L (bounded, limit q1 e^(c/2)) against the exact pre-activation sampler;
2. ``correlation`` — the ReLU ResNet correlation map (slope 1 at c = 1), 1 - c^l against 4/(a^2 l^2), and c^L at
   sigma_w2 = c/L (stays away from 1);
3. ``finite_width`` — E q^L of ReLU ResNets at widths 8..64: MC, mean field, the derived 1/N theory; fitted 1/N
   slope vs derived slope; 1/N -> 0 intercept vs mean field (z-scores);
4. ``ntk`` — mean empirical NTK of weight-space ResNets vs the residual NTK recursion;
5. ``noise_linear`` — linear regression: estimated B_simple (U-statistics, jackknife) vs P + 1 + s^2 P^2/|d|^2;
6. ``noise_networks`` — B_simple of random ReLU networks (plain at sigma_w2 = 2, residual at sigma_w2 = 1/L)
   vs width and depth, with the infinite-width NNGP/NTK predictions.

Usage: python numerics/validate_resnet.py [--out out/validate_resnet] [--smoke] [--seed 0]
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np

from statfield import noise_scale as ns
from statfield import resnet as rn
from statfield._io import write_json


def _fit_inverse_width(widths, vals, ses):
    N = np.asarray(widths, float)
    A = np.vander(1.0 / N, 2, increasing=True)
    W = 1.0 / np.asarray(ses) ** 2
    cov = np.linalg.inv(A.T @ (A * W[:, None]))
    coef = cov @ (A.T @ (W * np.asarray(vals)))
    chi2 = float(np.sum(W * (np.asarray(vals) - A @ coef) ** 2))
    return coef, np.sqrt(np.diag(cov)), chi2


def variance_growth(n, width, depths, seed):
    out = {"fixed": [], "scaled": []}
    x = np.array([[1.0]])
    sw, sb = 1.0, 0.0
    for L in depths:
        q = rn.resnet_q("relu", sw, sb, sw, L)
        s = rn.sample_resnet("relu", sw, sb, width, L, x, n, seed=seed + L)
        fw = rn.resnet_finite_width_q("relu", sw, sb, sw, L)
        out["fixed"].append({"depth": L, "sigma_w2": sw, "q_mf": float(q[-1]), "q_closed": sw * 1.5 ** (L - 1),
                             "q_1overN": float(fw.mean_q(width)[-1]), "mc": float(s.q.value[-1, 0]),
                             "stderr": float(s.q.stderr[-1, 0]), "width": width})
        c = 2.0
        qs = rn.resnet_q("relu", c / L, 0.0, 1.0, L + 1)
        s2 = rn.sample_resnet("relu", c / L, 0.0, width, L + 1, x * math.sqrt(L / c), n, seed=seed + 1000 + L)
        fw2 = rn.resnet_finite_width_q("relu", c / L, 0.0, 1.0, L + 1)
        out["scaled"].append({"depth": L, "c": c, "q_mf": float(qs[-1]), "limit": rn.depth_scaled_q_limit("relu", c, 1.0),
                              "q_1overN": float(fw2.mean_q(width)[-1]), "mc": float(s2.q.value[-1, 0]),
                              "stderr": float(s2.q.stderr[-1, 0]), "width": width})
    return out


def correlation(depth):
    out = {}
    for sw in (0.5, 1.0, 2.0):
        _, _, c = rn.resnet_correlation("relu", sw, 0.0, 1.0, 1.0, 0.0, depth, log=True)
        l = np.unique(np.geomspace(10, depth, 6).astype(int))
        out[f"fixed_sw{sw:g}"] = {"layers": l.tolist(), "one_minus_c": (1 - c[l - 1]).tolist(),
                                  "asymptote": rn.relu_resnet_correlation_asymptote(sw, l).tolist()}
    scaled = []
    for L in (10, 100, 1000):
        _, _, c = rn.resnet_correlation("relu", 2.0 / L, 0.0, 1.0, 1.0, 0.0, L + 1, log=True)
        scaled.append({"depth": L, "c_L": float(c[-1])})
    out["scaled_c2"] = scaled
    return out


def finite_width(settings, widths, n, seed):
    out = []
    for k, (sw, sb, L) in enumerate(settings):
        th = rn.resnet_finite_width_q("relu", sw, sb, sb + sw, L)
        vals, ses, rows = [], [], []
        for N in widths:
            t0 = time.perf_counter()
            s = rn.sample_resnet("relu", sw, sb, N, L, np.array([[1.0]]), n, seed=seed + 97 * k + N)
            v, e = float(s.q.value[-1, 0]), float(s.q.stderr[-1, 0])
            vals.append(v)
            ses.append(e)
            pred = float(th.mean_q(N)[-1])
            rows.append({"width": N, "mc": v, "stderr": e, "theory_1overN": pred, "z_theory": (v - pred) / e,
                         "z_mean_field": (v - float(th.q_mf[-1])) / e, "seconds": time.perf_counter() - t0})
        coef, se, chi2 = _fit_inverse_width(widths, vals, ses)
        out.append({"sigma_w2": sw, "sigma_b2": sb, "depth": L, "n_networks": n, "q_mf": float(th.q_mf[-1]),
                    "slope_theory": float(th.slope[-1]), "slope_fit": float(coef[1]), "slope_fit_se": float(se[1]),
                    "z_slope": float((coef[1] - th.slope[-1]) / se[1]), "intercept": float(coef[0]),
                    "intercept_se": float(se[0]), "z_intercept": float((coef[0] - th.q_mf[-1]) / se[0]),
                    "chi2": chi2, "dof": len(widths) - 2, "widths": rows})
    return out


def ntk(widths, n, seed):
    X = np.array([[1.0, 0.0], [0.6, 0.8]])
    T = rn.resnet_ntk_kernel("relu", 0.5, 0.1, X, 4)
    rows = []
    for N in widths:
        th, _ = rn.resnet_empirical_ntk("relu", 0.5, 0.1, N, 4, X, n, seed=seed + N)
        m, e = th.mean(0), th.std(0, ddof=1) / math.sqrt(n)
        rows.append({"width": N, "theta11": float(m[0, 0]), "se11": float(e[0, 0]), "theta12": float(m[0, 1]),
                     "se12": float(e[0, 1]), "z11": float((m[0, 0] - T[0, 0]) / e[0, 0]),
                     "z12": float((m[0, 1] - T[0, 1]) / e[0, 1])})
    return {"theory": T.tolist(), "widths": rows}


def noise_linear(D, seed):
    rows = []
    P = 16
    rng = np.random.default_rng(seed)
    wbar = rng.standard_normal(P)
    for scale in (0.1, 0.4, 1.0):
        for s2 in (0.0, 0.2):
            w = wbar + scale * rng.standard_normal(P)
            B, G2, tr = ns.linear_regression_noise_scale(w, wbar, s2, return_parts=True)
            e = ns.noise_scale_from_gradients(ns.linear_regression_gradients(w, wbar, s2, D, seed=seed + len(rows)))
            rows.append({"P": P, "sigma_eps2": s2, "delta2": float(np.sum((w - wbar) ** 2)), "B_exact": B,
                         "B_est": e.B.value, "B_se": e.B.stderr, "z_B": e.B.z(B), "z_G2": e.G2.z(G2),
                         "z_trSigma": e.tr_sigma.z(tr), "n_examples": D})
    return rows


def noise_networks(widths, depths, n, n_gp, seed):
    X = np.random.default_rng(3).standard_normal((16, 8))
    X *= math.sqrt(8) / np.linalg.norm(X, axis=1, keepdims=True)
    y = np.tanh(X[:, 0] + X[:, 1])
    out = []
    for residual in (False, True):
        for L in depths:
            sw = 1.0 / L if residual else 2.0
            inf = ns.infinite_width_noise_scale("relu", sw, 0.05, L, X, y, n_gp_samples=n_gp, seed=seed + L,
                                                residual=residual)
            rec = {"residual": residual, "depth": L, "sigma_w2": sw, "sigma_b2": 0.05,
                   "inf_ratio": inf.ratio_of_means, "inf_G2": inf.G2, "inf_trSigma": inf.tr_sigma,
                   "inf_mean_B": inf.mean_B.value, "inf_mean_B_se": inf.mean_B.stderr, "widths": []}
            for N in widths:
                t0 = time.perf_counter()
                r = ns.network_noise_scale("relu", sw, 0.05, N, L, X, y, n, seed=seed + 31 * L + N, residual=residual)
                rec["widths"].append({"width": N, "ratio": r.ratio_of_means.value, "ratio_se": r.ratio_of_means.stderr,
                                      "mean_B": r.mean_B.value, "mean_B_se": r.mean_B.stderr,
                                      "median_B": float(np.median(r.B)), "G2": r.mean_G2.value,
                                      "G2_se": r.mean_G2.stderr, "seconds": time.perf_counter() - t0})
            out.append(rec)
    return out


def _figure(res, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(2, 2, figsize=(10, 8))
    a = ax[0, 0]
    for key, lab in (("fixed", r"$\sigma_w^2=1$"), ("scaled", r"$\sigma_w^2=2/L$")):
        rows = res["variance_growth"][key]
        L = [r["depth"] for r in rows]
        a.errorbar(L, [r["mc"] for r in rows], [r["stderr"] for r in rows], fmt="o", label=f"MC {lab}")
        a.plot(L, [r["q_mf"] for r in rows], "-", label=f"mean field {lab}")
    a.axhline(math.e, color="gray", ls=":", label=r"$e^{c/2}$, $c=2$")
    a.set_xscale("log"), a.set_yscale("log"), a.set_xlabel("depth L"), a.set_ylabel(r"$E\,q^L$"), a.legend(fontsize=7)
    a = ax[0, 1]
    for fw in res["finite_width"]:
        N = np.array([r["width"] for r in fw["widths"]], float)
        h = a.errorbar(1 / N, [r["mc"] / fw["q_mf"] for r in fw["widths"]],
                       [r["stderr"] / fw["q_mf"] for r in fw["widths"]], fmt="o",
                       label=fr"$\sigma_w^2={fw['sigma_w2']:g}, L={fw['depth']}$")
        xx = np.linspace(0, 1 / N.min(), 20)
        a.plot(xx, 1 + fw["slope_theory"] / fw["q_mf"] * xx, "-", color=h[0].get_color())
    a.set_xlabel("1/N"), a.set_ylabel(r"$E\,q^L/q^L_{MF}$"), a.legend(fontsize=7)
    a.set_title("ReLU ResNet: MC vs derived 1/N correction", fontsize=9)
    a = ax[1, 0]
    for k, v in res["correlation"].items():
        if k.startswith("fixed"):
            a.loglog(v["layers"], v["one_minus_c"], "o", label=k)
            a.loglog(v["layers"], v["asymptote"], "-", color="gray")
    a.set_xlabel("layer l"), a.set_ylabel("1 - c^l"), a.legend(fontsize=7)
    a = ax[1, 1]
    for rec in res["noise_networks"]:
        N = [r["width"] for r in rec["widths"]]
        lab = ("res " if rec["residual"] else "") + f"L={rec['depth']}"
        h = a.errorbar(N, [r["ratio"] for r in rec["widths"]], [r["ratio_se"] for r in rec["widths"]], fmt="o", label=lab)
        a.axhline(rec["inf_ratio"], color=h[0].get_color(), ls=":")
    a.set_xscale("log"), a.set_xlabel("width N"), a.set_ylabel(r"$E\,\mathrm{tr}\Sigma / E|G|^2$"), a.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="out/validate_resnet")
    p.add_argument("--smoke", action="store_true", help="tiny sizes (seconds)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    sm = args.smoke
    t0 = time.perf_counter()
    res = {"smoke": sm, "seed": args.seed}
    res["variance_growth"] = variance_growth(200 if sm else 4000, 32 if sm else 128, (2, 4, 8) if sm else (2, 4, 8, 16, 32),
                                             args.seed)
    res["correlation"] = correlation(200 if sm else 5000)
    res["finite_width"] = finite_width(((1.0, 0.05, 4),) if sm else ((0.5, 0.0, 8), (1.0, 0.05, 6), (2.0, 0.0, 4),
                                                                       (1.0, 0.0, 12)),
                                       (8, 16, 32) if sm else (8, 16, 32, 64), 2000 if sm else 200_000, args.seed)
    res["ntk"] = ntk((16, 32) if sm else (32, 64, 128, 256), 50 if sm else 1000, args.seed)
    res["noise_linear"] = noise_linear(500 if sm else 20000, args.seed)
    res["noise_networks"] = noise_networks((16, 32) if sm else (16, 32, 64, 128, 256), (2, 3) if sm else (1, 2, 4, 8),
                                           40 if sm else 1000, 2000 if sm else 200_000, args.seed)
    res["seconds"] = time.perf_counter() - t0
    write_json(out / "resnet_validation.json", res)
    _figure(res, out / "resnet_validation.png")
    print(f"wrote {out / 'resnet_validation.json'} and {out / 'resnet_validation.png'} in {res['seconds']:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

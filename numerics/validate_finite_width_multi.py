"""Validation: multi-input four-point vertex V and 1/n kernel shift K^(1) over depth, MC extrapolated in 1/n.

Three inputs x_a in R^2 (sigma_w2, sigma_b2 per activation; conventions in docs/conventions.md: fan-in weights,
K^1_ab = sigma_b2 + sigma_w2 x_a.x_b / d_in). For tanh and ReLU, the leading-order recursion of
statfield.finite_width.multi_input_recursion gives V_(ab)(ab) = n Cov(G_ab, G_ab) + O(1/n) and
K^(1)_ab = n (E G_ab - K_ab) + O(1/n) for every layer. Monte Carlo: the exact pre-activation sampler at three or more
widths (independent networks); per layer the MC values are fitted by a + b/n (weighted least squares) and the
intercept a (error from the fit covariance) is compared with the theory (z-scores). Writes
``finite_width_multi.png`` (V and K^(1) over depth for several input pairs, with pull panels) and
``finite_width_multi.json`` (all numbers, z-scores, max |z|, run time, and the connected four-point function of one
hidden layer at n = 3 against explicit-weight networks).

Usage: python numerics/validate_finite_width_multi.py [--out out/validate_finite_width_multi] [--smoke] [--seed 0]
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np

from statfield import finite_width as fw
from statfield._io import write_json
from statfield.validation._common import preactivation_layers
from statfield.validation.checks_finite_width import (
    _fourth_cumulant,
    _one_hidden_layer_units,
    _wls_intercept,
)
from statfield.validation.plots import theory_vs_mc

X = np.array([[1.0, 0.0], [0.6, 0.8], [-0.3, 1.2]])
CASES = (("tanh", 1.5, 0.05), ("relu", 2.0, 0.1))
PAIRS = ((0, 0), (0, 1), (1, 2))


def run(act, sw, sb, depth, widths, n_networks, seed):
    """Theory and extrapolated MC for one activation; returns (panels, record)."""
    lo = fw.multi_input_recursion(act, sw, sb, depth, X)
    ls = lo.layers
    V = np.stack([lo.vertex(l) for l in ls])
    per_n = []
    for i, n in enumerate(widths):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            G = preactivation_layers(act, sw, sb, n, depth, n_networks, X, seed, f"fw-multi/{act}/{i}",
                                     want=("G",))["G"]
        per_n.append(G)
    x = 1.0 / np.asarray(widths, float)
    rec = {"activation": act, "sigma_w2": sw, "sigma_b2": sb, "inputs": X.tolist(), "widths": list(widths),
           "n_networks": n_networks, "depth": depth, "pairs": [list(p) for p in PAIRS], "layers": ls.tolist(),
           "V": {}, "K_shift": {}}
    panels = []
    for what in ("V", "K_shift"):
        curves, points = [], []
        for j, (a, b) in enumerate(PAIRS):
            th = V[:, a, b, a, b] if what == "V" else lo.K_shift[:, a, b]
            mc, se = np.full(depth, np.nan), np.full(depth, np.nan)
            for l in range(1, depth):
                ys, ss = [], []
                for n, G in zip(widths, per_n):
                    g = G[:, l, a, b]
                    N = g.size
                    if what == "V":
                        d = g - g.mean()
                        ys.append(n * float(d @ d) / (N - 1))
                        ss.append(n * float((d * d).std(ddof=1)) / np.sqrt(N))
                    else:
                        ys.append(n * (float(g.mean()) - lo.K[l, a, b]))
                        ss.append(n * float(g.std(ddof=1)) / np.sqrt(N))
                mc[l], se[l] = _wls_intercept(x, np.array(ys), np.array(ss))
            z = (mc[1:] - th[1:]) / se[1:]
            rec[what][f"{a}{b}"] = {"theory": th.tolist(), "mc_extrapolated": mc.tolist(), "stderr": se.tolist(),
                                    "z": z.tolist(), "max_abs_z": float(np.max(np.abs(z)))}
            color = f"C{j}"
            label = f"({a}{b})({a}{b})" if what == "V" else f"{a}{b}"
            curves.append({"x": ls, "y": th, "label": f"{label}: leading order", "color": color})
            points.append({"x": ls[1:], "y": mc[1:], "yerr": se[1:], "theory": th[1:], "color": color,
                           "label": f"{label}: MC, 1/n -> 0"})
        ylabel = r"$V^{(l)}_{(ab)(ab)}$" if what == "V" else r"$K^{(1),(l)}_{ab}$"
        panels.append({"curves": curves, "points": points, "xlabel": "layer l", "ylabel": ylabel,
                       "title": f"{act}, sigma_w2 = {sw}, sigma_b2 = {sb}"})
    return panels, rec


def one_hidden_layer(n_networks, seed):
    """The exact one-hidden-layer connected four-point function at n = 3 vs explicit-weight networks."""
    from statfield.activations import get_activation

    out = []
    for act, sw, sb in CASES:
        th = fw.connected_four_point(act, sw, sb, X, 2, 3)
        rng = np.random.default_rng(seed + 7)
        Z = _one_hidden_layer_units(get_activation(act), sw, sb, X, 3, n_networks, rng)
        for idx in ((0, 0, 0, 0), (0, 1, 0, 1), (0, 0, 1, 2), (0, 1, 2, 2)):
            kap, se = _fourth_cumulant(Z, idx)
            out.append({"activation": act, "entry": list(idx), "theory": float(th[idx]), "mc": kap, "stderr": se,
                        "z": (kap - float(th[idx])) / se})
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="out/validate_finite_width_multi", help="output folder")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes (CI smoke test)")
    ap.add_argument("--seed", type=int, default=0, help="random seed (>= 0)")
    args = ap.parse_args(argv)
    if args.seed < 0:
        ap.error("--seed must be >= 0")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    depth, widths, N = (3, (8, 16, 32), 1000) if args.smoke else (8, (32, 64, 128, 256), 40_000)
    panels, records = [], []
    for act, sw, sb in CASES:
        p, r = run(act, sw, sb, depth, widths, N, args.seed)
        panels.extend(p)
        records.append(r)
    fig = theory_vs_mc(out / "finite_width_multi.png", panels=panels,
                       note="Lines: leading order in 1/n (statfield.finite_width.multi_input_recursion). Points: "
                            "exact pre-activation sampler at widths " + ", ".join(map(str, widths)) +
                            ", extrapolated linearly in 1/n; pull panels (MC - theory)/sigma.")
    hl = one_hidden_layer(1000 if args.smoke else 200_000, args.seed)
    zs = [v["max_abs_z"] for r in records for w in ("V", "K_shift") for v in r[w].values()]
    summary = {"figure": str(fig), "runtime_s": time.perf_counter() - t0, "smoke": args.smoke, "records": records,
               "one_hidden_layer": hl, "max_abs_z_vertex_shift": float(max(zs)),
               "max_abs_z_one_hidden_layer": float(max(abs(h["z"]) for h in hl))}
    write_json(out / "finite_width_multi.json", summary)
    for r in records:
        for w in ("V", "K_shift"):
            for k, v in r[w].items():
                print(f"{r['activation']:5s} {w:7s} {k}: max|z| over layers 2..{depth} = {v['max_abs_z']:.2f}")
    print(f"one hidden layer (n = 3): max|z| = {summary['max_abs_z_one_hidden_layer']:.2f}; "
          f"run time {summary['runtime_s']:.1f} s")


if __name__ == "__main__":
    main()

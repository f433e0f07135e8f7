"""Ring MCMC of the exact collective action vs the quadratic EFT: lagged field correlators.

Runs :func:`statfield.sampling.mcmc.simulate_mcmc` on a periodic chain ("the network on a circle",
SPS17 arXiv:1710.06570 Eqs. 10-11) at finite width N (default 1000) for linear and ReLU networks,
measures the connected correlators <eps_l eps_{l+m}^T> of the EFT fields of statfield.fields
(errors from the spread over independent chains), and compares them with the leading-order
quadratic EFT on the same ring, ``statfield.symbolic.quadratic_eft(act).correlator(m, sw, sb, L=L)``
(skipped with a message if that module is unavailable). The EFT is leading order in 1/N, so
|z| grows like sqrt(n_samples)/N once the Monte Carlo error reaches the O(1/N) corrections.

Writes ``mcmc_vs_eft.json`` (values, errors, z-scores, diagnostics) and ``mcmc_vs_eft.png``.

    python numerics/mcmc_vs_eft.py [--out out/mcmc_vs_eft] [--smoke] [--width 1000]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from statfield.sampling.mcmc import simulate_mcmc

CASES = [("linear", 0.5, 0.5), ("linear", 0.8, 0.5), ("relu", 1.0, 0.5), ("relu", 1.6, 0.5)]


def eft_predictions(act, sw, sb, lags, L, cache):
    """{lag: F x F array} from the symbolic EFT on the ring of length L, or a reason string."""
    try:
        from statfield.symbolic import quadratic_eft
    except ImportError as exc:
        return f"symbolic EFT unavailable: {exc}"
    if act not in cache:
        cache[act] = quadratic_eft(act)
    eft = cache[act]
    return {m: np.asarray(eft.correlator(m, sw, sb, L=L), dtype=float) for m in lags}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("out/mcmc_vs_eft"))
    ap.add_argument("--smoke", action="store_true", help="tiny sizes (< 20 s); linear EFT only")
    ap.add_argument("--width", type=int, default=1000)
    ap.add_argument("--length", type=int, default=16)
    ap.add_argument("--n-samples", type=int, default=2000)
    ap.add_argument("--n-chains", type=int, default=256)
    ap.add_argument("--burn-in", type=int, default=500)
    ap.add_argument("--lags", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--seed", type=int, default=2026)
    args = ap.parse_args(argv)
    cases = CASES
    if args.smoke:
        args.width, args.length, args.n_samples, args.n_chains, args.burn_in = 100, 6, 40, 16, 40
        args.lags = [0, 1, 2]
        cases = [("linear", 0.5, 0.5), ("relu", 1.0, 0.5)]
    args.out.mkdir(parents=True, exist_ok=True)

    results, cache = [], {}
    for i, (act, sw, sb) in enumerate(cases):
        t0 = time.perf_counter()
        res = simulate_mcmc(act, sw, sb, args.width, args.length, args.n_samples, seed=args.seed + i,
                            n_chains=args.n_chains, burn_in=args.burn_in, eft_lags=tuple(args.lags))
        t_mc = time.perf_counter() - t0
        fields = res.diagnostics["eft_fields"]
        if args.smoke and act != "linear":
            pred = "smoke run: ReLU EFT construction (SymPy, ~15 s) skipped"
        else:
            pred = eft_predictions(act, sw, sb, args.lags, args.length, cache)
        rows = []
        for j, m in enumerate(args.lags):
            est = res["eft_corr"][j]
            for a, fa in enumerate(fields):
                for b, fb in enumerate(fields):
                    row = {"lag": m, "fields": [fa, fb], "mcmc": float(est.value[a, b]),
                           "stderr": float(est.stderr[a, b])}
                    if isinstance(pred, dict):
                        row["eft"] = float(pred[m][a, b])
                        row["z"] = (row["mcmc"] - row["eft"]) / row["stderr"] if row["stderr"] > 0 else None
                    rows.append(row)
        zs = [r["z"] for r in rows if r.get("z") is not None]
        entry = {"activation": act, "sigma_w2": sw, "sigma_b2": sb, "width": args.width, "length": args.length,
                 "n_chains": args.n_chains, "n_samples": args.n_samples, "burn_in": args.burn_in,
                 "seconds": round(t_mc, 2), "fields": fields, "correlators": rows,
                 "eft": pred if isinstance(pred, str) else "statfield.symbolic.quadratic_eft(...).correlator(m, sw, sb, L)",
                 "max_abs_z": max(map(abs, zs)) if zs else None,
                 "mean_z2": float(np.mean(np.square(zs))) if zs else None,
                 "diagnostics": res.diagnostics}
        results.append(entry)
        print(f"{act:6s} sw2={sw}: {t_mc:6.1f} s, acceptance {res.diagnostics['acceptance']}, "
              f"max|z| = {entry['max_abs_z']}, mean z^2 = {entry['mean_z2']}"
              + (f"  [{pred}]" if isinstance(pred, str) else ""))
    (args.out / "mcmc_vs_eft.json").write_text(json.dumps(results, indent=1, default=str))
    plot(results, args.out / "mcmc_vs_eft.png")
    print(f"wrote {args.out / 'mcmc_vs_eft.json'} and {args.out / 'mcmc_vs_eft.png'}")


def plot(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(4.2 * len(results), 3.6), squeeze=False)
    for ax, r in zip(axes[0], results):
        for fa in r["fields"]:
            rows = [c for c in r["correlators"] if c["fields"] == [fa, fa]]
            lags = [c["lag"] for c in rows]
            eb = ax.errorbar(lags, [c["mcmc"] for c in rows], yerr=[c["stderr"] for c in rows], fmt="o", ms=4,
                             label=f"MCMC <{fa} {fa}>")
            if "eft" in rows[0]:
                ax.plot(lags, [c["eft"] for c in rows], "-", color=eb[0].get_color(), alpha=0.6)
        ax.set_yscale("symlog", linthresh=1e-2)
        ax.set_xlabel("lag m (layers)")
        ax.set_title(f"{r['activation']} $\\sigma_w^2$={r['sigma_w2']}, N={r['width']}, L={r['length']}", fontsize=9)
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel("connected correlator (lines: quadratic EFT)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()

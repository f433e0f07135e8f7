"""Validation of statfield.spectra: exact Gaussian baselines vs MC, tail-fit calibration, the pitfalls.

Sections (each written to ``spectra_validation.json``; figure ``spectra_validation.png``):

1. ``baselines`` — E log10||W||_F^2, Var ln||W||_F, E (1/M) sum ln(lambda), E (1/M) sum lambda^2 of Gaussian
   matrices (exact chi^2 / Wishart values) against MC over independent matrices: z-scores per shape;
2. ``tracy_widom`` — coverage of Johnstone's TW1 quantiles of lambda_max at growing sizes (an approximation:
   the deviation shrinks with N);
3. ``calibration`` — the CSN fit (x_min scanned by KS) on synthetic power laws with known alpha: mean alpha_hat,
   its spread, and the coverage of alpha_hat +- 2 bootstrap errors;
4. ``heavy_tailed`` — ESD tail alpha of Pareto / Student-t matrices against 1 + mu/2, with the Gaussian baseline
   of the same shape;
5. ``pitfalls`` — x_max = lambda_max on pure Gaussian noise (alpha, KS) vs the untruncated fit; alpha capped at 3;
6. ``null_network`` — average log norm of random networks (W ~ N(0, sigma_w2/fan_in)) vs the exact expectation;
7. ``weightwatcher`` — alpha of weightwatcher's numpy fitter on the same ESDs, when weightwatcher is installed.

Usage: python numerics/validate_spectra.py [--out out/validate_spectra] [--smoke] [--seed 0]
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np

import statfield.spectra as sp
from statfield._io import write_json


def _mean_se(x):
    x = np.asarray(x, float)
    return float(x.mean()), float(x.std(ddof=1) / math.sqrt(x.size))


def _esd_batch(W):
    if W.shape[1] < W.shape[2]:
        W = np.swapaxes(W, 1, 2)
    return np.linalg.eigvalsh(np.swapaxes(W, 1, 2) @ W / W.shape[1])


def baselines(shapes, n, seed):
    out = []
    for i, (shape, v) in enumerate(shapes):
        b = sp.gaussian_baseline(*shape, variance=v)
        ev, f2 = [], []
        for k, ss in enumerate(np.random.SeedSequence([seed, i]).spawn((n + 999) // 1000)):
            W = sp.gaussian_matrices(*shape, variance=v, n=min(1000, n - 1000 * k), seed=ss)
            ev.append(_esd_batch(W))
            f2.append(np.sum(W**2, axis=(1, 2)))
        ev, f2 = np.concatenate(ev), np.concatenate(f2)
        lnf = 0.5 * np.log(f2)
        rec = {"shape": list(shape), "variance": v, "n_matrices": n}
        for key, pred, samples in (("log10_frobenius_sq", b.log10_frobenius_sq, np.log10(f2)),
                                   ("ln_frobenius_var", b.ln_frobenius_sd**2, (lnf - b.ln_frobenius) ** 2),
                                   ("mean_log_eig", b.mean_log_eig, np.log(ev).mean(axis=1)),
                                   ("mean_eig_sq", b.mean_eig_sq, (ev**2).mean(axis=1))):
            m, se = _mean_se(samples)
            rec[key] = {"exact": pred, "mc": m, "stderr": se, "z": (m - pred) / se}
        out.append(rec)
    return out


def tracy_widom(sizes, n, seed):
    out = []
    for i, (N, M) in enumerate(sizes):
        b = sp.gaussian_baseline(N, M, 1.0)
        lam = np.concatenate([_esd_batch(sp.gaussian_matrices(N, M, 1.0, n=min(1000, n - k), seed=seed + 100 * i + k))[:, -1]
                              for k in range(0, n, 1000)])
        rec = {"N": N, "M": M, "n_matrices": int(lam.size)}
        for q in (0.1, 0.5, 0.9):
            hit = float((lam <= b.lambda_max_quantile(q)).mean())
            se = math.sqrt(q * (1 - q) / lam.size)
            rec[f"coverage_{q:g}"] = {"nominal": q, "mc": hit, "stderr": se, "z": (hit - q) / se}
        out.append(rec)
    return out


def calibration(alphas, n, reps, n_boot, seed):
    out = []
    for i, a in enumerate(alphas):
        fits = [sp.fit_powerlaw(sp.pareto_sample(n, a, seed=s), n_boot=n_boot, seed=k)
                for k, s in enumerate(np.random.SeedSequence(seed + i).spawn(reps))]
        ah = np.array([f.alpha for f in fits])
        se = np.array([f.alpha_stderr for f in fits])
        m, sem = _mean_se(ah)
        cover = float(np.mean(np.abs(ah - a) <= 2 * se))
        out.append({"alpha": a, "n": n, "replicates": reps, "n_boot": n_boot, "mean_alpha_hat": m, "stderr": sem,
                    "z": (m - a) / sem, "sd_alpha_hat": float(ah.std(ddof=1)), "mean_bootstrap_se": float(se.mean()),
                    "coverage_2se": cover, "mean_n_tail": float(np.mean([f.n_tail for f in fits]))})
    return out


def _alpha(W):
    ev = sp.esd(W)
    return sp.fit_powerlaw(ev[ev > 0]).alpha


def heavy_tailed(shape, mus, nus, reps, seed):
    out = []
    cases = [("pareto", mu) for mu in mus] + [("student_t", nu) for nu in nus]
    for i, (kind, mu) in enumerate(cases):
        ss = np.random.SeedSequence(seed + i).spawn(reps)
        make = (lambda s: sp.pareto_matrix(*shape, mu, seed=s)) if kind == "pareto" else \
            (lambda s: sp.student_t_matrix(*shape, mu, seed=s))
        ah = np.array([_alpha(make(s)) for s in ss])
        g = np.array([_alpha(sp.gaussian_matrices(*shape, seed=s)[0]) for s in np.random.SeedSequence(seed + 50 + i).spawn(reps)])
        m, se = _mean_se(ah)
        pred = 1 + mu / 2
        out.append({"ensemble": kind, "tail_index": mu, "shape": list(shape), "matrices": reps,
                    "predicted_alpha": pred, "mean_alpha": m, "stderr": se, "z": (m - pred) / se,
                    "gaussian_baseline_alpha_median": float(np.median(g)),
                    "gaussian_baseline_alpha_iqr": [float(np.quantile(g, 0.25)), float(np.quantile(g, 0.75))]})
    return out


def _powerlaw_package_fits(ev):
    """The same ESD through the optional ``powerlaw`` package (default alpha range [0, 3]), if installed."""
    try:
        import contextlib
        import io
        import warnings

        import powerlaw
    except ImportError:
        return None
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        f = powerlaw.Fit(ev, xmax=float(ev.max()), verbose=False)
        g = powerlaw.Fit(ev, verbose=False)
        return {"xmax_at_lambda_max": {"alpha": float(f.power_law.alpha), "ks": float(f.power_law.D)},
                "xmax_none": {"alpha": float(g.power_law.alpha), "ks": float(g.power_law.D)}}


def pitfalls(shapes, seed):
    noise = []
    for i, (N, M) in enumerate(shapes):
        ev = sp.esd(sp.gaussian_matrices(N, M, seed=seed + i)[0])
        t = sp.fit_powerlaw(ev, xmax=float(ev.max()))
        u = sp.fit_powerlaw(ev)
        rec = {"shape": [N, M], "xmax_at_lambda_max": {"alpha": t.alpha, "ks": t.ks_distance, "n_tail": t.n_tail,
                                                       "ks_critical_5pct": 1.36 / math.sqrt(t.n_tail)},
               "untruncated": {"alpha": u.alpha, "ks": u.ks_distance, "n_tail": u.n_tail}}
        pl = _powerlaw_package_fits(ev)
        if pl is not None:
            rec["powerlaw_package"] = pl
        noise.append(rec)
    x = sp.pareto_sample(3000, 4.0, seed=seed)
    cap = {"true_alpha": 4.0, "capped_[0,3]": sp.fit_powerlaw(x, xmin=1.0, alpha_range=(0, 3)).alpha,
           "uncapped": sp.fit_powerlaw(x, xmin=1.0).alpha}
    try:
        import warnings

        import powerlaw

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cap["powerlaw_package"] = {"version": getattr(powerlaw, "__version__", "?"),
                                       "alpha": float(powerlaw.Fit(x, xmin=1.0, verbose=False).power_law.alpha)}
    except ImportError:
        cap["powerlaw_package"] = "not installed"
    y = sp.pareto_sample(2000, 2.0, seed=seed + 1)
    e = 1.0 + np.random.default_rng(seed).exponential(1.0, 2000)
    lr = {"pareto_vs_exponential": sp.likelihood_ratio(y, sp.fit_powerlaw(y, xmin=1.0), "exponential").to_dict(),
          "exponential_vs_exponential": sp.likelihood_ratio(e, sp.fit_powerlaw(e, xmin=1.0), "exponential").to_dict()}
    return {"xmax_at_lambda_max_on_noise": noise, "alpha_cap": cap, "likelihood_ratio_sign": lr}


def weightwatcher_comparison(shape, seed):
    """alpha of statfield and of weightwatcher's own numpy fitter on the same ESDs (optional; docs/spectra.md)."""
    try:
        import contextlib
        import io
        import logging

        from weightwatcher.WW_powerlaw import pl_fit
    except ImportError:
        return "weightwatcher not installed (optional: pip install weightwatcher)"
    logging.getLogger("weightwatcher").setLevel(logging.ERROR)
    cases = [("gaussian", sp.gaussian_matrices(*shape, seed=seed)[0]), ("pareto mu=1", sp.pareto_matrix(*shape, 1.0, seed=seed)),
             ("pareto mu=2", sp.pareto_matrix(*shape, 2.0, seed=seed)), ("student-t nu=3", sp.student_t_matrix(*shape, 3.0, seed=seed))]
    out = []
    for name, W in cases:
        ev = sp.esd(W)
        ev = ev[ev > 0]
        ours = sp.fit_powerlaw(ev, n_boot=20)
        with contextlib.redirect_stdout(io.StringIO()):
            f = pl_fit(data=ev, xmax=None)
            ww_alpha, ww_xmin = float(f.alpha), float(f.xmin)
        out.append({"case": name, "shape": list(shape), "statfield_alpha": ours.alpha, "statfield_stderr": ours.alpha_stderr,
                    "statfield_xmin": ours.xmin, "weightwatcher_alpha": ww_alpha, "weightwatcher_xmin": ww_xmin})
    return out


def null_network(configs, n, seed):
    out = []
    for i, (widths, sw2) in enumerate(configs):
        pred = float(np.mean([b.log10_frobenius_sq for b in sp.network_baselines(widths, sw2)]))
        vals = [np.mean([math.log10(float(np.sum(w**2))) for w in sp.random_network_weights(widths, sw2, seed=s)])
                for s in np.random.SeedSequence(seed + i).spawn(n)]
        m, se = _mean_se(vals)
        out.append({"widths": widths, "sigma_w2": sw2, "n_networks": n, "exact": pred, "mc": m, "stderr": se,
                    "z": (m - pred) / se})
    return out


def figure(res, path):
    from matplotlib.figure import Figure

    from statfield.spectra.plots import save_figure

    fig = Figure(figsize=(11, 3.8))
    ax1, ax2, ax3 = fig.subplots(1, 3)
    ht = [r for r in res["heavy_tailed"] if r["ensemble"] == "pareto"]
    mu = np.array([r["tail_index"] for r in ht])
    ax1.errorbar(mu, [r["mean_alpha"] for r in ht], [r["stderr"] for r in ht], fmt="o", label="CSN fit (Pareto)")
    ax1.plot(mu, 1 + mu / 2, "k--", label=r"$1 + \mu/2$")
    ax1.set_xlabel(r"entry tail index $\mu$")
    ax1.set_ylabel(r"ESD tail $\alpha$")
    ax1.legend(fontsize=8)
    cal = res["calibration"]
    a = np.array([r["alpha"] for r in cal])
    ax2.errorbar(a, [r["mean_alpha_hat"] - r["alpha"] for r in cal], [r["stderr"] for r in cal], fmt="o")
    ax2.axhline(0, color="k", lw=0.8)
    ax2.set_xlabel(r"true $\alpha$")
    ax2.set_ylabel(r"$E\hat\alpha - \alpha$ (x_min scanned)")
    pf = res["pitfalls"]["xmax_at_lambda_max_on_noise"]
    lab = [f"{p['shape'][0]}x{p['shape'][1]}" for p in pf]
    x = np.arange(len(pf))
    ax3.bar(x - 0.2, [p["xmax_at_lambda_max"]["alpha"] for p in pf], 0.4, label=r"$x_{max} = \lambda_{max}$")
    ax3.bar(x + 0.2, [min(p["untruncated"]["alpha"], 20) for p in pf], 0.4, label="untruncated (clipped at 20)")
    ax3.set_xticks(x, lab)
    ax3.set_ylabel(r"$\alpha$ fitted to pure Gaussian noise")
    ax3.legend(fontsize=8)
    fig.subplots_adjust(left=0.06, right=0.99, bottom=0.15, top=0.95, wspace=0.3)
    save_figure(fig, path)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="out/validate_spectra", help="output folder")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes (CI smoke test)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    s = args.smoke
    res = {
        "baselines": baselines([((30, 12), 0.7), ((12, 30), 0.05), ((16, 16), 2.0)] +
                               ([] if s else [((200, 50), 1.0), ((128, 128), 0.01)]), 500 if s else 20000, args.seed),
        "tracy_widom": tracy_widom([(40, 10)] if s else [(50, 12), (100, 25), (400, 100)], 500 if s else 20000,
                                   args.seed),
        "calibration": calibration([2.5] if s else [1.5, 2.0, 2.5, 3.0, 4.0], 300 if s else 500, 10 if s else 100,
                                   5 if s else 20, args.seed),
        "heavy_tailed": heavy_tailed((200, 100) if s else (1000, 500), [1.0] if s else [0.5, 1.0, 1.5, 2.0, 3.0],
                                     [] if s else [2.0, 3.0], 3 if s else 20, args.seed),
        "pitfalls": pitfalls([(200, 100)] if s else [(400, 200), (1000, 500), (500, 500), (2000, 500)], args.seed),
        "null_network": null_network([([20, 40, 40, 10], 2.0)] + ([] if s else [([8, 30, 30, 30, 30], 1.0)]),
                                     200 if s else 20000, args.seed),
    }
    res["weightwatcher"] = weightwatcher_comparison((200, 100) if s else (1000, 500), args.seed)
    res["runtime_s"] = time.perf_counter() - t0
    res["smoke"] = s
    write_json(out / "spectra_validation.json", res)
    figure(res, out / "spectra_validation.png")
    zs = [v["z"] for r in res["baselines"] for k, v in r.items() if isinstance(v, dict)]
    zs += [r["z"] for r in res["null_network"]]
    print(f"baselines + null: {len(zs)} comparisons, max |z| = {max(abs(z) for z in zs):.2f}")
    for r in res["calibration"]:
        print(f"alpha = {r['alpha']}: mean alpha_hat = {r['mean_alpha_hat']:.4f} ± {r['stderr']:.4f} (z = {r['z']:+.2f}), "
              f"sd {r['sd_alpha_hat']:.4f} vs mean bootstrap se {r['mean_bootstrap_se']:.4f}, "
              f"coverage(±2se) {r['coverage_2se']:.2f}")
    for r in res["heavy_tailed"]:
        print(f"{r['ensemble']} mu = {r['tail_index']}: alpha = {r['mean_alpha']:.3f} ± {r['stderr']:.3f} vs "
              f"1 + mu/2 = {r['predicted_alpha']:.2f} (z = {r['z']:+.1f}); Gaussian baseline median "
              f"{r['gaussian_baseline_alpha_median']:.2f}")
    for r in res["tracy_widom"]:
        print(f"TW1 N = {r['N']}, M = {r['M']}: " + ", ".join(
            f"q {v['nominal']:g}: {v['mc']:.4f} (z {v['z']:+.1f})" for k, v in r.items() if k.startswith("coverage")))
    for p in res["pitfalls"]["xmax_at_lambda_max_on_noise"]:
        print(f"noise {p['shape']}: xmax = lambda_max -> alpha {p['xmax_at_lambda_max']['alpha']:.2f} "
              f"(KS {p['xmax_at_lambda_max']['ks']:.3f} < critical {p['xmax_at_lambda_max']['ks_critical_5pct']:.3f}); "
              f"untruncated -> alpha {p['untruncated']['alpha']:.2f} (KS {p['untruncated']['ks']:.3f})"
              + (f"; powerlaw package: xmax = lambda_max {p['powerlaw_package']['xmax_at_lambda_max']['alpha']:.2f}, "
                 f"xmax = None {p['powerlaw_package']['xmax_none']['alpha']:.2f}" if "powerlaw_package" in p else ""))
    print(f"cap: {res['pitfalls']['alpha_cap']}")
    print(f"wrote {out / 'spectra_validation.json'} and spectra_validation.png in {res['runtime_s']:.1f} s")


if __name__ == "__main__":
    main()

"""Trained finite-width ensembles against the infinite-width theory: agreement, width scaling, large learning rates.

ReLU, sigma_w2 = 2, sigma_b2 = 0.1, depth 3, P = 6 training points (d_in = 3, y = sin(sum x)), 2 test points,
gradient descent on 1/2 sum (f - y)^2 (NTK parameterisation) with learning rate eta = 0.5 x the infinite-width
stability limit 2/lambda_max(Theta) unless scanned. Every number carries a standard error over independent networks.

(0) Empirical NTK fluctuations: Var Theta(x1, x2) of networks at initialisation for widths 8..256 (ReLU and tanh),
    fitted as N^-a (the exponent is measured, not assumed); the variance error bar is the i.i.d. fourth-moment one.
(1) Trajectory: test-output mean and variance and training loss at steps 0..60 for widths 32..512 against
    gradient_descent_mse (Lee et al. 2019); chi^2 per width; figure training_trajectory.png.
(2) Width scaling (measured exponents, nothing assumed): the relative NTK change E|Theta_t - Theta_0|_F/|Theta_0|_F
    after 30 steps, and the finite-width excess of the test-output variance and of the late-time loss,
    (MC - theory)/theory, each fitted as a N^-a on log-log axes by weighted least squares (delta-method errors);
    figure training_width_scaling.png.
(3) Large learning rates: fraction of diverged networks, final loss and NTK change against eta / eta_crit at two
    widths (the linearised theory has no stable solution beyond eta_crit; finite networks can still converge
    by reducing their NTK, the catapult mechanism of Lewkowycz et al. 2020, arXiv:2003.02218).

Writes OUT/validate_training.json and the figures. --smoke: tiny sizes, a few seconds.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from statfield.training import gradient_descent_mse, stability_limit, train_ensemble

ACT, SW, SB, DEPTH = "relu", 2.0, 0.1, 3


def data(seed=0, P=6, Ps=2, d=3):
    r = np.random.default_rng(seed)
    X = r.normal(size=(P, d))
    return X, np.sin(X.sum(axis=1)), r.normal(size=(Ps, d))


def power_fit(N, m, s):
    """Fit log m = c - a log N (weighted by (s/m)^-2); returns a, its stderr, chi2, dof."""
    N, m, s = (np.asarray(v, float) for v in (N, m, s))
    ok = m > 0
    if ok.sum() < 2:
        return None
    ly, sy = np.log(m[ok]), s[ok] / m[ok]
    A = np.vander(np.log(N[ok]), 2, increasing=True)
    w = 1.0 / sy**2
    cov = np.linalg.inv(A.T @ (A * w[:, None]))
    c = cov @ (A.T @ (w * ly))
    chi2 = float(np.sum(w * (ly - A @ c) ** 2))
    return {"exponent": float(-c[1]), "stderr": float(np.sqrt(cov[1, 1])), "chi2": chi2, "dof": int(ok.sum() - 2),
            "widths_used": N[ok].tolist()}


def ntk_variance(widths, n, seed):
    from statfield.sampling.backend import default_rng, get_namespace
    from statfield.sampling.ntk import empirical_ntk_observable
    from statfield.sampling.runner import block_seed, block_sizes

    xp = get_namespace("numpy")
    X2 = np.array([[1.0, 0.0], [0.6, 0.8]])
    out = {}
    for act, sw, sb in (("relu", 2.0, 0.1), ("tanh", 1.5, 0.05)):
        v, se = [], []
        for N in widths:
            vals = np.concatenate([np.asarray(empirical_ntk_observable(default_rng(block_seed(seed + N, b), xp), m, act,
                                                                       sw, sb, [N] * DEPTH, X2, xp)["ntk"])[:, 0, 1]
                                   for b, m in enumerate(block_sizes(n, 500))])
            k = len(vals)
            d = vals - vals.mean()
            s2 = float(d @ d / (k - 1))
            m4 = float(np.mean(d**4))
            v.append(s2)
            se.append(float(np.sqrt(max(m4 / k - s2**2 * (k - 3) / (k * (k - 1)), 0.0))))
        fit = power_fit(widths, v, se)
        out[act] = {"widths": list(widths), "var": v, "var_se": se, "N_times_var": (np.array(widths) * v).tolist(),
                    "fit": fit}
        print(f"  {act}: N Var Theta_12 = {np.round(np.array(widths) * v, 3)}; exponent a = {fit['exponent']:.3f} +- "
              f"{fit['stderr']:.3f} (chi2 {fit['chi2']:.1f}/{fit['dof']})")
    return out


def trajectory(widths, n, steps, eta, X, y, Xs, seed):
    th = gradient_descent_mse(ACT, SW, SB, DEPTH, X, y, Xs, steps, learning_rate=eta)
    out = {}
    for N in widths:
        t0 = time.perf_counter()
        r = train_ensemble(ACT, SW, SB, int(N), DEPTH, X, y, Xs, steps, n, eta, seed=seed + int(N))
        z = r.zscores(th)
        var = np.diagonal(r.value("cov"), axis1=1, axis2=2)
        var_se = np.diagonal(r.stderr("cov"), axis1=1, axis2=2)
        zv = (var - np.diagonal(th.cov, axis1=1, axis2=2)) / var_se
        zl = (r.value("loss") - th.train_loss) / r.stderr("loss")
        chi2 = float(np.sum(z["mean"] ** 2) + np.sum(zv ** 2))
        dof = int(z["mean"].size + zv.size)
        out[int(N)] = {"result": r, "z_mean": z["mean"], "z_var": zv, "z_loss": zl, "chi2_mean_var": chi2, "dof": dof,
                       "seconds": time.perf_counter() - t0}
        print(f"  N = {N:4d}: chi2(mean, var) = {chi2:.1f} / {dof}, max|z| mean {np.abs(z['mean']).max():.2f}, "
              f"var {np.abs(zv).max():.2f}, loss z at the last steps {np.round(zl[-3:], 2)}, "
              f"NTK change {r.value('ntk_change')[-1]:.4f} +- {r.stderr('ntk_change')[-1]:.4f} "
              f"({time.perf_counter() - t0:.1f} s, {r.n_diverged} diverged)")
    return th, out


def excess(res, th, i_step):
    """Relative finite-width excess of the summed test variance and of the loss at step index i_step."""
    r = res["result"]
    v = np.trace(r.value("cov")[i_step])
    v_se = np.sqrt(np.sum(np.diagonal(r.stderr("cov")[i_step]) ** 2))
    v_th = np.trace(th.cov[i_step])
    l, l_se, l_th = r.value("loss")[i_step], r.stderr("loss")[i_step], th.train_loss[i_step]
    return (v - v_th) / v_th, v_se / v_th, (l - l_th) / l_th, l_se / l_th


def lr_scan(widths, factors, n, steps, X, y, Xs, seed):
    lim = stability_limit(ACT, SW, SB, DEPTH, X)
    out = []
    for N in widths:
        for f in factors:
            try:
                r = train_ensemble(ACT, SW, SB, int(N), DEPTH, X, y, Xs, [0, steps], n, f * lim, seed=seed + int(N))
                row = {"width": int(N), "eta_over_crit": f, "diverged_fraction": r.n_diverged / n,
                       "final_loss": r.value("loss")[-1], "final_loss_se": r.stderr("loss")[-1],
                       "ntk_change": r.value("ntk_change")[-1], "ntk_change_se": r.stderr("ntk_change")[-1]}
            except FloatingPointError:
                row = {"width": int(N), "eta_over_crit": f, "diverged_fraction": 1.0}
            out.append(row)
            print("  " + ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="validate-training-out", help="output folder")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes (a few seconds)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--widths", help="comma-separated widths of part (1)-(2) (default 32,64,128,256,512)")
    ap.add_argument("--n-networks", type=int, help="networks per width in part (1)-(2) (default 1000)")
    ap.add_argument("--skip-lr-scan", action="store_true", help="leave out part (3)")
    a = ap.parse_args(argv)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    X, y, Xs = data(a.seed)
    eta = 0.5 * stability_limit(ACT, SW, SB, DEPTH, X)
    if a.smoke:
        widths, n, steps, nscan, scan_w, factors = [16, 32], 16, [0, 5, 20], 8, [16], [0.5, 3.0]
    else:
        widths, n, steps, nscan, scan_w, factors = ([32, 64, 128, 256, 512], 1000, [0, 2, 5, 10, 20, 40, 60], 200,
                                                    [32, 256], [0.5, 0.9, 1.1, 1.5, 2.0, 3.0, 4.0, 6.0])
    if a.widths:
        widths = [int(w) for w in a.widths.split(",")]
    if a.n_networks:
        n = a.n_networks
    report = {"activation": ACT, "sigma_w2": SW, "sigma_b2": SB, "depth": DEPTH, "learning_rate": eta,
              "stability_limit": 2 * eta, "n_networks": n, "steps": steps}
    print("(0) empirical NTK variance vs width")
    report["ntk_variance"] = ntk_variance([8, 16] if a.smoke else [8, 16, 32, 64, 128, 256], 200 if a.smoke else 2000,
                                          a.seed)
    print(f"(1) trajectory, eta = {eta:.4g} (half the stability limit), {n} networks per width")
    th, runs = trajectory(widths, n, steps, eta, X, y, Xs, a.seed)
    report["trajectory"] = {N: {"chi2_mean_var": v["chi2_mean_var"], "dof": v["dof"], "z_mean": v["z_mean"].tolist(),
                                "z_var": v["z_var"].tolist(), "z_loss": v["z_loss"].tolist(), "seconds": v["seconds"],
                                "ensemble": v["result"].to_json()} for N, v in runs.items()}
    print("(2) width scaling")
    Ns = np.array(sorted(runs))
    dn = np.array([runs[N]["result"].value("ntk_change")[-1] for N in Ns])
    dn_se = np.array([runs[N]["result"].stderr("ntk_change")[-1] for N in Ns])
    ex = np.array([excess(runs[N], th, len(steps) - 1) for N in Ns])
    fits = {"ntk_change": power_fit(Ns, dn, dn_se),
            "variance_excess": power_fit(Ns, np.abs(ex[:, 0]), ex[:, 1]) if np.all(np.abs(ex[:, 0]) > 2 * ex[:, 1])
            else None,
            "loss_excess": power_fit(Ns, np.abs(ex[:, 2]), ex[:, 3]) if np.all(np.abs(ex[:, 2]) > 2 * ex[:, 3])
            else None}
    report["width_scaling"] = {"widths": Ns.tolist(), "ntk_change": dn.tolist(), "ntk_change_se": dn_se.tolist(),
                               "variance_excess": ex[:, 0].tolist(), "variance_excess_se": ex[:, 1].tolist(),
                               "loss_excess": ex[:, 2].tolist(), "loss_excess_se": ex[:, 3].tolist(), "fits": fits}
    for k, f in fits.items():
        vals = {"ntk_change": (dn, dn_se), "variance_excess": (ex[:, 0], ex[:, 1]), "loss_excess": (ex[:, 2], ex[:, 3])}[k]
        print(f"  {k}: values {np.round(vals[0], 4)} +- {np.round(vals[1], 4)}; "
              + (f"exponent a = {f['exponent']:.3f} +- {f['stderr']:.3f} (chi2 {f['chi2']:.1f}/{f['dof']})" if f
                 else "not resolved from zero at every width: no exponent fitted"))
    print("(3) learning-rate scan")
    report["lr_scan"] = [] if a.skip_lr_scan else lr_scan(scan_w, factors, nscan, 100 if not a.smoke else 10, X, y, Xs,
                                                          a.seed)
    _figures(out, (X, y, Xs), th, runs, steps, Ns, dn, dn_se, ex, report["lr_scan"])
    from statfield._io import write_json

    write_json(out / "validate_training.json", report)
    print(f"wrote {out / 'validate_training.json'}")


def _figures(out, xy, th, runs, steps, Ns, dn, dn_se, ex, scan):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    X, y, Xs = xy
    tt = np.arange(0, max(steps) + 1, dtype=float)
    eta = th.learning_rate
    dense = gradient_descent_mse(ACT, SW, SB, DEPTH, X, y, Xs, tt, learning_rate=eta)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
    Nmax = max(runs)
    r = runs[Nmax]["result"]
    for a, color in zip(range(dense.mean.shape[1]), ("C0", "C1")):
        ax = axes[0]
        ax.plot(tt, dense.mean[:, a], color=color, label=f"theory, x*_{a}")
        ax.fill_between(tt, dense.mean[:, a] - dense.std[:, a], dense.mean[:, a] + dense.std[:, a], color=color,
                        alpha=0.15)
        ax.errorbar(r.steps, r.value("mean")[:, a], r.stderr("mean")[:, a], fmt="o", color=color, ms=4,
                    label=f"ensemble N={Nmax}, x*_{a}")
    axes[0].set_xlabel("gradient-descent step")
    axes[0].set_ylabel("test prediction: mean +- std")
    axes[0].legend(fontsize=7)
    axes[1].plot(tt, dense.train_loss, color="k", label="theory")
    for N, m in zip(sorted(runs), ("s", "^", "o", "D", "v")):
        rr = runs[N]["result"]
        axes[1].errorbar(rr.steps, rr.value("loss"), rr.stderr("loss"), fmt=m, ms=3, label=f"N={N}")
    axes[1].set_yscale("log")
    axes[1].set_xlabel("gradient-descent step")
    axes[1].set_ylabel("E loss")
    axes[1].legend(fontsize=7)
    fig.savefig(out / "training_trajectory.png", dpi=120)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(5, 4), layout="constrained")
    ax.errorbar(Ns, dn, dn_se, fmt="o", label="relative NTK change")
    ax.errorbar(Ns * 1.03, np.abs(ex[:, 0]), ex[:, 1], fmt="s", label="|variance excess|")
    ax.errorbar(Ns * 1.06, np.abs(ex[:, 2]), ex[:, 3], fmt="^", label="|late loss excess|")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("width N")
    ax.legend(fontsize=7)
    fig.savefig(out / "training_width_scaling.png", dpi=120)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(5, 4), layout="constrained")
    for N in sorted({row["width"] for row in scan}):
        rows = [row for row in scan if row["width"] == N]
        ax.plot([row["eta_over_crit"] for row in rows], [row["diverged_fraction"] for row in rows], "o-", label=f"N={N}")
    ax.axvline(1.0, color="k", ls=":")
    ax.set_xlabel("eta / (2 / lambda_max(Theta))")
    ax.set_ylabel("fraction diverged")
    ax.legend()
    fig.savefig(out / "training_lr_scan.png", dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()

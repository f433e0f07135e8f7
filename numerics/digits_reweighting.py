"""Reweighting a learned distribution: digit 2 from 10 % to 30 % (weighted loss + adjusted batches), and the ESS collapse.

Library calls only (:mod:`statfield.demos.digits`, :mod:`statfield.perturbation`); needs scikit-learn (the
``sklearn`` extra). Writes ``digits_reweighting.json`` (measured fractions with errors, z against the target,
ESS and Pareto k-hat against the perturbation strength) and ``digits_reweighting.png`` into ``--out``.
Also measures the variance of the gradient norm per step for adjusted vs fixed-size weighted batches.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np


def _gradient_norm_variance(rng, n=50_000, b_avg=32.0, sigma=1.0):
    """Var of the per-step summed weighted gradient: adjusted batches vs fixed-size batches (same mean size)."""
    from statfield.perturbation import AdjustedBatcher

    w = np.exp(sigma * rng.standard_normal(n))
    g = 1.0 + 0.1 * rng.standard_normal(n)
    wt = w / w.mean()
    adj = [np.sum(wt[i] * g[i]) for i in AdjustedBatcher(b_avg).batches(w, order=rng.permutation(n))][:-1]
    perm = rng.permutation(n)
    k = int(b_avg)
    fixed = [np.sum(wt[perm[j:j + k]] * g[perm[j:j + k]]) for j in range(0, n - k, k)]
    return {"b_avg": b_avg, "log_weight_sd": sigma, "var_adjusted": float(np.var(adj)),
            "var_fixed": float(np.var(fixed)), "ratio_fixed_over_adjusted": float(np.var(fixed) / np.var(adj))}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("out/digits_reweighting"), help="output folder")
    ap.add_argument("--smoke", action="store_true", help="tiny run (2 models, 3 epochs)")
    ap.add_argument("--models", type=int, default=8, help="independently seeded trainings per arm")
    ap.add_argument("--seed", type=int, default=0, help="base seed")
    a = ap.parse_args(argv)
    a.out.mkdir(parents=True, exist_ok=True)
    try:
        from statfield.demos.digits import class_reweighting_demo, ess_collapse
        import sklearn  # noqa: F401
    except ImportError as exc:
        (a.out / "digits_reweighting.json").write_text(json.dumps({"skipped": str(exc)}))
        print(f"skipped: {exc}", file=sys.stderr)
        return 0
    kw = dict(n_models=2, epochs=2, n_components=8, n_generated=500) if a.smoke else dict(n_models=a.models)
    res = class_reweighting_demo(seed=a.seed, **kw)
    eps = np.array([0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0])
    col = ess_collapse(eps)
    grad = [_gradient_norm_variance(np.random.default_rng(a.seed), sigma=s) for s in (0.5, 1.0, 1.5)]
    summary = {"class_reweighting": res.to_dict(),
               "ess_collapse": {k: np.asarray(v).tolist() for k, v in col.items()},
               "gradient_norm_variance": grad}
    (a.out / "digits_reweighting.json").write_text(json.dumps(summary, indent=1))

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 3.4))
    FigureCanvasAgg(fig)
    ax1, ax2 = fig.subplots(1, 2)
    ax1.errorbar([0, 1], [res.baseline_fraction, res.weighted_fraction], [res.baseline_stderr, res.weighted_stderr],
                 fmt="o", capsize=3, label="generated (classified)")
    ax1.plot([0, 1], [res.data_fraction, res.target_fraction], "kx", ms=9, label="data / target")
    ax1.set_xticks([0, 1], ["unweighted", r"weighted ($\omega$=%.2f)" % res.omega])
    ax1.set_ylabel(f"fraction of digit {res.target_class}")
    ax1.set_xlim(-0.5, 1.5)
    ax1.legend(fontsize=8)
    ax2.semilogy(col["eps"], col["ess"] / col["n"], "o-", label="ESS / n")
    ax2b = ax2.twinx()
    ax2b.plot(col["eps"], col["khat"], "s--", color="C3", label=r"Pareto $\hat k$")
    ax2b.axhline(0.7, color="C3", lw=0.8, ls=":")
    ax2.set_xlabel(r"perturbation $\varepsilon$ (weights $e^{\varepsilon s}$, $s$ = standardised ink)")
    ax2.set_ylabel("ESS / n")
    ax2b.set_ylabel(r"$\hat k$")
    fig.tight_layout()
    fig.savefig(a.out / "digits_reweighting.png", dpi=120)
    print(json.dumps(summary["class_reweighting"], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Derivation: data as a perturbation of the random-network prior (cumulant series, J_D expansion, reweighting).

Builds ``statfield.symbolic.perturbation.data_perturbation_derivation`` (catalogue name ``data-perturbation``):
the joint-cumulant series of <O>_eps under P0 exp(-eps dH) with exact Wick coefficients, the free energy and its
Gibbs-Bogoliubov bound, the J_D series of the NNGP posterior (checked symbolically against the Taylor series of
kernel regression), the four-point term at finite width, and the adjusted batch size. Writes
``data_perturbation.tex`` (and the PDF when pdflatex is installed) and ``data_perturbation.json`` with the
J_D-series partial sums against the exact posterior inside and outside the radius of convergence.

Usage: python derivations/data_perturbation.py [--out out/data_perturbation] [--smoke]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from statfield import perturbation as pt
from statfield._io import write_json
from statfield.documents import build_derivation
from statfield.meanfield import nngp_kernel


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="out/data_perturbation", help="output folder")
    ap.add_argument("--smoke", action="store_true", help="fewer series orders (CI smoke test)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tex = build_derivation("data-perturbation").write(out / "data_perturbation.tex")
    X = np.array([[1.0, 0.0], [0.6, 0.8], [-0.5, 0.9], [0.3, -0.2]])
    K = nngp_kernel("relu", 1.8, 0.1, X, 3)
    y = np.array([0.5, -1.0, 0.3])
    orders = (2, 5, 10) if args.smoke else (2, 5, 10, 20, 40, 80)
    ser = pt.data_series(K[:3, :3], K[3:, :3], y, order=max(orders))
    rows = []
    for frac in (0.25, 0.5, 0.9, 1.1, 1.5):
        J = frac * ser.radius
        exact = float(pt.gp_posterior(K[:3, :3], K[3:, :3], y, J).mean[0])
        partial = {str(n): float(sum(ser.mean_coefficients[k, 0] * J**k for k in range(n + 1))) for n in orders}
        rows.append({"J_over_radius": frac, "J_D": J, "exact": exact, "partial_sums": partial})
    write_json(out / "data_perturbation.json", {"radius": ser.radius, "rows": rows})
    print(f"wrote {tex} and {out / 'data_perturbation.json'}")


if __name__ == "__main__":
    main()

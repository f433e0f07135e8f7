"""Derivation: quadratic field theory of deep random linear networks (SPS17 Sec. 4, exact measures).

Builds ``statfield.symbolic.eft.linear_eft_derivation`` (catalogue name ``linear-eft``): radial
collective coordinate with the exact measure r^{N-1} dr, Stirling (named), saddle = mean-field q*,
exact finite-N saddle and its 1/N displacement, Hessian, lattice precision M(q), propagator,
closed-form correlators, lattice and continuum correlation lengths, continuum EFT. Writes
``linear_eft.tex`` (and the PDF when pdflatex is installed) and ``linear_eft.json`` with the
correlators and correlation lengths on a grid of sigma_w2.

Usage: python derivations/linear_eft.py [--out out/linear_eft] [--smoke]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from statfield._io import write_json
from statfield.documents import build_derivation
from statfield.symbolic.eft import quadratic_eft


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="out/linear_eft", help="output folder")
    ap.add_argument("--smoke", action="store_true", help="skip the finite-N saddle step (CI smoke test)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    tex = build_derivation("linear-eft", finite_n=not args.smoke).write(out / "linear_eft.tex")
    eft = quadratic_eft("linear")
    grid = (0.5, 0.9) if args.smoke else (0.1, 0.3, 0.5, 0.7, 0.9, 0.99)
    rows = [{"sigma_w2": sw,
             "C0": float(eft.correlator(0, sw, 1.0)[0, 0]), "C1": float(eft.correlator(1, sw, 1.0)[0, 0]),
             "xi_lattice": eft.correlation_length("lattice", sw),
             "xi_continuum": eft.correlation_length("continuum", sw)} for sw in grid]
    results = {"fields": eft.fields, "precision": str(eft.precision()[0, 0]), "grid": rows}
    write_json(out / "linear_eft.json", results)
    print(f"wrote {tex} and {out / 'linear_eft.json'}")


if __name__ == "__main__":
    main()

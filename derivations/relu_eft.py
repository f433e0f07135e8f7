"""Derivation: quadratic field theory of deep random ReLU networks (SPS17 Sec. 5, exact measures).

Builds ``statfield.symbolic.eft.relu_eft_derivation`` (catalogue name ``relu-eft``): collective
coordinates (r+, r-, k) with the orthant count C(N,k) 2^{-N} and the two sphere factors, Stirling
(named), saddle (k* = N/2, u* = v* = q*/2), its 1/N displacement, the 3x3 Hessian, lattice
precision M(q), propagator, closed-form correlators (single pole at w = sigma_w2/2), lattice and
continuum correlation lengths and the continuum EFT. Writes ``relu_eft.tex`` (+ PDF) and
``relu_eft.json``.

Usage: python derivations/relu_eft.py [--out out/relu_eft] [--smoke]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from statfield._io import write_json
from statfield.documents import build_derivation
from statfield.symbolic.eft import quadratic_eft


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="out/relu_eft", help="output folder")
    ap.add_argument("--smoke", action="store_true", help="skip the finite-N saddle step (CI smoke test)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    tex = build_derivation("relu-eft", finite_n=not args.smoke).write(out / "relu_eft.tex")
    eft = quadratic_eft("relu")
    grid = (1.0,) if args.smoke else (0.2, 0.6, 1.0, 1.4, 1.8, 1.98)
    rows = [{"sigma_w2": sw, "C0": eft.correlator(0, sw, 1.0).tolist(), "C1": eft.correlator(1, sw, 1.0).tolist(),
             "xi_lattice": eft.correlation_length("lattice", sw),
             "xi_continuum": eft.correlation_length("continuum", sw)} for sw in grid]
    cont = eft.continuum()
    results = {"fields": eft.fields, "continuum_density": str(cont.density()), "grid": rows}
    write_json(out / "relu_eft.json", results)
    print(f"wrote {tex} and {out / 'relu_eft.json'}")


if __name__ == "__main__":
    main()

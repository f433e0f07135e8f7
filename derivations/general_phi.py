"""Derivation: field theory of a random network with a general activation (tanh by default).

Builds ``statfield.symbolic.general.general_derivation`` (catalogue name ``general-phi``): the
periodic single-input action (SPS17 Eq. 11), the exact radial measure, the law-of-large-numbers
reduction to q = |z|^2/N and the leading-order-in-1/N step (both named approximations), the
factorised homogeneous stationarity condition whose physical branch is the mean-field fixed point
q* = sigma_w2 E[phi(sqrt(q*) xi)^2] + sigma_b2, its stability (chi_q, lattice kernel M(k)), the
O(1/N) fluctuations, and a table of numeric saddles. Writes ``general_phi.tex`` (+ PDF when
pdflatex is installed) and ``general_phi.json`` with the saddles on a grid of sigma_w2.

Usage: python derivations/general_phi.py [--out out/derivations] [--activation tanh] [--smoke]
"""

from __future__ import annotations

import argparse
from dataclasses import asdict
from pathlib import Path

from statfield._io import write_json
from statfield.documents.saddles import general_saddle
from statfield.symbolic.general import general_derivation


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="out/derivations", help="output folder")
    ap.add_argument("--activation", default="tanh", help="registry name (tanh, erf, gelu, silu, ...)")
    ap.add_argument("--sigma-b2", type=float, default=0.05, help="bias variance of the JSON grid")
    ap.add_argument("--smoke", action="store_true", help="one table row and a two-point grid")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    points = ((1.5, 0.05),) if args.smoke else ((1.0, 0.05), (1.5, 0.05), (2.5, 0.1), (4.0, 0.3))
    tex = general_derivation(args.activation, points=points).write(out / "general_phi.tex")
    grid = (1.0, 2.0) if args.smoke else (0.5, 1.0, 1.5, 2.0, 3.0, 4.0)
    saddles = [asdict(general_saddle(args.activation, sw2, args.sigma_b2)) for sw2 in grid]
    write_json(out / "general_phi.json", {"activation": args.activation, "saddles": saddles})
    print(f"wrote {tex} and {out / 'general_phi.json'}")


if __name__ == "__main__":
    main()

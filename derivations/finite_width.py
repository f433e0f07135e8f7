"""Derivation: finite-width theory (four-point vertex, 1/n kernel shift, exact linear/ReLU recursions).

Builds ``statfield.symbolic.finite_width.finite_width_derivation`` (catalogue name ``finite-width``), writes
``finite_width.tex`` (and the PDF when pdflatex is installed) and ``finite_width.json`` with the key
numbers: the criticality slopes c, the K* = 0 table and the leading-order breakdown table.

Usage: python derivations/finite_width.py [--out out/finite_width] [--smoke]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from statfield import finite_width as fw
from statfield.symbolic.catalog import build_derivation


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="out/finite_width", help="output folder")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes (CI smoke test)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    deriv = build_derivation("finite-width", numeric_tables=not args.smoke)
    tex = deriv.write(out / "finite_width.tex")

    depths = (10, 100) if args.smoke else (10, 100, 1000, 10000)
    results = {
        "critical_slope_c": {a: fw.critical_vertex_slope(a) for a in ("linear", "relu", "leaky_relu_0.1")},
        "k0_class": {"tanh": fw.k0_class_table("tanh", 1.0, depths),
                     "erf": fw.k0_class_table("erf", 3.141592653589793 / 4, depths)},
        "lo_breakdown": [],
    }
    for act in ("linear", "relu"):
        c = fw.critical_vertex_slope(act)
        for n in (50, 200):
            for beta in (0.02, 0.05, 0.1, 0.2, 0.5):
                depth = round(beta * n) + 1
                sw = 1.0 if act == "linear" else 2.0
                ex = fw.recursion(act, sw, 0.0, depth, 1.0, width=n, exact=True)
                lo = fw.recursion(act, sw, 0.0, depth, 1.0)
                results["lo_breakdown"].append({
                    "activation": act, "c": c, "width": n, "depth": depth, "depth_over_width": (depth - 1) / n,
                    "kurtosis_exact": float(ex.kurtosis()[-1]), "kurtosis_lo": float(lo.kurtosis(n)[-1]),
                    "lo_relative_error": float(lo.kurtosis(n)[-1] / ex.kurtosis()[-1] - 1)})
    (out / "finite_width.json").write_text(json.dumps(results, indent=2))
    print(f"wrote {tex} and {out / 'finite_width.json'}")


if __name__ == "__main__":
    main()

"""Derivation: finite width for several inputs (vertex over input quadruples, 1/n kernel shift, exact results).

Builds ``statfield.symbolic.finite_width_multi.build_finite_width_multi_derivation`` (catalogue name
``finite-width-multi``), writes ``finite_width_multi.tex`` (and the PDF when pdflatex is installed) and
``finite_width_multi.json`` with the key numbers: the exact-minus-leading-order difference of the linear network,
a numeric example of V, K^(1) and the one-hidden-layer four-point function for three inputs, and timings.

Usage: python derivations/finite_width_multi.py [--out out/finite_width_multi] [--smoke]
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np

from statfield import finite_width as fw
from statfield._io import write_json
from statfield.symbolic.finite_width_multi import (
    build_finite_width_multi_derivation,
    linear_wishart_two_inputs,
)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="out/finite_width_multi", help="output folder")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes (CI smoke test)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    deriv = build_finite_width_multi_derivation()
    tex = deriv.write(out / "finite_width_multi.tex")

    X = np.array([[1.0, 0.0], [0.6, 0.8], [-0.3, 1.2]])
    depth = 4 if args.smoke else 10
    results = {"inputs": X.tolist(), "depth": depth,
               "linear_exact_minus_lo": str(linear_wishart_two_inputs()["difference"]), "examples": []}
    for act, sw, sb in (("tanh", 1.5, 0.05), ("relu", 2.0, 0.1), ("erf", 1.5, 0.05)):
        t0 = time.perf_counter()
        res = fw.multi_input_recursion(act, sw, sb, depth, X)
        V = res.vertex()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", fw.FiniteWidthWarning)
            g4 = fw.connected_four_point(act, sw, sb, X, 2, 3)
        results["examples"].append({
            "activation": act, "sigma_w2": sw, "sigma_b2": sb, "seconds": time.perf_counter() - t0,
            "K_last": res.K[-1].tolist(), "K_shift_last": res.K_shift[-1].tolist(),
            "V_last": {f"({a}{b})({c}{d})": float(V[a, b, c, d]) for a, b, c, d in
                       ((0, 0, 0, 0), (0, 1, 0, 1), (0, 1, 2, 2), (0, 2, 1, 2))},
            "one_hidden_layer_n3": {f"{a}{b}{c}{d}": float(g4[a, b, c, d]) for a, b, c, d in
                                    ((0, 0, 0, 0), (0, 1, 0, 1), (0, 0, 1, 2))},
            "quadrature_error": res.info["quad_error"]})
    write_json(out / "finite_width_multi.json", results)
    print(f"wrote {tex} and {out / 'finite_width_multi.json'}")


if __name__ == "__main__":
    main()

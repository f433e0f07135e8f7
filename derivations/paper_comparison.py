"""Comparison with the published SPS17 EFT coefficients (talk Eq. 12 kernel and Eq. 23 ReLU EFT).

Builds ``statfield.symbolic.compare.comparison_derivation`` (catalogue name ``paper-comparison``):
the coefficient-by-coefficient table of the continuum ReLU EFT (ours vs Eq. 23), the mass-matrix
determinants and massless modes, and tables of rescaling/sign-flip invariants. Writes
``paper_comparison.tex`` (+ PDF) and ``paper_comparison.json`` (comparison_table on a grid of
sigma_w2; the validation harness adds Monte Carlo z-scores for the same keys).

Usage: python derivations/paper_comparison.py [--out out/paper_comparison] [--smoke]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from statfield._io import write_json
from statfield.documents import build_derivation
from statfield.symbolic.compare import comparison_table


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="out/paper_comparison", help="output folder")
    ap.add_argument("--smoke", action="store_true", help="fewer sigma_w2 values (CI smoke test)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    table_grid = (1.0,) if args.smoke else (0.5, 1.0, 1.5)
    tex = build_derivation("paper-comparison", table_sigma_w2=table_grid).write(out / "paper_comparison.tex")
    grid = (0.5,) if args.smoke else (0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 1.95)
    tables = [comparison_table(sw, 0.1) for sw in grid]
    write_json(out / "paper_comparison.json", tables)
    print(f"wrote {tex} and {out / 'paper_comparison.json'}")


if __name__ == "__main__":
    main()

"""Derivation: the pre-activation action of a random network (SPS17 Eqs. 9-11), derived two ways.

Builds ``statfield.symbolic.action.action_derivation`` (catalogue name ``action``): delta-function
constraints and auxiliary fields, integrating out weights and biases (Gaussian integrals by
``statfield.symbolic.gaussian``), the rank condition N_{l-1} + 1 >= P and integrating out the
auxiliary fields, the multi-input action (Eq. 9), the direct route (conditional Gaussians) with a
table of simplified route differences, the single-input (Eq. 10) and periodic (Eq. 11) forms, the
remarks on the periodic chain, and the comparison with the equations printed in the talk notes.
Writes ``action.tex`` (and ``action.pdf`` when pdflatex is installed) and ``action.json``.

Usage: python derivations/action.py [--out out/derivations] [--activation general] [--smoke]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from statfield._io import write_json
from statfield.symbolic.action import action_derivation


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="out/derivations", help="output folder")
    ap.add_argument("--activation", default="general",
                    help="'general' (undefined phi) or a registry name such as tanh, erf, relu")
    ap.add_argument("--smoke", action="store_true", help="check the route agreement for N=2, P=1 only")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    cases = ((2, 1),) if args.smoke else ((2, 1), (2, 2), (3, 2), (None, 1))
    d = action_derivation(args.activation, check_cases=cases)
    tex = d.write(out / "action.tex")
    table = next(t for s in d.steps for t in s.tables if "route" in t["caption"])
    rows = [dict(zip(("N", "P", "dSigma", "dS", "seconds"), r)) for r in table["rows"]]
    write_json(out / "action.json", {"activation": args.activation, "route_agreement": rows})
    print(f"wrote {tex} and {out / 'action.json'}")


if __name__ == "__main__":
    main()

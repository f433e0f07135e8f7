"""``statfield derive``: write derivations of the catalogue as LaTeX (and PDF when pdflatex is present)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["add_parser", "run"]


def add_parser(subparsers):
    """Register ``derive`` on an argparse ``subparsers`` object; returns the sub-parser."""
    d = subparsers.add_parser("derive", help="write a derivation as LaTeX (PDF when pdflatex is present)",
                              description="Build a derivation from the catalogue and write NAME.tex (and NAME.pdf "
                                          "when pdflatex is installed). 'all' builds every one.")
    d.add_argument("name", nargs="*", help="derivation name(s) (see --list), or 'all'")
    d.add_argument("--list", action="store_true", help="list the catalogue and exit")
    d.add_argument("--out", default="derivations-out", metavar="DIR",
                   help="output folder (default: ./derivations-out)")
    d.add_argument("--no-pdf", action="store_true", help="write .tex only, never run pdflatex")
    return d


def run(args) -> int:
    """Write the requested derivations; unknown names are a usage error (``ValueError``)."""
    from ..symbolic.catalog import DERIVATIONS, build_derivation

    if args.list or not args.name:
        width = max(len(n) for n in DERIVATIONS)
        for name, (_, desc) in DERIVATIONS.items():
            print(f"{name:<{width}}  {desc}")
        return 0
    from ..symbolic.derivation import pdflatex_available

    names = list(DERIVATIONS) if args.name == ["all"] else args.name
    unknown = [n for n in names if n not in DERIVATIONS]
    if unknown:
        raise ValueError(f"unknown derivation(s) {unknown}; see 'statfield derive --list'")
    out = Path(args.out)
    pdf = False if args.no_pdf else None
    for name in names:
        tex = build_derivation(name).write(out / f"{name}.tex", pdf=pdf)
        made = [str(tex)]
        if pdf is None and tex.with_suffix(".pdf").exists() and pdflatex_available():
            made.append(str(tex.with_suffix(".pdf")))
        print("wrote " + ", ".join(made))
    return 0

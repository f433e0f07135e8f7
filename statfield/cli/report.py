"""``statfield report``: derivations, validation tables and figures in one folder.

The work is done by :func:`statfield.report.make_report`.
"""

from __future__ import annotations

import sys

from ._common import nonneg_int

__all__ = ["add_parser", "run"]


def add_parser(subparsers):
    """Register ``report`` on an argparse ``subparsers`` object; returns the sub-parser."""
    r = subparsers.add_parser("report", help="the main job: derivations + validation + figures in one folder",
                              description="Write a LaTeX/PDF report (all derivations, validation tables, figures), "
                                          "the figures as PNG, results.json and summary.md into one folder. Exit "
                                          "status 1 when a check fails, 3 when the report is incomplete (a "
                                          "derivation raised or LaTeX failed).")
    r.add_argument("--out", default="statfield-report", metavar="DIR",
                   help="output folder (default: ./statfield-report)")
    g = r.add_mutually_exclusive_group()
    g.add_argument("--quick", action="store_true", help="quick validation profile (default)")
    g.add_argument("--full", action="store_true", help="full validation profile")
    r.add_argument("--seed", type=nonneg_int, default=0, help="base seed of the checks (>= 0; default 0)")
    r.add_argument("--no-pdf", action="store_true", help="do not run pdflatex")
    r.add_argument("--no-progress", action="store_true", help="no progress bars")
    return r


def run(args) -> int:
    """Write the report; 1 when a check failed, 3 when the report is incomplete, 0 otherwise."""
    from ..report import make_report

    res = make_report(args.out, profile="full" if args.full else "quick", seed=args.seed,
                      pdf=False if args.no_pdf else None, progress=not args.no_progress)
    print(res.summary_text)
    if res.summary["n_failed"]:
        return 1
    if not res.ok:
        detail = "; ".join(res.errors) or "see summary.md"
        print(f"statfield: error: the report is incomplete: {' '.join(detail.split())}", file=sys.stderr)
        return 3
    return 0

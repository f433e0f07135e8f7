"""``statfield validate``: the theory-vs-Monte-Carlo checks; exit status 1 when a check fails."""

from __future__ import annotations

from pathlib import Path

from ._common import nonneg_int, print_json

__all__ = ["add_parser", "run"]


def add_parser(subparsers):
    """Register ``validate`` on an argparse ``subparsers`` object; returns the sub-parser."""
    v = subparsers.add_parser("validate", help="run the validation checks (theory vs Monte Carlo)",
                              description="Run theory-vs-MC checks. Exit status 1 when any check fails "
                                          "(published-coefficient comparisons are reported, never failures), "
                                          "2 on bad input.")
    v.add_argument("checks", nargs="*", metavar="CHECK", help="check names (default: all; see --list)")
    g = v.add_mutually_exclusive_group()
    g.add_argument("--quick", action="store_true", help="quick CPU profile (default; ~1-2 min on 2 cores)")
    g.add_argument("--full", action="store_true", help="larger widths and samples")
    v.add_argument("--json", action="store_true", help="print records and summary as JSON")
    v.add_argument("--out", default=None, metavar="DIR", help="write figures and results.json into this folder")
    v.add_argument("--list", action="store_true", help="list the checks and exit")
    v.add_argument("--seed", type=nonneg_int, default=0, help="base seed of the checks (>= 0; default 0)")
    v.add_argument("--no-progress", action="store_true", help="no progress bar")
    v.add_argument("--scheduler", default=None, metavar="ADDRESS|local",
                   help="run the checks as Dask tasks: 'local' (a LocalCluster) or a scheduler address; the same "
                        "records as a serial run (needs statfield[distributed])")
    return v


def run(args) -> int:
    """Run the selected checks; 1 when one failed, 0 otherwise (unknown names: ``ValueError``, exit 2)."""
    from .._io import write_json
    from ..validation.core import CHECKS, available_checks, results_document, run_checks

    names = available_checks()
    if args.list:
        width = max((len(n) for n in names), default=10)
        for n in names:
            print(f"{n:<{width}}  [{CHECKS[n].group}] {CHECKS[n].description}")
        return 0
    sel = args.checks or names
    unknown = [n for n in sel if n not in names]
    if unknown:
        raise ValueError(f"unknown check(s) {unknown}; see 'statfield validate --list'")
    profile = "full" if args.full else "quick"
    out = Path(args.out) if args.out else None
    if getattr(args, "scheduler", None) is not None:
        from ..sampling.distributed import map_checks

        records, summary = map_checks(sel, scheduler=args.scheduler, profile=profile, seed=args.seed, outdir=out)
    else:
        records, summary = run_checks(sel, profile=profile, seed=args.seed, outdir=out,
                                      progress=not args.no_progress)
    doc = results_document(records, summary)
    if out is not None:
        write_json(out / "results.json", doc)
    if args.json:
        print_json(doc)
    else:
        for r in records:
            print(r.line())
        z = summary["z_distribution"]
        print()
        print(f"{summary['n_checks']} checks, {summary['n_failed']} failed, {summary['n_skipped']} skipped; "
              f"{summary['n_published']} published coefficients compared "
              f"({summary['n_published_consistent']} consistent with the data)")
        if z["n"]:
            sd = "-" if z["sd"] is None else f"{z['sd']:.2f}"
            print(f"z-scores: mean {z['mean']:+.2f}, sd {sd}, max |z| {z['max_abs']:.2f} (n = {z['n']})")
        print(summary["multiple_comparisons"])
        print(f"profile {profile}, seed {args.seed}, {summary['runtime_total']:.1f} s")
        for f in summary["failures"]:
            print("FAILED: " + f)
    return 1 if summary["n_failed"] else 0

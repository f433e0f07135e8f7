"""The ``statfield`` command line: derive, meanfield, sample, validate, report.

Examples
--------
::

    statfield report                                  # the main job: ./statfield-report/
    statfield derive --list
    statfield derive relu-eft --out out/derivations
    statfield meanfield tanh --sigma-w2 1.5 --sigma-b2 0.05 --json
    statfield sample relu --sigma-w2 1.5 --sigma-b2 0.1 --width 100 --depth 20 --n-samples 2000 --json
    statfield validate --list
    statfield validate --quick                        # exit status 1 when a check fails

Conventions (every command): ``W_ij ~ N(0, sigma_w2/N_{l-1})`` (fan-in), ``b_i ~ N(0, sigma_b2)``,
``q = |z|^2/N``, ``K^1 = sigma_b2 + sigma_w2 x.x'/d_in`` (arXiv:1710.06570; physics.md section 1).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

__all__ = ["main", "build_parser"]


def _finite_or_none(x):
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


# --------------------------------------------------------------------------- derive
def _cmd_derive(args):
    from .symbolic.catalog import DERIVATIONS, build_derivation

    if args.list or not args.name:
        width = max(len(n) for n in DERIVATIONS)
        for name, (_, desc) in DERIVATIONS.items():
            print(f"{name:<{width}}  {desc}")
        return 0
    from pathlib import Path

    from .symbolic.derivation import pdflatex_available

    names = list(DERIVATIONS) if args.name == ["all"] else args.name
    out = Path(args.out)
    for name in names:
        if name not in DERIVATIONS:
            print(f"error: unknown derivation {name!r}; see 'statfield derive --list'", file=sys.stderr)
            return 2
        d = build_derivation(name)
        pdf = False if args.no_pdf else None
        tex = d.write(out / f"{name}.tex", pdf=pdf)
        made = [str(tex)]
        if tex.with_suffix(".pdf").exists() and pdf is None and pdflatex_available():
            made.append(str(tex.with_suffix(".pdf")))
        print("wrote " + ", ".join(made))
    return 0


# --------------------------------------------------------------------------- meanfield
def meanfield_summary(activation, sigma_w2, sigma_b2) -> dict:
    """All single-network mean-field numbers, with the reason wherever a quantity does not exist.

    Keys: ``q_star, chi1, chi_q, c_star, chi_c, xi_q, xi_c, phase, critical_sigma_w2`` (and
    ``notes``: why a value is missing, e.g. no finite fixed point of a linear/ReLU network with
    ``chi1 >= 1``). Poole et al. 2016 (arXiv:1606.05340) and Schoenholz et al. 2017 (arXiv:1611.01232).
    """
    from . import meanfield as mf

    out = {"activation": str(activation), "sigma_w2": float(sigma_w2), "sigma_b2": float(sigma_b2)}
    notes = {}

    def get(key, fn, *a):
        try:
            val = fn(*a)
        except ValueError as exc:
            notes[key] = str(exc)
            return None
        return val

    out["q_star"] = _finite_or_none(get("q_star", mf.q_star, activation, sigma_w2, sigma_b2))
    out["chi1"] = _finite_or_none(get("chi1", mf.chi1, activation, sigma_w2, sigma_b2))
    out["chi_q"] = _finite_or_none(get("chi_q", mf.chi_q, activation, sigma_w2, sigma_b2))
    out["c_star"] = _finite_or_none(get("c_star", mf.c_star, activation, sigma_w2, sigma_b2))
    out["chi_c"] = _finite_or_none(get("chi_c", mf.chi_c, activation, sigma_w2, sigma_b2))
    xis = get("depth_scales", mf.depth_scales, activation, sigma_w2, sigma_b2)
    xis = xis if xis is not None else (None, None)
    out["xi_q"], out["xi_c"] = (_finite_or_none(x) if x is not None else None for x in xis)
    if xis[1] is not None and _finite_or_none(xis[1]) is None:
        notes.setdefault("xi_c", "infinite (critical: chi = 1)")
    chi1 = out["chi1"]
    if chi1 is None:
        out["phase"] = None
    elif abs(chi1 - 1.0) <= 1e-9:
        out["phase"] = "critical"
    else:
        out["phase"] = "ordered" if chi1 < 1.0 else "chaotic"
    out["critical_sigma_w2"] = _finite_or_none(get("critical_sigma_w2", mf.critical_sigma_w2, activation, sigma_b2))
    out["notes"] = notes
    return out


def _cmd_meanfield(args):
    from ._checks import check_nonnegative, check_positive

    try:
        check_positive(args.sigma_w2, "sigma_w2")
        check_nonnegative(args.sigma_b2, "sigma_b2")
        res = meanfield_summary(args.activation, args.sigma_w2, args.sigma_b2)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(res, indent=2))
        return 0
    labels = [("q_star", "q*  (fixed point of the q-map)"), ("chi1", "chi_1 (slope of the c-map at c = 1)"),
              ("chi_q", "chi_q (slope of the q-map at q*)"), ("c_star", "c*  (fixed point of the c-map)"),
              ("chi_c", "chi_c (slope of the c-map at c*)"), ("xi_q", "xi_q = -1/ln chi_q"),
              ("xi_c", "xi_c = -1/ln chi_c"), ("phase", "phase"),
              ("critical_sigma_w2", f"critical sigma_w2 at sigma_b2 = {args.sigma_b2:g}")]
    print(f"mean field for {args.activation}, sigma_w2 = {args.sigma_w2:g}, sigma_b2 = {args.sigma_b2:g} "
          f"(fan-in W ~ N(0, sigma_w2/N), q = |z|^2/N)")
    for key, lab in labels:
        v = res[key]
        txt = v if isinstance(v, str) else ("-" if v is None else f"{v:.10g}")
        if v is None and key in res["notes"]:
            txt += f"   ({res['notes'][key]})"
        print(f"  {lab:<44} {txt}")
    return 0


# --------------------------------------------------------------------------- sample
def _result_dict(result):
    js = result.to_json()
    return json.loads(js) if isinstance(js, str) else js


def _cmd_sample(args):
    import statfield

    kw = dict(method=args.method, backend=args.backend, seed=args.seed)
    if args.inputs is not None:
        try:
            kw["inputs"] = _load_inputs(args.inputs)
        except (OSError, ValueError) as exc:
            print(f"error: --inputs: {exc}", file=sys.stderr)
            return 2
    if args.method != "mcmc":
        kw["progress"] = (not args.json) and sys.stderr.isatty()  # tqdm bar on long interactive runs
    try:
        res = statfield.simulate(args.activation, args.sigma_w2, args.sigma_b2, args.width, args.depth,
                                 args.n_samples, **kw)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    d = _result_dict(res)
    if args.json:
        print(json.dumps(d, indent=2))
        return 0
    print(f"{args.activation}: sigma_w2 = {args.sigma_w2:g}, sigma_b2 = {args.sigma_b2:g}, width {args.width}, "
          f"depth {args.depth}, {args.n_samples} samples, method {args.method}, seed {args.seed}")
    est = getattr(res, "estimates", {})
    for name, per_layer in est.items():
        try:
            items = list(per_layer)
        except TypeError:
            continue
        if not items or not hasattr(items[0], "value"):
            continue
        print(f"  {name}:")
        show = list(range(len(items)))
        if len(show) > 12:
            show = show[:5] + show[-5:]
        for i in show:
            e = items[i]
            if np.ndim(e.value) == 0:
                print(f"    layer {i + 1:>4}: {e.value:.6g} ± {e.stderr:.2g}")
            else:  # P x P Gram / G matrices of several inputs
                val = np.array2string(np.asarray(e.value), precision=5, separator=", ", prefix=" " * 16)
                err = np.array2string(np.asarray(e.stderr), separator=", ", prefix=" " * 16,
                                      formatter={"float_kind": lambda x: f"{x:.2g}"})
                print(f"    layer {i + 1:>4}: {val}\n          stderr: {err}")
    return 0


def _load_inputs(path):
    """Read a P x d_in input matrix: ``.npy`` with ``allow_pickle=False``, otherwise ``np.loadtxt``."""
    path = Path(path)
    X = np.load(path, allow_pickle=False) if path.suffix == ".npy" else np.loadtxt(path, ndmin=2)
    X = np.asarray(X, dtype=float)
    if X.ndim == 1:
        X = X[None, :]
    if X.ndim != 2 or not np.all(np.isfinite(X)):
        raise ValueError(f"{path} must hold a finite P x d_in matrix, got shape {X.shape}")
    return X


# --------------------------------------------------------------------------- validate
def _progress(names, enabled=True):
    """A tqdm progress bar over the check names (stderr); returns (callback, close)."""
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency
        return (lambda name: None), (lambda: None)
    bar = tqdm(total=len(names), desc="checks", unit="check", file=sys.stderr, disable=not enabled, leave=False)
    state = {"started": False}

    def cb(name):
        if state["started"]:
            bar.update(1)
        state["started"] = True
        bar.set_postfix_str(name)

    def close():
        if state["started"]:
            bar.update(1)
        bar.close()

    return cb, close


def _cmd_validate(args):
    from pathlib import Path

    from .validation.core import available_checks, run_checks

    names = available_checks()
    if args.list:
        from .validation.core import CHECKS

        width = max((len(n) for n in names), default=10)
        for n in names:
            print(f"{n:<{width}}  [{CHECKS[n].group}] {CHECKS[n].description}")
        return 0
    sel = args.checks or names
    unknown = [n for n in sel if n not in names]
    if unknown:
        print(f"error: unknown check(s) {unknown}; see 'statfield validate --list'", file=sys.stderr)
        return 2
    profile = "full" if args.full else "quick"
    cb, close = _progress(sel, enabled=not args.no_progress)
    figdir = Path(args.out) if args.out else None
    try:
        records, summary = run_checks(sel, profile=profile, seed=args.seed, outdir=figdir, progress=cb)
    finally:
        close()
    if args.out:
        from .report import write_json

        write_json(Path(args.out) / "results.json", {"records": [r.to_dict() for r in records], "summary": summary})
    if args.json:
        print(json.dumps({"records": [r.to_dict() for r in records], "summary": summary}, indent=2))
    else:
        for r in records:
            print(r.line())
        print()
        print(f"{summary['n_checks']} checks, {summary['n_failed']} failed, {summary['n_skipped']} skipped; "
              f"{summary['n_published']} published coefficients compared "
              f"({summary['n_published_consistent']} consistent with the data)")
        print(summary["multiple_comparisons"])
        print(f"profile {profile}, seed {args.seed}, {summary['runtime_total']:.1f} s")
        for f in summary["failures"]:
            print("FAILED: " + f)
    return 1 if summary["n_failed"] else 0


# --------------------------------------------------------------------------- report
def _cmd_report(args):
    from .report import make_report

    profile = "full" if args.full else "quick"
    res = make_report(args.out, profile=profile, seed=args.seed, pdf=False if args.no_pdf else None,
                      progress=not args.no_progress)
    print(res.summary_text)
    return 0 if res.ok else 1


# --------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="statfield",
        description="Statistical field theory of random neural networks: derivations, mean field, "
                    "exact Monte Carlo and their validation (arXiv:1710.06570).",
        epilog="Conventions: W ~ N(0, sigma_w2/N_{l-1}) (fan-in), b ~ N(0, sigma_b2), q = |z|^2/N.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    d = sub.add_parser("derive", help="write a derivation as LaTeX (PDF when pdflatex is present)",
                       description="Build a derivation from the catalogue and write NAME.tex (and NAME.pdf "
                                   "when pdflatex is installed). 'all' builds every one.")
    d.add_argument("name", nargs="*", help="derivation name(s) (see --list), or 'all'")
    d.add_argument("--list", action="store_true", help="list the catalogue and exit")
    d.add_argument("--out", default="derivations-out", help="output folder (default: ./derivations-out)")
    d.add_argument("--no-pdf", action="store_true", help="write .tex only")
    d.set_defaults(fn=_cmd_derive)

    m = sub.add_parser("meanfield", help="mean-field numbers: q*, chi_1, chi_q, c*, chi_c, xi's, phase",
                       description="Mean-field signal propagation (Poole 2016, Schoenholz 2017) for one "
                                   "activation at (sigma_w2, sigma_b2).")
    m.add_argument("activation", help="linear, relu, leaky_relu[_a], tanh, erf, gelu, silu")
    m.add_argument("--sigma-w2", type=float, required=True, help="weight variance (per fan-in)")
    m.add_argument("--sigma-b2", type=float, required=True, help="bias variance")
    m.add_argument("--json", action="store_true", help="print JSON")
    m.set_defaults(fn=_cmd_meanfield)

    s = sub.add_parser("sample", help="Monte Carlo of random networks (per-layer estimates with error bars)",
                       description="Sample random networks exactly (statfield.simulate) and print per-layer "
                                   "estimates; --json prints SimulationResult.to_json().")
    s.add_argument("activation")
    s.add_argument("--sigma-w2", type=float, required=True)
    s.add_argument("--sigma-b2", type=float, required=True)
    s.add_argument("--width", type=int, required=True)
    s.add_argument("--depth", type=int, required=True)
    s.add_argument("--n-samples", type=int, required=True, help="number of independent networks")
    s.add_argument("--method", default="auto", choices=["auto", "weights", "preactivation", "collective", "mcmc"])
    s.add_argument("--backend", default="numpy", help="numpy (default) or cupy")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--inputs", type=Path, default=None, metavar="FILE",
                   help="P x d_in input matrix as a text file (np.loadtxt) or .npy (never unpickled); "
                        "default: one input with |x|^2/d_in = 1")
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=_cmd_sample)

    v = sub.add_parser("validate", help="run the validation checks (theory vs Monte Carlo)",
                       description="Run theory-vs-MC checks. Exit status 1 when any check fails "
                                   "(published-coefficient comparisons are reported, never failures).")
    v.add_argument("checks", nargs="*", metavar="CHECK", help="check names (default: all; see --list)")
    g = v.add_mutually_exclusive_group()
    g.add_argument("--quick", action="store_true", help="quick CPU profile (default; ~1-2 min on 2 cores)")
    g.add_argument("--full", action="store_true", help="larger widths and samples")
    v.add_argument("--json", action="store_true", help="print records and summary as JSON")
    v.add_argument("--out", default=None, help="write figures and results.json into this folder")
    v.add_argument("--list", action="store_true", help="list the checks and exit")
    v.add_argument("--seed", type=int, default=0)
    v.add_argument("--no-progress", action="store_true", help="no progress bar")
    v.set_defaults(fn=_cmd_validate)

    r = sub.add_parser("report", help="the main job: derivations + validation + figures in one folder",
                       description="Write a LaTeX/PDF report (all derivations, validation tables, figures), "
                                   "the figures as PNG, results.json and summary.md into one folder.")
    r.add_argument("--out", default="statfield-report", help="output folder (default: ./statfield-report)")
    g = r.add_mutually_exclusive_group()
    g.add_argument("--quick", action="store_true", help="quick validation profile (default)")
    g.add_argument("--full", action="store_true", help="full validation profile")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--no-pdf", action="store_true", help="do not run pdflatex")
    r.add_argument("--no-progress", action="store_true")
    r.set_defaults(fn=_cmd_report)
    return p


def main(argv=None) -> int:
    """Entry point of the ``statfield`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.fn(args) or 0)
    except BrokenPipeError:  # e.g. `statfield sample ... | head`: stop quietly
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

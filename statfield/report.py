r"""``statfield report``: derivations, validation and figures in one folder.

:func:`make_report` writes into ``out`` (default ``./statfield-report``)

* ``report.tex`` (and ``report.pdf`` when pdflatex is present): the validation summary, one table
  per group of checks (prediction, MC estimate ± standard error, z-score, verdict), the figures, the
  comparison with the published SPS17 coefficients, and every derivation of the catalogue
  (:mod:`statfield.symbolic.catalog`) as an appendix;
* ``figures/*.png``: MC points with error bars over theory curves, and the phase diagram;
* ``derivations/NAME.tex``: each derivation on its own;
* ``results.json``: all records, the summary (threshold, number of comparisons, family-wise bound),
  derivation status, timings and package versions (written atomically, first after the checks and
  again at the end);
* ``summary.md``: a short summary readable in a terminal.

Everything runs with NumPy on the CPU. Conventions as everywhere in statfield: fan-in
:math:`W\sim N(0,\sigma_w^2/N)`, :math:`q=|z|^2/N`, :math:`K^1=\sigma_b^2+\sigma_w^2x\cdot x'/d_{in}`.
"""

from __future__ import annotations

import json
import math
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["make_report", "ReportResult", "write_json", "versions", "paper_rows", "summary_markdown"]


def _jsonable(obj):
    import numpy as np

    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, (np.floating, float)):
        v = float(obj)
        return v if math.isfinite(v) else None
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, (str, int, bool)) or obj is None:
        return obj
    if isinstance(obj, Path):
        return str(obj)
    return str(obj)


def write_json(path, obj) -> Path:
    """Write ``obj`` as JSON atomically (temporary file + ``os.replace``); non-finite floats -> null."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(_jsonable(obj), indent=2), encoding="utf-8")
    os.replace(tmp, path)
    return path


def _write_text(path, text):
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


def versions() -> dict:
    """Versions of Python, the platform and the scientific stack (for results.json)."""
    import importlib.metadata as md

    out = {"python": sys.version.split()[0], "platform": platform.platform(), "machine": platform.machine(),
           "cpu_count": os.cpu_count()}
    for pkg in ("statfield", "numpy", "scipy", "sympy", "mpmath", "matplotlib"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = None
    import shutil

    out["pdflatex"] = shutil.which("pdflatex")
    return out


@dataclass
class ReportResult:
    """What :func:`make_report` produced."""

    out: Path
    ok: bool
    summary: dict
    files: dict = field(default_factory=dict)
    summary_text: str = ""


# --------------------------------------------------------------------------- tables
def _tex(s) -> str:
    rep = {"&": r"\&", "%": r"\%", "#": r"\#", "_": r"\_", "$": r"\$", "{": r"\{", "}": r"\}",
           "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}"}
    return "".join(rep.get(ch, ch) for ch in str(s))


def _num(x, fmt=".5g"):
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "--"
    return format(float(x), fmt)


def _fmtv(x):
    if x is None:
        return "undefined"
    if isinstance(x, bool):
        return "yes" if x else "no"
    return _num(x)


def paper_rows(records) -> list[dict]:
    """The comparison with the published coefficients: one row per published record.

    Each row: quantity, published value, statfield's value, MC estimate ± stderr, and the z-scores
    of both predictions against MC (``|z| < threshold``: the data supports that value).
    """
    rows = []
    for r in records:
        if r.kind != "published" or r.skipped:
            continue
        ours = r.params.get("ours")
        z_ours = (r.estimate - ours) / r.stderr if ours is not None and r.stderr > 0 else None
        rows.append({"quantity": r.params.get("quantity", r.name), "source": r.params.get("source", ""),
                     "published": r.prediction, "statfield": ours, "mc": r.estimate, "mc_stderr": r.stderr,
                     "z_published": r.z, "z_statfield": z_ours, "threshold": r.threshold,
                     "verdict": r.params.get("verdict") or _verdict(r.z, z_ours, r.threshold)})
    return rows


def _verdict(z_pub, z_ours, t):
    pub_ok = z_pub is not None and math.isfinite(z_pub) and abs(z_pub) < t
    ours_ok = z_ours is not None and math.isfinite(z_ours) and abs(z_ours) < t
    if pub_ok and ours_ok:
        return "both consistent"
    if ours_ok:
        return f"published excluded ({abs(z_pub):.0f} sigma)" if z_pub is not None and math.isfinite(z_pub) \
            else "published excluded"
    if pub_ok:
        return "published supported, statfield excluded"
    return "neither consistent"


def _records_table(records):
    header = ["check", "prediction", r"MC $\pm$ s.e.", "$z$", "verdict"]
    rows = []
    for r in records:
        if r.skipped:
            rows.append([_tex(r.name), "--", "--", "--", "skipped"])
            continue
        rows.append([_tex(r.name), _num(r.prediction), f"{_num(r.estimate)} $\\pm$ {_num(r.stderr, '.2g')}",
                     _num(r.z, '+.2f'), r.status])
    return header, rows


def summary_markdown(records, summary, derivation_status, files, runtime, profile, theory_rows=()) -> str:
    """The terminal-readable summary (Markdown)."""
    lines = ["# statfield report", ""]
    ok = summary["n_failed"] == 0 and not any(s["status"] == "error" for s in derivation_status.values())
    if not ok:
        verdict = "FAILURES (see below)"
    elif summary.get("n_skipped", 0):
        verdict = f"ALL CHECKS THAT RAN PASSED ({summary['n_skipped']} skipped: see below)"
    else:
        verdict = "ALL CHECKS PASSED"
    lines += [f"**{verdict}** - {summary['n_checks']} theory-vs-Monte-Carlo comparisons, "
              f"{summary['n_failed']} failed, {summary['n_skipped']} skipped "
              f"(profile `{profile}`, seed {summary['seed']}, {runtime:.0f} s).", "",
              f"Multiple comparisons: {summary['multiple_comparisons']}.", ""]
    lines += ["## What was checked", "", "| group | comparisons | failed | skipped |", "|---|---:|---:|---:|"]
    for g, c in summary["groups"].items():
        lines.append(f"| {g} | {c['n'] - c['published']} | {c['failed']} | {c['skipped']} |")
    lines.append("")
    if summary["failures"]:
        lines += ["## Failures", ""] + [f"- {f}" for f in summary["failures"]] + [""]
    if summary["skipped"]:
        lines += ["## Skipped", ""] + [f"- {s}" for s in summary["skipped"]] + [""]
    prows = paper_rows(records)
    if prows:
        lines += ["## Published SPS17 coefficients against Monte Carlo", "",
                  "Reported, not counted as failures. z = (MC - value)/s.e.", "",
                  "| quantity | published | statfield | MC ± s.e. | z (published) | z (statfield) | verdict |",
                  "|---|---:|---:|---:|---:|---:|---|"]
        for r in prows:
            lines.append(f"| {r['quantity']} | {_num(r['published'])} | {_num(r['statfield'])} | "
                         f"{_num(r['mc'])} ± {_num(r['mc_stderr'], '.2g')} | {_num(r['z_published'], '+.1f')} | "
                         f"{_num(r['z_statfield'], '+.1f')} | {r['verdict']} |")
        lines.append("")
    if theory_rows:
        lines += ["Invariants of the quadratic forms themselves (theory against theory, from "
                  "`statfield.symbolic.compare`; not measurable by MC):", "",
                  "| activation | invariant | published | statfield | agree |", "|---|---|---:|---:|---|"]
        for r in theory_rows:
            lines.append(f"| {r['activation']} | {r['invariant']} | {_fmtv(r['published'])} | {_fmtv(r['ours'])} | "
                         f"{'yes' if r['agree'] else 'no'} |")
        lines.append("")
    lines += ["## Derivations", ""]
    for name, st in derivation_status.items():
        extra = f" ({st['seconds']:.1f} s)" if st.get("seconds") is not None else ""
        lines.append(f"- `{name}`: {st['status']}{extra}" + (f" - {st['error']}" if st.get("error") else ""))
    lines += ["", "## Files", ""] + [f"- `{k}`: {v}" for k, v in files.items()] + [""]
    return "\n".join(lines)


# --------------------------------------------------------------------------- report
def _phase_diagram_figure(figdir):
    """Order-chaos phase diagram of tanh (chi_1 and xi_c over the (sigma_w2, sigma_b2) plane)."""
    import numpy as np

    from . import meanfield as mf

    sw = np.linspace(0.5, 4.0, 120)
    sb = np.linspace(0.0, 0.5, 100)
    pd = mf.phase_diagram("tanh", sw, sb)
    path = Path(figdir) / "phase_diagram_tanh.png"
    res = pd.plot(path)
    return path if path.exists() else Path(res)


def make_report(out="statfield-report", profile="quick", seed=0, pdf=None, progress=True, checks=None,
                derivations=None) -> ReportResult:
    """Run the validation checks and the derivation catalogue; write the report folder.

    Parameters
    ----------
    out : path-like
        Output folder (created).
    profile : {"quick", "full"}
        Validation profile (quick: about a minute on 2 CPU cores).
    seed : int
        Base seed of the checks.
    pdf : bool or None
        ``None`` compiles ``report.pdf`` when pdflatex exists; ``False`` never; ``True`` requires it.
    checks, derivations : list of str, optional
        Subsets (default: every registered check, every catalogue derivation).

    Returns
    -------
    ReportResult
        ``ok`` is False when a check failed, a derivation raised, or LaTeX failed to compile.
    """
    from .symbolic.catalog import DERIVATIONS, build_derivation
    from .symbolic.derivation import Derivation, pdflatex_available
    from .validation.core import CHECKS, available_checks, run_checks

    t_start = time.perf_counter()
    out = Path(out)
    figdir = out / "figures"
    dervdir = out / "derivations"
    figdir.mkdir(parents=True, exist_ok=True)
    dervdir.mkdir(parents=True, exist_ok=True)
    timings = {}

    # 1. validation
    names = list(checks) if checks else available_checks()
    try:
        from tqdm import tqdm

        bar = tqdm(total=len(names), desc="validation", unit="check", file=sys.stderr, disable=not progress,
                   leave=False)
    except ImportError:  # pragma: no cover
        bar = None
    seen = []

    def cb(name):
        if bar is not None:
            if seen:
                bar.update(1)
            bar.set_postfix_str(name)
        seen.append(name)

    t0 = time.perf_counter()
    records, summary = run_checks(names, profile=profile, seed=seed, outdir=figdir, progress=cb)
    if bar is not None:
        bar.update(1)
        bar.close()
    timings["validation"] = time.perf_counter() - t0
    vers = versions()
    write_json(out / "results.json", {"records": [r.to_dict() for r in records], "summary": summary,
                                      "versions": vers, "complete": False})

    # 1b. theory-only invariants of the published EFTs (not measurable by MC: masses, critical point, ...)
    theory_rows = []
    try:
        from .symbolic.compare import comparison_table
        from .validation.checks_paper import PAPER_PARAMS, _keys

        measured = {(a, k) for a in ("linear", "relu") for k in _keys(a)} | {("relu", "corr_triple_sign")}
        theory_rows = [r for r in comparison_table(*PAPER_PARAMS)["rows"]
                       if (r["activation"], r["invariant"]) not in measured]
    except Exception as exc:  # noqa: BLE001 - reported, not fatal
        summary.setdefault("report_errors", []).append(f"comparison table: {type(exc).__name__}: {exc}")

    # 2. phase diagram
    extra_figs = {}
    t0 = time.perf_counter()
    try:
        _phase_diagram_figure(figdir)
        extra_figs["phase_diagram_tanh.png"] = (r"Mean-field phase diagram of $\tanh$: the order--chaos line "
                                                r"$\chi_1 = 1$ and the depth scale $\xi_c$ (Schoenholz et al. 2017).")
    except Exception as exc:  # noqa: BLE001 - a missing figure is reported, not fatal
        extra_figs["phase_diagram_tanh.png"] = None
        summary.setdefault("report_errors", []).append(f"phase diagram: {type(exc).__name__}: {exc}")
    timings["phase_diagram"] = time.perf_counter() - t0

    # 3. derivations
    derv_status, built = {}, {}
    dnames = list(derivations) if derivations else list(DERIVATIONS)
    it = dnames
    try:
        from tqdm import tqdm

        it = tqdm(dnames, desc="derivations", unit="doc", file=sys.stderr, disable=not progress, leave=False)
    except ImportError:  # pragma: no cover
        pass
    for name in it:
        t0 = time.perf_counter()
        try:
            d = build_derivation(name)
            d.write(dervdir / f"{name}.tex", pdf=False)
            built[name] = d
            derv_status[name] = {"status": "ok", "seconds": time.perf_counter() - t0,
                                 "tex": f"derivations/{name}.tex"}
        except ImportError as exc:
            derv_status[name] = {"status": "unavailable", "error": f"{type(exc).__name__}: {exc}",
                                 "seconds": time.perf_counter() - t0}
        except Exception as exc:  # noqa: BLE001
            derv_status[name] = {"status": "error", "error": f"{type(exc).__name__}: {exc}",
                                 "seconds": time.perf_counter() - t0}
    timings["derivations"] = sum(s["seconds"] for s in derv_status.values())

    # 4. the LaTeX report
    t0 = time.perf_counter()
    rep = Derivation(
        "statfield report: the field theory of random networks against Monte Carlo",
        abstract=(r"Every statement of the theory (mean-field fixed points, exact finite-width identities, the "
                  r"quadratic effective field theory and its correlation lengths, NNGP kernels) is put against "
                  r"an exact Monte Carlo estimate with a standard error; a comparison passes when "
                  rf"$|z| < {summary['threshold']:g}$. The derivations follow as appendices."))
    fails = summary["failures"]
    rep.step("Summary",
             rf"{summary['n_checks']} comparisons of statfield's theory with Monte Carlo: "
             rf"{summary['n_passed']} passed, {summary['n_failed']} failed, {summary['n_skipped']} skipped "
             rf"(profile \texttt{{{profile}}}, seed {seed}). " + _tex(summary["multiple_comparisons"]) + ". "
             rf"{summary['n_published']} coefficients quoted for SPS17 were compared with the same data and "
             r"are reported, not counted (Section on published coefficients). "
             + (r"\textbf{Failures:} " + "; ".join(_tex(f) for f in fails) + "." if fails else "")
             + rf" Software: statfield {_tex(vers.get('statfield'))}, NumPy {_tex(vers.get('numpy'))}, "
               rf"SymPy {_tex(vers.get('sympy'))}, Python {_tex(vers.get('python'))}.")
    groups = {}
    for r in records:
        groups.setdefault(r.group or "other", []).append(r)
    rep.table("Validation at a glance: comparisons per group (published coefficients are reported, not counted).",
              ["group", "checks", "comparisons", "passed", "failed", "skipped", "published (consistent)"],
              [[_tex(g), str(len({r.check for r in recs})), str(sum(r.kind == "test" and not r.skipped for r in recs)),
                str(sum(r.kind == "test" and r.passed and not r.skipped for r in recs)), str(sum(r.failed for r in recs)),
                str(sum(r.skipped for r in recs)),
                f"{sum(r.kind == 'published' for r in recs)} ({sum(r.kind == 'published' and r.passed for r in recs)})"]
               for g, recs in groups.items()], raw=True)
    fig_captions = {}
    for r in records:
        if r.figure and r.figure not in fig_captions:
            desc = CHECKS[r.check].description if r.check in CHECKS else r.description
            fig_captions[r.figure] = f"{r.check or r.name}: {desc}"
    group_titles = {"meanfield": "Mean field and NNGP kernels", "eft": "Quadratic EFT: lagged correlators and "
                    "correlation lengths", "samplers": "Exact finite-width identities", "paper": "Published "
                    "coefficients (SPS17, as quoted)", "finite_width": "Finite width: four-point vertex and kurtosis"}
    new_page = []  # sections that start on a new page (so that their tables stay with their figures)
    for g, recs in groups.items():
        header, rows = _records_table(recs)
        figs = []
        for f in dict.fromkeys(r.figure for r in recs if r.figure):
            if (figdir / f).exists():
                figs.append(r"\begin{center}\includegraphics[width=0.92\linewidth,height=0.3\textheight,"
                            r"keepaspectratio]{figures/" + f + r"}\\[2pt]{\small " + _tex(fig_captions[f]) +
                            r"}\end{center}")
        text = (f"{len(recs)} records. " + ("Records of kind \\emph{published} compare a quoted coefficient with "
                "the data and are not counted as failures." if any(r.kind == "published" for r in recs) else ""))
        rep.step(group_titles.get(g, _tex(g)), text + "\n\n" + "\n\n".join(figs))
        new_page.append(group_titles.get(g, _tex(g)))
        rep.table(_tex(f"Validation records of group '{g}'."), header, rows, raw=True)
    prows = paper_rows(records)
    if prows:
        rep.step("Published coefficients against Monte Carlo",
                 r"Each published coefficient and statfield's value for it are compared with the same MC "
                 r"estimate; $z=(\mathrm{MC}-\mathrm{value})/\mathrm{s.e.}$")
        rep.table("The coefficients quoted for SPS17 (talk notes) and statfield's derivation, against MC.",
                  ["quantity", "published", "statfield", r"MC $\pm$ s.e.", "$z_{\\rm pub}$", "$z_{\\rm ours}$",
                   "verdict"],
                  [[_tex(r["quantity"]), _num(r["published"]), _num(r["statfield"]),
                    f"{_num(r['mc'])} $\\pm$ {_num(r['mc_stderr'], '.2g')}", _num(r["z_published"], "+.1f"),
                    _num(r["z_statfield"], "+.1f"), _tex(r["verdict"])] for r in prows], raw=True)
    other = [f for f, cap in extra_figs.items() if cap and (figdir / f).exists()]
    if other:
        rep.step("Mean-field phase diagram", "\n\n".join(
            r"\begin{center}\includegraphics[width=0.8\linewidth]{figures/" + f + r"}\\[2pt]{\small "
            + extra_figs[f] + r"}\end{center}" for f in other))
    rep.step("Derivations", "The appendices reproduce every derivation of the catalogue: " + ", ".join(
        rf"\texttt{{{_tex(n)}}} ({_tex(s['status'])})" for n, s in derv_status.items()) + ".")
    tex = rep.to_latex()
    for title in new_page + ["Published coefficients against Monte Carlo", "Mean-field phase diagram"]:
        tex = tex.replace(rf"\subsection*{{{title}}}", rf"\clearpage\subsection*{{{title}}}", 1)
    appendix = "\n".join(r"\clearpage" + "\n" + d.body_latex() for d in built.values())
    tex = tex.replace(r"\end{document}", appendix + "\n" + r"\end{document}")
    tex_path = _write_text(out / "report.tex", tex)
    pdf_path, latex_error = None, None
    if pdf or (pdf is None and pdflatex_available()):
        from .symbolic.derivation import compile_pdf

        try:
            pdf_path = compile_pdf(tex_path, runs=1)
        except Exception as exc:  # noqa: BLE001 - reported in the summary and the exit status
            latex_error = str(exc)
            if pdf:
                raise
    timings["latex"] = time.perf_counter() - t0

    runtime = time.perf_counter() - t_start
    files = {"report": str(pdf_path.name if pdf_path else tex_path.name), "tex": tex_path.name,
             "results": "results.json", "summary": "summary.md", "figures": "figures/ "
             f"({len(list(figdir.glob('*.png')))} PNG)", "derivations": "derivations/"}
    if latex_error:
        lines = latex_error.splitlines()
        bang = [i for i, ln in enumerate(lines) if ln.startswith("!")]
        detail = " ".join(lines[bang[0]:bang[0] + 3]) if bang else " ".join(lines[-3:])
        summary.setdefault("report_errors", []).append(f"LaTeX ({tex_path.name}): {detail}")
    derv_bad = [n for n, s in derv_status.items() if s["status"] == "error"]
    ok = summary["n_failed"] == 0 and not derv_bad and latex_error is None
    summary_md = summary_markdown(records, summary, derv_status, files, runtime, profile, theory_rows)
    if summary.get("report_errors"):
        summary_md += "\n## Report errors\n\n" + "\n".join(f"- {e}" for e in summary["report_errors"]) + "\n"
    _write_text(out / "summary.md", summary_md)
    timings["total"] = runtime
    write_json(out / "results.json", {"records": [r.to_dict() for r in records], "summary": summary,
                                      "derivations": derv_status, "versions": vers, "timings": timings,
                                      "paper_comparison": paper_rows(records), "paper_theory_only": theory_rows,
                                      "complete": True, "ok": ok})
    return ReportResult(out=out, ok=ok, summary=summary, files=files, summary_text=summary_md)

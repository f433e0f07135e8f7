r"""``statfield report``: derivations, validation and figures in one folder.

:func:`make_report` writes into ``out`` (default ``./statfield-report``)

* ``report.tex`` (and ``report.pdf`` when pdflatex is present): the validation summary with the distribution
  of the z-scores, one table per group of checks (prediction, MC estimate ± standard error, z-score, verdict),
  the figures (overlays with pull panels, captions in LaTeX math), the comparison with the published SPS17
  coefficients, and every derivation of the catalogue (:mod:`statfield.symbolic.catalog`) as an appendix;
* ``figures/*.png``: MC points with error bars over theory curves, pulls, and the phase diagram;
* ``derivations/NAME.tex``: each derivation on its own;
* ``results.json``: ``schema_version``, all records, the summary (threshold, number of comparisons,
  family-wise bound, z distribution, per-check rows), derivation status, timings and package versions
  (written atomically, first after the checks and again at the end; read back with
  :func:`statfield.validation.core.load_results`);
* ``summary.md``: a short summary readable in a terminal, with a per-check table.

It runs in three stages: *run* (:mod:`._collect`: checks, derivations, figures) → *build* (:func:`build_latex`,
:func:`summary_markdown`: pure functions of the collected data) → *write* (:func:`write_report`). Everything
runs with NumPy on the CPU. Conventions as everywhere in statfield (``docs/conventions.md``): fan-in
:math:`W\sim N(0,\sigma_w^2/N)`, :math:`q=|z|^2/N`, :math:`K^1=\sigma_b^2+\sigma_w^2x\cdot x'/d_{in}`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from ._collect import (ReportData, build_derivations, group_pull_figures, phase_diagram_figure, run_validation,
                       theory_only_rows, versions)
from ._latex import build_latex
from ._markdown import paper_rows, summary_markdown

__all__ = ["make_report", "ReportResult", "ReportData", "versions", "paper_rows", "summary_markdown", "build_latex",
           "write_report"]


@dataclass
class ReportResult:
    """What :func:`make_report` produced.

    ``ok`` is False when a check failed or the report is incomplete; ``errors`` lists what made it incomplete
    (a derivation that raised, LaTeX that did not compile).
    """

    out: Path
    ok: bool
    summary: dict
    files: dict = field(default_factory=dict)
    summary_text: str = ""
    errors: list = field(default_factory=list)


def _results_doc(data: ReportData, complete: bool, ok=None) -> dict:
    from ..validation.core import results_document

    extra = {"versions": data.versions, "complete": complete}
    if complete:
        extra.update(derivations=data.derivations, timings=data.timings, paper_comparison=paper_rows(data.records),
                     paper_theory_only=data.theory_rows, ok=ok)
    return results_document(data.records, data.summary, **extra)


def _latex_error_line(text: str) -> str:
    lines = text.splitlines()
    bang = [i for i, ln in enumerate(lines) if ln.startswith("!")]
    return " ".join(lines[bang[0]:bang[0] + 3]) if bang else " ".join(lines[-3:])


def write_report(data: ReportData, tex: str, pdf=None, t_start=None) -> ReportResult:
    """Write ``report.tex`` (compile ``report.pdf``), ``summary.md`` and the final ``results.json``."""
    from .._io import atomic_write_text, write_json
    from ..symbolic.derivation import compile_pdf, pdflatex_available

    out = data.out
    t0 = time.perf_counter()
    tex_path = atomic_write_text(out / "report.tex", tex)
    pdf_path, errors = None, []
    if pdf or (pdf is None and pdflatex_available()):
        try:
            pdf_path = compile_pdf(tex_path, runs=1)
        except Exception as exc:  # noqa: BLE001 - reported in the summary and the exit status
            if pdf:
                raise
            errors.append(f"LaTeX ({tex_path.name}): {_latex_error_line(str(exc))}")
    data.timings["latex"] = time.perf_counter() - t0
    errors += [f"derivation {n}: {st['error']}" for n, st in data.derivations.items() if st["status"] == "error"]
    if errors:
        data.summary.setdefault("report_errors", []).extend(e for e in errors if not e.startswith("derivation "))
    runtime = time.perf_counter() - (t_start if t_start is not None else t0)
    data.timings["total"] = runtime
    files = {"report": str(pdf_path.name if pdf_path else tex_path.name), "tex": tex_path.name,
             "results": "results.json", "summary": "summary.md",
             "figures": f"figures/ ({len(list(data.figdir.glob('*.png')))} PNG)", "derivations": "derivations/"}
    ok = data.summary["n_failed"] == 0 and not errors
    md = summary_markdown(data.records, data.summary, data.derivations, files, runtime, data.profile, data.theory_rows)
    atomic_write_text(out / "summary.md", md)
    write_json(out / "results.json", _results_doc(data, complete=True, ok=ok))
    return ReportResult(out=out, ok=ok, summary=data.summary, files=files, summary_text=md, errors=errors)


def make_report(out="statfield-report", profile="quick", seed=0, pdf=None, progress=True, checks=None,
                derivations=None) -> ReportResult:
    """Run the validation checks and the derivation catalogue; write the report folder.

    Parameters
    ----------
    out : path-like
        Output folder (created).
    profile : {"quick", "full"}
        Validation profile (quick: about a minute on 2 CPU cores).
    seed : int >= 0
        Base seed of the checks.
    pdf : bool or None
        ``None`` compiles ``report.pdf`` when pdflatex exists; ``False`` never; ``True`` requires it.
    progress : bool
        Progress bars on stderr.
    checks, derivations : list of str, optional
        Subsets (default: every registered check, every catalogue derivation).

    Returns
    -------
    ReportResult
        ``ok`` is False when a check failed, a derivation raised, or LaTeX failed to compile.

    Raises
    ------
    ValueError
        Unknown profile or check name, or a negative seed (before anything is written).
    """
    from .._io import write_json

    t_start = time.perf_counter()
    out = Path(out)
    # run
    data = run_validation(out, profile, seed, progress, checks)
    write_json(out / "results.json", _results_doc(data, complete=False))
    theory_only_rows(data)
    phase_diagram_figure(data)
    group_pull_figures(data)
    build_derivations(data, derivations, progress)
    # build
    tex = build_latex(data)
    # write
    return write_report(data, tex, pdf, t_start)

"""Stage 1 of the report: run the checks, the theory-only comparison, the phase diagram and the derivations.

Nothing here writes the report documents; :func:`collect` returns a :class:`ReportData` that the LaTeX and
Markdown builders turn into text.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ReportData", "versions", "run_validation", "theory_only_rows", "phase_diagram_figure",
           "group_pull_figures", "build_derivations", "PHASE_DIAGRAM_CAPTION", "GROUP_PULLS_CAPTION"]

PHASE_DIAGRAM_CAPTION = (r"Mean-field phase diagram of $\tanh$: the depth scale $\xi_c=-1/\ln\chi_c$ over the "
                         r"$(\sigma_w^2,\sigma_b^2)$ plane and the order--chaos line $\chi_1=1$ "
                         r"(Schoenholz et al.\ 2017, arXiv:1611.01232).")
GROUP_PULLS_CAPTION = (r"Pulls $z=(\mathrm{{MC}}-\mathrm{{theory}})/\sigma$ of the records of group \texttt{{{group}}} "
                       r"whose checks draw no figure of their own (error bars $\pm1$; grey band $|z|<2$; dashed: the pass threshold $|z|=5$).")


@dataclass
class ReportData:
    """Everything the report documents are built from (the output of the *run* stage)."""

    out: Path
    profile: str
    seed: int
    records: list
    summary: dict
    versions: dict
    theory_rows: list = field(default_factory=list)
    derivations: dict = field(default_factory=dict)  # name -> {"status", "seconds", "tex" | "error"}
    built: dict = field(default_factory=dict)  # name -> Derivation (status "ok")
    figures: dict = field(default_factory=dict)  # extra figures: file name -> LaTeX caption
    group_figures: dict = field(default_factory=dict)  # group -> pull chart of its records without a figure
    timings: dict = field(default_factory=dict)

    @property
    def figdir(self) -> Path:
        return self.out / "figures"

    def error(self, what: str, exc: BaseException) -> None:
        """Record a non-fatal problem of the report itself (shown in summary.md and results.json)."""
        self.summary.setdefault("report_errors", []).append(f"{what}: {type(exc).__name__}: {exc}")


def versions() -> dict:
    """Versions of Python, the platform and the scientific stack (for results.json)."""
    import importlib.metadata as md
    import shutil

    out = {"python": sys.version.split()[0], "platform": platform.platform(), "machine": platform.machine(),
           "cpu_count": os.cpu_count()}
    for pkg in ("statfield", "numpy", "scipy", "sympy", "mpmath", "matplotlib"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = None
    out["pdflatex"] = shutil.which("pdflatex")
    return out


def run_validation(out, profile, seed, progress, checks=None) -> ReportData:
    """Run the validation checks (figures into ``out/figures``); the start of a :class:`ReportData`."""
    from ..validation.core import available_checks, run_checks

    out = Path(out)
    names = list(checks) if checks else available_checks()
    t0 = time.perf_counter()
    records, summary = run_checks(names, profile=profile, seed=seed, outdir=out / "figures", progress=progress)
    return ReportData(out=out, profile=profile, seed=seed, records=records, summary=summary, versions=versions(),
                      timings={"validation": time.perf_counter() - t0})


def theory_only_rows(data: ReportData) -> None:
    """Invariants of the published EFTs that MC cannot measure (masses, critical point, ...), theory vs theory."""
    try:
        from ..symbolic.compare import comparison_table
        from ..validation.checks_paper import PAPER_PARAMS, _keys

        measured = {(a, k) for a in ("linear", "relu") for k in _keys(a)} | {("relu", "corr_triple_sign")}
        data.theory_rows = [r for r in comparison_table(*PAPER_PARAMS)["rows"]
                            if (r["activation"], r["invariant"]) not in measured]
    except Exception as exc:  # noqa: BLE001 - reported, not fatal
        data.error("comparison table", exc)


def phase_diagram_figure(data: ReportData) -> None:
    """The tanh phase diagram (:meth:`statfield.meanfield.PhaseDiagram.plot` on a figure of our own)."""
    import numpy as np
    from matplotlib.figure import Figure

    from .. import meanfield as mf
    from ..validation.plots import save_figure

    t0 = time.perf_counter()
    name = "phase_diagram_tanh.png"
    try:
        pd = mf.phase_diagram("tanh", np.linspace(0.5, 4.0, 120), np.linspace(0.0, 0.5, 100))
        fig = Figure(figsize=(6, 4.5), layout="constrained")
        pd.plot(ax=fig.add_subplot())
        save_figure(fig, data.figdir / name)
        data.figures[name] = PHASE_DIAGRAM_CAPTION
    except Exception as exc:  # noqa: BLE001 - a missing figure is reported, not fatal
        data.error("phase diagram", exc)
    data.timings["phase_diagram"] = time.perf_counter() - t0


def _pull_chart(records, title):
    """A :class:`matplotlib.figure.Figure` of the z-scores of ``records`` (error bars 1, band |z| < 2, threshold
    lines); few records are labelled one by one, many records by check (blocks separated by vertical lines)."""
    import numpy as np
    from matplotlib.figure import Figure

    n = len(records)
    zs = np.array([r.z for r in records])
    x = np.arange(n)
    t = max((r.threshold for r in records), default=5.0)
    fig = Figure(figsize=(min(12.0, max(5.5, 0.1 * n + 3.0)), 3.6), layout="constrained")
    ax = fig.add_subplot()
    ax.axhspan(-2.0, 2.0, color="0.88", zorder=0, lw=0)
    for v in (-t, t):
        ax.axhline(v, color="C3", lw=0.8, ls="--")
    ax.axhline(0.0, color="0.3", lw=0.8)
    ax.errorbar(x, zs, yerr=np.ones(n), fmt="o", ms=3.5, capsize=2, color="C1", zorder=3)
    lim = max(t + 1.0, 1.15 * float(np.nanmax(np.abs(zs))) + 1.0)
    ax.set_ylim(-lim, lim)
    ax.set_xlim(-0.7, n - 0.3)
    ax.set_ylabel(r"$(\mathrm{MC}-\mathrm{theory})/\sigma$")
    ax.set_title(title, fontsize=10)
    if n <= 25:
        ax.set_xticks(x)
        ax.set_xticklabels([r.name.split("/", 1)[1] if "/" in r.name else r.name for r in records], rotation=40,
                           ha="right", fontsize=7)
    else:
        checks = [r.check or r.name.split("/")[0] for r in records]
        starts = [i for i in range(n) if i == 0 or checks[i] != checks[i - 1]]
        ends = starts[1:] + [n]
        for a in starts[1:]:
            ax.axvline(a - 0.5, color="0.6", lw=0.6)
        ax.set_xticks([(a + b - 1) / 2 for a, b in zip(starts, ends)])
        ax.set_xticklabels([checks[a] for a in starts], rotation=30, ha="right", fontsize=7)
    ax.grid(alpha=0.25, axis="y")
    return fig


def group_pull_figures(data: ReportData) -> None:
    """For each group, a pull chart of its test records that have no figure of their own (so that every section
    of the report shows its comparisons); file ``figures/pulls_<group>.png``."""
    import math

    from ..validation.plots import save_figure

    t0 = time.perf_counter()
    groups = {}
    for r in data.records:
        if not r.figure and not r.skipped and math.isfinite(r.z):
            groups.setdefault(r.group or "other", []).append(r)
    for g, recs in groups.items():
        try:
            fig = _pull_chart(recs, f"group {g}: z-scores of the records without a figure of their own")
            data.group_figures[g] = save_figure(fig, data.figdir / f"pulls_{g}.png")
        except Exception as exc:  # noqa: BLE001 - a missing figure is reported, not fatal
            data.error(f"pull figure of group {g}", exc)
    data.timings["group_pull_figures"] = time.perf_counter() - t0


def build_derivations(data: ReportData, names=None, progress=True) -> None:
    """Build the catalogue derivations and write ``derivations/NAME.tex``; status per derivation."""
    from .._progress import progress_iter
    from ..symbolic.catalog import DERIVATIONS, build_derivation

    dervdir = data.out / "derivations"
    names = list(names) if names else list(DERIVATIONS)
    for name in progress_iter(names, desc="derivations", unit="doc", enabled=progress):
        t0 = time.perf_counter()
        try:
            d = build_derivation(name)
            d.write(dervdir / f"{name}.tex", pdf=False)
            data.built[name] = d
            data.derivations[name] = {"status": "ok", "seconds": time.perf_counter() - t0,
                                      "tex": f"derivations/{name}.tex"}
        except Exception as exc:  # noqa: BLE001 - recorded; the report is then incomplete
            data.derivations[name] = {"status": "error", "error": f"{type(exc).__name__}: {exc}",
                                      "seconds": time.perf_counter() - t0}
    data.timings["derivations"] = sum(s["seconds"] for s in data.derivations.values())

r"""A derivation as ordered steps (prose + equations + tables) rendered to standalone LaTeX.

Every statfield derivation is a :class:`Derivation`: a title, the conventions it uses (always
stated in the document), and an ordered list of steps. Equations are SymPy objects (rendered
with :func:`sympy.latex`) or raw LaTeX strings. Wide displays are set inside
``adjustbox{max width=\linewidth}`` so that long SymPy output never floods pdflatex with
overfull boxes.

This module is SymPy-only (it never imports the array side).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import sympy as sp

__all__ = ["Derivation", "Step", "CONVENTIONS", "LATEX_NAMES", "latex", "pdflatex_available", "compile_pdf"]

CONVENTIONS = (
    r"Network $z^{1} = W^{1}x + b^{1}$, $z^{l} = W^{l}\phi(z^{l-1}) + b^{l}$ for $l\ge 2$, widths $N_l$ "
    r"(all equal to $N$ unless stated). Standard (fan-in) parameterisation: "
    r"$W^{l}_{ij}\sim\mathcal N(0,\sigma_w^2/N_{l-1})$ with $N_0=d_{\mathrm{in}}$, $b^{l}_i\sim\mathcal N(0,\sigma_b^2)$; "
    r"hence $K^{1}(x,x') = \sigma_b^2 + \sigma_w^2\,x\cdot x'/d_{\mathrm{in}}$. "
    r"Single-input order parameter $q^{l} = |z^{l}|^2/N$ (per-unit second moment); for ReLU also "
    r"$u=|z^{l}_+|^2/N$, $v=|z^{l}_-|^2/N$ and the number $k$ of positive units. "
    r"Source of the field theory: Schoenholz, Pennington, Sohl-Dickstein, arXiv:1710.06570 (SPS17)."
)


#: Python-identifier symbol names (``sigma_w2``) -> their physics notation in LaTeX. SymPy prints
#: ``Symbol("sigma_w2")`` as ``\sigma_{w2}``; the braces keep powers such as ``sigma_w2**2`` valid.
LATEX_NAMES = {
    r"\sigma_{w2}": r"{\sigma_{w}^{2}}",
    r"\sigma_{b2}": r"{\sigma_{b}^{2}}",
    r"q_{star}": r"{q^{*}}",
    r"d_{in}": r"d_{\mathrm{in}}",
}


def _sympy_latex(obj) -> str:
    out = sp.latex(obj)
    for old, new in LATEX_NAMES.items():
        out = out.replace(old, new)
    return out


def latex(obj) -> str:
    r"""LaTeX for a SymPy object, a ``(lhs, rhs)`` pair, or a raw LaTeX string.

    SymPy output goes through :data:`LATEX_NAMES` (``sigma_w2`` -> :math:`\sigma_w^2`).
    """
    if isinstance(obj, str):
        return obj
    if isinstance(obj, tuple) and len(obj) == 2:
        return f"{latex(obj[0])} = {latex(obj[1])}"
    if isinstance(obj, sp.Equality):
        return f"{_sympy_latex(obj.lhs)} = {_sympy_latex(obj.rhs)}"
    return _sympy_latex(obj)


_ESCAPE = {"&": r"\&", "%": r"\%", "#": r"\#", "_": r"\_"}


def _escape_text(s: str) -> str:
    return "".join(_ESCAPE.get(ch, ch) for ch in str(s))


@dataclass
class Step:
    """One step of a derivation: a title, LaTeX prose, displayed equations and optional tables."""

    title: str
    text: str = ""
    equations: list = field(default_factory=list)
    tables: list = field(default_factory=list)
    approximation: str | None = None

    def to_latex(self) -> str:
        out = [rf"\subsection*{{{self.title}}}"]
        if self.approximation:
            out.append(rf"\noindent\textbf{{Approximation (named step): {self.approximation}.}}\par")
        if self.text:
            out.append(self.text)
        for eq in self.equations:
            out.append(
                "\\[\n\\adjustbox{max width=\\linewidth}{$\\displaystyle " + latex(eq) + "$}\n\\]"
            )
        for tab in self.tables:
            out.append(_table_latex(**tab))
        return "\n\n".join(out)


def _table_latex(caption, header, rows, raw=False):
    ncol = len(header)
    fmt = lambda c: c if raw else _escape_text(c)  # noqa: E731
    lines = [
        r"\begin{table}[h]\centering\small",
        r"\adjustbox{max width=\linewidth}{%",
        r"\begin{tabular}{" + "l" * ncol + "}",
        r"\toprule",
        " & ".join(fmt(h) for h in header) + r" \\",
        r"\midrule",
    ]
    for row in rows:
        lines.append(" & ".join(fmt(str(c)) for c in row) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}}", rf"\caption{{{_escape_text(caption) if not raw else caption}}}", r"\end{table}"]
    return "\n".join(lines)


class Derivation:
    r"""An ordered derivation that renders to a standalone LaTeX document.

    Parameters
    ----------
    title : str
        Document title.
    conventions : str, optional
        LaTeX paragraph stating the conventions; defaults to :data:`CONVENTIONS`
        (fan-in :math:`\sigma_w^2/N`, :math:`q = |z|^2/N`, SPS17 as source). Always printed.
    abstract : str, optional
        One paragraph of LaTeX placed before the steps.

    Examples
    --------
    >>> import sympy as sp
    >>> d = Derivation("Example")
    >>> x = sp.Symbol("x")
    >>> _ = d.step("Square", "We square.", [(sp.Symbol("y"), x**2)])
    >>> "\\documentclass" in d.to_latex()
    True
    """

    def __init__(self, title: str, conventions: str | None = None, abstract: str | None = None):
        self.title = title
        self.conventions = CONVENTIONS if conventions is None else conventions
        self.abstract = abstract
        self.steps: list[Step] = []
        self.results: dict = {}

    def step(self, title, text="", equations=(), tables=(), approximation=None) -> "Derivation":
        """Append a step. ``equations``: SymPy objects, ``(lhs, rhs)`` pairs or LaTeX strings."""
        self.steps.append(Step(title, text, list(equations), list(tables), approximation))
        return self

    def table(self, caption, header, rows, raw=False) -> "Derivation":
        """Append a table to the last step (a new untitled step if there is none)."""
        if not self.steps:
            self.step("Table")
        self.steps[-1].tables.append({"caption": caption, "header": list(header), "rows": [list(r) for r in rows], "raw": raw})
        return self

    def extend(self, other: "Derivation") -> "Derivation":
        """Append the steps of another derivation (used to assemble reports)."""
        self.steps.extend(other.steps)
        self.results.update(other.results)
        return self

    def body_latex(self) -> str:
        parts = [rf"\section*{{{_escape_text(self.title)}}}"]
        if self.abstract:
            parts.append(self.abstract)
        parts.append(r"\paragraph{Conventions.} " + self.conventions)
        parts += [s.to_latex() for s in self.steps]
        return "\n\n".join(parts)

    def to_latex(self) -> str:
        """A standalone document (article, amsmath) that compiles with pdflatex."""
        return "\n".join([
            r"\documentclass[11pt]{article}",
            r"\usepackage[a4paper,margin=2.2cm]{geometry}",
            r"\usepackage{amsmath,amssymb}",
            r"\usepackage{booktabs}",
            r"\usepackage{adjustbox}",
            r"\usepackage{graphicx}",
            r"\usepackage[T1]{fontenc}",
            r"\allowdisplaybreaks",
            r"\emergencystretch=2em",
            rf"\title{{{_escape_text(self.title)}}}",
            r"\author{statfield}",
            r"\date{}",
            r"\begin{document}",
            r"\maketitle",
            self.body_latex().replace(rf"\section*{{{_escape_text(self.title)}}}", "", 1),
            r"\end{document}",
            "",
        ])

    def write(self, path, pdf: bool | None = None) -> Path:
        """Write ``path`` (.tex) atomically; compile a PDF beside it when pdflatex is present.

        ``pdf=None`` compiles when pdflatex is found, ``True`` requires it, ``False`` skips it.
        Returns the path of the .tex file.
        """
        path = Path(path)
        if path.suffix != ".tex":
            path = path.with_suffix(".tex")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tex.tmp")
        tmp.write_text(self.to_latex(), encoding="utf-8")
        os.replace(tmp, path)
        if pdf or (pdf is None and pdflatex_available()):
            compile_pdf(path)
        return path


def pdflatex_available() -> bool:
    return shutil.which("pdflatex") is not None


def compile_pdf(tex_path, runs: int = 1) -> Path:
    """Compile ``tex_path`` with pdflatex in a scratch folder; raise with the log tail on error."""
    tex_path = Path(tex_path).resolve()
    if not pdflatex_available():
        raise RuntimeError("pdflatex not found: install TeX Live (texlive-latex-extra) to build PDFs")
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(runs):
            proc = subprocess.run(
                ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", f"-output-directory={tmp}", str(tex_path)],
                cwd=tex_path.parent, capture_output=True, text=True, timeout=300,
            )
            if proc.returncode != 0:
                tail = "\n".join(proc.stdout.splitlines()[-30:])
                raise RuntimeError(f"pdflatex failed on {tex_path.name}:\n{tail}")
        pdf = Path(tmp) / (tex_path.stem + ".pdf")
        log = (Path(tmp) / (tex_path.stem + ".log")).read_text(errors="replace")
        dest = tex_path.with_suffix(".pdf")
        shutil.copyfile(pdf, dest)
        tex_path.with_suffix(".log").write_text(log)
    return dest

r"""A derivation as ordered steps (prose + equations + tables) rendered to standalone LaTeX.

Every statfield derivation is a :class:`Derivation`: a title, the conventions it uses (always
stated in the document), and an ordered list of steps. Equations are SymPy objects (rendered
with :class:`~statfield.symbolic.printing.PhysicsLatexPrinter`) or raw LaTeX strings; long sums
are broken into lines at their top-level terms. :meth:`Derivation.to_latex` gives a standalone
document, ``to_latex(fragment=True)`` a fragment for a plain ``article`` without extra packages,
and :meth:`Derivation.equations` the displayed equations alone.

This module imports SymPy and the shared atomic-write helper only (never the numeric theory modules).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import sympy as sp

from .._io import atomic_write_text
from .printing import FRAGMENT_PREAMBLE, latex_expr
from .symbols import LATEX_NAMES as _SYMBOL_LATEX

__all__ = ["Derivation", "Step", "CONVENTIONS", "LATEX_NAMES", "latex", "pdflatex_available", "compile_pdf",
           "FRAGMENT_PREAMBLE"]

CONVENTIONS = (
    r"Network $z^{1} = W^{1}x + b^{1}$, $z^{l} = W^{l}\phi(z^{l-1}) + b^{l}$ for $l\ge 2$, widths $N_l$ "
    r"(all equal to $N$ unless stated). Standard (fan-in) parameterisation: "
    r"$W^{l}_{ij}\sim\mathcal N(0,\sigma_w^2/N_{l-1})$ with $N_0=d_{\mathrm{in}}$, $b^{l}_i\sim\mathcal N(0,\sigma_b^2)$; "
    r"hence $K^{1}(x,x') = \sigma_b^2 + \sigma_w^2\,x\cdot x'/d_{\mathrm{in}}$. "
    r"Single-input order parameter $q^{l} = |z^{l}|^2/N$ (per-unit second moment); for ReLU also "
    r"$u=|z^{l}_+|^2/N$, $v=|z^{l}_-|^2/N$ and the number $k$ of positive units; the lattice momentum "
    r"conjugate to the layer index is $p$. "
    r"Source of the field theory: Schoenholz, Pennington, Sohl-Dickstein, arXiv:1710.06570 (SPS17)."
)


#: Symbol -> LaTeX names used by :func:`latex` (the single table of
#: :data:`statfield.symbolic.symbols.LATEX_NAMES`; kept under this name for compatibility).
LATEX_NAMES = _SYMBOL_LATEX

#: Printer settings shared by every rendering: matrices as ``array`` (core LaTeX, no amsmath).
_PRINT_SETTINGS = {"mat_str": "array", "mat_delim": "["}
#: Displays whose visible width exceeds this many characters are broken at top-level ``+``/``-``.
_MAX_LINE = 95


def _visible_len(tex: str) -> int:
    """Rough printed width of a LaTeX math string (commands and braces do not print)."""
    t = re.sub(r"\\(left|right|frac|dfrac|tfrac|operatorname|mathrm|sqrt)\b", "", tex)
    t = re.sub(r"\\[a-zA-Z]+", "x", t)
    return len(re.sub(r"[{}^_\s]", "", t))


def _sympy_latex(obj, names=None) -> str:
    return latex_expr(obj, names, **_PRINT_SETTINGS)


def _split_sum(expr, names=None, first_prefix=""):
    """Lines of a long Add, broken only between top-level terms (brackets never span lines)."""
    terms = sp.Add.make_args(expr) if isinstance(expr, sp.Add) else (expr,)
    if len(terms) < 2:
        return None
    ordered = list(sp.Add(*terms, evaluate=False).as_ordered_terms()) if isinstance(expr, sp.Add) else list(terms)
    lines, cur = [], first_prefix
    for i, t in enumerate(ordered):
        neg = t.could_extract_minus_sign()
        body = _sympy_latex(-t if neg else t, names)
        if isinstance(-t if neg else t, sp.Add):
            body = r"\left(" + body + r"\right)"
        piece = ("- " if neg else ("" if i == 0 else "+ ")) + body
        if cur.strip() and _visible_len(cur + piece) > _MAX_LINE:
            lines.append(cur)
            cur = r"\quad " + piece
        else:
            cur = (cur + " " + piece) if cur else piece
    lines.append(cur)
    return lines if len(lines) > 1 else None


def latex(obj, names=None) -> str:
    r"""LaTeX for a SymPy object, a ``(lhs, rhs)`` pair, or a raw LaTeX string.

    SymPy output goes through :class:`~statfield.symbolic.printing.PhysicsLatexPrinter`
    (``sigma_w2`` -> :math:`\sigma_w^2`, ``sigma_w2**2`` -> :math:`\sigma_w^4`, ``digamma`` ->
    :math:`\psi`); ``names`` adds or overrides ``{Symbol: latex}`` entries. A long sum on the
    right-hand side is broken into lines of an ``array`` at its top-level terms.
    """
    if isinstance(obj, str):
        return obj
    if isinstance(obj, sp.Equality):
        obj = (obj.lhs, obj.rhs)
    if isinstance(obj, tuple) and len(obj) == 2:
        lhs = latex(obj[0], names)
        rhs = obj[1]
        if isinstance(rhs, sp.Basic) and not isinstance(rhs, sp.MatrixBase):
            full = _sympy_latex(rhs, names)
            if _visible_len(lhs + full) > _MAX_LINE:
                lines = _split_sum(rhs, names, first_prefix="")
                if lines:
                    return (r"\begin{array}{l}" + lhs + " = " + lines[0] + r" \\ "
                            + r" \\ ".join(lines[1:]) + r"\end{array}")
            return f"{lhs} = {full}"
        return f"{lhs} = {latex(rhs, names)}"
    if isinstance(obj, sp.Basic) and not isinstance(obj, sp.MatrixBase):
        full = _sympy_latex(obj, names)
        if _visible_len(full) > _MAX_LINE:
            lines = _split_sum(obj, names)
            if lines:
                return r"\begin{array}{l}" + r" \\ ".join(lines) + r"\end{array}"
        return full
    return _sympy_latex(obj, names)


_ESCAPE = {"&": r"\&", "%": r"\%", "#": r"\#", "_": r"\_"}


def _escape_text(s: str) -> str:
    return "".join(_ESCAPE.get(ch, ch) for ch in str(s))


@dataclass
class Step:
    """One step of a derivation: a title, LaTeX prose, displayed equations, prose after them, tables."""

    title: str
    text: str = ""
    equations: list = field(default_factory=list)
    tables: list = field(default_factory=list)
    approximation: str | None = None
    after: str = ""

    def equation_latex(self, names=None) -> list:
        """The displayed equations of this step as LaTeX math strings (no delimiters)."""
        return [latex(eq, names) for eq in self.equations]

    def to_latex(self, names=None, fragment=False) -> str:
        out = [rf"\subsection*{{{self.title}}}"]
        if self.approximation:
            out.append(rf"\noindent\textbf{{Approximation (named step): {self.approximation}.}}\par")
        if self.text:
            out.append(self.text)
        for eq in self.equation_latex(names):
            if fragment:
                out.append("\\[\n" + eq + "\n\\]")
            else:
                out.append("\\[\n\\adjustbox{max width=\\linewidth}{$\\displaystyle " + eq + "$}\n\\]")
        if self.after:
            out.append(self.after)
        for tab in self.tables:
            out.append(_table_latex(**tab, fragment=fragment))
        # a display continues the paragraph of the prose that introduces it (no blank line before it)
        return "\n".join(out)


_TEXT_WIDTH_PT = 440.0  # a little under the text width of the standalone document (and of a plain article)


def _cell_width_pt(cell: str, raw: bool) -> float:
    """Rough printed width of a table cell in points (10--11 pt fonts, 6 pt column padding each side)."""
    text = _visible_len(cell) if raw else len(str(cell))
    return 5.5 * text + 12.0


def _column_chunks(header, rows, raw):
    """Split the columns into chunks that fit the text width; every chunk repeats the first column."""
    widths = [max(_cell_width_pt(str(c), raw) for c in [h] + [r[j] for r in rows])
              for j, h in enumerate(header)]
    chunks, cur, used = [], [0], widths[0]
    for j in range(1, len(header)):
        if len(cur) > 1 and used + widths[j] > _TEXT_WIDTH_PT:
            chunks.append(cur)
            cur, used = [0], widths[0]
        cur.append(j)
        used += widths[j]
    chunks.append(cur)
    return chunks


def _table_latex(caption, header, rows, raw=False, fragment=False):
    r"""A ``table`` float at the normal font size: never shrunk to fit. Tables wider than the text are
    split into several tables (same caption with "(part i of n)", the first column repeated)."""
    chunks = _column_chunks(header, rows, raw)
    if len(chunks) > 1:
        return "\n".join(_table_latex(f"{caption} (part {i + 1} of {len(chunks)})", [header[j] for j in cols],
                                      [[r[j] for j in cols] for r in rows], raw, fragment)
                         for i, cols in enumerate(chunks))
    ncol = len(header)
    fmt = lambda c: c if raw else _escape_text(c)  # noqa: E731
    top, mid, bot = (r"\hline", r"\hline", r"\hline") if fragment else (r"\toprule", r"\midrule", r"\bottomrule")
    lines = [
        r"\begin{table}[h]\centering",
        r"\begin{tabular}{" + "l" * ncol + "}",
        top,
        " & ".join(fmt(h) for h in header) + r" \\",
        mid,
    ]
    for row in rows:
        lines.append(" & ".join(fmt(str(c)) for c in row) + r" \\")
    lines += [bot, r"\end{tabular}", rf"\caption{{{_escape_text(caption) if not raw else caption}}}", r"\end{table}"]
    return "\n".join(lines)


class Derivation:
    r"""An ordered derivation that renders to a standalone LaTeX document or to a fragment.

    Parameters
    ----------
    title : str
        Document title.
    conventions : str, optional
        LaTeX paragraph stating the conventions; defaults to :data:`CONVENTIONS`
        (fan-in :math:`\sigma_w^2/N`, :math:`q = |z|^2/N`, SPS17 as source). Always printed.
    abstract : str, optional
        One paragraph of LaTeX placed before the steps.
    symbol_names : dict, optional
        ``{Symbol: latex}`` overrides for this document (e.g. ``{N: "n"}`` where the width is
        written :math:`n`, as in PDLT); the symbols themselves are those of
        :mod:`statfield.symbolic.symbols`.

    Notes
    -----
    Two public renderings:

    * :meth:`to_latex` -- a standalone document (amsmath, booktabs, adjustbox) for pdflatex;
    * :meth:`to_latex` with ``fragment=True`` -- the body only (sections, prose, displays with
      ``\[ \]``, ``tabular`` tables with ``\hline``), preceded by ``\providecommand`` fallbacks
      (:data:`FRAGMENT_PREAMBLE`), so that it compiles when pasted (or ``\input``) into a plain
      ``\documentclass{article}`` without extra packages;
    * :meth:`equations` -- the displayed equations alone, as LaTeX math strings.

    Examples
    --------
    >>> import sympy as sp
    >>> d = Derivation("Example")
    >>> x = sp.Symbol("x")
    >>> _ = d.step("Square", "We square:", [(sp.Symbol("y"), x**2)])
    >>> "\\documentclass" in d.to_latex()
    True
    >>> d.equations()
    ['y = x^{2}']
    """

    def __init__(self, title: str, conventions: str | None = None, abstract: str | None = None,
                 symbol_names: dict | None = None):
        self.title = title
        self.conventions = CONVENTIONS if conventions is None else conventions
        self.abstract = abstract
        self.symbol_names = dict(symbol_names or {})
        self.steps: list[Step] = []
        self.results: dict = {}

    def step(self, title, text="", equations=(), tables=(), approximation=None, after="") -> "Derivation":
        """Append a step.

        ``text`` introduces the displayed ``equations`` (SymPy objects, ``(lhs, rhs)`` pairs or LaTeX
        strings); ``after`` is prose printed after them (it continues the same paragraph).
        """
        self.steps.append(Step(title, text, list(equations), list(tables), approximation, after))
        return self

    def table(self, caption, header, rows, raw=False) -> "Derivation":
        """Append a table to the last step (a new untitled step if there is none).

        With ``raw=False`` cells are text (``&``, ``%``, ``#``, ``_`` escaped); ``raw=True`` for LaTeX cells.
        """
        if not self.steps:
            self.step("Table")
        self.steps[-1].tables.append({"caption": caption, "header": list(header), "rows": [list(r) for r in rows], "raw": raw})
        return self

    def extend(self, other: "Derivation") -> "Derivation":
        """Append the steps of another derivation (used to assemble reports)."""
        self.steps.extend(other.steps)
        self.results.update(other.results)
        return self

    def equations(self) -> list:
        """Every displayed equation, in order, as a LaTeX math string (no ``\\[ \\]``)."""
        return [eq for s in self.steps for eq in s.equation_latex(self.symbol_names)]

    def body_latex(self, fragment: bool = False) -> str:
        parts = [rf"\section*{{{_escape_text(self.title)}}}"]
        if self.abstract:
            parts.append(self.abstract)
        parts.append(r"\paragraph{Conventions.} " + self.conventions)
        parts += [s.to_latex(self.symbol_names, fragment=fragment) for s in self.steps]
        return "\n\n".join(parts)

    def to_latex(self, fragment: bool = False) -> str:
        """A standalone document (article, amsmath) that compiles with pdflatex.

        ``fragment=True``: the body only, for a plain ``article`` without extra packages (see the
        class notes).
        """
        if fragment:
            return "\n".join(["% statfield derivation fragment: paste or input it in the body of any LaTeX article",
                              FRAGMENT_PREAMBLE, self.body_latex(fragment=True), ""])
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
        atomic_write_text(path, self.to_latex())
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

"""The Derivation class: LaTeX rendering, tables, named approximations, writing and pdflatex compilation."""

import re
import shutil

import pytest
import sympy as sp

from statfield.symbolic.derivation import CONVENTIONS, Derivation, compile_pdf, latex

HAVE_PDFLATEX = shutil.which("pdflatex") is not None
NO_PDFLATEX = "pdflatex not installed (install texlive-latex-extra); the .tex is still checked"


def _overfull(log_text):
    return [float(x) for x in re.findall(r"Overfull \\hbox \((\d+\.?\d*)pt too wide\)", log_text)]


def test_latex_of_objects_pairs_equalities_and_strings():
    x, y = sp.symbols("x y")
    sw2 = sp.Symbol("sigma_w2", positive=True)
    assert latex((y, x**2)) == "y = x^{2}"
    assert latex(sp.Eq(y, x)) == "y = x"
    assert latex(r"\alpha") == r"\alpha"
    # python-identifier names are printed in physics notation
    assert latex(sw2**2) == r"\sigma_w^{4}"  # powers of sigma_w^2 as a physicist writes them
    assert latex(sp.Symbol("d_in")) == r"d_{\mathrm{in}}"


def test_document_structure_conventions_steps_tables():
    d = Derivation("A test_derivation & more", abstract="An abstract.")
    x = sp.Symbol("x")
    d.step("First", "Some prose.", [(sp.Symbol("y"), x**2), r"\int_0^1 x\,dx = \tfrac12"])
    d.step("Approximate", "We approximate.", [sp.Eq(x, 1)], approximation=r"large $N$")
    d.table("caption with 5% and _", ["a_b", "c"], [[1, "x&y"]])
    d.table("raw", ["$a$"], [["$b_1$"]], raw=True)
    tex = d.to_latex()
    assert tex.startswith(r"\documentclass") and tex.rstrip().endswith(r"\end{document}")
    assert r"\title{A test\_derivation \& more}" in tex
    assert CONVENTIONS in tex and "An abstract." in tex
    assert tex.index("First") < tex.index("Approximate")
    assert r"Approximation (named step): large $N$." in tex
    assert r"caption with 5\% and \_" in tex and r"a\_b" in tex and r"x\&y" in tex
    assert "$b_1$" in tex
    assert tex.count(r"\adjustbox{max width=\linewidth}") == 3  # three equations; tables are never shrunk
    # table() on an empty derivation opens a step; extend() appends steps and results
    e = Derivation("E").table("t", ["h"], [["v"]])
    e.results["k"] = 1
    assert len(e.steps) == 1 and e.steps[0].tables
    d.extend(e)
    assert d.steps[-1] is e.steps[0] and d.results["k"] == 1


def test_custom_conventions_and_body():
    d = Derivation("T", conventions="My conventions.")
    assert "My conventions." in d.body_latex() and CONVENTIONS not in d.to_latex()


def test_write_tex_without_pdf(tmp_path):
    d = Derivation("W").step("S", "text", [sp.Symbol("a")])
    p = d.write(tmp_path / "sub" / "w", pdf=False)
    assert p.suffix == ".tex" and p.read_text() == d.to_latex()
    assert not p.with_suffix(".pdf").exists() and not list(tmp_path.rglob("*.tmp"))


@pytest.mark.skipif(not HAVE_PDFLATEX, reason=NO_PDFLATEX)
def test_wide_equations_compile_without_overfull_boxes(tmp_path):
    x = sp.Symbol("x")
    wide = sp.Add(*[sp.Symbol(f"a_{k}") * x**k for k in range(60)])
    d = Derivation("Wide").step("Wide", "A very long polynomial.", [(sp.Symbol("P"), wide)])
    d.table("wide table", [f"column {k}" for k in range(14)], [[f"entry {k}" for k in range(14)]])
    pdf = d.write(tmp_path / "wide.tex", pdf=True).with_suffix(".pdf")
    assert pdf.read_bytes()[:5] == b"%PDF-"
    assert _overfull(pdf.with_suffix(".log").read_text(errors="replace")) == []


@pytest.mark.skipif(not HAVE_PDFLATEX, reason=NO_PDFLATEX)
def test_compile_error_is_reported(tmp_path):
    d = Derivation("Broken").step("S", r"\undefinedcommandxyz")
    tex = d.write(tmp_path / "broken.tex", pdf=False)
    with pytest.raises(RuntimeError, match="pdflatex failed"):
        compile_pdf(tex)


@pytest.mark.skipif(not HAVE_PDFLATEX, reason=NO_PDFLATEX)
@pytest.mark.parametrize("which", ["action", "general_phi"])
def test_action_and_general_derivations_compile_cleanly(which, tmp_path):
    if which == "action":
        from statfield.symbolic.action import action_derivation

        d = action_derivation(check_cases=((2, 1),))
    else:
        from statfield.symbolic.general import general_derivation

        d = general_derivation("erf", points=((1.5, 0.05),))
    pdf = d.write(tmp_path / f"{which}.tex", pdf=True).with_suffix(".pdf")
    log = pdf.with_suffix(".log").read_text(errors="replace")
    assert pdf.read_bytes()[:5] == b"%PDF-" and "! " not in log
    assert _overfull(log) == [], f"overfull boxes in {which}.tex"

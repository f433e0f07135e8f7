"""Every derivation of the catalogue builds, writes standalone LaTeX and a fragment, and both compile.

The standalone document compiles with its own preamble; the fragment (``to_latex(fragment=True)``)
compiles inside a plain ``\\documentclass{article}`` without any package. Both are checked for the
notation a physicist expects (no code identifiers, no ``polygamma``, powers of sigma_w^2 as such).
"""

import functools
import re
import shutil
import subprocess

import pytest

from statfield.symbolic.catalog import DERIVATIONS, build_derivation
from statfield.symbolic.derivation import compile_pdf

HAVE_PDFLATEX = shutil.which("pdflatex") is not None
NO_PDFLATEX = "pdflatex not installed: .tex written and checked, PDF compilation skipped"
BAD_NOTATION = (r"\sigma_{w2}", r"\sigma_{b2}", "polygamma", "loggamma", r"{\sigma_w^{2}}^", r"\operatorname{q",
                "textquotedbl")


@functools.lru_cache(maxsize=None)
def _built(name):
    return build_derivation(name)


def test_catalogue_is_complete():
    """DERIVATIONS parametrises the test below: an empty catalogue must fail, not skip silently."""
    assert set(DERIVATIONS) >= {"action", "general-phi", "linear-eft", "relu-eft", "paper-comparison", "finite-width"}


def _text_outside_math(cell):
    return re.sub(r"\$[^$]*\$", "", str(cell))


@pytest.mark.parametrize("name", list(DERIVATIONS))
def test_notation_and_tables(name):
    d = _built(name)
    tex = d.to_latex()
    for bad in BAD_NOTATION:
        assert bad not in tex, f"{name}: {bad!r} in the LaTeX"
    for step in d.steps:
        for tab in step.tables:
            cells = [tab["caption"]] + list(tab["header"]) + [c for row in tab["rows"] for c in row]
            code = [c for c in cells if "_" in _text_outside_math(c) or "sigma" in _text_outside_math(c)]
            assert not code, f"{name}: code identifiers in a table: {code[:3]}"
    tables = re.findall(r"\\begin\{table\}.*?\\end\{table\}", tex, flags=re.S)
    assert not any(r"\adjustbox" in t or r"\tiny" in t or r"\scriptsize" in t for t in tables), "tables never shrunk"


@pytest.mark.parametrize("name", list(DERIVATIONS))
def test_derivation_builds_and_compiles(name, tmp_path):
    d = _built(name)
    tex_path = d.write(tmp_path / f"{name}.tex", pdf=False)
    tex = tex_path.read_text(encoding="utf-8")
    assert tex.startswith(r"\documentclass") and r"\end{document}" in tex
    assert "Conventions" in tex and d.steps, "a derivation states its conventions and has steps"
    if not HAVE_PDFLATEX:
        pytest.skip(NO_PDFLATEX)
    pdf = compile_pdf(tex_path)  # raises with the log tail on any LaTeX error
    assert pdf.read_bytes()[:5] == b"%PDF-"
    log = tex_path.with_suffix(".log").read_text(errors="replace")
    assert "! " not in log
    bad = [float(x) for x in re.findall(r"Overfull \\hbox \((\d+\.?\d*)pt too wide\)", log)]
    assert sum(b > 20 for b in bad) <= 3, f"{name}: overfull-box flood: {sorted(bad)[-10:]}"


@pytest.mark.parametrize("name", list(DERIVATIONS))
def test_fragment_compiles_in_a_plain_article(name, tmp_path):
    d = _built(name)
    frag = d.to_latex(fragment=True)
    assert r"\documentclass" not in frag and r"\usepackage" not in frag and r"\begin{document}" not in frag
    assert d.equations() and all(eq in frag for eq in d.equations()[:3])
    (tmp_path / "frag.tex").write_text(frag, encoding="utf-8")
    main = tmp_path / "main.tex"
    main.write_text("\\documentclass{article}\n\\begin{document}\n\\input{frag}\n\\end{document}\n", encoding="utf-8")
    if not HAVE_PDFLATEX:
        pytest.skip(NO_PDFLATEX)
    proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", main.name],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{name}: fragment does not compile in a plain article:\n{proc.stdout[-3000:]}"
    assert (tmp_path / "main.pdf").read_bytes()[:5] == b"%PDF-"

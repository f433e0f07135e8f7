"""Every derivation of the catalogue builds, writes standalone LaTeX and compiles with pdflatex."""

import re
import shutil

import pytest

from statfield.symbolic.catalog import DERIVATIONS, build_derivation
from statfield.symbolic.derivation import compile_pdf

HAVE_PDFLATEX = shutil.which("pdflatex") is not None


def test_catalogue_is_complete():
    """DERIVATIONS parametrises the test below: an empty catalogue must fail, not skip silently."""
    assert set(DERIVATIONS) >= {"action", "general-phi", "linear-eft", "relu-eft", "paper-comparison", "finite-width"}


@pytest.mark.parametrize("name", list(DERIVATIONS))
def test_derivation_builds_and_compiles(name, tmp_path):
    d = build_derivation(name)
    tex_path = d.write(tmp_path / f"{name}.tex", pdf=False)
    tex = tex_path.read_text(encoding="utf-8")
    assert tex.startswith(r"\documentclass") and r"\end{document}" in tex
    assert "Conventions" in tex and d.steps, "a derivation states its conventions and has steps"
    if not HAVE_PDFLATEX:
        pytest.skip("pdflatex not installed: .tex written and checked, PDF compilation skipped")
    pdf = compile_pdf(tex_path)  # raises with the log tail on any LaTeX error
    assert pdf.read_bytes()[:5] == b"%PDF-"
    log = tex_path.with_suffix(".log").read_text(errors="replace")
    assert "! " not in log
    bad = [float(x) for x in re.findall(r"Overfull \\hbox \((\d+\.?\d*)pt too wide\)", log)]
    assert sum(b > 20 for b in bad) <= 3, f"{name}: overfull-box flood: {sorted(bad)[-10:]}"

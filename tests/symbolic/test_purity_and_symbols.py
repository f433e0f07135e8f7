"""The symbolic layer is pure (never imports the numeric theory modules) and has one set of symbols."""

import ast
import pathlib
import subprocess
import sys
import textwrap

import pytest
import sympy as sp

import statfield.symbolic as S
from statfield.symbolic import symbols as sym

PKG = pathlib.Path(S.__file__).parent
FORBIDDEN = ("statfield.meanfield", "statfield.finite_width", "statfield.sampling")
# the catalogue moved to the document layer; statfield.symbolic.catalog is its compatibility re-export
DOCUMENT_SHIM = "catalog.py"


def _absolute(module, level, current="statfield.symbolic"):
    if not level:
        return module or ""
    base = current.split(".")
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def _imports(path):
    """Every module named by an import statement anywhere in the file (also inside functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            mod = _absolute(node.module, node.level)
            out.append(mod)
            out += [f"{mod}.{a.name}" for a in node.names]  # from .. import meanfield
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            out += [node.value.split(":")[0]] if node.value.startswith("statfield.") else []
    return out


def test_ast_scan_finds_no_numeric_imports():
    files = sorted(PKG.glob("*.py"))
    assert len(files) >= 12
    bad = []
    for f in files:
        for mod in _imports(f):
            if any(mod == m or mod.startswith(m + ".") for m in FORBIDDEN):
                bad.append((f.name, mod))
            if mod.startswith("statfield.documents") and f.name != DOCUMENT_SHIM:
                bad.append((f.name, mod))
    assert not bad, f"statfield.symbolic imports numeric/document modules: {bad}"


def test_ast_scan_detects_a_forbidden_import(tmp_path):
    """The scanner itself is not vacuous: a function-level relative import is caught."""
    f = tmp_path / "x.py"
    f.write_text("def f():\n    from .. import meanfield\n    from ..finite_width import k0_class_table\n")
    found = _imports(f)
    assert "statfield.meanfield" in found and "statfield.finite_width" in found


def test_importing_every_symbolic_module_loads_no_numeric_module():
    code = textwrap.dedent("""
        import importlib, pkgutil, sys
        import statfield.symbolic as S
        names = [m.name for m in pkgutil.iter_modules(S.__path__) if m.name != "catalog"]
        for n in names:
            importlib.import_module("statfield.symbolic." + n)
        bad = [m for m in ("statfield.meanfield", "statfield.finite_width", "statfield.sampling") if m in sys.modules]
        print(len(names), bad)
        assert not bad, bad
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    n, rest = out.stdout.split(" ", 1)
    assert int(n) >= 12


def test_one_symbol_per_quantity():
    import importlib

    action, collective, compare, eft, finite_width, general, saddle = (
        importlib.import_module(f"statfield.symbolic.{m}")
        for m in ("action", "collective", "compare", "eft", "finite_width", "general", "saddle"))

    assert action.sigma_w2 is collective.sigma_w2 is general.sigma_w2 is saddle.sigma_w2 is sym.sigma_w2
    assert action.sigma_b2 is collective.sigma_b2 is general.sigma_b2 is sym.sigma_b2
    assert finite_width.SYMBOLS["sigma_w2"] is sym.sigma_w2 and finite_width.SYMBOLS["sigma_b2"] is sym.sigma_b2
    assert finite_width.n is sym.N is collective.N is action._N
    assert general.q is sym.q and saddle.saddle("linear").variables == (sym.q,)
    assert eft.p is sym.p and compare.p is sym.p and sym.p != sym.q
    assert sym.sigma_w2.is_positive and sym.N.is_integer and sym.p.is_real
    with pytest.raises(KeyError, match="name"):
        sym.by_name("sigma_w")


@pytest.mark.parametrize("expr, expected", [
    (sym.sigma_w2, r"\sigma_w^{2}"),
    (sym.sigma_w2**2, r"\sigma_w^{4}"),
    (sym.sigma_w2**sp.Rational(1, 2), r"\sigma_w"),
    (sym.q_star**2, r"q^{*2}"),
    (sym.field_derivative(sym.eps_plus)**2, r"\left(\partial_x \epsilon_+\right)^{2}"),
    (sp.digamma(sym.N / 2), r"\psi\left(\frac{N}{2}\right)"),
    (sp.polygamma(1, sym.N / 2), r"\psi_{1}\left(\frac{N}{2}\right)"),
    (sp.log(sym.q), r"\ln{\left(q \right)}"),
])
def test_physics_printer(expr, expected):
    from statfield.symbolic.derivation import latex

    assert latex(expr) == expected


def test_printer_never_prints_code_names():
    from statfield.symbolic.derivation import latex

    e = sym.sigma_w2**3 * sym.sigma_b2 / (1 - sym.sigma_w2) ** 2 + sp.polygamma(0, sym.q) * sym.eps_k
    out = latex(e)
    for bad in (r"\sigma_{w2}", r"\sigma_{b2}", "polygamma", r"}^{2}}^", "eps_"):
        assert bad not in out, out

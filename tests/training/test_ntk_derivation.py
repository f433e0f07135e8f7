"""The ``ntk`` derivation builds, its symbolic checks hold, and it renders to LaTeX."""

from statfield.symbolic.derivation import Derivation
from statfield.symbolic.ntk_derivation import build_ntk_derivation


def test_ntk_derivation():
    d = build_ntk_derivation()
    assert isinstance(d, Derivation)
    assert {k: d.results[k] for k in ("relu_critical_linear_growth", "flow_solution_ok", "gd_solution_ok",
                                      "depth1_is_posterior")} == dict.fromkeys(
        ("relu_critical_linear_growth", "flow_solution_ok", "gd_solution_ok", "depth1_is_posterior"), True)
    # the ReLU NTK variance closed form agrees with the numeric leading-order chain
    import sympy as sp

    from statfield.training.finite_width_ntk import ntk_variance_leading_order

    rel = sp.sympify(d.results["relu_ntk_variance"])
    for L in (2, 3, 5, 8):
        num = ntk_variance_leading_order("relu", 2.0, 0.0, L, [1.0]).relative
        assert abs(float(rel.subs(next(iter(rel.free_symbols)), L)) - num) < 1e-8 * num
    tex = d.to_latex()
    assert tex.startswith(r"\documentclass") and "J_D" in tex and "2}{\\lambda_{\\max}" in tex

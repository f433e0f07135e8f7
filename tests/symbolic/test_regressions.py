"""Regression tests: exact finite-N saddles, uniform refusal of activations without an EFT, no sympify."""

import math

import numpy as np
import pytest
import sympy as sp

from statfield.activations import piecewise_linear
from statfield.symbolic import symbols as sym
from statfield.symbolic.compare import our_invariants
from statfield.symbolic.eft import quadratic_eft
from statfield.symbolic.saddle import NoSaddleError, _exact_equations, saddle


def _linear_closed_form(sw, sb, n):
    """Positive root of sigma_w^4 q^2 + sigma_b^2 [N - (N-2) sigma_w^2] q - (N-1) sigma_b^4 = 0 (numpy)."""
    roots = np.roots([sw**2, sb * (n - (n - 2) * sw), -(n - 1) * sb**2])
    return float(max(roots.real))


@pytest.mark.parametrize("sw, sb, n", [(0.9, 0.1, 10), (0.5, 0.3, 3), (0.99, 1.0, 50)])
def test_linear_exact_saddle_is_the_positive_root(sw, sb, n):
    s = saddle("linear", large_n=False)
    ref = _linear_closed_form(sw, sb, n)
    assert ref > 0
    assert s.solve_exact(sw, sb, n)["q"] == pytest.approx(ref, rel=1e-12)
    assert s.evaluate(sw, sb, n)["q"] == pytest.approx(ref, rel=1e-12)


def test_reported_linear_value():
    assert saddle("linear", large_n=False).solve_exact(0.9, 0.1, 10)["q"] == pytest.approx(0.2026396624, rel=1e-9)


def test_linear_mode_in_q_solves_its_own_equation():
    s = saddle("linear", large_n=False, variable="q")
    val = s.solve_exact(0.9, 0.1, 10)["q"]
    (eq,), (q,) = _exact_equations("radial", "q")
    resid = float(eq.subs({sym.sigma_w2: 0.9, sym.sigma_b2: 0.1, sym.N: 10, q: val}))
    assert val > 0 and abs(resid) < 1e-10


@pytest.mark.parametrize("variable, n", [("r", 3), ("r", 8), ("q", 4), ("q", 12)])
def test_relu_small_width_returns_a_mode_or_one_documented_error(variable, n):
    s = saddle("relu", large_n=False, variable=variable)
    try:
        out = s.solve_exact(1.2, 0.3, n)
    except NoSaddleError as exc:
        assert isinstance(exc, ValueError) and f"width={n}" in str(exc)
        return
    assert out["u"] > 0 and out["v"] > 0 and 0 < out["kappa"] < 1
    assert out["q"] == pytest.approx(out["u"] + out["v"])
    eqs, (u, v, kap) = _exact_equations("orthant", variable)
    vals = {sym.sigma_w2: 1.2, sym.sigma_b2: 0.3, sym.N: n}
    for e in eqs:
        f = sp.lambdify((u, v, kap), e.subs(vals), "mpmath")
        assert abs(f(out["u"], out["v"], out["kappa"])) < 1e-8


def test_relu_exact_mode_exists_at_moderate_width_and_approaches_series():
    s = saddle("relu", large_n=False)
    ex, ap = s.solve_exact(1.2, 0.3, 400), s.evaluate(1.2, 0.3, 400)
    assert abs(ex["kappa"] - ap["kappa"]) < 1e-4


def test_series_saddle_refuses_where_the_expansion_breaks_down():
    with pytest.raises(NoSaddleError, match="width=8"):
        saddle("relu", large_n=False).evaluate(1.2, 0.3, 8)


@pytest.mark.parametrize("call", [
    lambda a: saddle(a),
    lambda a: quadratic_eft(a),
    lambda a: our_invariants(a, 0.5, 0.1),
])
@pytest.mark.parametrize("activation", ["leaky_relu", piecewise_linear(2.0, 2.0), "tanh"])
def test_activations_without_collective_eft_are_refused_uniformly(call, activation):
    with pytest.raises(ValueError, match="collective-coordinate EFT and its fields are implemented only"):
        call(activation)


def test_dispatch_is_on_the_object_not_the_name():
    relu_like = piecewise_linear(1.0, 0.0, name="my_relu")
    assert saddle(relu_like).kind == "orthant"
    assert quadratic_eft(relu_like) is quadratic_eft("relu")


@pytest.mark.parametrize("bad", ["1", "__import__('os').system('true')", b"0", None, [0.1]])
def test_precision_refuses_non_sympy_input(bad):
    eft = quadratic_eft("linear")
    with pytest.raises(TypeError, match="p "):
        eft.precision(bad)


def test_precision_accepts_numbers_and_expressions():
    eft = quadratic_eft("linear")
    M = eft.precision(0.3)
    assert float(M[0, 0].subs(sym.sigma_w2, 0.5)) == pytest.approx(2 * (1.25 - math.cos(0.3)))
    assert eft.precision(sp.pi / 2)[0, 0] == 2 * (1 + sym.sigma_w2**2)
    with pytest.raises(ValueError, match="p must be finite"):
        eft.precision(float("inf"))


def test_gelu_silu_critical_points_are_computed_exactly():
    from statfield.symbolic.general import chi_equal_critical_points

    (g,) = chi_equal_critical_points("gelu")
    assert g["K_star"] == pytest.approx((3 + math.sqrt(17)) / 2, rel=1e-12)
    assert g["sigma_w2"] == pytest.approx(1.98306, abs=1e-5) and g["sigma_b2"] == pytest.approx(0.17292, abs=1e-5)

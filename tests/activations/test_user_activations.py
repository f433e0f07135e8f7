"""User activations (callables, SymPy) get the guarantees of the built-ins: probing, kinks, derivatives.

The ``test_meanfield_*`` tests are the regression tests of the user-activation reproducers; they go
through :mod:`statfield.meanfield` (quadrature split at ``act.kinks``, moments from ``act.closed_moments``).
"""

import math

import numpy as np
import pytest
import scipy.special as ss
import sympy as sp

import statfield.meanfield as mf
from statfield.activations import (
    UnsupportedActivationError,
    from_callable,
    from_sympy,
    get_activation,
)
from statfield.activations.user import detect_nonsmooth

X = sp.Symbol("x")
GRID = np.linspace(-6.0, 6.0, 241) + 0.0123


def _dtanh(z):
    return 1.0 - np.tanh(z) ** 2


# ------------------------------------------------------------------ numerical derivatives
def test_complex_step_derivative_of_analytic_callable():
    act = from_callable(lambda z: np.tanh(z))
    assert act.derivative_method == "complex-step" and act.is_smooth
    np.testing.assert_allclose(act.derivative(GRID, np), _dtanh(GRID), rtol=1e-14, atol=1e-15)
    exact2 = -2 * np.tanh(GRID) * _dtanh(GRID)
    np.testing.assert_allclose(act.second_derivative(GRID, np), exact2, rtol=1e-8, atol=1e-10)


def test_richardson_derivative_when_complex_input_is_not_supported():
    """np.real drops the imaginary part: the complex step would give 0, the check falls back to Richardson."""
    act = from_callable(lambda z: np.tanh(np.real(z)))
    assert act.derivative_method == "richardson"
    d, err = act.numeric_derivative.with_error(GRID)
    true_err = np.abs(d - _dtanh(GRID))
    assert np.max(true_err) < 1e-10
    assert np.all(true_err <= 10 * err + 1e-13)  # the stated estimate bounds the error
    scalar_only = from_callable(lambda z: math.tanh(z))  # np.vectorize fallback
    np.testing.assert_allclose(scalar_only.derivative(GRID, np), _dtanh(GRID), rtol=1e-9, atol=1e-11)
    exact2 = -2 * np.tanh(GRID) * _dtanh(GRID)
    np.testing.assert_allclose(act.second_derivative(GRID, np), exact2, rtol=1e-7, atol=1e-8)


def test_given_derivative_is_used_and_probed():
    act = from_callable(np.tanh, deriv=_dtanh, name="t")
    assert act.derivative_method == "exact"
    with pytest.raises(ValueError, match="phi'"):
        from_callable(np.tanh, deriv=lambda z: 1 / z)


def test_one_sided_differences_next_to_a_kink():
    act = from_callable(lambda z: np.abs(z - 0.37) + z * z)
    assert act.kinks == pytest.approx((0.37,), abs=1e-9)
    z = np.array([0.37 - 1e-9, 0.37 + 1e-9, 0.37 - 1e-3, 0.37 + 1e-3, -2.0, 3.0])
    np.testing.assert_allclose(act.derivative(z, np), np.sign(z - 0.37) + 2 * z, rtol=1e-8, atol=1e-8)


# ------------------------------------------------------------------ kinks and jumps of callables
@pytest.mark.parametrize("fn, kinks, jumps", [
    (lambda z: np.maximum(z, 0.0), (0.0,), ()),
    (lambda z: np.clip(z, -1.0, 1.0), (-1.0, 1.0), ()),
    (lambda z: np.abs(z) - 0.5, (0.0,), ()),
    (lambda z: np.where(z > 1.25, 2 * z - 1.25, z), (1.25,), ()),
    (np.sign, (), (0.0,)),
    (lambda z: np.floor(z / 10 + 0.5), (), (-25.0, -15.0, -5.0, 5.0, 15.0, 25.0)),
    (lambda z: np.tanh(50 * z), (), ()),
    (lambda z: np.sin(3 * z) * np.exp(-z * z / 50), (), ()),
    (lambda z: 1e-6 * np.maximum(z, 0.0), (0.0,), ()),  # scale-free thresholds
    (lambda z: np.tanh(z) + 1e-3 * np.maximum(z - 2, 0.0), (2.0,), ()),  # small kink on a curved function
    (lambda z: np.clip(z, 0.0, 1e-2), (0.0, 0.01), ()),  # two kinks 1e-2 apart
    (lambda z: np.tanh(1e6 * z), (), ()),  # steep but continuous: not a jump
    (lambda z: 1e-6 * np.sign(z), (), (0.0,)),
])
def test_numerical_kink_and_jump_detection(fn, kinks, jumps):
    act = from_callable(fn)
    assert act.kinks == pytest.approx(kinks, abs=1e-9)
    assert act.jumps == pytest.approx(jumps, abs=1e-9)


def test_discontinuous_activation_refuses_derivatives():
    for act in (from_callable(np.sign, name="my_sign"), get_activation(sp.sign(X)), get_activation(sp.Heaviside(X))):
        assert act.jumps == (0.0,) and not act.has_derivative
        with pytest.raises(UnsupportedActivationError, match=r"discontinuous at z = 0.*E\[phi'\(z\)\^2\]"):
            act.derivative(np.array([1.0]), np)
    with pytest.raises(ValueError, match="my_sign"):
        from_callable(np.sign, name="my_sign").derivative(np.array([1.0]))


def test_detect_nonsmooth_direct():
    assert detect_nonsmooth(np.tanh) == ((), ())
    k, j = detect_nonsmooth(lambda z: np.maximum(z, 0.3 * z), lo=-5, hi=5, n=1000)
    assert k == (0.0,) and j == ()


# ------------------------------------------------------------------ probing and validation
@pytest.mark.parametrize("fn, match", [
    (lambda z: 1.0 / z, r"not finite \(inf\) at the finite input z = 0"),
    (lambda z: np.exp(z * z), "not finite"),
    (lambda z: np.sqrt(z), "not finite"),
    (lambda z: np.tanh(z) + 1j, "complex"),
])
def test_non_finite_or_complex_outputs_refused_at_construction(fn, match):
    with pytest.raises(ValueError, match=match):
        get_activation(fn)


def test_bad_callables():
    with pytest.raises(TypeError, match="callable"):
        from_callable(3.0)
    with pytest.raises(TypeError, match="calling it on a float failed"):
        from_callable(lambda z: z.nonexistent)
    with pytest.raises(ValueError, match="depend on x only"):
        from_sympy(X * sp.Symbol("y"), X)


def test_names_never_select_closed_forms():
    """A callable (or SymPy expression) named like a built-in gets no closed form."""
    def gelu(z):
        return np.tanh(z)

    for act in (get_activation(gelu), from_callable(np.tanh, name="erf"), from_sympy(sp.tanh(X), X, name="gelu")):
        assert act.closed_forms == frozenset() and act.closed_moments(1.0) is None
        assert act.collective is None


# ------------------------------------------------------------------ SymPy
@pytest.mark.parametrize("expr, slopes", [
    (sp.Piecewise((X, X > 0), (0, True)), (1.0, 0.0)),
    (sp.Max(X, 0), (1.0, 0.0)),
    (X * sp.Heaviside(X), (1.0, 0.0)),
    (sp.Abs(X), (1.0, -1.0)),
    (sp.Max(X, X / 10), (1.0, 0.1)),
    (3 * X, (3.0, 3.0)),
])
def test_sympy_piecewise_linear_is_recognised(expr, slopes):
    act = get_activation(expr)
    assert act.is_piecewise_linear and (act.a_plus, act.a_minus) == slopes
    assert act.has_closed_form("kernel") and act.has_closed_form("moments")
    ref = get_activation("relu") if slopes == (1.0, 0.0) else None
    if ref is not None:
        assert act.kernel(1.2, 0.8, 0.3) == ref.kernel(1.2, 0.8, 0.3)
        assert act.collective.kind == "orthant"


def test_sympy_kinked_nonlinear_gets_piecewise_derivatives():
    ht = get_activation(sp.Max(-1, sp.Min(1, X)))
    assert not ht.is_piecewise_linear and ht.kinks == (-1.0, 1.0) and ht.jumps == ()
    z = np.array([-2.0, -0.5, 0.5, 2.0])
    np.testing.assert_array_equal(ht.derivative(z, np), [0.0, 1.0, 1.0, 0.0])
    np.testing.assert_array_equal(ht.second_derivative(z, np), 0.0)
    shifted = get_activation(sp.Max(X, 0) + 1)  # not through 0: not the closed-form class, but kink found
    assert not shifted.is_piecewise_linear and shifted.kinks == (0.0,)
    soft = get_activation(sp.log(1 + sp.exp(X)))
    assert soft.is_smooth and not soft.is_piecewise_linear


def test_sympy_expression_of_a_non_real_symbol_and_smooth_functions():
    act = from_sympy(sp.tanh(X), X)
    np.testing.assert_allclose(act.derivative(GRID, np), _dtanh(GRID), rtol=1e-14)


# ------------------------------------------------------------------ mean field (regression tests)
def _hard_tanh_chi1(sw, sb):
    """chi1 of clip(z, -1, 1) in closed form: E clip(sqrt(q) z)^2 = (2 Phi(1/s) - 1)(q - 1) ... solved for q*."""
    from scipy.optimize import brentq

    def m(q):
        s = math.sqrt(q)
        a = 1.0 / s
        p_in = math.erf(a / math.sqrt(2))
        return q * (p_in - 2 * a * math.exp(-a * a / 2) / math.sqrt(2 * math.pi)) + (1 - p_in)

    q = brentq(lambda q: sw * m(q) + sb - q, 1e-12, 1e3, xtol=1e-15, rtol=1e-15)
    return sw * math.erf(1.0 / math.sqrt(2 * q))


def test_meanfield_tanh_callable_matches_builtin():
    f = lambda z: np.tanh(z)
    assert mf.chi1(f, 4.0, 0.1) == pytest.approx(mf.chi1("tanh", 4.0, 0.1), rel=1e-10)
    assert mf.phase(f, 0.5, 0.1) == "ordered"
    assert mf.phase(f, 4.0, 0.1) == mf.phase("tanh", 4.0, 0.1)
    c = mf.c_star(f, 4.0, 0.1)
    assert c < 1 and c == pytest.approx(mf.c_star("tanh", 4.0, 0.1), rel=1e-9)


def test_meanfield_richardson_callable_matches_builtin():
    f = lambda z: np.tanh(np.real(z))
    assert mf.chi1(f, 4.0, 0.1) == pytest.approx(mf.chi1("tanh", 4.0, 0.1), rel=1e-9)


def test_meanfield_sympy_relu_forms_equal_builtin():
    for expr in (sp.Piecewise((X, X > 0), (0, True)), sp.Max(X, 0), X * sp.Heaviside(X)):
        assert mf.chi1(expr, 1.5, 0.1) == 0.75
    assert mf.chi1(sp.Abs(X), 1.5, 0.1) == 1.5


def test_meanfield_user_callable_named_gelu_is_integrated_numerically():
    def gelu(z):  # the exact GELU, but a user's callable: no closed form, numerical derivative
        return 0.5 * z * (1 + ss.erf(z / np.sqrt(2)))

    assert mf.chi1(gelu, 1.5, 0.1) == pytest.approx(mf.chi1("gelu", 1.5, 0.1), rel=1e-9)

    def erf(z):  # a different function that happens to be called erf
        return np.tanh(z)

    assert mf.chi1(erf, 1.5, 0.1) == pytest.approx(mf.chi1("tanh", 1.5, 0.1), rel=1e-10)


def test_meanfield_kinked_callable_relu_is_exact():
    """Quadrature split at act.kinks: the numerically detected kink at 0 gives chi1 = sigma_w2/2."""
    assert mf.chi1(lambda z: np.maximum(z, 0.0), 1.5, 0.1) == pytest.approx(0.75, rel=1e-9)


def test_meanfield_hard_tanh_vs_closed_form():
    ref = _hard_tanh_chi1(1.5, 0.1)
    assert mf.chi1(sp.Max(-1, sp.Min(1, X)), 1.5, 0.1) == pytest.approx(ref, rel=1e-9)
    assert mf.chi1(lambda z: np.clip(z, -1, 1), 1.5, 0.1) == pytest.approx(ref, rel=1e-9)


def test_meanfield_discontinuous_activation():
    """phi = sign: the q-map is defined (E sign^2 = 1), chi1 is not (E[phi'^2] infinite)."""
    assert mf.q_star(sp.sign(X), 0.5, 0.1) == pytest.approx(0.6, rel=1e-10)
    with pytest.raises(ValueError, match="discontinuous"):
        mf.chi1(sp.sign(X), 0.5, 0.1)
    with pytest.raises(ValueError, match="discontinuous"):
        mf.chi1(np.sign, 0.5, 0.1)


# ------------------------------------------------------------------ property test of the kink detector
from hypothesis import given, settings
from hypothesis import strategies as st


@settings(max_examples=25, deadline=None, derandomize=True)
@given(k=st.floats(-20.0, 20.0), a=st.floats(-3.0, 3.0), da=st.floats(0.01, 3.0), sgn=st.sampled_from([-1.0, 1.0]),
       curv=st.floats(0.0, 0.5))
def test_kink_detector_finds_random_kinks(k, a, da, sgn, curv):
    """phi = smooth + slope change sgn*da at a random point k: found to 1e-8, nothing else reported."""
    b = a + sgn * da

    def fn(z):
        return curv * np.sin(z) + np.where(z > k, b * (z - k), a * (z - k))

    kinks, jumps = detect_nonsmooth(fn)
    assert jumps == ()
    assert len(kinks) == 1 and abs(kinks[0] - k) < 1e-8 * max(1.0, abs(k))


@settings(max_examples=25, deadline=None, derandomize=True)
@given(w=st.floats(0.1, 20.0), s=st.floats(-2.0, 2.0), c=st.floats(-1.0, 1.0))
def test_kink_detector_reports_nothing_for_smooth_functions(w, s, c):
    kinks, jumps = detect_nonsmooth(lambda z: np.tanh(w * (z - c)) + s * np.sin(z) * np.exp(-z * z / 40))
    assert kinks == () and jumps == ()


def test_user_activations_in_other_array_namespaces(xp):
    v = np.array([-1.5, 0.5, 2.0])
    for a in (lambda z: np.tanh(z), sp.Max(-1, sp.Min(1, X)), sp.tanh(X)):
        act = get_activation(a)
        y, d = act(xp.asarray(v)), act.derivative(xp.asarray(v))
        assert type(y) is type(xp.asarray(v))
        np.testing.assert_allclose(np.asarray(y), act.numpy(v), rtol=1e-15)
        np.testing.assert_allclose(np.asarray(d), act.derivative(v, np), rtol=1e-15)

"""The activation registry: array functions, SymPy forms and closed forms agree."""

import numpy as np
import pytest
import sympy as sp

from statfield.activations import get_activation, piecewise_linear, registered_names
from statfield.quadrature import expect2

NAMES = registered_names()


def test_registry_is_complete():
    """NAMES parametrises the tests below: an empty or shrunken registry must fail, not skip silently."""
    assert set(NAMES) >= {"linear", "relu", "leaky_relu", "tanh", "erf", "gelu", "silu"}


@pytest.mark.parametrize("name", NAMES)
def test_sympy_matches_array(name):
    act = get_activation(name)
    z = sp.Symbol("z", real=True)
    f = sp.lambdify(z, act.sympy_expr(z), modules=["scipy", "numpy"])
    x = np.linspace(-3, 3, 41)
    np.testing.assert_allclose(np.asarray(f(x), dtype=float) + 0 * x, act.numpy(x), rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("name", NAMES)
def test_derivatives_match_finite_differences(name):
    act = get_activation(name)
    x = np.linspace(-2.9, 2.9, 40) + 0.013  # avoid the kink at 0
    h = 1e-6
    fd = (act.numpy(x + h) - act.numpy(x - h)) / (2 * h)
    np.testing.assert_allclose(act.derivative(x, np), fd, rtol=1e-6, atol=1e-8)
    if not act.is_piecewise_linear:
        fd2 = (act.derivative(x + h, np) - act.derivative(x - h, np)) / (2 * h)
        np.testing.assert_allclose(act.second_derivative(x, np), fd2, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name", ["linear", "relu", "leaky_relu_0.1", "erf"])
@pytest.mark.parametrize("q1,q2,c", [(1.0, 1.0, 0.3), (0.7, 2.1, -0.5), (2.0, 0.5, 0.99), (1.5, 1.5, 1.5)])
def test_closed_form_kernels_vs_quadrature(name, q1, q2, c):
    """Closed forms vs high-order Gauss-Hermite (smooth erf: 1e-12; kinked: split-free 2e-4)."""
    act = get_activation(name)
    quad = expect2(act.numpy, act.numpy, q1, q2, c, n=200)
    dquad = expect2(lambda t: act.derivative(t, np), lambda t: act.derivative(t, np), q1, q2, c, n=200)
    tol = 1e-12 if name in ("erf", "linear") else 2e-3
    np.testing.assert_allclose(act.kernel(q1, q2, c), quad, rtol=tol, atol=tol)
    dtol = 1e-12 if name in ("erf", "linear") else 2e-2
    np.testing.assert_allclose(act.deriv_kernel(q1, q2, c), dquad, rtol=dtol, atol=dtol)


def test_piecewise_linear_kernel_symmetry_and_limits():
    act = piecewise_linear(1.3, -0.4)
    # c = q: E[phi^2] = (a+^2 + a-^2) q / 2
    np.testing.assert_allclose(act.kernel(2.0, 2.0, 2.0), (1.3**2 + 0.4**2), rtol=1e-14)
    np.testing.assert_allclose(act.deriv_kernel(2.0, 2.0, 2.0), (1.3**2 + 0.4**2) / 2, rtol=1e-14)


def test_unknown_activation_message():
    with pytest.raises(ValueError, match="activation must be one of"):
        get_activation("sigmoidish")


def test_array_api_strict_evaluation(xp):
    for name in NAMES:
        act = get_activation(name)
        x = xp.asarray([-1.0, 0.5, 2.0])
        y = act(x)
        np.testing.assert_allclose(np.asarray(y), act.numpy(np.array([-1.0, 0.5, 2.0])), rtol=1e-14)


# ------------------------------------------------------------------ the package layout and the object API
def test_public_imports_from_the_package():
    from statfield.activations import (  # noqa: F401
        Activation,
        from_callable,
        from_sympy,
        get_activation,
        leaky_relu,
        piecewise_linear,
        register,
        registered_names,
    )


def test_closed_forms_are_attributes_not_names():
    """The registry attaches closed forms; an Activation built by hand has exactly what it is given."""
    from statfield.activations import Activation

    gelu = get_activation("gelu")
    assert gelu.closed_forms == {"kernel", "deriv_kernel", "moments"}
    assert get_activation("tanh").closed_forms == frozenset()
    assert get_activation("tanh").closed_moments(1.0) is None
    bare = Activation("gelu", gelu.fn, gelu.deriv)  # same name, no closed forms given
    assert not bare.has_closed_form("kernel") and bare.closed_moments(1.0) is None
    with pytest.raises(ValueError, match="no closed-form kernel"):
        bare.kernel(1.0, 1.0, 0.5)
    with pytest.raises(ValueError, match="what must be one of"):
        gelu.has_closed_form("gelu")


def test_slopes_attach_arc_cosine_forms_automatically():
    from statfield.activations import Activation

    act = Activation("mine", lambda x, xp: xp.where(x > 0, 2 * x, -x), a_plus=2.0, a_minus=-1.0)
    ref = piecewise_linear(2.0, -1.0)
    assert act.kinks == (0.0,) and act.closed_forms == ref.closed_forms
    assert act.kernel(1.3, 0.7, 0.2) == ref.kernel(1.3, 0.7, 0.2)


def test_register_adds_an_activation_in_one_call():
    from statfield.activations import Activation, register

    def factory():
        return Activation("cube_root_test", lambda x, xp: x / 2, a_plus=0.5, a_minus=0.5)

    register("half_linear_test", factory)
    try:
        act = get_activation("HALF_LINEAR_TEST")
        assert "half_linear_test" in registered_names()
        assert act.collective.kind == "radial" and act.collective.critical_sigma_w2 == pytest.approx(4.0)
        assert act.closed_moments(2.0)["m"] == pytest.approx(0.5)
    finally:
        from statfield.activations import registry

        registry._REGISTRY.pop("half_linear_test", None)
        registry._CACHE.pop("half_linear_test", None)
    with pytest.raises(ValueError, match="name"):
        register("", factory)
    with pytest.raises(TypeError, match="factory"):
        register("x_test", 3)


def test_leaky_prefix_and_bad_prefix():
    act = get_activation("leaky_relu_0.2")
    assert (act.a_plus, act.a_minus) == (1.0, 0.2)
    with pytest.raises(ValueError, match="cannot parse"):
        get_activation("leaky_relu_abc")
    with pytest.raises(ValueError, match="alpha must be finite"):
        get_activation("leaky_relu_inf")


def test_kinks_and_jumps_of_builtins():
    assert get_activation("relu").kinks == (0.0,) and get_activation("relu").jumps == ()
    assert get_activation("linear").kinks == ()
    for name in ("tanh", "erf", "gelu", "silu"):
        assert get_activation(name).is_smooth

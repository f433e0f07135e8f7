"""The activation registry: array functions, SymPy forms and closed forms agree."""

import numpy as np
import pytest
import sympy as sp

from statfield.activations import get_activation, registered_names, piecewise_linear
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

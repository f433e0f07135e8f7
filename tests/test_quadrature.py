"""Gaussian quadrature: trapezoid rule and Mehler series against closed forms and mpmath; stated errors."""

import math

import mpmath as mp
import numpy as np
import pytest

from statfield import quadrature as Q
from statfield.activations import get_activation

QS = [0.01, 1.0, 5.0, 20.0, 100.0]


def erf_m(q):
    return (2 / np.pi) * np.arcsin(2 * q / (1 + 2 * q))


def mp_expect(f, q, dps=25):
    with mp.workdps(dps):
        s = mp.sqrt(q)
        v = mp.quad(lambda z: f(s * z) * mp.exp(-z * z / 2), [-mp.inf, -3, 0, 3, mp.inf]) / mp.sqrt(2 * mp.pi)
    return float(v)


@pytest.mark.parametrize("q", QS)
def test_expect_erf_closed_form_and_error_estimate(q):
    act = get_activation("erf")
    val, err = Q.expect(lambda x: act.numpy(x) ** 2, q, return_error=True)
    exact = erf_m(q)
    assert abs(val - exact) <= 1e-14 * exact + 1e-16
    # the estimate bounds the actual error and meets the default tolerance
    assert abs(val - exact) <= err + 4e-16 * exact
    assert err <= 1e-11 * exact


@pytest.mark.parametrize("q", [0.3, 5.0, 50.0])
@pytest.mark.parametrize("name,f_mp", [("tanh", lambda x: mp.tanh(x) ** 2),
                                       ("silu", lambda x: (x / (1 + mp.exp(-x))) ** 2)])
def test_expect_saturating_vs_mpmath(name, f_mp, q):
    act = get_activation(name)
    val = Q.expect(lambda x: act.numpy(x) ** 2, q)
    ref = mp_expect(f_mp, q)
    assert abs(val / ref - 1) < 1e-13


def test_trapezoid_beats_gauss_hermite_at_large_q():
    """The reason for the default: at q = 5, 256 GH nodes leave a 1e-9 error on E[tanh^2], 123 trapezoid points 1e-16."""
    ref = mp_expect(lambda x: mp.tanh(x) ** 2, 5.0)
    gh = Q.expect(lambda x: np.tanh(x) ** 2, 5.0, n=256)
    tr = Q.expect(lambda x: np.tanh(x) ** 2, 5.0)
    assert abs(gh - ref) > 1e-9
    assert abs(tr - ref) < 1e-14


def test_gauss_hermite_fixed_rule_exact_for_polynomials():
    # E[(sqrt(q) z)^4] = 3 q^2 with 3 nodes (degree 5 exact)
    np.testing.assert_allclose(Q.expect(lambda x: x**4, [0.5, 2.0], n=3), [0.75, 12.0], rtol=1e-14)


def test_kinked_integrand_is_flagged():
    with pytest.warns(Q.QuadratureWarning):
        Q.expect(np.abs, 1.0, rtol=1e-13)


@pytest.mark.parametrize("name", ["erf", "gelu"])
@pytest.mark.parametrize("q1,q2,c", [(1.0, 1.0, 0.3), (0.7, 2.1, -0.5), (2.0, 0.5, 0.99),
                                     (1.5, 1.5, 1.5), (1.5, 1.5, -1.5), (3.0, 0.2, 0.0)])
def test_expect2_vs_closed_forms(name, q1, q2, c):
    act = get_activation(name)
    val, _err = Q.expect2(act.numpy, act.numpy, q1, q2, c, return_error=True)
    ref = act.kernel(q1, q2, c)
    assert abs(val - ref) <= 1e-13 * max(abs(ref), 1e-2)
    d = lambda t: act.derivative(t, np)
    dval = Q.expect2(d, d, q1, q2, c)
    assert abs(dval - act.deriv_kernel(q1, q2, c)) <= 1e-13


def test_gelu_closed_form_vs_mpmath_diagonal():
    """Closed-form GELU kernel at c = q against 1-D mpmath (E[gelu^2] and E[gelu'^2])."""
    act = get_activation("gelu")
    ncdf = lambda x: mp.erfc(-x / mp.sqrt(2)) / 2
    npdf = lambda x: mp.exp(-x * x / 2) / mp.sqrt(2 * mp.pi)
    for q in (0.2, 1.0, 7.0):
        ref = mp_expect(lambda x: (x * ncdf(x)) ** 2, q)
        dref = mp_expect(lambda x: (ncdf(x) + x * npdf(x)) ** 2, q)
        assert abs(float(act.kernel(q, q, q)) / ref - 1) < 1e-14
        assert abs(float(act.deriv_kernel(q, q, q)) / dref - 1) < 1e-14


def test_expect2_bad_covariance():
    with pytest.raises(ValueError, match="c12"):
        Q.expect2(np.tanh, np.tanh, 1.0, 1.0, 1.5)
    with pytest.raises(ValueError, match="q1"):
        Q.expect2(np.tanh, np.tanh, -1.0, 1.0, 0.0)
    with pytest.raises(ValueError, match="q must be finite"):
        Q.expect(np.tanh, np.nan)


def test_hermite_coefficients_linear_and_parseval():
    A = Q.hermite_coefficients(lambda x: x, np.array([0.5, 2.0]), 8)
    expected = np.zeros((2, 9))
    expected[:, 1] = np.sqrt([0.5, 2.0])
    np.testing.assert_allclose(A, expected, atol=1e-15)
    for q in (1.0, 5.0):
        A = Q.hermite_coefficients(np.tanh, q, 600)
        np.testing.assert_allclose(np.sum(A * A), Q.expect(lambda x: np.tanh(x) ** 2, q), rtol=1e-13)
        Aodd = Q.hermite_coefficients(np.tanh, q, 600, parity="odd")
        np.testing.assert_allclose(Aodd, A, atol=1e-15)
        # step halved: coefficients unchanged (the stated discretisation error)
        A2 = Q.hermite_coefficients(np.tanh, q, 600, h0=Q.H0 / 2)
        np.testing.assert_allclose(A2, A, atol=1e-15)


@pytest.mark.parametrize("q1,q2,rho", [(1.0, 1.0, 0.3), (0.7, 2.1, -0.5), (2.0, 0.5, 0.99), (1.5, 1.5, 1.0),
                                       (1.5, 1.5, -1.0)])
def test_mehler_series_vs_direct_2d(q1, q2, rho):
    K = 512
    A1 = Q.hermite_coefficients(np.tanh, q1, K)
    A2 = Q.hermite_coefficients(np.tanh, q2, K)
    m1 = Q.expect(lambda x: np.tanh(x) ** 2, q1)
    m2 = Q.expect(lambda x: np.tanh(x) ** 2, q2)
    T1, T2 = m1 - np.sum(A1**2), m2 - np.sum(A2**2)
    val = Q.mehler_kernel(A1, A2, rho, T1, T2)
    ref = Q.expect2(np.tanh, np.tanh, q1, q2, rho * math.sqrt(q1 * q2))
    assert abs(val - ref) < 1e-13
    # derivative in rho: E[phi'phi'] * sqrt(q1 q2)
    der = Q.mehler_kernel(A1, A2, rho, T1, T2, derivative=True)
    d = lambda t: 1 - np.tanh(t) ** 2
    dref = Q.expect2(d, d, q1, q2, rho * math.sqrt(q1 * q2)) * math.sqrt(q1 * q2)
    assert abs(der - dref) < 1e-9 * abs(dref) + 1e-12  # also at rho = +-1 (measured error 2.5e-13 relative)


def test_kernel_dispatch_closed_form_and_quadrature():
    relu = get_activation("relu")
    # arc-cosine kernel at rho = 0: E[relu(u) relu(v)] = sqrt(q1 q2)/(2 pi)
    assert math.isclose(float(Q.kernel(relu, 1.0, 4.0, 0.0)), 2.0 / (2 * np.pi), rel_tol=1e-15)
    tanh = get_activation("tanh")
    np.testing.assert_allclose(Q.kernel(tanh, 1.0, 2.0, 0.5), Q.expect2(np.tanh, np.tanh, 1.0, 2.0, 0.5), rtol=1e-15)
    # legacy fixed Gauss-Hermite path stays available
    assert abs(Q.kernel(tanh, 1.0, 1.0, 0.5, n=200) - Q.kernel(tanh, 1.0, 1.0, 0.5)) < 1e-10


# ------------------------------------------------------------------ kinks and large variances (graded rule)
@pytest.mark.parametrize("q", [0.02, 1.0, 40.0, 1e4])
def test_expect_with_kinks_is_exact(q):
    """Split at the kinks: ReLU^2 = q/2 and hinge E[max(x - 1, 0)] = sqrt(q) pdf(1/sqrt q) - (1 - Phi(1/sqrt q))."""
    relu2, err = Q.expect(lambda x: np.maximum(x, 0.0) ** 2, q, kinks=(0.0,), return_error=True)
    assert relu2 == pytest.approx(q / 2, rel=1e-14) and err <= 1e-11 * q
    s = math.sqrt(q)
    hinge = s * math.exp(-0.5 / q) / math.sqrt(2 * math.pi) - 0.5 * math.erfc(1 / (s * math.sqrt(2)))
    # |z| <= 9 truncation: absolute error ~1e-19 (matters only when the kink sits in the far tail, q = 0.02)
    assert Q.expect(lambda x: np.maximum(x - 1.0, 0.0), q, kinks=(1.0,)) == pytest.approx(hinge, rel=1e-13, abs=1e-18)


@pytest.mark.parametrize("q", [1e3, 1e6, 1e10])
def test_expect_at_huge_variance_vs_mpmath(q):
    """q above Q_TRAP: graded panels (nodes ~ log q) instead of a trapezoid grid growing like sqrt(q)."""
    ref = mp_expect(lambda x: mp.tanh(x) ** 2, q, dps=30) if q < 1e8 else None
    if ref is None:
        with mp.workdps(30):
            s = mp.sqrt(q)
            ref = float(mp.quad(lambda z: mp.tanh(s * z) ** 2 * mp.npdf(z), [-mp.inf, -10 / s, 0, 10 / s, mp.inf]))
    val = Q.expect(lambda x: np.tanh(x) ** 2, q)
    assert val == pytest.approx(ref, rel=1e-14)
    Z, _ = Q._graded_rule(*Q._feature_points(np.array([q]), ()))
    assert Z.shape[1] < 2000                          # bounded: ~log q panels


def test_expect2_kinks_and_large_q_vs_closed_forms():
    relu = get_activation("relu")
    for q1, q2, c in [(1.0, 1.0, 0.3), (0.7, 2.1, -0.5), (2.0, 0.5, 0.99), (1e5, 3e5, 1e5)]:
        v = Q.expect2(relu.numpy, relu.numpy, q1, q2, c, kinks=(0.0,))
        assert v == pytest.approx(float(relu.kernel(q1, q2, c)), rel=1e-13)
    erf = get_activation("erf")
    for q in (100.0, 1e6):                            # graded 2-D rule vs Williams' closed form
        assert Q.expect2(erf.numpy, erf.numpy, q, q, 0.4 * q) == pytest.approx(float(erf.kernel(q, q, 0.4 * q)),
                                                                               rel=1e-13)
    with pytest.raises(ValueError, match="kinks"):
        Q.expect(np.abs, 1.0, kinks=(np.nan,))


def test_hermite_coefficients_chunked_equals_unchunked(monkeypatch):
    """Node chunks bound the memory (O(K x chunk), not O(K sqrt q)); the sums are the same."""
    q = np.array([0.5, 400.0])
    full = Q.hermite_coefficients(np.tanh, q, 1024, parity="odd")
    monkeypatch.setattr(Q, "_COEF_NODES", 64)
    chunked = Q.hermite_coefficients(np.tanh, q, 1024, parity="odd")
    np.testing.assert_allclose(chunked, full, rtol=1e-12, atol=1e-16)

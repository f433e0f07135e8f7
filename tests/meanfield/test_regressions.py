"""Reproducers of silent wrong numbers in the mean-field API, kept as regression tests, and the backward pass."""

import math
import warnings

import matplotlib
import mpmath as mp
import numpy as np
import pytest

from statfield import meanfield as mf
from statfield import quadrature as Q
from statfield.activations import Activation, from_callable


# ------------------------------------------------------------------ criticality: depth scales
def _erf_mp_cstar(w, b):
    """q*, c*, chi_c, chi1 for erf at 40 digits (closed forms, mpmath root finding)."""
    with mp.workdps(40):
        w, b = mp.mpf(w), mp.mpf(b)
        m = lambda q: 2 / mp.pi * mp.asin(2 * q / (1 + 2 * q))
        q = mp.findroot(lambda q: w * m(q) + b - q, 1.0)
        chi1 = w * 4 / (mp.pi * mp.sqrt(1 + 4 * q))
        # c - cmap(c) = 0 solved in u = 1 - c with asin(s) - asin(s(1-u)) written without cancellation
        s = 2 * q / (1 + 2 * q)

        def g(u):
            a, bb = s, s * (1 - u)
            dif = mp.asin((a - bb) * (a + bb) / (a * mp.sqrt(1 - bb**2) + bb * mp.sqrt(1 - a**2)))
            return (w * 2 / mp.pi * dif) / q - u                    # (1 - cmap(1-u)) - u

        u0 = 2 * (chi1 - 1) / (chi1 * 1.0)
        u = mp.findroot(g, (u0 * mp.mpf("0.5"), u0 * 4), solver="anderson")
        c = 1 - u
        chic = w * 4 / (mp.pi * mp.sqrt((1 + 2 * q) ** 2 - 4 * q * q * c * c))
        return float(q), float(c), chic, chi1


@pytest.mark.parametrize("eps,rtol", [(1e-9, 2e-6), (1e-6, 1e-9), (1e-3, 1e-11)])
def test_depth_scale_just_above_criticality_is_positive_and_correct(eps, rtol):
    w = mf.critical_sigma_w2("erf", 0.05) * (1 + eps)
    _, c, chic, _ = _erf_mp_cstar(w, 0.05)
    xq, xc = mf.depth_scales("erf", w, 0.05)
    assert xq > 0 and xc > 0
    ref = float(-1 / mp.log(chic))
    assert xc == pytest.approx(ref, rel=rtol)
    assert 1 - mf.c_star("erf", w, 0.05) == pytest.approx(1 - c, rel=rtol)
    assert mf.phase("erf", w, 0.05) == "chaotic"          # chi1 - 1 = 4e-10 eps-scaled, above tol = 1e-10


def test_depth_scale_at_the_critical_point_is_inf():
    w = mf.critical_sigma_w2("tanh", 0.05)
    xq, xc = mf.depth_scales("tanh", w, 0.05)
    assert xc == math.inf and 0 < xq < math.inf
    assert mf.depth_scales("tanh", 1.0, 0.0) == (math.inf, math.inf)
    assert mf.phase("tanh", w, 0.05) == "critical"


def test_c_star_near_criticality_tanh_mehler_is_a_fixed_point():
    w = mf.critical_sigma_w2("tanh", 0.1) * (1 + 1e-7)
    c = mf.c_star("tanh", w, 0.1)
    assert 0 < 1 - c < 1e-5
    assert abs(mf.cmap("tanh", w, 0.1, c) - c) <= 1e-14
    assert 0 < mf.depth_scales("tanh", w, 0.1)[1] < math.inf


# ------------------------------------------------------------------ one behaviour for scans without a fixed point
def test_array_scans_give_nan_with_warning_and_label():
    w = np.array([1.0, 3.0])
    for name, ws in (("relu", w), ("silu", np.array([1.0, 8.0]))):
        for fn in (mf.q_star, mf.c_star, mf.chi_c):
            with pytest.warns(mf.NoFixedPointWarning, match="1 of 2 points"):
                out = fn(name, ws, 0.1)
            assert np.isfinite(out[0]) and np.isnan(out[1])
        with pytest.warns(mf.NoFixedPointWarning):
            xq, xc = mf.depth_scales(name, ws, 0.1)
        assert np.isnan(xq[1]) and np.isnan(xc[1]) and np.isfinite(xc[0])
        assert list(mf.phase(name, ws, 0.1)) == [mf.phase(name, ws[0], 0.1), "unbounded"]
        pd = mf.phase_diagram(name, ws, np.array([0.1]))
        assert pd.phase[0, 1] == "unbounded" and np.isnan(pd.q_star[0, 1]) and np.isnan(pd.xi_ntk[0, 1])
        with pytest.raises(ValueError, match="fixed point"):
            mf.q_star(name, ws[1], 0.1)
    with pytest.warns(mf.NoFixedPointWarning):
        cm = mf.cmap("silu", np.array([1.0, 8.0]), 0.1, 0.5)
    assert np.isfinite(cm[0]) and np.isnan(cm[1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mf.chi1("silu", np.array([1.0, 2.0]), 0.1)  # all points fine: no warning


# ------------------------------------------------------------------ overflow and resource bounds
def test_qmap_cmap_overflow_raise():
    with pytest.raises(OverflowError, match="qmap"):
        mf.qmap("relu", 4.0, 0.0, 1e308)
    with pytest.raises(OverflowError, match="cmap"):
        mf.cmap("linear", 4.0, 0.0, 0.5, q=1e308)


def test_cmap_at_huge_variance_is_bounded_and_accurate():
    """Used to allocate 13 GiB; the graded rule needs O(log q) nodes. Reference: sign limit + exact 1-D term."""
    rho, q = 0.5, 1e6
    sig = math.sqrt(q)
    with mp.workdps(25):
        def integ(v):
            return (1 - mp.tanh(abs(v))) * mp.sign(v) * mp.npdf(v, 0, sig) * mp.erf(
                rho * v / (sig * mp.sqrt(2 * (1 - rho**2))))
        ref = 2 / math.pi * math.asin(rho) - 2 * float(mp.quad(integ, [-60, -1, 0, 1, 60]))
    assert float(Q.kernel("tanh", q, q, rho * q)) == pytest.approx(ref, abs=1e-12)
    w, b = 1.5, 0.05
    assert mf.cmap("tanh", w, b, 0.5, q=q) == pytest.approx((w * ref + b) / (w * mf.qmap("tanh", 1.0, 0.0, q) + b),
                                                            rel=1e-12)


# ------------------------------------------------------------------ kinks, callables, dispatch on objects
def _hardtanh():
    return from_callable(lambda x: np.clip(x, -1.0, 1.0), deriv=lambda x: (np.abs(x) < 1).astype(float),
                         name="hardtanh")


def test_hardtanh_moments_are_exact():
    ht = _hardtanh()
    assert ht.kinks == (-1.0, 1.0)
    q = np.array([0.05, 0.8, 7.0, 1e5])
    a = 1 / np.sqrt(2 * q)
    from scipy.special import erf

    m = q * (erf(a) - 2 * a * np.exp(-a * a) / np.sqrt(np.pi)) + (1 - erf(a))
    np.testing.assert_allclose(mf.qmap(ht, 1.0, 0.0, q), m, rtol=1e-13)
    qs = mf.q_star(ht, 1.5, 0.1)
    assert mf.chi1(ht, 1.5, 0.1) == pytest.approx(1.5 * math.erf(1 / math.sqrt(2 * qs)), rel=1e-13)


def _clip_kernel_ref(q1, q2, c):
    """E[clip(u) clip(v)] by mpmath: outer quadrature over u, E[clip(v) | u] in closed form."""
    with mp.workdps(20):
        q1, q2, c = mp.mpf(q1), mp.mpf(q2), mp.mpf(c)
        s = mp.sqrt(q2 - c * c / q1)

        def inner(u):
            mu = c / q1 * u
            al, be = (-1 - mu) / s, (1 - mu) / s
            mid = mu * (mp.ncdf(be) - mp.ncdf(al)) - s * (mp.npdf(be) - mp.npdf(al))
            return -mp.ncdf(al) + (1 - mp.ncdf(be)) + mid

        su = mp.sqrt(q1)
        f = lambda u: max(-1, min(1, u)) * inner(u) * mp.npdf(u / su) / su
        return float(mp.quad(f, [-mp.inf, -1, 0, 1, mp.inf]))


@pytest.mark.parametrize("q1,q2,c", [(0.5, 2.0, 0.6), (3.0, 3.0, 2.9), (1.0, 0.3, -0.4)])
def test_kinked_two_input_kernel_vs_mpmath(q1, q2, c):
    assert float(Q.kernel(_hardtanh(), q1, q2, c)) == pytest.approx(_clip_kernel_ref(q1, q2, c), rel=1e-12, abs=1e-15)


def test_kinked_c_star_ntk_and_sympy_piecewise():
    ht = _hardtanh()
    w, b = 3.0, 0.1
    c = mf.c_star(ht, w, b)
    assert 0 < c < 1 and abs(mf.cmap(ht, w, b, c) - c) <= 1e-13
    h = 1e-5
    slope = (mf.cmap(ht, w, b, c + h) - mf.cmap(ht, w, b, c - h)) / (2 * h)
    assert mf.chi_c(ht, w, b) == pytest.approx(slope, rel=1e-7)
    X = np.array([[1.0, 0.2], [-0.3, 0.9]])
    K = mf.nngp_kernel(ht, w, b, X, 2)
    d = np.diagonal(mf.nngp_kernel(ht, w, b, X, 1))
    K1 = mf.nngp_kernel(ht, w, b, X, 1)
    assert K[0, 1] == pytest.approx(b + w * _clip_kernel_ref(d[0], d[1], K1[0, 1]), rel=1e-12)
    import sympy as sp

    x = sp.Symbol("x", real=True)
    assert mf.chi1(sp.Piecewise((x, x > 0), (0, True)), 1.5, 0.1) == pytest.approx(0.75, rel=1e-14)


def test_python_callable_activations():
    f = lambda z: np.tanh(z)
    assert mf.chi1(f, 4.0, 0.1) == pytest.approx(mf.chi1("tanh", 4.0, 0.1), rel=1e-9)
    assert mf.phase(f, 0.5, 0.1) == "ordered" and mf.phase(f, 4.0, 0.1) == "chaotic"
    assert mf.c_star(f, 4.0, 0.1) == pytest.approx(mf.c_star("tanh", 4.0, 0.1), rel=1e-9)
    assert mf.c_star(f, 4.0, 0.1) < 1
    bare = Activation(name="no_derivative_act", fn=lambda x, xp: xp.tanh(x))
    for fn in (mf.chi1, mf.chi_c, mf.phase, mf.c_star, mf.depth_scales, mf.mean_field):
        with pytest.raises(ValueError, match="no_derivative_act"):
            fn(bare, 4.0, 0.1)
    assert mf.q_star(bare, 4.0, 0.1) == pytest.approx(mf.q_star("tanh", 4.0, 0.1), rel=1e-13)
    # a user callable named like a built-in gets no closed form
    gelu_like = from_callable(lambda x: x * np.tanh(x), name="gelu")
    assert mf.qmap(gelu_like, 1.0, 0.0, 1.0) == pytest.approx(Q.expect(lambda x: (x * np.tanh(x)) ** 2, 1.0), rel=1e-13)


# ------------------------------------------------------------------ backward pass
def test_ntk_diagonal_linear_at_relu_criticality_and_vs_ntk_kernel():
    np.testing.assert_allclose(mf.ntk_diagonal("relu", 2.0, 0.0, 6), np.arange(1, 7), rtol=1e-15)
    X = np.array([[1.0, 0.0]])                  # K^1 = 2 * 1/2 = 1 = q
    assert mf.ntk_kernel("relu", 2.0, 0.0, X, 40)[0, 0] == pytest.approx(40.0, rel=1e-14)
    for w in (1.2, 2.5):
        q = mf.q_star("tanh", w, 0.1)
        X = np.array([[math.sqrt((q - 0.1) / w)]])
        th = [mf.ntk_kernel("tanh", w, 0.1, X, l)[0, 0] for l in range(1, 8)]
        np.testing.assert_allclose(mf.ntk_diagonal("tanh", w, 0.1, 7), th, rtol=1e-12)


def test_ntk_condition_number_profile_vs_explicit_kernel_and_phases():
    P, c0 = 4, 0.3
    for w, b in ((1.2, 0.1), (2.5, 0.1)):
        prof = mf.ntk_depth_profile("tanh", w, b, 6, n_inputs=P, c0=c0)
        q = mf.q_star("tanh", w, b)
        G = ((q - b) / w) * ((1 - c0) * np.eye(P) + c0) - (q * c0 - q * c0)
        G = (q * ((1 - c0) * np.eye(P) + c0) - b) / w          # x.x'/d for K^1 = q[(1-c0)I + c0 11^T]
        X = np.linalg.cholesky(G + 0.0)
        Th = mf.ntk_kernel("tanh", w, b, X * math.sqrt(P), 6)
        ev = np.linalg.eigvalsh(Th)
        assert prof.condition[-1] == pytest.approx(ev[-1] / ev[0], rel=1e-10)
    # ordered: grows like exp(l/xi)/l, xi = -1/ln chi1; chaotic: kappa - 1 decays like chi1^-l (Theta -> I)
    L = 60
    ordered = mf.ntk_depth_profile("tanh", 1.2, 0.1, L, n_inputs=10, c0=0.3).condition
    chi = mf.chi1("tanh", 1.2, 0.1)
    assert ordered[-1] > 1e5 * ordered[0] and np.all(np.diff(ordered[5:]) > 0)
    assert ordered[-1] / ordered[-2] == pytest.approx((L - 1) / L / chi, rel=2e-3)
    chaotic = mf.ntk_depth_profile("tanh", 2.5, 0.1, L, n_inputs=10, c0=0.3).condition
    assert np.all(np.diff(chaotic[3:]) < 0) and chaotic[-1] < 1.05
    # asymptotic rate; corrections of relative order chi1^-l and chi_c^l (~0.3 % at l = 60)
    assert (chaotic[-1] - 1) / (chaotic[-2] - 1) == pytest.approx(1 / mf.chi1("tanh", 2.5, 0.1), rel=1e-2)
    with pytest.raises(ValueError, match="c0"):
        mf.ntk_depth_profile("tanh", 1.2, 0.1, 5, n_inputs=3, c0=-0.6)


def test_phase_diagram_backward_fields_and_plot_without_backend_switch(tmp_path):
    w = np.array([0.8, 1.2, 2.5])
    b = np.array([0.0, 0.1])
    pd = mf.phase_diagram("tanh", w, b)
    c1 = pd.chi1
    np.testing.assert_allclose(pd.xi_ntk, 1 / np.abs(np.log(c1)), rtol=1e-14)
    ordered = c1 < 1
    np.testing.assert_allclose(pd.ntk_limit[ordered], (pd.q_star / (1 - c1))[ordered], rtol=1e-14)
    assert np.all(np.isinf(pd.ntk_limit[~ordered]))
    relu = mf.phase_diagram("relu", np.array([2.0]), np.array([0.0]))
    assert relu.xi_ntk[0, 0] == math.inf and relu.phase[0, 0] == "critical"
    backend = matplotlib.get_backend()
    pd.plot(tmp_path / "pd.png")
    assert matplotlib.get_backend() == backend and (tmp_path / "pd.png").stat().st_size > 1000


def test_discontinuous_activation_splits_at_jumps():
    """sign(z): E[phi^2] = 1, E[phi(u)phi(v)] = (2/pi) asin(rho) exactly; chi1 (a Dirac delta in phi') raises."""
    step = from_callable(lambda x: np.where(x > 0, 1.0, -1.0), name="step")
    assert step.jumps == (0.0,)
    np.testing.assert_allclose(mf.qmap(step, 1.0, 0.0, np.array([0.3, 5.0, 1e5])), 1.0, rtol=1e-14)
    rho = 0.7 / math.sqrt(2.0)
    assert float(Q.kernel(step, 1.0, 2.0, 0.7)) == pytest.approx(2 / math.pi * math.asin(rho), rel=1e-13)
    with pytest.raises(ValueError, match="step"):
        mf.chi1(step, 1.5, 0.1)

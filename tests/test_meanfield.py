"""Mean-field signal propagation and NNGP kernels against mpmath, closed forms, neural-tangents, properties."""

import json
import math
from pathlib import Path

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from statfield import meanfield as mf
from statfield import quadrature as Q
from statfield.activations import from_callable, get_activation

DATA = Path(__file__).parent / "data"
REF = json.loads((DATA / "meanfield_reference.json").read_text())
NT = json.loads((DATA / "neural_tangents_nngp.json").read_text())
RTOL = 1e-10  # accuracy target; measured errors are ~1e-15


# ------------------------------------------------------------------ mpmath reference data
def test_reference_data_is_complete():
    """The stored mpmath data must be the full 30-digit set (a --smoke run must never overwrite it)."""
    assert REF["mpmath_dps"] >= 30
    assert len(REF["fixed_points"]) >= 10 and len(REF["critical"]) >= 4 and len(REF["kernels"]) >= 2
    # the neural-tangents oracle parametrises test_nngp_vs_neural_tangents: an empty list would skip silently
    assert len(NT["cases"]) >= 10 and len(NT["inputs"]) >= 2


@pytest.mark.parametrize("rec", REF["fixed_points"], ids=lambda r: f"{r['activation']}-{r['sigma_w2']}-{r['sigma_b2']}")
def test_fixed_points_vs_mpmath(rec):
    a, w, b = rec["activation"], rec["sigma_w2"], rec["sigma_b2"]
    assert mf.q_star(a, w, b) == pytest.approx(rec["q_star"], rel=RTOL, abs=1e-300)
    assert mf.chi1(a, w, b) == pytest.approx(rec["chi1"], rel=RTOL)
    assert mf.chi_q(a, w, b) == pytest.approx(rec["chi_q"], rel=RTOL)
    if "c_star" in rec:
        assert mf.c_star(a, w, b) == pytest.approx(rec["c_star"], rel=RTOL, abs=1e-14)
        assert mf.chi_c(a, w, b) == pytest.approx(rec["chi_c"], rel=RTOL)


@pytest.mark.parametrize("rec", REF["critical"], ids=lambda r: f"{r['activation']}-{r['sigma_b2']}")
def test_critical_line_vs_mpmath(rec):
    assert mf.critical_sigma_w2(rec["activation"], rec["sigma_b2"]) == pytest.approx(rec["sigma_w2_c"], rel=RTOL)


@pytest.mark.parametrize("rec", REF["kernels"], ids=lambda r: f"{r['activation']}-{r['q']}-{r['c']}")
def test_quadrature_kernels_vs_mpmath(rec):
    a, q, c = rec["activation"], rec["q"], rec["c"]
    assert float(Q.kernel(a, q, q, q * c)) == pytest.approx(rec["kernel"], rel=1e-12, abs=1e-15)
    assert float(Q.deriv_kernel(a, q, q, q * c)) == pytest.approx(rec["deriv_kernel"], rel=1e-12, abs=1e-15)
    # the Mehler route used by nngp_kernel / c_star agrees with the same mpmath number
    X = np.array([[1.0, 0.0], [c, math.sqrt(1 - c * c)]]) * math.sqrt(2 * q)
    K2 = mf.nngp_kernel(a, 1.0, 0.0, X, 2)   # K^(1) has variances q and correlation c
    assert K2[0, 1] == pytest.approx(rec["kernel"], rel=1e-12, abs=1e-15)


# ------------------------------------------------------------------ closed form vs quadrature vs mpmath
def _mp_e1(f, q):
    with mp.workdps(25):
        s = mp.sqrt(q)
        return float(mp.quad(lambda z: f(s * z) * mp.exp(-z * z / 2), [-mp.inf, 0, mp.inf]) / mp.sqrt(2 * mp.pi))


def _mp_piecewise_kernel(ap, am, q1, q2, c):
    """E[phi(u)phi(v)] for phi = a+ x theta(x) + a- x theta(-x): outer mpmath.quad, inner exact Gaussian.

    Given z1, v ~ N(m, s^2) and E[v theta(v)] = m Phi(m/s) + s pdf(m/s), E[v theta(-v)] = m - E[v theta(v)].
    """
    with mp.workdps(20):
        q1, q2, c = mp.mpf(q1), mp.mpf(q2), mp.mpf(c)
        rho = c / mp.sqrt(q1 * q2)
        s = mp.sqrt(q2 * (1 - rho**2))

        def inner(z1):
            m = mp.sqrt(q2) * rho * z1
            pos = m * mp.ncdf(m / s) + s * mp.npdf(m / s)
            return ap * pos + am * (m - pos)

        def f(z1):
            u = mp.sqrt(q1) * z1
            return (ap if u > 0 else am) * u * inner(z1) * mp.npdf(z1)

        return float(mp.quad(f, [-mp.inf, 0, mp.inf]))


@pytest.mark.parametrize("name,ap,am", [("linear", 1.0, 1.0), ("relu", 1.0, 0.0), ("leaky_relu_0.1", 1.0, 0.1)])
@pytest.mark.parametrize("q1,q2,c", [(1.0, 1.0, 0.3), (0.7, 2.1, -0.5), (2.0, 0.5, 0.99)])
def test_piecewise_linear_closed_form_vs_mpmath(name, ap, am, q1, q2, c):
    act = get_activation(name)
    assert float(act.kernel(q1, q2, c)) == pytest.approx(_mp_piecewise_kernel(ap, am, q1, q2, c), rel=1e-13)


@pytest.mark.parametrize("name", ["erf", "gelu"])
@pytest.mark.parametrize("q", [0.05, 1.0, 6.0])
def test_smooth_closed_forms_vs_quadrature_vs_mpmath(name, q):
    act = get_activation(name)
    f_np = act.numpy
    mp_f = {"erf": mp.erf, "gelu": lambda x: x * mp.ncdf(x)}[name]
    closed = mf.qmap(act, 1.0, 0.0, q)
    quad = Q.expect(lambda x: f_np(x) ** 2, q)
    ref = _mp_e1(lambda x: mp_f(x) ** 2, q)
    assert closed == pytest.approx(ref, rel=1e-13)
    assert quad == pytest.approx(ref, rel=1e-13)
    # chi_q from the closed-form derivative vs Stein quadrature E[phi'^2 + phi phi'']
    dq = Q.expect(lambda x: act.derivative(x, np) ** 2 + f_np(x) * act.second_derivative(x, np), q)
    assert mf._moments(act, np.array(q))[2] == pytest.approx(dq, rel=1e-12)


def test_erf_critical_line_closed_form():
    q = np.array([0.0, 0.1, 1.0, 3.0])
    w, b = mf.critical_line("erf", q)
    np.testing.assert_allclose(w, np.pi / 4 * np.sqrt(1 + 4 * q), rtol=1e-15)
    np.testing.assert_allclose(b, q - 0.5 * np.sqrt(1 + 4 * q) * np.arcsin(2 * q / (1 + 2 * q)), rtol=1e-13, atol=1e-16)
    np.testing.assert_allclose(mf.critical_sigma_w2("erf", b[1:]), w[1:], rtol=1e-12)
    assert mf.critical_sigma_w2("erf", 0.0) == pytest.approx(np.pi / 4, rel=1e-15)


def test_closed_form_fixed_points():
    assert mf.q_star("linear", 0.5, 0.1) == pytest.approx(0.1 / 0.5, rel=1e-15)
    assert mf.q_star("relu", 1.5, 0.05) == pytest.approx(0.05 / (1 - 0.75), rel=1e-15)
    assert mf.q_star("linear", 0.5, 0.0) == 0.0
    assert mf.critical_sigma_w2("relu", 0.3) == 2.0 and mf.critical_sigma_w2("linear", 0.0) == 1.0
    assert mf.critical_sigma_w2("leaky_relu_0.1", 0.0) == pytest.approx(2 / 1.01, rel=1e-15)
    assert mf.critical_sigma_w2("tanh", 0.0) == pytest.approx(1.0, rel=1e-15)
    # tanh without bias: q* = 0 is stable for sigma_w2 < 1 (chi1 = sigma_w2), skipped when unstable
    assert mf.q_star("tanh", 0.8, 0.0) == 0.0 and mf.chi1("tanh", 0.8, 0.0) == pytest.approx(0.8)
    assert mf.q_star("tanh", 1.5, 0.0) > 0.1


def test_chi_q_stein_vs_score_vs_finite_difference():
    """Three ways: Stein (registry phi''), score identity (callable without phi''), central difference."""
    w, b = 1.7, 0.2
    stein = mf.chi_q("tanh", w, b)
    user = from_callable(np.tanh, deriv=lambda x: 1 - np.tanh(x) ** 2, name="tanh_user")
    score = mf.chi_q(user, w, b)
    q = mf.q_star("tanh", w, b)
    h = 1e-5
    fd = (mf.qmap("tanh", w, b, q + h) - mf.qmap("tanh", w, b, q - h)) / (2 * h)
    assert score == pytest.approx(stein, rel=1e-12)
    assert fd == pytest.approx(stein, rel=1e-8)


# ------------------------------------------------------------------ neural-tangents oracle
@pytest.mark.parametrize("case", NT["cases"], ids=lambda c: f"{c['activation']}-{c['sigma_w2']}")
def test_nngp_vs_neural_tangents(case):
    X = np.array(NT["inputs"])
    R = np.array(case["K"])
    for depth in range(1, 6):
        K = mf.nngp_kernel(case["activation"], case["sigma_w2"], case["sigma_b2"], X, depth)
        np.testing.assert_allclose(K, R[depth - 1], rtol=1e-12, atol=1e-14 * np.abs(R[depth - 1]).max())
        d = mf.nngp_kernel(case["activation"], case["sigma_w2"], case["sigma_b2"], X, depth, diagonal=True)
        np.testing.assert_allclose(d, np.diagonal(R[depth - 1]), rtol=1e-12)


@pytest.mark.parametrize("name", ["tanh", "silu"])
def test_nngp_mehler_vs_direct_quadrature(name):
    """No closed form: Mehler series (nngp_kernel) vs pairwise 2-D trapezoid, including x and -x (rho = -1)."""
    X = np.array(NT["inputs"])
    w, b = 2.0, 0.1
    K2 = mf.nngp_kernel(name, w, b, X, 2)
    K3 = mf.nngp_kernel(name, w, b, X, 3)
    d = np.diagonal(K2)
    direct = b + w * Q.expect2(get_activation(name).numpy, get_activation(name).numpy,
                               d[:, None], d[None, :], np.clip(K2, -np.sqrt(np.outer(d, d)), np.sqrt(np.outer(d, d))))
    np.testing.assert_allclose(K3, direct, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(np.diagonal(K3), mf.nngp_kernel(name, w, b, X, 3, diagonal=True), rtol=1e-13)


def test_nngp_first_layer_and_input_checks():
    X = np.array(NT["inputs"])
    np.testing.assert_allclose(mf.nngp_kernel("tanh", 1.3, 0.2, X, 1), 0.2 + 1.3 * X @ X.T / 5, rtol=1e-14, atol=1e-16)
    with pytest.raises(ValueError, match="depth"):
        mf.nngp_kernel("tanh", 1.3, 0.2, X, 0)
    with pytest.raises(ValueError, match="X must be"):
        mf.nngp_kernel("tanh", 1.3, 0.2, X[0], 2)
    with pytest.raises(ValueError, match="X must be finite"):
        mf.nngp_kernel("tanh", 1.3, 0.2, X * np.nan, 2)


# ------------------------------------------------------------------ properties (hypothesis)
ACTS = ["tanh", "erf", "gelu", "silu", "relu", "leaky_relu_0.1"]


@settings(max_examples=25, deadline=None, derandomize=True)
@given(a=st.sampled_from(ACTS), w=st.floats(0.1, 4.0), b=st.floats(0.0, 1.0), q1=st.floats(0.0, 20.0),
       dq=st.floats(1e-3, 20.0))
def test_qmap_monotone_in_q(a, w, b, q1, dq):
    assert mf.qmap(a, w, b, q1 + dq) > mf.qmap(a, w, b, q1)


@settings(max_examples=15, deadline=None, derandomize=True)
@given(a=st.sampled_from(["tanh", "erf"]), b=st.one_of(st.just(0.0), st.floats(1e-8, 2.0)))
def test_chi1_is_one_on_the_critical_line(a, b):
    w = mf.critical_sigma_w2(a, b)
    assert mf.chi1(a, w, b) == pytest.approx(1.0, abs=1e-10)


@pytest.mark.parametrize("a", ["gelu", "silu"])
def test_gelu_silu_critical_point_stability(a):
    """GELU/SiLU: at small sigma_b2 the chi1 = 1 fixed point is q-unstable (no transition): documented error."""
    for b in (0.0, 0.01, 0.1):
        with pytest.raises(ValueError, match="no order-chaos transition"):
            mf.critical_sigma_w2(a, b)
    for b in (1.0, 2.0):
        w = mf.critical_sigma_w2(a, b)
        assert mf.chi1(a, w, b) == pytest.approx(1.0, abs=1e-10)
        assert mf.chi_q(a, w, b) < 1.0


@settings(max_examples=25, deadline=None, derandomize=True)
@given(w=st.floats(0.01, 10.0), b=st.floats(0.0, 5.0))
def test_relu_chi1_is_half_sigma_w2(w, b):
    assert mf.chi1("relu", w, b) == pytest.approx(w / 2, rel=1e-15)


@settings(max_examples=12, deadline=None, derandomize=True)
@given(a=st.sampled_from(ACTS), w=st.floats(0.2, 1.9), b=st.floats(0.0, 1.0), c=st.floats(-1.0, 1.0))
def test_cmap_maps_interval_and_fixes_one(a, w, b, c):
    out = mf.cmap(a, w, b, c)
    assert -1.0 <= out <= 1.0
    assert mf.cmap(a, w, b, 1.0) == pytest.approx(1.0, abs=1e-12)


# ------------------------------------------------------------------ two-input consistency, phases
def test_c_star_is_a_fixed_point_of_cmap_in_the_chaotic_phase():
    for a, w, b in [("tanh", 2.5, 0.1), ("tanh", 1.6, 0.01), ("erf", 2.5, 0.3)]:
        cs = mf.c_star(a, w, b)
        assert 0.0 <= cs < 1.0
        assert mf.cmap(a, w, b, cs) == pytest.approx(cs, abs=1e-12)
        # chi_c is the slope of the c-map at c* (central difference of the 2-D quadrature map)
        h = 1e-5
        slope = (mf.cmap(a, w, b, cs + h) - mf.cmap(a, w, b, cs - h)) / (2 * h)
        assert mf.chi_c(a, w, b) == pytest.approx(slope, rel=1e-7)
        assert mf.phase(a, w, b) == "chaotic"


def test_ordered_phase_and_depth_scales():
    r = mf.mean_field("tanh", 1.2, 0.2)
    assert r.phase == "ordered" and r.c_star == 1.0 and r.chi_c == r.chi1
    assert r.xi_c == pytest.approx(-1 / math.log(r.chi1), rel=1e-15)
    assert r.xi_q == pytest.approx(-1 / math.log(r.chi_q), rel=1e-15)
    # ReLU at the He point: marginal, critical, infinite depth scales; q* undefined
    assert mf.chi1("relu", 2.0, 0.0) == 1.0 and mf.c_star("relu", 2.0, 0.0) == 1.0
    assert mf.depth_scales("relu", 2.0, 0.0) == (math.inf, math.inf)
    assert mf.phase("relu", 2.0, 0.0) == "critical"
    assert mf.phase("relu", 3.0, 0.1) == "unbounded" and mf.phase("silu", 8.0, 0.1) == "unbounded"
    assert list(mf.phase("tanh", np.array([0.5, 2.5]), 0.1)) == ["ordered", "chaotic"]
    with pytest.raises(ValueError, match="marginal"):
        mf.q_star("relu", 2.0, 0.0)


def test_arrays_broadcast():
    w = np.array([1.2, 1.5, 2.5])
    q = mf.q_star("tanh", w, 0.1)
    assert q.shape == (3,)
    np.testing.assert_allclose(q, [mf.q_star("tanh", x, 0.1) for x in w], rtol=1e-15)
    np.testing.assert_allclose(mf.c_star("tanh", w, 0.1), [mf.c_star("tanh", x, 0.1) for x in w], rtol=1e-14)
    assert isinstance(mf.chi1("tanh", 1.5, 0.1), float)


def test_phase_diagram_matches_scalar_api(tmp_path):
    w = np.linspace(0.6, 3.0, 9)
    b = np.linspace(0.0, 0.4, 7)
    pd = mf.phase_diagram("tanh", w, b)
    assert pd.q_star.shape == (7, 9)
    for i in (0, 6):
        for j in (0, 4, 8):
            assert pd.q_star[i, j] == pytest.approx(mf.q_star("tanh", w[j], b[i]), rel=1e-13, abs=1e-300)
            assert pd.chi1[i, j] == pytest.approx(mf.chi1("tanh", w[j], b[i]), rel=1e-13)
            assert pd.c_star[i, j] == pytest.approx(mf.c_star("tanh", w[j], b[i]), rel=1e-12, abs=1e-14)
            assert pd.xi_c[i, j] == pytest.approx(mf.depth_scales("tanh", w[j], b[i])[1], rel=1e-10)
            assert pd.phase[i, j] == mf.phase("tanh", w[j], b[i])
    assert set(pd.phase.ravel()) == {"ordered", "chaotic"}
    path = tmp_path / "pd.png"
    pd.plot(path)
    assert path.stat().st_size > 1000
    relu = mf.phase_diagram("relu", np.array([1.0, 2.0, 3.0]), np.array([0.0, 0.1]))
    assert list(relu.phase[1]) == ["ordered", "unbounded", "unbounded"]
    assert relu.phase[0, 1] == "critical" and np.isnan(relu.q_star[1, 2])


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize("fn", [mf.q_star, mf.chi1, mf.chi_q, mf.c_star, mf.chi_c, mf.depth_scales])
def test_bad_variances(fn):
    with pytest.raises(ValueError, match="sigma_w2"):
        fn("tanh", 0.0, 0.1)
    with pytest.raises(ValueError, match="sigma_w2"):
        fn("tanh", np.nan, 0.1)
    with pytest.raises(ValueError, match="sigma_b2"):
        fn("tanh", 1.0, -0.1)
    with pytest.raises(ValueError, match="sigma_b2"):
        fn("tanh", 1.0, np.inf)


def test_no_fixed_point_errors():
    with pytest.raises(ValueError, match="sigma_w2 must be < 1"):
        mf.q_star("linear", 1.5, 0.1)
    with pytest.raises(ValueError, match="sigma_w2 must be < 2"):
        mf.q_star("relu", 3.0, 0.0)
    with pytest.raises(ValueError, match="sigma_w2 must be < 2"):
        mf.c_star("relu", 2.5, 0.1)
    with pytest.raises(ValueError, match="no stable fixed point"):
        mf.q_star("silu", 8.0, 0.1)
    with pytest.raises(ValueError, match="c must lie"):
        mf.cmap("tanh", 1.0, 0.1, 1.5)
    with pytest.raises(ValueError, match="sigma_b2"):
        mf.critical_sigma_w2("tanh", -1.0)
    for bad_q in (-1.0, np.nan, np.inf):  # non-finite q used to fail deep in the quadrature without naming q
        with pytest.raises(ValueError, match="q must be finite"):
            mf.qmap("tanh", 1.0, 0.1, bad_q)


def test_kinked_user_activation_is_exact_and_undeclared_kinks_are_flagged():
    """|x| - 1/2: kinks detected and integrated piecewise (exact); declared smooth, the error estimate warns."""
    kinked = from_callable(lambda x: np.abs(x) - 0.5, deriv=np.sign, name="abs")
    assert kinked.kinks == (0.0,)
    q = np.array([0.01, 0.7, 3.0, 1e4])
    m = q - np.sqrt(2 * q / np.pi) + 0.25
    np.testing.assert_allclose(mf.qmap(kinked, 1.0, 0.0, q), m, rtol=1e-14)
    qs = mf.q_star(kinked, 0.5, 0.1)
    assert qs == pytest.approx(0.5 * (qs - np.sqrt(2 * qs / np.pi) + 0.25) + 0.1, rel=1e-13)
    smooth = from_callable(lambda x: np.abs(x) - 0.5, deriv=np.sign, name="abs_nokinks", kinks=(), jumps=())
    with pytest.warns(Q.QuadratureWarning):
        mf.q_star(smooth, 0.5, 0.1)

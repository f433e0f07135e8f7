"""NNGP and NTK kernels: neural-tangents oracle, cross kernels, quadrature route, overflow and budget rules."""

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from statfield import kernels as KR
from statfield import meanfield as mf
from statfield import quadrature as Q
from statfield.activations import Activation, from_callable, get_activation

DATA = Path(__file__).resolve().parents[1] / "data"
NTK = json.loads((DATA / "neural_tangents_ntk.json").read_text())
X6 = np.array(NTK["inputs"])
X3 = np.array(NTK["inputs2"])


def test_ntk_reference_data_is_complete():
    assert len(NTK["cases"]) == 10 and X6.shape == (6, 5) and X3.shape == (3, 5)
    names = {c["activation"] for c in NTK["cases"]}
    assert names == {"linear", "relu", "erf", "gelu", "leaky_relu_0.1"}
    assert all(len(c["Theta"]) == 5 and len(c["Theta_cross"]) == 5 for c in NTK["cases"])


def _close(A, R):
    np.testing.assert_allclose(A, R, rtol=1e-12, atol=1e-14 * np.abs(R).max())


@pytest.mark.parametrize("case", NTK["cases"], ids=lambda c: f"{c['activation']}-{c['sigma_w2']}")
def test_ntk_and_nngp_vs_neural_tangents(case):
    a, w, b = case["activation"], case["sigma_w2"], case["sigma_b2"]
    for depth in range(1, 6):
        _close(mf.ntk_kernel(a, w, b, X6, depth), np.array(case["Theta"][depth - 1]))
        _close(mf.nngp_kernel(a, w, b, X6, depth), np.array(case["K"][depth - 1]))
        _close(mf.ntk_kernel(a, w, b, X6[:2], depth, X2=X3), np.array(case["Theta_cross"][depth - 1]))
        _close(mf.nngp_kernel(a, w, b, X6[:2], depth, X2=X3), np.array(case["K_cross"][depth - 1]))


@pytest.mark.parametrize("name", ["relu", "erf", "tanh", "silu"])
def test_cross_kernel_is_the_block_of_the_concatenated_kernel(name):
    Xall = np.concatenate([X6, X3])
    for fn in (mf.nngp_kernel, mf.ntk_kernel):
        full = fn(name, 1.8, 0.1, Xall, 4)
        cross = fn(name, 1.8, 0.1, X6, 4, X2=X3)
        assert cross.shape == (6, 3)
        np.testing.assert_allclose(cross, full[:6, 6:], rtol=1e-13, atol=1e-15 * np.abs(full).max())
        assert np.array_equal(full, full.T)


@pytest.mark.parametrize("name", ["tanh", "silu"])
def test_ntk_mehler_vs_direct_quadrature(name):
    """No closed form: Theta^3 from the Mehler route vs one step of the recursion with 2-D trapezoid sums."""
    act = get_activation(name)
    w, b = 2.0, 0.1
    K2 = mf.nngp_kernel(name, w, b, X6, 2)
    T2 = mf.ntk_kernel(name, w, b, X6, 2)
    d = np.diagonal(K2)
    s = np.sqrt(np.outer(d, d))
    dphi = lambda x: act.derivative(x, np)
    Ed = Q.expect2(dphi, dphi, d[:, None], d[None, :], np.clip(K2, -s, s))
    K3 = mf.nngp_kernel(name, w, b, X6, 3)
    np.testing.assert_allclose(mf.ntk_kernel(name, w, b, X6, 3), K3 + w * Ed * T2, rtol=1e-12, atol=1e-14)


def test_ntk_relu_closed_form_by_hand():
    """ReLU, two inputs: Theta^2 = K^2 + sigma_w2 (pi - theta)/(2 pi) K^1 (arc-cosine kernel of order 0)."""
    X = np.array([[1.0, 0.0], [0.6, 0.8]])
    w, b = 2.0, 0.0
    K1 = w * X @ X.T / 2
    th = np.arccos(0.6)
    Edot = (np.pi - th) / (2 * np.pi)
    T = mf.ntk_kernel("relu", w, b, X, 2)
    K2 = mf.nngp_kernel("relu", w, b, X, 2)
    assert T[0, 1] == pytest.approx(K2[0, 1] + w * Edot * K1[0, 1], rel=1e-14)
    assert T[0, 0] == pytest.approx(K2[0, 0] + w * 0.5 * K1[0, 0], rel=1e-14)


def test_ntk_needs_a_derivative():
    bare = Activation(name="mytanh", fn=lambda x, xp: xp.tanh(x))          # no phi', no SymPy form
    with pytest.raises(ValueError, match="mytanh"):
        mf.ntk_kernel(bare, 1.5, 0.1, X6, 3)
    # with a derivative it works and equals the registry tanh
    user2 = from_callable(np.tanh, deriv=lambda x: 1 - np.tanh(x) ** 2, name="mytanh2")
    np.testing.assert_allclose(mf.ntk_kernel(user2, 1.5, 0.1, X6, 3), mf.ntk_kernel("tanh", 1.5, 0.1, X6, 3),
                               rtol=1e-13)


def test_kernel_input_checks():
    with pytest.raises(ValueError, match="X2 must have the same number of columns"):
        mf.ntk_kernel("relu", 1.5, 0.1, X6, 2, X2=np.ones((2, 3)))
    with pytest.raises(ValueError, match="X2 must be finite"):
        mf.nngp_kernel("relu", 1.5, 0.1, X6, 2, X2=X3 * np.nan)
    with pytest.raises(ValueError, match="diagonal"):
        mf.nngp_kernel("relu", 1.5, 0.1, X6, 2, diagonal=True, X2=X3)
    with pytest.raises(ValueError, match="scalar"):
        mf.ntk_kernel("relu", [1.5, 2.0], 0.1, X6, 2)
    with pytest.raises(ValueError, match="depth"):
        mf.ntk_kernel("relu", 1.5, 0.1, X6, 0)


# ------------------------------------------------------------------ deep chaos, huge inputs, huge depth
@pytest.mark.parametrize("name", ["relu", "linear", "gelu"])
def test_deep_chaotic_kernel_raises_overflow_naming_the_layer(name):
    X = X6[:3]
    for fn in (mf.nngp_kernel, mf.ntk_kernel):
        with pytest.raises(OverflowError, match=r"layer \d+"):
            fn(name, 4.0, 0.0, X, 2000)
    with pytest.raises(OverflowError, match=r"layer \d+"):
        mf.nngp_kernel(name, 4.0, 0.0, X, 2000, diagonal=True)


def test_huge_inputs_raise_overflow():
    with pytest.raises(OverflowError, match="layer 1"):
        mf.nngp_kernel("tanh", 1.5, 0.1, X6 * 1e200, 3)
    with pytest.raises(OverflowError, match="layer 1"):
        mf.ntk_kernel("erf", 1.5, 0.1, X6[:2] * 1e160, 3, X2=X3)


def test_exact_fixed_point_stops_the_iteration():
    """Ordered phase: the kernel reaches its fixed point bit for bit; depth 10**6 then costs nothing more."""
    for name in ("tanh", "erf", "relu"):
        deep = mf.nngp_kernel(name, 1.2, 0.1, X6, 10**6)
        assert np.array_equal(deep, mf.nngp_kernel(name, 1.2, 0.1, X6, 3000))
        np.testing.assert_allclose(deep, mf.q_star(name, 1.2, 0.1), rtol=1e-13)
    th = mf.ntk_kernel("erf", 1.2, 0.1, X6, 10**6)         # ordered: Theta -> q*/(1 - chi1) everywhere
    np.testing.assert_allclose(th, mf.q_star("erf", 1.2, 0.1) / (1 - mf.chi1("erf", 1.2, 0.1)), rtol=1e-12)
    d = mf.nngp_kernel("tanh", 1.2, 0.1, X6, 10**7, diagonal=True)
    np.testing.assert_allclose(d, mf.q_star("tanh", 1.2, 0.1), rtol=1e-14)


def test_huge_depth_without_fixed_point_is_refused_up_front():
    """Criticality (algebraic convergence) and slow geometric growth: refused at once with the time estimate."""
    with pytest.raises(ValueError, match=r"estimated .* s .*criticality"):
        mf.nngp_kernel("relu", 2.0, 0.0, X6, 10**6)
    with pytest.raises(ValueError, match=r"estimated .* s .*no fixed point"):
        mf.ntk_kernel("linear", 1.0 + 1e-9, 0.1, X6, 10**7)
    with pytest.raises(ValueError, match="estimated"):
        mf.nngp_kernel("relu", 2.0, 0.0, X6, 10**8, diagonal=True)


def test_budget_is_configurable(monkeypatch):
    """MAX_SECONDS is the one knob: with a tiny budget even a converging iteration is refused up front."""
    monkeypatch.setattr(KR, "MAX_SECONDS", 1e-9)
    with pytest.raises(ValueError, match="estimated"):
        mf.nngp_kernel("tanh", 1.2, 0.1, X6, 10**6)


def test_large_variance_route_agrees_with_mehler():
    """Above Q_TRAP the graded 2-D rule replaces Mehler's series (nodes ~ log q); both agree where both work."""
    act = get_activation("tanh")
    d = np.array([80.0, 95.0, 120.0])
    C = np.array([[80.0, 30.0, -50.0], [30.0, 95.0, 90.0], [-50.0, 90.0, 120.0]])
    with warnings.catch_warnings():   # phi' = sech^2 at q ~ 100: Mehler's tail just misses 1e-14 at K = 4096
        warnings.simplefilter("ignore", Q.QuadratureWarning)
        mehler = KR._Mehler(act, d, None, True).block(d, d, C, rows=np.arange(3), cols=np.arange(3))
    direct = KR._Direct(act, d, None, True).block(d, d, C)
    np.testing.assert_allclose(direct[0], mehler[0], rtol=1e-11)
    np.testing.assert_allclose(direct[1], mehler[1], rtol=1e-10)
    assert KR._evaluator(act, d, None, True).kind == "direct"

"""Residual networks: mean field, kernels, exact sampler and the 1/N correction (statfield.resnet)."""

import math

import numpy as np
import pytest
from scipy.special import erf

import statfield
from statfield import resnet as rn

X2 = np.array([[1.0, 0.0], [0.6, 0.8]])


def _z(est, pred):
    return (np.asarray(est.value) - pred) / np.asarray(est.stderr)


# ------------------------------------------------------------------ mean field
@pytest.mark.parametrize("sw,sb", [(0.5, 0.0), (1.0, 0.1), (3.0, 0.3)])
def test_relu_variance_growth_closed_form(sw, sb):
    q1, L = 0.7, 12
    l = np.arange(1, L + 1)
    exact = (q1 + 2 * sb / sw) * (1 + sw / 2) ** (l - 1) - 2 * sb / sw
    np.testing.assert_allclose(rn.resnet_q("relu", sw, sb, q1, L), exact, rtol=1e-13)
    np.testing.assert_allclose(rn.resnet_q("relu", sw, sb, q1, L, log=True), np.log(exact), rtol=1e-13)
    x = np.array([[math.sqrt((q1 - sb) / sw)]])        # q^1 = sb + sw x^2 (d_in = 1)
    d = rn.resnet_nngp_kernel("relu", sw, sb, x, L, diagonal=True)
    np.testing.assert_allclose(d, exact[-1], rtol=1e-12)


def test_linear_kernel_is_exact_geometric():
    # phi = z: K^{l+1} = (1 + sw) K^l + sb
    sw, sb, L = 0.4, 0.2, 7
    K1 = sb + sw * X2 @ X2.T / 2
    K = K1.copy()
    for _ in range(L - 1):
        K = (1 + sw) * K + sb
    np.testing.assert_allclose(rn.resnet_nngp_kernel("linear", sw, sb, X2, L), K, rtol=1e-13)


def test_closed_form_and_quadrature_paths_agree():
    act_q = statfield.get_activation(lambda x: erf(x))       # a callable: no closed form, 2-D quadrature
    assert not act_q.has_closed_form("kernel")
    a = rn.resnet_nngp_kernel("erf", 1.3, 0.05, X2, 4)
    b = rn.resnet_nngp_kernel(act_q, 1.3, 0.05, X2, 4)
    np.testing.assert_allclose(a, b, rtol=1e-9)


def test_cross_kernel_is_block_of_joint_kernel():
    Xb = np.array([[0.3, -0.9], [1.2, 0.4], [-0.5, 0.5]])
    K = rn.resnet_nngp_kernel("tanh", 1.1, 0.1, np.vstack([X2, Xb]), 4)
    np.testing.assert_allclose(rn.resnet_nngp_kernel("tanh", 1.1, 0.1, X2, 4, X2=Xb), K[:2, 2:], rtol=1e-12)
    T = rn.resnet_ntk_kernel("relu", 1.1, 0.1, np.vstack([X2, Xb]), 4)
    np.testing.assert_allclose(rn.resnet_ntk_kernel("relu", 1.1, 0.1, X2, 4, X2=Xb), T[:2, 2:], rtol=1e-12)


def test_depth_scaling_bounded_limit():
    # sigma_w2 = c/L, sigma_b2 = b/L: q^L -> (q1 + b/(kc)) e^{kc} - b/(kc); error O(1/L)
    c, b, q1 = 3.0, 0.5, 0.8
    lim = rn.depth_scaled_q_limit("relu", c, q1, b)
    assert lim == pytest.approx((q1 + b / 1.5) * math.exp(1.5) - b / 1.5, rel=1e-14)
    errs = [abs(rn.resnet_q("relu", c / L, b / L, q1, L + 1)[-1] - lim) for L in (100, 1000)]
    assert errs[1] < errs[0] / 5 and errs[1] < 1e-2 * lim
    # the same ODE limit for a smooth activation (numerical ODE) against the discrete recursion
    lt = rn.depth_scaled_q_limit("tanh", c, q1, b)
    assert rn.resnet_q("tanh", c / 400, b / 400, q1, 401)[-1] == pytest.approx(lt, rel=5e-3)


def test_correlation_approaches_one_algebraically():
    sw = 1.0
    l = np.array([1000, 5000])
    _, _, c = rn.resnet_correlation("relu", sw, 0.0, 1.0, 1.0, 0.0, 5000, log=True)
    ratio = (1 - c[l - 1]) / rn.relu_resnet_correlation_asymptote(sw, l)
    assert abs(ratio[1] - 1) < 0.03 and abs(ratio[1] - 1) < abs(ratio[0] - 1)
    # c^l increases monotonically towards 1, never reaches it
    assert np.all(np.diff(c) > 0) and c[-1] < 1


def test_deep_chaotic_overflow_names_layer_and_log_space_is_finite():
    with pytest.raises(OverflowError, match=r"layer \d+"):
        rn.resnet_nngp_kernel("relu", 50.0, 0.1, X2, 400)
    with pytest.raises(OverflowError, match=r"layer \d+"):
        rn.resnet_q("relu", 50.0, 0.1, 1.0, 400)
    lq = rn.resnet_q("relu", 50.0, 0.0, 1.0, 400, log=True)
    assert np.all(np.isfinite(lq)) and lq[-1] == pytest.approx(399 * math.log(26.0), rel=1e-13)
    lq1, _, c = rn.resnet_correlation("relu", 50.0, 0.1, 1.0, 2.0, 0.2, 400, log=True)
    assert np.all(np.isfinite(lq1)) and np.all(np.isfinite(c)) and np.all(np.abs(c) <= 1)
    with pytest.raises(OverflowError, match=r"layer \d+"):
        rn.sample_resnet("relu", 1e6, 0.0, 8, 40, np.ones((1, 1)), 4, seed=0)


@pytest.mark.parametrize("kwargs,match", [({"sigma_w2": 0.0}, "sigma_w2"), ({"sigma_b2": -1.0}, "sigma_b2"),
                                          ({"depth": 0}, "depth"), ({"X": [[np.nan, 1.0]]}, "X")])
def test_bad_input(kwargs, match):
    args = {"activation": "relu", "sigma_w2": 1.0, "sigma_b2": 0.1, "X": X2, "depth": 3, **kwargs}
    with pytest.raises(ValueError, match=match):
        rn.resnet_nngp_kernel(**args)


def test_bad_input_sampler_and_finite_width():
    with pytest.raises(ValueError, match="width"):
        rn.sample_resnet("relu", 1.0, 0.1, 0, 3, X2, 10)
    with pytest.raises(ValueError, match="n_networks"):
        rn.sample_resnet("relu", 1.0, 0.1, 4, 3, X2, 1)
    with pytest.raises(ValueError, match="piecewise-linear"):
        rn.resnet_finite_width_q("tanh", 1.0, 0.1, 1.0, 3)
    with pytest.raises(ValueError, match="c1"):
        rn.resnet_correlation("relu", 1.0, 0.1, 1.0, 1.0, 1.5, 3)


# ------------------------------------------------------------------ exact sampler
def test_sampler_linear_gram_is_exact_at_small_width():
    # phi = z: E[z^T z/N] follows the mean-field recursion exactly at any width
    sw, sb, L = 0.6, 0.2, 5
    s = rn.sample_resnet("linear", sw, sb, 3, L, X2, 20000, seed=11)
    K = rn.resnet_nngp_kernel("linear", sw, sb, X2, L)
    z = _z(s.gram[L - 1], K)
    assert np.all(np.abs(z) < 5), z


def test_sampler_tanh_wide_matches_nngp():
    L = 4
    s = rn.sample_resnet("tanh", 1.5, 0.05, 256, L, X2, 2000, seed=12, max_block_bytes=2**20)
    K = rn.resnet_nngp_kernel("tanh", 1.5, 0.05, X2, L)
    assert np.all(np.abs(_z(s.gram[L - 1], K)) < 5)
    assert s.final_gram.shape == (2000, 2, 2) and s.q.value.shape == (L, 2)


def test_relu_finite_width_mean_is_not_mean_field_but_matches_1_over_N_theory():
    sw, sb, L, N = 1.0, 0.05, 6, 24
    th = rn.resnet_finite_width_q("relu", sw, sb, sb + sw, L)
    s = rn.sample_resnet("relu", sw, sb, N, L, np.ones((1, 1)), 30000, seed=13)
    est = s.q[L - 1]
    assert abs(_z(est, th.mean_q(N)[-1])[0]) < 5                    # leading-order 1/N theory
    assert _z(est, th.q_mf[-1])[0] > 5                              # mean field alone is excluded
    # E q^{l+1} - E q^l = sb + sw E u^l holds exactly (conditional Gaussian increment)
    dq = s.q.value[1:, 0] - s.q.value[:-1, 0]
    se = np.hypot(s.q.stderr[1:, 0], s.q.stderr[:-1, 0]) + sw * s.u.stderr[:-1, 0]
    assert np.all(np.abs(dq - (sb + sw * s.u.value[:-1, 0])) < 5 * se)


def test_finite_width_slope_vanishes_for_linear_and_is_positive_for_relu():
    lin = rn.resnet_finite_width_q("linear", 1.0, 0.1, 1.0, 8)
    assert np.all(lin.slope == 0)
    relu = rn.resnet_finite_width_q("relu", 1.0, 0.1, 1.0, 8)
    assert relu.slope[0] == 0 and relu.slope[1] == 0 and np.all(relu.slope[2:] > 0)


# ------------------------------------------------------------------ NTK
def test_empirical_ntk_first_layer_is_exact_and_mean_matches():
    th, _ = rn.resnet_empirical_ntk("relu", 0.7, 0.2, 16, 1, X2, 3, seed=1)
    np.testing.assert_allclose(th[0], rn.resnet_ntk_kernel("relu", 0.7, 0.2, X2, 1), rtol=1e-13)
    th, _ = rn.resnet_empirical_ntk("relu", 0.5, 0.1, 96, 3, X2, 300, seed=2)
    T = rn.resnet_ntk_kernel("relu", 0.5, 0.1, X2, 3)
    se = th.std(axis=0, ddof=1) / math.sqrt(len(th))
    assert np.all(np.abs((th.mean(axis=0) - T) / se) < 5)

"""Exact one-hidden-layer NTK mean and variance against Monte Carlo (z-tests) and the closed ReLU form."""

import numpy as np
import pytest

from statfield import meanfield as mf
from statfield.sampling.backend import default_rng, get_namespace
from statfield.sampling.ntk import empirical_ntk_observable
from statfield.sampling.runner import block_seed
from statfield.training.finite_width_ntk import one_hidden_layer_ntk_moments

X = np.array([0.8, -0.6, 0.5])


def test_relu_closed_form_and_infinite_width_mean():
    m = one_hidden_layer_ntk_moments("relu", 2.0, 0.1, X, 10)
    q = 0.1 + 2.0 * (X @ X) / 3
    assert m.variance == pytest.approx(3 * 4.0 * q**2 / 10, rel=1e-10)
    assert m.mean == pytest.approx(mf.ntk_kernel("relu", 2.0, 0.1, X[None, :], 2)[0, 0], rel=1e-10)


@pytest.mark.parametrize("act,sw,sb", [("relu", 2.0, 0.1), ("tanh", 1.5, 0.05), ("erf", 1.2, 0.2)])
def test_variance_matches_monte_carlo_at_small_width(act, sw, sb):
    xp = get_namespace("numpy")
    for N in (3, 12):
        vals = np.concatenate([np.asarray(empirical_ntk_observable(default_rng(block_seed(N, b), xp), 4000, act, sw, sb,
                                                                   [N, N], X[None, :], xp)["ntk"])[:, 0, 0]
                               for b in range(2)])
        n = len(vals)
        d = vals - vals.mean()
        s2 = d @ d / (n - 1)
        se = np.sqrt(np.mean(d**4) / n - s2**2 * (n - 3) / (n * (n - 1)))
        th = one_hidden_layer_ntk_moments(act, sw, sb, X, N)
        assert abs(s2 - th.variance) < 5 * se, (act, N, s2, th.variance, se)
        assert abs(vals.mean() - th.mean) < 5 * np.sqrt(s2 / n)


def test_leading_order_variance_closed_forms():
    from statfield.training.finite_width_ntk import ntk_variance_leading_order

    # ReLU at criticality, sigma_b2 = 0: Theta = L K, N Var/Theta^2 = 3, 58/9, 340/25 for L = 2, 3, 5 (by hand)
    for L, rel in ((2, 3.0), (3, 58 / 9), (5, 340 / 25)):
        r = ntk_variance_leading_order("relu", 2.0, 0.0, L, [1.0, 0.0])
        assert r.relative == pytest.approx(rel, rel=1e-9)
        assert r.theta == pytest.approx(L * 1.0, rel=1e-12)  # K^1 = sigma_w2 |x|^2/d_in = 1
    # depth 2: the exact one-hidden-layer variance; the mean is ntk_kernel at any depth
    lo = ntk_variance_leading_order("tanh", 1.5, 0.05, 2, X)
    assert lo.coefficient == pytest.approx(one_hidden_layer_ntk_moments("tanh", 1.5, 0.05, X, 1).variance, rel=1e-10)
    lo4 = ntk_variance_leading_order("tanh", 1.5, 0.05, 4, X)
    assert lo4.theta == pytest.approx(mf.ntk_kernel("tanh", 1.5, 0.05, X[None, :], 4)[0, 0], rel=1e-9)


def test_leading_order_variance_matches_extrapolated_monte_carlo():
    """N Var Theta(x, x) at N = 16, 32, 64, fitted as C + b/N; the intercept C against the leading-order theory."""
    from statfield.training.finite_width_ntk import ntk_variance_leading_order

    xp = get_namespace("numpy")
    pred = ntk_variance_leading_order("tanh", 1.5, 0.05, 3, X).coefficient
    Ns = np.array([16, 32, 64])
    y, s = [], []
    for N in Ns:
        vals = np.concatenate([np.asarray(empirical_ntk_observable(default_rng(block_seed(5 * N, b), xp), 1500, "tanh",
                                                                   1.5, 0.05, [N] * 3, X[None, :], xp)["ntk"])[:, 0, 0]
                               for b in range(2)])
        n = len(vals)
        d = vals - vals.mean()
        s2 = d @ d / (n - 1)
        y.append(N * s2)
        s.append(N * np.sqrt(np.mean(d**4) / n - s2**2 * (n - 3) / (n * (n - 1))))
    y, s = np.array(y), np.array(s)
    A = np.vander(1.0 / Ns, 2, increasing=True)
    w = 1.0 / s**2
    cov = np.linalg.inv(A.T @ (A * w[:, None]))
    c = cov @ (A.T @ (w * y))
    assert abs(c[0] - pred) < 5 * np.sqrt(cov[0, 0]), (c, pred, np.sqrt(cov[0, 0]))
    assert np.sqrt(cov[0, 0]) < 0.15 * pred  # the test resolves the coefficient to better than 15%


def test_leading_order_mean_shift_against_monte_carlo():
    """E Theta(x, x) = Theta + b/N: N (E Theta - Theta) at N = 8 (40000 networks) against b (tanh, depth 3); b is
    resolved from zero, and vanishes for ReLU (whose single-input mean NTK has no 1/N term)."""
    from statfield.training.finite_width_ntk import ntk_mean_shift_leading_order

    assert abs(ntk_mean_shift_leading_order("relu", 2.0, 0.1, 4, X)) < 1e-7
    b = ntk_mean_shift_leading_order("tanh", 1.5, 0.05, 3, X)
    th = mf.ntk_kernel("tanh", 1.5, 0.05, X[None, :], 3)[0, 0]
    xp = get_namespace("numpy")
    N = 8
    vals = np.concatenate([np.asarray(empirical_ntk_observable(default_rng(block_seed(99, k), xp), 10000, "tanh", 1.5,
                                                               0.05, [N] * 3, X[None, :], xp)["ntk"])[:, 0, 0]
                           for k in range(4)])
    est = N * (vals.mean() - th)
    se = N * vals.std(ddof=1) / np.sqrt(len(vals))
    assert abs(est - b) < 5 * se, (est, b, se)
    assert abs(b) > 3 * se  # the shift is resolved: a zero prediction would be rejected

"""Infinite-width training dynamics (Lee et al. 2019) and the NNGP posterior: closed forms and independent checks."""

import numpy as np
import pytest
from scipy.linalg import expm

from statfield import meanfield as mf
from statfield.training import gradient_descent_mse, nngp_posterior, stability_limit

from ._reference import relu_nngp_ntk

SW, SB, L = 2.0, 0.1, 3


def _data(P=6, Ps=3, d=3, seed=0):
    r = np.random.default_rng(seed)
    X = r.normal(size=(P, d))
    Xs = r.normal(size=(Ps, d))
    y = np.sin(X.sum(axis=1))
    return X, y, Xs


def _joint(X, Xs, act="relu", depth=L):
    Xa = np.concatenate([X, Xs])
    K = mf.nngp_kernel(act, SW, SB, Xa, depth)
    T = mf.ntk_kernel(act, SW, SB, Xa, depth)
    return K, T


def test_ntk_kernel_matches_independent_relu_reference():
    X, _, Xs = _data()
    K, T = _joint(X, Xs)
    Kr, Tr = relu_nngp_ntk(SW, SB, np.concatenate([X, Xs]), L)
    np.testing.assert_allclose(K, Kr, rtol=1e-12)
    off = ~np.eye(len(T), dtype=bool)
    np.testing.assert_allclose(T[off], Tr[off], rtol=1e-12)
    # diagonal: theta = arccos(K_aa / sqrt(K_aa K_aa)) loses ~sqrt(eps) when the ratio rounds below 1
    np.testing.assert_allclose(np.diag(T), np.diag(Tr), rtol=1e-8)


def test_t0_is_prior_and_tinf_is_kernel_regression():
    X, y, Xs = _data()
    P = len(X)
    K, T = _joint(X, Xs)
    res = gradient_descent_mse("relu", SW, SB, L, X, y, Xs, [0.0, np.inf])
    assert res.mean.shape == (2, 3) and res.cov.shape == (2, 3, 3)
    np.testing.assert_allclose(res.mean[0], 0.0, atol=1e-14)
    np.testing.assert_allclose(res.cov[0], K[P:, P:], rtol=1e-12, atol=1e-14)
    Tinv = np.linalg.inv(T[:P, :P])
    A = T[P:, :P] @ Tinv
    np.testing.assert_allclose(res.mean[1], A @ y, rtol=1e-9)
    cov = K[P:, P:] + A @ K[:P, :P] @ A.T - A @ K[P:, :P].T - K[P:, :P] @ A.T
    np.testing.assert_allclose(res.cov[1], cov, rtol=1e-8, atol=1e-10)
    # training outputs interpolate the targets exactly, with zero spread; expected loss 0
    np.testing.assert_allclose(res.train_mean[1], y, atol=1e-9)
    np.testing.assert_allclose(res.train_cov[1], 0.0, atol=1e-9)
    assert res.train_loss[1] < 1e-12 and res.train_loss[0] > 0


def _joint_linear_model(X, Xs, y, steps, eta=None, times=None):
    """Mean and covariance of (f(X), f(X*)) by explicitly iterating / exponentiating the linear model."""
    P = len(X)
    K, T = _joint(X, Xs)
    n = K.shape[0]
    A = np.zeros((n, n))
    A[:, :P] = -T[:, :P]  # df/dt = -Theta(., X)(f(X) - y)
    c = T[:, :P] @ y
    out = []
    if eta is not None:
        M = np.eye(n) + eta * A
        m, C = np.zeros(n), K.copy()
        k = 0
        for target in steps:
            while k < target:
                m, C, k = M @ m + eta * c, M @ C @ M.T, k + 1
            out.append((m[P:].copy(), C[P:, P:].copy()))
    else:
        for t in times:  # augmented exponential: d(v, 1)/dt = [[A, c], [0, 0]] (v, 1)
            G = np.zeros((n + 1, n + 1))
            G[:n, :n], G[:n, n] = A, c
            E = expm(G * t)
            m = E[:n, n]
            C = E[:n, :n] @ K @ E[:n, :n].T
            out.append((m[P:], C[P:, P:]))
    return out


def test_discrete_gd_matches_explicit_iteration():
    X, y, Xs = _data()
    eta = 0.5 * stability_limit("relu", SW, SB, L, X)
    steps = [0, 1, 7, 40]
    res = gradient_descent_mse("relu", SW, SB, L, X, y, Xs, steps, learning_rate=eta)
    for i, (m, C) in enumerate(_joint_linear_model(X, Xs, y, steps, eta=eta)):
        np.testing.assert_allclose(res.mean[i], m, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(res.cov[i], C, rtol=1e-9, atol=1e-12)


def test_large_learning_rate_oscillating_but_stable():
    X, y, Xs = _data()
    eta = 0.95 * stability_limit("relu", SW, SB, L, X)  # 1 - eta lambda_max < 0: the top mode oscillates
    res = gradient_descent_mse("relu", SW, SB, L, X, y, Xs, [3, 11], learning_rate=eta)
    for i, (m, C) in enumerate(_joint_linear_model(X, Xs, y, [3, 11], eta=eta)):
        np.testing.assert_allclose(res.mean[i], m, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(res.cov[i], C, rtol=1e-9, atol=1e-12)


def test_gradient_flow_matches_matrix_exponential():
    X, y, Xs = _data()
    times = [0.01, 0.3, 2.0]
    res = gradient_descent_mse("relu", SW, SB, L, X, y, Xs, times)
    for i, (m, C) in enumerate(_joint_linear_model(X, Xs, y, None, times=times)):
        np.testing.assert_allclose(res.mean[i], m, rtol=1e-8, atol=1e-11)
        np.testing.assert_allclose(res.cov[i], C, rtol=1e-8, atol=1e-11)


def test_small_learning_rate_approaches_gradient_flow():
    X, y, Xs = _data()
    t = 1.5
    flow = gradient_descent_mse("relu", SW, SB, L, X, y, Xs, [t])
    errs = []
    for eta in (1e-2, 1e-3):
        gd = gradient_descent_mse("relu", SW, SB, L, X, y, Xs, [round(t / eta)], learning_rate=eta)
        errs.append(np.abs(gd.mean[0] - flow.mean[0]).max())
    assert errs[1] < 0.2 * errs[0]  # first order in eta
    assert errs[1] < 1e-2 * np.abs(flow.mean[0]).max()


def test_depth1_converged_ensemble_is_the_noiseless_posterior():
    """One Dense layer: Theta = K, so the trained ensemble at t = inf is the exact GP posterior."""
    X, y, Xs = _data(P=3, d=4)
    res = gradient_descent_mse("relu", SW, SB, 1, X, y, Xs, np.inf)
    post = nngp_posterior("relu", SW, SB, 1, X, y, Xs)
    np.testing.assert_allclose(res.mean[0], post.mean, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(res.cov[0], post.cov, rtol=1e-7, atol=1e-10)


def test_posterior_closed_form_and_noise():
    X, y, Xs = _data()
    P = len(X)
    K, _ = _joint(X, Xs)
    s2 = 0.3
    post = nngp_posterior("relu", SW, SB, L, X, y, Xs, noise_variance=s2)
    A = K[:P, :P] + s2 * np.eye(P)
    np.testing.assert_allclose(post.mean, K[P:, :P] @ np.linalg.solve(A, y), rtol=1e-10)
    np.testing.assert_allclose(post.cov, K[P:, P:] - K[P:, :P] @ np.linalg.solve(A, K[P:, :P].T), rtol=1e-9,
                               atol=1e-12)
    _sign, logdet = np.linalg.slogdet(2 * np.pi * A)
    assert post.log_marginal_likelihood == pytest.approx(-0.5 * y @ np.linalg.solve(A, y) - 0.5 * logdet, rel=1e-10)
    # noiseless posterior at the training inputs reproduces the data with zero variance
    at_train = nngp_posterior("relu", SW, SB, L, X, y, X[:2])
    np.testing.assert_allclose(at_train.mean, y[:2], atol=1e-8)
    np.testing.assert_allclose(at_train.cov, 0.0, atol=1e-8)


def test_bad_input():
    X, y, Xs = _data()
    lim = stability_limit("relu", SW, SB, L, X)
    with pytest.raises(ValueError, match="stability limit"):
        gradient_descent_mse("relu", SW, SB, L, X, y, Xs, [10], learning_rate=1.01 * lim)
    Xd = np.concatenate([X, X[:1]])
    yd = np.concatenate([y, y[:1] + 1.0])
    with pytest.raises(ValueError, match="ridge"):
        gradient_descent_mse("relu", SW, SB, L, Xd, yd, Xs, [np.inf])
    ok = gradient_descent_mse("relu", SW, SB, L, Xd, yd, Xs, [5.0, np.inf], ridge=1e-3)
    assert np.all(np.isfinite(ok.mean)) and np.all(np.isfinite(ok.cov))
    fin = gradient_descent_mse("relu", SW, SB, L, Xd, yd, Xs, [5.0])  # finite t is defined without a ridge
    assert np.all(np.isfinite(fin.mean))
    with pytest.raises(ValueError, match="noise_variance"):
        nngp_posterior("relu", SW, SB, L, Xd, yd, Xs)
    Xn = X.copy()
    Xn[0, 0] = np.nan
    for kw, name in (({"X_train": Xn}, "X_train"), ({"y_train": np.full_like(y, np.nan)}, "y_train"),
                     ({"X_test": np.full_like(Xs, np.nan)}, "X_test")):
        args = {"X_train": X, "y_train": y, "X_test": Xs}
        args.update(kw)
        with pytest.raises(ValueError, match=name):
            gradient_descent_mse("relu", SW, SB, L, t=[1.0], **args)
        with pytest.raises(ValueError, match=name):
            nngp_posterior("relu", SW, SB, L, **args)
    with pytest.raises(ValueError, match="t must"):
        gradient_descent_mse("relu", SW, SB, L, X, y, Xs, [-1.0])
    with pytest.raises(ValueError, match="integer"):
        gradient_descent_mse("relu", SW, SB, L, X, y, Xs, [1.5], learning_rate=0.1 * lim)
    with pytest.raises(ValueError, match="y_train"):
        gradient_descent_mse("relu", SW, SB, L, X, y[:-1], Xs, [1.0])

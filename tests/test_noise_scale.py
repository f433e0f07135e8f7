"""The gradient noise scale B_simple = tr(Sigma)/|G|^2 (statfield.noise_scale)."""

import math

import numpy as np
import pytest

from statfield import noise_scale as ns


def _lin_problem(P=12, scale=0.5, seed=0):
    rng = np.random.default_rng(seed)
    wbar = rng.standard_normal(P)
    return wbar + scale * rng.standard_normal(P), wbar


def test_linear_regression_exact_formula():
    w, wbar = _lin_problem()
    P, d2, s2 = w.size, float(np.sum((w - wbar) ** 2)), 0.3
    B, G2, tr = ns.linear_regression_noise_scale(w, wbar, s2, return_parts=True)
    assert B == pytest.approx(P + 1 + s2 * P**2 / d2, rel=1e-14)
    assert G2 == pytest.approx(d2 / P**2, rel=1e-14) and tr == pytest.approx((P + 1) * d2 / P**2 + s2, rel=1e-14)
    # noiseless labels: B = P + 1 for any w != wbar
    assert ns.linear_regression_noise_scale(w, wbar, 0.0) == pytest.approx(P + 1, rel=1e-14)


@pytest.mark.parametrize("s2", [0.0, 0.3])
def test_linear_regression_monte_carlo(s2):
    w, wbar = _lin_problem()
    B, G2, tr = ns.linear_regression_noise_scale(w, wbar, s2, return_parts=True)
    e = ns.noise_scale_from_gradients(ns.linear_regression_gradients(w, wbar, s2, 4000, seed=7))
    for est, pred in ((e.G2, G2), (e.tr_sigma, tr), (e.B, B)):
        assert abs(est.z(pred)) < 5, (est, pred)


def test_estimator_equals_explicit_unbiased_formulas_and_jackknife():
    rng = np.random.default_rng(1)
    g = rng.standard_normal((30, 5)) + 0.4
    e = ns.noise_scale_from_gradients(g)
    D = len(g)
    tr = np.trace(np.cov(g.T, ddof=1))
    G2 = float(np.sum(g.mean(0) ** 2)) - tr / D
    assert e.tr_sigma.value == pytest.approx(tr, rel=1e-12) and e.G2.value == pytest.approx(G2, rel=1e-12)
    # delete-one jackknife by brute force
    reps = []
    for k in range(D):
        gk = np.delete(g, k, axis=0)
        t = np.trace(np.cov(gk.T, ddof=1))
        reps.append(t / (float(np.sum(gk.mean(0) ** 2)) - t / (D - 1)))
    reps = np.array(reps)
    se = math.sqrt((D - 1) / D * np.sum((reps - reps.mean()) ** 2))
    assert e.B.stderr == pytest.approx(se, rel=1e-10)
    assert e.B_jackknife == pytest.approx(D * e.B.value - (D - 1) * reps.mean(), rel=1e-10)


def test_population_noise_scale_matches_explicit_gradients():
    rng = np.random.default_rng(2)
    g = rng.standard_normal((9, 6)) + 0.3
    B, G2, tr = ns.population_noise_scale(g @ g.T)
    G = g.mean(0)
    assert G2 == pytest.approx(G @ G, rel=1e-12)
    assert tr == pytest.approx(np.trace(np.cov(g.T, ddof=0)), rel=1e-12)
    assert B == pytest.approx(tr / G2, rel=1e-12)


def test_infinite_width_expectation_formula_by_gp_sampling():
    X, y = np.random.default_rng(3).standard_normal((6, 3)), np.linspace(-1, 1, 6)
    inf = ns.infinite_width_noise_scale("relu", 2.0, 0.1, 2, X, y, n_gp_samples=0)
    rng = np.random.default_rng(4)
    L = np.linalg.cholesky(inf.K + 1e-12 * np.eye(6))
    r = rng.standard_normal((40000, 6)) @ L.T - y
    _, G2, tr = ns.population_noise_scale(r[:, :, None] * r[:, None, :] * inf.Theta)
    for x, pred in ((G2, inf.G2), (tr, inf.tr_sigma)):
        assert abs((x.mean() - pred) / (x.std(ddof=1) / math.sqrt(x.size))) < 5


def test_wide_network_matches_infinite_width():
    X = np.random.default_rng(3).standard_normal((6, 4))
    X *= 2 / np.linalg.norm(X, axis=1, keepdims=True)
    y = np.tanh(X[:, 0] + X[:, 1])
    inf = ns.infinite_width_noise_scale("relu", 2.0, 0.1, 2, X, y, n_gp_samples=50000, seed=1)
    r = ns.network_noise_scale("relu", 2.0, 0.1, 256, 2, X, y, 300, seed=5)
    assert abs(r.ratio_of_means.z(inf.ratio_of_means)) < 5
    assert abs(r.mean_G2.z(inf.G2)) < 5 and abs(r.mean_tr_sigma.z(inf.tr_sigma)) < 5
    diff = r.mean_B.value - inf.mean_B.value
    assert abs(diff) < 5 * math.hypot(r.mean_B.stderr, inf.mean_B.stderr)
    rr = ns.network_noise_scale("relu", 0.5, 0.1, 128, 3, X, y, 200, seed=6, residual=True)
    ir = ns.infinite_width_noise_scale("relu", 0.5, 0.1, 3, X, y, n_gp_samples=0, residual=True)
    assert abs(rr.ratio_of_means.z(ir.ratio_of_means)) < 5


def test_bad_input():
    w, wbar = _lin_problem()
    with pytest.raises(ValueError, match="w == wbar"):
        ns.linear_regression_noise_scale(wbar, wbar, 0.1)
    with pytest.raises(ValueError, match="sigma_eps2"):
        ns.linear_regression_noise_scale(w, wbar, -1.0)
    with pytest.raises(ValueError, match="M must"):
        ns.noise_scale_from_gram(np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"\|G\|\^2"):
        ns.noise_scale_from_gram(np.eye(5) - 0.3 * (np.ones((5, 5)) - np.eye(5)))
    with pytest.raises(ValueError, match="y must"):
        ns.network_noise_scale("relu", 1.0, 0.1, 8, 2, np.ones((3, 2)), np.ones(2), 4)
    with pytest.raises(ValueError, match="width"):
        ns.network_noise_scale("relu", 1.0, 0.1, 0, 2, np.ones((3, 2)), np.ones(3), 4)

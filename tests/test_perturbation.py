"""Tests of statfield.perturbation: exact series (Wick), the J_D series, reweighting, adjusted batches."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import sympy as sp
from scipy import integrate

from statfield import perturbation as pt
from statfield.symbolic.perturbation import eps, free_energy_expansion, gaussian_moment, wick_expansion


# ----------------------------------------------------------------------------- Wick / cumulant series
def test_quartic_example_from_the_issue():
    x = sp.Symbol("x")
    series = wick_expansion(x**2, x**4 / 24, [x], [[1]], order=2, return_series=True)
    assert series.coefficients == [1, sp.Rational(-1, 2), sp.Rational(2, 3)]
    assert sp.simplify(pt.wick_expansion(x**2, x**4 / 24, [x], [[1]]) - (1 - eps / 2 + 2 * eps**2 / 3)) == 0


def _mgf_moment(a, cov):
    """Independent route: derivatives of the moment generating function exp(t^T S t / 2) at t = 0."""
    t = sp.symbols(f"t0:{len(a)}")
    T = sp.Matrix(t)
    g = sp.exp((T.T * sp.Matrix(cov) * T)[0, 0] / 2)
    for ti, ai in zip(t, a):
        if ai:
            g = sp.diff(g, ti, ai)
    return sp.simplify(g.subs({ti: 0 for ti in t}))


@pytest.mark.parametrize("a", [(2, 0), (1, 1), (3, 1), (2, 2), (4, 2), (1, 3), (3, 3)])
def test_gaussian_moment_matches_mgf(a):
    s11, s12, s22 = sp.symbols("s11 s12 s22")
    cov = sp.Matrix([[s11, s12], [s12, s22]])
    assert sp.expand(gaussian_moment(a, cov) - _mgf_moment(a, cov)) == 0


def _joint_cumulant_series(O, H, x, order):
    """Independent route for one N(0,1) variable: moments in closed form, series division done numerically."""
    def m(expr):
        p = sp.Poly(sp.expand(expr), x)
        return sum(float(c) * (math.prod(range(k - 1, 0, -2)) if k % 2 == 0 else 0.0)
                   for (k,), c in zip(p.monoms(), p.coeffs()))
    num = [(-1) ** n / math.factorial(n) * m(O * H**n) for n in range(order + 1)]
    den = [(-1) ** n / math.factorial(n) * m(H**n) for n in range(order + 1)]
    out = []
    for n in range(order + 1):
        out.append((num[n] - sum(out[k] * den[n - k] for k in range(n))) / den[0])
    return out


@pytest.mark.parametrize("O,H", [("x**2", "x**4/24"), ("x**4", "x**2/2 + x**4/10"), ("x + x**3", "(x - 1)**2/2")])
def test_wick_series_coefficients_two_routes_and_quadrature(O, H):
    x = sp.Symbol("x")
    O, H = sp.sympify(O, locals={"x": x}), sp.sympify(H, locals={"x": x})
    s = wick_expansion(O, H, [x], [[1]], order=3, return_series=True)
    ref = _joint_cumulant_series(O, H, x, 3)
    assert np.allclose([float(c) for c in s.coefficients], ref, rtol=1e-13, atol=1e-13)
    # against quadrature of the exact perturbed expectation: the truncation error is O(eps^4)
    fO, fH = sp.lambdify(x, O), sp.lambdify(x, H)

    def exact(e):
        w = lambda t: np.exp(-t * t / 2 - e * fH(t))  # noqa: E731
        return (integrate.quad(lambda t: fO(t) * w(t), -np.inf, np.inf, epsabs=0, epsrel=1e-13)[0]
                / integrate.quad(w, -np.inf, np.inf, epsabs=0, epsrel=1e-13)[0])
    errs = [abs(float(s(e)) - exact(e)) for e in (0.02, 0.01)]
    assert 2.0**4 / 2.5 < errs[0] / errs[1] < 2.0**4 * 2.5  # fourth-order truncation error


def test_free_energy_series_and_gibbs_bogoliubov_bound():
    x = sp.Symbol("x")
    F, bound = free_energy_expansion(x**4 / 24, [x], [[1]], order=2)
    assert sp.expand(F - (eps / 8 - eps**2 / 12)) == 0  # <x^4/24> = 1/8, Var = (105 - 9)/576 = 1/6
    assert sp.expand(bound - eps / 8) == 0
    for e in (0.05, 0.5, 2.0):
        Z = integrate.quad(lambda t: np.exp(-t * t / 2 - e * t**4 / 24), -np.inf, np.inf)[0] / math.sqrt(2 * math.pi)
        assert -math.log(Z) <= float(bound.subs(eps, e))
    e = 0.01
    Z = integrate.quad(lambda t: np.exp(-t * t / 2 - e * t**4 / 24), -np.inf, np.inf, epsrel=1e-13)[0]
    assert abs(-math.log(Z / math.sqrt(2 * math.pi)) - float(F.subs(eps, e))) < 5 * e**3


def test_wick_rejects_non_polynomials_and_bad_arguments():
    x, y = sp.symbols("x y")
    with pytest.raises(ValueError, match="polynomial"):
        wick_expansion(sp.exp(x), x**2, [x], [[1]])
    with pytest.raises(ValueError, match="polynomial"):
        wick_expansion(x**2, sp.cos(x), [x], [[1]])
    with pytest.raises(ValueError, match="cov"):
        wick_expansion(x**2, x**2, [x, y], [[1]])
    with pytest.raises(ValueError, match="order"):
        wick_expansion(x**2, x**2, [x], [[1]], order=-1)
    with pytest.raises(TypeError, match="variables"):
        wick_expansion(x**2, x**2, ["x"], [[1]])


# ----------------------------------------------------------------------------- the J_D series
def _toy_kernels():
    from statfield.meanfield import nngp_kernel

    X = np.array([[1.0, 0.0], [0.6, 0.8], [-0.5, 0.9], [0.3, -0.2], [1.1, 0.4]])
    K = nngp_kernel("relu", 1.8, 0.1, X, 3)
    return K[:3, :3], K[3:, :3], K[3:, 3:], np.array([0.5, -1.0, 0.3])


def test_data_series_is_the_taylor_series_of_the_posterior():
    Kd, Kx, Kt, y = _toy_kernels()
    ser = pt.data_series(Kd, Kx, y, order=60, K_test=Kt)
    J_in = 0.5 * ser.radius
    exact = pt.gp_posterior(Kd, Kx, y, J_in, K_test=Kt)
    assert np.allclose(ser.mean(J_in), exact.mean, rtol=1e-12, atol=1e-14)
    assert np.allclose(ser.cov(J_in), exact.cov, rtol=1e-12, atol=1e-14)
    # beyond the radius of convergence the partial sums blow up
    J_out = 1.5 * ser.radius
    far = pt.gp_posterior(Kd, Kx, y, J_out).mean
    assert np.max(np.abs(ser.mean(J_out) - far)) > 1e3 * np.max(np.abs(far))


def test_data_series_equals_wick_expansion_of_the_data_term():
    Kd, Kx, Kt, y = _toy_kernels()
    K = np.block([[Kd, Kx[:1].T], [Kx[:1], Kt[:1, :1]]])
    K = sp.Matrix(K.tolist()).applyfunc(sp.nsimplify)
    f = sp.symbols("f0:4")
    ys = [sp.nsimplify(v) for v in y]
    dH = sum((f[m] - ys[m]) ** 2 for m in range(3)) / 2
    coeffs = wick_expansion(f[3], dH, f, K, order=3, return_series=True).coefficients
    ser = pt.data_series(np.array(K[:3, :3].tolist(), dtype=float), np.array(K[3:, :3].tolist(), dtype=float),
                         y, order=3)
    assert np.allclose([float(c) for c in coeffs], ser.mean_coefficients[:, 0], rtol=1e-10, atol=1e-12)
    c = pt.posterior_mean_series(np.array(K.tolist(), dtype=float), y, test=3, train=[0, 1, 2])
    assert np.allclose(c, ser.mean_coefficients[:3, 0], rtol=1e-12)


def test_posterior_mean_series_four_point_term_on_a_scale_mixture():
    # non-Gaussian symmetric prior: f = s g, g ~ N(0, K), s^2 in {a, b} with probability 1/2 each
    Kd, Kx, Kt, y = _toy_kernels()
    K = np.block([[Kd, Kx[:1].T], [Kx[:1], Kt[:1, :1]]])
    a, b = 0.5, 1.7
    m2, m4 = (a + b) / 2, (a * a + b * b) / 2
    K2 = m2 * K
    pair = np.einsum("ij,kl->ijkl", K, K)
    C4 = (m4 - m2**2) * (pair + pair.transpose(0, 2, 1, 3) + pair.transpose(0, 3, 2, 1))
    c = pt.posterior_mean_series(K2, y, test=3, train=[0, 1, 2], C4=C4)

    def exact(J):
        num = den = 0.0
        for s2 in (a, b):
            Ks = s2 * K
            S = Ks[:3, :3] + np.eye(3) / J
            Z = math.exp(-0.5 * y @ np.linalg.solve(S, y)) / math.sqrt(np.linalg.det(S)) / J ** 1.5
            num += Z * Ks[3, :3] @ np.linalg.solve(S, y)
            den += Z
        return num / den
    h = 1e-3
    vals = np.array([exact(k * h) for k in (1, 2, 3, 4)])
    # fit a cubic through J = h..4h and read off the J and J^2 coefficients (exact function has c0 = 0)
    A = np.vander(h * np.arange(1, 5), 5, increasing=True)[:, 1:]
    coef = np.linalg.solve(A, vals)
    assert np.allclose(coef[:2], c[1:], rtol=1e-5)
    gaussian = pt.posterior_mean_series(K2, y, test=3, train=[0, 1, 2])
    assert abs(gaussian[2] - c[2]) > 1e-3 * abs(c[2])  # the four-point term matters


def test_linear_response_is_the_derivative_of_the_mean():
    Kd, Kx, Kt, y = _toy_kernels()
    R = pt.linear_response(Kd, Kx, 0.7)
    h = 1e-6
    for mu in range(3):
        dy = np.zeros(3)
        dy[mu] = h
        d = (pt.gp_posterior(Kd, Kx, y + dy, 0.7).mean - pt.gp_posterior(Kd, Kx, y - dy, 0.7).mean) / (2 * h)
        assert np.allclose(d, R[:, mu], rtol=1e-7, atol=1e-10)


def test_series_bad_input():
    Kd, Kx, Kt, y = _toy_kernels()
    with pytest.raises(ValueError, match="J_D"):
        pt.gp_posterior(Kd, Kx, y, -1.0)
    with pytest.raises(ValueError, match="y"):
        pt.gp_posterior(Kd, Kx, y[:2], 1.0)
    with pytest.raises(ValueError, match="K_train"):
        pt.gp_posterior(Kd + np.triu(np.ones(3), 1), Kx, y, 1.0)
    with pytest.raises(ValueError, match="K_cross"):
        pt.data_series(Kd, Kx[:, :2], y)
    with pytest.raises(ValueError, match="y"):
        pt.gp_posterior(Kd, Kx, np.array([np.nan, 0, 0]), 1.0)


# ----------------------------------------------------------------------------- reweighting
def test_reweight_gaussian_posterior_z_test():
    rng = np.random.default_rng(11)
    x = rng.standard_normal(200_000)
    a, e = 1.0, 0.8
    r = pt.reweight(a * x * x / 2, {"x2": x * x, "x": x}, eps=e)
    exact = 1.0 / (1.0 + e * a)
    assert abs(r["x2"].z(exact)) < 5
    assert abs(r["x"].z(0.0)) < 5
    assert r.khat is not None and r.khat < 0.5
    assert abs(r.log_Z_ratio - (-0.5 * math.log(1 + e * a))) < 5 * 0.01


def test_reweight_error_bars_are_calibrated():
    rng = np.random.default_rng(5)
    reps, n, e = 300, 2000, 0.6
    exact = 1.0 / (1.0 + e)
    z = []
    for _ in range(reps):
        x = rng.standard_normal(n)
        z.append(pt.reweight(x * x / 2, {"x2": x * x}, eps=e, warn=False)["x2"].z(exact))
    chi2 = float(np.sum(np.square(z)))
    # sum of z^2 ~ chi^2_reps when the error bars are honest: mean reps, sd sqrt(2 reps)
    assert abs(chi2 - reps) < 5 * math.sqrt(2 * reps)


def test_reweight_heavy_tails_warn_and_degenerate_weights_raise():
    rng = np.random.default_rng(3)
    x = rng.standard_normal(20_000)
    with pytest.warns(pt.ReweightingWarning, match="k-hat"):
        r = pt.reweight(-0.45 * x * x, {"x2": x * x}, eps=1.0)  # weights e^{0.45 x^2}: infinite variance
    assert r.khat > 0.7
    with pytest.raises(ValueError, match="effective sample size"):
        pt.reweight(x * 1e4, {"x": x}, eps=1.0)
    with pytest.raises(ValueError, match="delta_H"):
        pt.reweight(np.array([1.0, np.inf, 0.0]), {"x": np.ones(3)})
    with pytest.raises(ValueError, match="observables"):
        pt.reweight(np.zeros(4), {"x": np.ones(3)}, warn=False)
    with pytest.raises(ValueError, match="eps"):
        pt.reweight(np.zeros(4), {"x": np.ones(4)}, eps=-1, warn=False)
    # huge eps * delta_H: log-sum-exp keeps the weights finite
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pt.ReweightingWarning)
        r = pt.reweight(1e6 + x * x / 2, {"x2": x * x}, eps=1.0)  # e^{-1e6} underflows without log-sum-exp
    assert abs(r["x2"].z(0.5)) < 5


def test_psis_khat_recovers_pareto_tails():
    rng = np.random.default_rng(8)
    for k in (0.3, 0.9):
        lw = -k * np.log(rng.uniform(size=20_000))  # Pareto weights with shape k
        assert abs(pt.psis_khat(lw) - k) < 0.15
    with pytest.raises(ValueError, match="log_weights"):
        pt.psis_khat(np.zeros(5))


def test_network_posterior_matches_nngp_posterior_at_large_width():
    from statfield.meanfield import nngp_kernel

    Xd = np.array([[1.0, 0.2], [-0.4, 0.9]])
    Xs = np.array([[0.7, 0.7]])
    y = np.array([0.8, -0.5])
    sw, sb, J = 1.6, 0.2, 1.0
    r = pt.network_posterior("tanh", sw, sb, 256, 2, Xd, y, Xs, J, n_samples=40_000, seed=2)
    K = nngp_kernel("tanh", sw, sb, np.vstack([Xd, Xs]), 2)
    gp = pt.gp_posterior(K[:2, :2], K[2:, :2], y, J, K_test=K[2:, 2:])
    m = r["mean"]
    assert abs((np.asarray(m.value)[0] - gp.mean[0]) / np.asarray(m.stderr)[0]) < 5
    second = gp.cov + np.outer(gp.mean, gp.mean)
    est = r["second_moment"]
    assert abs((est.value[0, 0] - second[0, 0]) / est.stderr[0, 0]) < 5


def test_sample_outputs_prior_covariance_is_the_nngp_kernel():
    from statfield.meanfield import nngp_kernel

    X = np.array([[1.0], [-0.5], [2.0]])
    f = pt.sample_outputs("relu", 2.0, 0.1, 64, 3, X, 30_000, seed=1, block_size=7000)
    K = nngp_kernel("relu", 2.0, 0.1, X, 3)  # E f f^T = K exactly at any width for relu
    prod = f[:, :, None] * f[:, None, :]
    z = (prod.mean(0) - K) / (prod.std(0, ddof=1) / math.sqrt(len(f)))
    assert np.max(np.abs(z)) < 5
    g = pt.sample_outputs("relu", 2.0, 0.1, 64, 3, X, 7000, seed=1, block_size=7000)
    assert np.array_equal(g, f[:7000])


# ----------------------------------------------------------------------------- adjusted batches
def test_adjusted_batcher_sizes_average_to_b_avg_and_cover_every_sample_once():
    rng = np.random.default_rng(0)
    w = np.exp(1.5 * rng.standard_normal(50_000))
    b = pt.AdjustedBatcher(40.0)
    batches = list(b.batches(w, order=rng.permutation(w.size)))
    idx = np.concatenate(batches)
    assert np.array_equal(np.sort(idx), np.arange(w.size))
    wt = w / w.mean()
    sizes = np.array([wt[i].sum() for i in batches])
    assert np.allclose(sizes, b.sizes)
    T = len(sizes)
    # carried error: |mean adjusted size - b_avg| <= (max weight + b_avg) / T (last, partial batch included)
    assert abs(sizes[:-1].mean() - 40.0) <= (wt.max() + 40.0) / (T - 1)
    counts = np.array([len(i) for i in batches])
    assert counts.std() > 0  # the number of samples varies, the adjusted size does not


def test_adjusted_batches_reduce_gradient_norm_variance():
    rng = np.random.default_rng(1)
    n = 40_000
    w = np.exp(rng.standard_normal(n))
    g = 1.0 + 0.1 * rng.standard_normal(n)  # per-sample gradients of one parameter
    wt = w / w.mean()
    adj = [np.sum(wt[i] * g[i]) for i in pt.AdjustedBatcher(32.0).batches(w, order=rng.permutation(n))][:-1]
    perm = rng.permutation(n)
    fixed = [np.sum(wt[perm[k:k + 32]] * g[perm[k:k + 32]]) for k in range(0, n - 32, 32)]
    assert np.var(adj) < 0.5 * np.var(fixed)
    with pytest.raises(ValueError, match="b_avg"):
        pt.AdjustedBatcher(0)
    with pytest.raises(ValueError, match="weights"):
        list(pt.AdjustedBatcher(2).batches(np.zeros(5)))

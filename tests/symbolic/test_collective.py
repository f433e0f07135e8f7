"""Collective-coordinate reductions: exact measures, normalisation, chi^2/binomial laws, Stirling."""

import importlib
import math

import mpmath as mp
import numpy as np
import pytest
import sympy as sp
from scipy import stats

from statfield.symbolic import collective as C

r, rp = sp.symbols("r r_prev", positive=True)
rpl, rmi, kk, rpp = sp.symbols("r_plus r_minus k r_plus_prev", positive=True)


@pytest.mark.parametrize("n", [1, 3, 8])
def test_linear_link_density_normalised_mpmath(n):
    p = C.linear_transition_density(r, rp, n, sp.Rational(7, 10), sp.Rational(1, 5)).subs(rp, sp.Rational(13, 10))
    f = sp.lambdify(r, p, "mpmath")
    assert abs(mp.quad(f, [0, 1, mp.inf]) - 1) < 1e-12
    # exp(-S_link) is the same density
    s = C.linear_link_action(r, rp, n, sp.Rational(7, 10), sp.Rational(1, 5)).subs(rp, sp.Rational(13, 10))
    g = sp.lambdify(r, sp.exp(-s), "mpmath")
    assert abs(g(mp.mpf("0.9")) - f(mp.mpf("0.9"))) < 1e-14


def test_linear_density_is_scaled_chi2():
    n, sw, sb, rprev = 5, 0.7, 0.2, 1.3
    p = sp.lambdify(r, C.linear_transition_density(r, rp, n, sw, sb).subs(rp, rprev), "numpy")
    K = sw * rprev**2 / n + sb
    x = np.linspace(0.05, 3.0, 17)
    # q = r^2/N = K chi2_N / N  =>  p_r(r) = chi2.pdf(r^2/K, N) * 2 r / K
    np.testing.assert_allclose(p(x), stats.chi2.pdf(x**2 / K, n) * 2 * x / K, rtol=1e-12)


@pytest.mark.parametrize("n", [4, 7])
def test_relu_density_normalised_and_binomial(n):
    sw, sb, prev = sp.Rational(3, 2), sp.Rational(1, 4), sp.Rational(13, 10)
    dens = C.relu_transition_density(rpl, rmi, kk, rpp, n, sw, sb).subs(rpp, prev)
    total = 0
    for k in range(1, n):
        f = sp.lambdify((rpl, rmi), dens.subs(kk, k), "mpmath")
        a0, b0 = mp.mpf("0.7"), mp.mpf("0.9")
        # the density factorises in (r+, r-) at fixed k: int int f = int f(a,b0) da * int f(a0,b) db / f(a0,b0)
        ia = mp.quad(lambda a: f(a, b0), [0, 1, mp.inf])
        ib = mp.quad(lambda b: f(a0, b), [0, 1, mp.inf])
        pk = ia * ib / f(a0, b0)
        assert abs(pk - stats.binom.pmf(k, n, 0.5)) < 1e-12
        total += pk
    assert abs(total - (1 - 2.0 ** (1 - n))) < 1e-12
    # conditional radial law: u = K chi2_k / N
    K = float(sw * prev**2 / n + sb)
    k = 2
    f = sp.lambdify((rpl, rmi), dens.subs(kk, k), "numpy")
    a = np.linspace(0.1, 2.0, 7)
    b0 = 0.8
    pr_minus = stats.chi2.pdf(b0**2 / K, n - k) * 2 * b0 / K
    expect = stats.binom.pmf(k, n, 0.5) * stats.chi2.pdf(a**2 / K, k) * 2 * a / K * pr_minus
    np.testing.assert_allclose(f(a, b0), expect, rtol=1e-11)


def test_relu_action_equals_minus_log_density():
    vals = {rpl: 0.8, rmi: 1.1, kk: 3, rpp: 0.9, C.N: 7, C.sigma_w2: 1.2, C.sigma_b2: 0.3}
    s = C.relu_link_action(rpl, rmi, kk, rpp)
    p = C.relu_transition_density(rpl, rmi, kk, rpp)
    assert float(sp.N(s.subs(vals) + sp.log(p.subs(vals)))) == pytest.approx(0, abs=1e-13)


def test_stirling_is_a_named_controlled_step():
    x = sp.Symbol("x", positive=True)
    assert sp.simplify(C.stirling(sp.loggamma(x)) - C.log_gamma_stirling(x)) == 0
    # error O(1/x): 1/(12 x) is the first neglected term
    for xv in (10.0, 100.0):
        err = math.lgamma(xv) - float(C.log_gamma_stirling(sp.Float(xv)))
        assert err == pytest.approx(1 / (12 * xv), rel=0.02)
    # the ReLU Stirling action approaches the exact one (difference O(1) per link, not O(N))
    vals = {rpl: 30.0, rmi: 31.0, kk: 1000, rpp: 30.0, C.N: 2000, C.sigma_w2: 1.0, C.sigma_b2: 0.9}
    ex = float(sp.N(C.relu_link_action(rpl, rmi, kk, rpp).subs(vals)))
    st = float(sp.N(C.relu_link_action(rpl, rmi, kk, rpp, large_n=True).subs(vals)))
    assert abs(ex - st) < 0.01


def test_per_unit_action_matches_hand_derivation():
    s, (u, v, kap), (up,) = C.per_unit_action("relu")
    K = C.sigma_w2 * up + C.sigma_b2
    hand = (sp.Rational(3, 2) * (kap * sp.log(kap) + (1 - kap) * sp.log(1 - kap)) + sp.log(2) - sp.Rational(1, 2)
            - kap / 2 * sp.log(u) - (1 - kap) / 2 * sp.log(v) + sp.log(K) / 2 + (u + v) / (2 * K))
    pt = {u: 0.3, v: 0.45, kap: 0.37, up: 0.5, C.sigma_w2: 1.3, C.sigma_b2: 0.2}
    assert float(sp.N((s - hand).subs(pt))) == pytest.approx(0, abs=1e-13)
    s, (q,), (qp,) = C.per_unit_action("linear")
    K = C.sigma_w2 * qp + C.sigma_b2
    hand = q / (2 * K) + sp.log(K) / 2 - sp.log(q) / 2 - sp.Rational(1, 2)
    pt = {q: 0.3, qp: 0.5, C.sigma_w2: 0.6, C.sigma_b2: 0.2}
    assert float(sp.N((s - hand).subs(pt))) == pytest.approx(0, abs=1e-13)


def test_chain_action_is_sum_of_links():
    S, rs = C.linear_chain_action(3, 4, sp.Rational(1, 2), sp.Rational(1, 3))
    assert len(rs) == 3
    link = C.linear_link_action(rs[0], rs[2], 4, sp.Rational(1, 2), sp.Rational(1, 3))
    assert link in sp.Add.make_args(S) or sp.simplify(S - link - C.linear_link_action(rs[1], rs[0], 4, sp.Rational(1, 2), sp.Rational(1, 3)) - C.linear_link_action(rs[2], rs[1], 4, sp.Rational(1, 2), sp.Rational(1, 3))) == 0


def test_collective_actions_agree_with_pre_activation_action(rng):
    """Cross-check with statfield.symbolic.action (SPS17 Eq. 11, periodic, independent code):
    S_collective = S[z] - log(Jacobian and counting factors) at the same configuration."""
    action = importlib.import_module("statfield.symbolic.action").action
    n, L, sw, sb = 4, 2, 0.7, 0.3
    z = rng.normal(size=(L, n))
    z[0, :2] = np.abs(z[0, :2])
    z[0, 2:] = -np.abs(z[0, 2:])  # layer 1 has k = 2 positive units
    z[1, 0], z[1, 1:] = abs(z[1, 0]), -np.abs(z[1, 1:])  # layer 2 has k = 1
    for name in ("linear", "relu"):
        Sz = action(name, form="periodic", N=n, L=L, sigma_w2=sw, sigma_b2=sb).evaluate(z)
        tot = 0.0
        for l in range(L):
            prev = z[l - 1]
            if name == "linear":
                r, rprev = np.linalg.norm(z[l]), np.linalg.norm(prev)
                s = C.linear_link_action(sp.Float(r), sp.Float(rprev), n, sp.Float(sw), sp.Float(sb))
                jac = (n - 1) * math.log(r) + float(sp.log(C.sphere_area(n)))
            else:
                pos = z[l] > 0
                k = int(pos.sum())
                rp, rm = np.linalg.norm(z[l][pos]), np.linalg.norm(z[l][~pos])
                rpp = np.linalg.norm(prev[prev > 0])
                s = C.relu_link_action(sp.Float(rp), sp.Float(rm), k, sp.Float(rpp), n, sp.Float(sw), sp.Float(sb))
                jac = (math.log(math.comb(n, k)) - n * math.log(2) + float(sp.log(C.sphere_area(k))) + (k - 1) * math.log(rp)
                       + float(sp.log(C.sphere_area(n - k))) + (n - k - 1) * math.log(rm))
            tot += float(s) + jac
        assert tot == pytest.approx(Sz, rel=1e-12, abs=1e-12), name

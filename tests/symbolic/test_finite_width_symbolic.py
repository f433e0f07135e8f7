"""Tests of statfield.symbolic.finite_width: exact closed forms vs independent routes and the numeric module."""

import numpy as np
import pytest
import sympy as sp

from statfield import finite_width as fw
from statfield.symbolic import finite_width as sfw

S = sfw.SYMBOLS
n, l, K1, K = S["n"], S["l"], S["K1"], S["K"]
sw, sb, ap, am = S["sigma_w2"], S["sigma_b2"], S["a_plus"], S["a_minus"]


@pytest.mark.parametrize("slopes", [(1, 1), (1, 0), (1, sp.Rational(1, 3)), (2, -1)])
def test_multiplier_moments_cumulants_vs_binomial_mixture(slopes):
    """Cumulant route (symbolic n) vs the chi^2/binomial mixture (docs/conventions.md, "Exact chain"; concrete n), exactly."""
    a, b = slopes
    mu = sfw.multiplier_moments(4, a, b)
    for width in (1, 2, 5, 8):
        direct = sfw.multiplier_moments_binomial(4, width, a, b)
        for j in range(5):
            assert sp.simplify(mu[j].subs(n, width) - direct[j]) == 0


def test_multiplier_moments_match_numeric():
    mu = sfw.multiplier_moments(4, 1, sp.Rational(1, 5))
    num = fw.chain_multiplier_moments("leaky_relu_0.2", 9, 4)
    np.testing.assert_allclose([float(m.subs(n, 9)) for m in mu], num, rtol=1e-13)


def test_linear_multiplier_is_pochhammer():
    mu = sfw.multiplier_moments(5, 1, 1)
    for j in range(6):
        assert sp.simplify(mu[j] - sp.Mul(*[1 + 2 * sp.Integer(i) / n for i in range(j)])) == 0


def test_exact_kernel_moments_solve_the_recursion():
    """The closed forms satisfy the moment recursions exactly (rational parameters, layers 1..7)."""
    ek = sfw.exact_kernel_moments()
    vals = {n: 7, sw: sp.Rational(13, 10), sb: sp.Rational(1, 5), K1: sp.Rational(9, 10), ap: 1,
            am: sp.Rational(1, 4)}
    m1 = [sp.nsimplify(ek["m1"].subs(vals).subs(l, L)) for L in range(1, 9)]
    m2 = [sp.nsimplify(ek["m2"].subs(vals).subs(l, L)) for L in range(1, 9)]
    r, s = ek["r"].subs(vals), ek["s"].subs(vals)
    b = vals[sb]
    assert m1[0] == vals[K1] and m2[0] == vals[K1] ** 2
    for L in range(7):
        assert sp.simplify(m1[L + 1] - (b + r * m1[L])) == 0
        assert sp.simplify(m2[L + 1] - (b**2 + 2 * b * r * m1[L] + s * m2[L])) == 0


@pytest.mark.parametrize("name,a,b", [("relu", 1, 0), ("linear", 1, 1)])
def test_exact_kernel_moments_vs_numeric(name, a, b):
    ek = sfw.exact_kernel_moments(a, b)
    vals = {n: 7, sw: sp.Rational(13, 10), sb: sp.Rational(1, 5), K1: sp.Rational(9, 10)}
    res = fw.recursion(name, 1.3, 0.2, 8, 0.9, width=7, exact=True)
    Vs = [float(ek["V"].subs(vals).subs(l, L)) for L in range(1, 9)]
    np.testing.assert_allclose(Vs, res.V, rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose([float(ek["m1"].subs(vals).subs(l, L)) for L in range(1, 9)], res.K, rtol=1e-13)


def test_critical_vertex():
    c_lin, ex, ser = sfw.critical_vertex(1, 1)
    c_relu = sfw.critical_vertex(1, 0)[0]
    assert c_lin == 2 and c_relu == 5
    c = sp.Symbol("c", positive=True)
    # series = binomial expansion of the exact form; leading term (l-1) c
    for L in range(1, 7):
        assert sp.simplify(ex.subs(l, L) - sfw.critical_vertex(order=L)[2].subs(l, L)) == 0
    assert sp.expand(ser).coeff(n, 0).subs(c, 1) == l - 1
    res = fw.recursion("relu", 2.0, 0.0, 10, 1.0, width=30, exact=True)
    np.testing.assert_allclose([float(ex.subs({c: 5, n: 30, l: L})) for L in range(1, 11)], res.V, rtol=1e-12)


def test_zero_bias_moments_vs_numeric():
    G3, q3 = sfw.zero_bias_moments(3, 1, 0)
    vals = {n: 11, sw: 2, K1: sp.Rational(3, 2)}
    M = fw.exact_moments("relu", 2.0, 0.0, 6, 1.5, 11, order=3)
    Q = fw.q_moments("relu", 2.0, 0.0, 6, 1.5, 11, order=3)
    np.testing.assert_allclose([float(G3.subs(vals).subs(l, L)) for L in range(1, 7)], M[:, 3], rtol=1e-12)
    np.testing.assert_allclose([float(q3.subs(vals).subs(l, L)) for L in range(1, 7)], Q[:, 3], rtol=1e-12)


def test_log_q_linear_vs_numeric():
    mean, var, ser = sfw.log_q_linear()
    r = fw.log_q_moments("linear", 1.7, 5, 0.4, 24)
    vals = {n: 24, sw: sp.Rational(17, 10), K1: sp.Rational(2, 5)}
    np.testing.assert_allclose([float(mean.subs(vals).subs(l, L)) for L in range(1, 6)], r.mean, rtol=1e-13)
    np.testing.assert_allclose([float(var.subs(vals).subs(l, L)) for L in range(1, 6)], r.var, rtol=1e-13)
    # the 1/n series of L psi_1(n/2): 2L/n + 2L/n^2 + ...
    assert sp.simplify(ser - l * (2 / n + 2 / n**2 + sp.Rational(4, 3) / n**3)) == 0


def test_lo_recursion_coefficients():
    lo = sfw.lo_recursion()
    g, Delta, Ks, V = lo["g"], lo["Delta"], lo["K_shift"], lo["V"]
    dg = sp.diff(g(K), K)
    d2g = sp.diff(g(K), K, 2)
    assert sp.simplify(lo["K_shift_next"] - (sw * dg * Ks + sw * d2g * V / 2)) == 0
    assert sp.simplify(lo["V_next"] - (sw**2 * dg**2 * V + sw**2 * Delta(K))) == 0


def test_hermite_identity_for_second_derivative():
    """g''(K) = <phi^2 He_4(z/sqrt K)>/(4K^2) and = <(phi'^2 + phi phi'')(z^2/K - 1)>/(2K), polynomial phi."""
    x, xi = sp.symbols("x xi", real=True)
    phi = x + sp.Rational(1, 3) * x**2 - sp.Rational(1, 7) * x**3

    def gauss(expr):
        e = sp.expand(expr.subs(x, sp.sqrt(K) * xi))
        return sp.expand(sum(c * (sp.factorial2(m - 1) if m % 2 == 0 else 0) for (m,), c in sp.Poly(e, xi).terms()))

    g = gauss(phi**2)
    he4 = (x**2 / K) ** 2 - 6 * x**2 / K + 3
    assert sp.simplify(sp.diff(g, K, 2) - gauss(phi**2 * he4) / (4 * K**2)) == 0
    h = sp.diff(phi, x) ** 2 + phi * sp.diff(phi, x, 2)
    assert sp.simplify(sp.diff(g, K) - gauss(h)) == 0
    assert sp.simplify(sp.diff(g, K, 2) - gauss(h * (x**2 / K - 1)) / (2 * K)) == 0


def test_effective_action():
    ea = sfw.effective_action()
    Ks, V = ea["K_shift"], ea["V"]
    assert sp.simplify(ea["z2"] - (K + Ks / n)) == 0
    assert sp.simplify(ea["z4c"] - 3 * V / n) == 0
    assert sp.simplify(ea["v"] - V / (n * K**4)) == 0
    assert sp.simplify(ea["g"] - (1 / K - Ks / (n * K**2) + 3 * V / (2 * n * K**3))) == 0
    # the numeric module uses the same couplings
    num = fw.effective_action(0.7, 2.0, -0.3, 50)
    vals = {K: sp.Rational(7, 10), V: 2, Ks: sp.Rational(-3, 10), n: 50}
    assert float(num.g) == pytest.approx(float(ea["g"].subs(vals)), rel=1e-14)
    assert float(num.v) == pytest.approx(float(ea["v"].subs(vals)), rel=1e-14)


def test_k0_class_asymptotics():
    k0 = sfw.k0_class_asymptotics()
    assert k0["ratio"] == sp.Rational(2, 3)
    s2, s3 = sp.symbols("sigma_2 sigma_3", real=True)
    assert sp.simplify(k0["a1"] - (s3 + sp.Rational(3, 4) * s2**2)) == 0
    assert sp.simplify(k0["kappa"] + 1 / k0["a1"]) == 0
    # tanh: sigma_2 = 0, sigma_3 = -2 -> K ~ 1/(2l); the numeric LO recursion agrees at l = 200 (log corrections)
    kappa_tanh = k0["kappa"].subs({s2: 0, s3: -2})
    assert kappa_tanh == sp.Rational(1, 2)
    row = fw.k0_class_table("tanh", 1.0, (200,))[0]
    assert row["l_K"] == pytest.approx(float(kappa_tanh), rel=0.02)


def test_derivation_renders(tmp_path):
    d = sfw.finite_width_derivation(numeric_tables=False)
    tex = d.to_latex()
    for key in (r"\psi", "V^{(l)}", "Hanin", "PDLT", r"\chi_\parallel"):
        assert key in tex
    assert any(s.approximation for s in d.steps)
    from statfield.symbolic.derivation import pdflatex_available

    if pdflatex_available():
        path = d.write(tmp_path / "fw.tex")
        assert path.with_suffix(".pdf").read_bytes()[:5] == b"%PDF-"


def test_catalog_entry():
    from statfield.symbolic.catalog import DERIVATIONS

    mod, fn = DERIVATIONS["finite-width"][0].split(":")
    assert mod == "statfield.documents.finite_width" and fn == "finite_width_derivation"

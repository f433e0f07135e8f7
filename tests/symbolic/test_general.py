"""General activation: saddle equation, stability, numeric saddles (two routes), O(1/N) fluctuations vs MC."""

import mpmath as mp
import numpy as np
import pytest
import sympy as sp

from statfield.symbolic.action import sigma_b2, sigma_w2
from statfield.symbolic.general import (
    chi1_expr,
    chi_q_expr,
    effective_action,
    gaussian_expectation,
    general_action,
    general_derivation,
    general_saddle,
    homogeneous_stationarity,
    lattice_kernel,
    q,
    saddle_equation,
)

SEED = 20261122


def _mp_value(expr, values):
    """Evaluate ``coef * Integral`` by lambdifying the integrand to mpmath (evalf on Integral is slow)."""
    e = expr.subs(values)
    integrals = e.atoms(sp.Integral)
    assert len(integrals) == 1
    integ = integrals.pop()
    xi = integ.limits[0][0]
    f = sp.lambdify(xi, integ.function, "mpmath")
    return float(sp.N(e.subs(integ, sp.Float(mp.quad(f, [-mp.inf, 0, mp.inf]), 30))))


def test_linear_saddle_equation_closed_form():
    eq = saddle_equation("linear")
    sol = sp.solve(eq.doit(), q)
    assert len(sol) == 1 and sp.simplify(sol[0] - sigma_b2 / (1 - sigma_w2)) == 0
    assert sp.simplify(chi_q_expr("linear").doit() - sigma_w2) == 0
    assert sp.simplify(chi1_expr("linear").doit() - sigma_w2) == 0


def test_gaussian_expectation_against_erf_closed_form():
    # Williams (1997): E[erf(u)^2], u ~ N(0, q) = (2/pi) arcsin(2q / (1 + 2q))
    u = sp.Symbol("u", real=True)
    F = gaussian_expectation(sp.erf(u) ** 2)
    for qv in (0.3, 1.7):
        assert _mp_value(F, {q: qv}) == pytest.approx(2 / np.pi * np.arcsin(2 * qv / (1 + 2 * qv)), rel=1e-13)


def test_tanh_saddle_mpmath_route_vs_sympy_nsolve():
    sw2, sb2 = 1.5, 0.05
    r = general_saddle("tanh", sw2, sb2, method="mpmath")
    eq = saddle_equation("tanh").subs({sigma_w2: sw2, sigma_b2: sb2})
    q_ns = float(sp.nsolve(eq.lhs - eq.rhs, q, 0.5))  # nsolve lambdifies the Integral to mpmath.quad
    assert r.q_star == pytest.approx(q_ns, rel=1e-11)
    assert r.stable and 0 < r.chi_q < 1
    assert r.xi_q == pytest.approx(-1 / np.log(r.chi_q))
    # chi_q: derivative-free form used by general_saddle vs the Poole form (phi'^2 + phi phi'') from SymPy
    assert r.chi_q == pytest.approx(_mp_value(chi_q_expr("tanh"), {sigma_w2: sw2, q: r.q_star}), rel=1e-10)
    assert r.chi1 == pytest.approx(_mp_value(chi1_expr("tanh"), {sigma_w2: sw2, q: r.q_star}), rel=1e-10)


def test_erf_and_relu_saddles_against_closed_forms():
    from scipy.optimize import brentq

    sw2, sb2 = 2.5, 0.1
    r = general_saddle("erf", sw2, sb2, method="mpmath")
    qmap = lambda x: sw2 * 2 / np.pi * np.arcsin(2 * x / (1 + 2 * x)) + sb2  # noqa: E731
    q_ref = brentq(lambda x: qmap(x) - x, 1e-6, 100, xtol=1e-15)
    assert r.q_star == pytest.approx(q_ref, rel=1e-12)
    h = 1e-6 * q_ref
    assert r.chi_q == pytest.approx((qmap(q_ref + h) - qmap(q_ref - h)) / (2 * h), rel=1e-7)
    # ReLU: q* = sigma_b2 / (1 - sigma_w2/2), chi_q = chi_1 = sigma_w2/2 (kink handled by the split at 0)
    r = general_saddle("relu", 1.5, 0.05, method="mpmath")
    assert r.q_star == pytest.approx(0.05 / (1 - 0.75), rel=1e-12)
    assert r.chi_q == pytest.approx(0.75, rel=1e-12) and r.chi1 == pytest.approx(0.75, rel=1e-12)


@pytest.mark.parametrize("activation", ["tanh", "erf"])  # statfield.meanfield has landed: no skip if it vanishes
def test_meanfield_route_agrees_with_mpmath_route(activation):
    a = general_saddle(activation, 1.8, 0.1, method="mpmath")
    from statfield.documents.saddles import general_saddle as documents_general_saddle

    b = documents_general_saddle(activation, 1.8, 0.1, method="meanfield")
    assert b.method == "meanfield"
    assert b.q_star == pytest.approx(a.q_star, rel=1e-8)
    assert b.chi_q == pytest.approx(a.chi_q, rel=1e-6)
    assert b.chi1 == pytest.approx(a.chi1, rel=1e-6)


def test_homogeneous_stationarity_factorises_with_mean_field_branch():
    stat = homogeneous_stationarity()
    Kq, Kp = sp.symbols("K_q K_p", real=True)
    expected = (q - Kq) * (Kq - q * Kp) / (2 * Kq**2 * q)
    assert sp.simplify(stat - expected) == 0
    assert sp.simplify(stat.subs(Kq, q)) == 0
    # independent route: plug an explicit K(q) into the action and differentiate numerically
    a0, a1, a2 = 0.3, 0.5, -0.1
    Kexpr = a0 + a1 * q + a2 * q**2
    S, qs = effective_action(4, K=Kexpr)
    qstar = float(max(sp.solve(sp.Eq(q, Kexpr), q)))
    grad = [float(sp.diff(S, v).subs({w: qstar for w in qs})) for v in qs]
    assert max(abs(g) for g in grad) < 1e-12


def test_lattice_kernel_against_finite_differences():
    diag, off, M = lattice_kernel()
    from statfield.symbolic.symbols import p as momentum  # the lattice momentum (k is the ReLU count)

    Kp = sp.Symbol("K_p", real=True)
    assert sp.simplify(M - ((1 + Kp**2) - 2 * Kp * sp.cos(momentum)) / (2 * q**2)) == 0
    # numeric Hessian of S/N for an explicit nonlinear K at its fixed point (K'' must cancel)
    a0, a1, a2 = 0.3, 0.5, -0.1
    Kexpr = a0 + a1 * q + a2 * q**2
    L = 5
    S, qs = effective_action(L, K=Kexpr)
    qstar = float(max(sp.solve(sp.Eq(q, Kexpr), q)))
    chi = a1 + 2 * a2 * qstar
    f = sp.lambdify(qs, S, "mpmath")
    with mp.workdps(40):
        x0 = [mp.mpf(qstar)] * L
        h = mp.mpf(10) ** -10

        def d2(i, j):
            def at(di, dj):
                x = list(x0)
                x[i] += di
                x[j] += dj
                return f(*x)

            return (at(h, h) - at(h, -h) - at(-h, h) + at(-h, -h)) / (4 * h * h)

        assert float(d2(1, 1)) == pytest.approx(float(diag.subs({q: qstar, Kp: chi})), rel=1e-8)
        assert float(d2(1, 2)) == pytest.approx(float(off.subs({q: qstar, Kp: chi})), rel=1e-8)
        assert abs(float(d2(1, 3))) < 1e-8  # nearest-neighbour only


def test_fluctuations_linear_exact_and_pdlt_vertex():
    r = general_saddle("linear", 0.5, 0.05, method="mpmath")
    assert r.var_q == pytest.approx(r.var_q_q_only, rel=1e-12)  # no angular field for linear phi
    assert r.var_q == pytest.approx(2 * 0.1**2 / (1 - 0.25), rel=1e-12)
    # V* from the (Y on q) regression decomposition == PDLT fixed point sigma_w^4 Var[phi^2]/(1 - chi^2)
    from scipy.integrate import quad

    r = general_saddle("tanh", 2.0, 0.1, method="mpmath")
    g = lambda x, p: np.tanh(np.sqrt(r.q_star) * x) ** p * np.exp(-x * x / 2) / np.sqrt(2 * np.pi)  # noqa: E731
    m2 = quad(g, -np.inf, np.inf, args=(2,), epsabs=1e-14)[0]
    m4 = quad(g, -np.inf, np.inf, args=(4,), epsabs=1e-14)[0]
    assert r.V_star == pytest.approx(4.0 * (m4 - m2**2) / (1 - r.chi_q**2), rel=1e-9)


def test_fluctuations_against_monte_carlo_of_the_exact_chain():
    """N Var q^l in the bulk of a deep tanh network: full prediction within 5 sigma, q-only rejected."""
    sw2, sb2 = 3.0, 0.0
    r = general_saddle("tanh", sw2, sb2, method="mpmath")
    rng = np.random.default_rng(SEED)
    M, N, burn = 16000, 128, 8  # M independent chains; chi_q ~ 0.41 so 8 layers forget the start
    z = rng.standard_normal((M, N)) * np.sqrt(r.q_star)
    for _ in range(burn):
        K = sw2 * np.mean(np.tanh(z) ** 2, axis=1) + sb2
        z = rng.standard_normal((M, N)) * np.sqrt(K)[:, None]  # exact: z^l | z^{l-1} ~ N(0, K I_N)
    qs = np.mean(z * z, axis=1)
    v = qs.var(ddof=1)
    stderr = np.sqrt((np.mean((qs - qs.mean()) ** 4) - v * v) / M)
    z_full = (N * v - r.var_q) / (N * stderr)
    z_qonly = (N * v - r.var_q_q_only) / (N * stderr)
    assert abs(z_full) < 5, (N * v, r.var_q, N * stderr)
    assert z_qonly > 5, (N * v, r.var_q_q_only, N * stderr)


def test_general_action_and_derivation():
    S = general_action("erf", N=2, L=2)
    assert S.form == "periodic" and S.expr.has(sp.erf)
    d = general_derivation("tanh", points=((1.5, 0.05),))
    names = [s.approximation for s in d.steps if s.approximation]
    assert len(names) == 2 and any("law of large numbers" in n for n in names)
    assert d.results["saddles"][0][2] == f"{general_saddle('tanh', 1.5, 0.05, method='mpmath').q_star:.6f}"
    assert r"\begin{document}" in d.to_latex()


def test_validation_errors():
    with pytest.raises(ValueError, match="sigma_w2"):
        general_saddle("tanh", -1.0, 0.1)
    with pytest.raises(ValueError, match="sigma_b2"):
        general_saddle("tanh", 1.0, -0.1)
    with pytest.raises(ValueError, match="method"):
        general_saddle("tanh", 1.0, 0.1, method="guess")
    with pytest.raises(ValueError, match="activation"):
        general_saddle("softsign_typo", 1.0, 0.1)
    with pytest.raises(ValueError, match="sigma_w2"):
        general_saddle("relu", 2.5, 0.1, method="mpmath")  # outside the domain sigma_w2 < 2
    with pytest.raises(ValueError, match="L must"):
        effective_action(1)

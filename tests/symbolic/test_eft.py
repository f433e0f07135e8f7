"""Quadratic EFT: Hessian vs finite differences of the exact action, propagator, residue correlators
vs Brillouin-zone integrals, positivity, field map vs statfield.fields, and Monte Carlo of the exact chain."""

import math

import mpmath as mp
import numpy as np
import pytest
import sympy as sp

from statfield import fields as F
from statfield.symbolic import collective as C
from statfield.symbolic.eft import FIELD_SYMBOLS, quadratic_eft
from statfield.symbolic.symbols import p as q  # the lattice momentum (q is the order parameter)


@pytest.fixture(scope="module")
def lin():
    return quadratic_eft("linear")


@pytest.fixture(scope="module")
def relu():
    return quadratic_eft("relu")


def _chain_hessian(eft, L, sw):
    """Assemble the L-site periodic-chain Hessian from the EFT blocks."""
    n = len(eft.fields)
    sub = {C.sigma_w2: sw}
    Hcc, Hpp, Hcp = (np.array(M.subs(sub), dtype=float) for M in (eft.H_cc, eft.H_pp, eft.H_cp))
    H = np.zeros((L * n, L * n))
    for l in range(L):
        p = (l - 1) % L
        H[l * n:(l + 1) * n, l * n:(l + 1) * n] += Hcc
        H[p * n:(p + 1) * n, p * n:(p + 1) * n] += Hpp
        H[l * n:(l + 1) * n, p * n:(p + 1) * n] += Hcp
        H[p * n:(p + 1) * n, l * n:(l + 1) * n] += Hcp.T
    return H


def _fd_hessian(f, dim, h):
    x0 = [mp.mpf(0)] * dim
    H = np.zeros((dim, dim))
    for i in range(dim):
        for j in range(i, dim):
            def at(si, sj):
                x = list(x0)
                x[i] += si * h
                x[j] += sj * h
                return f(*x)
            H[i, j] = H[j, i] = float((at(1, 1) - at(1, -1) - at(-1, 1) + at(-1, -1)) / (4 * h * h))
    return H


def test_linear_hessian_vs_finite_differences_of_exact_action(lin):
    # exact finite-N chain action (no Stirling needed: Gamma(N/2) is constant), N large, L = 3
    n, sw, sb, L = 10**6, 0.6, 0.3, 3
    qs = sb / (1 - sw)
    eps = sp.symbols("e0:3", real=True)
    r = [sp.sqrt(n * qs) * (1 + e / sp.sqrt(n)) for e in eps]
    S = sum(C.linear_link_action(r[l], r[l - 1], n, sp.Float(sw, 30), sp.Float(sb, 30)) for l in range(L))
    f = sp.lambdify(eps, S, "mpmath")
    mp.mp.dps = 40
    H = _fd_hessian(f, L, mp.mpf("1e-6"))
    mp.mp.dps = 15
    np.testing.assert_allclose(H, _chain_hessian(lin, L, sw), atol=20.0 / n)  # finite-N corrections are O(1/N)


def test_relu_hessian_vs_finite_differences_of_exact_action(relu):
    # exact action with loggamma (k continuous), N large, L = 3, fields (eps+, eps-, eps_k) per layer
    n, sw, sb, L = 10**6, 1.2, 0.3, 2
    qs = sb / (1 - sw / 2)
    e = sp.symbols("e0:6", real=True)
    rs = [sp.sqrt(n * qs / 2) * (1 + e[3 * l] / sp.sqrt(n)) for l in range(L)]
    rm = [sp.sqrt(n * qs / 2) * (1 + e[3 * l + 1] / sp.sqrt(n)) for l in range(L)]
    ks = [sp.Rational(n, 2) + sp.sqrt(n) * e[3 * l + 2] for l in range(L)]
    nf = sp.Float(n, 40)  # a Float N keeps SymPy from expanding loggamma(N + 1) into a huge integer
    S = sum(C.relu_link_action(rs[l], rm[l], ks[l], rs[l - 1], nf, sp.Float(sw, 40), sp.Float(sb, 40)) for l in range(L))
    f = sp.lambdify(e, S, "mpmath")
    mp.mp.dps = 40
    H = _fd_hessian(f, 3 * L, mp.mpf("1e-6"))
    mp.mp.dps = 15
    np.testing.assert_allclose(H, _chain_hessian(relu, L, sw), atol=20.0 / n)  # finite-N corrections are O(1/N)


def test_precision_times_propagator_is_identity(lin, relu):
    for eft in (lin, relu):
        P = (eft.precision() * eft.propagator()).applyfunc(lambda x: sp.simplify(x.rewrite(sp.exp)))
        assert P == sp.eye(len(eft.fields))


def test_published_linear_kernel_shape(lin):
    s = C.sigma_w2
    assert sp.simplify(lin.precision()[0, 0] - 2 * ((1 + s**2) - 2 * s * sp.cos(q))) == 0
    assert lin.chi == s and relu_chi() == s / 2


def relu_chi():
    return quadratic_eft("relu").chi


@pytest.mark.parametrize("name, sw", [("linear", 0.3), ("linear", 0.8), ("relu", 0.7), ("relu", 1.6)])
def test_residue_correlator_vs_brillouin_zone_integral(name, sw):
    eft = quadratic_eft(name)
    Mf = sp.lambdify((q, C.sigma_w2), eft.precision(), "numpy")
    nq = 2048
    qs = 2 * np.pi * (np.arange(nq) + 0.5) / nq - np.pi
    G = np.linalg.inv(np.array([Mf(x, sw) for x in qs], dtype=complex))
    for m in (-2, -1, 0, 1, 2, 3):
        numeric = (np.exp(-1j * qs * m)[:, None, None] * G).mean(axis=0)
        np.testing.assert_allclose(eft.correlator(m, sw, 0.1), numeric.real, atol=1e-12)
        assert np.max(np.abs(numeric.imag)) < 1e-12
    # periodic chain: L -> large tends to the infinite chain
    np.testing.assert_allclose(eft.correlator(1, sw, 0.1, L=200), eft.correlator(1, sw, 0.1), atol=1e-12)


@pytest.mark.parametrize("name, sws", [("linear", [0.05, 0.5, 0.95]), ("relu", [0.1, 1.0, 1.95])])
def test_equal_time_correlator_positive_definite(name, sws):
    eft = quadratic_eft(name)
    for sw in sws:
        assert np.all(np.linalg.eigvalsh(eft.correlator(0, sw, 0.2)) > 0)


def test_correlation_lengths_and_mass_gap(lin, relu):
    s = C.sigma_w2
    assert sp.simplify(lin.correlation_length("lattice") + 1 / sp.log(s)) == 0
    for eft, crit in ((lin, 1.0), (relu, 2.0)):
        xl = [eft.correlation_length("lattice", crit * (1 - d)) for d in (1e-2, 1e-4)]
        xc = [eft.correlation_length("continuum", crit * (1 - d)) for d in (1e-2, 1e-4)]
        assert xl[1] > 50 * xl[0] and xc[1] > 50 * xc[0]  # both diverge at criticality
        assert xl[1] / xc[1] == pytest.approx(1, rel=1e-3)  # and agree there
        # away from criticality they differ
        a, b = eft.correlation_length("lattice", 0.3 * crit), eft.correlation_length("continuum", 0.3 * crit)
        assert abs(a - b) / a > 0.05
        # lattice xi = exact decay of the correlator
        C1, C2 = eft.correlator(1, 0.5 * crit, 0.1), eft.correlator(2, 0.5 * crit, 0.1)
        assert C2[0, 0] / C1[0, 0] == pytest.approx(math.exp(-1 / eft.correlation_length("lattice", 0.5 * crit)))
        det0 = eft.determinant(0)
        assert sp.simplify(det0.subs(s, sp.Integer(int(crit)))) == 0
        assert sp.simplify(eft.mass_gap().subs(s, sp.Integer(int(crit)))) == 0


def test_continuum_matches_lattice_to_second_order(lin, relu):
    for eft in (lin, relu):
        Mc = eft.continuum().precision(q)
        Ml = eft.precision(q).applyfunc(lambda e: sp.series(e.rewrite(sp.exp), q, 0, 3).removeO())
        assert (Mc - Ml).applyfunc(lambda e: sp.simplify(sp.expand(e))) == sp.zeros(len(eft.fields))


def test_symbolic_field_map_equals_fields_module(lin, relu):
    n, sb = 37, 0.25
    (eps,) = FIELD_SYMBOLS["linear"]
    qv = sp.Symbol("q", positive=True)
    sw = 0.6
    expr = lin.field_map[eps].subs({C.N: n, C.sigma_w2: sw, C.sigma_b2: sb, qv: 0.4})
    assert float(expr) == pytest.approx(float(F.linear_fields(np.array(0.4), sw, sb, n)), rel=1e-13)
    sw = 1.3
    u, v, k = sp.Symbol("u", positive=True), sp.Symbol("v", positive=True), sp.Symbol("k", positive=True)
    vals = {C.N: n, C.sigma_w2: sw, C.sigma_b2: sb, u: 0.31, v: 0.22, k: 21}
    num = F.relu_fields(np.array(0.31), np.array(0.22), np.array(21), sw, sb, n)
    for f, x in zip(FIELD_SYMBOLS["relu"], num):
        assert float(relu.field_map[f].subs(vals)) == pytest.approx(float(x), rel=1e-13)
    assert relu.fields == F.FIELD_NAMES["relu"] and lin.fields == F.FIELD_NAMES["linear"]


def _z(x, pred):
    return (x.mean() - pred) / (x.std(ddof=1) / math.sqrt(x.size))


def test_linear_correlator_monte_carlo_exact_chain(lin, rng):
    # exact chain q_l = K_{l-1} chi2_N / N; N = 4000 so O(1/N) biases are far below the error bars
    n, sw, sb, chains, burn = 4000, 0.6, 0.2, 20000, 40
    q0 = np.full(chains, sb / (1 - sw))
    for _ in range(burn):
        q0 = (sw * q0 + sb) * rng.chisquare(n, size=chains) / n
    qs = [q0]
    for _ in range(3):
        qs.append((sw * qs[-1] + sb) * rng.chisquare(n, size=chains) / n)
    eps = [F.linear_fields(x, sw, sb, n) for x in qs]
    for m in range(4):
        assert abs(_z(eps[0] * eps[m], lin.correlator(m, sw, sb)[0, 0])) < 5


def test_relu_correlator_monte_carlo_exact_chain(relu, rng):
    n, sw, sb, chains, burn = 4000, 1.2, 0.2, 20000, 30
    qs = sb / (1 - sw / 2)
    u = np.full(chains, qs / 2)

    def step(u):
        K = sw * u + sb
        k = rng.binomial(n, 0.5, size=chains)
        return K * rng.chisquare(k) / n, K * rng.chisquare(n - k) / n, k

    for _ in range(burn):
        u = step(u)[0]
    layers = [step(u)]
    layers.append(step(layers[0][0]))
    x = [np.stack(F.relu_fields(a, b, c, sw, sb, n)) for a, b, c in layers]
    C0, C1 = relu.correlator(0, sw, sb), relu.correlator(1, sw, sb)
    for i in range(3):
        for j in range(3):
            assert abs(_z(x[0][i] * x[0][j], C0[i, j])) < 5
            assert abs(_z(x[0][i] * x[1][j], C1[i, j])) < 5


def test_bad_input(lin):
    with pytest.raises(ValueError, match="linear"):
        quadratic_eft("tanh")
    with pytest.raises(ValueError, match="sigma_w2"):
        lin.correlator(0, 1.2, 0.1)
    with pytest.raises(ValueError, match="sigma_b2"):
        lin.correlator(0, 0.5, -0.1)
    with pytest.raises(ValueError, match="kind"):
        lin.correlation_length("fourier")
    with pytest.raises(ValueError, match="p must be finite"):
        lin.precision(float("nan"))
    with pytest.raises(ValueError, match="sigma_w2"):
        quadratic_eft("relu").correlation_length("lattice", sigma_w2=2.5)

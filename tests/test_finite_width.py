"""Tests of statfield.finite_width: closed forms vs quadrature, exact vs leading order (scaling), MC.

The Monte Carlo here uses two small exact samplers written in this file (independent of
statfield.sampling): explicit pre-activation vectors z^l = sqrt(G^l) xi (any phi), and the collective
chi^2/binomial chain of docs/conventions.md (scale-invariant phi). Tolerances are |z| < 5 with standard
errors from the sample (4th moments for variances, delta method for ratios).
"""

import importlib
import math
import warnings

import numpy as np
import pytest
from scipy import special

from statfield import finite_width as fw
from statfield.activations import get_activation
from statfield.quadrature import expect

Z_MAX = 5.0


# ----------------------------------------------------------------------------- samplers (test-local)
def sample_units(activation, sigma_w2, sigma_b2, K1, widths, n_samples, rng):
    """Exact sampler with explicit unit vectors. Returns G (n_samples, depth), m2, m4 per network.

    m2[:, l], m4[:, l] are the unit averages of z^2, z^4 over the n_l units of layer l+1 in each network.
    """
    act = get_activation(activation)
    depth = len(widths)
    G = np.empty((n_samples, depth))
    m2 = np.empty((n_samples, depth))
    m4 = np.empty((n_samples, depth))
    G[:, 0] = K1
    for l in range(depth):
        z = np.sqrt(G[:, l])[:, None] * rng.standard_normal((n_samples, widths[l]))
        m2[:, l] = np.mean(z * z, axis=1)
        m4[:, l] = np.mean(z**4, axis=1)
        if l + 1 < depth:
            G[:, l + 1] = sigma_b2 + sigma_w2 * np.mean(act.numpy(z) ** 2, axis=1)
    return G, m2, m4


def sample_chain(a_plus, a_minus, sigma_w2, sigma_b2, K1, widths, n_samples, rng):
    """Collective chain: G^{l+1} = sb2 + sw2 G^l (a+^2 chi2_k + a-^2 chi2_{n-k})/n, k ~ Bin(n, 1/2).

    Returns G (n_samples, depth) and q = G chi2_n / n.
    """
    depth = len(widths)
    G = np.empty((n_samples, depth))
    G[:, 0] = K1
    for l in range(depth - 1):
        n = widths[l]
        k = rng.binomial(n, 0.5, size=n_samples)
        cp = rng.chisquare(np.maximum(k, 1)) * (k > 0)
        cm = rng.chisquare(np.maximum(n - k, 1)) * (k < n)
        G[:, l + 1] = sigma_b2 + sigma_w2 * G[:, l] * (a_plus**2 * cp + a_minus**2 * cm) / n
    q = G * rng.chisquare(np.asarray(widths), size=(n_samples, depth)) / np.asarray(widths)
    return G, q


def var_estimate(x):
    """Unbiased variance of the columns of x and its stderr from the 4th central moment."""
    N = x.shape[0]
    d = x - x.mean(axis=0)
    s2 = np.sum(d * d, axis=0) / (N - 1)
    mu4 = np.mean(d**4, axis=0)
    se = np.sqrt(np.clip(mu4 / N - s2**2 * (N - 3) / (N * (N - 1)), 0, None))
    return s2, se


def mean_estimate(x):
    return x.mean(axis=0), x.std(axis=0, ddof=1) / math.sqrt(x.shape[0])


def kurtosis_from_units(m2, m4):
    """Excess kurtosis E z^4/(E z^2)^2 - 3 from per-network unit averages, delta-method stderr."""
    N = m2.shape[0]
    a, b = m2.mean(axis=0), m4.mean(axis=0)
    kap = b / a**2 - 3.0
    da, db = -2 * b / a**3, 1 / a**2
    va, vb = m2.var(axis=0, ddof=1), m4.var(axis=0, ddof=1)
    cab = np.mean((m2 - a) * (m4 - b), axis=0) * N / (N - 1)
    se = np.sqrt((da**2 * va + db**2 * vb + 2 * da * db * cab) / N)
    return kap, se


def z_scores(value, se, prediction):
    return (np.asarray(value) - np.asarray(prediction)) / np.asarray(se)


# ----------------------------------------------------------------------------- Gaussian moments
def _ref_gauss(f, K):
    """<f>_K by adaptive quadrature (scipy QUADPACK, relative tolerance 2e-14): an independent reference."""
    from scipy import integrate

    s = math.sqrt(K)
    with warnings.catch_warnings():  # QUADPACK reports round-off at ~1e-15 as a warning; its error is below 1e-13
        warnings.simplefilter("ignore", integrate.IntegrationWarning)
        val, _ = integrate.quad(lambda x: f(x) * math.exp(-0.5 * x * x / K) / math.sqrt(2 * math.pi * K),
                                -14 * s, 14 * s, points=[0.0], epsabs=0.0, epsrel=2e-14, limit=500)
    return val


def test_reference_quadrature_vs_mpmath():
    """The scipy reference itself against mpmath at 30 digits (tanh^4 at K = 3)."""
    import mpmath as mp

    with mp.workdps(30):
        s = mp.sqrt(mp.mpf(3))
        ref = mp.quad(lambda t: mp.tanh(s * t) ** 4 * mp.npdf(t), [-mp.inf, -3, -1, 0, 1, 3, mp.inf])
    assert _ref_gauss(lambda x: math.tanh(x) ** 4, 3.0) == pytest.approx(float(ref), rel=1e-13)


@pytest.mark.parametrize("K", [0.05, 0.5, 0.7, 3.0, 10.0])
def test_tanh_moments_vs_reference(K):
    """g, <phi^4>, g' (Price) and g'' (Stein on g') vs adaptive quadrature; both regimes (K <= 0.5: GH)."""
    th = math.tanh
    h = lambda x: (1 - th(x) ** 2) ** 2 - 2 * th(x) ** 2 * (1 - th(x) ** 2)
    m = fw.gaussian_moments("tanh", K)
    assert m["g"] == pytest.approx(_ref_gauss(lambda x: th(x) ** 2, K), rel=1e-12)
    assert m["g4"] == pytest.approx(_ref_gauss(lambda x: th(x) ** 4, K), rel=1e-12)
    assert m["dg"] == pytest.approx(_ref_gauss(h, K), rel=1e-12)
    # g'' by the independent He_4 identity <phi^2 He_4(z/sqrt K)>/(4K^2)
    d2 = _ref_gauss(lambda x: th(x) ** 2 * ((x * x / K) ** 2 - 6 * x * x / K + 3), K) / (4 * K * K)
    assert m["d2g"] == pytest.approx(d2, rel=1e-9)


@pytest.mark.parametrize("K", [0.2, 2.0])
def test_tanh_derivatives_vs_finite_differences(K):
    hK = 1e-4 * K
    g = [fw.gaussian_moments("tanh", K + s * hK)["g"] for s in (-1, 1)]
    dg = [fw.gaussian_moments("tanh", K + s * hK)["dg"] for s in (-1, 1)]
    m = fw.gaussian_moments("tanh", K)
    assert m["dg"] == pytest.approx((g[1] - g[0]) / (2 * hK), rel=1e-7)
    assert m["d2g"] == pytest.approx((dg[1] - dg[0]) / (2 * hK), rel=1e-6)


def test_array_K_broadcasts():
    K = np.array([[0.1, 1.0], [3.0, 0.4]])
    m = fw.gaussian_moments("gelu", K)
    assert m["g"].shape == (2, 2)
    assert m["dg"][1, 0] == pytest.approx(fw.gaussian_moments("gelu", 3.0)["dg"], rel=1e-15)


@pytest.mark.parametrize("K", [0.05, 0.8, 5.0])
def test_erf_closed_form_vs_quadrature(K):
    """erf: closed-form g, g', g'' (Williams 1997 arcsine kernel differentiated) vs adaptive quadrature."""
    act_erf = get_activation("erf")
    erf = math.erf
    m = fw.gaussian_moments("erf", K)
    f2 = lambda x: erf(x) ** 2
    assert m["g"] == pytest.approx(_ref_gauss(f2, K), rel=1e-12)
    assert m["g4"] == pytest.approx(_ref_gauss(lambda x: erf(x) ** 4, K), rel=1e-12)
    assert m["dg"] == pytest.approx(_ref_gauss(lambda x: f2(x) * (x * x / K - 1), K) / (2 * K), rel=1e-11)
    d2 = _ref_gauss(lambda x: f2(x) * ((x * x / K) ** 2 - 6 * x * x / K + 3), K) / (4 * K * K)
    assert m["d2g"] == pytest.approx(d2, rel=1e-9)
    # the numeric route (ignoring the closed forms) agrees with them
    from statfield.activations import Activation
    plain = Activation("erf_numeric", act_erf.fn, act_erf.deriv, second_deriv=act_erf.second_deriv)
    num = fw.gaussian_moments(plain, K)
    for key in ("g", "dg", "d2g"):
        assert num[key] == pytest.approx(m[key], rel=1e-11)


@pytest.mark.parametrize("name", ["linear", "relu", "leaky_relu_0.2"])
def test_piecewise_closed_form_vs_quadrature(name):
    act = get_activation(name)
    K = 1.7
    m = fw.gaussian_moments(act, K)
    assert m["g"] == pytest.approx(expect(lambda x: act.numpy(x) ** 2, K), rel=1e-12)
    assert m["g4"] == pytest.approx(expect(lambda x: act.numpy(x) ** 4, K), rel=1e-12)
    assert m["d2g"] == 0.0


# ----------------------------------------------------------------------------- leading order
@pytest.mark.parametrize("name,c", [("linear", 2.0), ("relu", 5.0), ("leaky_relu_0.5", None)])
def test_lo_criticality_linear_in_depth(name, c):
    """At criticality V/K^2 = (l-1) c, c = 6(a+^4+a-^4)/(a+^2+a-^2)^2 - 1; K constant; K_shift = 0."""
    act = get_activation(name)
    A2 = (act.a_plus**2 + act.a_minus**2) / 2
    res = fw.recursion(act, 1.0 / A2, 0.0, 12, 1.3)
    slope = fw.critical_vertex_slope(act)
    if c is not None:
        assert slope == pytest.approx(c, rel=1e-14)
    else:
        ap, am = act.a_plus, act.a_minus
        assert slope == pytest.approx(6 * (ap**4 + am**4) / (ap**2 + am**2) ** 2 - 1, rel=1e-14)
    np.testing.assert_allclose(res.K, 1.3, rtol=1e-14)
    np.testing.assert_allclose(res.V / res.K**2, slope * np.arange(12), rtol=1e-12)
    np.testing.assert_array_equal(res.K_shift, 0.0)
    np.testing.assert_allclose(res.chi_par, 1.0, rtol=1e-14)


def test_lo_chi_par_equals_meanfield_chi_q():
    mf = importlib.import_module("statfield.meanfield")
    sw, sb = 1.6, 0.1
    res = fw.recursion("tanh", sw, sb, 60, 1.0)
    qs = mf.q_star("tanh", sw, sb)
    assert res.K[-1] == pytest.approx(qs, rel=1e-9)
    assert res.chi_par[-1] == pytest.approx(mf.chi_q("tanh", sw, sb), rel=1e-7)


def test_layer_two_is_exact_for_any_phi():
    """Var G^2 = sigma_w^4 (<phi^4> - <phi^2>^2)_{K1} / n exactly (G^1 deterministic)."""
    sw, sb, K1 = 1.3, 0.2, 0.9
    res = fw.recursion("tanh", sw, sb, 2, K1)
    g = expect(lambda x: np.tanh(x) ** 2, K1)
    g4 = expect(lambda x: np.tanh(x) ** 4, K1)
    assert res.V[1] == pytest.approx(sw**2 * (g4 - g * g), rel=1e-12)
    assert res.V[0] == 0.0 and res.K_shift[1] == 0.0


@pytest.mark.parametrize("name,sw,sb", [("linear", 0.9, 0.3), ("relu", 2.2, 0.1), ("leaky_relu_0.3", 1.5, 0.0)])
def test_exact_minus_lo_scales_as_inverse_n(name, sw, sb):
    """Exact vs leading order as n -> infinity: Var G differs by O(depth^2/n^2).

    The ratio of the differences at n and 2n tends to 4 (for Var G; 2 for V = n Var G).
    """
    depth, K1 = 8, 1.1
    lo = fw.recursion(name, sw, sb, depth, K1)
    diffs = []
    for n in (400, 800, 1600):
        ex = fw.recursion(name, sw, sb, depth, K1, width=n, exact=True)
        np.testing.assert_allclose(ex.K, lo.K, rtol=1e-13)  # mean is mean-field exactly
        diffs.append(ex.G_var() - lo.G_var(n))
    d = np.array(diffs)[:, 2:]
    r1, r2 = d[0] / d[1], d[1] / d[2]
    # ratio -> 4 with O(1/n) corrections (layer 3: exactly 4, the difference is exactly O(1/n^2))
    np.testing.assert_allclose(r1, 4.0, rtol=0.06)
    np.testing.assert_allclose(r2, 4.0, rtol=0.03)
    assert np.all(d[0] > 0)  # LO underestimates the variance (all cumulants of X are positive)


def test_exact_minus_lo_grows_as_depth_squared():
    """At criticality the exact - LO difference of n Var G/K^2 is C(l-1,2) c^2 / n + O(l^3/n^2)."""
    n, depth = 20000, 40
    ex = fw.recursion("relu", 2.0, 0.0, depth, 1.0, width=n, exact=True)
    lo = fw.recursion("relu", 2.0, 0.0, depth, 1.0)
    l = np.arange(1, depth + 1)
    diff = ex.V - lo.V
    pred = (l - 1) * (l - 2) / 2 * 25 / n
    np.testing.assert_allclose(diff[5:], pred[5:], rtol=0.05)
    slope = np.polyfit(np.log(l[10:] - 1.5), np.log(diff[10:]), 1)[0]
    assert slope == pytest.approx(2.0, abs=0.1)


def test_exact_criticality_closed_form():
    """Exact V/K^2 = n[(1 + c/n)^{l-1} - 1] at criticality (binomial chain, any width)."""
    for name, c in (("linear", 2.0), ("relu", 5.0)):
        act = get_activation(name)
        A2 = (act.a_plus**2 + act.a_minus**2) / 2
        n = 37
        ex = fw.recursion(act, 1 / A2, 0.0, 15, 2.5, width=n, exact=True)
        l = np.arange(1, 16)
        np.testing.assert_allclose(ex.V / ex.K**2, n * ((1 + c / n) ** (l - 1) - 1), rtol=1e-12)
        np.testing.assert_allclose(ex.kurtosis(), 3 * ((1 + c / n) ** (l - 1) - 1), rtol=1e-12)


def test_linear_multiplier_moments():
    for n in (1, 3, 50):
        mu = fw.chain_multiplier_moments("linear", n, 5)
        expected = [np.prod([1 + 2 * i / n for i in range(j)]) for j in range(6)]
        np.testing.assert_allclose(mu, expected, rtol=1e-13)


def test_relu_multiplier_moments_vs_binomial_mixture():
    """Cumulant route vs direct sum over k ~ Bin(n, 1/2) of E[(chi2_k/n)^j] = 2^j (k/2)_j / n^j."""
    for n in (1, 4, 25):
        mu = fw.chain_multiplier_moments("relu", n, 4)
        k = np.arange(n + 1)
        w = special.comb(n, k) / 2.0**n
        direct = [np.sum(w * 2.0**j * special.poch(k / 2, j)) / n**j for j in range(5)]
        np.testing.assert_allclose(mu, direct, rtol=1e-12)


def test_exact_moments_consistent_with_recursion():
    ex = fw.recursion("relu", 1.7, 0.4, 9, 0.8, width=13, exact=True)
    M = fw.exact_moments("relu", 1.7, 0.4, 9, 0.8, 13, order=3)
    np.testing.assert_allclose(M[:, 1], ex.K, rtol=1e-13)
    np.testing.assert_allclose(13 * (M[1:, 2] - M[1:, 1] ** 2), ex.V[1:], rtol=1e-10)


def test_unequal_widths_lo_vs_exact():
    """Unequal widths: the n_l/n_{l-1} factor; exact -> LO with the ratio 4 under doubling all widths."""
    base = np.array([300, 150, 600, 200, 400, 250])
    lo = fw.recursion("relu", 1.8, 0.2, 6, 1.0, width=base)
    lo_eq = fw.recursion("relu", 1.8, 0.2, 6, 1.0)
    assert not np.allclose(lo.V[2:], lo_eq.V[2:])  # the width ratios matter
    d = []
    for s in (1, 2, 4):
        ex = fw.recursion("relu", 1.8, 0.2, 6, 1.0, width=base * s, exact=True)
        d.append(ex.G_var() - lo.G_var(base * s))
    d = np.array(d)[:, 2:]
    np.testing.assert_allclose(d[1] / d[2], 4.0, rtol=0.05)


# ----------------------------------------------------------------------------- K* = 0 class
def test_k0_class_tends_to_two_thirds():
    rows = fw.k0_class_table("tanh", 1.0, (30, 150, 500))
    err = [abs(r["V_over_lK2"] - 2 / 3) for r in rows]
    assert err[0] > err[1] > err[2]
    assert err[2] < 0.01
    assert abs(rows[-1]["l_K"] - 0.5) < 0.01
    rows_erf = fw.k0_class_table("erf", math.pi / 4, (500,))
    assert abs(rows_erf[0]["V_over_lK2"] - 2 / 3) < 0.01


# ----------------------------------------------------------------------------- log q
def test_log_q_linear_closed_form():
    n, depth, sw, K1 = 30, 7, 1.4, 0.6
    r = fw.log_q_moments("linear", sw, depth, K1, n)
    l = np.arange(1, depth + 1)
    np.testing.assert_allclose(r.var, l * special.polygamma(1, n / 2), rtol=1e-13)
    np.testing.assert_allclose(r.mean, np.log(K1) + (l - 1) * np.log(sw) + l * (special.digamma(n / 2) - np.log(n / 2)),
                               rtol=1e-13)


@pytest.mark.parametrize("name,sw", [("linear", 1.0), ("relu", 2.0)])
def test_log_q_vs_mc(name, sw):
    act = get_activation(name)
    n, depth, N = 20, 6, 100_000
    rng = np.random.default_rng(11)
    _, q = sample_chain(act.a_plus, act.a_minus, sw, 0.0, 1.0, [n] * depth, N, rng)
    alive = np.all(q > 0, axis=1)
    lq = np.log(q[alive])
    r = fw.log_q_moments(name, sw, depth, 1.0, n)
    m, se = mean_estimate(lq)
    assert np.all(np.abs(z_scores(m, se, r.mean)) < Z_MAX)
    v, sev = var_estimate(lq)
    assert np.all(np.abs(z_scores(v, sev, r.var)) < Z_MAX)


def test_lognormal_limit_converges():
    """Exact Var ln q -> Hanin-Nica s^2 = c (l-1)/n + 2/n at fixed depth/width, error O(1/n)."""
    errs = []
    for n in (100, 200, 400):
        depth = n // 5 + 1  # beta = 0.2
        ex = fw.log_q_moments("relu", 2.0, depth, 1.0, n)
        ln = fw.lognormal_limit("relu", 2.0, depth, 1.0, n)
        assert ln.var[-1] == pytest.approx(5 * (depth - 1) / n + 2 / n, rel=1e-13)
        errs.append(abs(ex.var[-1] / ln.var[-1] - 1))
    assert errs[0] / errs[1] == pytest.approx(2.0, rel=0.15)
    assert errs[1] / errs[2] == pytest.approx(2.0, rel=0.1)


# ----------------------------------------------------------------------------- EFT
def test_effective_action_reproduces_moments():
    """<z^2>, <z^4>_c of exp(-g z^2/2)(1 + v z^4/8) equal K + K_shift/n, 3V/n up to O(1/n^2) (ratio 4)."""
    res = fw.recursion("tanh", 1.5, 0.05, 6, 1.0)
    d2, d4 = [], []
    for n in (400, 800, 1600):
        ea = res.effective_action(n)
        t = 1 / ea.g
        z2 = t + 1.5 * ea.v * t**3  # first order in v
        z4c = 3 * ea.v * t**4
        G = res.G_mean(n)
        d2.append(np.abs(z2 - G)[2:])
        d4.append(np.abs(z4c - 3 * res.G_var(n))[1:])
    d2, d4 = np.array(d2), np.array(d4)
    np.testing.assert_allclose(d2[1] / d2[2], 4.0, rtol=0.05)
    np.testing.assert_allclose(d4[1] / d4[2], 4.0, rtol=0.05)
    # the quartic coupling itself: v = V/(n K^4)
    np.testing.assert_allclose(res.effective_action(100).v, res.V / (100 * res.K**4), rtol=1e-14)


# ----------------------------------------------------------------------------- Monte Carlo
@pytest.mark.parametrize("name,sw,sb", [("linear", 1.0, 0.0), ("relu", 2.0, 0.0), ("relu", 1.6, 0.3)])
def test_exact_vs_mc_units(name, sw, sb):
    """Exact V = n Var G and exact excess kurtosis vs an explicit-unit sampler at n = 50, depth/n = 0.2."""
    n, depth, N = 50, 11, 6_000
    rng = np.random.default_rng(1000 + n)
    G, m2, m4 = sample_units(name, sw, sb, 1.0, [n] * depth, N, rng)
    ex = fw.recursion(name, sw, sb, depth, 1.0, width=n, exact=True)
    v, se = var_estimate(G)
    z = z_scores(n * v[1:], n * se[1:], ex.V[1:])
    assert np.all(np.abs(z) < Z_MAX), z
    kap, sek = kurtosis_from_units(m2, m4)
    zk = z_scores(kap[1:], sek[1:], ex.kurtosis()[1:])
    assert np.all(np.abs(zk) < Z_MAX), zk
    m, sem = mean_estimate(G)
    assert np.all(np.abs(z_scores(m[1:], sem[1:], ex.K[1:])) < Z_MAX)


@pytest.mark.parametrize("name,sw,sb", [("linear", 1.0, 0.0), ("relu", 2.0, 0.0), ("relu", 1.6, 0.3)])
def test_exact_vs_mc_chain(name, sw, sb):
    """Exact V and kurtosis vs the collective chain at n = 200, depth 41 (depth/n = 0.2)."""
    act = get_activation(name)
    n, depth, N = 200, 41, 20_000
    rng = np.random.default_rng(77)
    G, _ = sample_chain(act.a_plus, act.a_minus, sw, sb, 1.0, [n] * depth, N, rng)
    ex = fw.recursion(name, sw, sb, depth, 1.0, width=n, exact=True)
    v, se = var_estimate(G)
    z = z_scores(n * v[1:], n * se[1:], ex.V[1:])
    assert np.all(np.abs(z) < Z_MAX), z


def test_lo_fails_where_expected():
    """ReLU at depth/width = 0.4: MC rejects the leading order (|z| > 5) and accepts the exact result."""
    n, depth, N = 50, 21, 40_000
    rng = np.random.default_rng(7)
    G, _ = sample_chain(1.0, 0.0, 2.0, 0.0, 1.0, [n] * depth, N, rng)
    v, se = var_estimate(G)
    ex = fw.recursion("relu", 2.0, 0.0, depth, 1.0, width=n, exact=True)
    lo = fw.recursion("relu", 2.0, 0.0, depth, 1.0)
    assert abs(z_scores(n * v[-1], n * se[-1], ex.V[-1])) < Z_MAX
    assert abs(z_scores(n * v[-1], n * se[-1], lo.V[-1])) > Z_MAX


@pytest.mark.parametrize("n,depth,N", [(50, 3, 12_000), (200, 5, 5_000)])
def test_tanh_lo_vs_mc(n, depth, N):
    """tanh: LO V = n Var G, kurtosis and the 1/n shift of E G vs explicit-unit MC at depth/n <= 0.06."""
    sw, sb = 1.5, 0.05
    rng = np.random.default_rng(3 + n)
    G, m2, m4 = sample_units("tanh", sw, sb, 1.0, [n] * depth, N, rng)
    lo = fw.recursion("tanh", sw, sb, depth, 1.0)
    v, se = var_estimate(G)
    assert np.all(np.abs(z_scores(n * v[1:], n * se[1:], lo.V[1:])) < Z_MAX)
    kap, sek = kurtosis_from_units(m2, m4)
    assert np.all(np.abs(z_scores(kap[1:], sek[1:], lo.kurtosis(n)[1:])) < Z_MAX)
    m, sem = mean_estimate(G)
    assert np.all(np.abs(z_scores(m[1:], sem[1:], lo.G_mean(n)[1:])) < Z_MAX)


def test_tanh_kernel_shift_detected():
    """The 1/n shift K_shift/n of E G is resolved by MC: MC rejects the mean-field kernel, accepts K + K_shift/n."""
    sw, sb, n, depth, N = 1.5, 0.05, 8, 4, 100_000
    rng = np.random.default_rng(5)
    G, _, _ = sample_units("tanh", sw, sb, 1.0, [n] * depth, N, rng)
    lo = fw.recursion("tanh", sw, sb, depth, 1.0)
    m, sem = mean_estimate(G)
    assert np.all(np.abs(z_scores(m[2:], sem[2:], lo.K[2:])) > 3 * Z_MAX / 2)  # mean field alone: rejected
    assert np.all(np.abs(z_scores(m[2:], sem[2:], lo.G_mean(n)[2:])) < Z_MAX)


def test_exact_moments_vs_mc():
    """All moments: E q^m, m = 1..4, exact vs the collective chain (ReLU with bias, unequal widths)."""
    widths = [7, 12, 9, 15]
    rng = np.random.default_rng(21)
    _, q = sample_chain(1.0, 0.0, 1.9, 0.25, 0.8, widths, 400_000, rng)
    Mq = fw.q_moments("relu", 1.9, 0.25, 4, 0.8, widths, order=4)
    for m in range(1, 5):
        val, se = mean_estimate(q**m)
        assert np.all(np.abs(z_scores(val, se, Mq[:, m])) < Z_MAX), m


# ----------------------------------------------------------------------------- bad input
def test_bad_input():
    with pytest.raises(ValueError, match="depth"):
        fw.recursion("relu", 2.0, 0.0, 0, 1.0)
    with pytest.raises(ValueError, match="width"):
        fw.recursion("relu", 2.0, 0.0, 3, 1.0, width=0)
    with pytest.raises(ValueError, match="width"):
        fw.recursion("relu", 2.0, 0.0, 3, 1.0, width=[10, 10])
    with pytest.raises(ValueError, match="exact"):
        fw.recursion("tanh", 1.0, 0.0, 3, 1.0, width=10, exact=True)
    with pytest.raises(ValueError, match="width"):
        fw.recursion("relu", 2.0, 0.0, 3, 1.0, exact=True)
    with pytest.raises(ValueError, match="sigma_w2"):
        fw.recursion("relu", 0.0, 0.0, 3, 1.0)
    with pytest.raises(ValueError, match="sigma_b2"):
        fw.recursion("relu", 1.0, -0.1, 3, 1.0)
    with pytest.raises(ValueError, match="K1"):
        fw.recursion("relu", 1.0, 0.0, 3, 0.0)
    with pytest.raises(ValueError, match="width"):
        fw.recursion("relu", 2.0, 0.0, 3, 1.0).kurtosis()
    with pytest.raises(ValueError, match="width"):
        fw.recursion("relu", 2.0, 0.0, 3, 1.0, width=10, exact=True).kurtosis(20)
    with pytest.raises(ValueError, match="activation"):
        fw.log_q_moments("leaky_relu_0.1", 2.0, 3, 1.0, 10)
    with pytest.raises(ValueError, match="depth"):
        fw.recursion("linear", 3.0, 0.0, 5000, 1e300, width=10, exact=True)


# ----------------------------------------------------------------------------- two inputs
@pytest.mark.parametrize("name,sw", [("relu", 2.0), ("tanh", 1.3), ("erf", 1.1), ("linear", 0.9)])
def test_two_inputs_identical_reduce_to_single(name, sw):
    K1 = np.full((2, 2), 1.4)
    two = fw.two_input_recursion(name, sw, 0.1, 7, K1)
    one = fw.recursion(name, sw, 0.1, 7, 1.4)
    np.testing.assert_allclose(two.K, np.broadcast_to(one.K[:, None, None], two.K.shape), rtol=1e-12)
    np.testing.assert_allclose(two.vertex(), np.broadcast_to(one.V[:, None, None, None, None], (7, 2, 2, 2, 2)),
                               rtol=1e-10, atol=1e-12)


def test_two_inputs_linear_closed_form():
    """Linear phi: J = 1, so V^{l+1}_{(ab)(cd)} = sw^2 [V^l + sw^2... ] = sw4 V^l + sw4 (K_ac K_bd + K_ad K_bc)."""
    sw, sb = 0.8, 0.3
    K1 = np.array([[1.0, 0.4], [0.4, 2.0]])
    r = fw.two_input_recursion("linear", sw, sb, 5, K1)
    V = r.vertex()
    for l in range(4):
        K = r.K[l]
        pred = sw**2 * V[l] + sw**2 * (np.einsum("ac,bd->abcd", K, K) + np.einsum("ad,bc->abcd", K, K))
        np.testing.assert_allclose(V[l + 1], pred, rtol=1e-12)


def test_two_input_relu_moments_vs_closed_form_and_dblquad():
    from scipy import integrate

    act = get_activation("relu")
    K = np.array([[1.3, 0.5], [0.5, 0.8]])
    m = fw.two_input_moments(act, K)
    assert m["k"][1] == pytest.approx(float(act.kernel(1.3, 0.8, 0.5)), rel=1e-13)  # Cho-Saul arc-cosine kernel
    assert m["J"][1, 1] == pytest.approx(float(act.deriv_kernel(1.3, 0.8, 0.5)), rel=1e-13)
    inv = np.linalg.inv(K)
    norm = 1 / (2 * np.pi * np.sqrt(np.linalg.det(K)))

    def dens(v, u):
        return norm * math.exp(-0.5 * (inv[0, 0] * u * u + 2 * inv[0, 1] * u * v + inv[1, 1] * v * v))

    for (a, b), (i, j) in (((2, 2), (0, 2)), ((3, 1), (0, 1))):
        ref = integrate.dblquad(lambda v, u, a=a, b=b: u**a * v**b * dens(v, u), 0, 15, 0, 15, epsabs=1e-13)[0]
        kk = m["k"]
        assert m["C"][i, j] + kk[i] * kk[j] == pytest.approx(ref, rel=1e-9)
    # dk12/dK11 (homogeneity formula) vs a finite difference of the closed-form kernel
    h = 1e-6
    fd = (act.kernel(1.3 + h, 0.8, 0.5) - act.kernel(1.3 - h, 0.8, 0.5)) / (2 * h)
    assert m["J"][1, 0] == pytest.approx(float(fd), rel=1e-7)


@pytest.mark.parametrize("K11,K22", [(0.3, 0.2), (2.0, 5.0)])
def test_two_input_tanh_moments(K11, K22):
    """tanh on both 2-D rules: factorisation at zero covariance; J by finite differences."""
    K0 = np.array([[K11, 0.0], [0.0, K22]])
    m0 = fw.two_input_moments("tanh", K0)
    g1, g2 = fw.gaussian_moments("tanh", K11), fw.gaussian_moments("tanh", K22)
    assert m0["C"][0, 2] == pytest.approx(0.0, abs=1e-14)
    assert m0["C"][1, 1] == pytest.approx(g1["g"] * g2["g"], rel=1e-12)
    assert m0["C"][0, 0] == pytest.approx(g1["g4"] - g1["g"] ** 2, rel=1e-12)
    K = np.array([[K11, 0.6 * math.sqrt(K11 * K22)], [0.6 * math.sqrt(K11 * K22), K22]])
    m = fw.two_input_moments("tanh", K)
    h = 1e-5
    for col, dK in ((0, np.array([[h, 0], [0, 0]])), (1, np.array([[0, h], [h, 0]])), (2, np.array([[0, 0], [0, h]]))):
        fd = (fw.two_input_moments("tanh", K + dK)["k"] - fw.two_input_moments("tanh", K - dK)["k"]) / (2 * h)
        np.testing.assert_allclose(m["J"][:, col], fd, rtol=1e-6, atol=1e-9)


def sample_two_inputs(activation, sigma_w2, sigma_b2, K1, width, depth, n_samples, rng):
    """Exact two-input sampler: rows (z_j1, z_j2) ~ N(0, G) given G (2x2 Cholesky). Returns G (N, depth, 3)."""
    act = get_activation(activation)
    G = np.empty((n_samples, depth, 3))
    G[:, 0] = [K1[0, 0], K1[0, 1], K1[1, 1]]
    for l in range(depth - 1):
        L11 = np.sqrt(G[:, l, 0])
        L21 = G[:, l, 1] / L11
        L22 = np.sqrt(np.clip(G[:, l, 2] - L21**2, 0, None))
        x1 = rng.standard_normal((n_samples, width))
        x2 = rng.standard_normal((n_samples, width))
        p1 = act.numpy(L11[:, None] * x1)
        p2 = act.numpy(L21[:, None] * x1 + L22[:, None] * x2)
        G[:, l + 1, 0] = sigma_b2 + sigma_w2 * np.mean(p1 * p1, axis=1)
        G[:, l + 1, 1] = sigma_b2 + sigma_w2 * np.mean(p1 * p2, axis=1)
        G[:, l + 1, 2] = sigma_b2 + sigma_w2 * np.mean(p2 * p2, axis=1)
    return G


@pytest.mark.parametrize("name,sw,sb", [("relu", 2.0, 0.0), ("tanh", 1.5, 0.05)])
def test_two_input_vertex_vs_mc(name, sw, sb):
    """All six V_{(ab)(cd)} = n Cov(G_ab, G_cd) vs MC at n = 200, depth 4 (depth/n = 0.02)."""
    n, depth, N = 200, 4, 8000
    K1 = np.array([[1.0, 0.55], [0.55, 1.6]]) * sw + sb
    rng = np.random.default_rng(31)
    G = sample_two_inputs(name, sw, sb, K1, n, depth, N, rng)
    lo = fw.two_input_recursion(name, sw, sb, depth, K1)
    d = G - G.mean(axis=0)
    for i in range(3):
        for j in range(i, 3):
            prod = d[:, 1:, i] * d[:, 1:, j]
            val, se = prod.mean(axis=0) * N / (N - 1), prod.std(axis=0, ddof=1) / math.sqrt(N)
            z = z_scores(n * val, n * se, lo.V[1:, i, j])
            assert np.all(np.abs(z) < Z_MAX), (i, j, z)
    m, sem = mean_estimate(G[:, -1, 1])
    assert abs((m - lo.K[-1, 0, 1]) / sem) < Z_MAX


def test_two_input_bad_input():
    with pytest.raises(ValueError, match="K1"):
        fw.two_input_recursion("relu", 2.0, 0.0, 3, np.eye(3))
    with pytest.raises(ValueError, match="K1"):
        fw.two_input_recursion("relu", 2.0, 0.0, 3, np.array([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(ValueError, match="depth"):
        fw.two_input_recursion("relu", 2.0, 0.0, 0, np.eye(2))

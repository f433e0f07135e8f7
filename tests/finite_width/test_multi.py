"""Tests of statfield.finite_width for several inputs: vertex, kernel shift, connected four-point function.

Monte Carlo uses a small exact sampler written here (independent of statfield.sampling): given the metric
G (P x P) of a layer, the n rows of the layer are i.i.d. N(0, G), and the next metric is
sigma_b2 + sigma_w2 phi(Z)^T phi(Z) / n. Tolerances: |z| < 5 with standard errors estimated from the sample.
"""

import math
import warnings

import numpy as np
import pytest

from statfield import finite_width as fw
from statfield.activations import get_activation
from statfield.finite_width.multi import _pair_quantities

Z_MAX = 5.0
X3 = np.array([[1.0, 0.0], [0.6, 0.8], [-0.3, 1.2]])


def sample_metrics(activation, sigma_w2, sigma_b2, X, widths, n_samples, rng, units_out=False):
    """Exact sampler: metrics G (N, depth, P, P); with units_out also the units of the last layer (N, n, P)."""
    act = get_activation(activation)
    X = np.asarray(X, float)
    P, depth = X.shape[0], len(widths)
    G = np.empty((n_samples, depth, P, P))
    G[:, 0] = sigma_b2 + sigma_w2 * X @ X.T / X.shape[1]
    Z = None
    for l in range(depth):
        lam, U = np.linalg.eigh(G[:, l])
        T = U * np.sqrt(np.clip(lam, 0, None))[:, None, :]
        Z = rng.standard_normal((n_samples, widths[l], P)) @ np.swapaxes(T, 1, 2)
        if l + 1 < depth:
            F = act.numpy(Z)
            G[:, l + 1] = sigma_b2 + sigma_w2 * np.swapaxes(F, 1, 2) @ F / widths[l]
    return (G, Z) if units_out else G


def cov_estimate(x, y):
    """Unbiased covariance of two columns and its standard error."""
    N = x.shape[0]
    dx, dy = x - x.mean(), y - y.mean()
    prod = dx * dy
    return float(prod.sum() / (N - 1)), float(prod.std(ddof=1) / math.sqrt(N))


# ----------------------------------------------------------------------------- consistency
@pytest.mark.parametrize("name,sw,sb", [("tanh", 1.5, 0.05), ("relu", 2.0, 0.1), ("erf", 1.2, 0.1),
                                        ("linear", 0.9, 0.2), ("leaky_relu_0.2", 1.7, 0.1)])
def test_two_inputs_match_two_input_recursion(name, sw, sb):
    r = fw.multi_input_recursion(name, sw, sb, 6, X3[:2])
    t = fw.two_input_recursion(name, sw, sb, 6, inputs=X3[:2])
    np.testing.assert_allclose(r.K, t.K, rtol=1e-12, atol=1e-14)
    idx = [(0, 0), (0, 1), (1, 1)]
    for layer in (2, 4, 6):
        V = r.vertex(layer)
        Vt = np.array([[V[a, b, c, d] for c, d in idx] for a, b in idx])
        np.testing.assert_allclose(Vt, t.V[layer - 1], rtol=1e-10, atol=1e-13)
    one = fw.recursion(name, sw, sb, 6, inputs=X3[1])
    np.testing.assert_allclose(r.K_shift[:, 1, 1], one.K_shift, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("name", ["tanh", "relu", "gelu"])
def test_pair_derivatives_vs_finite_differences(name):
    """J = dk/dK and H = d2k/dK2 over the entries (aa, bb, ab) vs central differences of k."""
    act = get_activation(name)
    K = np.array([[1.3, 0.5], [0.5, 0.8]])

    def k(Km):
        return _pair_quantities(act, Km, np.array([0]), np.array([1]), fw.DEFAULT_NODES)[0][0]

    _, J, H, _ = _pair_quantities(act, K, np.array([0]), np.array([1]), fw.DEFAULT_NODES)
    E = [np.array([[1.0, 0], [0, 0]]), np.array([[0, 0], [0, 1.0]]), np.array([[0, 1.0], [1.0, 0]])]
    h = 1e-4
    Jfd = [(k(K + h * E[i]) - k(K - h * E[i])) / (2 * h) for i in range(3)]
    np.testing.assert_allclose(J[0], Jfd, rtol=1e-7, atol=1e-10)
    Hfd = np.array([[(k(K + h * (E[i] + E[j])) - k(K + h * (E[i] - E[j])) - k(K - h * (E[i] - E[j]))
                      + k(K - h * (E[i] + E[j]))) / (4 * h * h) for j in range(3)] for i in range(3)])
    np.testing.assert_allclose(H[0], Hfd, rtol=1e-4, atol=1e-6)


def test_pair_hessian_sum_rule_at_coincident_inputs():
    """At K_aa = K_bb = K_ab the three entries move together: sum of H = g'', sum of J = g'."""
    act = get_activation("tanh")
    K = np.full((2, 2), 1.3)
    _, J, H, _ = _pair_quantities(act, K, np.array([0]), np.array([1]), fw.DEFAULT_NODES)
    g = fw.gaussian_moments("tanh", 1.3)
    assert H[0].sum() == pytest.approx(g["d2g"], rel=1e-10)
    assert J[0].sum() == pytest.approx(g["dg"], rel=1e-12)


def test_four_point_quadrature_converges():
    """3- and 4-index averages: default rules vs much finer ones (ReLU: exact nested rule; tanh: adaptive GH)."""
    rng = np.random.default_rng(1)
    X = rng.standard_normal((4, 8))
    quads = np.array([[0, 1, 2, 3], [0, 0, 1, 2]])
    K = 0.05 + 1.5 * X @ X.T / 8
    for name, rtol in (("relu", 1e-5), ("leaky_relu_0.3", 1e-5), ("tanh", 1e-5)):
        v = fw.gaussian_four_point(name, K, quads)
        ref = fw.gaussian_four_point(name, K, quads, nodes={"pwl": 10, "eps": 1e-8})
        np.testing.assert_allclose(v, ref, rtol=rtol)
    K = 0.1 + X @ X.T / 8
    np.testing.assert_allclose(fw.gaussian_four_point("linear", K, quads),
                               [K[a, b] * K[c, d] + K[a, c] * K[b, d] + K[a, d] * K[b, c] for a, b, c, d in quads],
                               rtol=1e-14)


def test_four_point_vs_mc():
    """The 4-index tanh and ReLU averages vs plain MC of 2e6 Gaussian vectors."""
    rng = np.random.default_rng(3)
    K = 0.1 + 1.4 * X3 @ X3.T / 2
    K = np.block([[K, K[:, :1] * 0.5], [K[:1, :] * 0.5, np.array([[1.2]])]])
    quads = np.array([[0, 1, 2, 3], [0, 0, 1, 2]])
    z = rng.standard_normal((2_000_000, 4)) @ np.linalg.cholesky(K).T
    for name in ("tanh", "relu"):
        f = get_activation(name).numpy(z)
        th = fw.gaussian_four_point(name, K, quads)
        for q, t in zip(quads, th):
            v = np.prod(f[:, q], axis=1)
            assert abs(v.mean() - t) / (v.std() / math.sqrt(v.size)) < Z_MAX


def test_duplicate_inputs_exact():
    """Identical inputs: same numbers as the deduplicated problem, copied; no NaN anywhere."""
    Xd = np.array([X3[0], X3[1], X3[0], X3[2], X3[1]])
    r = fw.multi_input_recursion("tanh", 1.5, 0.05, 5, Xd)
    u = fw.multi_input_recursion("tanh", 1.5, 0.05, 5, X3)
    m = [0, 1, 0, 2, 1]
    assert np.all(np.isfinite(r.vertex())) and np.all(np.isfinite(r.K_shift))
    np.testing.assert_allclose(r.K, u.K[:, m][:, :, m], rtol=1e-14)
    np.testing.assert_allclose(r.K_shift, u.K_shift[:, m][:, :, m], rtol=1e-14)
    np.testing.assert_allclose(r.vertex(), u.vertex()[np.ix_(m, m, m, m)], rtol=1e-14)
    # collinear inputs of a scale-invariant activation (rho = 1 at every layer) stay finite and exact:
    # x_b = 2 x_a at sigma_b2 = 0 means z_b = 2 z_a, so V_(ab)(ab) = 4 V_(aa)(aa), K_shift = 0
    rc = fw.multi_input_recursion("relu", 2.0, 0.0, 6, np.array([[1.0, 0.5], [2.0, 1.0]]))
    Vc = rc.vertex()
    assert Vc[0, 1, 0, 1] == pytest.approx(4 * Vc[0, 0, 0, 0], rel=1e-12)
    np.testing.assert_allclose(rc.K_shift, 0.0, atol=1e-12)


def test_pairs_blocks_equal_full():
    X = np.vstack([X3, [[0.5, -0.5]]])
    full = fw.multi_input_recursion("relu", 1.8, 0.2, 5, X)
    part = fw.multi_input_recursion("relu", 1.8, 0.2, 5, X, pairs=[(0, 1), (2, 3)])
    Vf = full.vertex()
    for a, b, c, d in ((0, 1, 2, 3), (0, 1, 0, 1), (0, 0, 2, 3), (2, 3, 3, 3)):
        assert part.vertex_entry(a, b, c, d) == pytest.approx(Vf[a, b, c, d], rel=1e-12)
    np.testing.assert_allclose(part.K_shift, full.K_shift, rtol=1e-12)
    with pytest.raises(ValueError, match="pairs"):
        part.vertex_entry(0, 2, 1, 3)
    with pytest.raises(ValueError, match="pairs"):
        part.vertex()


# ----------------------------------------------------------------------------- linear: exact
def test_linear_exact_reduces_to_single_input():
    one = fw.recursion("linear", 0.9, 0.2, 7, inputs=X3[1], width=13, exact=True)
    m = fw.multi_input_recursion("linear", 0.9, 0.2, 7, X3, width=13, exact=True)
    np.testing.assert_allclose(m.vertex(7)[1, 1, 1, 1], one.V[-1], rtol=1e-12)
    np.testing.assert_allclose(m.K[:, 1, 1], one.K, rtol=1e-13)


def test_linear_exact_minus_lo_is_order_inverse_n():
    """n Cov(G) exact -> V (leading order) with an O(1/n) remainder: differences halve when n doubles."""
    lo = fw.multi_input_recursion("linear", 1.1, 0.1, 6, X3)
    d = []
    for n in (200, 400, 800):
        ex = fw.multi_input_recursion("linear", 1.1, 0.1, 6, X3, width=n, exact=True)
        d.append(ex.vertex(6) - lo.vertex(6))
    d = np.array(d)
    np.testing.assert_allclose(d[0] / d[1], 2.0, rtol=0.02)
    np.testing.assert_allclose(d[1] / d[2], 2.0, rtol=0.01)


def test_linear_exact_vs_mc_small_width():
    """Exact Wishart recursion at n = 3, depth 4 (depth/width > 1): all covariances of G vs MC."""
    n, depth, N = 3, 4, 60_000
    rng = np.random.default_rng(11)
    with pytest.warns(fw.FiniteWidthWarning, match="depth/width"):
        fw.multi_input_recursion("linear", 1.0, 0.1, depth, X3, width=n)
    ex = fw.multi_input_recursion("linear", 1.0, 0.1, depth, X3, width=n, exact=True)
    G = sample_metrics("linear", 1.0, 0.1, X3, [n] * depth, N, rng)
    V = ex.vertex(depth)
    zs = []
    for (a, b, c, d) in ((0, 0, 0, 0), (0, 1, 0, 1), (0, 1, 2, 2), (1, 2, 0, 2), (0, 0, 1, 1)):
        v, se = cov_estimate(G[:, -1, a, b], G[:, -1, c, d])
        zs.append((n * v - V[a, b, c, d]) / (n * se))
    assert np.all(np.abs(zs) < Z_MAX), zs
    c4 = fw.connected_four_point("linear", 1.0, 0.1, X3, depth, n)
    assert c4[0, 1, 2, 2] == pytest.approx((V[0, 1, 2, 2] + 2 * V[0, 2, 1, 2]) / n, rel=1e-12)


# ----------------------------------------------------------------------------- one hidden layer: exact
def _fourth_cumulant(z, idx):
    """Connected E[z_a z_b z_c z_d] from per-network unit averages (z: (N, n, P), mean zero exactly)."""
    a, b, c, d = idx
    pairs = ((a, b, c, d), (a, c, b, d), (a, d, b, c))
    y4 = np.mean(z[..., a] * z[..., b] * z[..., c] * z[..., d], axis=1)
    y2 = {(i, j): np.mean(z[..., i] * z[..., j], axis=1) for i in range(z.shape[-1]) for j in range(z.shape[-1])}
    m2 = {k: v.mean() for k, v in y2.items()}
    kap = y4.mean() - sum(m2[(i, j)] * m2[(k, l)] for i, j, k, l in pairs)
    psi = y4 - sum(m2[(i, j)] * y2[(k, l)] + m2[(k, l)] * y2[(i, j)] for i, j, k, l in pairs)
    return kap, psi.std(ddof=1) / math.sqrt(psi.size)


@pytest.mark.parametrize("name,sw,sb", [("tanh", 1.6, 0.1), ("relu", 2.0, 0.1)])
@pytest.mark.parametrize("n", [3, 10])
def test_one_hidden_layer_four_point_exact(name, sw, sb, n):
    """depth = 2: the connected four-point function is exact at every width (arXiv:2008.08601)."""
    N = 60_000
    rng = np.random.default_rng(100 + n)
    _, Z = sample_metrics(name, sw, sb, X3, [n, n], N, rng, units_out=True)
    th = fw.connected_four_point(name, sw, sb, X3, 2, n)
    zs, z0 = [], []
    for idx in ((0, 0, 0, 0), (0, 1, 0, 1), (0, 0, 1, 2), (0, 1, 2, 2), (1, 1, 2, 2)):
        kap, se = _fourth_cumulant(Z, idx)
        zs.append((kap - th[idx]) / se)
        z0.append(kap / se)
    assert np.all(np.abs(zs) < Z_MAX), zs
    if n == 3:  # the test has power: the Gaussian value 0 is rejected
        assert np.max(np.abs(z0)) > 3 * Z_MAX
    # permutation symmetry of the result
    np.testing.assert_allclose(th, th.transpose(1, 0, 2, 3), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(th, th.transpose(2, 3, 0, 1), rtol=1e-12, atol=1e-15)


# ----------------------------------------------------------------------------- leading order vs MC (1/n extrapolation)
def test_tanh_vertex_and_shift_vs_mc_extrapolated():
    """V and K_shift for 3 inputs at layer 3 vs MC at n = 8, 16, 32, extrapolated linearly in 1/n."""
    sw, sb, depth, N = 1.5, 0.05, 3, 30_000
    lo = fw.multi_input_recursion("tanh", sw, sb, depth, X3)
    V = lo.vertex(depth)
    widths = (8, 16, 32)
    ents = ((0, 0, 0, 0), (0, 1, 0, 1), (0, 1, 2, 2), (0, 2, 1, 2))
    kents = ((0, 0), (0, 1), (1, 2))
    vals = {e: [] for e in ents + kents}
    rng = np.random.default_rng(5)
    for n in widths:
        G = sample_metrics("tanh", sw, sb, X3, [n] * depth, N, rng)[:, -1]
        for a, b, c, d in ents:
            v, se = cov_estimate(G[:, a, b], G[:, c, d])
            vals[(a, b, c, d)].append((n * v, n * se))
        for a, b in kents:
            g = G[:, a, b]
            vals[(a, b)].append((n * (g.mean() - lo.K[-1, a, b]), n * g.std(ddof=1) / math.sqrt(N)))
    x = 1.0 / np.array(widths)
    A = np.stack([np.ones(3), x], 1)
    zs = []
    for key, pts in vals.items():
        y, s = np.array(pts).T
        W = np.diag(1 / s**2)
        cov = np.linalg.inv(A.T @ W @ A)
        coef = cov @ A.T @ W @ y
        pred = V[key] if len(key) == 4 else lo.K_shift[-1][key]
        zs.append((coef[0] - pred) / math.sqrt(cov[0, 0]))
    assert np.all(np.abs(zs) < Z_MAX), zs


# ----------------------------------------------------------------------------- bad input
def test_multi_bad_input():
    with pytest.raises(ValueError, match="X"):
        fw.multi_input_recursion("tanh", 1.0, 0.1, 3)
    with pytest.raises(ValueError, match="K1"):
        fw.multi_input_recursion("tanh", 1.0, 0.1, 3, K1=np.array([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(ValueError, match="pairs"):
        fw.multi_input_recursion("tanh", 1.0, 0.1, 3, X3, pairs=[(0, 7)])
    with pytest.raises(ValueError, match="exact"):
        fw.multi_input_recursion("tanh", 1.0, 0.1, 3, X3, width=10, exact=True)
    with pytest.raises(ValueError, match="width"):
        fw.connected_four_point("tanh", 1.0, 0.1, X3, 3, None)
    with pytest.raises(ValueError, match="nodes"):
        fw.multi_input_recursion("tanh", 1.0, 0.1, 3, X3, nodes={"eps": 1.0})
    with pytest.raises(ValueError, match="diagonal"):
        fw.multi_input_recursion("tanh", 1.0, 0.0, 3, np.array([[0.0, 0.0], [1.0, 1.0]]))
    with pytest.raises(OverflowError, match="layer"):
        fw.multi_input_recursion("linear", 5.0, 0.0, 600, X3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fw.multi_input_recursion("tanh", 1.0, 0.1, 2, X3, width=3)  # depth 2 is exact: no warning

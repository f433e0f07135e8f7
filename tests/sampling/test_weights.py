"""Weight-space reference vs the pre-activation and collective samplers (two-sample tests, exact moments)."""

import warnings

import numpy as np
import pytest
from scipy import stats

import statfield as sf
from statfield.activations import get_activation
from statfield.sampling.backend import default_rng, to_numpy
from statfield.sampling.collective import sample_collective
from statfield.sampling.preactivation import sample_preactivation
from statfield.sampling.weights import sample_weights

SW, SB, N, L = 2.0, 0.1, 8, 3


def _q_samples(method, act, n, seed):
    xp = np
    a = get_activation(act)
    rng = default_rng(seed, xp)
    X = np.ones((1, 1))
    if method == "weights":
        it = sample_weights(rng, n, a, SW, SB, [N] * L, X, xp, {"q"})
    elif method == "preactivation":
        it = sample_preactivation(rng, n, a, SW, SB, [N] * L, X, xp, {"q"})
    else:
        it = sample_collective(rng, n, a, SW, SB, [N] * L, SB + SW, xp)
    return [to_numpy(rec["q"]) for rec in it]


@pytest.mark.parametrize("act", ["relu", "tanh"])
def test_samplers_agree_in_distribution(act):
    """KS and Anderson-Darling k-sample tests on q^l at N=8, depth 3 (stated level 1e-3 each)."""
    n = 4000
    qw = _q_samples("weights", act, n, 1)
    qp = _q_samples("preactivation", act, n, 2)
    qc = _q_samples("collective", act, n, 3)
    for l in range(L):
        assert stats.ks_2samp(qw[l], qp[l]).pvalue > 1e-3
        assert stats.ks_2samp(qw[l], qc[l]).pvalue > 1e-3
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "p-value capped" / midrank deprecation notes
            ad = stats.anderson_ksamp([qw[l], qp[l], qc[l]])
        assert ad.pvalue > 1e-3  # scipy caps this p-value to [0.001, 0.25]: > 0.001 means "not rejected"


def test_moment_z_scores_weights_vs_preactivation_multi_input():
    X = np.random.default_rng(4).standard_normal((3, 5))
    kw = dict(inputs=X, seed=11)
    rw = sf.simulate("tanh", 1.6, 0.05, 6, 3, 6000, method="weights", **kw)
    rp = sf.simulate("tanh", 1.6, 0.05, 6, 3, 6000, method="preactivation", **kw)
    for name in ("gram", "G"):
        skip = 1 if name == "G" else 0  # layer 1: G is deterministic (equal to round-off)
        for ew, ep in zip(rw[name][skip:], rp[name][skip:]):
            se = np.hypot(ew.stderr, ep.stderr)
            assert np.all(se > 0), (name, se)  # a zero error bar would make z vacuous
            z = (ew.value - ep.value) / se
            assert np.all(np.abs(z) < 5), (name, z)


def test_per_layer_widths_and_exact_linear_identity():
    # E q^l = sigma_w2 E q^{l-1} + sigma_b2 for linear phi holds for any widths (N_0 = d_in)
    x = np.array([0.5, -1.0, 2.0, 0.0])
    widths = [3, 9, 2, 5]
    sw, sb = 1.3, 0.4
    res = sf.simulate("linear", sw, sb, widths, 4, 20000, inputs=x, method="weights", seed=5)
    q = x @ x / x.size
    for l in range(4):
        q = sw * q + sb
        assert abs(res["q"][l].z(q)) < 5
    assert res["G"][0].value == pytest.approx(sb + sw * x @ x / x.size, rel=1e-13)
    with pytest.raises(ValueError, match="width"):
        sf.simulate("linear", sw, sb, [3, 4], 4, 10, method="weights")


def test_first_layer_exact_distribution():
    # z^1 units are N(0, sigma_b2 + sigma_w2 |x|^2/d_in): N q^1 / K^1 ~ chi2_N exactly
    x = np.array([1.0, 2.0])
    K1 = 0.3 + 1.5 * (x @ x) / 2
    rng = default_rng(3)
    q1 = to_numpy(next(sample_weights(rng, 5000, get_activation("relu"), 1.5, 0.3, [4, 4], x[None], np, {"q"}))["q"])
    assert stats.kstest(4 * q1 / K1, stats.chi2(4).cdf).pvalue > 1e-3


def test_kurtosis_estimator_matches_fourth_moment_of_a_unit():
    """The Rao-Blackwellised kurtosis 3 Var G/(E G)^2 equals the excess kurtosis of one unit z_1^L,
    estimated here from an independent NumPy implementation of full networks (jackknife error)."""
    sw, sb, N, L, n = 2.0, 0.2, 3, 3, 100000
    rng = np.random.default_rng(99)
    h = np.ones((n, 1))
    for l in range(L):
        fan = h.shape[1]
        W = rng.standard_normal((n, N, fan)) * np.sqrt(sw / fan)
        z = np.einsum("nij,nj->ni", W, h) + np.sqrt(sb) * rng.standard_normal((n, N))
        h = np.maximum(z, 0.0)
    u = z[:, 0]
    G = 40  # jackknife over 40 groups, from per-group power sums (vectorised)
    sums = np.stack([np.sum(u.reshape(G, -1) ** p, axis=1) for p in range(1, 5)], axis=1)

    def kurt(s, m):  # excess kurtosis from power sums s = (S1..S4) of m samples
        mu = s[..., 0] / m
        m2 = s[..., 1] / m - mu**2
        m4 = s[..., 3] / m - 4 * mu * s[..., 2] / m + 6 * mu**2 * s[..., 1] / m - 3 * mu**4
        return m4 / m2**2 - 3

    full = kurt(sums.sum(0), n)
    loo = kurt(sums.sum(0) - sums, n - n // G)
    se_direct = np.sqrt((G - 1) / G * np.sum((loo - loo.mean()) ** 2))
    est = sf.simulate("relu", sw, sb, N, L, 400000, method="collective", seed=8, observables=("kurtosis",))["kurtosis"][-1]
    z_score = (est.value - full) / np.hypot(est.stderr, se_direct)
    assert abs(z_score) < 5, (est, full, se_direct)
    assert full == pytest.approx(stats.kurtosis(u), rel=1e-8)
    assert est.stderr < se_direct  # the conditional (Rao-Blackwellised) estimator is the more precise one


def test_correlation_coefficient_weights_vs_preactivation():
    X = np.array([[1.0, 0.0, 1.0], [0.5, 1.0, -1.0]])
    rw = sf.simulate("erf", 1.8, 0.05, 5, 4, 8000, inputs=X, method="weights", seed=21, observables=("c",))
    rp = sf.simulate("erf", 1.8, 0.05, 5, 4, 8000, inputs=X, method="preactivation", seed=22, observables=("c",))
    for ew, ep in zip(rw["c"], rp["c"]):
        assert abs((ew.value - ep.value) / np.hypot(ew.stderr, ep.stderr)) < 5

"""Wishart chains of linear networks: exact first and second moments (P > N included), agreement with the
pre-activation sampler, dispatch and bad input."""

import numpy as np
import pytest

import statfield as sf
from statfield.sampling.backend import default_rng, get_namespace
from statfield.sampling.wishart import linear_gram_moments, sample_wishart
from statfield.stats import mean_estimate

X4 = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 0.2], [1.0, 1.0, 1.0], [0.3, -1.0, 0.0]])


@pytest.mark.parametrize("widths, sb", [([2, 6, 3], 0.2), ([3, 1, 5], 0.0)])
def test_exact_means_and_second_moments_including_singular_wishart(widths, sb):
    """E gram^l = iterated kernel and E[(gram-K)_ij (gram-K)_kl] = M_ijkl - K_ij K_kl exactly (P = 4 > N)."""
    sw, n = 1.3, 20000
    xp = get_namespace("numpy")
    acts = sf.get_activation("linear")
    grams = [[] for _ in widths]
    for b in range(4):
        for l, rec in enumerate(sample_wishart(default_rng(100 + b), n // 4, acts, sw, sb, widths, X4, xp,
                                               {"gram", "G"})):
            grams[l].append(rec["gram"])
    K, M = linear_gram_moments(sw, sb, widths, X4)
    for l in range(len(widths)):
        g = np.concatenate(grams[l])
        assert np.all(np.abs(mean_estimate(g).z(K[l])) < 5)
        d = (g - K[l]).reshape(n, -1)
        second = mean_estimate(d[:, :, None] * d[:, None, :])  # known mean: no bias from centring
        exact = (M[l] - np.einsum("ij,kl->ijkl", K[l], K[l])).reshape(16, 16)
        assert np.all(np.abs(second.z(exact)) < 5)
    # rank: with N_l < P the Gram matrix of layer l is singular (sigma_b2 = 0 keeps the rank)
    if sb == 0.0:
        assert np.linalg.matrix_rank(grams[1][0][0]) == 1


def test_agrees_with_preactivation_sampler_in_distribution():
    from scipy.stats import ks_2samp

    args = ("linear", 1.1, 0.1, [3, 8, 2], 3)
    a = sf.simulate(*args, 2000, inputs=X4[:2], method="wishart", seed=1, variance_reduction=False)
    b = sf.simulate(*args, 2000, inputs=X4[:2], method="preactivation", seed=2, variance_reduction=False)
    for name in ("gram", "G", "c"):
        assert np.all(np.abs((a[name] - b[name]).z(0.0)) < 5), name
    xp = get_namespace("numpy")
    lin = sf.get_activation("linear")
    from statfield.sampling.preactivation import sample_preactivation

    wl = list(sample_wishart(default_rng(3), 2000, lin, 1.1, 0.1, [3, 8, 2], X4[:2], xp, {"c", "gram"}))
    pl = list(sample_preactivation(default_rng(4), 2000, lin, 1.1, 0.1, [3, 8, 2], X4[:2], xp, {"c", "gram"}))
    for l in range(3):
        assert ks_2samp(wl[l]["c"], pl[l]["c"]).pvalue > 1e-4
        assert ks_2samp(wl[l]["gram"][:, 1, 1], pl[l]["gram"][:, 1, 1]).pvalue > 1e-4


def test_auto_dispatch_single_input_and_bad_activation():
    res = sf.simulate("linear", 1.0, 0.1, 5, 2, 40, inputs=X4)
    assert res.method == "wishart" and res.value("gram").shape == (2, 4, 4)
    assert sf.simulate("relu", 1.0, 0.1, 5, 2, 40, inputs=X4).method == "preactivation"
    one = sf.simulate("linear", 0.8, 0.3, 6, 3, 4000, method="wishart", seed=3)
    K, _ = linear_gram_moments(0.8, 0.3, [6] * 3, np.ones((1, 1)))
    assert set(one.names) >= {"q", "log_q", "G", "G_var"}
    assert np.all(np.abs(one["q"].z(K[:, 0, 0])) < 5)
    with pytest.raises(ValueError, match="method='wishart' needs a linear activation"):
        sf.simulate("relu", 1.0, 0.1, 5, 2, 40, inputs=X4, method="wishart")

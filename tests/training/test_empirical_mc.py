"""Monte Carlo mean of the empirical NTK against meanfield.ntk_kernel (z-tests, |z| < 5)."""

import numpy as np

from statfield import meanfield as mf
from statfield.sampling.backend import default_rng, get_namespace
from statfield.sampling.ntk import empirical_ntk_observable, sample_ntk
from statfield.sampling.runner import block_seed

X = np.array([[1.0, 0.0], [0.6, 0.8], [-0.3, 0.5]])
IU = np.triu_indices(3)


def _mc(act, sw, sb, N, depth, n, seed, blocks=4):
    xp = get_namespace("numpy")
    vals = np.concatenate([np.asarray(empirical_ntk_observable(default_rng(block_seed(seed, b), xp), n // blocks, act,
                                                               sw, sb, [N] * depth, X, xp)["ntk"])
                           for b in range(blocks)])
    return vals.mean(axis=0)[IU], (vals.std(axis=0, ddof=1) / np.sqrt(len(vals)))[IU]


def test_linear_network_mean_ntk_is_exact_at_any_width():
    """Linear phi: delta^l (layers above) and G^l (layers below) are independent and E G^l = K^l exactly."""
    th = mf.ntk_kernel("linear", 0.9, 0.1, X, 3)[IU]
    for N in (4, 16):
        m, se = _mc("linear", 0.9, 0.1, N, 3, 2000, seed=N)
        z = (m - th) / se
        assert np.all(np.abs(z) < 5), (N, z)


def test_relu_mean_ntk_extrapolates_to_ntk_kernel():
    """ReLU, two-input entries biased at O(1/N): WLS fit a + b/N over N = 16, 32, 64; intercept vs theory."""
    sw, sb = 2.0, 0.1
    th = mf.ntk_kernel("relu", sw, sb, X, 3)[IU]
    widths = np.array([16, 32, 64])
    ms, ses = zip(*[_mc("relu", sw, sb, N, 3, 3000, seed=100 + N) for N in widths])
    ms, ses = np.array(ms), np.array(ses)
    A = np.vander(1.0 / widths, 2, increasing=True)
    for k in range(len(th)):
        w = 1.0 / ses[:, k] ** 2
        cov = np.linalg.inv(A.T @ (A * w[:, None]))
        coef = cov @ (A.T @ (w * ms[:, k]))
        z = (coef[0] - th[k]) / np.sqrt(cov[0, 0])
        assert abs(z) < 5, (k, coef, th[k], z)


def test_sample_ntk_block_interface():
    xp = get_namespace("numpy")
    recs = list(sample_ntk(default_rng(0, xp), 3, "tanh", 1.5, 0.1, [5, 5], X, xp))
    assert len(recs) == 1 and recs[0]["ntk"].shape == (3, 3, 3)
    assert np.all(np.linalg.eigvalsh(np.asarray(recs[0]["ntk"])) > 0)

"""The explicit forward/backward empirical NTK equals the Jacobian-product NTK by finite differences."""

import numpy as np
import pytest

from statfield.sampling.backend import default_rng, get_namespace
from statfield.training.empirical import (
    empirical_ntk,
    forward,
    init_parameters,
    network_widths,
)


def _flat_jacobian(params, X, act, sw, sb, h=1e-6):
    """Central finite-difference Jacobian d f(x_a) / d theta, one row per input (numpy, one network)."""
    xp = get_namespace("numpy")
    flat = [np.array(p, copy=True) for Wb in params for p in Wb]
    rows = []

    def out(arrs):
        ps = [(arrs[2 * i], arrs[2 * i + 1]) for i in range(len(arrs) // 2)]
        zs, _ = forward(ps, xp.asarray(X), act, sw, sb, xp)
        return np.asarray(zs[-1][0, 0, :])

    for k, a in enumerate(flat):
        for idx in np.ndindex(a.shape):
            plus = [b.copy() for b in flat]
            minus = [b.copy() for b in flat]
            plus[k][idx] += h
            minus[k][idx] -= h
            rows.append((out(plus) - out(minus)) / (2 * h))
    return np.array(rows)  # (n_params, P)


@pytest.mark.parametrize("act", ["tanh", "erf", "relu", "gelu"])
def test_empirical_ntk_equals_finite_difference(act):
    rng = default_rng(3)
    X = np.random.default_rng(0).normal(size=(4, 3))
    widths = network_widths([5, 4], 3)
    params = init_parameters(rng, 1, widths, 3)
    sw, sb = 1.7, 0.2
    J = _flat_jacobian(params, X, act, sw, sb)
    ref = J.T @ J
    th = np.asarray(empirical_ntk(params, X, act, sw, sb))[0]
    assert th.shape == (4, 4)
    np.testing.assert_allclose(th, ref, rtol=1e-8, atol=1e-8 * np.abs(ref).max())


def test_cross_kernel_and_batch_consistency():
    rng = default_rng(5)
    X = np.random.default_rng(1).normal(size=(3, 2))
    X2 = np.random.default_rng(2).normal(size=(2, 2))
    params = init_parameters(rng, 4, network_widths(6, 3), 2)
    full = np.asarray(empirical_ntk(params, np.concatenate([X, X2]), "tanh", 1.3, 0.1))
    cross = np.asarray(empirical_ntk(params, X, "tanh", 1.3, 0.1, X2=X2))
    np.testing.assert_allclose(cross, full[:, :3, 3:], rtol=1e-13, atol=1e-13)
    # each network of the batch alone gives the same kernel
    for i in range(4):
        one = [(W[i:i + 1], b[i:i + 1]) for W, b in params]
        np.testing.assert_allclose(np.asarray(empirical_ntk(one, X, "tanh", 1.3, 0.1))[0], full[i, :3, :3],
                                   rtol=1e-13, atol=1e-13)


def test_array_api_strict_matches_numpy():
    pytest.importorskip("array_api_strict")
    X = np.random.default_rng(4).normal(size=(3, 2))
    th = {}
    for be in ("numpy", "array_api_strict"):
        xp = get_namespace(be)
        params = init_parameters(default_rng(7, xp), 2, network_widths(5, 3), 2)
        th[be] = np.asarray(empirical_ntk(params, X, "relu", 2.0, 0.1, xp=xp))
    np.testing.assert_allclose(th["array_api_strict"], th["numpy"], rtol=1e-14, atol=0)


def test_bad_input():
    params = init_parameters(default_rng(0), 1, network_widths(3, 2), 2)
    with pytest.raises(ValueError, match="X must be finite"):
        empirical_ntk(params, [[np.nan, 1.0]], "relu", 2.0, 0.0)
    with pytest.raises(ValueError, match="d_in=2"):
        empirical_ntk(params, [[1.0, 2.0, 3.0]], "relu", 2.0, 0.0)
    with pytest.raises(ValueError, match="width"):
        network_widths([3, 3], 2)

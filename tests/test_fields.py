"""Tests for statfield.fields: the numeric EFT fluctuation fields (array API)."""

import math

import numpy as np
import pytest

from statfield import fields as F


def test_saddle_values_equal_mean_field_fixed_points():
    # q* solves the mean-field q-map q = sigma_w2 E[phi(sqrt(q) z)^2] + sigma_b2
    sw, sb = 0.7, 0.3
    q = F.q_star_large_n("linear", sw, sb)
    assert q == pytest.approx(sw * q + sb, rel=1e-14)
    q = F.q_star_large_n("relu", 1.5, sb)
    assert q == pytest.approx(1.5 * q / 2 + sb, rel=1e-14)  # E[relu(sqrt(q)z)^2] = q/2
    sp = F.saddle_point("relu", 1.5, sb, width=10)
    assert sp["u_star"] == sp["v_star"] == pytest.approx(q / 2)
    assert sp["r_plus_star"] == pytest.approx(math.sqrt(10 * q / 2))
    assert sp["k_star"] == 5.0


def test_linear_fields_roundtrip_and_zero_at_saddle(xp):
    sw, sb, n = 0.6, 0.4, 50
    qs = F.q_star_large_n("linear", sw, sb)
    q = xp.asarray([qs, 0.5 * qs, 2.0 * qs], dtype=xp.float64)
    eps = F.linear_fields(q, sw, sb, n)
    assert type(eps) is type(q)
    e = np.asarray(eps)
    np.testing.assert_allclose(e, math.sqrt(n) * (np.sqrt([1.0, 0.5, 2.0]) - 1.0), rtol=1e-14, atol=1e-14)
    back = F.linear_from_fields(eps, sw, sb, n)
    np.testing.assert_allclose(np.asarray(back), np.asarray(q), rtol=1e-14)


def test_relu_fields_roundtrip(xp):
    sw, sb, n = 1.2, 0.2, 40
    u = xp.asarray([0.1, 0.3], dtype=xp.float64)
    v = xp.asarray([0.2, 0.05], dtype=xp.float64)
    k = xp.asarray([20, 31], dtype=xp.int64)
    ep, em, ek = F.relu_fields(u, v, k, sw, sb, n)
    assert ek.dtype == xp.float64
    np.testing.assert_allclose(np.asarray(ek), (np.array([20, 31]) - 20) / math.sqrt(40), rtol=1e-15)
    u2, v2, k2 = F.relu_from_fields(ep, em, ek, sw, sb, n)
    np.testing.assert_allclose(np.asarray(u2), np.asarray(u), rtol=1e-13)
    np.testing.assert_allclose(np.asarray(v2), np.asarray(v), rtol=1e-13)
    np.testing.assert_allclose(np.asarray(k2), [20, 31], rtol=1e-13)
    d = F.fields("relu", {"u": u, "v": v, "k": k}, sw, sb, n)
    assert tuple(d) == F.FIELD_NAMES["relu"]


def test_relu_eps_k_variance_is_one_quarter(rng):
    # k ~ Binomial(N, 1/2) exactly, so Var eps_k = 1/4 at every N; MC with |z| < 5
    n, m = 31, 200_000
    k = rng.binomial(n, 0.5, size=m)
    qs = F.q_star_large_n("relu", 1.0, 1.0)
    _, _, ek = F.relu_fields(np.full(m, qs / 2), np.full(m, qs / 2), k, 1.0, 1.0, n)
    x = ek**2
    z = (x.mean() - 0.25) / (x.std(ddof=1) / math.sqrt(m))
    assert abs(z) < 5


@pytest.mark.parametrize("kwargs, name", [
    ({"activation": "tanh", "sigma_w2": 0.5, "sigma_b2": 0.1}, "activation"),
    ({"activation": "leaky_relu_0.1", "sigma_w2": 0.5, "sigma_b2": 0.1}, "activation 'leaky_relu_0.1'"),
    ({"activation": "linear", "sigma_w2": 1.0, "sigma_b2": 0.1}, "sigma_w2"),
    ({"activation": "relu", "sigma_w2": 2.5, "sigma_b2": 0.1}, "sigma_w2"),
    ({"activation": "relu", "sigma_w2": -1.0, "sigma_b2": 0.1}, "sigma_w2"),
    ({"activation": "linear", "sigma_w2": 0.5, "sigma_b2": 0.0}, "sigma_b2"),
])
def test_bad_parameters(kwargs, name):
    with pytest.raises(ValueError, match=name):
        F.q_star_large_n(**kwargs)


def test_bad_observables():
    with pytest.raises(ValueError, match="q"):
        F.linear_fields(np.array([-1.0]), 0.5, 0.1, 10)
    with pytest.raises(ValueError, match="k"):
        F.relu_fields(np.ones(1), np.ones(1), np.array([11]), 1.0, 0.1, 10)
    with pytest.raises(ValueError, match="width"):
        F.linear_fields(np.ones(1), 0.5, 0.1, 0)

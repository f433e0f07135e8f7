"""Initialisation schemes with unequal widths: mean-field forward/backward variances vs weight-space MC."""

from __future__ import annotations

import math

import numpy as np
import pytest

from statfield import initialisation as ini

WIDTHS = [30, 64, 128, 32, 96, 64]


def test_weight_variances_table():
    v = {s: ini.weight_variances([10, 20, 5], s, 2.0) for s in ini.SCHEMES}
    assert np.allclose(v["fan_in"], [0.2, 0.1])
    assert np.allclose(v["fan_out"], [0.1, 0.4])
    assert np.allclose(v["glorot"], [4 / 30, 4 / 25])
    assert np.allclose(v["orthogonal"], [0.1, 0.1])


def test_ratios_follow_the_width_ratios():
    for scheme in ini.SCHEMES:
        vp = ini.variance_propagation("relu", WIDTHS, scheme, 2.0, 0.0)
        n = np.array(WIDTHS, float)
        v = ini.weight_variances(WIDTHS, scheme, 2.0)
        assert np.allclose(vp.forward_ratio, v[1:] * n[1:-1] * 0.5)  # ReLU: <phi^2> = q/2
        assert np.allclose(vp.backward_ratio, v[1:] * n[2:] * 0.5)
    fi = ini.variance_propagation("relu", WIDTHS, "fan_in", 2.0, 0.0)
    assert np.allclose(fi.forward_ratio, 1.0)  # He: forward exactly neutral at any widths
    fo = ini.variance_propagation("relu", WIDTHS, "fan_out", 2.0, 0.0)
    assert np.allclose(fo.backward_ratio, 1.0)  # fan-out: backward neutral


@pytest.mark.parametrize("scheme", ini.SCHEMES)
@pytest.mark.parametrize("act,sw,sb", [("relu", 2.0, 0.0), ("tanh", 1.5, 0.1)])
def test_theory_against_weight_space_monte_carlo(scheme, act, sw, sb):
    th = ini.variance_propagation(act, WIDTHS, scheme, sw, sb)
    q, g = ini.sample_variance_propagation(act, WIDTHS, scheme, sw, sb, n_networks=1500, seed=11)
    for est, pred in ((q, th.q), (g, th.g)):
        z = (est.mean(0) - pred) / (est.std(0, ddof=1) / math.sqrt(len(est)))
        # ReLU forward is exact at any width; tanh and the backward pass carry O(1/N) corrections that are
        # below the statistical error at these widths and 1500 networks
        assert np.max(np.abs(z)) < 5


def test_bad_input():
    with pytest.raises(ValueError, match="scheme"):
        ini.variance_propagation("relu", WIDTHS, "lecun")
    with pytest.raises(ValueError, match="widths"):
        ini.variance_propagation("relu", [10])
    with pytest.raises(ValueError, match="sigma_w2"):
        ini.variance_propagation("relu", WIDTHS, "fan_in", -1.0)
    with pytest.raises(OverflowError, match="layer"):
        ini.variance_propagation("linear", [10] + [10] * 400, "fan_in", 40.0)

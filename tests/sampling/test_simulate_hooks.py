"""simulate(..., observables=("ntk",)) and simulate(..., residual=True): delegation, exactness, bad input."""

from __future__ import annotations

import numpy as np
import pytest

import statfield
from statfield import meanfield as mf
from statfield import resnet as rn

X = np.array([[1.0, 0.2], [-0.5, 0.8]])


def test_empirical_ntk_observable_mean_is_the_ntk_for_linear_networks():
    # linear networks: E Theta = Theta_infinity exactly at any width (TRAIN's tests cover the 1/N bias otherwise)
    r = statfield.simulate("linear", 1.2, 0.1, 8, 3, 3000, inputs=X, observables=("ntk",), seed=4)
    th = mf.ntk_kernel("linear", 1.2, 0.1, X, 3)
    assert r["ntk"].value.shape == (2, 2)
    assert np.max(np.abs(r["ntk"].z(th))) < 5


def test_empirical_ntk_observable_is_chunk_invariant():
    a = statfield.simulate("tanh", 1.5, 0.1, 8, 2, 600, inputs=X, observables=("ntk",), seed=2, block_size=100)
    b = statfield.simulate("tanh", 1.5, 0.1, 8, 2, 600, inputs=X, observables=("ntk",), seed=2, block_size=100,
                           chunk_size=1, workers=2)
    assert np.array_equal(a["ntk"].value, b["ntk"].value) and np.array_equal(a["ntk"].stderr, b["ntk"].stderr)


def test_residual_delegates_to_the_resnet_sampler():
    a = statfield.simulate("relu", 1.0, 0.05, 16, 4, 2000, residual=True, seed=3)
    b = rn.simulate_resnet("relu", 1.0, 0.05, 16, 4, 2000, seed=3)
    assert np.array_equal(a["q"].value, b["q"].value)
    fw = rn.resnet_finite_width_q("relu", 1.0, 0.05, 1.05, 4)
    assert abs(a["q"].z(fw.mean_q(16))[-1]) < 5


def test_hook_bad_input():
    with pytest.raises(ValueError, match="method"):
        statfield.simulate("relu", 1.0, 0.0, 8, 3, 100, residual=True, method="collective")
    with pytest.raises(ValueError, match="observables"):
        statfield.simulate("relu", 1.0, 0.0, 8, 3, 100, residual=True, observables=("log_q",))
    with pytest.raises(ValueError, match="observables"):
        statfield.simulate("relu", 1.0, 0.0, 8, 3, 100, inputs=X, observables=("ntk", "q"))
    with pytest.raises(ValueError, match="method"):
        statfield.simulate("relu", 1.0, 0.0, 8, 3, 100, inputs=X, observables=("ntk",), method="collective")

"""Streaming memory, up-front refusal of requests that cannot fit or finish, MCMC overflow."""

import math
import tracemalloc

import numpy as np
import pytest

import statfield as sf
from statfield.sampling.mcmc import simulate_mcmc
from statfield.sampling.plan import make_plan


def test_memory_does_not_grow_with_depth_times_block_size():
    """Per-layer statistics are streamed: the peak is far below n x depth x observables raw floats."""
    n, depth = 256, 600
    raw = n * depth * 3 * 8  # q, log_q, G of every network and layer: what a non-streaming block holds
    sf.simulate("tanh", 1.5, 0.1, 4, 3, 4, seed=0)  # warm-up: lazy imports are not part of the run
    tracemalloc.start()
    res = sf.simulate("tanh", 1.5, 0.1, 4, depth, n, block_size=n, seed=0, observables=("q", "log_q", "G"))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert res.value("q").shape == (depth,)
    assert peak < raw / 5, (peak, raw)  # measured: 0.15 MB against 3.7 MB raw


def test_requests_that_cannot_fit_or_finish_are_refused_with_the_estimate():
    with pytest.raises(ValueError, match=r"estimated .*(GiB|TiB|PiB) of memory"):
        sf.simulate("tanh", 1.5, 0.1, 10**6, 3, 10, method="weights", block_size=256)
    with pytest.raises(ValueError, match=r"estimated .* of memory, more than max_memory"):
        sf.simulate("relu", 2.0, 0.1, 8, 10**4, 10, max_memory=1e5)
    with pytest.raises(ValueError, match=r"estimated .* s .*days.*max_seconds"):
        sf.simulate("relu", 2.0, 0.1, 8, 10**6, 10**9)
    with pytest.raises(ValueError, match="max_seconds"):
        sf.simulate("relu", 2.0, 0.1, 8, 3, 10, max_seconds=-1.0)
    plan = make_plan("relu", 2.0, 0.1, 8, 100000, 256)  # the deep ReLU request of the issue now fits
    assert plan.resources["bytes"] < 2**30


def test_mcmc_extreme_sigma_b2_raises_or_stays_finite():
    with pytest.raises(OverflowError, match="'q'.*site 0"):
        simulate_mcmc("relu", 1.0, 1e300, 8, 4, 20, n_chains=4, n_tune=10)
    with pytest.raises(OverflowError, match="underflow"):
        simulate_mcmc("linear", 0.5, 1e-300, 8, 4, 20, n_chains=4, n_tune=10)
    res = simulate_mcmc("relu", 1.0, 1e300, 8, 4, 20, n_chains=4, n_tune=10, observables=("log_q",))
    assert np.all(np.isfinite(res["log_q"].value)) and np.all(res["log_q"].value > math.log(1e299))

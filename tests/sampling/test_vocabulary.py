"""One result vocabulary: MCMC results in the names of the exact samplers, versioned exact JSON,
EFT refusal with one message, dispatch on the activation object."""

import json

import numpy as np
import pytest

import statfield as sf
from statfield.sampling import SimulationResult
from statfield.sampling.mcmc import simulate_mcmc
from statfield.sampling.result import SCHEMA_VERSION
from statfield.stats import Estimate


def _same(a, b):
    assert a.names == b.names
    for name in a.names:
        assert a[name] == b[name], name


def test_json_round_trip_is_exact():
    res = sf.simulate("relu", 1.5, 0.5, 8, 12, 300, eft_lags=(0, 2), burn_in=4, seed=2)
    d = json.loads(res.dumps())
    assert d["schema_version"] == SCHEMA_VERSION and d["schema"] == "statfield.SimulationResult"
    back = SimulationResult.from_json(d)
    _same(res, back)
    assert back.parameters == res.parameters and back.seed == res.seed and back.method == res.method
    assert back.to_json() == res.to_json()
    assert SimulationResult.from_json(res.dumps()).to_json() == res.to_json()  # from a string as well
    multi = sf.simulate("tanh", 1.5, 0.1, 4, 3, 20, inputs=np.eye(2), seed=0)
    _same(multi, SimulationResult.from_json(multi.dumps()))
    with pytest.raises(ValueError, match="schema"):
        SimulationResult.from_json(dict(d, schema_version=SCHEMA_VERSION + 1))


def test_mcmc_speaks_the_vocabulary_of_the_exact_samplers():
    res = sf.simulate("relu", 1.0, 0.5, 64, 6, 16, method="mcmc", seed=3, n_sweeps=40, n_tune=40,
                      eft_lags=(0, 1))
    exact = sf.simulate("relu", 1.0, 0.5, 64, 6, 16, seed=3, eft_lags=(0, 1))
    assert set(res.names) == set(exact.names)  # q, log_q, G, G_var, kurtosis, u, v, k, eft_mean, eft_corr
    assert "ln_q" not in res.names and res["log_q"].shape == (6,) and res["eft_corr"].shape == (2, 3, 3)
    assert all(isinstance(e, Estimate) and e.n == 16 for e in res["q"])  # n_samples = independent chains
    assert res.parameters["n_samples"] == 16 and res.parameters["n_sweeps"] == 40
    _same(res, SimulationResult.from_json(res.dumps()))
    with pytest.raises(ValueError, match="burn_in"):
        sf.simulate("relu", 1.0, 0.5, 8, 6, 16, method="mcmc", burn_in=3)
    with pytest.raises(ValueError, match="unexpected"):
        sf.simulate("relu", 1.0, 0.5, 8, 6, 16, method="mcmc", n_samples_per_chain=3)


def test_leaky_relu_eft_is_refused_everywhere_with_one_message():
    msgs = []
    for call in (lambda: sf.simulate("leaky_relu_0.2", 1.0, 0.5, 16, 8, 10, eft_lags=(0, 1)),
                 lambda: simulate_mcmc("leaky_relu_0.2", 1.0, 0.5, 16, 8, 10, n_chains=4, eft_lags=(0, 1)),
                 lambda: sf.simulate("leaky_relu_0.2", 1.0, 0.5, 16, 8, 10, method="mcmc", eft_lags=(0, 1))):
        with pytest.raises(ValueError) as info:
            call()
        msgs.append(str(info.value))
    assert len(set(msgs)) == 1 and "leaky" in msgs[0], msgs
    # without EFT correlators the leaky ReLU samples normally, with the orthant observables
    assert "u" in simulate_mcmc("leaky_relu_0.2", 1.0, 0.5, 16, 4, 10, n_chains=4, n_tune=5)


def test_dispatch_is_on_the_activation_object_not_its_name():
    """A user activation named 'relu' that is the identity samples as the radial (linear) model."""
    from statfield.activations import piecewise_linear

    fake = piecewise_linear(1.0, 1.0, name="relu")
    res = simulate_mcmc(fake, 0.5, 0.5, 8, 4, 10, n_chains=4, n_tune=5)
    assert res.diagnostics["model"] == "radial" and "u" not in res
    lin = sf.simulate(fake, 0.5, 0.5, 8, 6, 200, eft_lags=(0,), seed=1)
    assert lin.parameters["eft_fields"] == ["eps"]

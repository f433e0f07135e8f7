"""simulate(): validation, result object, calibrated error bars, exact identities across methods."""

import importlib
import json

import numpy as np
import pytest
from scipy import stats

import statfield as sf
from statfield.stats import Estimate

from .test_collective import exact_moments


@pytest.mark.parametrize("kwargs, match", [
    (dict(sigma_w2=0.0), "sigma_w2"),
    (dict(sigma_w2=float("nan")), "sigma_w2"),
    (dict(sigma_b2=-0.1), "sigma_b2"),
    (dict(sigma_w2=[2.0, 1.0]), "sigma_w2"),
    (dict(width=0), "width"),
    (dict(depth=0), "depth"),
    (dict(n_samples=1), "n_samples"),
    (dict(method="hmc"), "method"),
    (dict(backend="tensorflow"), "backend"),
    (dict(inputs=[[np.nan, 1.0]]), "inputs"),
    (dict(observables=("gram",)), "observables"),
    (dict(inputs=np.eye(2), method="collective"), "collective"),
    (dict(inputs=np.eye(2), eft_lags=(0, 1)), "eft_lags"),
    (dict(seed=-3), "seed"),
    (dict(chunk_size=0), "chunk_size"),
    (dict(block_size=0), "block_size"),
    (dict(bogus_option=1), "unexpected"),
])
def test_bad_input_raises_naming_the_parameter(kwargs, match):
    base = dict(activation="relu", sigma_w2=2.0, sigma_b2=0.1, width=4, depth=2, n_samples=10)
    base.update(kwargs)
    with pytest.raises(ValueError, match=match):
        sf.simulate(**base)


def test_result_object_and_json():
    res = sf.simulate("relu", 2.0, 0.1, 5, 3, 50, seed=1)
    assert res.method == "collective"  # auto: single input, piecewise linear
    assert set(res.names) == {"q", "log_q", "G", "u", "v", "k", "G_var", "kurtosis"}
    assert isinstance(res["q"][0], Estimate) and res.value("q").shape == (3,) and res.n("q").tolist() == [50] * 3
    d = json.loads(json.dumps(res.to_json()))
    assert d["method"] == "collective" and d["seed"] == 1 and d["statfield_version"] == sf.__version__
    assert d["parameters"]["sigma_w2"] == 2.0 and d["parameters"]["widths"] == [5, 5, 5]
    assert d["estimates"]["q"][2]["value"] == res["q"][2].value and d["estimates"]["q"][2]["n"] == 50
    with pytest.raises(KeyError, match="available"):
        res["gram"]
    multi = sf.simulate("tanh", 1.5, 0.1, 4, 2, 20, inputs=np.eye(2), seed=0)
    assert multi.method == "preactivation" and multi.value("gram").shape == (2, 2, 2)
    assert json.loads(multi.dumps())["estimates"]["gram"][0]["value"][0][0] == multi["gram"][0].value[0, 0]
    assert "c" in multi and multi.value("c").shape == (2,)


@pytest.mark.parametrize("method", ["weights", "preactivation", "collective"])
def test_relu_exact_finite_n_recursion_all_methods(method):
    sw, sb, N, L = 2.0, 0.2, 3, 4
    res = sf.simulate("relu", sw, sb, N, L, 12000, method=method, seed=17)
    ex = exact_moments("relu", sw, sb, N, L)
    for name in ("q", "G", "G_var", "kurtosis"):
        for l in range(1, L):
            assert abs(res[name][l].z(ex[name][l])) < 5, (method, name, l + 1)
    for l in range(L):
        assert abs(res["k"][l].z(N / 2)) < 5


@pytest.mark.parametrize("act, name, N, n", [("linear", "q", 4, 2000), ("relu", "q", 4, 2000),
                                          ("relu", "G_var", 16, 4000), ("relu", "kurtosis", 16, 4000)])
def test_error_bars_are_calibrated(act, name, N, n):
    """R = 60 independent runs: z-scores against the exact value have unit variance.

    Under calibration sum z^2 ~ chi2_R; two-sided test at level 1e-3. The delta-method errors of G_var and
    kurtosis are asymptotic: with heavy-tailed G (N = 4) and n = 2000 we measured var(z) ~ 1.4 (error bars
    ~20% small, see simulate's docstring), so they are tested at N = 16, n = 4000 (measured var(z) ~ 1.0-1.1).
    """
    sw, sb, L, R = 1.5, 0.2, 3, 60
    ex = exact_moments(act, sw, sb, N, L)[name][-1]
    z = np.array([sf.simulate(act, sw, sb, N, L, n, seed=1000 + r, observables=(name,))[name][-1].z(ex)
                  for r in range(R)])
    p = stats.chi2(R).cdf(np.sum(z**2))
    assert 5e-4 < p < 1 - 5e-4, (np.var(z), z)
    assert abs(z.mean()) < 5 / np.sqrt(R)


def test_array_api_strict_backend_matches_numpy():
    for method in ("collective", "preactivation"):
        a = sf.simulate("relu", 1.8, 0.1, 5, 3, 40, method=method, seed=2)
        b = sf.simulate("relu", 1.8, 0.1, 5, 3, 40, method=method, seed=2, backend="array_api_strict")
        assert b.backend == "array_api_strict"
        for name in a.names:
            np.testing.assert_allclose(b.value(name), a.value(name), rtol=1e-12, atol=1e-15)


def test_mcmc_dispatch():
    importlib.import_module("statfield.sampling.mcmc")  # the module has landed: a broken import must fail here
    res = sf.simulate("linear", 1.0, 0.5, 8, 6, 400, method="mcmc", seed=1)
    assert res.method == "mcmc" and all(isinstance(e, Estimate) for ests in res.estimates.values() for e in ests)
    json.dumps(res.to_json())


def test_eft_lagged_correlators_relu_exact_entries():
    """Exact facts of the ReLU fields (statfield.fields): eps_k = (k - N/2)/sqrt(N) with k ~ Bin(N, 1/2)
    independent across layers and of the past, so C_0[k,k] = 1/4 and, for m >= 1,
    C_m[k,k] = C_m[+,k] = C_m[-,k] = 0 (a future k is independent of present fields)."""
    fields = importlib.import_module("statfield.fields")
    res = sf.simulate("relu", 1.5, 0.5, 16, 50, 3000, eft_lags=(0, 1, 3), burn_in=25, seed=3)
    assert res.parameters["eft_fields"] == list(fields.FIELD_NAMES["relu"])
    C = res["eft_corr"]
    assert len(C) == 3 and C[0].value.shape == (3, 3) and res.value("eft_mean").shape == (50, 3)
    z = (C[0].value[2, 2] - 0.25) / C[0].stderr[2, 2]
    assert abs(z) < 5
    for m in (1, 2):
        for a in range(3):
            assert abs(C[m].value[a, 2] / C[m].stderr[a, 2]) < 5, (m, a)
    # lag-0 matrix is symmetric; the same-layer (eps_+, eps_k) correlation is strongly positive
    np.testing.assert_allclose(C[0].value, C[0].value.T, atol=1e-12)
    assert C[0].value[0, 2] / C[0].stderr[0, 2] > 10
    with pytest.raises(ValueError, match="sigma_w2"):
        sf.simulate("relu", 2.5, 0.5, 16, 10, 10, eft_lags=(0,))


def test_eft_linear_runs_and_lag_decay():
    importlib.import_module("statfield.fields")
    res = sf.simulate("linear", 0.5, 0.5, 32, 40, 2000, eft_lags=(0, 1, 2), burn_in=20, seed=4)
    c = res.value("eft_corr")[:, 0, 0]
    assert c[0] > c[1] > c[2] > 0
    # values, not only the ordering: the linear quadratic EFT C_m[eps, eps] (measured |z| < 1 at N = 32)
    from statfield.symbolic.eft import quadratic_eft

    lin = quadratic_eft("linear")
    for m, e in enumerate(res["eft_corr"]):
        assert abs((e.value[0, 0] - float(lin.correlator(m, 0.5, 0.5)[0, 0])) / e.stderr[0, 0]) < 5, m


def test_eft_correlator_error_bars_are_calibrated():
    """R = 40 runs: z of C_0[k,k] against 1/4 and of C_1[+,k] against 0 have unit variance (chi2_R, level 1e-3)."""
    importlib.import_module("statfield.fields")
    R = 40
    z = np.zeros((R, 2))
    for r in range(R):
        C = sf.simulate("relu", 1.5, 0.5, 8, 24, 400, eft_lags=(0, 1), burn_in=12, seed=300 + r,
                        observables=("q",))["eft_corr"]
        z[r] = (C[0].value[2, 2] - 0.25) / C[0].stderr[2, 2], C[1].value[0, 2] / C[1].stderr[0, 2]
    for col in z.T:
        p = stats.chi2(R).cdf(np.sum(col**2))
        assert 5e-4 < p < 1 - 5e-4, np.var(col)


def test_sampling_never_imports_sympy():
    import subprocess
    import sys

    code = ("import sys, statfield as sf; sf.simulate('relu', 2.0, 0.1, 8, 3, 50); "
            "sf.simulate('tanh', 1.5, 0.1, 8, 3, 20, inputs=[[1.0, 0.0], [0.0, 1.0]], method='weights'); "
            "assert 'sympy' not in sys.modules, 'sympy imported'")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("method", ["collective", "preactivation", "weights"])
def test_first_layer_conditional_variance_is_deterministic(method):
    """G^1 = sigma_b2 + sigma_w2 |x|^2/d_in is fixed by the input: its variance and kurtosis are exactly 0."""
    res = sf.simulate("relu", 1.5, 0.1, width=16, depth=2, n_samples=300, method=method, seed=3)
    assert res["G_var"][0].value == 0.0 and res["G_var"][0].stderr == 0.0
    assert res["kurtosis"][0].value == 0.0
    assert res["G"][0].value == pytest.approx(1.6, rel=1e-15)

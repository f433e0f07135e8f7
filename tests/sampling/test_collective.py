"""Collective-coordinate samplers: exact finite-N identities, log-space overflow safety, backends.

Exact finite-N moments used here (derived from the Markov chain of physics.md §2, independent of the
library): for linear phi, q^l = K^l chi2_N/N with K^{l+1} = sigma_w2 q^l + sigma_b2, so
E q^l = E K^l and E (q^l)^2 = (1 + 2/N) E (K^l)^2. For ReLU, k ~ Bin(N, 1/2), u = K chi2_k/N, so
E u = E K/2 and E u^2 = E K^2 E[k^2 + 2k]/N^2 = E K^2 (N + 5)/(4N); K^{l+1} = sigma_b2 + sigma_w2 u^l.
"""

import math

import numpy as np
import pytest
from scipy import special, stats

import statfield as sf
from statfield.activations import get_activation
from statfield.sampling.backend import default_rng, to_numpy
from statfield.sampling.collective import collective_observables, sample_collective


def exact_moments(activation, sigma_w2, sigma_b2, N, depth, g1=None):
    """Exact E G^l, Var G^l, E q^l (l = 1..depth) at finite N for linear and ReLU (single input)."""
    sb, sw = sigma_b2, sigma_w2
    EK = sb + sw if g1 is None else g1
    EK2 = EK**2
    out = {"G": [], "G_var": [], "q": [], "kurtosis": []}
    for _ in range(depth):
        out["G"].append(EK)
        out["G_var"].append(EK2 - EK**2)
        out["q"].append(EK)
        out["kurtosis"].append(3 * (EK2 - EK**2) / EK**2)
        if activation == "linear":
            m1, m2 = EK, (1 + 2 / N) * EK2
        elif activation == "relu":
            m1, m2 = EK / 2, EK2 * (N + 5) / (4 * N)
        else:
            raise ValueError(activation)
        EK, EK2 = sb + sw * m1, sb * sb + 2 * sb * sw * m1 + sw * sw * m2
    return {k: np.array(v) for k, v in out.items()}


def _draw(xp, seed, n, act, sw, sb, widths, g1):
    rng = default_rng(seed, xp)
    return [{k: to_numpy(v) for k, v in rec.items()}
            for rec in sample_collective(rng, n, get_activation(act), sw, sb, widths, g1, xp)]


@pytest.mark.parametrize("act", ["linear", "relu"])
def test_exact_finite_n_moments(act):
    sw, sb, N, L = 1.7, 0.3, 3, 5
    res = sf.simulate(act, sw, sb, N, L, 40000, method="collective", seed=3)
    ex = exact_moments(act, sw, sb, N, L)
    for name in ("q", "G", "G_var", "kurtosis"):
        est = res[name]
        for l in range(1 if name in ("G_var", "kurtosis") else 0, L):
            assert abs(est[l].z(ex[name][l])) < 5, (name, l + 1, est[l], ex[name][l])
    # layer 1: G^1 = sigma_b2 + sigma_w2 |x|^2/d_in exactly, no fluctuation
    assert res["G"][0].value == pytest.approx(sb + sw, rel=1e-14)
    assert abs(res["G_var"][0].value) < 1e-25 and abs(res["kurtosis"][0].value) < 1e-20


def test_relu_u_v_k_means():
    sw, sb, N, L = 2.0, 0.1, 4, 4
    res = sf.simulate("relu", sw, sb, N, L, 30000, method="collective", seed=9)
    ex = exact_moments("relu", sw, sb, N, L)
    for l in range(L):
        assert abs(res["u"][l].z(ex["G"][l] / 2)) < 5
        assert abs(res["v"][l].z(ex["G"][l] / 2)) < 5
        assert abs(res["k"][l].z(N / 2)) < 5
        # q = u + v per network, so the means agree to round-off
        assert res["q"][l].value == pytest.approx(res["u"][l].value + res["v"][l].value, rel=1e-12)


def test_k_is_binomial_and_independent_of_past():
    N = 5
    recs = _draw(np, 12, 20000, "relu", 2.0, 0.0, [N] * 3, 1.0)
    pmf = stats.binom.pmf(np.arange(N + 1), N, 0.5)
    for rec in recs:
        obs = np.bincount(rec["k"].astype(int), minlength=N + 1)
        assert stats.chisquare(obs, pmf * obs.sum()).pvalue > 1e-3  # stated level 1e-3
    # independence of k^3 from k^2: chi-square contingency test
    table = np.zeros((N + 1, N + 1))
    np.add.at(table, (recs[1]["k"].astype(int), recs[2]["k"].astype(int)), 1)
    assert stats.chi2_contingency(table[table.sum(1) > 0][:, table.sum(0) > 0]).pvalue > 1e-3


def test_k_zero_and_k_n_are_handled():
    # N = 1: every layer has k in {0, 1}, so chi2_0 = 0 occurs in every network
    recs = _draw(np, 4, 2000, "relu", 2.0, 0.5, [1] * 4, 1.0)
    for rec in recs:
        assert np.all(np.isfinite(rec["q"])) and np.all(np.isfinite(rec["log_q"]))
        assert np.all((rec["u"] == 0) == (rec["k"] == 0))
        assert np.all((rec["v"] == 0) == (rec["k"] == 1))


def test_deep_chaotic_linear_log_q_is_finite_and_exact():
    sw, N, L = 4.0, 64, 2000
    res = sf.simulate("linear", sw, 0.0, N, L, 400, method="collective", observables=("log_q",), seed=1)
    lq = res.value("log_q")
    assert np.all(np.isfinite(lq)) and lq[-1] > 2000  # q^L ~ 4^2000 = 10^1204 would overflow
    # exact: ln q^l = ln K^1 + sum_j ln(chi2_N/N) + (l-1) ln sigma_w2, E ln(chi2_N/N) = psi(N/2) + ln(2/N)
    e1 = special.digamma(N / 2) + math.log(2 / N)
    for l in (1, 10, 500, 2000):
        assert abs(res["log_q"][l - 1].z(math.log(sw) + l * e1 + (l - 1) * math.log(sw))) < 5
    with pytest.raises(OverflowError, match="layer"):
        sf.simulate("linear", sw, 0.0, N, L, 50, method="collective", seed=1)


def test_deep_chaotic_relu_log_space_with_bias():
    res = sf.simulate("relu", 8.0, 0.5, 16, 1500, 64, method="collective", observables=("log_q",), seed=2)
    assert np.all(np.isfinite(res.value("log_q"))) and res.value("log_q")[-1] > 1000


@pytest.mark.parametrize("act", ["relu", "linear", "leaky_relu_0.2", "tanh"])
def test_array_api_strict_matches_numpy(xp, act):
    a = _draw(np, 21, 50, act, 1.5, 0.2, [6, 4, 5], 1.2)
    b = _draw(xp, 21, 50, act, 1.5, 0.2, [6, 4, 5], 1.2)
    for ra, rb in zip(a, b):
        assert set(ra) == set(rb) == set(collective_observables(get_activation(act)))
        for k in ra:
            np.testing.assert_allclose(rb[k], ra[k], rtol=1e-12, atol=0)


def test_general_phi_matches_exact_first_layers():
    # layer 1 and 2 of a tanh chain: E q^1 = K^1, E G^2 = sigma_b2 + sigma_w2 E tanh(z)^2 (exact, any N)
    from statfield.quadrature import expect

    sw, sb = 1.5, 0.1
    res = sf.simulate("tanh", sw, sb, 7, 2, 20000, method="collective", seed=5)
    assert abs(res["q"][0].z(sw + sb)) < 5
    assert abs(res["G"][1].z(sb + sw * expect(lambda z: np.tanh(z) ** 2, sw + sb))) < 5


def test_dead_relu_networks_make_log_q_an_error_not_a_nan():
    # sigma_b2 = 0, N = 1: k = 0 with probability 1/2 per layer, then q = 0 forever (E ln q = -inf)
    with pytest.raises(ValueError, match="dead network"):
        sf.simulate("relu", 2.0, 0.0, 1, 4, 200, seed=0)
    res = sf.simulate("relu", 2.0, 0.0, 1, 4, 20000, seed=0, observables=("q", "k"))
    ex = exact_moments("relu", 2.0, 0.0, 1, 4)
    for l in range(4):
        assert abs(res["q"][l].z(ex["q"][l])) < 5

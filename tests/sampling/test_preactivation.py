"""Pre-activation sampler: factorisation, singular kernels, exact moments, backends."""

import numpy as np
import pytest

import statfield as sf
from statfield.activations import get_activation
from statfield.sampling.backend import default_rng, to_numpy
from statfield.sampling.preactivation import factor, input_kernel, sample_preactivation


def _draw(xp, seed, n, act, sw, sb, widths, X, want):
    rng = default_rng(seed, xp)
    return [{k: to_numpy(v) for k, v in rec.items()}
            for rec in sample_preactivation(rng, n, get_activation(act), sw, sb, widths, X, xp, set(want))]


def test_factor_cholesky_and_singular(xp):
    rng = np.random.default_rng(0)
    A = rng.standard_normal((3, 4, 4))
    S = A @ np.swapaxes(A, -1, -2) + 0.1 * np.eye(4)
    L = to_numpy(factor(xp.asarray(S), xp))
    np.testing.assert_allclose(L @ np.swapaxes(L, -1, -2), S, rtol=1e-12, atol=1e-12)
    # rank-2 kernel (duplicate inputs): Cholesky fails, eigh with clipped eigenvalues takes over
    X = rng.standard_normal((2, 3))
    Xd = np.concatenate([X, X])
    Sd = input_kernel(Xd, 1.3, 0.0)
    Ld = to_numpy(factor(xp.asarray(Sd), xp))
    assert np.all(np.isfinite(Ld))
    np.testing.assert_allclose(Ld @ Ld.T, Sd, atol=1e-12)


def test_duplicate_inputs_give_identical_preactivations():
    X = np.array([[1.0, -0.5, 2.0], [1.0, -0.5, 2.0]])
    res = sf.simulate("tanh", 1.5, 0.2, 8, 3, 200, inputs=X, method="preactivation", seed=1)
    np.testing.assert_allclose(res.value("c"), 1.0, atol=1e-10)
    g = res.value("gram")
    # the eigh factor of a rank-deficient kernel is exact up to sqrt(eps)-sized null-space round-off
    np.testing.assert_allclose(g[:, 0, 1], g[:, 0, 0], rtol=1e-7)


def test_linear_gram_mean_is_exact_at_finite_width():
    # linear phi: E gram^l = sigma_w2 E gram^{l-1} + sigma_b2 (entrywise, any N), gram^0 := X X^T/d_in
    rng = np.random.default_rng(3)
    X = rng.standard_normal((3, 5))
    sw, sb, N, L = 1.4, 0.3, 4, 4
    res = sf.simulate("linear", sw, sb, N, L, 20000, inputs=X, method="preactivation", seed=2)
    K = X @ X.T / X.shape[1]
    for l in range(L):
        K = sb + sw * K
        for name in ("gram", "G") if l else ("gram",):  # G^1 is deterministic: checked exactly below
            e = res[name][l]
            assert np.all(e.stderr > 0), (name, l + 1, e.stderr)  # a zero error bar would make z vacuous
            z = (e.value - K) / e.stderr
            assert np.all(np.abs(z) < 5), (name, l + 1, z)
    # the first-layer G is deterministic and exact
    np.testing.assert_allclose(res["G"][0].value, sb + sw * X @ X.T / 5, rtol=1e-13)


def test_single_input_relu_observables_consistent():
    recs = _draw(np, 5, 300, "relu", 2.0, 0.1, [6, 6], np.ones((1, 2)), ("q", "u", "v", "k", "log_q", "G"))
    for r in recs:
        np.testing.assert_allclose(r["u"] + r["v"], r["q"], rtol=1e-12)
        np.testing.assert_allclose(np.log(r["q"]), r["log_q"], rtol=1e-12)
        assert np.all((r["k"] >= 0) & (r["k"] <= 6)) and np.all(r["k"] == np.round(r["k"]))


@pytest.mark.parametrize("P", [1, 3])
def test_array_api_strict_matches_numpy(xp, P):
    X = np.random.default_rng(1).standard_normal((P, 4))
    want = ("q", "log_q", "G", "u", "v", "k") if P == 1 else ("gram", "G")
    a = _draw(np, 8, 6, "relu", 1.8, 0.1, [5, 7, 3], X, want)
    b = _draw(xp, 8, 6, "relu", 1.8, 0.1, [5, 7, 3], X, want)
    for ra, rb in zip(a, b):
        assert set(ra) == set(rb)
        for k in ra:
            np.testing.assert_allclose(rb[k], ra[k], rtol=1e-12, atol=1e-14)


def test_overflow_stops_naming_the_layer():
    with pytest.raises(OverflowError, match="layer/record"):
        sf.simulate("linear", 64.0, 0.0, 4, 400, 8, method="preactivation", seed=0)


def test_log_scale_tracking_deep_chaotic():
    """Piecewise-linear phi: log-norm tracking keeps log_q (P = 1) and c (P = 2) finite where q overflows."""
    import math

    from scipy import special

    sw, N, L = 4.0, 16, 1000  # q^L ~ 4^1000 = 10^602 overflows float64
    res = sf.simulate("linear", sw, 0.0, N, L, 200, method="preactivation", observables=("log_q",), seed=6)
    e1 = special.digamma(N / 2) + math.log(2 / N)  # E ln(chi2_N/N); ln q^l = l e1 + l ln sigma_w2 exactly
    for l in (1, 100, 1000):
        assert abs(res["log_q"][l - 1].z(l * (e1 + math.log(sw)))) < 5
    X = np.array([[1.0, 0.0], [0.6, 0.8]])
    rc = sf.simulate("relu", 8.0, 0.1, 16, 600, 50, inputs=X, method="preactivation", observables=("c",), seed=1)
    c = rc.value("c")
    assert np.all(np.isfinite(c)) and np.all(np.abs(c) <= 1)
    with pytest.raises(OverflowError, match="layer"):
        sf.simulate("relu", 8.0, 0.1, 16, 600, 50, inputs=X, method="preactivation", observables=("gram",))


def test_log_scaled_relu_agrees_with_weights():
    X = np.array([[1.0, 0.0, 0.5], [0.2, 1.0, -1.0]])
    kw = dict(inputs=X, observables=("c", "gram", "G"))
    rw = sf.simulate("relu", 2.5, 0.1, 6, 5, 6000, method="weights", seed=31, **kw)
    rp = sf.simulate("relu", 2.5, 0.1, 6, 5, 6000, method="preactivation", seed=32, **kw)
    for name in ("c", "gram", "G"):
        for ew, ep in list(zip(rw[name], rp[name]))[1:]:
            se = np.hypot(ew.stderr, ep.stderr)
            assert np.all(np.abs(ew.value - ep.value) < 5 * se), name

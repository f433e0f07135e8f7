"""Exact Gaussian baselines: closed forms, large-N limits, and Monte Carlo z-tests (fixed seeds, |z| < 5)."""

import math

import numpy as np
import pytest
from scipy.special import digamma, polygamma

import statfield.spectra as sp
from statfield.spectra.baseline import spectrum_shape

Z = 5.0


def _z(samples, prediction):
    samples = np.asarray(samples, float)
    se = samples.std(ddof=1) / math.sqrt(samples.size)
    return (samples.mean() - prediction) / se


def test_closed_forms():
    b = sp.gaussian_baseline(7, 3, variance=0.5)
    k = 21
    assert b.log10_frobenius_sq == pytest.approx((math.log(1.0) + digamma(k / 2)) / math.log(10), rel=1e-14)
    assert b.ln_frobenius == pytest.approx(0.5 * (math.log(1.0) + digamma(k / 2)), rel=1e-14)
    assert b.ln_frobenius_sd == pytest.approx(0.5 * math.sqrt(polygamma(1, k / 2)), rel=1e-14)
    psi_sum = digamma(7 / 2) + digamma(6 / 2) + digamma(5 / 2)
    assert b.mean_log_eig == pytest.approx(math.log(2 * 0.5 / 7) + psi_sum / 3, rel=1e-14)
    assert b.mean_eig_sq == pytest.approx(0.25 * 11 / 7, rel=1e-14)
    assert b.mean_eig == 0.5 and b.frobenius_sq == pytest.approx(0.5 * 21)
    lo, hi = b.mp_edges
    assert lo == pytest.approx(0.5 * (1 - math.sqrt(3 / 7)) ** 2) and hi == pytest.approx(0.5 * (1 + math.sqrt(3 / 7)) ** 2)
    # Johnstone 2001 centring and scaling, in units of X = W^T W / N
    mu = (math.sqrt(6) + math.sqrt(3)) ** 2
    sig = (math.sqrt(6) + math.sqrt(3)) * (1 / math.sqrt(6) + 1 / math.sqrt(3)) ** (1 / 3)
    assert b.tw_center == pytest.approx(0.5 * mu / 7) and b.tw_scale == pytest.approx(0.5 * sig / 7)


def test_transposition_convention():
    a, b = sp.gaussian_baseline(30, 12, 0.3), sp.gaussian_baseline(12, 30, 0.3)
    assert (a.N, a.M, a.transposed) == (30, 12, False) and (b.N, b.M, b.transposed) == (30, 12, True)
    for k in ("log10_frobenius_sq", "mean_log_eig", "mean_eig_sq", "tw_center"):
        assert getattr(a, k) == getattr(b, k)
    assert spectrum_shape(3, 3) == (3, 3, False)


def test_large_size_limits():
    # the exact finite-N values approach the Marchenko-Pastur limits with O(1/N) corrections:
    # E ln(lambda) -> ln v - 1 + (y - 1)/y ln(1 - y), E lambda^2 -> v^2 (1 + y), ln ||W||_F -> ln sqrt(v N M)
    v, y = 1.7, 0.5
    for N in (400, 4000):
        M = int(y * N)
        b = sp.gaussian_baseline(N, M, v)
        lim = math.log(v) - 1 + (y - 1) / y * math.log(1 - y)
        assert abs(b.mean_log_eig - lim) < 2.0 / N
        assert abs(b.mean_eig_sq - v * v * (1 + y)) < 2 * v * v / N
        assert abs(b.ln_frobenius - 0.5 * math.log(v * N * M)) < 1.0 / (N * M)


def test_mp_cdf_and_pdf_closed_forms():
    from scipy.integrate import quad

    for v, y in ((0.8, 0.25), (1.3, 1.0)):
        lo, hi = v * (1 - math.sqrt(y)) ** 2, v * (1 + math.sqrt(y)) ** 2
        m0 = quad(lambda x: sp.mp_pdf(x, v, y), lo, hi, limit=200)[0]
        m1 = quad(lambda x: x * sp.mp_pdf(x, v, y), lo, hi, limit=200)[0]
        m2 = quad(lambda x: x * x * sp.mp_pdf(x, v, y), lo, hi, limit=200)[0]
        assert m0 == pytest.approx(1.0, abs=1e-6)
        assert m1 == pytest.approx(v, rel=1e-6)
        assert m2 == pytest.approx(v * v * (1 + y), rel=1e-6)
        x = lo + (hi - lo) * np.array([0.1, 0.4, 0.8])
        ref = [quad(lambda t: sp.mp_pdf(t, v, y), lo, xx, limit=200)[0] for xx in x]
        np.testing.assert_allclose(sp.mp_cdf(x, v, y), ref, atol=1e-6)


@pytest.mark.parametrize("shape,variance", [((30, 12), 0.7), ((10, 10), 2.0), ((8, 20), 0.05)])
def test_baseline_against_monte_carlo(shape, variance):
    n = 4000
    b = sp.gaussian_baseline(*shape, variance=variance)
    W = sp.gaussian_matrices(*shape, variance=variance, n=n, seed=11)
    A = W if shape[0] >= shape[1] else np.swapaxes(W, 1, 2)
    ev = np.linalg.eigvalsh(np.swapaxes(A, 1, 2) @ A / b.N)
    f2 = np.sum(W**2, axis=(1, 2))
    lnf = 0.5 * np.log(f2)
    assert abs(_z(np.log10(f2), b.log10_frobenius_sq)) < Z
    assert abs(_z(lnf, b.ln_frobenius)) < Z
    # the variance as the mean squared deviation from the exact mean (unbiased), a z-test on sd^2
    assert abs(_z((lnf - b.ln_frobenius) ** 2, b.ln_frobenius_sd**2)) < Z
    assert abs(_z(np.log(ev).mean(axis=1), b.mean_log_eig)) < Z
    assert abs(_z((ev**2).mean(axis=1), b.mean_eig_sq)) < Z
    assert abs(_z(ev.mean(axis=1), b.mean_eig)) < Z


def test_tracy_widom_edge_against_monte_carlo():
    # Johnstone's TW1 approximation of lambda_max: coverage of the 10%, 50% and 90% quantiles (binomial z-test)
    N, M, v, n = 100, 25, 0.3, 1500
    b = sp.gaussian_baseline(N, M, v)
    W = sp.gaussian_matrices(N, M, v, n=n, seed=5)
    lam = np.linalg.eigvalsh(np.swapaxes(W, 1, 2) @ W / N)[:, -1]
    for q in (0.1, 0.5, 0.9):
        hit = (lam <= b.lambda_max_quantile(q)).astype(float)
        assert abs((hit.mean() - q) / math.sqrt(q * (1 - q) / n)) < Z
    assert abs(_z(lam, b.lambda_max_mean)) < Z
    assert b.lambda_max_sd > 0 and b.lambda_max_cdf(b.lambda_max_quantile(0.5)) == pytest.approx(0.5, abs=1e-9)


def test_random_network_null_and_its_average_log_norm():
    widths, sw2 = [20, 40, 40, 10], 2.0
    Ws = sp.random_network_weights(widths, sigma_w2=sw2, seed=3)
    assert [w.shape for w in Ws] == [(40, 20), (40, 40), (10, 40)]
    np.testing.assert_array_equal(Ws[0], sp.random_network_weights(widths, sigma_w2=sw2, seed=3)[0])
    base = sp.network_baselines(widths, sw2)
    assert [bb.variance for bb in base] == [sw2 / 20, sw2 / 40, sw2 / 40]
    pred = np.mean([bb.log10_frobenius_sq for bb in base])
    ss = np.random.SeedSequence(9).spawn(2000)
    per_net = [np.mean([math.log10(np.sum(w**2)) for w in sp.random_network_weights(widths, sw2, seed=s)])
               for s in ss]
    assert abs(_z(per_net, pred)) < Z


def test_heavy_tailed_ensembles():
    assert sp.esd_tail_alpha(1.0) == 1.5 and sp.esd_tail_alpha(3.0) == 2.5
    with pytest.raises(ValueError, match="mu must lie in"):
        sp.esd_tail_alpha(4.0)
    W = sp.pareto_matrix(50, 20, 1.5, seed=1, signed=True)
    assert W.shape == (50, 20) and (W < 0).any() and (W > 0).any()
    T = sp.student_t_matrix(40, 30, 3.0, seed=2)
    assert T.shape == (40, 30)
    # Pareto sampler: P(x > t) = (t/xmin)^(1 - alpha); z-test of the tail fraction beyond 2 xmin
    x = sp.pareto_sample(20000, 2.5, xmin=0.5, seed=4)
    p = 2.0 ** (1 - 2.5)
    hit = (x > 1.0).mean()
    assert x.min() >= 0.5 and abs((hit - p) / math.sqrt(p * (1 - p) / x.size)) < Z


def test_bad_input():
    with pytest.raises(ValueError, match="n_rows must be >= 1"):
        sp.gaussian_baseline(0, 3)
    with pytest.raises(ValueError, match="variance must be finite and > 0"):
        sp.gaussian_baseline(3, 3, variance=-1)
    with pytest.raises(ValueError, match="variance"):
        sp.gaussian_baseline(3, 3, variance=math.nan)
    with pytest.raises(TypeError, match="n_cols must be an integer"):
        sp.gaussian_baseline(3, 2.5)
    with pytest.raises(ValueError, match="widths"):
        sp.random_network_weights([10])
    with pytest.raises(ValueError, match="sigma_w2"):
        sp.random_network_weights([10, 10], sigma_w2=0)
    one = sp.gaussian_baseline(1, 1)  # the chi^2/Wishart values exist, the Tracy-Widom edge does not
    assert one.tw_center is None and math.isfinite(one.mean_log_eig)
    with pytest.raises(ValueError, match="N >= 2"):
        one.lambda_max_quantile(0.5)
    with pytest.raises(ValueError, match="alpha must be finite and > 1"):
        sp.pareto_sample(10, 1.0)

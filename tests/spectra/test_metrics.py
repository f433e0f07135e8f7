"""Per-matrix and per-network metrics: definitions, conventions, the MP bulk fit, and bad input."""

import math

import numpy as np
import pytest

import statfield.spectra as sp
from statfield.spectra import TailFitError, matrix_metrics, network_metrics


def test_definitions_against_direct_computation():
    rng = np.random.default_rng(0)
    W = rng.standard_normal((120, 60)) @ np.diag(np.linspace(0.2, 2.0, 60))
    m = matrix_metrics(W, n_boot=5, n_baseline=2)
    s = np.linalg.svd(W, compute_uv=False)
    assert m.frobenius_norm == pytest.approx(np.linalg.norm(W, "fro"), rel=1e-12)
    assert m.log10_frobenius_sq == pytest.approx(2 * math.log10(np.linalg.norm(W)), rel=1e-12)
    assert m.spectral_norm == pytest.approx(s[0], rel=1e-10)
    assert m.lambda_max == pytest.approx(s[0] ** 2 / 120, rel=1e-10)
    assert m.stable_rank == pytest.approx(np.sum(s**2) / s[0] ** 2, rel=1e-10)
    p = s**2 / np.sum(s**2)
    assert m.matrix_entropy == pytest.approx(-np.sum(p * np.log(p)) / math.log(60), rel=1e-10)
    np.testing.assert_allclose(m.eigenvalues, np.sort(s**2 / 120), rtol=1e-9)
    assert m.mean_log_eig == pytest.approx(np.mean(np.log(s**2 / 120)), rel=1e-9)
    assert m.alpha_weighted == pytest.approx(m.alpha * math.log10(m.lambda_max))
    assert m.alpha_weighted_stderr == pytest.approx(m.alpha_stderr * abs(math.log10(m.lambda_max)))
    assert m.baseline.variance == pytest.approx(np.sum(W**2) / W.size)
    assert m.tw_statistic == pytest.approx((m.lambda_max - m.baseline.tw_center) / m.baseline.tw_scale)


def test_every_alpha_carries_its_error_and_its_gaussian_baseline():
    m = matrix_metrics(sp.pareto_matrix(200, 100, 1.5, seed=1), n_boot=10, n_baseline=3, seed=2)
    assert m.alpha_stderr > 0 and math.isfinite(m.alpha_stderr)
    assert m.alpha_baseline is not None and m.alpha_baseline_sd is not None and len(m.alpha_baseline_values) == 3
    assert m.powerlaw.n_boot == 10 and "bootstrap" in m.powerlaw.stderr_method
    # alpha is scale free: the fit does not depend on the overall scale of W
    m2 = matrix_metrics(7.0 * sp.pareto_matrix(200, 100, 1.5, seed=1), n_boot=10, n_baseline=3, seed=2)
    assert m2.alpha == pytest.approx(m.alpha, rel=1e-9) and m2.alpha_baseline == pytest.approx(m.alpha_baseline)


def test_transposition_convention():
    W = np.random.default_rng(1).standard_normal((40, 90))
    a = matrix_metrics(W, tail_fit=False)
    b = matrix_metrics(W.T, tail_fit=False)
    assert a.transposed and not b.transposed and (a.N, a.M) == (90, 40) == (b.N, b.M)
    np.testing.assert_allclose(a.eigenvalues, b.eigenvalues, rtol=1e-10)
    np.testing.assert_allclose(sp.esd(W), np.linalg.eigvalsh(W @ W.T / 90), rtol=1e-9, atol=1e-14)
    assert a.alpha is None and a.alpha_note


def test_mp_bulk_fit_on_exact_quantiles_and_spikes():
    # eigenvalues placed at the MP quantiles: the KS fit returns sigma2 (no statistics involved)
    v, N, M = 0.7, 400, 200
    q = (np.arange(M) + 0.5) / M
    grid = np.linspace(v * (1 - math.sqrt(0.5)) ** 2, v * (1 + math.sqrt(0.5)) ** 2, 20001)
    ev = np.interp(q, sp.mp_cdf(grid, v, 0.5), grid)
    f = sp.fit_mp_bulk(ev, N, M)
    assert f.sigma2 == pytest.approx(v, rel=2e-3) and f.ks_distance < 2.0 / M and f.n_spikes == 0
    spiked = np.r_[ev[:-3], 5.0, 8.0, 12.0]
    g = sp.fit_mp_bulk(spiked, N, M)
    assert g.n_spikes == 3 and g.sigma2 == pytest.approx(v, rel=0.03)
    with pytest.raises(ValueError, match="N >= M"):
        sp.fit_mp_bulk(ev, 100, 200)


def test_network_metrics_and_the_random_network_null():
    widths = [80, 120, 120, 20]
    Ws = sp.random_network_weights(widths, sigma_w2=2.0, seed=4)
    net = network_metrics(Ws, sigma_w2=2.0, n_boot=5, n_baseline=2)
    assert [m.name for m in net.layers] == ["layer1", "layer2", "layer3"]
    assert net.n_alpha == 2 and net.layers[2].alpha is None
    assert "too small for a tail fit" in net.layers[2].alpha_note
    assert net.mean_log10_frobenius_sq == pytest.approx(np.mean([m.log10_frobenius_sq for m in net.layers]))
    assert net.null_mean_log10_frobenius_sq == pytest.approx(
        np.mean([b.log10_frobenius_sq for b in sp.network_baselines(widths, 2.0)]))
    assert net.mean_alpha == pytest.approx(np.mean([m.alpha for m in net.layers[:2]]))
    assert net.mean_alpha_stderr == pytest.approx(math.hypot(*[m.alpha_stderr for m in net.layers[:2]]) / 2)
    d = network_metrics({"a": Ws[0], "b": Ws[1]}, tail_fit=False)
    assert [m.name for m in d.layers] == ["a", "b"] and d.n_alpha == 0 and d.mean_alpha is None
    js = net.to_dict()
    assert js["layers"][0]["baseline"]["mp_edges"] and "eigenvalues" not in js["layers"][0]
    with pytest.raises(ValueError, match="one entry per layer"):
        network_metrics(Ws, names=["x"])
    with pytest.raises(ValueError, match="empty"):
        network_metrics([])
    with pytest.raises(TypeError, match="not one array"):
        network_metrics(np.ones((60, 60)))


def test_bad_input():
    with pytest.raises(ValueError, match="must be 2-D"):
        matrix_metrics(np.ones(10))
    with pytest.raises(ValueError, match="must be 2-D"):
        matrix_metrics(np.ones((3, 3, 3)))
    W = np.random.default_rng(2).standard_normal((100, 60))
    W[3, 4] = np.nan
    with pytest.raises(ValueError, match="must be finite: 1 NaN/inf entry"):
        matrix_metrics(W)
    W[3, 4] = np.inf
    with pytest.raises(ValueError, match="NaN/inf"):
        sp.esd(W)
    with pytest.raises(ValueError, match="empty"):
        matrix_metrics(np.ones((0, 5)))
    with pytest.raises(ValueError, match="zero matrix"):
        matrix_metrics(np.zeros((60, 60)))
    with pytest.raises(TailFitError, match="too small for a tail fit"):
        matrix_metrics(np.random.default_rng(3).standard_normal((40, 20)))
    with pytest.raises(ValueError, match="at least 2 rows and 2 columns"):
        matrix_metrics(np.ones((100, 1)), tail_fit=False)
    with pytest.raises(TypeError, match="2-D array of real numbers"):
        matrix_metrics([["a", "b"]])
    with pytest.raises(ValueError, match="ratio must lie in"):
        sp.mp_pdf(1.0, 1.0, 2.0)


def test_rank_deficient_matrix_has_no_mean_log_eig():
    W = np.outer(np.arange(1.0, 61.0), np.ones(60))
    m = matrix_metrics(W, tail_fit=False)
    assert m.mean_log_eig is None and m.stable_rank == pytest.approx(1.0) and m.matrix_entropy == 0.0

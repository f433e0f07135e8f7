"""Input-output Jacobians: moments (free probability), spectral density (polynomial roots), finite-width law; vs MC."""

from __future__ import annotations

import math

import numpy as np
import pytest

from statfield import jacobian as jc
from statfield.stats import Estimate


@pytest.mark.parametrize("act,sw,L,w", [("relu", 2.0, 3, "gaussian"), ("relu", 2.0, 3, "orthogonal"),
                                        ("linear", 1.0, 2, "gaussian"), ("relu", 2.2, 5, "gaussian")])
def test_density_integrates_to_the_free_probability_moments(act, sw, L, w):
    m = jc.jacobian_moments(act, sw, 0.0, L, w)
    lam = np.geomspace(1e-9 * m.mean, 1e4 * m.mean, 120001)
    rho = jc.jacobian_spectral_density(lam, act, sw, L, w)
    atom = 0.5 if act == "relu" else 0.0  # ReLU: half the units are off
    if L <= 3:  # near 0 the density diverges like lam^(-L/(L+1)): the grid misses ~ (1e-9)^(1/(L+1)) of mass
        assert np.trapezoid(rho, lam) == pytest.approx(1 - atom, abs=5e-3)
    assert np.trapezoid(lam * rho, lam) == pytest.approx(m.mean, rel=1e-3)
    assert np.trapezoid(lam**2 * rho, lam) / m.mean**2 - 1 == pytest.approx(m.relative_variance, rel=1e-3)


def _per_network_moments(ev):
    mean = ev.mean(axis=1)
    rel = (ev**2).mean(axis=1) / mean**2 - 1
    return mean, rel


def _est(x):
    return Estimate(float(np.mean(x)), float(np.std(x, ddof=1) / math.sqrt(len(x))), len(x))


@pytest.mark.parametrize("act,sw,sb,w", [("relu", 2.0, 0.0, "gaussian"), ("tanh", 1.0, 0.05, "orthogonal")])
def test_moments_against_monte_carlo_extrapolated_in_width(act, sw, sb, w):
    from statfield.validation._common import extrapolate_inverse_width

    L = 4
    th = jc.jacobian_moments(act, sw, sb, L, w)
    widths, means, rels = (32, 64, 128), [], []
    for N in widths:
        ev = jc.sample_jacobian_spectrum(act, sw, sb, N, L, 48 if N < 128 else 24, w, burn_in=12, seed=N)
        mn, rel = _per_network_moments(ev)
        means.append(_est(mn))
        rels.append(_est(rel))
    rel0, chi2, dof, _ = extrapolate_inverse_width(widths, rels)
    assert abs(rel0.z(th.relative_variance)) < 5
    if act == "relu":  # E (1/N) tr J J^T = chi1^L exactly at every width for ReLU (E phi'^2 = 1/2 at any q)
        for e in means:
            assert abs(e.z(th.mean)) < 5
    else:
        m0, *_ = extrapolate_inverse_width(widths, means)
        assert abs(m0.z(th.mean)) < 5


def test_dynamical_isometry_orthogonal_beats_gaussian():
    g = jc.jacobian_moments("tanh", 1.05, 0.01, 50, "gaussian")
    o = jc.jacobian_moments("tanh", 1.05, 0.01, 50, "orthogonal")
    assert o.relative_variance < g.relative_variance
    assert g.relative_variance - o.relative_variance == pytest.approx(50.0)  # s_W = 1 per Gaussian layer
    assert jc.jacobian_moments("linear", 1.0, 0.0, 50, "orthogonal").relative_variance == 0.0


@pytest.mark.parametrize("N,L", [(6, 4), (24, 8)])
def test_finite_width_log_norm_law_against_monte_carlo(N, L):
    th = jc.log_jacobian_norm_moments("relu", 2.0, L, N)
    x = jc.sample_log_jacobian_norm("relu", 2.0, N, L, 20000, seed=7)
    x = x[np.isfinite(x)]  # k = 0 in some layer (probability th['p_dead']) kills J u
    assert abs(_est(x).z(th["mean"])) < 5
    d2 = (x - x.mean()) ** 2
    assert abs((d2.mean() - th["var"]) / (d2.std(ddof=1) / math.sqrt(len(x)))) < 5
    # log-normal regime: the variance grows linearly in depth and falls like 1/N
    assert th["var"] == pytest.approx(L * th["per_layer_var"])


def test_bad_input_and_limits():
    with pytest.raises(ValueError, match="weights"):
        jc.jacobian_moments("relu", 2.0, 0.0, 3, weights="uniform")
    with pytest.raises(NotImplementedError, match="piecewise-linear|linear and ReLU-type"):
        jc.jacobian_spectral_density([1.0], "tanh", 1.0, 3)
    with pytest.raises(NotImplementedError, match="ReLU-type"):
        jc.jacobian_spectral_density([1.0], "leaky_relu_0.1", 2.0, 3)
    with pytest.raises(ValueError, match="atom"):
        jc.jacobian_spectral_density([1.0], "linear", 1.0, 3, "orthogonal")
    with pytest.raises(OverflowError, match="chi1"):
        jc.jacobian_moments("relu", 4.0, 0.0, 5000)
    with pytest.raises(ValueError, match="depth"):
        jc.jacobian_moments("relu", 2.0, 0.0, 0)
    with pytest.raises(NotImplementedError):
        jc.log_jacobian_norm_moments("tanh", 1.0, 3, 10)

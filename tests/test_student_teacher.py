"""The linear student-teacher model: closed forms vs quadrature, the MP limit vs sampled spectra, theory vs MC."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate

from statfield import student_teacher as st


def test_mp_density_normalisation_and_mean():
    for r in (0.3, 1.0, 2.5):
        lo, hi = st.mp_edges(r)
        mass = integrate.quad(lambda x: st.mp_density(x, r), lo, hi, limit=200)[0]
        assert mass == pytest.approx(min(1.0, r), abs=1e-7)  # atom 1 - r at zero for r < 1
        mean = integrate.quad(lambda x: x * st.mp_density(x, r), lo, hi, limit=200)[0]
        assert mean == pytest.approx(r, rel=1e-7)  # E tr(X^T X)/P = D/P with entries N(0, 1/P)


def test_time_and_ridge_formulas_mode_by_mode():
    lam = np.array([0.0, 0.01, 0.5, 2.0])
    sw, se, s0 = 1.3, 0.2, 0.4
    t = np.array([0.0, 1.0, 30.0, np.inf])
    got = st.generalization_error(lam, sw, se, s0, t=t)
    with np.errstate(divide="ignore", invalid="ignore"):
        ref = [np.mean([(sw + s0) if l == 0 else (sw + s0) * math.exp(-2 * l * tt) + se / l * (1 - math.exp(-l * tt)) ** 2
                        for l in lam]) + se for tt in t]
    assert np.allclose(got, ref, rtol=1e-13)
    assert got[0] == pytest.approx(sw + s0 + se)  # t = 0: the initial student
    g = np.array([0.0, 0.1, 5.0])
    got = st.generalization_error(lam, sw, se, ridge=g)
    ref = [np.mean([sw if l + gg == 0 else (sw * gg * gg + se * l) / (l + gg) ** 2 for l in lam]) + se for gg in g]
    assert np.allclose(got, ref, rtol=1e-13)
    # the optimal ridge minimises the error (Bayes posterior mean)
    gs = np.linspace(0.01, 1.0, 400)
    assert gs[np.argmin(st.generalization_error(lam + 0.3, sw, se, ridge=gs))] == pytest.approx(
        st.optimal_ridge(sw, se), abs=0.01)


def test_asymptotic_limit_matches_large_sampled_spectra():
    rng = np.random.default_rng(0)
    for P, D in ((400, 200), (400, 800)):
        X = rng.standard_normal((D, P)) / math.sqrt(P)
        lam = np.clip(np.linalg.eigvalsh(X.T @ X), 0, None)
        lam[lam < 1e-9] = 0.0
        t = np.array([0.5, 3.0, 20.0])
        fin = st.generalization_error(lam, 1.0, 0.1, 0.2, t=t)
        asym = st.asymptotic_generalization_error(D / P, 1.0, 0.1, 0.2, t=t)
        assert np.allclose(fin, asym, rtol=0.03)  # finite-size corrections O(1/P) at P = 400


def test_interpolation_limit_and_double_descent_peak():
    r = np.array([0.5, 0.8, 0.95, 1.05, 1.25, 2.0])
    e_inf = [st.asymptotic_generalization_error(x, 1.0, 0.1, 0.0, t=np.inf) for x in r]
    assert np.argmax(e_inf) in (2, 3)  # the peak sits at r = D/P = 1
    assert math.isinf(st.asymptotic_generalization_error(1.0, 1.0, 0.1, 0.0, t=np.inf))
    # the closed-form limit agrees with quadrature at very late times away from r = 1
    for x in (0.5, 2.0):
        late = st.asymptotic_generalization_error(x, 1.0, 0.1, 0.0, t=1e7)
        assert late == pytest.approx(st.asymptotic_generalization_error(x, 1.0, 0.1, 0.0, t=np.inf), rel=1e-6)
    # early stopping beats t = inf near the peak; optimal ridge beats optimal stopping (Advani & Saxe)
    rng = np.random.default_rng(1)
    X = rng.standard_normal((100, 100)) / 10.0
    lam = np.clip(np.linalg.eigvalsh(X.T @ X), 0, None)
    t_opt, e_stop = st.optimal_stopping_time(lam, 1.0, 0.1)
    assert e_stop < st.generalization_error(lam, 1.0, 0.1, t=np.inf)
    assert st.generalization_error(lam, 1.0, 0.1, ridge=st.optimal_ridge(1.0, 0.1)) <= e_stop + 1e-12


@pytest.mark.parametrize("P,D,kw", [(60, 90, {"t": [0.5, 5.0, np.inf]}), (60, 30, {"t": [1.0, np.inf]}),
                                    (50, 50, {"ridge": [0.05, 0.5]})])
def test_theory_vs_exact_simulation(P, D, kw):
    mc = st.simulate_student_teacher(P, D, 1.0, 0.1, 0.2 if "t" in kw else 0.0, n_samples=150, n_test=400,
                                     seed=3, **kw)
    # the theory averaged over the sampled spectra is exact for the mean test error
    for est, pred in zip(mc.errors, mc.theory_given_spectrum):
        assert abs(est.z(pred)) < 5


def test_bad_input():
    with pytest.raises(ValueError, match="exactly one"):
        st.generalization_error([1.0], t=1.0, ridge=0.1)
    with pytest.raises(ValueError, match="t must"):
        st.generalization_error([1.0], t=-1.0)
    with pytest.raises(ValueError, match="eigenvalues"):
        st.generalization_error([-1.0], t=1.0)
    with pytest.raises(ValueError, match="r"):
        st.asymptotic_generalization_error(0.0, t=1.0)
    with pytest.raises(ValueError, match="sigma_eps2"):
        st.generalization_error([1.0], sigma_eps2=np.nan, t=1.0)

"""Tests of statfield.stats: accumulators (merge = concatenation), kurtosis errors, blocking,
tau_int, batch means and lagged correlators, on synthetic data with known answers.

AR(1) reference: x_t = a x_{t-1} + sqrt(1-a^2) xi_t started in equilibrium has unit variance,
rho(t) = a^t, tau_int = (1+a)/(1-a) and the exact variance of the mean
Var(x_bar) = [1 + 2 sum_{t=1}^{n-1} (1 - t/n) a^t] / n.
"""

import math

import numpy as np
import pytest
from scipy.signal import lfilter
from scipy.stats import chi2

from statfield.stats import (CovarianceAccumulator, Estimate, HigherMomentAccumulator, LaggedCorrelator,
                             MomentAccumulator, autocorrelation_function, batch_means, blocked_mean, blocking,
                             excess_kurtosis, integrated_time, mean_with_tau, zscore)

CHI2_LEVEL = 1e-3  # two-sided level of every chi^2 calibration test below


def ar1(n, a, n_chains, rng):
    """(n, n_chains) stationary AR(1) sequences with unit variance."""
    e = rng.standard_normal((n, n_chains)) * math.sqrt(1 - a * a)
    e[0] = rng.standard_normal(n_chains)
    return lfilter([1.0], [1.0, -a], e, axis=0)


def var_of_mean_ar1(n, a):
    t = np.arange(1, n)
    return (1 + 2 * np.sum((1 - t / n) * a ** t)) / n


def assert_unit_variance(z):
    """sum z^2 inside the central 1 - CHI2_LEVEL interval of chi^2_R."""
    R = len(z)
    s = float(np.sum(np.asarray(z) ** 2))
    lo, hi = chi2.ppf(CHI2_LEVEL / 2, R), chi2.ppf(1 - CHI2_LEVEL / 2, R)
    assert lo < s < hi, f"sum z^2 = {s:.1f} outside [{lo:.1f}, {hi:.1f}] (R = {R})"


# ------------------------------------------------------------------ existing API unchanged
def test_estimate_and_zscore():
    e = Estimate(1.0, 0.5, 10)
    assert e.z(0.0) == 2.0 and zscore(e, 1.0) == 0.0
    assert zscore(Estimate(1.0, 0.0, 3), 2.0) == -math.inf


# ------------------------------------------------------------------ merge = concatenation
def test_higher_moment_merge_equals_concatenation(rng):
    x = rng.gamma(2.0, size=(3001, 2)) + 5.0
    full = HigherMomentAccumulator((2,)).update(x)
    a = HigherMomentAccumulator((2,)).update(x[:1000])
    b = HigherMomentAccumulator((2,)).update(x[1000:1700]).update(x[1700:])
    a.merge(b)
    assert a.n == full.n
    np.testing.assert_allclose(a.mean, full.mean, rtol=1e-12)
    for p in HigherMomentAccumulator.ORDERS:
        np.testing.assert_allclose(a.M[p], full.M[p], rtol=1e-12, atol=1e-12 * np.abs(full.M[p]).max())
    # and equal to direct central sums
    d = x - x.mean(axis=0)
    for p in (2, 4, 8):
        np.testing.assert_allclose(full.M[p], np.sum(d ** p, axis=0), rtol=1e-12)


def test_covariance_merge_equals_concatenation(rng):
    x = rng.standard_normal((2500, 3)) @ np.array([[1, 0.5, 0], [0, 1, 0.3], [0, 0, 2.0]]) + 3.0
    full = CovarianceAccumulator(3).update(x)
    parts = [CovarianceAccumulator(3).update(c) for c in np.array_split(x, [7, 900, 1800])]
    acc = parts[0]
    for p in parts[1:]:
        acc.merge(p)
    for o in acc.orders:
        np.testing.assert_allclose(acc.M[o], full.M[o], rtol=1e-12, atol=1e-12 * np.abs(full.M[o]).max())
    np.testing.assert_allclose(full.covariance, np.cov(x.T), rtol=1e-12)
    d = x - x.mean(0)
    np.testing.assert_allclose(full.M[(2, 2)], (d ** 2).T @ (d ** 2), rtol=1e-12)
    np.testing.assert_allclose(full.M[(2, 1)], (d ** 2).T @ d, rtol=1e-12, atol=1e-9)


def test_memory_is_constant(rng):
    """Accumulators hold O(1) arrays: sizes do not depend on the number of samples."""
    accs = [HigherMomentAccumulator((4,)), CovarianceAccumulator(4), MomentAccumulator((4,))]
    lc = LaggedCorrelator(2, periodic=False)
    lcp = LaggedCorrelator(2, periodic=True)

    def nbytes(obj):
        tot = 0
        for v in vars(obj).values():
            if isinstance(v, np.ndarray):
                tot += v.nbytes
            elif isinstance(v, dict):
                tot += sum(a.nbytes for a in v.values() if isinstance(a, np.ndarray))
            elif isinstance(v, list):
                for item in v:
                    if isinstance(item, tuple):
                        tot += sum(nbytes_any(a) for a in item)
            elif hasattr(v, "__dict__"):
                tot += nbytes(v)
        return tot

    def nbytes_any(a):
        if isinstance(a, np.ndarray):
            return a.nbytes
        if isinstance(a, (tuple, list)):
            return sum(nbytes_any(b) for b in a)
        if isinstance(a, dict):
            return sum(nbytes_any(b) for b in a.values())
        return 0

    sizes = []
    for n in (10, 1000, 20000):
        x = rng.standard_normal((n, 4))
        for acc in accs:
            acc.update(x)
        lc.update(x)
        lcp.update(x)
        sizes.append([nbytes(a) for a in accs] + [nbytes(lc), nbytes(lcp)])
    assert sizes[0] == sizes[1] == sizes[2]


def test_lagged_correlator_merge_equals_concatenation(rng):
    x = ar1(12, 0.6, 900, rng).T[:, :, None] * np.array([1.0, -2.0])  # (900, 12, 2)
    for periodic in (False, True):
        full = LaggedCorrelator(4, periodic=periodic).update(x)
        a = LaggedCorrelator(4, periodic=periodic).update(x[:300])
        b = LaggedCorrelator(4, periodic=periodic).update(x[300:])
        v1, s1 = a.merge(b).correlator()
        v0, s0 = full.correlator()
        np.testing.assert_allclose(v1, v0, rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(s1, s0, rtol=1e-10, atol=1e-13)


# ------------------------------------------------------------------ kurtosis
def test_excess_kurtosis_known_laws(rng):
    """Exponential: g2 = 6; uniform: -6/5; Gaussian: 0 with error -> sqrt(24/n)."""
    n = 200_000
    for sample, truth in ((rng.exponential(size=n), 6.0), (rng.uniform(size=n), -1.2),
                          (rng.standard_normal(n), 0.0)):
        e = excess_kurtosis(sample)
        assert abs(e.z(truth)) < 5, (e, truth)
    g = excess_kurtosis(rng.standard_normal(n))
    assert abs(g.stderr / math.sqrt(24 / n) - 1) < 0.05


def test_kurtosis_error_calibrated(rng):
    """z-scores of R repeats have unit variance (chi^2 test) for the law of a finite-width
    pre-activation: a Gaussian scale mixture z = sqrt(chi2_nu/nu) xi, exact g2 = 6/nu.
    (The delta-method error needs n large enough: measured mean z^2 = 1.30 at n = 4000 and
    1.06 at n = 20000 for nu = 10, from the correlation of g2 with its own error bar.)"""
    R, n, nu = 200, 20000, 10
    x = np.sqrt(rng.chisquare(nu, size=(n, R)) / nu) * rng.standard_normal((n, R))
    est = excess_kurtosis(x)
    assert_unit_variance([e.z(6.0 / nu) for e in est])


def test_covariance_errors_calibrated(rng):
    """Covariance error bars (exact i.i.d. formula, plug-in 4th moments) on a scale mixture."""
    R, n, nu = 300, 500, 10
    L = np.array([[1.0, 0.0], [0.6, 0.8]])
    zs = []
    for _ in range(R):
        x = (rng.standard_normal((n, 2)) @ L.T) * np.sqrt(rng.chisquare(nu, size=(n, 1)) / nu)
        acc = CovarianceAccumulator(2).update(x)
        zs.append(acc.covariance_estimate(0, 1).z(0.6))
    assert_unit_variance(zs)


# ------------------------------------------------------------------ correlated sequences
def test_tau_int_ar1(rng):
    for a in (0.5, 0.8):
        x = ar1(2 ** 16, a, 4, rng)
        tau = integrated_time(x)
        assert abs(tau.z((1 + a) / (1 - a))) < 5, (a, tau)
    a, n, chains = 0.8, 2 ** 16, 4
    rho = autocorrelation_function(ar1(n, a, chains, rng))
    assert rho[0] == 1.0
    # Bartlett's large-sample variance of rho_hat(k) for AR(1) (Box & Jenkins), n * chains samples in all
    k = np.arange(1, 4)
    se = np.sqrt(((1 + a * a) * (1 - a ** (2 * k)) / (1 - a * a) - 2 * k * a ** (2 * k)) / (n * chains))
    z = (rho[1:4] - a ** k) / se
    assert np.all(np.abs(z) < 5), z


def test_blocking_error_calibrated(rng):
    """R independent AR(1) runs: blocking z-scores have unit variance (chi^2 at level 1e-3),
    and the mean squared error bar matches the exact variance of the mean within 10 %."""
    a, n, R = 0.9, 2 ** 14, 300
    x = ar1(n, a, R, rng)
    b = blocking(x)
    se = b.chosen_stderr()
    assert b.converged.all()
    assert_unit_variance(b.mean / se)
    ratio = np.mean(se ** 2) / var_of_mean_ar1(n, a)
    assert abs(ratio - 1) < 0.1, ratio
    # the implied tau_int agrees with (1+a)/(1-a) = 19 on average
    assert abs(np.mean(b.tau_int) / 19.0 - 1) < 0.1


def test_blocking_single_sequence_and_white_noise(rng):
    x = rng.standard_normal(2 ** 15)
    e = blocked_mean(x)
    assert isinstance(e, Estimate)
    assert abs(e.stderr / (1 / math.sqrt(len(x))) - 1) < 0.15
    assert blocking(x).level.shape == ()


def test_tau_and_batch_means_errors_calibrated(rng):
    a, n, R = 0.8, 2 ** 13, 300
    x = ar1(n, a, R, rng)
    z_tau = [mean_with_tau(x[:, r]).z(0.0) for r in range(R)]
    z_bm = [batch_means(x[:, r]).z(0.0) for r in range(R)]
    assert_unit_variance(z_tau)
    assert_unit_variance(z_bm)


def test_lagged_correlator_ar1_truth(rng):
    """Stationary AR(1) along the chain index: C(l, m) = a^m (open) and ring of independent
    Gaussians with a known circulant covariance."""
    a, L, nc = 0.6, 10, 20000
    x = ar1(L, a, nc, rng).T
    lc = LaggedCorrelator(3).update(x)
    val, se = lc.correlator()
    z = (val[: L - 3, :, 0, 0] - a ** np.arange(4)) / se[: L - 3, :, 0, 0]
    assert np.all(np.abs(z) < 5)
    # ring: Gaussian with covariance C(m) = rho^min(m, L-m) + mean 1.5 -> connected value known
    Lr = 8
    m = np.arange(Lr)
    cov = 0.5 ** np.minimum(m, Lr - m)
    C = np.array([[cov[(j - i) % Lr] for j in range(Lr)] for i in range(Lr)])
    y = rng.multivariate_normal(np.full(Lr, 1.5), C, size=nc)
    lcp = LaggedCorrelator(4, periodic=True).update(y)
    ests = lcp.estimates()
    zs = [e.z(cov[k]) for k, e in enumerate(ests)]
    assert np.all(np.abs(zs) < 5), zs
    # error bars calibrated over repeats
    zr = []
    for _ in range(150):
        y = rng.multivariate_normal(np.full(Lr, -0.7), C, size=400)
        zr.append(LaggedCorrelator(1, periodic=True).update(y).estimate(1).z(cov[1]))
    assert_unit_variance(zr)


def test_bad_input_raises():
    with pytest.raises(ValueError, match="max_lag"):
        LaggedCorrelator(-1)
    with pytest.raises(ValueError, match="at least 16"):
        blocking(np.zeros(5))
    with pytest.raises(ValueError, match="finite"):
        CovarianceAccumulator(2).update(np.array([[1.0, np.nan]]))
    with pytest.raises(ValueError, match="n_batches"):
        batch_means(np.arange(100.0), n_batches=80)
    with pytest.raises(ValueError, match="zero variance"):
        integrated_time(np.ones(100))
    with pytest.raises(ValueError, match="max_lag"):
        LaggedCorrelator(5).update(np.zeros((3, 4)))


def test_constant_data_have_exactly_zero_central_moments():
    """A deterministic observable (e.g. G^1 for a fixed input) must not acquire round-off variance."""
    acc = MomentAccumulator()
    x = np.full(1000, 0.1 + 1.5 * 1.0 / 3.0)
    for chunk in np.array_split(x, 7):
        acc.update(chunk)
    assert acc.n == 1000 and acc.M2 == 0.0 and acc.M3 == 0.0 and acc.M4 == 0.0
    assert acc.mean == x[0]


def test_mean_accumulator_merge_state_and_record_means():
    from statfield.stats import MeanAccumulator, RecordMeans

    x = np.random.default_rng(0).standard_normal((50, 3, 2)) * 5 + 100
    a = MeanAccumulator.from_batch(x[:17]).merge(MeanAccumulator.from_batch(x[17:]))
    assert a.n == 50 and np.allclose(a.mean, x.mean(0), rtol=1e-14)
    assert np.allclose(a.variance, x.var(0, ddof=1), rtol=1e-12)
    e = a.mean_estimate()
    assert np.allclose(e.stderr, x.std(0, ddof=1) / np.sqrt(50), rtol=1e-12)
    b = MeanAccumulator.from_state(a.state())
    assert b.n == a.n and np.array_equal(b.mean, a.mean) and np.array_equal(b.M2, a.M2)
    lean = MeanAccumulator.from_batch(x, second=False)
    assert lean.M2.size == 0 and np.allclose(lean.mean, x.mean(0))
    with pytest.raises(ValueError, match="second=False"):
        _ = lean.variance
    rm = RecordMeans(second=True)
    for r in range(4):
        rm.append(x[:, r % 3])
    res = rm.result()
    assert res.mean.shape == (4, 2) and np.allclose(res.mean[3], x[:, 0].mean(0))
    with pytest.raises(ValueError, match="like the first record"):
        rm.append(x[:10, 0])

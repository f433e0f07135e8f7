"""Closed forms attached to the built-in activations vs mpmath quadrature (independent of statfield.quadrature)."""

import itertools

import mpmath as mp
import numpy as np
import pytest

from statfield.activations import get_activation, piecewise_linear

SQ2 = mp.sqrt(2)


def _phi_mp(name):
    """phi, phi', phi'' written directly in mpmath."""
    if name == "erf":
        c = 2 / mp.sqrt(mp.pi)
        return (mp.erf, lambda z: c * mp.exp(-z * z), lambda z: -2 * c * z * mp.exp(-z * z))
    if name == "gelu":
        pdf = lambda z: mp.exp(-z * z / 2) / mp.sqrt(2 * mp.pi)
        return (lambda z: z * (1 + mp.erf(z / SQ2)) / 2, lambda z: (1 + mp.erf(z / SQ2)) / 2 + z * pdf(z),
                lambda z: pdf(z) * (2 - z * z))
    raise KeyError(name)


def _gauss(g, q, split=(0,)):
    """E[g(z)], z ~ N(0, q), by mpmath.quad split at the given points."""
    with mp.workdps(20):
        s = mp.sqrt(q)
        pts = [-mp.inf] + [mp.mpf(p) for p in split] + [mp.inf]
        return mp.quad(lambda t: g(s * t) * mp.exp(-t * t / 2), pts) / mp.sqrt(2 * mp.pi)


@pytest.mark.parametrize("name", ["erf", "gelu"])
@pytest.mark.parametrize("q", [0.05, 1.3, 40.0])
def test_smooth_closed_moments_vs_mpmath(name, q):
    """m = E phi^2, p = E phi'^2, dm = E[phi'^2 + phi phi''] (Price), d2m = E[h (z^2/q - 1)]/(2q) (Stein)."""
    f, d, d2 = _phi_mp(name)
    h = lambda z: d(z) ** 2 + f(z) * d2(z)
    ref = {"m": _gauss(lambda z: f(z) ** 2, q), "p": _gauss(lambda z: d(z) ** 2, q), "dm": _gauss(h, q),
           "d2m": _gauss(lambda z: h(z) * (z * z / q - 1), q) / (2 * q)}
    got = get_activation(name).closed_moments(q)
    assert set(got) >= set(ref)
    for key, val in ref.items():
        assert float(got[key]) == pytest.approx(float(val), rel=1e-12, abs=1e-14), key


@pytest.mark.parametrize("slopes", [(1.0, 1.0), (1.0, 0.0), (1.0, 0.1), (1.3, -0.4), (0.0, 2.0)])
def test_piecewise_linear_closed_moments_vs_mpmath(slopes):
    ap, am = slopes
    f = lambda z: ap * z if z > 0 else am * z
    d = lambda z: ap if z > 0 else am
    q = 1.7
    got = piecewise_linear(ap, am).closed_moments(np.array([q, 2 * q]))
    for key, g in (("m", lambda z: f(z) ** 2), ("p", lambda z: d(z) ** 2), ("m4", lambda z: f(z) ** 4)):
        assert got[key][0] == pytest.approx(float(_gauss(g, q)), rel=1e-13), key
    kappa = (ap**2 + am**2) / 2
    np.testing.assert_allclose(got["dm"], kappa, rtol=1e-15)
    np.testing.assert_array_equal(got["d2m"], 0.0)
    np.testing.assert_allclose(got["m"], kappa * np.array([q, 2 * q]), rtol=1e-15)


def test_closed_moments_broadcast_over_q():
    q = np.array([[0.1, 1.0], [2.0, 5.0]])
    for name in ("erf", "gelu", "relu"):
        mom = get_activation(name).closed_moments(q)
        for key, val in mom.items():
            assert np.shape(val) == q.shape, (name, key)
            assert np.all(np.isfinite(val))


@pytest.mark.parametrize("name", ["erf", "gelu"])
def test_dm_and_d2m_are_derivatives_of_m(name):
    """Central differences of the closed-form m reproduce dm and d2m (checks the derived d2m independently)."""
    mom = get_activation(name).closed_moments
    q = np.array([0.3, 1.0, 4.0])
    h = 1e-5
    dm_fd = (mom(q + h)["m"] - mom(q - h)["m"]) / (2 * h)
    d2m_fd = (mom(q + h)["dm"] - mom(q - h)["dm"]) / (2 * h)
    np.testing.assert_allclose(mom(q)["dm"], dm_fd, rtol=1e-8)
    np.testing.assert_allclose(mom(q)["d2m"], d2m_fd, rtol=1e-7)


@pytest.mark.parametrize("name, q1, q2, c", [
    ("erf", 0.7, 2.1, -0.5), ("gelu", 2.0, 0.5, 0.99), ("relu", 0.7, 2.1, -0.5), ("relu", 2.0, 0.5, 0.99),
    ("leaky_relu_0.1", 0.7, 2.1, 0.5), ("linear", 2.0, 0.5, -0.99),
])
def test_kernels_vs_nested_adaptive_quadrature(name, q1, q2, c):
    """E[phi(u)phi(v)], E[phi'(u)phi'(v)] by nested adaptive quadrature (scipy.integrate.quad), split at the kink.

    u = sqrt(q1) t, v | u ~ N(b u, s^2) with b = c/q1, s^2 = q2 - c^2/q1.
    """
    from scipy import integrate, special

    act = get_activation(name)
    if act.is_piecewise_linear:
        ap, am = act.a_plus, act.a_minus
        f = lambda z: ap * z if z > 0 else am * z
        d = lambda z: ap if z > 0 else am
    elif name == "erf":
        f = special.erf
        d = lambda z: 2 / np.sqrt(np.pi) * np.exp(-z * z)
    else:
        f = lambda z: 0.5 * z * (1 + special.erf(z / np.sqrt(2)))
        d = lambda z: 0.5 * (1 + special.erf(z / np.sqrt(2))) + z * np.exp(-z * z / 2) / np.sqrt(2 * np.pi)
    su, b, sv = np.sqrt(q1), c / q1, np.sqrt(q2 - c * c / q1)
    w = lambda t: np.exp(-t * t / 2) / np.sqrt(2 * np.pi)
    L = 12.0

    def two(g):
        def inner(u):
            brk = -b * u / sv  # the kink of g(b u + sv s) in s
            pts = [-L, brk, L] if -L < brk < L else [-L, L]
            return sum(integrate.quad(lambda s: g(b * u + sv * s) * w(s), lo, hi, epsabs=1e-14, epsrel=1e-12)[0]
                       for lo, hi in itertools.pairwise(pts))

        return sum(integrate.quad(lambda t: g(su * t) * inner(su * t) * w(t), lo, hi, epsabs=1e-13,
                                  epsrel=1e-11, limit=200)[0] for lo, hi in ((-L, 0.0), (0.0, L)))

    assert float(act.kernel(q1, q2, c)) == pytest.approx(two(f), rel=1e-9, abs=1e-11)
    assert float(act.deriv_kernel(q1, q2, c)) == pytest.approx(two(d), rel=1e-9, abs=1e-11)

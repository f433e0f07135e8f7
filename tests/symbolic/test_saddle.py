"""Saddle points: N -> infinity = mean-field q*, exact finite-N saddle, 1/N displacement, mode != mean."""

import math

import mpmath as mp
import numpy as np
import pytest
import sympy as sp

from statfield import quadrature
from statfield.activations import get_activation
from statfield.symbolic import collective as C
from statfield.symbolic.saddle import saddle


def _mean_field_q_star(name, sw, sb):
    """Independent route: iterate the mean-field q-map with Gaussian quadrature."""
    act = get_activation(name)
    q = 1.0
    for _ in range(2000):
        q = sw * quadrature.expect(lambda z: act.numpy(z) ** 2, q) + sb
    return q


@pytest.mark.parametrize("name, sw", [("linear", 0.5), ("linear", 0.9), ("relu", 1.0), ("relu", 1.7)])
def test_large_n_saddle_is_mean_field_fixed_point(name, sw):
    s = saddle(name)
    val = s.evaluate(sw, 0.3)
    assert val["q"] == pytest.approx(_mean_field_q_star(name, sw, 0.3), rel=1e-8)
    if name == "relu":
        assert val["kappa"] == 0.5 and val["u"] == pytest.approx(val["v"])


def test_stability_hessian_positive_definite_in_domain():
    for name, sws in (("linear", [0.1, 0.5, 0.99]), ("relu", [0.2, 1.0, 1.9])):
        s = saddle(name)
        for sw in sws:
            H = np.array(s.hessian.subs({C.sigma_w2: sw, C.sigma_b2: 0.3}), dtype=float)
            assert np.all(np.linalg.eigvalsh(H) > 0)
            assert bool(s.stability.subs({C.sigma_w2: sw, C.sigma_b2: 0.3}))


def test_linear_finite_n_saddle_is_stationary_point_of_exact_action():
    s = saddle("linear", large_n=False)
    n, sw, sb = 6, 0.5, 0.3
    qN = s.evaluate(sw, sb, n)["q"]
    r = sp.Symbol("r", positive=True)
    S = sp.lambdify(r, C.linear_link_action(r, r, n, sp.Rational(1, 2), sp.Rational(3, 10)), "mpmath")
    rN = mp.sqrt(n * qN)
    mp.mp.dps = 30
    d1 = mp.diff(S, rN)
    d2 = mp.diff(S, rN, 2)
    mp.mp.dps = 15
    assert abs(d1) < 1e-12 and d2 > 0
    # not the large-N value, and displaced by the stated O(1/N) amount
    qstar = sb / (1 - sw)
    assert abs(qN - qstar) > 1e-3
    disp = float(list(s.displacement.values())[0].subs({C.sigma_w2: sw, C.sigma_b2: sb}))
    for big in (1000, 10000):
        q_big = s.evaluate(sw, sb, big)["q"]
        assert (q_big - qstar) * big == pytest.approx(disp, rel=5.0 / big)


def test_relu_one_over_n_saddle_matches_exact_digamma_root():
    s = saddle("relu", large_n=False)
    errs = []
    for n in (100, 1000):
        approx = s.evaluate(1.2, 0.3, n)
        exact = s.solve_exact(1.2, 0.3, n)
        errs.append(max(abs(approx[k] - exact[k]) for k in ("u", "v", "kappa")))
        # the displacement itself is O(1/N) and resolved
        assert abs(exact["kappa"] - 0.5) * n == pytest.approx(abs(approx["kappa"] - 0.5) * n, rel=25.0 / n)
    assert errs[1] < errs[0] / 30  # remainder is O(1/N^2)


def test_saddle_depends_on_variable_and_differs_from_mean(rng):
    sr = saddle("linear", large_n=False, variable="r").displacement
    sq = saddle("linear", large_n=False, variable="q").displacement
    (k,) = sr
    pt = {C.sigma_w2: 0.5, C.sigma_b2: 0.3}
    assert float(sr[k].subs(pt)) != pytest.approx(float(sq[k].subs(pt)), rel=1e-3)
    # exact stationary MEAN of q equals q* at N = 4 (MC on the exact chain), while the saddle is displaced
    n, sw, sb, chains, depth = 4, 0.5, 0.3, 20000, 60
    q = np.full(chains, sb / (1 - sw))
    for _ in range(depth):
        q = (sw * q + sb) * rng.chisquare(n, size=chains) / n
    est, se = q.mean(), q.std(ddof=1) / math.sqrt(chains)
    qstar = sb / (1 - sw)
    assert abs(est - qstar) / se < 5
    mode = saddle("linear", large_n=False).evaluate(sw, sb, n)["q"]
    assert abs(est - mode) / se > 5


@pytest.mark.parametrize("name, sw, sb, param", [
    ("linear", 1.0, 0.3, "sigma_w2"), ("linear", 1.5, 0.3, "sigma_w2"), ("relu", 2.0, 0.3, "sigma_w2"),
    ("relu", 1.0, -0.1, "sigma_b2"), ("relu", -1.0, 0.1, "sigma_w2")])
def test_domain_errors(name, sw, sb, param):
    with pytest.raises(ValueError, match=param):
        saddle(name).evaluate(sw, sb)


def test_unknown_activation_and_variable():
    with pytest.raises(ValueError, match="activation"):
        saddle("tanh")
    with pytest.raises(ValueError, match="variable"):
        saddle("linear", variable="z")
    assert saddle("relu").domain == (C.sigma_w2 < 2)  # sigma_b2 > 0 is implied by the symbol assumption

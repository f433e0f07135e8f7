"""Comparison with the published SPS17 coefficients (talk Eq. 12 kernel, Eq. 23 ReLU EFT)."""

import json
import math

import numpy as np
import pytest
import sympy as sp

from statfield import fields as F
from statfield import quadrature
from statfield.activations import get_activation
from statfield.symbolic import collective as C
from statfield.symbolic.compare import (INVARIANT_KEYS, coefficient_table, comparison_derivation, comparison_table,
                                        our_invariants, published_eft, published_invariants)


@pytest.mark.parametrize("name, sw", [("linear", 0.5), ("relu", 0.8)])
def test_same_keys(name, sw):
    a, b = our_invariants(name, sw, 0.1), published_invariants(name, sw, 0.1)
    assert tuple(a) == tuple(b) == INVARIANT_KEYS[name]


def test_linear_published_kernel_agrees_with_ours():
    for sw in (0.2, 0.5, 0.9):
        a, b = our_invariants("linear", sw, 0.1), published_invariants("linear", sw, 0.1)
        for k in INVARIANT_KEYS["linear"]:
            assert a[k] == pytest.approx(b[k], rel=1e-9), k
        assert a["lag1_autocorr_eps"] == pytest.approx(sw, rel=1e-12)


def test_relu_massless_mode_ours_at_mean_field_criticality_published_not():
    # mean-field order-chaos line: chi1 = sigma_w2 E[phi'(z)^2] = 1 (quadrature, independent route)
    relu = get_activation("relu")
    crit_mf = 1.0 / float(quadrature.deriv_kernel(relu, 1.0, 1.0, 1.0))  # closed form E[phi'(z)^2]
    ours = our_invariants("relu", 1.0, 0.1)["critical_sigma_w2"]
    pub = published_invariants("relu", 1.0, 0.1)["critical_sigma_w2"]
    assert ours == pytest.approx(crit_mf, rel=1e-6)
    # the published mass matrix is singular at its critical point, and that point is not 2
    det = published_eft("relu").M0.det()
    assert abs(float(det.subs(C.sigma_w2, pub))) < 1e-10
    assert abs(pub - crit_mf) > 0.5
    # beyond it, the published quadratic form is not positive definite: correlations undefined
    p = published_invariants("relu", 1.5, 0.1)
    assert p["positive_definite"] is False and p["corr_plus_minus_abs"] is None
    assert our_invariants("relu", 1.5, 0.1)["positive_definite"] is True


def test_coefficient_table_identifies_the_differences():
    rows = {str(k): (a, b) for k, a, b in coefficient_table("relu")}
    s = C.sigma_w2
    assert sp.simplify(rows["eps_plus**2"][0] - rows["eps_plus**2"][1]) == 0
    assert rows["eps_minus**2"] == (1, 1)
    assert sp.simplify(rows["d_eps_plus*eps_minus"][0] - s) == 0 and sp.simplify(rows["d_eps_plus*eps_minus"][1] - s) == 0
    assert sp.simplify(rows["eps_minus*eps_plus"][0] + rows["eps_minus*eps_plus"][1]) == 0  # opposite signs
    assert rows["d_eps_minus*d_eps_plus"][1] == 0 and rows["d_eps_minus*d_eps_plus"][0] != 0


def test_comparison_table_json():
    tab = comparison_table(0.5, 0.1)
    s = json.dumps(tab)
    assert "relu" in s and "linear" in s
    assert all(r["agree"] for r in tab["rows"] if r["activation"] == "linear")
    assert not all(r["agree"] for r in tab["rows"] if r["activation"] == "relu")
    assert [r["activation"] for r in comparison_table(1.5, 0.1)["rows"]] == ["relu"] * len(INVARIANT_KEYS["relu"])


def test_monte_carlo_decides_for_ours(rng):
    """Exact ReLU chain at large N: same-layer |corr(eps+, eps-)| and lag-1 autocorrelation of eps_k."""
    n, sw, sb, chains, burn = 4000, 1.0, 0.2, 20000, 30
    u = np.full(chains, sb / (1 - sw / 2) / 2)

    def step(u):
        K = sw * u + sb
        k = rng.binomial(n, 0.5, size=chains)
        return K * rng.chisquare(k) / n, K * rng.chisquare(n - k) / n, k

    for _ in range(burn):
        u = step(u)[0]
    l0 = step(u)
    l1 = step(l0[0])
    x0 = np.stack(F.relu_fields(*l0, sw, sb, n))
    x1 = np.stack(F.relu_fields(*l1, sw, sb, n))
    ours, pub = our_invariants("relu", sw, sb), published_invariants("relu", sw, sb)
    # correlation coefficient estimate with delta-method error via per-chain standardised products
    def corr_est(a, b):
        a, b = (a - a.mean()) / a.std(), (b - b.mean()) / b.std()
        p = a * b
        return p.mean(), p.std(ddof=1) / math.sqrt(p.size)

    for (a, b, key) in ((x0[0], x0[1], "corr_plus_minus_abs"), (x0[2], x1[2], "lag1_autocorr_k"),
                        (x0[0], x1[0], "lag1_autocorr_plus")):
        est, se = corr_est(a, b)
        est = abs(est) if key.endswith("_abs") else est
        assert abs(est - ours[key]) / se < 5, key
        assert abs(est - pub[key]) / se > 10, key


def test_bad_input():
    with pytest.raises(ValueError, match="activation"):
        our_invariants("erf", 0.5, 0.1)
    with pytest.raises(ValueError, match="sigma_w2"):
        our_invariants("relu", 2.5, 0.1)
    with pytest.raises(ValueError, match="sigma_b2"):
        published_invariants("relu", 1.0, -1.0)
    with pytest.raises(ValueError, match="sigma_w2"):
        comparison_table(2.0, 0.1)


def test_comparison_derivation_has_table():
    tex = comparison_derivation().to_latex()
    assert r"\begin{tabular}" in tex and "Eq.~23" in tex

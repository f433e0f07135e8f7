"""SymPy derivation behind the multi-input finite-width recursions (statfield.symbolic.finite_width_multi)."""

import numpy as np
import pytest
import sympy as sp

from statfield import finite_width as fw
from statfield.symbolic import finite_width_multi as sfm


def test_integration_by_parts_identities_exact():
    assert sfm.integration_by_parts_check() == (0, 0)


def test_relu_hessian_matches_numeric_and_vanishes_at_rho_one():
    rk = sfm.relu_kernel_derivatives()
    assert all(h == 0 for row in rk["H_at_1"] for h in row)
    q1, q2, c, rho, Fs, F1s, F2s = rk["symbols"]
    ap, am = sp.symbols("a_+ a_-", real=True)
    vals = {q1: 1.3, q2: 0.8, ap: 1, am: 0}
    r = 0.5 / np.sqrt(1.3 * 0.8)
    F = {Fs: rk["F"].subs(vals).subs(rho, r), F1s: rk["F1"].subs(vals).subs(rho, r),
         F2s: rk["F2"].subs(vals).subs(rho, r)}
    H = np.array([[float(h.subs(vals).subs(F).subs(rho, r)) for h in row] for row in rk["H"]])
    from statfield.activations import get_activation
    from statfield.finite_width.multi import _pair_quantities

    _, _, Hn, _ = _pair_quantities(get_activation("relu"), np.array([[1.3, 0.5], [0.5, 0.8]]), np.array([0]),
                                   np.array([1]), fw.DEFAULT_NODES)
    np.testing.assert_allclose(Hn[0], H, rtol=1e-12)


def test_linear_wishart_exact_matches_numeric():
    lw = sfm.linear_wishart_two_inputs()
    n, sw, sb = sp.Symbol("n", positive=True), sp.Symbol("sigma_w2", positive=True), sp.Symbol("sigma_b2", positive=True)
    k11, k12, k22 = sp.symbols("K_11 K_12 K_22", real=True)
    vals = {n: 7, sw: 0.9, sb: 0.2, k11: 1.0, k12: 0.4, k22: 2.0}
    ex = fw.multi_input_recursion("linear", 0.9, 0.2, 3, K1=np.array([[1.0, 0.4], [0.4, 2.0]]), width=7, exact=True)
    assert float(lw["cov_exact"].subs(vals)) == pytest.approx(ex.vertex(3)[0, 1, 0, 1], rel=1e-12)
    assert lw["n_times_difference_at_infinity"] != 0

"""statfield.finite_width single-input API: the input convention, bad input, overflow, large depth, dispatch."""

import math
import subprocess
import sys

import numpy as np
import pytest

from statfield import finite_width as fw
from statfield.activations import Activation, get_activation


def test_default_input_is_simulate_default():
    """K1 defaults to x = (1,): K1 = sigma_b2 + sigma_w2, the default input of statfield.simulate."""
    a = fw.recursion("tanh", 1.3, 0.2, 5)
    b = fw.recursion("tanh", 1.3, 0.2, 5, 1.5)  # positional K1 (the old contract)
    c = fw.recursion("tanh", 1.3, 0.2, 5, inputs=[1.0])
    d = fw.recursion("tanh", 1.3, 0.2, 5, inputs=[[1.0]])
    for r in (b, c, d):
        np.testing.assert_array_equal(a.V, r.V)
        assert r.K1 == 1.5
    e = fw.recursion("relu", 2.0, 0.1, 4, inputs=[1.0, 2.0])  # K1 = sb + sw |x|^2 / d_in
    assert e.K1 == pytest.approx(0.1 + 2.0 * 5 / 2)
    assert fw.log_q_moments("relu", 2.0, 4, width=10).mean[0] == fw.log_q_moments("relu", 2.0, 4, 2.0, 10).mean[0]
    np.testing.assert_array_equal(fw.exact_moments("relu", 2.0, 0.1, 4, width=10),
                                  fw.exact_moments("relu", 2.0, 0.1, 4, 2.1, 10))
    multi = fw.recursion("tanh", 1.3, 0.2, 4, inputs=[[1.0, 0.0], [0.6, 0.8]])
    assert isinstance(multi, fw.MultiInputResult) and multi.K.shape == (4, 2, 2)


def test_input_errors_name_the_parameter():
    with pytest.raises(ValueError, match="K1 or inputs"):
        fw.recursion("tanh", 1.0, 0.1, 3, 1.0, inputs=[1.0])
    with pytest.raises(ValueError, match="inputs"):
        fw.recursion("tanh", 1.0, 0.1, 3, inputs=[np.nan])
    with pytest.raises(ValueError, match="inputs"):
        fw.recursion("tanh", 1.0, 0.0, 3, inputs=[0.0])
    with pytest.raises(ValueError, match="inputs"):
        fw.two_input_recursion("tanh", 1.0, 0.1, 3, inputs=[[1.0, 2.0]])
    with pytest.raises(ValueError, match="K"):
        fw.two_input_moments("tanh", [[1.0, 2.0], [2.0, 1.0]])
    with pytest.raises(ValueError, match="K"):
        fw.effective_action(0.0, 1.0, 0.0, 10)
    with pytest.raises(ValueError, match="V"):
        fw.effective_action(1.0, np.nan, 0.0, 10)
    with pytest.raises(ValueError, match="width"):
        fw.effective_action(1.0, 1.0, 0.0, 0)
    with pytest.raises(ValueError, match="depths"):
        fw.k0_class_table("tanh", 1.0, (1,))


def test_overflow_raises_with_layer():
    with pytest.raises(OverflowError, match="layer"):
        fw.recursion("linear", 3.0, 0.0, 5000)
    with pytest.raises(OverflowError, match="layer"):
        fw.recursion("linear", 3.0, 0.0, 5000, 1e300, width=10, exact=True)
    with pytest.raises(OverflowError):
        fw.gaussian_moments("relu", 1e300)
    with pytest.raises(OverflowError):
        fw.effective_action(1e-100, 1.0, 0.0, 10)
    with pytest.raises(OverflowError, match="layer"):
        fw.two_input_recursion("linear", 1e3, 0.0, 2000, inputs=[[1.0], [2.0]])
    for bad in (fw.recursion("relu", 2.0, 0.0, 50).V, fw.k0_class_table("tanh", 1.0, (10, 50))[-1]["V_over_lK2"]):
        assert np.all(np.isfinite(bad))


def test_large_depth_fixed_point_tail_is_exact():
    """Once K is at its fixed point the tail is summed in closed form: same numbers as the layer loop."""
    ref = fw.recursion("tanh", 1.5, 0.05, 3000)
    big = fw.recursion("tanh", 1.5, 0.05, 10**6)
    np.testing.assert_allclose(big.V[:3000], ref.V, rtol=1e-12)
    np.testing.assert_allclose(big.K_shift[:3000], ref.K_shift, rtol=1e-10, atol=1e-14)
    m = fw.gaussian_moments("tanh", big.K[-1])  # deep limit: V* = sw^4 (<phi^4> - g^2) / (1 - chi^2)
    assert big.V[-1] == pytest.approx(1.5**2 * (m["g4"] - m["g"] ** 2) / (1 - big.chi_par[-1] ** 2), rel=1e-10)
    assert np.all(np.isfinite(big.V)) and np.all(np.isfinite(big.K_shift))
    crit = fw.recursion("relu", 2.0, 0.0, 10**6)  # criticality: V/K^2 = 5 (l - 1) exactly
    assert crit.V[-1] / crit.K[-1] ** 2 == pytest.approx(5 * (10**6 - 1), rel=1e-9)


def test_slow_request_refused_up_front(monkeypatch):
    """K* = 0 class (no fixed point reached): a projected run time above the limit is refused with the estimate."""
    monkeypatch.setattr(fw, "TIME_LIMIT_S", 1e-3)
    with pytest.raises(ValueError, match=r"depth=1000000 would take about .* s"):
        fw.recursion("tanh", 1.0, 0.0, 10**6)


def test_lo_warns_when_depth_over_width_not_small():
    with pytest.warns(fw.FiniteWidthWarning, match="depth/width"):
        fw.recursion("tanh", 1.5, 0.05, 20, width=50)


def test_closed_moments_are_used_and_names_ignored():
    """Dispatch on the object: closed_moments keys are used, missing keys by quadrature; names do not matter."""
    tanh = get_activation("tanh")
    calls = []

    def moments(q):
        calls.append(q)
        return {"m": np.asarray(123.0)}

    fake = Activation("tanh_with_m", tanh.fn, tanh.deriv, second_deriv=tanh.second_deriv, moments_fn=moments)
    m = fw.gaussian_moments(fake, 0.7)
    ref = fw.gaussian_moments(tanh, 0.7)
    assert m["g"] == 123.0 and calls
    assert m["g4"] == pytest.approx(ref["g4"], rel=1e-13) and m["d2g"] == pytest.approx(ref["d2g"], rel=1e-12)
    erf = get_activation("erf")
    named = Activation("erf", lambda x, xp: xp.tanh(x), lambda x, xp: 1 - xp.tanh(x) ** 2,
                       second_deriv=tanh.second_deriv)  # a user function that merely calls itself "erf"
    assert fw.gaussian_moments(named, 0.7)["g"] == pytest.approx(ref["g"], rel=1e-13)
    assert fw.gaussian_moments(erf, 0.7)["g"] == pytest.approx(2 / math.pi * math.asin(1.4 / 2.4), rel=1e-13)


def test_import_does_not_load_scipy_stats():
    code = "import sys, statfield.finite_width; assert 'scipy.stats' not in sys.modules, 'scipy.stats imported'"
    subprocess.run([sys.executable, "-c", code], check=True)

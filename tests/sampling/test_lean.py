"""Lean kernels: in-place piecewise-linear activations equal phi(z); float32 sampling agrees with float64 within
the statistical error; bad dtypes are clear errors."""

import numpy as np
import pytest

import statfield as sf
from statfield.sampling.preactivation import phi_inplace


@pytest.mark.parametrize("act", ["relu", "linear", "tanh"])
def test_phi_inplace_equals_phi(act):
    a = sf.get_activation(act)
    z = np.random.default_rng(0).standard_normal((3, 7, 2))
    ref = a(z.copy(), np)
    assert np.array_equal(phi_inplace(a, z.copy(), np), ref)


def test_phi_inplace_general_piecewise_linear():
    from statfield.activations.builtin import piecewise_linear

    z = np.random.default_rng(1).standard_normal((2, 9, 3))
    for ap, am in ((1.0, 0.1), (2.0, -0.5), (0.5, 0.0), (3.0, 3.0)):
        a = piecewise_linear(ap, am)
        assert np.array_equal(phi_inplace(a, z.copy(), np), a(z.copy(), np)), (ap, am)


@pytest.mark.parametrize("method", ["preactivation", "weights"])
def test_float32_sampling_agrees_with_float64(method):
    X = np.random.default_rng(0).standard_normal((3, 4))
    kw = dict(inputs=X, method=method, variance_reduction=False)
    lo = sf.simulate("relu", 2.0, 0.1, 32, 3, 2000, seed=1, dtype="float32", **kw)
    hi = sf.simulate("relu", 2.0, 0.1, 32, 3, 2000, seed=2, **kw)
    assert lo.parameters["dtype"] == "float32" and lo.value("gram").dtype == np.float64
    for name in ("gram", "G"):
        assert np.all(np.abs((lo[name] - hi[name]).z(0.0)) < 5), name
    one = sf.simulate("relu", 2.0, 0.1, 32, 3, 2000, seed=1, dtype=np.float32, method=method)
    assert np.all(np.abs(one["q"].z(sf.simulate("relu", 2.0, 0.1, 32, 3, 2000, seed=3)["q"].value)) < 5 * np.sqrt(2))


def test_bad_dtype_is_a_clear_error():
    with pytest.raises(ValueError, match="dtype must be 'float64' or 'float32'"):
        sf.simulate("relu", 2.0, 0.1, 8, 2, 10, dtype="float16")
    with pytest.raises(ValueError, match="dtype must be"):
        sf.simulate("relu", 2.0, 0.1, 8, 2, 10, dtype="double precision")
    with pytest.raises(ValueError, match="not by method='collective'"):
        sf.simulate("relu", 2.0, 0.1, 8, 2, 10, method="collective", dtype="float32")

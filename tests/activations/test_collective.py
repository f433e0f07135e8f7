"""The collective-coordinate model derived from the slopes, and its one refusal message."""

import numpy as np
import pytest
import sympy as sp

from statfield import fields as F
from statfield.activations import (
    CollectiveModel,
    UnsupportedActivationError,
    get_activation,
    piecewise_linear,
    require_collective,
)


def test_models_of_builtins():
    lin, relu, leaky = (get_activation(a).collective for a in ("linear", "relu", "leaky_relu_0.1"))
    assert get_activation("tanh").collective is None
    assert (lin.kind, lin.variables, lin.field_names) == ("radial", ("q",), ("eps",))
    assert (relu.kind, relu.variables, relu.field_names) == ("orthant", ("u", "v", "k"),
                                                              ("eps_plus", "eps_minus", "eps_k"))
    assert lin.critical_sigma_w2 == 1.0 and relu.critical_sigma_w2 == 2.0
    assert leaky.critical_sigma_w2 == pytest.approx(2 / 1.01, rel=1e-15)
    assert relu.chi(1.5) == 0.75 and lin.chi(0.5) == 0.5
    assert lin.eft_supported and relu.eft_supported and not leaky.eft_supported
    assert relu.label == "relu" and CollectiveModel(1.0, 0.5).label == "pl(1,0.5)"


def test_model_follows_the_slopes_not_the_name():
    """A ReLU written in SymPy, or scaled, has the ReLU model; sigma_w2 maps to the unit-slope network."""
    x = sp.Symbol("x")
    for act in (get_activation(sp.Max(x, 0)), piecewise_linear(1.0, 0.0, name="whatever")):
        assert act.collective.kind == "orthant" and act.collective.reference == "relu"
    scaled = piecewise_linear(2.0, 0.0)
    assert scaled.collective.critical_sigma_w2 == 0.5
    assert scaled.collective.effective_sigma_w2(0.3) == pytest.approx(1.2)
    # fields of 2*relu at sigma_w2 equal those of relu at 4 sigma_w2
    u, v, k = np.array([0.3]), np.array([0.2]), np.array([5])
    a = F.relu_fields(u, v, k, 0.3, 0.1, 10, activation=scaled)
    b = F.relu_fields(u, v, k, 1.2, 0.1, 10)
    np.testing.assert_allclose(a, b, rtol=1e-15)
    neg = piecewise_linear(-3.0, -3.0)
    assert neg.collective.kind == "radial" and neg.collective.reference == "linear"
    assert F.q_star_large_n(neg, 0.1, 0.2) == pytest.approx(0.2 / (1 - 0.9))


LEAKY_CALLS = [
    lambda a: F.q_star_large_n(a, 0.5, 0.1),
    lambda a: F.saddle_point(a, 0.5, 0.1),
    lambda a: F.fields(a, {"u": 1.0, "v": 1.0, "k": 1}, 0.5, 0.1, 2),
    lambda a: F.relu_fields(1.0, 1.0, 1, 0.5, 0.1, 2, activation=a),
    lambda a: require_collective(a, eft=True),
    lambda a: get_activation(a).collective.require_eft(),
    lambda a: get_activation(a).collective.effective_sigma_w2(0.5),
]


@pytest.mark.parametrize("call", LEAKY_CALLS)
def test_leaky_relu_refused_everywhere_with_one_message(call):
    with pytest.raises(UnsupportedActivationError) as info:
        call("leaky_relu_0.1")
    assert isinstance(info.value, ValueError) and isinstance(info.value, NotImplementedError)
    assert "leaky_relu_0.1" in str(info.value)
    ref = str(pytest.raises(UnsupportedActivationError, get_activation("leaky_relu_0.1").collective.require_eft).value)
    assert str(info.value) == ref


def test_smooth_activation_has_no_collective_model():
    with pytest.raises(ValueError, match="activation 'tanh'.*not piecewise linear"):
        require_collective("tanh")
    with pytest.raises(ValueError, match="activation"):
        F.fields("tanh", {"q": 1.0}, 0.5, 0.1, 4)


def test_fields_dispatch_on_the_object():
    d = F.fields(piecewise_linear(1.0, 1.0, name="my_linear"), {"q": np.array([1.0])}, 0.5, 0.1, 4)
    assert tuple(d) == ("eps",)
    with pytest.raises(ValueError, match="missing"):
        F.fields("relu", {"q": 1.0}, 0.5, 0.1, 4)
    with pytest.raises(ValueError, match="radial"):
        F.linear_fields(1.0, 0.5, 0.1, 4, activation="relu")

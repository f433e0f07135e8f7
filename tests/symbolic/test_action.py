"""The SPS17 action: delta/lambda route == direct route, and == -log of the conditional Gaussians."""

import numpy as np
import pytest
import sympy as sp
from scipy.stats import multivariate_normal, norm

from statfield.symbolic.action import Action, action, layer_term

SEED = 20261122


def _canonical_difference(S1, S2):
    return sp.simplify(sp.expand_log(S1 - S2, force=True))


@pytest.mark.parametrize("N,P", [(2, 1), (2, 2), (3, 2)])
def test_routes_agree_symbolically_general_phi(N, P):
    Sd, Sig_d = layer_term("general", N=N, P=P, route="direct")
    Sl, Sig_l = layer_term("general", N=N, P=P, route="delta")
    assert (Sig_d - Sig_l).applyfunc(sp.expand).is_zero_matrix
    assert _canonical_difference(Sd, Sl) == 0


def test_routes_agree_first_layer_and_symbolic_width():
    # first layer (input x, fan-in d_in symbolic: the delta route integrates a generic W column)
    Sd, _ = layer_term("general", layer="first", N=2, P=1, route="direct")
    Sl, _ = layer_term("general", layer="first", N=2, P=1, route="delta")
    assert _canonical_difference(Sd, Sl) == 0
    # hidden layer with symbolic N (Sum over units, generic row and column)
    Sd, _ = layer_term("tanh", P=1, route="direct")
    Sl, _ = layer_term("tanh", P=1, route="delta")
    assert Sd.has(sp.Sum) and _canonical_difference(Sd, Sl) == 0


def test_routes_agree_symbolic_width_two_inputs_numerically():
    # symbolic N and P = 2 is slow to simplify; compare after fixing N = 3 and evaluating at a point
    a_d = action("erf", form="multi", P=2, L=2, route="direct")
    a_l = action("erf", form="multi", P=2, L=2, route="delta")
    rng = np.random.default_rng(SEED)
    z = rng.normal(size=(2, 3, 2))
    x = rng.normal(size=(4, 2))
    kw = dict(x=x, sigma_w2=1.7, sigma_b2=0.3, N=3, d_in=4)
    assert a_d.evaluate(z, **kw) == pytest.approx(a_l.evaluate(z, **kw), rel=1e-12)


def _conditional_gaussian_nll_multi(z, x, phi, sw2, sb2):
    """-sum log N(z^l_i; 0, Sigma^l) with Sigma^l built from layer l-1, scipy's multivariate normal."""
    total = 0.0
    prev, fan_in = x, x.shape[0]  # x: (d_in, P)
    for layer in z:  # layer: (N, P)
        Sigma = sw2 * prev.T @ prev / fan_in + sb2
        total -= multivariate_normal(mean=np.zeros(Sigma.shape[0]), cov=Sigma).logpdf(layer).sum()
        prev, fan_in = phi(layer), layer.shape[0]
    return total


@pytest.mark.parametrize("activation,phi", [("tanh", np.tanh), ("relu", lambda u: np.maximum(u, 0.0))])
def test_multi_input_action_is_minus_log_density(activation, phi):
    rng = np.random.default_rng(SEED)
    N, P, L, d_in = 3, 2, 3, 2
    S = action(activation, form="multi", N=N, P=P, L=L, d_in=d_in)
    for _ in range(3):
        z = rng.normal(size=(L, N, P)) * 1.3 + 0.8  # mostly positive: Sigma full rank also for ReLU
        x = rng.normal(size=(d_in, P))
        sw2, sb2 = rng.uniform(0.5, 2.5), rng.uniform(0.05, 0.5)
        ref = _conditional_gaussian_nll_multi(z, x, phi, sw2, sb2)
        assert S.evaluate(z, x=x, sigma_w2=sw2, sigma_b2=sb2) == pytest.approx(ref, rel=1e-12)


def test_single_input_action_symbolic_sizes_is_minus_log_density():
    rng = np.random.default_rng(SEED + 1)
    S = action("erf", form="single")  # N, L, d_in symbolic
    assert S.expr.has(sp.Sum) and not S.explicit
    N, L, d_in = 4, 3, 5
    z = rng.normal(size=(L, N))
    x = rng.normal(size=d_in)
    sw2, sb2 = 1.9, 0.2
    from scipy.special import erf

    K = sw2 * x @ x / d_in + sb2
    ref = -norm(scale=np.sqrt(K)).logpdf(z[0]).sum()
    for l in range(1, L):
        K = sw2 * np.mean(erf(z[l - 1]) ** 2) + sb2
        ref -= norm(scale=np.sqrt(K)).logpdf(z[l]).sum()
    val = S.evaluate(z, x=x, sigma_w2=sw2, sigma_b2=sb2, N=N, L=L, d_in=d_in)
    assert val == pytest.approx(ref, rel=1e-12)
    # the explicit-size build is the same function
    S_exp = action("erf", form="single", N=N, L=L, d_in=d_in)
    assert S_exp.evaluate(z, x=x, sigma_w2=sw2, sigma_b2=sb2) == pytest.approx(ref, rel=1e-12)


@pytest.mark.parametrize("L_value", [3, None])
def test_periodic_chain_wraps_around(L_value):
    rng = np.random.default_rng(SEED + 2)
    N, L = 3, 3
    S = action("tanh", form="periodic", N=N, L=L_value)
    z = rng.normal(size=(L, N))
    sw2, sb2 = 1.4, 0.1
    ref = 0.0
    for l in range(L):
        K = sw2 * np.mean(np.tanh(z[l - 1]) ** 2) + sb2  # l - 1 = -1 wraps to layer L
        ref -= norm(scale=np.sqrt(K)).logpdf(z[l]).sum()
    assert S.evaluate(z, sigma_w2=sw2, sigma_b2=sb2, L=L) == pytest.approx(ref, rel=1e-12)


def test_periodic_delta_route_matches_direct():
    a_d = action("general", form="periodic", N=2, L=2)
    a_l = action("general", form="periodic", N=2, L=2, route="delta")
    assert _canonical_difference(a_d.expr, a_l.expr) == 0


def test_dilation_law_for_homogeneous_activations():
    # sigma_b2 = 0, phi(s z) = s phi(z) (s > 0): S[s z] - S[z] = N L ln s exactly
    s = sp.Symbol("s", positive=True)
    N, L = 2, 3
    S = action("linear", form="periodic", N=N, L=L, sigma_b2=0)
    rep = {v: s * v for v in S.variables()}
    diff = sp.simplify(sp.expand_log(S.expr.xreplace(rep) - S.expr, force=True))
    assert sp.simplify(diff - N * L * sp.log(s)) == 0
    # ReLU (Piecewise): numerically at a random point
    rng = np.random.default_rng(SEED + 3)
    N, L = 3, 2
    S = action("relu", form="periodic", N=N, L=L, sigma_b2=0)
    z = np.abs(rng.normal(size=(L, N))) * np.array([1, -1, 1])
    scale = 3.7
    shift = S.evaluate(scale * z, sigma_w2=1.3) - S.evaluate(z, sigma_w2=1.3)
    assert shift == pytest.approx(N * L * np.log(scale), rel=1e-12)


def test_activation_inputs_and_attributes():
    u = sp.Symbol("u", real=True)
    for act in ("general", sp.Function("g"), sp.Lambda(u, sp.sin(u)), u**3 + u, "gelu"):
        S = action(act, form="periodic", N=1, L=2)
        assert isinstance(S, Action) and S.form == "periodic"
        assert len(S.terms) == 2 and len(S.covariances) == 2
        assert S.variables() == (S.symbols["z"][1, 1], S.symbols["z"][2, 1])
    S = action("linear", form="single", N=2, L=2, d_in=1)
    assert "S =" in S.to_latex()
    assert S.subs({"sigma_w2": 1, "sigma_b2": 1}).has(S.symbols["z"])


def test_multi_form_with_one_input_equals_single_form():
    rng = np.random.default_rng(SEED + 4)
    N, L, d_in = 2, 3, 3
    multi = action("tanh", form="multi", N=N, P=1, L=L, d_in=d_in)
    single = action("tanh", form="single", N=N, L=L, d_in=d_in)
    assert len(multi.variables()[0].indices) == 3 and len(single.variables()[0].indices) == 2
    z = rng.normal(size=(L, N))
    x = rng.normal(size=d_in)
    kw = dict(sigma_w2=1.1, sigma_b2=0.2)
    assert multi.evaluate(z[..., None], x=x[:, None], **kw) == pytest.approx(single.evaluate(z, x=x, **kw), rel=1e-13)


def test_open_chain_density_is_normalised():
    S = action("linear", form="single", N=1, L=1, d_in=1)
    z = S.symbols["z"][1, 1]
    assert sp.simplify(sp.integrate(S.density(), (z, -sp.oo, sp.oo))) == 1


def test_validation_errors_name_the_parameter():
    with pytest.raises(ValueError, match="activation"):
        action("no_such_activation")
    with pytest.raises(ValueError, match="sigma_w2"):
        action("tanh", sigma_w2=-1.0)
    with pytest.raises(ValueError, match="sigma_w2"):
        action("tanh", sigma_w2=float("nan"))
    with pytest.raises(ValueError, match="sigma_b2"):
        action("tanh", sigma_b2=-0.1)
    with pytest.raises(ValueError, match="N must"):
        action("tanh", N=2.5)
    with pytest.raises(ValueError, match="N must"):
        action("tanh", N=0)
    with pytest.raises(ValueError, match="L must"):
        action("tanh", L=-1)
    with pytest.raises(ValueError, match="form"):
        action("tanh", form="torus")
    with pytest.raises(ValueError, match="route"):
        action("tanh", route="magic")
    with pytest.raises(ValueError, match="P must"):
        action("tanh", form="multi")
    with pytest.raises(ValueError, match="P must"):
        action("tanh", form="single", P=2)
    with pytest.raises(ValueError, match="P must be <="):
        action("tanh", form="multi", N=1, P=3, d_in=4)
    with pytest.raises(ValueError, match="variables"):
        action("tanh", form="single").variables()
    S = action("tanh", form="single", N=1, L=1, d_in=1)
    with pytest.raises(ValueError, match="missing"):
        S.evaluate([[0.3]])

"""Bounded fuzz of the public API beyond mean field: a finite, in-range number or a documented exception.

Rule (the package's contract): every public function returns a correct number or raises an exception whose
message names the offending parameter (or the layer / quantity that overflowed) — never NaN, never inf
silently. ``tests/meanfield/test_fuzz.py`` covers ``statfield.meanfield``; this file covers finite width,
sampling, Jacobians, initialisation, residual networks, perturbation theory, the student-teacher model and
user-supplied activations. Each test is bounded (derandomized, fixed number of examples, small sizes).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import statfield
from statfield import finite_width as fw
from statfield import initialisation as ini
from statfield import jacobian as jc
from statfield import meanfield as mf
from statfield import perturbation as pt
from statfield import resnet as rn
from statfield import student_teacher as stt

ACTS = ["tanh", "erf", "gelu", "relu", "linear", "leaky_relu_0.2"]
#: words an error message must contain (one of): the parameter, the layer, or the quantity that failed
NAMED = ("sigma_w2", "sigma_b2", "depth", "width", "K1", "K", "q", "layer", "overflow", "activation", "inputs",
         "X", "n_samples", "fixed point", "r", "t", "ridge", "eps", "delta_H", "weights", "observables", "J_D",
         "y", "widths", "scheme", "memory", "seconds", "time")
DOCUMENTED = (ValueError, OverflowError, NotImplementedError, TypeError)
FUZZ = settings(max_examples=25, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def _documented(exc):
    return isinstance(exc, DOCUMENTED) and any(k in str(exc) for k in NAMED)


def _finite(x, where):
    arr = np.asarray(x, dtype=float)
    assert np.all(np.isfinite(arr)), f"{where}: non-finite result {x!r}"


def _call(where, fn, *args, **kw):
    """Run ``fn``; a documented exception passes, anything else fails; returns the result or None."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return fn(*args, **kw)
        except Exception as exc:  # noqa: BLE001 - classified here
            assert _documented(exc), f"{where}: undocumented {type(exc).__name__}: {exc}"
            return None


@FUZZ
@given(a=st.sampled_from(ACTS), lw=st.floats(-1.5, 1.5), b=st.sampled_from([0.0, 1e-3, 0.1, 2.0]),
       depth=st.integers(1, 60), width=st.sampled_from([None, 4, 50, 10**4]))
def test_finite_width_recursion(a, lw, b, depth, width):
    w = 10.0**lw
    r = _call("recursion", fw.recursion, a, w, b, depth, width=width)
    if r is not None:
        for name in ("K", "V", "K_shift"):
            _finite(getattr(r, name), f"recursion({a}, {w}, {b}, {depth}).{name}")
        assert np.all(np.asarray(r.K) > 0)
    g = _call("gaussian_moments", fw.gaussian_moments, a, 10.0 ** (2 * lw))
    if g is not None:
        for k, v in g.items():
            _finite(v, f"gaussian_moments({a}).{k}")


@FUZZ
@given(a=st.sampled_from(["relu", "linear", "tanh"]), lw=st.floats(-1.0, 1.0), b=st.sampled_from([0.0, 0.1]),
       width=st.integers(1, 12), depth=st.integers(1, 6), P=st.integers(1, 3), seed=st.integers(0, 2**31 - 1))
def test_simulate_small(a, lw, b, width, depth, P, seed):
    X = np.linspace(-1.0, 1.0, P * 2).reshape(P, 2) + 0.3
    r = _call("simulate", statfield.simulate, a, 10.0**lw, b, width, depth, 64, inputs=X, seed=seed)
    if r is None:
        return
    for name in r.names:
        est = r[name]
        _finite(est.value, f"simulate({a}).{name}")
        _finite(est.stderr, f"simulate({a}).{name} stderr")
        assert np.all(np.asarray(est.stderr) >= 0)


@FUZZ
@given(a=st.sampled_from(ACTS), lw=st.floats(-1.0, 1.0), b=st.sampled_from([0.0, 0.05, 1.0]),
       depth=st.integers(1, 400), weights=st.sampled_from(["gaussian", "orthogonal"]))
def test_jacobian_and_initialisation(a, lw, b, depth, weights):
    m = _call("jacobian_moments", jc.jacobian_moments, a, 10.0**lw, b, depth, weights)
    if m is not None:
        _finite([m.mean, m.relative_variance, m.chi1, m.kappa_D], "jacobian_moments")
        assert m.mean > 0 and m.relative_variance >= 0
    vp = _call("variance_propagation", ini.variance_propagation, a, [5, 40, 7, 90][: 2 + depth % 3], "glorot",
               10.0**lw, b)
    if vp is not None:
        _finite(vp.q, "variance_propagation.q")
        _finite(vp.g, "variance_propagation.g")


@FUZZ
@given(a=st.sampled_from(["relu", "tanh", "linear"]), lw=st.floats(-1.0, 1.0), b=st.sampled_from([0.0, 0.1]),
       depth=st.integers(1, 3000), scale=st.sampled_from([1e-3, 1.0, 1e60]))
def test_resnet_kernels(a, lw, b, depth, scale):
    if a == "tanh":  # 2-D quadrature route (~0.1-4 s per entry and layer at large variance): keep it cheap
        depth, scale = min(depth, 12), min(scale, 1.0)
    X = np.array([[1.0, 0.5], [-0.3, 0.2]]) * scale
    K = _call("resnet_nngp_kernel", rn.resnet_nngp_kernel, a, 10.0**lw, b, X, depth)
    if K is not None:
        _finite(K, "resnet_nngp_kernel")
        assert np.all(np.linalg.eigvalsh(K) >= -1e-12 * np.abs(K).max())


@FUZZ
@given(lr=st.floats(-2.0, 1.0), se=st.floats(0.0, 2.0), lt=st.floats(-3.0, 6.0), inf=st.booleans())
def test_student_teacher(lr, se, lt, inf):
    t = math.inf if inf else 10.0**lt
    e = _call("asymptotic_generalization_error", stt.asymptotic_generalization_error, 10.0**lr, 1.0, se, 0.1, t=t)
    if e is not None:
        assert not math.isnan(e) and e >= se  # inf only at the interpolation peak r = 1 (documented)


@FUZZ
@given(n=st.integers(2, 300), e=st.floats(0.0, 50.0), shift=st.floats(-1e6, 1e6), seed=st.integers(0, 1000))
def test_reweight(n, e, shift, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n)
    r = _call("reweight", pt.reweight, shift + x * x, {"x": x}, eps=e, warn=False)
    if r is not None:
        _finite([r["x"].value, r["x"].stderr, r.ess], "reweight")
        assert 2.0 <= r.ess <= n + 1e-9


@FUZZ
@given(lj=st.floats(-6.0, 6.0), P=st.integers(1, 4))
def test_gp_posterior(lj, P):
    X = np.linspace(-1, 1, 2 * (P + 1)).reshape(P + 1, 2)
    K = mf.nngp_kernel("relu", 2.0, 0.1, X, 3)
    y = np.linspace(-1, 1, P)
    post = _call("gp_posterior", pt.gp_posterior, K[:P, :P], K[P:, :P], y, 10.0**lj, K_test=K[P:, P:])
    if post is not None:
        _finite(post.mean, "gp_posterior.mean")
        _finite(post.cov, "gp_posterior.cov")
        assert post.cov[0, 0] >= -1e-12


_x = sp.Symbol("x", real=True)
USER = [lambda z: np.tanh(z), lambda z: np.maximum(z, 0.0), lambda z: np.sin(z) + 0.1 * z,
        sp.Max(_x, 0), sp.Abs(_x), sp.Max(-1, sp.Min(1, _x)), sp.sign(_x), _x * sp.exp(-_x * _x)]


@pytest.mark.parametrize("phi", USER, ids=["tanh", "relu", "sin", "Max", "Abs", "hardtanh", "sign", "xexp"])
def test_user_activations_never_silently_wrong(phi):
    """User activations (callables and SymPy) through mean field: numbers or documented errors, never NaN."""
    for w, b in ((0.5, 0.1), (1.0, 0.0), (4.0, 0.3)):
        for fn in (mf.q_star, mf.chi1, mf.c_star, mf.chi_c, mf.phase, mf.depth_scales):
            r = _call(f"{fn.__name__}({phi}, {w}, {b})", fn, phi, w, b)
            if r is None or isinstance(r, str):
                continue
            for v in (r if isinstance(r, tuple) else (r,)):
                assert not math.isnan(v), f"{fn.__name__}({phi}, {w}, {b}) = NaN"

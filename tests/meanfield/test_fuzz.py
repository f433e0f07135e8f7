"""Fuzz the mean-field API: a correct-looking number in its range, or a documented exception naming a parameter."""

import math
import warnings

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from statfield import meanfield as mf

ACTS = ["tanh", "erf", "gelu", "silu", "relu", "linear", "leaky_relu_0.2"]
NAMED = ("sigma_w2", "sigma_b2", "q", "c", "depth", "fixed point", "transition", "layer", "overflow", "c0")


def _documented(exc):
    return isinstance(exc, (ValueError, OverflowError)) and any(k in str(exc) for k in NAMED)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(a=st.sampled_from(ACTS), lw=st.floats(-3.0, 3.0), b=st.one_of(st.just(0.0), st.floats(1e-9, 1e3)),
       c=st.floats(-1.0, 1.0), lq=st.floats(-12.0, 12.0))
def test_fuzz_scalar_api(a, lw, b, c, lq):
    w = 10.0**lw
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for fn in (mf.q_star, mf.chi1, mf.chi_q, mf.c_star, mf.chi_c, mf.depth_scales, mf.phase):
            try:
                r = fn(a, w, b)
            except Exception as exc:  # noqa: BLE001 - classified below
                assert _documented(exc), f"{fn.__name__}({a}, {w}, {b}): {exc!r}"
                continue
            vals = r if isinstance(r, tuple) else (r,)
            for v in vals:
                if isinstance(v, str):
                    assert v in ("ordered", "chaotic", "critical", "unbounded")
                    continue
                assert not math.isnan(v), f"{fn.__name__}({a}, {w}, {b}) = NaN"
                assert v >= 0, f"{fn.__name__}({a}, {w}, {b}) = {v} < 0"
            if fn is mf.c_star:
                assert r <= 1.0
        for fn, args in ((mf.qmap, (10.0**lq,)), (mf.cmap, (c, 10.0**lq))):
            try:
                v = fn(a, w, b, *args) if fn is mf.qmap else fn(a, w, b, args[0], q=args[1])
            except Exception as exc:  # noqa: BLE001
                assert _documented(exc), f"{fn.__name__}: {exc!r}"
                continue
            assert math.isfinite(v)
            if fn is mf.cmap:
                assert -1.0 <= v <= 1.0


@settings(max_examples=20, deadline=None, derandomize=True)
@given(a=st.sampled_from(ACTS), lw=st.floats(-1.0, 1.0), b=st.floats(0.0, 1.0), depth=st.integers(1, 400),
       scale=st.sampled_from([1e-6, 1.0, 1e3, 1e80]))
def test_fuzz_kernels(a, lw, b, depth, scale):
    if a in ("tanh", "silu"):          # quadrature routes: keep the examples cheap
        depth, scale = min(depth, 8), min(scale, 1.0)
    X = np.array([[1.0, 0.5], [-0.3, 0.2], [0.7, -1.1]]) * scale
    for fn in (mf.nngp_kernel, mf.ntk_kernel):
        try:
            K = fn(a, 10.0**lw, b, X, depth)
        except Exception as exc:  # noqa: BLE001
            assert _documented(exc), f"{fn.__name__}: {exc!r}"
            continue
        assert np.all(np.isfinite(K)) and np.array_equal(K, K.T)
        # documented accuracy (statfield.kernels, "Accuracy"): when 1 - rho falls below float64 resolution the
        # arc-cosine derivative kernel is fixed only to ~sqrt(eps) per layer, so the NTK may be indefinite by that
        tol = 1e-12 if fn is mf.nngp_kernel else max(1e-12, depth * math.sqrt(np.finfo(float).eps))
        assert np.all(np.linalg.eigvalsh(K) >= -tol * np.abs(K).max())

r"""The built-in activations, each registered with its closed forms attached.

To add an activation with closed forms, write its factory here (or in your own code) and call
:func:`~statfield.activations.register`: the closed forms (``kernel_fn``, ``deriv_kernel_fn``,
``moments_fn``), kinks and slopes are attributes of the :class:`~statfield.activations.Activation`,
so no other module needs to change.

* piecewise linear (:func:`piecewise_linear`): linear :math:`(1, 1)`, ReLU :math:`(1, 0)`, leaky ReLU
  :math:`(1, \alpha)`; arc-cosine closed forms (Cho & Saul 2009);
* erf: Williams (1997) closed forms;
* exact GELU :math:`z\Phi(z)`: closed forms of :mod:`statfield.activations.closed_forms`;
* tanh, SiLU: no closed forms (quadrature, :mod:`statfield.quadrature`).
"""

from __future__ import annotations

import math

from . import closed_forms as cf
from .core import Activation, _special
from .registry import register, register_prefix

__all__ = ["leaky_relu", "piecewise_linear"]

_SQRT2 = math.sqrt(2.0)
_INV_SQRT2PI = 1.0 / math.sqrt(2.0 * math.pi)


def piecewise_linear(a_plus: float, a_minus: float, name: str | None = None) -> Activation:
    r"""The scale-invariant activation :math:`\phi(z) = a_+ z\,\theta(z) + a_- z\,\theta(-z)`.

    ``(1, 1)`` is linear, ``(1, 0)`` ReLU, ``(1, alpha)`` leaky ReLU. Closed-form kernels (arc-cosine
    kernel, Cho & Saul 2009) and moments are attached for every member; ``kinks = (0.0,)`` unless
    :math:`a_+ = a_-`.

    Raises
    ------
    ValueError
        ``a_plus`` or ``a_minus`` not finite.
    """
    try:
        a_plus = float(a_plus)
        a_minus = float(a_minus)
    except (TypeError, ValueError):
        raise TypeError(f"a_plus and a_minus must be real numbers, got {a_plus!r}, {a_minus!r}") from None
    if not (math.isfinite(a_plus) and math.isfinite(a_minus)):
        raise ValueError(f"a_plus and a_minus must be finite, got {a_plus}, {a_minus}")

    def fn(x, xp):
        return xp.where(x > 0, a_plus * x, a_minus * x)

    def deriv(x, xp):
        return xp.where(x > 0, xp.asarray(a_plus, dtype=x.dtype), xp.asarray(a_minus, dtype=x.dtype))

    def sym(x):
        import sympy as sp

        if a_plus == a_minus:
            return sp.nsimplify(a_plus) * x
        return sp.Piecewise((sp.nsimplify(a_plus) * x, x > 0), (sp.nsimplify(a_minus) * x, True))

    if name is None:
        name = f"piecewise_linear({a_plus:g},{a_minus:g})"
    return Activation(
        name=name, fn=fn, deriv=deriv, sympy_fn=sym, a_plus=a_plus, a_minus=a_minus,
        params={"a_plus": a_plus, "a_minus": a_minus},
        kernel_fn=cf.piecewise_linear_kernel(a_plus, a_minus),
        deriv_kernel_fn=cf.piecewise_linear_deriv_kernel(a_plus, a_minus),
        moments_fn=cf.piecewise_linear_moments(a_plus, a_minus),
        kinks=() if a_plus == a_minus else (0.0,),
    )


def leaky_relu(alpha: float = 0.01) -> Activation:
    r"""Leaky ReLU :math:`\phi(z) = z` for :math:`z>0`, :math:`\alpha z` otherwise (``alpha`` finite)."""
    try:
        alpha = float(alpha)
    except (TypeError, ValueError):
        raise TypeError(f"alpha must be a real number, got {alpha!r}") from None
    if not math.isfinite(alpha):
        raise ValueError(f"alpha must be finite, got {alpha}")
    return piecewise_linear(1.0, alpha, name=f"leaky_relu_{alpha:g}")


def _tanh():
    return Activation(
        name="tanh",
        fn=lambda x, xp: xp.tanh(x),
        deriv=lambda x, xp: 1.0 - xp.tanh(x) ** 2,
        second_deriv=lambda x, xp: -2.0 * xp.tanh(x) * (1.0 - xp.tanh(x) ** 2),
        sympy_fn=lambda x: __import__("sympy").tanh(x),
    )


def _erf():
    c = 2.0 / math.sqrt(math.pi)
    return Activation(
        name="erf",
        fn=lambda x, xp: _special(xp, "erf")(x),
        deriv=lambda x, xp: c * xp.exp(-x * x),
        second_deriv=lambda x, xp: -2.0 * c * x * xp.exp(-x * x),
        sympy_fn=lambda x: __import__("sympy").erf(x),
        kernel_fn=cf.erf_kernel,
        deriv_kernel_fn=cf.erf_deriv_kernel,
        moments_fn=cf.erf_moments,
    )


def _gelu():
    # exact GELU: z Phi(z), Phi the standard normal CDF (as neural-tangents' approximate=False)
    def fn(x, xp):
        return 0.5 * x * (1.0 + _special(xp, "erf")(x / _SQRT2))

    def deriv(x, xp):
        return 0.5 * (1.0 + _special(xp, "erf")(x / _SQRT2)) + x * _INV_SQRT2PI * xp.exp(-0.5 * x * x)

    def second(x, xp):
        return _INV_SQRT2PI * xp.exp(-0.5 * x * x) * (2.0 - x * x)

    def sym(x):
        import sympy as sp

        return x * (1 + sp.erf(x / sp.sqrt(2))) / 2

    return Activation(name="gelu", fn=fn, deriv=deriv, second_deriv=second, sympy_fn=sym,
                      kernel_fn=cf.gelu_kernel, deriv_kernel_fn=cf.gelu_deriv_kernel,
                      moments_fn=cf.gelu_moments)


def _silu():
    def sig(x, xp):
        return 1.0 / (1.0 + xp.exp(-x))

    def fn(x, xp):
        return x * sig(x, xp)

    def deriv(x, xp):
        s = sig(x, xp)
        return s * (1.0 + x * (1.0 - s))

    def second(x, xp):
        s = sig(x, xp)
        return s * (1.0 - s) * (2.0 + x * (1.0 - 2.0 * s))

    def sym(x):
        import sympy as sp

        return x / (1 + sp.exp(-x))

    return Activation(name="silu", fn=fn, deriv=deriv, second_deriv=second, sympy_fn=sym)


register("linear", lambda: piecewise_linear(1.0, 1.0, name="linear"))
register("relu", lambda: piecewise_linear(1.0, 0.0, name="relu"))
register("leaky_relu", lambda: leaky_relu(0.01))
register("tanh", _tanh)
register("erf", _erf)
register("gelu", _gelu)
register("silu", _silu)
register_prefix("leaky_relu_", leaky_relu)


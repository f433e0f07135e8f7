r"""The :class:`Activation` object: everything the theory routes need to know about :math:`\phi`.

An :class:`Activation` carries

* an array function ``phi(x, xp)`` and its derivatives, written against the array API (``xp`` is any
  array namespace: NumPy, CuPy, array-api-strict, ...);
* a SymPy expression, built lazily (``sympy`` is imported only when asked for, so the samplers never
  import SymPy at run time);
* the closed forms it has, attached **at construction** (``kernel``, ``deriv_kernel``, ``moments``;
  see :mod:`statfield.activations.closed_forms`). Nothing in the package looks closed forms up by
  name: a user's callable called ``"gelu"`` gets no GELU closed form;
* its non-smooth points: ``kinks`` (where :math:`\phi'` jumps) and ``jumps`` (where :math:`\phi`
  itself is discontinuous);
* for the piecewise-linear class :math:`\phi(z) = a_+z\theta(z) + a_-z\theta(-z)` the slopes and the
  collective-coordinate model (:attr:`Activation.collective`).

Conventions: activations act elementwise on pre-activations :math:`z`; the network is
:math:`z^l = W^l\phi(z^{l-1}) + b^l` with :math:`W^l_{ij}\sim N(0,\sigma_w^2/N_{l-1})`,
:math:`b^l_i\sim N(0,\sigma_b^2)` (``docs/conventions.md``, "Network and parameterisation").
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

__all__ = ["CLOSED_FORM_KINDS", "Activation", "UnsupportedActivationError"]

#: The kinds of closed forms an activation may carry (argument of :meth:`Activation.has_closed_form`).
CLOSED_FORM_KINDS = ("kernel", "deriv_kernel", "moments")


class UnsupportedActivationError(ValueError, NotImplementedError):
    """An activation lacks what a computation needs (a collective reduction, a quadratic EFT, a derivative).

    Subclasses both ``ValueError`` and ``NotImplementedError`` so that callers catching either see it.
    """


def _namespace(x, xp):
    if xp is not None:
        return xp
    try:
        from array_api_compat import array_namespace

        return array_namespace(x)
    except Exception:  # noqa: BLE001  (python scalars, lists: any failure means "use NumPy")
        return np


def _special(xp, name):
    """A special function (``erf``) for namespace ``xp``.

    The array API standard has no ``erf``. NumPy uses ``scipy.special``; CuPy uses
    ``cupyx.scipy.special``; torch uses ``torch.special``; any other namespace (array-api-strict) falls
    back to SciPy on a NumPy view and converts back (documented, CPU only).
    """
    mod = getattr(xp, "__name__", "")
    if "numpy" in mod:
        import scipy.special as sp

        return getattr(sp, name)
    if "cupy" in mod:
        import cupyx.scipy.special as csp

        return getattr(csp, name)
    if hasattr(xp, "special") and hasattr(xp.special, name):  # torch
        return getattr(xp.special, name)
    import scipy.special as sp

    def fallback(x):
        out = getattr(sp, name)(np.asarray(x))
        return xp.asarray(out, dtype=x.dtype)

    return fallback


@dataclass(frozen=True, eq=False)
class Activation:
    r"""An activation function :math:`\phi` with everything the three theory routes need.

    Parameters
    ----------
    name : str
        Display name (``"relu"``, ``"tanh"``, ...). Never used for dispatch.
    fn : callable ``(x, xp) -> array``
        The array function, written against the array-API namespace ``xp``.
    deriv : callable ``(x, xp) -> array`` or None
        :math:`\phi'` (almost everywhere); ``None`` when unknown (then derived with SymPy when a
        SymPy form exists).
    sympy_fn : callable ``(x: sympy.Symbol) -> sympy.Expr`` or None
        Builds the SymPy expression lazily.
    a_plus, a_minus : float or None
        Slopes for the scale-invariant (piecewise linear) class
        :math:`\phi(z) = a_+ z\theta(z) + a_- z\theta(-z)`; ``None`` otherwise. When both are given and
        no closed forms are passed, the arc-cosine closed forms are attached automatically.
    params : mapping
        Extra parameters (e.g. ``alpha`` of leaky ReLU), for display only.
    second_deriv : callable ``(x, xp) -> array`` or None
        :math:`\phi''` (almost everywhere).
    kernel_fn, deriv_kernel_fn : callable ``(q1, q2, c12) -> ndarray`` or None
        Closed forms of :math:`\mathbb E[\phi(u)\phi(v)]` and :math:`\mathbb E[\phi'(u)\phi'(v)]`.
    moments_fn : callable ``q -> dict`` or None
        Closed-form single-input moments (see :meth:`closed_moments`).
    kinks : tuple of float
        Points where :math:`\phi'` jumps (``()`` for smooth :math:`\phi`).
    jumps : tuple of float
        Points where :math:`\phi` itself jumps; then :math:`\phi'` contains a Dirac delta and every
        derivative moment is infinite (:meth:`derivative` raises).
    derivative_method : str
        How :math:`\phi'` is obtained: ``"exact"`` (given), ``"sympy"``, ``"complex-step"`` or
        ``"richardson"`` (numerical, see :func:`statfield.activations.from_callable`).
    numeric_second_deriv : callable or None
        Fallback :math:`\phi''` used by :meth:`second_derivative` when nothing exact is known.

    Attributes
    ----------
    closed_forms : frozenset of str
        Derived: the closed forms attached (``"kernel"``, ``"deriv_kernel"``, ``"moments"``).
    collective : CollectiveModel or None
        Derived from the slopes (piecewise-linear class only).
    """

    name: str
    fn: Callable
    deriv: Callable | None = None
    sympy_fn: Callable | None = None
    a_plus: float | None = None
    a_minus: float | None = None
    params: Mapping = field(default_factory=dict)
    second_deriv: Callable | None = None
    kernel_fn: Callable | None = None
    deriv_kernel_fn: Callable | None = None
    moments_fn: Callable | None = None
    kinks: tuple = ()
    jumps: tuple = ()
    derivative_method: str = "exact"
    numeric_second_deriv: Callable | None = field(default=None, repr=False)
    closed_forms: frozenset = field(init=False)

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"name must be a non-empty string, got {self.name!r}")
        if not callable(self.fn):
            raise TypeError("fn must be callable (x, xp) -> array")
        if (self.a_plus is None) != (self.a_minus is None):
            raise ValueError("a_plus and a_minus must be given together (piecewise-linear slopes)")
        if self.a_plus is not None:
            ap, am = float(self.a_plus), float(self.a_minus)
            if not (math.isfinite(ap) and math.isfinite(am)):
                raise ValueError(f"a_plus and a_minus must be finite, got {self.a_plus}, {self.a_minus}")
            object.__setattr__(self, "a_plus", ap)
            object.__setattr__(self, "a_minus", am)
            if self.kernel_fn is None and self.deriv_kernel_fn is None and self.moments_fn is None:
                from . import closed_forms as cf

                object.__setattr__(self, "kernel_fn", cf.piecewise_linear_kernel(ap, am))
                object.__setattr__(self, "deriv_kernel_fn", cf.piecewise_linear_deriv_kernel(ap, am))
                object.__setattr__(self, "moments_fn", cf.piecewise_linear_moments(ap, am))
            if not self.kinks and ap != am:
                object.__setattr__(self, "kinks", (0.0,))
        object.__setattr__(self, "kinks", tuple(sorted(float(k) for k in self.kinks)))
        object.__setattr__(self, "jumps", tuple(sorted(float(k) for k in self.jumps)))
        forms = {k for k, f in (("kernel", self.kernel_fn), ("deriv_kernel", self.deriv_kernel_fn),
                                ("moments", self.moments_fn)) if f is not None}
        object.__setattr__(self, "closed_forms", frozenset(forms))

    # ------------------------------------------------------------------ arrays
    def __call__(self, x, xp=None):
        """Evaluate :math:`\\phi(x)` elementwise in the namespace of ``x`` (or ``xp``)."""
        return self.fn(x, _namespace(x, xp))

    @property
    def is_continuous(self) -> bool:
        """False when :math:`\\phi` jumps somewhere (then :math:`\\mathbb E[\\phi'^2] = \\infty`)."""
        return not self.jumps

    @property
    def is_smooth(self) -> bool:
        """True when :math:`\\phi` has neither kinks nor jumps."""
        return not self.kinks and not self.jumps

    def _refuse_derivative(self):
        if self.jumps:
            pts = ", ".join(f"{j:g}" for j in self.jumps)
            raise UnsupportedActivationError(
                f"activation {self.name!r} is discontinuous at z = {pts}: its derivative contains a Dirac "
                "delta, so E[phi'(z)^2] (chi1, chi_c, the derivative kernel, NTK) is infinite; only "
                "quantities that need phi itself (q-map, NNGP kernel) are defined")

    @property
    def has_derivative(self) -> bool:
        """True when :meth:`derivative` can be evaluated (exactly, by SymPy or numerically)."""
        return not self.jumps and (self.deriv is not None or self.sympy_fn is not None)

    def derivative(self, x, xp=None):
        """Evaluate :math:`\\phi'(x)` elementwise (almost everywhere; at a kink one of the one-sided values).

        Raises
        ------
        UnsupportedActivationError
            :math:`\\phi` is discontinuous (its derivative moments are infinite) or has no derivative.
        """
        self._refuse_derivative()
        xp = _namespace(x, xp)
        if self.deriv is not None:
            return self.deriv(x, xp)
        if self.sympy_fn is not None:
            return self._lambdified(1)(x)
        raise UnsupportedActivationError(
            f"activation {self.name!r} has no derivative: pass deriv= or a SymPy expression")

    def second_derivative(self, x, xp=None):
        """Evaluate :math:`\\phi''(x)` elementwise (0 away from kinks for piecewise-linear φ).

        For a callable without ``second_deriv`` this is numerical (see
        :func:`statfield.activations.from_callable`: Richardson-extrapolated central differences of
        :math:`\\phi'`, relative accuracy about 1e-9).
        """
        self._refuse_derivative()
        xp = _namespace(x, xp)
        if self.second_deriv is not None:
            return self.second_deriv(x, xp)
        if self.is_piecewise_linear:
            return xp.zeros_like(x)
        if self.sympy_fn is not None:
            return self._lambdified(2)(x)
        if self.numeric_second_deriv is not None:
            return self.numeric_second_deriv(x, xp)
        raise UnsupportedActivationError(f"activation {self.name!r} has no second derivative")

    def numpy(self, x):
        """Evaluate on NumPy float64 (what quadrature uses)."""
        return self.fn(np.asarray(x, dtype=float), np)

    def _lambdified(self, order):
        cache = self.__dict__.setdefault("_lambda_cache", {})
        if order not in cache:
            import sympy as sp

            from .user import sympy_derivative

            x = sp.Symbol("x", real=True)
            expr = sympy_derivative(self.sympy_fn(x), x, order) if order else self.sympy_fn(x)
            cache[order] = sp.lambdify(x, expr, modules=["scipy", "numpy"])
        f = cache[order]
        return lambda v: np.asarray(f(np.asarray(v, dtype=float)), dtype=float) + np.zeros(np.shape(v))

    # ------------------------------------------------------------------ sympy
    def sympy_expr(self, x=None):
        """The SymPy expression :math:`\\phi(x)` (``x`` defaults to a real symbol ``z``)."""
        if self.sympy_fn is None:
            raise UnsupportedActivationError(f"activation {self.name!r} has no SymPy form")
        import sympy as sp

        if x is None:
            x = sp.Symbol("z", real=True)
        return self.sympy_fn(x)

    # ------------------------------------------------------------------ classes
    @property
    def is_piecewise_linear(self) -> bool:
        """True for the scale-invariant class :math:`a_+ z\\theta(z) + a_- z\\theta(-z)`."""
        return self.a_plus is not None and self.a_minus is not None

    @cached_property
    def collective(self):
        """The collective-coordinate model (:class:`~statfield.activations.CollectiveModel`) or None.

        Defined for the piecewise-linear class only: ``"radial"`` when :math:`a_+ = a_-`
        (linear up to scale), ``"orthant"`` otherwise.
        """
        if not self.is_piecewise_linear:
            return None
        from .collective import CollectiveModel

        return CollectiveModel(a_plus=self.a_plus, a_minus=self.a_minus, activation_name=self.name)

    def has_closed_form(self, what: str) -> bool:
        """Whether the closed form ``what`` (``"kernel"``, ``"deriv_kernel"``, ``"moments"``) is attached."""
        if what not in CLOSED_FORM_KINDS:
            raise ValueError(f"what must be one of {CLOSED_FORM_KINDS}, got {what!r}")
        return what in self.closed_forms

    # ------------------------------------------------------------------ closed forms
    def kernel(self, q1, q2, c12):
        r"""Closed-form :math:`\mathbb{E}[\phi(u)\phi(v)]`, :math:`(u,v)\sim N(0, [[q_1, c_{12}],[c_{12}, q_2]])`.

        NumPy, broadcasting, float64. Raises ``ValueError`` when the activation has no
        closed form (use :func:`statfield.quadrature.gauss_kernel`).
        """
        if self.kernel_fn is None:
            raise UnsupportedActivationError(f"activation {self.name!r} has no closed-form kernel")
        return self.kernel_fn(q1, q2, c12)

    def deriv_kernel(self, q1, q2, c12):
        r"""Closed-form :math:`\mathbb{E}[\phi'(u)\phi'(v)]` (see :meth:`kernel`)."""
        if self.deriv_kernel_fn is None:
            raise UnsupportedActivationError(f"activation {self.name!r} has no closed-form derivative kernel")
        return self.deriv_kernel_fn(q1, q2, c12)

    def closed_moments(self, q):
        r"""Closed-form single-input Gaussian moments at variance ``q``, or ``None``.

        With :math:`z\sim N(0, q)`: ``"m"`` :math:`=\mathbb E\phi(z)^2`, ``"p"`` :math:`=\mathbb E\phi'(z)^2`,
        ``"dm"`` :math:`= dm/dq`, ``"d2m"`` :math:`= d^2m/dq^2` and, where known, ``"m4"``
        :math:`=\mathbb E\phi(z)^4`; NumPy arrays broadcasting over ``q``. A key is absent when only that
        moment has no closed form (callers then use quadrature for it); ``None`` when the activation has
        no closed-form moments at all.
        """
        if self.moments_fn is None:
            return None
        return self.moments_fn(np.asarray(q, dtype=float))

    def __repr__(self):
        extra = "".join(f", {k}={v}" for k, v in self.params.items())
        return f"Activation({self.name!r}{extra})"

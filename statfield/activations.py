r"""The activation registry: one source of truth for symbolic, quadrature and sampling code.

Each :class:`Activation` carries

* an array function ``phi(x, xp)`` and its derivative, written against the array API
  (``xp`` is any array namespace: NumPy, CuPy, array-api-strict, ...);
* a SymPy expression, built lazily (``sympy`` is imported only when asked for, so the
  samplers never import SymPy at run time);
* the closed-form Gaussian expectations it has (``closed_forms``):

  - ``"kernel"``: :math:`\mathbb{E}[\phi(u)\phi(v)]` for a centred bivariate Gaussian
    :math:`(u, v)` with variances ``q1, q2`` and covariance ``c12``;
  - ``"deriv_kernel"``: :math:`\mathbb{E}[\phi'(u)\phi'(v)]` under the same law.

Closed forms implemented here

* piecewise linear :math:`\phi(z) = a_+ z\,\theta(z) + a_- z\,\theta(-z)` (linear, ReLU,
  leaky ReLU): with :math:`\rho = c_{12}/\sqrt{q_1 q_2}`, :math:`\theta = \arccos\rho`,
  :math:`J = \sqrt{q_1q_2}\,(\sin\theta + (\pi-\theta)\cos\theta)/(2\pi)` (the arc-cosine
  kernel of order 1, Cho & Saul 2009, Eq. 6),

  .. math:: \mathbb{E}[\phi(u)\phi(v)] = (a_+ - a_-)^2 J + a_+ a_-\, c_{12},\qquad
            \mathbb{E}[\phi'(u)\phi'(v)] = (a_+^2 + a_-^2)\frac{\pi-\theta}{2\pi} + a_+a_-\frac{\theta}{\pi};

* erf (Williams 1997, Eq. 11):
  :math:`\mathbb{E}[\mathrm{erf}(u)\mathrm{erf}(v)] = \frac{2}{\pi}\arcsin\frac{2c_{12}}{\sqrt{(1+2q_1)(1+2q_2)}}`
  and :math:`\mathbb{E}[\mathrm{erf}'(u)\mathrm{erf}'(v)] = \frac{4}{\pi}\left[(1+2q_1)(1+2q_2) - 4c_{12}^2\right]^{-1/2}`.

Everything else (tanh, GELU, SiLU, user functions) goes through Gauss–Hermite quadrature
in :mod:`statfield.quadrature`.

Conventions: activations act elementwise on pre-activations :math:`z`; the network is
:math:`z^l = W^l\phi(z^{l-1}) + b^l` with :math:`W^l_{ij}\sim N(0,\sigma_w^2/N_{l-1})`,
:math:`b^l_i \sim N(0, \sigma_b^2)` (``../shared/physics.md`` §1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Mapping

import numpy as np

__all__ = [
    "Activation",
    "get_activation",
    "register",
    "registered_names",
    "piecewise_linear",
    "leaky_relu",
]

_SQRT2 = math.sqrt(2.0)
_INV_SQRT2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _namespace(x, xp):
    if xp is not None:
        return xp
    try:
        from array_api_compat import array_namespace

        return array_namespace(x)
    except Exception:  # python scalars, lists
        return np


def _special(xp, name):
    """A special function (``erf``) for namespace ``xp``.

    The array API standard has no ``erf``. NumPy uses ``scipy.special``; CuPy uses
    ``cupyx.scipy.special``; any other namespace (array-api-strict, torch) falls back to
    SciPy on a NumPy view and converts back (documented, CPU only).
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
        Registry name (``"relu"``, ``"tanh"``, ...).
    fn : callable ``(x, xp) -> array``
        The array function, written against the array-API namespace ``xp``.
    deriv : callable ``(x, xp) -> array`` or None
        :math:`\phi'`; ``None`` when unknown (then derived with SymPy when a SymPy form exists).
    sympy_fn : callable ``(x: sympy.Symbol) -> sympy.Expr`` or None
        Builds the SymPy expression lazily.
    a_plus, a_minus : float or None
        Slopes for the scale-invariant (piecewise linear) class
        :math:`\phi(z) = a_+ z\theta(z) + a_- z\theta(-z)`; ``None`` otherwise.
    closed_forms : frozenset of str
        Which Gaussian expectations have closed forms (``"kernel"``, ``"deriv_kernel"``).
    params : mapping
        Extra parameters (e.g. ``alpha`` of leaky ReLU), for display only.
    """

    name: str
    fn: Callable
    deriv: Callable | None = None
    sympy_fn: Callable | None = None
    a_plus: float | None = None
    a_minus: float | None = None
    closed_forms: frozenset = frozenset()
    params: Mapping = field(default_factory=dict)
    second_deriv: Callable | None = None

    # ------------------------------------------------------------------ arrays
    def __call__(self, x, xp=None):
        """Evaluate :math:`\\phi(x)` elementwise in the namespace of ``x`` (or ``xp``)."""
        return self.fn(x, _namespace(x, xp))

    def derivative(self, x, xp=None):
        """Evaluate :math:`\\phi'(x)` elementwise."""
        xp = _namespace(x, xp)
        if self.deriv is not None:
            return self.deriv(x, xp)
        if self.sympy_fn is not None:
            return self._lambdified(1)(x)
        raise ValueError(f"activation {self.name!r} has no derivative: pass deriv= or a SymPy expression")

    def second_derivative(self, x, xp=None):
        """Evaluate :math:`\\phi''(x)` elementwise (0 away from kinks for piecewise-linear φ)."""
        xp = _namespace(x, xp)
        if self.second_deriv is not None:
            return self.second_deriv(x, xp)
        if self.is_piecewise_linear:
            return xp.zeros_like(x)
        if self.sympy_fn is not None:
            return self._lambdified(2)(x)
        raise ValueError(f"activation {self.name!r} has no second derivative")

    def numpy(self, x):
        """Evaluate on NumPy float64 (what quadrature uses)."""
        return self.fn(np.asarray(x, dtype=float), np)

    def _lambdified(self, order):
        cache = self.__dict__.setdefault("_lambda_cache", {})
        if order not in cache:
            import sympy as sp

            x = sp.Symbol("x", real=True)
            expr = sp.diff(self.sympy_fn(x), x, order) if order else self.sympy_fn(x)
            cache[order] = sp.lambdify(x, expr, modules=["scipy", "numpy"])
        f = cache[order]
        return lambda v: np.asarray(f(np.asarray(v, dtype=float)), dtype=float) + np.zeros(np.shape(v))

    # ------------------------------------------------------------------ sympy
    def sympy_expr(self, x=None):
        """The SymPy expression :math:`\\phi(x)` (``x`` defaults to a real symbol ``z``)."""
        if self.sympy_fn is None:
            raise ValueError(f"activation {self.name!r} has no SymPy form")
        import sympy as sp

        if x is None:
            x = sp.Symbol("z", real=True)
        return self.sympy_fn(x)

    # ------------------------------------------------------------------ classes
    @property
    def is_piecewise_linear(self) -> bool:
        """True for the scale-invariant class :math:`a_+ z\\theta(z) + a_- z\\theta(-z)`."""
        return self.a_plus is not None and self.a_minus is not None

    def has_closed_form(self, what: str) -> bool:
        return what in self.closed_forms

    # ------------------------------------------------------------------ closed forms
    def kernel(self, q1, q2, c12):
        r"""Closed-form :math:`\mathbb{E}[\phi(u)\phi(v)]`, :math:`(u,v)\sim N(0, [[q_1, c_{12}],[c_{12}, q_2]])`.

        NumPy, broadcasting, float64. Raises ``ValueError`` when the activation has no
        closed form (use :func:`statfield.quadrature.gauss_kernel`).
        """
        q1, q2, c12 = (np.asarray(a, dtype=float) for a in (q1, q2, c12))
        if self.is_piecewise_linear:
            ap, am = self.a_plus, self.a_minus
            s = np.sqrt(q1 * q2)
            rho = _safe_corr(c12, s)
            th = np.arccos(rho)
            J = s * (np.sqrt(np.clip(1.0 - rho * rho, 0.0, None)) + (np.pi - th) * rho) / (2 * np.pi)
            return (ap - am) ** 2 * J + ap * am * c12
        if self.name == "erf":
            den = np.sqrt((1 + 2 * q1) * (1 + 2 * q2))
            return (2 / np.pi) * np.arcsin(np.clip(2 * c12 / den, -1.0, 1.0))
        if self.name == "gelu":
            return _gelu_kernel(q1, q2, c12)
        raise ValueError(f"activation {self.name!r} has no closed-form kernel")

    def deriv_kernel(self, q1, q2, c12):
        r"""Closed-form :math:`\mathbb{E}[\phi'(u)\phi'(v)]` (see :meth:`kernel`)."""
        q1, q2, c12 = (np.asarray(a, dtype=float) for a in (q1, q2, c12))
        if self.is_piecewise_linear:
            ap, am = self.a_plus, self.a_minus
            rho = _safe_corr(c12, np.sqrt(q1 * q2))
            th = np.arccos(rho)
            return (ap**2 + am**2) * (np.pi - th) / (2 * np.pi) + ap * am * th / np.pi
        if self.name == "erf":
            det = (1 + 2 * q1) * (1 + 2 * q2) - 4 * c12 * c12
            return (4 / np.pi) / np.sqrt(det)
        if self.name == "gelu":
            return _gelu_deriv_kernel(q1, q2, c12)
        raise ValueError(f"activation {self.name!r} has no closed-form derivative kernel")

    def __repr__(self):
        extra = "".join(f", {k}={v}" for k, v in self.params.items())
        return f"Activation({self.name!r}{extra})"


def _gelu_kernel(q1, q2, c12):
    r"""Closed-form GELU kernel :math:`\mathbb{E}[u\Phi(u)\,v\Phi(v)]` (exact GELU, :math:`\Phi` the normal CDF).

    With :math:`A = 1+q_1`, :math:`B = 1+q_2`, :math:`D = AB - c_{12}^2` (write
    :math:`\Phi(u) = P(g_1 < u)` with an independent :math:`g_1\sim N(0,1)` and apply Stein's lemma
    twice; checked against mpmath and 2-D quadrature in ``tests/test_quadrature.py`` and against
    neural-tangents' ``stax.Gelu(approximate=False)`` in ``tests/test_meanfield.py``):

    .. math:: \frac{c_{12}}{4} + \frac{c_{12}}{2\pi}\arcsin\frac{c_{12}}{\sqrt{AB}}
              + \frac{q_1q_2 + c_{12}^2(1-q_1q_2)/(AB)}{2\pi\sqrt{D}}.
    """
    A, B = 1.0 + q1, 1.0 + q2
    D = np.clip(A * B - c12 * c12, np.finfo(float).tiny, None)
    s = np.arcsin(np.clip(c12 / np.sqrt(A * B), -1.0, 1.0))
    return c12 / 4 + c12 * s / (2 * np.pi) + (q1 * q2 + c12 * c12 * (1 - q1 * q2) / (A * B)) / (2 * np.pi * np.sqrt(D))


def _gelu_deriv_kernel(q1, q2, c12):
    r"""Closed-form :math:`\mathbb{E}[\phi'(u)\phi'(v)]` for exact GELU, :math:`\phi' = \Phi(z) + z\varphi(z)`.

    .. math:: \frac14 + \frac{1}{2\pi}\arcsin\frac{c_{12}}{\sqrt{AB}}
              + \frac{c_{12}}{2\pi\sqrt{D}}\left(\frac1A + \frac1B + \frac1D\right)

    (same notation as :func:`_gelu_kernel`).
    """
    A, B = 1.0 + q1, 1.0 + q2
    D = np.clip(A * B - c12 * c12, np.finfo(float).tiny, None)
    s = np.arcsin(np.clip(c12 / np.sqrt(A * B), -1.0, 1.0))
    return 0.25 + s / (2 * np.pi) + c12 / (2 * np.pi * np.sqrt(D)) * (1 / A + 1 / B + 1 / D)


def _safe_corr(c12, s):
    """Correlation coefficient clipped to [-1, 1] (round-off guard for arccos/arcsin)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = np.where(s > 0, c12 / np.where(s > 0, s, 1.0), 1.0)
    return np.clip(rho, -1.0, 1.0)


# ---------------------------------------------------------------------- factories
def piecewise_linear(a_plus: float, a_minus: float, name: str | None = None) -> Activation:
    r"""The scale-invariant activation :math:`\phi(z) = a_+ z\,\theta(z) + a_- z\,\theta(-z)`.

    ``(1, 1)`` is linear, ``(1, 0)`` ReLU, ``(1, alpha)`` leaky ReLU. Closed-form kernels
    (arc-cosine kernel, Cho & Saul 2009) are available for every member.
    """
    a_plus = float(a_plus)
    a_minus = float(a_minus)
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
        name=name,
        fn=fn,
        deriv=deriv,
        sympy_fn=sym,
        a_plus=a_plus,
        a_minus=a_minus,
        closed_forms=frozenset({"kernel", "deriv_kernel"}),
        params={"a_plus": a_plus, "a_minus": a_minus},
    )


def leaky_relu(alpha: float = 0.01) -> Activation:
    r"""Leaky ReLU :math:`\phi(z) = z` for :math:`z>0`, :math:`\alpha z` otherwise (``0 <= alpha``)."""
    alpha = float(alpha)
    if not math.isfinite(alpha):
        raise ValueError(f"alpha must be finite, got {alpha}")
    act = piecewise_linear(1.0, alpha, name=f"leaky_relu_{alpha:g}")
    return act


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
        closed_forms=frozenset({"kernel", "deriv_kernel"}),
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
                      closed_forms=frozenset({"kernel", "deriv_kernel"}))


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


_REGISTRY: dict[str, Callable[[], Activation]] = {
    "linear": lambda: piecewise_linear(1.0, 1.0, name="linear"),
    "relu": lambda: piecewise_linear(1.0, 0.0, name="relu"),
    "leaky_relu": lambda: leaky_relu(0.01),
    "tanh": _tanh,
    "erf": _erf,
    "gelu": _gelu,
    "silu": _silu,
}
_CACHE: dict[str, Activation] = {}


def register(name: str, factory: Callable[[], Activation]) -> None:
    """Add an activation factory to the registry under ``name``."""
    if not isinstance(name, str) or not name:
        raise ValueError("name must be a non-empty string")
    _REGISTRY[name] = factory
    _CACHE.pop(name, None)


def registered_names() -> tuple[str, ...]:
    """Names accepted by :func:`get_activation`."""
    return tuple(_REGISTRY)


def from_sympy(expr, symbol, name: str | None = None) -> Activation:
    """A user activation from a SymPy expression in ``symbol``; derivatives come from SymPy."""
    import sympy as sp

    if not isinstance(symbol, sp.Symbol):
        raise TypeError("symbol must be a sympy.Symbol")
    expr = sp.sympify(expr)
    f = sp.lambdify(symbol, expr, modules=["scipy", "numpy"])

    def fn(x, xp):
        if xp is np:
            return np.asarray(f(x), dtype=float) + np.zeros_like(x)
        return xp.asarray(np.asarray(f(np.asarray(x)), dtype=float) + np.zeros(x.shape))

    return Activation(
        name=name or f"sympy({expr})",
        fn=fn,
        sympy_fn=lambda x: expr.subs(symbol, x),
    )


def from_callable(fn, deriv=None, name: str | None = None, second_deriv=None) -> Activation:
    """A user activation from a NumPy callable ``fn(x)`` (optionally its derivatives)."""
    if not callable(fn):
        raise TypeError("activation must be callable")

    def wrap(g):
        if g is None:
            return None
        return lambda x, xp: g(x)

    return Activation(
        name=name or getattr(fn, "__name__", "user"),
        fn=wrap(fn),
        deriv=wrap(deriv),
        second_deriv=wrap(second_deriv),
    )


def get_activation(activation) -> Activation:
    """Resolve ``activation`` to an :class:`Activation`.

    Accepts an :class:`Activation`, a registered name (``"linear"``, ``"relu"``,
    ``"leaky_relu"``, ``"tanh"``, ``"erf"``, ``"gelu"``, ``"silu"``), ``"leaky_relu_<alpha>"``,
    a SymPy expression in one free symbol, or a NumPy callable.
    """
    if isinstance(activation, Activation):
        return activation
    if isinstance(activation, str):
        key = activation.strip().lower()
        if key in _CACHE:
            return _CACHE[key]
        if key in _REGISTRY:
            act = _REGISTRY[key]()
        elif key.startswith("leaky_relu_"):
            try:
                alpha = float(key[len("leaky_relu_"):])
            except ValueError:
                raise ValueError(f"activation: cannot parse alpha in {activation!r}") from None
            act = leaky_relu(alpha)
        else:
            raise ValueError(
                f"activation must be one of {sorted(_REGISTRY)} (or 'leaky_relu_<alpha>', a SymPy "
                f"expression, a callable or an Activation), got {activation!r}"
            )
        _CACHE[key] = act
        return act
    if callable(activation) and not hasattr(activation, "free_symbols"):
        return from_callable(activation)
    if hasattr(activation, "free_symbols"):
        syms = sorted(activation.free_symbols, key=str)
        if len(syms) != 1:
            raise ValueError(f"activation: a SymPy expression must have exactly one free symbol, got {syms}")
        return from_sympy(activation, syms[0])
    raise TypeError(f"activation: unsupported type {type(activation).__name__}")

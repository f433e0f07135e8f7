r"""The pre-activation action of a random network (SPS17, arXiv:1710.06570, Eqs. 9-11), in SymPy.

Conventions (``docs/conventions.md``, "Network and parameterisation"): :math:`z^1 = W^1x + b^1`, :math:`z^l = W^l\phi(z^{l-1}) + b^l`
for :math:`l = 2..L`; fan-in parameterisation :math:`W^l_{ij}\sim N(0,\sigma_w^2/N_{l-1})`
(:math:`N_0 = d_{\rm in}`), :math:`b^l_i\sim N(0,\sigma_b^2)`; all hidden widths equal to ``N``;
inputs :math:`x_\alpha`, :math:`\alpha = 1..P`.

Conditional on layer :math:`l-1` the pre-activations :math:`z^l_{i\alpha}` are exactly Gaussian,
independent over units :math:`i`, with covariance over inputs

.. math:: \Sigma^l_{\alpha\beta} = \frac{\sigma_w^2}{N_{l-1}}\sum_j \phi(z^{l-1}_{j\alpha})\phi(z^{l-1}_{j\beta})
          + \sigma_b^2, \qquad \Sigma^1_{\alpha\beta} = \frac{\sigma_w^2}{d_{\rm in}} x_\alpha\cdot x_\beta + \sigma_b^2,

so the negative log joint density of all pre-activations is the lattice action (SPS17 Eq. 9)

.. math:: S[\{z\}] = \sum_{l=1}^{L}\Big[\tfrac12\sum_{i=1}^{N} z^{l\,\mathsf T}_i(\Sigma^l)^{-1}z^l_i
          + \tfrac{N}{2}\ln\det(2\pi\Sigma^l)\Big].

``form="single"`` is the single-input case (SPS17 Eq. 10, ``P = 1``, :math:`\Sigma^l = K^l` a scalar) and
``form="periodic"`` the no-data chain on a circle, layer :math:`L+1\equiv 1` (SPS17 Eq. 11): a weight
on a ring, not the law of any network, with partition function :math:`Z_L = {\rm Tr}\,T^L`. It is
normalisable for bounded :math:`\phi` (tanh, erf) with :math:`\sigma_b^2 > 0`, and not normalisable
for asymptotically linear :math:`\phi` (linear, ReLU, GELU, SiLU) or for any :math:`\phi` with
:math:`\phi(0) = 0` at :math:`\sigma_b^2 = 0` (see the remarks of :func:`action_derivation`); its saddle
and quadratic EFT are local and describe the bulk of a deep network either way.

Two independent routes build the same expression:

* ``route="direct"``: the conditional Gaussian density, written down;
* ``route="delta"``: insert :math:`\delta(z - W\phi - b) = \int\frac{d\lambda}{2\pi}e^{i\lambda(z - W\phi - b)}`,
  integrate out ``W`` and ``b`` and then :math:`\lambda` with :mod:`statfield.symbolic.gaussian`
  (the last step needs :math:`\Sigma^l` of full rank: :math:`N_{l-1} + 1 \ge P`).

The data-loss term of SPS17 (:math:`J_D`) is not included (``J_D = 0``: the prior over networks).
SymPy only; the activation registry is imported lazily.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from numbers import Integral, Real

import sympy as sp

from . import symbols as _symbols
from .gaussian import integrate_out, tidy_sums
from .symbols import sigma_b2, sigma_w2

__all__ = [
    "Action",
    "action",
    "layer_term",
    "covariance",
    "action_derivation",
    "sigma_w2",
    "sigma_b2",
    "ACTION_FORMS",
]

ACTION_FORMS = ("multi", "single", "periodic")
_ROUTES = ("direct", "delta")

#: Weight variance per fan-in (``sigma_w2``) and bias variance (``sigma_b2``): the statfield symbols
#: of :mod:`statfield.symbolic.symbols`.
_SW2, _SB2 = sigma_w2, sigma_b2
_N, _L, _DIN = _symbols.N, _symbols.L, _symbols.d_in
_z = sp.IndexedBase("z", real=True)
_x = sp.IndexedBase("x", real=True)
_W = sp.IndexedBase("W", real=True)
_i, _j, _k, _l = sp.symbols("i j k l", integer=True, positive=True)

_CONVENTIONS = (
    "z^1 = W^1 x + b^1, z^l = W^l phi(z^{l-1}) + b^l; W^l_ij ~ N(0, sigma_w2/N_{l-1}) (fan-in, N_0 = d_in), "
    "b^l_i ~ N(0, sigma_b2); hidden widths N; z[l, i] (single input) or z[l, i, alpha] (P inputs); "
    "S = -ln p({z}) including the 2*pi normalisation; periodic: layer L+1 == layer 1."
)


# ----------------------------------------------------------------------------- validation
def _size(value, name, default, minimum=1):
    """A width / count: ``None`` -> the symbol ``default``; an int >= minimum; or a SymPy symbol."""
    if value is None:
        return default
    if isinstance(value, sp.Symbol):
        return value
    if isinstance(value, sp.Integer):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, Integral):
        if isinstance(value, Real) and float(value).is_integer():
            value = int(value)
        else:
            raise ValueError(f"{name} must be a positive integer (or None for a symbol), got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
    return sp.Integer(value)


def _variance(value, name, default, positive):
    if value is None:
        return default
    if isinstance(value, sp.Basic) and not value.is_number:
        return value
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number, got {value!r}") from None
    if not (v == v and abs(v) != float("inf")) or (v <= 0 if positive else v < 0):
        rng = "> 0" if positive else ">= 0"
        raise ValueError(f"{name} must be finite and {rng}, got {value!r}")
    return sp.nsimplify(value) if isinstance(value, Real) and not isinstance(value, float) else sp.sympify(value)


#: The undefined activation :math:`\phi` used for ``activation="general"``.
_GENERAL_PHI = sp.Function("phi")


def _activation(activation):
    """``(phi, name)``: ``phi`` maps a SymPy expression to :math:`\\phi(\\text{expr})`."""
    if isinstance(activation, str) and activation.strip().lower() == "general":  # the keyword, not a name
        return _GENERAL_PHI, "general"
    if isinstance(activation, sp.FunctionClass):
        return activation, str(activation)
    if isinstance(activation, sp.Lambda):
        return activation, str(activation)
    from ..activations import get_activation  # lazy: the registry pulls NumPy

    act = get_activation(activation)
    act.sympy_expr(sp.Symbol("u", real=True))  # raises ValueError when there is no SymPy form
    return (lambda arg: act.sympy_expr(arg)), act.name


def _is_int(n):
    return isinstance(n, (int, sp.Integer))


def _sum(expr, idx, n):
    """``sum_{idx=1}^{n} expr``: explicit for integer ``n``, an unevaluated ``Sum`` otherwise."""
    if _is_int(n):
        return sp.Add(*[expr.subs(idx, v) for v in range(1, int(n) + 1)])
    return sp.Sum(expr, (idx, 1, n))


# ----------------------------------------------------------------------------- building blocks
def covariance(inputs, n_prev, P, sw2=sigma_w2, sb2=sigma_b2):
    r"""The conditional covariance over inputs of one layer, SPS17 Eq. 9 (text below it).

    .. math:: \Sigma_{\alpha\beta} = \frac{\sigma_w^2}{n_{\rm prev}}\sum_{j=1}^{n_{\rm prev}}
              a_{j\alpha}a_{j\beta} + \sigma_b^2

    Parameters
    ----------
    inputs : callable ``(j, alpha) -> sympy.Expr``
        The incoming activations :math:`a_{j\alpha}` (:math:`\phi(z^{l-1}_{j\alpha})`, or the input
        :math:`x_{j\alpha}` for the first layer); ``alpha`` runs over ``1..P``.
    n_prev : int or sympy.Symbol
        Fan-in :math:`N_{l-1}` (``d_in`` for the first layer).
    P : int
        Number of inputs.

    Returns
    -------
    sympy.Matrix
        ``P x P``.
    """
    P = int(P)
    return sp.Matrix(P, P, lambda a, b: sw2 / n_prev * _sum(inputs(_j, a + 1) * inputs(_j, b + 1), _j, n_prev) + sb2)


def _quadratic(zvec, Sigma):
    """:math:`z^{\\mathsf T}\\Sigma^{-1}z` (adjugate / determinant for P > 1)."""
    if Sigma.rows == 1:
        return zvec[0] ** 2 / Sigma[0, 0]
    zc = sp.Matrix(zvec)
    return (zc.T * Sigma.adjugate() * zc)[0, 0] / Sigma.det(method="berkowitz")


def _logdet2pi(Sigma):
    if Sigma.rows == 1:
        return sp.log(2 * sp.pi * Sigma[0, 0])
    return sp.log((2 * sp.pi) ** Sigma.rows * Sigma.det(method="berkowitz"))


def _layer_direct(out, inputs, N, n_prev, P, sw2, sb2):
    Sigma = covariance(inputs, n_prev, P, sw2, sb2)
    quad = _sum(_quadratic([out(_i, a) for a in range(1, P + 1)], Sigma), _i, N)
    return quad / 2 + N * _logdet2pi(Sigma) / 2, Sigma


def _layer_delta(out, inputs, N, n_prev, P, sw2, sb2, record=None):
    r"""One layer via delta functions, auxiliary fields and Gaussian integrals (SPS17 App. A).

    For a generic unit ``i`` (rows are independent: ``W_i.``, ``b_i``, ``lambda_i`` occur only in
    unit ``i``'s constraint), with the normalised priors of ``W`` and ``b``:

    ``p(z_i | a) = int dW_i db_i dlambda_i/(2 pi)^P  N(W_i) N(b_i) exp(i lambda_i . (z_i - W_i a - b_i 1))``.
    """
    lam = [sp.Symbol(f"lambda_{a}", real=True) for a in range(1, P + 1)]
    zrow = [out(_i, a) for a in range(1, P + 1)]
    with_bias = not (sb2.is_number and sb2 == 0)
    bb = sp.Symbol("b", real=True)
    if _is_int(n_prev):
        W = [_W[j] for j in range(1, int(n_prev) + 1)]
        E = sp.Add(*[sp.I * lam[a - 1] * (zrow[a - 1] - sp.Add(*[W[j - 1] * inputs(j, a) for j in range(1, int(n_prev) + 1)])
                                          - (bb if with_bias else 0)) for a in range(1, P + 1)])
        E += -sp.Add(*[n_prev * w**2 / (2 * sw2) for w in W]) - (bb**2 / (2 * sb2) if with_bias else 0)
        pref1, E1 = integrate_out(E, W + ([bb] if with_bias else []))
        log_norm = n_prev * sp.log(n_prev / (2 * sp.pi * sw2)) / 2 + (sp.log(1 / (2 * sp.pi * sb2)) / 2 if with_bias else 0)
        log_pref1 = sp.log(pref1) + log_norm
    else:
        w = _W[_j]
        EW = -sp.I * w * sp.Add(*[lam[a - 1] * inputs(_j, a) for a in range(1, P + 1)]) - n_prev * w**2 / (2 * sw2)
        pW, eW = integrate_out(EW, [w])
        E1 = sp.I * sp.Add(*[lam[a - 1] * zrow[a - 1] for a in range(1, P + 1)]) + sp.Sum(eW, (_j, 1, n_prev))
        log_pref1 = n_prev * (sp.log(pW) + sp.log(n_prev / (2 * sp.pi * sw2)) / 2)
        if with_bias:
            Eb = -sp.I * bb * sp.Add(*lam) - bb**2 / (2 * sb2)
            pb, eb = integrate_out(Eb, [bb])
            E1 += eb
            log_pref1 += sp.log(pb) + sp.log(1 / (2 * sp.pi * sb2)) / 2
    E1 = tidy_sums(E1)
    if record is not None:
        record["after_W_b"] = E1
        record["lambda"] = lam
    # the normalisations of the W and b priors cancel the (2 pi)^{n/2} det^{-1/2} of their integrals
    log_pref1 = sp.simplify(sp.expand_log(log_pref1, force=True))
    pref2, E2 = integrate_out(E1, lam, check=False)
    Sigma = (-sp.hessian(E1, lam)).applyfunc(tidy_sums)
    if record is not None:
        record["Sigma"] = Sigma
        record["after_lambda"] = E2
        record["log_norm_WB"] = log_pref1
    # log density of row i: log_pref1 - P log(2 pi) + log(pref2) + E2, with
    # log(pref2) = (P/2) log(2 pi) - (1/2) log det Sigma
    const = log_pref1 - P * sp.log(2 * sp.pi) + sp.expand_log(sp.log(pref2), force=True)
    S = -_sum(E2, _i, N) - N * const
    return S, Sigma


def layer_term(activation="general", layer="hidden", N=None, P=1, n_prev=None, route="direct",
               sigma_w2=None, sigma_b2=None, l=None):
    r"""The contribution of one layer to the action, :math:`-\ln p(z^l\,|\,z^{l-1})`.

    .. math:: S_l = \tfrac12\sum_{i=1}^N z^{l\,\mathsf T}_i (\Sigma^l)^{-1} z^l_i + \tfrac N2 \ln\det(2\pi\Sigma^l)

    Parameters
    ----------
    activation : str, sympy function or expression
        ``"general"`` (an undefined function :math:`\phi`), a registry name, a SymPy expression in
        one symbol, or a SymPy ``Function`` / ``Lambda``.
    layer : {"hidden", "first"}
        ``"first"`` uses the input :math:`x_{k\alpha}` (fan-in ``d_in``).
    N, n_prev : int or None
        Width of the layer and fan-in (``None``: symbols ``N`` and ``N`` / ``d_in``).
    P : int
        Number of inputs.
    route : {"direct", "delta"}
    sigma_w2, sigma_b2 : number or None
        Variances (``None``: the symbols :data:`sigma_w2`, :data:`sigma_b2`).
    l : int or sympy.Symbol, optional
        Layer index used in the names :math:`z_{l,i,\alpha}` (default ``2``, or ``1`` for the first).

    Returns
    -------
    (S_l, Sigma) : (sympy.Expr, sympy.Matrix)
    """
    if route not in _ROUTES:
        raise ValueError(f"route must be one of {_ROUTES}, got {route!r}")
    if layer not in ("hidden", "first"):
        raise ValueError(f"layer must be 'hidden' or 'first', got {layer!r}")
    phi, _ = _activation(activation)
    N = _size(N, "N", _N)
    P = int(_size(P, "P", None))
    sw2 = _variance(sigma_w2, "sigma_w2", _SW2, True)
    sb2 = _variance(sigma_b2, "sigma_b2", _SB2, False)
    if layer == "first":
        n_prev = _size(n_prev, "n_prev", _DIN)
        l = 1 if l is None else l
        inputs = _first_inputs(P)
    else:
        n_prev = _size(n_prev, "n_prev", N)
        l = 2 if l is None else l
        inputs = _hidden_inputs(phi, l - 1, P)
    _rank_condition(n_prev, P)
    out = _outputs(l, P)
    fn = _layer_direct if route == "direct" else _layer_delta
    return fn(out, inputs, N, n_prev, P, sw2, sb2)


def _rank_condition(n_prev, P):
    if _is_int(n_prev) and int(n_prev) + 1 < P:
        raise ValueError(
            f"P must be <= n_prev + 1 = {int(n_prev) + 1}: Sigma = sigma_w2/n_prev Phi^T Phi + sigma_b2 11^T has "
            f"rank <= n_prev + 1, and the action needs it invertible (got P={P})"
        )


def _outputs(l, P, multi=None):
    """``z[l, i]`` (single input) or ``z[l, i, alpha]`` (``multi``; default ``P > 1``)."""
    if not (P > 1 if multi is None else multi):
        return lambda i, a: _z[l, i]
    return lambda i, a: _z[l, i, a]


def _hidden_inputs(phi, lprev, P, multi=None):
    if not (P > 1 if multi is None else multi):
        return lambda j, a: phi(_z[lprev, j])
    return lambda j, a: phi(_z[lprev, j, a])


def _first_inputs(P, multi=None):
    if not (P > 1 if multi is None else multi):
        return lambda k, a: _x[k]
    return lambda k, a: _x[k, a]


# ----------------------------------------------------------------------------- the action
@dataclass(frozen=True, eq=False)
class Action:
    r"""The pre-activation action :math:`S[\{z\}] = -\ln p(\{z\})` of a random network (SPS17 Eqs. 9-11).

    Attributes
    ----------
    expr : sympy.Expr
        The action. Field variables are ``z[l, i]`` (single input / periodic) or ``z[l, i, alpha]``
        (``form="multi"``), ``IndexedBase`` objects; inputs ``x[k]`` / ``x[k, alpha]``.
    form : {"multi", "single", "periodic"}
    activation : str
        Activation name (``"general"`` for an undefined :math:`\phi`).
    route : {"direct", "delta"}
        How ``expr`` was built.
    terms : tuple of sympy.Expr
        Layer contributions :math:`S_l`; with symbolic ``L``: ``(S_1, S_l)`` (first and generic layer)
        for the open chain, ``(S_l,)`` for the periodic one.
    covariances : tuple of sympy.Matrix
        :math:`\Sigma^l` matching ``terms``.
    symbols : dict
        ``sigma_w2, sigma_b2, N, P, L, d_in, z, x, phi`` (SymPy objects used in ``expr``).
    conventions : str
    source : object
        The ``activation`` argument as given (used by :meth:`derivation`).
    """

    expr: sp.Expr
    form: str
    activation: str
    route: str
    terms: tuple
    covariances: tuple
    symbols: dict = field(default_factory=dict)
    conventions: str = _CONVENTIONS
    source: object = field(default="general", repr=False)

    @property
    def explicit(self) -> bool:
        """True when every size (N, L, d_in) is an integer, so :meth:`variables` is finite."""
        s = self.symbols
        return all(_is_int(s[k]) for k in ("N", "L")) and (self.form == "periodic" or _is_int(s["d_in"]))

    def variables(self):
        """The field variables ``z[l, i(, alpha)]`` in layer-major order (explicit sizes only)."""
        if not self.explicit:
            raise ValueError("variables: N, L (and d_in) must be integers; use Action.subs to fix them")
        s = self.symbols
        N, L, P = int(s["N"]), int(s["L"]), int(s["P"])
        if self.form == "multi":
            return tuple(_z[l, i, a] for l in range(1, L + 1) for i in range(1, N + 1) for a in range(1, P + 1))
        return tuple(_z[l, i] for l in range(1, L + 1) for i in range(1, N + 1))

    def subs(self, values):
        """Substitute ``values`` (keys: SymPy objects or the names in :attr:`symbols`) and evaluate sums."""
        rep = {}
        for key, val in dict(values).items():
            rep[self.symbols.get(key, key) if isinstance(key, str) else key] = val
        return self.expr.subs(rep).doit()

    def evaluate(self, z, x=None, sigma_w2=None, sigma_b2=None, N=None, L=None, d_in=None, prec=30):
        r"""The action at numeric fields, a Python float (mpmath precision ``prec`` digits).

        Parameters
        ----------
        z : nested sequence ``[L][N]`` or ``[L][N][P]``
            Pre-activations, ``z[l-1][i-1](, alpha-1)`` for ``z[l, i(, alpha)]``.
        x : sequence ``[d_in]`` or ``[d_in][P]``, optional
            Inputs (open chains only).
        sigma_w2, sigma_b2, N, L, d_in : numbers, optional
            Values for the sizes / variances that are still symbols in ``expr``.
        """
        s = self.symbols
        rep = {}
        for name, val in (("sigma_w2", sigma_w2), ("sigma_b2", sigma_b2), ("N", N), ("L", L), ("d_in", d_in)):
            if val is not None and isinstance(s[name], sp.Symbol):
                rep[s[name]] = sp.nsimplify(val) if name in ("N", "L", "d_in") else sp.Float(val, prec)
        expr = self.expr.subs(rep).doit() if rep else self.expr.doit()
        vals = {}
        zl = z.tolist() if hasattr(z, "tolist") else z
        for l, layer in enumerate(zl, start=1):
            for i, row in enumerate(layer, start=1):
                if self.form == "multi":
                    for a, v in enumerate(row, start=1):
                        vals[_z[l, i, a]] = sp.Float(v, prec)
                else:
                    vals[_z[l, i]] = sp.Float(row, prec)
        if x is not None:
            xl = x.tolist() if hasattr(x, "tolist") else x
            for k, row in enumerate(xl, start=1):
                if self.form == "multi":
                    for a, v in enumerate(row, start=1):
                        vals[_x[k, a]] = sp.Float(v, prec)
                else:
                    vals[_x[k]] = sp.Float(row, prec)
        out = expr.xreplace(vals).evalf(prec)
        if out.free_symbols or out.has(sp.Indexed):
            raise ValueError(f"evaluate: values missing for {sorted(map(str, out.free_symbols))}")
        val = complex(out)
        if abs(val.imag) > 1e-12 * max(1.0, abs(val.real)):
            raise ValueError(f"evaluate: the action is not real at these values ({val})")
        return val.real

    def density(self):
        """:math:`e^{-S}` (a probability density for the open chains; unnormalised for ``periodic``)."""
        return sp.exp(-self.expr)

    def to_latex(self) -> str:
        """LaTeX of ``S = ...``."""
        return r"S = " + sp.latex(self.expr)

    def derivation(self):
        """The :class:`~statfield.symbolic.derivation.Derivation` of this action (both routes)."""
        return action_derivation(self.source)


def action(activation="general", form="single", N=None, P=None, L=None, d_in=None,
           sigma_w2=None, sigma_b2=None, route="direct") -> Action:
    r"""Build the pre-activation action of SPS17 (arXiv:1710.06570) as a SymPy expression.

    .. math:: S = \sum_{l}\Big[\tfrac12\sum_{i=1}^N z^{l\,\mathsf T}_i(\Sigma^l)^{-1}z^l_i
              + \tfrac N2\ln\det(2\pi\Sigma^l)\Big],\quad
              \Sigma^l_{\alpha\beta} = \frac{\sigma_w^2}{N}\phi(z^{l-1}_{\cdot\alpha})\cdot\phi(z^{l-1}_{\cdot\beta})
              + \sigma_b^2,\quad \Sigma^1_{\alpha\beta} = \frac{\sigma_w^2}{d_{\rm in}}x_\alpha\cdot x_\beta + \sigma_b^2.

    ``form="multi"``: Eq. 9 (``P`` inputs, layers ``1..L``, first layer fed by ``x``);
    ``form="single"``: Eq. 10 (``P = 1``, :math:`K^l = \sigma_w^2|\phi(z^{l-1})|^2/N + \sigma_b^2`);
    ``form="periodic"``: Eq. 11 (no input, layers ``1..L`` with layer 0 identified with layer ``L``).
    All three include the :math:`2\pi` of the normalisation, so :math:`e^{-S}` is the exact joint
    density for ``multi`` and ``single``.

    Parameters
    ----------
    activation : str, sympy expression, Function or Lambda
        ``"general"`` (undefined :math:`\phi`), a registry name (``"tanh"``, ``"erf"``, ``"relu"`` ...),
        a SymPy expression in one symbol, or a SymPy ``Function`` / ``Lambda``.
    form : {"multi", "single", "periodic"}
    N : int or None
        Hidden width (``None``: the symbol ``N`` with ``Sum`` over units).
    P : int or None
        Number of inputs; required for ``form="multi"`` (``P <= N + 1`` and ``P <= d_in + 1`` so that
        every :math:`\Sigma^l` can be invertible); must be ``None`` or 1 otherwise.
    L : int or None
        Depth (``None``: the symbol ``L`` with a ``Sum`` over layers).
    d_in : int or None
        Input dimension (``None``: the symbol ``d_in``); unused for ``periodic``.
    sigma_w2, sigma_b2 : number or None
        Variances (``None``: the positive symbols :data:`sigma_w2`, :data:`sigma_b2`).
    route : {"direct", "delta"}
        Build from the conditional Gaussians, or by delta functions + Gaussian integrals.

    Returns
    -------
    Action

    Raises
    ------
    ValueError
        Unknown activation / form / route, non-integer or non-positive ``N``, ``P``, ``L``, ``d_in``,
        ``sigma_w2 <= 0``, ``sigma_b2 < 0``, or ``P`` too large for :math:`\Sigma` to be invertible.

    Examples
    --------
    >>> S = action("linear", form="periodic", N=1, L=2)
    >>> S.expr.has(S.symbols["sigma_w2"])
    True
    """
    if form not in ACTION_FORMS:
        raise ValueError(f"form must be one of {ACTION_FORMS}, got {form!r}")
    if route not in _ROUTES:
        raise ValueError(f"route must be one of {_ROUTES}, got {route!r}")
    phi, name = _activation(activation)
    N = _size(N, "N", _N)
    L = _size(L, "L", _L)
    d_in = _size(d_in, "d_in", _DIN)
    sw2 = _variance(sigma_w2, "sigma_w2", _SW2, True)
    sb2 = _variance(sigma_b2, "sigma_b2", _SB2, False)
    if form == "multi":
        if P is None:
            raise ValueError("P must be a positive integer for form='multi' (the P x P covariance is explicit)")
        P = int(_size(P, "P", None))
        _rank_condition(N, P)
        if _is_int(d_in):
            _rank_condition(d_in, P)
        elif sb2 == 0:
            raise ValueError("sigma_b2 must be > 0 when d_in is symbolic (Sigma^1 must be invertible)")
    else:
        if P is not None and int(_size(P, "P", None)) != 1:
            raise ValueError(f"P must be None or 1 for form={form!r}, got {P!r}")
        P = 1
    if sb2 == 0 and P > 1 and form == "multi" and _is_int(N) and int(N) < P:
        raise ValueError("with sigma_b2 = 0, P must be <= N for Sigma to be invertible")
    fn = _layer_direct if route == "direct" else _layer_delta
    multi = form == "multi"
    out = lambda l: _outputs(l, P, multi)  # noqa: E731

    terms, covs = [], []
    if form == "periodic":
        if _is_int(L):
            Lv = int(L)
            for l in range(1, Lv + 1):
                prev = Lv if l == 1 else l - 1
                S_l, Sig = fn(out(l), _hidden_inputs(phi, prev, 1), N, N, 1, sw2, sb2)
                terms.append(S_l)
                covs.append(Sig)
            expr = sp.Add(*terms)
        else:
            prev = sp.Mod(_l - 2, L) + 1
            S_l, Sig = fn(out(_l), _hidden_inputs(phi, prev, 1), N, N, 1, sw2, sb2)
            terms, covs = [S_l], [Sig]
            expr = sp.Sum(S_l, (_l, 1, L))
    else:
        S_1, Sig_1 = fn(out(1), _first_inputs(P, multi), N, d_in, P, sw2, sb2)
        terms.append(S_1)
        covs.append(Sig_1)
        if _is_int(L):
            for l in range(2, int(L) + 1):
                S_l, Sig = fn(out(l), _hidden_inputs(phi, l - 1, P, multi), N, N, P, sw2, sb2)
                terms.append(S_l)
                covs.append(Sig)
            expr = sp.Add(*terms)
        else:
            S_l, Sig = fn(out(_l), _hidden_inputs(phi, _l - 1, P, multi), N, N, P, sw2, sb2)
            terms.append(S_l)
            covs.append(Sig)
            expr = S_1 + sp.Sum(S_l, (_l, 2, L))
    symbols = {"sigma_w2": sw2, "sigma_b2": sb2, "N": N, "P": sp.Integer(P), "L": L, "d_in": d_in,
               "z": _z, "x": _x, "phi": phi, "i": _i, "j": _j, "l": _l}
    return Action(expr=expr, form=form, activation=name, route=route, terms=tuple(terms),
                  covariances=tuple(covs), symbols=symbols, source=activation)


# ----------------------------------------------------------------------------- derivation
def _agreement_rows(activation, cases):
    """Build both routes for each ``(N, P)`` and simplify the difference (symbolic ``N`` allowed)."""
    import time

    rows = []
    for N, P in cases:
        t0 = time.perf_counter()
        Sd, Sig_d = layer_term(activation, N=N, P=P, route="direct")
        Sl, Sig_l = layer_term(activation, N=N, P=P, route="delta")
        dSig = (Sig_d - Sig_l).applyfunc(lambda e: sp.expand(tidy_sums(e)))
        dS = sp.simplify(sp.expand_log(Sd - Sl, force=True))
        rows.append([
            "symbolic" if N is None else str(N), str(P),
            "0" if dSig.is_zero_matrix else sp.latex(dSig),
            "$" + sp.latex(dS) + "$",
            f"{time.perf_counter() - t0:.1f}",
        ])
    return rows


def action_derivation(activation="general", check_cases=((2, 1), (2, 2), (None, 1))):
    r"""The derivation of the pre-activation action (SPS17 Eqs. 9-11) as a :class:`Derivation`.

    Steps: delta functions and auxiliary fields; integrating out ``W`` and ``b`` (Gaussian, done by
    :func:`~statfield.symbolic.gaussian.integrate_out`); the rank condition and integrating out
    :math:`\lambda`; the multi-input result (Eq. 9); the direct route and the symbolic agreement
    of the two routes (a table of simplified differences, computed when the derivation is built,
    for the sizes ``check_cases`` = ``(N, P)``, ``None`` meaning symbolic ``N``); the single-input
    form (Eq. 10); the periodic chain (Eq. 11) with the remarks on its normalisation; and the
    comparison with the equations printed in the talk notes on SPS17.

    Parameters
    ----------
    activation : str or sympy object
        As in :func:`action` (``"general"``: an undefined :math:`\phi`).
    check_cases : sequence of (N, P)
        Sizes for the route-agreement table.
    """
    from .derivation import Derivation

    phi, name = _activation(activation)
    general = phi is _GENERAL_PHI
    phi_tex = r"\phi" if general else sp.latex(phi(sp.Symbol("u")))
    d = Derivation(
        "The pre-activation action of a random network (SPS17, Eqs. 9-11)",
        abstract=(
            "We write the prior over the pre-activations of a random fully connected network as a "
            "lattice field theory in the layer index, following Schoenholz, Pennington and "
            "Sohl-Dickstein (arXiv:1710.06570, SPS17). The action is derived twice: by delta-function "
            "constraints with auxiliary fields, integrating out weights, biases and auxiliary fields "
            "(Gaussian integrals), and directly from the conditional Gaussian law of a layer given the "
            "previous one. Every displayed SymPy expression below was produced by "
            r"\texttt{statfield.symbolic.action}" + (
                "" if general else rf" for the activation $\phi(u) = {phi_tex}$") + "."
        ),
    )
    _steps_setup_and_delta(d, phi)
    _steps_integrate_out(d, phi)
    _steps_direct_route(d, activation, check_cases)
    _steps_single_and_periodic(d, activation)
    _step_periodic_remarks(d)
    _step_printed_equations(d)
    d.results["route_agreement_cases"] = [list(c) for c in check_cases]
    return d


def _steps_setup_and_delta(d, phi):
    d.step(
        "Setup",
        r"Inputs $x_\alpha\in\mathbb R^{d_{\mathrm{in}}}$, $\alpha=1,\dots,P$. Pre-activations "
        r"$z^l_{i\alpha}$, $i=1,\dots,N_l$; $z^1 = W^1x + b^1$ and $z^l = W^l\phi(z^{l-1}) + b^l$. "
        r"The weights and biases have the normalised Gaussian priors below; the data term of SPS17 "
        r"($J_D$) is set to zero, so we describe the ensemble of networks at initialisation.",
        [r"p(W^l, b^l) = \prod_{i=1}^{N_l}\Big[\prod_{j=1}^{N_{l-1}}\sqrt{\tfrac{N_{l-1}}{2\pi\sigma_w^2}}\,"
         r"e^{-N_{l-1}(W^l_{ij})^2/(2\sigma_w^2)}\Big]\frac{e^{-(b^l_i)^2/(2\sigma_b^2)}}{\sqrt{2\pi\sigma_b^2}}"],
    )
    d.step(
        "Delta functions and auxiliary fields",
        r"Insert $1 = \int dz^l\,\delta(z^l - W^l\phi(z^{l-1}) - b^l)$ for every layer and represent each "
        r"delta function by an auxiliary field, $\delta(u) = \int\frac{d\lambda}{2\pi}e^{i\lambda u}$. The "
        r"conditional density of layer $l$ given layer $l-1$ (activations $a_{j\alpha} = \phi(z^{l-1}_{j\alpha})$, "
        r"or $x_{j\alpha}$ for $l=1$) becomes an integral whose exponent is at most quadratic in $W$, $b$ "
        r"and $\lambda$. Row $i$ of $W^l$, $b^l_i$ and $\lambda_{i\cdot}$ occur only in the constraint of "
        r"unit $i$, so the integral factorises over units.",
        [r"p(z^l\mid z^{l-1}) = \prod_{i=1}^{N_l}\int dW_{i\cdot}\,db_i\prod_{\alpha=1}^{P}\frac{d\lambda_{\alpha}}{2\pi}\;"
         r"p(W_{i\cdot}, b_i)\,\exp\Big[i\sum_\alpha\lambda_\alpha\Big(z^l_{i\alpha} - \sum_j W_{ij}a_{j\alpha} - b_i\Big)\Big]"],
    )


def _steps_integrate_out(d, phi):
    rec = {}
    _layer_delta(_outputs(2, 2), _hidden_inputs(phi, 1, 2), _N, _N, 2, _SW2, _SB2, record=rec)
    d.step(
        "Integrating out the weights and the biases",
        r"Each $W_{ij}$ and $b_i$ enters as $-\tfrac12 A w^2 + i s w$ with an imaginary source $s$, so "
        r"$\int dw\,e^{-\frac12 Aw^2 + isw} = \sqrt{2\pi/A}\,e^{-s^2/(2A)}$ (completing the square). The "
        r"$\sqrt{2\pi/A}$ cancel the normalisations of the priors exactly (SymPy finds the remaining "
        r"log-prefactor to be " + f"${sp.latex(rec['log_norm_WB'])}$" + r"). For $P=2$ and symbolic $N$ the "
        r"exponent left for one unit (the generic unit $i$ of layer 2) is",
        [tidy_sums(rec["after_W_b"]),
         r"\text{i.e.}\quad -\tfrac12\lambda^{\mathsf T}\Sigma^l\lambda + i\lambda^{\mathsf T}z^l_i,\qquad "
         r"\Sigma^l_{\alpha\beta} = \frac{\sigma_w^2}{N_{l-1}}\sum_j a_{j\alpha}a_{j\beta} + \sigma_b^2",
         (sp.Symbol(r"\Sigma^{l=2}"), rec["Sigma"])],
    )
    d.step(
        r"Integrating out the auxiliary fields; the rank condition",
        r"The $\lambda$ integral is Gaussian with matrix $\Sigma^l = \frac{\sigma_w^2}{N_{l-1}}\Phi^{\mathsf T}\Phi "
        r"+ \sigma_b^2\,\mathbf 1\mathbf 1^{\mathsf T}$, where $\Phi_{j\alpha} = a_{j\alpha}$ and $\mathbf 1\mathbf 1^{\mathsf T}$ "
        r"is the all-ones matrix (the bias is shared by all inputs). Its rank is at most $N_{l-1}+1$, so "
        r"integrating out $\lambda$ requires $N_{l-1} + 1 \ge P$ (and generically this suffices); otherwise "
        r"the law of $z^l$ is supported on a subspace and no action density exists. "
        r"With an imaginary source $iz$ the Gaussian integral gives $(2\pi)^{P/2}\det(\Sigma^l)^{-1/2}"
        r"e^{-\frac12 z^{\mathsf T}(\Sigma^l)^{-1}z}$; with the $(2\pi)^{-P}$ of the delta functions:",
        [r"p(z^l\mid z^{l-1}) = \prod_{i=1}^{N_l}\frac{\exp\big[-\tfrac12 z^{l\,\mathsf T}_i(\Sigma^l)^{-1}z^l_i\big]}"
         r"{\sqrt{\det(2\pi\Sigma^l)}}"],
    )
    d.step(
        "Result: the multi-input action (SPS17 Eq. 9)",
        r"The layers form a Markov chain, so $p(\{z\}) = \prod_l p(z^l\mid z^{l-1})$ and $S = -\ln p$:",
        [r"S[\{z\}] = \sum_{l=1}^{L}\Big[\frac12\sum_{i=1}^{N_l} z^{l\,\mathsf T}_i(\Sigma^l)^{-1}z^l_i + "
         r"\frac{N_l}{2}\ln\det(2\pi\Sigma^l)\Big],\qquad \Sigma^1_{\alpha\beta} = "
         r"\frac{\sigma_w^2}{d_{\mathrm{in}}}x_\alpha\cdot x_\beta + \sigma_b^2"],
    )


def _steps_direct_route(d, activation, check_cases):
    d.step(
        "The direct route, and agreement of the two routes",
        r"Directly: given $z^{l-1}$, $z^l_{i\alpha} = \sum_j W_{ij}a_{j\alpha} + b_i$ is a linear function of "
        r"independent Gaussians, hence Gaussian, independent over $i$, with mean zero and covariance "
        r"$\mathbb E[z_{i\alpha}z_{i\beta}] = \frac{\sigma_w^2}{N_{l-1}}\sum_j a_{j\alpha}a_{j\beta} + \sigma_b^2 "
        r"= \Sigma^l_{\alpha\beta}$, i.e. $z^l\mid z^{l-1}\sim\mathcal N(0,\Sigma^l\otimes I_{N_l})$, whose negative "
        r"log-density is the layer term above. The table lists, for the layer term built both ways "
        r"(the delta route with the Gaussian-integral helper, the direct route written down), the "
        r"difference of the covariance matrices and the simplified difference of the actions.",
    )
    d.table(
        "Delta/lambda route minus direct route (hidden layer, general activation). Time in seconds.",
        ["$N$", "$P$", r"$\Sigma_\delta - \Sigma_{\rm direct}$", r"$S_\delta - S_{\rm direct}$", "time"],
        _agreement_rows(activation, check_cases),
        raw=True,
    )


def _steps_single_and_periodic(d, activation):
    single = action(activation, form="single")
    d.step(
        "Single input (SPS17 Eq. 10)",
        r"For $P=1$, $\Sigma^l$ is the scalar $K^l = \sigma_w^2|\phi(z^{l-1})|^2/N + \sigma_b^2$ and the first "
        r"layer is fed by the input. With symbolic width $N$ and depth $L$ "
        r"(\texttt{action(form='single')}), layer by layer:",
        [r"S = S_1 + \sum_{l=2}^{L} S_l",
         (sp.Symbol("S_1"), single.terms[0]),
         (sp.Symbol("S_l"), single.terms[1])],
    )
    per = action(activation, form="periodic")
    shown = per.terms[0].replace(lambda e: isinstance(e, sp.Mod), lambda e: e.args[0])
    d.step(
        "The periodic chain without data (SPS17 Eq. 11)",
        r"Dropping the input and identifying layer $0$ with layer $L$ gives a chain on a circle, "
        r"$S = \sum_{l=1}^{L} S_l$ with every $S_l$ of the hidden-layer form "
        r"(\texttt{action(form='periodic')}; layer indices modulo $L$, "
        r"$z_{0,j}\equiv z_{L,j}$):",
        [(sp.Symbol("S_l"), shown)],
    )


def _step_periodic_remarks(d):
    s_ = sp.Symbol("s", positive=True)
    lin = action("linear", form="periodic", N=2, L=2, sigma_b2=0)
    zs = {v: s_ * v for v in lin.variables()}
    dil = sp.simplify(sp.expand_log(lin.expr.xreplace(zs) - lin.expr, force=True))
    d.step(
        "Remarks on the periodic chain",
        r"(i) No network realises it: $e^{-S}$ is a product of the conditional densities around a cycle "
        r"($z^1$ is drawn given $z^L$), so it is not a product of conditionals along a directed acyclic "
        r"graph and $\int e^{-S}\neq 1$ in general. It is a weight on a ring with transfer kernel "
        r"$T(z'\mid z) = p(z^{l}=z'\mid z^{l-1}=z)$ and partition function $Z_L = \mathrm{Tr}\,T^L$ (finite or "
        r"not: see (iii)). When $Z_L<\infty$, for "
        r"$L\to\infty$ its one-layer marginal is the stationary law of the Markov chain, which is why it "
        r"describes the bulk of a deep network (depth $\gg$ correlation length). "
        r"(ii) No Jacobian enters anywhere: the map $(W,b)\mapsto z$ is many-to-one "
        r"($N_l(N_{l-1}+1)$ parameters, $N_lP$ pre-activations), so the delta-function route is a "
        r"marginalisation, not a change of variables. "
        r"(iii) Normalisability. For a positively homogeneous $\phi$ (linear, ReLU) and $\sigma_b^2 = 0$ the "
        r"periodic action shifts under a dilation $z\to sz$ of all $NL$ fields by exactly $NL\ln s$; for linear "
        r"$\phi$, $N=2$, $L=2$ SymPy gives",
        [(sp.Symbol("S[s z] - S[z]"), dil)],
        after=(
            r"With the measure $s^{NL-1}ds$ the integral over $s$ then diverges logarithmically at both ends, so "
            r"$Z_L = \infty$. The same logarithmic divergence occurs (a) for every asymptotically linear $\phi$ "
            r"(linear, ReLU, GELU, SiLU) even with $\sigma_b^2 > 0$, from large $|z|$, where "
            r"$K\simeq\sigma_w^2|\phi(z)|^2/N$ is again homogeneous of degree two; and (b) for any $\phi$ with "
            r"$\phi(0) = 0$ at $\sigma_b^2 = 0$, from small $|z|$, where $K\to 0$. For a bounded $\phi$ (tanh, "
            r"erf) with $\sigma_b^2>0$, instead, $\sigma_b^2\le K\le\sigma_b^2 + \sigma_w^2\sup\phi^2$, every "
            r"factor of $e^{-S}$ is bounded by $(2\pi\sigma_b^2)^{-N/2}e^{-|z^l|^2/(2K_{\max})}$, and $Z_L<\infty$: "
            r"the ring weight is a normalisable Gibbs measure. In every case saddle points and the quadratic EFT "
            r"are local and unaffected; averages must be taken with the open chain or with the exact Markov chain "
            r"(whose stationary law exists whenever the mean-field map has an attracting fixed point)."),
    )


def _step_printed_equations(d):
    d.step(
        "Comparison with the equations printed in the talk notes",
        r"The talk notes on SPS17 print Eqs. 9-11 with several index slips. Our derivation (both routes, "
        r"checked symbolically and against the conditional Gaussian log-density numerically) gives:",
    )
    d.table(
        "Printed equations vs the derivation above.",
        ["where", "as printed", "derived", "consequence"],
        [
            [r"$\delta$ representation", r"$\delta(x)=\int d\lambda\,e^{-ix\lambda}$",
             r"$\int\frac{d\lambda}{2\pi}e^{i\lambda x}$", r"normalisation $(2\pi)^{-NP}$"],
            ["Eq. 29", r"$\delta(z^l - W^l\phi + b^l)$", r"$\delta(z^l - W^l\phi - b^l)$", "sign typo"],
            [r"$\Sigma^l$", r"$\sigma_w^2N_l^{-1}\phi\phi^{\mathsf T} + \mathbf 1\sigma_b^2$",
             r"$\sigma_w^2N_{l-1}^{-1}\Phi^{\mathsf T}\Phi + \sigma_b^2\mathbf 1\mathbf 1^{\mathsf T}$",
             r"fan-in; bias term is all-ones"],
            ["Eq. 9", r"$\ln|\Sigma^l|$", r"$N_l\ln\det(2\pi\Sigma^l)$", r"one per unit; $2\pi$ constant"],
            ["Eq. 10, 11 (log)", r"$\ln(\sigma_w^2N_l^{-1}\phi(z^{l})\cdot\phi(z^{l}) + \sigma_b^2)$",
             r"$\ln(\sigma_w^2N_{l-1}^{-1}|\phi(z^{l-1})|^2 + \sigma_b^2)$", r"layer index $l\to l-1$"],
            ["Eq. 10 (first layer)", "no log term", r"$\frac{N_1}{2}\ln(2\pi K^1)$", "constant given $x$"],
            ["Eq. 12 (linear, radial)", r"$N\ln\frac{(r^l)^2}{\sigma_w^2N^{-1}(r^{l})^2 + \sigma_b^2}$",
             r"$N\ln\frac{(r^l)^2}{\sigma_w^2N^{-1}(r^{l-1})^2 + \sigma_b^2}$, Jacobian $(r^l)^{N-1}$",
             r"index $l\to l-1$; $N-1$ vs $N$ is $O(1/N)$"],
            ["rank condition", r"$N_l + 1\gg|\mathcal M|$", r"$N_{l-1} + 1\ge P$",
             r"$\ge$ suffices for Eq. 9"],
        ],
        raw=True,
    )

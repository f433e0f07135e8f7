r"""The SymPy symbols of statfield: one object per quantity, with one set of assumptions.

Every module of :mod:`statfield.symbolic` (and every derivation document) builds its expressions
from these symbols, so expressions produced by different modules can be combined, substituted
into each other and compared with ``sympy.simplify(a - b) == 0``. The conventions are those of
``docs/conventions.md`` (sections "Network and parameterisation", "Order parameters and fields"
and "Symbols"): fan-in weights :math:`W_{ij}\sim\mathcal N(0,\sigma_w^2/N_{l-1})`, biases
:math:`b_i\sim\mathcal N(0,\sigma_b^2)`, order parameter :math:`q = |z|^2/N`.

Assumptions
-----------
* The variances ``sigma_w2``, ``sigma_b2`` are **positive** (the saddles and EFTs need
  :math:`\sigma_b^2>0`); the zero-bias results are obtained by substitution,
  ``expr.subs(sigma_b2, 0)``, which SymPy performs exactly.
* Sizes ``N`` (width), ``L`` (depth), ``d_in`` (input dimension) and the layer index ``l`` are
  positive integers. The number ``k`` of positive ReLU units is declared positive but not
  integer: after the Stirling step it is a continuous collective field.
* Order parameters ``q``, ``q_prev``, ``q_star``, radii ``r``, ``r_plus``, ``r_minus`` and the
  ReLU variables ``u = r_+^2/N``, ``v = r_-^2/N``, ``kappa = k/N`` are positive.
* The **lattice momentum** is ``p`` (real) and ``w = exp(-i p)``: ``q`` always means the order
  parameter, and ``k`` the ReLU count.
* Fluctuation fields ``eps`` (linear), ``eps_plus``, ``eps_minus``, ``eps_k`` (ReLU) and their
  derivatives ``d_eps...`` are real.

:data:`LATEX_NAMES` maps each symbol to the way a physicist writes it; the printer of
:mod:`statfield.symbolic.derivation` uses it (and prints powers of :math:`\sigma_w^2` as
:math:`\sigma_w^4`, derivatives squared as :math:`(\partial_x\epsilon_+)^2`).

This module imports SymPy only.
"""

from __future__ import annotations

import sympy as sp

__all__ = [
    "sigma_w2", "sigma_b2", "N", "L", "l", "d_in", "P",
    "q", "q_prev", "q_star", "K", "K1",
    "r", "r_prev", "r_plus", "r_minus", "r_plus_prev",
    "u", "v", "u_prev", "k", "kappa", "a_plus", "a_minus",
    "p", "w", "eps", "eps_plus", "eps_minus", "eps_k", "FIELDS",
    "field_derivative", "LATEX_NAMES", "by_name",
]

# --- parameters and sizes --------------------------------------------------------------------
#: Weight variance per fan-in, :math:`W_{ij}\sim\mathcal N(0,\sigma_w^2/N_{l-1})` (PDLT's :math:`C_W`).
sigma_w2 = sp.Symbol("sigma_w2", positive=True)
#: Bias variance, :math:`b_i\sim\mathcal N(0,\sigma_b^2)` (PDLT's :math:`C_b`).
sigma_b2 = sp.Symbol("sigma_b2", positive=True)
#: Hidden width (all hidden widths equal unless stated).
N = sp.Symbol("N", integer=True, positive=True)
#: Depth (number of layers; the period of the periodic chain).
L = sp.Symbol("L", integer=True, positive=True)
#: Layer index.
l = sp.Symbol("l", integer=True, positive=True)  # noqa: E741
#: Input dimension.
d_in = sp.Symbol("d_in", integer=True, positive=True)
#: Number of inputs.
P = sp.Symbol("P", integer=True, positive=True)

# --- order parameters and collective coordinates ---------------------------------------------
#: Order parameter :math:`q = |z|^2/N` (per-unit second moment).
q = sp.Symbol("q", positive=True)
#: :math:`q` of the previous layer.
q_prev = sp.Symbol("q_prev", positive=True)
#: Mean-field fixed point :math:`q^*`.
q_star = sp.Symbol("q_star", positive=True)
#: Conditional variance (metric) :math:`K = \sigma_w^2|\phi(z^{l-1})|^2/N + \sigma_b^2`.
K = sp.Symbol("K", positive=True)
#: First-layer kernel :math:`K_1 = \sigma_b^2 + \sigma_w^2 x\cdot x/d_{\rm in}`.
K1 = sp.Symbol("K_1", positive=True)
#: Radius :math:`r = |z|` and the radius of the previous layer.
r = sp.Symbol("r", positive=True)
r_prev = sp.Symbol("r_prev", positive=True)
#: ReLU radii of the positive / negative units, :math:`r_\pm = |z_\pm|`.
r_plus = sp.Symbol("r_plus", positive=True)
r_minus = sp.Symbol("r_minus", positive=True)
r_plus_prev = sp.Symbol("r_plus_prev", positive=True)
#: ReLU intensive variables :math:`u = r_+^2/N`, :math:`v = r_-^2/N`.
u = sp.Symbol("u", positive=True)
v = sp.Symbol("v", positive=True)
u_prev = sp.Symbol("u_prev", positive=True)
#: Number of positive ReLU units (continuous after Stirling), and :math:`\kappa = k/N`.
k = sp.Symbol("k", positive=True)
kappa = sp.Symbol("kappa", positive=True)
#: Slopes of a piecewise-linear activation :math:`\phi(z) = a_+ z\theta(z) + a_- z\theta(-z)`.
a_plus = sp.Symbol("a_plus", real=True)
a_minus = sp.Symbol("a_minus", real=True)

# --- lattice momentum and fields -------------------------------------------------------------
#: Lattice momentum conjugate to the layer index (``q`` is the order parameter, ``k`` the ReLU count).
p = sp.Symbol("p", real=True)
#: :math:`w = e^{-ip}` (residue calculus on the unit circle).
w = sp.Symbol("w")
#: Linear-network fluctuation field :math:`\epsilon = \sqrt N(r - r^*)/r^*`.
eps = sp.Symbol("eps", real=True)
#: ReLU fluctuation fields :math:`\epsilon_\pm = \sqrt N(r_\pm - r_\pm^*)/r_\pm^*`, :math:`\epsilon_k = (k - N/2)/\sqrt N`.
eps_plus = sp.Symbol("eps_plus", real=True)
eps_minus = sp.Symbol("eps_minus", real=True)
eps_k = sp.Symbol("eps_k", real=True)
#: Fluctuation fields by collective model kind (``"radial"``: linear, ``"orthant"``: ReLU).
FIELDS = {"radial": (eps,), "orthant": (eps_plus, eps_minus, eps_k)}

_FIELD_TEX = {"eps": r"\epsilon", "eps_plus": r"\epsilon_+", "eps_minus": r"\epsilon_-", "eps_k": r"\epsilon_k"}


def field_derivative(field) -> sp.Symbol:
    r"""The symbol of :math:`\partial_x` of a fluctuation field (``d_eps_plus`` for ``eps_plus``)."""
    name = field if isinstance(field, str) else field.name
    return sp.Symbol("d_" + name, real=True)


#: Symbol -> LaTeX as a physicist writes it. Entries of the form ``X^{m}`` are powers: the printer
#: writes ``sigma_w2**2`` as ``\sigma_w^{4}``. Entries with spaces are wrapped in parentheses
#: when raised to a power, so ``d_eps_plus**2`` prints as ``(\partial_x \epsilon_+)^{2}``.
LATEX_NAMES = {
    sigma_w2: r"\sigma_w^{2}", sigma_b2: r"\sigma_b^{2}", d_in: r"d_{\mathrm{in}}",
    q_prev: r"q'", q_star: r"q^{*}", K1: r"K_{1}",
    r_prev: r"r_{l-1}", r_plus: r"r_{+}", r_minus: r"r_{-}", r_plus_prev: r"r_{+,l-1}",
    u_prev: r"u'", kappa: r"\kappa", a_plus: r"a_{+}", a_minus: r"a_{-}",
    sp.Symbol("r_star", positive=True): r"r^{*}", sp.Symbol("rho", positive=True): r"\rho",
}
for _f in (eps, eps_plus, eps_minus, eps_k):
    LATEX_NAMES[_f] = _FIELD_TEX[_f.name]
    LATEX_NAMES[field_derivative(_f)] = r"\partial_x " + _FIELD_TEX[_f.name]
    LATEX_NAMES[sp.Symbol(_f.name + "_prev", real=True)] = _FIELD_TEX[_f.name] + r"'"

_BY_NAME = {s.name: s for s in (sigma_w2, sigma_b2, N, L, l, d_in, P, q, q_prev, q_star, K, K1, r, r_prev,
                                r_plus, r_minus, r_plus_prev, u, v, u_prev, k, kappa, a_plus, a_minus, p, w,
                                eps, eps_plus, eps_minus, eps_k)}


def by_name(name: str) -> sp.Symbol:
    """The statfield symbol called ``name`` (e.g. ``"sigma_w2"``); ``KeyError`` lists the names."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"name must be one of {sorted(_BY_NAME)}, got {name!r}") from None

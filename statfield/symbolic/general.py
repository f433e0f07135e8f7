r"""General activation: the periodic single-input action, its large-N reduction to the order
parameter :math:`q`, the homogeneous saddle equation, its stability, and numeric solutions.

Conventions (``docs/conventions.md``, "Network and parameterisation"): fan-in :math:`W_{ij}\sim N(0,\sigma_w^2/N)`,
:math:`b_i\sim N(0,\sigma_b^2)`, order parameter :math:`q^l = |z^l|^2/N`, periodic chain of ``L``
layers (SPS17, arXiv:1710.06570, Eq. 11).

The reduction (each step is a step of :func:`general_derivation`):

1. exact: :math:`d^Nz^l = \tfrac{N}{2}\,|S^{N-1}|\,(Nq^l)^{N/2-1}dq^l\,d\Omega^l`, and the action depends on
   :math:`z^{l-1}` only through :math:`Y^{l-1} = |\phi(z^{l-1})|^2/N` in
   :math:`K^l = \sigma_w^2 Y^{l-1} + \sigma_b^2`;
2. **named approximation (law of large numbers / saddle replacement)**: on the sphere
   :math:`|z|^2 = Nq` the coordinates are asymptotically i.i.d. :math:`N(0, q)`, so
   :math:`Y \to F(q) = \mathbb E_{\xi\sim N(0,1)}[\phi(\sqrt q\,\xi)^2]`;
3. **named approximation (leading order in 1/N)**: :math:`(N/2 - 1)\ln q\to (N/2)\ln q`.

The per-unit effective action on the ring is then

.. math:: \frac{S}{N} = \sum_{l=1}^{L}\Big[\frac{q^l}{2K(q^{l-1})} + \frac12\ln 2\pi K(q^{l-1})
          - \frac12\ln q^l\Big],\qquad K(q) = \sigma_w^2F(q) + \sigma_b^2,

whose homogeneous stationarity condition factorises as :math:`(q - K)(K - qK')/(2K^2q) = 0`; the
physical branch is the mean-field fixed point (the length map of Poole et al. 2016, arXiv:1606.05340)

.. math:: q^* = \sigma_w^2\,\mathbb E_\xi[\phi(\sqrt{q^*}\xi)^2] + \sigma_b^2 .

Its stability is governed by :math:`\chi_q = \partial q^{l+1}/\partial q^l|_{q^*} = \sigma_w^2F'(q^*)`
(Schoenholz et al. 2017, arXiv:1611.01232): the fixed point attracts the layer-to-layer
map iff :math:`|\chi_q| < 1`, and the Hessian of the effective action on the ring is the lattice
kernel :math:`M(p) = [(1+\chi_q^2) - 2\chi_q\cos p]/(2q^{*2})` (lattice momentum :math:`p`), massless
at :math:`\chi_q = 1`.

SymPy for the algebra; mpmath (pure Python) for the numbers. This module never imports the numeric
theory modules; the cross-check against :mod:`statfield.meanfield` lives in the document layer
(:func:`statfield.documents.saddles.general_saddle` with ``method="meanfield"``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import sympy as sp

from .action import _activation, action
from .symbols import p as _p
from .symbols import q, sigma_b2, sigma_w2

__all__ = [
    "GeneralSaddle",
    "general_action",
    "gaussian_expectation",
    "saddle_equation",
    "chi_q_expr",
    "chi1_expr",
    "effective_action",
    "homogeneous_stationarity",
    "lattice_kernel",
    "general_saddle",
    "general_derivation",
    "saddle_from_values",
    "chi_equal_critical_points",
]

_xi = sp.Symbol("xi", real=True)
_u = sp.Symbol("u", real=True)
_K = sp.Function("K")


def general_action(activation="tanh", N=None, L=None):
    """The single-input periodic action (SPS17 Eq. 11) for ``activation``: :func:`action` with ``form="periodic"``."""
    return action(activation, form="periodic", N=N, L=L)


def gaussian_expectation(expr, u=_u, var=q):
    r""":math:`\mathbb E_{u\sim N(0,\mathrm{var})}[f(u)]` as an unevaluated SymPy ``Integral`` over
    :math:`\xi\sim N(0,1)`, :math:`u = \sqrt{\mathrm{var}}\,\xi`:

    .. math:: \int_{-\infty}^{\infty}\frac{d\xi}{\sqrt{2\pi}}\,e^{-\xi^2/2} f(\sqrt{\mathrm{var}}\,\xi)
    """
    return sp.Integral(sp.sympify(expr).subs(u, sp.sqrt(var) * _xi) * sp.exp(-_xi**2 / 2) / sp.sqrt(2 * sp.pi),
                       (_xi, -sp.oo, sp.oo))


def _phi_of(activation):
    phi, name = _activation(activation)
    return phi(_u), name


def saddle_equation(activation="tanh"):
    r"""The homogeneous large-N saddle equation :math:`q = \sigma_w^2\mathbb E_\xi[\phi(\sqrt q\xi)^2] + \sigma_b^2`
    as a SymPy ``Eq`` (Gaussian expectation as an ``Integral``; the length map of Poole et al. 2016)."""
    f, _ = _phi_of(activation)
    return sp.Eq(q, sigma_w2 * gaussian_expectation(f**2) + sigma_b2)


def chi_q_expr(activation="tanh"):
    r""":math:`\chi_q = \sigma_w^2\,\mathbb E_\xi[\phi'(\sqrt q\xi)^2 + \phi(\sqrt q\xi)\phi''(\sqrt q\xi)]`
    (Poole et al. 2016; :math:`\partial_q` of the q-map after Gaussian integration by parts)."""
    f, _ = _phi_of(activation)
    return sigma_w2 * gaussian_expectation(sp.diff(f, _u) ** 2 + f * sp.diff(f, _u, 2))


def chi1_expr(activation="tanh"):
    r""":math:`\chi_1 = \sigma_w^2\,\mathbb E_\xi[\phi'(\sqrt q\xi)^2]` (Schoenholz et al. 2017, arXiv:1611.01232)."""
    f, _ = _phi_of(activation)
    return sigma_w2 * gaussian_expectation(sp.diff(f, _u) ** 2)


def effective_action(L=3, K=None, leading_order=True):
    r"""Per-unit large-N effective action on a ring of ``L`` layers, in the order parameters :math:`q^l`.

    .. math:: \frac{S}{N} = \sum_{l=1}^{L}\Big[\frac{q^l}{2K(q^{l-1})} + \frac12\ln 2\pi K(q^{l-1})
              - c_N\ln q^l\Big], \quad q^0\equiv q^L,

    with :math:`c_N = 1/2` (``leading_order=True``, the named 1/N step) or :math:`1/2 - 1/N`
    (exact radial measure; ``N`` symbolic). ``K`` defaults to an undefined function ``K(q)``; pass a
    SymPy expression in :data:`q` (e.g. ``sigma_w2*F + sigma_b2``) to specialise it.

    Returns
    -------
    (S_over_N, qs) : sympy.Expr, tuple of the symbols ``q_1..q_L``
    """
    L = int(L)
    if L < 2:
        raise ValueError(f"L must be an integer >= 2 (a ring with neighbours), got {L}")
    qs = sp.symbols(f"q_1:{L + 1}", positive=True)
    c = sp.Rational(1, 2) if leading_order else sp.Rational(1, 2) - 1 / sp.Symbol("N", positive=True)
    Kf = (lambda a: _K(a)) if K is None else (lambda a: sp.sympify(K).subs(q, a))
    S = 0
    for l in range(L):
        prev = qs[l - 1]  # l = 0 wraps to q_L
        S += qs[l] / (2 * Kf(prev)) + sp.log(2 * sp.pi * Kf(prev)) / 2 - c * sp.log(qs[l])
    return S, qs


def _K_symbols():
    Kq, Kp, Kpp = sp.symbols("K_q K_p K_pp", real=True)
    return Kq, Kp, Kpp


def _homogeneous(expr, qs):
    """Set all q^l = q and replace K(q), K'(q), K''(q) by symbols ``K_q, K_p, K_pp``."""
    Kq, Kp, Kpp = _K_symbols()
    expr = expr.subs({s: q for s in qs}).doit()
    expr = expr.subs(sp.Derivative(_K(q), (q, 2)), Kpp).subs(sp.Derivative(_K(q), q), Kp).subs(_K(q), Kq)
    return expr


def homogeneous_stationarity(L=3):
    r"""The homogeneous stationarity condition :math:`\partial(S/N)/\partial q^l = 0` at :math:`q^l\equiv q`.

    Returns the factorised expression in ``q`` and symbols ``K_q = K(q)``, ``K_p = K'(q)``:
    :math:`(q - K)(K - qK')/(2K^2q)` (up to the order of the factors).
    """
    S, qs = effective_action(L)
    g = sp.diff(S, qs[1])
    return sp.factor(sp.together(_homogeneous(g, qs)))


def lattice_kernel(L=4):
    r"""The Hessian of :math:`S/N` at the homogeneous saddle :math:`q^l = q^* = K(q^*)`, as the lattice kernel.

    With :math:`\chi = K'(q^*)` (``K_p``), the diagonal is :math:`(1+\chi^2)/(2q^{*2})` and the
    nearest-neighbour entry :math:`-\chi/(2q^{*2})`; ``K''`` cancels. Returns
    ``(diag, offdiag, M)`` with ``M(p) = diag + 2*offdiag*cos(p)`` in ``q`` (= :math:`q^*`), ``K_p`` and the
    lattice momentum ``p`` (:data:`statfield.symbolic.symbols.p`).
    """
    S, qs = effective_action(L)
    Kq, Kp, Kpp = _K_symbols()
    diag = sp.simplify(_homogeneous(sp.diff(S, qs[1], 2), qs).subs(Kq, q))
    off = sp.simplify(_homogeneous(sp.diff(S, qs[1], qs[2]), qs).subs(Kq, q))
    return diag, off, sp.simplify(diag + 2 * off * sp.cos(_p))


# ----------------------------------------------------------------------------- numerics
@dataclass(frozen=True)
class GeneralSaddle:
    r"""The homogeneous large-N saddle of the periodic chain for one activation.

    Attributes
    ----------
    q_star : float
        :math:`q^* = \sigma_w^2\mathbb E[\phi(\sqrt{q^*}\xi)^2] + \sigma_b^2` (the attracting fixed point
        of the q-map reached from :math:`q^0 = \sigma_w^2 + \sigma_b^2`).
    chi_q : float
        :math:`\chi_q = \partial q^{l+1}/\partial q^l` at :math:`q^*`.
    chi1 : float
        :math:`\chi_1 = \sigma_w^2\mathbb E[\phi'(\sqrt{q^*}\xi)^2]`.
    xi_q : float
        :math:`\xi_q = -1/\ln|\chi_q|` (``inf`` at :math:`|\chi_q| = 1`).
    stable : bool
        :math:`|\chi_q| < 1`.
    V_star : float
        :math:`N\,\mathrm{Var}\,K^l` in the bulk at leading order,
        :math:`\sigma_w^4\mathrm{Var}_\xi[\phi^2]/(1-\chi_q^2)` (the fixed point of the PDLT four-point
        vertex recursion of PDLT, arXiv:2106.10165, with :math:`C_W = \sigma_w^2`).
    var_q : float
        :math:`N\,\mathrm{Var}\,q^l = V^* + 2q^{*2}` in the bulk (leading order).
    var_q_q_only : float
        :math:`2q^{*2}/(1-\chi_q^2)`: what the Hessian of the q-only action predicts; equal to
        ``var_q`` for linear :math:`\phi` only (the angular field :math:`Y` is missing otherwise).
    method : str
        ``"meanfield"`` or ``"mpmath"``.
    """

    activation: str
    sigma_w2: float
    sigma_b2: float
    q_star: float
    chi_q: float
    chi1: float
    xi_q: float
    stable: bool
    V_star: float
    var_q: float
    var_q_q_only: float
    method: str


def _mp_functions(activation):
    import mpmath as mp

    f, name = _phi_of(activation)
    fl = sp.lambdify(_u, f, "mpmath")
    d1 = sp.lambdify(_u, sp.diff(f, _u), "mpmath")
    kink = bool(f.has(sp.Piecewise, sp.Heaviside, sp.Abs, sp.Max, sp.Min))
    return mp, fl, d1, name, f, kink


_XI_MAX = 12  # |xi| <= 12: the Gaussian tail beyond is e^{-72}


def _expect(mp, g, qv, kink=True):
    """:math:`E_{\\xi}[g(\\sqrt q\\xi)]` by tanh-sinh quadrature on ``|xi| <= 12``, split at 0 (kinks)."""
    s = mp.sqrt(qv)
    w = lambda t: g(s * t) * mp.exp(-t * t / 2)  # noqa: E731
    T = _XI_MAX
    return mp.quad(w, [-T, -T / 2, 0, T / 2, T]) / mp.sqrt(2 * mp.pi)


def _mpmath_saddle(activation, sw2, sb2, dps=15, max_iter=200):
    mp, fl, d1, name, f, kink = _mp_functions(activation)
    with mp.workdps(dps):
        sw, sb = mp.mpf(sw2), mp.mpf(sb2)
        F = lambda qv: _expect(mp, lambda u: fl(u) ** 2, qv)  # noqa: E731
        # dF/dq = E[phi^2(z)(z^2 - q)]/(2 q^2): no derivative of phi needed (valid at kinks)
        dF = lambda qv: _expect(mp, lambda u: fl(u) ** 2 * (u * u - qv), qv) / (2 * qv * qv)  # noqa: E731
        qmap = lambda qv: sw * F(qv) + sb  # noqa: E731
        qv = sw + sb
        for _ in range(max_iter):  # iterate into the basin of attraction of the forward map
            new = qmap(qv)
            if not mp.isfinite(new) or new > mp.mpf(10) ** 12:
                raise ValueError(
                    f"sigma_w2={sw2}: the q-map diverges from q0 = sigma_w2 + sigma_b2 (no finite attracting "
                    f"fixed point, e.g. sigma_w2 >= 1 for linear or >= 2 for ReLU)"
                )
            done = abs(new - qv) <= mp.mpf(10) ** (-2) * abs(qv) or new < mp.mpf(10) ** (-30)
            qv = new
            if done:
                break
        if qv > mp.mpf(10) ** (-20):
            for _ in range(50):  # Newton on q - K(q)
                step = (qmap(qv) - qv) / (sw * dF(qv) - 1)
                qv = qv - step
                if abs(step) <= mp.mpf(10) ** (-13) * qv:
                    break
            else:
                raise ValueError(f"sigma_w2={sw2}: Newton iteration for q* did not converge")
            if qv <= 0:
                raise ValueError(f"sigma_w2={sw2}, sigma_b2={sb2}: no positive fixed point q*")
            chiq = sw * dF(qv)
            chi1 = sw * _expect(mp, lambda u: d1(u) ** 2, qv)
        else:
            qv = mp.mpf(0)
            f1 = sp.diff(f, _u)
            chiq = sw * mp.mpf(sp.N((f1**2 + f * sp.diff(f, _u, 2)).subs(_u, 0), dps))
            chi1 = sw * mp.mpf(sp.N((f1**2).subs(_u, 0), dps))
        return float(qv), float(chiq), float(chi1)


def _fluctuations(activation, sw2, qv, chiq):
    """``V_star`` and ``var_q`` (leading order in 1/N) by mpmath quadrature at ``q*``."""
    mp, fl, d1, name, f, kink = _mp_functions(activation)
    if abs(chiq) >= 1 or qv <= 0:
        return math.inf, math.inf, math.inf
    with mp.workdps(15):
        qm = mp.mpf(qv)
        m2 = _expect(mp, lambda u: fl(u) ** 2, qm)
        m4 = _expect(mp, lambda u: fl(u) ** 4, qm)
        var_phi2 = m4 - m2 * m2
        cov = _expect(mp, lambda u: fl(u) ** 2 * (u * u - qm), qm)
        # regression of Y = |phi|^2/N on q = |z|^2/N: slope beta = cov / (2 q^2), residual variance V_zeta
        V_zeta = var_phi2 - cov * cov / (2 * qm * qm)
        innov = 2 * qm * qm + mp.mpf(sw2) ** 2 * V_zeta
        var_q = innov / (1 - mp.mpf(chiq) ** 2)
        return float(var_q - 2 * qm * qm), float(var_q), float(2 * qm * qm / (1 - mp.mpf(chiq) ** 2))


def general_saddle(activation="tanh", sigma_w2=1.5, sigma_b2=0.05, method="auto") -> GeneralSaddle:
    r"""Solve the homogeneous saddle equation :math:`q^* = \sigma_w^2\mathbb E[\phi(\sqrt{q^*}\xi)^2] + \sigma_b^2`.

    Parameters
    ----------
    activation : str or sympy expression
        Registry name (``"tanh"``, ``"erf"``, ``"gelu"``, ...) or SymPy expression in one symbol.
    sigma_w2 : float
        Weight variance per fan-in, ``> 0``.
    sigma_b2 : float
        Bias variance, ``>= 0``.
    method : {"auto", "mpmath"}
        ``"mpmath"`` (= ``"auto"``): fixed-point iteration from :math:`q^0 = \sigma_w^2+\sigma_b^2`
        polished by Newton steps on 15-digit ``mpmath.quad`` expectations (kinks split at 0). The
        route through :mod:`statfield.meanfield` is
        :func:`statfield.documents.saddles.general_saddle` (``method="meanfield"``).

    Returns
    -------
    GeneralSaddle

    Raises
    ------
    ValueError
        ``sigma_w2 <= 0``, ``sigma_b2 < 0``, unknown activation or method, or no finite attracting
        fixed point (``sigma_w2`` outside the domain).
    """
    from .._checks import check_variances

    sw2, sb2 = check_variances(sigma_w2, sigma_b2)
    if method not in ("auto", "mpmath"):
        raise ValueError(f"method must be 'auto' or 'mpmath' (the meanfield route is "
                         f"statfield.documents.saddles.general_saddle), got {method!r}")
    _, name = _activation(activation)
    qv, chiq, chi1 = _mpmath_saddle(activation, sw2, sb2)
    return saddle_from_values(activation, sw2, sb2, qv, chiq, chi1, "mpmath")


def saddle_from_values(activation, sw2, sb2, qv, chiq, chi1, method) -> GeneralSaddle:
    r"""A :class:`GeneralSaddle` from :math:`q^*`, :math:`\chi_q`, :math:`\chi_1` computed by any route
    (the fluctuations :math:`V^*` and :math:`N\,\mathrm{Var}\,q` by mpmath quadrature)."""
    _, name = _activation(activation)
    xi = math.inf if abs(chiq) >= 1 or chiq == 0 else -1.0 / math.log(abs(chiq))
    V, var_q, var_q0 = _fluctuations(activation, sw2, qv, chiq)
    return GeneralSaddle(name, sw2, sb2, qv, chiq, chi1, xi, abs(chiq) < 1, V, var_q, var_q0, method)


def chi_equal_critical_points(activation="gelu", K_max=64.0, dps=15):
    r"""Critical points with :math:`K^*\ne 0` where :math:`\chi_\parallel = \chi_\perp = 1` (PDLT §5.3).

    Solves, for :math:`K^* > 0`,

    .. math:: \chi_\perp = \sigma_w^2\langle\phi'^2\rangle_{K^*} = 1,\qquad
              \chi_\parallel = \sigma_w^2\langle\phi'^2 + \phi\phi''\rangle_{K^*} = 1,\qquad
              K^* = \sigma_b^2 + \sigma_w^2\langle\phi^2\rangle_{K^*},

    i.e. :math:`\langle\phi\phi''\rangle_{K^*} = 0` (the roots are bracketed on a grid in
    :math:`[10^{-3}K_{\max}, K_{\max}]` on a geometric grid and polished by mpmath), then :math:`\sigma_w^2 = 1/\langle\phi'^2\rangle` and
    :math:`\sigma_b^2 = K^* - \sigma_w^2\langle\phi^2\rangle`. Only roots with :math:`\sigma_b^2\ge 0` are
    returned. Conventions: :math:`C_W = \sigma_w^2`, :math:`C_b = \sigma_b^2`, :math:`\langle\cdot\rangle_K`
    the average over :math:`z\sim\mathcal N(0,K)` (``docs/conventions.md``).

    These are exact numbers (to ``dps`` digits), e.g. GELU :math:`K^* = (3+\sqrt{17})/2`,
    :math:`\sigma_w^2 = 1.98306`, :math:`\sigma_b^2 = 0.17292`; SiLU :math:`K^* = 14.3202`,
    :math:`\sigma_w^2 = 1.98800`, :math:`\sigma_b^2 = 0.55514`. An empty list means no such point
    (e.g. tanh, whose critical points have :math:`K^* = 0`).

    Returns
    -------
    list of dict
        ``{"K_star", "sigma_w2", "sigma_b2"}`` (floats), by increasing ``K_star``.
    """
    import mpmath as mp

    if not (isinstance(K_max, (int, float)) and math.isfinite(K_max) and K_max > 0):
        raise ValueError(f"K_max must be a finite number > 0, got {K_max!r}")
    f, _ = _phi_of(activation)
    fl = sp.lambdify(_u, f, "mpmath")
    d1 = sp.lambdify(_u, sp.diff(f, _u), "mpmath")
    d2 = sp.lambdify(_u, sp.diff(f, _u, 2), "mpmath")
    out = []
    with mp.workdps(dps):
        h = lambda K: _expect(mp, lambda x: fl(x) * d2(x), K)  # noqa: E731
        # geometric grid on (K_max/1000, K_max]: the root structure is smooth in ln K
        grid = [mp.mpf(K_max) * mp.mpf(1000) ** (mp.mpf(i) / 23 - 1) for i in range(24)]
        vals = [h(K) for K in grid]
        for a, b, fa, fb in zip(grid, grid[1:], vals, vals[1:]):
            if fa * fb < 0:
                K = mp.findroot(h, (a, b), solver="anderson")
                sw = 1 / _expect(mp, lambda x: d1(x) ** 2, K)
                sb = K - sw * _expect(mp, lambda x: fl(x) ** 2, K)
                if sb >= 0:
                    out.append({"K_star": float(K), "sigma_w2": float(sw), "sigma_b2": float(sb)})
    return out


# ----------------------------------------------------------------------------- derivation
def general_derivation(activation="tanh", points=((1.0, 0.05), (1.5, 0.05), (2.5, 0.1), (4.0, 0.3))):
    r"""The general-activation derivation: periodic action, large-N reduction to :math:`q` (named
    approximation steps), homogeneous saddle equation, stability, O(1/N) fluctuations, and a table of
    numeric saddles at ``points`` = ``(sigma_w2, sigma_b2)`` pairs (method ``"mpmath"``, so the table
    does not depend on other modules)."""
    from .derivation import Derivation

    f, name = _phi_of(activation)
    per = general_action(activation)
    shown = per.terms[0].replace(lambda e: isinstance(e, sp.Mod), lambda e: e.args[0])
    d = Derivation(
        rf"Field theory of a random network with a general activation: $\phi(u) = {sp.latex(f)}$",
        abstract=(
            r"For an arbitrary activation the periodic single-input action of SPS17 (Eq. 11) cannot be "
            r"reduced exactly to a few collective coordinates. We reduce it at large width to the order "
            r"parameter $q^l = |z^l|^2/N$ by a law-of-large-numbers replacement (a named approximation), "
            r"derive the homogeneous saddle equation, which is the mean-field fixed point of Poole et al. "
            r"(2016), its stability, and the leading $1/N$ fluctuations, and solve it numerically."
        ),
    )
    _steps_action_and_reduction(d, f, shown)
    _step_homogeneous_saddle(d, activation)
    _steps_stability_and_fluctuations(d, activation)
    _step_numeric_saddles(d, activation, f, points)
    return d


def _steps_action_and_reduction(d, f, shown):
    d.step(
        "The periodic single-input action",
        r"From \texttt{action(form='periodic')} (SPS17 Eq. 11, indices modulo $L$): "
        r"$S = \sum_{l=1}^{L}S_l$ with",
        [(sp.Symbol("S_l"), shown)],
    )
    d.step(
        "Order parameter and exact radial measure",
        r"Write $z^l = \sqrt{Nq^l}\,\omega^l$ with $\omega^l$ on the unit sphere. The measure is exact, "
        r"and the action depends on $z^{l-1}$ only through $Y^{l-1} = |\phi(z^{l-1})|^2/N$:",
        [r"d^Nz^l = \frac{N}{2}\,|S^{N-1}|\,(Nq^l)^{\frac N2-1}\,dq^l\,d\Omega^l,\qquad "
         r"S_l = \frac{N q^l}{2K^l} + \frac N2\ln(2\pi K^l),\quad K^l = \sigma_w^2 Y^{l-1} + \sigma_b^2"],
    )
    d.step(
        "Law of large numbers on the sphere",
        r"Given $q^{l-1}$, the direction $\omega^{l-1}$ of a conditionally isotropic Gaussian vector is uniform, "
        r"and the coordinates of a uniform point on the sphere of radius $\sqrt{Nq}$ are asymptotically i.i.d. "
        r"$\mathcal N(0,q)$. Hence $Y^{l-1}\to F(q^{l-1})$ with fluctuations $O(N^{-1/2})$. The tilt of the "
        r"angular measure by $e^{-S}$ is stationary at the saddle found below ($\partial S_l/\partial K^l = "
        r"N(K^l - q^l)/(2K^{l\,2}) = 0$ at $q = K$), so the replacement does not move the saddle; it drops the "
        r"angular fluctuations, which we restore in the fluctuation step.",
        [(sp.Symbol("F(q)"), gaussian_expectation(f**2))],
        approximation=r"law of large numbers / saddle replacement, $|\phi(z)|^2/N\to\mathbb E_\xi[\phi(\sqrt q\,\xi)^2]$",
    )
    S3, qs3 = effective_action(3)
    d.step(
        "Effective action at leading order in 1/N",
        r"Dropping $-\ln q^l$ against $\frac N2\ln q^l$ and constants, the action per unit for $L=3$ "
        r"(with $K(q) = \sigma_w^2F(q) + \sigma_b^2$) is",
        [(sp.Symbol("S/N"), S3)],
        approximation=r"leading order in $1/N$, $(N/2 - 1)\ln q\to (N/2)\ln q$",
    )


def _step_homogeneous_saddle(d, activation):
    stat = homogeneous_stationarity()
    Kq, Kp, _ = _K_symbols()
    d.step(
        "Homogeneous saddle",
        r"Stationarity in $q^l$ collects one term from $S_l$ and one from $S_{l+1}$. On the homogeneous "
        r"ansatz $q^l\equiv q$, with $K_q = K(q)$ and $K_p = K'(q)$, SymPy factorises it as",
        [sp.Eq(stat, 0),
         sp.Eq(q, sigma_w2 * sp.Symbol(r"\mathbb{E}_\xi[\phi(\sqrt{q}\xi)^2]") + sigma_b2),
         saddle_equation(activation)],
        after=(
        r" The branch $q = K(q)$ is the mean-field fixed point (the length map of Poole et al. 2016), written out "
        r"for this activation in the last line. The other branch, $K = qK'$, requires $\sigma_w^2(F - qF') = "
        r"-\sigma_b^2$; for $\sigma_b^2>0$ it has no solution whenever $F$ is concave, since then "
        r"$F(q) - qF'(q)\ge F(0)\ge 0$ (linear $\phi$, and the saturating tanh and erf). "
        r"The saddle is the joint mode of the ring weight in the variables $q^l$, not a mean; at finite $N$ "
        r"the two differ at $O(1/N)$."),
    )


def _steps_stability_and_fluctuations(d, activation):
    diag, off, M = lattice_kernel()
    chi = sp.Symbol(r"\chi_q")
    d.step(
        "Stability",
        r"Linearising the layer-to-layer map, $\delta q^{l+1} = \chi_q\,\delta q^{l}$ with "
        r"$\chi_q = \sigma_w^2F'(q^*)$ (Schoenholz et al. 2017), so the fixed point attracts iff "
        r"$|\chi_q|<1$; $\xi_q = -1/\ln|\chi_q|$ layers. Integrating by parts in $\xi$ gives the form below. "
        r"The Hessian of $S/N$ at the saddle, as a lattice kernel after a discrete Fourier transform in $l$ "
        r"(diagonal, nearest neighbour, and $M(p)$ at lattice momentum $p$, in terms of $K_p = \chi_q$; $K''$ cancels):",
        [(chi, chi_q_expr(activation).subs(q, sp.Symbol("q^*"))),
         (sp.Symbol("M_{ll}"), diag), (sp.Symbol("M_{l,l+1}"), off), (sp.Symbol("M(p)"), M),
         r"M(p) = \frac{(1-\chi_q)^2 + 2\chi_q(1-\cos p)}{2q^{*2}}"],
        after=(
        r" The kernel is positive for every $\chi_q\neq 1$ and massless at $k=0$ when $\chi_q = 1$ "
        r"(mass gap $(1-\chi_q)^2/(2q^{*2})$); for linear $\phi$ ($\chi_q = \sigma_w^2$) it is "
        r"$(1+\sigma_w^4) - 2\sigma_w^2\cos p$ up to normalisation, the kernel quoted for SPS17 (talk Eq. 12)."),
    )
    d.step(
        "Fluctuations at O(1/N)",
        r"The $q$-only kernel gives $N\,\mathrm{Var}\,q = 2q^{*2}/(1-\chi_q^2)$, which is exact for linear "
        r"$\phi$ only. In general $Y^{l} = F(q^*) + \beta\,\delta q^{l} + \zeta^{l}$ with $\beta = F'(q^*)$ and an "
        r"angular part $\zeta^l$ independent of $q^l$ and of the past, $N\mathrm{Var}\,\zeta = "
        r"\mathrm{Var}_\xi[\phi^2] - \mathrm{Cov}_\xi[\phi^2,z^2]^2/(2q^{*2})$. The linearised chain is AR(1) "
        r"with coefficient $\chi_q$ (so $\xi_q$ is unchanged), and",
        [r"N\,\mathrm{Var}\,q^l = \frac{2q^{*2} + \sigma_w^4 N\mathrm{Var}\,\zeta}{1-\chi_q^2},\qquad "
         r"N\,\mathrm{Var}\,K^l = V^* = \frac{\sigma_w^4\,\mathrm{Var}_\xi[\phi(\sqrt{q^*}\xi)^2]}{1-\chi_q^2},",
         r"N\,\mathrm{Var}\,q^l = V^* + 2q^{*2}."],
        after=(
            r"The second is the fixed point of the four-point vertex of Roberts, Yaida and Hanin "
            r"(arXiv:2106.10165, with $C_W = \sigma_w^2$ and $\chi_\parallel = \chi_q$), reached here independently. "
            r"The variance of $q$ exceeds it by $2q^{*2}$, the variance of $|z|^2/N$ given $K$ "
            r"($\chi^2_N$ with $N$ degrees of freedom): $V^*$ is the variance of the metric $K$, not of $q$."),
    )


def _step_numeric_saddles(d, activation, f, points):
    rows = []
    for sw2, sb2 in points:
        try:
            r = general_saddle(activation, sw2, sb2, method="mpmath")
        except ValueError as exc:
            rows.append([f"{sw2:g}", f"{sb2:g}", "--", "--", "--", "--", "--", "--", str(exc).split(":")[0]])
            continue
        rows.append([f"{sw2:g}", f"{sb2:g}", f"{r.q_star:.6f}", f"{r.chi_q:.5f}", f"{r.chi1:.5f}",
                     f"{r.xi_q:.3f}", f"{r.var_q:.4f}", f"{r.var_q_q_only:.4f}", "yes" if r.stable else "no"])
    d.step(
        "Numeric saddles",
        r"Solved with 15-digit \texttt{mpmath} quadrature (\texttt{general\_saddle(method='mpmath')}); "
        r"the test suite compares with an independent \texttt{sympy.nsolve} of the Integral form and with "
        r"\texttt{statfield.meanfield}.",
    )
    d.table(
        rf"Homogeneous saddle of the periodic chain for $\phi(u) = {sp.latex(f)}$.",
        [r"$\sigma_w^2$", r"$\sigma_b^2$", r"$q^*$", r"$\chi_q$", r"$\chi_1$", r"$\xi_q$",
         r"$N\mathrm{Var}\,q$", r"$q$-only", "stable"],
        rows,
        raw=True,
    )
    d.results["saddles"] = rows

r"""Saddle points of the collective actions on the homogeneous periodic chain (SymPy).

The periodic chain (layer :math:`L+1\equiv 1`) with a homogeneous configuration has action
:math:`L\,S_{\rm link}(x; x)` (:mod:`statfield.symbolic.collective`), so stationarity of the chain
at a homogeneous point is :math:`\tfrac{d}{dx}S_{\rm link}(x;x)=0` (the derivative acts on both
the current and the previous layer).

Three different notions -- kept apart here and in the tests:

* the **saddle** (mode of the joint density in the chosen variables) -- what this module solves;
* the **mean** (e.g. the exact stationary mean of :math:`q = r^2/N`); and
* the **mean-field fixed point** :math:`q^*` (Poole et al. 2016).

As :math:`N\to\infty` the saddle tends to the mean-field fixed point,
:math:`q^* = \sigma_b^2/(1-\sigma_w^2)` (linear) and :math:`q^*=\sigma_b^2/(1-\sigma_w^2/2)`,
:math:`k^*/N = 1/2`, :math:`u^*=v^*=q^*/2` (ReLU). At finite :math:`N` the saddle is displaced by
:math:`O(1/N)` and the displacement **depends on the variable** (mode of :math:`r` vs mode of
:math:`q=r^2/N`: the Jacobian :math:`dq = 2r\,dr/N` shifts it), whereas the exact stationary
mean of :math:`q` for the linear chain equals :math:`q^*` at every :math:`N`
(:math:`\mathbb E\,q_l = \sigma_w^2\mathbb E\,q_{l-1}+\sigma_b^2` because
:math:`\mathbb E\chi^2_N/N = 1`).

Linear, exact finite :math:`N` (no approximation; :math:`\Gamma(N/2)` is a constant): the mode in
:math:`r` solves :math:`\sigma_w^4 q^2 + \sigma_b^2[N - (N-2)\sigma_w^2]q - (N-1)\sigma_b^4 = 0`
(:math:`q=r^2/N`), a quadratic with one positive root. ReLU at finite :math:`N`: the exact
stationarity equations contain digamma functions; we solve them perturbatively in :math:`1/N`
with the Stirling action (named step; Stirling's :math:`d\ln\Gamma/dx = \ln x - 1/2x` matches
:math:`\psi(x)` to :math:`O(1/x^2)`, so the :math:`O(1/N)` displacement is exact) and
numerically with :meth:`SaddleResult.solve_exact` (mpmath, exact digamma).

Domain: a saddle with :math:`q^*>0` exists for :math:`\sigma_b^2 > 0` and
:math:`\sigma_w^2 < 1` (linear), :math:`\sigma_w^2 < 2` (ReLU); numbers outside raise
``ValueError`` naming ``sigma_w2`` / ``sigma_b2``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import functools

import sympy as sp

from .collective import linear_link_action, per_unit_action, relu_link_action, stirling
from .models import KindTable, collective_model
from .symbols import N, k, kappa, q, r, r_minus, r_plus, sigma_b2, sigma_w2, u, v

__all__ = ["saddle", "SaddleResult", "CRITICAL", "check_domain", "normalize_activation", "NoSaddleError"]

#: Critical sigma_w2 (boundary of the saddle's domain, massless mode), by collective model kind
#: (activations are accepted as keys and resolved to their kind).
CRITICAL = KindTable({"radial": sp.Integer(1), "orthant": sp.Integer(2)})

_h = sp.Symbol("h", positive=True)  # 1/N


class NoSaddleError(ValueError):
    """The exact finite-width stationarity equations have no admissible root (a mode with
    :math:`q > 0`, :math:`0 < k < N`) at the requested ``width``; the message names ``width``."""


def normalize_activation(activation) -> str:
    """The collective model kind (``"radial"`` or ``"orthant"``) of ``activation``.

    Dispatches on the activation object (:func:`~statfield.symbolic.models.collective_model`);
    activations without an exact collective EFT raise the uniform ``ValueError``.
    """
    return collective_model(activation).kind


def check_domain(activation, sigma_w2_value, sigma_b2_value):
    """Validate numbers: ``0 < sigma_w2 < critical`` and ``sigma_b2 > 0``; returns floats."""
    from .._checks import check_in_range, check_positive

    crit = float(CRITICAL[normalize_activation(activation)])
    sw = check_in_range(sigma_w2_value, "sigma_w2", 0.0, crit, low_open=True, high_open=True)
    sb = check_positive(sigma_b2_value, "sigma_b2")
    return sw, sb


@dataclass
class SaddleResult:
    r"""Saddle of the homogeneous periodic chain.

    Attributes
    ----------
    activation : str
    large_n : bool
        ``True``: leading order :math:`N\to\infty` (per-unit action); ``False``: finite :math:`N`.
    variable : str
        ``"r"`` (modes of the radii :math:`r, r_\pm` and of :math:`k`) or ``"q"`` (modes of
        :math:`q = r^2/N`, resp. :math:`u, v` and :math:`k`).
    variables : tuple of Symbols
        Intensive variables :math:`(q,)` or :math:`(u, v, \kappa=k/N)` (the solution is stated in
        these even when the mode is taken in ``r``).
    equations : list of sympy.Eq
        Stationarity equations (in the intensive variables).
    solution : dict
        ``{symbol: expression}`` in ``sigma_w2, sigma_b2`` (and ``N`` if ``large_n=False``);
        also ``q`` (= u+v for ReLU).
    hessian : sympy.Matrix
        Hessian of the per-unit homogeneous action :math:`s(x;x)` at the large-N saddle
        (positive definite inside the domain).
    stability : sympy relational
        Condition for positive definiteness of :attr:`hessian` (leading principal minors > 0).
    domain : sympy relational
        ``sigma_w2 < 1`` (linear) / ``sigma_w2 < 2`` (ReLU), with ``sigma_b2 > 0``.
    displacement : dict
        Coefficient :math:`c` of the :math:`O(1/N)` displacement, saddle = large-N value + c/N.
    q_star : sympy expression
        Mean-field fixed point (the N -> infinity limit).
    mean : dict
        Exact stationary means where known in closed form (linear: :math:`\mathbb E q = q^*` at all N;
        ReLU: :math:`\mathbb E k = N/2`, :math:`\mathbb E(u+v) = q^*`).
    """

    activation: str
    large_n: bool
    variable: str
    variables: tuple
    equations: list
    solution: dict
    hessian: sp.Matrix
    stability: object
    domain: object
    displacement: dict
    q_star: object
    mean: dict = field(default_factory=dict)
    kind: str = "radial"

    def evaluate(self, sigma_w2_value, sigma_b2_value, width=None) -> dict:
        """Numeric saddle ``{name: float}``; validates the domain (ValueError naming the parameter)."""
        sw, sb = check_domain(self.kind, sigma_w2_value, sigma_b2_value)
        subs = {sigma_w2: sw, sigma_b2: sb}
        if not self.large_n:
            if width is None:
                raise ValueError("width is required for a finite-N saddle (large_n=False)")
            from .._checks import check_int

            subs[N] = check_int(width, "width", minimum=3)
        out = {str(key): float(sp.N(val.subs(subs))) for key, val in self.solution.items()}
        bad = [key for key, val in out.items() if not (val > 0 and (key != "kappa" or val < 1))]
        if bad:
            raise NoSaddleError(
                f"width={width}: the O(1/N) saddle is not admissible here ({bad[0]}={out[bad[0]]:.4g}; the 1/N "
                f"expansion has broken down): use a larger width or SaddleResult.solve_exact")
        return out

    def solve_exact(self, sigma_w2_value, sigma_b2_value, width) -> dict:
        r"""Solve the exact finite-:math:`N` stationarity equations numerically (mpmath; digamma for ReLU).

        Linear (radial): the roots of the exact quadratic
        :math:`(1+j)\sigma_w^4 q^2 + \sigma_b^2[N - (N-2-2j)\sigma_w^2]q - (N-1-j)\sigma_b^4 = 0`
        (:math:`j=0` for the mode in :math:`r`, :math:`j=1` in :math:`q`); the constant term is negative,
        so exactly one root is positive, and it is the physical one. ReLU (orthant): for fixed :math:`k` the radial equations give
        :math:`v = (N-k-1-j)K/N` and a quadratic for :math:`u` (``j = 1`` for the mode in ``q``,
        0 in ``r``); the remaining digamma equation in :math:`k` is solved by bracketing on
        :math:`1 + j < k < N - 1 - j`.

        Every returned root is checked: positive :math:`q` (and :math:`u, v`, :math:`0<\kappa<1`), the
        exact equations satisfied to 1e-9 relative, and a minimum of the action (positive
        definite Hessian), i.e. a mode.

        Returns
        -------
        dict
            ``{name: float}`` in the intensive variables (``q``; ``u, v, kappa, q``).

        Raises
        ------
        ValueError
            ``sigma_w2``/``sigma_b2`` outside the domain, or ``width`` not an integer >= 3.
        NoSaddleError
            (a ``ValueError``) no admissible mode at this ``width`` -- for ReLU the mode in ``r``
            needs ``width >= 3`` and the mode in ``q`` ``width >= 5`` (the count :math:`k` must leave
            both radial Jacobians positive); the message names ``width``.
        """
        import mpmath as mp

        from .._checks import check_int

        sw, sb = check_domain(self.kind, sigma_w2_value, sigma_b2_value)
        n = check_int(width, "width", minimum=3)
        jac = {"r": 0, "q": 1}[self.variable]
        with mp.workdps(30):
            if self.kind == "radial":
                out = _exact_radial(mp, sw, sb, n, jac)
            else:
                out = _exact_orthant(mp, sw, sb, n, jac)
            _verify_exact(mp, self.kind, self.variable, out, sw, sb, n)
        return {key: float(val) for key, val in out.items()}


def _exact_radial(mp, sw, sb, n, jac):
    """Positive root of the exact linear-chain quadratic (see :meth:`SaddleResult.solve_exact`)."""
    sw, sb = mp.mpf(sw), mp.mpf(sb)
    # r dS/dr * K^2 with r^2 = N q:  (1 + j) sw^2 q^2 + sb [N - (N - 2 - 2 j) sw] q - (N - 1 - j) sb^2 = 0
    a = (1 + jac) * sw**2
    b = sb * (n - (n - 2 - 2 * jac) * sw)
    c = -(n - 1 - jac) * sb**2
    disc = b * b - 4 * a * c
    roots = [(-b + mp.sqrt(disc)) / (2 * a), (-b - mp.sqrt(disc)) / (2 * a)]
    pos = [x for x in roots if x > 0]
    if len(pos) != 1:  # pragma: no cover - c < 0 guarantees exactly one positive root
        raise NoSaddleError(f"width={n}: the exact linear stationarity equation has no unique positive root")
    return {"q": pos[0]}


def _orthant_u(mp, sw, sb, n, kk, jac):
    """Positive root u of the exact r_+ equation at fixed k (v eliminated), or None."""
    a_ = kk - 1 - jac
    b_ = n - kk - 1 - jac
    # -(a) K^2 + N u K - N sw u^2 - sw u b K + N sw u K = 0,  K = sw u + sb
    c2 = -a_ * sw**2 + n * sw - n * sw - sw**2 * b_ + n * sw**2
    c1 = -2 * a_ * sw * sb + n * sb - sw * b_ * sb + n * sw * sb
    c0 = -a_ * sb**2
    if c2 == 0:
        roots = [-c0 / c1] if c1 != 0 else []
    else:
        disc = c1 * c1 - 4 * c2 * c0
        if disc < 0:
            return None
        roots = [(-c1 + mp.sqrt(disc)) / (2 * c2), (-c1 - mp.sqrt(disc)) / (2 * c2)]
    pos = [x for x in roots if x > 0]
    return max(pos) if len(pos) == 1 else None


def _orthant_point(mp, sw, sb, n, kk, jac):
    uu = _orthant_u(mp, sw, sb, n, kk, jac)
    if uu is None:
        return None
    K = sw * uu + sb
    vv = (n - kk - 1 - jac) * K / n
    return uu, vv


def _orthant_k_residual(mp, sw, sb, n, kk, jac):
    pt = _orthant_point(mp, sw, sb, n, kk, jac)
    if pt is None:
        return None
    uu, vv = pt
    # dS/dk = 0: psi(k+1) - psi(N-k+1) + [psi(k/2) - psi((N-k)/2)]/2 + ln(r_-/r_+) = 0
    return (mp.digamma(kk + 1) - mp.digamma(n - kk + 1) + (mp.digamma(kk / 2) - mp.digamma((n - kk) / 2)) / 2
            + mp.log(vv / uu) / 2)


def _exact_orthant(mp, sw, sb, n, jac):
    """Exact ReLU mode: bracket the k equation on (1 + jac, N - 1 - jac) (see :meth:`SaddleResult.solve_exact`)."""
    sw, sb = mp.mpf(sw), mp.mpf(sb)
    lo, hi = mp.mpf(1 + jac), mp.mpf(n - 1 - jac)
    if not hi > lo:
        raise NoSaddleError(
            f"width={n}: the exact ReLU mode in the variable {'q' if jac else 'r'} needs width >= {3 + 2 * jac} "
            f"(1 + j < k < width - 1 - j with j = {jac})")
    grid = [lo + (hi - lo) * (i + mp.mpf(1) / 2) / 64 for i in range(64)]
    vals = [(x, _orthant_k_residual(mp, sw, sb, n, x, jac)) for x in grid]
    vals = [(x, f) for x, f in vals if f is not None and mp.isfinite(f)]
    brackets = [(a, b) for (a, fa), (b, fb) in zip(vals, vals[1:]) if fa == 0 or fa * fb < 0]
    candidates = []
    for a, b in brackets:
        kk = mp.findroot(lambda x: _orthant_k_residual(mp, sw, sb, n, x, jac), (a, b), solver="anderson")
        uu, vv = _orthant_point(mp, sw, sb, n, kk, jac)
        cand = {"u": uu, "v": vv, "kappa": kk / n, "q": uu + vv}
        try:
            action = _verify_exact(mp, "orthant", "q" if jac else "r", cand, sw, sb, n)
        except NoSaddleError:
            continue  # a maximum or saddle point of the action in (r+, r-, k): not a mode
        candidates.append((action, cand))
    if not candidates:
        raise NoSaddleError(
            f"width={n}: the exact ReLU stationarity equations have no minimum of the action (no mode) in "
            f"{1 + jac} < k < {n - 1 - jac}")
    return min(candidates, key=lambda t: t[0])[1]  # the joint mode: the lowest of the local minima


def _verify_exact(mp, kind, variable, out, sw, sb, n):
    """Positivity, stationarity of the exact action (residuals) and a positive definite Hessian;
    returns the action at the point (NoSaddleError otherwise)."""
    for key, val in out.items():
        if not (mp.isfinite(val) and val > 0) or (key == "kappa" and not val < 1):
            raise NoSaddleError(f"width={n}: the exact stationary point has {key}={float(val):.6g} (not admissible)")
    jac = {"r": 0, "q": 1}[variable]
    subs = {sigma_w2: sp.Float(sw, 30), sigma_b2: sp.Float(sb, 30), N: n}
    if kind == "radial":
        S = linear_link_action(r, r).subs(subs) + jac * sp.log(2 * r / n)
        xs = (r,)
        pt = (mp.sqrt(n * out["q"]),)
    else:
        S = relu_link_action(r_plus, r_minus, k, r_plus).subs(subs) + jac * (sp.log(2 * r_plus / n) + sp.log(2 * r_minus / n))
        xs = (r_plus, r_minus, k)
        pt = (mp.sqrt(n * out["u"]), mp.sqrt(n * out["v"]), out["kappa"] * n)
    grad = [sp.lambdify(xs, sp.diff(S, x), "mpmath")(*pt) for x in xs]
    scale = [abs(x) for x in pt]
    if max(abs(g) * s for g, s in zip(grad, scale)) > mp.mpf(10) ** -9 * n:
        raise NoSaddleError(f"width={n}: the numerical root does not satisfy the exact stationarity equations")
    H = mp.matrix([[sp.lambdify(xs, sp.diff(S, x, y), "mpmath")(*pt) for y in xs] for x in xs])
    minors = [mp.det(H[:i, :i]) for i in range(1, len(xs) + 1)]
    if not all(m_ > 0 for m_ in minors):
        raise NoSaddleError(f"width={n}: the exact stationary point is not a minimum of the action (no mode)")
    return sp.lambdify(xs, S, "mpmath")(*pt)


def _intensive_symbols(kind):
    return (q,) if kind == "radial" else (u, v, kappa)


@functools.lru_cache(maxsize=None)
def _exact_equations(kind, variable):
    r"""Exact finite-N stationarity equations of :math:`S_{\rm link}(x;x)` in intensive variables.

    The mode is taken in ``variable`` ("r": radii, "q": :math:`r^2/N`); :math:`k` stays :math:`k`
    (via :math:`\kappa = k/N`, a constant Jacobian). Returned expressions vanish at the saddle.
    """
    jac = {"r": 0, "q": 1}[variable]
    if kind == "radial":
        S = linear_link_action(r, r)
        # -ln p_q = S_r + ln(dq/dr) = S_r + ln(2 r / N)
        S = S + jac * sp.log(2 * r / N)
        eq = sp.diff(S, r)
        return [sp.simplify((eq * r).subs(r, sp.sqrt(N * q)))], (q,)
    S = relu_link_action(r_plus, r_minus, k, r_plus) + jac * (sp.log(2 * r_plus / N) + sp.log(2 * r_minus / N))
    subs = {r_plus: sp.sqrt(N * u), r_minus: sp.sqrt(N * v), k: N * kappa}
    eqs = [(sp.diff(S, r_plus) * r_plus).subs(subs), (sp.diff(S, r_minus) * r_minus).subs(subs), sp.diff(S, k).subs(subs)]
    return [sp.expand_func(e) for e in eqs], (u, v, kappa)


@functools.lru_cache(maxsize=None)
def _large_n_solution(kind):
    """Large-N saddle from the per-unit action: equations, solution, Hessian (all derived)."""
    s, vars_, prev = per_unit_action(kind)
    hom = s.subs(prev[0], vars_[0])
    eqs = [sp.diff(hom, x) for x in vars_]

    def linear_root(expr, x):  # the unique root of an equation linear in x
        c = sp.Poly(sp.numer(sp.together(expr)), x).all_coeffs()
        if len(c) != 2:  # pragma: no cover - structural guard
            raise RuntimeError(f"stationarity equation is not linear in {x}")
        return sp.cancel(-c[1] / c[0])

    if kind == "radial":
        sol = {q: sp.factor(linear_root(eqs[0], q))}
    else:
        # d/dv: v = (1-kappa) K(u); then d/du is linear in u; then d/dkappa (logarithmic) fixes kappa
        vsol = linear_root(eqs[1], v)
        usol = linear_root(eqs[0].subs(v, vsol), u)
        ek = sp.cancel(sp.expand_log(eqs[2].subs(v, vsol).subs(u, usol), force=True))
        ks = [x for x in sp.solve(ek, kappa) if x.is_positive and (1 - x).is_positive]
        if len(ks) != 1:  # pragma: no cover - guarded by tests
            raise RuntimeError("no unique interior ReLU saddle found")
        sol = {u: sp.factor(usol.subs(kappa, ks[0])), v: sp.factor(vsol.subs(u, usol).subs(kappa, ks[0])), kappa: ks[0]}
    H = sp.hessian(hom, vars_).subs(sol).applyfunc(lambda e: sp.factor(sp.cancel(e)))
    return [sp.Eq(e, 0) for e in eqs], sol, H


def _series_equations(kind, variable):
    """Stirling stationarity equations, intensive (divided by N where they are O(N))."""
    jac = {"r": 0, "q": 1}[variable]
    if kind == "radial":
        S = stirling(linear_link_action(r, r)) + jac * sp.log(2 * r / N)
        return [(sp.diff(S, r) * r).subs(r, sp.sqrt(N * q)) / N]
    S = relu_link_action(r_plus, r_minus, k, r_plus, large_n=True) + jac * (sp.log(2 * r_plus / N) + sp.log(2 * r_minus / N))
    subs = {r_plus: sp.sqrt(N * u), r_minus: sp.sqrt(N * v), k: N * kappa}
    # k-equation is O(1) per unit change of k, i.e. already intensive; radial ones are O(N): divide
    return [(sp.diff(S, r_plus) * r_plus).subs(subs) / N, (sp.diff(S, r_minus) * r_minus).subs(subs) / N,
            sp.diff(S, k).subs(subs)]


def _first_order_in_h(e, vars_, x0, x1):
    """Coefficient of h = 1/N of a stationarity equation around the large-N solution (log N terms checked)."""
    e = e.subs({x: x0[x] + _h * c for x, c in zip(vars_, x1)}).subs(N, 1 / _h)  # N is eliminated here
    e = sp.expand_log(e, force=True).replace(sp.log, lambda a: sp.log(sp.factor(sp.together(a))))
    e = sp.expand_log(e.expand(mul=False, power_exp=False), force=True)
    e = sp.Add(*[sp.cancel(t) for t in sp.Add.make_args(sp.expand(e, mul=True, deep=False))])
    # log(h) = -log(N) terms cancel between the binomial and the radii; check, then drop them
    lh = sp.log(_h)
    if sp.cancel(e.coeff(lh)) != 0:  # pragma: no cover - consistency guard
        raise RuntimeError("log N terms do not cancel in the stationarity equation")
    e = e.subs(lh, 0)
    if sp.cancel(e.subs(_h, 0)) != 0:  # pragma: no cover - consistency guard
        raise RuntimeError("large-N saddle does not solve the leading-order equations")
    return sp.expand(sp.diff(e, _h).subs(_h, 0))


@functools.lru_cache(maxsize=None)
def _series_saddle(kind, variable):
    r"""Saddle to :math:`O(1/N)`: returns ``(x0, x1)`` dicts with saddle = x0 + x1/N.

    Uses the Stirling action (named step); its stationarity equations are expanded in
    :math:`h = 1/N` around the large-N solution and the linear equations for ``x1`` solved.
    """
    _, x0, _ = _large_n_solution(kind)
    vars_ = _intensive_symbols(kind)
    x1 = sp.symbols(f"c0:{len(vars_)}")
    lin = [_first_order_in_h(e, vars_, x0, x1) for e in _series_equations(kind, variable)]
    sol = sp.solve(lin, x1, dict=True)[0]
    return x0, {x: sp.factor(sol[c]) for x, c in zip(vars_, x1)}


def saddle(activation, large_n=True, variable="r") -> SaddleResult:
    r"""Saddle point of the collective action of the homogeneous periodic chain.

    Parameters
    ----------
    activation : str or Activation
        Resolved with :func:`statfield.get_activation`; its collective model must be radial
        (linear network) or orthant (ReLU), see :func:`~statfield.symbolic.models.collective_model`
        (``ValueError`` with the uniform message otherwise, e.g. leaky ReLU).
    large_n : bool
        ``True``: the :math:`N\to\infty` saddle (= mean-field :math:`q^*`, :math:`k^*=N/2`).
        ``False``: finite :math:`N` -- linear: the exact closed-form positive root of the quadratic;
        ReLU: saddle to :math:`O(1/N)` (Stirling, exact at this order); see
        :meth:`SaddleResult.solve_exact` for the exact numeric root.
    variable : {"r", "q"}
        Variables in which the mode is taken (matters at :math:`O(1/N)`).

    Returns
    -------
    SaddleResult

    Notes
    -----
    Conventions (``docs/conventions.md``): fan-in :math:`\sigma_w^2/N`, :math:`q = r^2/N`,
    :math:`u=r_+^2/N`, :math:`v = r_-^2/N`, :math:`\kappa = k/N`. Source: SPS17 (arXiv:1710.06570)
    Sec. 4 (linear, Eq. 12) and Sec. 5 (ReLU, Eq. 18); the exact measures are ours
    (:mod:`statfield.symbolic.collective`). The saddle is the joint mode of the ring weight in
    the chosen variables, not the mean (and not the one-layer marginal mode either).

    Examples
    --------
    >>> from statfield.symbolic import saddle
    >>> s = saddle("linear")
    >>> s.solution  # doctest: +SKIP
    {q: -sigma_b2/(sigma_w2 - 1)}
    """
    model = collective_model(activation)
    kind = model.kind
    if variable not in ("r", "q"):
        raise ValueError(f"variable must be 'r' or 'q', got {variable!r}")
    eqs, sol0, H = _large_n_solution(kind)
    vars_ = _intensive_symbols(kind)
    q_star = sp.factor(sol0[vars_[0]] if kind == "radial" else sol0[vars_[0]] + sol0[vars_[1]])
    minors = [sp.factor(H[:i, :i].det()) for i in range(1, H.shape[0] + 1)]
    stability = sp.And(*[m > 0 for m in minors])
    domain = sp.And(sigma_w2 < CRITICAL[kind], sigma_b2 > 0)
    x0, x1 = _series_saddle(kind, variable)
    displacement = dict(x1)
    if large_n:
        solution = dict(sol0)
        equations = eqs
    else:
        exact, _ = _exact_equations(kind, variable)
        equations = [sp.Eq(e, 0) for e in exact]
        solution = _radial_closed_form(exact[0]) if kind == "radial" else {x: x0[x] + x1[x] / N for x in vars_}
    if kind == "orthant":
        solution[q] = sp.simplify(solution[u] + solution[v])
        mean = {kappa: sp.Rational(1, 2), q: q_star}
    else:
        mean = {q: q_star}
    return SaddleResult(model.name, bool(large_n), variable, vars_, equations, solution, H, stability, domain,
                        displacement, q_star, mean, kind)


def _radial_closed_form(eq):
    """The positive root of the exact radial quadratic: with c0 < 0 < c2 the product of the roots is
    negative, so exactly one root is positive -- the one with ``+sqrt(disc)``."""
    c2, c1, c0 = sp.Poly(sp.numer(sp.together(eq)), q).all_coeffs()
    disc = sp.factor(c1**2 - 4 * c2 * c0)
    # c2 = -(N-?) ... normalise the sign so that the leading coefficient is positive
    sign = sp.sign(sp.N(c2.subs({sigma_w2: sp.Rational(1, 2), sigma_b2: 1, N: 10})))
    c2, c1 = sign * c2, sign * c1
    return {q: sp.simplify((-c1 + sp.sqrt(disc)) / (2 * c2))}

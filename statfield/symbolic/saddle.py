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

from .collective import N, per_unit_action, relu_link_action, sigma_b2, sigma_w2, stirling, linear_link_action

__all__ = ["saddle", "SaddleResult", "CRITICAL", "check_domain", "normalize_activation"]

#: Critical sigma_w2 (boundary of the saddle's domain, massless mode).
CRITICAL = {"linear": sp.Integer(1), "relu": sp.Integer(2)}

_h = sp.Symbol("h", positive=True)  # 1/N


def normalize_activation(activation) -> str:
    """'linear' or 'relu' (accepts registry Activation objects); anything else -> ValueError."""
    name = activation if isinstance(activation, str) else getattr(activation, "name", None)
    if name not in CRITICAL:
        raise ValueError(
            f"activation must be 'linear' or 'relu': only these have exact collective-coordinate "
            f"reductions and closed-form saddles/EFTs (use statfield.symbolic.general for other phi), "
            f"got {activation!r}")
    return name


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

    def evaluate(self, sigma_w2_value, sigma_b2_value, width=None) -> dict:
        """Numeric saddle ``{name: float}``; validates the domain (ValueError naming the parameter)."""
        sw, sb = check_domain(self.activation, sigma_w2_value, sigma_b2_value)
        subs = {sigma_w2: sw, sigma_b2: sb}
        if not self.large_n:
            if width is None:
                raise ValueError("width is required for a finite-N saddle (large_n=False)")
            from .._checks import check_int

            subs[N] = check_int(width, "width", minimum=3)
        return {str(k): float(sp.N(v.subs(subs))) for k, v in self.solution.items()}

    def solve_exact(self, sigma_w2_value, sigma_b2_value, width):
        """Numerically solve the exact finite-N stationarity equations (mpmath; digamma for ReLU).

        Returns ``{name: float}`` in the intensive variables; starts from the 1/N-corrected saddle.
        """
        import mpmath as mp

        from .._checks import check_int

        sw, sb = check_domain(self.activation, sigma_w2_value, sigma_b2_value)
        n = check_int(width, "width", minimum=3)
        eqs, vars_ = _exact_equations(self.activation, self.variable)
        subs = {sigma_w2: sw, sigma_b2: sb, N: n}
        fs = [sp.lambdify(vars_, e.subs(subs), "mpmath") for e in eqs]
        start = _series_saddle(self.activation, self.variable)
        x0 = [float(sp.N((start[0][v] + start[1][v] / N).subs(subs))) for v in vars_]
        sol = mp.findroot(lambda *x: [f(*x) for f in fs], x0)
        sol = [sol[i] for i in range(len(vars_))] if hasattr(sol, "rows") else [sol]
        out = {str(v): float(s) for v, s in zip(vars_, sol)}
        if self.activation == "relu":
            out["q"] = out["u"] + out["v"]
        return out


def _intensive_symbols(activation):
    if activation == "linear":
        return (sp.Symbol("q", positive=True),)
    return sp.symbols("u v kappa", positive=True)


@functools.lru_cache(maxsize=None)
def _exact_equations(activation, variable):
    r"""Exact finite-N stationarity equations of :math:`S_{\rm link}(x;x)` in intensive variables.

    The mode is taken in ``variable`` ("r": radii, "q": :math:`r^2/N`); :math:`k` stays :math:`k`
    (via :math:`\kappa = k/N`, a constant Jacobian). Returned expressions vanish at the saddle.
    """
    jac = {"r": 0, "q": 1}[variable]
    if activation == "linear":
        (q,) = _intensive_symbols("linear")
        r = sp.Symbol("r", positive=True)
        S = linear_link_action(r, r)
        # -ln p_q = S_r + ln(dq/dr) = S_r + ln(2 r / N)
        S = S + jac * sp.log(2 * r / N)
        eq = sp.diff(S, r)
        return [sp.simplify((eq * r).subs(r, sp.sqrt(N * q)))], (q,)
    u, v, kap = _intensive_symbols("relu")
    rp, rm, k = sp.symbols("r_plus r_minus k", positive=True)
    S = relu_link_action(rp, rm, k, rp) + jac * (sp.log(2 * rp / N) + sp.log(2 * rm / N))
    subs = {rp: sp.sqrt(N * u), rm: sp.sqrt(N * v), k: N * kap}
    eqs = [(sp.diff(S, rp) * rp).subs(subs), (sp.diff(S, rm) * rm).subs(subs), sp.diff(S, k).subs(subs)]
    return [sp.expand_func(e) for e in eqs], (u, v, kap)


@functools.lru_cache(maxsize=None)
def _large_n_solution(activation):
    """Large-N saddle from the per-unit action: equations, solution, Hessian (all derived)."""
    s, vars_, prev = per_unit_action(activation)
    hom = s.subs(prev[0], vars_[0])
    eqs = [sp.diff(hom, x) for x in vars_]

    def linear_root(expr, x):  # the unique root of an equation linear in x
        c = sp.Poly(sp.numer(sp.together(expr)), x).all_coeffs()
        if len(c) != 2:  # pragma: no cover - structural guard
            raise RuntimeError(f"stationarity equation is not linear in {x}")
        return sp.cancel(-c[1] / c[0])

    if activation == "linear":
        (q,) = vars_
        sol = {q: sp.factor(linear_root(eqs[0], q))}
    else:
        u, v, kap = vars_
        # d/dv: v = (1-kappa) K(u); then d/du is linear in u; then d/dkappa (logarithmic) fixes kappa
        vsol = linear_root(eqs[1], v)
        usol = linear_root(eqs[0].subs(v, vsol), u)
        ek = sp.cancel(sp.expand_log(eqs[2].subs(v, vsol).subs(u, usol), force=True))
        ks = [x for x in sp.solve(ek, kap) if x.is_positive and (1 - x).is_positive]
        if len(ks) != 1:  # pragma: no cover - guarded by tests
            raise RuntimeError("no unique interior ReLU saddle found")
        sol = {u: sp.factor(usol.subs(kap, ks[0])), v: sp.factor(vsol.subs(u, usol).subs(kap, ks[0])), kap: ks[0]}
    H = sp.hessian(hom, vars_).subs(sol).applyfunc(lambda e: sp.factor(sp.cancel(e)))
    return [sp.Eq(e, 0) for e in eqs], sol, H


@functools.lru_cache(maxsize=None)
def _series_saddle(activation, variable):
    r"""Saddle to :math:`O(1/N)`: returns ``(x0, x1)`` dicts with saddle = x0 + x1/N.

    Uses the Stirling action (named step); its stationarity equations are expanded in
    :math:`h = 1/N` around the large-N solution and the linear equations for ``x1`` solved.
    """
    _, x0, _ = _large_n_solution(activation)
    vars_ = _intensive_symbols(activation)
    jac = {"r": 0, "q": 1}[variable]
    if activation == "linear":
        (q,) = vars_
        r = sp.Symbol("r", positive=True)
        S = stirling(linear_link_action(r, r)) + jac * sp.log(2 * r / N)
        eqs = [(sp.diff(S, r) * r).subs(r, sp.sqrt(N * q)) / N]
    else:
        u, v, kap = vars_
        rp, rm, k = sp.symbols("r_plus r_minus k", positive=True)
        S = relu_link_action(rp, rm, k, rp, large_n=True) + jac * (sp.log(2 * rp / N) + sp.log(2 * rm / N))
        subs = {rp: sp.sqrt(N * u), rm: sp.sqrt(N * v), k: N * kap}
        # k-equation is O(1) per unit change of k, i.e. already intensive; radial ones are O(N): divide
        eqs = [(sp.diff(S, rp) * rp).subs(subs) / N, (sp.diff(S, rm) * rm).subs(subs) / N, sp.diff(S, k).subs(subs)]
    x1 = sp.symbols(f"c0:{len(vars_)}")
    lin = []
    for e in eqs:
        e = e.subs({x: x0[x] + _h * c for x, c in zip(vars_, x1)}).subs(N, 1 / _h)
        e = sp.expand_log(e, force=True).replace(sp.log, lambda a: sp.log(sp.factor(sp.together(a))))
        e = sp.expand_log(e.expand(mul=False, power_exp=False), force=True)
        e = sp.Add(*[sp.cancel(t) for t in sp.Add.make_args(sp.expand(e, mul=True, deep=False))])
        # log(h) = -log(N) terms cancel between the binomial and the radii; check, then drop them
        lh = sp.log(_h)
        if sp.cancel(e.coeff(lh)) != 0:  # pragma: no cover - consistency guard
            raise RuntimeError("log N terms do not cancel in the stationarity equation")
        e = e.subs(lh, 0)
        e0 = sp.cancel(e.subs(_h, 0))
        if e0 != 0:  # pragma: no cover - consistency guard
            raise RuntimeError("large-N saddle does not solve the leading-order equations")
        lin.append(sp.expand(sp.diff(e, _h).subs(_h, 0)))
    sol = sp.solve(lin, x1, dict=True)[0]
    return x0, {x: sp.factor(sol[c]) for x, c in zip(vars_, x1)}


def saddle(activation, large_n=True, variable="r") -> SaddleResult:
    r"""Saddle point of the collective action of the homogeneous periodic chain.

    Parameters
    ----------
    activation : {"linear", "relu"}
        Only these have exact collective reductions (``ValueError`` otherwise).
    large_n : bool
        ``True``: the :math:`N\to\infty` saddle (= mean-field :math:`q^*`, :math:`k^*=N/2`).
        ``False``: finite :math:`N` -- linear: the exact closed-form root of the quadratic;
        ReLU: saddle to :math:`O(1/N)` (Stirling, exact at this order); see
        :meth:`SaddleResult.solve_exact` for the exact numeric root.
    variable : {"r", "q"}
        Variables in which the mode is taken (matters at :math:`O(1/N)`).

    Returns
    -------
    SaddleResult

    Notes
    -----
    Conventions: fan-in :math:`\sigma_w^2/N`, :math:`q = r^2/N`, :math:`u=r_+^2/N`,
    :math:`v = r_-^2/N`, :math:`\kappa = k/N`. Source: SPS17 (arXiv:1710.06570) Sec. 4
    (linear, Eq. 12) and Sec. 5 (ReLU, Eq. 18); the exact measures are ours (physics.md §2).
    The saddle is a *mode*, not the mean.

    Examples
    --------
    >>> from statfield.symbolic import saddle
    >>> s = saddle("linear")
    >>> s.solution  # doctest: +SKIP
    {q: -sigma_b2/(sigma_w2 - 1)}
    """
    act = normalize_activation(activation)
    if variable not in ("r", "q"):
        raise ValueError(f"variable must be 'r' or 'q', got {variable!r}")
    eqs, sol0, H = _large_n_solution(act)
    vars_ = _intensive_symbols(act)
    q_star = sp.factor(sol0[vars_[0]] if act == "linear" else sol0[vars_[0]] + sol0[vars_[1]])
    minors = [sp.factor(H[:i, :i].det()) for i in range(1, H.shape[0] + 1)]
    stability = sp.And(*[m > 0 for m in minors])
    domain = sp.And(sigma_w2 < CRITICAL[act], sigma_b2 > 0)
    x0, x1 = _series_saddle(act, variable)
    displacement = dict(x1)
    if large_n:
        solution = dict(sol0)
        equations = eqs
    else:
        exact, _ = _exact_equations(act, variable)
        equations = [sp.Eq(e, 0) for e in exact]
        if act == "linear":
            (q,) = vars_
            roots = sp.solve(sp.numer(sp.together(exact[0])), q)
            # the positive root (the other is negative for sigma_b2 > 0)
            pos = [x for x in roots if sp.N(x.subs({sigma_w2: sp.Rational(1, 2), sigma_b2: 1, N: 10})) > 0]
            solution = {q: sp.simplify(pos[0])}
        else:
            solution = {x: x0[x] + x1[x] / N for x in vars_}
    if act == "relu":
        u, v, _ = vars_
        solution[sp.Symbol("q", positive=True)] = sp.simplify(solution[u] + solution[v])
        mean = {sp.Symbol("kappa", positive=True): sp.Rational(1, 2), sp.Symbol("q", positive=True): q_star}
    else:
        mean = {vars_[0]: q_star}
    return SaddleResult(act, bool(large_n), variable, vars_, equations, solution, H, stability, domain,
                        displacement, q_star, mean)

r"""Perturbation theory around a Gaussian prior, exactly, with Wick's theorem (SymPy only).

A prior :math:`P_0(x) = N(0, \Sigma)` is perturbed by a factor :math:`e^{-\varepsilon\,\Delta H(x)}`:

.. math:: P_\varepsilon(x) = \frac{P_0(x)\,e^{-\varepsilon\Delta H(x)}}{Z_\varepsilon},\qquad
          Z_\varepsilon = \langle e^{-\varepsilon\Delta H}\rangle_0 .

Expanding numerator and denominator in :math:`\varepsilon` gives the cumulant series

.. math:: \langle O\rangle_\varepsilon = \sum_{n\ge0}\frac{(-\varepsilon)^n}{n!}\,
          \kappa(O,\underbrace{\Delta H,\dots,\Delta H}_{n})
          = \langle O\rangle_0 - \varepsilon\,\kappa(O,\Delta H)
            + \frac{\varepsilon^2}{2}\kappa(O,\Delta H,\Delta H) + O(\varepsilon^3),

with joint cumulants :math:`\kappa` under :math:`P_0`, and the free energy

.. math:: \Delta F(\varepsilon) = -\ln\frac{Z_\varepsilon}{Z_0}
          = \sum_{n\ge1}\frac{-(-\varepsilon)^n}{n!}\kappa_n(\Delta H)
          = \varepsilon\langle\Delta H\rangle_0 - \frac{\varepsilon^2}{2}\mathrm{Var}_0\Delta H + \dots,

bounded by the Gibbs–Bogoliubov inequality (Jensen): :math:`\Delta F(\varepsilon)\le\varepsilon\langle\Delta H\rangle_0`.

For polynomial :math:`O` and :math:`\Delta H` every term is a Gaussian moment, computed here *exactly* by
Wick's theorem in its recursive form (Gaussian integration by parts, Stein's lemma)

.. math:: \langle x_i\,f(x)\rangle_0 = \sum_j \Sigma_{ij}\,\langle\partial_j f(x)\rangle_0 ,

so the coefficients are exact rational functions of the covariance entries (symbols or numbers).
Example (the test case): :math:`x\sim N(0,1)`, :math:`\Delta H = x^4/24`:
:math:`\langle x^2\rangle_\varepsilon = 1 - \varepsilon/2 + \tfrac{2}{3}\varepsilon^2 + O(\varepsilon^3)`.

The network case (the data term :math:`J_D\sum_\mu\ell(f(x_\mu), y_\mu)` of Schoenholz, Pennington &
Sohl-Dickstein, arXiv:1710.06570, as a perturbation of the NNGP prior) uses the same machinery with the
outputs :math:`f(x_\mu)` as the variables: see :func:`statfield.perturbation.data_series`.
"""

from __future__ import annotations

from functools import lru_cache

import sympy as sp

__all__ = ["eps", "gaussian_moment", "gaussian_expectation", "wick_expansion", "free_energy_expansion",
           "PerturbationSeries"]

#: The expansion parameter :math:`\varepsilon` (positive real symbol).
eps = sp.Symbol("varepsilon", positive=True)


def _as_matrix(cov, n):
    M = sp.Matrix(cov) if not isinstance(cov, sp.MatrixBase) else cov
    if M.shape != (n, n):
        raise ValueError(f"cov must be a {n}x{n} matrix for {n} variables, got shape {M.shape}")
    if M != M.T:
        raise ValueError("cov must be symmetric")
    return sp.ImmutableMatrix(M)


def _check_variables(variables):
    if isinstance(variables, sp.Symbol):
        variables = (variables,)
    variables = tuple(variables)
    if not variables or not all(isinstance(v, sp.Symbol) for v in variables):
        raise TypeError("variables must be a sympy.Symbol or a non-empty sequence of sympy.Symbol")
    if len(set(variables)) != len(variables):
        raise ValueError("variables must be distinct")
    return variables


def gaussian_moment(exponents, cov) -> sp.Expr:
    r"""Exact :math:`\langle\prod_i x_i^{a_i}\rangle` for :math:`x\sim N(0,\Sigma)` (Wick / Isserlis).

    Parameters
    ----------
    exponents : sequence of int >= 0
        The multi-index :math:`a`.
    cov : sympy.Matrix
        :math:`\Sigma` (symbols or numbers), shape ``(len(a), len(a))``.
    """
    cov = sp.ImmutableMatrix(cov)
    a = tuple(int(e) for e in exponents)
    if any(e < 0 for e in a):
        raise ValueError(f"exponents must be >= 0, got {a}")
    return _moment(a, cov)


@lru_cache(maxsize=65536)
def _moment(a, cov):
    total = sum(a)
    if total == 0:
        return sp.Integer(1)
    if total % 2:
        return sp.Integer(0)
    i = next(k for k, e in enumerate(a) if e)
    rest = list(a)
    rest[i] -= 1
    out = sp.Integer(0)
    for j, e in enumerate(rest):  # <x_i f> = sum_j Sigma_ij <d_j f>, f = x^rest
        if e == 0 or cov[i, j] == 0:
            continue
        b = list(rest)
        b[j] -= 1
        out += cov[i, j] * e * _moment(tuple(b), cov)
    return sp.expand(out)


def _poly(expr, variables, name):
    expr = sp.sympify(expr) if not isinstance(expr, sp.Basic) else expr
    try:
        p = sp.Poly(sp.expand(expr), *variables)
    except sp.PolynomialError as exc:
        raise ValueError(f"{name} must be a polynomial in the variables {variables} (Wick's theorem needs "
                         f"polynomial observables and perturbations; for others use reweighted Monte Carlo, "
                         f"statfield.perturbation.reweight), got {expr}") from exc
    for coeff in p.coeffs():
        if coeff.free_symbols & set(variables):
            raise ValueError(f"{name} must be a polynomial in {variables}, got {expr}")
    return p


def gaussian_expectation(expr, variables, cov) -> sp.Expr:
    r"""Exact :math:`\langle\mathrm{expr}\rangle_0` of a polynomial under :math:`N(0, \Sigma)`."""
    variables = _check_variables(variables)
    cov = _as_matrix(cov, len(variables))
    p = _poly(expr, variables, "expr")
    return sp.expand(sum(c * _moment(tuple(m), cov) for m, c in zip(p.monoms(), p.coeffs())))


class PerturbationSeries:
    r"""The truncated series of :func:`wick_expansion`.

    Attributes
    ----------
    expression : sympy.Expr
        :math:`\sum_{n\le\mathrm{order}} c_n\varepsilon^n` in the symbol :data:`eps`.
    coefficients : list of sympy.Expr
        :math:`c_0, \dots, c_{\mathrm{order}}` (:math:`c_n = (-1)^n\kappa(O,\Delta H^{\times n})/n!`).
    moments : list of sympy.Expr
        :math:`\langle O\,\Delta H^n\rangle_0` (raw moments used).
    """

    def __init__(self, coefficients, moments, order):
        self.coefficients = list(coefficients)
        self.moments = list(moments)
        self.order = order
        self.expression = sp.Add(*[c * eps**n for n, c in enumerate(self.coefficients)])

    def __call__(self, value):
        """The series evaluated at ``eps = value`` (SymPy number or expression)."""
        return self.expression.subs(eps, value)

    def _sympy_(self):
        return self.expression

    def __repr__(self):
        return f"PerturbationSeries({self.expression} + O(eps**{self.order + 1}))"


def _series_ratio(num, den, order):
    """Coefficients of num(eps)/den(eps) to ``order`` (power series division, den[0] != 0)."""
    out = []
    for n in range(order + 1):
        s = num[n] - sum(out[k] * den[n - k] for k in range(n))
        out.append(sp.simplify(s / den[0]))
    return out


def wick_expansion(observable, delta_H, variables, cov, order: int = 2, *, return_series: bool = False):
    r"""Exact perturbative series of :math:`\langle O\rangle_\varepsilon` under :math:`N(0,\Sigma)\,e^{-\varepsilon\Delta H}`.

    .. math:: \langle O\rangle_\varepsilon = \frac{\sum_n (-\varepsilon)^n\langle O\,\Delta H^n\rangle_0/n!}
              {\sum_n (-\varepsilon)^n\langle\Delta H^n\rangle_0/n!}
              = \langle O\rangle_0 - \varepsilon\,\kappa(O,\Delta H) + \frac{\varepsilon^2}{2}\kappa(O,\Delta H,\Delta H)
              + O(\varepsilon^3)

    (power-series division of the two moment series; equivalent to the joint-cumulant form). All Gaussian
    moments are exact (Wick's theorem, see :func:`gaussian_moment`).

    Parameters
    ----------
    observable, delta_H : sympy.Expr
        Polynomials in ``variables`` (anything else raises ``ValueError`` saying what is supported).
    variables : sympy.Symbol or sequence of sympy.Symbol
        The Gaussian variables :math:`x`.
    cov : sympy.Matrix or nested sequence
        Prior covariance :math:`\Sigma` (numbers or symbols), ``len(variables)`` square.
    order : int >= 0
        Highest power of :data:`eps` kept.
    return_series : bool
        Return a :class:`PerturbationSeries` (coefficients and raw moments) instead of the expression.

    Returns
    -------
    sympy.Expr
        :math:`\sum_{n\le\mathrm{order}} c_n\,\varepsilon^n` in the symbol :data:`eps`
        (``statfield.perturbation.eps``).

    Examples
    --------
    >>> import sympy as sp
    >>> x = sp.Symbol("x")
    >>> wick_expansion(x**2, x**4 / 24, [x], [[1]], order=2)
    2*varepsilon**2/3 - varepsilon/2 + 1
    """
    variables = _check_variables(variables)
    if isinstance(order, bool) or not isinstance(order, int) or order < 0:
        raise ValueError(f"order must be an integer >= 0, got {order!r}")
    cov = _as_matrix(cov, len(variables))
    O = _poly(observable, variables, "observable").as_expr()
    H = _poly(delta_H, variables, "delta_H").as_expr()
    num, den = [], []
    Hn = sp.Integer(1)
    for n in range(order + 1):
        f = (-1) ** n / sp.factorial(n)
        num.append(f * gaussian_expectation(O * Hn, variables, cov))
        den.append(f * gaussian_expectation(Hn, variables, cov))
        Hn = sp.expand(Hn * H)
    coeffs = _series_ratio(num, den, order)
    moments = [m * sp.factorial(n) * (-1) ** n for n, m in enumerate(num)]
    series = PerturbationSeries(coeffs, moments, order)
    return series if return_series else series.expression


def free_energy_expansion(delta_H, variables, cov, order: int = 2):
    r"""Exact series of :math:`\Delta F(\varepsilon) = -\ln Z_\varepsilon/Z_0` and the Gibbs–Bogoliubov bound.

    .. math:: \Delta F = -\ln\Big(\sum_n\frac{(-\varepsilon)^n}{n!}\langle\Delta H^n\rangle_0\Big)
              = \varepsilon\langle\Delta H\rangle_0 - \frac{\varepsilon^2}{2}\mathrm{Var}_0\,\Delta H + O(\varepsilon^3)
              \;\le\; \varepsilon\,\langle\Delta H\rangle_0 .

    Returns
    -------
    (sympy.Expr, sympy.Expr)
        The truncated series in :data:`eps` and the bound :math:`\varepsilon\langle\Delta H\rangle_0`.
    """
    variables = _check_variables(variables)
    if isinstance(order, bool) or not isinstance(order, int) or order < 1:
        raise ValueError(f"order must be an integer >= 1, got {order!r}")
    cov = _as_matrix(cov, len(variables))
    H = _poly(delta_H, variables, "delta_H").as_expr()
    Z = sp.Integer(0)
    Hn = sp.Integer(1)
    for n in range(order + 1):
        Z += (-eps) ** n / sp.factorial(n) * gaussian_expectation(Hn, variables, cov)
        Hn = sp.expand(Hn * H)
    F = sp.series(-sp.log(Z), eps, 0, order + 1).removeO()
    bound = eps * gaussian_expectation(H, variables, cov)
    return sp.expand(F), bound


def data_perturbation_derivation():
    r"""Derivation document ``data-perturbation``: the cumulant series, the data term :math:`J_D`, adjusted batches.

    Every displayed series is computed here by :func:`wick_expansion` (exact), and compared in the text with the
    Taylor series of the closed form where one exists.
    """
    from .derivation import CONVENTIONS, Derivation

    x = sp.Symbol("x", real=True)
    d = Derivation("Data as a perturbation: cumulant series and the data term $J_D$",
                   conventions=CONVENTIONS + r" Perturbation: $P_\varepsilon\propto P_0\,e^{-\varepsilon\Delta H}$; "
                   r"the data term is $\Delta H=\sum_{\mu}\frac12\,(f_\mu-y_\mu)^2$ with $\varepsilon=J_D$ "
                   r"(sum over training points, $f_\mu = f(x_\mu)$ one output unit).")
    d.step("Cumulant series",
           r"Expanding numerator and denominator of $\langle O e^{-\varepsilon\Delta H}\rangle_0/"
           r"\langle e^{-\varepsilon\Delta H}\rangle_0$ in $\varepsilon$ gives joint cumulants $\kappa$ of the prior:",
           [r"\langle O\rangle_\varepsilon = \langle O\rangle_0 - \varepsilon\,\kappa(O,\Delta H) + "
            r"\frac{\varepsilon^2}{2}\,\kappa(O,\Delta H,\Delta H) + O(\varepsilon^3)",
            r"\Delta F = -\ln\frac{Z_\varepsilon}{Z_0} = \varepsilon\langle\Delta H\rangle_0 - "
            r"\frac{\varepsilon^2}{2}\,\mathrm{Var}_0\,\Delta H + O(\varepsilon^3) \le \varepsilon\langle\Delta H\rangle_0"],
           after=r"The inequality is the Gibbs--Bogoliubov bound (Jensen). For polynomial $O$ and $\Delta H$ under a "
                 r"Gaussian prior every moment follows exactly from Wick's theorem, "
                 r"$\langle x_i f(x)\rangle_0=\sum_j\Sigma_{ij}\langle\partial_j f\rangle_0$.")
    series = wick_expansion(x**2, x**4 / 24, [x], [[1]], order=3)
    F, bound = free_energy_expansion(x**4 / 24, [x], [[1]], order=3)
    d.step("A check: the quartic perturbation",
           r"For $x\sim\mathcal N(0,1)$ and $\Delta H = x^4/24$ (exact coefficients from Wick's theorem):",
           [(r"\langle x^2\rangle_\varepsilon", series),
            (r"\Delta F", F)],
           after=r"up to $O(\varepsilon^4)$. The series is asymptotic (zero radius of convergence: "
                 r"$\langle e^{-\varepsilon x^4/24}\rangle$ is not analytic at $\varepsilon=0$); the validation check "
                 r"\texttt{perturbation-cumulants} compares the coefficients with sampled cumulants.")
    Kdd, Ksd, Kss, y, J = sp.symbols("K_{DD} K_{*D} K_{**} y J_D", real=True)
    f_d, f_s = sp.symbols("f_D f_*", real=True)
    cov = sp.Matrix([[Kdd, Ksd], [Ksd, Kss]])
    mean_series = wick_expansion(f_s, (f_d - y) ** 2 / 2, [f_d, f_s], cov, order=3).subs(eps, J)
    closed = J * Ksd * y / (1 + J * Kdd)
    taylor = sp.series(closed, J, 0, 4).removeO()
    assert sp.simplify(sp.expand(mean_series - taylor)) == 0
    d.step("The data term at infinite width",
           r"With the NNGP prior $f\sim\mathcal N(0,K)$ and one training point (the general case is the matrix "
           r"version, \texttt{statfield.perturbation.data\_series}), the cumulant series of the posterior mean is",
           [(r"\langle f_*\rangle_{J_D}", sp.expand(mean_series)),
            r"\langle f_*\rangle_{J_D} = K_{*D}\,(K_{DD}+J_D^{-1})^{-1}\,y = \sum_{n\ge0}(-1)^n J_D^{n+1}K_{*D}K_{DD}^n\,y"],
           after=r"which is exactly the Taylor series of the kernel-regression posterior with noise variance $1/J_D$ "
                 r"(checked symbolically when this document is built). The series converges for "
                 r"$J_D\,\lambda_{\max}(K_{DD})<1$ and diverges beyond: perturbation theory in $J_D$ holds while the "
                 r"data term is softer than the stiffest prior mode. The linear response "
                 r"$\partial\langle f_*\rangle/\partial y_\mu = J_D K_{*\mu}+O(J_D^2)$ shows each data point acting as "
                 r"an external source coupled to $f(x_\mu)$.")
    d.step("Finite width: the four-point function enters at second order",
           r"For a prior symmetric under $f\to-f$ with two-point function $K$ and connected four-point function "
           r"$C_4$ (finite-width networks), odd cumulants vanish and",
           [r"\langle f_*\rangle_{J_D} = J_D\sum_\mu K_{*\mu}y_\mu - J_D^2\sum_{\mu\nu}\left(K_{*\mu}K_{\mu\nu} "
            r"+ \frac12\,C_{4;*\mu\mu\nu}\right)y_\nu + O(J_D^3)"],
           approximation="truncation of the cumulant series at second order in $J_D$",
           after=r"(the $C_4$ term comes from $\kappa(f_*, \frac12 f_\mu^2, y_\nu f_\nu)$). Since $C_4 = O(1/N)$, "
                 r"the finite-width posterior differs from the NNGP posterior at $O(J_D^2/N)$.")
    d.step("Reweighting and the adjusted batch size",
           r"Prior samples reweighted by $w_i=e^{-\varepsilon\Delta H_i}$ give the self-normalised estimator "
           r"with its delta-method error and the Kish effective sample size",
           [r"\hat O_\varepsilon = \frac{\sum_i w_iO_i}{\sum_i w_i},\qquad "
            r"\widehat{\mathrm{se}}^2 = \frac{\sum_i w_i^2(O_i-\hat O_\varepsilon)^2}{(\sum_i w_i)^2},\qquad "
            r"n_{\rm eff} = \frac{(\sum_i w_i)^2}{\sum_i w_i^2}",
            r"B_{\rm adj} = \sum_{i\in\rm batch}\tilde w_i,\qquad \tilde w_i = w_i/\langle w\rangle"],
           after=r"The adjusted batch size is our definition (the source note's formula was lost): the gradient of "
                 r"the weighted summed loss scales with $\sum_i\tilde w_i$, so batches of fixed $B_{\rm adj}$ remove "
                 r"the weight-driven fluctuation of the gradient norm. An error variable carried across steps makes "
                 r"the adjusted sizes average to $B_{\rm avg}$ exactly up to $(\max\tilde w + B_{\rm avg})/T$ after "
                 r"$T$ steps. Reliability is judged by the Pareto $\hat k$ of the weights (PSIS): above $0.7$ the "
                 r"weights have effectively infinite variance and the error bars cannot be trusted.")
    return d

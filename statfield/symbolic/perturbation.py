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
eps = sp.Symbol("epsilon", positive=True)


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
    2*epsilon**2/3 - epsilon/2 + 1
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

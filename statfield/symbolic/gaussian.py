r"""Gaussian integrals for SymPy (the workhorse of the delta-function / auxiliary-field route).

The one identity used throughout (``n`` real variables, ``A`` symmetric with positive definite
real part, ``b`` any — possibly imaginary — source vector):

.. math::

    \int_{\mathbb R^n} d^n x\; \exp\!\left(-\tfrac12 x^{\mathsf T} A x + b^{\mathsf T}x + c\right)
      = (2\pi)^{n/2}\,\det(A)^{-1/2}\,\exp\!\left(\tfrac12 b^{\mathsf T} A^{-1} b + c\right).

Imaginary sources :math:`b = i\lambda` give the characteristic function,
:math:`\int d^n x\, e^{-\frac12 x^{\mathsf T}Ax + i\lambda^{\mathsf T}x} = (2\pi)^{n/2}\det(A)^{-1/2}
e^{-\frac12\lambda^{\mathsf T}A^{-1}\lambda}`, which is how the weights, the biases and then the
auxiliary fields :math:`\lambda` are integrated out in SPS17 (arXiv:1710.06570, Sec. 3 and App. A).

Public functions

* :func:`gaussian_integral` — the closed form above for an explicit ``A`` (and ``b``, ``c``);
* :func:`quadratic_form` — read ``(A, b, c)`` off an exponent that is quadratic in given variables;
* :func:`complete_square` — the shift :math:`x_0 = A^{-1}b` and the constant left over;
* :func:`integrate_out` — integrate a list of variables out of a quadratic exponent and return
  ``(prefactor, new_exponent)``.  It factorises ``A`` into its independent blocks (connected
  components of its sparsity pattern), so integrating out the ``N x N_{l-1}`` weights of a layer or
  the ``N x P`` auxiliary fields costs ``N`` small determinants, not one big one.

Conventions: the principal branch of :math:`\det(A)^{-1/2}` (the right one for positive definite
``A``); a numeric ``A`` that is not positive definite raises ``ValueError``, a symbolic one is
assumed to satisfy the convergence condition (document it where you call these functions).

SymPy only.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

__all__ = [
    "gaussian_integral",
    "quadratic_form",
    "complete_square",
    "integrate_out",
    "QuadraticForm",
    "tidy_sums",
]


@dataclass(frozen=True)
class QuadraticForm:
    r"""An exponent written as :math:`-\tfrac12 x^{\mathsf T}Ax + b^{\mathsf T}x + c`.

    Attributes
    ----------
    A : sympy.Matrix
        Symmetric ``n x n`` matrix (minus the Hessian of the exponent).
    b : sympy.Matrix
        ``n x 1`` source (the gradient of the exponent at ``x = 0``).
    c : sympy.Expr
        The exponent at ``x = 0``.
    variables : tuple
        The ``n`` integration variables, in order.
    """

    A: sp.Matrix
    b: sp.Matrix
    c: sp.Expr
    variables: tuple

    def expr(self):
        """Rebuild :math:`-\\tfrac12 x^{\\mathsf T}Ax + b^{\\mathsf T}x + c`."""
        x = sp.Matrix(self.variables)
        return sp.expand((-(x.T * self.A * x)[0, 0] / 2 + (self.b.T * x)[0, 0]) + self.c)


def _as_matrix(A, name):
    A = sp.Matrix(A)
    if A.rows != A.cols or A.rows == 0:
        raise ValueError(f"{name} must be a non-empty square matrix, got shape {A.shape}")
    if (A - A.T).applyfunc(sp.simplify) != sp.zeros(*A.shape):
        raise ValueError(f"{name} must be symmetric")
    return A


def _check_convergent(A, name):
    """Raise when a *numeric* ``A`` has a real part that is not positive definite."""
    if A.free_symbols:
        return
    re = A.applyfunc(lambda e: sp.re(sp.nsimplify(e)))
    try:
        ok = re.is_positive_definite
    except Exception:  # pragma: no cover - sympy cannot decide
        ok = None
    if ok is False:
        raise ValueError(
            f"{name} must have a positive definite real part for the Gaussian integral to converge, "
            f"got {A.tolist()}"
        )


def _blocks(A):
    """Index blocks of ``A``: connected components of the graph with edges where ``A_ij != 0``."""
    n = A.rows
    seen = [False] * n
    out = []
    for start in range(n):
        if seen[start]:
            continue
        stack, comp = [start], []
        seen[start] = True
        while stack:
            i = stack.pop()
            comp.append(i)
            for j in range(n):
                if not seen[j] and (A[i, j] != 0 or A[j, i] != 0):
                    seen[j] = True
                    stack.append(j)
        out.append(sorted(comp))
    return out


def _det_and_form(A, b):
    """``det(A)`` and ``b^T A^{-1} b`` blockwise (adjugate formula inside each block)."""
    det = sp.Integer(1)
    form = sp.Integer(0)
    for comp in _blocks(A):
        Ab = A.extract(comp, comp)
        bb = b.extract(comp, [0])
        if len(comp) == 1:
            d = Ab[0, 0]
            det *= d
            form += bb[0] ** 2 / d
            continue
        d = Ab.det(method="berkowitz")
        det *= d
        form += (bb.T * Ab.adjugate() * bb)[0, 0] / d
    return det, form


def gaussian_integral(A, b=None, c=0):
    r"""Closed form of :math:`\int d^n x\, \exp(-\tfrac12 x^{\mathsf T}Ax + b^{\mathsf T}x + c)`.

    Implements :math:`(2\pi)^{n/2}\det(A)^{-1/2}\exp(\tfrac12 b^{\mathsf T}A^{-1}b + c)`
    (valid for symmetric ``A`` with positive definite real part; ``b`` may be complex, e.g.
    ``I*lambda`` in the Fourier representation of a delta function).

    Parameters
    ----------
    A : sympy.Matrix or nested list
        Symmetric ``n x n`` matrix.
    b : sympy.Matrix or sequence, optional
        Source vector (length ``n``); zero by default.
    c : sympy.Expr, optional
        Constant in the exponent.

    Returns
    -------
    sympy.Expr

    Raises
    ------
    ValueError
        If ``A`` is not square and symmetric, if ``b`` has the wrong length, or if a numeric ``A``
        has a real part that is not positive definite.

    Examples
    --------
    >>> import sympy as sp
    >>> a, lam = sp.symbols("a lambda", positive=True)
    >>> gaussian_integral([[a]], [sp.I * lam])
    sqrt(2)*sqrt(pi)*exp(-lambda**2/(2*a))/sqrt(a)
    """
    A = _as_matrix(A, "A")
    n = A.rows
    b = sp.zeros(n, 1) if b is None else sp.Matrix(b).reshape(len(sp.Matrix(b)), 1)
    if b.rows != n:
        raise ValueError(f"b must have length {n} (the size of A), got {b.rows}")
    _check_convergent(A, "A")
    det, form = _det_and_form(A, b)
    return (2 * sp.pi) ** sp.Rational(n, 2) / sp.sqrt(det) * sp.exp(form / 2 + sp.sympify(c))


def tidy_sums(expr):
    """Pull factors that do not depend on the summation index out of every ``Sum``; drop ``Sum(0)``.

    Differentiating under an unevaluated ``Sum`` leaves terms such as ``Sum(-a*f(j), (j, 1, N))``
    or ``Sum(0, ...)``; this rewrites them as ``-a*Sum(f(j), ...)`` and ``0``.
    """
    expr = sp.sympify(expr)
    if not expr.has(sp.Sum):
        return expr

    def pull(s):
        body = s.function
        idx = [lim[0] for lim in s.limits]
        if body == 0:
            return sp.Integer(0)
        if body.is_Add:
            return sp.Add(*[pull(sp.Sum(t, *s.limits)) for t in body.args])
        const, dep = body.as_independent(*idx, as_Add=False)
        if dep == 1:
            return s.doit()
        return const * sp.Sum(dep, *s.limits)

    return expr.replace(lambda e: isinstance(e, sp.Sum), pull)


def _zero_subs(variables):
    return {v: 0 for v in variables}


def quadratic_form(exponent, variables) -> QuadraticForm:
    r"""Write ``exponent`` as :math:`-\tfrac12 x^{\mathsf T}Ax + b^{\mathsf T}x + c` in ``variables``.

    ``A`` is minus the Hessian, ``b`` the gradient at ``x = 0`` and ``c`` the value at ``x = 0``.
    Works through unevaluated ``Sum`` objects (differentiation passes under the sum), so
    exponents with a symbolic number of terms are allowed as long as the integration variables
    themselves are explicit.

    Raises
    ------
    ValueError
        If ``variables`` is empty or has repeats, or if the exponent is not (at most) quadratic in
        them (the Hessian still depends on a variable).
    """
    variables = tuple(variables)
    if not variables:
        raise ValueError("variables must be a non-empty sequence of symbols")
    if len(set(variables)) != len(variables):
        raise ValueError("variables must not contain repeats")
    exponent = sp.sympify(exponent)
    n = len(variables)
    zero = _zero_subs(variables)
    grad = [sp.diff(exponent, v) for v in variables]
    H = sp.zeros(n, n)
    for i in range(n):
        for j in range(i, n):
            h = sp.diff(grad[i], variables[j])
            h = h.doit() if h.has(sp.Sum) else h
            if any(h.has(v) for v in variables):
                h = sp.expand(h)
                if any(h.has(v) for v in variables):
                    raise ValueError(
                        f"exponent must be at most quadratic in variables; d2/d{variables[i]}d{variables[j]} "
                        f"still depends on them"
                    )
            H[i, j] = H[j, i] = h
    b = sp.Matrix([tidy_sums(g.subs(zero)) for g in grad])
    c = tidy_sums(exponent.subs(zero))
    H = H.applyfunc(tidy_sums)
    return QuadraticForm(A=-H, b=b, c=c, variables=variables)


def complete_square(exponent, variables):
    r"""Complete the square: :math:`-\tfrac12 x^{\mathsf T}Ax + b^{\mathsf T}x + c
    = -\tfrac12 (x-x_0)^{\mathsf T}A(x-x_0) + \tfrac12 b^{\mathsf T}A^{-1}b + c`.

    Returns
    -------
    x0 : sympy.Matrix
        The shift :math:`x_0 = A^{-1}b` (complex when the source is imaginary).
    A : sympy.Matrix
        The matrix of the quadratic form.
    constant : sympy.Expr
        :math:`\tfrac12 b^{\mathsf T}A^{-1}b + c`.
    """
    qf = quadratic_form(exponent, variables)
    x0 = qf.A.LUsolve(qf.b)
    _, form = _det_and_form(qf.A, qf.b)
    return x0, qf.A, form / 2 + qf.c


def integrate_out(exponent, variables, check=True):
    r"""Integrate ``variables`` out of :math:`e^{E}` with ``E`` quadratic in them.

    .. math:: \int d^n x\, e^{E(x, y)} = \underbrace{(2\pi)^{n/2}\det(A)^{-1/2}}_{\text{prefactor}}
              \; e^{\,\frac12 b(y)^{\mathsf T}A^{-1}b(y) + c(y)}

    where :math:`E = -\tfrac12 x^{\mathsf T}Ax + b(y)^{\mathsf T}x + c(y)` (``A`` must not depend
    on the variables; it may depend on the remaining ones, ``y``).  ``A`` is factorised into
    independent blocks first, so the determinant is a product of small determinants.

    Parameters
    ----------
    exponent : sympy.Expr
        The exponent ``E`` (not ``exp(E)``).
    variables : sequence of sympy symbols / Indexed
        The integration variables (real).
    check : bool
        Verify (numerically, when ``A`` is numeric) that the integral converges.

    Returns
    -------
    prefactor : sympy.Expr
        :math:`(2\pi)^{n/2}\det(A)^{-1/2}`.
    new_exponent : sympy.Expr
        :math:`\tfrac12 b^{\mathsf T}A^{-1}b + c`, a function of the remaining variables.
    """
    qf = quadratic_form(exponent, variables)
    if check:
        _check_convergent(qf.A, "A (minus the Hessian of the exponent)")
    det, form = _det_and_form(qf.A, qf.b)
    n = len(qf.variables)
    prefactor = (2 * sp.pi) ** sp.Rational(n, 2) / sp.sqrt(det)
    return prefactor, form / 2 + qf.c

"""Gaussian-integral helper against sympy.integrate, dense linear algebra and numeric quadrature."""

import itertools

import pytest
import sympy as sp

from statfield.symbolic.gaussian import (
    complete_square,
    gaussian_integral,
    integrate_out,
    quadratic_form,
    tidy_sums,
)

a, c = sp.symbols("a c", positive=True)
x, y, w = sp.symbols("x y w", real=True)
s, t, lam = sp.symbols("s t lambda", real=True)


@pytest.mark.parametrize("source", [s, sp.I * lam])
def test_1d_against_sympy_integrate(source):
    E = -a * x**2 / 2 + source * x + c
    pref, new = integrate_out(E, [x])
    closed = pref * sp.exp(new)
    direct = sp.integrate(sp.exp(E), (x, -sp.oo, sp.oo), conds="none")
    assert sp.simplify(closed / direct) == 1
    assert sp.simplify(gaussian_integral([[a]], [source], c) / direct) == 1


def test_2d_against_sympy_integrate():
    # coupled 2-D case with a symbolic entry; SymPy returns a Piecewise whose a > 1/3 branch applies
    A = sp.Matrix([[a, 1], [1, 3]])
    v = sp.Matrix([x, y])
    E = -(v.T * A * v)[0, 0] / 2
    pref, new = integrate_out(E, [x, y], check=False)
    inner = sp.integrate(sp.exp(E), (x, -sp.oo, sp.oo), conds="none")
    direct = sp.integrate(inner, (y, -sp.oo, sp.oo), conds="none")
    if isinstance(direct, sp.Piecewise):
        direct = direct.args[-1][0]
    assert new == 0
    assert sp.simplify((pref - direct).subs(a, 2)) == 0
    assert sp.simplify(pref**2 - direct**2) == 0


def _grid_integral(An, bn, half_width=10.0, n=161):
    """Trapezoid rule on a cube (exponentially accurate for Gaussian integrands); b may be complex."""
    np = pytest.importorskip("numpy")
    d = len(bn)
    g = np.linspace(-half_width, half_width, n)
    h = g[1] - g[0]
    X = np.stack(np.meshgrid(*([g] * d), indexing="ij"), axis=-1)
    quad = np.einsum("...i,ij,...j->...", X, np.asarray(An, dtype=float), X)
    lin = X @ np.asarray(bn, dtype=complex)
    return np.exp(-quad / 2 + lin).sum() * h**d


@pytest.mark.parametrize("n", [2, 3])
def test_numeric_against_grid_quadrature_with_complex_source(n):
    A = sp.Matrix([[2, sp.Rational(1, 2), 0], [sp.Rational(1, 2), 1, sp.Rational(1, 3)], [0, sp.Rational(1, 3), 3]])[:n, :n]
    b = sp.Matrix([sp.Rational(1, 4), -sp.Rational(1, 2) + sp.I / 3, sp.I / 5])[:n, :]
    val = complex(gaussian_integral(A, b))
    ref = _grid_integral([[float(e) for e in row] for row in A.tolist()], [complex(e) for e in b], n=161 if n == 2 else 81)
    assert abs(val - ref) < 1e-10 * abs(val)


def test_block_factorisation_matches_dense_algebra():
    # two independent blocks (2x2 and 1x1) plus symbolic entries: blockwise det/form == dense det/inverse
    p, r = sp.symbols("p r", positive=True)
    A = sp.Matrix([[p, 1, 0], [1, p, 0], [0, 0, r]])
    b = sp.Matrix([s, t, sp.I * lam])
    v = sp.Matrix([x, y, w])
    E = -(v.T * A * v)[0, 0] / 2 + (b.T * v)[0, 0]
    pref, new = integrate_out(E, [x, y, w])
    assert sp.simplify(pref**2 - (2 * sp.pi) ** 3 / A.det()) == 0
    assert sp.simplify(new - (b.T * A.inv() * b)[0, 0] / 2) == 0


def test_complete_square_reconstructs_exponent():
    E = -x**2 - x * y - 2 * y**2 + s * x + sp.I * lam * y + c
    x0, A, const = complete_square(E, [x, y])
    d = sp.Matrix([x, y]) - x0
    rebuilt = -(d.T * A * d)[0, 0] / 2 + const
    assert sp.expand(rebuilt - E) == 0
    # the stationary point of E is x0
    assert [sp.simplify(sp.diff(E, v).subs({x: x0[0], y: x0[1]})) for v in (x, y)] == [0, 0]


def test_quadratic_form_through_unevaluated_sums():
    N = sp.Symbol("N", integer=True, positive=True)
    j = sp.Symbol("j", integer=True)
    f = sp.IndexedBase("f")
    l1, l2 = sp.symbols("l1 l2", real=True)
    E = -sp.Sum((l1 * f[j] + l2) ** 2, (j, 1, N)) / (2 * N) + sp.I * l1 * s
    qf = quadratic_form(E, [l1, l2])
    assert sp.simplify(qf.A[1, 1] - 1) == 0
    assert sp.simplify(qf.A[0, 1] - sp.Sum(f[j], (j, 1, N)) / N) == 0
    assert qf.b == sp.Matrix([sp.I * s, 0])
    assert qf.c == 0
    # tidy_sums pulls constants out and drops Sum(0)
    assert tidy_sums(sp.Sum(-3 * f[j] / N, (j, 1, N)) + sp.Sum(0, (j, 1, N))) == -3 * sp.Sum(f[j], (j, 1, N)) / N


@pytest.mark.parametrize("n", [1, 2, 3])
def test_random_numeric_matrices_against_closed_form(n):
    # deterministic "random" SPD rational matrices: A = B B^T + I
    vals = itertools.cycle([1, -2, 3, 1, 0, 2, -1, 1, 2])
    B = sp.Matrix(n, n, lambda i, j: sp.Rational(next(vals), 3))
    A = B * B.T + sp.eye(n)
    b = sp.Matrix([sp.Rational(k + 1, 4) for k in range(n)])
    X = sp.Matrix(sp.symbols(f"x0:{n}", real=True))
    pref, new = integrate_out(-(X.T * A * X)[0, 0] / 2 + (b.T * X)[0, 0], list(X))
    assert sp.simplify(pref - (2 * sp.pi) ** sp.Rational(n, 2) / sp.sqrt(A.det())) == 0
    assert sp.simplify(new - (b.T * A.LUsolve(b))[0, 0] / 2) == 0


def test_errors():
    with pytest.raises(ValueError, match="quadratic"):
        integrate_out(-x**4 + x, [x])
    with pytest.raises(ValueError, match="symmetric"):
        gaussian_integral([[1, 2], [0, 1]])
    with pytest.raises(ValueError, match="positive definite"):
        gaussian_integral([[-1]])
    with pytest.raises(ValueError, match="positive definite"):
        integrate_out(x**2 / 2, [x])
    with pytest.raises(ValueError, match="b must have length"):
        gaussian_integral([[1, 0], [0, 1]], [1])
    with pytest.raises(ValueError, match="variables"):
        integrate_out(-x**2, [])
    with pytest.raises(ValueError, match="repeats"):
        integrate_out(-x**2, [x, x])

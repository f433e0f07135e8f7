r"""User activations: from a SymPy expression (:func:`from_sympy`) or a NumPy callable (:func:`from_callable`).

User activations get the same guarantees as the built-ins:

* **probing at construction**: :math:`\phi` is evaluated on :math:`[-30, 30]` (65 537 points); a
  non-finite or complex output on this finite input raises ``ValueError`` naming the activation and the
  first bad point;
* **non-smooth points**: kinks (where :math:`\phi'` jumps) and jumps (where :math:`\phi` jumps) are
  found exactly from SymPy's piecewise structure, or numerically for callables
  (:func:`detect_nonsmooth`), and exposed as ``act.kinks`` / ``act.jumps`` so that quadrature can split
  there; a discontinuous :math:`\phi` refuses every derivative (``E[phi'^2]`` is infinite);
* **derivatives**: SymPy expressions are differentiated piecewise (``Max``, ``Min``, ``Abs``,
  ``Heaviside``, ``sign`` are rewritten as ``Piecewise`` first, so no ``DiracDelta`` appears);
  callables without ``deriv`` get a numerical derivative, :class:`NumericDerivative` (complex step when
  the callable is analytic, checked against finite differences; Richardson-extrapolated differences
  otherwise, one-sided next to a kink);
* **closed forms by mathematics, never by name**: a SymPy expression that is piecewise linear through
  0, :math:`\phi(z) = a_+z\theta(z) + a_-z\theta(-z)` (``Max(x, 0)``, ``Abs(x)``, ``x*Heaviside(x)``,
  ``Piecewise((x, x > 0), (0, True))``, ...), becomes :func:`~statfield.activations.piecewise_linear`
  with its closed forms; a callable never gets closed forms, whatever its name.
"""

from __future__ import annotations

import math

import numpy as np

from .core import Activation

__all__ = [
    "PROBE_RANGE",
    "NumericDerivative",
    "detect_nonsmooth",
    "from_callable",
    "from_sympy",
    "sympy_derivative",
]

#: Interval on which user activations are probed (finite outputs, kinks, jumps).
PROBE_RANGE = (-30.0, 30.0)
_PROBE_N = 1 << 16


# ============================================================================ probing
def _numpy_callable(fn, name):
    """``fn`` as a NumPy-vectorised float function (np.vectorize fallback for scalar-only callables)."""
    x = np.linspace(-1.0, 1.0, 5)

    def try_call(g):
        try:
            with np.errstate(all="ignore"):
                y = np.asarray(g(x))
        except Exception:  # noqa: BLE001  (user or SymPy code may raise anything)
            return False
        return y.shape in ((), x.shape) and y.dtype.kind in "biufc"

    if try_call(fn):
        return fn
    vec = np.vectorize(fn, otypes=[float])
    if try_call(vec):
        return vec
    try:
        fn(0.5)
    except Exception as exc:
        raise TypeError(f"activation {name!r}: calling it on a float failed ({type(exc).__name__}: {exc})") from exc
    raise TypeError(f"activation {name!r} must map a float (or a NumPy array, elementwise) to a real number")


def _float_out(f, x):
    with np.errstate(all="ignore"):
        y = np.asarray(f(x))
    if np.iscomplexobj(y):
        if np.any(y.imag != 0):
            raise ValueError("complex output")
        y = y.real
    return np.broadcast_to(np.asarray(y, dtype=float), np.shape(x))


def _probe(f, name, what="phi"):
    """Evaluate on the probe grid; raise if an output is non-finite or complex. Returns (x, y)."""
    x = np.linspace(*PROBE_RANGE, _PROBE_N + 1)
    try:
        y = _float_out(f, x)
    except ValueError:
        raise ValueError(f"activation {name!r}: {what} returns complex values on real input") from None
    bad = ~np.isfinite(y)
    if np.any(bad):
        i = int(np.argmax(bad))
        raise ValueError(f"activation {name!r}: {what}(z) is not finite ({y[i]}) at the finite input z = {x[i]:.6g} "
                         f"(probed on [{PROBE_RANGE[0]:g}, {PROBE_RANGE[1]:g}]); an activation must be finite "
                         "for every finite input")
    return x, y


# ============================================================================ kinks and jumps
def _snap(p):
    """Round ``p`` to 6 decimals when it is that number to ~1e-11 (kinks at 0, +-1, ... come out exact)."""
    r = round(p, 6)
    return float(r) + 0.0 if abs(p - r) <= 1e-11 * max(1.0, abs(p)) else float(p)


def detect_nonsmooth(f, lo=PROBE_RANGE[0], hi=PROBE_RANGE[1], n=_PROBE_N, y=None):
    r"""Find the kinks and jumps of a continuous-looking function numerically on ``[lo, hi]``.

    Method: on a uniform grid (spacing :math:`h`), cells where the second difference of :math:`f` departs
    from its neighbours' are candidates. A candidate is a **jump** when, bisecting towards the larger step
    down to the float resolution, the step :math:`|\Delta f|` keeps at least half the size it had at a
    bracket of :math:`\sim 10^{-9}` (a continuous function's step shrinks with the bracket). Otherwise it
    is zoomed into three times (200 points per window, keeping the cell with the largest slope change; the
    spacing falls from :math:`h/50` to :math:`\sim 10^{-9}`): it is a **kink** when the slope change
    across that cell keeps at least half its initial size (a smooth function's falls with the spacing,
    here by :math:`\sim 10^{-4}`) and exceeds :math:`10^{-6}` of the slopes (plus :math:`10^{-9}` of the
    largest slope on the grid) and the round-off level; its position is the intersection of the tangent
    lines on either side (exact for locally linear pieces, :math:`\sim 10^{-15}` otherwise). Kinks below
    these thresholds, or features narrower than :math:`h \approx 10^{-3}` that look smooth at the grid
    scale, are not found; pass ``kinks=``/``jumps=`` to :func:`from_callable` then.

    Returns
    -------
    (kinks, jumps) : two sorted tuples of float
    """
    x = np.linspace(lo, hi, n + 1)
    h = x[1] - x[0]
    if y is None:
        y = _float_out(f, x)
    scale = 1.0 + float(np.max(np.abs(y)))
    s = np.diff(y) / h
    d = np.diff(s)  # d[i]: slope change at x[i+1]
    e = np.zeros_like(d)
    e[3:-3] = d[3:-3] - 0.5 * (d[:-6] + d[6:])
    e[:3], e[-3:] = d[:3] - d[3:6], d[-3:] - d[-6:-3]
    tol = 1e-8 * (1.0 + float(np.max(np.abs(s)))) + 1e3 * np.finfo(float).eps * scale / h
    cand = np.nonzero(np.abs(e) > tol)[0]
    if cand.size == 0:
        return (), ()
    if cand.size > 20000:  # too rough to resolve on this grid: treat as smooth (documented limit)
        return (), ()
    a = x[cand]
    b = x[np.minimum(cand + 2, n)]

    def F(t):
        return _float_out(f, t)

    # --- jumps: bisection keeping the half with the larger step; a jump keeps its size as the bracket
    # shrinks from ~1e-9 to the float resolution, a continuous function's step shrinks with the bracket
    yscale = float(np.max(np.abs(y)))
    sscale = float(np.max(np.abs(s)))
    ja, jb = a - h, b + h
    fa, fb = F(ja), F(jb)
    step_mid = np.abs(fb - fa)
    for it in range(64):
        m = 0.5 * (ja + jb)
        fm = F(m)
        left = np.abs(fm - fa) >= np.abs(fb - fm)
        jb, fb = np.where(left, m, jb), np.where(left, fm, fb)
        ja, fa = np.where(left, ja, m), np.where(left, fa, fm)
        if it == 20:
            step_mid = np.abs(fb - fa)
    step = np.abs(fb - fa)
    is_jump = (step >= 0.5 * step_mid) & (step > 1e-12 * yscale) & (step > 0)
    jumps = _dedupe(0.5 * (ja + jb)[is_jump], 2 * h)

    # --- kinks (among the non-jump candidates)
    centers = (0.5 * (a + b))[~is_jump]
    kinks = []
    for k0 in range(0, centers.size, 2000):  # bounded memory
        kinks.extend(_refine_kinks(F, centers[k0:k0 + 2000], 2 * h, sscale))
    kinks = _dedupe(kinks, 2 * h)
    kinks = tuple(k for k in kinks if all(abs(k - j) > 2 * h for j in jumps))
    return kinks, jumps


def _refine_kinks(F, centers, half, sscale, m=200, iterations=3):
    """Zoom into windows ``centers +- half``: keep the cell with the largest slope change, three times.

    Returns the positions (intersection of the tangent lines left and right of that cell) of the windows
    whose slope change across two cells stays at least half its initial size while the spacing falls by
    ~5e-3 per zoom (a smooth function's falls with the spacing), above 1e-6 of the slopes and above the
    round-off level.
    """
    if centers.size == 0:
        return []
    eps = np.finfo(float).eps
    t = np.linspace(0.0, 1.0, m + 1)
    lo, hi = centers - half, centers + half
    rows = np.arange(centers.size)
    w0 = None
    for _ in range(iterations):
        X = lo[:, None] + (hi - lo)[:, None] * t
        Y = F(X.ravel()).reshape(X.shape)
        dx = (hi - lo) / m
        S = np.diff(Y, axis=1) / dx[:, None]
        W = S[:, 2:] - S[:, :-2]  # slope change across cell j+1
        jj = np.argmax(np.abs(W), axis=1)
        wmax = np.abs(W[rows, jj])
        if w0 is None:
            w0 = wmax
        x1, x2 = X[rows, jj + 1], X[rows, jj + 2]
        lo, hi = 0.5 * (x1 + x2) - 1.5 * dx, 0.5 * (x1 + x2) + 1.5 * dx
    sl, sr = S[rows, jj], S[rows, jj + 2]
    y1, y2 = Y[rows, jj + 1], Y[rows, jj + 2]
    den = sl - sr
    ok = den != 0
    p = np.where(ok, (y2 - y1 + sl * x1 - sr * x2) / np.where(ok, den, 1.0), 0.5 * (x1 + x2))
    p = np.clip(p, x1, x2)
    noise = 10 * eps * (np.max(np.abs(Y), axis=1) + np.abs(centers) * (np.abs(sl) + np.abs(sr))) / dx
    keep = (wmax >= 0.5 * w0) & (wmax > 1e-6 * (np.abs(sl) + np.abs(sr)) + 1e-9 * sscale) & (wmax > noise)
    return list(p[keep])


def _dedupe(points, tol):
    out = []
    for p in np.sort(np.asarray(points, dtype=float)):
        if not out or p - out[-1] > tol:
            out.append(p)
    return tuple(_snap(float(p)) for p in out)


# ============================================================================ numerical derivative
class NumericDerivative:
    r"""Numerical derivative of a NumPy callable, aware of its kinks.

    * ``method="complex-step"``: :math:`f'(x) = \operatorname{Im} f(x + ih)/h` with :math:`h = 10^{-20}`,
      exact to rounding (relative error ~1e-15) for callables that are analytic and accept complex input;
    * ``method="richardson"``: central differences :math:`D(h) = (f(x+h)-f(x-h))/2h` at
      :math:`h, h/2, h/4` (:math:`h = 2^{-8}\max(1,|x|/1000)`, shrunk to a quarter of the distance to the
      nearest kink) with two Richardson steps (truncation error :math:`O(h^6)`, relative error about
      1e-10 for smooth activations); within :math:`10^{-6}\max(1,|x|)` of a kink, second-order one-sided
      differences on the side of :math:`x` (left at the kink itself) with two Richardson steps
      (:math:`O(h^4)`).

    :meth:`with_error` returns the Richardson error estimate :math:`|R_2 - R_1|` (0 for complex step).
    """

    def __init__(self, f, kinks=(), method="richardson", h0=2.0**-8):
        self.f = f
        self.kinks = np.asarray(sorted(kinks), dtype=float)
        self.method = method
        self.h0 = h0

    def _F(self, t):
        return _float_out(self.f, t)

    def __call__(self, x, xp=None):
        return self.with_error(x)[0]

    def with_error(self, x):
        """``(derivative, error_estimate)`` at ``x`` (NumPy float64)."""
        x = np.asarray(x, dtype=float)
        if self.method == "complex-step":
            with np.errstate(all="ignore"):
                d = np.asarray(np.imag(self.f(x + 1e-20j)) / 1e-20, dtype=float)
            return np.broadcast_to(d, x.shape).copy(), np.zeros(x.shape)
        return self._richardson(x)

    def _richardson(self, x):
        F = self._F
        h = self.h0 * np.maximum(1.0, 1e-3 * np.abs(x))
        one_sided = np.zeros(x.shape, dtype=bool)
        side = np.ones(x.shape)
        if self.kinks.size:
            dist = np.abs(x[..., None] - self.kinks)
            nearest = np.argmin(dist, axis=-1)
            dmin = np.take_along_axis(dist, nearest[..., None], axis=-1)[..., 0]
            kpos = self.kinks[nearest]
            one_sided = dmin < 1e-6 * np.maximum(1.0, np.abs(x))
            side = np.where(x > kpos, 1.0, -1.0)
            # central: stay within a quarter of the distance to the nearest kink
            h = np.where(one_sided, h, np.minimum(h, dmin / 4))
            # one-sided: stay clear of the next kink on that side
            if np.any(one_sided):
                ahead = (self.kinks - x[..., None]) * side[..., None]
                ahead = np.where(ahead > 1e-6 * np.maximum(1.0, np.abs(x))[..., None], ahead, np.inf)
                gap = np.min(ahead, axis=-1)
                h = np.where(one_sided, np.minimum(h, gap / 4), h)

        def D(k):
            hh = h / k
            return (F(x + hh) - F(x - hh)) / (2 * hh)

        d1, d2, d4 = D(1), D(2), D(4)
        r1a, r1b = (4 * d2 - d1) / 3, (4 * d4 - d2) / 3
        central = (16 * r1b - r1a) / 15
        err = np.abs(central - r1b)
        if np.any(one_sided):
            f0 = F(x)

            def S(k):
                hh = h / k
                return side * (-3 * f0 + 4 * F(x + side * hh) - F(x + 2 * side * hh)) / (2 * hh)

            s1, s2, s4 = S(1), S(2), S(4)
            t1a, t1b = (4 * s2 - s1) / 3, (4 * s4 - s2) / 3
            os = (8 * t1b - t1a) / 7
            central = np.where(one_sided, os, central)
            err = np.where(one_sided, np.abs(os - t1b), err)
        return central, err


def _complex_step_ok(f, kinks):
    """Whether the complex step reproduces Richardson differences away from kinks (analytic callable)."""
    x = np.linspace(PROBE_RANGE[0] + 0.1, PROBE_RANGE[1] - 0.1, 401) + 0.001234
    if len(kinks):
        x = x[np.min(np.abs(x[:, None] - np.asarray(kinks)), axis=1) > 0.05]
    try:
        with np.errstate(all="ignore"):
            yc = np.asarray(f(x + 0j))
            cs = np.asarray(np.imag(f(x + 1e-20j)) / 1e-20, dtype=float)
    except Exception:  # noqa: BLE001  (user or SymPy code may raise anything)
        return False
    if yc.shape != x.shape or not np.iscomplexobj(yc) or not np.all(np.isfinite(cs)):
        return False
    y = _float_out(f, x)
    if not np.allclose(np.real(yc), y, rtol=1e-13, atol=1e-13 * (1 + np.max(np.abs(y)))):
        return False
    rich, err = NumericDerivative(f, kinks)._richardson(x)
    # points where the differences are unreliable (features narrower than the step) are no evidence
    reliable = err <= 1e-6 * (1.0 + np.abs(rich))
    if reliable.mean() < 0.9:
        return False
    return bool(np.all(np.abs(cs - rich)[reliable] <= (1e-7 * (1.0 + np.abs(rich)) + 10 * err)[reliable]))


# ============================================================================ callables
def _wrap_numpy(g):
    """``g(x)`` (NumPy) as an array-API function ``(x, xp)``; other namespaces go through NumPy."""

    def fn(x, xp):
        if xp is np or xp is None:
            return _float_out(g, np.asarray(x, dtype=float))
        out = _float_out(g, np.asarray(x))
        return xp.asarray(out, dtype=x.dtype)

    return fn


def from_callable(fn, deriv=None, name: str | None = None, second_deriv=None, kinks=None,
                  jumps=None) -> Activation:
    r"""A user activation from a NumPy callable ``fn(x)``, with the guarantees of the built-ins.

    Parameters
    ----------
    fn : callable
        :math:`\phi`, elementwise on NumPy arrays (a scalar-only callable is wrapped with
        ``np.vectorize``). Must be finite for finite input (probed on ``PROBE_RANGE``).
    deriv, second_deriv : callable, optional
        :math:`\phi'`, :math:`\phi''`. Without ``deriv`` the derivative is numerical
        (:class:`NumericDerivative`): complex step (relative error ~1e-15) when ``fn`` accepts complex
        input and agrees with finite differences there, otherwise Richardson-extrapolated differences
        (relative error ~1e-10 for smooth :math:`\phi`); without ``second_deriv``,
        :meth:`~statfield.activations.Activation.second_derivative` differentiates :math:`\phi'`
        numerically (relative error ~1e-9).
    name : str, optional
        Display name (default ``fn.__name__``). Never used to select closed forms: a callable named
        ``"gelu"`` is integrated numerically.
    kinks, jumps : sequence of float, optional
        Non-smooth points; by default detected numerically on ``PROBE_RANGE`` (:func:`detect_nonsmooth`).

    Raises
    ------
    TypeError
        ``fn`` is not callable, or cannot be evaluated on floats.
    ValueError
        ``fn`` (or ``deriv``) returns a non-finite or complex value for a finite input.
    """
    if not callable(fn):
        raise TypeError(f"activation must be callable, got {type(fn).__name__}")
    if name is None:
        name = getattr(fn, "__name__", None) or "user"
        if name == "<lambda>":
            name = "user_callable"
    f = _numpy_callable(fn, name)
    _, y = _probe(f, name)
    if kinks is None or jumps is None:
        k_det, j_det = detect_nonsmooth(f, y=y)
        kinks = k_det if kinks is None else kinks
        jumps = j_det if jumps is None else jumps
    kinks = tuple(sorted(float(k) for k in kinks))
    jumps = tuple(sorted(float(j) for j in jumps))
    numeric_second = None
    if deriv is not None:
        if not callable(deriv):
            raise TypeError("deriv must be callable")
        d = _numpy_callable(deriv, f"{name}'")
        _probe(d, name, "phi'")
        method = "exact"
        dnum = None
    else:
        method = "complex-step" if _complex_step_ok(f, kinks) else "richardson"
        dnum = NumericDerivative(f, kinks, method)
        d = dnum
    if second_deriv is not None:
        if not callable(second_deriv):
            raise TypeError("second_deriv must be callable")
        d2 = _numpy_callable(second_deriv, f"{name}''")
        _probe(d2, name, "phi''")
    else:
        d2 = None
        first = d if dnum is None else dnum
        nd2 = NumericDerivative(lambda t: _float_out(first, np.asarray(t, dtype=float)), kinks, "richardson",
                                h0=2.0**-7)
        numeric_second = _wrap_numpy(nd2)
    act = Activation(name=name, fn=_wrap_numpy(f), deriv=_wrap_numpy(d), second_deriv=None if d2 is None
                     else _wrap_numpy(d2), kinks=kinks, jumps=jumps, derivative_method=method,
                     numeric_second_deriv=numeric_second)
    if dnum is not None:
        act.__dict__["numeric_derivative"] = dnum
    return act


# ============================================================================ SymPy
_NONSMOOTH_FUNCS = ("Heaviside", "Max", "Min", "Abs", "sign", "Piecewise")


def _to_piecewise(expr):
    import sympy as sp

    e = expr
    for cls in (sp.Heaviside, sp.Max, sp.Min, sp.Abs, sp.sign):
        if e.has(cls):
            e = e.rewrite(sp.Piecewise)
            break
    if e.has(sp.Piecewise):
        e = sp.piecewise_fold(e)
    return e


def _diff_ae(e, x):
    """One derivative of a (Piecewise-rewritten) expression, DiracDelta dropped."""
    import sympy as sp

    e = sp.diff(e, x)
    e = e.replace(lambda t: isinstance(t, sp.DiracDelta), lambda t: sp.S.Zero)
    if e.has(sp.Piecewise):
        e = sp.piecewise_fold(e)
    return e


def sympy_derivative(expr, x, order=1):
    r""":math:`d^n\phi/dx^n` almost everywhere, without ``DiracDelta``.

    ``Heaviside``, ``Max``, ``Min``, ``Abs`` and ``sign`` are rewritten as ``Piecewise`` (SymPy
    differentiates ``Piecewise`` piece by piece); any ``DiracDelta`` left (from functions SymPy cannot
    rewrite) is dropped: it is supported on a null set, and a jump of :math:`\phi` is reported separately
    through ``Activation.jumps``.
    """
    e = _to_piecewise(expr)
    for _ in range(order):
        e = _diff_ae(e, x)
    return e


def _piecewise_linear_slopes(expr, x):
    r"""``(a_plus, a_minus)`` if :math:`\phi(z) = a_+z\theta(z) + a_-z\theta(-z)` exactly, else None."""
    import sympy as sp

    p = sp.Symbol("_p", positive=True)
    out = []
    for sgn in (1, -1):
        try:
            e = sp.expand(expr.subs(x, sgn * p))
            if e.has(sp.Piecewise):
                e = sp.expand(sp.piecewise_fold(e))
        except Exception:  # noqa: BLE001  (user or SymPy code may raise anything)
            return None
        if e.has(sp.Piecewise, sp.Heaviside, sp.Max, sp.Min, sp.Abs, sp.sign) or not e.is_polynomial(p):
            return None
        poly = sp.Poly(sp.expand(e), p)
        if poly.degree() > 1 or poly.coeff_monomial(1) != 0:
            return None
        c = poly.coeff_monomial(p)
        if not c.is_number:
            return None
        c = complex(sp.N(c))
        if c.imag != 0 or not math.isfinite(c.real):
            return None
        out.append(c.real * sgn + 0.0)  # phi(-p) = a_- (-p); + 0.0 turns -0.0 into 0.0
    return out[0], out[1]


def _sympy_boundaries(pw, x):
    """Real points where the Piecewise structure of ``pw`` may switch."""
    import sympy as sp
    from sympy.core.relational import Relational

    pts = set()
    for rel in pw.atoms(Relational):
        if not rel.has(x):
            continue
        try:
            sols = sp.solve(sp.Eq(rel.lhs - rel.rhs, 0), x)
        except Exception:  # noqa: BLE001, S112  (user or SymPy code may raise anything)
            continue
        for s in sols:
            try:
                v = complex(sp.N(s))
            except Exception:  # noqa: BLE001, S112  (user or SymPy code may raise anything)
                continue
            if v.imag == 0 and math.isfinite(v.real):
                pts.add(float(v.real))
    return sorted(pts)


def from_sympy(expr, symbol, name: str | None = None) -> Activation:
    r"""A user activation from a SymPy expression in ``symbol``.

    * Piecewise linear through 0 (:math:`\phi = a_+z\theta(z) + a_-z\theta(-z)`; e.g. ``Max(x, 0)``,
      ``Abs(x)``, ``x*Heaviside(x)``, ``Piecewise((x, x > 0), (0, True))``): returns
      :func:`~statfield.activations.piecewise_linear` ``(a_plus, a_minus, name)`` with its closed forms.
    * Otherwise derivatives are taken piecewise (:func:`sympy_derivative`, no ``DiracDelta``) and the
      kinks and jumps (``act.kinks``, ``act.jumps``) come from the ``Piecewise`` boundaries, classified by
      one-sided evaluation, plus a numerical scan (:func:`detect_nonsmooth`) for functions SymPy cannot
      rewrite. A discontinuous :math:`\phi` (``sign``, ``Heaviside``) refuses derivatives: its
      :math:`\mathbb E[\phi'^2]` is infinite.

    Raises
    ------
    TypeError
        ``symbol`` is not a SymPy symbol.
    ValueError
        ``expr`` has another free symbol, or is not finite and real on ``PROBE_RANGE``.
    """
    import sympy as sp

    if not isinstance(symbol, sp.Symbol):
        raise TypeError("symbol must be a sympy.Symbol")
    expr = sp.sympify(expr)
    others = expr.free_symbols - {symbol}
    if others:
        raise ValueError(f"activation: the SymPy expression must depend on {symbol} only, "
                         f"also has {sorted(map(str, others))}")
    name = name or f"sympy({expr})"
    slopes = _piecewise_linear_slopes(expr, symbol)
    if slopes is not None:
        from .builtin import piecewise_linear

        return piecewise_linear(slopes[0], slopes[1], name=name)

    xr = sp.Symbol("x", real=True)
    e = expr.subs(symbol, xr)
    mods = ["scipy", "numpy"]
    f_raw = sp.lambdify(xr, e, modules=mods)
    pw = _to_piecewise(e)
    d1 = _diff_ae(pw, xr)
    d2 = _diff_ae(d1, xr)
    d1_raw = sp.lambdify(xr, d1, modules=mods)
    d2_raw = sp.lambdify(xr, d2, modules=mods)

    def npf(g):
        return lambda t: _float_out(g, np.asarray(t, dtype=float))

    f, fd1, fd2 = npf(f_raw), npf(d1_raw), npf(d2_raw)
    _, y = _probe(f, name)
    kinks, jumps = set(), set()
    if pw.has(sp.Piecewise):
        for b in _sympy_boundaries(pw, xr):
            eta = 1e-9 * max(1.0, abs(b))
            fl, fr = f(np.array([b - eta, b + eta]))
            if abs(fr - fl) > 1e-6 * (1.0 + abs(fl) + abs(fr)):
                jumps.add(b + 0.0)
                continue
            dl, dr = fd1(np.array([b - eta, b + eta]))
            if abs(dr - dl) > 1e-8 * (1.0 + abs(dl) + abs(dr)):
                kinks.add(b + 0.0)
    k_num, j_num = detect_nonsmooth(f, y=y)
    for src, dst in ((k_num, kinks), (j_num, jumps)):
        for p in src:
            if all(abs(p - q) > 1e-6 * max(1.0, abs(p)) for q in kinks | jumps):
                dst.add(p)
    kinks -= jumps

    def wrap(g):
        def fn(x, xp):
            if xp is np or xp is None:
                return g(np.asarray(x, dtype=float))
            return xp.asarray(g(np.asarray(x)), dtype=x.dtype)

        return fn

    return Activation(name=name, fn=wrap(f), deriv=wrap(fd1), second_deriv=wrap(fd2),
                      sympy_fn=lambda x: expr.subs(symbol, x), kinks=tuple(sorted(kinks)),
                      jumps=tuple(sorted(jumps)), derivative_method="sympy")

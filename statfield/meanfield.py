r"""Mean-field signal propagation, NNGP and NTK kernels (Poole et al. 2016; Schoenholz et al. 2017).

Conventions (``docs/conventions.md``): :math:`z^l = W^l\phi(z^{l-1}) + b^l`, :math:`W^l_{ij}\sim N(0,\sigma_w^2/N_{l-1})`
(fan-in), :math:`b^l_i\sim N(0,\sigma_b^2)`; ``sigma_w2``, ``sigma_b2`` are the *variances*;
:math:`q^l = |z^l|^2/N` is the per-unit second moment of the pre-activations; :math:`z\sim N(0,1)`.

Maps and fixed points (arXiv:1606.05340 Eqs. 3, 5; arXiv:1611.01232 Eqs. 3-9)

* q-map :math:`q^{l+1} = \sigma_w^2\,\mathbb{E}_z[\phi(\sqrt{q^l}z)^2] + \sigma_b^2`; :math:`q^*` its fixed point,
  **defined as the smallest stable fixed point in** :math:`[0,\infty)` (the one the iteration reaches from
  small inputs; for tanh with :math:`\sigma_b^2 = 0 < \sigma_w^2 - 1` the unstable :math:`q = 0` is skipped).
* :math:`\chi_q = \partial q^{l+1}/\partial q^l|_{q^*} = \sigma_w^2\,\mathbb{E}[\phi'^2 + \phi\phi'']` (Stein),
  :math:`\xi_q = -1/\ln\chi_q`.
* c-map (correlation coefficient of two inputs with equal :math:`q`):
  :math:`c^{l+1} = (\sigma_w^2\mathbb{E}[\phi(u)\phi(v)] + \sigma_b^2)/(\sigma_w^2\mathbb{E}[\phi(u)^2]+\sigma_b^2)`,
  :math:`(u,v)` centred Gaussian with variances :math:`q` and correlation :math:`c` (the denominator is
  :math:`q^*` at :math:`q = q^*`, Schoenholz Eq. 4).
* :math:`\chi_1 = \sigma_w^2\,\mathbb{E}[\phi'(\sqrt{q^*}z)^2]` (slope of the c-map at :math:`c = 1`);
  ordered phase :math:`\chi_1 < 1` (:math:`c^* = 1`), chaotic :math:`\chi_1 > 1` (:math:`c^* < 1`, the unique
  fixed point in :math:`[0,1)`: the c-map is a power series in :math:`c` with non-negative coefficients,
  hence convex on :math:`[0,1]`), critical :math:`\chi_1 = 1`.
* :math:`\chi_c = \sigma_w^2\,\mathbb{E}[\phi'(u)\phi'(v)]` at :math:`(q^*, c^*)` (equals :math:`\chi_1` in the
  ordered phase), :math:`\xi_c = -1/\ln\chi_c`; :math:`\xi = \infty` at :math:`\chi = 1` (criticality).
* Critical line :math:`\chi_1 = 1`, parametrised exactly by :math:`q^*`:
  :math:`\sigma_w^2 = 1/\mathbb{E}[\phi'(\sqrt q z)^2]`, :math:`\sigma_b^2 = q - \mathbb{E}[\phi(\sqrt q z)^2]/
  \mathbb{E}[\phi'(\sqrt q z)^2]`.

Evaluation (dispatch on the :class:`~statfield.activations.Activation` object, never on its name)

* Single-input moments :math:`\mathbb E\phi^2`, :math:`\mathbb E\phi'^2`, :math:`dm/dq` from
  ``act.closed_moments(q)`` where the activation carries them (piecewise linear
  :math:`\phi = a_+z\theta(z) + a_-z\theta(-z)` with :math:`\kappa = (a_+^2+a_-^2)/2`: :math:`m = \kappa q`, so
  :math:`q^* = \sigma_b^2/(1-\kappa\sigma_w^2)` and :math:`\chi_1 = \chi_q = \kappa\sigma_w^2`; erf, Williams 1997;
  exact GELU); a key the activation lacks is computed by quadrature.
* Otherwise :mod:`statfield.quadrature`: the trapezoid rule for smooth :math:`\phi` and moderate ``q``
  (relative error :math:`\le 10^{-13}`, tested against mpmath); graded Gauss–Legendre panels split exactly at
  ``act.kinks`` (hard tanh, user piecewise functions) and for ``q > Q_TRAP`` (nodes grow like
  :math:`\log q`, bounded memory). :math:`dm/dq` by Stein's lemma when :math:`\phi` is smooth with a known
  :math:`\phi''`, else by the score identity :math:`\mathbb E[\phi^2(z^2-1)]/(2q)` (exact at kinks).
* Two-input quantities: ``act.kernel``/``act.deriv_kernel`` closed forms (arc-cosine kernels, Cho & Saul 2009;
  erf; GELU); otherwise Mehler's series with a Parseval tail bound (smooth :math:`\phi`) or the graded 2-D rule
  (kinked :math:`\phi`). Just above the critical line :math:`c^*` is solved in :math:`1 - c` without
  cancellation (:func:`c_star`), so depth scales stay positive and accurate.
* :math:`\phi'` is needed for :math:`\chi_1`, :math:`\chi_c`, the phase and the NTK; if the activation cannot
  evaluate it (``act.derivative`` raises) these raise ``ValueError`` naming the activation — never NaN.

Degenerate cases (documented decisions)

* No stable fixed point (:math:`\kappa\sigma_w^2 > 1` for piecewise-linear :math:`\phi`, or no stable fixed point
  of the q-map below :math:`q = 10^6`): **scalar** input raises ``ValueError`` naming the point; **array**
  input returns NaN at exactly those points with a :class:`NoFixedPointWarning` (count and first point), and
  :func:`phase` / :class:`PhaseDiagram` label them ``"unbounded"`` — one rule for :func:`q_star`,
  :func:`chi1`, :func:`chi_q`, :func:`c_star`, :func:`chi_c`, :func:`depth_scales`, :func:`cmap` and
  :func:`phase_diagram` (NaN plus label there, no warning).
* :math:`\kappa\sigma_w^2 = 1`, :math:`\sigma_b^2 = 0` (e.g. ReLU at the He point): every :math:`q` is a fixed
  point; :func:`q_star` raises (undefined), but :func:`chi1` = 1, :func:`c_star` = 1, the phase is critical.
* :math:`q^* = 0` (:math:`\sigma_b^2 = 0`, stable zero): :math:`\chi_1 = \sigma_w^2\phi'(0)^2`, :math:`c^* = 1`,
  :math:`\chi_c = \chi_1` (the :math:`\sigma_b^2\to0^+` limit).
* Criticality: :math:`|\chi - 1| \le` :data:`CHI_CRITICAL_TOL` gives :math:`\xi = \infty` (a larger finite
  value would be rounding noise); :func:`phase` calls :math:`|\chi_1 - 1|\le` ``tol`` (default
  :math:`10^{-10}`) critical, with the same rule in :func:`phase_diagram`.
* Overflow: results that do not fit in float64 (:func:`qmap`/:func:`cmap` at huge ``q``, deep chaotic
  kernels in :func:`nngp_kernel`/:func:`ntk_kernel`) raise ``OverflowError`` (naming the layer for kernels).

Backward pass: :func:`ntk_kernel`, :func:`ntk_diagonal`, :func:`ntk_depth_profile` and the ``ntk_limit`` /
``xi_ntk`` fields of :class:`PhaseDiagram` (Jacot et al. 2018; Xiao, Pennington & Schoenholz 2020).

All public functions take scalars or arrays of ``sigma_w2``/``sigma_b2`` (broadcast) and return python
floats for scalar input.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from ._checks import check_finite, check_int
from .activations import Activation, get_activation
from .quadrature import (
    H0,
    QuadratureWarning,
    _breakpoints,
    _trap_1d_many,
    hermite_coefficients,
)

__all__ = [
    "CHI_CRITICAL_TOL",
    "MeanField",
    "NTKDepthProfile",
    "NoFixedPointWarning",
    "PhaseDiagram",
    "c_star",
    "chi1",
    "chi_c",
    "chi_q",
    "cmap",
    "critical_line",
    "critical_sigma_w2",
    "depth_scales",
    "mean_field",
    "nngp_kernel",
    "ntk_depth_profile",
    "ntk_diagonal",
    "ntk_kernel",
    "phase",
    "phase_diagram",
    "q_star",
    "qmap",
]

Q_MAX = 1.0e6
_QGRID = 10.0 ** np.arange(-14.0, 6.0 + 1e-9, 1.0 / 32.0)
_EPS = np.finfo(float).eps


# ============================================================================ inputs
def _act(activation) -> Activation:
    return get_activation(activation)


def _params(sigma_w2, sigma_b2, *extra):
    """Validate and broadcast; returns (scalar?, arrays...)."""
    sw = np.asarray(check_finite(sigma_w2, "sigma_w2"), dtype=float)
    sb = np.asarray(check_finite(sigma_b2, "sigma_b2"), dtype=float)
    if np.any(sw <= 0):
        raise ValueError(f"sigma_w2 must be finite and > 0, got {sigma_w2!r}")
    if np.any(sb < 0):
        raise ValueError(f"sigma_b2 must be finite and >= 0, got {sigma_b2!r}")
    arrs = np.broadcast_arrays(sw, sb, *[np.asarray(e, dtype=float) for e in extra])
    scalar = all(np.ndim(a) == 0 for a in (sigma_w2, sigma_b2, *extra))
    return scalar, [np.array(a, dtype=float) for a in arrs]


def _out(x, scalar):
    x = np.asarray(x, dtype=float)
    return float(x) if scalar else x


def _kappa(act):
    return 0.5 * (act.a_plus**2 + act.a_minus**2)


# ============================================================================ single-input moments
def _moments(act, q, need_dm=True, need_p=True):
    r"""(m, p, dm) at q (any shape): m = E[phi^2], p = E[phi'^2], dm = dm/dq = E[phi'^2 + phi phi''].

    Closed forms from ``act.closed_moments(q)`` where present (a missing key is computed by quadrature);
    the rest by :func:`_gauss_moments`. Entries not requested are NaN.
    """
    q = np.asarray(q, dtype=float)
    cm = getattr(act, "closed_moments", None)
    res = None
    if cm is not None:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            res = cm(q)
    res = dict(res) if res else {}
    want = {"m": True, "p": need_p, "dm": need_dm}
    missing = [k for k, w in want.items() if w and k not in res]
    if missing:
        m, p, dm = _gauss_moments(act, q, need_dm="dm" in missing, need_p="p" in missing,
                                  need_m="m" in missing)
        res.setdefault("m", m)
        if need_p:
            res.setdefault("p", p)
        if need_dm:
            res.setdefault("dm", dm)
    nan = np.full(q.shape, np.nan)
    out = [np.broadcast_to(np.asarray(res[k], dtype=float), q.shape) if w else nan for k, w in want.items()]
    return tuple(np.array(o, dtype=float) for o in out)


def _derivative_or_raise(act, x):
    """phi'(x), or ValueError naming the activation (never NaN)."""
    try:
        return act.derivative(x, np)
    except ValueError:
        raise
    except Exception as exc:
        raise ValueError(f"activation {act.name!r}: its derivative cannot be evaluated ({exc}); chi1, chi_c "
                         "and the phase need phi' (pass deriv= or a SymPy expression)") from exc


def _gauss_moments(act, q, need_dm=True, h0=H0, need_p=True, need_m=True):
    """Quadrature moments for activations without closed forms (see statfield.quadrature).

    ``dm`` by Stein's lemma E[phi'^2 + phi phi''] when phi is smooth (no kinks) and phi'' is known exactly
    (given or from SymPy), otherwise by the score identity dm/dq = E[phi^2 (z^2 - 1)]/(2q), which holds for any
    phi (no derivative; at a kink phi'' would carry a delta that the Stein form misses).
    """
    flat = q.reshape(-1)
    if flat.size == 0:
        return np.empty(q.shape), np.empty(q.shape), np.empty(q.shape)
    kinks = _breakpoints(act)
    stein = (need_dm and not kinks and (act.second_deriv is not None or act.sympy_fn is not None)
             and not act.is_piecewise_linear)
    if need_p or stein:
        _derivative_or_raise(act, np.zeros(1))

    def fs(x, z):
        f = act.numpy(x)
        out = [f * f]
        if need_p or stein:
            d = _derivative_or_raise(act, x)
            if need_p:
                out.append(d * d)
            if stein:
                out.append(d * d + f * act.second_derivative(x, np))
        if need_dm and not stein:
            out.append(f * f * (z * z - 1.0))  # score identity: dm/dq = E[phi^2 (z^2-1)]/(2q)
        return out

    res = _trap_1d_many(fs, flat, h0, even=_has_parity(act), kinks=kinks)
    m = res[0]
    p = res[1] if need_p else np.full(flat.shape, np.nan)
    if need_dm:
        if stein:
            dm = res[-1]
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                dm = res[-1] / (2 * flat)
            small = flat == 0
            if np.any(small):  # q = 0: the limit dm/dq = phi'(0)^2 + phi(0) phi''(0)
                z0 = np.zeros(1)
                d0 = float(_derivative_or_raise(act, z0)[0])
                f0 = float(act.numpy(z0)[0])
                dm[small] = d0 * d0 + (f0 * float(act.second_derivative(z0, np)[0]) if f0 != 0 else 0.0)
    else:
        dm = np.full(flat.shape, np.nan)
    if not need_m:
        m = np.full(flat.shape, np.nan)
    return m.reshape(q.shape), p.reshape(q.shape), dm.reshape(q.shape)


_PARITY: dict = {}


def _parity(act):
    """``"odd"``, ``"even"`` or None: numerical parity of phi (checked on 97 points in [0.01, 12])."""
    key = id(act)
    if key not in _PARITY or _PARITY[key][0] is not act:
        x = np.linspace(0.01, 12.0, 97)
        with np.errstate(over="ignore", invalid="ignore"):
            a, b = act.numpy(x), act.numpy(-x)
        scale = np.maximum(np.abs(a), 1e-300)
        kind = None
        if np.all(np.abs(a + b) <= 1e-15 * scale) and float(act.numpy(np.array(0.0))) == 0.0:
            kind = "odd"
        elif np.all(np.abs(a - b) <= 1e-15 * scale):
            kind = "even"
        _PARITY[key] = (act, kind)
    return _PARITY[key][1]


def _has_parity(act):
    """True when phi is odd or even (then phi^2, phi'^2, phi phi'' are even in z)."""
    return _parity(act) is not None


def _m_only(act, q):
    return _moments(act, q, need_dm=False, need_p=False)[0]


_TABLES: dict = {}


def _qgrid_table(act):
    """(m, dm, m0) on the shared geometric q grid (cached per activation object)."""
    key = id(act)
    if key not in _TABLES or _TABLES[key][0] is not act:
        m, _, dm = _moments(act, _QGRID, need_p=False)
        m0 = float(act.numpy(np.array(0.0))) ** 2
        _TABLES[key] = (act, m, dm, m0)
    return _TABLES[key][1:]


def _quad_check(act, q):
    """Warn when the trapezoid error estimate at q is large (e.g. a kinked user activation)."""
    if act.is_piecewise_linear or act.has_closed_form("kernel"):
        return
    q = np.atleast_1d(q)
    q = q[np.isfinite(q)]
    if q.size == 0:
        return
    qq = np.array([q.max()])
    a = _gauss_moments(act, qq, False, H0, need_p=False)[0]
    b = _gauss_moments(act, qq, False, 2 * H0, need_p=False)[0]
    err = float((np.abs(a - b) / np.maximum(np.abs(a), 1e-300))[0])
    if err > 1e-8:
        warnings.warn(f"activation {act.name!r}: quadrature error estimate {err:.1e} at q={qq[0]:.3g} "
                      "(kinked or singular activation? use a closed form)", QuadratureWarning, stacklevel=3)


# ============================================================================ root finding (vectorised)
def _illinois(fun, a, b, fa, fb, maxiter=200):
    """Vectorised Illinois (modified regula falsi) on brackets [a, b] with fa*fb <= 0; fun(x, idx)."""
    a, b, fa, fb = (np.array(v, dtype=float) for v in (a, b, fa, fb))
    x = np.where(fa == 0, a, np.where(fb == 0, b, 0.5 * (a + b)))
    active = (fa != 0) & (fb != 0)
    side = np.zeros(a.shape, dtype=int)
    xprev = np.full(a.shape, np.inf)
    for _ in range(maxiter):
        idx = np.nonzero(active)[0]
        if idx.size == 0:
            break
        A, B, FA, FB = a[idx], b[idx], fa[idx], fb[idx]
        with np.errstate(divide="ignore", invalid="ignore"):
            c = (A * FB - B * FA) / (FB - FA)
        lo, hi = np.minimum(A, B), np.maximum(A, B)
        bad = ~np.isfinite(c) | (c <= lo) | (c >= hi)
        c = np.where(bad, 0.5 * (A + B), c)
        fc = fun(c, idx)
        same_b = np.sign(fc) == np.sign(FB)
        s = side[idx]
        # replace b
        b[idx] = np.where(same_b, c, B)
        fb[idx] = np.where(same_b, fc, FB)
        fa[idx] = np.where(same_b & (s == -1), FA / 2, fa[idx])
        # replace a
        a[idx] = np.where(~same_b, c, a[idx])
        fa[idx] = np.where(~same_b, fc, fa[idx])
        fb[idx] = np.where(~same_b & (s == 1), fb[idx] / 2, fb[idx])
        side[idx] = np.where(same_b, -1, 1)
        x[idx] = c
        done = (fc == 0) | (np.abs(c - xprev[idx]) <= 2 * _EPS * np.abs(c)) | (np.abs(b[idx] - a[idx]) <= 4 * _EPS * np.abs(c))
        xprev[idx] = c
        active[idx[done]] = False
    return x


def _q_star_arrays(act, sw, sb):
    """q* for arrays (same shape); returns (q, ok) with ok False where no stable fixed point exists.

    1. bracket: first sign change (+ to -) of g(q) = sw m(q) + sb - q on the shared grid ``_QGRID``
       (32 points per decade, m tabulated once per activation);
    2. initial guess: root of the cubic Hermite interpolant of g in the bracket (error ~1e-8);
    3. quasi-Newton with the exact g (quadrature) and the interpolated slope, kept inside the bracket;
    4. elements not converged after 6 steps: vectorised Illinois on the bracket.
    """
    shape = sw.shape
    sw, sb = sw.reshape(-1), sb.reshape(-1)
    if act.is_piecewise_linear:
        k = _kappa(act)
        r = 1.0 - k * sw
        ok = r > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            q = np.where(ok, sb / np.where(ok, r, 1.0), np.nan)
        return q.reshape(shape), ok.reshape(shape)
    mg, dmg, m0 = _qgrid_table(act)
    n = sw.size
    q = np.full(n, np.nan)
    ok = np.zeros(n, dtype=bool)
    g0 = sw * m0 + sb
    j = np.zeros(n, dtype=int)
    # coarse-to-fine search: one grid point per decade, then the 33 fine points of the decade
    stride = 32
    coarse = np.arange(0, _QGRID.size, stride)
    step = max(1, 2**21 // _QGRID.size)
    for s in range(0, n, step):
        sl = slice(s, s + step)
        negc = (sw[sl, None] * mg[coarse][None, :] + sb[sl, None] - _QGRID[coarse][None, :]) < 0
        has = negc.any(axis=1)
        jc = coarse[np.argmax(negc, axis=1)]
        win = np.clip(jc[:, None] - stride + np.arange(stride + 1)[None, :], 0, _QGRID.size - 1)
        negf = (sw[sl, None] * mg[win] + sb[sl, None] - _QGRID[win]) < 0
        jj = win[np.arange(win.shape[0]), np.argmax(negf, axis=1)]
        ok[sl] = has
        j[sl] = jj
        q[sl] = np.where(has & (jj == 0) & (g0[sl] == 0), 0.0, np.nan)
    todo = np.nonzero(ok & np.isnan(q))[0]
    if todo.size == 0:
        q[~ok] = np.nan
        return q.reshape(shape), ok.reshape(shape)
    w, b, jt = sw[todo], sb[todo], j[todo]
    jm = np.maximum(jt - 1, 0)
    lo = np.where(jt > 0, _QGRID[jm], 0.0)
    hi = _QGRID[jt]
    glo = np.where(jt > 0, w * mg[jm] + b - lo, g0[todo])
    ghi = w * mg[jt] + b - hi
    dlo = np.where(jt > 0, w * dmg[jm] - 1.0, w * dmg[0] - 1.0)
    dhi = w * dmg[jt] - 1.0
    # cubic Hermite interpolant of g on [lo, hi]; Newton on the interpolant (no quadrature)
    H = hi - lo

    def interp(t):
        t2, t3 = t * t, t * t * t
        val = (2 * t3 - 3 * t2 + 1) * glo + (t3 - 2 * t2 + t) * H * dlo + (-2 * t3 + 3 * t2) * ghi + (t3 - t2) * H * dhi
        der = ((6 * t2 - 6 * t) * glo + (3 * t2 - 4 * t + 1) * H * dlo + (-6 * t2 + 6 * t) * ghi
               + (3 * t2 - 2 * t) * H * dhi) / H
        return val, der

    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.clip(glo / (glo - ghi), 0.0, 1.0)
        for _ in range(8):
            v, d = interp(t)
            t = np.clip(t - v / (d * H), 0.0, 1.0)
            t = np.where(np.isfinite(t), t, 0.5)
    x = lo + t * H
    conv = np.zeros(todo.size, dtype=bool)
    a, bb, fa, fb = lo.copy(), hi.copy(), glo.copy(), ghi.copy()
    for _ in range(6):
        act_i = np.nonzero(~conv)[0]
        if act_i.size == 0:
            break
        xi = x[act_i]
        gi = w[act_i] * _m_only(act, xi) + b[act_i] - xi
        # keep the bracket
        pos = gi >= 0
        a[act_i] = np.where(pos, xi, a[act_i])
        fa[act_i] = np.where(pos, gi, fa[act_i])
        bb[act_i] = np.where(~pos, xi, bb[act_i])
        fb[act_i] = np.where(~pos, gi, fb[act_i])
        tt = np.clip((xi - lo[act_i]) / H[act_i], 0.0, 1.0)
        t2 = tt * tt
        slope = ((6 * t2 - 6 * tt) * glo[act_i] + (3 * t2 - 4 * tt + 1) * H[act_i] * dlo[act_i]
                 + (-6 * t2 + 6 * tt) * ghi[act_i] + (3 * t2 - 2 * tt) * H[act_i] * dhi[act_i]) / H[act_i]
        with np.errstate(divide="ignore", invalid="ignore"):
            xn = xi - gi / slope
        inside = np.isfinite(xn) & (xn > np.minimum(a[act_i], bb[act_i])) & (xn < np.maximum(a[act_i], bb[act_i]))
        xn = np.where(inside, xn, 0.5 * (a[act_i] + bb[act_i]))
        done = (gi == 0) | (np.abs(xn - xi) <= 4 * _EPS * np.abs(xi))
        x[act_i] = np.where(gi == 0, xi, xn)
        conv[act_i] = done
    rest = np.nonzero(~conv)[0]
    if rest.size:
        def g(xx, idx):
            ii = rest[idx]
            return w[ii] * _m_only(act, xx) + b[ii] - xx

        x[rest] = _illinois(g, a[rest], bb[rest], fa[rest], fb[rest])
    q[todo] = x
    q[~ok] = np.nan
    return q.reshape(shape), ok.reshape(shape)


def _no_fixed_point_error(act, sw, sb, ok):
    i = np.argmin(ok.reshape(-1))
    w, b = sw.reshape(-1)[i], sb.reshape(-1)[i]
    if act.is_piecewise_linear:
        lim = 1.0 / _kappa(act)
        if w * _kappa(act) == 1.0 and b == 0.0:
            return ValueError(f"sigma_w2 = {lim:g} with sigma_b2 = 0 is marginal for {act.name!r}: every q is a fixed "
                              "point (q^l = q^0), so q* is undefined; sigma_w2 must be < "
                              f"{lim:g} (or sigma_b2 > 0 with sigma_w2 < {lim:g})")
        return ValueError(f"no fixed point of the q-map for {act.name!r} at sigma_w2={w:g}, sigma_b2={b:g} "
                          f"(q^l diverges): sigma_w2 must be < {lim:g} = 2/(a_+^2 + a_-^2)")
    return ValueError(f"no stable fixed point of the q-map for {act.name!r} below q={Q_MAX:g} at sigma_w2={w:g}, "
                      f"sigma_b2={b:g} (q^l diverges): decrease sigma_w2")


class NoFixedPointWarning(RuntimeWarning):
    """Array input: some points have no stable fixed point; their results are NaN (see the module docstring)."""


def _q_star_checked(act, sw, sb, scalar=True):
    """q* on all points; scalar input without a fixed point raises, array input gets NaN there plus a warning."""
    q, ok = _q_star_arrays(act, sw, sb)
    _missing(act, sw, sb, ok, scalar)
    if np.any(ok):
        _quad_check(act, q[ok])
    return q, ok


def _missing(act, sw, sb, ok, scalar):
    if np.all(ok):
        return
    err = _no_fixed_point_error(act, sw, sb, ok)
    if scalar:
        raise err
    n_bad = int(np.size(ok) - np.count_nonzero(ok))
    warnings.warn(f"{n_bad} of {np.size(ok)} points have no stable fixed point (results NaN there, phase "
                  f"'unbounded'); first: {err}", NoFixedPointWarning, stacklevel=4)


# ============================================================================ public: single input
def qmap(activation, sigma_w2, sigma_b2, q):
    r"""The length map :math:`q^{l+1} = \sigma_w^2\,\mathbb{E}_z[\phi(\sqrt{q^l}\,z)^2] + \sigma_b^2`.

    Poole et al. 2016 (arXiv:1606.05340) Eq. 3; Schoenholz et al. 2017 Eq. 3. ``q >= 0``; arrays broadcast.
    """
    act = _act(activation)
    scalar, (sw, sb, q) = _params(sigma_w2, sigma_b2, q)
    if not np.all(np.isfinite(q) & (q >= 0)):  # NaN/inf would otherwise fail deep in the quadrature
        raise ValueError(f"q must be finite and >= 0, got {q!r}")
    with np.errstate(over="ignore", invalid="ignore"):
        out = sw * _m_only(act, q) + sb
    _finite_or_overflow("qmap", out, np.zeros(out.shape, dtype=bool), "q")
    return _out(out, scalar)


def _finite_or_overflow(fn, out, expected_nan, name):
    bad = ~np.isfinite(out) & ~expected_nan
    if np.any(bad):
        raise OverflowError(f"{fn}: the result overflows float64 (sigma_w2 * E[phi^2] + sigma_b2 at this {name} "
                            "is not representable); reduce q or sigma_w2")


def q_star(activation, sigma_w2, sigma_b2):
    r"""Fixed point :math:`q^*` of the q-map (the smallest stable one in :math:`[0,\infty)`).

    Piecewise linear: :math:`q^* = \sigma_b^2/(1 - \kappa\sigma_w^2)`, :math:`\kappa = (a_+^2+a_-^2)/2`
    (linear :math:`\sigma_b^2/(1-\sigma_w^2)`, ReLU :math:`\sigma_b^2/(1-\sigma_w^2/2)`), defined for
    :math:`\kappa\sigma_w^2 < 1`. Otherwise: bracket on a geometric grid of ``q`` in
    :math:`[10^{-14}, 10^6]` (first sign change of :math:`g(q) = \sigma_w^2\mathbb{E}[\phi^2] + \sigma_b^2 - q`
    from + to -), then vectorised Illinois iteration to machine precision.

    Raises
    ------
    ValueError
        ``sigma_w2 <= 0``, ``sigma_b2 < 0``, non-finite input, or no stable fixed point (the chaotic
        linear/ReLU regime :math:`\kappa\sigma_w^2 \ge 1`; ``q^l`` diverging beyond ``1e6``).
    """
    act = _act(activation)
    scalar, (sw, sb) = _params(sigma_w2, sigma_b2)
    q, ok = _q_star_checked(act, sw, sb, scalar)
    return _out(np.where(ok, q, np.nan), scalar)


def chi_q(activation, sigma_w2, sigma_b2):
    r""":math:`\chi_q = \partial q^{l+1}/\partial q^l` at :math:`q^*` :math:`= \sigma_w^2\mathbb{E}[\phi'^2+\phi\phi'']`.

    (Stein's lemma; Schoenholz et al. 2017, Eq. 5 and the text around it.) Piecewise linear:
    :math:`\kappa\sigma_w^2` at every ``q`` (returned without :math:`q^*`, like :func:`chi1`); erf:
    :math:`4\sigma_w^2/(\pi(1+2q^*)\sqrt{1+4q^*})`. Without :math:`\phi''` the score identity
    :math:`\mathbb{E}[\phi^2(z^2-1)]/(2q)` is used.
    """
    act = _act(activation)
    scalar, (sw, sb) = _params(sigma_w2, sigma_b2)
    if act.is_piecewise_linear:
        return _out(_kappa(act) * sw, scalar)
    return _out(_at_q_star(act, sw, sb, scalar, lambda q, w: w * _moments(act, q, need_p=False)[2]), scalar)


def chi1(activation, sigma_w2, sigma_b2):
    r""":math:`\chi_1 = \sigma_w^2\,\mathbb{E}_z[\phi'(\sqrt{q^*}z)^2]` (Poole 2016 Eq. 7, Schoenholz 2017 Eq. 6).

    Slope of the c-map at :math:`c = 1`. Piecewise linear: :math:`\kappa\sigma_w^2` at every ``q`` (ReLU
    :math:`\sigma_w^2/2`), returned without :math:`q^*` (so ReLU at :math:`\sigma_w^2 = 2`, :math:`\sigma_b^2=0`
    gives 1). At :math:`q^* = 0`: :math:`\sigma_w^2\phi'(0)^2`.
    """
    act = _act(activation)
    scalar, (sw, sb) = _params(sigma_w2, sigma_b2)
    if act.is_piecewise_linear:
        return _out(_kappa(act) * sw, scalar)
    return _out(_at_q_star(act, sw, sb, scalar, lambda q, w: w * _moments(act, q, need_dm=False)[1]), scalar)


def _at_q_star(act, sw, sb, scalar, fun):
    """fun(q*, sigma_w2) on the points with a fixed point, NaN elsewhere (array input only)."""
    q, ok = _q_star_checked(act, sw, sb, scalar)
    out = np.full(sw.shape, np.nan)
    if np.any(ok):
        out[ok] = fun(q[ok], sw[ok])
    return out


# ============================================================================ two inputs
def _kern(act, q, c):
    """E[phi(u) phi(v)] with Var = q, correlation c (closed forms or 2-D trapezoid)."""
    from .quadrature import kernel

    if act.is_piecewise_linear:  # homogeneous of degree 1 in q: no underflow of q*q at tiny q
        return q * np.asarray(act.kernel(1.0, 1.0, c), dtype=float)
    return np.asarray(kernel(act, q, q, q * c), dtype=float)


def cmap(activation, sigma_w2, sigma_b2, c, q=None):
    r"""Correlation map :math:`c^{l+1} = (\sigma_w^2\mathbb{E}[\phi(u)\phi(v)] + \sigma_b^2)/(\sigma_w^2\mathbb{E}[\phi(u)^2]+\sigma_b^2)`.

    :math:`(u, v)` centred Gaussian with variances ``q`` and correlation ``c`` (Poole 2016 Eq. 5, Schoenholz
    2017 Eq. 4; at ``q = q*`` the denominator is :math:`q^*`). ``q`` defaults to :math:`q^*`. ``c`` in
    :math:`[-1, 1]`. At ``q = 0`` with ``sigma_b2 = 0`` the limit is used: piecewise linear (scale invariant)
    evaluates at ``q = 1``; smooth :math:`\phi` with :math:`\phi(0) = 0 \neq \phi'(0)` give :math:`c`.
    Closed forms where the activation has them, else :func:`statfield.quadrature.expect2` (trapezoid rule; graded
    Gauss–Legendre panels split at the kinks and for ``q > Q_TRAP``: bounded memory at any ``q``). A result that
    overflows float64 raises ``OverflowError``.
    """
    act = _act(activation)
    scalar, (sw, sb, c) = _params(sigma_w2, sigma_b2, c)
    if np.any(np.abs(c) > 1):
        raise ValueError(f"c must lie in [-1, 1], got {c!r}")
    if q is None:
        qq, okq = _q_star_checked(act, sw, sb, scalar)
        qq = np.where(okq, qq, np.nan)
    else:
        qq = np.asarray(check_finite(q, "q"), dtype=float)
        if np.any(qq < 0):
            raise ValueError(f"q must be finite and >= 0, got {q!r}")
        scalar = scalar and np.ndim(q) == 0
    sw, sb, c, qq = np.broadcast_arrays(sw, sb, c, qq)
    degenerate = (qq == 0) & (sb == 0)
    if np.any(degenerate) and not act.is_piecewise_linear:
        f0 = float(act.numpy(np.array(0.0)))
        d0 = float(_derivative_or_raise(act, np.zeros(1))[0])
        if f0 != 0 or d0 == 0:
            raise ValueError("cmap at q = 0 with sigma_b2 = 0 is undefined for this activation: q must be > 0")
    qe = np.where(degenerate | np.isnan(qq), 1.0, qq)
    with np.errstate(over="ignore", invalid="ignore"):
        num = sw * _kern(act, qe, c) + sb
        den = sw * _m_only(act, qe) + sb
        out = num / den
    _finite_or_overflow("cmap", out, np.isnan(qq), "q")
    out = np.where(np.isnan(qq), np.nan, out)
    if not act.is_piecewise_linear:
        out = np.where(degenerate, c, out)
    # round-off only (|excess| <= 1e-13); a larger excess would be a bug and is left visible
    out = np.where(np.abs(out) > 1.0, np.where(np.abs(out) - 1.0 <= 1e-13, np.sign(out), out), out)
    return _out(out, scalar)


def _c_star_arrays(act, sw, sb, q, chi1_):
    """(c*, chi_c) for arrays; chaotic points solved by Newton from c = 0 (monotone: the map is convex)."""
    cs = np.ones(sw.shape)
    chic = np.array(chi1_, dtype=float)
    chaotic = chi1_ > 1.0
    idx = np.nonzero(chaotic)[0]
    if idx.size == 0:
        return cs, chic
    w, b, qq = sw[idx], sb[idx], q[idx]
    well_posed = chi1_[idx] - 1.0 >= _NEAR_CRITICAL
    closed = act.has_closed_form("kernel") and act.has_closed_form("deriv_kernel")
    if closed and np.all(well_posed):
        def G(c, sub):
            q_, w_, b_ = qq[sub], w[sub], b[sub]
            return (w_ * act.kernel(q_, q_, q_ * c) + b_) / q_ - c, w_ * act.deriv_kernel(q_, q_, q_ * c) - 1.0

        c, dG = _newton_from_zero(G, idx.size)
        cs[idx] = c
        chic[idx] = dG + 1.0
        return cs, chic
    if _breakpoints(act) and not closed:
        # kinked: the Hermite coefficients decay algebraically; 2-D graded quadrature split at the kinks
        from .quadrature import deriv_kernel, kernel

        def G(c, sub):
            q_, w_, b_ = qq[sub], w[sub], b[sub]
            e = np.asarray(kernel(act, q_, q_, q_ * c), dtype=float)
            ed = np.asarray(deriv_kernel(act, q_, q_, q_ * c), dtype=float)
            return (w_ * e + b_) / q_ - c, w_ * ed - 1.0

        c, dG = _newton_from_zero(G, idx.size, maxiter=60)
        cs[idx] = c
        chic[idx] = dG + 1.0
        return cs, chic
    if closed:  # closed forms away from the critical line, Mehler's series close to it
        far = np.nonzero(well_posed)[0]
        if far.size:
            sub_cs, sub_cc = _c_star_arrays(act, w[far], b[far], qq[far], chi1_[idx][far])
            cs[idx[far]], chic[idx[far]] = sub_cs, sub_cc
        near = np.nonzero(~well_posed)[0]
        c, cc = _c_star_mehler(act, w[near], b[near], qq[near])
        cs[idx[near]], chic[idx[near]] = c, cc
        return cs, chic
    far = np.nonzero(well_posed)[0]
    if far.size:
        c, cc = _c_star_mehler_far(act, w[far], b[far], qq[far])
        cs[idx[far]], chic[idx[far]] = c, cc
    near = np.nonzero(~well_posed)[0]
    if near.size:
        c, cc = _c_star_mehler(act, w[near], b[near], qq[near])
        cs[idx[near]], chic[idx[near]] = c, cc
    return cs, chic


def _c_star_mehler_far(act, w, b, qq):
    """(c*, chi_c) away from the critical line: Newton from c = 0 on Mehler's series (monotone, convex map)."""
    idx = np.arange(qq.size)
    cs = np.ones(qq.size)
    chic = np.ones(qq.size)
    # Mehler series with Parseval tail, K adapted to the tail bound; at the fixed point
    # E[phi^2](q*) = (q* - sigma_b2)/sigma_w2 exactly, so no further quadrature is needed for m
    m = (qq - b) / w
    par = _parity(act)
    c = np.zeros(idx.size)
    dG = np.zeros(idx.size)
    pending = np.arange(idx.size)
    for K in (256, 1024, 4096):
        nxt = []
        step = max(1, 2**22 // (K + 1))
        for s in range(0, pending.size, step):
            ii = pending[s:s + step]
            A = hermite_coefficients(act.numpy, qq[ii], K, parity=par)
            P = np.ascontiguousarray((A * A).T)              # (K+1, n): contiguous rows for Horner
            T = np.clip(m[ii] - np.sum(P, axis=0), 0.0, None)
            if par:
                P = np.ascontiguousarray(P[(1 if par == "odd" else 0)::2])

            def G(cc, sub, P=P, T=T, ii=ii):
                val, der = _poly_and_deriv(P[:, sub], cc, T[sub], par)
                e = ii[sub]
                return (w[e] * val + b[e]) / qq[e] - cc, w[e] * der / qq[e] - 1.0

            # lower bound from the first 33 terms (no tail): its root lies left of c*, so Newton on the
            # full series from there is still monotone (all terms are non-negative on [0, 1])
            P0 = np.ascontiguousarray(P[:33 if par is None else 17])

            def G0(cc, sub, P0=P0, ii=ii):
                val, der = _poly_and_deriv(P0[:, sub], cc, np.zeros(cc.shape), par)
                e = ii[sub]
                return (w[e] * val + b[e]) / qq[e] - cc, w[e] * der / qq[e] - 1.0

            c0, _ = _newton_from_zero(G0, ii.size)
            ci, dGi = _newton_from_zero(G, ii.size, start=c0)
            c[ii], dG[ii] = ci, dGi
            bound = 2 * w[ii] * T * ci ** (K + 1) / qq[ii]
            nxt.append(ii[bound > 1e-13 * np.maximum(-dGi, 1e-3)])
        pending = np.concatenate(nxt) if nxt else np.zeros(0, dtype=int)
        if pending.size == 0:
            break
    cs[idx] = c
    chic[idx] = dG + 1.0
    return cs, chic


#: below chi1 - 1 = this, closed-form c-maps lose digits to cancellation near c = 1: Mehler's series in 1 - c
_NEAR_CRITICAL = 1e-2


def _c_star_mehler(act, w, b, qq):
    r"""(c*, chi_c) in the chaotic phase from Mehler's series, solved in :math:`1 - c` without cancellation.

    With :math:`P_k = a_k(q^*)^2` and the fixed-point identity :math:`\sigma_w^2\sum_k P_k + \sigma_b^2 = q^*`,
    :math:`c - \mathrm{cmap}(c) = (1-c)H(c)`,
    :math:`H(c) = \frac{\sigma_w^2}{q^*}\sum_{j\ge0} T_j c^j - 1`, :math:`T_j = \sum_{k>j}P_k` (tail sums,
    with the Parseval remainder). :math:`H` has non-negative coefficients above the constant, so it is
    increasing and convex on :math:`[0, 1]`; :math:`H(1) = \chi_1 - 1 > 0` and :math:`H(0) < 0`. Newton from
    :math:`c = 1` decreases monotonically to the unique root :math:`c^*`, which is well conditioned even where
    :math:`1 - c^*` is tiny (just above criticality), and :math:`\chi_c = 1 - (1 - c^*)H'(c^*)` needs no
    difference of nearly equal numbers. ``K`` = 256, 1024, 4096 terms until the weighted remainder
    :math:`\sigma_w^2 (q^*\,\mathbb E\phi'^2 - \sum_k kP_k)/q^*` (which bounds the neglected part of
    :math:`H` on :math:`[0, 1]`) is below :math:`10^{-13}`.
    """
    n = qq.size
    c_out = np.ones(n)
    chi_out = np.ones(n)
    if n == 0:
        return c_out, chi_out
    m = (qq - b) / w                                   # E[phi^2] at the fixed point, exactly
    p = _moments(act, qq, need_dm=False)[1]
    par = _parity(act)
    pending = np.arange(n)
    for K in (256, 1024, 4096):
        nxt = []
        step = max(1, 2**21 // (K + 1))
        for s0 in range(0, pending.size, step):
            ii = pending[s0:s0 + step]
            A = hermite_coefficients(act.numpy, qq[ii], K, parity=par)
            P = A * A                                           # (n, K+1)
            tail = np.clip(m[ii] - P.sum(axis=1), 0.0, None)
            tail_d = np.clip(qq[ii] * p[ii] - P @ np.arange(K + 1.0), 0.0, None)
            T = np.cumsum(P[:, ::-1], axis=1)[:, ::-1]          # T[:, j] = sum_{k >= j} P_k
            T = np.concatenate([T[:, 1:], np.zeros((ii.size, 1))], axis=1) + tail[:, None]
            scale = (w[ii] / qq[ii])[:, None]
            C = np.ascontiguousarray((scale * T).T)             # (K+1, n) coefficients of H + 1
            # sum_j T_j = sum_k k P_k = q* E[phi'^2] exactly: the remainder R c^(K+1) makes H(1) = chi1 - 1 as
            # accurate as E[phi'^2] (the truncated sums alone lose ~1e-13 to rounding)
            R = scale[:, 0] * (qq[ii] * p[ii] - T.sum(axis=1))
            c = np.ones(ii.size)
            active = np.arange(ii.size)
            der = np.zeros(ii.size)
            for _ in range(100):
                val, d = _poly_and_deriv(C[:, active], c[active], R[active])
                val = val - 1.0
                der[active] = d
                with np.errstate(divide="ignore", invalid="ignore"):
                    stp = np.where(d > 0, val / d, 0.0)
                stp = np.where(np.isfinite(stp), np.maximum(stp, 0.0), 0.0)   # monotone: only downwards
                cn = np.maximum(c[active] - stp, 0.0)
                done = np.abs(cn - c[active]) <= 2 * _EPS * np.maximum(cn, 1e-300)
                c[active] = cn
                active = active[~done]
                if active.size == 0:
                    break
            val, d = _poly_and_deriv(C, c, R)
            c_out[ii] = c
            chi_out[ii] = 1.0 - (1.0 - c) * d
            bound = w[ii] * tail_d * c ** (K + 1) / qq[ii]
            nxt.append(ii[bound > 1e-13])
        pending = np.concatenate(nxt) if nxt else np.zeros(0, dtype=int)
        if pending.size == 0:
            break
    else:
        warnings.warn(f"c_star: Mehler remainder above 1e-13 at K=4096 for {pending.size} point(s)",
                      QuadratureWarning, stacklevel=4)
    return c_out, chi_out


def _poly_and_deriv(P, c, T, parity=None):
    r"""Mehler polynomial :math:`\sum_k P_k c^k + T c^{K+1}` and its c-derivative (joint Horner).

    ``P`` has shape ``(K+1, n)``; with ``parity="odd"`` (``"even"``) it holds only the odd (even) ``k`` and
    the polynomial is evaluated in :math:`u = c^2`.
    """
    if parity is None:
        K = P.shape[0] - 1
        val = np.zeros(c.shape)
        der = np.zeros(c.shape)
        for k in range(K, -1, -1):
            der = der * c + val
            val = val * c + P[k]
    else:
        u = c * c
        S = np.zeros(c.shape)
        dS = np.zeros(c.shape)
        for j in range(P.shape[0] - 1, -1, -1):
            dS = dS * u + S
            S = S * u + P[j]
        if parity == "odd":
            K = 2 * P.shape[0] - 1
            val, der = c * S, S + 2 * u * dS
        else:
            K = 2 * P.shape[0] - 2
            val, der = S, 2 * c * dS
    cK = c**K
    return val + T * cK * c, der + (K + 1) * T * cK


def _newton_from_zero(G, n, maxiter=200, start=None):
    """Newton from c = 0 for a convex G with G(0) >= 0 > G'(0): iterates increase monotonically to the root.

    ``G(c, idx)`` returns ``(G, G')`` for the elements ``idx``; converged elements are dropped. Near
    criticality (double root) convergence is linear; ``maxiter`` caps it.
    """
    c = np.zeros(n) if start is None else np.array(start, dtype=float)
    dg = np.zeros(n)
    active = np.arange(n)
    for _ in range(maxiter):
        full = active.size == n
        g, d = G(c if full else c[active], slice(None) if full else active)
        dg[active] = d
        with np.errstate(divide="ignore", invalid="ignore"):
            stp = np.where(d < 0, -g / d, 0.0)
        stp = np.where(np.isfinite(stp), np.maximum(stp, 0.0), 0.0)
        cn = np.minimum(c[active] + stp, 1.0)
        done = np.abs(cn - c[active]) <= 4 * _EPS * np.maximum(cn, 1e-300)
        c[active] = cn
        active = active[~done]
        if active.size == 0:
            break
    if active.size:
        dg[active] = G(c[active], active)[1]
    return c, dg


def _two_input(act, sw, sb, scalar=True):
    """(c*, chi_c) flat arrays; NaN where there is no fixed point (array input; scalar input raises)."""
    sw, sb = sw.reshape(-1), sb.reshape(-1)
    cs = np.full(sw.shape, np.nan)
    cc = np.full(sw.shape, np.nan)
    if act.is_piecewise_linear:
        k = _kappa(act)
        c1 = k * sw
        ok = (c1 < 1) | ((c1 == 1) & (sb == 0))
        _missing(act, sw, sb, ok, scalar)
        cs[ok], cc[ok] = 1.0, c1[ok]
        return cs, cc
    q, ok = _q_star_checked(act, sw, sb, scalar)
    if np.any(ok):
        c1 = sw[ok] * _moments(act, q[ok], need_dm=False)[1]
        cs[ok], cc[ok] = _c_star_arrays(act, sw[ok], sb[ok], q[ok], c1)
    return cs, cc


def c_star(activation, sigma_w2, sigma_b2):
    r"""Stable fixed point :math:`c^*` of the c-map: 1 if :math:`\chi_1\le1`, else the unique root in :math:`[0,1)`.

    Schoenholz et al. 2017 §3. Away from the critical line (:math:`\chi_1 - 1 \ge 10^{-2}`): Newton's method
    from :math:`c = 0`, which converges monotonically because the c-map is a power series in ``c`` with
    non-negative coefficients (Mehler), hence convex on :math:`[0, 1]`; closed-form kernels where available,
    otherwise Mehler's series :math:`\sum_k a_k(q^*)^2c^k` with ``K`` = 256, 1024 or 4096 terms until the
    Parseval tail bound :math:`2T c^{*K+1}\sigma_w^2/q^*` is below :math:`10^{-13}`; kinked activations without
    closed forms by the graded 2-D quadrature split at the kinks. Close to the critical line
    (:math:`0 < \chi_1 - 1 < 10^{-2}`, where :math:`1 - c^*\approx 2(\chi_1-1)/\mathrm{cmap}''(1)` is small and
    the c-map minus ``c`` cancels): Mehler's series rewritten in :math:`1 - c` (see :func:`_c_star_mehler`),
    which keeps :math:`1 - c^*` and :math:`\chi_c` accurate to the accuracy of :math:`\chi_1 - 1`.
    Array input without a fixed point: NaN there (module docstring).
    """
    act = _act(activation)
    scalar, (sw, sb) = _params(sigma_w2, sigma_b2)
    cs, _ = _two_input(act, sw, sb, scalar)
    return _out(cs.reshape(sw.shape), scalar)


def chi_c(activation, sigma_w2, sigma_b2):
    r""":math:`\chi_c = \sigma_w^2\,\mathbb{E}[\phi'(u)\phi'(v)]` at :math:`(q^*, c^*)` (Schoenholz et al. 2017 Eq. 8).

    The slope of the c-map at :math:`c^*`; equals :math:`\chi_1` in the ordered phase.
    """
    act = _act(activation)
    scalar, (sw, sb) = _params(sigma_w2, sigma_b2)
    _, cc = _two_input(act, sw, sb, scalar)
    return _out(cc.reshape(sw.shape), scalar)


#: |chi - 1| at or below this is criticality (xi = inf): chi is known to a few ulps, so a larger xi is noise
CHI_CRITICAL_TOL = 8 * _EPS


def _xi(chi):
    r""":math:`\xi = -1/\ln\chi` for :math:`\chi < 1`; ``inf`` for :math:`|\chi - 1| \le` ``CHI_CRITICAL_TOL``."""
    chi = np.asarray(chi, dtype=float)
    crit = np.abs(chi - 1.0) <= CHI_CRITICAL_TOL
    with np.errstate(divide="ignore", invalid="ignore"):
        lg = np.log(np.where(crit | ~(chi > 0), 0.5, chi))
        xi = np.where(crit, np.inf, -1.0 / lg)
    xi = np.where(np.isnan(chi), np.nan, xi)
    if np.any(xi < 0):  # chi > 1 at a stable fixed point cannot happen; never return a negative depth scale
        i = int(np.argmin(xi))
        raise ArithmeticError(f"internal error: depth scale from chi = {chi.reshape(-1)[i]!r} > 1 at a stable "
                              "fixed point")
    return xi


def depth_scales(activation, sigma_w2, sigma_b2):
    r"""Depth scales :math:`(\xi_q, \xi_c) = (-1/\ln\chi_q, -1/\ln\chi_c)` (Schoenholz et al. 2017 Eqs. 7, 9).

    Perturbations of :math:`q^l` and :math:`c^l` around the fixed point decay like :math:`e^{-l/\xi}`.
    ``inf`` at criticality, i.e. where :math:`|\chi - 1| \le` :data:`CHI_CRITICAL_TOL` (:math:`8\epsilon`, the
    rounding level of :math:`\chi`: a finite :math:`\xi > 5\cdot10^{14}` would be noise). Never negative: in
    the chaotic phase :math:`\chi_c < 1` is taken at :math:`c^*`, which close to the critical line is solved
    in the variable :math:`1 - c` without cancellation (see :func:`c_star`), so that
    :math:`\xi_c \approx 1/(\chi_1 - 1)` just above criticality. For piecewise linear :math:`\phi` with
    :math:`\sigma_b^2 = 0` at :math:`\kappa\sigma_w^2 = 1` both are infinite. Array input: NaN (with a
    :class:`NoFixedPointWarning`) at points without a fixed point; scalar input raises ``ValueError``.
    """
    act = _act(activation)
    scalar, (sw, sb) = _params(sigma_w2, sigma_b2)
    _, cc = _two_input(act, sw, sb, scalar)
    ok = np.isfinite(cc)
    if act.is_piecewise_linear:
        xq = np.where(ok, _xi(np.where(ok, _kappa(act) * sw.reshape(-1), 0.5)), np.nan)
    else:
        q, _ = _q_star_arrays(act, sw.reshape(-1), sb.reshape(-1))      # same points as ok (checked above)
        xq = np.full(ok.shape, np.nan)
        if np.any(ok):
            xq[ok] = _xi(sw.reshape(-1)[ok] * _moments(act, q[ok], need_p=False)[2])
    return _out(xq.reshape(sw.shape), scalar), _out(_xi(cc).reshape(sw.shape), scalar)


def phase(activation, sigma_w2, sigma_b2, tol: float = 1e-10):
    r"""Phase label: ``"ordered"`` (:math:`\chi_1 < 1 - tol`), ``"chaotic"`` (:math:`\chi_1 > 1 + tol`),
    ``"critical"``, or ``"unbounded"`` where the q-map has no stable fixed point (``q^l`` diverges; the same
    label as :class:`PhaseDiagram`). Arrays broadcast (then an array of str).
    """
    act = _act(activation)
    scalar, (sw, sb) = _params(sigma_w2, sigma_b2)
    shape = sw.shape
    sw, sb = sw.reshape(-1), sb.reshape(-1)
    if act.is_piecewise_linear:
        c1 = _kappa(act) * sw
        ok = (c1 < 1) | ((c1 == 1) & (sb == 0))
    else:
        q, ok = _q_star_arrays(act, sw, sb)
        c1 = np.full(sw.shape, np.nan)
        c1[ok] = sw[ok] * _moments(act, q[ok], need_dm=False)[1]
    lab = _phase_labels(c1, ok, tol).reshape(shape)
    return str(lab[()]) if scalar else lab.astype(str)


def _phase_labels(c1, ok, tol):
    """The one labelling rule (phase, phase_diagram, CLI): |chi1 - 1| <= tol is critical."""
    with np.errstate(invalid="ignore"):
        lab = np.where(c1 > 1 + tol, "chaotic", np.where(c1 < 1 - tol, "ordered", "critical")).astype(object)
    lab[~ok] = "unbounded"
    return lab


@dataclass(frozen=True)
class MeanField:
    """Mean-field bundle at one ``(sigma_w2, sigma_b2)``: fixed points, slopes, depth scales, phase."""

    activation: str
    sigma_w2: float
    sigma_b2: float
    q_star: float
    chi_q: float
    chi1: float
    c_star: float
    chi_c: float
    xi_q: float
    xi_c: float
    phase: str


def mean_field(activation, sigma_w2: float, sigma_b2: float) -> MeanField:
    """All mean-field quantities at one point (scalars); see the individual functions."""
    act = _act(activation)
    if np.ndim(sigma_w2) or np.ndim(sigma_b2):
        raise ValueError("mean_field takes scalar sigma_w2 and sigma_b2 (use phase_diagram for grids)")
    q = q_star(act, sigma_w2, sigma_b2)
    xq, xc = depth_scales(act, sigma_w2, sigma_b2)
    return MeanField(act.name, float(sigma_w2), float(sigma_b2), q, chi_q(act, sigma_w2, sigma_b2),
                     chi1(act, sigma_w2, sigma_b2), c_star(act, sigma_w2, sigma_b2), chi_c(act, sigma_w2, sigma_b2),
                     xq, xc, phase(act, sigma_w2, sigma_b2))


# ============================================================================ critical line
def critical_line(activation, q):
    r"""The order-chaos line parametrised by :math:`q^*`: returns ``(sigma_w2, sigma_b2)`` arrays.

    :math:`\sigma_w^2 = 1/\mathbb{E}[\phi'(\sqrt q z)^2]`, :math:`\sigma_b^2 = q - \sigma_w^2\mathbb{E}[\phi(\sqrt q z)^2]`
    (the fixed-point equation with :math:`\chi_1 = 1`). Points with :math:`\sigma_b^2 < 0` are unphysical.
    For erf this is the closed form :math:`\sigma_w^2 = \frac\pi4\sqrt{1+4q}`,
    :math:`\sigma_b^2 = q - \frac12\sqrt{1+4q}\,\arcsin\frac{2q}{1+2q}`.
    """
    act = _act(activation)
    q = np.asarray(check_finite(q, "q"), dtype=float)
    if np.any(q < 0):
        raise ValueError("q must be >= 0")
    m, p, _ = _moments(act, q, need_dm=False)
    w = 1.0 / p
    return w, q - w * m


def critical_sigma_w2(activation, sigma_b2):
    r"""Critical :math:`\sigma_w^2` (:math:`\chi_1 = 1`) at given :math:`\sigma_b^2`.

    Piecewise linear: :math:`1/\kappa = 2/(a_+^2+a_-^2)` (linear 1, ReLU 2) for every :math:`\sigma_b^2` (for
    :math:`\sigma_b^2 > 0` the q-map has no fixed point there). Otherwise solve
    :math:`s(q) = q - \mathbb{E}[\phi^2]/\mathbb{E}[\phi'^2] = \sigma_b^2` for :math:`q` (vectorised Illinois
    on a geometric bracket, see :func:`critical_line`) and return :math:`1/\mathbb{E}[\phi'(\sqrt q z)^2]`;
    for erf this is exact through the closed forms. :math:`\sigma_b^2 = 0` and :math:`\phi(0) = 0`:
    :math:`1/\phi'(0)^2` (tanh 1, erf :math:`\pi/4`).

    Resolution: the bracket grid starts at :math:`q = 10^{-14}`, and :math:`s(q)` loses relative precision
    as :math:`q\to0`; for :math:`0 < \sigma_b^2 \lesssim 10^{-24}` the result is accurate to about
    :math:`\sqrt{\sigma_b^2}` only (its distance from the :math:`\sigma_b^2 = 0` value).

    The solution is accepted only if it is the q-map's stable fixed point :math:`q^*` (checked by solving
    for :math:`q^*` at the returned :math:`\sigma_w^2`). GELU and SiLU fail this for small :math:`\sigma_b^2`
    (measured: GELU at 0.01 and 0.1, SiLU up to 0.5): there the :math:`\chi_1 = 1` fixed point has
    :math:`\chi_q > 1` (unstable) and a smaller stable :math:`q^*` with :math:`\chi_1 < 1` exists, so there is
    no order-chaos transition; ``ValueError`` says so.
    """
    act = _act(activation)
    sb = np.asarray(check_finite(sigma_b2, "sigma_b2"), dtype=float)
    if np.any(sb < 0):
        raise ValueError(f"sigma_b2 must be finite and >= 0, got {sigma_b2!r}")
    scalar = np.ndim(sigma_b2) == 0
    if act.is_piecewise_linear:
        k = _kappa(act)
        if k == 0:
            raise ValueError("activation has a_plus = a_minus = 0: chi1 = 0 for every sigma_w2")
        return _out(np.full(sb.shape, 1.0 / k), scalar)
    flat = sb.reshape(-1)
    mg, pg, _ = _crit_table(act)
    with np.errstate(divide="ignore", invalid="ignore"):
        sg = _QGRID - mg / pg
    f0 = float(act.numpy(np.array(0.0)))
    d0 = float(_derivative_or_raise(act, np.zeros(1))[0])
    s0 = -(f0 * f0) / (d0 * d0) if d0 != 0 else -np.inf
    out = np.empty(flat.shape)
    G = sg[None, :] - flat[:, None]
    pos = G >= 0
    has = pos.any(axis=1)
    if not np.all(has) or (s0 > flat).any():
        raise ValueError(f"no critical point for {act.name!r} with q* <= {Q_MAX:g} at these sigma_b2")
    j = np.argmax(pos, axis=1)
    rows = np.arange(flat.size)
    exact0 = (flat == s0) & (f0 == 0)
    jm = np.maximum(j - 1, 0)
    lo = np.where(j > 0, _QGRID[jm], 0.0)
    glo = np.where(j > 0, G[rows, jm], s0 - flat)
    hi = _QGRID[j]
    ghi = G[rows, j]

    def fun(x, idx):
        m, p, _ = _moments(act, x, need_dm=False)
        return x - m / p - flat[idx]

    qc = _illinois(fun, lo, hi, glo, ghi)
    qc = np.where(exact0, 0.0, qc)
    p = _moments(act, qc, need_dm=False)[1]
    out = 1.0 / p
    # the chi1 = 1 fixed point must be the q-map's stable fixed point q* (GELU/SiLU at small sigma_b2: not)
    qs, ok = _q_star_arrays(act, out, flat)
    good = ok & (np.abs(qs - qc) <= 1e-8 * qc + 1e-13)
    if not np.all(good):
        i = int(np.argmin(good))
        raise ValueError(
            f"no order-chaos transition for {act.name!r} at sigma_b2={flat[i]:g}: the fixed point with chi1 = 1 "
            f"(sigma_w2={out[i]:.6g}, q={qc[i]:.6g}) is not the stable fixed point q* of the q-map "
            f"(q* = {qs[i]:.6g}); use sigma_b2 where the critical point is stable")
    return _out(out.reshape(sb.shape), scalar)


_CRIT: dict = {}


def _crit_table(act):
    key = id(act)
    if key not in _CRIT or _CRIT[key][0] is not act:
        _CRIT[key] = (act, _moments(act, _QGRID, need_dm=False))
    return _CRIT[key][1]


# ============================================================================ phase diagram
@dataclass
class PhaseDiagram:
    r"""Mean-field quantities on a ``(sigma_b2, sigma_w2)`` grid (arrays of shape ``(len(sigma_b2), len(sigma_w2))``).

    ``phase`` holds ``"ordered"``, ``"chaotic"``, ``"critical"`` or ``"unbounded"`` (no stable fixed point:
    every fixed-point quantity is NaN there, flagged by this label, never silently; the array functions
    :func:`q_star`, :func:`c_star`, :func:`depth_scales`, ... return the same NaN with a
    :class:`NoFixedPointWarning`).

    Backward pass (NTK parameterisation, :func:`ntk_kernel`): for an input at the fixed point the NTK
    diagonal obeys :math:`\Theta^{l+1} = q^* + \chi_1\Theta^l`, so :math:`\Theta^l = q^*(1-\chi_1^l)/(1-\chi_1)`:
    it tends to ``ntk_limit`` :math:`= q^*/(1-\chi_1)` in the ordered phase, grows linearly
    (:math:`lq^*`) at criticality and like :math:`\chi_1^l` in the chaotic phase (``inf`` there).
    ``xi_ntk`` :math:`= 1/|\ln\chi_1|` is the depth scale of trainability: in the ordered phase the
    condition number of :math:`\Theta` over inputs grows like :math:`e^{l/\xi}` (all inputs map to the same
    point: untrainable for :math:`l\gg\xi`), in the chaotic phase :math:`\Theta_{x\neq x'}/\Theta_{xx}\propto
    e^{-l/\xi}` (the NTK becomes a multiple of the identity: trainable but unable to generalise); ``inf`` at
    criticality, where both change only algebraically (Xiao, Pennington & Schoenholz 2020, "Disentangling
    trainability and generalization in deep neural networks", arXiv:1912.13053, §4 and Table 1;
    :func:`ntk_depth_profile` computes the finite-depth curves).
    """

    activation: str
    sigma_w2: np.ndarray
    sigma_b2: np.ndarray
    q_star: np.ndarray
    chi1: np.ndarray
    chi_q: np.ndarray
    c_star: np.ndarray
    chi_c: np.ndarray
    xi_q: np.ndarray
    xi_c: np.ndarray
    phase: np.ndarray
    ntk_limit: np.ndarray = None
    xi_ntk: np.ndarray = None
    act: object = field(default=None, repr=False, compare=False)

    def plot(self, path=None, ax=None):
        """Colour map of :math:`\\xi_c` (log scale) with the exact :math:`\\chi_1 = 1` line; PNG to ``path``.

        Builds a :class:`matplotlib.figure.Figure` directly (no pyplot state, no backend switch) unless an
        ``ax`` is given. Returns the axes.
        """
        from matplotlib.colors import LogNorm
        from matplotlib.figure import Figure

        fig = None
        if ax is None:
            fig = Figure(figsize=(6, 4.5))
            ax = fig.add_subplot()
        xi = np.where(np.isfinite(self.xi_c), self.xi_c, np.nan)
        finite = xi[np.isfinite(xi) & (xi > 0)]
        norm = LogNorm(vmin=max(finite.min(), 1e-2), vmax=min(finite.max(), 1e4)) if finite.size else None
        im = ax.pcolormesh(self.sigma_w2, self.sigma_b2, xi, shading="auto", norm=norm, cmap="viridis")
        ax.figure.colorbar(im, ax=ax, label=r"$\xi_c$")
        try:
            qq = np.geomspace(1e-8, max(4 * float(np.nanmax(self.q_star)), 1e-6), 4000)
            w, b = critical_line(self.act if self.act is not None else self.activation, qq)
            sel = (b >= self.sigma_b2.min()) & (b <= self.sigma_b2.max())
            ax.plot(np.where(sel, w, np.nan), np.where(sel, b, np.nan), "w-", lw=2, label=r"$\chi_1 = 1$")
            ax.legend(loc="upper left")
        except ValueError:
            pass
        ax.set_xlabel(r"$\sigma_w^2$")
        ax.set_ylabel(r"$\sigma_b^2$")
        ax.set_title(f"{self.activation}: depth scale $\\xi_c$")
        ax.set_xlim(self.sigma_w2.min(), self.sigma_w2.max())
        ax.set_ylim(self.sigma_b2.min(), self.sigma_b2.max())
        if path is not None:
            (fig or ax.figure).savefig(path, dpi=120, bbox_inches="tight")
        return ax


def phase_diagram(activation, sigma_w2, sigma_b2) -> PhaseDiagram:
    r"""Vectorised phase diagram on the grid ``sigma_b2 x sigma_w2`` (1-D arrays of grid values).

    Every quantity is computed for all grid points at once: :math:`q^*` by one shared table of
    :math:`\mathbb{E}[\phi(\sqrt q z)^2]` on a geometric ``q`` grid (bracket) plus vectorised Illinois
    iteration; :math:`\chi_1, \chi_q` by one trapezoid pass; :math:`c^*, \chi_c` at chaotic points by
    Mehler's series and vectorised monotone Newton. Same numbers as the scalar functions.
    """
    act = _act(activation)
    w = np.atleast_1d(np.asarray(check_finite(sigma_w2, "sigma_w2"), dtype=float))
    b = np.atleast_1d(np.asarray(check_finite(sigma_b2, "sigma_b2"), dtype=float))
    if w.ndim != 1 or b.ndim != 1:
        raise ValueError("sigma_w2 and sigma_b2 must be 1-D grids")
    _params(w, 0.0)
    _params(1.0, b)
    SW, SB = np.meshgrid(w, b)
    sw, sb = SW.reshape(-1), SB.reshape(-1)
    q, ok = _q_star_arrays(act, sw, sb)
    if act.is_piecewise_linear:
        k = _kappa(act)
        c1 = k * sw
        cq = k * sw
        marg = (c1 == 1) & (sb == 0)
        ok = ok | marg
        cs = np.where(ok, 1.0, np.nan)
        cc = np.where(ok, c1, np.nan)
    else:
        _quad_check(act, q[ok])
        c1 = np.full(sw.shape, np.nan)
        cq = np.full(sw.shape, np.nan)
        _, p, dm = _moments(act, q[ok])
        c1[ok] = sw[ok] * p
        cq[ok] = sw[ok] * dm
        cs = np.full(sw.shape, np.nan)
        cc = np.full(sw.shape, np.nan)
        cs[ok], cc[ok] = _c_star_arrays(act, sw[ok], sb[ok], q[ok], c1[ok])
    lab = _phase_labels(c1, ok, 1e-10)
    xq = np.where(ok, _xi(np.where(ok, cq, 0.5)), np.nan)
    xc = np.where(ok, _xi(np.where(ok, cc, 0.5)), np.nan)
    shp = SW.shape
    lim, xn = _ntk_asymptotics(np.where(ok, q, np.nan), c1, ok, act, sb)
    return PhaseDiagram(act.name, w, b, q.reshape(shp), c1.reshape(shp), cq.reshape(shp), cs.reshape(shp),
                        cc.reshape(shp), xq.reshape(shp), xc.reshape(shp), lab.reshape(shp),
                        lim.reshape(shp), xn.reshape(shp), act)


def _ntk_asymptotics(q, c1, ok, act, sb):
    """(Theta* = q*/(1 - chi1) or inf, xi_ntk = 1/|ln chi1| or inf at criticality); NaN where not ok."""
    qq = np.where(act.is_piecewise_linear & (sb == 0) & ok & (c1 == 1), 1.0, q)   # marginal: per unit q
    crit = np.abs(c1 - 1.0) <= CHI_CRITICAL_TOL
    with np.errstate(divide="ignore", invalid="ignore"):
        lim = np.where(c1 < 1.0, qq / (1.0 - c1), np.inf)
        xn = np.where(crit, np.inf, 1.0 / np.abs(np.log(np.where(crit, 0.5, c1))))
    lim = np.where(crit, np.inf, lim)
    return np.where(ok, lim, np.nan), np.where(ok, xn, np.nan)


# ============================================================================ backward pass (NTK)
def _fixed_point_scale(act, sw, sb, fn):
    """q* for the NTK profiles; the marginal piecewise-linear point (every q fixed) uses q = 1 (per unit q)."""
    if act.is_piecewise_linear and sb == 0.0 and _kappa(act) * sw == 1.0:
        return 1.0
    q, _ = _q_star_checked(act, np.array([sw]), np.array([sb]), True)
    return float(q[0])


def ntk_diagonal(activation, sigma_w2, sigma_b2, depth):
    r"""NTK diagonal :math:`\Theta^{(l)}(x, x)`, ``l = 1 ... depth``, for an input at the fixed point :math:`q^*`.

    With :math:`K^{(l)}(x,x) = q^*` for every layer, the recursion of :func:`ntk_kernel` reads
    :math:`\Theta^{(l+1)} = q^* + \chi_1\Theta^{(l)}`, :math:`\Theta^{(1)} = q^*`, so

    .. math:: \Theta^{(l)}(x,x) = q^*\,\frac{1-\chi_1^l}{1-\chi_1}
              \;\;(= l\,q^* \text{ at } \chi_1 = 1),

    bounded by :math:`q^*/(1-\chi_1)` in the ordered phase, **linear in depth at criticality** and
    exponential (:math:`\chi_1^l`) in the chaotic phase (Jacot et al. 2018 Thm. 1 specialised to the fixed
    point; Xiao et al. 2020, arXiv:1912.13053 §4). Evaluated as ``l * q* * expm1(l log chi1)/(l log chi1)``
    (no cancellation near criticality). At the marginal piecewise-linear point (ReLU at
    :math:`\sigma_w^2 = 2`, :math:`\sigma_b^2 = 0`: every :math:`q` is a fixed point) the result is per unit
    :math:`q^{(1)}`, i.e. :math:`\Theta^{(l)} = l`.

    Returns an array of length ``depth``. Raises ``ValueError`` without a fixed point (names the point) and
    ``OverflowError`` where :math:`\Theta` exceeds float64 (chaotic phase, large depth).
    """
    act = _act(activation)
    scalar, (sw, sb) = _params(sigma_w2, sigma_b2)
    if not scalar:
        raise ValueError("ntk_diagonal takes scalar sigma_w2 and sigma_b2")
    depth = check_int(depth, "depth", minimum=1)
    sw, sb = float(sw), float(sb)
    q = _fixed_point_scale(act, sw, sb, "ntk_diagonal")
    c1 = chi1(act, sw, sb)
    lv = np.arange(1, depth + 1, dtype=float)
    x = lv * np.log(c1)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        ratio = np.where(np.abs(x) < 1e-300, 1.0, np.expm1(x) / np.where(x == 0, 1.0, x))
        out = lv * q * ratio * (np.log1p(c1 - 1.0) / (c1 - 1.0) if c1 != 1.0 else 1.0)
    if not np.all(np.isfinite(out)):
        bad = int(np.argmin(np.isfinite(out))) + 1
        raise OverflowError(f"ntk_diagonal: Theta(x, x) overflows float64 at layer {bad} (chi1 = {c1:.6g} > 1: "
                            "exponential growth in the chaotic phase); reduce depth")
    return out


@dataclass(frozen=True)
class NTKDepthProfile:
    """Finite-depth NTK of ``n_inputs`` equicorrelated inputs at the fixed point (see :func:`ntk_depth_profile`)."""

    activation: str
    sigma_w2: float
    sigma_b2: float
    n_inputs: int
    depth: np.ndarray           # 1 ... L
    c: np.ndarray               # correlation of the pre-activations, c^(l)
    theta_diag: np.ndarray      # Theta^(l)(x, x)
    theta_offdiag: np.ndarray   # Theta^(l)(x, x')
    condition: np.ndarray       # lambda_max / lambda_min of the n_inputs x n_inputs NTK (inf: singular in float64)
    phase: str


def ntk_depth_profile(activation, sigma_w2, sigma_b2, depth, n_inputs: int = 10, c0: float = 0.0):
    r"""NTK over depth for ``n_inputs`` inputs with :math:`q^{(1)} = q^*` and pairwise correlation ``c0``.

    The exact infinite-width recursion (:func:`ntk_kernel`) started from
    :math:`K^{(1)} = q^*[(1-c_0)I + c_0\mathbf 1\mathbf 1^\top]`: every layer keeps the equicorrelated form, so
    two numbers per layer, :math:`\Theta_d = \Theta(x,x)` and :math:`\Theta_o = \Theta(x,x')`, describe the
    whole :math:`P\times P` kernel, whose eigenvalues are :math:`\Theta_d + (P-1)\Theta_o` and
    :math:`\Theta_d - \Theta_o` (:math:`P-1` times). ``condition`` is their ratio (max/min), the quantity that
    sets the trainability of gradient descent (Xiao, Pennington & Schoenholz 2020, arXiv:1912.13053, §4):
    ordered phase — grows like :math:`e^{l/\xi}/l`, :math:`\xi = -1/\ln\chi_1` (inputs collapse);
    critical — algebraic; chaotic — tends to 1 (:math:`\Theta\propto I`). Where
    :math:`\Theta_d - \Theta_o \le 64\epsilon\,\Theta_d` the smaller eigenvalue is not resolved in float64 and
    ``condition`` is ``inf`` (documented, not a number).

    Parameters
    ----------
    activation, sigma_w2, sigma_b2
        As in :func:`ntk_kernel` (scalars).
    depth : int
        Number of layers ``L >= 1``.
    n_inputs : int
        ``P >= 2``.
    c0 : float
        First-layer correlation, ``-1/(P-1) < c0 < 1`` (positive definite :math:`K^{(1)}`).
    """
    from . import kernels as _kr

    act = _act(activation)
    scalar, (sw, sb) = _params(sigma_w2, sigma_b2)
    if not scalar:
        raise ValueError("ntk_depth_profile takes scalar sigma_w2 and sigma_b2")
    depth = check_int(depth, "depth", minimum=1)
    P = check_int(n_inputs, "n_inputs", minimum=2)
    c0 = float(check_finite(c0, "c0"))
    if not (-1.0 / (P - 1) < c0 < 1.0):
        raise ValueError(f"c0 must lie in (-1/(n_inputs-1), 1) = ({-1.0 / (P - 1):.4g}, 1), got {c0!r}")
    sw, sb = float(sw), float(sb)
    q = _fixed_point_scale(act, sw, sb, "ntk_depth_profile")
    K1 = q * np.array([[1.0, c0], [c0, 1.0]])
    Ks, Ths = _kr._trajectory(act, sw, sb, K1, depth, "ntk_depth_profile")
    d, o = Ths[:, 0, 0], Ths[:, 0, 1]
    c = Ks[:, 0, 1] / np.sqrt(Ks[:, 0, 0] * Ks[:, 1, 1])
    lam1 = d + (P - 1) * o
    lam2 = d - o
    with np.errstate(divide="ignore", invalid="ignore"):
        cond = np.maximum(lam1, lam2) / np.minimum(lam1, lam2)
    cond = np.where(np.minimum(lam1, lam2) <= 64 * _EPS * d, np.inf, cond)
    return NTKDepthProfile(act.name, sw, sb, P, np.arange(1, depth + 1), c, d, o, cond, phase(act, sw, sb))


# the kernels live in statfield.kernels (imported last: it uses the helpers above lazily)
from .kernels import nngp_kernel, ntk_kernel
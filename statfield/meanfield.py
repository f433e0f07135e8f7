r"""Mean-field signal propagation and NNGP kernels (Poole et al. 2016; Schoenholz et al. 2017).

Conventions (``physics.md`` §1): :math:`z^l = W^l\phi(z^{l-1}) + b^l`, :math:`W^l_{ij}\sim N(0,\sigma_w^2/N_{l-1})`
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

Closed forms: piecewise linear :math:`\phi = a_+z\theta(z) + a_-z\theta(-z)` (linear, ReLU, leaky ReLU) with
:math:`\kappa = (a_+^2+a_-^2)/2`: :math:`q^* = \sigma_b^2/(1-\kappa\sigma_w^2)` for :math:`\kappa\sigma_w^2 < 1`
(linear: :math:`\sigma_b^2/(1-\sigma_w^2)`; ReLU: :math:`\sigma_b^2/(1-\sigma_w^2/2)`),
:math:`\chi_1 = \chi_q = \kappa\sigma_w^2` at every :math:`q`, critical :math:`\sigma_w^2 = 1/\kappa`, kernel the
arc-cosine kernel (Cho & Saul 2009); erf (Williams 1997):
:math:`\mathbb{E}[\phi^2] = \frac2\pi\arcsin\frac{2q}{1+2q}`, :math:`\mathbb{E}[\phi'^2] = \frac{4}{\pi\sqrt{1+4q}}`,
:math:`\chi_q = \sigma_w^2\frac{4}{\pi(1+2q)\sqrt{1+4q}}`; exact GELU (closed form derived in
:mod:`statfield.activations`). Everything else: the trapezoid rule of :mod:`statfield.quadrature`
(relative error :math:`\le 10^{-13}`, tested against mpmath) and, for the c-map fixed point, Mehler's series
with a Parseval tail bound.

Degenerate cases (documented decisions)

* :math:`\kappa\sigma_w^2 > 1` (linear/ReLU chaotic regime) or any activation whose q-map has no stable fixed
  point below :math:`q = 10^6`: ``ValueError`` (no fixed point; ``q^l`` diverges).
* :math:`\kappa\sigma_w^2 = 1`, :math:`\sigma_b^2 = 0` (e.g. ReLU at the He point): every :math:`q` is a fixed
  point; :func:`q_star` raises (undefined), but :func:`chi1` = 1, :func:`c_star` = 1, the phase is critical.
* :math:`q^* = 0` (:math:`\sigma_b^2 = 0`, stable zero): :math:`\chi_1 = \sigma_w^2\phi'(0)^2`, :math:`c^* = 1`,
  :math:`\chi_c = \chi_1` (the :math:`\sigma_b^2\to0^+` limit).

All public functions take scalars or arrays of ``sigma_w2``/``sigma_b2`` (broadcast) and return python
floats for scalar input.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from ._checks import check_finite, check_int
from .activations import Activation, get_activation
from .quadrature import (H0, QuadratureWarning, _trap_1d_many, hermite_coefficients, mehler_kernel)

__all__ = [
    "qmap",
    "cmap",
    "q_star",
    "chi1",
    "chi_q",
    "c_star",
    "chi_c",
    "depth_scales",
    "critical_sigma_w2",
    "critical_line",
    "phase",
    "mean_field",
    "MeanField",
    "nngp_kernel",
    "phase_diagram",
    "PhaseDiagram",
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
    r"""(m, p, dm) at q (any shape): m = E[phi^2], p = E[phi'^2], dm = dm/dq = E[phi'^2 + phi phi'']."""
    q = np.asarray(q, dtype=float)
    if act.is_piecewise_linear:
        k = _kappa(act)
        return k * q, np.full(q.shape, k), np.full(q.shape, k)
    if act.name == "erf":
        r = np.sqrt(1 + 4 * q)
        m = (2 / np.pi) * np.arcsin(2 * q / (1 + 2 * q))
        return m, (4 / np.pi) / r, 4 / (np.pi * (1 + 2 * q) * r)
    if act.name == "gelu":
        # m = q/4 + q asin(q/(1+q))/(2 pi) + q^2/(pi (1+q) sqrt(1+2q))  (diagonal of the closed-form kernel)
        s = np.sqrt(1 + 2 * q)
        asn = np.arcsin(q / (1 + q))
        m = q / 4 + q * asn / (2 * np.pi) + q * q / (np.pi * (1 + q) * s)
        p = act.deriv_kernel(q, q, q)
        dm = (0.25 + asn / (2 * np.pi) + q / (2 * np.pi * (1 + q) * s)
              + (2 * q + 4 * q * q + q**3) / (np.pi * (1 + q) ** 2 * s**3))
        return m, p, dm
    return _gauss_moments(act, q, need_dm, h0=H0, need_p=need_p)


def _gauss_moments(act, q, need_dm=True, h0=H0, need_p=True):
    """Trapezoid-rule moments for activations without closed forms (see statfield.quadrature)."""
    flat = q.reshape(-1)
    if flat.size == 0:
        return np.empty(q.shape), np.empty(q.shape), np.empty(q.shape)
    has2 = act.second_deriv is not None or act.sympy_fn is not None
    has1 = (act.deriv is not None or act.sympy_fn is not None) and (need_p or (need_dm and has2))

    def fs(x, z):
        f = act.numpy(x)
        out = [f * f]
        if has1:
            d = act.derivative(x, np)
            out.append(d * d)
            if need_dm and has2:
                out.append(d * d + f * act.second_derivative(x, np))
        if need_dm and not has2:
            out.append(f * f * (z * z - 1.0))  # score identity: dm/dq = E[phi^2 (z^2-1)]/(2q)
        return out

    res = _trap_1d_many(fs, flat, h0, even=_has_parity(act))
    m = res[0]
    p = res[1] if (has1 and need_p) else np.full(flat.shape, np.nan)
    if need_dm:
        if has2:
            dm = res[2]
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                dm = res[-1] / (2 * flat)
    else:
        dm = np.full(flat.shape, np.nan)
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
        m, _, dm = _moments(act, _QGRID)
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


def _q_star_checked(act, sw, sb):
    q, ok = _q_star_arrays(act, sw, sb)
    if not np.all(ok):
        raise _no_fixed_point_error(act, sw, sb, ok)
    _quad_check(act, q)
    return q


# ============================================================================ public: single input
def qmap(activation, sigma_w2, sigma_b2, q):
    r"""The length map :math:`q^{l+1} = \sigma_w^2\,\mathbb{E}_z[\phi(\sqrt{q^l}\,z)^2] + \sigma_b^2`.

    Poole et al. 2016 (arXiv:1606.05340) Eq. 3; Schoenholz et al. 2017 Eq. 3. ``q >= 0``; arrays broadcast.
    """
    act = _act(activation)
    scalar, (sw, sb, q) = _params(sigma_w2, sigma_b2, q)
    if not np.all(np.isfinite(q) & (q >= 0)):  # NaN/inf would otherwise fail deep in the quadrature
        raise ValueError(f"q must be finite and >= 0, got {q!r}")
    return _out(sw * _m_only(act, q) + sb, scalar)


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
    return _out(_q_star_checked(act, sw, sb), scalar)


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
    q = _q_star_checked(act, sw, sb)
    return _out(sw * _moments(act, q)[2], scalar)


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
    q = _q_star_checked(act, sw, sb)
    return _out(sw * _moments(act, q, need_dm=False)[1], scalar)


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
    Closed forms where the registry has them, else the 2-D trapezoid rule (:func:`statfield.quadrature.expect2`).
    """
    act = _act(activation)
    scalar, (sw, sb, c) = _params(sigma_w2, sigma_b2, c)
    if np.any(np.abs(c) > 1):
        raise ValueError(f"c must lie in [-1, 1], got {c!r}")
    if q is None:
        qq = _q_star_checked(act, sw, sb)
    else:
        qq = np.asarray(check_finite(q, "q"), dtype=float)
        if np.any(qq < 0):
            raise ValueError(f"q must be finite and >= 0, got {q!r}")
        scalar = scalar and np.ndim(q) == 0
    sw, sb, c, qq = np.broadcast_arrays(sw, sb, c, qq)
    degenerate = (qq == 0) & (sb == 0)
    if np.any(degenerate) and not act.is_piecewise_linear:
        f0 = float(act.numpy(np.array(0.0)))
        d0 = float(act.derivative(np.array(0.0), np))
        if f0 != 0 or d0 == 0:
            raise ValueError("cmap at q = 0 with sigma_b2 = 0 is undefined for this activation: q must be > 0")
    qe = np.where(degenerate, 1.0, qq)
    num = sw * _kern(act, qe, c) + sb
    den = sw * _m_only(act, qe) + sb
    out = num / den
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
    if act.has_closed_form("kernel") and act.has_closed_form("deriv_kernel"):
        def G(c, sub):
            q_, w_, b_ = qq[sub], w[sub], b[sub]
            return (w_ * act.kernel(q_, q_, q_ * c) + b_) / q_ - c, w_ * act.deriv_kernel(q_, q_, q_ * c) - 1.0

        c, dG = _newton_from_zero(G, idx.size)
        cs[idx] = c
        chic[idx] = dG + 1.0
        return cs, chic
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


def _two_input(act, sw, sb):
    sw, sb = sw.reshape(-1), sb.reshape(-1)
    if act.is_piecewise_linear:
        k = _kappa(act)
        c1 = k * sw
        ok = (c1 < 1) | ((c1 == 1) & (sb == 0))
        if not np.all(ok):
            raise _no_fixed_point_error(act, sw, sb, ok)
        return np.ones(sw.shape), c1
    q = _q_star_checked(act, sw, sb)
    c1 = sw * _moments(act, q, need_dm=False)[1]
    return _c_star_arrays(act, sw, sb, q, c1)


def c_star(activation, sigma_w2, sigma_b2):
    r"""Stable fixed point :math:`c^*` of the c-map: 1 if :math:`\chi_1\le1`, else the unique root in :math:`[0,1)`.

    Schoenholz et al. 2017 §3. Found by Newton's method from :math:`c = 0`, which converges monotonically
    because the c-map is a power series in ``c`` with non-negative coefficients (Mehler), hence convex on
    :math:`[0, 1]`. Closed-form kernels where available; otherwise Mehler's series
    :math:`\sum_k a_k(q^*)^2c^k` with ``K`` = 256, 1024 or 4096 terms until the Parseval tail bound
    :math:`2T c^{*K+1}\sigma_w^2/q^*` is below :math:`10^{-13}`.
    """
    act = _act(activation)
    scalar, (sw, sb) = _params(sigma_w2, sigma_b2)
    cs, _ = _two_input(act, sw, sb)
    return _out(cs.reshape(sw.shape), scalar)


def chi_c(activation, sigma_w2, sigma_b2):
    r""":math:`\chi_c = \sigma_w^2\,\mathbb{E}[\phi'(u)\phi'(v)]` at :math:`(q^*, c^*)` (Schoenholz et al. 2017 Eq. 8).

    The slope of the c-map at :math:`c^*`; equals :math:`\chi_1` in the ordered phase.
    """
    act = _act(activation)
    scalar, (sw, sb) = _params(sigma_w2, sigma_b2)
    _, cc = _two_input(act, sw, sb)
    return _out(cc.reshape(sw.shape), scalar)


def _xi(chi):
    chi = np.asarray(chi, dtype=float)
    with np.errstate(divide="ignore"):
        lg = np.log(chi)
        return np.where(chi == 1.0, np.inf, -1.0 / np.where(chi == 1.0, -1.0, lg))


def depth_scales(activation, sigma_w2, sigma_b2):
    r"""Depth scales :math:`(\xi_q, \xi_c) = (-1/\ln\chi_q, -1/\ln\chi_c)` (Schoenholz et al. 2017 Eqs. 7, 9).

    ``inf`` where :math:`\chi = 1` (criticality). In the chaotic phase :math:`\chi_c < 1` is taken at
    :math:`c^*`; for piecewise linear :math:`\phi` with :math:`\sigma_b^2 = 0` at :math:`\kappa\sigma_w^2 = 1`
    both are infinite.
    """
    act = _act(activation)
    scalar, (sw, sb) = _params(sigma_w2, sigma_b2)
    if act.is_piecewise_linear:
        _, cc = _two_input(act, sw, sb)
        xq = _xi(_kappa(act) * sw.reshape(-1))
    else:
        q = _q_star_checked(act, sw.reshape(-1), sb.reshape(-1))
        xq = _xi(sw.reshape(-1) * _moments(act, q)[2])
        _, cc = _two_input(act, sw, sb)
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
    lab = np.where(c1 > 1 + tol, "chaotic", np.where(c1 < 1 - tol, "ordered", "critical")).astype(object)
    lab[~ok] = "unbounded"
    lab = lab.reshape(shape)
    return str(lab[()]) if scalar else lab.astype(str)


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
    d0 = float(act.derivative(np.array(0.0), np))
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


# ============================================================================ NNGP
def nngp_kernel(activation, sigma_w2, sigma_b2, X, depth, diagonal: bool = False):
    r"""NNGP kernel :math:`K^{(\mathrm{depth})}` of the pre-activations of layer ``depth`` for inputs ``X`` (P x d_in).

    :math:`K^{(1)} = \sigma_b^2 + \sigma_w^2 XX^\top/d_\mathrm{in}`,
    :math:`K^{(l+1)} = \sigma_b^2 + \sigma_w^2\,\mathbb{E}[\phi(z)\phi(z')]`, :math:`(z,z')\sim N(0,K^{(l)})`
    (Lee et al. 2018, arXiv:1711.00165 Eq. 4; Matthews et al. 2018).

    Depth mapping to neural-tangents: ``nngp_kernel(..., depth=l)`` equals
    ``stax.serial(Dense(1, W_std, b_std), *[phi, Dense(1, W_std, b_std)] * (l - 1))`` ``kernel_fn(X, None,
    "nngp")`` with ``W_std**2 = sigma_w2``, ``b_std**2 = sigma_b2`` (default NTK parameterisation; l Dense
    layers, ``l - 1`` nonlinearities).

    Closed forms (piecewise linear, erf, GELU) elementwise; otherwise Mehler's series with per-input Hermite
    coefficients, ``K`` doubled (128 ... 4096) until the Parseval tail is below :math:`10^{-14}` of
    :math:`\mathbb{E}[\phi^2]` (truncation error at most twice that, Cauchy-Schwarz).
    Memory :math:`O(P^2)` (:math:`O(P)` with ``diagonal=True``, which returns the diagonal only).
    """
    act = _act(activation)
    scalar, (sw, sb) = _params(sigma_w2, sigma_b2)
    if not scalar:
        raise ValueError("nngp_kernel takes scalar sigma_w2 and sigma_b2")
    sw, sb = float(sw), float(sb)
    depth = check_int(depth, "depth", minimum=1)
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[0] < 1 or X.shape[1] < 1:
        raise ValueError(f"X must be a 2-D array (P x d_in) with P, d_in >= 1, got shape {X.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError("X must be finite")
    d = X.shape[1]
    if diagonal:
        k = sb + sw * np.einsum("ij,ij->i", X, X) / d
        for _ in range(depth - 1):
            k = sb + sw * _m_only(act, k)
        return k
    K = sb + sw * (X @ X.T) / d
    K = 0.5 * (K + K.T)
    for _ in range(depth - 1):
        diag = np.diagonal(K).copy()
        if act.has_closed_form("kernel"):
            s = np.sqrt(np.outer(diag, diag))
            C = np.clip(K, -s, s)
            E = act.kernel(diag[:, None], diag[None, :], C)
        else:
            E = _mehler_gram(act, diag, K)
        K = sb + sw * E
        K = 0.5 * (K + K.T)
    return K


def _mehler_gram(act, diag, K):
    m = _m_only(act, diag)
    s = np.sqrt(np.outer(diag, diag))
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = np.where(s > 0, K / np.where(s > 0, s, 1.0), 0.0)
    rho = np.clip(rho, -1.0, 1.0)
    par = _parity(act)
    for Kn in (128, 256, 512, 1024, 2048, 4096):
        A = hermite_coefficients(act.numpy, diag, Kn, parity=par)
        T = np.clip(m - np.sum(A * A, axis=-1), 0.0, None)
        if np.all(T <= 1e-14 * np.maximum(m, 1e-300)):
            break
    else:
        warnings.warn(f"nngp_kernel: Mehler tail {T.max():.1e} above 1e-14 E[phi^2] at K=4096", QuadratureWarning,
                      stacklevel=3)
    return mehler_kernel(A[:, None, :], A[None, :, :], rho, T[:, None], T[None, :])


# ============================================================================ phase diagram
@dataclass
class PhaseDiagram:
    """Mean-field quantities on a ``(sigma_b2, sigma_w2)`` grid (arrays of shape ``(len(sigma_b2), len(sigma_w2))``).

    ``phase`` holds ``"ordered"``, ``"chaotic"``, ``"critical"`` or ``"unbounded"`` (no stable fixed point:
    ``q_star``, ``c_star``, ``xi_q``, ``xi_c`` are NaN there, flagged by this label, never silently).
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

    def plot(self, path=None, ax=None):
        """Colour map of :math:`\\xi_c` (log scale) with the exact :math:`\\chi_1 = 1` line; PNG to ``path``."""
        import matplotlib

        if ax is None:
            matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.colors import LogNorm

        fig = None
        if ax is None:
            fig, ax = plt.subplots(figsize=(6, 4.5))
        xi = np.where(np.isfinite(self.xi_c), self.xi_c, np.nan)
        finite = xi[np.isfinite(xi) & (xi > 0)]
        norm = LogNorm(vmin=max(finite.min(), 1e-2), vmax=min(finite.max(), 1e4)) if finite.size else None
        im = ax.pcolormesh(self.sigma_w2, self.sigma_b2, xi, shading="auto", norm=norm, cmap="viridis")
        plt.colorbar(im, ax=ax, label=r"$\xi_c$")
        try:
            qq = np.geomspace(1e-8, max(4 * float(np.nanmax(self.q_star)), 1e-6), 4000)
            w, b = critical_line(self.activation, qq)
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
        if path is not None and fig is not None:
            fig.savefig(path, dpi=120, bbox_inches="tight")
            plt.close(fig)
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
    lab = np.where(c1 > 1, "chaotic", np.where(c1 < 1, "ordered", "critical")).astype(object)
    lab[~ok] = "unbounded"
    xq = np.where(ok, _xi(np.where(ok, cq, 0.5)), np.nan)
    xc = np.where(ok, _xi(np.where(ok, cc, 0.5)), np.nan)
    shp = SW.shape
    return PhaseDiagram(act.name, w, b, q.reshape(shp), c1.reshape(shp), cq.reshape(shp), cs.reshape(shp),
                        cc.reshape(shp), xq.reshape(shp), xc.reshape(shp), lab.reshape(shp))

r"""Infinite-width kernels: the NNGP kernel and the neural tangent kernel (NTK) of deep fully connected networks.

Conventions (``docs/conventions.md``): :math:`z^1 = W^1x + b^1`, :math:`z^l = W^l\phi(z^{l-1}) + b^l`,
:math:`W^l_{ij}\sim N(0,\sigma_w^2/N_{l-1})` (fan-in, :math:`N_0 = d_\mathrm{in}`), :math:`b^l_i\sim N(0,\sigma_b^2)`;
``sigma_w2``, ``sigma_b2`` are the variances; layer 1 is the first affine layer, so
:math:`K^{(1)}(x,x') = \sigma_b^2 + \sigma_w^2\,x\cdot x'/d_\mathrm{in}`.

Recursions (Lee et al. 2018, arXiv:1711.00165 Eq. 4; Jacot et al. 2018, arXiv:1806.07572 Thm. 1; Arora et al.
2019, arXiv:1904.11955 Eqs. 9-11):

.. math::
    K^{(l+1)} = \sigma_b^2 + \sigma_w^2\,\mathbb{E}[\phi(u)\phi(v)], \qquad
    \Theta^{(1)} = K^{(1)}, \qquad
    \Theta^{(l+1)} = K^{(l+1)} + \sigma_w^2\,\mathbb{E}[\phi'(u)\phi'(v)]\;\Theta^{(l)},

with :math:`(u, v)\sim N(0, K^{(l)})` restricted to the two inputs.

Evaluation. Closed forms where the activation has them (``act.has_closed_form("kernel")`` and
``"deriv_kernel"``: the arc-cosine kernels of order 1 and 0 for linear / ReLU / leaky ReLU, Cho & Saul 2009; erf,
Williams 1997; exact GELU); otherwise Mehler's series :math:`\mathbb{E}[f(u)f(v)] = \sum_k a_k(q_1)a_k(q_2)\rho^k`
with per-input Hermite coefficients of :math:`\phi` (NNGP) and of :math:`\phi'` (NTK), the number of terms doubled
(128 ... 4096) until the Parseval tail is below :math:`10^{-14}` of :math:`\mathbb{E}[f^2]`. Activations with
kinks (``act.kinks``) and no closed form: their Hermite coefficients decay only algebraically, so every entry is
a 2-D expectation by the graded Gauss–Legendre rule split exactly at the kinks
(:func:`statfield.quadrature.expect2`; about 0.1 s per entry and layer).

Memory and time. The kernels are updated in place, in blocks of rows (for ``X2=None`` only the upper triangle
is computed and mirrored), so the memory is the output (one ``P x P2`` array for the NNGP, two for the NTK) plus
``O(block)`` temporaries. The iteration stops early, exactly, when a layer maps the kernel(s) onto themselves
bit for bit (a fixed point reached to machine precision: every further layer is the same map). A request whose
estimated time exceeds :data:`MAX_SECONDS` is refused up front with ``ValueError`` stating the estimate unless
the mean-field depth scales predict that early stop (or, without a fixed point, the overflow) within the budget
— at criticality the kernel converges only algebraically and is refused at once; if the predicted stop does
not happen within the budget, the iteration is refused there. Kernel entries above :data:`K_MAX` raise ``OverflowError`` naming
the layer (geometric growth in the unbounded phase, or huge inputs), never NaN.

Accuracy. The NNGP kernel is accurate to a few ulps per layer. The NTK of kinked activations has one
limitation: the derivative kernel depends on :math:`\theta = \arccos\rho`, whose slope diverges at
:math:`\rho = 1`; when :math:`1-\rho` of two distinct inputs falls below float64 resolution (deep in the ordered
phase, where all inputs become perfectly correlated) :math:`\theta` is determined only to
:math:`\sim\sqrt{\epsilon}\approx1.5\times10^{-8}`, so NTK entries carry absolute errors up to that size per
layer (relative to :math:`\max\Theta`) and the matrix may be indefinite at that level. Identical inputs are
exact (:math:`\rho = 1` is detected, not computed). Fixing this would require propagating :math:`1-\rho` itself.
"""

from __future__ import annotations

import math
import warnings
from functools import lru_cache

import numpy as np

from ._checks import check_int
from .quadrature import _breakpoints

__all__ = ["K_MAX", "MAX_SECONDS", "nngp_kernel", "ntk_kernel"]

#: largest kernel entry accepted: products of two entries must stay finite in float64
K_MAX = 1.0e150
#: budget (estimated seconds on one core) for iterations that do not reach an exact fixed point
MAX_SECONDS = 30.0
_BLOCK = 2**16             # elements per block of the in-place update (temporaries ~ 6 blocks)
# work model (seconds, one core, measured on a 2-core CI machine with margin): per layer + per element
_T_LAYER = {"closed": 2e-4, "mehler": 6e-3, "direct": 1e-3}
_T_ELEM = {"closed": 2.5e-7, "mehler": 4e-6, "direct": 0.12}


# ============================================================================ inputs
def _inputs(X, name):
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[0] < 1 or X.shape[1] < 1:
        raise ValueError(f"{name} must be a 2-D array (P x d_in) with P, d_in >= 1, got shape {X.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{name} must be finite")
    return X


def _setup(activation, sigma_w2, sigma_b2, X, depth, X2, fn):
    from . import meanfield as mf

    act = mf._act(activation)
    scalar, (sw, sb) = mf._params(sigma_w2, sigma_b2)
    if not scalar:
        raise ValueError(f"{fn} takes scalar sigma_w2 and sigma_b2")
    depth = check_int(depth, "depth", minimum=1)
    X = _inputs(X, "X")
    if X2 is not None:
        X2 = _inputs(X2, "X2")
        if X2.shape[1] != X.shape[1]:
            raise ValueError(f"X2 must have the same number of columns as X (d_in = {X.shape[1]}), "
                             f"got shape {X2.shape}")
    return act, float(sw), float(sb), X, depth, X2


def _first_layer_diag(X, sw, sb):
    d = X.shape[1]
    with np.errstate(over="ignore", invalid="ignore"):
        return sb + sw * np.einsum("ij,ij->i", X, X) / d


def _overflow(fn, layer, *arrays):
    big = max(max(abs(float(np.max(a))), abs(float(np.min(a)))) if np.size(a) else 0.0 for a in arrays)
    if not math.isfinite(big) or big > K_MAX:
        raise OverflowError(
            f"{fn}: the kernel of layer {layer} exceeds {K_MAX:g} (largest entry {big:.3g}): it grows "
            "geometrically with depth (no stable fixed point of the q-map, e.g. kappa*sigma_w2 > 1 for "
            "piecewise-linear activations) or the inputs are huge; reduce depth, sigma_w2 or the input scale, "
            "or use meanfield.cmap for the depth evolution of correlations")


# ============================================================================ per-layer evaluators
class _Closed:
    """Closed-form E[phi phi] and E[phi' phi'] (registry kernels)."""

    kind = "closed"

    def __init__(self, act, d1, d2, ntk):
        self.act, self.ntk = act, ntk

    def block(self, q1, q2, C):
        s = np.sqrt(q1[:, None] * q2[None, :])        # sqrt(d*d) == d exactly: rho = 1 on the diagonal
        C = np.clip(C, -s, s)
        a, b = q1[:, None], q2[None, :]
        E = self.act.kernel(a, b, C)
        Ed = self.act.deriv_kernel(a, b, C) if self.ntk else None
        return E, Ed

    def diag(self, q, i):
        return self.act.kernel(q, q, q)


class _PiecewiseLinear:
    r"""Arc-cosine kernels of order 1 and 0 for phi = a+ z theta(z) + a- z theta(-z), evaluated in place.

    Same formulas and operation order as the registry closed forms (Cho & Saul 2009):
    :math:`E = (a_+-a_-)^2\,s(\sqrt{1-\rho^2} + (\pi-\theta)\rho)/(2\pi) + a_+a_-c`,
    :math:`\dot E = (a_+^2+a_-^2)(\pi-\theta)/(2\pi) + a_+a_-\theta/\pi`, :math:`\theta = \arccos\rho`, with
    a handful of block-sized temporaries instead of a dozen.
    """

    kind = "closed"

    def __init__(self, act, d1, d2, ntk):
        self.act, self.ntk = act, ntk
        self.ap, self.am = float(act.a_plus), float(act.a_minus)

    def block(self, q1, q2, C):
        ap, am = self.ap, self.am
        s = np.multiply(q1[:, None], q2[None, :])
        np.sqrt(s, out=s)
        rho = np.ones_like(s)
        np.divide(C, s, out=rho, where=s > 0)
        np.clip(rho, -1.0, 1.0, out=rho)
        # identical inputs: exactly 1 (sqrt(q*q) may round away from q; arccos' slope diverges at 1)
        np.copyto(rho, 1.0, where=(C == q1[:, None]) & (C == q2[None, :]))
        th = np.arccos(rho)
        Ed = None
        if self.ntk:
            Ed = np.subtract(np.pi, th)
            Ed *= ap**2 + am**2
            Ed /= 2 * np.pi
            if ap * am != 0:
                t2 = th * (ap * am)
                t2 /= np.pi
                Ed += t2
                del t2
        E = np.multiply(rho, rho)
        np.subtract(1.0, E, out=E)
        np.clip(E, 0.0, None, out=E)
        np.sqrt(E, out=E)
        np.subtract(np.pi, th, out=th)
        th *= rho
        E += th
        del th, rho
        E *= s
        E /= 2 * np.pi
        E *= (ap - am) ** 2
        if ap * am != 0:
            Cc = np.clip(C, -s, s)
            Cc *= ap * am
            E += Cc
        return E, Ed

    def diag(self, q, i):
        return self.act.kernel(q, q, q)


class _Mehler:
    """Mehler series with Hermite coefficients of phi (and phi') at the layer's diagonal entries."""

    kind = "mehler"

    def __init__(self, act, d1, d2, ntk):
        from . import meanfield as mf
        from .quadrature import QuadratureWarning

        self.ntk = ntk
        u = d1 if d2 is None else np.concatenate([d1, d2])
        par = mf._parity(act)
        m, p, _ = mf._moments(act, u, need_dm=False, need_p=ntk)
        self.n1 = d1.size
        self.A, self.T = _coefficients(act.numpy, u, m, par, "nngp_kernel", QuadratureWarning)
        if ntk:
            dpar = {"odd": "even", "even": "odd"}.get(par)

            def dphi(x):
                return act.derivative(np.asarray(x, dtype=float), np)

            self.B, self.Tb = _coefficients(dphi, u, p, dpar, "ntk_kernel", QuadratureWarning)

    def _sides(self, arr, rows, cols):
        n1 = self.n1
        return arr[rows], arr[n1:][cols] if arr.shape[0] > n1 else arr[cols]

    def block(self, q1, q2, C, rows=None, cols=None):
        from .quadrature import mehler_kernel

        s = np.sqrt(q1[:, None] * q2[None, :])
        with np.errstate(divide="ignore", invalid="ignore"):
            rho = np.where(s > 0, C / np.where(s > 0, s, 1.0), 0.0)
        np.clip(rho, -1.0, 1.0, out=rho)
        A1, A2 = self._sides(self.A, rows, cols)
        T1, T2 = self._sides(self.T, rows, cols)
        E = mehler_kernel(A1[:, None, :], A2[None, :, :], rho, T1[:, None], T2[None, :])
        Ed = None
        if self.ntk:
            B1, B2 = self._sides(self.B, rows, cols)
            S1, S2 = self._sides(self.Tb, rows, cols)
            Ed = mehler_kernel(B1[:, None, :], B2[None, :, :], rho, S1[:, None], S2[None, :])
        return E, Ed

    def diag(self, q, i):
        # rho = 1 on the diagonal: the Parseval sum with the tail, i.e. E[phi^2] up to rounding
        from .quadrature import mehler_kernel

        A = self.A[i]
        T = self.T[i]
        return mehler_kernel(A, A, np.ones(q.shape), T, T)


def _coefficients(f, u, norm2, parity, fn, warning):
    from .quadrature import hermite_coefficients

    for Kn in (128, 256, 512, 1024, 2048, 4096):
        A = hermite_coefficients(f, u, Kn, parity=parity)
        T = np.clip(norm2 - np.sum(A * A, axis=-1), 0.0, None)
        if np.all(T <= 1e-14 * np.maximum(norm2, 1e-300)):
            break
    else:
        warnings.warn(f"{fn}: Mehler tail {T.max():.1e} above 1e-14 E[f^2] at K=4096 (kinked activation?)",
                      warning, stacklevel=4)
    return A, T


class _Direct:
    """Kinked activations without closed forms: 2-D graded quadrature split at the kinks, entry by entry."""

    kind = "direct"

    def __init__(self, act, d1, d2, ntk):
        self.act, self.ntk = act, ntk

    def block(self, q1, q2, C):
        from .quadrature import _graded_2d

        s = np.sqrt(q1[:, None] * q2[None, :])
        C = np.clip(C, -s, s)
        a, b = np.broadcast_arrays(q1[:, None], q2[None, :])
        rho = np.clip(np.divide(C, s, out=np.zeros_like(s), where=s > 0), -1.0, 1.0)
        kinks = _breakpoints(self.act)
        flat = [np.ascontiguousarray(x).reshape(-1) for x in (a, b, rho)]
        E = _graded_2d(self.act.numpy, self.act.numpy, *flat, kinks, kinks)[0].reshape(s.shape)
        Ed = None
        if self.ntk:
            def dphi(x):
                return self.act.derivative(np.asarray(x, dtype=float), np)

            Ed = _graded_2d(dphi, dphi, *flat, kinks, kinks)[0].reshape(s.shape)
        return E, Ed

    def diag(self, q, i):
        from .quadrature import kernel

        return np.asarray(kernel(self.act, q, q, q), dtype=float)


def _kind(act, ntk):
    if act.has_closed_form("kernel") and (not ntk or act.has_closed_form("deriv_kernel")):
        return "closed"
    return "direct" if _breakpoints(act) else "mehler"


def _evaluator(act, d1, d2, ntk):
    from .quadrature import Q_TRAP

    kind = _kind(act, ntk)
    if kind == "closed" and act.is_piecewise_linear:
        return _PiecewiseLinear(act, d1, d2, ntk)
    if kind == "mehler" and max(float(np.max(d1)), float(np.max(d1 if d2 is None else d2))) > Q_TRAP:
        # large variances: Hermite coefficients would need ~sqrt(q) nodes and converge slowly (phi(sqrt(q) z)
        # approaches a step); the graded 2-D rule needs ~log(q) nodes per axis
        kind = "direct"
    return {"closed": _Closed, "mehler": _Mehler, "direct": _Direct}[kind](act, d1, d2, ntk)


# ============================================================================ the layer loop
def _budget(fn, act, depth, P, P2, ntk, sw, sb):
    r"""(estimate, cap): refuse up front when the estimate exceeds MAX_SECONDS and no early stop is expected.

    Early stop is expected when the mean-field depth scales are finite: perturbations of the fixed point decay
    like :math:`e^{-l/\xi}`, so machine precision is reached after about :math:`37\xi` layers (ordered and
    chaotic phases; for the NTK also :math:`\xi_1 = 1/|\ln\chi_1|`). At criticality (:math:`\xi = \infty`) the
    kernel converges only algebraically: refused at once. Without a fixed point the kernel grows
    geometrically and the overflow rule ends the iteration.
    """
    kind = _kind(act, ntk)
    per_layer = _T_LAYER[kind] + _T_ELEM[kind] * P * P2 * (2 if ntk else 1)
    est = per_layer * (depth - 1)
    if est <= MAX_SECONDS:
        return est, depth
    cap = max(2, int(MAX_SECONDS / per_layer))
    from . import meanfield as mf

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            xi = max(mf.depth_scales(act, sw, sb))
            if ntk:
                c1 = mf.chi1(act, sw, sb)
                xi = max(xi, math.inf if c1 == 1.0 else 1.0 / abs(math.log(c1)))
    except (ValueError, ArithmeticError, ZeroDivisionError):
        # no fixed point: the kernel grows and the overflow rule ends the iteration; piecewise-linear phi grow
        # exactly geometrically (rate kappa*sigma_w2), so the number of layers to overflow is known up front
        if act.is_piecewise_linear:
            r = 0.5 * (act.a_plus**2 + act.a_minus**2) * sw
            n_over = math.log(K_MAX) / math.log(r) if r > 1 else math.inf
            if n_over * per_layer > MAX_SECONDS:
                raise ValueError(
                    f"{fn}: depth={depth} with P x P2 = {P} x {P2} would take an estimated {est:.3g} s (more than "
                    f"{MAX_SECONDS:g} s): there is no fixed point (kappa*sigma_w2 = {r:.12g}) and the kernel grows "
                    "too slowly to overflow earlier; reduce depth") from None
        return est, cap
    need = 40.0 * xi + 100.0
    if not math.isfinite(need) or need * per_layer > MAX_SECONDS:
        raise ValueError(
            f"{fn}: depth={depth} with P x P2 = {P} x {P2} would take an estimated {est:.3g} s (more than "
            f"{MAX_SECONDS:g} s), and the kernel is not expected to reach its fixed point to machine precision "
            f"earlier (mean-field depth scale {xi:.3g} layers; infinite at criticality, where it converges only "
            "algebraically): reduce depth, or use the fixed points meanfield.q_star / c_star")
    return est, cap


def _refuse(fn, depth, est, cap, P, P2):
    return ValueError(
        f"{fn}: depth={depth} with P x P2 = {P} x {P2} would take an estimated {est:.3g} s "
        f"(more than {MAX_SECONDS:g} s), and the kernel had not reached a fixed point to machine precision "
        f"by layer {cap} (after which every layer would be the same map): reduce depth, or use the fixed points "
        "meanfield.q_star / c_star")


def _propagate(act, sw, sb, X, X2, depth, ntk, fn):
    """K (and Theta) of layer ``depth``: in place, row blocks, upper triangle when X2 is None."""
    sym = X2 is None
    Y = X if sym else X2
    P, P2 = X.shape[0], Y.shape[0]
    d_in = X.shape[1]
    with np.errstate(over="ignore", invalid="ignore"):
        K = X @ Y.T
        K *= sw / d_in
        K += sb
    _overflow(fn, 1, K)
    rows_per = max(1, _BLOCK // max(P2, 1))
    if sym:
        _mirror(K, rows_per)                              # exactly symmetric, in place
        d1 = np.diagonal(K).copy()
        d2 = d1
    else:
        d1 = _first_layer_diag(X, sw, sb)
        d2 = _first_layer_diag(Y, sw, sb)
        _overflow(fn, 1, d1, d2)
    Th = K.copy() if ntk else None
    est, cap = _budget(fn, act, depth, P, P2, ntk, sw, sb)
    for layer in range(2, depth + 1):
        if layer > cap:
            raise _refuse(fn, depth, est, cap, P, P2)
        ev = _evaluator(act, d1, None if sym else d2, ntk)
        changed = False
        for r0 in range(0, P, rows_per):
            r1 = min(P, r0 + rows_per)
            rows = np.arange(r0, r1)
            c0 = r0 if sym else 0                         # upper triangle incl. the diagonal block
            cols = np.arange(c0, P2)
            kw = {"rows": rows, "cols": cols} if ev.kind == "mehler" else {}
            Kb = K[r0:r1, c0:]
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                E, Ed = ev.block(d1[r0:r1], d2[c0:], Kb, **kw)
            if not (np.isfinite(E).all() and (Ed is None or np.isfinite(Ed).all())):
                raise OverflowError(f"{fn}: the expectations of layer {layer} are not finite in float64 (kernel "
                                    f"entries up to {max(d1.max(), d2.max()):.3g}); reduce depth, sigma_w2 or "
                                    "the input scale")
            E *= sw
            E += sb
            if ntk:
                Ed *= sw
                Ed *= Th[r0:r1, c0:]
                Ed += E
                if not changed and not np.array_equal(Ed, Th[r0:r1, c0:]):
                    changed = True
                Th[r0:r1, c0:] = Ed
            if not changed and not np.array_equal(E, Kb):
                changed = True
            K[r0:r1, c0:] = E
            del E, Ed
        if sym:
            _mirror(K, rows_per)
            if ntk:
                _mirror(Th, rows_per)
            d1 = np.diagonal(K).copy()
            d2 = d1
        else:
            d1 = sb + sw * ev.diag(d1, slice(0, d1.size))
            d2 = sb + sw * ev.diag(d2, slice(d1.size, None) if ev.kind == "mehler" else slice(None))
        _overflow(fn, layer, d1, d2, *( (np.diagonal(Th),) if (ntk and sym) else ()))
        if ntk and not sym:
            _overflow(fn, layer, Th)
        if not changed:
            break
    return K, Th


def _mirror(A, rows_per):
    """Copy the upper triangle onto the lower one, in blocks (no P x P temporary)."""
    P = A.shape[0]
    for r0 in range(0, P, rows_per):
        r1 = min(P, r0 + rows_per)
        blk = A[r0:r1, r0:]                        # rows r0:r1, columns r0: (upper part, computed)
        A[r0:, r0:r1] = blk.T
        # the diagonal block: keep its upper triangle, mirror it
        D = A[r0:r1, r0:r1]
        iu = _triu(r1 - r0)
        D.T[iu] = D[iu]


@lru_cache(maxsize=8)
def _triu(n):
    return np.triu_indices(n, 1)


def _propagate_diag(act, sw, sb, X, depth, fn):
    from . import meanfield as mf

    k = _first_layer_diag(X, sw, sb)
    _overflow(fn, 1, k)
    est, cap = _budget(fn, act, depth, 1, 1, False, sw, sb)
    for layer in range(2, depth + 1):
        if layer > cap:
            raise _refuse(fn, depth, est, cap, X.shape[0], 1)
        new = sb + sw * mf._m_only(act, k)
        _overflow(fn, layer, new)
        if np.array_equal(new, k):
            break
        k = new
    return k


# ============================================================================ public
def nngp_kernel(activation, sigma_w2, sigma_b2, X, depth, diagonal: bool = False, X2=None, residual: bool = False):
    r"""NNGP kernel :math:`K^{(\mathrm{depth})}` of the pre-activations of layer ``depth``.

    :math:`K^{(1)} = \sigma_b^2 + \sigma_w^2 XX_2^\top/d_\mathrm{in}`,
    :math:`K^{(l+1)} = \sigma_b^2 + \sigma_w^2\,\mathbb{E}[\phi(z)\phi(z')]`, :math:`(z,z')\sim N(0,K^{(l)})`
    (Lee et al. 2018, arXiv:1711.00165 Eq. 4; Matthews et al. 2018; conventions in ``docs/conventions.md``).

    Parameters
    ----------
    activation : str, Activation, SymPy expression or callable
        See :func:`statfield.get_activation`.
    sigma_w2 : float
        Weight variance (per fan-in), ``> 0``.
    sigma_b2 : float
        Bias variance, ``>= 0``.
    X : array (P, d_in)
        Inputs, finite.
    depth : int
        Layer ``l >= 1`` whose pre-activation kernel is returned.
    diagonal : bool
        Return only the diagonal :math:`K^{(l)}(x_\mu, x_\mu)` (shape ``(P,)``, memory ``O(P)``); not with ``X2``.
    X2 : array (P2, d_in), optional
        Second set of inputs: the cross kernel :math:`K^{(l)}(x_\mu, x'_\nu)`, shape ``(P, P2)``, without
        forming the ``(P + P2)`` kernel; equal to the corresponding block of the kernel of the concatenated
        inputs (to rounding).
    residual : bool
        Residual network :math:`z^{l+1} = z^l + W^{l+1}\phi(z^l) + b^{l+1}`:
        :math:`K^{(l+1)} = K^{(l)} + \sigma_b^2 + \sigma_w^2\mathbb{E}[\phi\phi]` (delegates to
        :func:`statfield.resnet.resnet_nngp_kernel`).

    Returns
    -------
    ndarray
        ``(P, P)`` (symmetric), ``(P, P2)`` or ``(P,)``.

    Notes
    -----
    Depth mapping to neural-tangents: ``nngp_kernel(..., depth=l)`` equals
    ``stax.serial(Dense(1, W_std, b_std), *[phi, Dense(1, W_std, b_std)] * (l - 1))`` ``kernel_fn(X, X2,
    "nngp")`` with ``W_std**2 = sigma_w2``, ``b_std**2 = sigma_b2`` (``l`` Dense layers; the NNGP is the same in
    both parameterisations). Evaluation, memory, the exact early stop at a fixed point, the time budget and
    the overflow rule: see :mod:`statfield.kernels`.

    Raises
    ------
    ValueError
        Bad parameters, inputs or depth; an iteration estimated above :data:`MAX_SECONDS` that does not reach
        a fixed point within that budget.
    OverflowError
        A kernel entry above :data:`K_MAX` (names the layer).
    """
    if residual:
        from .resnet import resnet_nngp_kernel

        return resnet_nngp_kernel(activation, sigma_w2, sigma_b2, X, depth, X2=X2, diagonal=diagonal)
    fn = "nngp_kernel"
    act, sw, sb, X, depth, X2 = _setup(activation, sigma_w2, sigma_b2, X, depth, X2, fn)
    if diagonal:
        if X2 is not None:
            raise ValueError("diagonal=True returns K(x, x) of X only: do not pass X2 with it")
        return _propagate_diag(act, sw, sb, X, depth, fn)
    return _propagate(act, sw, sb, X, X2, depth, False, fn)[0]


def ntk_kernel(activation, sigma_w2, sigma_b2, X, depth, X2=None, residual: bool = False):
    r"""Neural tangent kernel :math:`\Theta^{(\mathrm{depth})}` of the output of layer ``depth`` at infinite width.

    .. math::
        \Theta^{(1)} = K^{(1)}, \qquad
        \Theta^{(l+1)} = K^{(l+1)} + \sigma_w^2\,\mathbb{E}[\phi'(u)\phi'(v)]\;\Theta^{(l)},
        \quad (u, v)\sim N(0, K^{(l)})

    (Jacot et al. 2018, arXiv:1806.07572 Thm. 1; Arora et al. 2019, arXiv:1904.11955 Eqs. 9-11), with
    :math:`K^{(l)}` the NNGP kernel of :func:`nngp_kernel`.

    Parameterisation. This is the NTK of the **NTK parameterisation** with our variances:
    :math:`z^l = \sqrt{\sigma_w^2/N_{l-1}}\,\omega^l\phi(z^{l-1}) + \sqrt{\sigma_b^2}\,\beta^l` with trainable
    :math:`\omega, \beta\sim N(0, 1)`, :math:`\Theta(x, x') = \sum_\theta \partial_\theta f(x)\,\partial_\theta
    f(x')` — neural-tangents ``stax.Dense(1, W_std, b_std, parameterization='ntk')`` with
    ``W_std**2 = sigma_w2``, ``b_std**2 = sigma_b2``, ``depth`` Dense layers and ``depth - 1`` nonlinearities.
    The NNGP is the same in both parameterisations, the NTK is not: in the **standard parameterisation**
    (trainable :math:`W^l\sim N(0,\sigma_w^2/N_{l-1})`, :math:`b^l\sim N(0,\sigma_b^2)`, one learning rate) the
    gradient with respect to :math:`W^l` lacks the factor :math:`\sqrt{\sigma_w^2/N_{l-1}}` and that with respect
    to :math:`b^l` the factor :math:`\sigma_b`, so layer ``l`` contributes
    :math:`N_{l-1}\mathbb{E}[\phi\phi]^{(l)} + 1` instead of :math:`\sigma_w^2\mathbb{E}[\phi\phi]^{(l)} + \sigma_b^2
    = K^{(l)}` (with the same backward factors :math:`\sigma_w^2\mathbb{E}[\phi'\phi']`): the NTK grows with the
    width unless the learning rate is scaled by :math:`1/N`, and the relative weight of the bias terms changes
    (Lee et al. 2019, arXiv:1902.06720 §2 and App. D; Sohl-Dickstein et al. 2020, arXiv:2001.07301;
    neural-tangents' ``parameterization='standard'`` fixes the scale with its width parameter ``s``).

    Parameters
    ----------
    activation, sigma_w2, sigma_b2, X, depth
        As in :func:`nngp_kernel`. :math:`\phi'` must be available (registry activations, SymPy expressions,
        callables — numerically unless ``deriv=`` is given); otherwise ``ValueError`` naming the activation.
    X2 : array (P2, d_in), optional
        Second set of inputs: the cross kernel :math:`\Theta(x_\mu, x'_\nu)`, shape ``(P, P2)``.
    residual : bool
        Residual network (NTK parameterisation): delegates to :func:`statfield.resnet.resnet_ntk_kernel`.

    Returns
    -------
    ndarray
        ``(P, P)`` (symmetric) or ``(P, P2)``.

    Notes
    -----
    Closed forms: piecewise linear :math:`\phi` (arc-cosine kernels of order 1 and 0; the derivative
    kernel of ReLU is :math:`(\pi - \theta)/(2\pi)`), erf and exact GELU; otherwise Mehler's series for
    :math:`\phi` and :math:`\phi'` (see :mod:`statfield.kernels`). Agreement with neural-tangents 0.6.5
    (float64) on stored reference data is tested in ``tests/meanfield/test_kernels.py``
    (``tests/data/neural_tangents_ntk.json``, made by ``numerics/make_nt_ntk_reference.py``).

    Raises
    ------
    ValueError, OverflowError
        As :func:`nngp_kernel` (the NTK of a chaotic network grows like :math:`\chi_1^l`).
    """
    if residual:
        from .resnet import resnet_ntk_kernel

        return resnet_ntk_kernel(activation, sigma_w2, sigma_b2, X, depth, X2=X2)
    fn = "ntk_kernel"
    act, sw, sb, X, depth, X2 = _setup(activation, sigma_w2, sigma_b2, X, depth, X2, fn)
    if not act.has_closed_form("deriv_kernel"):
        try:
            act.derivative(np.zeros(1), np)
        except Exception as exc:
            raise ValueError(f"ntk_kernel needs the derivative of activation {act.name!r}: {exc}") from exc
    return _propagate(act, sw, sb, X, X2, depth, True, fn)[1]


def _trajectory(act, sw, sb, K1, depth, fn):
    """K^(l) and Theta^(l), l = 1 ... depth, of a small symmetric first-layer kernel K1 (every layer kept)."""
    P = K1.shape[0]
    Ks = np.empty((depth, P, P))
    Ths = np.empty((depth, P, P))
    K = np.array(K1, dtype=float)
    Th = K.copy()
    _overflow(fn, 1, K)
    Ks[0], Ths[0] = K, Th
    for layer in range(2, depth + 1):
        d = np.diagonal(K).copy()
        ev = _evaluator(act, d, None, True)
        kw = {"rows": np.arange(P), "cols": np.arange(P)} if ev.kind == "mehler" else {}
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            E, Ed = ev.block(d, d, K, **kw)
        Knew = sb + sw * E
        Th = Knew + sw * Ed * Th
        K = 0.5 * (Knew + Knew.T)
        Th = 0.5 * (Th + Th.T)
        if not (np.isfinite(K).all() and np.isfinite(Th).all()):
            raise OverflowError(f"{fn}: the kernel of layer {layer} is not finite in float64; reduce depth")
        _overflow(fn, layer, np.diagonal(K), np.diagonal(Th))
        Ks[layer - 1], Ths[layer - 1] = K, Th
    return Ks, Ths


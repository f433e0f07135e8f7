r"""Residual networks at initialisation: mean field, NNGP/NTK kernels, an exact sampler, and the 1/N correction.

Network (conventions of ``docs/conventions.md``, pre-activation residual blocks, Kaplan's notes Eq. 5.1.13 with
:math:`F_l(z) = W\phi(z) + b`, "ResNet V2"):

.. math:: z^1 = W^1x + b^1,\qquad z^{l+1} = z^l + W^{l+1}\phi(z^l) + b^{l+1}\quad(l = 1\dots L-1),

:math:`W^1_{ij}\sim N(0,\sigma_w^2/d_\mathrm{in})`, :math:`W^{l}_{ij}\sim N(0,\sigma_w^2/N)` (fan-in),
:math:`b^l_i\sim N(0,\sigma_b^2)`, all hidden widths :math:`N`.

**Mean field.** Given :math:`z^l` the increment :math:`z^{l+1}-z^l` is Gaussian with zero mean, so it is
uncorrelated with :math:`z^l` and the kernels *add* (derived here; the same structure as the mean-field theory of
residual networks of Yang & Schoenholz 2017, arXiv:1712.08969):

.. math:: K^{l+1}(x,x') = K^l(x,x') + \sigma_b^2 + \sigma_w^2\,\mathbb E[\phi(u)\phi(v)],\qquad
          (u,v)\sim N(0, K^l|_{x,x'}),

:math:`K^1 = \sigma_b^2 + \sigma_w^2 x\cdot x'/d_\mathrm{in}`. On the diagonal
:math:`q^{l+1} = q^l + \sigma_w^2\langle\phi^2\rangle_{q^l} + \sigma_b^2`. For
:math:`\phi = a_+z\theta(z) + a_-z\theta(-z)`, :math:`\langle\phi^2\rangle_q = \kappa q`,
:math:`\kappa = (a_+^2+a_-^2)/2` (ReLU: :math:`\kappa = 1/2`), so

.. math:: q^l = \Big(q^1 + \frac{\sigma_b^2}{\kappa\sigma_w^2}\Big)(1+\kappa\sigma_w^2)^{l-1}
          - \frac{\sigma_b^2}{\kappa\sigma_w^2}

— geometric growth at *any* :math:`\sigma_w^2 > 0` (there is no ordered phase). With
:math:`\sigma_w^2 = c/L` (and :math:`\sigma_b^2 = b/L`) the last layer stays bounded,
:math:`q^L\to(q^1 + b/(\kappa c))e^{\kappa c} - b/(\kappa c)` (ReLU, :math:`b = 0`: :math:`q^1e^{c/2}`).

**Correlations.** For ReLU at :math:`\sigma_b^2 = 0` and equal norms the correlation map is
:math:`c^{l+1} = [c^l + \tfrac{\sigma_w^2}2 f(c^l)]/(1+\tfrac{\sigma_w^2}2)`,
:math:`f(c) = [\sqrt{1-c^2} + (\pi - \arccos c)c]/\pi`; its slope at :math:`c = 1` is exactly 1 (the skip
connection makes every ResNet marginal), and with :math:`f(1-\epsilon) = 1 - \epsilon +
\frac{2\sqrt2}{3\pi}\epsilon^{3/2} + O(\epsilon^2)` the approach is algebraic,
:math:`1 - c^l \simeq 4/(a^2l^2)`, :math:`a = \frac{\sigma_w^2/2}{1+\sigma_w^2/2}\frac{2\sqrt2}{3\pi}`
(:func:`relu_resnet_correlation_asymptote`), instead of the exponential approach of a plain network. With
:math:`\sigma_w^2 = c/L` the total "time" :math:`aL` is bounded and :math:`c^L` stays away from 1.

**Kaplan's notes §5.1.** Eq. 5.1.8 is right (:math:`\langle\mathrm{ReLU}(x)^2\rangle = \frac12\langle x^2\rangle`
for symmetric :math:`x`), but Eq. 5.1.9 then writes :math:`\mathrm{Var}(\mathrm{ReLU}(x))\approx\frac12
\mathrm{Var}(x)`; the variance is :math:`\langle\mathrm{ReLU}^2\rangle - \langle\mathrm{ReLU}\rangle^2 =
(\frac12 - \frac1{2\pi})\mathrm{Var}\,x` for centred Gaussian :math:`x`. What propagates to the next layer is the
*second moment* :math:`\langle\phi^2\rangle` (the weights have zero mean, so
:math:`\mathrm{Var}(W\phi) = \sigma_w^2\langle\phi^2\rangle`, not :math:`\sigma_w^2\mathrm{Var}\,\phi`): the He
result :math:`\mathrm{Var}\,W = 2/N` survives because the slip is made in the quantity that does not enter.
The notes' statement that the growth of residual variances "can be fixed up by dividing the initializations by
a power of :math:`1/\sqrt L`" is made precise above: :math:`\sigma_w^2\propto1/L` (one sub-layer per block).

**NTK** (NTK parameterisation, as :func:`statfield.meanfield.ntk_kernel`): the gradient of :math:`z^{l+1}` carries
the identity path plus the block path, the cross term has zero mean, and

.. math:: \Theta^{l+1} = \Theta^l\,\big(1 + \sigma_w^2\,\mathbb E[\phi'(u)\phi'(v)]\big) + \sigma_b^2
          + \sigma_w^2\,\mathbb E[\phi(u)\phi(v)],\qquad \Theta^1 = K^1.

**Exact sampler.** Conditional on :math:`z^l` (all :math:`P` inputs), the increment is exactly Gaussian, i.i.d.
over units, with the :math:`P\times P` covariance :math:`\hat G^l = \sigma_b^2 + \sigma_w^2\phi(z^l)^\top
\phi(z^l)/N` (SPS17 Eq. 10–11 applied to the block), so :func:`sample_resnet` draws
:math:`z^{l+1} = z^l + \xi\,(\hat G^l)^{1/2}` — exact at any width, :math:`O(NP^2)` per layer and network, no
weight matrix, memory independent of depth (per-layer statistics are streamed).

**Finite width.** In a plain ReLU network :math:`\mathbb E\,q^l` equals the mean-field value at every width
(the pre-activations are conditionally symmetric). In a ResNet they are not: the common variance
:math:`\hat G^l` depends on the signs of the units that it then moves, so :math:`\mathbb E\,u\ne\mathbb E\,q/2`.
To leading order (cavity / linear response around the mean-field path, piecewise-linear :math:`\phi`; derivation
in ``docs/architectures.md``)

.. math:: \mathbb E\,q^L = q^L_{\rm MF} + \frac{\sigma_w^2}{N}\sum_{k=1}^{L-1}e_k + O(N^{-2}),\quad
          e_k = \kappa\sigma_w^2\sum_{m<k}e_m + \sigma_w^2(a_+^2-a_-^2)^2\sum_{m<k}\sum_{n\le m}R_{mn}\,q^n
          \Big(\frac{\arcsin\rho_{kn} + \rho_{kn}\sqrt{1-\rho_{kn}^2}}{2\pi}\Big),

:math:`\rho_{kn} = \sqrt{q^n/q^k}`, :math:`R_{mm} = 1`, :math:`R_{mn} = \kappa\sigma_w^2(1+\kappa\sigma_w^2)^{m-1-n}`
(:func:`resnet_finite_width_q`; checked against :func:`sample_resnet` by a 1/N extrapolation).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._checks import check_finite, check_int, check_positive, check_variances
from .activations import get_activation

__all__ = [
    "K_MAX",
    "ResNetFiniteWidth",
    "ResNetSample",
    "depth_scaled_q_limit",
    "relu_resnet_correlation_asymptote",
    "resnet_correlation",
    "resnet_empirical_ntk",
    "resnet_finite_width_q",
    "resnet_nngp_kernel",
    "resnet_ntk_kernel",
    "resnet_q",
    "sample_resnet",
    "simulate_resnet",
]

from .kernels import K_MAX, _inputs  # noqa: E402  (one validator and one overflow bound for every kernel)


def _overflow(fn, layer, *arrays):
    big = max((float(np.max(np.abs(a))) for a in arrays if np.size(a)), default=0.0)
    if not math.isfinite(big) or big > K_MAX:
        raise OverflowError(
            f"{fn}: the kernel of layer {layer} exceeds {K_MAX:g} (largest entry {big:.3g}): residual networks "
            "grow geometrically with depth at fixed sigma_w2 (q^l ~ (1 + kappa*sigma_w2)^l for piecewise-linear "
            "phi); reduce depth or sigma_w2 (e.g. sigma_w2 = c/depth), or use resnet_q(..., log=True)")


def _expectations(act, q1, q2, C, ntk):
    """E[phi(u)phi(v)] (and E[phi'(u)phi'(v)]) for (u,v) ~ N(0, [[q1, C], [C, q2]]), broadcasting."""
    from .quadrature import deriv_kernel, kernel

    s = np.sqrt(np.multiply(q1, q2))
    C = np.clip(C, -s, s)
    q1b, q2b, Cb = np.broadcast_arrays(q1, q2, C)
    with np.errstate(over="ignore", invalid="ignore"):
        E = np.asarray(kernel(act, q1b, q2b, Cb), dtype=float)
        Ed = np.asarray(deriv_kernel(act, q1b, q2b, Cb), dtype=float) if ntk else None
    return E, Ed


def _propagate(activation, sigma_w2, sigma_b2, X, depth, X2, ntk, fn):
    act = get_activation(activation)
    sw, sb = check_variances(sigma_w2, sigma_b2)
    depth = check_int(depth, "depth", minimum=1)
    X = _inputs(X, "X")
    P = X.shape[0]
    if X2 is not None:
        X2 = _inputs(X2, "X2")
        if X2.shape[1] != X.shape[1]:
            raise ValueError(f"X2 must have the same number of columns as X (d_in = {X.shape[1]}), "
                             f"got shape {X2.shape}")
        X = np.vstack([X, X2])
    if ntk and not act.has_closed_form("deriv_kernel"):
        try:
            act.derivative(np.zeros(1), np)
        except Exception as exc:
            raise ValueError(f"{fn} needs the derivative of activation {act.name!r}: {exc}") from exc
    with np.errstate(over="ignore", invalid="ignore"):
        K = sb + sw * (X @ X.T) / X.shape[1]
    K = 0.5 * (K + K.T)
    _overflow(fn, 1, K)
    Th = K.copy() if ntk else None
    for layer in range(2, depth + 1):
        d = np.diagonal(K).copy()
        E, Ed = _expectations(act, d[:, None], d[None, :], K, ntk)
        if not (np.all(np.isfinite(E)) and (Ed is None or np.all(np.isfinite(Ed)))):
            raise OverflowError(f"{fn}: the expectations of layer {layer} are not finite in float64 (kernel "
                                f"entries up to {d.max():.3g}); reduce depth or sigma_w2")
        if ntk:
            Th = Th * (1.0 + sw * Ed) + sb + sw * E
            Th = 0.5 * (Th + Th.T)
        K = K + sb + sw * E
        K = 0.5 * (K + K.T)
        _overflow(fn, layer, K, *((Th,) if ntk else ()))
    out = Th if ntk else K
    return out if X2 is None else out[:P, P:]


# ============================================================================ kernels
def resnet_nngp_kernel(activation, sigma_w2, sigma_b2, X, depth, X2=None, diagonal: bool = False):
    r"""NNGP kernel :math:`K^{(\mathrm{depth})}` of the pre-activations of layer ``depth`` of a residual network.

    .. math:: K^1 = \sigma_b^2 + \sigma_w^2XX^\top/d_\mathrm{in},\qquad
              K^{l+1} = K^l + \sigma_b^2 + \sigma_w^2\,\mathbb E[\phi(u)\phi(v)],\ (u,v)\sim N(0,K^l)

    (module docstring; Yang & Schoenholz 2017, arXiv:1712.08969; conventions in ``docs/conventions.md``).
    :math:`\mathbb E[\phi\phi]` is the activation's closed form when ``has_closed_form("kernel")``, otherwise the
    2-D quadrature of :func:`statfield.quadrature.kernel`.

    Parameters
    ----------
    activation : str, Activation, SymPy expression or callable
        See :func:`statfield.get_activation`.
    sigma_w2 : float
        Weight variance per fan-in, ``> 0``.
    sigma_b2 : float
        Bias variance, ``>= 0``.
    X : array (P, d_in)
        Inputs, finite.
    depth : int
        Layer ``l >= 1`` (``depth = 1``: the first affine layer; no residual block yet).
    X2 : array (P2, d_in), optional
        Second set of inputs: the cross kernel ``(P, P2)``.
    diagonal : bool
        Return only the diagonal ``(P,)`` (not with ``X2``).

    Returns
    -------
    ndarray
        ``(P, P)``, ``(P, P2)`` or ``(P,)``.

    Raises
    ------
    ValueError
        Bad parameters or inputs.
    OverflowError
        An entry above :data:`K_MAX` (names the layer): the kernel grows geometrically with depth; use
        :func:`resnet_q` with ``log=True`` for the diagonal of deep piecewise-linear networks.
    """
    if diagonal:
        if X2 is not None:
            raise ValueError("diagonal=True returns K(x, x) of X only: do not pass X2 with it")
        X = _inputs(X, "X")
        return np.array([_propagate(activation, sigma_w2, sigma_b2, x[None, :], depth, None, False,
                                    "resnet_nngp_kernel")[0, 0] for x in X])
    return _propagate(activation, sigma_w2, sigma_b2, X, depth, X2, False, "resnet_nngp_kernel")


def resnet_ntk_kernel(activation, sigma_w2, sigma_b2, X, depth, X2=None):
    r"""Infinite-width NTK of the pre-activations of layer ``depth`` of a residual network (NTK parameterisation).

    .. math:: \Theta^1 = K^1,\qquad \Theta^{l+1} = \Theta^l\big(1 + \sigma_w^2\,\mathbb E[\phi'(u)\phi'(v)]\big)
              + \sigma_b^2 + \sigma_w^2\,\mathbb E[\phi(u)\phi(v)],\ (u,v)\sim N(0,K^l)

    (module docstring; the residual analogue of Jacot et al. 2018, arXiv:1806.07572 Thm. 1; trainable
    :math:`\omega,\beta\sim N(0,1)` with :math:`W = \sqrt{\sigma_w^2/N}\,\omega`, :math:`b = \sigma_b\beta`, as
    :func:`statfield.meanfield.ntk_kernel`). Checked against :func:`resnet_empirical_ntk` of sampled networks.

    Parameters and errors as :func:`resnet_nngp_kernel`; :math:`\phi'` must be available.
    """
    return _propagate(activation, sigma_w2, sigma_b2, X, depth, X2, True, "resnet_ntk_kernel")


# ============================================================================ single-input mean field
def resnet_q(activation, sigma_w2, sigma_b2, q1, depth, log: bool = False):
    r"""Mean-field variance trajectory :math:`q^1\dots q^L` of a residual network (one input).

    .. math:: q^{l+1} = q^l + \sigma_w^2\langle\phi^2\rangle_{q^l} + \sigma_b^2

    For piecewise-linear :math:`\phi` (``act.is_piecewise_linear``) the map is
    :math:`q^{l+1} = (1+\kappa\sigma_w^2)q^l + \sigma_b^2`, :math:`\kappa = (a_+^2+a_-^2)/2`, and with
    ``log=True`` it is iterated in log space, :math:`\ln q^{l+1} = \ln q^l + \ln(1 + \kappa\sigma_w^2 +
    \sigma_b^2/q^l)`, which never overflows (e.g. :math:`\ln q^L = \ln q^1 + (L-1)\ln(1+\sigma_w^2/2)` for ReLU
    at :math:`\sigma_b^2 = 0`). Other activations: :math:`\langle\phi^2\rangle` by quadrature.

    Parameters
    ----------
    activation, sigma_w2, sigma_b2
        As :func:`resnet_nngp_kernel`.
    q1 : float
        First-layer variance :math:`q^1 = \sigma_b^2 + \sigma_w^2|x|^2/d_\mathrm{in}`, ``> 0``.
    depth : int
        Number of layers ``L >= 1``.
    log : bool
        Return :math:`\ln q^l` (log-space iteration for piecewise-linear :math:`\phi`).

    Returns
    -------
    ndarray (depth,)

    Raises
    ------
    OverflowError
        In linear space, :math:`q^l >` :data:`K_MAX` (names the layer); for non-piecewise-linear
        :math:`\phi` also with ``log=True``, where the quadrature itself overflows.
    """
    act = get_activation(activation)
    sw, sb = check_variances(sigma_w2, sigma_b2)
    q1 = check_positive(q1, "q1")
    depth = check_int(depth, "depth", minimum=1)
    out = np.empty(depth)
    if act.is_piecewise_linear:
        kap = 0.5 * (float(act.a_plus) ** 2 + float(act.a_minus) ** 2)
        lq = math.log(q1)
        out[0] = lq
        for l in range(1, depth):
            lq = lq + math.log1p(kap * sw + sb * math.exp(-lq))
            out[l] = lq
        if log:
            return out
        if out[-1] > math.log(K_MAX):
            layer = int(np.argmax(out > math.log(K_MAX))) + 1
            _overflow("resnet_q", layer, np.array([math.inf]))
        return np.exp(out)
    from .quadrature import expect

    phi2 = lambda x: act.numpy(x) ** 2
    q = q1
    out[0] = q
    for l in range(1, depth):
        with np.errstate(over="ignore", invalid="ignore"):
            q = q + sb + sw * float(expect(phi2, q, kinks=getattr(act, "kinks", ())))
        _overflow("resnet_q", l + 1, np.array([q]))
        out[l] = q
    return np.log(out) if log else out


def depth_scaled_q_limit(activation, c, q1, b=0.0):
    r"""The :math:`L\to\infty` limit of :math:`q^L` at :math:`\sigma_w^2 = c/L`, :math:`\sigma_b^2 = b/L`.

    Piecewise-linear :math:`\phi`: :math:`q^L\to(q^1 + b/(\kappa c))e^{\kappa c} - b/(\kappa c)`
    (ReLU at ``b = 0``: :math:`q^1e^{c/2}`), the solution of :math:`dq/dt = \kappa c\,q + b`, :math:`t = l/L`.
    Other activations: the ODE :math:`dq/dt = c\langle\phi^2\rangle_q + b` integrated numerically.
    """
    act = get_activation(activation)
    c = check_positive(c, "c")
    b = float(check_finite(b, "b"))
    if b < 0:
        raise ValueError(f"b must be >= 0, got {b}")
    q1 = check_positive(q1, "q1")
    if act.is_piecewise_linear:
        kc = 0.5 * (float(act.a_plus) ** 2 + float(act.a_minus) ** 2) * c
        if kc == 0:
            return q1 + b
        return (q1 + b / kc) * math.exp(kc) - b / kc
    from scipy.integrate import solve_ivp

    from .quadrature import expect

    def rhs(t, y):
        return [c * float(expect(lambda x: act.numpy(x) ** 2, max(y[0], 0.0))) + b]

    sol = solve_ivp(rhs, (0.0, 1.0), [q1], rtol=1e-10, atol=1e-12)
    return float(sol.y[0, -1])


def resnet_correlation(activation, sigma_w2, sigma_b2, q1, q2, c1, depth, log: bool = False):
    r"""Mean-field trajectory of two inputs: :math:`q_1^l, q_2^l` and the correlation :math:`c^l = K^l_{12}/
    \sqrt{q_1^lq_2^l}`, ``l = 1..depth`` (the residual kernel recursion restricted to a pair).

    For piecewise-linear :math:`\phi`, :math:`\mathbb E[\phi(u)\phi(v)]` is homogeneous of degree one in the
    kernel, so the recursion is iterated on :math:`K^l/s_l` with a running log-scale :math:`\ln s_l` (exact, no
    overflow at any depth: :math:`K^{l+1}/s_l = K^l/s_l + \sigma_b^2/s_l + \sigma_w^2\mathbb E[\phi\phi]
    (K^l/s_l)`). Other activations are iterated directly and raise ``OverflowError`` naming the layer.

    Parameters
    ----------
    q1, q2 : float
        First-layer variances, ``> 0``.
    c1 : float
        First-layer correlation in ``[-1, 1]``.
    depth : int
        ``>= 1``.
    log : bool
        Return :math:`\ln q_{1,2}^l` instead of :math:`q_{1,2}^l`.

    Returns
    -------
    tuple of three ndarrays (depth,)
        ``(q1_l, q2_l, c_l)`` (or ``(ln q1_l, ln q2_l, c_l)``).
    """
    act = get_activation(activation)
    sw, sb = check_variances(sigma_w2, sigma_b2)
    a, b = check_positive(q1, "q1"), check_positive(q2, "q2")
    c1 = float(check_finite(c1, "c1"))
    if not -1.0 <= c1 <= 1.0:
        raise ValueError(f"c1 must be a correlation in [-1, 1], got {c1}")
    depth = check_int(depth, "depth", minimum=1)
    K = np.array([[a, c1 * math.sqrt(a * b)], [c1 * math.sqrt(a * b), b]])
    homogeneous = act.is_piecewise_linear
    log_s = 0.0
    out = np.empty((3, depth))
    for l in range(depth):
        if l:
            d = np.diagonal(K).copy()
            E, _ = _expectations(act, d[:, None], d[None, :], K, False)
            K = K + sb * math.exp(-log_s) + sw * E
            K = 0.5 * (K + K.T)
            if homogeneous:
                m = float(np.max(np.diagonal(K)))
                K = K / m
                log_s += math.log(m)
            else:
                _overflow("resnet_correlation", l + 1, K)
        out[:, l] = (math.log(K[0, 0]) + log_s, math.log(K[1, 1]) + log_s,
                     min(1.0, max(-1.0, K[0, 1] / math.sqrt(K[0, 0] * K[1, 1]))))
    if not log:
        if np.max(out[:2]) > math.log(K_MAX):
            layer = int(np.argmax(np.max(out[:2], axis=0) > math.log(K_MAX))) + 1
            _overflow("resnet_correlation", layer, np.array([math.inf]))
        out[:2] = np.exp(out[:2])
    return out[0], out[1], out[2]


def relu_resnet_correlation_asymptote(sigma_w2, layers):
    r"""Large-depth asymptote :math:`1 - c^l\simeq 4/(a^2l^2)` of the ReLU ResNet correlation map at
    :math:`\sigma_b^2 = 0`, :math:`a = \frac{\sigma_w^2/2}{1+\sigma_w^2/2}\frac{2\sqrt2}{3\pi}` (module docstring;
    from :math:`f(1-\epsilon) = 1-\epsilon+\frac{2\sqrt2}{3\pi}\epsilon^{3/2}+O(\epsilon^2)`). Leading order in
    :math:`1/l`, independent of :math:`c^1`."""
    sw = check_positive(sigma_w2, "sigma_w2")
    l = np.asarray(layers, dtype=float)
    if np.any(~np.isfinite(l)) or np.any(l <= 0):
        raise ValueError(f"layers must be positive and finite, got {layers!r}")
    a = (0.5 * sw / (1.0 + 0.5 * sw)) * 2.0 * math.sqrt(2.0) / (3.0 * math.pi)
    return 4.0 / (a * a * l * l)


# ============================================================================ finite width
@dataclass(frozen=True)
class ResNetFiniteWidth:
    r"""Leading finite-width correction of :math:`\mathbb E\,q^l`: ``q_mf[l-1]`` (infinite width) and
    ``slope[l-1]`` with :math:`\mathbb E\,q^l = q_{\rm MF}^l + \mathrm{slope}^l/N + O(N^{-2})`."""

    q_mf: np.ndarray
    slope: np.ndarray

    def mean_q(self, width):
        """:math:`q_{\\rm MF} + \\mathrm{slope}/N` at ``width`` (leading order)."""
        return self.q_mf + self.slope / check_positive(width, "width")


def resnet_finite_width_q(activation, sigma_w2, sigma_b2, q1, depth) -> ResNetFiniteWidth:
    r"""The :math:`1/N` coefficient of :math:`\mathbb E\,q^l` in a residual network with piecewise-linear
    :math:`\phi` (module docstring; derivation in ``docs/architectures.md``).

    .. math:: \mathbb E\,q^L = q^L_{\rm MF} + \frac{\sigma_w^2}{N}\sum_{k<L}e_k,\qquad
              e_k = \kappa\sigma_w^2\sum_{m<k}e_m + \sigma_w^2(a_+^2-a_-^2)^2\sum_{n\le m<k}R_{mn}\,q^n\,
              \frac{\arcsin\rho_{kn}+\rho_{kn}\sqrt{1-\rho_{kn}^2}}{2\pi}

    with :math:`\rho_{kn} = \sqrt{q^n/q^k}`, :math:`R_{mm} = 1`, :math:`R_{mn} = \kappa\sigma_w^2
    (1+\kappa\sigma_w^2)^{m-1-n}` (:math:`n < m`). :math:`e_k = N\,\mathbb E[u^k - u^k_{\rm MF}]` is the
    excess of :math:`u = |\phi(z)|^2/N` caused by the sign-dependence of the common variance
    :math:`\hat G^k`; it vanishes for linear :math:`\phi` (:math:`a_+ = a_-`), and it is positive for ReLU
    (the mean of :math:`q` is *larger* at finite width). Cost :math:`O(L^3)`.

    Raises
    ------
    ValueError
        Not a piecewise-linear activation (the expansion uses :math:`\phi'' = 0` away from the kink).
    """
    act = get_activation(activation)
    if not act.is_piecewise_linear:
        raise ValueError(f"resnet_finite_width_q needs a piecewise-linear activation (act.is_piecewise_linear); "
                         f"{act.name!r} is not")
    sw, sb = check_variances(sigma_w2, sigma_b2)
    q1 = check_positive(q1, "q1")
    depth = check_int(depth, "depth", minimum=1)
    ap, am = float(act.a_plus), float(act.a_minus)
    kap = 0.5 * (ap * ap + am * am)
    asym = (ap * ap - am * am) ** 2
    q = resnet_q(act, sw, sb, q1, depth)
    a = kap * sw
    L = depth
    # R[m, n], layers indexed 0..L-1 (layer k+1 in the docstring)
    idx = np.arange(L)
    diff = idx[:, None] - idx[None, :]
    with np.errstate(over="ignore"):
        R = np.where(diff > 0, a * (1.0 + a) ** np.clip(diff - 1, 0, None), 0.0) + np.eye(L)
    rho = np.sqrt(np.minimum(q[None, :] / q[:, None], 1.0))          # rho[k, n] for n <= k
    Mk = (np.arcsin(rho) + rho * np.sqrt(np.clip(1.0 - rho * rho, 0.0, None))) / (2 * np.pi)
    e = np.zeros(L)
    for k in range(1, L):
        src = 0.0
        for m in range(k):
            n = np.arange(m + 1)
            src += np.sum(R[m, n] * q[n] * Mk[k, n])
        e[k] = a * e[:k].sum() + sw * asym * src
    slope = np.concatenate([[0.0], sw * np.cumsum(e)[:-1]])
    if not np.all(np.isfinite(slope)):
        raise OverflowError("resnet_finite_width_q: the 1/N coefficient overflows float64; reduce depth or sigma_w2")
    return ResNetFiniteWidth(q_mf=q, slope=slope)


# ============================================================================ exact sampler
@dataclass
class ResNetSample:
    r"""Monte Carlo of residual networks (:func:`sample_resnet`).

    ``gram``: :class:`~statfield.stats.Estimate` of :math:`\mathbb E[z^{l\top}z^l/N]`, value ``(depth, P, P)``
    (mean over networks, standard error across networks); ``q``: its diagonal ``(depth, P)``;
    ``u``: :math:`\mathbb E|\phi(z^l)|^2/N` per layer and input ``(depth, P)``; ``final_gram``: the per-network
    Gram matrices of the last layer ``(n, P, P)``; ``width``, ``depth``, ``n``.
    """

    gram: object
    q: object
    u: object
    final_gram: np.ndarray
    width: int
    depth: int
    n: int


def _psd_sqrt(G):
    """Batched symmetric square root factor S with S S^T = G (eigh; clips round-off negative eigenvalues)."""
    w, V = np.linalg.eigh(G)
    return V * np.sqrt(np.clip(w, 0.0, None))[..., None, :]


def sample_resnet(activation, sigma_w2, sigma_b2, width, depth, X, n_networks, seed=0,
                  max_block_bytes: int = 2**26) -> ResNetSample:
    r"""Exact Monte Carlo of random residual networks in pre-activation space.

    :math:`z^1 = \xi^1(K^1)^{1/2}`, :math:`z^{l+1} = z^l + \xi^{l+1}(\hat G^l)^{1/2}`,
    :math:`\hat G^l = \sigma_b^2 + \sigma_w^2\phi(z^l)^\top\phi(z^l)/N` (``P x P``), :math:`\xi` i.i.d. standard
    normal ``(N, P)`` — the exact law of :math:`z^{l+1} = z^l + W^{l+1}\phi(z^l) + b^{l+1}` with
    :math:`W\sim N(0,\sigma_w^2/N)`, :math:`b\sim N(0,\sigma_b^2)` (module docstring). Vectorised over networks
    (blocks of at most ``max_block_bytes`` of pre-activations); per-layer statistics are accumulated on the fly,
    so the memory does not grow with ``depth``.

    Parameters
    ----------
    activation, sigma_w2, sigma_b2
        As :func:`resnet_nngp_kernel`.
    width : int
        Hidden width ``N >= 1``.
    depth : int
        Number of layers ``L >= 1``.
    X : array (P, d_in)
        Inputs.
    n_networks : int
        Independent networks, ``>= 2``.
    seed : int
        Seed of :class:`numpy.random.SeedSequence`.

    Returns
    -------
    ResNetSample

    Raises
    ------
    OverflowError
        A sampled variance above :data:`K_MAX` (names the layer).
    """
    from .stats import Estimate

    act = get_activation(activation)
    sw, sb = check_variances(sigma_w2, sigma_b2)
    N = check_int(width, "width", minimum=1)
    L = check_int(depth, "depth", minimum=1)
    n = check_int(n_networks, "n_networks", minimum=2)
    seed = check_int(seed, "seed", minimum=0)
    X = _inputs(X, "X")
    P = X.shape[0]
    K1 = sb + sw * (X @ X.T) / X.shape[1]
    _overflow("sample_resnet", 1, K1)
    S1 = _psd_sqrt(0.5 * (K1 + K1.T))
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    blk = max(1, min(n, int(max_block_bytes) // (8 * N * P * 4)))
    s1 = np.zeros((L, P, P))
    s2 = np.zeros((L, P, P))
    su = np.zeros((L, P))
    su2 = np.zeros((L, P))
    final = np.empty((n, P, P))
    done = 0
    while done < n:
        b = min(blk, n - done)
        z = rng.standard_normal((b, N, P)) @ S1.T
        for l in range(L):
            g = np.swapaxes(z, 1, 2) @ z / N
            s1[l] += g.sum(axis=0)
            s2[l] += (g * g).sum(axis=0)
            h = act.numpy(z)
            G = np.swapaxes(h, 1, 2) @ h / N
            uu = np.diagonal(G, axis1=1, axis2=2)
            su[l] += uu.sum(axis=0)
            su2[l] += (uu * uu).sum(axis=0)
            if l == L - 1:
                final[done:done + b] = g
                break
            G = sb + sw * G
            big = float(np.max(np.abs(G))) if G.size else 0.0
            if not math.isfinite(big) or big > K_MAX:
                raise OverflowError(f"sample_resnet: the increment variance after layer {l + 1} exceeds {K_MAX:g} "
                                    f"(largest {big:.3g}); reduce depth or sigma_w2 (e.g. sigma_w2 = c/depth)")
            z = z + rng.standard_normal((b, N, P)) @ np.swapaxes(_psd_sqrt(G), 1, 2)
        done += b
    mean = s1 / n
    se = np.sqrt(np.clip(s2 / n - mean**2, 0.0, None) * n / (n - 1) / n)
    umean = su / n
    use = np.sqrt(np.clip(su2 / n - umean**2, 0.0, None) * n / (n - 1) / n)
    gram = Estimate(mean, se, n)
    q = Estimate(np.diagonal(mean, axis1=1, axis2=2).copy(), np.diagonal(se, axis1=1, axis2=2).copy(), n)
    return ResNetSample(gram=gram, q=q, u=Estimate(umean, use, n), final_gram=final, width=N, depth=L, n=n)


def simulate_resnet(activation, sigma_w2, sigma_b2, width, depth, n_samples, inputs=None, seed=0):
    r""":func:`sample_resnet` packaged as a :class:`statfield.sampling.result.SimulationResult` (the return type of
    :func:`statfield.simulate`), so that ``simulate(..., residual=True)`` can delegate here.

    ``inputs``: array ``(d_in,)`` or ``(P, d_in)``, default ``x = (1,)`` (as :func:`statfield.simulate`).
    Observables (array-valued :class:`~statfield.stats.Estimate` over layers): ``q`` (``(depth,)`` for one input,
    ``(depth, P)`` otherwise), ``u`` = :math:`|\phi(z)|^2/N` (same shape) and ``gram`` ``(depth, P, P)``.
    """
    import time

    from .sampling.result import SimulationResult
    from .stats import Estimate

    t0 = time.perf_counter()
    X = np.array([[1.0]]) if inputs is None else np.asarray(inputs, dtype=float)
    if X.ndim == 1:
        X = X[None, :]
    s = sample_resnet(activation, sigma_w2, sigma_b2, width, depth, X, n_samples, seed=seed)
    one = X.shape[0] == 1

    def sq(e):
        return Estimate(e.value[:, 0], e.stderr[:, 0], e.n) if one else e

    act = get_activation(activation)
    params = {"activation": act.name, "sigma_w2": float(sigma_w2), "sigma_b2": float(sigma_b2), "width": int(width),
              "depth": int(depth), "n_samples": int(n_samples), "inputs": X.tolist(), "residual": True}
    return SimulationResult(estimates={"q": sq(s.q), "u": sq(s.u), "gram": s.gram}, parameters=params,
                            method="resnet-preactivation", backend="numpy", seed=int(seed),
                            elapsed_s=time.perf_counter() - t0)


# ============================================================================ empirical NTK (weight space)
def resnet_empirical_ntk(activation, sigma_w2, sigma_b2, width, depth, X, n_networks, seed=0):
    r"""Empirical NTK and output of sampled residual networks (weight space, NTK parameterisation).

    :math:`z^1 = \sqrt{\sigma_w^2/d}\,\omega^1x + \sigma_b\beta^1`, :math:`z^{l+1} = z^l +
    \sqrt{\sigma_w^2/N}\,\omega^{l+1}\phi(z^l) + \sigma_b\beta^{l+1}`, output :math:`f = z^L_1`. With
    :math:`\delta^L = e_1`, :math:`\delta^l = \delta^{l+1} + \phi'(z^l)\circ(\sqrt{\sigma_w^2/N}\,
    \omega^{l+1\top}\delta^{l+1})` and :math:`h^0 = x`, :math:`h^l = \phi(z^l)`,

    .. math:: \hat\Theta(x,x') = \sum_{l=1}^{L}[\delta^l(x)\cdot\delta^l(x')]\,
              [\sigma_b^2 + \sigma_w^2h^{l-1}(x)\cdot h^{l-1}(x')/N_{l-1}]

    (as :func:`statfield.training.empirical.empirical_ntk`, with the skip path in :math:`\delta`). Its mean tends
    to :func:`resnet_ntk_kernel` as :math:`N\to\infty`. Returns ``(theta (n, P, P), f (n, P))``.
    """
    act = get_activation(activation)
    sw, sb = check_variances(sigma_w2, sigma_b2)
    N = check_int(width, "width", minimum=1)
    L = check_int(depth, "depth", minimum=1)
    n = check_int(n_networks, "n_networks", minimum=1)
    X = _inputs(X, "X")
    d = X.shape[1]
    rng = np.random.default_rng(np.random.SeedSequence(check_int(seed, "seed", minimum=0)))
    Ws = [rng.standard_normal((n, N, d))] + [rng.standard_normal((n, N, N)) for _ in range(L - 1)]
    bs = [rng.standard_normal((n, N, 1)) for _ in range(L)]
    hs = [np.broadcast_to(X.T, (n, d, X.shape[0]))]
    z = math.sqrt(sw / d) * (Ws[0] @ X.T) + math.sqrt(sb) * bs[0]
    zs = [z]
    for l in range(1, L):
        h = act.numpy(z)
        hs.append(h)
        z = z + math.sqrt(sw / N) * (Ws[l] @ h) + math.sqrt(sb) * bs[l]
        zs.append(z)
    _overflow("resnet_empirical_ntk", L, z)
    P = X.shape[0]
    delta = np.zeros((n, N, P))
    delta[:, 0, :] = 1.0
    theta = np.zeros((n, P, P))
    for l in range(L - 1, -1, -1):
        h = hs[l]
        fan = h.shape[1]
        theta += (np.swapaxes(delta, 1, 2) @ delta) * (sb + sw * (np.swapaxes(h, 1, 2) @ h) / fan)
        if l > 0:
            delta = delta + act.derivative(zs[l - 1], np) * (math.sqrt(sw / N) * (np.swapaxes(Ws[l], 1, 2) @ delta))
    return theta, zs[-1][:, 0, :].copy()

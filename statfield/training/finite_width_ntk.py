r"""Finite-width NTK statistics for one input: exact results for one hidden layer.

Network of ``depth = 2`` Dense layers (one hidden layer of width :math:`N`, one output), NTK parameterisation
(``docs/conventions.md`` variances at initialisation), one input with :math:`q = K^{(1)} = \sigma_b^2 +
\sigma_w^2|x|^2/d_\mathrm{in}`. With the hidden pre-activations :math:`z_i\sim N(0,q)` i.i.d. and the output weights
:math:`\omega_i\sim N(0,1)`, the explicit back-propagation formula (:mod:`statfield.training.empirical`) gives

.. math:: \hat\Theta = \sigma_b^2 + \frac{\sigma_w^2}{N}\sum_{i=1}^{N} Y_i,\qquad
          Y_i = q\,\phi'(z_i)^2\omega_i^2 + \phi(z_i)^2,

a sum of i.i.d. terms, hence **exactly at any width**

.. math:: E\hat\Theta = \Theta^{(2)} = K^{(2)} + \sigma_w^2\langle\phi'^2\rangle_q\,q,\qquad
          \mathrm{Var}\,\hat\Theta = \frac{\sigma_w^4}{N}\Big[q^2\big(3\langle\phi'^4\rangle - \langle\phi'^2\rangle^2\big)
          + \langle\phi^4\rangle - \langle\phi^2\rangle^2 + 2q\big(\langle\phi'^2\phi^2\rangle
          - \langle\phi'^2\rangle\langle\phi^2\rangle\big)\Big]

(:math:`\langle\cdot\rangle_q` a Gaussian average at variance :math:`q`; ReLU: :math:`\mathrm{Var}\hat\Theta =
3\sigma_w^4q^2/N`). This is the one-hidden-layer case of :func:`ntk_variance_leading_order`.

**Any depth, leading order in 1/N** (:func:`ntk_variance_leading_order`). With :math:`\hat\Theta =
\sum_{l=1}^{L}\hat G^l B^l`, :math:`B^l = |\delta^l|^2`, split :math:`W^{l+1} = u\hat h^\top + W_\perp` along
:math:`\hat h = h^l/|h^l|`: the forward pass sees only :math:`u`, and :math:`W_\perp^\top\delta^{l+1}` is Gaussian
with covariance :math:`B^{l+1}(1 - \hat h\hat h^\top)`, independent of everything else. Hence, up to terms that
change the variance only at :math:`O(N^{-2})`,

.. math:: B^l = R_l B^{l+1},\qquad R_l = \frac{\sigma_w^2}{N}\sum_i\phi'(z^l_i)^2 g_i^2,\qquad
          \hat G^{l+1} = \sigma_b^2 + \frac{\sigma_w^2}{N}\sum_i\phi(z^l_i)^2,

with :math:`g_i\sim N(0,1)` fresh in every layer and :math:`z^l_i\sim N(0,\hat G^l)`. Linearising around the
infinite-width values (:math:`\hat G^l = K^l + \epsilon^l/\sqrt N`, :math:`R_l = \chi_l + \rho_l/\sqrt N`,
:math:`\chi_l = \sigma_w^2\langle\phi'^2\rangle_{K^l}`), each layer :math:`j` injects two correlated Gaussian noises,
:math:`\eta^j` (into :math:`\hat G^{j+1}`) and :math:`\zeta^j` (into :math:`R_j`), with
:math:`\mathrm{Var}\,\eta = \sigma_w^4(\langle\phi^4\rangle - \langle\phi^2\rangle^2)`,
:math:`\mathrm{Var}\,\zeta = \sigma_w^4(3\langle\phi'^4\rangle - \langle\phi'^2\rangle^2)`,
:math:`\mathrm{Cov} = \sigma_w^4(\langle\phi^2\phi'^2\rangle - \langle\phi^2\rangle\langle\phi'^2\rangle)` at
:math:`K^j`, propagated by :math:`\epsilon^{l+1} = \chi_q^l\epsilon^l + \eta^l` (:math:`\chi_q^l = \sigma_w^2\,
\partial_K\langle\phi^2\rangle_{K^l}`) and :math:`\rho_l = \sigma_w^2\partial_K\langle\phi'^2\rangle_{K^l}\epsilon^l +
\zeta^l`. Then :math:`N\,\mathrm{Var}\,\hat\Theta = \sum_{j=1}^{L-1}(c_\eta^j, c_\zeta^j)\,\Sigma_j\,
(c_\eta^j, c_\zeta^j)^\top + O(1/N)` with the linear sensitivities :math:`c^j` of :math:`\Theta` to the two noises.
ReLU at :math:`\sigma_w^2 = 2`, :math:`\sigma_b^2 = 0`: :math:`N\,\mathrm{Var}\hat\Theta/\Theta^2 = 3, 58/9, 340/25` for
:math:`L = 2, 3, 5` (in general :math:`(L-1)(11L-4)/(3L)`, by SymPy). Monte Carlo at :math:`L = 5` gives
:math:`14.5\pm0.3` at :math:`N = 128` and :math:`17.0\pm0.3` at :math:`N = 32`, consistent with
:math:`13.6 + O(1/N)`; the :math:`e^{5\sum_l 1/n_l}` of Hanin & Nica 2019 (arXiv:1909.05989), an asymptotic
statement in depth, would give :math:`5(L-1) = 20` here.
This is our own derivation of the single-input NTK variance (PDLT, Roberts, Yaida & Hanin 2022, ch. 8, derive the
general tensors). The :math:`1/N` shift of the **mean** NTK, :func:`ntk_mean_shift_leading_order`, follows from the
same chain at second order plus the component of the back-propagated vector along :math:`\hat h` (it vanishes
for linear and ReLU networks, whose single-input mean NTK is exact at this order).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._checks import check_int, check_positive, check_variances
from ..activations import get_activation

__all__ = ["NTKVariance", "OneLayerNTKMoments", "ntk_variance_leading_order", "one_hidden_layer_ntk_moments"]


@dataclass(frozen=True)
class OneLayerNTKMoments:
    """Exact mean and variance of the empirical NTK :math:`\\hat\\Theta(x,x)` of a one-hidden-layer network."""

    mean: float
    variance: float
    width: int
    q: float

    @property
    def relative_variance(self) -> float:
        """:math:`\\mathrm{Var}\\hat\\Theta/(E\\hat\\Theta)^2`."""
        return self.variance / self.mean**2


def one_hidden_layer_ntk_moments(activation, sigma_w2, sigma_b2, x, width) -> OneLayerNTKMoments:
    r"""Exact :math:`E\hat\Theta(x,x)` and :math:`\mathrm{Var}\,\hat\Theta(x,x)` at width ``width`` (see the module).

    Parameters
    ----------
    activation : str or Activation
        Needs :math:`\phi'` (a registry activation or one built with a derivative).
    sigma_w2 : float > 0
    sigma_b2 : float >= 0
    x : array (d_in,)
        The input.
    width : int >= 1
        Hidden width :math:`N`.

    Returns
    -------
    OneLayerNTKMoments
    """
    from ..quadrature import expect

    act = get_activation(activation)
    sw, sb = check_variances(sigma_w2, sigma_b2)
    N = check_int(width, "width", minimum=1)
    xv = np.asarray(x, dtype=float).ravel()
    if xv.size < 1 or not np.all(np.isfinite(xv)):
        raise ValueError("x must be a finite, non-empty input vector")
    q = float(sb + sw * (xv @ xv) / xv.size)
    check_positive(q, "sigma_b2 + sigma_w2 |x|^2/d_in")
    kinks = (0.0,) if act.is_piecewise_linear else ()

    def E(f):
        return float(expect(f, q, kinks=kinks))

    phi = act.numpy

    def dphi(t):
        return np.asarray(act.derivative(np.asarray(t, dtype=float), np), dtype=float)

    p2, p4 = E(lambda t: phi(t) ** 2), E(lambda t: phi(t) ** 4)
    d2, d4 = E(lambda t: dphi(t) ** 2), E(lambda t: dphi(t) ** 4)
    dp = E(lambda t: dphi(t) ** 2 * phi(t) ** 2)
    mean = sb + sw * (q * d2 + p2)
    varY = q * q * (3.0 * d4 - d2 * d2) + (p4 - p2 * p2) + 2.0 * q * (dp - d2 * p2)
    return OneLayerNTKMoments(mean=float(mean), variance=float(sw * sw * varY / N), width=N, q=q)


@dataclass(frozen=True)
class NTKVariance:
    """Leading-order NTK fluctuations for one input: :math:`\\mathrm{Var}\\,\\hat\\Theta = ` ``coefficient / N``."""

    theta: float  # infinite-width NTK Theta^(L)(x, x)
    coefficient: float  # N Var Theta at leading order
    per_layer: tuple  # contribution of the noise injected by each hidden layer j = 1..L-1
    K: tuple  # K^(1..L)

    @property
    def relative(self) -> float:
        """:math:`N\\,\\mathrm{Var}\\hat\\Theta/\\Theta^2` at leading order."""
        return self.coefficient / self.theta**2

    def variance(self, width) -> float:
        """``coefficient / width``."""
        return self.coefficient / float(width)


def _averages(act, K):
    """Gaussian averages at variance K: <phi^2>, <phi^4>, <phi'^2>, <phi'^4>, <phi^2 phi'^2>, and the K-derivatives
    d<phi^2>/dK, d<phi'^2>/dK by <f (x^2/K - 1)>/(2K) (no derivative of f needed; exact at kinks)."""
    from ..quadrature import expect

    kinks = (0.0,) if act.is_piecewise_linear else ()
    phi = act.numpy

    def dphi(t):
        return np.asarray(act.derivative(np.asarray(t, dtype=float), np), dtype=float)

    def E(f):
        return float(expect(f, K, kinks=kinks))

    p2, p4 = E(lambda t: phi(t) ** 2), E(lambda t: phi(t) ** 4)
    d2, d4 = E(lambda t: dphi(t) ** 2), E(lambda t: dphi(t) ** 4)
    pd = E(lambda t: phi(t) ** 2 * dphi(t) ** 2)
    dp2 = E(lambda t: phi(t) ** 2 * (t * t / K - 1.0)) / (2.0 * K)
    dd2 = E(lambda t: dphi(t) ** 2 * (t * t / K - 1.0)) / (2.0 * K)
    return p2, p4, d2, d4, pd, dp2, dd2


def ntk_variance_leading_order(activation, sigma_w2, sigma_b2, depth, x) -> NTKVariance:
    r"""Leading-order variance of the empirical NTK :math:`\hat\Theta(x,x)` of one input at depth ``depth``.

    :math:`\mathrm{Var}\,\hat\Theta = C/N + O(N^{-2})` for equal hidden widths :math:`N` (NTK parameterisation, one
    output unit); derivation and conventions in the module docstring. Exact at any width for ``depth = 2``.

    Parameters
    ----------
    activation : str or Activation
    sigma_w2 : float > 0
    sigma_b2 : float >= 0
    depth : int >= 1
        Dense layers :math:`L` (``depth - 1`` hidden layers inject noise; ``depth = 1`` gives 0).
    x : array (d_in,)

    Returns
    -------
    NTKVariance
        ``theta`` (:math:`\Theta^{(L)}`), ``coefficient`` :math:`C`, ``per_layer`` contributions, ``K``.
    """
    act = get_activation(activation)
    sw, sb = check_variances(sigma_w2, sigma_b2)
    sw, sb = float(sw), float(sb)
    L = check_int(depth, "depth", minimum=1)
    xv = np.asarray(x, dtype=float).ravel()
    if xv.size < 1 or not np.all(np.isfinite(xv)):
        raise ValueError("x must be a finite, non-empty input vector")
    K = [float(sb + sw * (xv @ xv) / xv.size)]
    check_positive(K[0], "sigma_b2 + sigma_w2 |x|^2/d_in")
    avg = []
    for _ in range(L - 1):
        a = _averages(act, K[-1])
        avg.append(a)
        K.append(sb + sw * a[0])
        if not np.isfinite(K[-1]) or K[-1] <= 0:
            raise OverflowError(f"ntk_variance_leading_order: K^l is not finite and positive at layer {len(K)}")
    chi = [sw * a[2] for a in avg]          # chi_l, l = 1..L-1 (index l-1)
    chi_q = [sw * a[5] for a in avg]        # d K^{l+1} / d K^l
    chi_d = [sw * a[6] for a in avg]        # d R_l / d G^l

    def prod(lo, hi, skip=None):
        out = 1.0
        for m in range(lo, hi):
            if m != skip:
                out *= chi[m]
        return out

    theta = sum(K[l] * prod(l, L - 1) for l in range(L))
    # c_zeta[j]: dTheta/dR_j = sum_{l <= j} K^l prod_{m >= l, m != j} chi_m (0-based layers)
    c_zeta = [sum(K[l] * prod(l, L - 1, skip=j) for l in range(j + 1)) for j in range(L - 1)]
    # dTheta/d eps^l (0-based l = 1..L-1): direct prod_{m >= l} chi_m, plus through R_l (l <= L-2 has R_l)
    d_eps = [0.0] * L
    for l in range(1, L):
        d_eps[l] = prod(l, L - 1) + (chi_d[l] * c_zeta[l] if l < L - 1 else 0.0)
    per_layer = []
    for j in range(L - 1):
        c_eta, prop = 0.0, 1.0
        for l in range(j + 1, L):  # eta^j enters eps^{j+1}, then eps^{l+1} = chi_q^l eps^l
            c_eta += prop * d_eps[l]
            if l < L - 1:
                prop *= chi_q[l]
        p2, p4, d2, d4, pd, _, _ = avg[j]
        v_eta, v_zeta, cov = sw * sw * (p4 - p2 * p2), sw * sw * (3 * d4 - d2 * d2), sw * sw * (pd - p2 * d2)
        per_layer.append(c_eta**2 * v_eta + c_zeta[j] ** 2 * v_zeta + 2 * c_eta * c_zeta[j] * cov)
    return NTKVariance(theta=float(theta), coefficient=float(sum(per_layer)), per_layer=tuple(per_layer), K=tuple(K))


def _chain_theta(act, sw, sb, K1, L, omega, cache):
    """Theta of the layer chain with noises omega = (nu_1, pi_1, ..., nu_{L-1}, pi_{L-1}) added to the layer means
    A_m = <phi^2>_{G^m} + nu_m, P_m = <phi'^2>_{G^m} + pi_m; G^{m+1} = sb + sw A_m, R_m = sw P_m."""
    G, Gs, Rs = K1, [], []
    for m in range(L - 1):
        key = round(G, 15)
        if key not in cache:
            cache[key] = _averages(act, G)
        p2, _, d2, *_ = cache[key]
        Gs.append(G)
        Rs.append(sw * (d2 + omega[2 * m + 1]))
        G = sb + sw * (p2 + omega[2 * m])
    Gs.append(G)
    theta = 0.0
    for l in range(L):
        prod = 1.0
        for m in range(l, L - 1):
            prod *= Rs[m]
        theta += Gs[l] * prod
    return theta


def ntk_mean_shift_leading_order(activation, sigma_w2, sigma_b2, depth, x) -> float:
    r"""Coefficient :math:`b` of the leading finite-width shift of the mean NTK of one input,
    :math:`E\hat\Theta(x,x) = \Theta^{(L)} + b/N + O(N^{-2})` (equal hidden widths, NTK parameterisation).

    Two sources (module docstring for the layer chain): (i) the second-order (delta-method) response of the chain
    :math:`\Theta = \sum_l\hat G^l\prod_{m\ge l}R_m` to the per-layer noises, :math:`\tfrac12\sum_m
    \mathrm{tr}(H_m\Sigma_m)` (Hessian :math:`H_m` by central differences; this contains the :math:`1/N` kernel shift);
    (ii) the component of :math:`W^{l+1\top}\delta^{l+1}` along :math:`\hat h^l`, which adds
    :math:`\frac{\sigma_w^2}{N}\frac{\langle\phi'^2\phi^2\rangle}{\langle\phi^2\rangle}(E s_l^2 - B^{l+1})` to
    :math:`B^l` with :math:`s_l = u\cdot\delta^{l+1}`, :math:`u = W^{l+1}\hat h^l`, and
    :math:`D_l = E s_l^2 - B^{l+1}` obeying :math:`D_l = \sigma_w^2B^{l+2}(E[u^2\phi'^2] - \langle\phi'^2\rangle)
    + \sigma_w^2\frac{E[u\phi'\phi]^2}{\langle\phi^2\rangle}D_{l+1}`, :math:`D_{L-1} = 0` (averages at layer
    :math:`l+1`, where :math:`z = \alpha u + \sigma_b b`, :math:`\alpha^2 = K^{l+1} - \sigma_b^2`). Zero for ReLU and
    linear networks (their mean NTK of one input has no :math:`1/N` term; numerically ~1e-9 from the differences). Our derivation; verified against Monte Carlo
    in the tests.
    """
    from ..quadrature import expect

    act = get_activation(activation)
    sw, sb = check_variances(sigma_w2, sigma_b2)
    sw, sb = float(sw), float(sb)
    L = check_int(depth, "depth", minimum=1)
    xv = np.asarray(x, dtype=float).ravel()
    if xv.size < 1 or not np.all(np.isfinite(xv)):
        raise ValueError("x must be a finite, non-empty input vector")
    K1 = float(sb + sw * (xv @ xv) / xv.size)
    check_positive(K1, "sigma_b2 + sigma_w2 |x|^2/d_in")
    if L == 1:
        return 0.0
    cache: dict = {}
    # layer values and noise covariances
    K, avg = [K1], []
    for _ in range(L - 1):
        a = _averages(act, K[-1])
        avg.append(a)
        K.append(sb + sw * a[0])
    d = 2 * (L - 1)
    shift = 0.0
    for m in range(L - 1):
        p2, p4, d2, d4, pd, _, _ = avg[m]
        S = np.array([[p4 - p2 * p2, pd - p2 * d2], [pd - p2 * d2, 3 * d4 - d2 * d2]])
        idx = (2 * m, 2 * m + 1)
        H = np.zeros((2, 2))
        hs = [1e-3 * max(1.0, abs(p2)), 1e-3 * max(1.0, abs(d2))]
        for i in range(2):
            for j in range(i, 2):
                def f(si, sj, i=i, j=j, idx=idx, hs=hs):
                    w = np.zeros(d)
                    w[idx[i]] += si * hs[i]
                    w[idx[j]] += sj * hs[j]
                    return _chain_theta(act, sw, sb, K1, L, w, cache)
                H[i, j] = H[j, i] = (f(1, 1) - f(1, -1) - f(-1, 1) + f(-1, -1)) / (4 * hs[i] * hs[j])
        shift += 0.5 * float(np.sum(H * S))
    # along-h component of the backward pass
    kinks = (0.0,) if act.is_piecewise_linear else ()
    chi = [sw * a[2] for a in avg]

    def B0(l):  # zeroth-order B^l (0-based layer l = 0..L-1; B^{L-1} = 1)
        out = 1.0
        for m in range(l, L - 1):
            out *= chi[m]
        return out

    def dphi(t):
        return np.asarray(act.derivative(np.asarray(t, dtype=float), np), dtype=float)

    D = [0.0] * L  # D[l] for 0-based l = 0..L-2; D[L-2] = 0 (the output unit)
    for l in range(L - 3, -1, -1):
        G = K[l + 1]
        alpha2 = G - sb
        z2d2 = float(expect(lambda t: t * t * dphi(t) ** 2, G, kinks=kinks))
        zdp = float(expect(lambda t: t * dphi(t) * act.numpy(t), G, kinks=kinks))
        p2n, _, d2n, *_ = avg[l + 1]
        Eu2d2 = alpha2 / G**2 * z2d2 + (1.0 - alpha2 / G) * d2n
        Eudp2 = alpha2 / G**2 * zdp**2
        D[l] = sw * B0(l + 2) * (Eu2d2 - d2n) + sw * Eudp2 / p2n * D[l + 1]
    for l in range(L - 2):
        cB = sum(K[lp] * np.prod([chi[m] for m in range(lp, l)]) for lp in range(l + 1))
        p2, _, _, _, pd, _, _ = avg[l]
        shift += cB * sw * (pd / p2) * D[l]
    return float(shift)

r"""Numeric definition of the EFT fluctuation fields (array API, no SymPy).

These are *the* fluctuation fields of the quadratic EFTs derived in
:mod:`statfield.symbolic.eft`; the Monte Carlo observables must use exactly these maps so that
theory and simulation measure the same thing (a test checks that the symbolic field map and the
functions here agree numerically).

Conventions (``docs/conventions.md``, "Order parameters and fields"): single input, equal widths :math:`N`,
:math:`W_{ij}\sim\mathcal N(0,\sigma_w^2/N)` (fan-in), :math:`b_i\sim\mathcal N(0,\sigma_b^2)`,
per-unit second moment :math:`q = |z|^2/N`; for ReLU :math:`u = |z_+|^2/N`,
:math:`v = |z_-|^2/N` (sums over the positive / negative units) and :math:`k` = number of
positive units.

Reference point: the **large-N saddle** of the collective action (= the mean-field fixed point,
Poole et al. 2016; SPS17 arXiv:1710.06570 Sec. 4), *not* the finite-N saddle (mode) and *not*
the finite-N mean:

* linear: :math:`q^* = \sigma_b^2/(1-\sigma_w^2)`, radial variable :math:`r = |z| = \sqrt{Nq}`,
  :math:`r^* = \sqrt{Nq^*}`, and

  .. math:: \epsilon = \sqrt N\,\frac{r - r^*}{r^*} = \sqrt N\left(\sqrt{q/q^*} - 1\right);

* ReLU: :math:`q^* = \sigma_b^2/(1-\sigma_w^2/2)`, :math:`u^* = v^* = q^*/2`, :math:`k^* = N/2`,
  :math:`r_\pm = \sqrt{N u}, \sqrt{N v}`, and

  .. math:: \epsilon_+ = \sqrt N\left(\sqrt{u/u^*} - 1\right),\quad
            \epsilon_- = \sqrt N\left(\sqrt{v/v^*} - 1\right),\quad
            \epsilon_k = \frac{k - N/2}{\sqrt N}.

With this normalisation the fields are :math:`O(1)` at large N and the leading-order EFT is
:math:`N`-independent; e.g. for linear networks the stationary variance is
:math:`\langle\epsilon^2\rangle = 1/(2(1-\sigma_w^4)) + O(1/N)` and for ReLU
:math:`\langle\epsilon_k^2\rangle = 1/4` exactly. At finite N the means of the fields are
:math:`O(1/\sqrt N)`, not zero (e.g. :math:`\mathbb E\sqrt{\chi^2_N/N} < 1`).

A saddle exists only for :math:`\sigma_b^2 > 0` and :math:`\sigma_w^2 < 1` (linear),
:math:`\sigma_w^2 < 2` (ReLU); outside, the functions raise ``ValueError`` naming the parameter.

Dispatch is on the activation's collective model (:attr:`statfield.activations.Activation.collective`),
never on its name: any :math:`\phi = az` has the radial fields (with :math:`q^* = \sigma_b^2/(1-a^2\sigma_w^2)`),
any :math:`\phi = az\theta(z)` the ReLU fields; activations without an implemented quadratic EFT (tanh,
leaky ReLU, ...) are refused with the one message of
:meth:`statfield.activations.CollectiveModel.require_eft`.
"""

from __future__ import annotations

import math

import numpy as np

from ._checks import check_in_range, check_int, check_positive
from .activations import get_activation, require_collective

__all__ = [
    "CRITICAL_SIGMA_W2",
    "FIELD_NAMES",
    "collective_model",
    "fields",
    "linear_fields",
    "linear_from_fields",
    "q_star_large_n",
    "relu_fields",
    "relu_from_fields",
    "saddle_point",
]

#: Field names (in order) of the quadratic EFT of the two unit-slope reference networks
#: (``get_activation(a).collective.field_names`` for any activation).
FIELD_NAMES = {name: get_activation(name).collective.field_names for name in ("linear", "relu")}

#: Critical weight variance (massless mode / boundary of the saddle's domain) of the reference networks
#: (``get_activation(a).collective.critical_sigma_w2`` for any activation).
CRITICAL_SIGMA_W2 = {name: get_activation(name).collective.critical_sigma_w2 for name in ("linear", "relu")}


def collective_model(activation, kind=None):
    """The :class:`~statfield.activations.CollectiveModel` of ``activation``, with an implemented EFT.

    Raises
    ------
    ValueError
        (:class:`~statfield.activations.UnsupportedActivationError`) the activation has no exact
        collective reduction or no quadratic EFT (e.g. tanh, leaky ReLU), or its model is not of ``kind``.
    """
    cm = require_collective(activation, eft=True)
    if kind is not None and cm.kind != kind:
        raise ValueError(f"activation must have a {kind} collective model here, got {cm.describe()}")
    return cm


def _check_params(cm, sigma_w2, sigma_b2):
    crit = cm.critical_sigma_w2
    sigma_w2 = check_in_range(sigma_w2, "sigma_w2", 0.0, crit, low_open=True, high_open=True)
    sigma_b2 = check_positive(sigma_b2, "sigma_b2")
    return sigma_w2, sigma_b2


def _q_star(cm, sigma_w2, sigma_b2):
    sigma_w2, sigma_b2 = _check_params(cm, sigma_w2, sigma_b2)
    return sigma_b2 / (1.0 - cm.chi(sigma_w2))


def q_star_large_n(activation, sigma_w2, sigma_b2) -> float:
    r"""Large-N saddle :math:`q^*` of the collective action (= mean-field fixed point).

    :math:`q^* = \sigma_b^2/(1-\chi)`, :math:`\chi = \sigma_w^2(a_+^2+a_-^2)/2`: linear
    :math:`\sigma_b^2/(1-\sigma_w^2)`, ReLU :math:`\sigma_b^2/(1-\sigma_w^2/2)` (Poole et al. 2016 q-map
    fixed point; SPS17 Sec. 4).

    Raises
    ------
    ValueError
        activation without an implemented collective EFT (anything but :math:`\phi = az` and
        :math:`\phi = az\theta(z)`); ``sigma_w2`` outside ``(0, critical_sigma_w2)`` (``(0, 1)`` linear,
        ``(0, 2)`` ReLU); ``sigma_b2 <= 0`` (the saddle is at :math:`q^*=0` and the fields are undefined).
    """
    return _q_star(collective_model(activation), sigma_w2, sigma_b2)


def saddle_point(activation, sigma_w2, sigma_b2, width=None) -> dict:
    r"""Large-N saddle values used as the reference point of the fields.

    Returns ``{"q_star": q*}`` (radial) or ``{"q_star", "u_star", "v_star", "k_frac"}`` (orthant,
    :math:`u^*=v^*=q^*/2`, :math:`k^*/N = 1/2`); with ``width`` also the radii
    :math:`r^* = \sqrt{N q^*}` (``r_star``, or ``r_plus_star``/``r_minus_star``) and ``k_star``.
    """
    cm = collective_model(activation)
    q = _q_star(cm, sigma_w2, sigma_b2)
    out = {"q_star": q}
    if cm.kind == "orthant":
        out.update(u_star=q / 2.0, v_star=q / 2.0, k_frac=0.5)
    if width is not None:
        n = check_int(width, "width", minimum=1)
        if cm.kind == "radial":
            out["r_star"] = math.sqrt(n * q)
        else:
            out.update(r_plus_star=math.sqrt(n * q / 2.0), r_minus_star=math.sqrt(n * q / 2.0),
                       k_star=n / 2.0)
    return out


def _namespace(*arrays):
    try:
        from array_api_compat import array_namespace

        return array_namespace(*arrays)
    except TypeError:  # python scalars / lists
        return np


def _as_float(x, xp):
    if xp is np:
        return np.asarray(x, dtype=np.float64)
    return xp.astype(xp.asarray(x), xp.float64)


def _check_nonneg_array(x, xp, name):
    if bool(xp.any(~(x >= 0))):  # catches negatives and NaN
        raise ValueError(f"{name} must be >= 0 (and not NaN) elementwise")


def linear_fields(q, sigma_w2, sigma_b2, width, activation="linear"):
    r"""Linear-network EFT field :math:`\epsilon = \sqrt N(\sqrt{q/q^*} - 1)`.

    Parameters
    ----------
    q : array
        Per-unit second moments :math:`q^l = |z^l|^2/N` (any shape, any array-API namespace).
    sigma_w2, sigma_b2 : float
        Weight (per fan-in) and bias variances; ``0 < sigma_w2 < 1``, ``sigma_b2 > 0``.
    width : int
        :math:`N`.
    activation : optional
        Any activation with a radial collective model (:math:`\phi = az`; default the linear network).

    Returns
    -------
    array
        :math:`\epsilon = \sqrt N (r - r^*)/r^*` with :math:`r=\sqrt{Nq}`, :math:`r^*=\sqrt{Nq^*}`,
        :math:`q^*=\sigma_b^2/(1-\sigma_w^2)` (large-N saddle), same namespace and shape as ``q``.
    """
    n = check_int(width, "width", minimum=1)
    qs = _q_star(collective_model(activation, "radial"), sigma_w2, sigma_b2)
    xp = _namespace(q)
    q = _as_float(q, xp)
    _check_nonneg_array(q, xp, "q")
    return math.sqrt(n) * (xp.sqrt(q / qs) - 1.0)


def relu_fields(u, v, k, sigma_w2, sigma_b2, width, activation="relu"):
    r"""ReLU EFT fields :math:`(\epsilon_+, \epsilon_-, \epsilon_k)`.

    .. math:: \epsilon_+ = \sqrt N(\sqrt{u/u^*}-1),\quad \epsilon_- = \sqrt N(\sqrt{v/v^*}-1),
              \quad \epsilon_k = (k - N/2)/\sqrt N,

    with :math:`u = |z_+|^2/N`, :math:`v=|z_-|^2/N`, :math:`k` the number of positive units and
    :math:`u^*=v^*=q^*/2`, :math:`q^*=\sigma_b^2/(1-\sigma_w^2/2)` (large-N saddle).

    Parameters
    ----------
    u, v, k : arrays of the same shape (any array-API namespace)
    sigma_w2, sigma_b2 : float
        ``0 < sigma_w2 < 2``, ``sigma_b2 > 0``.
    width : int
        :math:`N`.
    activation : optional
        Any activation with an orthant collective model and an implemented EFT
        (:math:`\phi = az\theta(z)`; default ReLU).

    Returns
    -------
    tuple of three arrays ``(eps_plus, eps_minus, eps_k)`` (float64, namespace of the inputs).
    """
    n = check_int(width, "width", minimum=1)
    qs = _q_star(collective_model(activation, "orthant"), sigma_w2, sigma_b2)
    xp = _namespace(u, v, k)
    u, v, k = _as_float(u, xp), _as_float(v, xp), _as_float(k, xp)
    _check_nonneg_array(u, xp, "u")
    _check_nonneg_array(v, xp, "v")
    if bool(xp.any(~((k >= 0) & (k <= n)))):
        raise ValueError(f"k must lie in [0, width={n}] elementwise")
    sn = math.sqrt(n)
    return (sn * (xp.sqrt(u / (qs / 2.0)) - 1.0),
            sn * (xp.sqrt(v / (qs / 2.0)) - 1.0),
            (k - n / 2.0) / sn)


def linear_from_fields(eps, sigma_w2, sigma_b2, width, activation="linear"):
    r"""Inverse of :func:`linear_fields`: :math:`q = q^*(1+\epsilon/\sqrt N)^2`."""
    n = check_int(width, "width", minimum=1)
    qs = _q_star(collective_model(activation, "radial"), sigma_w2, sigma_b2)
    xp = _namespace(eps)
    eps = _as_float(eps, xp)
    return qs * (1.0 + eps / math.sqrt(n)) ** 2


def relu_from_fields(eps_plus, eps_minus, eps_k, sigma_w2, sigma_b2, width, activation="relu"):
    r"""Inverse of :func:`relu_fields`: returns ``(u, v, k)``."""
    n = check_int(width, "width", minimum=1)
    qs = _q_star(collective_model(activation, "orthant"), sigma_w2, sigma_b2)
    xp = _namespace(eps_plus, eps_minus, eps_k)
    ep, em, ek = (_as_float(a, xp) for a in (eps_plus, eps_minus, eps_k))
    sn = math.sqrt(n)
    return (qs / 2.0 * (1.0 + ep / sn) ** 2, qs / 2.0 * (1.0 + em / sn) ** 2, n / 2.0 + sn * ek)


def fields(activation, observables, sigma_w2, sigma_b2, width):
    r"""EFT fields of ``activation`` from its collective observables.

    ``observables`` holds the collective variables ``activation.collective.variables``: ``{"q": ...}``
    (radial) or ``{"u", "v", "k"}`` (orthant). Returns a dict keyed by
    ``get_activation(activation).collective.field_names``.
    """
    cm = collective_model(activation)
    missing = [v for v in cm.variables if v not in observables]
    if missing:
        raise ValueError(f"observables must contain {cm.variables} for {cm.describe()}, missing {missing}")
    if cm.kind == "radial":
        vals = (linear_fields(observables["q"], sigma_w2, sigma_b2, width, activation=activation),)
    else:
        vals = relu_fields(observables["u"], observables["v"], observables["k"], sigma_w2, sigma_b2, width,
                           activation=activation)
    return dict(zip(cm.field_names, vals))

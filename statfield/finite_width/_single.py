r"""Finite-width theory of deep random networks: the four-point vertex and the 1/n kernel shift.

Two routes, numerically (NumPy float64):

* **Leading order in 1/n, any activation** (Roberts, Yaida, Hanin, *The Principles of Deep Learning
  Theory*, arXiv:2106.10165 (PDLT), §4.3 (recursion of the four-point vertex) and §4.5 (1/n correction
  of the metric); Yaida 2019,
  arXiv:1910.00019): the kernel :math:`K^{(l)}`, the four-point vertex :math:`V^{(l)}` and the
  :math:`O(1/n)` shift of the kernel, single input.
* **Exact at finite width for the scale-invariant class**
  :math:`\phi(z) = a_+ z\,\theta(z) + a_- z\,\theta(-z)` (linear, ReLU, leaky ReLU), from the exact
  Markov chain of the collective coordinates (``docs/conventions.md``): every moment of
  :math:`\hat G^{(l)}` and :math:`q^{(l)}` exactly, and the exact distribution of :math:`\ln q^{(l)}` at
  zero bias (polygamma functions), with the log-normal limit of Hanin & Nica (arXiv:1812.05994).

Conventions (``docs/conventions.md``)
-------------------------------------
:math:`z^{(1)} = W^{(1)}x + b^{(1)}`, :math:`z^{(l)} = W^{(l)}\phi(z^{(l-1)}) + b^{(l)}`,
:math:`W^{(l)}_{ij}\sim N(0, \sigma_w^2/n_{l-1})` (fan-in), :math:`b^{(l)}_i\sim N(0,\sigma_b^2)`; the
width of layer :math:`l` is :math:`n_l`. The *metric* of layer :math:`l` is the random variable

.. math:: \hat G^{(1)} = K^{(1)} = \sigma_b^2 + \sigma_w^2 |x|^2/n_0, \qquad
          \hat G^{(l)} = \sigma_b^2 + \frac{\sigma_w^2}{n_{l-1}}\sum_{j=1}^{n_{l-1}} \phi(z^{(l-1)}_j)^2 ,

with the input convention of :func:`statfield.simulate`: ``K1`` defaults to the input :math:`x = (1,)`,
:math:`d_{in} = 1`, i.e. :math:`K^{(1)} = \sigma_b^2 + \sigma_w^2`, and ``inputs=`` may replace ``K1`` everywhere.
Conditionally on the metric, :math:`z^{(l)}_i = \sqrt{\hat G^{(l)}}\,\xi_i` with i.i.d. standard normal
:math:`\xi_i` (exactly, at any width). The normalisations used throughout:

.. math:: \mathbb E\,\hat G^{(l)} = K^{(l)} + \frac{K^{(l)}_{\{1\}}}{n_{l-1}} + O(n^{-2}),\qquad
          V^{(l)} = n_{l-1}\,\mathrm{Var}\,\hat G^{(l)}, \qquad V^{(1)} = K^{(1)}_{\{1\}} = 0,

so that the connected four-point function of one unit is :math:`3V^{(l)}/n_{l-1}` (PDLT §4.3) and
the excess kurtosis of one pre-activation is, **exactly** (``E z^4 = 3 E Ĝ^2``),

.. math:: \kappa^{(l)} = \frac{3\,\mathrm{Var}\,\hat G^{(l)}}{(\mathbb E\hat G^{(l)})^2}
          = \frac{3 V^{(l)}}{n_{l-1} (\mathbb E \hat G^{(l)})^2} .

Leading-order recursions (derived in :mod:`statfield.symbolic.finite_width`), with
:math:`g(K) = \langle\phi^2\rangle_K`, :math:`\langle\cdot\rangle_K` the average over
:math:`z\sim N(0,K)`, and :math:`\chi_\parallel^{(l)} = \sigma_w^2 g'(K^{(l)})` (= :math:`\chi_q` of mean
field at the fixed point):

.. math::
   K^{(l+1)} &= \sigma_b^2 + \sigma_w^2 g(K^{(l)}),\\
   V^{(l+1)} &= \frac{n_l}{n_{l-1}}\,(\chi_\parallel^{(l)})^2\, V^{(l)}
               + \sigma_w^4\left(\langle\phi^4\rangle_{K^{(l)}} - \langle\phi^2\rangle_{K^{(l)}}^2\right),\\
   K^{(l+1)}_{\{1\}} &= \frac{n_l}{n_{l-1}}\left[\chi_\parallel^{(l)} K^{(l)}_{\{1\}}
               + \frac{\sigma_w^2}{2}\, g''(K^{(l)})\, V^{(l)}\right].

These are the single-input forms of the PDLT §4.3 vertex recursion and of the §4.5 metric correction, in the form
:math:`\langle\sigma^2 (z^2-K)^2\rangle/(8K^4) - \ldots = g''/2` (Gaussian identity
:math:`g''(K) = \langle\phi^2\,\mathrm{He}_4(z/\sqrt K)\rangle_K / (4K^2)`). For equal widths the ratios are 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .._checks import check_int, check_positive, check_variances
from ..activations import Activation, get_activation
from ..quadrature import H0, expect, expect2
from ..quadrature import _trap_1d_many as _trap_many

__all__ = [
    "EffectiveAction",
    "FiniteWidthOverflowError",
    "FiniteWidthResult",
    "FiniteWidthWarning",
    "LogQMoments",
    "TwoInputResult",
    "chain_multiplier_moments",
    "critical_vertex_slope",
    "effective_action",
    "exact_moments",
    "first_layer_kernel",
    "gaussian_moments",
    "k0_class_table",
    "log_q_moments",
    "lognormal_limit",
    "q_moments",
    "recursion",
    "two_input_moments",
    "two_input_recursion",
]


# --------------------------------------------------------------------------- helpers
def _widths(width, depth, name="width"):
    """``width`` -> array ``(n_1, ..., n_depth)`` of ints >= 1, or ``None``."""
    if width is None:
        return None
    arr = np.atleast_1d(np.asarray(width))
    if arr.ndim != 1:
        raise ValueError(f"{name} must be an integer or a 1-D sequence of integers, got shape {arr.shape}")
    vals = [check_int(v.item() if hasattr(v, "item") else v, name, minimum=1) for v in arr]
    if len(vals) == 1:
        return np.full(depth, vals[0], dtype=np.int64)
    if len(vals) != depth:
        raise ValueError(f"{name} must be an integer or have one entry per layer (length depth={depth}), "
                         f"got length {len(vals)}")
    return np.asarray(vals, dtype=np.int64)


def _fan_in(widths):
    """``n_{l-1}`` for layers l = 1..depth (``nan`` for layer 1, whose metric is deterministic)."""
    out = np.empty(len(widths), dtype=float)
    out[0] = np.nan
    out[1:] = widths[:-1]
    return out


def _scale_invariant(act: Activation):
    if not act.is_piecewise_linear:
        raise ValueError(f"activation must be scale invariant (piecewise linear: linear, relu, leaky_relu), "
                         f"got {act.name!r}")
    return float(act.a_plus), float(act.a_minus)


def _A(act, m):
    """:math:`A_{2m} = (a_+^{2m} + a_-^{2m})/2` for the scale-invariant class."""
    ap, am = _scale_invariant(act)
    return 0.5 * (ap ** (2 * m) + am ** (2 * m))


# --------------------------------------------------------------------------- inputs
def first_layer_kernel(sigma_w2, sigma_b2, inputs=None):
    r"""First-layer kernel :math:`K^{(1)}_{\alpha\beta} = \sigma_b^2 + \sigma_w^2\,x_\alpha\cdot x_\beta/d_{in}`.

    ``inputs``: array ``(d_in,)`` (one input, returns a float) or ``(P, d_in)`` (returns ``(P, P)``);
    ``None`` is the default input of :func:`statfield.simulate`, :math:`x = (1,)`, :math:`d_{in}=1`, so
    :math:`K^{(1)} = \sigma_b^2 + \sigma_w^2` (conventions: ``docs/conventions.md``).
    """
    sigma_w2, sigma_b2 = check_variances(sigma_w2, sigma_b2)
    if inputs is None:
        return float(sigma_b2 + sigma_w2)
    try:
        X = np.asarray(inputs, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"inputs must be a real array of shape (d_in,) or (P, d_in), got {inputs!r}") from exc
    if X.ndim not in (1, 2) or X.size == 0:
        raise ValueError(f"inputs must have shape (d_in,) or (P, d_in) with d_in >= 1, got shape {X.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError("inputs must be finite")
    if X.ndim == 1:
        with np.errstate(over="ignore"):
            k = float(sigma_b2 + sigma_w2 * (X @ X) / X.size)
        if not math.isfinite(k):
            raise OverflowError("inputs: |x|^2 overflows float64")
        return k
    with np.errstate(over="ignore", invalid="ignore"):
        K = sigma_b2 + sigma_w2 * (X @ X.T) / X.shape[1]
    if not np.all(np.isfinite(K)):
        raise OverflowError("inputs: x.x' overflows float64")
    return 0.5 * (K + K.T)


def _single_K1(sigma_w2, sigma_b2, K1, inputs, name="K1"):
    """``K1`` (validated, > 0) from ``K1`` or a single input ``inputs`` (default x = (1,))."""
    if K1 is not None and inputs is not None:
        raise ValueError("give either K1 or inputs, not both")
    if K1 is not None:
        return check_positive(K1, name)
    if inputs is not None and np.ndim(inputs) == 2 and np.shape(inputs)[0] != 1:
        raise ValueError(f"inputs must be one input (shape (d_in,) or (1, d_in)) here, got shape {np.shape(inputs)}; "
                         f"use multi_input_recursion for several inputs")
    if inputs is not None and np.ndim(inputs) == 2:
        inputs = np.asarray(inputs, dtype=float)[0]
    K = first_layer_kernel(sigma_w2, sigma_b2, inputs)
    if not K > 0:
        raise ValueError(f"inputs: the first-layer kernel sigma_b2 + sigma_w2 |x|^2/d_in must be > 0, got {K}")
    return K


# --------------------------------------------------------------------------- Gaussian moments
_MOMENT_KEYS = ("g", "g4", "dg", "d2g")
_CLOSED_KEYS = {"g": "m", "g4": "m4", "dg": "dm", "d2g": "d2m"}
_QUAD_RTOL = 1e-11


def _closed(act, K):
    """The activation's closed-form moments at variance K (dict keyed like gaussian_moments), or {}."""
    cm = getattr(act, "closed_moments", None)
    if not callable(cm):
        return {}
    d = cm(float(K))
    if not d:
        return {}
    return {ours: float(d[theirs]) for ours, theirs in _CLOSED_KEYS.items() if theirs in d and d[theirs] is not None}


def _integrands(act, need):
    """The integrands of the requested moments as one ``fs(x, z) -> list`` for a single quadrature pass."""
    def fs(x, z):
        phi = act.numpy(x)
        out = []
        h = None
        if "dg" in need or "d2g" in need:
            h = act.derivative(x, np) ** 2 + phi * act.second_derivative(x, np)  # (phi^2)''/2 (Price)
        for key in need:
            if key == "g":
                out.append(phi * phi)
            elif key == "g4":
                out.append(phi**4)
            elif key == "dg":
                out.append(h)
            else:  # d2g = <h (z^2 - 1)>/(2K) with z the standardised variable (Stein on g')
                out.append(h * (z * z - 1.0))
        return out
    return fs


def _moments_numeric(act, K, need=_MOMENT_KEYS):
    r"""Moments at variance K by one fixed trapezoid rule (step :math:`h_0/\sqrt{1+K}`), error-checked.

    All integrands share the nodes (one evaluation of :math:`\phi, \phi', \phi''`). The rule with every other
    node is the rule of step :math:`2h`; when the two differ by more than ``1e-11`` (relative to
    :math:`\mathbb E|f|`) the adaptive :func:`statfield.quadrature.expect` is used instead (kinks, user
    activations). Returns the dict of the requested keys.
    """
    need = tuple(need)
    q = np.array([float(K)])
    fs = _integrands(act, need)
    def both(x, z):
        v = fs(x, z)
        return v + [np.abs(a) for a in v]

    with np.errstate(over="ignore", invalid="ignore"):
        fine = _trap_many(both, q, H0)
    n = len(need)
    vals, scale = [float(v[0]) for v in fine[:n]], [float(v[0]) for v in fine[n:]]
    with np.errstate(over="ignore", invalid="ignore"):
        coarse = _trap_many(fs, q, 2 * H0)
    ok = all(math.isfinite(v) and abs(v - float(c[0])) <= _QUAD_RTOL * s + 1e-300
             for v, c, s in zip(vals, coarse, scale))
    if not ok:
        adaptive = {"g": lambda x: act.numpy(x) ** 2, "g4": lambda x: act.numpy(x) ** 4,
                    "dg": lambda x: act.derivative(x, np) ** 2 + act.numpy(x) * act.second_derivative(x, np)}
        adaptive["d2g"] = lambda x: adaptive["dg"](x) * (x * x / K - 1.0)
        vals = [float(expect(adaptive[k], K)) for k in need]
    out = dict(zip(need, vals))
    if "d2g" in out:
        out["d2g"] /= 2.0 * K
    return out


def _moments_scalar(act, K):
    """g, g4, dg, d2g at one variance K: closed forms where the activation has them, else quadrature."""
    if act.is_piecewise_linear:
        A2, A4 = _A(act, 1), _A(act, 2)
        return {"g": A2 * K, "g4": 3.0 * A4 * K * K, "dg": A2, "d2g": 0.0}
    out = _closed(act, K)
    missing = tuple(k for k in _MOMENT_KEYS if k not in out)
    if missing:
        out.update(_moments_numeric(act, K, missing))
    return out


def gaussian_moments(activation, K):
    r"""Gaussian averages entering the recursions, at variance ``K`` (scalar or array).

    Returns a dict with ``g`` :math:`=\langle\phi^2\rangle_K`, ``g4`` :math:`=\langle\phi^4\rangle_K`,
    ``dg`` :math:`=g'(K)`, ``d2g`` :math:`=g''(K)`, :math:`z\sim N(0,K)`.

    Closed forms first: scale-invariant class :math:`g = A_2K`, :math:`\langle\phi^4\rangle = 3A_4K^2`
    (:math:`A_{2m} = (a_+^{2m}+a_-^{2m})/2`); otherwise the activation's ``closed_moments(K)`` where it
    provides them (e.g. erf, Williams 1997: :math:`g = \frac{2}{\pi}\arcsin\frac{2K}{1+2K}`). Any moment
    without a closed form is computed numerically with one trapezoid rule for all four integrands (step
    :math:`0.2/\sqrt{1+K}`, :math:`|z|\le 9`; relative error ~1e-14 for tanh/erf/SiLU for
    :math:`10^{-2}\le K\le10^2`, see :mod:`statfield.quadrature`), checked against the rule of twice the step
    and replaced by the adaptive :func:`statfield.quadrature.expect` when they differ by more than 1e-11,
    with the derivative identities :math:`g'(K) = \langle\phi'^2 + \phi\phi''\rangle_K` (Price's theorem) and
    :math:`g''(K) = \langle(\phi'^2+\phi\phi'')\,(z^2/K - 1)\rangle_K/(2K)` (Stein's lemma on :math:`g'`).

    Raises
    ------
    ValueError
        ``K`` not finite and > 0.
    OverflowError
        A moment overflows float64 (``K`` too large for this activation).
    """
    act = get_activation(activation)
    K = check_positive(K, "K")
    Karr = np.asarray(K, dtype=float)
    flat = [_moments_scalar(act, float(k)) for k in Karr.reshape(-1)]
    out = {key: np.array([f[key] for f in flat], dtype=float).reshape(Karr.shape) for key in _MOMENT_KEYS}
    for key, v in out.items():
        if not np.all(np.isfinite(v)):
            raise OverflowError(f"gaussian_moments: {key} is not finite in float64 at K = "
                                f"{Karr.reshape(-1)[~np.isfinite(v.reshape(-1))][0]!r}; K must be smaller")
    if Karr.ndim == 0:
        out = {key: float(v) for key, v in out.items()}
    return out


# --------------------------------------------------------------------------- result
def _result_fan_in(result, width):
    """Fan-in widths of a recursion result (``width=None``: the widths it was computed with; an exact result
    accepts only its own widths). Shared by the single- and multi-input results."""
    if width is None:
        if result.widths is None:
            raise ValueError("width must be given (an integer >= 1 or one per layer): this result was "
                             "computed without widths")
        w = result.widths
    else:
        w = _widths(width, result.depth)
        if result.exact and not np.array_equal(w, result.widths):
            raise ValueError(f"width must equal the width of the exact recursion ({result.widths[0]} ...), "
                             f"got {width!r}")
    return _fan_in(w)


@dataclass(frozen=True)
class EffectiveAction:
    r"""Single-unit effective action to :math:`O(1/n)`: :math:`-\ln p(z) = \frac{g}{2}z^2 - \frac{v}{8}z^4 + \mathrm{const}`.

    ``g`` and ``v`` are arrays over layers (``v`` is :math:`O(1/n)`; PDLT §4.4, the quartic single-neuron action).
    """

    g: np.ndarray
    v: np.ndarray


@dataclass(frozen=True)
class FiniteWidthResult:
    r"""Output of :func:`recursion`: arrays over layers ``l = 1..depth`` (index ``l-1``).

    Attributes
    ----------
    K : ndarray
        Leading order: the infinite-width kernel :math:`K^{(l)}`. Exact route: :math:`\mathbb E\hat G^{(l)}`.
    V : ndarray
        Four-point vertex :math:`V^{(l)}` (leading order), or exactly :math:`n_{l-1}\mathrm{Var}\,\hat G^{(l)}`.
    K_shift : ndarray
        :math:`K^{(l)}_{\{1\}}` with :math:`\mathbb E\hat G^{(l)} = K^{(l)} + K^{(l)}_{\{1\}}/n_{l-1} + O(n^{-2})`.
        Exact route: :math:`n_{l-1}(\mathbb E\hat G^{(l)} - K^{(l)}_{\infty})`, identically 0 for the
        scale-invariant class (the mean of the chain obeys the mean-field map at every width).
    chi_par : ndarray
        :math:`\chi_\parallel^{(l)} = \sigma_w^2 g'(K^{(l)})`.
    widths : ndarray or None
        :math:`(n_1,\dots,n_{\mathrm{depth}})` if given.
    exact : bool
        Whether the exact finite-width route was used.
    """

    activation: Activation
    sigma_w2: float
    sigma_b2: float
    K1: float
    depth: int
    K: np.ndarray
    V: np.ndarray
    K_shift: np.ndarray
    chi_par: np.ndarray
    widths: np.ndarray | None = None
    exact: bool = False
    extra: dict = field(default_factory=dict)

    @property
    def layers(self) -> np.ndarray:
        """Layer indices ``1..depth``."""
        return np.arange(1, self.depth + 1)

    def _fan_in(self, width):
        return _result_fan_in(self, width)

    def G_var(self, width=None) -> np.ndarray:
        r""":math:`\mathrm{Var}\,\hat G^{(l)} = V^{(l)}/n_{l-1}` (0 at layer 1)."""
        n = self._fan_in(width)
        out = np.zeros(self.depth)
        out[1:] = self.V[1:] / n[1:]
        return out

    def G_mean(self, width=None) -> np.ndarray:
        r""":math:`\mathbb E\hat G^{(l)} \approx K^{(l)} + K^{(l)}_{\{1\}}/n_{l-1}` (exact for ``exact=True``)."""
        if self.exact:
            return self.K.copy()
        n = self._fan_in(width)
        out = self.K.copy()
        out[1:] += self.K_shift[1:] / n[1:]
        return out

    def kurtosis(self, width=None) -> np.ndarray:
        r"""Excess kurtosis of one pre-activation of layer ``l``: :math:`3V^{(l)}/(n_{l-1}K^{(l)2})`.

        Leading order (``exact=False``): :math:`K` is the infinite-width kernel. Exact route: equal to
        :math:`3\,\mathrm{Var}\,\hat G/(\mathbb E\hat G)^2`, the exact excess kurtosis at finite width.
        ``width``: an integer (equal widths) or ``(n_1..n_depth)``; defaults to the widths of the result.
        """
        return 3.0 * self.G_var(width) / self.K**2

    def effective_action(self, width=None) -> EffectiveAction:
        """The single-unit effective action implied by ``K, K_shift, V`` (see :func:`effective_action`)."""
        n = self._fan_in(width)
        n = np.where(np.isnan(n), np.inf, n)
        return effective_action(self.K, self.V, self.K_shift, n)

    def to_dict(self) -> dict:
        return {
            "activation": self.activation.name, "sigma_w2": self.sigma_w2, "sigma_b2": self.sigma_b2,
            "K1": self.K1, "depth": self.depth, "exact": self.exact,
            "widths": None if self.widths is None else self.widths.tolist(),
            "K": self.K.tolist(), "V": self.V.tolist(), "K_shift": self.K_shift.tolist(),
            "chi_par": self.chi_par.tolist(),
        }


# --------------------------------------------------------------------------- recursions
class FiniteWidthWarning(RuntimeWarning):
    """The 1/n expansion is used where its expansion parameter depth/width is not small."""


class FiniteWidthOverflowError(OverflowError, ValueError):
    """A recursion overflows float64 at a named layer (also a ``ValueError`` for backward compatibility)."""


#: above this depth/width the leading order in 1/n is off by >~10 % (see the ``finite-width`` derivation)
LO_WARN_RATIO = 0.1
#: recursions projected to run longer than this (seconds) are refused up front
TIME_LIMIT_S = 120.0
_PROBE_LAYERS = 256


def _warn_expansion(depth, widths, what="leading order in 1/n"):
    if widths is None:
        return
    ratio = depth / float(np.min(widths))
    if ratio > LO_WARN_RATIO:
        import warnings

        warnings.warn(f"{what}: the expansion parameter depth/width = {depth}/{int(np.min(widths))} = {ratio:.3g} "
                      f"is not small (> {LO_WARN_RATIO}); the O(1/n^2) remainder grows as (depth/width)^2 "
                      f"(exact results: exact=True for linear/ReLU-type activations)", FiniteWidthWarning,
                      stacklevel=3)


def recursion(activation, sigma_w2, sigma_b2, depth, K1=None, width=None, exact=False, *, inputs=None):
    r"""Finite-width recursion over layers ``1..depth`` (one input; several inputs: see below).

    Parameters
    ----------
    activation : str, Activation, SymPy expression or callable
        The nonlinearity :math:`\phi` (see :func:`statfield.get_activation`).
    sigma_w2 : float
        Weight variance per fan-in, :math:`W_{ij}\sim N(0,\sigma_w^2/n_{l-1})`; > 0.
    sigma_b2 : float
        Bias variance, >= 0.
    depth : int
        Number of layers L >= 1.
    K1 : float, optional
        First-layer kernel :math:`K^{(1)} = \sigma_b^2 + \sigma_w^2|x|^2/d_{in}` (> 0). Default: the default
        input of :func:`statfield.simulate`, :math:`x = (1,)`, so :math:`K^{(1)} = \sigma_b^2 + \sigma_w^2`.
    width : int or sequence of int, optional
        :math:`n_l` (one integer for equal widths, or :math:`(n_1,\dots,n_L)`). Leading order needs it
        only for unequal widths (the factors :math:`n_l/n_{l-1}`) and for the warning below; the exact
        route requires it.
    exact : bool
        ``False``: leading order in 1/n (any activation; PDLT §4.3, §4.5).
        ``True``: exact finite-width recursion (scale-invariant activations only: linear, ReLU, leaky
        ReLU): :math:`\hat G^{(l+1)} = \sigma_b^2 + \sigma_w^2 X_l \hat G^{(l)}` with
        :math:`X_l = \frac{1}{n_l}\sum_i\phi(\xi_i)^2` independent of :math:`\hat G^{(l)}`, whence
        :math:`\mathbb E\hat G^{(l+1)} = \sigma_b^2 + \sigma_w^2\mu_1 \mathbb E\hat G^{(l)}` and
        :math:`\mathbb E\hat G^{(l+1)2} = \sigma_b^4 + 2\sigma_b^2\sigma_w^2\mu_1\mathbb E\hat G^{(l)}
        + \sigma_w^4\mu_2\mathbb E\hat G^{(l)2}`, :math:`\mu_1 = A_2`,
        :math:`\mu_2 = A_2^2 + (3A_4 - A_2^2)/n_l` (see :func:`chain_multiplier_moments`).
    inputs : array (d_in,) or (P, d_in), keyword only
        Network inputs instead of ``K1`` (same convention as :func:`statfield.simulate`). With ``P > 1``
        inputs this returns :func:`multi_input_recursion` ``(activation, sigma_w2, sigma_b2, depth, inputs,
        width, exact=exact)``.

    Returns
    -------
    FiniteWidthResult
        ``.K``, ``.V``, ``.K_shift``, ``.chi_par`` and ``.kurtosis(width)``
        (:class:`MultiInputResult` for ``P > 1`` inputs).

    Notes
    -----
    Cost: leading order one Gaussian quadrature (one fixed trapezoid rule for the four averages) per layer
    until the kernel reaches its fixed point to round-off; from there on the moments are constant and the
    linear recursions of :math:`V` and :math:`K_{\{1\}}` are summed in closed form, so large depths are
    cheap. A request whose projected run time exceeds :data:`TIME_LIMIT_S` (measured on the first
    layers) is refused with a ``ValueError`` stating the estimate.

    Warns
    -----
    FiniteWidthWarning
        Leading order with ``width`` given and depth/width > 0.1.

    Raises
    ------
    ValueError
        ``depth < 1``, ``width < 1``, ``sigma_w2 <= 0``, ``sigma_b2 < 0``, ``K1 <= 0``, both ``K1`` and
        ``inputs``, ``exact=True`` for a non-scale-invariant activation or without ``width``, or a projected
        run time above :data:`TIME_LIMIT_S`.
    OverflowError
        (:class:`FiniteWidthOverflowError`, also a ``ValueError``) float64 overflow; the message names the layer.
    """
    if inputs is not None and np.ndim(inputs) == 2 and np.shape(inputs)[0] > 1:
        if K1 is not None:
            raise ValueError("give either K1 or inputs, not both")
        from .multi import multi_input_recursion

        return multi_input_recursion(activation, sigma_w2, sigma_b2, depth, inputs, width=width, exact=exact)
    act = get_activation(activation)
    sigma_w2, sigma_b2 = check_variances(sigma_w2, sigma_b2)
    depth = check_int(depth, "depth", minimum=1)
    K1 = _single_K1(sigma_w2, sigma_b2, K1, inputs)
    widths = _widths(width, depth)
    if exact:
        if not act.is_piecewise_linear:
            raise ValueError(f"exact=True needs a scale-invariant activation (linear, relu, leaky_relu); "
                             f"activation {act.name!r} has only the leading-order recursion (exact=False)")
        if widths is None:
            raise ValueError("width must be given (integer >= 1 or one per layer) when exact=True")
        return _exact_recursion(act, sigma_w2, sigma_b2, depth, K1, widths)
    _warn_expansion(depth, widths)
    return _lo_recursion(act, sigma_w2, sigma_b2, depth, K1, widths)


def _lo_recursion(act, sigma_w2, sigma_b2, depth, K1, widths):
    import time

    K = np.empty(depth)
    V = np.zeros(depth)
    Ks = np.zeros(depth)
    chi = np.empty(depth)
    K[0] = K1
    sw4 = sigma_w2 * sigma_w2
    t0 = time.perf_counter()
    pwl = act.is_piecewise_linear
    if pwl:
        A2, A4 = _A(act, 1), _A(act, 2)
    equal = widths is None or bool(np.all(widths == widths[0]))
    l = 0
    with np.errstate(over="ignore", invalid="ignore"):
        while True:
            if pwl:
                kl = K[l]
                m = {"g": A2 * kl, "g4": 3.0 * A4 * kl * kl, "dg": A2, "d2g": 0.0}
            else:
                m = _moments_scalar(act, float(K[l]))
            chi[l] = sigma_w2 * m["dg"]
            if l + 1 == depth:
                break
            # ratio n_l / n_{l-1} for the transition l -> l+1 (python index l is layer l+1)
            ratio = 1.0 if (widths is None or l == 0) else widths[l] / widths[l - 1]
            K[l + 1] = sigma_b2 + sigma_w2 * m["g"]
            V[l + 1] = ratio * chi[l] ** 2 * V[l] + sw4 * (m["g4"] - m["g"] ** 2)
            Ks[l + 1] = ratio * (chi[l] * Ks[l] + 0.5 * sigma_w2 * m["d2g"] * V[l])
            if not (math.isfinite(K[l + 1]) and math.isfinite(V[l + 1]) and math.isfinite(Ks[l + 1])):
                raise FiniteWidthOverflowError(
                    f"the leading-order recursion overflows float64 at layer {l + 2} (K = {K[l + 1]!r}, "
                    f"V = {V[l + 1]!r}); reduce depth (at most {l + 1} here) or sigma_w2")
            l += 1
            if equal and l >= 2 and l + 1 < depth and abs(K[l] - K[l - 1]) <= 4e-16 * abs(K[l]):
                _fixed_point_tail(K, V, Ks, chi, l, sigma_w2, sw4, m)
                break
            if not pwl and l == _PROBE_LAYERS and depth > 4 * _PROBE_LAYERS:
                per = (time.perf_counter() - t0) / l
                est = per * depth
                import sys

                limit = getattr(sys.modules.get("statfield.finite_width"), "TIME_LIMIT_S", TIME_LIMIT_S)
                if est > limit:
                    raise ValueError(f"depth={depth} would take about {est:.0f} s ({1e3 * per:.2f} ms per layer; "
                                     f"the kernel has not reached its fixed point after {l} layers), above the "
                                     f"limit of {limit:.0f} s (statfield.finite_width.TIME_LIMIT_S); "
                                     f"reduce depth")
    _check_finite_result(K, V, Ks)
    return FiniteWidthResult(act, sigma_w2, sigma_b2, K1, depth, K, V, Ks, chi, widths, False)


def _fixed_point_tail(K, V, Ks, chi, l, sigma_w2, sw4, m):
    r"""Fill layers ``l+1..`` once ``K[l]`` is the fixed point (equal widths): constant coefficients.

    :math:`V_{t+1} = aV_t + b` and :math:`K_{\{1\},t+1} = \chi K_{\{1\},t} + cV_t` with
    :math:`a = \chi^2`, :math:`b = \sigma_w^4(\langle\phi^4\rangle - g^2)`, :math:`c = \sigma_w^2 g''/2`
    (the moments at :math:`K^*`), evaluated as linear filters (the same arithmetic as the loop).
    """
    from scipy.signal import lfilter

    depth = K.size
    K[l:] = K[l]
    chi[l:] = chi[l - 1]
    a = chi[l - 1] ** 2
    b = sw4 * (m["g4"] - m["g"] ** 2)
    c = 0.5 * sigma_w2 * m["d2g"]
    steps = depth - l
    # V[l] is known; V[l+t] = a V[l+t-1] + b
    with np.errstate(over="ignore", invalid="ignore"):
        v = lfilter([1.0], [1.0, -a], np.full(steps - 1, b), zi=[a * V[l]])[0]
        V[l + 1:] = v
        # Ks[l+1+t] = c V[l+t] + chi Ks[l+t]
        Ks[l + 1:] = lfilter([c], [1.0, -chi[l]], V[l:depth - 1], zi=[chi[l] * Ks[l]])[0]
    bad = ~(np.isfinite(V) & np.isfinite(Ks))
    if np.any(bad):
        raise FiniteWidthOverflowError(f"the leading-order recursion overflows float64 at layer "
                                       f"{int(np.argmax(bad)) + 1}; reduce depth or sigma_w2")


def _exact_recursion(act, sigma_w2, sigma_b2, depth, K1, widths):
    A2 = _A(act, 1)
    m1 = np.empty(depth)
    m2 = np.empty(depth)
    m1[0], m2[0] = K1, K1 * K1
    cache = {}
    with np.errstate(over="ignore", invalid="ignore"):
        for l in range(depth - 1):
            n = int(widths[l])
            if n not in cache:
                cache[n] = chain_multiplier_moments(act, n, 2)[1:]
            mu1, mu2 = cache[n]
            m1[l + 1] = sigma_b2 + sigma_w2 * mu1 * m1[l]
            m2[l + 1] = sigma_b2**2 + 2 * sigma_b2 * sigma_w2 * mu1 * m1[l] + sigma_w2**2 * mu2 * m2[l]
            if not math.isfinite(m2[l + 1]):
                raise FiniteWidthOverflowError(
                    f"the exact recursion overflows float64 at layer {l + 2} (E G^2 = {m2[l + 1]!r}); reduce depth "
                    f"(at most {l + 1} here), sigma_w2 or K1, or use log_q_moments for log-scale statistics")
        var = np.maximum(m2 - m1 * m1, 0.0)
    var[0] = 0.0
    n_in = _fan_in(widths)
    V = np.zeros(depth)
    V[1:] = n_in[1:] * var[1:]
    chi = np.full(depth, sigma_w2 * A2)
    _check_finite_result(m1, V, m2)
    return FiniteWidthResult(act, sigma_w2, sigma_b2, K1, depth, m1, V, np.zeros(depth), chi, widths, True,
                             extra={"G2": m2})


def _check_finite_result(*arrays):
    for a in arrays:
        a = np.asarray(a)
        bad = ~np.isfinite(a)
        if np.any(bad):
            layer = int(np.argmax(bad.reshape(a.shape[0], -1).any(axis=1))) + 1 if a.ndim else 1
            raise FiniteWidthOverflowError(
                f"float64 overflow at layer {layer}: depth is too large at these sigma_w2, K1 (the kernel or its "
                f"moments overflow); use log_q_moments for the log-scale statistics")


# --------------------------------------------------------------------------- exact chain (scale invariant)
def chain_multiplier_moments(activation, width, order):
    r"""Moments :math:`\mu_j = \mathbb E X^j`, ``j = 0..order``, of the chain multiplier.

    :math:`X = \frac1n\sum_{i=1}^n Y_i`, :math:`Y_i = \phi(\xi_i)^2`, :math:`\xi_i\sim N(0,1)` i.i.d.,
    for :math:`\phi = a_+z\theta(z) + a_-z\theta(-z)`: :math:`\mathbb E Y^m = A_{2m}(2m-1)!!`; the
    cumulants of :math:`X` are :math:`\kappa_r(Y)\,n^{1-r}`. Equivalently
    :math:`X = (a_+^2\chi^2_k + a_-^2\chi^2_{n-k})/n` with :math:`k\sim\mathrm{Bin}(n,\frac12)`
    ; linear: :math:`\mu_j = \prod_{i<j}(1+2i/n)`.
    """
    act = get_activation(activation)
    n = check_int(width, "width", minimum=1)
    order = check_int(order, "order", minimum=0)
    mY = [_A(act, m) * float(math.prod(range(1, 2 * m, 2))) if m else 1.0 for m in range(order + 1)]
    kY = [0.0] * (order + 1)
    for j in range(1, order + 1):  # cumulants from moments
        kY[j] = mY[j] - sum(math.comb(j - 1, i - 1) * kY[i] * mY[j - i] for i in range(1, j))
    kX = [kY[j] * float(n) ** (1 - j) for j in range(order + 1)]
    mu = [1.0] + [0.0] * order
    for j in range(1, order + 1):  # moments from cumulants
        mu[j] = sum(math.comb(j - 1, i - 1) * kX[i] * mu[j - i] for i in range(1, j + 1))
    return np.asarray(mu)


def exact_moments(activation, sigma_w2, sigma_b2, depth, K1=None, width=None, order=4, *, inputs=None) -> np.ndarray:
    r"""Exact raw moments :math:`\mathbb E[(\hat G^{(l)})^m]`, shape ``(depth, order+1)`` (``m = 0..order``).

    From :math:`\hat G^{(l+1)} = \sigma_b^2 + \sigma_w^2X_l\hat G^{(l)}`:
    :math:`\mathbb E[\hat G^{(l+1)m}] = \sum_{j}\binom{m}{j}\sigma_b^{2(m-j)}\sigma_w^{2j}\mu_j(n_l)\,
    \mathbb E[\hat G^{(l)j}]`. Scale-invariant activations only; ``width`` is required.

    ``K1`` defaults to the default input of :func:`statfield.simulate` (:math:`x=(1,)`, :math:`K^{(1)} = \sigma_b^2+\sigma_w^2`);
    ``inputs=`` (one input, shape ``(d_in,)``) may be given instead (:math:`K^{(1)} = \sigma_b^2 + \sigma_w^2|x|^2/d_{in}`).
    """
    act = get_activation(activation)
    _scale_invariant(act)
    sigma_w2, sigma_b2 = check_variances(sigma_w2, sigma_b2)
    depth = check_int(depth, "depth", minimum=1)
    K1 = _single_K1(sigma_w2, sigma_b2, K1, inputs)
    order = check_int(order, "order", minimum=0)
    widths = _widths(width, depth)
    if widths is None:
        raise ValueError("width must be an integer >= 1 or one per layer")
    M = np.empty((depth, order + 1))
    M[0] = K1 ** np.arange(order + 1)
    for l in range(depth - 1):
        mu = chain_multiplier_moments(act, int(widths[l]), order)
        for m in range(order + 1):
            j = np.arange(m + 1)
            coef = np.array([math.comb(m, int(t)) for t in j], dtype=float)
            M[l + 1, m] = np.sum(coef * sigma_b2 ** (m - j) * sigma_w2**j * mu[: m + 1] * M[l, : m + 1])
    _check_finite_result(M)
    return M


def q_moments(activation, sigma_w2, sigma_b2, depth, K1=None, width=None, order=4, *, inputs=None) -> np.ndarray:
    r"""Exact raw moments of :math:`q^{(l)} = |z^{(l)}|^2/n_l`, shape ``(depth, order+1)``.

    :math:`q^{(l)} = \hat G^{(l)}\chi^2_{n_l}/n_l` with an independent :math:`\chi^2_{n_l}`, so
    :math:`\mathbb E[q^{(l)m}] = \mathbb E[\hat G^{(l)m}]\prod_{i<m}(1+2i/n_l)` (the factor is
    :func:`chain_multiplier_moments` of the linear activation). ``K1``/``inputs``: as in :func:`exact_moments`.
    """
    M = exact_moments(activation, sigma_w2, sigma_b2, depth, K1, width, order, inputs=inputs)
    widths = _widths(width, M.shape[0])
    lin = get_activation("linear")
    fac = np.array([chain_multiplier_moments(lin, int(n), order) for n in widths])
    return M * fac


def critical_vertex_slope(activation) -> float:
    r"""Growth rate :math:`c = \frac{d}{dl}\frac{V^{(l)}}{K^{(l)2}}` at criticality, scale-invariant class.

    At :math:`\sigma_b^2 = 0`, :math:`\sigma_w^2 A_2 = 1` the leading order gives
    :math:`V^{(l)}/K^2 = (l-1)\,c` with

    .. math:: c = \frac{3A_4}{A_2^2} - 1 = \frac{6(a_+^4+a_-^4)}{(a_+^2+a_-^2)^2} - 1

    (linear 2, ReLU 5; PDLT §5.4 writes :math:`3A_4/A_2^2 - 1` with :math:`A_{2m}` the
    *averages* of :math:`a_\pm^{2m}`). Exactly at finite width
    :math:`V^{(l)}/K^2 = n[(1+c/n)^{l-1}-1]` (:mod:`statfield.symbolic.finite_width`).
    """
    act = get_activation(activation)
    return 3.0 * _A(act, 2) / _A(act, 1) ** 2 - 1.0


# --------------------------------------------------------------------------- log q
@dataclass(frozen=True)
class LogQMoments:
    r"""Mean and variance of :math:`\ln q^{(l)}` over layers ``1..depth`` (exact, zero bias).

    For rectified activations the moments are conditional on no layer being dead (every
    :math:`k_j\ge1`); ``p_alive`` is that probability :math:`\prod_{j<l}(1-2^{-n_j})`.
    """

    mean: np.ndarray
    var: np.ndarray
    p_alive: np.ndarray


def _log_chi2_over_n(k, n):
    """Mean and variance of ln(chi2_k / n): psi(k/2) + ln(2/n), psi_1(k/2)."""
    k = np.asarray(k, dtype=float)
    from scipy import special

    return special.digamma(k / 2) + np.log(2.0 / n), special.polygamma(1, k / 2)


def _log_multiplier(act, n):
    """(mean, var, p_nonzero) of ln X for the scale-invariant chain multiplier at width n."""
    ap, am = (abs(a) for a in _scale_invariant(act))
    if ap == am:
        mu, var = _log_chi2_over_n(n, n)
        return float(mu) + 2 * math.log(ap), float(var), 1.0
    if am == 0.0 or ap == 0.0:
        a = max(ap, am)
        k = np.arange(1, n + 1)
        w = np.exp([math.lgamma(n + 1) - math.lgamma(j + 1) - math.lgamma(n - j + 1) - n * math.log(2.0)
                    for j in k.tolist()])
        p = float(w.sum())
        w = w / p
        mk, vk = _log_chi2_over_n(k, n)
        mean = float(np.sum(w * mk))
        var = float(np.sum(w * vk) + np.sum(w * (mk - mean) ** 2))
        return mean + 2 * math.log(a), var, p
    raise ValueError(f"activation must be linear-like (|a_plus| = |a_minus|) or rectified (one slope 0) for the "
                     f"exact log-moments, got a_plus={act.a_plus}, a_minus={act.a_minus}")


def _zero_bias_inputs(activation, sigma_w2, depth, K1, width, inputs=None):
    """Validated ``(act, sigma_w2, depth, K1, widths)`` for the zero-bias ln q results."""
    act = get_activation(activation)
    sigma_w2 = check_positive(sigma_w2, "sigma_w2")
    depth = check_int(depth, "depth", minimum=1)
    K1 = _single_K1(sigma_w2, 0.0, K1, inputs)
    widths = _widths(width, depth)
    if widths is None:
        raise ValueError("width must be an integer >= 1 or one per layer")
    return act, sigma_w2, depth, K1, widths


def log_q_moments(activation, sigma_w2, depth, K1=None, width=None, *, inputs=None) -> LogQMoments:
    r"""Exact mean and variance of :math:`\ln q^{(l)}` at zero bias (linear and rectified activations).

    At :math:`\sigma_b^2=0` the chain is a product: :math:`q^{(l)} = K^{(1)}\prod_{j<l}(\sigma_w^2X_j)
    \cdot\chi^2_{n_l}/n_l`, so :math:`\ln q^{(l)}` is a sum of independent terms
    (Hanin & Nica, arXiv:1812.05994). With :math:`\mathbb E\ln(\chi^2_k/n) = \psi(k/2)+\ln(2/n)` and
    :math:`\mathrm{Var}\ln\chi^2_k = \psi_1(k/2)`:

    * linear :math:`\phi=az`: :math:`\mathbb E\ln q^{(l)} = \ln K^{(1)} + (l-1)\ln(\sigma_w^2a^2)
      + \sum_{j\le l}[\psi(n_j/2) - \ln(n_j/2)]`, :math:`\mathrm{Var} = \sum_{j\le l}\psi_1(n_j/2)`;
    * rectified :math:`\phi = az\theta(z)`: the term of layer :math:`j<l` is :math:`\ln(a^2\chi^2_{k_j}/n_j)`
      with :math:`k_j\sim\mathrm{Bin}(n_j,\frac12)` conditioned on :math:`k_j\ge1`: mean
      :math:`\mathbb E_k[\psi(k/2)] + \ln(2a^2/n_j)`, variance
      :math:`\mathbb E_k[\psi_1(k/2)] + \mathrm{Var}_k[\psi(k/2)]`.

    ``K1`` defaults to :math:`\sigma_w^2` (the default input :math:`x=(1,)` of :func:`statfield.simulate` at
    zero bias); ``inputs=`` (one input) may be given instead. ``width`` is required.
    """
    act, sigma_w2, depth, K1, widths = _zero_bias_inputs(activation, sigma_w2, depth, K1, width, inputs)
    mean = np.empty(depth)
    var = np.empty(depth)
    alive = np.empty(depth)
    acc_m, acc_v, acc_p = math.log(K1), 0.0, 1.0
    cache = {}
    for l in range(depth):
        n = int(widths[l])
        rm, rv = _log_chi2_over_n(n, n)
        mean[l], var[l], alive[l] = acc_m + float(rm), acc_v + float(rv), acc_p
        if n not in cache:
            cache[n] = _log_multiplier(act, n)
        lm, lv, lp = cache[n]
        acc_m += math.log(sigma_w2) + lm
        acc_v += lv
        acc_p *= lp
    return LogQMoments(mean, var, alive)


def lognormal_limit(activation, sigma_w2, depth, K1=None, width=None, *, inputs=None) -> LogQMoments:
    r"""Log-normal limit (Hanin & Nica, arXiv:1812.05994) of :math:`q^{(l)}` at zero bias, any scale-invariant φ.

    Named approximation: large width at fixed :math:`\beta = \sum_j 1/n_j` (CLT for the sum of the
    independent layer terms, each expanded to :math:`O(1/n)`):
    :math:`\mathrm{Var}\ln X_j \simeq c/n_j`, :math:`\mathbb E\ln X_j\simeq \ln\mu_1 - c/(2n_j)` with
    :math:`c = 3A_4/A_2^2-1` (:func:`critical_vertex_slope`), and the read-out :math:`\chi^2_{n_l}/n_l`
    contributes :math:`2/n_l`, :math:`-1/n_l`. Hence
    :math:`\ln q^{(l)}\approx N\big(\ln\mathbb E q^{(l)} - s_l^2/2,\ s_l^2\big)`,
    :math:`s_l^2 = c\sum_{j<l}1/n_j + 2/n_l`; for ReLU :math:`s_l^2\simeq 5(l-1)/n`, linear
    :math:`2l/n`. ``p_alive`` is 1 (dead layers are :math:`O(2^{-n})`). ``K1``, ``inputs``, ``width``: as in
    :func:`log_q_moments`.
    """
    act, sigma_w2, depth, K1, widths = _zero_bias_inputs(activation, sigma_w2, depth, K1, width, inputs)
    c = critical_vertex_slope(act)
    inv = 1.0 / widths.astype(float)
    s2 = c * np.concatenate([[0.0], np.cumsum(inv[:-1])]) + 2.0 * inv
    ln_Eq = math.log(K1) + np.arange(depth) * math.log(sigma_w2 * _A(act, 1))
    return LogQMoments(ln_Eq - 0.5 * s2, s2, np.ones(depth))


# --------------------------------------------------------------------------- EFT
def effective_action(K, V, K_shift, width) -> EffectiveAction:
    r"""Quartic single-unit action implied by the kernel, its 1/n shift and the four-point vertex.

    Expanding :math:`p(z) = \mathbb E\,N(z; 0, \hat G)` around :math:`\hat G = K` to second order
    (:math:`\mathbb E\delta = K_{\{1\}}/n`, :math:`\mathbb E\delta^2 = V/n + O(n^{-2})`) and exponentiating:

    .. math:: -\ln p(z) = \frac{g}{2}z^2 - \frac{v}{8}z^4 + \mathrm{const} + O(n^{-2}),\quad
              v = \frac{V}{nK^4},\quad g = \frac1K - \frac{K_{\{1\}}}{nK^2} + \frac{3V}{2nK^3}

    (PDLT §4.4 with :math:`G = K + K_{\{1\}}/n`: :math:`g = 1/G + 3V/(2nK^3)`).
    It reproduces :math:`\langle z^2\rangle = K + K_{\{1\}}/n` and :math:`\langle z^4\rangle_c = 3V/n` at
    first order in :math:`v`. ``width`` is :math:`n_{l-1}` (``inf`` for the Gaussian first layer).
    """
    from .._checks import check_finite, check_nonnegative

    K = np.asarray(check_positive(K, "K"), dtype=float)
    V = np.asarray(check_nonnegative(V, "V"), dtype=float)
    Ks = np.asarray(check_finite(K_shift, "K_shift"), dtype=float)
    try:
        n = np.asarray(width, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"width must be >= 1 (or inf), got {width!r}") from exc
    if np.any(~(n >= 1)):
        raise ValueError(f"width must be >= 1 (or inf), got {width!r}")
    inv_n = np.where(np.isinf(n), 0.0, 1.0 / n)
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        # in powers of 1/K so that large K underflows to 0 instead of inf/inf
        iK = 1.0 / K
        v = V * inv_n * iK**4
        g = iK - Ks * inv_n * iK**2 + 1.5 * V * inv_n * iK**3
    for name, arr in (("g", g), ("v", v)):
        if not np.all(np.isfinite(arr)):
            raise OverflowError(f"effective_action: the coupling {name} overflows float64 (K, V, K_shift or 1/width "
                                f"too large or K too small: K must be > 0 with V/(n K^4) finite)")
    return EffectiveAction(np.asarray(g, dtype=float), np.asarray(v, dtype=float))


# --------------------------------------------------------------------------- K* = 0 class
def k0_class_table(activation="tanh", sigma_w2=1.0, depths=(10, 100, 1000), K1=None, *, inputs=None) -> list[dict]:
    r"""Leading-order :math:`V^{(l)}/(l K^{(l)2})` at criticality for the :math:`K^*=0` class (σ_b² = 0).

    For :math:`\phi = z + \sigma_2 z^2/2 + \sigma_3 z^3/6 + \dots` at :math:`\sigma_w^2\phi'(0)^2 = 1`:
    :math:`K^{(l)}\simeq 1/(-a_1 l)`, :math:`a_1 = \sigma_3 + \frac34\sigma_2^2`, and
    :math:`V^{(l)}/K^{(l)2}\simeq \frac23 l`, universally (PDLT §5.3–5.4; derived in
    :mod:`statfield.symbolic.finite_width`). Returns rows ``{"l", "K", "V_over_K2", "V_over_lK2",
    "l_K"}`` for the requested depths (tanh at :math:`\sigma_w^2=1`, erf at :math:`\pi/4`). ``K1`` defaults
    to :math:`\sigma_w^2` (input :math:`x=(1,)`, zero bias); ``inputs=`` (one input) may be given instead.

    Raises ``ValueError`` for ``depths < 2`` or invalid ``sigma_w2``/``K1``; ``OverflowError`` if the recursion
    overflows (the message names the layer).
    """
    depths = [check_int(d, "depths", minimum=2) for d in np.atleast_1d(depths)]
    res = recursion(activation, sigma_w2, 0.0, max(depths), K1, inputs=inputs)
    rows = []
    for d in depths:
        K, V = res.K[d - 1], res.V[d - 1]
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            row = {"l": d, "K": float(K), "l_K": float(d * K), "V_over_K2": float(V / K**2),
                   "V_over_lK2": float(V / (d * K**2))}
        if not all(math.isfinite(v) for v in row.values()):
            raise FiniteWidthOverflowError(f"k0_class_table: V/K^2 is not finite in float64 at layer {d} "
                                           f"(K = {K!r}, V = {V!r}); use smaller depths")
        rows.append(row)
    return rows


# --------------------------------------------------------------------------- two inputs (leading order)
_ENTRIES = ((0, 0), (0, 1), (1, 1))  # independent entries (11, 12, 22) of a symmetric 2x2 matrix
_GL_NODES = 32
_ATOL2 = 1e-16  # absolute tolerance of expect2 (averages that vanish by symmetry, e.g. odd ones at c12 = 0)


def _chol2(K):
    """Lower Cholesky factor of a 2x2 PSD matrix (``L22 = 0`` for a singular one)."""
    L11 = math.sqrt(K[0, 0])
    L21 = K[0, 1] / L11
    L22 = math.sqrt(max(K[1, 1] - L21 * L21, 0.0))
    return L11, L21, L22


def _polar_moments(act, K, powers):
    r""":math:`\langle\phi(u)^a\phi(v)^b\rangle` for scale-invariant φ, exactly, for each ``(a, b)`` in ``powers``.

    With :math:`(u,v) = L\,r(\cos\theta,\sin\theta)` (:math:`L` the Cholesky factor of ``K``) and
    :math:`\phi(r x) = r\phi(x)` for :math:`r>0`:
    :math:`\langle\phi(u)^a\phi(v)^b\rangle = \mathbb E[r^{a+b}]\,\frac{1}{2\pi}\int_0^{2\pi}\phi(A)^a\phi(B)^b d\theta`,
    :math:`\mathbb E r^m = 2^{m/2}\Gamma(1+m/2)`, :math:`A = L_{11}\cos\theta`,
    :math:`B = L_{21}\cos\theta + L_{22}\sin\theta`. The angular integrand is a trigonometric polynomial
    between the kinks (the zeros of :math:`A` and :math:`B`), so Gauss–Legendre on each arc is exact to
    round-off (no kink-induced quadrature error).
    """
    L11, L21, L22 = _chol2(K)
    tB = math.atan2(L22, L21)
    cuts = {0.0, 2 * math.pi, math.pi / 2, 3 * math.pi / 2,
            (tB + math.pi / 2) % (2 * math.pi), (tB - math.pi / 2) % (2 * math.pi)}
    cuts = np.array(sorted(cuts))
    x, w = np.polynomial.legendre.leggauss(_GL_NODES)
    a, b = cuts[:-1, None], cuts[1:, None]
    th = (0.5 * (b - a) * x + 0.5 * (a + b)).ravel()
    wt = (0.5 * (b - a) * w).ravel() / (2 * math.pi)
    A = act.numpy(L11 * np.cos(th))
    B = act.numpy(L21 * np.cos(th) + L22 * np.sin(th))
    out = []
    for pa, pb in powers:
        m = pa + pb
        er = 2.0 ** (m / 2) * math.gamma(1 + m / 2)
        out.append(er * float(wt @ (A**pa * B**pb)))
    return out


def two_input_moments(activation, K):
    r"""Gaussian averages for the two-input recursions at the 2×2 kernel ``K``.

    Returns ``k`` (3,) :math:`=(\langle\phi_1^2\rangle, \langle\phi_1\phi_2\rangle, \langle\phi_2^2\rangle)`,
    ``C`` (3, 3) :math:`= \langle\phi_a\phi_b\phi_c\phi_d\rangle - \langle\phi_a\phi_b\rangle\langle\phi_c\phi_d\rangle`
    over the entries :math:`(ab),(cd)\in\{11,12,22\}`, and ``J`` (3, 3)
    :math:`=\partial k_{(ab)}/\partial K_{(cd)}` (independent entries; Price's theorem
    :math:`\partial\langle\phi_1\phi_2\rangle/\partial K_{12} = \langle\phi_1'\phi_2'\rangle`,
    :math:`\partial\langle\phi_1\phi_2\rangle/\partial K_{11} = \tfrac12\langle\phi_1''\phi_2\rangle`). Scale-invariant
    φ: exact angular quadrature (:func:`_polar_moments`) and, by homogeneity,
    :math:`\partial\langle\phi_1\phi_2\rangle/\partial K_{11} = (\langle\phi_1\phi_2\rangle - K_{12}\langle\phi_1'\phi_2'\rangle)/(2K_{11})`.
    Other φ: :func:`statfield.quadrature.expect2` (tensor trapezoid rule with error control).
    """
    act = get_activation(activation)
    K = _check_kernel2(K, "K")
    if act.is_piecewise_linear:
        m = dict(zip([(4, 0), (3, 1), (2, 2), (1, 3), (0, 4), (2, 0), (1, 1), (0, 2)],
                     _polar_moments(act, K, [(4, 0), (3, 1), (2, 2), (1, 3), (0, 4), (2, 0), (1, 1), (0, 2)])))
        d12 = float(act.deriv_kernel(K[0, 0], K[1, 1], K[0, 1]))
        A2 = _A(act, 1)
        j11 = (m[(1, 1)] - K[0, 1] * d12) / (2 * K[0, 0])
        j22 = (m[(1, 1)] - K[0, 1] * d12) / (2 * K[1, 1])
        dg = (A2, A2)
    else:
        q1, q2, c = K[0, 0], K[1, 1], K[0, 1]
        phi, d1, d2 = act.numpy, (lambda x: act.derivative(x, np)), (lambda x: act.second_derivative(x, np))

        def power(p):
            return lambda x: phi(x) ** p

        m = {(a, b): float(expect2(power(a), power(b), q1, q2, c, atol=_ATOL2)) for a, b in
             [(4, 0), (3, 1), (2, 2), (1, 3), (0, 4), (2, 0), (1, 1), (0, 2)]}
        d12 = float(expect2(d1, d1, q1, q2, c, atol=_ATOL2))
        j11 = 0.5 * float(expect2(d2, phi, q1, q2, c, atol=_ATOL2))
        j22 = 0.5 * float(expect2(phi, d2, q1, q2, c, atol=_ATOL2))
        dg = (gaussian_moments(act, q1)["dg"], gaussian_moments(act, q2)["dg"])
    k = np.array([m[(2, 0)], m[(1, 1)], m[(0, 2)]])
    four = np.array([[m[(4, 0)], m[(3, 1)], m[(2, 2)]],
                     [m[(3, 1)], m[(2, 2)], m[(1, 3)]],
                     [m[(2, 2)], m[(1, 3)], m[(0, 4)]]])
    C = four - np.outer(k, k)
    J = np.array([[dg[0], 0.0, 0.0], [j11, d12, j22], [0.0, 0.0, dg[1]]])
    for name, arr in (("k", k), ("C", C), ("J", J)):
        if not np.all(np.isfinite(arr)):
            raise OverflowError(f"two_input_moments: {name} is not finite in float64 at K = {K.tolist()}; "
                                f"K must be smaller")
    return {"k": k, "C": C, "J": J}


def _check_kernel2(K, name):
    """A 2x2 symmetric PSD kernel with a positive diagonal, as float array (ValueError naming ``name``)."""
    try:
        K = np.asarray(K, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a 2x2 kernel matrix, got {K!r}") from exc
    if K.shape != (2, 2):
        raise ValueError(f"{name} must be a 2x2 kernel matrix (two inputs), got shape {K.shape}")
    if (not np.all(np.isfinite(K)) or not np.allclose(K, K.T) or K[0, 0] <= 0 or K[1, 1] <= 0
            or K[0, 1] ** 2 > K[0, 0] * K[1, 1] * (1 + 1e-12)):
        raise ValueError(f"{name} must be finite, symmetric positive semi-definite with a positive diagonal, "
                         f"got {K.tolist()}")
    return 0.5 * (K + K.T)


@dataclass(frozen=True)
class TwoInputResult:
    r"""Leading-order two-input kernel and four-point vertex over layers ``1..depth``.

    ``K``: (depth, 2, 2). ``V``: (depth, 3, 3) over the independent entries ``(11, 12, 22)``:
    :math:`V^{(l)}_{(ab)(cd)} = n_{l-1}\mathrm{Cov}(\hat G^{(l)}_{ab}, \hat G^{(l)}_{cd})` at leading order.
    :meth:`vertex` gives the full symmetric tensor :math:`V_{(\alpha_1\alpha_2)(\alpha_3\alpha_4)}`.
    """

    activation: Activation
    sigma_w2: float
    sigma_b2: float
    depth: int
    K: np.ndarray
    V: np.ndarray
    widths: np.ndarray | None = None

    def vertex(self) -> np.ndarray:
        """The full tensor ``V[l, a1, a2, a3, a4]`` (shape ``(depth, 2, 2, 2, 2)``)."""
        idx = {(0, 0): 0, (0, 1): 1, (1, 0): 1, (1, 1): 2}
        out = np.empty((self.depth, 2, 2, 2, 2))
        for a in range(2):
            for b in range(2):
                for c in range(2):
                    for d in range(2):
                        out[:, a, b, c, d] = self.V[:, idx[(a, b)], idx[(c, d)]]
        return out

    def G_cov(self, width=None) -> np.ndarray:
        r""":math:`\mathrm{Cov}(\hat G_{ab}, \hat G_{cd}) = V_{(ab)(cd)}/n_{l-1}`, shape (depth, 3, 3)."""
        if width is None and self.widths is None:
            raise ValueError("width must be given (an integer >= 1 or one per layer)")
        n = _fan_in(self.widths if width is None else _widths(width, self.depth))
        out = np.zeros_like(self.V)
        out[1:] = self.V[1:] / n[1:, None, None]
        return out


def two_input_recursion(activation, sigma_w2, sigma_b2, depth, K1=None, width=None, *, inputs=None) -> TwoInputResult:
    r"""Leading-order recursions for two inputs: :math:`K^{(l)}_{\alpha\beta}` and :math:`V^{(l)}_{(\alpha_1\alpha_2)(\alpha_3\alpha_4)}`.

    With :math:`k_{(ab)}(K) = \langle\phi_a\phi_b\rangle_K`, :math:`J = \partial k/\partial K` and
    :math:`C_{(ab)(cd)} = \langle\phi_a\phi_b\phi_c\phi_d\rangle_K - k_{(ab)}k_{(cd)}` (:func:`two_input_moments`):

    .. math:: K^{(l+1)}_{ab} = \sigma_b^2 + \sigma_w^2 k_{(ab)}(K^{(l)}),\qquad
              V^{(l+1)} = \frac{n_l}{n_{l-1}}\sigma_w^4\,J V^{(l)} J^{\top} + \sigma_w^4\,C(K^{(l)}),\quad V^{(1)} = 0,

    the two-input form of the PDLT §4.3 recursion (arXiv:2106.10165), from the conditional
    Gaussianity of the rows :math:`(z_{j1}, z_{j2})\sim N(0,\hat G^{(l)})` and a first-order expansion of
    :math:`k` around :math:`K^{(l)}`. For identical inputs it reduces to :func:`recursion`.

    Parameters
    ----------
    K1 : array (2, 2), optional
        First-layer kernel :math:`K^{(1)}_{ab} = \sigma_b^2 + \sigma_w^2 x_a\cdot x_b/d_{in}` (PSD, positive
        diagonal). Give either ``K1`` or ``inputs``.
    inputs : array (2, d_in), keyword only
        The two inputs (same convention as :func:`statfield.simulate`); :math:`K^{(1)}` is computed from them.
    width : int or sequence, optional
        Needed only for unequal widths (the :math:`n_l/n_{l-1}` factors).

    Two inputs only (``ValueError`` for other shapes); any number of inputs: :func:`multi_input_recursion`.
    """
    act = get_activation(activation)
    sigma_w2, sigma_b2 = check_variances(sigma_w2, sigma_b2)
    depth = check_int(depth, "depth", minimum=1)
    if (K1 is None) == (inputs is None):
        raise ValueError("give either K1 (a 2x2 kernel) or inputs (shape (2, d_in)), exactly one of them")
    if inputs is not None:
        if np.ndim(inputs) != 2 or np.shape(inputs)[0] != 2:
            raise ValueError(f"inputs must have shape (2, d_in) for two_input_recursion, got {np.shape(inputs)}")
        K1 = first_layer_kernel(sigma_w2, sigma_b2, inputs)
    K1 = _check_kernel2(K1, "K1")
    widths = _widths(width, depth)
    K = np.empty((depth, 2, 2))
    V = np.zeros((depth, 3, 3))
    K[0] = K1
    for l in range(depth - 1):
        m = two_input_moments(act, K[l])
        k = m["k"]
        K[l + 1] = sigma_b2 + sigma_w2 * np.array([[k[0], k[1]], [k[1], k[2]]])
        ratio = 1.0 if (widths is None or l == 0) else widths[l] / widths[l - 1]
        with np.errstate(over="ignore", invalid="ignore"):
            V[l + 1] = ratio * sigma_w2**2 * m["J"] @ V[l] @ m["J"].T + sigma_w2**2 * m["C"]
        _check_finite_result(K[: l + 2], V[: l + 2])
    _check_finite_result(K, V)
    return TwoInputResult(act, sigma_w2, sigma_b2, depth, K, V, widths)

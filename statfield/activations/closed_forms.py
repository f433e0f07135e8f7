r"""Closed-form Gaussian expectations of the built-in activations (NumPy, float64, broadcasting).

Three kinds of closed forms, attached to an :class:`~statfield.activations.Activation` when it is
constructed (see :mod:`statfield.activations.builtin`), never looked up by name:

* ``kernel(q1, q2, c12)`` :math:`= \mathbb E[\phi(u)\phi(v)]`,
  :math:`(u, v)\sim N\!\left(0, \begin{pmatrix} q_1 & c_{12}\\ c_{12} & q_2\end{pmatrix}\right)`;
* ``deriv_kernel(q1, q2, c12)`` :math:`= \mathbb E[\phi'(u)\phi'(v)]` under the same law;
* ``moments(q)``: the single-input moments with :math:`z\sim N(0, q)`,
  ``{"m": E[phi^2], "p": E[phi'^2], "dm": dm/dq, "d2m": d^2m/dq^2, "m4": E[phi^4]}``
  (a key is absent when that moment has no closed form here; callers use quadrature for it).

Formulas

* piecewise linear :math:`\phi(z) = a_+ z\,\theta(z) + a_- z\,\theta(-z)`: with
  :math:`\rho = c_{12}/\sqrt{q_1q_2}`, :math:`\vartheta = \arccos\rho` and the arc-cosine kernel of
  order 1 (Cho & Saul 2009, Eq. 6)
  :math:`J = \sqrt{q_1q_2}\,(\sin\vartheta + (\pi-\vartheta)\cos\vartheta)/(2\pi)`,

  .. math:: \mathbb E[\phi(u)\phi(v)] = (a_+-a_-)^2 J + a_+a_-c_{12},\qquad
            \mathbb E[\phi'(u)\phi'(v)] = (a_+^2+a_-^2)\frac{\pi-\vartheta}{2\pi} + a_+a_-\frac{\vartheta}{\pi},

  and :math:`m = \kappa q`, :math:`p = m' = \kappa`, :math:`m'' = 0`, :math:`\mathbb E\phi^4 = 3A_4q^2`
  with :math:`\kappa = A_2`, :math:`A_{2k} = (a_+^{2k}+a_-^{2k})/2`;
* erf (Williams 1997, Eq. 11):
  :math:`\mathbb E[\mathrm{erf}(u)\mathrm{erf}(v)] = \frac2\pi\arcsin\frac{2c_{12}}{\sqrt{(1+2q_1)(1+2q_2)}}`,
  :math:`\mathbb E[\mathrm{erf}'(u)\mathrm{erf}'(v)] = \frac4\pi\left[(1+2q_1)(1+2q_2)-4c_{12}^2\right]^{-1/2}`;
  on the diagonal :math:`m = \frac2\pi\arcsin\frac{2q}{1+2q}`, :math:`p = \frac{4}{\pi\sqrt{1+4q}}`,
  :math:`m' = \frac{4}{\pi(1+2q)\sqrt{1+4q}}`, :math:`m'' = -\frac{16(1+3q)}{\pi(1+2q)^2(1+4q)^{3/2}}`;
* exact GELU :math:`\phi(z) = z\Phi(z)`: see :func:`gelu_kernel`, :func:`gelu_deriv_kernel`,
  :func:`gelu_moments`.

All of them are checked against mpmath and two-dimensional quadrature in ``tests/activations``.
Conventions: ``docs/conventions.md`` (network and parameterisation).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "erf_deriv_kernel",
    "erf_kernel",
    "erf_moments",
    "gelu_deriv_kernel",
    "gelu_kernel",
    "gelu_moments",
    "piecewise_linear_deriv_kernel",
    "piecewise_linear_kernel",
    "piecewise_linear_moments",
    "safe_corr",
]


def _f(*arrays):
    return tuple(np.asarray(a, dtype=float) for a in arrays)


def safe_corr(c12, s, q1=None, q2=None):
    """Correlation coefficient ``c12 / s`` clipped to [-1, 1] (round-off guard for arccos/arcsin); 1 where s = 0.

    With ``q1, q2`` given, identical inputs (``c12 == q1 == q2``) get exactly 1: ``sqrt(q*q)`` can round away
    from ``q``, and near 1 the arc-cosine amplifies that last-bit error to ~1e-8 (its slope diverges).
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = np.where(s > 0, c12 / np.where(s > 0, s, 1.0), 1.0)
    rho = np.clip(rho, -1.0, 1.0)
    if q1 is not None:
        rho = np.where((c12 == q1) & (c12 == q2), 1.0, rho)
    return rho


# ------------------------------------------------------------------ piecewise linear
def piecewise_linear_kernel(a_plus, a_minus):
    r"""The function ``(q1, q2, c12) -> E[phi(u) phi(v)]`` for slopes ``(a_plus, a_minus)`` (arc-cosine kernel)."""
    ap, am = float(a_plus), float(a_minus)

    def kernel(q1, q2, c12):
        q1, q2, c12 = _f(q1, q2, c12)
        s = np.sqrt(q1 * q2)
        rho = safe_corr(c12, s, q1, q2)
        th = np.arccos(rho)
        J = s * (np.sqrt(np.clip(1.0 - rho * rho, 0.0, None)) + (np.pi - th) * rho) / (2 * np.pi)
        return (ap - am) ** 2 * J + ap * am * c12

    return kernel


def piecewise_linear_deriv_kernel(a_plus, a_minus):
    r"""The function ``(q1, q2, c12) -> E[phi'(u) phi'(v)]`` for slopes ``(a_plus, a_minus)``."""
    ap, am = float(a_plus), float(a_minus)

    def deriv_kernel(q1, q2, c12):
        q1, q2, c12 = _f(q1, q2, c12)
        rho = safe_corr(c12, np.sqrt(q1 * q2), q1, q2)
        th = np.arccos(rho)
        return (ap**2 + am**2) * (np.pi - th) / (2 * np.pi) + ap * am * th / np.pi

    return deriv_kernel


def piecewise_linear_moments(a_plus, a_minus):
    r"""The function ``q -> {m, p, dm, d2m, m4}``: :math:`m=\kappa q`, :math:`p=m'=\kappa`, :math:`m''=0`,
    :math:`\mathbb E\phi^4 = 3A_4q^2` (:math:`\kappa=(a_+^2+a_-^2)/2`, :math:`A_4=(a_+^4+a_-^4)/2`)."""
    ap, am = float(a_plus), float(a_minus)
    kappa = 0.5 * (ap**2 + am**2)
    a4 = 0.5 * (ap**4 + am**4)

    def moments(q):
        (q,) = _f(q)
        return {"m": kappa * q, "p": np.full(q.shape, kappa), "dm": np.full(q.shape, kappa),
                "d2m": np.zeros(q.shape), "m4": 3.0 * a4 * q * q}

    return moments


# ------------------------------------------------------------------ erf
def erf_kernel(q1, q2, c12):
    r""":math:`\mathbb E[\mathrm{erf}(u)\mathrm{erf}(v)] = \frac2\pi\arcsin\frac{2c_{12}}{\sqrt{(1+2q_1)(1+2q_2)}}`
    (Williams 1997, Eq. 11)."""
    q1, q2, c12 = _f(q1, q2, c12)
    den = np.sqrt((1 + 2 * q1) * (1 + 2 * q2))
    return (2 / np.pi) * np.arcsin(np.clip(2 * c12 / den, -1.0, 1.0))


def erf_deriv_kernel(q1, q2, c12):
    r""":math:`\mathbb E[\mathrm{erf}'(u)\mathrm{erf}'(v)] = \frac4\pi[(1+2q_1)(1+2q_2)-4c_{12}^2]^{-1/2}`.

    Evaluated in the scaled form :math:`\frac4\pi\sqrt{u_1u_2/\Delta}` with :math:`u_i = 1/(1+2q_i)`,
    :math:`r_i = q_iu_i` and :math:`\Delta = u_1u_2 + 2u_1r_2 + 2r_1u_2 + 4r_1r_2(1-\rho^2)` (no cancellation
    at :math:`\rho\to1`, no overflow at huge :math:`q`).
    """
    q1, q2, c12 = _f(q1, q2, c12)
    u1, u2 = 1 / (1 + 2 * q1), 1 / (1 + 2 * q2)
    r1, r2 = q1 * u1, q2 * u2
    one_m_rho2 = 1 - _rho(q1, q2, c12) ** 2
    delta = u1 * u2 + 2 * u1 * r2 + 2 * r1 * u2 + 4 * r1 * r2 * one_m_rho2
    return (4 / np.pi) * np.sqrt(u1) * np.sqrt(u2) / np.sqrt(delta)


def _rho(q1, q2, c12):
    """Correlation coefficient clipped to [-1, 1]; 0 where a variance vanishes (then c12 = 0)."""
    s = np.sqrt(q1) * np.sqrt(q2)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = np.where(s > 0, c12 / np.where(s > 0, s, 1.0), 0.0)
    return np.clip(rho, -1.0, 1.0)


def _gelu_scaled(q1, q2, c12):
    """u_i = 1/(1+q_i), r_i = q_i u_i, rho_A = c12/sqrt(AB) and 1 - rho_A^2 = D/(AB) without cancellation."""
    u1, u2 = 1 / (1 + q1), 1 / (1 + q2)
    r1, r2 = q1 * u1, q2 * u2
    rho = _rho(q1, q2, c12)
    rho_A = rho * np.sqrt(r1 * r2)
    omr = u1 * u2 + u1 * r2 + r1 * u2 + r1 * r2 * (1 - rho * rho)
    return u1, u2, r1, r2, rho_A, omr


def erf_moments(q):
    r"""Single-input erf moments, :math:`z\sim N(0,q)` (diagonal of Williams' kernel and its derivatives).

    :math:`m = \frac2\pi\arcsin\frac{2q}{1+2q}`, :math:`p = \frac{4}{\pi\sqrt{1+4q}}`,
    :math:`m' = \frac{4}{\pi(1+2q)\sqrt{1+4q}}`, :math:`m'' = -\frac{16(1+3q)}{\pi(1+2q)^2(1+4q)^{3/2}}`;
    :math:`\mathbb E\,\mathrm{erf}^4` has no closed form here (key absent).
    """
    (q,) = _f(q)
    r = np.sqrt(1 + 4 * q)
    return {"m": (2 / np.pi) * np.arcsin(2 * q / (1 + 2 * q)),
            "p": (4 / np.pi) / r,
            "dm": 4 / (1 + 2 * q) / r / np.pi,
            "d2m": -16 * ((1 + 3 * q) / (1 + 2 * q)) / (1 + 2 * q) * (1 / r) ** 3 / np.pi}


# ------------------------------------------------------------------ GELU
def gelu_kernel(q1, q2, c12):
    r"""Closed-form exact-GELU kernel :math:`\mathbb E[u\Phi(u)\,v\Phi(v)]` (:math:`\Phi` the normal CDF).

    With :math:`A = 1+q_1`, :math:`B = 1+q_2`, :math:`D = AB - c_{12}^2` (write
    :math:`\Phi(u) = P(g_1 < u)` with an independent :math:`g_1\sim N(0,1)` and apply Stein's lemma twice;
    agrees with neural-tangents' ``stax.Gelu(approximate=False)``):

    .. math:: \frac{c_{12}}{4} + \frac{c_{12}}{2\pi}\arcsin\frac{c_{12}}{\sqrt{AB}}
              + \frac{q_1q_2 + c_{12}^2(1-q_1q_2)/(AB)}{2\pi\sqrt{D}}.
    """
    q1, q2, c12 = _f(q1, q2, c12)
    u1, u2, r1, r2, rho_A, omr = _gelu_scaled(q1, q2, c12)
    # last term with D = AB omr: [q1 q2 + c12^2 (1 - q1 q2)/(AB)]/sqrt(D) = sqrt(q1 q2 r1 r2) (omr + rho^2 u1 u2)/sqrt(omr)
    # (no cancellation at rho -> 1, no overflow at huge q)
    rho = _rho(q1, q2, c12)
    last = np.sqrt(q1) * np.sqrt(q2) * np.sqrt(r1 * r2) * (np.sqrt(omr) + rho * rho * u1 * u2 / np.sqrt(omr))
    return c12 / 4 + c12 * np.arcsin(rho_A) / (2 * np.pi) + last / (2 * np.pi)


def gelu_deriv_kernel(q1, q2, c12):
    r"""Closed-form :math:`\mathbb E[\phi'(u)\phi'(v)]` for exact GELU, :math:`\phi' = \Phi(z) + z\varphi(z)`.

    .. math:: \frac14 + \frac{1}{2\pi}\arcsin\frac{c_{12}}{\sqrt{AB}}
              + \frac{c_{12}}{2\pi\sqrt{D}}\left(\frac1A + \frac1B + \frac1D\right)

    (same notation as :func:`gelu_kernel`).
    """
    q1, q2, c12 = _f(q1, q2, c12)
    u1, u2, r1, r2, rho_A, omr = _gelu_scaled(q1, q2, c12)
    # c12/sqrt(D) = rho_A/sqrt(omr), 1/D = u1 u2/omr: no cancellation at rho -> 1, no overflow at huge q
    return 0.25 + np.arcsin(rho_A) / (2 * np.pi) + rho_A / np.sqrt(omr) * (u1 + u2 + u1 * u2 / omr) / (2 * np.pi)


def gelu_moments(q):
    r"""Single-input exact-GELU moments, :math:`z\sim N(0,q)` (diagonal of :func:`gelu_kernel`).

    With :math:`s = \sqrt{1+2q}` and :math:`a = \arcsin\frac{q}{1+q}`:

    .. math:: m = \frac q4 + \frac{q\,a}{2\pi} + \frac{q^2}{\pi(1+q)s},\qquad
              m' = \frac14 + \frac{a}{2\pi} + \frac{q}{2\pi(1+q)s} + \frac{2q+4q^2+q^3}{\pi(1+q)^2s^3},

    .. math:: m'' = \frac{6 + 18q + 11q^2 - 5q^3}{2\pi(1+q)^3 s^5},

    and :math:`p = \mathbb E\phi'^2` = :func:`gelu_deriv_kernel` ``(q, q, q)``. :math:`\mathbb E\phi^4` has no
    closed form here (key absent).
    """
    (q,) = _f(q)
    s = np.sqrt(1 + 2 * q)
    r = q / (1 + q)  # in [0, 1): every power of q below is paired with a power of 1 + q (no overflow at huge q)
    asn = np.arcsin(r)
    m = q / 4 + q * asn / (2 * np.pi) + q * r / (np.pi * s)
    dm = (0.25 + asn / (2 * np.pi) + r / (2 * np.pi * s)
          + (2 * r / (1 + q) + 4 * r * r + r * r * q) * (1 / s) ** 3 / np.pi)
    u = 1 / (1 + q)
    d2m = (6 * u**3 + 18 * r * u * u + 11 * r * r * u - 5 * r**3) * (1 / s) ** 5 / (2 * np.pi)
    return {"m": m, "p": gelu_deriv_kernel(q, q, q), "dm": dm, "d2m": d2m}

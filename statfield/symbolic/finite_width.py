r"""Exact finite-width theory in closed form (SymPy): linear and ReLU networks, and the 1/n expansion.

Conventions (``docs/conventions.md``, "Network and parameterisation"; the width :math:`n` is the
symbol :data:`statfield.symbolic.symbols.N`, printed :math:`n` as in PDLT): :math:`W^{(l)}_{ij}\sim N(0,\sigma_w^2/n)` (fan-in),
:math:`b^{(l)}_i\sim N(0,\sigma_b^2)`, equal widths :math:`n`; the metric
:math:`\hat G^{(l)} = \sigma_b^2 + \sigma_w^2|\phi(z^{(l-1)})|^2/n`, :math:`\hat G^{(1)} = K_1`;
:math:`q^{(l)} = |z^{(l)}|^2/n`; four-point vertex :math:`V^{(l)} = n\,\mathrm{Var}\,\hat G^{(l)}`
(PDLT, arXiv:2106.10165, §4.3).

For the scale-invariant class :math:`\phi = a_+z\theta(z) + a_-z\theta(-z)` (linear: :math:`a_\pm=1`;
ReLU: :math:`a_+=1, a_-=0`) the exact Markov chain (``docs/conventions.md``, "Exact chain") closes on one
number per layer:

.. math:: \hat G^{(l+1)} = \sigma_b^2 + \sigma_w^2 X_l\,\hat G^{(l)},\qquad
          X_l = \frac1n\sum_{i=1}^n \phi(\xi_i)^2 = \frac{a_+^2\chi^2_{k}+a_-^2\chi^2_{n-k}}{n},
          \quad k\sim\mathrm{Bin}(n,\tfrac12),

with :math:`X_l` i.i.d. and independent of :math:`\hat G^{(l)}`. Everything below follows from this
affine random recursion. This module is SymPy-only; the numeric :math:`K^*=0` table of the
catalogue document is added by :func:`statfield.documents.finite_width.finite_width_derivation`.
"""

from __future__ import annotations

import sympy as sp

from .derivation import Derivation

__all__ = [
    "SYMBOLS",
    "multiplier_moments",
    "multiplier_moments_binomial",
    "exact_kernel_moments",
    "critical_vertex",
    "zero_bias_moments",
    "log_q_linear",
    "lo_recursion",
    "effective_action",
    "k0_class_asymptotics",
    "finite_width_derivation",
]

from .symbols import K, K1, N, a_minus, a_plus, l, sigma_b2, sigma_w2

#: The width (the statfield symbol ``N``; this module and its document write it :math:`n`, as PDLT does).
n = N
SYMBOLS = {"n": n, "l": l, "K1": K1, "K": K, "sigma_w2": sigma_w2, "sigma_b2": sigma_b2,
           "a_plus": a_plus, "a_minus": a_minus}


def _A(m, ap=a_plus, am=a_minus):
    """:math:`A_{2m} = (a_+^{2m} + a_-^{2m})/2` (exact: numbers are sympified)."""
    ap, am = sp.nsimplify(ap), sp.nsimplify(am)
    return (ap ** (2 * m) + am ** (2 * m)) / 2


def multiplier_moments(order, ap=a_plus, am=a_minus, width=n):
    r"""Exact :math:`\mu_j = \mathbb E X^j`, ``j = 0..order``, via cumulants (polynomials in :math:`1/n`).

    :math:`\mathbb E Y^m = A_{2m}(2m-1)!!` for :math:`Y=\phi(\xi)^2`, :math:`A_{2m}=(a_+^{2m}+a_-^{2m})/2`;
    :math:`\kappa_r(X) = n^{1-r}\kappa_r(Y)`; moments from cumulants by the recursion
    :math:`\mu_j = \sum_{i=1}^{j}\binom{j-1}{i-1}\kappa_i\mu_{j-i}`.
    """
    mY = [sp.Integer(1)] + [_A(m, ap, am) * sp.factorial2(2 * m - 1) for m in range(1, order + 1)]
    kY = [sp.Integer(0)] * (order + 1)
    for j in range(1, order + 1):
        kY[j] = sp.expand(mY[j] - sum(sp.binomial(j - 1, i - 1) * kY[i] * mY[j - i] for i in range(1, j)))
    kX = [kY[j] * width ** (1 - j) for j in range(order + 1)]
    mu = [sp.Integer(1)] + [sp.Integer(0)] * order
    for j in range(1, order + 1):
        mu[j] = sp.expand(sum(sp.binomial(j - 1, i - 1) * kX[i] * mu[j - i] for i in range(1, j + 1)))
    return mu


def multiplier_moments_binomial(order, width, ap=a_plus, am=a_minus):
    r"""The same :math:`\mu_j` by an independent route (the binomial mixture) for a concrete integer width.

    :math:`\mu_j = \sum_k\binom{n}{k}2^{-n}\,\mathbb E[(a_+^2\chi^2_k + a_-^2\chi^2_{n-k})^j]/n^j`, with
    :math:`\mathbb E(\chi^2_k)^m = 2^m (k/2)_m` (rising factorial) and the binomial theorem.
    """
    w = int(width)

    def chi2_moment(k, m):
        return sp.Integer(2) ** m * sp.rf(sp.Rational(k, 2), m)

    out = []
    for j in range(order + 1):
        tot = sp.Integer(0)
        for k in range(w + 1):
            inner = sum(sp.binomial(j, i) * ap ** (2 * i) * am ** (2 * (j - i)) * chi2_moment(k, i)
                        * chi2_moment(w - k, j - i) for i in range(j + 1))
            tot += sp.binomial(w, k) * inner
        out.append(sp.expand(tot / sp.Integer(2) ** w / sp.Integer(w) ** j))
    return out


def exact_kernel_moments(ap=a_plus, am=a_minus):
    r"""Closed forms of :math:`\mathbb E\hat G^{(l)}`, :math:`\mathbb E\hat G^{(l)2}` and :math:`V^{(l)}` at any width.

    With :math:`r = \sigma_w^2\mu_1`, :math:`s = \sigma_w^4\mu_2`, :math:`\beta = \sigma_b^2/(1-r)`,
    :math:`D = K_1-\beta`:

    .. math:: m_1(l) = \beta + D r^{l-1},\qquad
              m_2(l) = s^{l-1}K_1^2 + (\sigma_b^4 + 2\sigma_b^2 r\beta)\frac{s^{l-1}-1}{s-1}
                       + 2\sigma_b^2 rD\,\frac{s^{l-1}-r^{l-1}}{s-r},

    solving :math:`m_1(l+1) = \sigma_b^2 + r m_1(l)`,
    :math:`m_2(l+1) = \sigma_b^4 + 2\sigma_b^2 r m_1(l) + s\,m_2(l)` (generic parameters,
    :math:`r\ne1`, :math:`s\ne1`, :math:`s\ne r`). Returns a dict with ``m1, m2, V, r, s, mu1, mu2``.
    """
    mu = multiplier_moments(2, ap, am)
    r = sigma_w2 * mu[1]
    s = sigma_w2**2 * mu[2]
    beta = sigma_b2 / (1 - r)
    D = K1 - beta
    m1 = beta + D * r ** (l - 1)
    m2 = (s ** (l - 1) * K1**2 + (sigma_b2**2 + 2 * sigma_b2 * r * beta) * (s ** (l - 1) - 1) / (s - 1)
          + 2 * sigma_b2 * r * D * (s ** (l - 1) - r ** (l - 1)) / (s - r))
    return {"m1": m1, "m2": m2, "V": n * (m2 - m1**2), "r": r, "s": s, "mu1": mu[1], "mu2": mu[2]}


def critical_vertex(ap=a_plus, am=a_minus, order=3):
    r"""Exact :math:`V^{(l)}/K^2` at criticality (:math:`\sigma_b^2=0`, :math:`\sigma_w^2A_2=1`) and its 1/n series.

    :math:`V^{(l)}/K^2 = n[(1+c/n)^{l-1}-1]`, :math:`c = 3A_4/A_2^2 - 1`; the series
    :math:`(l-1)c + \binom{l-1}{2}c^2/n + \dots` starts with the leading-order (PDLT) result.
    ``exact`` and ``series`` are written in the symbol ``c`` (substitute the returned value of ``c``).
    Returns ``(c, exact, series)``.
    """
    c = sp.factor(sp.simplify(3 * _A(2, ap, am) / _A(1, ap, am) ** 2 - 1))
    cs = sp.Symbol("c", positive=True)
    exact = n * ((1 + cs / n) ** (l - 1) - 1)
    # binomial series in c/n: sum_{j>=1} binom(l-1, j) c^j / n^(j-1)
    ser = sum(sp.factor(sp.expand_func(sp.binomial(l - 1, j))) * cs**j / n ** (j - 1) for j in range(1, order + 1))
    return c, exact, ser


def zero_bias_moments(m, ap=a_plus, am=a_minus):
    r"""Exact :math:`\mathbb E[\hat G^{(l)m}]` and :math:`\mathbb E[q^{(l)m}]` at :math:`\sigma_b^2=0`.

    :math:`\mathbb E[\hat G^{(l)m}] = K_1^m(\sigma_w^{2m}\mu_m)^{l-1}` and
    :math:`\mathbb E[q^{(l)m}] = \mathbb E[\hat G^{(l)m}]\prod_{i<m}(1+2i/n)`.
    """
    mu = multiplier_moments(m, ap, am)[m]
    G = K1**m * (sigma_w2**m * mu) ** (l - 1)
    q = G * sp.Mul(*[(1 + 2 * sp.Integer(i) / n) for i in range(m)])
    return G, q


def log_q_linear():
    r"""Exact mean and variance of :math:`\ln q^{(L)}` for a linear network at zero bias (symbol ``l`` = L).

    :math:`\ln q^{(L)} = \ln K_1 + (L-1)\ln\sigma_w^2 + \sum_{j=1}^{L}\ln(\chi^2_{n,j}/n)`, hence
    :math:`\mathbb E = \ln K_1 + (L-1)\ln\sigma_w^2 + L[\psi(n/2) - \ln(n/2)]`,
    :math:`\mathrm{Var} = L\,\psi_1(n/2)`. Returns ``(mean, var, var_series)``.
    """
    mean = sp.log(K1) + (l - 1) * sp.log(sigma_w2) + l * (sp.digamma(n / 2) - sp.log(n / 2))
    var = l * sp.polygamma(1, n / 2)
    eps = sp.Symbol("epsilon", positive=True)
    ser = sp.series(sp.polygamma(1, 1 / (2 * eps)), eps, 0, 4).removeO().subs(eps, 1 / n)
    return mean, var, l * sp.expand(ser)


def lo_recursion():
    r"""Leading-order recursions from a second-order expansion of :math:`g(\hat G) = \langle\phi^2\rangle_{\hat G}`.

    With :math:`\delta = \hat G^{(l)} - K^{(l)}`, :math:`\mathbb E\delta = K_{\{1\}}/n`,
    :math:`\mathbb E\delta^2 = V/n + O(n^{-2})`, :math:`\Delta(K) = \langle\phi^4\rangle_K - g(K)^2`:
    :math:`\mathbb E\hat G^{(l+1)} = \sigma_b^2 + \sigma_w^2\mathbb E g(K+\delta)` and
    :math:`\mathrm{Var}\,\hat G^{(l+1)} = \sigma_w^4[\mathrm{Var}\,g(K+\delta) + \mathbb E\Delta(K+\delta)/n]`.
    Returns a dict with the 1/n coefficients ``K_shift_next`` and ``V_next`` (in terms of the undefined
    functions ``g``, ``Delta``).
    """
    g, Delta = sp.Function("g"), sp.Function("Delta")
    eps = sp.Symbol("epsilon", positive=True)  # 1/n
    Ks, V = sp.symbols("K_{\\{1\\}} V", real=True)
    d = sp.Symbol("delta", real=True)
    gexp = sp.series(g(K + d), d, 0, 3).removeO().doit()
    # moments of delta to O(eps): E d = eps Ks, E d^2 = eps V
    Eg = gexp.subs(d**2, eps * V).subs(d, eps * Ks)
    mean_next = sigma_b2 + sigma_w2 * Eg
    K_next = sigma_b2 + sigma_w2 * g(K)
    K_shift_next = sp.simplify(sp.expand((mean_next - K_next) / eps))
    var_g = sp.diff(g(K), K) ** 2 * eps * V  # Var g(K+delta) to O(eps)
    V_next = sp.expand(sigma_w2**2 * (var_g + eps * Delta(K)) / eps)
    return {"K_next": K_next, "K_shift_next": K_shift_next, "V_next": V_next, "g": g, "Delta": Delta,
            "K_shift": Ks, "V": V}


def effective_action():
    r"""Single-unit action to :math:`O(1/n)` from :math:`p(z) = \mathbb E\,N(z;0,K+\delta)`.

    Returns a dict with ``g`` and ``v`` (:math:`-\ln p = gz^2/2 - vz^4/8 + \mathrm{const}`) in terms of
    ``K``, ``K_shift``, ``V``, ``n``, and the moments ``z2``, ``z4c`` they reproduce at first order in
    :math:`v` (checks: :math:`\langle z^2\rangle = K + K_{\{1\}}/n`, :math:`\langle z^4\rangle_c = 3V/n`).
    """
    z = sp.Symbol("z", real=True)
    d = sp.Symbol("delta", real=True)
    eps = sp.Symbol("epsilon", positive=True)
    Ks, V = sp.symbols("K_{\\{1\\}} V", real=True)
    # ln N(z; K+delta) - ln N(z; K) = L1 delta + L2 delta^2 + O(delta^3)
    logratio = -z**2 / (2 * (K + d)) + z**2 / (2 * K) - sp.log(1 + d / K) / 2
    L1 = sp.diff(logratio, d).subs(d, 0)
    L2 = sp.diff(logratio, d, 2).subs(d, 0) / 2
    # p/p0 = 1 + L1 E[delta] + (L2 + L1^2/2) E[delta^2]; ln(p/p0) = eps (...) + O(eps^2)
    logp = sp.expand((L1 * Ks + (L2 + L1**2 / 2) * V) * eps)
    c2 = logp.coeff(z, 2)
    c4 = logp.coeff(z, 4)
    g = sp.simplify(1 / K - 2 * c2)
    v = sp.simplify(8 * c4)

    def first_order(expr):
        return expr.subs(eps, 0) + sp.diff(expr, eps).subs(eps, 0) * eps

    # moments under exp(-g z^2/2)(1 + v z^4/8), first order in eps (v = O(eps)); t = 1/g
    t = 1 / g
    z2 = t + sp.Rational(3, 2) * v * t**3          # (t + v/8 15t^3)/(1 + v/8 3t^2)
    z4c = 3 * v * t**4                               # <z^4> - 3<z^2>^2 = 12 v t^4 - 9 v t^4
    z2s = first_order(z2)
    z4c = first_order(z4c)
    eps_n = {eps: 1 / n}
    return {"g": g.subs(eps_n), "v": v.subs(eps_n), "z2": sp.simplify(z2s.subs(eps_n)),
            "z4c": sp.simplify(z4c.subs(eps_n)), "K_shift": Ks, "V": V}


def k0_class_asymptotics():
    r"""Large-depth leading-order behaviour of the :math:`K^*=0` class at criticality.

    :math:`\phi = z + \sigma_2z^2/2 + \sigma_3z^3/6 + O(z^4)` with :math:`\sigma_w^2 = 1`,
    :math:`\sigma_b^2 = 0` (tanh; erf after rescaling). Gaussian moments to the needed order:
    :math:`g(K) = K + a_1K^2 + O(K^3)`, :math:`a_1 = \sigma_3 + \tfrac34\sigma_2^2`,
    :math:`\langle\phi^4\rangle - g^2 = 2K^2 + O(K^3)`. Power-law ansatz :math:`K = \kappa/l`,
    :math:`V = A/l` in :math:`K_{l+1} = K_l + a_1K_l^2`, :math:`V_{l+1} = (1+2a_1K_l)^2V_l + 2K_l^2`
    at leading order in :math:`1/l` gives :math:`\kappa = -1/a_1`, :math:`A = 2/(3a_1^2)`, and
    :math:`V/(lK^2) = 2/3` independently of :math:`\sigma_2,\sigma_3` (PDLT §5.3–5.4).
    Returns a dict with ``a1``, ``kappa``, ``A``, ``ratio``, ``g_series``, ``Delta_series``.
    """
    s2, s3 = sp.symbols("sigma_2 sigma_3", real=True)
    z = sp.Symbol("z", real=True)
    phi = z + s2 * z**2 / 2 + s3 * z**3 / 6
    xi = sp.Symbol("xi", real=True)

    def gauss(expr, kk):  # <expr(z)>_{z ~ N(0, kk)} for a polynomial
        e = sp.expand(expr.subs(z, sp.sqrt(kk) * xi))
        poly = sp.Poly(e, xi)
        return sp.expand(sum(c * (sp.factorial2(m - 1) if m % 2 == 0 else 0)
                             for (m,), c in poly.terms()))

    g_full = gauss(phi**2, K)
    d_full = gauss(phi**4, K) - g_full**2
    g_ser = sp.expand(sp.series(g_full, K, 0, 3).removeO())
    d_ser = sp.expand(sp.series(d_full, K, 0, 3).removeO())
    a1 = g_ser.coeff(K, 2)
    kap, A, x = sp.symbols("kappa A x", real=True)  # x = 1/l
    # K recursion: kappa/(l+1) = kappa/l + a1 kappa^2/l^2 at O(1/l^2)
    eqK = sp.series(kap * x / (1 + x) - (kap * x + a1 * kap**2 * x**2), x, 0, 3).removeO().coeff(x, 2)
    kap_sol = [s for s in sp.solve(eqK, kap) if s != 0][0]
    Kx = kap_sol * x
    eqV = sp.series(A * x / (1 + x) - ((1 + 2 * a1 * Kx) ** 2 * A * x + d_ser.coeff(K, 2) * Kx**2), x, 0, 3)
    A_sol = sp.solve(eqV.removeO().coeff(x, 2), A)[0]
    ratio = sp.simplify(A_sol / kap_sol**2)
    return {"a1": sp.factor(a1), "kappa": sp.simplify(kap_sol), "A": sp.simplify(A_sol), "ratio": ratio,
            "g_series": g_ser, "Delta_series": d_ser}


# --------------------------------------------------------------------------- derivation
_CONV = (
    r"Network $z^{(1)} = W^{(1)}x + b^{(1)}$, $z^{(l)} = W^{(l)}\phi(z^{(l-1)}) + b^{(l)}$, widths $n_l$ (equal to "
    r"$n$ unless stated); $W^{(l)}_{ij}\sim\mathcal N(0,\sigma_w^2/n_{l-1})$ (fan-in), $b^{(l)}_i\sim\mathcal N(0,\sigma_b^2)$. "
    r"Metric $\hat G^{(l)} = \sigma_b^2 + \sigma_w^2|\phi(z^{(l-1)})|^2/n_{l-1}$, $\hat G^{(1)} = K_1 = \sigma_b^2 + "
    r"\sigma_w^2|x|^2/n_0$; conditionally on it $z^{(l)}_i = \sqrt{\hat G^{(l)}}\,\xi_i$, $\xi_i\sim\mathcal N(0,1)$ i.i.d. "
    r"Order parameter $q^{(l)} = |z^{(l)}|^2/n_l$. Kernel $K^{(l)}$ (infinite width), its $1/n$ shift "
    r"$\mathbb E\hat G^{(l)} = K^{(l)} + K^{(l)}_{\{1\}}/n_{l-1} + O(n^{-2})$, four-point vertex "
    r"$V^{(l)} = n_{l-1}\mathrm{Var}\,\hat G^{(l)}$ (Roberts, Yaida, Hanin, PDLT, arXiv:2106.10165, \S4.3; "
    r"Yaida, arXiv:1910.00019). $\langle\cdot\rangle_K$: average over $z\sim\mathcal N(0,K)$; $g(K)=\langle\phi^2\rangle_K$."
)


def _fmt(x, digits=4):
    return f"{float(x):.{digits}g}"


def finite_width_derivation(numeric_tables: bool = False) -> Derivation:
    """Builder of the finite-width document (symbolic part): exact finite-n recursions, 1/n expansion, EFT.

    ``numeric_tables=True`` is accepted for compatibility and refused here (``ValueError``): the
    numeric :math:`K^*=0` table needs :mod:`statfield.finite_width`, so the catalogue document
    ``finite-width`` is built by :func:`statfield.documents.finite_width.finite_width_derivation`,
    which calls this builder and adds the table.
    """
    if numeric_tables:
        raise ValueError("numeric_tables must be False in statfield.symbolic (no numeric modules here); use "
                         "statfield.documents.finite_width.finite_width_derivation(numeric_tables=True)")
    d = Derivation(
        "Finite-width theory: four-point vertex, 1/n corrections and exact recursions",
        conventions=_CONV,
        symbol_names={N: "n"},
        abstract=(r"We derive (i) the leading-order $1/n$ recursions for the kernel shift and the four-point "
                  r"vertex for any activation, (ii) exact finite-width recursions and closed forms for the "
                  r"scale-invariant class (linear, ReLU), (iii) the depth dependence at criticality and the "
                  r"breakdown of the $1/n$ expansion at depth/width $\gtrsim 0.1$, (iv) the distribution of "
                  r"$\ln q$, and (v) the quartic coupling of the single-unit effective action."),
    )
    for build in (_step_kurtosis, _steps_leading_order, _steps_exact_chain, _steps_criticality, _step_k0_class,
                  _steps_log_q, _steps_quartic_eft):
        build(d)
    return d


def _step_kurtosis(d):
    d.step("Conditional Gaussianity and the kurtosis identity",
           r"Given layer $l-1$, the pre-activations of layer $l$ are i.i.d. $\mathcal N(0,\hat G^{(l)})$ "
           r"(the exact chain of docs/conventions.md). Hence $\mathbb E z^2 = \mathbb E\hat G$ and $\mathbb E z^4 = 3\,\mathbb E\hat G^2$ exactly, "
           r"and the excess kurtosis of one pre-activation is exactly",
           [r"\kappa^{(l)} = \frac{\mathbb E z^4}{(\mathbb E z^2)^2} - 3 = \frac{3\,\mathrm{Var}\,\hat G^{(l)}}{(\mathbb E\hat G^{(l)})^2}"
            r" = \frac{3V^{(l)}}{n_{l-1}(\mathbb E\hat G^{(l)})^2}."])


def _steps_leading_order(d):
    lo = lo_recursion()
    d.step("Leading-order recursions (any activation)",
           r"Write $\hat G^{(l+1)} = \sigma_b^2 + \sigma_w^2\,\frac{1}{n_l}\sum_j\phi(\sqrt{\hat G^{(l)}}\xi_j)^2$. "
           r"Conditionally on $\hat G^{(l)}$ the sum has mean $g(\hat G^{(l)})$ and variance "
           r"$\Delta(\hat G^{(l)})/n_l$, $\Delta = \langle\phi^4\rangle - \langle\phi^2\rangle^2$. Expanding "
           r"$g(K+\delta)$ to second order in $\delta = \hat G^{(l)} - K^{(l)}$ with $\mathbb E\delta = K_{\{1\}}/n$, "
           r"$\mathbb E\delta^2 = V/n + O(n^{-2})$ (equal widths here; unequal widths multiply both right-hand "
           r"sides by $n_l/n_{l-1}$) gives the coefficients of $1/n$:",
           [(sp.Symbol("K^{(l+1)}"), lo["K_next"]),
            (sp.Symbol("K^{(l+1)}_{\\{1\\}}"), lo["K_shift_next"]),
            (sp.Symbol("V^{(l+1)}"), lo["V_next"]),
            r"\chi_\parallel^{(l)} = \sigma_w^2 g'(K^{(l)}),\qquad V^{(l+1)} = \frac{n_l}{n_{l-1}}(\chi_\parallel^{(l)})^2 V^{(l)}"
            r" + \sigma_w^4\big(\langle\phi^4\rangle_{K^{(l)}} - \langle\phi^2\rangle^2_{K^{(l)}}\big),\quad V^{(1)} = K^{(1)}_{\{1\}} = 0.",
            r"g'(K) = \langle\phi'^2 + \phi\phi''\rangle_K,\qquad g''(K) = \frac{\langle\phi^2\,\mathrm{He}_4(z/\sqrt K)\rangle_K}{4K^2}"
            r" = \frac{\langle(\phi'^2+\phi\phi'')(z^2/K-1)\rangle_K}{2K}."],
           approximation=r"1/n expansion: terms $O(1/n^2)$ dropped (third and higher cumulants of $\delta$)")
    d.step("Comparison with PDLT",
           r"These are the single-input forms of the PDLT \S4.3 vertex recursion ($\chi_\parallel = \sigma_w^2\, g'(K)$, which equals "
           r"$\chi_q$ of mean field, Schoenholz et al.\ arXiv:1611.01232) and of the PDLT \S4.5 equation for the $1/n$ "
           r"shift of the metric. Written with Gaussian averages only, the source term is "
           r"$\frac{\sigma_w^2}{2}g''(K)V = \frac{\sigma_w^2 V}{8K^4}\langle\phi^2(z^4 - 6Kz^2 + 3K^2)\rangle_K$ "
           r"(the Hermite identity above), the form in which PDLT writes it ($C_W = \sigma_w^2$, $C_b = \sigma_b^2$). "
           r"For the scale-invariant class $g'' = 0$, so $K_{\{1\}} \equiv 0$.")
    d.step("Two inputs",
           r"For inputs $\alpha,\beta\in\{1,2\}$ the rows $(z_{j1}, z_{j2})$ of layer $l$ are i.i.d. "
           r"$\mathcal N(0,\hat G^{(l)})$ given layer $l-1$. With $k_{(ab)}(K) = \langle\phi_a\phi_b\rangle_K$, "
           r"$J = \partial k/\partial K$ over the independent entries $(11),(12),(22)$ (Price: "
           r"$\partial\langle\phi_1\phi_2\rangle/\partial K_{12} = \langle\phi_1'\phi_2'\rangle$, "
           r"$\partial\langle\phi_1\phi_2\rangle/\partial K_{11} = \frac12\langle\phi_1''\phi_2\rangle$) and "
           r"$C_{(ab)(cd)} = \langle\phi_a\phi_b\phi_c\phi_d\rangle - k_{(ab)}k_{(cd)}$, the same expansion gives",
           [r"K^{(l+1)}_{ab} = \sigma_b^2 + \sigma_w^2 k_{(ab)}(K^{(l)}),\qquad "
            r"V^{(l+1)} = \frac{n_l}{n_{l-1}}\sigma_w^4\, J V^{(l)} J^{\top} + \sigma_w^4\, C(K^{(l)}),",
            r"V^{(l)}_{(ab)(cd)} = n_{l-1}\,\mathrm{Cov}(\hat G^{(l)}_{ab}, \hat G^{(l)}_{cd}) + O(1/n)."],
           approximation=r"1/n expansion (first order in $\hat G - K$ for the propagation term)")


def _steps_exact_chain(d):
    mu = multiplier_moments(3)
    d.step("Exact chain for the scale-invariant class",
           r"For $\phi = a_+z\theta(z) + a_-z\theta(-z)$ the sum factorises: $\hat G^{(l+1)} = \sigma_b^2 + \sigma_w^2X_l\hat G^{(l)}$ "
           r"with $X_l = \frac1n\sum_i\phi(\xi_i)^2 = (a_+^2\chi^2_k + a_-^2\chi^2_{n-k})/n$, $k\sim\mathrm{Bin}(n,\frac12)$, "
           r"independent of $\hat G^{(l)}$ and of the other layers. With $A_{2m} = (a_+^{2m}+a_-^{2m})/2$ and "
           r"$\mathbb E Y^m = A_{2m}(2m-1)!!$ for $Y = \phi(\xi)^2$, the cumulants $\kappa_r(X) = n^{1-r}\kappa_r(Y)$ give "
           r"the exact moments (checked against the binomial mixture $\sum_k\binom nk 2^{-n}\mathbb E[\ldots]$ in the tests):",
           [(sp.Symbol("\\mu_1"), mu[1]), (sp.Symbol("\\mu_2"), sp.factor(mu[2])),
            (sp.Symbol("\\mu_3"), sp.factor(mu[3])),
            r"\text{linear: } \mu_j = \prod_{i<j}\Big(1+\frac{2i}{n}\Big),\qquad \text{ReLU: } \mu_1 = \tfrac12,\ "
            r"\mu_2 = \tfrac14 + \tfrac{5}{4n}."])
    ek = exact_kernel_moments()
    d.step("Exact mean, second moment and vertex at any width",
           r"The first two moments obey closed linear recursions, $m_1(l+1) = \sigma_b^2 + r\,m_1(l)$, "
           r"$m_2(l+1) = \sigma_b^4 + 2\sigma_b^2 r\,m_1(l) + s\,m_2(l)$ with $r = \sigma_w^2\mu_1$, $s = \sigma_w^4\mu_2$. "
           r"The mean obeys the mean-field map at every width (so $K_{\{1\}}\equiv 0$ exactly); the solution is",
           [(sp.Symbol("r"), ek["r"]), (sp.Symbol("s"), sp.factor(ek["s"])),
            (sp.Symbol("\\mathbb{E}\\hat G^{(l)}"), ek["m1"]),
            (sp.Symbol("\\mathbb{E}(\\hat G^{(l)})^2"), ek["m2"].subs({ek["s"]: sp.Symbol("s"), ek["r"]: sp.Symbol("r")})),
            r"V^{(l)}_{\mathrm{exact}} = n\left(\mathbb E(\hat G^{(l)})^2 - (\mathbb E\hat G^{(l)})^2\right)."])
    Gm, qm = zero_bias_moments(2)
    d.step("All moments at zero bias",
           r"At $\sigma_b^2 = 0$ the chain is a product, and $q^{(l)} = \hat G^{(l)}\chi^2_{n}/n$ with an independent "
           r"$\chi^2_n$, so every moment is explicit: $\mathbb E[(\hat G^{(l)})^m] = K_1^m(\sigma_w^{2m}\mu_m)^{l-1}$ and "
           r"$\mathbb E[(q^{(l)})^m] = \mathbb E[(\hat G^{(l)})^m]\prod_{i<m}(1+2i/n)$. For $m=2$:",
           [(sp.Symbol("\\mathbb{E}(q^{(l)})^2"), qm)])


def _steps_criticality(d):
    c, ex, ser = critical_vertex()
    d.step(r"Criticality: $V/K^2$ grows linearly with depth",
           r"At $\sigma_b^2 = 0$, $\sigma_w^2 A_2 = 1$ (the critical point of the scale-invariant class: "
           r"$\sigma_w^2 = 2$ for ReLU, $1$ for linear) $K^{(l)} = K_1$ at every depth and width, and",
           [(sp.Symbol("c"), c), (sp.Symbol("V^{(l)}/K^2"), ex), (sp.Symbol("V^{(l)}/K^2"), ser),
            r"\text{leading order: } V^{(l)}/K^2 = (l-1)\,c,\qquad c = \frac{3A_4}{A_2^2} - 1 = "
            r"\frac{6(a_+^4+a_-^4)}{(a_+^2+a_-^2)^2} - 1 .",
            r"\text{linear: } c = 2,\qquad \text{ReLU: } c = 5."])
    d.step("Where the leading order fails",
           r"The exact excess kurtosis is $\kappa = 3[(1+c/n)^{l-1}-1]$ and the leading order is "
           r"$3(l-1)c/n$; their ratio is $1 + (l-2)c/(2n) + O((l/n)^2)$, so the leading order underestimates "
           r"by about $c\,l/(2n)$: $10\%$ at $l/n \approx 0.1$ (linear) and $l/n \approx 0.04$ (ReLU). "
           r"At fixed $\beta = l/n$ the exact result tends to $3(e^{c\beta} - 1)$ (Hanin's $e^{5\beta}$ for ReLU).")
    rows = []
    for name, cc in (("linear", 2), ("ReLU", 5)):
        for nn in (50, 200):
            for beta in (0.02, 0.05, 0.1, 0.2, 0.5, 1.0):
                L = int(round(beta * nn)) + 1
                exact_k = 3 * ((1 + sp.Rational(cc, nn)) ** (L - 1) - 1)
                lo_k = sp.Rational(3 * (L - 1) * cc, nn)
                rows.append([name, nn, L, _fmt(sp.Rational(L - 1, nn), 3), _fmt(exact_k), _fmt(lo_k),
                             f"${_fmt(lo_k / exact_k - 1, 3)}$"])
    d.table(r"Excess kurtosis $\kappa^{(l)}$ of a pre-activation at criticality ($\sigma_b^2 = 0$): exact vs "
            r"leading order (LO).",
            [r"$\phi$", "$n$", "$l$", "$(l-1)/n$", "exact", "LO", r"LO/exact${}-1$"], rows, raw=True)
    slopes = []
    for alpha in (sp.Integer(1), sp.Integer(0), sp.Rational(1, 100), sp.Rational(1, 10), sp.Rational(1, 2),
                  sp.Integer(-1)):
        cc = sp.nsimplify(3 * _A(2, 1, alpha) / _A(1, 1, alpha) ** 2 - 1)
        slopes.append([f"$a_- = {sp.latex(alpha)}$", f"${sp.latex(cc)}$", _fmt(cc)])
    d.table(r"Slope $c$ of $V^{(l)}/K^2$ per layer at criticality, scale-invariant class with $a_+ = 1$.",
            [r"$\phi$", r"$c$ (exact)", r"$c$"], slopes, raw=True)


def _step_k0_class(d):
    k0 = k0_class_asymptotics()
    d.step(r"The $K^*=0$ universality class (tanh, erf)",
           r"For $\phi = z + \sigma_2z^2/2 + \sigma_3z^3/6 + \ldots$ at $\sigma_b^2=0$, $\sigma_w^2=1$ "
           r"(after rescaling $\phi'(0)=1$): the Gaussian moments give $g(K)$ and $\Delta(K)$ below; the "
           r"power-law ansatz $K=\kappa/l$, $V=A/l$ in the leading-order recursions fixes $\kappa$ and $A$, and "
           r"$V/(lK^2)$ is universal:",
           [(sp.Symbol("g(K)"), k0["g_series"]), (sp.Symbol("\\Delta(K)"), k0["Delta_series"]),
            (sp.Symbol("a_1"), k0["a1"]), (sp.Symbol("\\kappa"), k0["kappa"]), (sp.Symbol("A"), k0["A"]),
            (sp.Symbol("V^{(l)}/(l K^{(l)2})"), k0["ratio"])],
           approximation=r"large depth: leading power of $1/l$ in the recursions (corrections $O(\log l/l)$)")


def _steps_log_q(d):
    mean, var, var_ser = log_q_linear()
    d.step(r"Distribution of $\ln q$ at zero bias",
           r"At $\sigma_b^2=0$, $\ln q^{(L)}$ is a sum of independent layer terms. Linear network "
           r"($\mathbb E\ln(\chi^2_n/n) = \psi(n/2) - \ln(n/2)$, $\mathrm{Var}\ln\chi^2_n = \psi_1(n/2)$):",
           [(sp.Symbol("\\mathbb{E}\\ln q^{(L)}"), mean.subs(l, sp.Symbol("L"))),
            (sp.Symbol("\\mathrm{Var}\\ln q^{(L)}"), var.subs(l, sp.Symbol("L"))),
            (sp.Symbol("\\mathrm{Var}\\ln q^{(L)}"), var_ser.subs(l, sp.Symbol("L"))),
            r"\text{ReLU: } \mathrm{Var}\ln q^{(L)} = \psi_1(n/2) + (L-1)\Big\{\mathbb E_k[\psi_1(k/2)] + "
            r"\mathrm{Var}_k[\psi(k/2)]\Big\},\quad k\sim\mathrm{Bin}(n,\tfrac12)\,|\,k\ge1",
            r"\mathbb E_k\psi_1(k/2) = \frac4n + O(n^{-2}),\quad \mathrm{Var}_k\psi(k/2) = \frac1n + O(n^{-2})"
            r"\ \Rightarrow\ \mathrm{Var}\ln X = \frac{5}{n} + O(n^{-2}) = \frac{c}{n} + O(n^{-2})."],
           )
    d.step("Log-normal limit (Hanin and Nica)",
           r"For large $n$ at fixed $\beta = \sum_j 1/n_j$ the central limit theorem for the sum gives "
           r"$\ln q^{(L)} \to \mathcal N(\ln\mathbb E q^{(L)} - s^2/2,\ s^2)$ with $s^2 = c\sum_{j<L}1/n_j + 2/n_L$ "
           r"($5(L-1)/n + 2/n$ for ReLU, $2L/n$ for linear; Hanin and Nica, arXiv:1812.05994). Consistency: the "
           r"log-normal gives $\mathbb E\hat G^2/(\mathbb E\hat G)^2 = e^{c\beta}$, the $n\to\infty$ limit of the exact "
           r"$(1+c/n)^{L-1}$.",
           approximation="central limit theorem at fixed depth-to-width ratio (log-normal limit)")


def _steps_quartic_eft(d):
    ea = effective_action()
    d.step("Quartic coupling of the single-unit effective action",
           r"The marginal of one unit is $p(z) = \mathbb E\,\mathcal N(z;0,\hat G)$. Expanding in "
           r"$\delta = \hat G - K$ to second order ($\mathbb E\delta = K_{\{1\}}/n$, $\mathbb E\delta^2 = V/n$) and "
           r"exponentiating, $-\ln p(z) = \frac g2 z^2 - \frac v8 z^4 + \mathrm{const} + O(n^{-2})$ with",
           [(sp.Symbol("g"), ea["g"]), (sp.Symbol("v"), ea["v"]),
            (sp.Symbol("\\langle z^2\\rangle"), ea["z2"]), (sp.Symbol("\\langle z^4\\rangle_c"), ea["z4c"])],
           approximation="1/n expansion of the single-unit distribution (first order in the quartic coupling)")
    d.step("Relation to the quadratic EFT",
           r"The quartic term $-\frac{v}{8}z^4$ with $v = V/(nK^4)$ (PDLT \S4.4: "
           r"$g = 1/G + O(1/n)$, $v = V/(nK^4)$) is the first non-Gaussian correction to the Gaussian "
           r"single-layer action; its sign ($v > 0$: heavier tails than Gaussian) follows from $V\ge0$. "
           r"It is the $O(1/n)$ interaction that a Gaussian EFT of the fluctuation fields misses.")

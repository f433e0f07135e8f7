r"""Quadratic effective field theory of the fluctuations around the large-N saddle (SymPy).

Fields (normalisation shared with :mod:`statfield.fields`, checked by the tests):

* linear: :math:`\epsilon_l = \sqrt N (r_l - r^*)/r^*`, :math:`r = \sqrt{Nq}`, :math:`r^*=\sqrt{Nq^*}`;
* ReLU: :math:`\epsilon_{\pm,l} = \sqrt N (r_{\pm,l} - r_\pm^*)/r_\pm^*` with
  :math:`r_\pm^* = \sqrt{Nq^*/2}`, and :math:`\epsilon_{k,l} = (k_l - N/2)/\sqrt N`,

with :math:`q^*` the large-N saddle (:mod:`statfield.symbolic.saddle`). Substituting into
:math:`N s`, the per-unit large-N collective action (named step: leading order in :math:`1/N`,
after Stirling), the link action is a quadratic form in the fields of layers :math:`l` and
:math:`l-1`,

.. math:: S_{\rm link} \simeq \tfrac12\,(x_l, x_{l-1})
          \begin{pmatrix} H_{cc} & H_{cp}\\ H_{cp}^T & H_{pp}\end{pmatrix}
          (x_l, x_{l-1})^T ,

and the periodic chain, Fourier transformed with :math:`x_l = L^{-1/2}\sum_p e^{ipl}x_p` (the lattice
momentum is :math:`p`; :math:`q` is the order parameter, ``docs/conventions.md`` "Symbols"),
is :math:`U = \tfrac12\sum_p x_p^\dagger M(p)\,x_p` with the lattice precision

.. math:: M(p) = H_{cc} + H_{pp} + H_{cp}e^{-ip} + H_{cp}^Te^{ip} .

Propagator :math:`G(p)=M(p)^{-1}`; real-space correlator of the infinite chain

.. math:: C_m = \langle x_l x_{l+m}^T\rangle = \frac1{2\pi}\int_{-\pi}^{\pi} e^{-ipm} M(p)^{-1}dp
          = \sum_{|w_j|<1}\mathrm{Res}_{w=w_j}\left[w^{m-1} M(w)^{-1}\right],\quad w=e^{-ip},\ m\ge0,

and :math:`C_{-m} = C_m^T`. Results (derived by the code, quoted here for reference):
linear :math:`M(p) = 2[(1+\sigma_w^4) - 2\sigma_w^2\cos p]` (the SPS17 kernel, talk Eq. after 12,
up to normalisation), :math:`C_m = \sigma_w^{2|m|}/(2(1-\sigma_w^4))`; ReLU: a single pole at
:math:`w = \chi = \sigma_w^2/2`, :math:`\det M(p) = 4(1+\chi^2-2\chi\cos p)`. The chain is a
first-order vector autoregression (Markov), so the lattice correlation length is exactly
:math:`\xi = -1/\ln\chi` (= mean-field :math:`\xi_q`), which diverges at criticality
(:math:`\sigma_w^2 = 1` linear, :math:`2` ReLU) where the mass gap :math:`1/\xi` vanishes.

Continuum EFT (named approximation "continuum limit"): the gradient expansion of the exact
lattice precision to :math:`O(p^2)` (:math:`e^{\mp ip}\simeq 1\mp ip-p^2/2`),
:math:`M_c(p) = M_0 + ip(H_{cp}^T-H_{cp}) + p^2D`, :math:`M_0 = H_{cc}+H_{pp}+H_{cp}+H_{cp}^T`,
:math:`D = -(H_{cp}+H_{cp}^T)/2`, i.e. in real space
:math:`U = \tfrac12\int dx\,[x^TM_0x + \partial x^TD\,\partial x + x^TB\,\partial x]` with the
first-derivative couplings written one-sided (:math:`B = -2H_{cp}` off the diagonal; its symmetric
part is a total derivative). Its correlation length :math:`\xi_c=\sqrt{d_2/d_0}` from
:math:`\det M_c(p)\simeq d_0+d_2p^2` differs from the lattice one away from criticality, e.g.
linear :math:`\xi_c = \sigma_w/(1-\sigma_w^2)` vs :math:`\xi = -1/\ln\sigma_w^2`; ReLU
:math:`\xi_c=\sqrt{\chi}/(1-\chi)` vs :math:`-1/\ln\chi`, :math:`\chi=\sigma_w^2/2`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import sympy as sp

from .collective import per_unit_action, tex
from .models import KindTable, collective_model
from .saddle import CRITICAL, check_domain, saddle
from .symbols import FIELDS, N, k, p, q_prev, sigma_b2, sigma_w2, u_prev, w

__all__ = ["QuadraticEFT", "ContinuumEFT", "quadratic_eft", "linear_eft_derivation",
           "relu_eft_derivation", "FIELD_SYMBOLS", "p", "w", "density_latex"]

#: Fluctuation fields by collective model kind; activations are accepted as keys
#: (``FIELD_SYMBOLS["relu"]`` resolves ReLU to its orthant model).
FIELD_SYMBOLS = KindTable(FIELDS)


_P = p  # the lattice momentum symbol (``p`` is also a parameter name below)


def _momentum(value):
    r"""A lattice momentum: a SymPy expression or a real number (never a string: no ``sympify`` of user text).

    Raises ``TypeError`` naming ``p`` for other types and ``ValueError`` for a non-finite number.
    """
    import numbers

    if isinstance(value, sp.Basic):
        out = value
    elif isinstance(value, numbers.Real) and not isinstance(value, bool):
        out = sp.Float(value) if isinstance(value, float) else sp.Integer(int(value)) if isinstance(value, numbers.Integral) else sp.nsimplify(value)
    else:
        raise TypeError(f"p (the lattice momentum) must be a SymPy expression or a real number, got "
                        f"{type(value).__name__} {value!r}")
    if out.is_number and out.is_finite is not True:  # a numeric momentum must be finite (no silent nan matrix)
        raise ValueError(f"p must be finite, got {value!r}")
    return out


@dataclass
class ContinuumEFT:
    r"""Continuum (gradient) EFT :math:`U = \tfrac12\int dx\,[x^TM_0x + \partial x^TD\,\partial x + x^TB\,\partial x]`.

    Attributes
    ----------
    fields : tuple of str
    M0, D, B : sympy.Matrix
        Mass matrix (symmetric), stiffness (symmetric), first-derivative couplings
        (``B[i, j]`` multiplies :math:`x_i\partial_x x_j`).
    """

    fields: tuple
    M0: sp.Matrix
    D: sp.Matrix
    B: sp.Matrix

    @property
    def symbols(self):
        return tuple(sp.Symbol(f, real=True) for f in self.fields)

    def density(self):
        """The Lagrangian density inside ``U = 1/2 int dx [...]`` (SymPy; ``d_eps...`` = derivatives)."""
        x = sp.Matrix(self.symbols)
        dx = sp.Matrix([sp.Symbol("d_" + f, real=True) for f in self.fields])
        return sp.expand((x.T * self.M0 * x + dx.T * self.D * dx + x.T * self.B * dx)[0, 0])

    def coefficients(self) -> dict:
        """``{monomial: coefficient}`` of :meth:`density` (monomials as SymPy products)."""
        dens = self.density()
        poly = sp.Poly(dens, *self.symbols, *[sp.Symbol("d_" + f, real=True) for f in self.fields])
        return {sp.Mul(*[g**e for g, e in zip(poly.gens, mon)]): sp.factor(c) for mon, c in poly.terms()}

    def precision(self, p=p):
        r"""Continuum :math:`M_c(p) = M_0 + p^2D + \tfrac{ip}{2}(B - B^T)` (Hermitian)."""
        p = _momentum(p)
        return self.M0 + p**2 * self.D + sp.I * p / 2 * (self.B - self.B.T)

    def lattice_precision(self, p=p):
        r"""Lattice reading with backward differences (:math:`\partial\to\nabla`, :math:`\nabla\leftrightarrow 1-e^{-ip}`):
        :math:`M_0 + (2-2\cos p)D + \tfrac12[B(1-e^{-ip}) + B^T(1-e^{ip})]`."""
        p = _momentum(p)
        return (self.M0 + (2 - 2 * sp.cos(p)) * self.D
                + (self.B * (1 - sp.exp(-sp.I * p)) + self.B.T * (1 - sp.exp(sp.I * p))) / 2)

    def determinant_expansion(self):
        r"""``(d0, d2)`` with :math:`\det M_c(p) = d_0 + d_2p^2 + O(p^4)` (gradient expansion)."""
        det = sp.expand(self.precision(p).det())
        return sp.factor(det.coeff(p, 0)), sp.factor(det.coeff(p, 2))

    def correlation_length(self, sigma_w2_value=None):
        r"""Continuum correlation length :math:`\xi_c = \sqrt{d_2/d_0}` from :math:`\det M_c(p)\simeq d_0 + d_2p^2`
        (the continuum propagator's pole :math:`p = i/\xi_c` at this order). With ``sigma_w2_value``: a float
        (``nan`` is never returned: ``ValueError`` if the continuum theory has no mass/stiffness there)."""
        d0, d2 = self.determinant_expansion()
        xi = sp.sqrt(d2 / d0)
        if sigma_w2_value is None:
            return sp.simplify(xi)
        a = float(d0.subs(sigma_w2, sigma_w2_value))
        b = float(d2.subs(sigma_w2, sigma_w2_value))
        if not (a > 0 and b > 0):
            raise ValueError(f"continuum EFT has no positive mass and stiffness at sigma_w2={sigma_w2_value} "
                             f"(det M_c(0)={a:.4g}, p^2 coefficient={b:.4g})")
        return float(np.sqrt(b / a))


class QuadraticEFT:
    r"""Quadratic EFT of one collective model (radial: linear network; orthant: ReLU); see the module docstring.

    Attributes
    ----------
    activation : str
        Registry name of the activation it was built for.
    kind : {"radial", "orthant"}
        Collective model kind (:func:`~statfield.symbolic.models.collective_model`).
    fields : tuple of str
        ``("eps",)`` or ``("eps_plus", "eps_minus", "eps_k")`` (normalisation: :mod:`statfield.fields`).
    field_map : dict
        ``{field symbol: expression}`` in the intensive variables (``q``; ``u, v, k``) and ``N``,
        ``sigma_w2``, ``sigma_b2`` -- the same maps as :func:`statfield.fields.linear_fields` /
        :func:`~statfield.fields.relu_fields`.
    H_cc, H_pp, H_cp : sympy.Matrix
        Blocks of the Hessian of :math:`N s` in (current, previous) fields at the saddle.
    chi : sympy expression
        The pole of the propagator inside the unit disk, :math:`w=\chi` (:math:`\sigma_w^2` linear,
        :math:`\sigma_w^2/2` ReLU).
    """

    def __init__(self, activation):
        model = collective_model(activation)
        self.activation = model.name
        self.kind = model.kind
        self.fields = model.field_names
        self.field_symbols = model.field_symbols
        self._saddle = None
        (self.H_cc, self.H_pp, self.H_cp, self.field_map, self.per_unit_action,
         self.substitution) = _hessian_blocks(self.kind)
        self.H_pc = self.H_cp.T
        self._poles = None

    # ------------------------------------------------------------------ lattice
    def precision(self, p=p):
        r"""Lattice precision :math:`M(p) = H_{cc}+H_{pp}+H_{cp}e^{-ip}+H_{cp}^Te^{ip}` (Hermitian SymPy Matrix).

        Parameters
        ----------
        p : sympy expression or real number, optional
            Lattice momentum (default: the symbol :data:`statfield.symbolic.symbols.p`). Strings are
            refused (``TypeError`` naming ``p``; user text is never passed to ``sympify``); a
            non-finite number raises ``ValueError``.
        """
        ps = _momentum(p)
        M = self.H_cc + self.H_pp + self.H_cp * sp.exp(-sp.I * ps) + self.H_pc * sp.exp(sp.I * ps)
        return M.applyfunc(lambda e: sp.simplify(e.rewrite(sp.cos))) if self.kind == "radial" else M

    def propagator(self, p=p):
        r"""Propagator :math:`M(p)^{-1} = \mathrm{adj}\,M(p)/\det M(p)` (SymPy Matrix)."""
        M = self.precision(p)
        det = self.determinant(p)
        return M.adjugate().applyfunc(lambda e: sp.expand(e) / det)

    def precision_w(self):
        r""":math:`M` as a Laurent polynomial in :math:`w = e^{-ip}`: :math:`H_0 + H_{cp}w + H_{cp}^T/w`."""
        return self.H_cc + self.H_pp + self.H_cp * w + self.H_pc / w

    def _pole_data(self):
        if self._poles is None:
            P = (w * self.precision_w()).applyfunc(sp.expand)  # matrix polynomial in w
            detP = sp.factor(P.det())
            adjP = P.adjugate().applyfunc(sp.expand)
            roots = sp.roots(sp.Poly(sp.numer(sp.together(detP)), w))
            sample = {sigma_w2: CRITICAL[self.kind] / 2}
            inside = [r for r in roots if abs(complex(sp.N(r.subs(sample)))) < 1]
            self._poles = (P, detP, adjP, inside)
        return self._poles

    def _root_multiplicities(self):
        P, detP, _, _ = self._pole_data()
        return sp.roots(sp.Poly(sp.numer(sp.together(detP)), w))

    @property
    def chi(self):
        inside = [r for r in self._pole_data()[3] if r != 0]
        return sp.simplify(inside[0])

    def determinant(self, p=p):
        r""":math:`\det M(p)` as a cosine series (vanishes at :math:`p=0` exactly at criticality)."""
        # det of the Laurent matrix polynomial in w = e^{-ip}; real and even in p, so
        # c_0 + sum_k c_k (w^k + w^-k) = c_0 + 2 sum_k c_k cos(k p)
        det = sp.expand(self.precision_w().det())
        out = det.coeff(w, 0)
        k = 1
        while det.has(w) and k < 8:
            ck, cmk = sp.factor(det.coeff(w, k)), sp.factor(det.coeff(w, -k))
            if sp.cancel(ck - cmk) != 0:  # pragma: no cover - Hermiticity guard
                raise RuntimeError("det M(p) is not even in p")
            out += 2 * ck * sp.cos(k * p)
            det = sp.expand(det - ck * w**k - cmk * w**-k)
            k += 1
        return sp.factor(out) if p != _P else sp.collect(sp.expand(out), sp.cos(p))

    def correlator(self, m, sigma_w2=None, sigma_b2=None, L=None):
        r"""Real-space correlator :math:`C_m = \langle x_l\,x_{l+m}^T\rangle` (fields in :attr:`fields` order).

        Closed form by residues (see module docstring); :math:`C_{-m}=C_m^T`.

        Parameters
        ----------
        m : int
            Layer separation (any integer).
        sigma_w2, sigma_b2 : float, optional
            If given, return a float ``numpy`` array. The leading-order EFT of the normalised fields
            depends on ``sigma_w2`` only; ``sigma_b2`` is validated (> 0: the saddle needs it).
        L : int, optional
            Periodic chain of ``L`` layers instead of the infinite chain (numeric; requires
            the variances): :math:`C^{(L)}_m = L^{-1}\sum_{j} e^{-iq_jm}M(q_j)^{-1}`, :math:`q_j=2\pi j/L`.

        Returns
        -------
        sympy.Matrix or numpy.ndarray
        """
        from .._checks import check_int

        m = check_int(m, "m")
        numeric = sigma_w2 is not None or sigma_b2 is not None or L is not None
        if numeric:
            if sigma_w2 is None or sigma_b2 is None:
                raise ValueError("sigma_w2 and sigma_b2 must both be given for a numeric correlator")
            sw, _ = check_domain(self.kind, sigma_w2, sigma_b2)
            if L is not None:
                L = check_int(L, "L", minimum=2)
                return self._periodic_correlator(m, sw, L)
            return np.array(sp.N(self._correlator_symbolic(m).subs({_sw(): sw})), dtype=float)
        return self._correlator_symbolic(m)

    def _correlator_symbolic(self, m):
        if m < 0:
            return self._correlator_symbolic(-m).T
        return _residue_correlator(self, m)

    def _periodic_correlator(self, m, sw, L):
        fn = _lambdified_precision(self.kind)
        ps = 2 * np.pi * np.arange(L) / L
        Ms = np.array([fn(pp, sw) for pp in ps], dtype=complex)
        G = np.linalg.inv(Ms)
        C = np.tensordot(np.exp(-1j * ps * m), G, axes=(0, 0)) / L
        return C.real

    def correlation_length(self, kind="lattice", sigma_w2=None):
        r"""Correlation length in layers.

        ``kind="lattice"``: exact decay of :math:`C_m\propto\chi^{|m|}`, :math:`\xi=-1/\ln\chi`.
        ``kind="continuum"``: pole of the continuum propagator (gradient expansion), see
        :meth:`ContinuumEFT.correlation_length`. With ``sigma_w2`` a float (validated).
        """
        if kind not in ("lattice", "continuum"):
            raise ValueError(f"kind must be 'lattice' or 'continuum', got {kind!r}")
        if sigma_w2 is not None:
            sw, _ = check_domain(self.kind, sigma_w2, 1.0)
            if kind == "lattice":
                return float(-1.0 / np.log(float(self.chi.subs(_sw(), sw))))
            return self.continuum().correlation_length(sw)
        if kind == "lattice":
            return -1 / sp.log(self.chi)
        return self.continuum().correlation_length()

    def mass_gap(self, kind="lattice"):
        r"""Mass gap :math:`1/\xi` (vanishes at criticality)."""
        return sp.simplify(1 / self.correlation_length(kind))

    # ------------------------------------------------------------------ continuum
    @functools.cached_property
    def _continuum(self):
        # Gradient expansion of M(p) to O(p^2) (e^{-ip} ~ 1 - ip - p^2/2):
        #   M(p) ~ M0 + i p (Hpc - Hcp) + p^2D,  M0 = H0 + Hcp + Hpc,  D = -(Hcp + Hpc)/2 ;
        # in real space (d <-> i p) the first-order term is x^T B dx with B = -2 Hcp off the diagonal
        # (B - B^T = 2 (Hpc - Hcp); the symmetric part of B is a total derivative).
        n = len(self.fields)
        M0 = (self.H_cc + self.H_pp + self.H_cp + self.H_pc).applyfunc(sp.simplify)
        D = (-(self.H_cp + self.H_pc) / 2).applyfunc(sp.simplify)
        B = sp.Matrix(n, n, lambda i, j: 0 if i == j else sp.simplify(-2 * self.H_cp[i, j]))
        return ContinuumEFT(self.fields, M0, D, B)

    def continuum(self) -> ContinuumEFT:
        r"""The continuum EFT (exact backward-difference rewrite, then :math:`\nabla\to\partial_x`)."""
        return self._continuum

    # ------------------------------------------------------------------ output
    def to_latex(self) -> str:
        """Standalone LaTeX document of the derivation of this EFT."""
        return self.derivation().to_latex()

    def derivation(self, finite_n=True):
        """The :class:`~statfield.symbolic.derivation.Derivation` (action -> ... -> continuum EFT).

        ``finite_n=False`` omits the finite-N saddle step (faster; used by ``--smoke`` runs).
        """
        return _eft_derivation(self, finite_n=finite_n)

    @property
    def saddle(self):
        """The large-N :class:`~statfield.symbolic.saddle.SaddleResult` (built on first access)."""
        if self._saddle is None:
            self._saddle = saddle(self.kind, large_n=True)
        return self._saddle

    def __repr__(self):
        return f"QuadraticEFT({self.activation!r}, fields={self.fields})"


def _sw():
    return sigma_w2


def _hessian_blocks(act):
    """Hessian blocks of N*s at the large-N saddle in the fields of layers l (current) and l-1 (previous)."""
    s, vars_, prev = per_unit_action(act)
    from .saddle import _large_n_solution

    sol = _large_n_solution(act)[1]
    sn = sp.sqrt(N)
    fs = FIELD_SYMBOLS[act]
    fp = tuple(sp.Symbol(f.name + "_prev", real=True) for f in fs)
    if act == "radial":
        (qv,) = vars_
        qs = sol[qv]
        sub = {qv: qs * (1 + fs[0] / sn) ** 2, prev[0]: qs * (1 + fp[0] / sn) ** 2}
        fmap = {fs[0]: sn * (sp.sqrt(qv / qs) - 1)}
    else:
        u, v, kap = vars_
        us, vs = sol[u], sol[v]
        kk = k
        sub = {u: us * (1 + fs[0] / sn) ** 2, v: vs * (1 + fs[1] / sn) ** 2, kap: sp.Rational(1, 2) + fs[2] / sn,
               prev[0]: us * (1 + fp[0] / sn) ** 2}
        fmap = {fs[0]: sn * (sp.sqrt(u / us) - 1), fs[1]: sn * (sp.sqrt(v / vs) - 1), fs[2]: (kk - N / 2) / sn}
    # Chain rule at the saddle (fast and exact). Every field enters as x = x*(1 + eps t)^2 or
    # kappa = 1/2 + eps t with t = 1/sqrt(N), so the Hessian of N s in the fields is homogeneous of
    # degree N t^2 = 1: evaluate the Jacobians at t = 1.
    xs = list(vars_) + list(prev)
    allf = list(fs) + list(fp)
    sub1 = {x: e.subs(N, 1) for x, e in sub.items()}
    f0 = {f: 0 for f in allf}
    at = {x: sub1[x].subs(f0) for x in xs}
    grad = [sp.diff(s, x).subs(at) for x in xs]
    hess = sp.hessian(s, xs).subs(at)
    J = sp.Matrix(len(xs), len(allf), lambda i, j: sp.diff(sub1[xs[i]], allf[j]).subs(f0))
    second = sp.zeros(len(allf), len(allf))
    for i, x in enumerate(xs):
        for a, f in enumerate(allf):
            second[a, a] += grad[i] * sp.diff(sub1[x], f, 2).subs(f0)
    H = (J.T * hess * J + second).applyfunc(sp.factor)
    n = len(fs)
    return H[:n, :n], H[n:, n:], H[:n, n:], fmap, s, sub


@functools.lru_cache(maxsize=None)
def _lambdified_precision(act):
    eft = quadratic_eft(act)
    return sp.lambdify((_P, sigma_w2), eft.precision(_P), "numpy")


@functools.lru_cache(maxsize=None)
def _residue_data(act):
    """Per-pole data: simple nonzero poles r -> adj P(r)/det P'(r) (so Res = r^m times it); poles at 0 kept."""
    eft = quadratic_eft(act)
    P, detP, adjP, inside = eft._pole_data()
    roots = eft._root_multiplicities()
    dpoly = sp.Poly(sp.numer(sp.together(detP)), w)
    ddet = dpoly.diff(w).as_expr()
    simple = {}
    for r in inside:
        if r != 0 and roots[r] == 1:
            simple[r] = adjP.subs(w, r).applyfunc(lambda e: sp.factor(sp.cancel(e / ddet.subs(w, r))))
    zero = [r for r in inside if r == 0 or roots[r] > 1]
    return P, detP, adjP, roots, simple, zero


@functools.lru_cache(maxsize=None)
def _residue_correlator_cached(act, m):
    P, detP, adjP, roots, simple, zero = _residue_data(act)
    n = P.shape[0]
    out = sp.zeros(n, n)
    # C_m = sum_{inside} Res[ w^{m-1} M(w)^{-1} ] = sum Res[ w^m adj(P)/det(P) ],  P = w M(w)
    for r, R in simple.items():
        out += r**m * R
    for r in zero:
        k = roots[r]
        if r == 0 and m >= k:
            continue  # w^m cancels the pole at the origin
        for i in range(n):
            for j in range(n):
                g = sp.cancel(w**m * adjP[i, j] * (w - r) ** k / detP)
                out[i, j] += sp.diff(g, w, k - 1).subs(w, r) / sp.factorial(k - 1)
    return out.applyfunc(lambda e: sp.factor(sp.cancel(e)))


def _residue_correlator(eft, m):
    return _residue_correlator_cached(eft.kind, m)


def quadratic_eft(activation) -> QuadraticEFT:
    r"""Quadratic EFT of the fluctuations of a deep linear or ReLU network around the large-N saddle.

    Parameters
    ----------
    activation : str or Activation
        Resolved with :func:`statfield.get_activation`; its collective model must be radial (linear
        network) or orthant (ReLU) -- :func:`~statfield.symbolic.models.collective_model` raises the
        uniform ``ValueError`` otherwise (e.g. leaky ReLU; use :mod:`statfield.symbolic.general`).

    Returns
    -------
    QuadraticEFT
        ``.fields``, ``.precision(p)``, ``.propagator(p)``, ``.correlator(m, sigma_w2, sigma_b2)``,
        ``.correlation_length(kind)``, ``.continuum()``, ``.to_latex()``, ``.derivation()``.

    Notes
    -----
    Conventions: fan-in :math:`\sigma_w^2/N`, :math:`q=|z|^2/N`; fields as in :mod:`statfield.fields`.
    Source: SPS17 (arXiv:1710.06570) Sec. 4--5 (their Eq. 12 kernel and Eq. 23 continuum EFT, compared
    in :mod:`statfield.symbolic.compare`); the derivation here uses the exact collective measures.
    """
    return _quadratic_eft(collective_model(activation).kind)


@functools.lru_cache(maxsize=None)
def _quadratic_eft(kind) -> QuadraticEFT:
    return QuadraticEFT(kind)


# ---------------------------------------------------------------------------- derivations
_TITLE = {"radial": "Quadratic field theory of deep random linear networks",
          "orthant": "Quadratic field theory of deep random ReLU networks"}
_ABSTRACT = (
    r"From the pre-activation action of SPS17 (arXiv:1710.06570, Eq.~10--11) we reduce the single-input "
    r"periodic chain to collective coordinates with their exact measures, take the large-$N$ limit as a named "
    r"Stirling step, find the saddle, expand to quadratic order in normalised fluctuation fields, Fourier "
    r"transform in the layer index (lattice momentum $p$), and obtain the propagator, the real-space correlators "
    r"in closed form, the lattice and continuum correlation lengths and the continuum EFT. Every result below is "
    r"computed by \texttt{statfield.symbolic} (SymPy); nothing is typed in by hand.")


def _eft_derivation(eft, finite_n=True):
    from .collective import collective_derivation_steps
    from .derivation import Derivation

    d = Derivation(_TITLE[eft.kind], abstract=_ABSTRACT)
    _step_action(d)
    collective_derivation_steps(d, eft.kind)
    _step_per_unit_action(d, eft)
    _step_saddle(d, eft)
    if finite_n:
        _step_finite_n(d, eft)
    _step_fields_and_hessian(d, eft)
    _step_fourier(d, eft)
    C0 = _step_correlators(d, eft)
    _step_lengths(d, eft)
    _step_continuum(d, eft)
    d.results.update({"chi": str(eft.chi), "C0": str(C0)})
    return d


def _step_action(d):
    d.step("Action of the periodic chain",
           r"Conditional on layer $l-1$, $z^l$ is exactly Gaussian with covariance $K_{l-1}\mathbb 1_N$, "
           r"$K_{l-1}=\sigma_w^2|\phi(z^{l-1})|^2/N+\sigma_b^2$; the negative log joint density of the single-input "
           r"periodic chain ($z^{L+1}\equiv z^1$) is SPS17 Eq.~11:",
           [r"S[\{z\}] = \sum_{l=1}^{L}\left[\frac{|z^l|^2}{2K_{l-1}} + \frac N2\ln\left(2\pi K_{l-1}\right)\right],"
            r"\qquad K_{l-1} = \frac{\sigma_w^2}{N}|\phi(z^{l-1})|^2+\sigma_b^2 ."])


def _step_per_unit_action(d, eft):
    radial = eft.kind == "radial"
    prev = q_prev if radial else u_prev
    d.step("Leading order in $1/N$: the per-unit action",
           r"Writing the radii through intensive variables ("
           + (r"$q=r^2/N$" if radial else r"$u=r_+^2/N$, $v=r_-^2/N$, $\kappa=k/N$")
           + r") the Stirling action is $N s + O(\ln N)$, with $s$ the SymPy limit $N\to\infty$ of "
             r"$S_{\rm link}/N$; primes denote layer $l-1$ and $K = \sigma_w^2" + ("q'" if radial else "u'")
           + r" + \sigma_b^2$:",
           [(sp.Symbol("s"), _with_K(eft.per_unit_action, prev))],
           approximation="leading order in 1/N")


def _step_saddle(d, eft):
    sd = eft.saddle
    x = sd.variables[0]
    d.step("Saddle point of the homogeneous chain",
           r"The homogeneous configuration has action $L\,s(x;x)$. Its stationarity equations (with "
           r"$K=\sigma_w^2" + tex(x) + r"+\sigma_b^2$) and their solution are",
           [tex(sp.factor(sp.together(_with_K(e.lhs, x)))) + " = 0" for e in sd.equations]
           + [tex((k_, v_)) for k_, v_ in sd.solution.items()]
           + [r"\mathrm{Hess}\,s = " + tex(sd.hessian)],
           after=(r"The solution is the mean-field fixed point (Poole et al.\ 2016). Stability: the Hessian of "
                  r"$s(x;x)$ at the saddle is positive definite for $" + tex(sd.domain) + r"$ (and $\sigma_b^2>0$). "
                  r"Outside this domain there is no saddle with $q^*>0$."))


def _step_finite_n(d, eft):
    fin = saddle(eft.kind, large_n=False)
    fin_q = saddle(eft.kind, large_n=False, variable="q")
    radial = eft.kind == "radial"
    d.step("Finite $N$: the saddle is a joint mode, not the mean",
           r"At finite $N$ the saddle -- the joint mode of the ring weight in the chosen variables -- is displaced "
           r"by $O(1/N)$, and the displacement depends on those variables (radii $r$ vs $q=r^2/N$: the Jacobian "
           r"$dq=2r\,dr/N$ shifts it); the one-layer marginal mode is yet another number. "
           + (r"For the linear chain the mode in $r$ is exact (the positive root of a quadratic); the exact stationary "
              r"\emph{mean} of $q$ equals $q^*$ at every $N$ because $\mathbb E\chi^2_N/N = 1$."
              if radial else
              r"For ReLU the exact equations contain digamma functions; the $O(1/N)$ displacement below is exact "
              r"(Stirling's $\partial_x\ln\Gamma$ matches $\psi$ to $O(1/x^2)$). The exact means are "
              r"$\mathbb E k=N/2$ and $\mathbb E(u+v)=q^*$ at every $N$.")
           + r" Mode in $r$ (first lines) and displacements in $r$ and in $q$ (last lines):",
           [tex((k_, v_)) for k_, v_ in fin.solution.items()]
           + [r"\delta_r " + tex(k_) + " = " + tex(v_ / N) for k_, v_ in fin.displacement.items()]
           + [r"\delta_q " + tex(k_) + " = " + tex(v_ / N) for k_, v_ in fin_q.displacement.items()],
           approximation=None if radial else "1/N expansion")


def _step_fields_and_hessian(d, eft):
    d.step("Fluctuation fields",
           r"Normalised fields (the same maps as \texttt{statfield.fields}; $O(1)$ at large $N$):",
           [tex((k_, v_)) for k_, v_ in eft.field_map.items()])
    d.step("Hessian at the saddle",
           r"Expanding $N s$ to second order in the fields of layers $l$ (current) and $l-1$ (previous, primed) "
           r"gives a link quadratic form $\frac12(x_l,x_{l-1})H(x_l,x_{l-1})^T$ with blocks",
           [r"H_{cc} = " + tex(eft.H_cc), r"H_{pp} = " + tex(eft.H_pp), r"H_{cp} = " + tex(eft.H_cp)])


def _step_fourier(d, eft):
    eqs = [r"M(p) = " + tex(eft.precision()), r"\det M(p) = " + tex(eft.determinant())]
    if eft.kind == "radial":
        eqs.append(r"M(p)^{-1} = " + tex(eft.propagator()))
    else:  # entry by entry: the 3x3 inverse does not fit on a line
        G = eft.propagator()
        adj = (G * eft.determinant()).applyfunc(sp.factor)
        names = [tex(f) for f in eft.field_symbols]
        eqs += [r"\left[\det M(p)\,M(p)^{-1}\right]_{" + names[i] + names[j] + "} = " + tex(adj[i, j])
                for i in range(3) for j in range(i, 3)]
    d.step("Fourier transform: lattice precision and propagator",
           r"With $x_l = L^{-1/2}\sum_p e^{ipl}x_p$ (lattice momentum $p$) the chain action is "
           r"$\frac12\sum_p x_p^\dagger M(p)x_p$:", eqs)


def _step_correlators(d, eft):
    C0, C1, C2 = eft.correlator(0), eft.correlator(1), eft.correlator(2)
    text = (r"$C_m=\langle x_lx_{l+m}^T\rangle = \frac1{2\pi}\int dp\,e^{-ipm}M(p)^{-1}$; with $w=e^{-ip}$ the integral "
            r"is the sum of the residues of $w^{m-1}M(w)^{-1}$ inside the unit circle, where the only non-trivial pole "
            r"is $w=\chi=" + tex(eft.chi) + r"$. Hence $C_m\propto\chi^{m}$ for $m\ge1$ and $C_{-m}=C_m^T$:")
    if eft.kind == "radial":
        eqs = [r"C_0 = " + tex(C0), r"C_1 = " + tex(C1), r"C_2 = " + tex(C2)]
    else:  # entry by entry (a 3x3 matrix of fractions does not fit on a line); C_m = chi^(m-1) C_1, checked
        if (C2 - eft.chi * C1).applyfunc(sp.simplify) != sp.zeros(3, 3):  # pragma: no cover - structural guard
            raise RuntimeError("the correlator is not geometric beyond lag 1")
        names = [tex(f) for f in eft.field_symbols]
        eqs = [rf"\langle {names[i]}\,{names[j]}\rangle_0 = " + tex(C0[i, j]) for i in range(3) for j in range(i, 3)]
        eqs += [rf"\langle {names[i]}(l)\,{names[j]}(l+1)\rangle = " + tex(C1[i, j])
                for i in range(3) for j in range(3)]
        eqs.append(r"C_m = \chi^{m-1}C_1\quad(m\ge 1)")
    d.step("Real-space correlators (residues)", text, eqs)
    return C0


def _step_lengths(d, eft):
    d.step("Correlation lengths and mass gap",
           r"Lattice: exact decay $\chi^{|m|}$. Continuum: pole of the continuum propagator. They agree "
           r"near criticality, where both diverge and the mass gap $1/\xi$ vanishes ($\det M(0)=0$ at "
           r"$\sigma_w^2 = " + tex(CRITICAL[eft.kind]) + r"$), and differ away from it:",
           [r"\xi_{\rm lattice} = " + tex(eft.correlation_length("lattice")),
            r"\xi_{\rm continuum} = " + tex(eft.correlation_length("continuum")),
            r"\det M(0) = " + tex(sp.factor(eft.determinant(0)))])


def density_latex(cont, prefix=r"U = \frac12\int dx\,\Big[", suffix=r"\Big]", per_line=3):
    r"""LaTeX of a continuum density written as a physicist does: coefficient first, then the field
    monomial (mass terms, couplings, derivative terms), ``per_line`` terms per line of an ``array``."""
    coeffs = cont.coefficients()

    def rank(mon):  # mass terms, couplings, then derivative terms
        deriv = sum(1 for f in mon.free_symbols if f.name.startswith("d_"))
        return (deriv, sp.default_sort_key(mon))

    terms = []
    for mon in sorted(coeffs, key=rank):
        c = sp.factor(coeffs[mon])
        if c == 0:
            continue
        neg = c.could_extract_minus_sign()
        c_abs = -c if neg else c
        ctex = "" if c_abs == 1 else tex(c_abs)
        if isinstance(c_abs, sp.Add):
            ctex = r"\left(" + ctex + r"\right)"
        factors = sorted(sp.Mul.make_args(mon), key=lambda f: (f.free_symbols.pop().name.startswith("d_")
                                                                if f.free_symbols else 0, str(f)))
        mtex = r"\,".join(tex(f) for f in factors)
        terms.append(("-" if neg else "+", (ctex + r"\," if ctex else "") + mtex))
    lines, cur = [], []
    for i, (sign, body) in enumerate(terms):
        cur.append((sign if (i or sign == "-") else "") + " " + body)
        if len(cur) == per_line:
            lines.append(" ".join(cur))
            cur = []
    if cur:
        lines.append(" ".join(cur))
    if len(lines) == 1:
        return prefix + lines[0] + suffix
    return (r"\begin{array}{l}" + prefix + lines[0] + r" \\ "
            + r" \\ ".join(r"\qquad " + ln for ln in lines[1:]) + suffix + r"\end{array}")


def _step_continuum(d, eft):
    d.step("Continuum EFT",
           r"Expanding $M(p)$ to second order in $p$ ($e^{\mp ip}\simeq 1\mp ip - p^2/2$) and returning to real space "
           r"($ip\to\partial_x$, $\sum_l\to\int dx$; first-derivative terms written one-sided, up to total "
           r"derivatives) gives the continuum EFT, valid for wavelengths $\gg 1$ layer:",
           [density_latex(eft.continuum())],
           approximation="continuum limit")


def _with_K(expr, x):
    """Display helper: write sigma_b2 = K - sigma_w2 x (K the conditional variance) and collect logs."""
    from .symbols import K

    e = sp.expand(expr.subs(sigma_b2, K - sigma_w2 * x))
    return sp.collect(e, sorted(e.atoms(sp.log), key=str), evaluate=True)


def linear_eft_derivation(finite_n=True):
    """Derivation: linear network, radial reduction -> saddle -> quadratic EFT -> correlation lengths."""
    return quadratic_eft("linear").derivation(finite_n=finite_n)


def relu_eft_derivation(finite_n=True):
    """Derivation: ReLU network, (r+, r-, k) reduction -> saddle -> 3x3 EFT -> continuum limit."""
    return quadratic_eft("relu").derivation(finite_n=finite_n)

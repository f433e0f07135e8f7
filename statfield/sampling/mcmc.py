r"""MCMC of the collective lattice action: the network on a circle, at finite width.

A single-input network with piecewise-linear :math:`\phi` is an exact Markov chain in a few
collective coordinates per layer (``docs/conventions.md``, "Order parameters and fields"): with :math:`W_{ij}\sim N(0,\sigma_w^2/N)`
(fan-in), :math:`b_i\sim N(0,\sigma_b^2)` and :math:`q = |z|^2/N`,

* **radial model** (:math:`\phi(z) = a z`, e.g. ``"linear"``): :math:`K_{l-1} = \sigma_w^2 a^2 q_{l-1} + \sigma_b^2`
  and :math:`q_l = K_{l-1}\chi^2_N/N`, so

  .. math:: -\ln p(q_l\mid q_{l-1}) = \frac N2\frac{q_l}{K_{l-1}} - \Big(\frac N2-1\Big)\ln q_l
            + \frac N2\ln K_{l-1} + \ln\Gamma\Big(\frac N2\Big) - \frac N2\ln\frac N2 ;

* **orthant model** (:math:`\phi(z) = a_+ z\theta(z) + a_- z\theta(-z)`, :math:`a_+\ne a_-`, e.g. ``"relu"``):
  :math:`u = |z_+|^2/N`, :math:`v = |z_-|^2/N`, :math:`k` = number of positive units,
  :math:`K_{l-1} = \sigma_w^2(a_+^2u_{l-1} + a_-^2 v_{l-1}) + \sigma_b^2`, :math:`k_l\sim\mathrm{Bin}(N,\tfrac12)`,
  :math:`u_l = K_{l-1}\chi^2_{k_l}/N`, :math:`v_l = K_{l-1}\chi^2_{N-k_l}/N`, so

  .. math:: -\ln p = -\ln\Big[\binom N{k_l}2^{-N}\Big] + \sum_{(w,\nu)\in\{(u,k),(v,N-k)\}}
            \Big[\frac{N w_l}{2K_{l-1}} - \Big(\frac\nu2-1\Big)\ln w_l + \frac\nu2\ln\frac{2K_{l-1}}{N}
            + \ln\Gamma\Big(\frac\nu2\Big)\Big].

The **collective lattice action** is :math:`S = \sum_l -\ln p(x_l\mid x_{l-1})` (Lebesgue measure in
:math:`q` or :math:`u, v`; counting measure in :math:`k`). Summed around a **ring** (layer :math:`L\equiv 0`)
it is SPS17's "network on a circle" (arXiv:1710.06570, Eqs. 10–11, here in collective
coordinates with the exact measures); no network realises it, only this MCMC does. On an
**open** chain with layer 0 fixed it is the exact law of layers :math:`1..L` (used to test the sampler).

Two facts about the ring that the code makes explicit:

* **It is improper.** For :math:`q\to\infty` the bias is negligible, :math:`p(\lambda q'\mid\lambda q) = p(q'\mid q)/\lambda`,
  so in log variables the ring weight tends to a *constant* along the global scale (zero mode):
  :math:`\int\mathrm e^{-S}` diverges logarithmically at large :math:`q` for every :math:`\sigma_w^2`
  (and at small :math:`q` too when :math:`\sigma_b^2=0`). The sampler therefore targets the ring
  restricted to a stated box :math:`\ln q_l \le \ln q_\max` (every log variable), see ``log_bounds``.
  For :math:`\sigma_w^2 a^2<1` the well around the saddle is separated from the flat tail by a barrier
  :math:`\approx L\frac N2(1/s - 1 + \ln s)`, :math:`s=\sigma_w^2 a^2` (linear), so at :math:`N\sim 10^3`
  the box is never reached; at small :math:`N L` the tail carries real weight and results depend on it.
* **k = 0 and k = N are excluded.** There :math:`u` (or :math:`v`) is exactly 0 (a point mass); the orthant
  model conditions every layer on :math:`1\le k\le N-1`, an event of probability :math:`1 - 2^{1-N}` per layer
  in the network (so :math:`\le L\,2^{1-N}` per ring).

Sampler: Metropolis, vectorised over independent chains and over sites with a **checkerboard**
(the action couples nearest neighbours only: even sites, then odd sites; a third colour for the
last site of an odd ring). Moves, all symmetric in the log variables :math:`x=\ln q` (resp.
:math:`\ln u, \ln v`), accepted with :math:`\min(1, \mathrm e^{-\Delta S_{\log}})`, where
:math:`S_{\log} = S - \sum_l x_l` includes the Jacobian of the log variables:

1. local random walk :math:`x_l\to x_l + h\,\xi` (jointly in :math:`(\ln u,\ln v)` for the orthant model);
2. orthant only: :math:`k_l\to k_l+\Delta` (:math:`\Delta = \pm\lceil |g| s_k\rceil`, :math:`g\sim N(0,1)`)
   together with :math:`u_l\to u_l k'/k`, :math:`v_l\to v_l (N-k')/(N-k)` (a translation in the
   log variables, so volume preserving; its reverse is :math:`-\Delta`);
3. a global move shifting every log variable of a chain by the same :math:`\delta\sim N(0,h_g^2)`
   (moves the soft zero mode near criticality).

Step sizes are tuned during burn-in (Robbins–Monro on the acceptance rate) and frozen after it, so
the recorded chain is a time-homogeneous Metropolis chain with the target as stationary law.
Acceptance uses :math:`\Delta S < E`, :math:`E\sim\mathrm{Exp}(1)` (equivalent to :math:`U<\mathrm e^{-\Delta S}`).

Random numbers come from :func:`statfield.sampling.backend.default_rng` (the backend's own generator),
arrays from its array-API namespace (NumPy default, CuPy, array-api-strict), all float64.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._checks import check_int, check_nonnegative, check_variances
from .._xp import namespace_of
from ..activations import get_activation
from .eft import collective_kind

__all__ = ["collective_action", "CollectiveMCMC", "MCMCResult", "simulate_mcmc", "collective_model"]


# --------------------------------------------------------------------------------------------
# model description
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Model:
    kind: str            # "radial" or "orthant"
    name: str            # activation name (a label for results, never dispatched on)
    a2: float            # radial: a^2
    ap2: float           # orthant: a_+^2
    am2: float           # orthant: a_-^2
    act: object = None   # the Activation object


def collective_model(activation) -> str:
    """``"radial"`` (variable ``q``) for :math:`\\phi(z)=az`, ``"orthant"`` (``u, v, k``) for other
    piecewise-linear :math:`\\phi`; ``ValueError`` for activations without an exact collective reduction."""
    return _model(activation).kind


def _model(activation) -> _Model:
    """The collective model of the activation *object* (its ``collective`` attribute or its slopes)."""
    act = get_activation(activation)
    kind = collective_kind(act)
    if kind is None:
        raise ValueError(
            f"activation must be piecewise linear (linear, relu, leaky_relu_*): only these have an exact "
            f"collective-coordinate action, got {act.name!r}")
    ap, am = float(act.a_plus), float(act.a_minus)
    if kind == "radial":
        if ap == 0.0:
            raise ValueError("activation must not be identically zero (a_plus = a_minus = 0)")
        return _Model("radial", act.name, ap * ap, 0.0, 0.0, act)
    return _Model("orthant", act.name, 0.0, ap * ap, am * am, act)


def _tables(xp, N):
    """``ln Gamma(j/2)`` (j = 1..N; entry 0 unused) and ``ln[C(N,j) 2^-N]`` (j = 0..N) as xp arrays."""
    lgh = [0.0] + [math.lgamma(j / 2.0) for j in range(1, N + 1)]
    lgN = math.lgamma(N + 1.0)
    lbin = [lgN - math.lgamma(j + 1.0) - math.lgamma(N - j + 1.0) - N * math.log(2.0) for j in range(N + 1)]
    return xp.asarray(lgh, dtype=xp.float64), xp.asarray(lbin, dtype=xp.float64)


def _take(xp, table, idx_float):
    shape = idx_float.shape
    idx = xp.reshape(xp.astype(idx_float, xp.int64), (-1,))
    return xp.reshape(xp.take(table, idx), shape)


# --------------------------------------------------------------------------------------------
# per-site terms in log variables (what the sampler evaluates)
# --------------------------------------------------------------------------------------------

class _Terms:
    """Per-site terms ``-ln p(x_l | x_{l-1})`` in log variables, with or without the Jacobian."""

    def __init__(self, model, N, sigma_w2, sigma_b2, xp):
        self.m, self.N, self.sw, self.sb, self.xp = model, N, sigma_w2, sigma_b2, xp
        self.cN = math.lgamma(N / 2.0) - N / 2.0 * math.log(N / 2.0)
        if model.kind == "orthant":
            self.lgh, self.lbin = _tables(xp, N)

    def K(self, prev):
        """``K`` from the previous site's log variables (tuple)."""
        xp = self.xp
        if self.m.kind == "radial":
            return self.sw * self.m.a2 * xp.exp(prev[0]) + self.sb
        out = self.sw * self.m.ap2 * xp.exp(prev[0]) + self.sb
        if self.m.am2 != 0.0:
            out = out + self.sw * self.m.am2 * xp.exp(prev[1])
        return out

    def terms(self, cur, K, jacobian=True):
        r"""``-ln p`` per site; ``cur`` = (x,) or (xu, xv, k); ``jacobian``: density in log variables."""
        xp, N = self.xp, self.N
        lnK = xp.log(K)
        if self.m.kind == "radial":
            x = cur[0]
            t = N / 2.0 * xp.exp(x) / K - (N / 2.0 - 1.0) * x + N / 2.0 * lnK + self.cN
            return t - x if jacobian else t
        xu, xv, k = cur
        nk = N - k
        t = (-_take(xp, self.lbin, k) + N / 2.0 * (xp.exp(xu) + xp.exp(xv)) / K
             - (k / 2.0 - 1.0) * xu - (nk / 2.0 - 1.0) * xv
             + N / 2.0 * (lnK + math.log(2.0 / N)) + _take(xp, self.lgh, k) + _take(xp, self.lgh, nk))
        return t - xu - xv if jacobian else t


def _prev(xp, arr, boundary_col):
    """Values at site l-1: periodic shift, or the fixed boundary column then sites 0..L-2."""
    if boundary_col is None:
        return xp.concat([arr[..., -1:], arr[..., :-1]], axis=-1)
    return xp.concat([boundary_col, arr[..., :-1]], axis=-1)


def _next(xp, arr):
    """Periodic values at site l+1."""
    return xp.concat([arr[..., 1:], arr[..., :1]], axis=-1)


# --------------------------------------------------------------------------------------------
# the public numeric action
# --------------------------------------------------------------------------------------------

def collective_action(activation, state, width, sigma_w2, sigma_b2, boundary=None, log=False, per_site=False):
    r"""Exact collective lattice action :math:`S=\sum_l -\ln p(x_l\mid x_{l-1})` (array API).

    Parameters
    ----------
    activation : str or Activation
        Piecewise linear: ``"linear"`` (radial model, variable ``q``) or ``"relu"``/``"leaky_relu_*"``
        (orthant model, variables ``u, v, k``). See the module docstring for the formulas.
    state : mapping
        ``{"q": array (..., L)}`` (radial) or ``{"u", "v", "k"}`` arrays ``(..., L)`` (orthant),
        the last axis the sites :math:`l=0..L-1` (ring) or layers :math:`1..L` (open chain);
        ``q = |z|^2/N``, ``u = |z_+|^2/N``, ``v = |z_-|^2/N``, ``k`` integers in ``[1, N-1]``.
    width : int
        :math:`N` (the same at every layer).
    sigma_w2, sigma_b2 : float
        Weight variance per fan-in (> 0) and bias variance (>= 0).
    boundary : mapping or None
        ``None``: periodic ring, :math:`x_{-1}\equiv x_{L-1}` (SPS17 Eq. 11). Otherwise the fixed
        layer-0 values ``{"q": q0}`` or ``{"u": u0, "v": v0}`` (scalars or arrays of shape ``(...)``)
        and :math:`S` is the exact negative log density of layers :math:`1..L` of an open chain.
    log : bool
        False: density w.r.t. :math:`dq` (:math:`du\,dv`) per site. True: w.r.t. :math:`d\ln q`
        (:math:`d\ln u\,d\ln v`), i.e. :math:`S - \sum_l \ln q_l` (what the sampler uses).
    per_site : bool
        Return the terms ``(..., L)`` instead of their sum.

    Returns
    -------
    array (...) or (..., L), float64, in the namespace of the state arrays.

    Raises
    ------
    ValueError
        non-positive ``q``/``u``/``v``, ``k`` outside ``[1, N-1]`` or not integer (k = 0, N are excluded:
        there ``u`` or ``v`` is a point mass at 0; probability :math:`2^{1-N}` per layer), bad parameters.
    """
    model = _model(activation)
    N = check_int(width, "width", minimum=1 if model.kind == "radial" else 2)
    sigma_w2, sigma_b2 = check_variances(sigma_w2, sigma_b2)
    if model.kind == "radial":
        q = state["q"]
        xp = namespace_of(q)
        q = xp.asarray(q, dtype=xp.float64)
        if not bool(xp.all(q > 0)):
            raise ValueError("state['q'] must be > 0 elementwise (and finite)")
        cur = (xp.log(q),)
    else:
        u, v, k = state["u"], state["v"], state["k"]
        xp = namespace_of(u, v, k)
        u, v, k = (xp.asarray(a, dtype=xp.float64) for a in (u, v, k))
        for nm, a in (("u", u), ("v", v)):
            if not bool(xp.all(a > 0)):
                raise ValueError(f"state[{nm!r}] must be > 0 elementwise (and finite)")
        if not bool(xp.all((k >= 1) & (k <= N - 1) & (k == xp.round(k)))):
            raise ValueError(f"state['k'] must be integers in [1, width-1 = {N - 1}] (k = 0, N are excluded)")
        cur = (xp.log(u), xp.log(v), k)
    if not bool(xp.all(xp.isfinite(cur[0]))):
        raise ValueError("state must be finite")
    T = _Terms(model, N, sigma_w2, sigma_b2, xp)
    if boundary is None:
        prev = tuple(_prev(xp, c, None) for c in cur[:2])
    else:
        keys = ("q",) if model.kind == "radial" else ("u", "v")
        cols = []
        for key in keys:
            if key not in boundary:
                raise ValueError(f"boundary must give {keys} for the {model.kind} model, got {sorted(boundary)}")
            b0 = xp.asarray(boundary[key], dtype=xp.float64)
            if not bool(xp.all(b0 >= 0)):
                raise ValueError(f"boundary[{key!r}] must be >= 0")
            b0 = xp.broadcast_to(xp.reshape(b0, b0.shape + (1,)), cur[0].shape[:-1] + (1,))
            with np.errstate(divide="ignore"):
                cols.append(xp.log(b0))
        prev = tuple(_prev(xp, c, col) for c, col in zip(cur, cols))
    K = T.K(prev)
    t = T.terms(cur, K, jacobian=log)
    return t if per_site else xp.sum(t, axis=-1)


# --------------------------------------------------------------------------------------------
# the sampler
# --------------------------------------------------------------------------------------------

def _colours(L, periodic):
    c = np.arange(L) % 2
    if periodic and L % 2 == 1 and L > 1:
        c[-1] = 2
    if L == 1:
        c[:] = 0
    return [c == j for j in range(int(c.max()) + 1)]


class CollectiveMCMC:
    r"""Checkerboard Metropolis sampler of the collective action (ring or open chain).

    Parameters
    ----------
    activation : str or Activation
        Piecewise linear (see :func:`collective_action`).
    width : int
        :math:`N` (>= 1 radial, >= 2 orthant).
    sigma_w2, sigma_b2 : float
        Variances (fan-in convention).
    length : int
        Number of sites :math:`L` (ring) or of free layers (open chain).
    n_chains : int
        Independent chains, simulated in parallel (vectorised).
    boundary : mapping or None
        ``None`` = periodic ring; else fixed layer-0 values (``{"q": q0}`` or ``{"u": u0, "v": v0}``).
    log_bounds : (float, float) or None
        Box for every log variable (:math:`\ln q`, or :math:`\ln u`, :math:`\ln v`). Default: none for an
        open chain (proper); for the ring :math:`(\ln q_\mathrm{ref} - 20` if :math:`\sigma_b^2=0` else
        :math:`-\infty,\ \ln q_\mathrm{ref}+20)` with :math:`q_\mathrm{ref}` the mean-field fixed point when it
        exists (else :math:`\max(\sigma_b^2, 1)`): the ring is improper without it (module docstring).
    seed : int or numpy.random.SeedSequence
    backend : str or module
        ``"numpy"`` (default), ``"cupy"``, ``"array_api_strict"``.
    """

    TARGET = {"local": 0.4, "kmove": 0.4, "global": 0.3}

    def __init__(self, activation, width, sigma_w2, sigma_b2, length, n_chains=64, boundary=None,
                 log_bounds=None, seed=0, backend="numpy"):
        from .backend import default_rng, get_namespace

        self.model = _model(activation)
        self.N = check_int(width, "width", minimum=1 if self.model.kind == "radial" else 2)
        self.sigma_w2, self.sigma_b2 = check_variances(sigma_w2, sigma_b2)
        self.L = check_int(length, "length", minimum=1)
        self.n_chains = check_int(n_chains, "n_chains", minimum=1)
        self.periodic = boundary is None
        self.xp = xp = get_namespace(backend)
        self.rng = default_rng(seed, xp)
        self.T = _Terms(self.model, self.N, self.sigma_w2, self.sigma_b2, xp)
        self.q_ref = self._q_ref()
        if log_bounds is None:
            if self.periodic:
                lo = -math.inf if self.sigma_b2 > 0 else math.log(self.q_ref) - 20.0
                log_bounds = (lo, math.log(self.q_ref) + 20.0)
            else:
                log_bounds = (-math.inf, math.inf)
        lo, hi = (float(b) for b in log_bounds)
        if not lo < hi:
            raise ValueError(f"log_bounds must satisfy low < high, got {log_bounds!r}")
        if self.periodic and not (math.isfinite(hi) and (self.sigma_b2 > 0 or math.isfinite(lo))):
            raise ValueError("log_bounds must be finite above (and below when sigma_b2 = 0) for the periodic ring, "
                             f"which is improper without a box (module docstring); got {log_bounds!r}")
        self.log_bounds = (lo, hi)
        # boundary column(s) in log variables
        self._bcols = None
        if not self.periodic:
            keys = ("q",) if self.model.kind == "radial" else ("u", "v")
            cols = []
            for key in keys:
                if key not in boundary:
                    raise ValueError(f"boundary must give {keys} for the {self.model.kind} model")
                b0 = check_nonnegative(boundary[key], f"boundary[{key!r}]")
                lb = math.log(b0) if b0 > 0 else -math.inf
                cols.append(xp.full((self.n_chains, 1), lb, dtype=xp.float64))
            self._bcols = tuple(cols)
        self._colours = [xp.asarray(c) for c in _colours(self.L, self.periodic)]
        N = self.N
        self.step = {"local": 0.8 * math.sqrt(2.0 / N) if self.model.kind == "radial" else 1.6 / math.sqrt(N),
                     "global": 0.5 * math.sqrt(2.0 / (N * self.L)),
                     "kmove": max(0.5 * math.sqrt(N) / 2.0, 1.0)}
        self.accepted = {k: 0.0 for k in self.step}
        self.proposed = {k: 0.0 for k in self.step}
        self.state = self._initial_state()
        self._t = self._all_terms(self.state)

    # ---------------------------------------------------------------- set-up
    def _q_ref(self):
        m, sw, sb = self.model, self.sigma_w2, self.sigma_b2
        slope = m.a2 if m.kind == "radial" else (m.ap2 + m.am2) / 2.0
        chi = sw * slope
        if chi < 1.0 and sb > 0:
            return sb / (1.0 - chi)
        return max(sb, 1.0)

    def _initial_state(self):
        """Exact forward chain from the reference point (a plausible start; burn-in does the rest)."""
        xp, N, n, L = self.xp, self.N, self.n_chains, self.L
        rng = self.rng
        lo, hi = self.log_bounds
        clip = lambda a: xp.clip(a, lo + 1e-9 if math.isfinite(lo) else None, hi - 1e-9)  # noqa: E731
        if self.model.kind == "radial":
            prev = (xp.full((n,), math.log(self.q_ref), dtype=xp.float64),)
            if not self.periodic:
                prev = (self._bcols[0][:, 0],)
            cols = []
            for _ in range(L):
                K = self.T.K(prev)
                x = clip(xp.log(K * rng.chisquare(float(N), (n,)) / N))
                cols.append(x)
                prev = (x,)
            return [xp.stack(cols, axis=1)]
        prev = (xp.full((n,), math.log(self.q_ref / 2), dtype=xp.float64),) * 2
        if not self.periodic:
            prev = (self._bcols[0][:, 0], self._bcols[1][:, 0])
        xs, vs, ks = [], [], []
        for _ in range(L):
            K = self.T.K(prev)
            k = xp.clip(rng.binomial(N, 0.5, (n,)), 1.0, float(N - 1))
            xu = clip(xp.log(K * rng.chisquare(k, (n,)) / N))
            xv = clip(xp.log(K * rng.chisquare(N - k, (n,)) / N))
            xs.append(xu), vs.append(xv), ks.append(k)
            prev = (xu, xv)
        return [xp.stack(xs, axis=1), xp.stack(vs, axis=1), xp.stack(ks, axis=1)]

    def set_state(self, state):
        """Set the configuration of every chain: ``{"q"}`` or ``{"u", "v", "k"}``, arrays ``(n_chains, L)``.

        Values are validated like :func:`collective_action` and must lie in the box ``log_bounds``.
        """
        xp = self.xp
        keys = ("q",) if self.model.kind == "radial" else ("u", "v", "k")
        arrs = []
        for key in keys:
            if key not in state:
                raise ValueError(f"state must give {keys} for the {self.model.kind} model, got {sorted(state)}")
            a = xp.asarray(state[key], dtype=xp.float64)
            if a.shape != (self.n_chains, self.L):
                raise ValueError(f"state[{key!r}] must have shape (n_chains, length) = {(self.n_chains, self.L)}, got {a.shape}")
            arrs.append(a)
        if self.model.kind == "orthant":
            k = arrs[2]
            if not bool(xp.all((k >= 1) & (k <= self.N - 1) & (k == xp.round(k)))):
                raise ValueError(f"state['k'] must be integers in [1, width-1 = {self.N - 1}]")
        for key, a in zip(keys, arrs):
            if key != "k" and not bool(xp.all((a > 0) & xp.isfinite(a))):
                raise ValueError(f"state[{key!r}] must be finite and > 0")
        new = [xp.log(a) for a in arrs[:2 if self.model.kind == "orthant" else 1]]
        if self.model.kind == "orthant":
            new.append(arrs[2])
        if not bool(xp.all(self._in_box(new[:2] if self.model.kind == "orthant" else new))):
            raise ValueError(f"state must lie inside log_bounds = {self.log_bounds}")
        self.state = new
        self._t = self._all_terms(self.state)

    # ---------------------------------------------------------------- action pieces
    def _prevs(self, state):
        xp = self.xp
        if self.model.kind == "radial":
            return (_prev(xp, state[0], None if self.periodic else self._bcols[0]),)
        return tuple(_prev(xp, state[i], None if self.periodic else self._bcols[i]) for i in (0, 1))

    def _all_terms(self, state):
        return self.T.terms(tuple(state), self.T.K(self._prevs(state)), jacobian=True)

    def action(self, state=None):
        """Current log-variable action :math:`S_{\\log}` per chain, shape ``(n_chains,)``."""
        return self.xp.sum(self._all_terms(self.state if state is None else state), axis=1)

    def _site_delta(self, dt):
        """Change of the action attributable to each site: terms l and l+1 (see checkerboard)."""
        xp = self.xp
        if self.L == 1:
            return dt
        if self.periodic:
            return dt + _next(xp, dt)
        zero = xp.zeros((dt.shape[0], 1), dtype=xp.float64)
        return dt + xp.concat([dt[:, 1:], zero], axis=1)

    def _in_box(self, xs):
        lo, hi = self.log_bounds
        ok = None
        for x in xs:
            o = (x <= hi) & (x >= lo)
            ok = o if ok is None else ok & o
        return ok

    def _exp1(self, shape):
        return self.rng.chisquare(2.0, shape) / 2.0

    def _metropolis_sites(self, new_state, mask, kind):
        """Accept/reject a proposal that changed only the sites of ``mask`` (one colour)."""
        xp = self.xp
        t_new = self._all_terms(new_state)
        dS = self._site_delta(t_new - self._t)
        nxs = [new_state[0]] if self.model.kind == "radial" else [new_state[0], new_state[1]]
        ok = self._in_box(nxs) & xp.isfinite(dS)
        acc = mask & ok & (dS < self._exp1(dS.shape))
        self.state = [xp.where(acc, a, b) for a, b in zip(new_state, self.state)]
        if self.periodic:
            touched = acc | _prev(xp, acc, None) if self.L > 1 else acc
        else:
            fals = xp.zeros((acc.shape[0], 1), dtype=xp.bool)
            touched = acc | xp.concat([fals, acc[:, :-1]], axis=1)
        self._t = xp.where(touched, t_new, self._t)
        n_prop = float(xp.sum(xp.astype(xp.broadcast_to(mask, acc.shape), xp.float64)))
        self.proposed[kind] += n_prop
        self.accepted[kind] += float(xp.sum(xp.astype(acc, xp.float64)))
        return acc

    # ---------------------------------------------------------------- moves
    def local_move(self, colour):
        """Log random walk on the continuous variables of the sites of one colour."""
        xp, h = self.xp, self.step["local"]
        mask = self._colours[colour]
        shape = (self.n_chains, self.L)
        new = list(self.state)
        new[0] = xp.where(mask, self.state[0] + h * self.rng.standard_normal(shape), self.state[0])
        if self.model.kind == "orthant":
            new[1] = xp.where(mask, self.state[1] + h * self.rng.standard_normal(shape), self.state[1])
        return self._metropolis_sites(new, mask, "local")

    def k_move(self, colour):
        """Orthant model: ``k -> k + Delta`` with ``u, v`` rescaled by ``k'/k``, ``(N-k')/(N-k)``."""
        if self.model.kind != "orthant":
            raise ValueError("k_move needs the orthant model (activation relu / leaky_relu_*)")
        xp, N = self.xp, self.N
        mask = self._colours[colour]
        shape = (self.n_chains, self.L)
        g = self.rng.standard_normal(shape)
        delta = xp.sign(g) * xp.ceil(xp.abs(g) * self.step["kmove"])
        xu, xv, k = self.state
        k2 = k + delta
        valid = mask & (k2 >= 1) & (k2 <= N - 1)
        k2 = xp.where(valid, k2, k)
        xu2 = xp.where(valid, xu + xp.log(k2 / k), xu)
        xv2 = xp.where(valid, xv + xp.log((N - k2) / (N - k)), xv)
        acc = self._metropolis_sites([xu2, xv2, k2], valid, "kmove")
        # proposals falling outside [1, N-1] count as proposed and rejected
        self.proposed["kmove"] += float(xp.sum(xp.astype(mask & ~valid, xp.float64)))
        return acc

    def global_move(self):
        """Shift every log variable of a chain by a common ``delta`` (the scale / zero mode)."""
        xp = self.xp
        d = self.step["global"] * self.rng.standard_normal((self.n_chains, 1))
        new = list(self.state)
        new[0] = self.state[0] + d
        if self.model.kind == "orthant":
            new[1] = self.state[1] + d
        t_new = self._all_terms(new)
        dS = xp.sum(t_new - self._t, axis=1)
        nxs = new[:1] if self.model.kind == "radial" else new[:2]
        ok = xp.all(self._in_box(nxs), axis=1) & xp.isfinite(dS)
        acc = ok & (dS < self._exp1(dS.shape))
        acc2 = acc[:, None]
        self.state = [xp.where(acc2, a, b) for a, b in zip(new, self.state)]
        self._t = xp.where(acc2, t_new, self._t)
        self.proposed["global"] += float(self.n_chains)
        self.accepted["global"] += float(xp.sum(xp.astype(acc, xp.float64)))
        return acc

    def sweep(self):
        """One sweep: every colour (local move, then k move), then a global move."""
        for c in range(len(self._colours)):
            self.local_move(c)
            if self.model.kind == "orthant":
                self.k_move(c)
        self.global_move()

    def acceptance(self):
        """Acceptance rate of each move type since the last reset."""
        return {k: (self.accepted[k] / self.proposed[k] if self.proposed[k] else float("nan")) for k in self.step}

    def reset_counters(self):
        self.accepted = {k: 0.0 for k in self.step}
        self.proposed = {k: 0.0 for k in self.step}

    def tune(self, n_sweeps):
        """Burn-in with Robbins–Monro step-size adaptation (steps frozen afterwards)."""
        n_sweeps = check_int(n_sweeps, "n_sweeps", minimum=0)
        for t in range(n_sweeps):
            self.reset_counters()
            self.sweep()
            gain = 1.0 / (1.0 + t) ** 0.6
            for k, rate in self.acceptance().items():
                if rate == rate:  # not NaN
                    self.step[k] *= math.exp(gain * (rate - self.TARGET[k]))
            self.step["kmove"] = max(self.step["kmove"], 0.5)
        self.reset_counters()

    # ---------------------------------------------------------------- observables
    def observables(self):
        """Per-site observables of the current state: ``q``, ``log_q``, ``G`` (and ``u``, ``v``, ``k``).

        ``G`` at site ``l`` is :math:`K_{l-1} = \\sigma_b^2 + \\sigma_w^2|\\phi(z^{l-1})|^2/N`, the conditional
        variance of a unit of site ``l`` (the boundary value feeds site 0 of an open chain).
        """
        xp = self.xp
        G = self.T.K(self._prevs(self.state))
        if self.model.kind == "radial":
            return {"q": xp.exp(self.state[0]), "log_q": self.state[0], "G": G}
        u, v = xp.exp(self.state[0]), xp.exp(self.state[1])
        return {"q": u + v, "log_q": xp.logaddexp(self.state[0], self.state[1]), "G": G, "u": u, "v": v,
                "k": self.state[2]}

    def kernel_input(self):
        """``K_l = sigma_w2 |phi(z^l)|^2/N + sigma_b2`` of each site (what feeds the next layer)."""
        return self.T.K(tuple(self.state[:2]) if self.model.kind == "orthant" else (self.state[0],))


# --------------------------------------------------------------------------------------------
# driver: validate and set up -> tune -> record chain sums -> estimates
# --------------------------------------------------------------------------------------------

#: Default number of recorded sweeps per chain of :func:`simulate_ring` (``simulate(method="mcmc")``).
DEFAULT_SWEEPS = 200

#: Observable names of the MCMC, in the vocabulary of :func:`statfield.simulate`.
RADIAL_OBSERVABLES = ("q", "log_q", "G")
ORTHANT_OBSERVABLES = ("q", "log_q", "G", "u", "v", "k")


class MCMCResult(dict):
    """``dict[str, Estimate]`` (array-valued: per site, or per lag for correlators) with ``.diagnostics``
    and ``.params``. ``result[name][i]`` is the estimate at site ``i`` (lag ``eft_lags[i]``)."""

    def __init__(self, estimates, diagnostics, params):
        super().__init__(estimates)
        self.diagnostics = diagnostics
        self.params = params

    def to_json(self) -> dict:
        """Plain JSON-serialisable dict (array-valued estimates as lists of per-site dicts)."""
        from .._io import to_jsonable

        return {"params": to_jsonable(self.params), "diagnostics": to_jsonable(self.diagnostics),
                "estimates": {k: [e.to_dict() for e in v] for k, v in self.items()}}


def _legacy_names(n_sweeps, n_tune, legacy):
    """Accept the former keyword names ``n_samples`` (= ``n_sweeps``) and ``burn_in`` (= ``n_tune``)."""
    import warnings

    meaning = {"n_samples": "independent samples", "burn_in": "leading layers left out of bulk averages"}
    for old, new in (("n_samples", "n_sweeps"), ("burn_in", "n_tune")):
        if old in legacy:
            if (n_sweeps if new == "n_sweeps" else n_tune) is not None:
                raise ValueError(f"give {new} or its former name {old}, not both")
            warnings.warn(f"simulate_mcmc: {old}= is renamed {new}= (package-wide, {old} means "
                          f"{meaning[old]})", DeprecationWarning, stacklevel=3)
            val = legacy.pop(old)
            if new == "n_sweeps":
                n_sweeps = val
            else:
                n_tune = val
    if legacy:
        raise ValueError(f"unexpected keyword arguments {sorted(legacy)}")
    if n_sweeps is None:
        raise ValueError("n_sweeps (recorded sweeps per chain, >= 2) must be given")
    return n_sweeps, n_tune


@dataclass
class _Setup:
    mc: CollectiveMCMC
    names: tuple
    n_sweeps: int
    n_tune: int
    thin: int
    lags: tuple
    field_map: object
    diag: dict


def _setup(activation, sigma_w2, sigma_b2, width, length, n_sweeps, seed, backend, n_chains, n_tune, thin,
           eft_lags, boundary, log_bounds, observables) -> _Setup:
    """Validate everything once and build the sampler (before any sweep)."""
    n_sweeps = check_int(n_sweeps, "n_sweeps (recorded sweeps per chain, formerly n_samples)", minimum=2)
    thin = check_int(thin, "thin", minimum=1)
    n_chains = check_int(n_chains, "n_chains", minimum=2)
    n_tune = max(200, n_sweeps * thin // 4) if n_tune is None else check_int(n_tune, "n_tune", minimum=0)
    lags = () if eft_lags is None else tuple(check_int(m, "eft_lags", minimum=0) for m in np.atleast_1d(eft_lags).tolist())
    mc = CollectiveMCMC(activation, width, sigma_w2, sigma_b2, length, n_chains=n_chains, boundary=boundary,
                        log_bounds=log_bounds, seed=seed, backend=backend)
    available = RADIAL_OBSERVABLES if mc.model.kind == "radial" else ORTHANT_OBSERVABLES
    if observables is None:
        names = available
    else:
        names = (observables,) if isinstance(observables, str) else tuple(observables)
        bad = [o for o in names if o not in available]
        if bad:
            raise ValueError(f"observables: {bad} not available for the {mc.model.kind} MCMC; choose from {list(available)}")
    field_map = None
    if lags:
        from .eft import FieldMap

        if not mc.periodic:
            raise ValueError("eft_lags: the MCMC EFT correlators are defined on the ring only (boundary=None)")
        if max(lags) > mc.L - 1:
            raise ValueError(f"eft_lags must be <= length - 1 = {mc.L - 1}, got {max(lags)}")
        field_map = FieldMap(mc.model.act, mc.sigma_w2, mc.sigma_b2, mc.N)  # uniform error for e.g. leaky ReLU
    diag = {"model": mc.model.kind, "periodic": mc.periodic, "log_bounds": list(mc.log_bounds),
            "n_tune": n_tune, "thin": thin, "n_chains": n_chains, "n_sweeps": n_sweeps}
    if mc.model.kind == "orthant":
        diag["excluded"] = (f"k in {{0, N}} excluded at every layer (network probability 2^(1-N) = "
                            f"{2.0 ** (1 - mc.N):.3g} per layer)")
    return _Setup(mc, tuple(names), n_sweeps, n_tune, thin, lags, field_map, diag)


class _ChainSums:
    """Per-chain running sums over recorded sweeps (on the backend): o and o^2 per site, site averages,
    lag products and mean fields of the EFT fields, and a trace of the site-averaged log q."""

    def __init__(self, s: _Setup):
        mc, xp = s.mc, s.mc.xp
        shape = (mc.n_chains, mc.L)
        self.S1 = {k: xp.zeros(shape, dtype=xp.float64) for k in s.names}
        self.S2 = {k: xp.zeros(shape, dtype=xp.float64) for k in s.names}
        self.R1 = {k: xp.zeros((mc.n_chains,), dtype=xp.float64) for k in s.names}
        self.R2 = {k: xp.zeros((mc.n_chains,), dtype=xp.float64) for k in s.names}
        self.max_lag = max(s.lags) if s.lags else 0
        d = len(s.field_map.names) if s.field_map is not None else 0
        self.Ss = xp.zeros((mc.n_chains, self.max_lag + 1, d, d), dtype=xp.float64) if d else None
        self.Sf = xp.zeros(shape + (d,), dtype=xp.float64) if d else None
        self.trace = np.empty((s.n_sweeps, min(mc.n_chains, 64)))
        self.near_box = 0.0

    def add(self, s: _Setup, i):
        mc, xp = s.mc, s.mc.xp
        obs = mc.observables()
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            for k in s.names:
                o = obs[k]
                self.S1[k] = self.S1[k] + o
                self.S2[k] = self.S2[k] + o * o
                if mc.periodic:
                    self.R1[k] = self.R1[k] + xp.mean(o, axis=1)
                    self.R2[k] = self.R2[k] + xp.mean(o * o, axis=1)
        from .backend import to_numpy

        self.trace[i] = to_numpy(xp.mean(obs["log_q"], axis=1))[: self.trace.shape[1]]
        self.near_box += float(xp.mean(xp.astype(xp.any(mc.state[0] > mc.log_bounds[1] - 1.0, axis=1), xp.float64)))
        if s.field_map is not None:
            f = s.field_map(obs, xp)  # (chains, L, d)
            prods = [xp.sum(f[:, :, :, None] * xp.roll(f, -m, axis=1)[:, :, None, :], axis=1) / mc.L
                     for m in range(self.max_lag + 1)]
            self.Ss = self.Ss + xp.stack(prods, axis=1)
            self.Sf = self.Sf + f


def _record(s: _Setup, progress) -> _ChainSums:
    from .._progress import progress_iter

    sums = _ChainSums(s)
    for i in progress_iter(range(s.n_sweeps), total=s.n_sweeps, desc="mcmc", unit="sweep", enabled=progress):
        for _ in range(s.thin):
            s.mc.sweep()
        sums.add(s, i)
    return sums


def _check_finite(name, A1, A2=None, what="site"):
    """``OverflowError`` naming the first site whose chain sums are not finite, or whose second moments
    left the float64 range (overflow to inf, or underflow to 0 / subnormal of a non-zero observable)."""
    bad = ~np.isfinite(A1)
    if A2 is not None:
        with np.errstate(invalid="ignore"):
            bad = bad | ~np.isfinite(A2) | ((A1 != 0) & (np.abs(A2) < np.finfo(np.float64).tiny))
    if bad.any():
        site = int(np.argmax(bad.reshape(bad.shape[0], -1).any(axis=0) if bad.ndim > 1 else bad))
        raise OverflowError(f"MCMC observable {name!r}: its moments leave the float64 range at {what} {site} "
                            f"(overflow or underflow of o^2, e.g. at extreme sigma_b2 or sigma_w2); request "
                            f"observables=('log_q',), which stays finite")


def _estimates(s: _Setup, sums: _ChainSums) -> dict:
    """Estimates from the chain sums; every chain counts once (``n`` = number of chains)."""
    from ..stats import Estimate, connected_lag_estimates, replica_mean_variance
    from .backend import to_numpy

    mc, ns = s.mc, s.n_sweeps
    est = {}
    for k in s.names:
        A1, A2 = to_numpy(sums.S1[k]) / ns, to_numpy(sums.S2[k]) / ns
        if k not in ("log_q", "k"):
            _check_finite(k, A1, A2)
        else:
            _check_finite(k, A1)
        est[k], est[f"{k}_var"] = replica_mean_variance(A1, A2)
        if k == "G":
            est["kurtosis"] = _kurtosis(A1, A2)
        if mc.periodic:
            a1, a2 = to_numpy(sums.R1[k])[:, None] / ns, to_numpy(sums.R2[k])[:, None] / ns
            est[f"{k}_avg"], est[f"{k}_var_avg"] = replica_mean_variance(a1, a2)
    if s.field_map is not None:
        names, d = s.field_map.names, len(s.field_map.names)
        Ss, Sf = to_numpy(sums.Ss) / ns, to_numpy(sums.Sf) / ns  # (chains, M+1, d, d), (chains, L, d)
        Sa = Sf.mean(axis=1)
        joint = np.concatenate([Ss.reshape(Ss.shape[0], -1), Sa], axis=1)
        _check_finite("eft fields", joint, what="lag/field")
        n = joint.shape[0]
        val, se = connected_lag_estimates(joint.mean(axis=0), np.cov(joint, rowvar=False).reshape(joint.shape[1], -1),
                                          n, sums.max_lag + 1, d, unbiased=True)
        lags = list(s.lags)
        est["eft_corr"] = Estimate(val[lags], se[lags], n)
        for i, fi in enumerate(names):
            for j, fj in enumerate(names):
                est[f"C_{fi}_{fj}"] = Estimate(val[lags, i, j], se[lags, i, j], n)
        est["eft_mean"] = Estimate(Sf.mean(axis=0), Sf.std(axis=0, ddof=1) / math.sqrt(n), n)
    return est


def _kurtosis(A1, A2):
    r"""Per-site :math:`\kappa = 3\,\mathrm{Var}\,G/(E G)^2` from per-chain averages of ``G`` and ``G²``
    (each chain once), delta-method error with the influence :math:`g_1 A_1 + g_2 A_2`."""
    from ..stats import Estimate

    n = A1.shape[0]
    c = A1.mean(axis=0)  # kappa is scale free: work with A1/c, A2/c^2 (no under/overflow of powers of m1)
    with np.errstate(divide="ignore", invalid="ignore"):
        a1, a2 = A1 / c, (A2 / c) / c
        m1, m2 = a1.mean(axis=0), a2.mean(axis=0)
        var = m2 - m1 ** 2 + a1.var(axis=0, ddof=1) / n
        value = 3.0 * var / m1 ** 2
        g1, g2 = -6.0 * m2 / m1 ** 3, 3.0 / m1 ** 2
        se = (g1 * a1 + g2 * a2).std(axis=0, ddof=1) / math.sqrt(n)
    return Estimate(value, se, n)


def _tau_diagnostics(s: _Setup, sums: _ChainSums, diag):
    import warnings

    from ..stats import integrated_time

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            tau = integrated_time(sums.trace)
        diag["tau_int_log_q"] = tau.to_dict()
        diag["tau_int_ln_q"] = diag["tau_int_log_q"]  # former name, kept for existing readers
        diag["tau_int_units"] = f"recorded sweeps (thin = {s.thin} sweeps)"
        diag["tau_int_reliable"] = bool(s.n_sweeps >= 50 * tau.value)
    except ValueError as exc:  # zero variance (e.g. a frozen chain)
        diag["tau_int_log_q"] = diag["tau_int_ln_q"] = f"undefined: {exc}"


def simulate_mcmc(activation, sigma_w2, sigma_b2, width, length, n_sweeps=None, seed=0, backend="numpy",
                  n_chains=64, n_tune=None, thin=1, eft_lags=None, boundary=None, log_bounds=None,
                  progress=False, observables=None, **legacy) -> MCMCResult:
    r"""MCMC of the collective action on a ring (or an open chain) at finite width.

    Parameters
    ----------
    activation : str or Activation
        Piecewise linear: radial model (:math:`\phi(z) = az`, e.g. ``"linear"``) or orthant model
        (:math:`a_+\ne a_-`, e.g. ``"relu"``, ``"leaky_relu_*"``), read from the activation object.
    sigma_w2, sigma_b2 : float
        :math:`W\sim N(0,\sigma_w^2/N)` (fan-in), :math:`b\sim N(0,\sigma_b^2)`.
    width : int
        :math:`N`.
    length : int
        Ring length :math:`L` (or number of free layers of an open chain).
    n_sweeps : int >= 2
        Recorded configurations per chain (after tuning, every ``thin`` sweeps). Former name ``n_samples``.
    seed, backend
        Seed (int or ``SeedSequence``) and array backend (``"numpy"``, ``"cupy"``, ``"array_api_strict"``).
    n_chains : int >= 2
        Independent chains run in parallel: the **independent samples**. Errors come from the spread of the
        per-chain time averages over chains (each chain counts once, ``n`` of every Estimate =
        ``n_chains``), which is honest whatever the autocorrelation as long as each chain is equilibrated.
    n_tune : int >= 0, optional
        Tuning + equilibration sweeps before recording (default ``max(200, n_sweeps * thin // 4)``).
        Former name ``burn_in``.
    thin : int
        Sweeps between recorded configurations.
    eft_lags : sequence of int, optional
        Lags :math:`m` of the connected ring correlators :math:`\langle\epsilon_l\epsilon_{l+m}\rangle_c` of the
        EFT fields (:mod:`statfield.fields`; all pairs), site-averaged. Default: none. Requested lags need
        the ring, an activation with EFT fields and parameters inside the large-N saddle's domain; otherwise
        a ``ValueError`` (the same message as :func:`statfield.simulate`, e.g. for leaky ReLU).
    boundary, log_bounds
        See :class:`CollectiveMCMC` (``boundary=None``: the ring; the ring needs a box, stated in the
        diagnostics).
    progress : bool
        Progress bar over recorded sweeps.
    observables : sequence of str, optional
        Subset of ``q, log_q, G`` (and ``u, v, k``) to record (default all); ``("log_q",)`` stays finite
        where the moments of ``q`` overflow float64.

    Returns
    -------
    MCMCResult
        ``dict[str, Estimate]`` in the vocabulary of :func:`statfield.simulate`: per site ``"q"``,
        ``"log_q"``, ``"G"`` (the conditional variance :math:`K_{l-1}` of a unit of site ``l``) and ``"u"``,
        ``"v"``, ``"k"``; their variances ``"<name>_var"`` (so ``"G_var"``) and ``"kurtosis"``
        (:math:`3\,\mathrm{Var}\,G/(EG)^2`); ring only the site averages ``"<name>_avg"``,
        ``"<name>_var_avg"`` (one-element; valid by translation invariance); with ``eft_lags``:
        ``"eft_corr"`` (lags × F × F), ``"C_<f1>_<f2>"`` (per lag) and ``"eft_mean"`` (sites × F).
        ``.diagnostics``: acceptance rates, step sizes, :math:`\tau_\mathrm{int}` (in recorded sweeps) of
        the site-averaged :math:`\ln q`, box, exclusions.

    Raises
    ------
    ValueError
        Bad parameters (named), EFT correlators requested where they are not defined.
    OverflowError
        The moments of an observable overflow float64 (names the observable and the site).
    """
    n_sweeps, n_tune = _legacy_names(n_sweeps, n_tune, dict(legacy))
    s = _setup(activation, sigma_w2, sigma_b2, width, length, n_sweeps, seed, backend, n_chains, n_tune, thin,
               eft_lags, boundary, log_bounds, observables)
    s.mc.tune(s.n_tune)
    s.diag["step_sizes"] = dict(s.mc.step)
    sums = _record(s, progress)
    est = _estimates(s, sums)
    s.diag["acceptance"] = s.mc.acceptance()
    s.diag["near_upper_box_fraction"] = sums.near_box / s.n_sweeps
    _tau_diagnostics(s, sums, s.diag)
    if s.field_map is not None:
        s.diag["eft_fields"] = list(s.field_map.names)
        s.diag["eft_lags"] = list(s.lags)
    mc = s.mc
    params = {"activation": mc.model.name, "sigma_w2": mc.sigma_w2, "sigma_b2": mc.sigma_b2, "width": mc.N,
              "length": mc.L, "n_sweeps": s.n_sweeps, "n_chains": mc.n_chains, "n_tune": s.n_tune, "thin": s.thin,
              "seed": seed if isinstance(seed, int) else str(seed), "backend": str(getattr(mc.xp, "__name__", mc.xp)),
              "method": "mcmc"}
    return MCMCResult(est, s.diag, params)


#: The names of :func:`simulate_mcmc` that :func:`statfield.simulate` reports (its shared vocabulary).
SHARED_NAMES = ("q", "log_q", "G", "G_var", "kurtosis", "u", "v", "k", "eft_mean", "eft_corr")


def simulate_ring(activation, sigma_w2, sigma_b2, width, depth, n_samples, seed=0, backend="numpy",
                  eft_lags=None, burn_in=None, observables=None, progress=False, t0=None, n_sweeps=DEFAULT_SWEEPS,
                  n_tune=None, thin=1, boundary=None, log_bounds=None, **unexpected):
    """``statfield.simulate(..., method="mcmc")``: the ring with ``n_samples`` independent chains.

    Returns a :class:`statfield.sampling.SimulationResult` with the observable names of the exact samplers
    (``q``, ``log_q``, ``G``, ``G_var``, ``kurtosis``, ``u``, ``v``, ``k``, ``eft_mean``, ``eft_corr``;
    site ``i`` in place of layer ``i + 1``). ``burn_in`` counts leading layers and must be 0 or None here.
    """
    import time

    from .backend import backend_name, get_namespace
    from .plan import _widths
    from .result import SimulationResult

    t0 = time.perf_counter() if t0 is None else t0
    if unexpected:
        raise ValueError(f"unexpected keyword arguments {sorted(unexpected)} for method='mcmc' (options: n_sweeps, "
                         "n_tune, thin, boundary, log_bounds)")
    depth = check_int(depth, "depth", minimum=1)
    widths = _widths(width, depth)
    if len(set(widths)) != 1:
        raise ValueError("width: method='mcmc' needs a single width (the periodic chain is homogeneous)")
    n_samples = check_int(n_samples, "n_samples", minimum=2)
    seed = check_int(seed, "seed", minimum=0)
    if burn_in not in (None, 0):
        raise ValueError(f"burn_in must be 0 for method='mcmc' (it counts leading layers; the ring has none); "
                         f"MCMC equilibration sweeps are n_tune=, got burn_in={burn_in!r}")
    bname = backend_name(get_namespace(backend))
    want = None if observables is None else ((observables,) if isinstance(observables, str) else tuple(observables))
    record = None
    if want is not None:
        record = tuple(dict.fromkeys(("G" if o in ("G_var", "kurtosis") else o) for o in want
                                     if o not in ("eft_mean", "eft_corr")))
    res = simulate_mcmc(activation, sigma_w2, sigma_b2, widths[0], depth, n_sweeps, seed=seed, backend=bname,
                        n_chains=n_samples, n_tune=n_tune, thin=thin, eft_lags=eft_lags, boundary=boundary,
                        log_bounds=log_bounds, progress=progress, observables=record or None)
    names = [k for k in SHARED_NAMES if k in res and (want is None or k in want or k in ("eft_mean", "eft_corr"))]
    from .._io import to_jsonable

    parameters = {"activation": res.params["activation"], "sigma_w2": float(sigma_w2), "sigma_b2": float(sigma_b2),
                  "widths": list(widths), "widths_summary": widths[0], "depth": depth, "length": depth,
                  "n_samples": n_samples, "method": "mcmc", "backend": bname, "n_sweeps": res.params["n_sweeps"],
                  "n_tune": res.params["n_tune"], "thin": res.params["thin"],
                  "eft_lags": None if eft_lags is None else list(res.diagnostics.get("eft_lags", [])),
                  "boundary": to_jsonable(boundary), "log_bounds": to_jsonable(res.diagnostics["log_bounds"])}
    return SimulationResult(estimates={k: res[k] for k in names}, parameters=parameters, method="mcmc",
                            backend=bname, seed=seed, elapsed_s=time.perf_counter() - t0,
                            diagnostics=to_jsonable(res.diagnostics))

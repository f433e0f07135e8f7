r"""EFT fields inside the samplers: dispatch on the activation object, and streaming lagged correlators.

* :func:`collective_kind` — ``"radial"`` (:math:`\phi(z) = az`, variable ``q``), ``"orthant"``
  (piecewise linear with :math:`a_+\ne a_-`, variables ``u, v, k``) or ``None``, read from the activation
  object (``act.collective``), never from its name;
* :func:`require_eft` — the one check (and the one error message) for activations whose EFT fields are
  not implemented (e.g. leaky ReLU), used by :func:`statfield.simulate` and the MCMC alike;
* :class:`FieldMap` — the field map of :mod:`statfield.fields`, validated once (activation, saddle
  domain, width) and then applied to batches of observables;
* :func:`eft_stream` — wraps a single-input block sampler so that it also yields the per-layer mean
  fields and, once per block, the per-network lag products and bulk means of the fields, **streamed**
  over layers (memory ``O(n (window + max lag) F)``, independent of the depth).

Field definitions, normalisations and the saddle point: ``docs/conventions.md`` and :mod:`statfield.fields`.
"""

from __future__ import annotations

import numpy as np

from .backend import to_numpy

__all__ = ["collective_kind", "collective_variables", "require_eft", "FieldMap", "eft_stream", "EFT_WINDOW"]

#: Layers whose observables are converted to fields at once by :func:`eft_stream`.
EFT_WINDOW = 256


def collective_kind(act):
    """``"radial"``, ``"orthant"`` or ``None`` (no exact collective-coordinate reduction): ``act.collective.kind``."""
    cm = act.collective
    return None if cm is None else cm.kind


def collective_variables(act) -> tuple:
    """The collective variables ``act.collective.variables``: ``("q",)`` or ``("u", "v", "k")``.

    Raises the registry's uniform ``ValueError`` for activations without a collective reduction.
    """
    from ..activations import require_collective

    return tuple(require_collective(act).variables)


def require_eft(act):
    """The :class:`~statfield.activations.CollectiveModel` of an activation whose EFT fields are implemented.

    Raises the registry's one ``ValueError`` (:class:`~statfield.activations.UnsupportedActivationError`)
    otherwise — the same message in :func:`statfield.simulate`, the MCMC, :mod:`statfield.fields` and the
    symbolic EFT (e.g. for leaky ReLU or tanh).
    """
    from ..activations import require_collective

    return require_collective(act, eft=True)


class FieldMap:
    """The EFT field map ``observables -> (..., F)`` of an activation, validated once.

    Parameters
    ----------
    act : Activation
    sigma_w2, sigma_b2 : float
    width : int
        :math:`N` (the same at every layer).

    Raises
    ------
    ValueError
        :func:`require_eft` fails, or the parameters lie outside the large-N saddle's domain
        (e.g. ``sigma_w2`` at or above the critical value, ``sigma_b2 = 0``).
    """

    def __init__(self, act, sigma_w2, sigma_b2, width):
        from .. import fields as fields_mod

        cm = require_eft(act)
        self._fields, self.act = fields_mod, act
        self.names, self.variables = tuple(cm.field_names), tuple(cm.variables)
        fields_mod.saddle_point(act, sigma_w2, sigma_b2, width)  # ValueError outside the saddle's domain
        self.sigma_w2, self.sigma_b2, self.width = sigma_w2, sigma_b2, width

    def __call__(self, observables, xp=np):
        """Fields of ``observables`` (arrays of one shape ``S``) stacked on a last axis: shape ``S + (F,)``."""
        f = self._fields.fields(self.act, observables, self.sigma_w2, self.sigma_b2, self.width)
        return xp.stack([f[k] for k in self.names], axis=-1)


def eft_stream(sample_block, field_map: FieldMap, lags, burn_in, depth, window=EFT_WINDOW):
    r"""Wrap a single-input block sampler: also yield EFT fields, streamed over layers.

    Yields every record of ``sample_block`` unchanged, the per-layer fields as ``{"eft_mean": (n, F)}``
    records (in windows of ``window`` layers) and, at the end of the block, one
    ``{"joint:eft": (n, n_lags*F*F + F)}`` record per network: the lag products
    :math:`S_m = \frac1{n_b}\sum_{l\in\text{bulk}}\epsilon_l\epsilon_{l+m}^\top` over the bulk layers
    :math:`l = \text{burn\_in}+1, \dots, L - m_\max` (:math:`n_b` of them, the same for every lag) and the bulk
    mean field :math:`a = \text{mean}_{l>\text{burn\_in}}\epsilon_l`, from which
    :func:`statfield.stats.connected_lag_estimates` forms the connected correlators.
    """
    lags = tuple(int(m) for m in lags)
    mmax, first = max(lags), int(burn_in)
    n_bulk = depth - first - mmax
    need = field_map.variables

    def wrapped(rng, n):
        F = len(field_map.names)
        state = {"S": np.zeros((n, len(lags), F, F)), "A": np.zeros((n, F)), "hist": np.zeros((n, 0, F)),
                 "base": 0, "layer": 0}
        buf = []

        def flush():
            obs = {k: np.stack([b[k] for b in buf], axis=1) for k in need}  # (n, W)
            E = np.asarray(field_map(obs), dtype=np.float64)  # (n, W, F)
            W = E.shape[1]
            for j in range(W):
                yield {"eft_mean": E[:, j]}
            allE = np.concatenate([state["hist"], E], axis=1)
            base, lo = state["base"], state["layer"]
            hi = lo + W
            for i, m in enumerate(lags):  # pairs (l, l + m), l in the bulk, l + m among the new layers
                j0, j1 = max(lo, first + m), min(hi, first + n_bulk + m)
                if j1 > j0:
                    state["S"][:, i] += np.einsum("nla,nlb->nab", allE[:, j0 - m - base:j1 - m - base],
                                                  allE[:, j0 - base:j1 - base])
            j0 = max(lo, first)
            if hi > j0:
                state["A"] += E[:, j0 - lo:].sum(axis=1)
            keep = min(mmax, allE.shape[1])
            state["hist"] = allE[:, allE.shape[1] - keep:]
            state["base"] = base + allE.shape[1] - keep
            state["layer"] = hi
            buf.clear()

        for rec in sample_block(rng, n):
            buf.append({k: np.asarray(to_numpy(rec[k]), dtype=np.float64) for k in need})
            yield rec
            if len(buf) == window:
                yield from flush()
        if buf:
            yield from flush()
        S = state["S"].reshape(n, -1) / n_bulk
        A = state["A"] / (depth - first)
        yield {"joint:eft": np.concatenate([S, A], axis=1)}

    return wrapped

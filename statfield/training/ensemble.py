r"""Full-batch gradient descent of many finite-width networks at once, with streaming estimates and error bars.

Each network is drawn at initialisation as in ``docs/conventions.md`` (fan-in variances ``sigma_w2``, ``sigma_b2``)
and trained in the **NTK parameterisation** (:mod:`statfield.training.empirical`) on

.. math:: \mathcal L = \tfrac12\sum_{\mu=1}^{P}(f(x_\mu) - y_\mu)^2,\qquad
          \theta\leftarrow\theta - \eta\,\partial\mathcal L/\partial\theta

(the convention of :func:`statfield.training.gradient_descent_mse`, to which the ensemble converges as the width
grows: Lee et al. 2019, arXiv:1902.06720). The gradient is the explicit backward pass
:math:`\partial\mathcal L/\partial\omega^l = \sqrt{\sigma_w^2/N_{l-1}}\,\delta^l h^{l-1\top}`,
:math:`\partial\mathcal L/\partial\beta^l = \sigma_b\sum_\mu\delta^l_\mu` with the output seed
:math:`\delta^L_\mu = f(x_\mu) - y_\mu`; no autodiff framework.

Randomness and reproducibility (as :func:`statfield.simulate`): the ``n_networks`` networks are cut into blocks of
``block_size``; block ``b`` draws its initial parameters from ``SeedSequence(seed, spawn_key=(b,))`` on the
backend's own generator, and its networks are trained together (vectorised over the block). Per-block
accumulators are merged in block order, so the numbers do not depend on ``chunk_size`` (the checkpoint interval)
or on interruptions (``checkpoint=path`` resumes). Memory: one block of networks plus accumulators of size
:math:`O(S P_*^2 + P^2)` — independent of ``n_networks``.

Divergence: a network whose training loss becomes non-finite or exceeds ``divergence_factor`` times
:math:`(1 + \mathcal L_0)` is *diverged*; it is frozen, counted (``n_diverged``) and left out of **every**
estimate (all steps), never averaged in as NaN. The estimates are then conditional on not diverging.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass, field

import numpy as np

from .._checks import check_int, check_positive, check_variances
from ..activations import get_activation
from ..stats import CovarianceAccumulator, Estimate, MomentAccumulator
from .empirical import (
    backward,
    forward,
    init_parameters,
    network_widths,
    ntk_from_pass,
    parameter_count,
)
from .linearized import _matrix, _targets

__all__ = ["CHECKPOINT_FORMAT", "EnsembleResult", "train_ensemble"]

CHECKPOINT_FORMAT = "statfield-train-checkpoint-1"


def _version():
    import statfield

    return getattr(statfield, "__version__", "unknown")


@dataclass
class EnsembleResult:
    r"""Estimates (with standard errors across independent networks) at each requested step.

    ``estimates`` maps a name to a list over ``steps`` of :class:`statfield.stats.Estimate`:

    * ``"mean"`` — :math:`E f_t(X_*)`, value and stderr of shape (P_test,);
    * ``"cov"`` — :math:`\mathrm{Cov} f_t(X_*)` across networks, (P_test, P_test), stderr from the fourth moments;
    * ``"loss"`` — :math:`E\mathcal L_t`;
    * ``"ntk_change"`` — :math:`E\,\|\hat\Theta_t - \hat\Theta_0\|_F/\|\hat\Theta_0\|_F` of each network's empirical NTK
      on the training inputs (0 at step 0);

    and ``ntk_init`` is one Estimate (P, P) of the mean empirical NTK at initialisation on the training inputs.
    """

    steps: np.ndarray
    estimates: dict
    ntk_init: Estimate
    n_networks: int
    n_diverged: int
    parameters: dict
    elapsed_s: float = 0.0
    resumed_blocks: int = 0
    version: str = field(default_factory=_version)

    @property
    def n_used(self) -> int:
        """Networks behind the estimates (``n_networks - n_diverged``)."""
        return self.n_networks - self.n_diverged

    def __getitem__(self, name):
        return self.estimates[name]

    def value(self, name) -> np.ndarray:
        """Values of ``name`` stacked over steps."""
        return np.array([e.value for e in self.estimates[name]], dtype=float)

    def stderr(self, name) -> np.ndarray:
        """Standard errors of ``name`` stacked over steps."""
        return np.array([e.stderr for e in self.estimates[name]], dtype=float)

    def zscores(self, theory) -> dict:
        r"""z-scores of the ensemble against an infinite-width :class:`~statfield.training.TrainingPrediction`
        evaluated at the same ``t = steps``: ``{"mean": (S, P_test), "cov": (S, P_test, P_test)}``."""
        tt = np.asarray(theory.t, dtype=float)
        if tt.shape != self.steps.shape or not np.array_equal(tt, self.steps.astype(float)):
            raise ValueError("theory must be evaluated at t = result.steps")
        with np.errstate(divide="ignore", invalid="ignore"):
            zm = (self.value("mean") - theory.mean) / self.stderr("mean")
            zc = (self.value("cov") - theory.cov) / self.stderr("cov")
        return {"mean": zm, "cov": zc}

    def to_json(self) -> dict:
        from .._io import to_jsonable

        return to_jsonable({
            "statfield_version": self.version, "steps": self.steps, "parameters": self.parameters,
            "n_networks": self.n_networks, "n_diverged": self.n_diverged, "elapsed_s": self.elapsed_s,
            "conventions": ("NTK parameterisation, W ~ N(0, sigma_w2/N_{l-1}) at init (fan-in), b ~ N(0, sigma_b2); "
                            "loss 1/2 sum_mu (f - y)^2; theta <- theta - lr dL/dtheta; estimates over non-diverged "
                            "networks"),
            "estimates": {k: [e.to_dict() if np.ndim(e.value) == 0 else
                              {"value": np.asarray(e.value), "stderr": np.asarray(e.stderr), "n": e.n} for e in v]
                          for k, v in self.estimates.items()},
            "ntk_init": {"value": np.asarray(self.ntk_init.value), "stderr": np.asarray(self.ntk_init.stderr),
                         "n": self.ntk_init.n},
        })


# ---------------------------------------------------------------------------------------------- one block
def _train_block(rng, n, act, sw, sb, widths, X, y, Xs, steps, eta, div_factor, xp):
    """Train ``n`` networks; per-network records at ``steps`` and the divergence mask (NumPy)."""
    from ..sampling.backend import to_numpy

    d_in = X.shape[1]
    params = init_parameters(rng, n, widths, d_in)
    bufs = None
    if isinstance(params[0][0], np.ndarray):
        params = [(np.ascontiguousarray(W), np.ascontiguousarray(b)) for W, b in params]
        bufs = [np.empty_like(W) for W, _ in params]
    Xa, Xsa, ya = xp.asarray(X), xp.asarray(Xs), xp.asarray(y)
    S = len(steps)
    out = np.zeros((n, S, Xs.shape[0]))
    loss = np.zeros((n, S))
    dntk = np.zeros((n, S))
    theta0 = None
    diverged = np.zeros(n, dtype=bool)
    loss0 = None
    want = {int(s): i for i, s in enumerate(steps)}
    sqb = math.sqrt(sb)
    last = int(steps[-1])
    k = 0
    while True:
        with np.errstate(over="ignore", invalid="ignore"):
            zs, hs = forward(params, Xa, act, sw, sb, xp)
            r = zs[-1][:, 0, :] - ya[None, :]
            L = 0.5 * xp.sum(r * r, axis=1)
        Ln = np.asarray(to_numpy(L), dtype=float)
        if loss0 is None:
            loss0 = Ln.copy()
        with np.errstate(invalid="ignore"):
            bad = ~np.isfinite(Ln) | (Ln > div_factor * (1.0 + loss0))
        new = bad & ~diverged
        if new.any():
            diverged |= new
            keep = xp.asarray((~diverged).astype(np.float64))
            params = [(W * keep[:, None, None], b * keep[:, None, None]) for W, b in params]
            params = [(xp.where(xp.isfinite(W), W, 0.0), xp.where(xp.isfinite(b), b, 0.0)) for W, b in params]
            zs, hs = forward(params, Xa, act, sw, sb, xp)
            r = zs[-1][:, 0, :] - ya[None, :]
        if k == 0 or k in want:
            with np.errstate(over="ignore", invalid="ignore"):
                th = np.asarray(to_numpy(ntk_from_pass(hs, backward(params, zs, act, sw, xp), sw, sb, xp)),
                                dtype=float)
            if theta0 is None:  # the NTK at initialisation, whether or not step 0 is reported
                theta0 = th
        if k in want:
            i = want[k]
            loss[:, i] = np.where(diverged, 0.0, Ln)
            with np.errstate(over="ignore", invalid="ignore"):
                zt, _ = forward(params, Xsa, act, sw, sb, xp)
                out[:, i, :] = np.asarray(to_numpy(zt[-1][:, 0, :]), dtype=float)
            norm0 = np.sqrt(np.sum(theta0 * theta0, axis=(1, 2)))
            with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
                dntk[:, i] = np.sqrt(np.sum((th - theta0) ** 2, axis=(1, 2))) / norm0
        if k >= last:
            break
        if diverged.any():
            r = r * xp.asarray((~diverged).astype(np.float64))[:, None]
        with np.errstate(over="ignore", invalid="ignore"):
            deltas = backward(params, zs, act, sw, xp, seed=r)
            if bufs is not None:  # NumPy: in-place rank-P update, no per-step allocation of weight-sized arrays
                for l, ((W, b), d) in enumerate(zip(params, deltas)):
                    buf = bufs[l]
                    np.matmul(d, np.swapaxes(hs[l], -1, -2), out=buf)
                    buf *= eta * math.sqrt(sw / W.shape[2])
                    W -= buf
                    b -= (eta * sqb) * np.sum(d, axis=2, keepdims=True)
            else:
                new_params = []
                for l, ((W, b), d) in enumerate(zip(params, deltas)):
                    step_W = xp.matmul(d, xp.matrix_transpose(hs[l])) * (eta * math.sqrt(sw / W.shape[2]))
                    new_params.append((W - step_W, b - (eta * sqb) * xp.sum(d, axis=2, keepdims=True)))
                params = new_params
        k += 1
    ok = ~diverged & np.all(np.isfinite(out), axis=(1, 2)) & np.all(np.isfinite(dntk), axis=1)
    ok &= np.all(np.isfinite(theta0), axis=(1, 2))
    return out, loss, dntk, theta0, ~ok


class _Accs:
    def __init__(self, S, Ps, P):
        self.out = [CovarianceAccumulator(Ps) for _ in range(S)]
        self.loss = MomentAccumulator((S,))
        self.dntk = MomentAccumulator((S,))
        self.theta0 = MomentAccumulator((P, P))
        self.n_diverged = 0

    def add(self, out, loss, dntk, theta0, diverged):
        keep = ~diverged
        self.n_diverged += int(diverged.sum())
        if keep.any():
            for i, acc in enumerate(self.out):
                acc.update(out[keep, i, :])
            self.loss.update(loss[keep])
            self.dntk.update(dntk[keep])
            self.theta0.update(theta0[keep])

    def state(self):
        st = {"n_diverged": np.asarray(self.n_diverged)}
        for i, acc in enumerate(self.out):
            st.update({f"out{i}__{k}": v for k, v in acc.state().items()})
        for name in ("loss", "dntk", "theta0"):
            st.update({f"{name}__{k}": v for k, v in getattr(self, name).state().items()})
        return st

    def load(self, f):
        self.n_diverged = int(f["n_diverged"])
        for i in range(len(self.out)):
            pre = f"out{i}__"
            self.out[i] = CovarianceAccumulator.from_state({k[len(pre):]: f[k] for k in f.files if k.startswith(pre)})
        for name in ("loss", "dntk", "theta0"):
            pre = f"{name}__"
            setattr(self, name, MomentAccumulator.from_state({k[len(pre):]: f[k] for k in f.files
                                                              if k.startswith(pre)}))


def _save(path, meta, done, accs):
    from .._io import atomic_write

    arrays = {"format": np.asarray(CHECKPOINT_FORMAT), "meta": np.asarray(json.dumps(meta, sort_keys=True)),
              "finished_blocks": np.asarray(done, dtype=np.int64)}
    arrays.update(accs.state())
    atomic_write(path, lambda fh: np.savez(fh, **arrays))


def _load(path, meta, accs):
    with np.load(path, allow_pickle=False) as f:
        if "format" not in f.files or str(f["format"]) != CHECKPOINT_FORMAT:
            raise ValueError(f"checkpoint: {os.fspath(path)!r} is not a statfield training checkpoint")
        old = json.loads(str(f["meta"]))
        if old != meta:
            diffs = [f"{k}: checkpoint {old.get(k)!r} vs requested {meta.get(k)!r}"
                     for k in sorted(set(old) | set(meta)) if old.get(k) != meta.get(k)]
            raise ValueError(f"checkpoint: refusing to resume {os.fspath(path)!r}, its parameters differ: "
                             + "; ".join(diffs))
        accs.load(f)
        return int(f["finished_blocks"])


def _mean_se(acc):
    return np.array(acc.mean, dtype=float), np.sqrt(np.asarray(acc.variance, dtype=float) / max(acc.n, 1))


# ---------------------------------------------------------------------------------------------- public
def train_ensemble(activation, sigma_w2, sigma_b2, width, depth, X_train, y_train, X_test, steps, n_networks,
                   learning_rate, seed=0, backend="numpy", *, block_size=None, chunk_size=None, checkpoint=None,
                   progress=False, divergence_factor=1e6) -> EnsembleResult:
    r"""Train ``n_networks`` independent finite-width networks by full-batch gradient descent; estimate the
    ensemble's test outputs, loss and NTK change at each requested step.

    Parameters
    ----------
    activation : str or Activation
    sigma_w2 : float > 0
        Weight variance per fan-in at initialisation.
    sigma_b2 : float >= 0
        Bias variance.
    width : int >= 1 or sequence of ``depth - 1`` ints
        Hidden widths (the output layer has one unit).
    depth : int >= 1
        Dense layers :math:`L`; the output is :math:`f = z^L`.
    X_train : array (P, d_in)
    y_train : array (P,)
    X_test : array (P_test, d_in)
    steps : int or sequence of ints >= 0
        Step counts at which to record (sorted, duplicates removed); training runs to ``max(steps)``.
    n_networks : int >= 2
        Independent networks.
    learning_rate : float > 0
        :math:`\eta` of :math:`\theta\leftarrow\theta - \eta\,\partial\mathcal L/\partial\theta`,
        :math:`\mathcal L = \tfrac12\sum_\mu (f(x_\mu) - y_\mu)^2` (same as ``gradient_descent_mse``). Above the
        stability limit networks diverge and are counted, not averaged.
    seed : int >= 0
        Root seed; block ``b`` uses ``SeedSequence(seed, spawn_key=(b,))``.
    backend : {"numpy", "cupy", "array_api_strict"} or module
    block_size : int >= 1, optional
        Networks trained together (the unit of randomness; default from the memory of one network, at most 256).
    chunk_size : int >= 1, optional
        Networks between checkpoints (rounded down to whole blocks); never changes the numbers.
    checkpoint : path-like, optional
        ``.npz`` written atomically after each chunk; an existing one with the same parameters is resumed.
    progress : bool
        Progress bar over blocks (``statfield._progress``).
    divergence_factor : float > 1
        A network is diverged when its loss is not finite or exceeds ``divergence_factor * (1 + L_0)``.

    Returns
    -------
    EnsembleResult

    Raises
    ------
    ValueError
        Bad parameters or data (the message names the argument), or a checkpoint with other parameters.
    """
    from .._progress import progress_bar
    from ..sampling.backend import backend_name, default_rng, get_namespace
    from ..sampling.runner import block_seed, block_sizes

    t0 = time.perf_counter()
    act = get_activation(activation)
    sw, sb = check_variances(sigma_w2, sigma_b2)
    for name, val in (("sigma_w2", sw), ("sigma_b2", sb)):
        if np.ndim(val) != 0:
            raise ValueError(f"{name} must be a scalar, got an array of shape {np.shape(val)}")
    sw, sb = float(sw), float(sb)
    depth = check_int(depth, "depth", minimum=1)
    widths = network_widths(width, depth)
    X = _matrix(X_train, "X_train")
    P, d_in = X.shape
    Xs = _matrix(X_test, "X_test", d_in)
    y = _targets(y_train, P)
    try:
        st = np.atleast_1d(np.asarray(steps))
        st = np.array([check_int(s, "steps", minimum=0) for s in st.tolist()], dtype=np.int64)
    except TypeError:
        raise ValueError(f"steps must be a non-negative integer or a sequence of them, got {steps!r}") from None
    if st.size == 0:
        raise ValueError("steps must not be empty")
    st = np.unique(st)
    n_networks = check_int(n_networks, "n_networks", minimum=2)
    eta = check_positive(learning_rate, "learning_rate")
    seed = check_int(seed, "seed", minimum=0)
    div = check_positive(divergence_factor, "divergence_factor")
    if not div > 1:
        raise ValueError(f"divergence_factor must be > 1, got {div}")
    xp = get_namespace(backend)
    bname = backend_name(xp)
    per_net = parameter_count(widths, d_in) + sum(widths) * (P + Xs.shape[0]) * 3
    if block_size is None:
        block_size = max(1, min(256, 2 ** 22 // max(per_net, 1)))
    block_size = check_int(block_size, "block_size", minimum=1)
    per_chunk = 16 if chunk_size is None else max(1, check_int(chunk_size, "chunk_size", minimum=1) // block_size)
    sizes = block_sizes(n_networks, block_size)
    parameters = {"activation": act.name, "sigma_w2": sw, "sigma_b2": sb, "widths": widths, "depth": depth,
                  "X_train": X.tolist(), "y_train": y.tolist(), "X_test": Xs.tolist(), "steps": st.tolist(),
                  "n_networks": n_networks, "learning_rate": float(eta), "seed": seed, "backend": bname,
                  "block_size": block_size, "divergence_factor": float(div), "statfield_version": _version()}
    meta = json.loads(json.dumps(parameters, sort_keys=True))
    accs = _Accs(len(st), Xs.shape[0], P)
    start = 0
    if checkpoint is not None and os.path.exists(checkpoint):
        start = _load(checkpoint, meta, accs)
    bar = progress_bar(total=len(sizes), desc="train_ensemble", unit="block", enabled=progress, initial=start)
    try:
        for b in range(start, len(sizes)):
            rng = default_rng(block_seed(seed, b), xp)
            accs.add(*_train_block(rng, sizes[b], act, sw, sb, widths, X, y, Xs, st, eta, div, xp))
            bar.update(1)
            done = b + 1
            if checkpoint is not None and ((done - start) % per_chunk == 0 or done == len(sizes)):
                _save(checkpoint, meta, done, accs)
    finally:
        bar.close()
    n_used = n_networks - accs.n_diverged
    if n_used < 2:
        raise FloatingPointError(f"train_ensemble: {accs.n_diverged} of {n_networks} networks diverged "
                                 f"(learning_rate = {eta:g} is too large); nothing left to estimate")
    est = {"mean": [], "cov": [], "loss": [], "ntk_change": []}
    for acc in accs.out:
        m = acc.mean
        se = np.sqrt(np.diag(acc.covariance) / acc.n)
        est["mean"].append(Estimate(m.copy(), se, int(acc.n)))
        est["cov"].append(Estimate(acc.covariance.copy(), acc.covariance_stderr(), int(acc.n)))
    for name, acc in (("loss", accs.loss), ("ntk_change", accs.dntk)):
        m, se = _mean_se(acc)
        est[name] = [Estimate(float(a), float(s), int(acc.n)) for a, s in zip(m, se)]
    m, se = _mean_se(accs.theta0)
    return EnsembleResult(steps=st, estimates=est, ntk_init=Estimate(m, se, int(accs.theta0.n)),
                          n_networks=n_networks, n_diverged=accs.n_diverged, parameters=parameters,
                          elapsed_s=time.perf_counter() - t0, resumed_blocks=start)

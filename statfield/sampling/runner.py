r"""Chunked, streaming, checkpointed, reproducible execution of a block sampler.

Unit of randomness: the **block**. The ``n_samples`` independent networks are cut into blocks of
``block_size`` consecutive samples (the last one may be shorter). Block ``b`` draws all its random
numbers from its own generator seeded by

.. code-block:: python

    numpy.random.SeedSequence(seed, spawn_key=(b,))   # == SeedSequence(seed).spawn(B)[b]

so the numbers do not depend on how blocks are grouped into **chunks** (``chunk_size`` samples,
rounded down to whole blocks, at least one; the checkpoint interval), on the number of worker threads
(which work on blocks), or on interruptions.
``block_size`` *is* part of the random stream (it is stored in the checkpoint and in the result).

Streaming: a block sampler is a callable ``sample_block(rng, n)`` returning an iterator of
``dict[name, array (n, *shape)]`` records (one record per layer for per-layer observables; a name
may also appear once per block). Each name becomes a
:class:`statfield.stats.MomentAccumulator` of shape ``(n_records, *shape)``; names starting with
``"joint:"`` get a full-covariance accumulator (:class:`CovAccumulator`) of the flattened record,
for delta-method errors of non-linear functions of several means. Per-block accumulators are merged
into the running total **one block at a time in block order**, so the floating-point result is
bitwise identical whatever the chunking or the number of workers. Memory is independent of
``n_samples``.

Checkpoints (``checkpoint=path``): after every chunk the running accumulators, the parameters
(JSON), seed, backend, package version and the indices of the finished blocks are written to
``path`` as ``.npz`` atomically (write ``path.tmp``, ``fsync``, :func:`os.replace`). A run started
with an existing checkpoint resumes after its finished blocks, and gives bitwise the same numbers as
an uninterrupted run; a checkpoint whose parameters differ is refused with a ``ValueError`` listing
the differences. Loading never unpickles (``allow_pickle=False``).
"""

from __future__ import annotations

import json
import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from itertools import islice
from dataclasses import dataclass, field

import numpy as np

from ..stats import MomentAccumulator
from .backend import default_rng, to_numpy

__all__ = ["CovAccumulator", "RunOutput", "block_seed", "block_sizes", "run_blocks", "load_checkpoint",
           "CHECKPOINT_FORMAT"]

CHECKPOINT_FORMAT = "statfield-mc-checkpoint-1"


def block_seed(seed: int, block: int) -> np.random.SeedSequence:
    """The seed sequence of block ``block``: ``SeedSequence(seed, spawn_key=(block,))``."""
    return np.random.SeedSequence(int(seed), spawn_key=(int(block),))


def block_sizes(n_samples: int, block_size: int) -> list[int]:
    """Sizes of the consecutive blocks that make up ``n_samples`` samples."""
    n_full, rest = divmod(int(n_samples), int(block_size))
    return [int(block_size)] * n_full + ([rest] if rest else [])


class CovAccumulator:
    r"""Streaming mean and covariance (sum of centred outer products) of a vector observable.

    Chan et al. (1979) pairwise update: :math:`C = C_a + C_b + \delta\delta^\top n_a n_b/n`.
    """

    def __init__(self, dim: int):
        self.n = 0
        self.mean = np.zeros(dim)
        self.C = np.zeros((dim, dim))

    def update(self, batch):
        batch = np.asarray(batch, dtype=float).reshape(len(batch), -1)
        other = CovAccumulator(batch.shape[1])
        other.n = batch.shape[0]
        other.mean = batch.mean(axis=0)
        d = batch - other.mean
        other.C = d.T @ d
        return self.merge(other)

    def merge(self, other):
        if other.n == 0:
            return self
        if self.n == 0:
            self.n, self.mean, self.C = other.n, other.mean.copy(), other.C.copy()
            return self
        n = self.n + other.n
        delta = other.mean - self.mean
        self.C = self.C + other.C + np.outer(delta, delta) * (self.n * other.n / n)
        self.mean = self.mean + delta * (other.n / n)
        self.n = n
        return self

    @property
    def covariance(self):
        """Unbiased sample covariance matrix."""
        return self.C / max(self.n - 1, 1)

    def state(self):
        return {"n": np.asarray(self.n), "mean": self.mean, "C": self.C}

    @classmethod
    def from_state(cls, state):
        acc = cls(np.asarray(state["mean"]).shape[0])
        acc.n = int(state["n"])
        acc.mean = np.array(state["mean"], dtype=float)
        acc.C = np.array(state["C"], dtype=float)
        return acc


@dataclass
class RunOutput:
    """What :func:`run_blocks` returns: merged accumulators and bookkeeping."""

    accumulators: dict
    n_samples: int
    n_blocks: int
    block_size: int
    resumed_blocks: int = 0
    meta: dict = field(default_factory=dict)


def _stack(per_record):
    """Stack per-record accumulators (same ``n``) into one accumulator of shape ``(R, *shape)``."""
    acc = MomentAccumulator((len(per_record),) + per_record[0].shape)
    acc.n = per_record[0].n
    for key in ("mean", "M2", "M3", "M4"):
        setattr(acc, key, np.stack([getattr(a, key) for a in per_record]))
    return acc


def _moments(a):
    """A :class:`MomentAccumulator` of the batch ``a`` (``(n, *shape)``), with cheap integer powers."""
    acc = MomentAccumulator(a.shape[1:])
    acc.n = a.shape[0]
    shift = a[0]  # shifted two-pass mean: a constant observable (e.g. G^1) gets exactly zero moments
    acc.mean = shift + (a - shift).mean(axis=0)
    d = a - acc.mean
    d2 = d * d
    acc.M2 = d2.sum(axis=0)
    acc.M3 = (d2 * d).sum(axis=0)
    acc.M4 = (d2 * d2).sum(axis=0)
    return acc


def _check_finite_acc(name, acc, b):
    arrays = [acc.mean, acc.C] if isinstance(acc, CovAccumulator) else [acc.mean, acc.M2, acc.M3, acc.M4]
    bad = np.zeros(np.shape(acc.mean)[:1], dtype=bool) if np.ndim(acc.mean) else np.zeros(1, dtype=bool)
    for arr in arrays:
        with np.errstate(invalid="ignore"):
            fin = np.isfinite(arr)
        if not np.all(fin):
            if isinstance(acc, CovAccumulator) or fin.ndim == 0:
                bad[0] = True
            else:
                bad |= ~fin.reshape(fin.shape[0], -1).all(axis=1)
    if bad.any():
        first = int(np.argmax(bad)) + 1
        raise OverflowError(
            f"the moments of observable {name!r} overflow float64 from layer/record {first} on (block {b}); "
            f"deep chaotic networks: request only scale-free observables, observables=('log_q',) (method "
            f"'collective', or 'preactivation' with piecewise-linear phi) or ('c',) for two inputs"
        )


def _run_block(sample_block, seed, b, n, xp):
    rng = default_rng(block_seed(seed, b), xp)
    scalars: dict[str, list] = {}
    per_record: dict[str, list] = {}
    joint: dict[str, CovAccumulator] = {}
    counts: dict[str, int] = {}
    for record in sample_block(rng, n):
        for name, arr in record.items():
            a = np.asarray(to_numpy(arr), dtype=np.float64)
            counts[name] = counts.get(name, 0) + 1
            if not np.all(np.isfinite(a)):
                if np.any(np.isneginf(a)) and not np.any(np.isnan(a) | np.isposinf(a)):
                    raise ValueError(
                        f"observable {name!r} is -inf at layer/record {counts[name]} (block {b}): q = 0 exactly in "
                        f"some network (a dead network, which has positive probability for ReLU-like phi with "
                        f"sigma_b2 = 0 at small width), so its mean is -inf; leave {name!r} out of observables"
                    )
                raise OverflowError(
                    f"observable {name!r} is not finite at layer/record {counts[name]} (float64 overflow or "
                    f"a degenerate network in block {b}); deep chaotic networks: request only scale-free "
                    f"observables, observables=('log_q',) (method 'collective', or 'preactivation' with piecewise-linear "
                    f"phi) or ('c',) for two inputs"
                )
            if name.startswith("joint:"):
                acc = joint.setdefault(name, CovAccumulator(a[0].size))
                acc.update(a.reshape(n, -1))
            elif a.ndim == 1:
                scalars.setdefault(name, []).append(a)
            else:
                with np.errstate(over="ignore", invalid="ignore"):
                    per_record.setdefault(name, []).append(_moments(a))
    out = {}
    with np.errstate(over="ignore", invalid="ignore"):
        for name, cols in scalars.items():
            out[name] = _moments(np.stack(cols, axis=1))
        for name, accs in per_record.items():
            out[name] = _stack(accs)
    out.update(joint)
    for name, acc in out.items():
        _check_finite_acc(name, acc, b)
    return out


def _acc_from_state(name, state):
    if name.startswith("joint:"):
        return CovAccumulator.from_state(state)
    return MomentAccumulator.from_state(state)


def _save_checkpoint(path, meta, n_finished, accs):
    arrays = {
        "format": np.asarray(CHECKPOINT_FORMAT),
        "meta": np.asarray(json.dumps(meta, sort_keys=True)),
        "finished_blocks": np.arange(n_finished, dtype=np.int64),
        "names": np.asarray(sorted(accs)) if accs else np.zeros(0, dtype="<U1"),
    }
    for name, acc in accs.items():
        for key, val in acc.state().items():
            arrays[f"acc__{name}__{key}"] = np.asarray(val)
    tmp = f"{path}.tmp"
    with open(tmp, "wb") as fh:
        np.savez(fh, **arrays)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def load_checkpoint(path):
    """Read a checkpoint: ``(meta: dict, finished_blocks: ndarray, accumulators: dict)`` (no pickle)."""
    with np.load(path, allow_pickle=False) as f:
        if "format" not in f.files or str(f["format"]) != CHECKPOINT_FORMAT:
            raise ValueError(f"checkpoint: {path} is not a statfield checkpoint ({CHECKPOINT_FORMAT})")
        meta = json.loads(str(f["meta"]))
        finished = np.array(f["finished_blocks"])
        accs = {}
        for name in [str(s) for s in f["names"]]:
            prefix = f"acc__{name}__"
            state = {k[len(prefix):]: np.array(f[k]) for k in f.files if k.startswith(prefix)}
            accs[name] = _acc_from_state(name, state)
    return meta, finished, accs


def _diff(a: dict, b: dict):
    keys = sorted(set(a) | set(b))
    return [f"{k}: checkpoint {a.get(k)!r} vs requested {b.get(k)!r}" for k in keys if a.get(k) != b.get(k)]


def run_blocks(sample_block, *, n_samples, block_size, seed, xp, chunk_size=None, checkpoint=None,
               meta=None, progress=False, workers=1, on_chunk=None) -> RunOutput:
    """Run ``sample_block`` over all blocks and merge the streamed accumulators.

    Parameters
    ----------
    sample_block : callable ``(rng, n) -> iterator of dict[name, array (n, *shape)]``
    n_samples, block_size : int
        Total independent samples; samples per block (part of the random stream).
    seed : int
        Root seed; block ``b`` uses :func:`block_seed` ``(seed, b)``.
    xp : namespace
    chunk_size : int, optional
        Samples per chunk (rounded down to whole blocks, at least one): the checkpoint interval. Does not
        change the numbers. Default: 16 blocks.
    checkpoint : path-like, optional
        ``.npz`` file written atomically after each chunk and resumed from when it exists.
    meta : dict
        JSON-serialisable parameters identifying the run (compared on resume).
    progress : bool
        Show a tqdm bar over blocks.
    workers : int
        Threads working on blocks concurrently (at most ``2*workers`` blocks in flight; results are
        merged in block order, so the numbers do not depend on ``workers``).
    on_chunk : callable ``(chunk_index, n_finished_blocks)``, optional
        Called after each chunk is merged (and checkpointed); an exception raised there stops the
        run (tests use it to simulate a kill).

    Returns
    -------
    RunOutput
    """
    sizes = block_sizes(n_samples, block_size)
    n_blocks = len(sizes)
    per_chunk = max(1, int(chunk_size) // int(block_size)) if chunk_size else 16
    meta = dict(meta or {})
    meta.update({"n_samples": int(n_samples), "block_size": int(block_size), "seed": int(seed)})
    meta = json.loads(json.dumps(meta, sort_keys=True))  # normalise (tuples -> lists) for comparison
    total: dict = {}
    start = 0
    if checkpoint is not None and os.path.exists(checkpoint):
        old_meta, finished, accs = load_checkpoint(checkpoint)
        diffs = _diff(old_meta, meta)
        if diffs:
            raise ValueError(
                f"checkpoint: refusing to resume {os.fspath(checkpoint)!r}, its parameters differ: " + "; ".join(diffs)
            )
        if not np.array_equal(finished, np.arange(len(finished))):
            raise ValueError(f"checkpoint: finished blocks of {os.fspath(checkpoint)!r} are not a prefix 0..k-1")
        start, total = len(finished), accs
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n_blocks, initial=start, unit="block", desc="simulate")
    executor = ThreadPoolExecutor(max_workers=int(workers)) if workers and workers > 1 else None

    def finished_blocks():
        """Per-block accumulators in block order; at most 2*workers blocks in flight."""
        todo = iter(range(start, n_blocks))
        if executor is None:
            for b in todo:
                yield _run_block(sample_block, seed, b, sizes[b], xp)
            return
        window = deque(executor.submit(_run_block, sample_block, seed, b, sizes[b], xp)
                       for b in islice(todo, 2 * int(workers)))
        while window:
            accs = window.popleft().result()
            nxt = next(todo, None)
            if nxt is not None:
                window.append(executor.submit(_run_block, sample_block, seed, nxt, sizes[nxt], xp))
            yield accs

    try:
        done, chunk_index = start, 0
        for accs in finished_blocks():
            for name, acc in accs.items():
                if name in total:
                    with np.errstate(over="ignore", invalid="ignore"):
                        total[name].merge(acc)
                    _check_finite_acc(name, total[name], "merge")
                else:
                    total[name] = acc
            done += 1
            if bar is not None:
                bar.update(1)
            if (done - start) % per_chunk == 0 or done == n_blocks:
                if checkpoint is not None:
                    _save_checkpoint(checkpoint, meta, done, total)
                if on_chunk is not None:
                    on_chunk(chunk_index, done)
                chunk_index += 1
    finally:
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
        if bar is not None:
            bar.close()
    return RunOutput(accumulators=total, n_samples=int(n_samples), n_blocks=n_blocks, block_size=int(block_size),
                     resumed_blocks=start, meta=meta)

r"""Chunked, streaming, checkpointed, reproducible execution of a block sampler.

Unit of randomness: the **block**. The ``n_samples`` independent networks are cut into blocks of
``block_size`` consecutive samples (the last one may be shorter). Block ``b`` draws all its random
numbers from its own generator seeded by

.. code-block:: python

    numpy.random.SeedSequence(seed, spawn_key=(b,))   # == SeedSequence(seed).spawn(B)[b]

so the numbers do not depend on how blocks are grouped into **chunks** (``chunk_size`` samples,
rounded down to whole blocks, at least one; the checkpoint interval), on the number of worker threads
(which work on blocks), on a Dask cluster's layout, or on interruptions.
``block_size`` *is* part of the random stream (it is stored in the checkpoint and in the result).

Streaming: a block sampler is a callable ``sample_block(rng, n)`` returning an iterator of
``dict[name, array (n, *shape)]`` records (one record per layer for per-layer observables; a name
may also appear once per block). The records of a name are reduced one at a time into per-record moments
(:class:`statfield.stats.RecordMoments`), giving a :class:`statfield.stats.MomentAccumulator` of shape
``(n_records, *shape)``; names starting with ``"joint:"`` get a full-covariance accumulator
(:class:`statfield.stats.CovarianceAccumulator`) of the flattened record, for delta-method errors of
non-linear functions of several means; names starting with ``"cv:"`` (control-variate records,
:mod:`statfield.sampling.control`) are accumulated per cross-fitting fold, ``"cv{b % 4}:..."``. Memory per block is the per-record *result*
(``O(n_records × shape)``), never ``n × n_records`` raw samples. Per-block accumulators are merged
into the running total **one block at a time in block order** (:func:`merge_block`), so the
floating-point result is bitwise identical whatever the chunking, the number of workers or the
scheduler. Memory is independent of ``n_samples``.

Checkpoints (``checkpoint=path``): after every chunk the running accumulators, the parameters
(JSON), seed, backend, package version, the indices of the finished blocks and a SHA-256 checksum of
all of them are written to ``path`` as ``.npz`` through a unique temporary file in the same folder
(:func:`statfield._io.atomic_write`) while holding the writer lock :func:`statfield._io.file_lock`.
A run started with an existing checkpoint resumes after its finished blocks and gives bitwise the same
numbers as an uninterrupted run. Loading never unpickles (``allow_pickle=False``) and checks the file's
internal consistency: the checksum, finished blocks exactly ``0..k-1`` and every accumulator's sample
count equal to the samples of those blocks (of its fold, for control-variate accumulators); a corrupt, truncated or inconsistent file raises a
``ValueError`` naming the file, and a checkpoint whose parameters differ is refused with a
``ValueError`` listing the differences.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import islice

import numpy as np

from .._io import atomic_write, file_lock
from .._progress import progress_bar
from ..stats import CovarianceAccumulator, MeanAccumulator, MomentAccumulator, RecordMeans, RecordMoments
from .backend import default_rng, to_numpy
from .control import CV_FOLDS, CV_PREFIX, fold_name

__all__ = ["CovAccumulator", "RunOutput", "block_seed", "block_sizes", "run_block", "merge_block", "run_blocks",
           "load_checkpoint", "save_checkpoint", "CHECKPOINT_FORMAT"]

CHECKPOINT_FORMAT = "statfield-mc-checkpoint-2"


def block_seed(seed: int, block: int) -> np.random.SeedSequence:
    """The seed sequence of block ``block``: ``SeedSequence(seed, spawn_key=(block,))``."""
    return np.random.SeedSequence(int(seed), spawn_key=(int(block),))


def block_sizes(n_samples: int, block_size: int) -> list[int]:
    """Sizes of the consecutive blocks that make up ``n_samples`` samples."""
    n_full, rest = divmod(int(n_samples), int(block_size))
    return [int(block_size)] * n_full + ([rest] if rest else [])


class CovAccumulator(CovarianceAccumulator):
    """Mean and covariance of a vector observable (a :class:`statfield.stats.CovarianceAccumulator`
    without fourth moments); ``C`` is the sum of centred outer products."""

    def __init__(self, dim: int):
        super().__init__(dim, fourth_moments=False)

    @property
    def C(self):
        return self.M[(1, 1)]

    @classmethod
    def from_state(cls, state) -> "CovAccumulator":
        base = CovarianceAccumulator.from_state(state)
        acc = cls(base.dim)
        acc.n, acc.mean, acc.M = base.n, base.mean, base.M
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


_DEEP_HINT = ("deep chaotic networks: request only scale-free observables, observables=('log_q',) (method "
              "'collective', or 'preactivation' with piecewise-linear phi) or ('c',) for two inputs")


def _check_finite_acc(name, acc, b):
    """``OverflowError`` naming the first non-finite layer/record of an accumulator."""
    arrays = acc.arrays()
    per_record = isinstance(acc, (MomentAccumulator, MeanAccumulator)) and np.ndim(acc.mean) > 0
    bad = np.zeros(np.shape(acc.mean)[0] if per_record else 1, dtype=bool)
    for arr in arrays:
        with np.errstate(invalid="ignore"):
            fin = np.isfinite(arr)
        if not np.all(fin):
            if per_record:
                bad |= ~fin.reshape(fin.shape[0], -1).all(axis=1)
            else:
                bad[0] = True
    if bad.any():
        first = int(np.argmax(bad)) + 1
        raise OverflowError(f"the moments of observable {name!r} overflow float64 from layer/record {first} on "
                            f"(block {b}); {_DEEP_HINT}")


def _check_record(name, a, index, b):
    if np.all(np.isfinite(a)):
        return
    if np.any(np.isneginf(a)) and not np.any(np.isnan(a) | np.isposinf(a)):
        raise ValueError(
            f"observable {name!r} is -inf at layer/record {index} (block {b}): q = 0 exactly in "
            f"some network (a dead network, which has positive probability for ReLU-like phi with "
            f"sigma_b2 = 0 at small width), so its mean is -inf; leave {name!r} out of observables")
    raise OverflowError(f"observable {name!r} is not finite at layer/record {index} (float64 overflow or "
                        f"a degenerate network in block {b}); {_DEEP_HINT}")


def run_block(sample_block, seed, b, n, xp) -> dict:
    """Run block ``b`` (``n`` samples, generator :func:`block_seed` ``(seed, b)``) and reduce its records.

    Returns ``dict[name, accumulator]``: a :class:`~statfield.stats.MomentAccumulator` of shape
    ``(n_records, *shape)`` per name, a :class:`CovAccumulator` per ``"joint:"`` name.
    """
    rng = default_rng(block_seed(seed, b), xp)
    records: dict = {}
    joint: dict[str, CovAccumulator] = {}
    for record in sample_block(rng, n):
        for name, arr in record.items():
            a = np.asarray(to_numpy(arr), dtype=np.float64)
            if name.startswith(CV_PREFIX):  # control-variate records: lean means, one per cross-fitting fold
                second = name.startswith(CV_PREFIX + "y:")
                name = fold_name(name, b)
                rm = records.setdefault(name, RecordMeans(second=second))
                _check_record(name, a, rm.R + 1, b)
                with np.errstate(over="ignore", invalid="ignore"):
                    rm.append(a)
                continue
            if name.startswith("joint:"):
                _check_record(name, a, 1, b)
                joint.setdefault(name, CovAccumulator(a[0].size)).update(a.reshape(n, -1))
                continue
            rm = records.setdefault(name, RecordMoments())
            _check_record(name, a, rm.R + 1, b)
            with np.errstate(over="ignore", invalid="ignore"):
                rm.append(a)
    out = {name: rm.result() for name, rm in records.items()}
    out.update(joint)
    for name, acc in out.items():
        _check_finite_acc(name, acc, b)
    return out


def merge_block(total: dict, accs: dict) -> dict:
    """Merge one block's accumulators into the running ``total`` (in place; call in block order)."""
    for name, acc in accs.items():
        if name in total:
            with np.errstate(over="ignore", invalid="ignore"):
                total[name].merge(acc)
            _check_finite_acc(name, total[name], "merge")
        else:
            total[name] = acc
    return total


# ------------------------------------------------------------------------------------------ checkpoints
def _fold_of(name):
    """Cross-fitting fold of a per-fold control-variate accumulator (``"cv{f}:..."``), else ``None``."""
    head = name.split(":", 1)[0]
    return int(head[2:]) if head.startswith("cv") and head[2:].isdigit() else None


def _acc_from_state(name, state):
    if name.startswith("joint:"):
        return CovAccumulator.from_state(state)
    if "second" in state:
        return MeanAccumulator.from_state(state)
    return MomentAccumulator.from_state(state)


def _checksum(arrays: dict) -> str:
    """SHA-256 over every entry (name, dtype, shape, bytes) except the checksum itself, in sorted order."""
    h = hashlib.sha256()
    for key in sorted(arrays):
        if key == "checksum":
            continue
        a = np.ascontiguousarray(arrays[key])
        h.update(f"{key}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def save_checkpoint(path, meta, n_finished, accs):
    """Write a checkpoint (atomically, under the writer lock): meta, finished blocks ``0..n_finished-1``,
    accumulator states and their SHA-256 checksum."""
    arrays = {
        "format": np.asarray(CHECKPOINT_FORMAT),
        "meta": np.asarray(json.dumps(meta, sort_keys=True)),
        "finished_blocks": np.arange(n_finished, dtype=np.int64),
        "names": np.asarray(sorted(accs)) if accs else np.zeros(0, dtype="<U1"),
    }
    for name, acc in accs.items():
        for key, val in acc.state().items():
            arrays[f"acc__{name}__{key}"] = np.asarray(val)
    arrays["checksum"] = np.asarray(_checksum(arrays))
    with file_lock(path):
        atomic_write(path, lambda fh: np.savez(fh, **arrays))


def _read_npz(path) -> dict:
    """All arrays of an ``.npz`` (no pickle); any read failure -> ``ValueError`` naming the file."""
    try:
        with np.load(path, allow_pickle=False) as f:
            return {k: np.array(f[k]) for k in f.files}
    except FileNotFoundError:
        raise
    except Exception as exc:  # BadZipFile, EOFError, zlib.error, OSError, ValueError (pickled content), ...
        raise ValueError(f"checkpoint: {os.fspath(path)!r} is corrupt or truncated and cannot be read "
                         f"({type(exc).__name__}: {exc}); delete it to start afresh") from None


def load_checkpoint(path):
    """Read and validate a checkpoint: ``(meta: dict, finished_blocks: ndarray, accumulators: dict)``.

    Raises
    ------
    ValueError
        Naming the file: not a statfield checkpoint (or another format version), unreadable (corrupt or
        truncated), checksum mismatch, finished blocks not exactly ``0..k-1``, or sample counts that do
        not match the finished blocks.
    """
    where = os.fspath(path)
    raw = _read_npz(path)
    if "format" not in raw or str(raw["format"]) != CHECKPOINT_FORMAT:
        found = str(raw["format"]) if "format" in raw else "no format tag"
        raise ValueError(f"checkpoint: {where!r} is not a statfield checkpoint ({CHECKPOINT_FORMAT}; found {found})")
    try:
        stored = str(raw["checksum"])
        if stored != _checksum(raw):
            raise ValueError(f"checkpoint: {where!r} is corrupt: its SHA-256 checksum does not match its content")
        meta = json.loads(str(raw["meta"]))
        finished = np.asarray(raw["finished_blocks"])
        accs = {}
        for name in [str(s) for s in raw["names"]]:
            prefix = f"acc__{name}__"
            state = {k[len(prefix):]: raw[k] for k in raw if k.startswith(prefix)}
            accs[name] = _acc_from_state(name, state)
        n_samples, bsize = int(meta["n_samples"]), int(meta["block_size"])
    except ValueError as exc:
        if str(exc).startswith("checkpoint:"):
            raise
        raise ValueError(f"checkpoint: {where!r} is corrupt ({exc})") from None
    except (KeyError, TypeError, IndexError) as exc:
        raise ValueError(f"checkpoint: {where!r} is corrupt: missing or malformed entry {exc}") from None
    sizes = block_sizes(n_samples, bsize)
    k = len(finished)
    if finished.ndim != 1 or not np.array_equal(finished, np.arange(k)) or k > len(sizes):
        raise ValueError(f"checkpoint: {where!r} is inconsistent: finished blocks must be exactly 0..k-1 with "
                         f"k <= {len(sizes)} blocks, got {finished.tolist()[:10]}{'...' if k > 10 else ''}")
    for name, acc in accs.items():
        fold = _fold_of(name)
        expected = sum(sizes[b] for b in range(k) if fold is None or b % CV_FOLDS == fold)
        if int(acc.n) != expected:
            raise ValueError(f"checkpoint: {where!r} is inconsistent: accumulator {name!r} holds {int(acc.n)} samples, "
                             f"but the {k} finished blocks hold {expected}")
    return meta, finished, accs


def _diff(a: dict, b: dict):
    keys = sorted(set(a) | set(b))
    return [f"{k}: checkpoint {a.get(k)!r} vs requested {b.get(k)!r}" for k in keys if a.get(k) != b.get(k)]


def _resume(checkpoint, meta):
    """``(start_block, accumulators)`` from an existing checkpoint (validated against ``meta``)."""
    if checkpoint is None or not os.path.exists(checkpoint):
        return 0, {}
    old_meta, finished, accs = load_checkpoint(checkpoint)
    diffs = _diff(old_meta, meta)
    if diffs:
        raise ValueError(
            f"checkpoint: refusing to resume {os.fspath(checkpoint)!r}, its parameters differ: " + "; ".join(diffs))
    return len(finished), accs


def _threaded_blocks(sample_block, seed, sizes, start, xp, workers):
    """Per-block accumulators in block order; serial, or threads with at most ``2*workers`` blocks in flight."""
    todo = iter(range(start, len(sizes)))
    if workers <= 1:
        for b in todo:
            yield run_block(sample_block, seed, b, sizes[b], xp)
        return
    executor = ThreadPoolExecutor(max_workers=int(workers))
    try:
        window = deque(executor.submit(run_block, sample_block, seed, b, sizes[b], xp)
                       for b in islice(todo, 2 * int(workers)))
        while window:
            accs = window.popleft().result()
            nxt = next(todo, None)
            if nxt is not None:
                window.append(executor.submit(run_block, sample_block, seed, nxt, sizes[nxt], xp))
            yield accs
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


def run_blocks(sample_block, *, n_samples, block_size, seed, xp, chunk_size=None, checkpoint=None,
               meta=None, progress=False, workers=1, on_chunk=None, block_source=None) -> RunOutput:
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
        Show a progress bar over blocks.
    workers : int
        Threads working on blocks concurrently (at most ``2*workers`` blocks in flight; results are
        merged in block order, so the numbers do not depend on ``workers``).
    on_chunk : callable ``(chunk_index, n_finished_blocks)``, optional
        Called after each chunk is merged (and checkpointed); an exception raised there stops the
        run (tests use it to simulate a kill).
    block_source : callable ``(sample_block, seed, sizes, start, xp) -> iterator``, optional
        Produces the per-block accumulators of blocks ``start, start+1, ...`` **in block order** (e.g. on
        a Dask cluster); default: :func:`run_block` in this process (serial or ``workers`` threads).

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
    start, total = _resume(checkpoint, meta)
    if block_source is None:
        blocks = _threaded_blocks(sample_block, seed, sizes, start, xp, int(workers or 1))
    else:
        blocks = block_source(sample_block, seed, sizes, start, xp)
    with progress_bar(total=n_blocks, initial=start, unit="block", desc="simulate", enabled=progress) as bar:
        try:
            done, chunk_index = start, 0
            for accs in blocks:
                merge_block(total, accs)
                done += 1
                bar.update(1)
                if (done - start) % per_chunk == 0 or done == n_blocks:
                    if checkpoint is not None:
                        save_checkpoint(checkpoint, meta, done, total)
                    if on_chunk is not None:
                        on_chunk(chunk_index, done)
                    chunk_index += 1
        finally:
            close = getattr(blocks, "close", None)
            if close is not None:
                close()
    return RunOutput(accumulators=total, n_samples=int(n_samples), n_blocks=n_blocks, block_size=int(block_size),
                     resumed_blocks=start, meta=meta)

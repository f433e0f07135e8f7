r"""Blocks of :func:`statfield.simulate` as Dask tasks (optional extra ``statfield[distributed]``).

``simulate(..., scheduler=...)`` hands :func:`dask_block_source` to :func:`.runner.run_blocks`: every
block ``b`` becomes one task ``run_block(sample_block, seed, b, n_b, xp)`` — the same function the serial
run calls, seeded by ``SeedSequence(seed, spawn_key=(b,))`` — and the client merges the returned
per-block accumulators **in block order** with the same streaming code (:func:`.runner.merge_block`).
So the result is bitwise the serial result for any cluster size or layout, and a checkpoint written by
the client resumes identically on another cluster (the layout is not a parameter).

What travels: the block sampler (pickled once per task; a few kB) to the workers, and back only the
block's accumulators — per observable 4 float64 arrays of the per-layer shape, i.e. about
``32 × depth × (number of observables) × (1 or P²)`` bytes per block, never raw samples.

The validation harness runs the same way: :func:`map_checks` makes every check one task (each check
derives its random streams from ``(seed, check name)`` only, so the records equal those of a serial
:func:`statfield.validation.run_checks`).

Fault tolerance is Dask's: a task lost with a killed worker is recomputed elsewhere, and since a block's
numbers depend only on ``(seed, b)`` the final result is unchanged. At most ``2 ×`` (worker threads)
blocks are in flight, so client memory stays bounded.
"""

from __future__ import annotations

from collections import deque
from itertools import islice

__all__ = ["dask_block_source", "get_client", "map_checks", "bytes_per_block"]

_EXTRA = "statfield[distributed]"


def _import_distributed():
    try:
        import distributed
    except ImportError as exc:
        raise ImportError(f"scheduler=... needs Dask: pip install '{_EXTRA}' (dask and distributed); "
                          f"import failed: {exc}") from None
    return distributed


def get_client(scheduler, timeout=10.0):
    """``(client, owned)`` for ``scheduler``: ``"local"``, an address string, or a ``distributed.Client``.

    ``owned`` is True when the client (and, for ``"local"``, its ``LocalCluster``) was created here and
    must be closed by the caller.

    Raises
    ------
    ImportError
        Dask is not installed (names the extra ``statfield[distributed]``).
    ValueError
        ``scheduler`` has an unsupported type, or the scheduler cannot be reached within ``timeout`` seconds.
    """
    if hasattr(scheduler, "submit") and hasattr(scheduler, "gather"):
        return scheduler, False
    if not isinstance(scheduler, str) or not scheduler.strip():
        raise ValueError(f"scheduler must be None, 'local', a scheduler address or a distributed.Client, got {scheduler!r}")
    distributed = _import_distributed()
    if scheduler.strip().lower() == "local":
        cluster = distributed.LocalCluster(threads_per_worker=1, dashboard_address=None)
        client = distributed.Client(cluster)
        client._statfield_cluster = cluster
        return client, True
    try:
        return distributed.Client(scheduler, timeout=timeout), True
    except (OSError, TimeoutError) as exc:
        raise ValueError(f"scheduler: could not reach the Dask scheduler at {scheduler!r} within {timeout:g} s "
                         f"({type(exc).__name__}: {exc})") from None


def _close(client):
    cluster = getattr(client, "_statfield_cluster", None)
    client.close()
    if cluster is not None:
        cluster.close()


def dask_block_source(scheduler, timeout=10.0):
    """A ``block_source`` for :func:`.runner.run_blocks` that runs the blocks as Dask tasks.

    The client is connected here (so an unreachable scheduler fails before any work); one created here
    is closed when the run ends.
    """
    from .runner import run_block

    client, owned = get_client(scheduler, timeout)

    def source(sample_block, seed, sizes, start, xp):
        try:
            nthreads = max(1, sum(client.nthreads().values()))
            todo = iter(range(start, len(sizes)))

            def submit(b):
                return client.submit(run_block, sample_block, seed, b, sizes[b], xp, pure=False)

            window = deque(submit(b) for b in islice(todo, 2 * nthreads))
            while window:
                fut = window.popleft()
                accs = fut.result()
                nxt = next(todo, None)
                if nxt is not None:
                    window.append(submit(nxt))
                yield accs
        finally:
            for fut in list(locals().get("window", ())):
                fut.cancel()
            if owned:
                _close(client)

    return source


def bytes_per_block(accumulators: dict) -> int:
    """Bytes of the float64/int arrays one block sends back (its accumulators' states), e.g. for cost models."""
    import numpy as np

    return int(sum(np.asarray(v).nbytes for acc in accumulators.values() for v in acc.state().values()))


def _run_check_task(name, profile, seed, outdir):
    from ..validation import run_checks

    records, summary = run_checks([name], profile=profile, seed=seed, outdir=outdir)
    timing = (summary.get("timings") or {}).get(name) if isinstance(summary, dict) else None
    return [r.to_dict() for r in records], timing


def map_checks(names=None, scheduler="local", profile="quick", seed=0, outdir=None, timeout=10.0):
    """Run validation checks as Dask tasks (one task per check); returns ``(records, summary)`` like
    :func:`statfield.validation.run_checks`.

    Parameters
    ----------
    names : list of str, optional
        Check names (default: every registered check).
    scheduler : "local", str or distributed.Client
        As for :func:`statfield.simulate` (``"local"``: a ``LocalCluster`` on this machine).
    profile : {"quick", "full"}
    seed : int >= 0
        Base seed; every check derives its streams from ``(seed, name)``, so the records are those of the
        serial run whatever the cluster.
    outdir : path, optional
        Folder for the figures; must be reachable by the workers (a shared file system).
    timeout : float
        Seconds to wait for a remote scheduler.

    Raises
    ------
    ValueError
        Unknown check or profile (checked before any task is submitted), unreachable scheduler.
    ImportError
        Dask is not installed (names the extra ``statfield[distributed]``).
    """
    from .._checks import check_int
    from ..validation import core

    if profile not in ("quick", "full"):
        raise ValueError(f"profile must be 'quick' or 'full', got {profile!r}")
    seed = check_int(seed, "seed", minimum=0)
    available = core.available_checks()
    names = list(available) if not names else list(names)
    unknown = [n for n in names if n not in available]
    if unknown:
        raise ValueError(f"names: unknown check(s) {unknown}; available: {sorted(available)}")
    if outdir is not None:
        import os

        os.makedirs(outdir, exist_ok=True)
        outdir = os.fspath(outdir)
    client, owned = get_client(scheduler, timeout)
    try:
        futures = [client.submit(_run_check_task, name, profile, seed, outdir, pure=False) for name in names]
        results = client.gather(futures)
    finally:
        if owned:
            _close(client)
    records, timings = [], {}
    for name, (recs, dt) in zip(names, results):
        records.extend(core.CheckRecord.from_dict(d) for d in recs)
        if dt is not None:
            timings[name] = dt
    return records, core.summarize(records, profile, seed, timings)

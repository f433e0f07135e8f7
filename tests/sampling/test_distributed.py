"""Blocks as Dask tasks: bitwise the serial numbers, checkpoints portable across layouts, clear errors."""

import sys

import pytest

import statfield as sf
from statfield.sampling.distributed import get_client

ARGS = ("relu", 2.0, 0.1, 8, 6, 203)


def _same(a, b):
    assert a.names == b.names
    for name in a.names:
        assert a[name] == b[name], name


def _dask():
    try:
        import distributed  # noqa: F401
    except ImportError:
        print("SKIP: dask/distributed not installed (pip install 'statfield[distributed]')")
        pytest.skip("dask/distributed not installed (extra statfield[distributed])")
    import distributed

    return distributed


@pytest.fixture(scope="module")
def client():
    distributed = _dask()
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


class Killed(RuntimeError):
    pass


def test_bit_identical_to_serial_for_every_method(client):
    for method in ("collective", "preactivation", "weights"):
        ref = sf.simulate(*ARGS, method=method, seed=7, block_size=16)
        _same(ref, sf.simulate(*ARGS, method=method, seed=7, block_size=16, scheduler=client))
    X = [[1.0, 0.0], [0.5, 1.0], [0.0, 1.0]]
    for act, method in (("linear", "wishart"), ("relu", "preactivation")):  # control variates on (cross-fitting)
        ref = sf.simulate(act, 1.5, 0.1, 8, 3, 100, inputs=X, method=method, seed=7, block_size=10)
        assert ref.parameters["variance_reduction"]
        _same(ref, sf.simulate(act, 1.5, 0.1, 8, 3, 100, inputs=X, method=method, seed=7, block_size=10,
                               scheduler=client))
    kw = dict(seed=2, eft_lags=(0, 1), block_size=16)
    _same(sf.simulate("relu", 1.5, 0.5, 8, 12, 100, **kw), sf.simulate("relu", 1.5, 0.5, 8, 12, 100, scheduler=client, **kw))


def test_checkpoint_from_the_cluster_resumes_serially_to_the_same_numbers(client, tmp_path):
    ck = tmp_path / "dask.npz"
    ref = sf.simulate(*ARGS, seed=3, block_size=10, chunk_size=20)

    def kill(ci, done):
        if ci == 1:
            raise Killed

    with pytest.raises(Killed):
        sf.simulate(*ARGS, seed=3, block_size=10, chunk_size=20, checkpoint=ck, on_chunk=kill, scheduler=client)
    _same(ref, sf.simulate(*ARGS, seed=3, block_size=10, checkpoint=ck))


def test_bad_scheduler_and_missing_dask_are_clear_errors(monkeypatch):
    with pytest.raises(ValueError, match="scheduler must be"):
        sf.simulate(*ARGS, scheduler=3)
    with pytest.raises(ValueError, match="mcmc"):
        sf.simulate("relu", 1.0, 0.5, 8, 4, 8, method="mcmc", scheduler="local")
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ImportError, match=r"statfield\[distributed\]"):
        sf.simulate(*ARGS, scheduler="local")


def test_unreachable_scheduler_fails_within_the_timeout():
    _dask()
    with pytest.raises(ValueError, match="could not reach the Dask scheduler"):
        get_client("tcp://127.0.0.1:9", timeout=1.0)


def test_killed_worker_blocks_are_recomputed_and_the_result_is_identical(client):
    """SIGKILL one worker process after the first chunk: Dask reschedules its blocks; same numbers."""
    import os
    import signal

    args = ("relu", 2.0, 0.1, 8, 10, 400)
    victim = sorted(client.run(os.getpid).values())[0]
    killed = []

    def kill(ci, done):
        if not killed:
            os.kill(victim, signal.SIGKILL)
            killed.append(done)

    res = sf.simulate(*args, seed=1, block_size=20, chunk_size=40, scheduler=client, on_chunk=kill)
    assert killed == [2]
    _same(sf.simulate(*args, seed=1, block_size=20), res)


def test_validation_checks_as_tasks_give_the_serial_records(client):
    from statfield.sampling.distributed import map_checks
    from statfield.validation import run_checks

    def strip(recs):
        return [{k: v for k, v in r.to_dict().items() if k != "runtime"} for r in recs]

    ref, _ = run_checks(["samplers-agree"], profile="quick", seed=3)
    recs, summary = map_checks(["samplers-agree"], client, profile="quick", seed=3)
    assert strip(recs) == strip(ref) and "samplers-agree" in summary["timings"]
    with pytest.raises(ValueError, match="unknown check"):
        map_checks(["no-such-check"], client)

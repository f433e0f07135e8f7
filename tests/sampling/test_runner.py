"""Runner: block seeding, chunk/worker invariance, atomic checkpoints, kill/resume, refusal."""

import os

import numpy as np
import pytest

import statfield as sf
from statfield.sampling.runner import CovAccumulator, block_seed, block_sizes, load_checkpoint

ARGS = ("relu", 2.0, 0.1, 8, 6, 203)


def _same(a, b):
    assert a.names == b.names
    for name in a.names:
        np.testing.assert_array_equal(a.value(name), b.value(name))
        np.testing.assert_array_equal(a.stderr(name), b.stderr(name))
        np.testing.assert_array_equal(a.n(name), b.n(name))


def test_block_seed_is_spawned_child():
    kids = np.random.SeedSequence(42).spawn(5)
    for b in range(5):
        assert np.array_equal(block_seed(42, b).generate_state(4), kids[b].generate_state(4))
    assert block_sizes(10, 4) == [4, 4, 2] and block_sizes(8, 4) == [4, 4]


@pytest.mark.parametrize("method", ["collective", "preactivation", "weights"])
def test_chunk_size_and_workers_do_not_change_numbers(method):
    ref = sf.simulate(*ARGS, method=method, seed=7, block_size=16, chunk_size=1000)
    for kw in (dict(chunk_size=7), dict(chunk_size=64), dict(chunk_size=16, workers=3)):
        _same(ref, sf.simulate(*ARGS, method=method, seed=7, block_size=16, **kw))
    other = sf.simulate(*ARGS, method=method, seed=8, block_size=16)
    assert not np.array_equal(ref.value("q"), other.value("q"))


class Killed(RuntimeError):
    pass


def test_kill_and_resume_is_bitwise_identical(tmp_path):
    ref = sf.simulate(*ARGS, seed=3, block_size=10, chunk_size=20)
    ck = tmp_path / "run.npz"

    def kill_after_two_chunks(ci, done):
        if ci == 1:
            raise Killed

    with pytest.raises(Killed):
        sf.simulate(*ARGS, seed=3, block_size=10, chunk_size=20, checkpoint=ck, on_chunk=kill_after_two_chunks)
    meta, finished, accs = load_checkpoint(ck)
    assert finished.tolist() == [0, 1, 2, 3] and meta["seed"] == 3 and meta["backend"] == "numpy"
    assert meta["statfield_version"] == sf.__version__ and accs["q"].n == 40
    assert not os.path.exists(f"{ck}.tmp")
    seen = []
    resumed = sf.simulate(*ARGS, seed=3, block_size=10, chunk_size=30, checkpoint=ck,
                          on_chunk=lambda ci, done: seen.append(done))
    assert seen[0] == 4 + 3  # resumed after the 4 finished blocks, nothing recomputed or lost
    _same(ref, resumed)
    # a complete checkpoint resumes to the same numbers without sampling
    again = sf.simulate(*ARGS, seed=3, block_size=10, checkpoint=ck, on_chunk=lambda *a: pytest.fail("sampled"))
    _same(ref, again)


def test_truncated_checkpoint_resumes(tmp_path):
    """A kill right after the second one-block chunk: the resumed run equals the uninterrupted one."""
    ref = sf.simulate(*ARGS, seed=4, block_size=10, chunk_size=10)
    ck = tmp_path / "early.npz"
    with pytest.raises(Killed):
        sf.simulate(*ARGS, seed=4, block_size=10, chunk_size=10, checkpoint=ck,
                    on_chunk=lambda ci, done: (_ for _ in ()).throw(Killed) if done == 2 else None)
    _same(ref, sf.simulate(*ARGS, seed=4, block_size=10, checkpoint=ck))


def test_refuses_checkpoint_with_other_parameters(tmp_path):
    ck = tmp_path / "a.npz"
    sf.simulate(*ARGS, seed=1, block_size=50, checkpoint=ck)
    with pytest.raises(ValueError, match="sigma_w2"):
        sf.simulate("relu", 2.5, 0.1, 8, 6, 203, seed=1, block_size=50, checkpoint=ck)
    with pytest.raises(ValueError, match="seed"):
        sf.simulate(*ARGS, seed=2, block_size=50, checkpoint=ck)
    with pytest.raises(ValueError, match="block_size"):
        sf.simulate(*ARGS, seed=1, block_size=51, checkpoint=ck)
    bogus = tmp_path / "bogus.npz"
    np.savez(bogus, x=np.zeros(2))
    with pytest.raises(ValueError, match="not a statfield checkpoint"):
        sf.simulate(*ARGS, seed=1, checkpoint=bogus)


def test_cov_accumulator_merge_matches_direct():
    rng = np.random.default_rng(0)
    data = rng.standard_normal((101, 4)) @ rng.standard_normal((4, 4))
    acc = CovAccumulator(4)
    for part in np.array_split(data, [10, 11, 60]):
        acc.update(part)
    np.testing.assert_allclose(acc.mean, data.mean(0), rtol=1e-12)
    np.testing.assert_allclose(acc.covariance, np.cov(data.T), rtol=1e-12)
    back = CovAccumulator.from_state(acc.state())
    np.testing.assert_array_equal(back.C, acc.C)


def test_progress_bar_and_default_chunking_run(capsys):
    res = sf.simulate(*ARGS, seed=1, block_size=50, progress=True)
    _same(res, sf.simulate(*ARGS, seed=1, block_size=50))

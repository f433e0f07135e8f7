"""Checkpoints: internal consistency (checksum, block list, sample count), unreadable files named,
unique temporary files, no symlink following, the writer lock."""

import os
import threading

import numpy as np
import pytest

import statfield as sf
from statfield._io import file_lock
from statfield.sampling import runner
from statfield.sampling.runner import load_checkpoint, save_checkpoint

ARGS = ("relu", 2.0, 0.1, 8, 6, 4000)
KW = dict(seed=5, block_size=64, chunk_size=640)


class Killed(RuntimeError):
    pass


def _partial(tmp_path, name="ck.npz"):
    """A checkpoint of a run killed after its second chunk (20 of 63 blocks finished)."""
    ck = tmp_path / name

    def kill(ci, done):
        if ci == 1:
            raise Killed

    with pytest.raises(Killed):
        sf.simulate(*ARGS, checkpoint=ck, on_chunk=kill, **KW)
    return ck


def _rewrite(ck, mutate, rehash=True):
    with np.load(ck, allow_pickle=False) as f:
        arrays = {k: np.array(f[k]) for k in f.files}
    mutate(arrays)
    if rehash:
        arrays["checksum"] = np.asarray(runner._checksum(arrays))
    np.savez(ck, **arrays)


def test_shortened_block_list_is_refused_not_resumed(tmp_path):
    """The reproducer: finished blocks cut to 0..12 while the sums hold 20 blocks -> n would be 4512."""
    ck = _partial(tmp_path)
    _rewrite(ck, lambda a: a.update(finished_blocks=np.arange(13, dtype=np.int64)))
    with pytest.raises(ValueError, match=r"ck\.npz.*inconsistent.*holds 1280 samples.*hold 832"):
        sf.simulate(*ARGS, checkpoint=ck, **KW)


def test_gap_in_block_list_and_tampered_sums_are_refused(tmp_path):
    ck = _partial(tmp_path)
    _rewrite(ck, lambda a: a.update(finished_blocks=np.array([0, 1, 3], dtype=np.int64)))
    with pytest.raises(ValueError, match="exactly 0..k-1"):
        load_checkpoint(ck)
    ck2 = _partial(tmp_path, "ck2.npz")
    _rewrite(ck2, lambda a: a.update({"acc__q__mean": a["acc__q__mean"] * 1.001}), rehash=False)
    with pytest.raises(ValueError, match=r"ck2\.npz.*checksum"):
        sf.simulate(*ARGS, checkpoint=ck2, **KW)


@pytest.mark.parametrize("cut", [0, 10, 200, -50])
def test_truncated_or_garbage_file_raises_value_error_naming_it(tmp_path, cut):
    ck = _partial(tmp_path)
    data = ck.read_bytes()
    ck.write_bytes(data[:cut] if cut >= 0 else data[:cut] + b"\0" * 10)
    with pytest.raises(ValueError, match=r"ck\.npz"):
        sf.simulate(*ARGS, checkpoint=ck, **KW)


def test_writes_through_unique_temporary_and_never_follows_a_planted_symlink(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    ck = tmp_path / "run.npz"
    os.symlink(victim, f"{ck}.tmp")
    res = sf.simulate(*ARGS, checkpoint=ck, **KW)
    assert victim.read_text() == "precious"
    meta, finished, accs = load_checkpoint(ck)
    assert len(finished) == 63 and accs["q"].n == 4000
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp") and p.name != "run.npz.tmp"]
    assert leftovers == []
    np.testing.assert_array_equal(res.value("q"), sf.simulate(*ARGS, **KW).value("q"))


def test_writer_waits_for_the_lock(tmp_path):
    ck = tmp_path / "locked.npz"
    done = threading.Event()
    with file_lock(ck):
        t = threading.Thread(target=lambda: (save_checkpoint(ck, {"n_samples": 2, "block_size": 1}, 0, {}),
                                             done.set()))
        t.start()
        t.join(0.3)
        assert not done.is_set() and not ck.exists()  # blocked while another writer holds the lock
    t.join(30)
    assert done.is_set() and load_checkpoint(ck)[1].tolist() == []

"""Loading weights without unpickling: .npz/.npy, safetensors (built-in reader and library), refusals."""

import json
import pickle
import struct
import zipfile

import numpy as np
import pytest

from statfield.spectra import PickleRefusedError, load_weights, weight_matrices
from statfield.spectra.io import read_safetensors


def _write_safetensors(path, tensors):
    """A minimal safetensors writer (the documented format), independent of the library."""
    header, blobs, off = {}, [], 0
    for name, (dtype, arr_bytes, shape) in tensors.items():
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [off, off + len(arr_bytes)]}
        blobs.append(arr_bytes)
        off += len(arr_bytes)
    header["__metadata__"] = {"format": "np"}
    h = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def test_npz_and_npy(tmp_path):
    a, b = np.arange(12.0).reshape(3, 4), np.ones(5, np.float32)
    np.savez(tmp_path / "w.npz", fc=a, bias=b)
    t = load_weights(tmp_path / "w.npz")
    assert list(t) == ["fc", "bias"]
    np.testing.assert_array_equal(t["fc"], a)
    np.save(tmp_path / "single.npy", a)
    np.testing.assert_array_equal(load_weights(tmp_path / "single.npy")["single"], a)


def test_builtin_safetensors_reader(tmp_path):
    w = np.random.default_rng(0).standard_normal((6, 4))
    f16 = w.astype(np.float16)
    bf16 = (w.astype(np.float32).view(np.uint32) >> 16).astype(np.uint16)  # truncation to bfloat16
    _write_safetensors(tmp_path / "m.safetensors", {
        "a.weight": ("F64", w.astype("<f8").tobytes(), w.shape),
        "b.weight": ("F16", f16.astype("<f2").tobytes(), w.shape),
        "c.weight": ("BF16", bf16.astype("<u2").tobytes(), w.shape),
        "steps": ("I64", np.array([3], "<i8").tobytes(), (1,)),
    })
    t = read_safetensors(tmp_path / "m.safetensors")
    np.testing.assert_array_equal(t["a.weight"], w)
    np.testing.assert_array_equal(t["b.weight"], f16)
    np.testing.assert_allclose(t["c.weight"], w, rtol=2**-7)
    t2 = load_weights(tmp_path / "m.safetensors")  # library or built-in reader: same values
    np.testing.assert_array_equal(t2["a.weight"], w)
    np.testing.assert_allclose(t2["c.weight"], w, rtol=2**-7)
    assert set(weight_matrices(t2)) == {"a.weight", "b.weight", "c.weight"}


def test_safetensors_library_roundtrip(tmp_path):
    st = pytest.importorskip("safetensors.numpy", reason="the optional 'safetensors' package is not installed "
                                                         "(pip install statfield[spectra])")
    w = {"l1.weight": np.random.default_rng(1).standard_normal((30, 20)).astype(np.float32),
         "l1.bias": np.zeros(30, np.float32)}
    st.save_file(w, str(tmp_path / "lib.safetensors"))
    t = load_weights(tmp_path / "lib.safetensors")
    np.testing.assert_array_equal(t["l1.weight"], w["l1.weight"])
    np.testing.assert_array_equal(read_safetensors(tmp_path / "lib.safetensors")["l1.weight"], w["l1.weight"])


def test_pickles_are_refused(tmp_path):
    p = tmp_path / "model.pt"
    p.write_bytes(pickle.dumps({"w": [1.0, 2.0]}, protocol=2))
    with pytest.raises(PickleRefusedError, match="never unpickles"):
        load_weights(p)
    p.write_bytes(pickle.dumps({"w": 1}, protocol=0))
    with pytest.raises(PickleRefusedError, match="pickle"):
        load_weights(p)
    np.savez(tmp_path / "obj.npz", w=np.array([{"a": 1}], dtype=object))
    with pytest.raises(PickleRefusedError, match="Python objects"):
        load_weights(tmp_path / "obj.npz")
    np.save(tmp_path / "obj.npy", np.array([None, 1], dtype=object), allow_pickle=True)
    with pytest.raises(PickleRefusedError, match="Python objects"):
        load_weights(tmp_path / "obj.npy")


def test_torch_archive_needs_torch_weights_only(tmp_path):
    p = tmp_path / "sd.pt"
    with zipfile.ZipFile(p, "w") as z:  # the layout of a torch.save zip archive
        z.writestr("archive/data.pkl", pickle.dumps({"w": 1}))
    try:
        import torch  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="weights_only=True"):
            load_weights(p)
    else:  # a pickle of a plain dict of ints is not a tensor state dict: refused or rejected, never executed
        with pytest.raises((PickleRefusedError, ValueError)):
            load_weights(p)


def test_torch_state_dict_roundtrip(tmp_path):
    torch = pytest.importorskip("torch", reason="torch is not installed (optional)")
    sd = {"fc.weight": torch.randn(8, 5), "fc.bias": torch.zeros(8)}
    torch.save(sd, tmp_path / "sd.pt")
    t = load_weights(tmp_path / "sd.pt")
    np.testing.assert_allclose(t["fc.weight"], sd["fc.weight"].numpy())


def test_unknown_corrupt_and_missing(tmp_path):
    (tmp_path / "x.bin").write_bytes(b"hello world, not weights")
    with pytest.raises(ValueError, match="unknown weight-file format"):
        load_weights(tmp_path / "x.bin")
    with pytest.raises(FileNotFoundError, match="no such weight file"):
        load_weights(tmp_path / "missing.safetensors")
    h = json.dumps({"w": {"dtype": "F32", "shape": [4, 4], "data_offsets": [0, 64]}}).encode()
    (tmp_path / "short.safetensors").write_bytes(struct.pack("<Q", len(h)) + h + b"\0" * 10)
    with pytest.raises(ValueError, match="outside the data"):
        read_safetensors(tmp_path / "short.safetensors")
    h = json.dumps({"w": {"dtype": "F8_E4M3", "shape": [2], "data_offsets": [0, 2]}}).encode()
    (tmp_path / "f8.safetensors").write_bytes(struct.pack("<Q", len(h)) + h + b"\0" * 2)
    with pytest.raises(ValueError, match="cannot read"):
        read_safetensors(tmp_path / "f8.safetensors")


def test_weight_matrices_selection():
    conv = np.random.default_rng(0).standard_normal((16, 8, 3, 3))
    t = {"conv.weight": conv, "fc.weight": np.ones((10, 16)), "fc.bias": np.ones(10), "col": np.ones((10, 1)),
         "idx": np.arange(20).reshape(4, 5)}
    flat = weight_matrices(t)
    assert set(flat) == {"conv.weight", "fc.weight"} and flat["conv.weight"].shape == (16, 72)
    sl = weight_matrices(t, conv="slices")
    assert len(sl) == 10 and sl["conv.weight[1,2]"].shape == (16, 8)
    np.testing.assert_array_equal(sl["conv.weight[1,2]"], conv[:, :, 1, 2])
    assert set(weight_matrices(t, conv="skip")) == {"fc.weight"}
    with pytest.raises(ValueError, match="conv must be"):
        weight_matrices(t, conv="bogus")

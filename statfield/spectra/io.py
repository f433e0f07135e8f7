r"""Loading weight tensors without ever unpickling.

A pickle can run arbitrary code when loaded, so statfield never calls :func:`pickle.load` on a weight file.
The format is recognised from the file's first bytes (not its extension):

* ``.npy`` / ``.npz`` (NumPy): :func:`numpy.load` with ``allow_pickle=False`` (object arrays are refused);
* **safetensors** (8-byte little-endian header length, then a JSON header): the ``safetensors`` package
  when installed (``pip install statfield[spectra]``), otherwise a built-in reader of the documented
  format (header ``{name: {"dtype", "shape", "data_offsets"}}``, raw little-endian data; F64, F32, F16,
  BF16 and integer dtypes), which also serves BF16 tensors that ``safetensors.numpy`` cannot return;
* **PyTorch** zip archives (``torch.save`` since 1.6): only through ``torch.load(..., weights_only=True)``
  (restricted unpickler of tensors and containers; needs the optional ``torch``);
* anything that starts like a pickle (protocol 2+ magic ``0x80``, or a legacy ``torch.save`` file) is
  refused with :class:`PickleRefusedError`.

:func:`weight_matrices` then selects the weight matrices of a state dict: 2-D tensors as they are
(PyTorch ``Linear.weight`` has shape ``(out, in)``, i.e. fan-in = columns as in ``docs/conventions.md``),
convolution kernels ``(out, in, k1, k2, ...)`` either flattened to ``(out, in * k1 * k2 ...)`` or sliced
into the ``k1 * k2 ...`` matrices ``(out, in)`` that weightwatcher analyses.
"""

from __future__ import annotations

import json
import struct
import zipfile
from pathlib import Path

import numpy as np

__all__ = ["load_weights", "weight_matrices", "PickleRefusedError", "read_safetensors"]


class PickleRefusedError(ValueError):
    """The file is (or contains) a Python pickle, which statfield never loads."""


_ST_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
              "U8": "u1", "U16": "<u2", "U32": "<u4", "U64": "<u8", "BOOL": "?"}


def _refuse(path, what):
    raise PickleRefusedError(
        f"{path}: {what}. statfield never unpickles files (loading a pickle can execute arbitrary code). "
        "Convert the weights to safetensors (safetensors.torch.save_file(model.state_dict(), 'w.safetensors')) "
        "or to .npz (numpy.savez), or for a PyTorch zip archive install torch so that "
        "torch.load(..., weights_only=True) can be used.")


def read_safetensors(path) -> dict:
    """Read a safetensors file with the built-in reader (no dependency); returns ``name -> ndarray``.

    The format: 8 bytes little-endian ``u64`` header size ``n``, ``n`` bytes of JSON header mapping each
    tensor name to ``{"dtype", "shape", "data_offsets": [begin, end]}`` (offsets into the data that follows;
    an optional ``"__metadata__"`` entry), then the raw little-endian data.
    """
    path = Path(path)
    raw = path.read_bytes()
    if len(raw) < 8:
        raise ValueError(f"{path}: too short for a safetensors file ({len(raw)} bytes)")
    (n,) = struct.unpack("<Q", raw[:8])
    if n > len(raw) - 8:
        raise ValueError(f"{path}: corrupt safetensors header (header size {n} > file size {len(raw)})")
    try:
        header = json.loads(raw[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: corrupt safetensors header ({exc})") from exc
    data = memoryview(raw)[8 + n:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dt, shape, (b, e) = info["dtype"], tuple(int(s) for s in info["shape"]), info["data_offsets"]
        if not (0 <= b <= e <= len(data)):
            raise ValueError(f"{path}: tensor {name!r} has data offsets {b}..{e} outside the data ({len(data)} bytes)")
        count = int(np.prod(shape)) if shape else 1
        if dt == "BF16":
            u16 = np.frombuffer(data[b:e], dtype="<u2")
            if u16.size != count:
                raise ValueError(f"{path}: tensor {name!r}: {u16.size} values for shape {shape}")
            arr = (u16.astype(np.uint32) << 16).view(np.float32).reshape(shape)
        elif dt in _ST_DTYPES:
            arr = np.frombuffer(data[b:e], dtype=_ST_DTYPES[dt])
            if arr.size != count:
                raise ValueError(f"{path}: tensor {name!r}: {arr.size} values for shape {shape}")
            arr = arr.reshape(shape)
        else:
            raise ValueError(f"{path}: tensor {name!r} has dtype {dt}, which statfield cannot read "
                             f"(supported: {sorted(_ST_DTYPES) + ['BF16']})")
        out[name] = np.array(arr)
    return out


def _load_safetensors(path):
    try:
        from safetensors.numpy import load_file
    except ImportError:
        return read_safetensors(path)
    try:
        return dict(load_file(str(path)))
    except (TypeError, ValueError, KeyError):  # e.g. BF16, which safetensors.numpy cannot return
        return read_safetensors(path)


def _load_torch(path):
    try:
        import torch
    except ImportError as exc:
        raise ImportError(f"{path} is a PyTorch archive; reading it needs torch (pip install torch, CPU build), "
                          "used only through torch.load(..., weights_only=True). Or convert it to safetensors "
                          "(pip install statfield[spectra]).") from exc
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises UnpicklingError for disallowed globals
        _refuse(path, f"torch.load(weights_only=True) refused it ({type(exc).__name__}: {exc})")
    for key in ("state_dict", "model_state_dict", "model"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    if not isinstance(obj, dict):
        raise ValueError(f"{path}: expected a state dict (name -> tensor), got {type(obj).__name__}")
    out = {}
    for k, v in obj.items():
        if hasattr(v, "detach"):
            out[str(k)] = v.detach().cpu().float().numpy() if v.is_floating_point() else v.detach().cpu().numpy()
    return out


def load_weights(path) -> dict:
    """Load the tensors of a weight file, never unpickling; returns ``name -> ndarray`` in file order.

    Parameters
    ----------
    path : str or os.PathLike
        A ``.npy``/``.npz``, safetensors or PyTorch zip file (recognised from its first bytes).

    Raises
    ------
    PickleRefusedError
        The file is a pickle (or a ``.npz`` holding object arrays, or a PyTorch file that
        ``weights_only=True`` rejects).
    ImportError
        A PyTorch archive without torch installed (names the package to install).
    ValueError
        Unknown or corrupt format.
    FileNotFoundError
        No such file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such weight file: {path}")
    with open(path, "rb") as fh:
        head = fh.read(16)
    if head.startswith(b"\x93NUMPY"):
        try:
            return {path.stem: np.load(path, allow_pickle=False)}
        except ValueError as exc:
            _refuse(path, f"the .npy file holds Python objects ({exc})")
    if head.startswith(b"PK\x03\x04"):
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
        if any(n.endswith("data.pkl") for n in names):
            return _load_torch(path)
        out = {}
        with np.load(path, allow_pickle=False) as z:
            for k in z.files:
                try:
                    out[k] = z[k]
                except ValueError as exc:
                    _refuse(path, f"array {k!r} of the .npz holds Python objects ({exc})")
        return out
    if head[:1] == b"\x80" or head[:2] in (b"(d", b"}q", b"(l"):
        _refuse(path, "this is a Python pickle (e.g. a legacy torch.save or pickle.dump file)")
    if len(head) >= 9:
        (n,) = struct.unpack("<Q", head[:8])
        if head[8:9] == b"{" and 0 < n <= path.stat().st_size - 8:
            return _load_safetensors(path)
    raise ValueError(f"{path}: unknown weight-file format (expected .npy/.npz, safetensors or a PyTorch zip "
                     f"archive; first bytes {head[:8]!r})")


def weight_matrices(tensors, conv="flatten", include=None) -> dict:
    r"""Select the weight matrices of a state dict: 2-D tensors, and convolution kernels reshaped.

    Parameters
    ----------
    tensors : dict name -> array
        E.g. the output of :func:`load_weights`.
    conv : {"flatten", "slices", "skip"}
        Kernels of ndim >= 3, shape ``(out, in, k...)``: ``"flatten"`` -> one ``(out, in * prod(k))``
        matrix; ``"slices"`` -> ``prod(k)`` matrices ``(out, in)`` named ``name[i,j,...]`` (weightwatcher's
        convention); ``"skip"`` -> left out.
    include : callable ``(name, array) -> bool``, optional
        Extra filter. By default 1-D tensors (biases, norms) and 2-D tensors with a dimension of 1 are left out.

    Returns
    -------
    dict name -> 2-D float64 ndarray
    """
    if conv not in ("flatten", "slices", "skip"):
        raise ValueError(f"conv must be 'flatten', 'slices' or 'skip', got {conv!r}")
    out = {}
    for name, t in tensors.items():
        a = np.asarray(t)
        if not np.issubdtype(a.dtype, np.floating):
            continue
        if include is not None and not include(name, a):
            continue
        if a.ndim == 2:
            if min(a.shape) > 1:
                out[name] = a.astype(np.float64)
        elif a.ndim >= 3 and conv != "skip":
            if conv == "flatten":
                out[name] = a.reshape(a.shape[0], -1).astype(np.float64)
            else:
                for idx in np.ndindex(*a.shape[2:]):
                    out[f"{name}[{','.join(map(str, idx))}]"] = a[(slice(None), slice(None)) + idx].astype(np.float64)
    return out

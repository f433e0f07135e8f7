"""Files and JSON, once: atomic writes through a unique temporary file, JSON conversion, a write lock.

Every file statfield writes (checkpoints, results.json, figures, .tex) goes through :func:`atomic_write`:
the data are written to a fresh ``tempfile.mkstemp`` file *in the destination folder* (so two writers never
share a temporary name and a planted symlink at a fixed name is never followed), flushed and fsync'ed, and
then moved over the destination with :func:`os.replace` (atomic on POSIX). A reader therefore sees either
the old file or the new one, never a partial file.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

__all__ = ["atomic_write", "atomic_write_bytes", "atomic_write_text", "write_json", "to_jsonable", "file_lock"]


def atomic_write(path, writer: Callable, mode: str = "wb") -> Path:
    """Write ``path`` atomically: ``writer(fh)`` fills a unique temporary file that then replaces ``path``.

    Parameters
    ----------
    path : str or os.PathLike
        Destination. Its parent folder is created if missing.
    writer : callable ``(file object) -> None``
        Writes the content (e.g. ``lambda fh: np.savez(fh, **arrays)``).
    mode : ``"wb"`` or ``"w"``
        Binary or text (UTF-8) temporary file.

    Returns
    -------
    pathlib.Path
        The destination.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        kw = {} if "b" in mode else {"encoding": "utf-8"}
        with os.fdopen(fd, mode, **kw) as fh:
            writer(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def atomic_write_bytes(path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_write`)."""
    return atomic_write(path, lambda fh: fh.write(data), "wb")


def atomic_write_text(path, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically (see :func:`atomic_write`)."""
    return atomic_write(path, lambda fh: fh.write(text), "w")


def to_jsonable(obj):
    """Convert ``obj`` to plain JSON types.

    NumPy arrays become (nested) lists, NumPy scalars Python scalars, non-finite floats ``None``
    (JSON has no NaN/inf), paths strings, dataclass-like objects with ``to_dict()`` their dict, tuples and
    sets lists; anything else falls back to ``str``.
    """
    if hasattr(obj, "to_dict") and callable(obj.to_dict) and not isinstance(obj, type):
        return to_jsonable(obj.to_dict())
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (np.integer, int)):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        v = float(obj)
        return v if math.isfinite(v) else None
    if isinstance(obj, complex):
        return {"real": to_jsonable(obj.real), "imag": to_jsonable(obj.imag)}
    if isinstance(obj, str) or obj is None:
        return obj
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    return str(obj)


def write_json(path, obj, indent: int = 2) -> Path:
    """Write ``obj`` as JSON (through :func:`to_jsonable`) atomically; non-finite floats become ``null``."""
    text = json.dumps(to_jsonable(obj), indent=indent, allow_nan=False)
    return atomic_write_text(path, text + "\n")


@contextlib.contextmanager
def file_lock(path, timeout: float = 30.0) -> Iterator[Path]:
    """An exclusive advisory lock on ``<path>.lock`` (POSIX ``fcntl.flock``) for writers of ``path``.

    Raises
    ------
    TimeoutError
        When another process holds the lock for longer than ``timeout`` seconds (names the file).
    """
    import time

    path = Path(path)
    lock_path = path.with_name(path.name + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
    try:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - non-POSIX: no locking available
            yield lock_path
            return
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"checkpoint/output file {path} is locked by another writer "
                                       f"({lock_path}); waited {timeout:g} s") from None
                time.sleep(0.05)
        try:
            yield lock_path
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)

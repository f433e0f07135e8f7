"""One progress-bar helper for the whole package (tqdm on stderr, silent when disabled or unavailable)."""

from __future__ import annotations

import sys
from typing import Iterable

__all__ = ["progress_bar"]


class _NullBar:
    def update(self, n=1):
        pass

    def set_postfix_str(self, s="", refresh=True):
        pass

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def progress_bar(total: int | None = None, desc: str = "", unit: str = "it", enabled: bool = True,
                 initial: int = 0, leave: bool = False):
    """A tqdm bar on stderr (``update``, ``set_postfix_str``, ``close``; usable as a context manager).

    Parameters
    ----------
    total : int or None
        Number of steps (``None``: unknown).
    desc, unit : str
        Label and unit shown by tqdm.
    enabled : bool
        ``False`` returns a silent bar with the same interface (also when tqdm is not installed).
    initial : int
        Steps already done (e.g. blocks restored from a checkpoint).
    leave : bool
        Keep the finished bar on screen.
    """
    if not enabled:
        return _NullBar()
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - tqdm is a core dependency
        return _NullBar()
    return tqdm(total=total, desc=desc, unit=unit, initial=initial, file=sys.stderr, leave=leave,
                dynamic_ncols=True)


def progress_iter(iterable: Iterable, total: int | None = None, desc: str = "", unit: str = "it",
                  enabled: bool = True):
    """Iterate over ``iterable`` with a progress bar (see :func:`progress_bar`)."""
    bar = progress_bar(total=total if total is not None else _len(iterable), desc=desc, unit=unit, enabled=enabled)
    try:
        for item in iterable:
            yield item
            bar.update(1)
    finally:
        bar.close()


def _len(it):
    try:
        return len(it)
    except TypeError:
        return None

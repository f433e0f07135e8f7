"""Helpers shared by the subcommands: argument types that turn bad values into usage errors, JSON output."""

from __future__ import annotations

import argparse
import json
import math
import sys

__all__ = ["nonneg_int", "positive_int", "positive_float", "finite_float", "print_json", "csv_list"]


def _int(text: str, what: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer {what}, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected an integer {what}, got {value}")
    return value


def nonneg_int(text: str) -> int:
    """argparse type: an integer ``>= 0`` (a negative seed is a usage error, exit status 2)."""
    return _int(text, ">= 0", 0)


def positive_int(text: str) -> int:
    """argparse type: an integer ``>= 1``."""
    return _int(text, ">= 1", 1)


def finite_float(text: str) -> float:
    """argparse type: a finite float (``nan``/``inf`` are usage errors)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """argparse type: a finite float ``> 0``."""
    value = finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def csv_list(text: str) -> tuple:
    """argparse type: a comma-separated list of names (``q,log_q,G``); empty entries are usage errors."""
    items = tuple(s.strip() for s in text.split(","))
    if not items or any(not s for s in items):
        raise argparse.ArgumentTypeError(f"expected a comma-separated list of names, got {text!r}")
    return items


def print_json(obj) -> None:
    """Print ``obj`` as indented JSON on stdout (through :func:`statfield._io.to_jsonable`: NaN/inf -> null)."""
    from .._io import to_jsonable

    sys.stdout.write(json.dumps(to_jsonable(obj), indent=2, allow_nan=False) + "\n")

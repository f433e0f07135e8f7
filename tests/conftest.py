"""Shared fixtures: the ``xp`` array-namespace fixture (GLASS / scipy style).

``STATFIELD_XP`` selects the namespaces: ``numpy`` (default: numpy and array-api-strict),
``all`` (also torch and cupy where importable), or a comma-separated list.
"""

import importlib
import os

import numpy as np
import pytest


def _namespaces():
    want = os.environ.get("STATFIELD_XP", "numpy,array_api_strict")
    if want == "all":
        want = "numpy,array_api_strict,torch,cupy"
    out = []
    for name in want.split(","):
        name = name.strip()
        try:
            mod = importlib.import_module(name)
        except ImportError:
            continue
        if name == "cupy":
            try:
                mod.cuda.runtime.getDeviceCount()
            except Exception:
                continue
        out.append(pytest.param(mod, id=name))
    return out


@pytest.fixture(params=_namespaces())
def xp(request):
    """An array namespace: numpy, array_api_strict (and torch/cupy with STATFIELD_XP=all)."""
    return request.param


@pytest.fixture
def rng():
    return np.random.default_rng(20261122)

r"""Array backends and their random generators, chosen per call (no global switch).

The samplers are written against the Python array API standard. This module resolves a
backend name to an array namespace and gives each backend its *own* random generator behind
one small interface (the RNG is outside the array API standard; cf. GLASS ``rng.py``):

========================  ==============================================  =====================
backend                   namespace                                       generator
========================  ==============================================  =====================
``"numpy"`` (default)     ``array_api_compat.numpy`` (plain ndarrays)     ``numpy.random.Generator(PCG64)``
``"array_api_strict"``    ``array_api_strict``                            NumPy ``PCG64``, drawn on the host and
                                                                          converted with ``xp.asarray`` (the
                                                                          strict namespace has no RNG; it exists
                                                                          to check the interface, not speed)
``"cupy"``                ``array_api_compat.cupy``                       ``cupy.random.Generator`` (XORWOW,
                                                                          on the device)
========================  ==============================================  =====================

Every generator is seeded from a :class:`numpy.random.SeedSequence` (or an int), so the
runner can spawn one independent child per block of samples. Numbers drawn with NumPy and
array-api-strict from the same seed are identical; CuPy draws a different (equally valid)
stream. All arrays are float64.
"""

from __future__ import annotations

import importlib
import types

import numpy as np

__all__ = ["get_namespace", "backend_name", "default_rng", "BackendRNG", "to_numpy"]

_NAMES = ("numpy", "cupy", "array_api_strict")


def _import_cupy():
    try:
        import cupy  # noqa: F401
    except ImportError as exc:  # pragma: no cover - depends on the machine
        raise ValueError(
            "backend='cupy' needs CuPy (pip install 'statfield[gpu]' or cupy-cudaXXx) and a GPU; "
            f"import failed: {exc}"
        ) from None
    import array_api_compat.cupy as xcp

    return xcp


def get_namespace(backend="numpy"):
    """The array namespace for ``backend``.

    Parameters
    ----------
    backend : {"numpy", "cupy", "array_api_strict"} or module
        A backend name or an array module (``numpy``, ``cupy``, ``array_api_strict``,
        ``array_api_compat.numpy``, ...; anything ``array_api_compat`` understands).

    Returns
    -------
    module
        An array-API namespace: ``array_api_compat.numpy`` for NumPy, ``array_api_compat.cupy``
        for CuPy, ``array_api_strict`` itself.

    Raises
    ------
    ValueError
        Unknown backend name, or CuPy requested but not installed.
    """
    if isinstance(backend, str):
        key = backend.strip().lower().replace("-", "_")
        if key == "numpy":
            import array_api_compat.numpy as xnp

            return xnp
        if key == "cupy":
            return _import_cupy()
        if key == "array_api_strict":
            return importlib.import_module("array_api_strict")
        raise ValueError(f"backend must be one of {list(_NAMES)} or an array module, got {backend!r}")
    if isinstance(backend, types.ModuleType):
        name = backend.__name__
        if name in ("numpy", "array_api_compat.numpy"):
            return get_namespace("numpy")
        if name in ("cupy", "array_api_compat.cupy"):
            return get_namespace("cupy")
        if name == "array_api_strict":
            return backend
        try:
            from array_api_compat import array_namespace

            return array_namespace(backend.asarray(0.0))
        except Exception as exc:
            raise ValueError(f"backend: module {name!r} is not an array-API namespace ({exc})") from None
    raise ValueError(f"backend must be one of {list(_NAMES)} or an array module, got {backend!r}")


def backend_name(xp) -> str:
    """Canonical name (``"numpy"``, ``"cupy"``, ``"array_api_strict"`` or the module name) of ``xp``."""
    name = getattr(xp, "__name__", str(xp))
    for key in _NAMES:
        if name.endswith(key):
            return key
    return name


def _seed_sequence(seed) -> np.random.SeedSequence:
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) and seed >= 0:
        return np.random.SeedSequence(int(seed))
    raise ValueError(f"seed must be a non-negative integer or a numpy.random.SeedSequence, got {seed!r}")


class BackendRNG:
    r"""A backend's own random generator behind a small uniform interface.

    Methods return float64 arrays of namespace ``xp`` (``binomial`` returns float64 counts
    too, so they enter arithmetic directly). Use :func:`default_rng` to build one.

    * ``standard_normal(shape, dtype="float64")``: i.i.d. :math:`N(0,1)` (``"float32"``: NumPy's float32
      generator, a different stream);
    * ``chisquare(df, shape)``: :math:`\chi^2_{df}`, ``df`` an array broadcastable to ``shape``;
      ``df = 0`` gives exactly 0 (the degenerate :math:`\chi^2_0`), which NumPy's own
      ``chisquare`` rejects;
    * ``binomial(n, p, shape)``: :math:`\mathrm{Binomial}(n, p)`.
    """

    def __init__(self, seed, xp):
        self.xp = xp
        self.name = backend_name(xp)
        ss = _seed_sequence(seed)
        self.seed_sequence = ss
        if self.name == "cupy":
            import cupy

            seed_int = int(ss.generate_state(1, dtype=np.uint64)[0])
            self._cp = cupy
            self._gen = cupy.random.default_rng(seed_int)
            # older CuPy Generators lack binomial: fall back to a legacy RandomState on its own child seed
            self._binom = (self._gen if hasattr(self._gen, "binomial")
                           else cupy.random.RandomState(int(ss.spawn(1)[0].generate_state(1)[0])))
        else:
            self._gen = np.random.Generator(np.random.PCG64(ss))

    # host arrays -> xp (identity for numpy)
    def _out(self, a):
        if self.name == "numpy":
            return np.asarray(a, dtype=np.float64)
        return self.xp.asarray(np.asarray(a, dtype=np.float64))

    def _host(self, a):
        return to_numpy(a) if not isinstance(a, (int, float, np.ndarray, np.generic)) else np.asarray(a)

    def standard_normal(self, shape, dtype="float64"):
        shape = tuple(int(s) for s in np.atleast_1d(shape)) if not isinstance(shape, tuple) else shape
        if dtype not in ("float64", "float32"):
            raise ValueError(f"dtype must be 'float64' or 'float32', got {dtype!r}")
        if self.name == "cupy":
            return self._gen.standard_normal(size=shape, dtype=getattr(self._cp, dtype))
        if dtype == "float32":  # NumPy's own float32 ziggurat (a different stream from float64)
            a = self._gen.standard_normal(size=shape, dtype=np.float32)
            return a if self.name == "numpy" else self.xp.asarray(a)
        return self._out(self._gen.standard_normal(size=shape))

    def chisquare(self, df, shape):
        if self.name == "cupy":
            cp = self._cp
            df = cp.asarray(df, dtype=cp.float64)
            pos = df > 0
            safe = cp.where(pos, df, 1.0)
            g = self._gen.standard_gamma(cp.broadcast_to(safe / 2.0, shape), size=shape, dtype=cp.float64)
            return cp.where(pos, 2.0 * g, 0.0)
        df = np.asarray(self._host(df), dtype=np.float64)
        if np.any(df < 0):
            raise ValueError("chisquare: df must be >= 0")
        pos = df > 0
        x = self._gen.chisquare(np.where(pos, df, 1.0), size=shape)
        return self._out(np.where(pos, x, 0.0))

    def binomial(self, n, p, shape):
        if self.name == "cupy":
            cp = self._cp
            return self._binom.binomial(n, p, size=shape).astype(cp.float64)
        return self._out(self._gen.binomial(np.asarray(self._host(n)), p, size=shape))


def default_rng(seed=0, xp=None) -> BackendRNG:
    """The random generator of backend ``xp`` seeded from ``seed``.

    Parameters
    ----------
    seed : int >= 0 or numpy.random.SeedSequence
        Seed (the runner passes one spawned child ``SeedSequence`` per block).
    xp : module or str, optional
        Namespace or backend name (default NumPy).

    Returns
    -------
    BackendRNG
        NumPy ``Generator(PCG64)`` for NumPy and array-api-strict (drawn on the host and converted,
        so both give identical numbers), ``cupy.random.Generator`` for CuPy.
    """
    xp = get_namespace("numpy" if xp is None else xp)
    return BackendRNG(seed, xp)


def to_numpy(x) -> np.ndarray:
    """Copy/convert an array of any supported backend to a NumPy float64 (or int) array."""
    if isinstance(x, np.ndarray):
        return x
    if isinstance(x, (int, float, np.generic, list, tuple)):
        return np.asarray(x)
    mod = type(x).__module__
    if mod.startswith("cupy"):
        return x.get()
    try:
        return np.asarray(x)
    except Exception:
        return np.from_dlpack(x)

"""The activation registry: names -> :class:`~statfield.activations.Activation` factories.

The built-in activations register themselves in :mod:`statfield.activations.builtin`; user code adds
its own with :func:`register`. :func:`get_activation` resolves names, :class:`Activation` objects,
SymPy expressions and NumPy callables. Names are only looked up here: every other module dispatches on
the returned object's attributes.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable

from .core import Activation

__all__ = ["get_activation", "register", "register_prefix", "registered_names"]

_REGISTRY: dict[str, Callable[[], Activation]] = {}
_PREFIXES: dict[str, Callable[[float], Activation]] = {}
_CACHE: dict[str, Activation] = {}
# user objects resolved before: SymPy expressions are immutable (keyed by value), callables by identity
# (weakly, so that a dropped lambda frees its entry); bounded so that loops over fresh lambdas stay small
_SYMPY_CACHE: dict = {}
_CALLABLE_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_USER_CACHE_MAX = 256


def register(name: str, factory) -> None:
    """Add an activation to the registry under ``name`` (case-insensitive).

    Parameters
    ----------
    name : str
        Non-empty registry name.
    factory : callable ``() -> Activation`` or Activation
        Builds the activation (called once, on first use), or the activation itself. Closed forms,
        kinks and slopes are attributes of the returned object: adding an activation with closed forms
        needs nothing but this call (see :mod:`statfield.activations.builtin` for examples).
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError("name must be a non-empty string")
    if isinstance(factory, Activation):
        act = factory
        factory = lambda: act
    if not callable(factory):
        raise TypeError("factory must be a callable returning an Activation, or an Activation")
    key = name.strip().lower()
    _REGISTRY[key] = factory
    _CACHE.pop(key, None)


def register_prefix(prefix: str, factory: Callable[[float], Activation]) -> None:
    """Register a parametrised family: ``get_activation(prefix + "<number>")`` calls ``factory(number)``."""
    if not isinstance(prefix, str) or not prefix:
        raise ValueError("prefix must be a non-empty string")
    _PREFIXES[prefix.lower()] = factory


def _ensure_builtins():
    from . import builtin  # noqa: F401  (registers the built-in activations on import)


def registered_names() -> tuple[str, ...]:
    """Names accepted by :func:`get_activation`."""
    _ensure_builtins()
    return tuple(_REGISTRY)


def get_activation(activation) -> Activation:
    """Resolve ``activation`` to an :class:`Activation`.

    Accepts an :class:`Activation`, a registered name (``"linear"``, ``"relu"``, ``"leaky_relu"``,
    ``"tanh"``, ``"erf"``, ``"gelu"``, ``"silu"``, or any added with :func:`register`),
    ``"leaky_relu_<alpha>"``, a SymPy expression in one free symbol
    (:func:`~statfield.activations.from_sympy`), or a NumPy callable
    (:func:`~statfield.activations.from_callable`; its derivative is computed numerically).
    """
    _ensure_builtins()
    if isinstance(activation, Activation):
        return activation
    if isinstance(activation, str):
        key = activation.strip().lower()
        if key in _CACHE:
            return _CACHE[key]
        if key in _REGISTRY:
            act = _REGISTRY[key]()
            if not isinstance(act, Activation):
                raise TypeError(f"activation: the factory registered as {key!r} returned "
                                f"{type(act).__name__}, not an Activation")
        else:
            for prefix, fac in _PREFIXES.items():
                if key.startswith(prefix):
                    try:
                        value = float(key[len(prefix):])
                    except ValueError:
                        raise ValueError(f"activation: cannot parse the number in {activation!r} "
                                         f"(expected '{prefix}<number>')") from None
                    act = fac(value)
                    break
            else:
                raise ValueError(
                    f"activation must be one of {sorted(_REGISTRY)} (or "
                    f"{', '.join(repr(p + '<number>') for p in _PREFIXES)}, a SymPy expression, a callable "
                    f"or an Activation), got {activation!r}")
        _CACHE[key] = act
        return act
    if hasattr(activation, "free_symbols"):
        from .user import from_sympy

        syms = sorted(activation.free_symbols, key=str)
        if len(syms) != 1:
            raise ValueError(f"activation: a SymPy expression must have exactly one free symbol, got {syms}")
        try:
            return _SYMPY_CACHE[activation]
        except (KeyError, TypeError):
            pass
        act = from_sympy(activation, syms[0])
        if len(_SYMPY_CACHE) >= _USER_CACHE_MAX:
            _SYMPY_CACHE.clear()
        try:
            _SYMPY_CACHE[activation] = act
        except TypeError:
            pass
        return act
    if callable(activation):
        from .user import from_callable

        try:
            return _CALLABLE_CACHE[activation]
        except (KeyError, TypeError):
            pass
        act = from_callable(activation)
        try:
            if len(_CALLABLE_CACHE) >= _USER_CACHE_MAX:
                _CALLABLE_CACHE.clear()
            _CALLABLE_CACHE[activation] = act
        except TypeError:  # not weak-referenceable (some builtins): not cached
            pass
        return act
    raise TypeError(f"activation: unsupported type {type(activation).__name__}")

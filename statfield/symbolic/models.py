r"""Which exact collective reduction an activation has: dispatch on the activation object.

The symbolic saddle, EFT and comparison need the *collective-coordinate model* of the activation,
derived from its slopes :math:`\phi(z) = a_+ z\theta(z) + a_- z\theta(-z)`:

* ``"radial"`` (:math:`a_+ = a_-`; the linear network): one radius :math:`r = |z|`;
* ``"orthant"`` (:math:`a_- \ne a_+`; ReLU): the count :math:`k` of positive units and two radii.

The closed forms of :mod:`statfield.symbolic.saddle` / :mod:`~statfield.symbolic.eft` are derived
for unit slopes, :math:`(a_+, a_-) = (1, 1)` and :math:`(1, 0)`. Every other activation (leaky
ReLU, rescaled linear, smooth activations) is refused everywhere with the registry's one message
(:func:`statfield.activations.collective.unsupported_eft_message`), raised by :func:`collective_model`.

The activation is resolved with :func:`statfield.get_activation` and the decision uses its
attributes only -- its ``collective`` model (``kind``, ``a_plus``, ``a_minus``,
``require_eft()``) when the registry provides one, else ``is_piecewise_linear``, ``a_plus`` and
``a_minus`` -- never its name. The strings ``"radial"`` and ``"orthant"`` are accepted as model kinds.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from .symbols import FIELDS, kappa, q, u, v

__all__ = ["CollectiveKind", "collective_model", "KINDS", "EFT_NOT_IMPLEMENTED", "kind_of"]

KINDS = ("radial", "orthant")

#: Fallback message (only used if the registry does not provide
#: ``statfield.activations.collective.unsupported_eft_message``, the one message used everywhere).
EFT_NOT_IMPLEMENTED = (
    "activation {activation!r}: the exact collective-coordinate saddle/EFT is implemented only for the "
    "linear network (a_plus = a_minus = 1, radial model) and ReLU (a_plus = 1, a_minus = 0, orthant "
    "model); got a_plus={a_plus}, a_minus={a_minus}. Use statfield.symbolic.general (any phi, large N) "
    "or statfield.meanfield for other activations"
)

_CRITICAL = {"radial": sp.Integer(1), "orthant": sp.Integer(2)}
_VARIABLES = {"radial": (q,), "orthant": (u, v, kappa)}
_LABEL = {"radial": "linear", "orthant": "ReLU"}


@dataclass(frozen=True)
class CollectiveKind:
    r"""The collective model of an activation, as used by the symbolic layer.

    Attributes
    ----------
    kind : {"radial", "orthant"}
    name : str
        The activation's registry name (for messages and result records only).
    a_plus, a_minus : float
        Slopes.
    critical_sigma_w2 : sympy.Integer
        :math:`\sigma_w^2` at which the massless mode appears, :math:`1/A_2` with
        :math:`A_2 = (a_+^2 + a_-^2)/2` (1 radial, 2 orthant).
    variables : tuple of Symbols
        Intensive variables :math:`(q,)` or :math:`(u, v, \kappa)`.
    field_symbols : tuple of Symbols
        Fluctuation fields (:data:`statfield.symbolic.symbols.FIELDS`).
    label : str
        ``"linear"`` / ``"ReLU"`` (for prose).
    """

    kind: str
    name: str
    a_plus: float
    a_minus: float

    @property
    def critical_sigma_w2(self):
        return _CRITICAL[self.kind]

    @property
    def variables(self):
        return _VARIABLES[self.kind]

    @property
    def field_symbols(self):
        return FIELDS[self.kind]

    @property
    def field_names(self):
        return tuple(f.name for f in FIELDS[self.kind])

    @property
    def label(self):
        return _LABEL[self.kind]


def _refuse(what):
    try:
        from ..activations.collective import unsupported_eft_message
        from ..activations.core import UnsupportedActivationError
    except ImportError:  # pragma: no cover - registry without the collective module
        return ValueError(EFT_NOT_IMPLEMENTED.format(activation=what, a_plus="?", a_minus="?"))
    return UnsupportedActivationError(unsupported_eft_message(what))


def collective_model(activation) -> CollectiveKind:
    """The :class:`CollectiveKind` of ``activation`` (name, :class:`~statfield.activations.Activation`,
    or a kind ``"radial"``/``"orthant"``).

    Raises the registry's uniform refusal (``UnsupportedActivationError``, a ``ValueError``, message
    of :func:`statfield.activations.collective.unsupported_eft_message`) for activations without a
    collective EFT (leaky ReLU, smooth activations), and the same message for piecewise-linear
    activations with a slope other than 1 (the closed forms here are derived for unit slope).
    """
    if isinstance(activation, CollectiveKind):
        return activation
    if isinstance(activation, str) and activation in KINDS:
        return CollectiveKind(activation, {"radial": "linear", "orthant": "relu"}[activation], 1.0,
                              1.0 if activation == "radial" else 0.0)
    from ..activations import get_activation  # the registry (NumPy only; no numeric theory modules)

    try:
        act = get_activation(activation)
    except (ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"activation: {exc}") from None
    name = getattr(act, "name", repr(activation))
    coll = getattr(act, "collective", None)
    if coll is not None and hasattr(coll, "require_eft"):
        coll.require_eft()  # the registry's uniform refusal (e.g. leaky ReLU)
        kind, ap, am = coll.kind, coll.a_plus, coll.a_minus
        what = coll.describe()
    elif coll is None and hasattr(act, "collective"):
        raise _refuse(f"activation {name!r} (not piecewise linear: no exact collective-coordinate reduction)")
    else:  # pragma: no cover - registry without collective models
        if not getattr(act, "is_piecewise_linear", False):
            raise _refuse(f"activation {name!r} (not piecewise linear)")
        ap, am = act.a_plus, act.a_minus
        kind = "radial" if ap == am else "orthant"
        what = f"activation {name!r} (a+={ap:g}, a-={am:g})"
    # the closed forms are derived for unit slopes; anything else gets the same refusal
    if kind not in KINDS or ap != 1.0 or am not in (0.0, 1.0) or (kind == "radial") != (am == 1.0):
        raise _refuse(what + "; the symbolic closed forms are derived for unit slope a+ = 1")
    return CollectiveKind(kind, name, float(ap), float(am))


def kind_of(activation) -> str:
    """``"radial"`` or ``"orthant"`` for ``activation`` (see :func:`collective_model`)."""
    return collective_model(activation).kind


class KindTable(dict):
    """A ``{kind: value}`` table that also accepts activations as keys (resolved to their kind)."""

    def __missing__(self, key):
        return self[kind_of(key)]

    def __contains__(self, key):
        try:
            self[key]
        except (KeyError, ValueError):
            return False
        return True

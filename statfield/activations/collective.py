r"""The collective-coordinate model of a piecewise-linear activation, derived from its slopes.

For :math:`\phi(z) = a_+z\theta(z) + a_-z\theta(-z)` the next layer depends on layer :math:`l` only
through a few collective variables (SPS17 arXiv:1710.06570, Sec. 4; ``docs/conventions.md``, "Order
parameters and fields"):

* **radial** (:math:`a_+ = a_-`, linear up to scale): :math:`|\phi(z)|^2/N = a^2 q`, one variable
  :math:`q = |z|^2/N`, one field ``eps``;
* **orthant** (:math:`a_+\ne a_-`): :math:`|\phi(z)|^2/N = a_+^2u + a_-^2v` with :math:`u = |z_+|^2/N`,
  :math:`v = |z_-|^2/N` and :math:`k` the number of positive units; fields ``eps_plus, eps_minus, eps_k``.

Mean field: :math:`\chi = \sigma_w^2(a_+^2+a_-^2)/2` is both :math:`\chi_1` and the slope of the
q-map; the saddle :math:`q^* = \sigma_b^2/(1-\chi)` exists for :math:`\sigma_w^2 <
2/(a_+^2+a_-^2)`.

The quadratic EFTs (``statfield.symbolic.eft``) and the EFT fields (``statfield.fields``) are
implemented for the unit-slope linear network and for ReLU. Since :math:`W` is symmetric, a network
with :math:`\phi = a z` is the linear network at :math:`\sigma_w^2 a^2`, and one with
:math:`\phi = a_+ z\theta(z)` is the ReLU network at :math:`\sigma_w^2a_+^2`
(:meth:`CollectiveModel.effective_sigma_w2`). Leaky ReLU (both slopes non-zero and different) is
refused with one message (:meth:`CollectiveModel.require_eft`): its next layer depends on
:math:`u + (a_-/a_+)^2 v`, and its quadratic EFT is not implemented.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .core import UnsupportedActivationError

__all__ = ["CollectiveModel", "require_collective", "unsupported_eft_message"]


@dataclass(frozen=True)
class CollectiveModel:
    r"""Collective-coordinate model of :math:`\phi(z) = a_+z\theta(z) + a_-z\theta(-z)`.

    Attributes
    ----------
    a_plus, a_minus : float
        The slopes.
    activation_name : str
        Display name of the activation (used in labels and messages only).
    kind : str
        ``"radial"`` (:math:`a_+ = a_-`) or ``"orthant"``.
    variables : tuple of str
        ``("q",)`` or ``("u", "v", "k")`` (``docs/conventions.md``).
    field_names : tuple of str
        ``("eps",)`` or ``("eps_plus", "eps_minus", "eps_k")``.
    reference : str
        The unit-slope network whose EFT this one maps to: ``"linear"`` or ``"relu"`` (``""`` when none).
    eft_supported : bool
        Whether the quadratic EFT and the EFT fields are implemented for this activation.
    """

    a_plus: float
    a_minus: float
    activation_name: str = ""

    @property
    def kind(self) -> str:
        return "radial" if self.a_plus == self.a_minus else "orthant"

    @property
    def variables(self) -> tuple:
        return ("q",) if self.kind == "radial" else ("u", "v", "k")

    @property
    def field_names(self) -> tuple:
        return ("eps",) if self.kind == "radial" else ("eps_plus", "eps_minus", "eps_k")

    @property
    def kappa(self) -> float:
        r""":math:`\kappa = (a_+^2+a_-^2)/2 = \mathbb E[\phi(z)^2]/q`."""
        return 0.5 * (self.a_plus**2 + self.a_minus**2)

    def chi(self, sigma_w2):
        r""":math:`\chi = \sigma_w^2(a_+^2+a_-^2)/2` (:math:`=\chi_1 = \chi_q`; SPS17 Sec. 4)."""
        return sigma_w2 * self.kappa

    @property
    def critical_sigma_w2(self) -> float:
        r""":math:`\sigma_w^2` at which :math:`\chi = 1`: :math:`2/(a_+^2+a_-^2)` (``inf`` for :math:`\phi = 0`)."""
        return math.inf if self.kappa == 0 else 1.0 / self.kappa

    @property
    def reference(self) -> str:
        if self.kind == "radial":
            return "linear" if self.a_plus != 0 else ""
        if self.a_minus == 0 and self.a_plus != 0:
            return "relu"
        return ""

    @property
    def eft_supported(self) -> bool:
        return bool(self.reference)

    def effective_sigma_w2(self, sigma_w2):
        r"""The :math:`\sigma_w^2` of the unit-slope :attr:`reference` network with the same law:
        :math:`\sigma_w^2 a^2` (radial) or :math:`\sigma_w^2 a_+^2` (rectified)."""
        self.require_eft()
        return sigma_w2 * self.a_plus**2

    @property
    def label(self) -> str:
        """Short label for validation records and plots, e.g. ``"relu"`` or ``"pl(1,0.01)"``."""
        if self.activation_name:
            return self.activation_name
        return f"pl({self.a_plus:g},{self.a_minus:g})"

    def describe(self) -> str:
        return (f"activation {self.label!r} (phi = a+ z theta(z) + a- z theta(-z) with a+={self.a_plus:g}, "
                f"a-={self.a_minus:g}; {self.kind} collective model)")

    def require_eft(self):
        """Return ``self`` if the quadratic EFT / EFT fields exist, else raise the uniform refusal.

        Raises
        ------
        UnsupportedActivationError
            (a ``ValueError`` and ``NotImplementedError``) naming the activation, e.g. for leaky ReLU.
        """
        if not self.eft_supported:
            raise UnsupportedActivationError(unsupported_eft_message(self.describe()))
        return self


def unsupported_eft_message(what: str) -> str:
    """The one message used everywhere an activation has no quadratic EFT / EFT fields."""
    return (f"activation: the collective-coordinate EFT and its fields are implemented only for "
            f"phi = a z (radial, the linear network) and phi = a z theta(z) (ReLU); {what} is not supported "
            f"(for leaky ReLU the next layer depends on u + (a-/a+)^2 v and its quadratic EFT is not "
            f"implemented)")


def require_collective(activation, eft: bool = False) -> CollectiveModel:
    """The :class:`CollectiveModel` of ``activation`` (resolved by ``get_activation``) or the uniform refusal.

    Parameters
    ----------
    activation : str, Activation, SymPy expression or callable
    eft : bool
        Also require that the quadratic EFT / EFT fields are implemented (:meth:`CollectiveModel.require_eft`).

    Raises
    ------
    UnsupportedActivationError
        The activation is not piecewise linear (no exact collective reduction), or ``eft`` and its EFT
        is not implemented. The message names the activation.
    """
    from .registry import get_activation

    act = get_activation(activation)
    cm = act.collective
    if cm is None:
        raise UnsupportedActivationError(unsupported_eft_message(
            f"activation {act.name!r} (not piecewise linear: no exact collective-coordinate reduction)"))
    return cm.require_eft() if eft else cm

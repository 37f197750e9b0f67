r"""The ``Uniform*`` layers: each base model with its time constant drawn per feature map
(:func:`spyketorch.neurons.heterogeneous.heterogeneous`)."""
from __future__ import annotations

from .heterogeneous import heterogeneous
from .models import EIF, LIF, QIF, AdaptiveLIF, AdEx, Izhikevich, LIF_Simple, ResonateAndFire

__all__ = ["UniformLIF", "UniformLIF_Simple", "UniformEIF", "UniformQIF", "UniformAdEx", "UniformAdaptiveLIF",
           "UniformIzhikevich", "UniformResonateAndFire"]

UniformLIF = heterogeneous(LIF, "UniformLIF")
UniformLIF_Simple = heterogeneous(LIF_Simple, "UniformLIF_Simple")
UniformEIF = heterogeneous(EIF, "UniformEIF")
UniformQIF = heterogeneous(QIF, "UniformQIF")
UniformAdEx = heterogeneous(AdEx, "UniformAdEx")
UniformAdaptiveLIF = heterogeneous(AdaptiveLIF, "UniformAdaptiveLIF")

UniformIzhikevich = heterogeneous(Izhikevich, "UniformIzhikevich", ("a", lambda tau: 1.0 / (1000.0 * tau)),
                                  tau_range=(0.02, 0.1), doc=r"""Heterogeneous :class:`~spyketorch.neurons.Izhikevich`: the recovery time constant drawn per feature map.

    The 2003 equations have no membrane time constant; their time scale of
    recovery is :math:`\tau_u = 1/a` (ms). Here :math:`\tau_u` is drawn per feature
    map from ``tau_range`` (seconds) and sets :math:`a = 1 / (1000\,\tau_u)`:

    .. math::
        \tau_c \sim \mathcal{U}(\tau_{lo}, \tau_{hi}), \qquad a_c = \frac{1}{1000\,\tau_c}

    (the regular-spiking :math:`a = 0.02` is :math:`\tau_u = 0.05` s). Other arguments
    are those of :class:`~spyketorch.neurons.Izhikevich` without ``a``, plus ``tau_range``
    (default ``(0.02, 0.1)``) and the keyword-only ``generator``, ``seed`` and ``n_features``.

    Shape:
        input ``[B, C, H, W]``; ``taus`` and ``a`` are ``[C, 1, 1]``.

    Example:
        >>> layer = UniformIzhikevich(tau_range=(0.01, 0.1), seed=0, n_features=3)
        >>> out = layer.step(torch.full((1, 3, 2, 2), 10.0))
        >>> [round(a, 4) for a in layer.a.flatten().tolist()]  # a = 1 / (1000 tau)
        [0.0103, 0.0136, 0.0195]
    """)

UniformResonateAndFire = heterogeneous(ResonateAndFire, "UniformResonateAndFire", ("b", lambda tau: -1.0 / tau),
                                       tau_range=(0.1, 0.5), doc=r"""Heterogeneous :class:`~spyketorch.neurons.ResonateAndFire`: the damping time constant drawn per feature map.

    .. math::
        \tau_c \sim \mathcal{U}(\tau_{lo}, \tau_{hi}), \qquad b_c = -1/\tau_c

    Other arguments are those of :class:`~spyketorch.neurons.ResonateAndFire` without ``b``,
    plus ``tau_range`` (default ``(0.1, 0.5)``) and the keyword-only ``generator``, ``seed``
    and ``n_features``.

    Shape:
        input ``[B, C, H, W]``; ``taus`` and ``b`` are ``[C, 1, 1]``.

    Example:
        >>> layer = UniformResonateAndFire(threshold=1.0, tau_range=(0.1, 0.5), seed=0, n_features=3)
        >>> out = layer.step(torch.full((1, 3, 2, 2), 500.0))
        >>> [round(b, 4) for b in layer.b.flatten().tolist()]  # b = -1 / tau
        [-2.0491, -2.6101, -3.5242]
    """)

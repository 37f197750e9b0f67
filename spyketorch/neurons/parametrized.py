"""A module whose parameters are declared: float64 buffers, each checked against its rule.

:class:`ParamModule` is the part of a neuron layer that stores its declared
:class:`~spyketorch.neurons.params.Param` values: as float64 buffers (so ``.to()``,
``state_dict()`` and ``load_state_dict()`` carry them), each checked against its rule
whenever it is set — by the constructor, by attribute assignment (``layer.tau_rc = 0.03``)
or by loading a ``state_dict`` — with a Python mirror of the scalar ones, so a step can read
them without a host sync.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

import torch
from torch import Tensor, nn

from . import params as _p
from .params import Param, ParamValue


class ParamModule(nn.Module):
    """``nn.Module`` with declared, rule-checked float64 parameters.

    Subclasses declare their parameters with :meth:`_declare` and react to every change in
    :meth:`_after_change` (drop caches, check relations between parameters).

    Example:
        >>> m = ParamModule()
        >>> m._declare(Param("tau", 0.02, "positive"), 0.05)
        >>> m.tau.item(), m.param_names
        (0.05, ('tau',))
        >>> m.tau = -1.0
        Traceback (most recent call last):
        ...
        ValueError: tau must be > 0, got -1.0
    """

    def __init__(self) -> None:
        super().__init__()
        self._param_rules: Dict[str, Param] = {}
        self._scalars: Dict[str, float] = {}

    def _declare(self, p: Param, value: ParamValue, pending: bool = False) -> None:
        """Declare parameter ``p`` with ``value`` (left None when ``pending``: set later)."""
        self._param_rules[p.name] = p
        self.register_buffer(p.name, None)
        if not pending:
            self._set_param(p.name, value)

    def _set_param(self, name: str, value: ParamValue) -> None:
        if value is None:
            if self._param_rules[name].rule != "optional":
                raise ValueError(f"{name} must not be None")
            self._buffers[name] = None
        else:
            t = _p.check_param(name, value, self._param_rules[name].rule)
            old = self._buffers.get(name)
            self._buffers[name] = t if old is None else t.to(old.device)
        self._changed()

    def _set_params_unchecked(self, values: Dict[str, Tensor]) -> None:
        """Set parameters to values valid by construction (e.g. drawn from a valid range)."""
        for name, value in values.items():
            old = self._buffers.get(name)
            self._buffers[name] = value if old is None else value.to(old.device)
        self._changed()

    def __setattr__(self, name: str, value: Any) -> None:
        rules = self.__dict__.get("_param_rules")
        if rules is not None and name in rules:
            self._set_param(name, value)
        else:
            super().__setattr__(name, value)

    def _changed(self) -> None:
        """After a change: refresh the mirror of scalar values, then :meth:`_after_change`."""
        self.__dict__["_scalars"] = {n: float(t.item()) for n in self._param_rules
                                     if (t := self._buffers.get(n)) is not None and t.numel() == 1}
        self._after_change()

    def _after_change(self) -> None:
        """Hook called after every change of a parameter."""

    def param(self, name: str) -> Optional[Tensor]:
        """The float64 tensor of parameter ``name`` (None where unset)."""
        if name not in self._param_rules:
            raise ValueError(f"{type(self).__name__} has no parameter {name!r}")
        return self._buffers[name]

    def param_or_none(self, name: str) -> Optional[Tensor]:
        """The float64 tensor of parameter ``name``, None where unset or not declared."""
        return self._buffers.get(name) if name in self._param_rules else None

    @property
    def param_names(self) -> Tuple[str, ...]:
        """Names of every declared parameter, in declaration order."""
        return tuple(self._param_rules)

    @property
    def declarations(self) -> Tuple[Param, ...]:
        """The declaration of every parameter, in declaration order."""
        return tuple(self._param_rules.values())

    def param_values(self, device: torch.device, dtype: torch.dtype) -> Dict[str, Any]:
        """Every parameter: None, a Python float (scalars, from the mirror) or a tensor on
        ``device`` in ``dtype``. Reads no tensor value on the host."""
        out: Dict[str, Any] = {}
        for name in self._param_rules:
            t = self._buffers.get(name)
            out[name] = None if t is None else self._scalars[name] if name in self._scalars else (
                float(t.item()) if t.numel() == 1 else t.to(device, dtype))
        return out

    def _load_from_state_dict(self, state_dict: Dict[str, Any], prefix: str, local_metadata: Any, strict: bool,
                              missing_keys: List[str], unexpected_keys: List[str],
                              error_msgs: List[str]) -> None:  # type: ignore[override]
        # parameters may change between scalar, tensor and None: each loaded value is checked
        # against its rule first (nothing changes if one fails), then the buffers take its shape
        checked = {name: _p.check_param(name, state_dict[prefix + name], self._param_rules[name].rule)
                   for name in self._param_rules if prefix + name in state_dict}
        for name in self._param_rules:
            if name in checked:
                cur = self._buffers.get(name)
                dev = cur.device if cur is not None else torch.device("cpu")
                self._buffers[name] = torch.empty(checked[name].shape, dtype=torch.float64, device=dev)
            elif self._param_rules[name].rule == "optional":
                self._buffers[name] = None
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                      error_msgs)
        self._changed()

"""A module whose parameters are declared: float64 buffers, each checked against its rule.

:class:`ParamModule` is the part of a neuron layer that stores its declared
:class:`~spyketorch.neurons.params.Param` values: as float64 buffers (so ``.to()``,
``state_dict()`` and ``load_state_dict()`` carry them), each checked against its rule
whenever it is set — by the constructor, by attribute assignment (``layer.tau_rc = 0.03``)
or by loading a ``state_dict`` — with a Python mirror of the scalar ones, so a step can read
them without a host sync.

A parameter made *learnable* (:meth:`ParamModule._make_learnable`) is an ``nn.Parameter``
instead (in a floating dtype of its own, the compute dtype by default), listed by
``parameters()`` for an optimizer. Its rule is checked whenever it is set and, after an
optimizer changed it in place, before the next step reads it (:meth:`ParamModule.check_learned`:
one host sync per change, none per step while it stays the same).
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
        self._learned: Dict[str, int] = {}  #: learnable parameters and the version their rule was checked at

    def _declare(self, p: Param, value: ParamValue, pending: bool = False) -> None:
        """Declare parameter ``p`` with ``value`` (left None when ``pending``: set later)."""
        self._param_rules[p.name] = p
        self.register_buffer(p.name, None)
        if not pending:
            self._set_param(p.name, value)

    def _set_param(self, name: str, value: ParamValue) -> None:
        if isinstance(value, Tensor) and value.requires_grad:
            self._take_parameter(name, value)
        elif value is None:
            if self._param_rules[name].rule != "optional":
                raise ValueError(f"{name} must not be None")
            if name in self._learned:
                raise ValueError(f"{name} is learnable and must not be None")
            self._buffers[name] = None
        else:
            t = _p.check_param(name, value, self._param_rules[name].rule)
            if name in self._learned:
                self._store_learned(name, t)
            else:
                old = self._buffers.get(name)
                self._buffers[name] = t if old is None else t.to(old.device)
        self._changed()

    def _set_params_unchecked(self, values: Dict[str, Tensor]) -> None:
        """Set parameters to values valid by construction (e.g. drawn from a valid range)."""
        for name, value in values.items():
            if name in self._learned:
                self._store_learned(name, value)
                continue
            old = self._buffers.get(name)
            self._buffers[name] = value if old is None else value.to(old.device)
        self._changed()

    # ------------------------------------------------------------------ learnable parameters
    def _take_parameter(self, name: str, value: Tensor) -> None:
        """Make ``name`` learnable with the given ``nn.Parameter`` itself (shared with the caller)."""
        if not isinstance(value, nn.Parameter):
            kind = "a leaf tensor" if value.is_leaf else "a tensor computed from others (not a leaf)"
            raise TypeError(
                f"{name} was given as {kind} with requires_grad, which the layer would copy: the gradient "
                f"would not reach it. Give torch.nn.Parameter(value) (the layer shares it) or the plain value "
                f"with learn=({name!r},)")
        if not value.is_floating_point():
            raise TypeError(f"{name} must be a floating tensor to be learned, got dtype {value.dtype}")
        _p.check_param(name, value, self._param_rules[name].rule)
        self._buffers.pop(name, None)
        self._parameters[name] = value
        self._learned[name] = -1  # (its version is checked before the next step)

    def _make_learnable(self, name: str, value: Tensor, dtype: Optional[torch.dtype] = None) -> None:
        """Turn parameter ``name`` into an ``nn.Parameter`` holding ``value`` (checked against its
        rule), in ``dtype`` (default: torch's default dtype)."""
        t = _p.check_param(name, value, self._param_rules[name].rule)
        old = self._buffers.get(name)
        dev = old.device if old is not None else t.device
        self._take_parameter(name, nn.Parameter(t.to(dev, dtype or torch.get_default_dtype())))
        self._changed()

    def _store_learned(self, name: str, t: Tensor) -> None:
        """A new value of the learnable ``name``: written in place when the shape is kept (so an
        optimizer holding the parameter keeps training it), a new ``nn.Parameter`` otherwise."""
        cur = self._parameters[name]
        if cur.shape == t.shape:
            with torch.no_grad():
                cur.copy_(t)
        else:
            self._parameters[name] = nn.Parameter(t.to(cur.device, cur.dtype))
        self._learned[name] = -1

    @property
    def learned(self) -> Tuple[str, ...]:
        """Names of the parameters that are learnable (``nn.Parameter``), in declaration order."""
        return tuple(n for n in self._param_rules if n in self._learned)

    def check_learned(self) -> bool:
        """Check the rule of every learnable parameter changed in place since its last check
        (by an optimizer); True if one was. Reads tensor values on the host only then."""
        changed = False
        for name in self._learned:
            t = self._parameters[name]
            if t._version != self._learned[name]:
                value = t.detach()
                try:
                    _p.check_param(name, value if value.numel() > 1 else value.item(), self._param_rules[name].rule)
                except ValueError as exc:
                    raise ValueError(f"the learnable {exc} after it changed in place (an optimizer step?); a "
                                     f"smaller learning rate, or clamping it after each step, keeps it valid") from None
                self._learned[name] = t._version
                changed = True
        if changed:
            self._after_learned_change()
        return changed

    def _after_learned_change(self) -> None:
        """Hook after an optimizer changed learnable parameters (check relations between parameters)."""

    def _tensor(self, name: str) -> Optional[Tensor]:
        """The stored tensor of parameter ``name``: its buffer, or its ``nn.Parameter`` when learnable."""
        return self._parameters[name] if name in self._learned else self._buffers.get(name)

    def __setattr__(self, name: str, value: Any) -> None:
        rules = self.__dict__.get("_param_rules")
        if rules is not None and name in rules:
            self._set_param(name, value)
        else:
            super().__setattr__(name, value)

    def _changed(self) -> None:
        """After a change: refresh the mirror of scalar values, then :meth:`_after_change`."""
        self.__dict__["_scalars"] = {n: float(t.item()) for n in self._param_rules
                                     if n not in self._learned and (t := self._buffers.get(n)) is not None
                                     and t.numel() == 1}
        self._after_change()

    def _after_change(self) -> None:
        """Hook called after every change of a parameter."""

    def param(self, name: str) -> Optional[Tensor]:
        """The float64 tensor of parameter ``name`` (None where unset; the ``nn.Parameter`` itself,
        in its own dtype, when it is learnable)."""
        if name not in self._param_rules:
            raise ValueError(f"{type(self).__name__} has no parameter {name!r}")
        return self._tensor(name)

    def param_or_none(self, name: str) -> Optional[Tensor]:
        """The tensor of parameter ``name`` (as :meth:`param`), None where unset or not declared."""
        return self._tensor(name) if name in self._param_rules else None

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
        ``device`` in ``dtype`` (always a tensor for a learnable one: gradients reach it through
        the conversion). Reads no tensor value on the host."""
        out: Dict[str, Any] = {}
        for name in self._param_rules:
            if name in self._learned:
                out[name] = self._parameters[name].to(device, dtype)
                continue
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
            if name in self._learned:  # loaded in place (a new nn.Parameter if the shape changes)
                if name in checked and checked[name].shape != self._parameters[name].shape:
                    cur = self._parameters[name]
                    self._parameters[name] = nn.Parameter(torch.empty(checked[name].shape, dtype=cur.dtype,
                                                                      device=cur.device))
                self._learned[name] = -1
            elif name in checked:
                cur = self._buffers.get(name)
                dev = cur.device if cur is not None else torch.device("cpu")
                self._buffers[name] = torch.empty(checked[name].shape, dtype=torch.float64, device=dev)
            elif self._param_rules[name].rule == "optional":
                self._buffers[name] = None
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                      error_msgs)
        self._changed()

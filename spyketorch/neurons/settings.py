"""Validated settings of a neuron layer, each declared in one line.

A :class:`Setting` is a descriptor: reading it returns the stored value, assigning it runs
its check (which names the setting in its ``TypeError``/``ValueError``) and, for settings
that enter the step's constants, tells the layer so it rebuilds them.
"""
from __future__ import annotations

from typing import Any, Callable, Optional


class Setting:
    """A layer setting checked by ``check`` on every assignment.

    Args:
        check: maps the assigned value to the stored one, or raises naming the setting.
        doc: the attribute's docstring.
        constant: the value enters the step's cached constants and plans (assigning it calls
            the owner's ``_changed()``). Default: True.

    Example:
        >>> class Layer:
        ...     gain = Setting(float, "A gain.")
        >>> layer = Layer(); layer.gain = 2
        >>> layer.gain
        2.0
    """

    def __init__(self, check: Callable[[Any], Any], doc: str, constant: bool = True) -> None:
        self.check, self.constant, self.__doc__ = check, constant, doc

    def __set_name__(self, owner: type, name: str) -> None:
        self.name, self.slot = name, "_" + name

    def __get__(self, obj: Any, owner: Optional[type] = None) -> Any:
        if obj is None:
            return self
        return obj.__dict__[self.slot]

    def __set__(self, obj: Any, value: Any) -> None:
        obj.__dict__[self.slot] = self.check(value)
        if self.constant and "_param_rules" in obj.__dict__:
            obj._changed()

"""Generators of stochastic layers, created lazily on the device of their first input (private)."""
from __future__ import annotations

from typing import Optional

import torch


def generator_on(current: Optional[torch.Generator], seed: Optional[int], device: torch.device) -> torch.Generator:
    """``current`` if it lives on ``device``'s type; a new generator there (seeded, or from
    entropy when ``seed`` is None) if there is none; ``ValueError`` naming ``generator`` otherwise."""
    if current is None:
        gen = torch.Generator(device=device)
        if seed is None:
            gen.seed()
        else:
            gen.manual_seed(seed)
        return gen
    if current.device.type != device.type:
        raise ValueError(f"generator is on {current.device} but the input is on {device}; "
                         f"pass a generator on {device} (or a seed)")
    return current


def check_generator_seed(generator: object, seed: object) -> None:
    """``TypeError`` naming ``generator`` or ``seed`` unless they are a ``torch.Generator`` / an
    int (or None)."""
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")

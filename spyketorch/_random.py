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

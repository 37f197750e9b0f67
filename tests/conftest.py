"""Shared test setup: every test starts from the same random state.

Tests that need random numbers should still draw them from their own
``torch.Generator`` (so their inputs do not depend on test order); this fixture
makes any draw from the global generators (``torch.rand``, a ``Convolution``'s
initial weights, a ``Uniform*`` layer without ``seed``) reproducible too.
"""
import random

import numpy as np
import pytest
import torch


@pytest.fixture(autouse=True)
def _seed_global_rngs():
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    yield

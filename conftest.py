"""Doctest namespace: every docstring example sees ``torch`` and the public neuron classes,
as a user who did ``import torch`` and ``from spyketorch.neurons import *`` would."""
import pytest
import torch


@pytest.fixture(autouse=True)
def _doctest_names(doctest_namespace):
    import spyketorch.neurons as sn

    doctest_namespace["torch"] = torch
    doctest_namespace.update({name: getattr(sn, name) for name in sn.__all__})

"""Every public name is documented with an example that runs.

The examples themselves run as doctests (``pytest.ini``: ``--doctest-modules`` over
``spyketorch/``); this file checks that each public name has one: every name of
``spyketorch.__all__`` and ``spyketorch.neurons.__all__``, every public function of
``spyketorch.functional``, and every name in the ``__all__`` of any other public module has a
docstring with an ``Example`` section holding a ``>>>`` line.

Data constants (a dict or tuple such as ``MODELS``) cannot carry a docstring of their own:
the docstring of the module that defines them must show them in a ``>>>`` line instead.
"""
from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import sys
import types
from pathlib import Path
from typing import Any, Iterator, List, Tuple

import pytest

import spyketorch
import spyketorch.functional as functional
import spyketorch.neurons as neurons

_EXAMPLE_HEADER = re.compile(r"^\s*Examples?:?\s*$", re.MULTILINE)


def _public_modules() -> List[types.ModuleType]:
    """Every module of the package whose dotted path has no private part."""
    names = [info.name for info in pkgutil.walk_packages(spyketorch.__path__, "spyketorch.")
             if not any(part.startswith("_") for part in info.name.split("."))]
    return [importlib.import_module(name) for name in sorted(names)]


def _named_in_the_issue() -> Iterator[Tuple[str, Any]]:
    """``spyketorch.__all__``, ``spyketorch.neurons.__all__`` and the public functions of ``functional``."""
    for module in (spyketorch, neurons):
        for name in module.__all__:
            yield f"{module.__name__}.{name}", getattr(module, name)
    names = set(functional.__all__) | {
        name for name, obj in vars(functional).items()
        if not name.startswith("_") and inspect.isfunction(obj) and obj.__module__ == functional.__name__}
    for name in sorted(names):
        yield f"{functional.__name__}.{name}", getattr(functional, name)


def _public_names() -> Iterator[Tuple[str, Any]]:
    """The names above, then those of every other public module's ``__all__`` (each object once)."""
    first = list(_named_in_the_issue())
    yield from first
    seen = {id(obj) for _, obj in first}
    for module in _public_modules():
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name)
            if id(obj) not in seen and not isinstance(obj, types.ModuleType):
                seen.add(id(obj))
                yield f"{module.__name__}.{name}", obj


PUBLIC = list(_public_names())


def _is_data(obj: Any) -> bool:
    return not (inspect.isclass(obj) or inspect.isroutine(obj) or isinstance(obj, types.ModuleType))


def _defining_module(qualified: str, obj: Any) -> types.ModuleType:
    """The one loaded module of the package that binds ``obj`` and assigns its name at top level."""
    name = qualified.rsplit(".", 1)[1]
    candidates: List[types.ModuleType] = []
    for modname, module in list(sys.modules.items()):
        if modname.startswith("spyketorch") and module is not None and vars(module).get(name) is obj:
            src = inspect.getsource(module) if getattr(module, "__file__", None) else ""
            if re.search(rf"^{re.escape(name)}\s*(:[^=]*)?=", src, re.MULTILINE):
                candidates.append(module)
    assert len(candidates) == 1, f"{qualified}: defined in {[m.__name__ for m in candidates]}"
    return candidates[0]


def test_public_names_found() -> None:
    # guards the collection itself: the three sources are non-empty and hold what they should
    names = {q for q, _ in PUBLIC}
    assert "spyketorch.LIF" in names and "spyketorch.neurons.NeuronModel" in names
    assert "spyketorch.functional.get_k_winners" in names and "spyketorch.functional.fire_" in names
    assert len(names) > 80


@pytest.mark.parametrize("qualified,obj", PUBLIC, ids=[q for q, _ in PUBLIC])
def test_public_name_has_docstring_with_example(qualified: str, obj: Any) -> None:
    if _is_data(obj):
        module = _defining_module(qualified, obj)
        name = qualified.rsplit(".", 1)[1]
        doc = module.__doc__ or ""
        shown = [line for line in doc.splitlines() if line.strip().startswith(">>>") and name in line]
        assert _EXAMPLE_HEADER.search(doc) and shown, (
            f"{qualified} is data: the docstring of {module.__name__} needs an Example section using it")
        return
    doc = inspect.getdoc(obj)
    assert doc, f"{qualified} has no docstring"
    assert _EXAMPLE_HEADER.search(doc), f"{qualified}: no 'Example' section in its docstring"
    assert re.search(r"^\s*>>> ", doc, re.MULTILINE), f"{qualified}: its Example has no '>>>' line"


def test_check_fails_without_example() -> None:
    # the checks above reject a docstring without an example, and one with only a header
    def documented() -> None:
        """Summary only."""

    def header_only() -> None:
        """Summary.

        Example:
            call it.
        """

    assert not _EXAMPLE_HEADER.search(inspect.getdoc(documented))
    assert _EXAMPLE_HEADER.search(inspect.getdoc(header_only))
    assert not re.search(r"^\s*>>> ", inspect.getdoc(header_only), re.MULTILINE)


ROOT = Path(__file__).resolve().parents[1]


def test_readme_is_short_and_its_links_resolve() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 300
    first_block = text.split("```bash", 1)[1].split("```", 1)[0]
    assert "python examples/mnist_stdp.py" in first_block and "python -m pytest -q" in first_block
    assert "python -m sphinx -W -b html docs docs/_build/html" in text
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    local = [link for link in links if "://" not in link]
    assert local, "the README links into the docs"
    missing = [link for link in local if not (ROOT / link).exists()]
    assert not missing, f"README links to missing files: {missing}"


@pytest.mark.parametrize("index", range(len(re.findall(r"```python\n", (ROOT / "README.md").read_text(encoding="utf-8")))))
def test_readme_python_examples_run(index: int) -> None:
    """Every ```python block of the README runs as written (on the shipped digits)."""
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), re.S)
    exec(compile(blocks[index], f"README.md python block {index}", "exec"), {"__name__": "readme_example"})

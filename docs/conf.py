"""Sphinx configuration of the spyketorch documentation.

Build: ``pip install -e ".[docs]"`` then ``python -m sphinx -W -b html docs docs/_build/html``.
"""
import os
import sys

sys.path.insert(0, os.path.abspath(".."))

import spyketorch  # noqa: E402

project = "spyketorch"
author = "spyketorch contributors"
copyright = "2026, spyketorch contributors"
release = spyketorch.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "myst_parser",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]

# Google-style docstrings; "Shape" is a section of its own in this package's docstrings.
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_custom_sections = ["Shape", "Call contract"]
napoleon_use_rtype = False
napoleon_use_ivar = True  # "Attributes:" as fields, so NamedTuple fields are not described twice

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_format = "short"
autodoc_default_options = {"members": True, "show-inheritance": True}
# matplotlib is imported lazily by the package; nothing to mock.

myst_enable_extensions = ["dollarmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

html_theme = "furo"
html_title = f"spyketorch {release}"

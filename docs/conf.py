"""Sphinx configuration of the gvcpanel documentation (``make docs``: warnings are errors).

Sphinx rather than MkDocs because gvcpanel's docstrings are numpydoc with reStructuredText
inside (``:math:`` roles, ``.. math::`` blocks, ``:func:`` cross-references), which Sphinx renders
as written; the user guide is Markdown (MyST), like the README.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import gvcpanel  # noqa: E402

project = "gvcpanel"
author = "gvcpanel contributors"
release = version = gvcpanel.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]

# numpydoc sections through napoleon; attributes listed in "Attributes" sections are not
# documented a second time as dataclass fields
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_ivar = True
napoleon_use_rtype = False
autodoc_default_options = {"members": False, "undoc-members": False}
autodoc_typehints = "none"
autodoc_member_order = "bysource"
autoclass_content = "class"

myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3

html_theme = "alabaster"
html_theme_options = {"description": "Firm-level global value chain panels", "fixed_sidebar": True}
html_static_path: list[str] = []

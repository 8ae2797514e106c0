"""Sphinx configuration for the piw-monitor documentation."""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

project = "piw-monitor"
author = "The piw-monitor developers"
copyright = "2026, The piw-monitor developers"
release = re.search(
    r'^__version__ = "([^"]+)"',
    (ROOT / "piw_monitor" / "__init__.py").read_text(encoding="utf-8"),
    re.M).group(1)
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.viewcode",
]

root_doc = "index"
exclude_patterns = ["_build"]
templates_path = []
nitpicky = False

autodoc_member_order = "bysource"
autodoc_default_options = {
    "members": True,
    "show-inheritance": True,
}

html_theme = "alabaster"
html_title = f"piw-monitor {release}"
html_static_path = []

man_pages = [
    ("piw-monitor", "piw-monitor",
     "a terminal console for a piwheels master and its build slaves",
     [author], 1),
]

# urwid widget methods we override keep urwid docstrings full of its own
# cross-references; ours say what they need to.
autodoc_inherit_docstrings = False

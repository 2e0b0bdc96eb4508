"""Where the estimators find names that are not columns of the data, by default.

A provider is a ``"module:attribute"`` path to a mapping of name ->
:class:`~gvcpanel.formula.evaluate.DerivedColumn`.  The package root (``gvcpanel/__init__.py``)
registers the value-chain layer's names here, so that its formulas work on any FirmPanel or
DataFrame that has the columns those names are computed from, while the formula code names no
part of that domain.  Providers are imported on first use (``import gvcpanel`` stays quick).
"""

from __future__ import annotations

import importlib
from typing import Any

#: "module:attribute" paths, later ones overriding earlier ones
PROVIDERS: list[str] = []
_loaded: dict[str, Any] = {}


def default_derived() -> dict[str, Any]:
    """Every registered provider's names merged (imported once each)."""
    out: dict[str, Any] = {}
    for path in PROVIDERS:
        if path not in _loaded:
            module, _, attribute = path.partition(":")
            _loaded[path] = getattr(importlib.import_module(module), attribute)
        out.update(_loaded[path])
    return out

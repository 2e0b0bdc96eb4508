"""The examples in gvcpanel's docstrings run and print what they show (issue #9, item 6).

Every module of the package is imported and its docstring examples run with doctest
(``ELLIPSIS`` and ``NORMALIZE_WHITESPACE`` on).  Examples that need files or data the reader
has are marked ``# doctest: +SKIP`` in the docstring itself.  A module that cannot be imported
because an optional dependency is missing is skipped with the name of that dependency.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil
import warnings

import pytest

import gvcpanel

MODULES = sorted(
    [gvcpanel.__name__]
    + [info.name for info in pkgutil.walk_packages(gvcpanel.__path__, prefix="gvcpanel.")]
)
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def test_every_module_is_listed():
    assert "gvcpanel.results" in MODULES and "gvcpanel.report.tables" in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    try:
        module = importlib.import_module(name)
    except ImportError as err:  # an optional extra (duckdb, pyspark, matplotlib, ...) is not installed
        missing = getattr(err, "name", None) or str(err)
        if missing and not str(missing).startswith("gvcpanel"):
            pytest.skip(f"{name} needs the optional dependency {missing}")
        raise
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    tests = [t for t in finder.find(module, name) if t.examples]
    if not tests:
        return
    report: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # examples on small panels warn about few clusters
        for test in tests:
            runner.run(test, out=report.append)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, "".join(report)

"""Exception and warning classes.

Every error raised on purpose by gvcpanel derives from :class:`GvcPanelError` and also from the
builtin exception it refines, so ``except ValueError`` keeps working for callers who do not know
gvcpanel.  Messages say what was expected, what was found, where (file, column, firm_id/year)
and how to fix it.
"""

from __future__ import annotations

from typing import Any


class GvcPanelError(Exception):
    """Base class of every error gvcpanel raises on purpose."""


class SchemaError(GvcPanelError, ValueError):
    """The data do not satisfy the schema.

    Attributes
    ----------
    problems : pandas.DataFrame
        One row per problem with columns ``firm_id``, ``year``, ``row`` (0-based position in the
        source), ``column``, ``problem`` and ``value``.
    source : str
        The file (or ``"<DataFrame>"``) that was read.
    """

    def __init__(self, message: str, problems: Any = None, source: str | None = None) -> None:
        super().__init__(message)
        self.problems = problems
        self.source = source


class DataFileError(GvcPanelError, ValueError):
    """A source cannot be read as a table: empty, undecodable, ragged rows, corrupt or truncated,
    a folder without readable files, a workbook with several sheets and no ``sheet=``.

    Attributes
    ----------
    source : str
        The file or folder (or ``"<DataFrame>"``).
    line : int or None
        The first offending line of a text file (1-based, the header is line 1), when known.
    """

    def __init__(self, message: str, source: str | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.source = source
        self.line = line


class PanelStructureError(GvcPanelError, ValueError):
    """The panel cannot support the requested operation (too few periods, no variation, ...)."""


class IdentificationError(GvcPanelError, ValueError):
    """A parameter is not identified (collinear or absorbed regressors, empty risk set, ...)."""


class SpecificationError(GvcPanelError, ValueError):
    """An argument names an unknown option, column or hypothesis."""


class MappingError(SpecificationError):
    """A mapping file breaks ``data_schemas/mapping.schema.json`` or names unknown fields.

    Attributes
    ----------
    source : str
        The mapping file.
    problems : tuple of (str, str)
        (key path such as ``fields.employees.scale``, what is wrong), one per problem found.
    """

    def __init__(self, message: str, source: str | None = None,
                 problems: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(message)
        self.source = source
        self.problems = problems


class ConvergenceError(GvcPanelError, RuntimeError):
    """An iterative method did not reach its tolerance."""


class GvcPanelWarning(UserWarning):
    """Base class of gvcpanel warnings."""


class FewClustersWarning(GvcPanelWarning):
    """Cluster-robust inference with fewer clusters than the asymptotics need."""


class AbsorbedVariableWarning(GvcPanelWarning):
    """A regressor was absorbed by the fixed effects or is collinear and was dropped."""


class ExcludedRowsWarning(GvcPanelWarning):
    """Rows were excluded from an estimation (the result's ``exclusions`` table says why)."""


class PartitionSchemaWarning(GvcPanelWarning):
    """The files of a partitioned Parquet folder differ in columns or types (the load report's
    notes say which files lack which column; their rows read those columns as missing)."""


class InexactCovarianceWarning(GvcPanelWarning):
    """A covariance fell back to an approximation (its label and details say which)."""


class InferenceUnavailableError(SpecificationError):
    """The inference in use cannot give what was asked (an interval, a joint test, a new level).

    Raised instead of quietly substituting another inference: for example a joint Wald test
    under a bootstrap, or intervals at a new level a bootstrap cannot recompute.  The message
    names the alternatives.
    """


class MissingDependencyError(GvcPanelError, ImportError):
    """An optional dependency is not installed (the message names the extra that brings it)."""


class OutputError(GvcPanelError, OSError):
    """An output set could not be written whole; whatever was there before is left as it was.

    Raised for targets that cannot take the set (a file where a folder is expected, a read-only
    folder, a folder of files gvcpanel did not write) and for I/O failures while writing (disk
    full, permission denied); the original ``OSError`` is chained as ``__cause__`` and its
    ``errno`` is kept.
    """


class OutputLockedError(OutputError):
    """Another running process is writing the same output (its lock file names the process)."""


class SpecificationTestWarning(GvcPanelWarning):
    """A specification test's assumptions fail in this sample (Hausman: V_FE - V_RE is not
    positive semi-definite); its statistic is reported but should be read with care."""

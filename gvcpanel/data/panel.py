"""FirmPanel: a validated (firm_id, year) panel that does not change once built.

Every panel carries its provenance (where the data came from, a SHA-256 of the content, the
schema and package versions, the source mapping and the derivation steps since loading) and a
load report (values a mapping set to missing, extra columns, rows left out by filters).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gvcpanel.errors import PanelStructureError
from gvcpanel.data.schema import Schema, read_schema, validate_frame
from gvcpanel.report.markdown import pipe_table


def package_version() -> str:
    """Version of the installed gvcpanel package."""
    from gvcpanel import __version__

    return __version__


@dataclass(frozen=True)
class Provenance:
    """Where a panel came from.

    Attributes
    ----------
    source : str
        File path, or ``"<DataFrame>"``.
    sha256 : str
        SHA-256 of the source content: the file's bytes; for a partitioned folder, its sorted
        relative file paths and their bytes; for a DataFrame, :func:`frame_sha256` of the
        validated data.
    schema_version, package_version : str
        Versions of the schema the data were validated against and of gvcpanel.
    mapping : str
        ``name@version`` of the source mapping, empty when none was used.
    steps : tuple of str
        Derivation steps applied after loading (``panel.derive(..., step=...)``), in order.
    """

    source: str
    sha256: str
    schema_version: str
    package_version: str
    mapping: str = ""
    steps: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, str]:
        """All fields as text (steps joined by ``" -> "``)."""
        out = {k: str(v) for k, v in asdict(self).items() if k != "steps"}
        out["steps"] = " -> ".join(self.steps)
        return out


@dataclass(frozen=True)
class LoadReport:
    """What happened between the source file and the panel (nothing is changed silently).

    Attributes
    ----------
    source : str
        The file read.
    n_rows_source : int or None
        Rows in the source before filters (None when unknown).
    n_rows : int
        Rows in the panel.
    notes : tuple of str
        Extra columns kept, format conventions applied (e.g. Stata's empty string = missing).
    mapping : MappingReport or None
        Recodes and values set to missing by the mapping, with counts.
    columns, filters : str
        Projection and row filter asked for ("" when none).
    """

    source: str
    n_rows_source: int | None
    n_rows: int
    notes: tuple[str, ...] = ()
    mapping: Any = None
    columns: str = ""
    filters: str = ""

    @property
    def set_missing(self) -> pd.DataFrame:
        """Values the mapping set to missing: target, source, action, n."""
        if self.mapping is None:
            return pd.DataFrame(columns=["target", "source", "action", "n"])
        act = self.mapping.actions
        return act[act["action"].str.contains("-> missing", regex=False)].reset_index(drop=True)


@dataclass(frozen=True)
class PanelDescription:
    """Descriptive tables of a panel (see :meth:`FirmPanel.describe`).

    Attributes
    ----------
    overview : DataFrame
        statistic, value: firms, years, firm-years, balance, gaps, clusters, countries.
    years : DataFrame
        Firms observed per year.
    clusters, countries : DataFrame
        Firms and firm-years per cluster / country (countries empty without a country column).
    governance : DataFrame
        Share of firm-years by governance type, missing included (empty without governance).
    missingness : DataFrame
        Per column: missing count and share.
    intervals : DataFrame
        Years between a firm's consecutive observations (``interval``, ``n`` pairs): in a wave
        design the intervals between interviews, in an annual one 1 and the gaps.
    """

    overview: pd.DataFrame
    years: pd.DataFrame
    clusters: pd.DataFrame
    countries: pd.DataFrame
    governance: pd.DataFrame
    missingness: pd.DataFrame
    intervals: pd.DataFrame = field(default_factory=pd.DataFrame)

    def to_markdown(self, *, max_rows: int = 40) -> str:
        """All tables as Markdown text (no third-party formatter needed)."""
        parts = []
        for title in ("overview", "years", "intervals", "clusters", "countries", "governance",
                      "missingness"):
            table = getattr(self, title)
            if table.empty:
                continue
            parts.append(f"## {title.capitalize()}\n\n{markdown_table(table, max_rows=max_rows)}")
        return "\n\n".join(parts) + "\n"


def markdown_table(frame: pd.DataFrame, *, max_rows: int = 40) -> str:
    """A pipe table of ``frame`` (floats to 4 significant digits), cut at ``max_rows`` rows."""
    shown = frame.head(max_rows)

    def cell(value: Any) -> str:
        if isinstance(value, (float, np.floating)):
            return "" if np.isnan(value) else f"{value:.4g}"
        return "" if value is pd.NA or value is None else str(value)

    header = [str(c) for c in shown.columns]
    rows = [[cell(v) for v in row] for row in shown.itertuples(index=False, name=None)]
    lines = pipe_table(header, rows)
    if len(frame) > max_rows:
        lines.append(f"\n({len(frame) - max_rows} more rows)")
    return "\n".join(lines)


def frame_sha256(data: pd.DataFrame) -> str:
    """SHA-256 of a frame's values, column names and dtypes.

    Row hashes come from :func:`pandas.util.hash_pandas_object` (stable for a given pandas
    version); the index is reset first so (firm_id, year) are hashed as columns.
    """
    flat = data.reset_index() if data.index.nlevels > 1 or data.index.name else data
    digest = hashlib.sha256()
    digest.update(json.dumps([[str(c), str(t)] for c, t in flat.dtypes.items()]).encode())
    digest.update(pd.util.hash_pandas_object(flat, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def _key_frame(frame: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """Columns firm_id, year, ... whether the keys were given as index or as columns."""
    key = list(schema.primary_key)
    if all(k in (frame.index.names or []) for k in key):
        return frame.reset_index()
    return frame


def index_by_key(data: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """Data indexed by the primary key and sorted (unchanged when it already is)."""
    key = list(schema.primary_key)
    out = data if list(data.index.names) == key else data.set_index(key)
    if not out.index.is_monotonic_increasing:
        out = out.sort_index()
    return out


class FirmPanel:
    """A validated firm-year panel indexed by (firm_id, year); immutable.

    Build one with :func:`gvcpanel.data.io.load_panel` (files or frames) or ``FirmPanel(frame)``.

    Parameters
    ----------
    data : pandas.DataFrame
        Columns firm_id, year, ... or a (firm_id, year) index; validated against ``schema``.
    schema : Schema or str
        The schema (default the firm panel).
    provenance : Provenance, optional
        Defaults to a DataFrame provenance with the hash of the validated data.
    load_report : LoadReport, optional
        What the loader did.
    governance_report : Any, optional
        Set by :func:`gvcpanel.gvc.governance.classify_governance`.
    module_report : Any, optional
        Set by :func:`gvcpanel.data.modules.join_module`.

    Notes
    -----
    Storage: see :mod:`gvcpanel.data.schema` (binary indicators and counts are float64 with NaN for
    missing, governance is categorical, identifiers int64 or text).
    """

    __slots__ = ("_data", "_schema", "_provenance", "_load_report", "_governance_report",
                 "_module_report")

    def __init__(self, data: pd.DataFrame, *, schema: Schema | str = "firm_panel",
                 provenance: Provenance | None = None, load_report: LoadReport | None = None,
                 governance_report: Any = None, module_report: Any = None) -> None:
        schema = read_schema(schema)
        checked = validate_frame(_key_frame(data, schema), schema).data
        indexed = index_by_key(checked, schema)
        if provenance is None:
            provenance = Provenance("<DataFrame>", frame_sha256(indexed), schema.version,
                                    package_version())
        self._set(indexed, schema, provenance, load_report, governance_report, module_report)

    def _set(self, data: pd.DataFrame, schema: Schema, provenance: Provenance,
             load_report: LoadReport | None, governance_report: Any,
             module_report: Any = None) -> None:
        object.__setattr__(self, "_data", data)
        object.__setattr__(self, "_schema", schema)
        object.__setattr__(self, "_provenance", provenance)
        object.__setattr__(self, "_load_report", load_report)
        object.__setattr__(self, "_governance_report", governance_report)
        object.__setattr__(self, "_module_report", module_report)

    @classmethod
    def _from_validated(cls, data: pd.DataFrame, schema: Schema, provenance: Provenance,
                        load_report: LoadReport | None = None,
                        governance_report: Any = None) -> FirmPanel:
        """Wrap data that :func:`gvcpanel.data.schema.validate_frame` has already accepted
        (key columns, or already indexed by the key)."""
        panel = cls.__new__(cls)
        panel._set(index_by_key(data, schema), schema, provenance, load_report, governance_report)
        return panel

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("FirmPanel is immutable; use panel.derive(new_data, step=...) to "
                             "make a changed panel")

    # -- accessors ---------------------------------------------------------------------------
    @property
    def data(self) -> pd.DataFrame:
        """The data, indexed by (firm_id, year) and sorted; a copy the caller may change."""
        return self._data.copy(deep=False)

    @property
    def schema(self) -> Schema:
        """The schema the data were validated against."""
        return self._schema

    @property
    def provenance(self) -> Provenance:
        """Source, content hash, versions, mapping and derivation steps."""
        return self._provenance

    @property
    def load_report(self) -> LoadReport | None:
        """What the loader did (mapping recodes, values set to missing, notes)."""
        return self._load_report

    @property
    def governance_report(self) -> Any:
        """The classification report, or None unless classify_governance made the panel."""
        return self._governance_report

    @property
    def module_report(self) -> Any:
        """The join report of the last module joined (:func:`gvcpanel.data.modules.join_module`)."""
        return self._module_report

    def __len__(self) -> int:
        return len(self._data)

    @property
    def n_firms(self) -> int:
        """Number of distinct firms."""
        return int(self._data.index.get_level_values(0).nunique())

    @property
    def years(self) -> tuple[int, ...]:
        """Sorted distinct years."""
        return tuple(int(y) for y in np.unique(self._data.index.get_level_values(1)))

    def __repr__(self) -> str:
        years = self.years
        span = f"{years[0]}-{years[-1]}" if years else "none"
        return (f"FirmPanel({len(self)} firm-years, {self.n_firms} firms, years {span}, "
                f"{self._data.shape[1]} columns, source={self._provenance.source!r})")

    # -- derived panels ----------------------------------------------------------------------
    def derive(self, data: pd.DataFrame, *, step: str, governance_report: Any = None,
               module_report: Any = None) -> FirmPanel:
        """A new panel with changed or added columns, validated again.

        Parameters
        ----------
        data : pandas.DataFrame
            Same firm-years as this panel (index or columns firm_id, year).
        step : str
            What was done (recorded in ``provenance.steps``).
        governance_report, module_report : Any, optional
            Replace the current reports (each kept when None).

        Raises
        ------
        PanelStructureError
            If the firm-years differ from this panel's: derive never adds or drops rows.
        SchemaError
            If the new data break the schema.
        """
        schema = self._schema
        checked = validate_frame(_key_frame(data, schema), schema,
                                 source=f"{self._provenance.source} (step {step!r})").data
        indexed = index_by_key(checked, schema)
        if not indexed.index.equals(self._data.index):
            added = len(indexed.index.difference(self._data.index))
            missing = len(self._data.index.difference(indexed.index))
            raise PanelStructureError(
                f"derive(step={step!r}) expected the panel's {len(self)} firm-years; found "
                f"{len(indexed)} ({added} new, {missing} missing). derive changes columns only: "
                f"to subset rows, load again with filters=, or build FirmPanel(frame).")
        dropped = [c for c in self._data.columns if c not in indexed.columns]
        label = step + (f" (dropped columns: {', '.join(map(str, dropped))})" if dropped else "")
        provenance = replace(self._provenance, steps=self._provenance.steps + (label,))
        report = self._governance_report if governance_report is None else governance_report
        joined = self._module_report if module_report is None else module_report
        panel = FirmPanel.__new__(FirmPanel)
        panel._set(indexed, schema, provenance, self._load_report, report, joined)
        return panel

    # -- description and output --------------------------------------------------------------
    @property
    def observation(self) -> Any:
        """The observation design: annual, or waves at (irregular) intervals, with the recall
        windows the source mapping declares (:class:`gvcpanel.data.design.ObservationDesign`)."""
        from gvcpanel.data.design import observation_design

        recall: dict[str, int] = {}
        module = getattr(self._module_report, "mapping_report", None)
        for report in (getattr(self._load_report, "mapping", None), module):
            recall.update(getattr(report, "recall", None) or {})
        return observation_design(self._data.index.get_level_values(1), recall)

    def describe(self) -> PanelDescription:
        """Firms, years (or waves and intervals), balance, gaps, clusters, countries, governance
        shares, missingness.

        Notes
        -----
        The panel is balanced when every firm is observed in every year of the panel (every
        wave of a wave design).  In an annual panel a firm has an internal gap when
        ``last - first + 1 > years observed``; in a wave design the years between waves are not
        gaps (nobody was interviewed), and a firm is counted when it missed a wave between two of
        its interviews.  ``intervals`` tabulates the years between a firm's consecutive
        observations.
        """
        from gvcpanel.data.design import interval_table, observation_design

        data = self._data
        firm_codes, firm_labels = pd.factorize(data.index.get_level_values(0))
        years = data.index.get_level_values(1).to_numpy()
        per_firm = pd.DataFrame({"f": firm_codes, "y": years}).groupby("f")["y"].agg(
            ["min", "max", "count"])
        all_years = np.unique(years)
        n_firms = len(firm_labels)
        every_year = int((per_firm["count"] == len(all_years)).sum())
        design = observation_design(all_years)
        if design.is_waves:
            # waves passed over between a firm's first and last interview
            position = np.searchsorted(all_years, per_firm[["min", "max"]].to_numpy())
            missed = int(((position[:, 1] - position[:, 0] + 1) > per_firm["count"].to_numpy()).sum())
            overview = [("firms", n_firms), ("firm-years", len(data)),
                        ("observation design", design.text()),
                        ("balanced", "yes" if every_year == n_firms else "no"),
                        ("share of firms observed at every wave", every_year / n_firms if n_firms else np.nan),
                        ("mean waves per firm", len(data) / n_firms if n_firms else np.nan),
                        ("firms that missed a wave between two interviews", missed)]
        else:
            gaps = int((per_firm["max"] - per_firm["min"] + 1 > per_firm["count"]).sum())
            overview = [("firms", n_firms), ("firm-years", len(data)),
                        ("years", f"{all_years.min()}-{all_years.max()} ({len(all_years)})"
                         if len(all_years) else "none"),
                        ("balanced", "yes" if every_year == n_firms else "no"),
                        ("share of firms observed every year", every_year / n_firms if n_firms else np.nan),
                        ("mean years per firm", len(data) / n_firms if n_firms else np.nan),
                        ("firms with internal gaps", gaps)]
        clusters = self._group_counts("cluster_id", firm_codes)
        countries = self._group_counts("country", firm_codes)
        overview.append(("clusters", len(clusters)))
        if not countries.empty:
            overview.append(("countries", len(countries)))
        governance = pd.DataFrame()
        if "governance" in data.columns:
            counts = data["governance"].value_counts(dropna=False, sort=False)
            governance = pd.DataFrame({
                "governance": ["missing" if pd.isna(k) else str(k) for k in counts.index],
                "firm_years": counts.to_numpy(), "share": counts.to_numpy() / len(data)})
        n_missing = data.isna().sum()
        missingness = pd.DataFrame({"column": n_missing.index.astype(str),
                                    "missing": n_missing.to_numpy(),
                                    "share_missing": n_missing.to_numpy() / max(len(data), 1)})
        year_counts = pd.Series(years).value_counts().sort_index()
        return PanelDescription(
            overview=pd.DataFrame(overview, columns=["statistic", "value"]).astype({"value": object}),
            years=pd.DataFrame({"year": year_counts.index, "firms": year_counts.to_numpy()}),
            clusters=clusters, countries=countries, governance=governance, missingness=missingness,
            intervals=interval_table(firm_codes, years))

    def _group_counts(self, column: str, firm_codes: np.ndarray) -> pd.DataFrame:
        if column not in self._data.columns:
            return pd.DataFrame()
        frame = pd.DataFrame({column: self._data[column].to_numpy(), "firm": firm_codes})
        grouped = frame.groupby(column, sort=True, dropna=False)["firm"]
        out = pd.DataFrame({"firms": grouped.nunique(), "firm_years": grouped.size()})
        return out.reset_index()

    def to_parquet(self, path: str | Path) -> Path:
        """Write the panel (keys as columns) to a Parquet file with provenance in its metadata.

        Parameters
        ----------
        path : str or Path
            ``panel.parquet``, or a stem whose dots are kept (``panel_v1.2`` writes
            ``panel_v1.2.parquet``). Another file-type extension (``.csv``, ``.xlsx``) is refused
            rather than given Parquet bytes.

        Returns
        -------
        Path
            The file written; ``load_panel(path)`` reads it back to an equal panel. The file is
            replaced whole or not at all (:func:`gvcpanel.report.output.write_files`).
        """
        import pyarrow as pa
        import pyarrow.parquet as pq

        from gvcpanel.report.output import output_files, write_files

        target = output_files(path, formats=("parquet", "pq"), default=("parquet",))
        table = pa.Table.from_pandas(self._data.reset_index(), preserve_index=False)
        meta = dict(table.schema.metadata or {})
        meta[b"gvcpanel.provenance"] = json.dumps(self._provenance.as_dict()).encode()
        table = table.replace_schema_metadata(meta)
        (file,) = target.files.values()
        (written,) = write_files({file: lambda staged: pq.write_table(table, staged)}, stem=target.stem)
        return written


__all__ = ["FirmPanel", "LoadReport", "PanelDescription", "Provenance", "frame_sha256",
           "markdown_table", "package_version"]

"""Join a module of the researcher's own (one record per firm and year or wave) to a panel.

A survey panel often lacks items a researcher fields separately to the same firms: Enterprise
Surveys, for example, ask no buyer-governance questions.  :func:`join_module` reads such a
module (file or frame), turns its codes into canonical names with a mapping (the shipped
template is ``governance_module``), checks its keys and adds its columns to the panel:

- keys are ``firm_id`` and ``year``, or ``firm_id`` and ``wave`` (a wave number, 1 for the
  panel's first year, turned into that wave's year);
- two records with the same key are an error (which of them holds is unknown), listed;
- a record that matches no firm-year of the panel is not joined and is counted by reason
  (missing key, firm not in the panel, firm not observed in that year, wave unknown);
- a firm-year of the panel without a record keeps missing values in the module's columns, and
  is counted;
- a module column that the panel already holds with values is an error (the panel's values are
  never overwritten); a panel column that is entirely missing is filled.

Nothing is dropped silently: :class:`ModuleJoinReport` (``panel.module_report``) has every count.
"""

from __future__ import annotations

from collections.abc import Mapping as MappingABC
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gvcpanel.errors import SchemaError, SpecificationError

__all__ = ["ModuleJoinReport", "join_module", "read_module"]

KEY = ("firm_id", "year")
MISSING_KEY = "missing firm_id, year or wave"
UNKNOWN_FIRM = "firm not in the panel"
NOT_OBSERVED = "firm in the panel, not observed in that year"
UNKNOWN_WAVE = "wave number not among the panel's waves"
_REASONS = (MISSING_KEY, UNKNOWN_WAVE, UNKNOWN_FIRM, NOT_OBSERVED)


@dataclass(frozen=True)
class ModuleJoinReport:
    """What :func:`join_module` did.

    Attributes
    ----------
    source : str
        The module file, or ``"<DataFrame>"``.
    sha256 : str or None
        SHA-256 of the module file (None for a frame).
    mapping : str
        ``name@version`` of the module's mapping, empty when none was used.
    keyed_by : str
        ``"year"`` or ``"wave"``.
    waves : Mapping[int, int]
        Wave number -> year, when the module is keyed by wave.
    n_module_rows : int
        Records in the module.
    n_matched : int
        Records joined to a firm-year of the panel.
    unmatched : pandas.DataFrame
        ``reason``, ``n_rows``: records not joined, by reason (empty when all matched).
    n_panel_rows : int
        Firm-years of the panel.
    n_panel_rows_without_module : int
        Firm-years of the panel without a module record (their module columns stay missing).
    columns : tuple of str
        Columns the module added (or filled).
    mapping_report : MappingReport or None
        Codes the mapping set to missing or recoded, with counts.
    """

    source: str
    sha256: str | None
    mapping: str
    keyed_by: str
    waves: MappingABC[int, int]
    n_module_rows: int
    n_matched: int
    unmatched: pd.DataFrame
    n_panel_rows: int
    n_panel_rows_without_module: int
    columns: tuple[str, ...]
    mapping_report: Any = None

    @property
    def n_unmatched(self) -> int:
        return int(self.unmatched["n_rows"].sum()) if not self.unmatched.empty else 0

    def summary(self) -> pd.DataFrame:
        """statistic, value: the counts in one table (unmatched reasons included)."""
        rows: list[tuple[str, Any]] = [
            ("module", self.source),
            ("mapping", self.mapping or "(none)"),
            ("keyed by", f"firm_id and {self.keyed_by}"),
        ]
        if self.waves:
            rows.append(("waves", ", ".join(f"{w} -> {y}" for w, y in sorted(self.waves.items()))))
        rows += [
            ("module records", self.n_module_rows),
            ("records joined", self.n_matched),
            *((f"records not joined: {r}", n) for r, n in zip(self.unmatched["reason"], self.unmatched["n_rows"])),
            ("panel firm-years", self.n_panel_rows),
            ("panel firm-years without a module record", self.n_panel_rows_without_module),
            ("columns added", ", ".join(self.columns)),
        ]
        return pd.DataFrame(rows, columns=["statistic", "value"]).astype({"value": object})

    def lines(self) -> list[str]:
        """The summary as ``statistic: value`` lines (for run logs)."""
        return [f"{s}: {v}" for s, v in self.summary().itertuples(index=False, name=None)]


def read_module(source: str | Path | pd.DataFrame,
                text_columns: set[str] | frozenset[str] = frozenset({"firm_id"})) -> tuple[pd.DataFrame, str, str | None]:
    """Read a module file as it is (no schema): the frame, its label and its SHA-256.

    CSV, Parquet, Stata ``.dta`` and Excel ``.xlsx`` are read with the package's readers;
    ``text_columns`` (the firm key's source columns) stay text in CSV and Excel files, so that an
    identifier such as ``007`` keeps its zeros until it is compared with the panel's.
    """
    if isinstance(source, pd.DataFrame):
        named = source.index.nlevels > 1 or source.index.name is not None
        return (source.reset_index() if named else source.copy()), "<DataFrame>", None
    from gvcpanel.data import readers
    from gvcpanel.data.io import content_sha256

    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(2, "no such module file", str(path))
    kind = readers.source_format(path)
    label = str(path)
    if kind == "csv":
        frame = readers.read_csv(path, readers.check_csv(path), set(text_columns))
    elif kind in ("parquet", "parquet_dir"):
        frame = readers.read_parquet(readers.open_parquet(path), label)
    elif kind == "stata":
        frame = readers.read_stata(path)
    else:
        frame, _ = readers.read_excel(path, None, set(text_columns))
    readers.refuse_duplicate_columns(frame.columns, label)
    if frame.empty:
        raise readers.no_rows(label)
    return frame, str(path), content_sha256(path)


def _panel_waves(years: np.ndarray, waves: MappingABC[int, int] | None) -> dict[int, int]:
    if waves is not None:
        return {int(k): int(v) for k, v in waves.items()}
    return {i + 1: int(y) for i, y in enumerate(np.unique(years))}


def _as_panel_ids(values: pd.Series, panel_ids: pd.Index) -> pd.Series:
    """Module firm ids in the panel's id type, so that 101 and "101" meet; text otherwise."""
    if pd.api.types.is_integer_dtype(panel_ids.dtype):
        numbers = pd.to_numeric(values, errors="coerce")
        whole = numbers.notna() & (numbers == np.floor(numbers))
        if bool((whole | values.isna()).all()):
            return numbers.astype("Int64")
    return values.astype("string").str.strip()


def join_module(panel: Any, module: str | Path | pd.DataFrame, mapping: Any = None, *,
                waves: MappingABC[int, int] | None = None) -> Any:
    """Add the columns of a firm-by-year (or firm-by-wave) module to a panel, keys checked.

    Parameters
    ----------
    panel : FirmPanel
        The survey panel.
    module : str, Path or pandas.DataFrame
        The module: a file (CSV, Parquet, .dta, .xlsx) or a frame.
    mapping : str, Path or Mapping, optional
        Mapping of the module's own codes to canonical names, e.g. the shipped template
        ``"governance_module"``; without one the module must already use canonical names
        (``firm_id``, ``year`` or ``wave``, and schema fields).
    waves : Mapping[int, int], optional
        Wave number -> year, for a module keyed by wave.  Default: the panel's distinct years in
        order (wave 1 = the first year).

    Returns
    -------
    FirmPanel
        A new panel (``panel.derive(..., step="join_module:<source>")``, validated again) whose
        ``module_report`` is a :class:`ModuleJoinReport`.

    Raises
    ------
    SpecificationError
        The module has no firm key or no year/wave key; a module column already holds values
        in the panel.
    SchemaError
        Two module records share a key (listed), or the joined values break the schema.
    """
    from gvcpanel.data.mapping import apply_mapping, read_mapping

    mapping_obj = read_mapping(mapping) if mapping is not None else None
    keys = {"firm_id"} if mapping_obj is None else {
        name for rule in mapping_obj.rules if rule.target == "firm_id" for names in rule.inputs for name in names}
    raw, label, sha = read_module(module, keys)
    mapping_report = None
    mapping_label = ""
    if mapping_obj is not None:
        mapping_label = mapping_obj.label
        frame, mapping_report = apply_mapping(raw, mapping_obj)
    else:
        frame = raw.copy()
    data = panel.data
    panel_years = data.index.get_level_values("year").to_numpy()
    if "firm_id" not in frame.columns:
        raise SpecificationError(
            f"module {label}: no firm key; expected a column firm_id"
            + (f" made by mapping {mapping_label}" if mapping_label else "")
            + f" (columns found: {', '.join(map(str, raw.columns[:12]))}). Map the module's "
              "establishment identifier to firm_id (the template governance_module reads idstd).")
    keyed_by = "year" if "year" in frame.columns else ("wave" if "wave" in frame.columns else None)
    if keyed_by is None:
        raise SpecificationError(
            f"module {label}: no year or wave key; expected a column year (interview year) or wave "
            "(wave number, 1 = the panel's first year). Map the module's wave or year column to one.")
    n_module = len(frame)
    reason = pd.Series(pd.NA, index=frame.index, dtype="object")
    wave_years: dict[int, int] = {}
    if keyed_by == "wave":
        wave_years = _panel_waves(panel_years, waves)
        wave = pd.to_numeric(frame["wave"], errors="coerce")
        year = wave.map(wave_years)
        reason[wave.notna() & year.isna()] = UNKNOWN_WAVE
        frame = frame.drop(columns=["wave"]).assign(year=year)
    elif "wave" in frame.columns:
        frame = frame.drop(columns=["wave"])
    firm = _as_panel_ids(frame["firm_id"], data.index.get_level_values("firm_id"))
    year = pd.to_numeric(frame["year"], errors="coerce")
    missing_key = (firm.isna() | year.isna()).to_numpy() & reason.isna().to_numpy()
    reason[missing_key] = MISSING_KEY
    keyed = reason.isna().to_numpy()
    keys = pd.MultiIndex.from_arrays([firm.to_numpy(dtype=object)[keyed],
                                      year.to_numpy()[keyed].astype(np.int64)], names=KEY)
    duplicated = keys.duplicated(keep=False)
    if duplicated.any():
        counts = pd.Series(1, index=keys[duplicated]).groupby(level=[0, 1]).size()
        shown = "; ".join(f"firm_id {f}, year {y}: {n} records" for (f, y), n in counts.head(10).items())
        problems = counts.rename("records").reset_index()
        raise SchemaError(
            f"module {label}: {len(counts)} firm-year key(s) appear more than once ({shown}"
            f"{'; ...' if len(counts) > 10 else ''}). A module needs one record per firm and "
            f"{keyed_by}; drop or merge the repeated records.", problems=problems, source=label)
    panel_index = data.index
    panel_firms = set(panel_index.get_level_values("firm_id"))
    in_panel = keys.isin(panel_index)
    known_firm = np.fromiter((f in panel_firms for f in keys.get_level_values(0)), bool, len(keys))
    positions = np.flatnonzero(keyed)
    reason.iloc[positions[~in_panel & ~known_firm]] = UNKNOWN_FIRM
    reason.iloc[positions[~in_panel & known_firm]] = NOT_OBSERVED

    columns = [c for c in frame.columns if c not in KEY]
    clash = [c for c in columns if c in data.columns and data[c].notna().any()]
    if clash:
        raise SpecificationError(
            f"module {label}: column(s) {', '.join(clash)} already hold values in the panel; the "
            "join never overwrites them. Drop them from the module's mapping (or from the survey's) "
            "so that each column comes from one source.")
    matched = frame.loc[reason.isna().to_numpy(), columns].set_axis(keys[in_panel], axis=0)
    joined = data.drop(columns=[c for c in columns if c in data.columns])
    added = matched.reindex(panel_index)
    joined = pd.concat([joined, added], axis=1)
    counts = reason.dropna().value_counts()
    unmatched = pd.DataFrame({"reason": [r for r in _REASONS if r in counts.index],
                              "n_rows": [int(counts[r]) for r in _REASONS if r in counts.index]})
    report = ModuleJoinReport(
        source=label, sha256=sha, mapping=mapping_label, keyed_by=keyed_by, waves=wave_years,
        n_module_rows=n_module, n_matched=int(in_panel.sum()), unmatched=unmatched,
        n_panel_rows=len(data), n_panel_rows_without_module=int(len(data) - in_panel.sum()),
        columns=tuple(columns), mapping_report=mapping_report)
    step = f"join_module:{label}" + (f" ({mapping_label})" if mapping_label else "")
    return panel.derive(joined, step=step, module_report=report)

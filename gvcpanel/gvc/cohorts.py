"""Chain-entry cohorts from governance: who entered a quasi-hierarchical or global chain, when.

An event study of chain entry needs each firm's *cohort*, the year it first entered the chain.
:func:`chain_entries` reads it off the classified panel firm by firm (with exits, switches and
what could not be observed); :func:`chain_cohorts` adds it as a column that
:func:`gvcpanel.models.event_study.event_study` takes; :func:`cohort_table` counts firms by
cohort and year and :func:`comparison_groups` labels every firm-year as treated, not yet treated
or never treated.

Chains
------
- ``"quasi_hierarchy"``: ``governance == "quasi_hierarchy"`` (Humphrey and Schmitz 2002: the
  global buyer sets the product and monitors the process);
- ``"global_buyer"``: ``global_buyer == 1`` (the main buyer is a global lead firm);
- any other 0/1 column of the panel.

Rules
-----
A firm-year is *in* the chain, *out* of it, or *unknown* (the indicator is missing).  Entry is the
first year of the first run of ``min_spell`` consecutive known in-chain observations that follows
a known out-of-chain observation (``min_spell=2`` ignores one-year blips).  Each firm gets a
status:

- ``"entered"``: out first, then entry; cohort = entry year;
- ``"in_at_first_observation"``: in the chain at its first known observation (entry before the
  panel or unobserved); cohort = that year, so the event study excludes it (no untreated year);
- ``"never"``: out at every known observation (or in only for spells shorter than
  ``min_spell``); cohort = 0 (never treated);
- ``"unknown"``: no known observation, or a too-short spell that runs into the firm's last
  observation; cohort missing, so the event study excludes it and counts it.

``entry_uncertain`` flags entries preceded by unknown years (the firm may have entered in one of
them: the cohort is the first *observed* in-chain year).  Survey waves: entry years are wave
years; the firm entered at the latest in that wave.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from gvcpanel.errors import SpecificationError
from gvcpanel.formula.frame import panel_frame

CHAINS = {"quasi_hierarchy": "qh_entry_year", "global_buyer": "global_entry_year"}
STATUSES = ("entered", "in_at_first_observation", "never", "unknown")


def _in_chain(frame: pd.DataFrame, chain: str) -> pd.Series:
    """1.0 in the chain, 0.0 out of it, NaN unknown, per firm-year."""
    if chain == "quasi_hierarchy":
        if "governance" not in frame.columns:
            raise SpecificationError(
                "chain='quasi_hierarchy' reads the 'governance' column, which the panel lacks; run "
                "gp.classify_governance(panel) first."
            )
        gov = frame["governance"]
        return pd.Series(np.where(gov.isna(), np.nan, (gov == "quasi_hierarchy").astype(float)), index=frame.index)
    if chain not in frame.columns:
        raise SpecificationError(
            f"chain={chain!r} is neither 'quasi_hierarchy' nor a column of the panel; columns: "
            f"{sorted(map(str, frame.columns))[:20]}."
        )
    values = pd.to_numeric(frame[chain], errors="coerce").astype(float)
    bad = values.notna() & ~values.isin([0.0, 1.0])
    if bad.any():
        firm, year = values.index[bad.to_numpy()][0]
        raise SpecificationError(
            f"chain indicator {chain!r} must be 0/1 (or missing); firm_id {firm!r}, year {year} has "
            f"{frame[chain][bad].iloc[0]!r} ({int(bad.sum())} such firm-years)."
        )
    return values


def chain_entries(panel: Any, chain: str = "quasi_hierarchy", min_spell: int = 1) -> pd.DataFrame:
    """Per firm: entry into the chain, exit from it, switches and status.

    Parameters
    ----------
    panel : FirmPanel or DataFrame
        Classified panel indexed by (firm_id, year).
    chain : str
        ``"quasi_hierarchy"``, ``"global_buyer"`` or another 0/1 column.
    min_spell : int
        Known in-chain observations in a row needed for an entry.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``firm_id``: ``first_year``, ``last_year``, ``n_years`` (observed years),
        ``n_known`` (years with a known chain status), ``years_in`` (known in-chain years),
        ``status`` (see the module Notes), ``cohort`` (the entry year; the first year for
        ``"in_at_first_observation"``; 0 for ``"never"``; NaN for ``"unknown"``),
        ``entry_uncertain``, ``exit_year`` (first known out-of-chain year after entry) and
        ``n_switches`` (changes of status between consecutive known observations).
    """
    if int(min_spell) < 1:
        raise SpecificationError(f"min_spell={min_spell!r}; it must be a positive number of observations.")
    frame, _ = panel_frame(panel)
    frame = frame.sort_index()
    status = _in_chain(frame, chain)
    firms = frame.index.get_level_values("firm_id")
    years = frame.index.get_level_values("year").to_numpy()
    values = status.to_numpy()
    rows = []
    starts = np.flatnonzero(np.r_[True, firms[1:] != firms[:-1]])
    ends = np.r_[starts[1:], len(frame)]
    for lo, hi in zip(starts, ends):
        rows.append((firms[lo], *_one_firm(years[lo:hi], values[lo:hi], int(min_spell))))
    columns = ["firm_id", "first_year", "last_year", "n_years", "n_known", "years_in", "status", "cohort",
               "entry_uncertain", "exit_year", "n_switches"]
    out = pd.DataFrame(rows, columns=columns).set_index("firm_id")
    out["status"] = pd.Categorical(out["status"], categories=STATUSES)
    return out


def _one_firm(years: np.ndarray, inside: np.ndarray, min_spell: int) -> tuple:
    known = ~np.isnan(inside)
    k_years, k_in = years[known], inside[known] == 1
    first, last, n = int(years[0]), int(years[-1]), int(years.size)
    n_known, years_in = int(known.sum()), int(k_in.sum())
    switches = int((k_in[1:] != k_in[:-1]).sum()) if k_in.size > 1 else 0
    if n_known == 0:
        return first, last, n, 0, 0, "unknown", np.nan, False, np.nan, 0
    if k_in[0]:
        return first, last, n, n_known, years_in, "in_at_first_observation", float(k_years[0]), False, \
            _exit_after(k_years, k_in, 0), switches
    entry = None
    for j in range(1, k_in.size):
        if k_in[j] and not k_in[j - 1] and k_in[j:j + min_spell].all() and j + min_spell <= k_in.size:
            entry = j
            break
    if entry is None:
        # spells shorter than min_spell are blips, unless the last one runs into the panel's end
        status = "unknown" if k_in[-1] else "never"
        cohort = 0.0 if status == "never" else np.nan
        return first, last, n, n_known, years_in, status, cohort, False, np.nan, switches
    entry_year = int(k_years[entry])
    previous_known = int(k_years[entry - 1])
    # any firm-year between the last known out-year and the entry year had an unknown status
    uncertain = bool(((years > previous_known) & (years < entry_year)).any())
    return first, last, n, n_known, years_in, "entered", float(entry_year), uncertain, \
        _exit_after(k_years, k_in, entry), switches


def _exit_after(k_years: np.ndarray, k_in: np.ndarray, start: int) -> float:
    out = np.flatnonzero(~k_in[start:])
    return float(k_years[start + out[0]]) if out.size else np.nan


def chain_cohorts(panel: Any, chain: str = "quasi_hierarchy", column: str | None = None,
                  min_spell: int = 1) -> Any:
    """The panel with each firm's chain-entry cohort as a column.

    Parameters
    ----------
    panel : FirmPanel or DataFrame
    chain, min_spell
        See :func:`chain_entries`.
    column : str, optional
        Name of the new column; default ``qh_entry_year`` (quasi_hierarchy),
        ``global_entry_year`` (global_buyer) or ``<chain>_entry_year``.

    Returns
    -------
    FirmPanel or DataFrame
        The same kind as given (a FirmPanel through ``panel.derive``, recorded in its
        provenance), with the cohort column: the entry year, 0 for never, NaN for unknown.
    """
    column = column or CHAINS.get(chain, f"{chain}_entry_year")
    entries = chain_entries(panel, chain, min_spell)
    frame, _ = panel_frame(panel)
    firms = frame.index.get_level_values("firm_id")
    frame = frame.copy()
    frame[column] = entries["cohort"].reindex(firms).to_numpy()
    if hasattr(panel, "derive") and not isinstance(panel, pd.DataFrame):
        return panel.derive(frame, step=f"chain_cohorts:{chain}:{column}")
    return frame


def cohort_table(panel: Any, cohort: str = "qh_entry_year") -> pd.DataFrame:
    """Firms observed by cohort (rows) and year (columns), with a ``firms`` total column.

    Rows are ``"never"`` (cohort 0 or inf), each cohort year, and ``"unknown"`` (missing
    cohort); a firm counts in every year it is observed.
    """
    frame, _ = panel_frame(panel)
    if cohort not in frame.columns:
        raise SpecificationError(f"column {cohort!r} is not in the panel; build it with gp.chain_cohorts(panel).")
    values = pd.to_numeric(frame[cohort], errors="coerce")
    label = np.where(values.isna(), "unknown",
                     np.where((values == 0) | np.isinf(values.fillna(0)), "never",
                              values.fillna(0).astype("int64").astype(str)))
    years = frame.index.get_level_values("year")
    counts = pd.crosstab(pd.Series(label, index=frame.index, name="cohort"),
                         pd.Series(years, index=frame.index, name="year"))
    firms = pd.Series(frame.index.get_level_values("firm_id"), index=frame.index).groupby(label).nunique()
    counts["firms"] = firms.reindex(counts.index).fillna(0).astype(int)
    order = (["never"] + sorted(i for i in counts.index if i not in ("never", "unknown"))
             + (["unknown"] if "unknown" in counts.index else []))
    return counts.reindex([o for o in order if o in counts.index])


def comparison_groups(panel: Any, cohort: str = "qh_entry_year") -> pd.DataFrame:
    """Each firm-year's role in a staggered design.

    Returns
    -------
    pandas.DataFrame
        Indexed like the panel: ``cohort``, ``event_time`` (year - cohort; NaN for never and
        unknown) and ``group``: ``"treated"`` (year >= cohort), ``"not_yet_treated"`` (before its
        cohort: a comparison unit for later-or-earlier cohorts until it enters),
        ``"never_treated"`` or ``"unknown"``.
    """
    frame, _ = panel_frame(panel)
    if cohort not in frame.columns:
        raise SpecificationError(f"column {cohort!r} is not in the panel; build it with gp.chain_cohorts(panel).")
    g = pd.to_numeric(frame[cohort], errors="coerce").to_numpy(dtype=float)
    years = frame.index.get_level_values("year").to_numpy(dtype=float)
    never = (g == 0) | np.isinf(g)
    finite = ~np.isnan(g) & ~never
    group = np.select([np.isnan(g), never, finite & (years >= g)], ["unknown", "never_treated", "treated"],
                      "not_yet_treated")
    event = np.where(finite, years - np.where(finite, g, 0), np.nan)
    return pd.DataFrame({"cohort": g, "event_time": event, "group": group}, index=frame.index)

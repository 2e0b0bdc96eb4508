"""The tables and the figure of the replication package, one function each."""

from __future__ import annotations

import importlib.metadata
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import gvcpanel as gp
from gvcpanel.gvc.columns import GOVERNANCE_TYPES
from gvcpanel.report.tables import Table, fmt, fmt_p, regression_table

UPGRADES = ("process", "product", "functional")
LABELS = {
    "network": "Network",
    "quasi_hierarchy": "Quasi-hierarchy",
    "hierarchy": "Hierarchy",
    "network_strength_c": "Network strength (centred)",
    "quasi_hierarchy:network_strength_c": "Quasi-hierarchy x network strength",
    "log(employees)": "log(employees)",
    "firm_age": "Firm age (years)",
    "foreign_owned": "Foreign owned",
    "export_share": "Export share",
    "main_buyer_share": "Main-buyer share",
}


class RunLog:
    """Plain-text log of the run (the one output file that records times)."""

    def __init__(self, path: Path) -> None:
        self._lines: list[str] = []
        self._path = path

    def line(self, text: str) -> None:
        self._lines.append(text)

    def versions(self) -> None:
        for pkg in ("gvcpanel", "numpy", "pandas", "scipy", "statsmodels", "linearmodels", "pyarrow", "matplotlib"):
            try:
                self.line(f"{pkg} {importlib.metadata.version(pkg)}")
            except importlib.metadata.PackageNotFoundError:
                self.line(f"{pkg} not installed")

    def close(self) -> None:
        self._path.write_text("\n".join(self._lines) + "\n", encoding="utf-8")


def table1_descriptives(panel: Any) -> Table:
    """Firms, firm-years, clusters, governance shares and upgrading-event rates by governance."""
    data = panel.data
    firm_ids = data.index.get_level_values("firm_id")
    years = data.index.get_level_values("year")
    rows: list[tuple[str, str]] = [
        ("Firms", f"{firm_ids.nunique():,}"),
        ("Firm-years", f"{len(data):,}"),
        ("Years", f"{years.min()}-{years.max()}"),
        ("Clusters", f"{data['cluster_id'].nunique():,}" if "cluster_id" in data else ""),
        ("Countries", f"{data['country'].nunique():,}" if "country" in data else ""),
    ]
    design = panel.observation
    if design.is_waves:
        rows[2] = ("Waves", ", ".join(map(str, design.years)))
    gov = data["governance"].astype("object") if "governance" in data else pd.Series(np.nan, index=data.index)
    for kind in GOVERNANCE_TYPES:
        rows.append((f"Share of firm-years: {kind}", fmt(float((gov == kind).mean()))))
    rows.append(("Share of firm-years: governance missing", fmt(float(gov.isna().mean()))))
    top = pd.DataFrame(rows, columns=["statistic", "value"]).set_index("statistic")
    rates = event_rates(panel)
    body = pd.DataFrame("", index=top.index.append(rates.index), columns=["value", *rates.columns])
    body.loc[top.index, "value"] = top["value"]
    for col in rates.columns:
        body.loc[rates.index, col] = [fmt(v) if isinstance(v, float) else f"{v:,}" for v in rates[col]]
    body.index.name = ""
    notes = ("Event rates are events per firm-year at risk (discrete-time hazards): process = first ISO "
             "certification, product = first new product, functional = a step up the function ladder. "
             "Governance of the year at risk.")
    if design.is_waves:
        notes = ("Event rates are events per firm-period at risk: the interval between two interviews (or a "
                 "recall question's window) in this wave design. Process = first ISO certification, product = "
                 "first new product, functional = a step up the function ladder. Governance at the interview.")
    absent = [u for u in UPGRADES if u not in rates.index.str.replace("Event rate: ", "", regex=False)]
    if absent:
        notes += f" Not available: {', '.join(absent)} (outcome column absent)."
    return Table(body=body, title="Table 1. Descriptive statistics", notes=notes)


def event_rates(panel: Any) -> pd.DataFrame:
    """Events per firm-period at risk, by upgrading type and governance (types whose outcome
    column the panel lacks are left out)."""
    from gvcpanel.gvc.intervals import interval_risk_rows
    from gvcpanel.gvc.upgrading import OUTCOME_COLUMN

    out = {}
    data = panel.data
    gov = (data["governance"].astype("object") if "governance" in data
           else pd.Series(np.nan, index=data.index, dtype=object))
    for upgrade in UPGRADES:
        column = OUTCOME_COLUMN[upgrade]
        if column not in data or not data[column].notna().any():
            continue
        rows = interval_risk_rows(data, upgrade, design=panel.observation)
        event = rows.event[rows.at_risk]
        g = gov.to_numpy()[rows.at_risk]
        rate = {"all": float(event.mean()) if event.size else np.nan}
        for kind in GOVERNANCE_TYPES:
            sel = g == kind
            rate[kind] = float(event[sel].mean()) if sel.any() else np.nan
        rate["at risk (firm-years)"] = int(event.size)
        out[upgrade] = rate
    if not out:
        return pd.DataFrame(columns=["all", *GOVERNANCE_TYPES, "at risk (firm-years)"])
    table = pd.DataFrame(out).T
    table.index = [f"Event rate: {u}" for u in table.index]
    table["at risk (firm-years)"] = table["at risk (firm-years)"].astype(int)
    return table.astype(object)


def _results(report: Any, pick: list[tuple[str, str]]) -> tuple[dict[str, Any], list[str]]:
    """Columns (1), (2), ... from the report's rows identified by (id, specification), and a note
    for each column whose model is not estimable (the column is then left out)."""
    out, missing = {}, []
    reasons = report.not_estimable
    for i, (hid, spec) in enumerate(pick, start=1):
        hyp = next(h for h in report.hypotheses if h.id == hid and h.specification == spec)
        if hyp.model_label in reasons:
            missing.append(f"({i}) not estimable: {reasons[hyp.model_label]}")
        else:
            out[f"({i})"] = report.result_for(hyp)
    return out, missing


def _partial(table: Table, missing: list[str]) -> Table:
    if not missing:
        return table
    note = "; ".join(missing) + "."
    return replace(table, notes=f"{table.notes} {note}".strip() if table.notes else note)


def table2_process_product(report: Any) -> Table | None:
    results, missing = _results(report, [("H1", "main"), ("H1", "companion"), ("H2", "main"), ("H2", "companion")])
    if not results:
        return None
    return _partial(regression_table(
        results, labels=LABELS,
        title="Table 2. Process and product upgrading: (1) process hazard, (2) log labour productivity, "
        "(3) product hazard, (4) log unit value",
    ), missing)


def table3_functional(report: Any) -> Table | None:
    results, missing = _results(report, [("H3", "no interaction"), ("H3", "main")])
    if not results:
        return None
    return _partial(regression_table(results, labels=LABELS,
                                     title="Table 3. Functional upgrading hazard (each step up the function ladder)"),
                    missing)


def table4_moderation(report: Any) -> Table:
    mod = report.moderation
    tab = mod.table.copy()
    body = pd.DataFrame(
        {
            "network strength (centred)": [fmt(v) for v in tab["moderator"]],
            "effect (log HR)": [fmt(v) for v in tab["effect"]],
            "std. error": [fmt(v) for v in tab["std_error"]],
            "95% CI": [f"[{fmt(a)}, {fmt(b)}]" for a, b in zip(tab["ci_low"], tab["ci_high"])],
            "hazard ratio": [fmt(np.exp(v)) for v in tab["effect"]],
            "p-value": [fmt_p(v) for v in tab["p_value"]],
        },
        index=pd.Index([str(i) for i in tab.index], name="at"),
    )
    notes = (f"Conditional effect of quasi-hierarchy on the functional-upgrading log hazard at quartiles of "
             f"centred network strength; delta-method standard errors. Johnson-Neyman: {mod.johnson_neyman_text}")
    return Table(body=body, title="Table 4. Moderation: quasi-hierarchy effect across network strength", notes=notes)


def table5_summary(report: Any) -> Table:
    t = report.table()
    body = pd.DataFrame(
        {
            "specification": t["specification"],
            "term": t["term"],
            "expected": t["expected_sign"] + " 0",
            "estimate": [fmt(v) for v in t["estimate"]],
            "std. error": [fmt(v) for v in t["std_error"]],
            "p (one-sided)": [fmt_p(v) for v in t["p_one_sided"]],
            "95% CI": [f"[{fmt(a)}, {fmt(b)}]" if np.isfinite(a) or np.isfinite(b) else ""
                       for a, b in zip(t["ci_low"], t["ci_high"])],
            "N": [f"{v:,}" if v else "" for v in t["n_obs"]],
            "clusters": ["" if v is None or (isinstance(v, float) and np.isnan(v)) else str(int(v))
                         for v in t["n_clusters"]],
            "verdict": [note if note else v for v, note in zip(t["verdict"], t["note"])],
        }
    )
    body.index = pd.Index(t["id"], name="")
    inference = t.loc[t["inference"] != "", "inference"]
    how = inference.iloc[0] if inference.nunique() == 1 else "each model's own inference (see the inference column of the report)"
    return Table(body=body, title="Table 5. Hypothesis summary",
                 notes=f"One-sided p-values test H0: coefficient = 0 against the expected sign; {how}.")


def figure1(report: Any, out: Path) -> list[Path]:
    """Conditional effect of quasi-hierarchy on the functional hazard across network strength,
    with the Johnson-Neyman region (:func:`gvcpanel.report.plots.moderation_plot`)."""
    from gvcpanel.report.plots import moderation_plot

    fig = moderation_plot(
        report.moderation,
        xlabel="network strength (centred)",
        ylabel="effect of quasi-hierarchy on log hazard",
        title="Functional upgrading: quasi-hierarchy across network strength",
    )
    paths = [out / "figure1_moderation.png", out / "figure1_moderation.pdf"]
    # no software, creator or date in the files: two runs write the same bytes
    fig.savefig(paths[0], dpi=150, metadata={"Software": None})
    fig.savefig(paths[1], metadata={"CreationDate": None, "Producer": None, "Creator": None})
    return paths


def write_all(panel: Any, truth: Any, out: Path, bootstrap: bool, log: Any,
              weights: str | None = None) -> list[Path]:
    """Every table and figure the data support; the run log says which were not made and why."""
    written: list[Path] = []
    written += table1_descriptives(panel).write(out / "table1_descriptives")
    report = gp.test_hypotheses(panel, weights=weights)
    for label, reason in report.not_estimable.items():
        log.line(f"not estimable: {label}: {reason}")

    def skip(name: str, why: str) -> None:
        log.line(f"not written: {name} ({why})")

    for name, build in (("table2_process_product", table2_process_product), ("table3_functional", table3_functional)):
        table = build(report)
        if table is None:
            skip(name, "none of its models is estimable")
        else:
            written += table.write(out / name)
    if report.moderation is not None:
        written += table4_moderation(report).write(out / "table4_moderation")
        written += figure1(report, out)
    else:
        why = next((r for label, r in report.not_estimable.items() if "functional" in label), "H4 was not run")
        skip("table4_moderation and figure1_moderation", f"the functional hazard is not estimable: {why}")
    written += table5_summary(report).write(out / "table5_hypotheses")
    from replication.dynamics import write_dynamics

    written += write_dynamics(panel, truth, out, log, weights=weights)
    if truth is not None:
        from replication.truth import truth_table

        written += truth_table(report, truth).write(out / "table_truth_vs_estimates")
    if bootstrap:
        if report.results:
            from replication.inference_table import table6_inference

            written += table6_inference(panel, report, log).write(out / "table6_inference")
        else:
            skip("table6_inference", "no hypothesis is estimable")
    return written

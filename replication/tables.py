"""The tables and the figure of the replication package, one function each."""

from __future__ import annotations

import importlib.metadata
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
    gov = data["governance"].astype("object")
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
    return Table(body=body, title="Table 1. Descriptive statistics", notes=notes)


def event_rates(panel: Any) -> pd.DataFrame:
    """Events per firm-year at risk, by upgrading type and governance."""
    out = {}
    gov = panel.data["governance"].astype("object")
    for upgrade in UPGRADES:
        rs = gp.risk_set(panel, upgrade)
        frame = rs.frame
        g = gov.reindex(frame.index)
        rate = {"all": float(frame["event"].mean())}
        for kind in GOVERNANCE_TYPES:
            sel = (g == kind).to_numpy()
            rate[kind] = float(frame["event"].to_numpy()[sel].mean()) if sel.any() else np.nan
        rate["at risk (firm-years)"] = int(len(frame))
        out[upgrade] = rate
    table = pd.DataFrame(out).T
    table.index = [f"Event rate: {u}" for u in table.index]
    table["at risk (firm-years)"] = table["at risk (firm-years)"].astype(int)
    return table.astype(object)


def _results(report: Any, pick: list[tuple[str, str]]) -> dict[str, Any]:
    """Columns (1), (2), ... from the report's rows identified by (id, specification)."""
    out = {}
    for i, (hid, spec) in enumerate(pick, start=1):
        hyp = next(h for h in report.hypotheses if h.id == hid and h.specification == spec)
        out[f"({i})"] = report.result_for(hyp)
    return out


def table2_process_product(report: Any) -> Table:
    results = _results(report, [("H1", "main"), ("H1", "companion"), ("H2", "main"), ("H2", "companion")])
    return regression_table(
        results, labels=LABELS,
        title="Table 2. Process and product upgrading: (1) process hazard, (2) log labour productivity, "
        "(3) product hazard, (4) log unit value",
    )


def table3_functional(report: Any) -> Table:
    results = _results(report, [("H3", "no interaction"), ("H3", "main")])
    return regression_table(results, labels=LABELS,
                            title="Table 3. Functional upgrading hazard (each step up the function ladder)")


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
            "95% CI": [f"[{fmt(a)}, {fmt(b)}]" for a, b in zip(t["ci_low"], t["ci_high"])],
            "N": [f"{v:,}" for v in t["n_obs"]],
            "clusters": [str(v) for v in t["n_clusters"]],
            "verdict": t["verdict"],
        }
    )
    body.index = pd.Index(t["id"], name="")
    return Table(body=body, title="Table 5. Hypothesis summary",
                 notes="One-sided p-values test H0: coefficient = 0 against the expected sign, CRV1 by cluster.")


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


def write_all(panel: Any, truth: Any, out: Path, bootstrap: bool, log: Any) -> list[Path]:
    written: list[Path] = []
    written += table1_descriptives(panel).write(out / "table1_descriptives")
    report = gp.test_hypotheses(panel)
    written += table2_process_product(report).write(out / "table2_process_product")
    written += table3_functional(report).write(out / "table3_functional")
    written += table4_moderation(report).write(out / "table4_moderation")
    written += table5_summary(report).write(out / "table5_hypotheses")
    written += figure1(report, out)
    from replication.dynamics import write_dynamics

    written += write_dynamics(panel, truth, out, log)
    if truth is not None:
        from replication.truth import truth_table

        written += truth_table(report, truth).write(out / "table_truth_vs_estimates")
    if bootstrap:
        from replication.inference_table import table6_inference

        written += table6_inference(panel, report, log).write(out / "table6_inference")
    return written

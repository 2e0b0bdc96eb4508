"""``make replicate SOURCE=transactions``: the tables from transaction records, and the
quasi-hierarchy proxy of the records against the survey classification.

Without ``DATA`` the records are simulated from the example panel
(:func:`gvcpanel.gvc.transactions.simulate.example_transactions`); with ``DATA=folder/`` the
folder holds ``transactions/`` (Parquet or CSV), optional ``products.*`` and ``buyers.*``, and
``firms.*`` (cluster_id and the survey columns), as written by ``SimulatedTransactions.write``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

import gvcpanel as gp
from gvcpanel.report.tables import Table, fmt

MODELS = ((("H1", "main"), "process hazard"), (("H1", "companion"), "FE labour productivity"),
          (("H2", "main"), "product hazard"), (("H2", "companion"), "FE log unit value"),
          (("H3", "main"), "functional hazard"))
TRUTH_PREFIX = {"process hazard": "process", "FE labour productivity": "productivity",
                "product hazard": "product", "FE log unit value": "unit_value",
                "functional hazard": "functional"}


def load(data: str | None) -> tuple[Any, Any, str]:
    """The panel built from records, the true parameters (simulated records only) and a label."""
    if data:
        return gp.panel_from_transactions(data), None, f"transaction records in {data}"
    from gvcpanel.gvc.transactions.simulate import example_transactions

    sim = example_transactions()
    panel = gp.panel_from_transactions(sim.records, products=sim.products, buyers=sim.buyers,
                                       firms=sim.firms)
    return panel, sim.truth, ("transaction records simulated from gvcpanel.example_panel() "
                              "(gvcpanel.gvc.transactions.simulate.example_transactions)")


def _estimate(report: Any, key: tuple[str, str]) -> tuple[str, int] | None:
    hyp = next((h for h in report.hypotheses if (h.id, h.specification) == key), None)
    if hyp is None:
        return None
    res = report.result_for(hyp)
    return f"{fmt(res.params[hyp.term])} ({fmt(res.std_errors[hyp.term])})", int(res.nobs)


def table_proxy_vs_survey(panel: Any, truth: Any = None) -> Table:
    """Quasi-hierarchy estimates with the survey classification and with the records' proxy."""
    data = panel.data
    if "governance" not in data.columns or data["governance"].isna().all():
        raise gp.SpecificationError("the comparison needs the survey classification (governance) "
                                    "in the firm table next to the records.")
    survey = gp.test_hypotheses(panel, hypotheses=["H1", "H2", "H3"])
    proxy = gp.test_hypotheses(panel, hypotheses=["H1", "H2", "H3"],
                               governance_measure="quasi_hierarchy_proxy")
    values = truth.to_frame().set_index("key")["value"] if truth is not None else None
    rows = []
    for key, label in MODELS:
        s, p = _estimate(survey, key), _estimate(proxy, key)
        if s is None or p is None:
            continue
        row = {"model": f"{key[0]} {label}", "survey quasi_hierarchy": s[0],
               "proxy quasi_hierarchy_proxy": p[0], "firm-years (survey / proxy)": f"{s[1]:,} / {p[1]:,}"}
        if values is not None:
            prefix = TRUTH_PREFIX[label]
            row["true quasi_hierarchy"] = fmt(values[f"{prefix}_quasi_hierarchy"])
            row["true hierarchy"] = fmt(values[f"{prefix}_hierarchy"])
        rows.append(row)
    body = pd.DataFrame(rows).set_index("model")
    known = data["quasi_hierarchy_proxy"].notna()
    shares = data[known].groupby(data.loc[known, "governance"].astype(str))["quasi_hierarchy_proxy"].mean()
    agreement = ", ".join(f"{g} {100 * shares.get(g, np.nan):.0f}%" for g in
                          ("market", "network", "quasi_hierarchy", "hierarchy"))
    notes = (
        "Coefficient (clustered s.e.) of quasi-hierarchy in each model of H1-H3: the survey "
        "classification (governance dummies against market) and, in the same model, the "
        "transaction proxy in its place (main-buyer share >= 0.5 and the main buyer already bought "
        "the year before; network and hierarchy dummies still from the survey, which records "
        "cannot see). The proxy is not the survey classification: it flags dependence and a lasting "
        "relationship, so owned suppliers (hierarchy) look the same, and the first year of every "
        "relationship and of every seller is not flagged (missing or 0). "
        f"Share of firm-years with proxy = 1, by survey governance (where defined): {agreement}. "
        f"Proxy missing in {int((~known).sum()):,} of {len(data):,} firm-years (share >= 0.5, no "
        "records the year before).")
    return Table(body, title="Quasi-hierarchy from transaction records (proxy) against the survey "
                 "classification", notes=notes)

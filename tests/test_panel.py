"""FirmPanel: index, immutability, provenance, describe, derive, to_parquet."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import gvcpanel as gp
from gvcpanel.errors import PanelStructureError, SchemaError
from gvcpanel.data.panel import FirmPanel, Provenance, markdown_table


def hand_panel() -> pd.DataFrame:
    # A: 2010-2012 every year; B: 2010 and 2012 (internal gap); C: only 2011
    return pd.DataFrame({
        "firm_id": ["B", "A", "A", "C", "B", "A"],
        "year": [2012, 2011, 2010, 2011, 2010, 2012],
        "cluster_id": ["x", "x", "x", "y", "x", "x"],
        "country": ["BRA", "BRA", "BRA", "IND", "BRA", "BRA"],
        "governance": ["market", "quasi_hierarchy", "quasi_hierarchy", "network", None, "market"],
        "iso_certified": [1, 0, 0, np.nan, np.nan, 1],
    })


def test_index_sorted_and_counts():
    panel = gp.load_panel(hand_panel())
    data = panel.data
    assert list(data.index.names) == ["firm_id", "year"]
    assert data.index.is_monotonic_increasing
    assert data.index.tolist()[:3] == [("A", 2010), ("A", 2011), ("A", 2012)]
    assert len(panel) == 6 and panel.n_firms == 3 and panel.years == (2010, 2011, 2012)
    assert "6 firm-years" in repr(panel)


def test_panel_cannot_be_changed_through_its_data():
    panel = gp.load_panel(hand_panel())
    data = panel.data
    data.loc[("A", 2010), "iso_certified"] = 99.0
    data["new"] = 1
    assert panel.data.loc[("A", 2010), "iso_certified"] == 0.0
    assert "new" not in panel.data.columns
    with pytest.raises(AttributeError, match="immutable"):
        panel.data = data  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        panel.provenance.sha256 = "x"  # type: ignore[misc]


def test_constructor_validates():
    with pytest.raises(SchemaError):
        FirmPanel(hand_panel().assign(iso_certified=5))
    panel = FirmPanel(hand_panel().set_index(["firm_id", "year"]))
    assert panel.n_firms == 3


def test_provenance_of_frames_is_a_hash_of_the_values():
    frame = hand_panel()
    first = gp.load_panel(frame).provenance
    shuffled = gp.load_panel(frame.sample(frac=1.0, random_state=3)).provenance
    changed = gp.load_panel(frame.assign(iso_certified=frame["iso_certified"].fillna(0))).provenance
    assert first.sha256 == shuffled.sha256  # row order does not matter: data are sorted first
    assert first.sha256 != changed.sha256
    assert first.schema_version == gp.read_schema().version
    assert first.package_version == gp.__version__
    as_dict = first.as_dict()
    assert set(as_dict) == {"source", "sha256", "schema_version", "package_version", "mapping",
                            "steps"}
    assert all(isinstance(v, str) for v in as_dict.values())
    assert len(as_dict["sha256"]) == 64


def test_describe_balance_gaps_clusters_governance_missingness():
    desc = gp.load_panel(hand_panel()).describe()
    overview = dict(zip(desc.overview["statistic"], desc.overview["value"]))
    assert overview["firms"] == 3 and overview["firm-years"] == 6
    assert overview["years"] == "2010-2012 (3)"
    assert overview["balanced"] == "no"
    assert overview["share of firms observed every year"] == pytest.approx(1 / 3, rel=1e-12)
    assert overview["firms with internal gaps"] == 1  # B
    assert overview["clusters"] == 2 and overview["countries"] == 2
    clusters = desc.clusters.set_index("cluster_id")
    assert clusters.loc["x", "firms"] == 2 and clusters.loc["x", "firm_years"] == 5
    gov = desc.governance.set_index("governance")["firm_years"].to_dict()
    assert gov == {"market": 2, "network": 1, "quasi_hierarchy": 2, "hierarchy": 0, "missing": 1}
    assert desc.governance["share"].sum() == pytest.approx(1.0, rel=1e-12)
    miss = desc.missingness.set_index("column")["missing"].to_dict()
    assert miss["iso_certified"] == 2 and miss["governance"] == 1 and miss["cluster_id"] == 0
    assert desc.years["firms"].tolist() == [2, 2, 2]
    text = desc.to_markdown()
    assert "## Overview" in text and "| balanced" in text and "## Governance" in text


def test_balanced_panel_is_reported_balanced():
    frame = pd.DataFrame({"firm_id": [1, 1, 2, 2], "year": [2000, 2001, 2000, 2001],
                          "cluster_id": [1, 1, 1, 1]})
    overview = gp.load_panel(frame).describe().overview
    values = dict(zip(overview["statistic"], overview["value"]))
    assert values["balanced"] == "yes" and values["firms with internal gaps"] == 0
    assert values["share of firms observed every year"] == 1.0


def test_markdown_table_without_tabulate():
    text = markdown_table(pd.DataFrame({"a": [1.23456, np.nan], "b": ["x", None]}))
    # the one Markdown writer (gvcpanel.report.markdown) of publication tables and descriptions
    assert text.splitlines() == ["| a     | b |", "|-------|---|", "| 1.235 | x |", "|       |   |"]


def test_derive_adds_columns_and_records_the_step():
    panel = gp.load_panel(hand_panel())
    data = panel.data
    data["network_strength"] = 0.5
    report = {"rule counts": 3}
    new = panel.derive(data, step="network_strength", governance_report=report)
    assert new.provenance.steps == ("network_strength",)
    assert new.provenance.sha256 == panel.provenance.sha256
    assert new.governance_report is report and panel.governance_report is None
    assert "network_strength" in new.data.columns and "network_strength" not in panel.data.columns
    again = new.derive(new.data.drop(columns="country"), step="drop country")
    assert again.provenance.steps == ("network_strength", "drop country (dropped columns: country)")
    assert again.governance_report is report


def test_derive_revalidates_and_keeps_rows():
    panel = gp.load_panel(hand_panel())
    with pytest.raises(SchemaError, match="step 'bad'"):
        panel.derive(panel.data.assign(export_share=3.0), step="bad")
    with pytest.raises(PanelStructureError, match="1 missing"):
        panel.derive(panel.data.iloc[1:], step="subset")


def test_to_parquet_round_trip(tmp_path):
    panel = gp.load_panel(hand_panel())
    path = panel.to_parquet(tmp_path / "panel.parquet")
    back = gp.load_panel(path)
    pd.testing.assert_frame_equal(back.data, panel.data)
    meta = pq.read_schema(path).metadata[b"gvcpanel.provenance"]
    assert json.loads(meta)["sha256"] == panel.provenance.sha256


def test_provenance_is_a_frozen_dataclass():
    prov = Provenance("a.csv", "0" * 64, "1.0.0", "0.1.0")
    assert prov.mapping == "" and prov.steps == ()
    assert prov.as_dict()["steps"] == ""

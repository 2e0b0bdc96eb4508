"""The analysis subcommands: classify and hypotheses (validate/describe are in test_cli.py)."""

import warnings

import pandas as pd
import pytest

from gvcpanel.cli import main
from gvcpanel.gvc.simulate import simulate_panel


@pytest.fixture(scope="module")
def panel_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "panel.parquet"
    simulate_panel(n_firms=600, seed=4).panel.to_parquet(path)
    return path


def test_classify_writes_the_classified_panel(panel_file, tmp_path, capsys):
    out = tmp_path / "classified.parquet"
    assert main(["classify", str(panel_file), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "quasi_hierarchy_buyer_control" in text and "agreement" in text
    assert "governance" in pd.read_parquet(out).columns


def test_hypotheses_prints_and_writes_tables(panel_file, tmp_path, capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main(["hypotheses", str(panel_file), "--adjust", "holm", "--out", str(tmp_path / "h")])
    assert code == 0
    text = capsys.readouterr().out
    assert "| H4 |" in text.replace("| H4 ", "| H4 |") and "p_adjusted" in text
    assert sorted(p.suffix for p in tmp_path.glob("h.*")) == [".csv", ".html", ".md", ".tex"]


def test_classify_out_csv_writes_csv_text(panel_file, tmp_path):
    # The issue: classify --out x.csv wrote Parquet bytes into x.csv.
    out = tmp_path / "x.csv"
    assert main(["classify", str(panel_file), "--out", str(out)]) == 0
    assert not out.read_bytes().startswith(b"PAR1")
    back = pd.read_csv(out)
    assert {"firm_id", "year", "governance"} <= set(back.columns) and len(back) > 0


def test_classify_out_stem_keeps_dots_and_writes_parquet(panel_file, tmp_path, capsys):
    assert main(["classify", str(panel_file), "--out", str(tmp_path / "panel_v1.2")]) == 0
    assert [p.name for p in tmp_path.iterdir()] == ["panel_v1.2.parquet"]
    assert "governance" in pd.read_parquet(tmp_path / "panel_v1.2.parquet").columns
    capsys.readouterr()
    assert main(["classify", str(panel_file), "--out", str(tmp_path / "panel_v1.2")]) == 0
    err = capsys.readouterr().err
    assert f"replaced {tmp_path / 'panel_v1.2.parquet'}" in err


def test_hypotheses_out_stem_keeps_its_dots(panel_file, tmp_path, capsys):
    # The issue: --out res/hyp_v1.2 wrote res/hyp_v1.md, res/hyp_v1.tex, ...
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["hypotheses", str(panel_file), "--out", str(tmp_path / "res" / "hyp_v1.2")]) == 0
    assert sorted(p.name for p in (tmp_path / "res").iterdir()) == [
        "hyp_v1.2.csv", "hyp_v1.2.html", "hyp_v1.2.md", "hyp_v1.2.tex"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["hypotheses", str(panel_file), "--out", str(tmp_path / "res" / "hyp_v1.2.md")]) == 0
    assert "replaced" in capsys.readouterr().err


def test_hypotheses_on_invalid_data_exits_1(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("firm_id,year,cluster_id,main_buyer_share\n1,2001,a,1.7\n")
    assert main(["hypotheses", str(bad)]) == 1
    assert "main_buyer_share" in capsys.readouterr().err


def test_unknown_inference_is_a_usage_error(panel_file, capsys):
    assert main(["hypotheses", str(panel_file), "--inference", "bayes"]) == 2
    assert "cluster" in capsys.readouterr().err

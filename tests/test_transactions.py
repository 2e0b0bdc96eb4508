"""Transaction records -> firm-year indicators: hand-checked numbers, the pandas reference,
DuckDB against Spark, the simulator against its panel, the hypotheses end to end."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import gvcpanel as gp
from gvcpanel.gvc.transactions import indicators as ind
from gvcpanel.gvc.transactions.build import transaction_indicators
from gvcpanel.gvc.transactions.simulate import reproduction_table, simulate_transactions
from transactions_reference import reference_indicators

FLOAT_COLUMNS = [c for c in reference_indicators(pd.DataFrame({
    "seller_id": [1], "buyer_id": [1], "product_code": ["640399"], "year": [2000], "value": [1.0]})).columns
    if c not in ("firm_id", "year", "main_buyer_id", "sector")]


# -- a fixture small enough to check by hand ------------------------------------------------
def tiny() -> pd.DataFrame:
    """Seller 1 in 2010-2012, seller 2 in 2010 and 2012 (a gap)."""
    rows = [
        # seller, buyer, country, code, year, value, quantity, unit
        (1, 10, "USA", "64039900", 2010, 60.0, 6.0, "pairs"),
        (1, 10, "USA", "64039900", 2010, 40.0, 4.0, "pairs"),
        (1, 11, "DEU", "64039900", 2010, 50.0, 10.0, "pairs"),
        (1, 10, "USA", "64039900", 2011, 80.0, 8.0, "pairs"),
        (1, 10, "USA", "64041100", 2011, 20.0, None, "pairs"),
        (1, 12, "fra", "94036000", 2011, 30.0, 3.0, "u"),
        (1, 12, "FRA", "94036000", 2012, 50.0, 5.0, "u"),
        (1, 13, "FRA", "64039900", 2012, 50.0, 5.0, "pairs"),
        (2, 13, "CHN", "64039900", 2010, 30.0, 2.0, "pairs"),
        (2, 14, "CHN", "64039900", 2010, 30.0, 2.0, "pairs"),
        (2, 14, "CHN", "64039900", 2012, 0.0, 1.0, "pairs"),
        (2, 15, "JPN", "85044000", 2012, 10.0, 1.0, "u"),
    ]
    return pd.DataFrame(rows, columns=["seller_id", "buyer_id", "buyer_country", "product_code", "year",
                                       "value", "quantity", "unit"])


PRODUCTS = pd.DataFrame({"product_code": ["640399", "640411", "940360", "850440"],
                         "sector": ["footwear", "footwear", "furniture", "electronics"]})
BUYERS = pd.DataFrame({"buyer_id": [10, 11, 12, 13, 14, 15], "lead_firm": [1, 0, 0, 1, 0, None],
                       "income_group": ["high", "high", "high", "upper_middle", "high", "high"]})


def test_tiny_fixture_by_hand():
    """Every number below was worked out on paper from tiny()."""
    ref = reference_indicators(tiny(), PRODUCTS, BUYERS).set_index(["firm_id", "year"])
    built = transaction_indicators(tiny(), products=PRODUCTS, buyers=BUYERS)
    assert (built.report.n_records, built.report.n_zero_value, built.report.n_without_quantity) == (12, 1, 1)
    out = built.frame.set_index(["firm_id", "year"])
    for frame in (ref, out):
        r = frame.loc[(1, 2010)]
        assert r["export_value"] == 150 and r["n_buyers"] == 2 and r["main_buyer_id"] == 10
        assert r["main_buyer_share"] == pytest.approx(100 / 150, rel=1e-12)
        assert r["buyer_hhi"] == pytest.approx((100 / 150) ** 2 + (50 / 150) ** 2, rel=1e-12)
        assert np.isnan(r["new_product"]) and np.isnan(r["new_market"])  # first year: censored
        assert r["global_buyer"] == 1 and r["lead_firm_share"] == pytest.approx(100 / 150, rel=1e-12)
        assert np.isnan(r["quasi_hierarchy_proxy"])  # share >= 0.5 but no t-1 to see
        # unit values: seller 1 sells 64039900 at 150/20 = 7.5, seller 2 at 60/4 = 15: median 11.25
        assert r["unit_value"] == pytest.approx(7.5 / 11.25, rel=1e-12)
        r = frame.loc[(1, 2011)]
        # 64041100 is a new code in footwear (served in 2010): product upgrading; 94036000 opens
        # furniture: a new sector, not a new product; FRA (written 'fra') is a new market
        assert r["new_product"] == 1 and r["new_sector_entry"] == 1 and r["new_market"] == 1
        assert r["sector"] == "footwear" and r["n_products"] == 3 and r["n_markets"] == 2
        assert r["main_buyer_share"] == pytest.approx(100 / 130, rel=1e-12)
        assert r["main_buyer_tenure"] == 2 and r["main_buyer_previous"] == 1
        assert r["main_buyer_continues"] == 0  # buyer 10 does not buy in 2012
        assert r["quasi_hierarchy_proxy"] == 1
        # only seller 1 sells 94036000 and 64039900 with quantities in 2011: ratios 1; the
        # record without quantity (64041100, 20) is left out of the weights
        assert r["unit_value"] == pytest.approx(1.0, rel=1e-12)
        r = frame.loc[(1, 2012)]
        # tie 50/50 between buyers 12 and 13: the smaller id is the main buyer
        assert r["main_buyer_id"] == 12 and r["main_buyer_share"] == 0.5
        assert r["main_buyer_tenure"] == 2 and r["main_buyer_previous"] == 1
        assert np.isnan(r["main_buyer_continues"])  # no 2013 in the data
        assert r["new_product"] == 0 and r["new_sector_entry"] == 0 and r["new_market"] == 0
        assert r["sector"] == "footwear"  # tie 50/50: the smaller label
        assert r["lead_firm_share"] == pytest.approx(0.5, rel=1e-12)
        r = frame.loc[(2, 2012)]
        # buyer 14's record has value 0: not a buyer; buyer 15's lead flag is missing
        assert r["n_buyers"] == 1 and r["main_buyer_id"] == 15 and r["main_buyer_share"] == 1
        assert np.isnan(r["global_buyer"]) and np.isnan(r["lead_firm_share"])
        assert np.isnan(r["main_buyer_previous"]) and np.isnan(r["quasi_hierarchy_proxy"])  # gap in 2011
        assert r["new_sector_entry"] == 1 and r["new_product"] == 0 and r["sector"] == "electronics"
        assert r["high_income_share"] == 1
        r = frame.loc[(2, 2010)]
        assert r["main_buyer_id"] == 13 and r["main_buyer_continues"] != r["main_buyer_continues"]


# -- a random fixture with the awkward cases ------------------------------------------------
def random_records(seed: int = 7, n: int = 3000) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    seller = rng.integers(1, 40, n)
    frame = pd.DataFrame({
        "seller_id": seller,
        "buyer_id": (seller * 7 + rng.integers(0, 6, n)) % 60 + 1,
        "buyer_country": rng.choice(["USA", "DEU", "CHN", "BRA", None], n, p=[.3, .2, .2, .2, .1]),
        "product_code": rng.choice(["61091000", "610910", "640399", "64039910", "850440", "940360",
                                    "87089900"], n),
        "date": pd.to_datetime("2010-01-01") + pd.to_timedelta(rng.integers(0, 6 * 365, n), unit="D"),
        # whole numbers and 0.25s: the tie and zero cases happen, and 1e-4 fixed point is exact
        "value": np.where(rng.random(n) < 0.05, 0.0, rng.integers(1, 40, n) * 0.25),
        "quantity": np.where(rng.random(n) < 0.1, np.nan, rng.integers(1, 9, n).astype(float)),
        "unit": rng.choice(["kg", "u", None], n, p=[.45, .45, .1]),
    })
    frame = frame[~((frame["seller_id"] == 3) & (pd.DatetimeIndex(frame["date"]).year == 2012))]
    products = pd.DataFrame({"product_code": ["610910", "640399", "850440", "940360", "870899"],
                             "sector": ["apparel", "footwear", "electronics", "furniture", "auto_parts"]})
    buyers = pd.DataFrame({"buyer_id": np.arange(1, 61), "lead_firm": np.where(np.arange(60) % 9 == 0, 1, 0),
                           "income_group": rng.choice(["high", "upper_middle", "low"], 60)})
    return frame.reset_index(drop=True), products, buyers


def assert_same_indicators(got: pd.DataFrame, expected: pd.DataFrame, *, exact: bool) -> None:
    got = got.sort_values(["firm_id", "year"]).reset_index(drop=True)
    expected = expected.sort_values(["firm_id", "year"]).reset_index(drop=True)
    assert list(got.columns) == list(expected.columns)
    assert got[["firm_id", "year"]].astype(str).equals(expected[["firm_id", "year"]].astype(str))
    for c in ("main_buyer_id", "sector"):
        assert got[c].astype(str).tolist() == expected[c].astype(str).tolist(), c
    for c in FLOAT_COLUMNS:
        a, b = got[c].to_numpy(dtype=float), expected[c].to_numpy(dtype=float)
        if exact:
            assert np.array_equal(a, b, equal_nan=True), c
        else:
            # fixed point: each term of unit_value is rounded to 1e-12 and each of buyer_hhi to
            # 1e-15 (indicators.py), so their sums carry up to (terms / 2) of that absolute error
            atol = {"unit_value": 1e-10, "buyer_hhi": 1e-13}.get(c, 0.0)
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=atol, equal_nan=True, err_msg=c)


def test_duckdb_equals_pandas_reference():
    records, products, buyers = random_records()
    out = transaction_indicators(records, products=products, buyers=buyers).frame
    assert_same_indicators(out, reference_indicators(records, products, buyers), exact=False)
    assert out["main_buyer_share"].notna().sum() > 100 and out["new_product"].sum() > 5


def _write_by_year(records: pd.DataFrame, folder) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    frame = records.assign(year=pd.DatetimeIndex(records["date"]).year)
    pq.write_to_dataset(pa.Table.from_pandas(frame, preserve_index=False), folder,
                        partition_cols=["year"])


def test_year_batches_give_the_same_bits(tmp_path):
    """A folder partitioned by year, read one batch of years at a time (down to one year a
    batch), gives bit for bit the indicators and counts of one pass over a DataFrame; a
    duplicate record is still found in a later batch."""
    from gvcpanel.gvc.transactions import TransactionSchemaError
    from gvcpanel.gvc.transactions.build import year_batches
    from gvcpanel.gvc.transactions.engines import DuckDBEngine, resolve_source

    records, products, buyers = random_records()
    _write_by_year(records, tmp_path / "tx")
    engine = DuckDBEngine()
    source = resolve_source(tmp_path / "tx")
    columns = engine.register_source(source)
    assert year_batches(engine, source, columns, batch_rows=1) == [
        f"r.year = {y}" for y in range(2010, 2016)]
    per_year = int(len(records) / 6)
    assert year_batches(engine, source, columns, batch_rows=per_year + 100)[0] == \
        "r.year >= 2010 AND r.year <= 2011"
    assert year_batches(engine, source, columns, batch_rows=10**9) == [None]
    engine.close()
    whole = transaction_indicators(records, products=products, buyers=buyers)
    for rows in (1, per_year + 100):
        batched = transaction_indicators(tmp_path / "tx", products=products, buyers=buyers,
                                         batch_rows=rows)
        assert_same_indicators(batched.frame, whole.frame, exact=True)
        assert (batched.report.n_records, batched.report.n_zero_value,
                batched.report.n_without_quantity) == (whole.report.n_records,
                                                       whole.report.n_zero_value,
                                                       whole.report.n_without_quantity)
    late = pd.DatetimeIndex(records["date"]).year == 2014
    copy = pd.concat([records, records[late].iloc[[3]]], ignore_index=True)
    _write_by_year(copy, tmp_path / "dup")
    with pytest.raises(TransactionSchemaError) as info:
        transaction_indicators(tmp_path / "dup", batch_rows=1)
    counts = info.value.counts
    assert counts["problem"].str.startswith("duplicate record").tolist() == [True]
    assert counts["n"].tolist() == [1]


def test_duckdb_equals_reference_without_lookup_tables():
    records, _, _ = random_records(seed=8)
    records = records.drop(columns=["buyer_country"])
    out = transaction_indicators(records).frame
    assert_same_indicators(out, reference_indicators(records), exact=False)
    assert out["n_markets"].isna().all() and set(out["sector"]) <= {"61", "64", "85", "87", "94"}


def test_bit_identical_on_one_and_two_threads():
    records, products, buyers = random_records(seed=9)
    one = transaction_indicators(records, products=products, buyers=buyers,
                                 engine_options={"threads": 1}).frame
    two = transaction_indicators(records, products=products, buyers=buyers,
                                 engine_options={"threads": 2}).frame
    assert_same_indicators(one, two, exact=True)


def test_parquet_folder_csv_and_frame_give_the_same_indicators(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    records, products, buyers = random_records(seed=10, n=800)
    records = records.assign(year=pd.DatetimeIndex(records["date"]).year,
                             date=pd.DatetimeIndex(records["date"]).date)
    pq.write_to_dataset(pa.Table.from_pandas(records, preserve_index=False), tmp_path / "pq",
                        partition_cols=["year"])
    records.to_csv(tmp_path / "records.csv", index=False)
    frame = transaction_indicators(records, products=products, buyers=buyers).frame
    folder = transaction_indicators(tmp_path / "pq", products=products, buyers=buyers).frame
    csv = transaction_indicators(tmp_path / "records.csv", products=products, buyers=buyers).frame
    assert_same_indicators(folder, frame, exact=True)
    # CSV ids arrive as text: same numbers, ids compared as text
    assert_same_indicators(csv, frame, exact=True)


def test_panel_provenance_names_inputs_engine_and_definitions(tmp_path):
    records, products, buyers = random_records(seed=11, n=600)
    path = tmp_path / "records.parquet"
    records.to_parquet(path)
    panel = gp.panel_from_transactions(path, products=products, buyers=buyers)
    prov = panel.provenance
    assert prov.source == f"transactions:{path}" and prov.mapping == f"transactions@{ind.DEFINITIONS_VERSION}"
    assert "engine duckdb" in prov.steps[0] and f"definitions {ind.DEFINITIONS_VERSION}" in prov.steps[0]
    from gvcpanel.data.io import content_sha256

    assert content_sha256(path) in prov.steps[0]
    assert (panel.data["cluster_id"] == panel.data.index.get_level_values("firm_id")).all()
    records.iloc[:-1].to_parquet(path)
    assert gp.panel_from_transactions(path, products=products, buyers=buyers).provenance.sha256 != prov.sha256


def test_firm_table_join_counts_what_it_leaves_out():
    records, products, buyers = random_records(seed=12, n=600)
    firms = pd.DataFrame({"firm_id": np.arange(1, 30), "cluster_id": "c" + (np.arange(1, 30) % 4).astype(str),
                          "main_buyer_share": 0.99})
    panel = gp.panel_from_transactions(records, products=products, buyers=buyers, firms=firms)
    notes = " ".join(panel.load_report.notes)
    built = transaction_indicators(records, products=products, buyers=buyers).frame
    outside = int((built["firm_id"] >= 30).sum())
    assert f"seller-years without a row in the firm table: {outside}" in notes
    assert "replacing the firm table's columns: main_buyer_share" in notes
    assert len(panel) == len(built) - outside and (panel.data["main_buyer_share"] < 0.99).any()


# -- the simulator ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def simulated():
    sim = simulate_transactions(n_firms=400, seed=21)
    panel = gp.panel_from_transactions(sim.records, products=sim.products, buyers=sim.buyers,
                                       firms=sim.firms)
    return sim, panel


def test_simulated_records_reproduce_the_panel(simulated):
    sim, panel = simulated
    table = reproduction_table(panel, sim).set_index("column")
    for column in ("main_buyer_share", "n_buyers", "global_buyer", "sector", "new_product"):
        assert table.loc[column, "differing"] == 0 and table.loc[column, "compared"] > 2500, column
    # new_sector_entry differs exactly where a firm moves back to a sector it sold in before
    frame = sim.simulated.frame.sort_values(["firm_id", "year"])
    returns = 0
    for _, g in frame.groupby("firm_id"):
        seen = set()
        for k, sector in enumerate(g["sector"]):
            if k and sector != prev and sector in seen:
                returns += 1
            seen.add(sector)
            prev = sector
    assert table.loc["new_sector_entry", "differing"] == returns
    assert len(panel) == len(sim.simulated.frame)
    # the panel's missing items were drawn for the records, and only there
    drawn = sim.drawn
    assert drawn["filled_share"].sum() == sim.simulated.missing_counts["main_buyer_share"]


def test_simulated_unit_values_follow_the_panel_within_firms(simulated):
    sim, panel = simulated
    note = reproduction_table(panel, sim).set_index("column").loc["unit_value", "note"]
    assert float(note.rsplit(" ", 1)[1]) > 0.5


def test_proxy_tracks_dependent_and_lasting_relationships(simulated):
    sim, panel = simulated
    data = panel.data
    known = data["quasi_hierarchy_proxy"].notna()
    dependent = data["governance"].isin(["quasi_hierarchy", "hierarchy"])
    # the proxy is 0 for every market and network firm-year (shares below 0.5 by design) and 1
    # for most quasi-hierarchical ones after the first year of the relationship
    assert (data.loc[known & ~dependent, "quasi_hierarchy_proxy"] == 0).all()
    assert data.loc[known & dependent, "quasi_hierarchy_proxy"].mean() > 0.7


def test_hypotheses_run_end_to_end_from_simulated_records(simulated):
    sim, panel = simulated
    report = gp.test_hypotheses(panel, hypotheses=["H1", "H2", "H3"])
    table = report.table()
    assert len(table) == 6 and table["estimate"].notna().all()
    proxy = gp.test_hypotheses(panel, hypotheses=["H1", "H2"], governance_measure="quasi_hierarchy_proxy")
    assert set(proxy.table()["term"]) == {"quasi_hierarchy_proxy"}
    # the product hazard from records loses each firm's first year (new_product missing there)
    product = table[(table["id"] == "H2") & (table["specification"] == "main")].iloc[0]
    assert product["n_obs"] < len(panel)


# -- DuckDB against Spark -------------------------------------------------------------------
@pytest.fixture(scope="module")
def spark():
    """One local Spark session for the module (starting the JVM takes ~15 s)."""
    from gvcpanel.gvc.transactions.engines import SparkEngine

    engine = SparkEngine(master="local[2]", progress=False)
    yield engine
    engine.spark.stop()


@pytest.mark.spark
def test_spark_gives_bit_identical_indicators(spark):
    records, products, buyers = random_records()
    duck = transaction_indicators(records, products=products, buyers=buyers).frame
    on_spark = transaction_indicators(records, products=products, buyers=buyers, engine=spark).frame
    assert_same_indicators(on_spark, duck, exact=True)
    tiny_duck = transaction_indicators(tiny(), products=PRODUCTS, buyers=BUYERS).frame
    tiny_spark = transaction_indicators(tiny(), products=PRODUCTS, buyers=BUYERS, engine=spark).frame
    assert_same_indicators(tiny_spark, tiny_duck, exact=True)


@pytest.mark.spark
def test_spark_reads_partitioned_parquet_and_reports_the_same_problems(spark, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from gvcpanel.gvc.transactions import TransactionSchemaError

    sim = simulate_transactions(n_firms=40, seed=4)
    sim.write(tmp_path / "layout")
    duck = gp.panel_from_transactions(tmp_path / "layout")
    on_spark = gp.panel_from_transactions(tmp_path / "layout", engine=spark)
    assert duck.data.equals(on_spark.data)
    # one batch of years at a time (the same statements per batch, stacked): the same bits
    batched = transaction_indicators(tmp_path / "layout", engine=spark, batch_rows=1).frame
    assert_same_indicators(batched, transaction_indicators(tmp_path / "layout").frame, exact=True)
    bad = sim.records.head(300).copy()
    bad.loc[[5, 17], "quantity"] = -1.0
    bad.loc[40, "product_code"] = "999999"
    bad = pd.concat([bad, bad.iloc[[7]]], ignore_index=True)
    pq.write_table(pa.Table.from_pandas(bad, preserve_index=False), tmp_path / "bad.parquet")
    errors = []
    for engine in ("duckdb", spark):
        with pytest.raises(TransactionSchemaError) as info:
            transaction_indicators(tmp_path / "bad.parquet", products=sim.products, engine=engine)
        errors.append(info.value)
    pd.testing.assert_frame_equal(errors[0].counts, errors[1].counts)
    pd.testing.assert_frame_equal(errors[0].problems.astype(str), errors[1].problems.astype(str))


def test_progress_line_names_each_step(capsys):
    transaction_indicators(tiny(), progress=True)
    err = capsys.readouterr().err
    assert "transactions [duckdb]" in err and "checks" in err and "flows" in err and "finished" in err
    transaction_indicators(tiny(), progress=False)
    assert capsys.readouterr().err == ""


def test_duckdb_exact_median_equals_the_portable_ranking():
    """The DuckDB median aggregate gives the same bits as the ranking window Spark runs:
    groups of odd and even size, ties, one-element groups."""
    import duckdb

    from gvcpanel.gvc.transactions.engines import DuckDBEngine

    rng = np.random.default_rng(13)
    n = 5000
    frame = pd.DataFrame({"product_code": rng.integers(0, 300, n).astype(str),
                          "unit": rng.choice(["kg", "u"], n), "year": rng.integers(2000, 2004, n),
                          "uv": [round(x, d) for x, d in zip(rng.lognormal(0, 1, n), rng.integers(1, 12, n))]})
    frame.loc[::7, "uv"] = 1.5  # ties
    con = duckdb.connect()
    con.register("unit_values", frame)
    sql = {}
    for median in (None, DuckDBEngine.exact_median):
        steps = dict(ind.statements(products=False, buyers=False, median=median))
        sql[median] = con.execute(steps["medians"] + " ORDER BY product_code, unit, year").fetch_df()
    ranked, aggregate = sql[None], sql[DuckDBEngine.exact_median]
    assert len(ranked) > 1000 and (ranked["n_sellers"] % 2 == 0).any() and (ranked["n_sellers"] == 1).any()
    np.testing.assert_array_equal(aggregate["median_uv"].to_numpy(), ranked["median_uv"].to_numpy())
    np.testing.assert_array_equal(aggregate["n_sellers"].to_numpy(), ranked["n_sellers"].to_numpy())
    expected = frame.groupby(["product_code", "unit", "year"])["uv"].median().sort_index()
    np.testing.assert_allclose(aggregate["median_uv"].to_numpy(), expected.to_numpy(), rtol=1e-15, atol=0)

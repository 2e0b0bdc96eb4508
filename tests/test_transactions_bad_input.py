"""Bad transaction files: every problem counted and listed with file, row, seller, buyer, product."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gvcpanel.errors import SchemaError
from gvcpanel.gvc.transactions import TransactionSchemaError, transaction_indicators, validate_transactions


def good(n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    return pd.DataFrame({
        "seller_id": rng.integers(1, 6, n), "buyer_id": rng.integers(100, 110, n),
        "buyer_country": rng.choice(["USA", "DEU"], n), "product_code": rng.choice(["640399", "94036000"], n),
        "year": rng.integers(2010, 2013, n), "value": rng.integers(1, 100, n).astype(float),
        "quantity": rng.integers(1, 10, n).astype(float), "unit": "u", "record_id": [f"R{i}" for i in range(n)]})


def problems_of(data, **kwargs) -> TransactionSchemaError:
    with pytest.raises(TransactionSchemaError) as info:
        transaction_indicators(data, **kwargs)
    err = info.value
    assert isinstance(err, SchemaError) and isinstance(err, ValueError)
    return err


def count(err: TransactionSchemaError, column: str, problem: str) -> int:
    rows = err.counts[(err.counts["column"] == column) & err.counts["problem"].str.startswith(problem)]
    return int(rows["n"].sum())


def test_negative_values_and_quantities_are_listed_with_their_seller_buyer_product_and_row():
    data = good()
    data.loc[3, "value"] = -5.0
    data.loc[[7, 9], "quantity"] = -1.0
    err = problems_of(data)
    assert count(err, "value", "below minimum 0") == 1 and count(err, "quantity", "below minimum 0") == 2
    row = err.problems[err.problems["column"] == "value"].iloc[0]
    assert row["row"] == 3 and row["seller_id"] == str(data.loc[3, "seller_id"])
    assert row["buyer_id"] == str(data.loc[3, "buyer_id"]) and row["product_code"] == data.loc[3, "product_code"]
    assert "row 3" in str(err) and "values and quantities cannot be negative" in str(err)


def test_missing_and_blank_ids():
    data = good().astype({"seller_id": object, "buyer_id": object})
    data.loc[2, "seller_id"] = None
    data.loc[5, "buyer_id"] = "  "
    data.loc[6, "product_code"] = None
    err = problems_of(data)
    assert count(err, "seller_id", "missing value in required field") == 1
    assert count(err, "buyer_id", "missing value in required field") == 1
    assert count(err, "product_code", "missing value in required field") == 1


def test_unknown_product_codes_and_buyers_against_the_lookup_tables():
    data = good()
    data.loc[[1, 4], "product_code"] = "999999"
    products = pd.DataFrame({"product_code": ["640399", "940360"], "sector": ["footwear", "furniture"]})
    buyers = pd.DataFrame({"buyer_id": np.arange(100, 109), "lead_firm": 0, "income_group": "high"})
    err = problems_of(data, products=products, buyers=buyers)
    # 94036000 matches 940360 by its first six digits: not a problem
    assert count(err, "product_code", "unknown product code") == 2
    assert count(err, "buyer_id", "unknown buyer") == int((data["buyer_id"] == 109).sum())
    assert set(err.problems.loc[err.problems["column"] == "product_code", "row"]) == {1, 4}


def test_duplicate_records_by_record_id_and_by_all_fields():
    data = good()
    data.loc[10, "record_id"] = "R3"
    err = problems_of(data)
    assert count(err, "record_id", "duplicate record") == 1
    assert err.problems.loc[err.problems["column"] == "record_id", "row"].tolist() == [10]
    plain = good().drop(columns="record_id")
    plain = pd.concat([plain, plain.iloc[[0, 0, 5]]], ignore_index=True)
    err = problems_of(plain)
    assert count(err, "all fields", "duplicate record") == 3
    assert sorted(err.problems["row"]) == [40, 41, 42]


def test_bad_dates_and_years(tmp_path):
    data = good().drop(columns="year")
    data["date"] = ["2011-05-03"] * len(data)
    data.loc[1, "date"] = "2011-13-45"
    data.loc[2, "date"] = "03/05/2011"
    data.loc[3, "date"] = "1850-01-01"
    data["year"] = 2011.0
    data.loc[4, "year"] = 2012.0
    data.loc[5, "year"] = 2011.5
    data.loc[6, ["date", "year"]] = [None, np.nan]
    data.loc[7, "year"] = 2500.0
    path = tmp_path / "records.csv"
    data.to_csv(path, index=False)
    err = problems_of(path)
    assert count(err, "date", "not a date") == 2 and count(err, "date", "outside") == 1
    assert count(err, "year", "year does not match date") >= 1
    assert count(err, "year", "not a whole number") == 1 and count(err, "year", "above maximum") == 1
    assert count(err, "date+year", "missing date and year") == 1
    # CSV rows count data lines from 0: row 1 is line 3 of the file
    assert err.problems.loc[err.problems["column"] == "date", "row"].min() == 1
    assert set(err.problems["file"]) == {"records.csv"}


def test_codes_stored_as_numbers_and_text_in_numeric_columns(tmp_path):
    data = good()
    data["product_code"] = data["product_code"].astype(object)
    data.loc[0, "product_code"] = "10121"  # 010121 read as a number somewhere upstream
    data = data.astype({"value": object})
    data.loc[8, "value"] = "1,250.00"
    path = tmp_path / "records.csv"
    data.to_csv(path, index=False)
    err = problems_of(path)
    assert count(err, "product_code", "does not match pattern") == 1
    assert count(err, "value", "not a number") == 1
    assert "leading zeros" in str(err) and "decimal point" in str(err)


def test_non_finite_values_in_parquet(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    data = good()
    data.loc[[2, 3], "value"] = [np.nan, np.inf]
    data.loc[4, "quantity"] = 1e16
    table = pa.Table.from_pandas(data, preserve_index=False)
    # from_pandas=False keeps NaN a float NaN (pandas would write it as a null)
    table = table.set_column(table.schema.get_field_index("value"), "value",
                             pa.array(data["value"].to_numpy(), from_pandas=False))
    path = tmp_path / "records.parquet"
    pq.write_table(table, path)
    err = problems_of(path)
    assert count(err, "value", "not a finite number") == 1
    assert count(err, "value", "above maximum") == 1  # inf
    assert count(err, "quantity", "above maximum") == 1
    assert count(err, "value", "missing value") == 0


def test_missing_columns_are_whole_file_problems():
    err = problems_of(good().drop(columns=["value", "year"]))
    assert set(err.problems["column"]) == {"value", "date+year"}
    assert err.problems["row"].isna().all() and "whole file" in str(err)


def test_the_listing_is_capped_but_every_problem_is_counted():
    data = good(600)
    data.loc[:499, "value"] = -1.0
    err = problems_of(data, cap=10)
    assert count(err, "value", "below minimum") == 500 and len(err.problems) == 10
    assert "500 problem(s)" in str(err) and "more" in str(err)


def test_partitioned_folder_names_the_file_and_its_row(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    data = good()
    data.loc[data.index[data["year"] == 2011][2], "quantity"] = -3.0
    pq.write_to_dataset(pa.Table.from_pandas(data, preserve_index=False), tmp_path / "tx",
                        partition_cols=["year"])
    err = problems_of(tmp_path / "tx")
    row = err.problems.iloc[0]
    assert row["file"].startswith("year=2011/") and row["row"] == 2 and row["year"] == "2011"


def test_lookup_tables_are_checked_too():
    products = pd.DataFrame({"product_code": ["640399", "640399", "94036"], "sector": ["a", "b", None]})
    err = problems_of(good(), products=products)
    assert count(err, "product_code", "duplicate key") == 2
    assert count(err, "product_code", "does not match pattern") == 1
    assert count(err, "sector", "missing value") == 1
    buyers = pd.DataFrame({"buyer_id": np.arange(100, 110), "lead_firm": [0, 1, 2] + [0] * 7,
                           "income_group": ["high"] * 9 + ["rich"]})
    err = problems_of(good(), buyers=buyers)
    assert count(err, "lead_firm", "not one of") == 1 and count(err, "income_group", "not one of") == 1


def test_validate_transactions_returns_the_number_of_records_checked():
    assert validate_transactions(good()) == 40

"""`df.writeTo(table)` (DataFrameWriterV2) on Delta tables: create, replace,
createOrReplace, append, overwrite(condition), overwritePartitions, with partitionedBy,
clusterBy, tableProperty and options. Every result is checked through the PySpark client and
through delta-rs (`deltalake`) reading the table folder.

Apache Spark without Delta (all this machine can run) refuses every V2 write but create on
its own parquet tables ("Cannot write into v1 table"), so the expected values follow
Delta's documented behaviour: V2 appends match columns by name, `overwrite(cond)` is a
replaceWhere, `overwritePartitions()` a dynamic partition overwrite."""

import pytest
from pyspark.errors import AnalysisException
from pyspark.sql import functions as F

from harness.delta import (  # noqa: F401 - fixtures
    client_rows,
    condition,
    dl,
    dl_last,
    dl_ops,
    dl_rows,
    dl_schema,
    message,
    server,
    spark,
    sql,
    tpath,
    warehouse,
)

pytestmark = pytest.mark.delta

ROWS = [(1, "ann", "x"), (2, "bob", "y"), (3, "cid", "x")]
SCHEMA = "id long, name string, k string"


def frame(spark, rows=ROWS, schema=SCHEMA):
    return spark.createDataFrame(rows, schema)


def test_create_writes_a_managed_delta_table(spark, warehouse):
    frame(spark).writeTo("people").partitionedBy("k").tableProperty("team", "ingest").create()
    location = warehouse / "people"
    assert dl_rows(location) == sorted(ROWS)
    assert dl_schema(location) == [("id", "long"), ("name", "string"), ("k", "string")]
    assert dl(location).metadata().partition_columns == ["k"]
    assert dl(location).metadata().configuration.get("team") == "ingest"
    assert dl_ops(location) == ["CREATE TABLE AS SELECT"]
    assert client_rows(spark.table("people")) == sorted(ROWS)


def test_create_takes_comment_location_and_clustering(spark, tpath):
    frame(spark).writeTo("ext").using("delta").tableProperty("comment", "people we know").tableProperty(
        "location", tpath
    ).clusterBy("id").create()
    meta = dl(tpath).metadata()
    assert meta.description == "people we know"
    assert meta.configuration.get("clusteringColumns") == '[["id"]]'
    assert dl_rows(tpath) == sorted(ROWS)
    assert client_rows(spark.table("ext")) == sorted(ROWS)
    # an external table: dropping it keeps the files
    sql(spark, "DROP TABLE ext")
    assert dl_rows(tpath) == sorted(ROWS)


def test_create_on_an_existing_table_fails_and_keeps_it(spark, warehouse):
    frame(spark).writeTo("people").create()
    with pytest.raises(AnalysisException) as info:
        frame(spark, [(9, "zed", "z")]).writeTo("people").create()
    assert condition(info.value) == "TABLE_OR_VIEW_ALREADY_EXISTS"
    assert "`people`" in message(info.value)
    assert dl(warehouse / "people").version() == 0
    assert dl_rows(warehouse / "people") == sorted(ROWS)


def test_replace_swaps_schema_and_rows_keeping_history(spark, warehouse):
    frame(spark).writeTo("people").partitionedBy("k").create()
    spark.createDataFrame([(7, 2.5)], "n int, score double").writeTo("people").replace()
    location = warehouse / "people"
    assert dl_schema(location) == [("n", "integer"), ("score", "double")]
    assert dl_rows(location) == [(7, 2.5)]
    assert dl(location).metadata().partition_columns == []
    assert dl_ops(location) == ["CREATE TABLE AS SELECT", "REPLACE TABLE AS SELECT"]
    assert dl_rows(location, version=0) == sorted(ROWS)
    assert client_rows(spark.table("people")) == [(7, 2.5)]


def test_replace_of_a_missing_table_fails_and_writes_nothing(spark, warehouse):
    with pytest.raises(AnalysisException) as info:
        frame(spark).writeTo("nobody").replace()
    assert condition(info.value) == "TABLE_OR_VIEW_NOT_FOUND"
    assert "nobody" in message(info.value)
    assert not (warehouse / "nobody").exists()


def test_create_or_replace_creates_then_replaces(spark, warehouse):
    location = warehouse / "people"
    frame(spark).writeTo("people").createOrReplace()
    assert dl_rows(location) == sorted(ROWS)
    frame(spark, [(4, "dan", "z")]).writeTo("people").createOrReplace()
    assert dl_rows(location) == [(4, "dan", "z")]
    assert dl_ops(location) == ["CREATE OR REPLACE TABLE AS SELECT", "CREATE OR REPLACE TABLE AS SELECT"]
    assert client_rows(spark.table("people")) == [(4, "dan", "z")]


def test_append_matches_columns_by_name(spark, warehouse):
    frame(spark).writeTo("people").create()
    # the columns come in another order; a V2 append lines them up by name
    spark.createDataFrame([("z", 4, "dan")], "k string, id long, name string").writeTo("people").append()
    location = warehouse / "people"
    assert dl_rows(location) == sorted(ROWS + [(4, "dan", "z")])
    last = dl_last(location)
    assert last["operation"] == "WRITE"
    assert last["operationParameters"]["mode"] == "Append"
    assert client_rows(spark.table("people")) == sorted(ROWS + [(4, "dan", "z")])


def test_append_of_an_unknown_column_fails_without_a_commit(spark, warehouse):
    frame(spark).writeTo("people").create()
    with pytest.raises(AnalysisException) as info:
        spark.createDataFrame([(5, "eve", "x", 1)], "id long, name string, k string, extra int").writeTo(
            "people"
        ).append()
    assert "extra" in message(info.value)
    assert dl(warehouse / "people").version() == 0


def test_append_honours_merge_schema_option(spark, warehouse):
    frame(spark).writeTo("people").create()
    spark.createDataFrame([(5, "eve", "x", 1)], "id long, name string, k string, extra int").writeTo(
        "people"
    ).option("mergeSchema", "true").append()
    assert dl_schema(warehouse / "people")[-1] == ("extra", "integer")
    assert client_rows(spark.table("people").where("id = 5")) == [(5, "eve", "x", 1)]


def test_append_to_a_missing_table_fails(spark, warehouse):
    with pytest.raises(AnalysisException) as info:
        frame(spark).writeTo("nowhere").append()
    assert condition(info.value) == "TABLE_OR_VIEW_NOT_FOUND"
    assert "`nowhere`" in message(info.value)
    assert not (warehouse / "nowhere").exists()


def test_overwrite_replaces_only_rows_matching_the_condition(spark, warehouse):
    frame(spark).writeTo("people").create()
    frame(spark, [(8, "hal", "x"), (9, "ivy", "x")]).writeTo("people").overwrite(F.col("k") == "x")
    location = warehouse / "people"
    assert dl_rows(location) == [(2, "bob", "y"), (8, "hal", "x"), (9, "ivy", "x")]
    last = dl_last(location)
    assert last["operation"] == "WRITE"
    assert last["operationParameters"]["mode"] == "Overwrite"
    assert client_rows(spark.table("people")) == [(2, "bob", "y"), (8, "hal", "x"), (9, "ivy", "x")]


def test_overwrite_condition_as_sql_text(spark, warehouse):
    frame(spark).writeTo("people").create()
    frame(spark, [(10, "jo", "y")]).writeTo("people").overwrite(F.expr("id >= 2"))
    assert dl_rows(warehouse / "people") == [(1, "ann", "x"), (10, "jo", "y")]


def test_overwrite_with_rows_outside_the_condition_fails_and_keeps_the_table(spark, warehouse):
    frame(spark).writeTo("people").create()
    with pytest.raises(AnalysisException) as info:
        frame(spark, [(8, "hal", "y")]).writeTo("people").overwrite(F.col("k") == "x")
    assert condition(info.value) == "DELTA_REPLACE_WHERE_MISMATCH"
    assert dl(warehouse / "people").version() == 0
    assert dl_rows(warehouse / "people") == sorted(ROWS)


def test_overwrite_condition_on_an_unknown_column_fails(spark, warehouse):
    frame(spark).writeTo("people").create()
    with pytest.raises(AnalysisException) as info:
        frame(spark).writeTo("people").overwrite(F.col("nope") == 1)
    assert condition(info.value).startswith("UNRESOLVED_COLUMN")
    assert dl(warehouse / "people").version() == 0


def test_overwrite_partitions_replaces_the_partitions_in_the_data(spark, warehouse):
    frame(spark).writeTo("people").partitionedBy("k").create()
    frame(spark, [(4, "dan", "y"), (5, "eve", "w")]).writeTo("people").overwritePartitions()
    location = warehouse / "people"
    # partition y is replaced, w is new, x is untouched
    assert dl_rows(location) == [(1, "ann", "x"), (3, "cid", "x"), (4, "dan", "y"), (5, "eve", "w")]
    assert dl(location).version() == 1
    assert client_rows(spark.table("people").where("k = 'y'")) == [(4, "dan", "y")]


def test_overwrite_partitions_with_a_null_partition_value(spark, warehouse):
    frame(spark, ROWS + [(6, "fay", None)]).writeTo("people").partitionedBy("k").create()
    frame(spark, [(7, "gus", None)]).writeTo("people").overwritePartitions()
    assert dl_rows(warehouse / "people") == sorted(ROWS) + [(7, "gus", None)]


def test_overwrite_partitions_of_an_unpartitioned_table_replaces_it(spark, warehouse):
    frame(spark).writeTo("people").create()
    frame(spark, [(4, "dan", "y")]).writeTo("people").overwritePartitions()
    assert dl_rows(warehouse / "people") == [(4, "dan", "y")]
    assert dl_last(warehouse / "people")["operationParameters"]["mode"] == "Overwrite"


def test_partition_transforms_are_refused(spark, warehouse):
    with pytest.raises(AnalysisException) as info:
        frame(spark).writeTo("people").partitionedBy(F.col("k").substr(1, 1)).create()
    assert "Partitioning by expressions" in message(info.value)
    assert not (warehouse / "people").exists()


def test_layout_settings_on_an_existing_table_are_refused(spark, warehouse):
    frame(spark).writeTo("people").create()
    with pytest.raises(AnalysisException) as info:
        frame(spark).writeTo("people").partitionedBy("k").append()
    assert "partitionedBy" in message(info.value)
    assert dl(warehouse / "people").version() == 0


def test_other_providers_and_unknown_options_are_refused(spark, warehouse):
    with pytest.raises(Exception) as info:
        frame(spark).writeTo("people").using("parquet").create()
    assert "parquet" in str(info.value)
    with pytest.raises(Exception) as info:
        frame(spark).writeTo("people").option("noSuchOption", "1").create()
    assert "nosuchoption" in str(info.value).lower()
    assert not (warehouse / "people").exists()
